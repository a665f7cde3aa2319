"""Input generators shared by the fuzz tests: corpus mutations and structure-aware generators."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_NOISE = B64 + ".=+/ \t\n{}[]\"'\\\x00\u00e9\u2028"


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str], alphabet: str = _NOISE) -> str:
    """A corpus entry with a few random edits: replace, insert, delete, duplicate, or splice in a
    piece of another entry."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("replace", "insert", "delete", "duplicate", "splice", "truncate")))
        i = draw(st.integers(0, len(text))) if text else 0
        if op == "replace" and text:
            i = min(i, len(text) - 1)
            text = text[:i] + draw(st.sampled_from(alphabet)) + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(st.text(alphabet=alphabet, min_size=1, max_size=8)) + text[i:]
        elif op == "delete":
            j = draw(st.integers(i, min(len(text), i + 16)))
            text = text[:i] + text[j:]
        elif op == "duplicate":
            j = draw(st.integers(i, min(len(text), i + 64)))
            text = text[:j] + text[i:j] + text[j:]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            a = draw(st.integers(0, len(other)))
            b = draw(st.integers(a, min(len(other), a + 200)))
            text = text[:i] + other[a:b] + text[i:]
        else:
            text = text[:i]
    return text


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

# -- DynamoDB attribute values (only shapes DynamoDB itself can return) ---------------------------------

_ddb_numbers = st.one_of(
    st.integers(-(10**38) + 1, 10**38 - 1).map(str),
    st.decimals(min_value=-(10**20), max_value=10**20, allow_nan=False, allow_infinity=False, places=6).map(
        lambda d: format(d.normalize(), "f")
    ),
)
_strings = st.one_of(
    st.sampled_from(
        ("GET /accounts/{id}", "* /{proxy+}", "DELETE /", "reader", "admin", "FETCH /x", "GET accounts", "")
    ),
    st.text(max_size=24),
)
_av_scalar = st.one_of(
    st.builds(lambda v: {"S": v}, _strings),
    st.builds(lambda v: {"N": v}, _ddb_numbers),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"B": v}, st.binary(max_size=8).map(lambda b: b.hex())),
    st.builds(lambda v: {"SS": sorted(v)}, st.sets(_strings, min_size=1, max_size=4)),
    st.builds(lambda v: {"NS": sorted(v)}, st.sets(_ddb_numbers, min_size=1, max_size=3)),
    st.builds(
        lambda v: {"BS": sorted(v)},
        st.sets(st.binary(min_size=1, max_size=4).map(lambda b: b.hex()), min_size=1, max_size=2),
    ),
)
attribute_values = st.recursive(
    _av_scalar,
    lambda children: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(children, max_size=4)),
        st.builds(lambda v: {"M": v}, st.dictionaries(st.text(max_size=6), children, max_size=3)),
    ),
    max_leaves=10,
)
ROLE_ATTRS = ("allow", "deny", "inherit", "disabled", "description", "version", "updated_by", "updated_at")
role_items = st.dictionaries(
    st.one_of(st.sampled_from(ROLE_ATTRS), st.sampled_from(ROLE_ATTRS), st.text(max_size=10)),
    attribute_values,
    max_size=6,
)
subject_items = st.dictionaries(
    st.sampled_from(("roles", "not_before", "version", "updated_by", "extra")), attribute_values, max_size=4
)
role_names = st.one_of(
    st.sampled_from(("reader", "r", "a" * 128, "a" * 129, "a#b", "x y", "", "\u00e9")), st.text(max_size=10)
)

# -- role files ---------------------------------------------------------------------------------------

_role_body = st.dictionaries(
    st.sampled_from(("allow", "deny", "inherit", "disabled", "description", "alow")),
    st.one_of(st.lists(_strings, max_size=3), json_values),
    max_size=4,
)
_assignments = st.dictionaries(
    st.one_of(st.just("https://login.example.com/"), st.text(max_size=8)),
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.lists(st.sampled_from(("reader", "ghost", "r")), max_size=3), json_values),
        max_size=3,
    ),
    max_size=2,
)
role_documents = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "roles": st.one_of(
                st.dictionaries(role_names, st.one_of(_role_body, json_values), max_size=4), json_values
            ),
            "subjects": _assignments,
            "groups": _assignments,
            "extra": json_values,
        },
    ),
    json_values,
)


def as_yaml(doc: Any) -> str:
    import yaml

    return str(yaml.safe_dump(doc, allow_unicode=True))


def as_json(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False)


# -- Logs Insights queries ------------------------------------------------------------------------------

_fields = st.sampled_from(
    (
        "@timestamp",
        "@message",
        "@logStream",
        "decision",
        "sub",
        "latency_ms",
        "status",
        "a.b",
        "`odd name`",
        "missing",
        "reason",
    )
)
_literals = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.sampled_from(('"allow"', '"deny"', "'x'", '"a\\"b"', "/de.y/", "/(?i)ALLOW/", "5m", "1.5", "-0")),
)
_ops = st.sampled_from(
    (
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "like",
        "not like",
        "=~",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "and",
        "or",
        "in",
    )
)
_functions = st.sampled_from(
    ("count", "count_distinct", "sum", "avg", "min", "max", "pct", "stddev", "earliest", "latest", "bin",
     "strlen", "toupper", "tolower", "abs", "ceil", "floor", "concat", "substr", "replace", "strcontains",
     "coalesce", "greatest", "least", "ispresent", "isempty", "isblank", "jsonParse", "datefloor")
)  # fmt: skip


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 3 else 1))
    if choice == 0:
        return draw(_fields)
    if choice == 1:
        return draw(_literals)
    if choice in (2, 3):
        left, right = draw(expressions(depth + 1)), draw(expressions(depth + 1))
        op = draw(_ops)
        if op == "in":
            return f"{left} in [{right}, {draw(_literals)}]"
        return f"{left} {op} {right}"
    if choice == 4:
        args = draw(st.lists(expressions(depth + 1), max_size=3))
        return f"{draw(_functions)}({', '.join(args) if args else '*'})"
    return f"not ({draw(expressions(depth + 1))})"


_PARSE_PATTERNS = ('"* *" as a, b', "/(?<w>[a-z]+)/", '"*" as', "/(?<1>x)/")


@st.composite
def insights_queries(draw: st.DrawFn) -> str:
    commands: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ("fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "pattern")
            )
        )
        e = draw(expressions())
        if kind == "fields":
            commands.append(f"fields {e} as f{len(commands)}, {draw(_fields)}")
        elif kind == "filter":
            commands.append(f"filter {e}")
        elif kind == "stats":
            by = draw(st.sampled_from(("", " by decision", " by bin(5m)", " by bin(1x)", f" by {e}")))
            commands.append(f"stats {e} as n{by}")
        elif kind == "sort":
            commands.append(f"sort {draw(_fields)} {draw(st.sampled_from(('asc', 'desc', '')))}")
        elif kind == "limit":
            commands.append(f"limit {draw(st.integers(-1, 20000))}")
        elif kind == "parse":
            pattern = draw(st.sampled_from(_PARSE_PATTERNS))
            commands.append(f"parse {draw(_fields)} {pattern}")
        elif kind == "display":
            commands.append(f"display {draw(_fields)}")
        elif kind == "dedup":
            commands.append(f"dedup {draw(_fields)}")
        else:
            commands.append(f"pattern {e}")
    return " | ".join(commands)


_event_values = st.one_of(
    json_scalars,
    st.sampled_from(("allow", "deny", "unauthorized", "alice", "1e309", "NaN", "-")),
    st.lists(json_scalars, max_size=2),
)
log_messages = st.one_of(
    st.dictionaries(
        st.sampled_from(("decision", "sub", "latency_ms", "status", "reason", "a", "kind", "")),
        _event_values,
        max_size=5,
    ).map(json.dumps),
    st.dictionaries(st.just("a"), st.dictionaries(st.just("b"), _event_values, max_size=1), max_size=1).map(
        json.dumps
    ),
    st.text(max_size=40),
    st.just('{"dup": 1, "dup": 2}'),
    st.just("[" * 3000 + "]" * 3000),
)


# -- DPoP proofs ------------------------------------------------------------------------------------

# Values that broke or could break a proof check: numbers beyond a float, NaN and infinities (json
# writes them as NaN/Infinity, which the parser refuses), lone surrogates (JSON's \ud800 escapes),
# NUL, long strings, every JSON type, nested objects.
hostile_numbers = st.one_of(
    st.sampled_from((10**400, -(10**400), 2**64, -(2**63) - 1, 2**53 + 1, 0, -1, 1e308, -0.0, 5e-324)),
    st.integers(),
    st.floats(),
)
lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
hostile_strings = st.one_of(
    st.text(max_size=12),
    lone_surrogates,
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=4), lone_surrogates, st.text(max_size=4)),
    st.sampled_from(("", "\x00", "a" * 300, "dpop+jwt ", "DPOP+JWT", "none", "GET", "get")),
)
hostile_values = st.one_of(
    json_values,
    hostile_numbers,
    hostile_strings,
    st.recursive(
        hostile_strings, lambda c: st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=4
    ),
)
# URLs urlsplit refuses (unbalanced or invalid IPv6 brackets, NFKC delimiters, bad ports) and
# near misses of the request URL.
_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
_BAD_URLS = st.sampled_from(
    (
        "https://[x/",
        "https://[::1",
        "https://[::1]:99999/",
        "https://[x]/prod/accounts/42",
        "https://[v1.x]/",
        "http://[fe80::1%25eth0]/prod/accounts/42",
        "https://[::1]]/",
        "https://a]b/",
        f"https://{_DOMAIN}:port/prod/accounts/42",
        f"https://{_DOMAIN}:-1/prod/accounts/42",
        f"https://{_DOMAIN}:443/prod/accounts/42?x=1#f",
        f"HTTPS://{_DOMAIN.upper()}/prod/accounts/42",
        f"http://{_DOMAIN}/prod/accounts/42",
        f"https://{_DOMAIN}/prod/accounts/43",
        f"https://user@{_DOMAIN}/prod/accounts/42",
        "https://ex\uff03ample.com/",
        "https://\u2100.example/",
        "//host/path",
        "",
    )
)
hostile_urls = st.one_of(
    _BAD_URLS,
    st.builds(lambda h: f"https://{h}/prod/accounts/42", hostile_strings),
    st.builds(lambda p: f"https://{_DOMAIN}{p}", hostile_strings),
    st.text(max_size=40),
)

_OVERFLOWING = st.sampled_from((10**400, -(10**400), 10**309))  # int → float raises OverflowError
_VALUES: dict[tuple[str, str], Any] = {
    ("header", "typ"): st.one_of(st.just("dpop+jwt"), hostile_values),
    ("header", "alg"): st.one_of(
        st.sampled_from(("ES256", "ES384", "RS256", "EdDSA", "none", "HS256")), hostile_values
    ),
    ("header", "jwk"): hostile_values,
    ("header", "crit"): hostile_values,
    ("header", "kid"): hostile_values,
    ("claims", "jti"): st.one_of(st.just("p-1"), lone_surrogates, hostile_strings, hostile_values),
    ("claims", "htm"): st.one_of(st.sampled_from(("GET", "POST", "get")), hostile_values),
    ("claims", "htu"): st.one_of(_BAD_URLS, hostile_urls, hostile_values),
    ("claims", "iat"): st.one_of(
        st.integers(1_899_999_000, 1_900_001_000), _OVERFLOWING, hostile_numbers, hostile_values
    ),
    ("claims", "ath"): hostile_values,
    ("claims", "nonce"): hostile_values,
}
_JWK_VALUES = st.one_of(
    hostile_values,
    _OVERFLOWING,
    st.sampled_from(("EC", "RSA", "OKP", "oct", "P-256", "P-384", "Ed25519", "AQAB", "AA", "A" * 43)),
)
_SLOTS = (
    *(("header", n) for n in ("typ", "alg", "jwk", "crit", "kid")),
    *(("jwk", n) for n in ("kty", "crv", "x", "y", "d", "n", "e", "alg", "use", "key_ops")),
    *(("claims", n) for n in ("jti", "htm", "htu", "iat", "ath", "nonce")),
)


@st.composite
def dpop_proof_parts(
    draw: st.DrawFn, header: dict[str, Any], claims: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a good proof with one to three of their members (the header's, its
    ``jwk``'s, the claims') dropped, made hostile or added (``crit``, ``kid``, ``nonce``, ``d``...).
    Mostly one change, so that the check of that member is reached behind the others."""
    new_header, jwk, new_claims = dict(header), dict(header["jwk"]), dict(claims)
    parts = {"header": new_header, "jwk": jwk, "claims": new_claims}
    new_header["jwk"] = jwk
    changes = draw(st.sampled_from((1, 1, 1, 2, 3)))
    for where, name in draw(
        st.lists(st.sampled_from(_SLOTS), min_size=changes, max_size=changes, unique=True)
    ):
        target = parts[where]
        if draw(st.integers(0, 4)) == 0:
            target.pop(name, None)
        else:
            target[name] = draw(_JWK_VALUES if where == "jwk" else _VALUES[(where, name)])
    return new_header, new_claims
