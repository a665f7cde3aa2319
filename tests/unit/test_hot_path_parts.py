"""The request path's fast parts agree with their plain definitions on every input.

Four pieces were rewritten for speed (docs/benchmarks.md): header lookup (C string operations
instead of a loop over every name), the payload's JSON (the C scanner without the duplicate-member
hook for flat objects), the claim checks (straight-line) and the Bearer token's whitespace check
(C substring searches for ASCII tokens). Each is compared here with the plain
implementation it replaced, on generated and hand-picked hostile inputs: a fast path that answered
differently would let a request through that the plain one refuses, or the reverse.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeauth.authorizer import (
    _has_space,
    _header_values,
    _lone_authorization,
    authorization_credentials,
    bearer_token,
)
from edgeauth.core.errors import AuthenticationError, TokenParseError
from edgeauth.core.tokens import _json_object

# -- headers ------------------------------------------------------------------------------------


def plain_header_values(event: dict[str, Any], name: str) -> list[str]:
    """The original loop: every name that lower-cases to ``name``; multiValueHeaders wins."""
    values: list[str] = []
    found = False
    multi = event.get("multiValueHeaders")
    if multi and isinstance(multi, dict):
        for k, v in multi.items():
            if isinstance(k, str) and k.lower() == name:
                found = True
                for item in v if isinstance(v, list) else (v,):
                    if isinstance(item, str):
                        values.append(item)
    if not found:
        single = event.get("headers")
        if single and isinstance(single, dict):
            for k, v in single.items():
                if isinstance(k, str) and k.lower() == name and isinstance(v, str):
                    values.append(v)
    return values


NAMES = st.sampled_from(
    [
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "AuThOrIzAtIoN",
        "X-Authorization",
        "Proxy-Authorization",
        "authorization2",
        "Cache-Control",
        "Host",
        "DPoP",
        "dpop",
        "Dpop",
        "X-DPoP",
        "authori\u0130zation",
        "Accept",
    ]
)
VALUES = st.one_of(st.text(max_size=12), st.none(), st.integers(), st.lists(st.text(max_size=8), max_size=3))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {}
    if draw(st.booleans()):
        event["multiValueHeaders"] = draw(
            st.one_of(
                st.dictionaries(NAMES, st.one_of(st.lists(VALUES, max_size=3), VALUES), max_size=5), VALUES
            )
        )
    if draw(st.booleans()):
        event["headers"] = draw(st.one_of(st.dictionaries(NAMES, VALUES, max_size=5), VALUES))
    return event


@settings(max_examples=600, deadline=None)
@given(events(), st.sampled_from(["authorization", "dpop"]))
def test_header_values_match_the_plain_loop(event: dict[str, Any], name: str) -> None:
    assert _header_values(event, name) == plain_header_values(event, name)


@settings(max_examples=600, deadline=None)
@given(events())
def test_the_lone_authorization_shortcut_never_disagrees_with_the_full_parse(event: dict[str, Any]) -> None:
    # The repeated-token path uses the shortcut; when it gives a value, the full parse must give
    # exactly that one value (so the memo is only ever consulted for what the full path accepts).
    try:
        lone = _lone_authorization(event)
    except (AttributeError, TypeError):
        return  # the authorizer then takes the full path
    if lone is not None:
        assert plain_header_values(event, "authorization") == [lone]


def test_a_second_authorization_in_another_case_is_seen() -> None:
    event = {"multiValueHeaders": {"Authorization": ["Bearer a"], "authorization": ["Bearer b"]}}
    assert _header_values(event, "authorization") == ["Bearer a", "Bearer b"]
    assert _lone_authorization(event) is None


def test_non_string_header_names_fall_back_to_the_loop() -> None:
    event: dict[str, Any] = {"headers": {1: "x", "Authorization": "Bearer a"}}
    assert _header_values(event, "authorization") == ["Bearer a"]


# -- payload JSON ---------------------------------------------------------------------------------


def plain_json_object(text: str) -> dict[str, Any] | None:
    """The strict decoder alone: duplicate members and non-finite constants refused."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise ValueError("duplicate")
        return obj

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.JSONDecoder(object_pairs_hook=no_duplicates, parse_constant=no_constant).decode(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def fast_json_object(text: str) -> dict[str, Any] | None:
    try:
        return _json_object(text.encode("utf-8", "surrogatepass"), "payload")
    except TokenParseError:
        return None


HOSTILE = [
    '{"a":1,"a":2}',
    '{"a":1,"a" :2}',
    '{"a":1,"a"\t:2}',
    '{"a":1, "a":2}',
    '{"a":"\\":","a":1}',
    '{"a":"x","b":"y\\":"}',
    '{"a":{"b":1,"b":2}}',
    '{"a":[{"b":1,"b":2}]}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":-Infinity}',
    ' {"a":1}',
    '{"a":1} ',
    '{"a":1}x',
    '{"a":1}{"b":2}',
    "\ufeff{}",
    "{}",
    '{"":1}',
    '{"a":1e400}',
    '{"a":"\\u0000"}',
    '{"a":[1,2,{"c":3}]}',
    '{"a":"{"}',
    '{"a" : 1}',
    "[]",
    '"x"',
    "",
    "{",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_payload_json_matches_the_strict_decoder_on_hostile_text(text: str) -> None:
    assert fast_json_object(text) == plain_json_object(text)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", 'd"', "e:"]), JSON_VALUES), max_size=5),
    st.sampled_from([":", " :", ": ", ":\n"]),
    st.sampled_from([",", ", "]),
)
def test_payload_json_matches_the_strict_decoder_on_generated_members(
    members: list[tuple[str, Any]], colon: str, comma: str
) -> None:
    # Members written by hand so that names may repeat and whitespace may sit anywhere.
    text = "{" + comma.join(f"{json.dumps(k)}{colon}{json.dumps(v)}" for k, v in members) + "}"
    assert fast_json_object(text) == plain_json_object(text)


# -- the Bearer token's whitespace check ------------------------------------------------------------


def test_has_space_is_str_split_on_every_code_point() -> None:
    for c in map(chr, range(sys.maxunicode + 1)):
        text = f"abc{c}def"
        assert _has_space(text) == (text.split() != [text]), hex(ord(c))


BEARER = re.compile(r"(?i:bearer) +([^\s]+)")
CREDENTIALS = re.compile(r"(?i:(dpop)|bearer) +([^\s]+)")


def parsed(parse: Callable[[list[str]], Any], value: str) -> Any:
    try:
        return parse([value])
    except AuthenticationError:
        return None


SCHEMES = ("", "Bearer", "bearer", "BeArEr", "Bearer ", "Bearer  ", "bearer\t", "Bear")
SCHEMES += ("DPoP", "dpop", "DPOP ", "DPoP  ", "dpop\t", "DPo")


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(SCHEMES),
    st.text(alphabet=st.sampled_from(" BbDd\t\n\x0b\x1c\x1f\x85\xa0\u2028x.-_é"), max_size=10),
)
def test_both_schemes_are_the_regex_language(scheme: str, rest: str) -> None:
    value = scheme + rest
    bearer, credentials = BEARER.fullmatch(value), CREDENTIALS.fullmatch(value)
    assert parsed(bearer_token, value) == (bearer.group(1) if bearer else None), repr(value)
    expected = (credentials.group(1) is not None, credentials.group(2)) if credentials else None
    assert parsed(authorization_credentials, value) == expected, repr(value)
