"""Write the seed corpus of the fuzzers: ``python -m tests.fuzz.make_corpus`` (from the repo root).

Seeds are the known attacks and edge cases of each parser. Files written here are named
``seed-*``; inputs found by a fuzzer are kept beside them as ``found-*`` (never overwritten by this
script), so every finding stays a regression test. Tokens are signed with the fuzzers' public test
key (:data:`tests.fuzz.harness.CORPUS_KEY`), so the same files verify on every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from edgeauth.audit.queries import SAVED_QUERIES, render
from tests.fuzz.harness import CORPUS, CORPUS_KEY, NOW, good_proof_parts, sign_proof
from tests.support.tokens import AUDIENCE, DROP, ISSUER, b64json, b64url, forge, make_key, resign, sign


def _claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 3600,
        "jti": "seed",
        "groups": ["tellers"],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def tokens() -> dict[str, str]:
    k = CORPUS_KEY
    good = sign(k, _claims())
    h, p, s = good.split(".")
    pub = k.public_jwk()
    rsa = make_key("RS256", "fuzz-1")
    dup_alg = b64url(b'{"alg":"EdDSA","alg":"none","kid":"fuzz-1"}')
    deep_header = b64url(b"[" * 5000 + b"]" * 5000)
    deep_payload = b64url(b'{"a":' * 3000 + b"1" + b"}" * 3000)
    not_utf8 = b64url(b"\xff\xfe{}")
    out = {
        "valid": good,
        "valid-other-sub": sign(k, _claims(sub="mallory")),
        "alg-none": forge({"alg": "none", "kid": "fuzz-1"}, _claims()),
        "alg-none-case": forge({"alg": "nOnE", "kid": "fuzz-1"}, _claims()) + ".",
        "hs256-public-key-as-secret": forge({"alg": "HS256", "kid": "fuzz-1"}, _claims(), b"\x00" * 32),
        "embedded-jwk": sign(k, _claims(), jwk=pub),
        "jku": sign(k, _claims(), jku="https://evil.example/jwks.json"),
        "x5u": sign(k, _claims(), x5u="https://evil.example/cert.pem"),
        "crit": sign(k, _claims(), crit=["exp"]),
        "crit-empty": sign(k, _claims(), crit=[]),
        "zip": sign(k, _claims(), zip="DEF"),
        "kid-path": sign(k, _claims(), kid="../../../../dev/null"),
        "kid-sql": sign(k, _claims(), kid="' OR '1'='1"),
        "kid-long": sign(k, _claims(), kid="k" * 300),
        "kid-int": resign(good, k, header={"alg": "EdDSA", "kid": 1}),
        "no-kid": resign(good, k, header={"alg": "EdDSA"}),
        "rs256-same-kid": sign(rsa, _claims()),
        "expired": sign(k, _claims(iat=int(NOW) - 7200, exp=int(NOW) - 3600)),
        "exp-string": sign(k, _claims(exp=str(int(NOW) + 3600))),
        "exp-bool": sign(k, _claims(exp=True)),
        "exp-huge": resign(
            good, k, payload_raw=json.dumps(_claims()).replace(str(int(NOW) + 3600), "1e400").encode()
        ),
        "exp-int-overflow": resign(
            good, k, payload_raw=json.dumps(_claims()).replace(str(int(NOW) + 3600), "9" * 400).encode()
        ),
        "exp-nan": resign(
            good, k, payload_raw=json.dumps(_claims()).replace(str(int(NOW) + 3600), "NaN").encode()
        ),
        "lifetime-too-long": sign(k, _claims(exp=int(NOW) + 10 * 86400)),
        "iat-future": sign(k, _claims(iat=int(NOW) + 600)),
        "nbf-future": sign(k, _claims(nbf=int(NOW) + 600)),
        "wrong-aud": sign(k, _claims(aud="api://other")),
        "aud-list": sign(k, _claims(aud=["api://other", AUDIENCE])),
        "aud-empty-list": sign(k, _claims(aud=[])),
        "aud-object": sign(k, _claims(aud={"x": AUDIENCE})),
        "other-issuer": sign(k, _claims(iss="https://evil.example/")),
        "near-miss-issuer": sign(k, _claims(iss=ISSUER.rstrip("/"))),
        "issuer-case": sign(k, _claims(iss=ISSUER.upper())),
        "sub-empty": sign(k, _claims(sub="")),
        "sub-int": sign(k, _claims(sub=42)),
        "sub-newline-json": sign(k, _claims(sub='alice\n{"decision":"allow"}')),
        "groups-string": sign(k, _claims(groups="admins")),
        "groups-many": sign(k, _claims(groups=[f"g{i}" for i in range(101)])),
        "groups-nested": sign(k, _claims(groups=[["admins"]])),
        "duplicate-sub": resign(
            good, k, payload_raw=json.dumps(_claims())[:-1].encode() + b',"sub":"admin"}'
        ),
        "duplicate-alg": f"{dup_alg}.{p}.{s}",
        "nested-json-header": f"{deep_header}.{p}.{s}",
        "nested-json-payload": f"{h}.{deep_payload}.{s}",
        "not-utf8-payload": f"{h}.{not_utf8}.{s}",
        "padding": f"{h}=.{p}.{s}",
        "standard-alphabet": f"{h}.{p}.{s.replace('-', '+').replace('_', '/')}",
        "two-parts": f"{h}.{p}",
        "four-parts": f"{h}.{p}.{s}.{s}",
        "jwe-shape": f"{b64json({'alg': 'RSA-OAEP', 'enc': 'A256GCM'})}.AAAA.AAAA.AAAA.AAAA",
        "empty-signature": f"{h}.{p}.",
        "truncated-signature": f"{h}.{p}.{s[:-4]}",
        "swapped-payload": f"{h}.{b64json(_claims(sub='admin'))}.{s}",
        "whitespace": f" {good} ",
        "unicode": f"{h}.{p}.{s}\u00e9",
        "oversized": f"{h}.{'A' * 8200}.{s}",
        "exactly-8k": f"{h}.{'A' * (8192 - len(h) - len(s) - 2)}.{s}",
        "empty": "",
        "dots": "..",
    }
    return out


def proofs() -> dict[str, str]:
    """DPoP proofs for :data:`tests.fuzz.harness.DPOP_TOKEN` on ``GET`` of the harness's URL (its
    clock is fixed): one good proof and, signed by the client's key, one bad value per field."""
    header, claims = good_proof_parts()
    jwk = header["jwk"]

    def claim(**over: Any) -> str:
        return sign_proof(header, {k: v for k, v in {**claims, **over}.items() if v is not DROP})

    def head(**over: Any) -> str:
        return sign_proof({k: v for k, v in {**header, **over}.items() if v is not DROP}, claims)

    def raw_claims(text: str) -> str:
        h = b64json(header)
        good = sign_proof(header, claims)
        # the signature is of the good claims: only the parser is exercised past this point
        return f"{h}.{b64url(text.encode('utf-8', 'surrogatepass'))}.{good.split('.')[2]}"

    good = sign_proof(header, claims)
    h, p, s = good.split(".")
    # Another client's key (a thief's): derived from a constant, so the seed is the same every run.
    thief = ec.derive_private_key(int.from_bytes(b"edgeauth-fuzz-dpop-thief-key-32b", "big"), ec.SECP256R1())
    thief_jwk = ECAlgorithm.to_jwk(thief.public_key(), as_dict=True)
    return {
        "valid": good,
        "valid-other-jti": claim(jti="seed-proof-2"),
        "valid-htu-query-port-case": claim(htu=claims["htu"].replace("https://", "HTTPS://", 1) + "?q=1#f"),
        "htu-ipv6-unbalanced": claim(htu="https://[x/"),
        "htu-ipv6-unclosed": claim(htu="https://[::1"),
        "htu-ipv6-invalid": claim(htu="https://[x]/prod/accounts/42"),
        "htu-port-huge": claim(htu="https://[::1]:99999/"),
        "htu-port-text": claim(
            htu="https://abc123.execute-api.us-east-1.amazonaws.com:port/prod/accounts/42"
        ),
        "htu-nfkc": claim(htu="https://ex\uff03ample.com/prod/accounts/42"),
        "htu-surrogate": claim(htu="https://a\ud800.example/"),
        "htu-http": claim(htu=claims["htu"].replace("https", "http", 1)),
        "htu-not-string": claim(htu=["https://x/"]),
        "htu-missing": claim(htu=DROP),
        "iat-huge": claim(iat=10**400),
        "iat-negative-huge": claim(iat=-(10**400)),
        "iat-float": claim(iat=NOW - 5.5),
        "iat-string": claim(iat=str(int(NOW))),
        "iat-bool": claim(iat=True),
        "iat-null": claim(iat=None),
        "iat-old": claim(iat=int(NOW) - 3600),
        "iat-future": claim(iat=int(NOW) + 3600),
        "iat-nan": raw_claims(json.dumps(claims).replace(str(claims["iat"]), "NaN")),
        "iat-1e400": raw_claims(json.dumps(claims).replace(str(claims["iat"]), "1e400")),
        "jti-surrogate": claim(jti="\ud800"),
        "jti-surrogate-pair-halves": claim(jti="a\udc00\ud800"),
        "jti-empty": claim(jti=""),
        "jti-long": claim(jti="j" * 257),
        "jti-int": claim(jti=7),
        "jti-object": claim(jti={"id": "x"}),
        "htm-lower": claim(htm="get"),
        "htm-list": claim(htm=["GET"]),
        "ath-wrong": claim(ath="x" * 43),
        "ath-missing": claim(ath=DROP),
        "nonce": claim(nonce="server-nonce"),
        "duplicate-jti": raw_claims(json.dumps(claims)[:-1] + ', "jti": "other"}'),
        "deep-claims": raw_claims('{"a":' * 3000 + "1" + "}" * 3000),
        "typ-jwt": head(typ="JWT"),
        "typ-missing": head(typ=DROP),
        "typ-case": head(typ="DPoP+JWT"),
        "alg-none": f"{b64json({**header, 'alg': 'none'})}.{p}.",
        "alg-hs256": head(alg="HS256"),
        "alg-es384-on-p256": head(alg="ES384"),
        "alg-int": head(alg=256),
        "crit": head(crit=["htu"]),
        "jwk-private": head(jwk={**jwk, "d": "AAAA"}),
        "jwk-missing": head(jwk=DROP),
        "jwk-string": head(jwk="x"),
        "jwk-kty-list": head(jwk={**jwk, "kty": ["EC"]}),
        "jwk-crv-object": head(jwk={**jwk, "crv": {"P-256": 1}}),
        "jwk-x-huge-int": head(jwk={**jwk, "x": 10**400}),
        "jwk-x-surrogate": head(jwk={**jwk, "x": "\ud800"}),
        "jwk-off-curve": head(jwk={**jwk, "y": jwk["x"]}),
        "jwk-rsa-huge-exponent": head(
            alg="RS256",
            jwk={
                "kty": "RSA",
                "n": b64url((2**3071 + 3).to_bytes(384, "big")),
                "e": b64url(bytes([1]) + bytes(375) + b"\x01"),
            },
        ),
        "jwk-okp-crv-list": head(alg="EdDSA", jwk={"kty": "OKP", "crv": ["Ed25519"], "x": jwk["x"]}),
        "jwk-of-another-key": sign_proof({**header, "jwk": thief_jwk}, claims),
        "thief-valid": sign_proof({**header, "jwk": thief_jwk}, claims, thief),
        "thief-htu-ipv6-unbalanced": sign_proof(
            {**header, "jwk": thief_jwk}, {**claims, "htu": "https://[x/"}, thief
        ),
        "thief-iat-huge": sign_proof({**header, "jwk": thief_jwk}, {**claims, "iat": 10**400}, thief),
        "high-s-spelling": f"{h}.{p}.{_other_spelling(s)}",
        "signature-der": f"{h}.{p}.{b64url(bytes(70))}",
        "two-parts": f"{h}.{p}",
        "four-parts": f"{h}.{p}.{s}.{s}",
        "padding": f"{h}=.{p}.{s}",
        "unicode": f"{h}.{p}.{s}\u00e9",
        "oversized": f"{h}.{'A' * 8200}.{s}",
        "empty": "",
    }


def _other_spelling(s64: str) -> str:
    """The ECDSA (r, n - s) spelling of a P-256 signature (verifies too: a replay, not a new proof)."""
    import base64

    raw = base64.urlsafe_b64decode(s64 + "=" * (-len(s64) % 4))
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return b64url(raw[:32] + (n - int.from_bytes(raw[32:], "big")).to_bytes(32, "big"))


def role_items() -> dict[str, Any]:
    def s(v: str) -> dict[str, str]:
        return {"S": v}

    def lst(*vs: str) -> dict[str, Any]:
        return {"L": [s(v) for v in vs]}

    return {
        "well-formed": {
            "allow": lst("GET /accounts/{id}"),
            "deny": lst("DELETE /{proxy+}"),
            "inherit": lst("reader"),
        },
        "string-sets": {"allow": {"SS": ["GET /accounts", "GET /accounts/{id}"]}, "description": s("x")},
        "everything": {"allow": lst("* /{proxy+}", "* /")},
        "stray-attribute": {"allow": lst("GET /accounts/{id}"), "allowed": lst("* /{proxy+}")},
        "bad-allow": {"allow": lst("GET /accounts/{id}", "FETCH /x")},
        "bad-deny": {"allow": lst("* /{proxy+}"), "deny": lst("DELETE accounts")},
        "allow-not-list": {"allow": s("* /{proxy+}")},
        "allow-map": {"allow": {"M": {"GET": s("/accounts")}}},
        "allow-numbers": {"allow": {"NS": ["1", "2"]}},
        "allow-mixed": {"allow": {"L": [s("GET /accounts"), {"N": "1"}, {"NULL": True}]}},
        "allow-binary": {"allow": {"B": "AAAA"}},
        "allow-binary-set": {"allow": {"BS": ["AAAA"]}},
        "disabled-string": {"allow": lst("* /{proxy+}"), "disabled": s("false")},
        "disabled-number": {"allow": lst("* /{proxy+}"), "disabled": {"N": "0"}},
        "disabled-null": {"allow": lst("* /{proxy+}"), "disabled": {"NULL": True}},
        "inherit-bad-name": {"allow": lst("GET /accounts"), "inherit": lst("a#b", "", "x y")},
        "version-float": {"allow": lst("GET /accounts"), "version": {"N": "1.5"}},
        "greedy-not-last": {"allow": lst("GET /{proxy+}/x")},
        "duplicate-variable": {"allow": lst("GET /{a}/{a}")},
        "method-lower": {"allow": lst("get /accounts")},
        "template-trailing-slash": {"allow": lst("GET /accounts/")},
        "template-spaces": {"allow": lst("GET  /accounts   ")},
        "unknown-type": {"allow": {"XX": "?"}},
        "empty-map": {},
    }


ROLE_FILES = {
    "readme.yaml": """roles:
  reader:
    description: Read accounts
    allow: ["GET /accounts", "GET /accounts/{id}"]
  writer:
    allow: ["POST /accounts", "PUT /accounts/{id}"]
    deny: ["DELETE /accounts/{id+}"]
    inherit: [reader]
    disabled: false
subjects:
  https://login.example.com/:
    alice: [writer]
groups:
  https://login.example.com/:
    auditors: [reader]
""",
    "json.json": '{"roles": {"reader": {"allow": ["GET /accounts"]}}, "subjects": {"https://i/": {"a": ["reader"]}}}',
    "duplicate-keys.yaml": 'roles:\n  reader:\n    allow: ["GET /a"]\n  reader:\n    allow: ["* /{proxy+}"]\n',
    "cycle.yaml": "roles:\n  a: {inherit: [b]}\n  b: {inherit: [a]}\n",
    "missing-role.yaml": "subjects:\n  https://i/:\n    bob: [ghost]\n",
    "bad-types.yaml": "roles:\n  r:\n    allow: GET /a\n    disabled: 'no'\n    inherit: 3\n",
    "not-a-mapping.yaml": "- roles\n- subjects\n",
    "number-keys.yaml": "roles:\n  1: {allow: []}\n  true: {}\n",
    "anchors.yaml": 'common: &c ["GET /a"]\nroles:\n  r: {allow: *c}\n  s: {allow: *c}\n',
    # Regression: ten lines of nested aliases took exponential time (fixed in rolefile.Locator._record).
    "alias-bomb.yaml": "\n".join(
        ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
        + ["roles: {r: {allow: *a8}}"]
    ),
    # Regression: deep nesting escaped as RecursionError (fixed in rolefile.load_document).
    "deep-nesting.json": "[" * 5000 + "]" * 5000,
    "deep-nesting.yaml": "roles: " + "[" * 3000 + "]" * 3000,
    "tabs.json": '{\n\t"roles": {\n\t\t"r": {"allow": ["GET /a"]}\n\t}\n}',
    "python-tag.yaml": "roles: !!python/object/apply:os.system ['true']\n",
    "binary.yaml": "roles: !!binary aGVsbG8=\n",
    "empty.yaml": "",
    "nul.yaml": "roles:\n  r\x00: {}\n",
    "long-key.yaml": "subjects:\n  https://i/:\n    " + "s" * 2000 + ": [reader]\n",
    "issuer-not-string.yaml": "subjects:\n  42:\n    bob: [reader]\n",
}


INSIGHTS_EXTRA = {
    "regex.txt": "fields @message | filter @message like /(?i)deny/ | limit 5",
    "bad-regex.txt": "filter @message like /(/",
    "catastrophic-regex.txt": "filter sub like /(a+)+$/",
    "stats-bin.txt": "stats count(*) as n, pct(latency_ms, 99) by bin(5m), decision | sort n desc",
    "arith.txt": "fields latency_ms * 2 + 1 as x, latency_ms / 0 as y, 2 ^ 2000 as z | sort x",
    "parse-glob.txt": 'parse @message "* *" as a, b | display a, b',
    "parse-regex.txt": "parse @message /(?<word>\\w+)/ | stats count_distinct(word)",
    "unsupported.txt": "pattern @message",
    "unterminated.txt": 'filter sub = "alice',
    "deep-parens.txt": "filter " + "(" * 2000 + "1" + ")" * 2000,
    "in-list.txt": 'filter decision in ["allow", "deny"] and not sub in ["a"]',
    "dedup.txt": "sort @timestamp desc | dedup sub | limit 10000",
    "limit-huge.txt": "limit 99999999999999999999",
    "comment.txt": "# nothing\nfields @timestamp",
    "backticks.txt": "fields `a.b`, `@message` | filter `a.b` != 1",
}


def main() -> None:
    def write(folder: str, name: str, text: str) -> None:
        d = CORPUS / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text, encoding="utf-8")

    for name, token in tokens().items():
        write("token", f"seed-{name}.jwt", token)
    for name, proof in proofs().items():
        write("dpop", f"seed-{name}.jwt", proof)
    for name, item in role_items().items():
        write("role_item", f"seed-{name}.json", json.dumps(item, indent=1) + "\n")
    for name, text in ROLE_FILES.items():
        write("rolefile", f"seed-{name}", text)
    for q in SAVED_QUERIES:
        write("insights", f"seed-{q.name}.txt", render(q, dict.fromkeys(q.params, "alice")))
    for name, text in INSIGHTS_EXTRA.items():
        write("insights", f"seed-{name}", text)


if __name__ == "__main__":
    main()
    print(
        f"corpus written under {Path(CORPUS).relative_to(Path.cwd()) if CORPUS.is_relative_to(Path.cwd()) else CORPUS}"
    )
