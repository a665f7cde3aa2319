"""Pure parts of the CLI: role-file parsing and locations, cycles, conditions, token decoding, output."""

from __future__ import annotations

import base64
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeauth_cli.commands.clients import pascal
from edgeauth_cli.commands.explain import unverified_claims
from edgeauth_cli.context import CliError
from edgeauth_cli.render import print_table, to_jsonable
from edgeauth_cli.rolefile import check_references, find_cycles, format_path, load_document, parse_role_file
from edgeauth_cli.table_writer import Change, TableWriter, same_value, to_attribute_value


def _parse(text: str, source: str = "f.yaml"):
    data, locate, problems = load_document(text, source)
    rf = parse_role_file(data, locate)
    return rf, problems + rf.problems, locate


def test_yaml_problems_carry_line_and_column() -> None:
    # GIVEN a role whose second permission has an unknown method
    rf, problems, _ = _parse("roles:\n  r:\n    allow:\n      - GET /a\n      - BREW /coffee\n")
    # THEN one problem, at line 5 column 9, naming the path
    assert [str(p) for p in problems] == [
        "f.yaml:5:9: roles.r.allow[1]: unknown method 'BREW' in 'BREW /coffee'; "
        "use one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT or '*'"
    ]
    assert rf.roles is not None and rf.roles["r"].allow == ("GET /a",)


def test_json_syntax_error_has_line_and_column() -> None:
    _, problems, _ = _parse('{\n  "roles": {,}\n}', "f.json")
    assert problems[0].where == "f.json:2:13"


def test_tab_indented_json_still_loads() -> None:
    rf, problems, _ = _parse('{\n\t"roles": {"r": {"allow": ["GET /a"]}}\n}', "f.json")
    assert problems == []
    assert rf.roles is not None and "r" in rf.roles


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "expected a mapping"),
        ("", "the file is empty"),
        ("roles: {r: {allow: 'GET /a'}}", "must be a list"),
        ("roles: {r: {disabled: 'no'}}", "'disabled' must be true or false"),
        ("roles: {r: {inherit: [r]}}", "inherits itself"),
        ("roles: {r: {colour: red}}", "unknown field 'colour'"),
        ("rolez: {}", "unknown section 'rolez'"),
        ("groups: {'https://i/': {yes: [r]}}", "quote it"),
        ("roles: {r: {allow: ['GET /a/{x+}/b']}}", "must be the last segment"),
    ],
)
def test_shape_problems(text: str, message: str) -> None:
    _, problems, _ = _parse(text)
    assert any(message in p.message for p in problems), problems


def test_sections_absent_are_not_managed() -> None:
    rf, problems, _ = _parse("roles: {}\n")
    assert problems == []
    assert rf.roles == {} and rf.subjects is None and rf.groups is None


def test_references_against_table_and_prune() -> None:
    rf, _, locate = _parse("roles:\n  a: {inherit: [t]}\n")
    # a table role satisfies the reference ...
    assert check_references(rf, {"t": ()}, locate) == []
    # ... unless --prune will delete it
    (problem,) = check_references(rf, {"t": ()}, locate, prune=True)
    assert "--prune would delete it" in problem.message
    assert problem.where.startswith("f.yaml:2:")


def test_cycle_through_the_table_is_found() -> None:
    rf, _, locate = _parse("roles:\n  a: {inherit: [t]}\n")
    (problem,) = check_references(rf, {"t": ("a",)}, locate)
    assert "a → t → a" in problem.message


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde")), max_size=12))
def test_find_cycles_reports_only_real_cycles(edges: list[tuple[str, str]]) -> None:
    graph: dict[str, list[str]] = {n: [] for n in "abcde"}
    for child, parent in edges:
        graph[child].append(parent)
    for cycle in find_cycles(graph):
        # every consecutive pair is an edge, closing back to the start
        for x, y in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
            assert y in graph[x]
        assert cycle[0] == min(cycle)
    # a node that inherits itself is always reported
    for n, parents in graph.items():
        if n in parents:
            assert [n] in find_cycles(graph)


def test_format_path() -> None:
    assert format_path(("roles", "r", "allow", 2)) == "roles.r.allow[2]"
    assert format_path(("subjects", "https://x/", "a")) == 'subjects["https://x/"].a'
    assert format_path(()) == "$"


def _writer() -> TableWriter:
    return TableWriter(client=None, table="t", identity="arn:me", clock=lambda: 0.0)  # type: ignore[arg-type]


def test_conditions_new_versioned_and_console_items() -> None:
    w = _writer()
    new = w.operation(Change(("ROLE#r", "ROLE"), None, {"allow": ["GET /a"]}))["Put"]
    assert new["ConditionExpression"] == "attribute_not_exists(#pk)"
    assert new["Item"]["version"] == {"N": "1"}
    assert new["Item"]["updated_by"] == {"S": "arn:me"}
    assert new["Item"]["updated_at"] == {"S": "1970-01-01T00:00:00Z"}
    assert new["Item"]["allow"] == {"L": [{"S": "GET /a"}]}
    upd = w.operation(Change(("ROLE#r", "ROLE"), {"version": 4}, {"allow": []}))["Put"]
    assert upd["ConditionExpression"] == "#v = :v" and upd["ExpressionAttributeValues"] == {":v": {"N": "4"}}
    assert upd["Item"]["version"] == {"N": "5"}
    console = w.operation(Change(("ROLE#r", "ROLE"), {"allow": {"GET /a"}}, None))["Delete"]
    assert console["ConditionExpression"] == "attribute_exists(#pk) AND attribute_not_exists(#v)"


def test_sets_are_written_as_lists_and_compared_as_sorted_lists() -> None:
    assert to_attribute_value({"b", "a"}) == {"L": [{"S": "a"}, {"S": "b"}]}
    assert same_value({"b", "a"}, ["a", "b"])
    assert not same_value({"b", "a"}, ["b", "a"])
    assert not same_value(False, 0)


def _jwt(payload: dict) -> str:
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc({'alg': 'none'})}.{enc(payload)}.sig"


def test_unverified_claims_decodes_and_rejects_garbage() -> None:
    header, claims = unverified_claims(_jwt({"sub": "a", "iss": "i"}))
    assert header == {"alg": "none"} and claims["sub"] == "a"
    for bad in ("abc", "a.b", "!!!.e30.x", f"{_jwt({})[:-4]}.extra.parts"):
        with pytest.raises(CliError) as exc:
            unverified_claims(bad)
        assert exc.value.exit_code == 2
        assert bad not in str(exc.value)


def test_pascal() -> None:
    assert pascal("gold") == "Gold"
    assert pascal("free-tier") == "FreeTier"
    assert pascal("pro_plus") == "ProPlus"


def test_table_output_aligns_columns() -> None:
    out = io.StringIO()
    print_table([{"name": "reader", "n": 1}, {"name": "w", "n": None}], ["name", "n"], out=out)
    assert out.getvalue().splitlines() == ["NAME    N", "reader  1", "w       -"]
    assert to_jsonable({"s": {"b", "a"}}) == {"s": ["a", "b"]}


def test_table_output_marks_an_empty_string_as_missing() -> None:
    # an empty description must not leave a blank that reads as the next column's value
    out = io.StringIO()
    print_table([{"name": "reader", "description": "", "n": 1}], ["name", "description", "n"], out=out)
    assert out.getvalue().splitlines()[1].split() == ["reader", "-", "1"]
