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

from edgeauth.audit.queries import SAVED_QUERIES, render
from tests.fuzz.harness import CORPUS, CORPUS_KEY, NOW
from tests.support.tokens import AUDIENCE, ISSUER, b64json, b64url, forge, make_key, resign, sign


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
