"""Claim paths (``core/claims.py``): one spelling per claim, dots and slashes inside names kept,
JSON Pointer (RFC 6901) for nesting, strict parsing with a reason, resolution through objects only."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeauth.core.claims import ABSENT, NOT_AN_OBJECT, ClaimPathError, canonical_text, parse_claim_path

CLAIMS: dict[str, Any] = {
    "groups": ["a"],
    "cognito:groups": ["admins"],
    "https://example.com/roles": ["teller"],
    "a.b": "dotted",
    "a": {"b": "nested"},
    "realm_access": {"roles": ["reader"]},
    "resource_access": {"my-client": {"roles": ["auditor"]}, "my/client": {"roles": ["slashed"]}},
    "kubernetes.io": {"namespace": "payments"},
    "~tilde": "t",
    "": "empty name",
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("groups", ["a"]),
        ("/groups", ["a"]),
        ("cognito:groups", ["admins"]),
        ("/cognito:groups", ["admins"]),
        ("https://example.com/roles", ["teller"]),  # a plain name: slashes are part of it
        ("/https:~1~1example.com~1roles", ["teller"]),
        ("a.b", "dotted"),  # dots never nest
        ("/a/b", "nested"),
        ("/realm_access/roles", ["reader"]),
        ("/resource_access/my-client/roles", ["auditor"]),
        ("/resource_access/my~1client/roles", ["slashed"]),
        ("/kubernetes.io/namespace", "payments"),
        ("~tilde", "t"),
        ("/~0tilde", "t"),
    ],
)
def test_each_spelling_names_exactly_one_claim(text: str, value: Any) -> None:
    assert parse_claim_path(text).find(CLAIMS) == value


def test_plain_name_and_one_segment_pointer_are_one_path() -> None:
    assert parse_claim_path("/groups") == parse_claim_path("groups")
    assert parse_claim_path("/groups").text == "groups"
    assert parse_claim_path("/https:~1~1example.com~1roles").text == "https://example.com/roles"
    assert parse_claim_path("/a/b").segments == ("a", "b")
    assert parse_claim_path("/~1x").text == "/~1x"  # a name starting with '/' keeps the pointer form


def test_missing_members_and_non_objects_on_the_way_are_told_apart() -> None:
    assert parse_claim_path("/realm_access/nope").find(CLAIMS) is ABSENT
    assert parse_claim_path("nope").find(CLAIMS) is ABSENT
    assert parse_claim_path("/groups/0").find(CLAIMS) is NOT_AN_OBJECT  # never an array index
    assert parse_claim_path("/a.b/c").find(CLAIMS) is NOT_AN_OBJECT


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "non-empty"),
        (None, "non-empty"),
        (["groups"], "non-empty"),
        ("/", "empty reference token"),
        ("//groups", "empty reference token"),
        ("/realm_access/", "empty reference token"),
        ("/a~2b", "'~' must be followed"),
        ("/a~", "'~' must be followed"),
        (" groups", "whitespace"),
        ("/" + "/".join("x" * 9), "deeper"),
        ("x" * 257, "longer"),
    ],
)
def test_a_path_that_cannot_be_parsed_says_why(text: Any, problem: str) -> None:
    with pytest.raises(ClaimPathError) as info:
        parse_claim_path(text)
    assert problem in str(info.value)


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4))
def test_canonical_text_round_trips(segments: list[str]) -> None:
    text = canonical_text(tuple(segments))
    if text == text.strip() and len(text) <= 256:
        assert parse_claim_path(text).segments == tuple(segments)
