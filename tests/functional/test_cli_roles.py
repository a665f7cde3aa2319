"""``edgeauth roles``: apply / export / lint / delete against a moto role table."""

from __future__ import annotations

from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth_cli import render
from edgeauth_cli.main import main
from tests.functional.test_cli_fixtures import BASE_FILE, ISS, TABLE, World, aws, run, world, write_file

__all__ = ["aws", "world"]  # fixtures used below


def test_apply_writes_roles_subjects_groups_with_stamps(world: World, capsys, tmp_path) -> None:
    # GIVEN an empty table and a valid role file
    path = write_file(tmp_path, "roles.yaml", BASE_FILE)
    # WHEN it is applied with --yes
    code, out, _ = run(capsys, "roles", "apply", path, "--yes")
    # THEN every item is created as lists of strings, stamped with who and when, version 1
    assert code == 0
    assert out["applied"] is True
    assert out["summary"] == {"create": 5, "update": 0, "delete": 0}
    items = world.items()
    writer = items[("ROLE#writer", "ROLE")]
    assert writer["allow"] == ["POST /accounts", "PUT /accounts/{id}"]
    assert writer["deny"] == ["DELETE /accounts/{id+}"]
    assert writer["inherit"] == ["reader"]
    assert writer["disabled"] is False
    assert writer["version"] == 1
    assert writer["updated_by"] == "arn:aws:sts::123456789012:user/moto"
    assert writer["updated_at"].endswith("Z")
    assert items[(f"SUBJECT#{ISS}", "alice")]["roles"] == ["writer"]
    assert items[(f"GROUP#{ISS}", "auditors")]["roles"] == ["reader"]


def test_export_round_trips_through_apply(world: World, capsys, tmp_path) -> None:
    # GIVEN a table written by apply
    run(capsys, "roles", "apply", write_file(tmp_path, "roles.yaml", BASE_FILE), "--yes")
    before = world.items()
    for fmt in ("yaml", "json"):
        # WHEN it is exported and the export is applied again
        exported = tmp_path / f"export.{fmt}"
        code, _, _ = run(capsys, "roles", "export", "--format", fmt, "--file", str(exported))
        assert code == 0
        code, out, _ = run(capsys, "roles", "apply", str(exported), "--yes", "--prune")
        # THEN apply accepts it and finds nothing to change
        assert code == 0, out
        assert out["changes"] == []
    assert world.items() == before


def test_invalid_file_reports_every_problem_with_line_and_writes_nothing(
    world: World, capsys, tmp_path
) -> None:
    # GIVEN a file with an unknown method, a malformed template, a missing parent, a cycle and bad names
    text = """\
roles:
  reader:
    allow:
      - "FETCH /accounts"
      - "GET /accounts/{id"
    inherit: [ghost]
  a:
    inherit: [b]
  b:
    inherit: [a]
  "bad name": {}
subjects:
  https://login.example.com/:
    123: [reader]
    carol: [nobody]
"""
    path = write_file(tmp_path, "bad.yaml", text)
    # WHEN it is applied, even with --yes
    code, out, err = run(capsys, "roles", "apply", path, "--yes")
    # THEN exit 3, each problem at its place, and the table is untouched
    assert code == 3
    where = {p["where"].split(": ", 1)[0]: p["message"] for p in out["problems"]}
    assert "unknown method 'FETCH'" in where[f"{path}:4:9"]
    assert "malformed path variable" in where[f"{path}:5:9"]
    assert "missing role" in where[f"{path}:6:15"]
    assert any("inheritance cycle: a → b → a" in p["message"] for p in out["problems"])
    assert "invalid role name 'bad name'" in where[f"{path}:11:3"]
    assert "quote it" in where[f"{path}:14:5"]
    assert "'nobody' does not exist" in where[f"{path}:15:13"]
    assert "nothing written" in err
    assert world.items() == {}


def test_json_file_problems_name_their_path(world: World, capsys, tmp_path) -> None:
    # GIVEN a JSON file with a permission that is not a string and a duplicate key
    path = write_file(
        tmp_path,
        "roles.json",
        '{"roles": {"r": {"allow": [42]}, "q": {}, "q": {}}}',
    )
    # WHEN applied
    code, out, _ = run(capsys, "roles", "apply", path, "--dry-run")
    # THEN both are reported with their JSON path
    assert code == 3
    messages = [p["where"] + " " + p["message"] for p in out["problems"]]
    assert any("roles.r.allow[0]" in m and "must be a string" in m for m in messages)
    assert any("duplicate key 'q'" in m for m in messages)


def test_unparseable_file_exits_3(world: World, capsys, tmp_path) -> None:
    # GIVEN YAML that does not parse
    path = write_file(tmp_path, "broken.yaml", "roles:\n  reader: [unclosed\n")
    # WHEN applied THEN exit 3 with a line number
    code, out, _ = run(capsys, "roles", "apply", path, "--yes")
    assert code == 3
    assert out["problems"][0]["where"].startswith(f"{path}:")


def test_dry_run_prints_diff_and_writes_nothing(world: World, capsys, tmp_path) -> None:
    # GIVEN an applied file, then an edited one
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    edited = BASE_FILE.replace('"GET /accounts", ', "").replace("bob: [reader]", "bob: [writer]")
    before = world.items()
    # WHEN applied with --dry-run in table output
    code, out, err = run(
        capsys, "roles", "apply", write_file(tmp_path, "b.yaml", edited), "--dry-run", output="table"
    )
    # THEN the diff names the changes and nothing is written
    assert code == 0
    assert "~ role reader (version 1)" in out
    assert '- "GET /accounts"' in out
    assert f"~ subject {ISS} bob (version 1)" in out
    assert "Plan: 0 to create, 2 to update, 0 to delete." in out
    assert "dry run" in err
    assert world.items() == before


def test_without_yes_outside_a_terminal_nothing_is_written(world: World, capsys, tmp_path) -> None:
    # GIVEN stdin is not a terminal (pytest) and no --yes
    path = write_file(tmp_path, "roles.yaml", BASE_FILE)
    # WHEN applied THEN exit 2 and nothing written
    code, _, err = run(capsys, "roles", "apply", path)
    assert code == 2
    assert "--yes" in err
    assert world.items() == {}


def test_prune_deletes_only_the_managed_kinds_and_keeps_revoked_subjects(
    world: World, capsys, tmp_path
) -> None:
    # GIVEN an applied file, a revoked subject, and a subject of another issuer
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    world.put_raw(
        {
            "pk": {"S": f"SUBJECT#{ISS}"},
            "sk": {"S": "mallory"},
            "roles": {"L": [{"S": "reader"}]},
            "not_before": {"N": "100"},
        }
    )
    world.put_raw(
        {"pk": {"S": "SUBJECT#https://other/"}, "sk": {"S": "x"}, "roles": {"L": [{"S": "reader"}]}}
    )
    smaller = f"""\
roles:
  reader:
    allow: ["GET /accounts"]
subjects:
  {ISS}:
    bob: [reader]
"""
    # WHEN applied with --prune
    code, out, _ = run(capsys, "roles", "apply", write_file(tmp_path, "b.yaml", smaller), "--yes", "--prune")
    # THEN the unnamed role and subject go, the revoked subject stays with no roles,
    # and group mappings and other issuers' subjects (not managed by this file) stay
    assert code == 0, out
    items = world.items()
    assert ("ROLE#writer", "ROLE") not in items
    assert (f"SUBJECT#{ISS}", "alice") not in items
    assert items[(f"SUBJECT#{ISS}", "mallory")]["roles"] == []
    assert items[(f"SUBJECT#{ISS}", "mallory")]["not_before"] == 100
    assert (f"GROUP#{ISS}", "auditors") in items
    assert ("SUBJECT#https://other/", "x") in items


def test_prune_refuses_a_file_whose_subjects_need_a_pruned_role(world: World, capsys, tmp_path) -> None:
    # GIVEN roles in the table that the new file drops but still names from a subject
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    text = f"roles:\n  reader: {{}}\nsubjects:\n  {ISS}:\n    alice: [writer]\n"
    # WHEN applied with --prune THEN it is a validation problem (exit 3)
    code, out, _ = run(capsys, "roles", "apply", write_file(tmp_path, "b.yaml", text), "--yes", "--prune")
    assert code == 3
    assert "--prune would delete it" in out["problems"][0]["message"]


def test_apply_keeps_not_before_of_subjects(world: World, capsys, tmp_path) -> None:
    # GIVEN a revoked subject
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    main(["--table", TABLE, "revoke", "--sub", "alice", "--iss", ISS, "--no-flush"])
    nb = world.items()[(f"SUBJECT#{ISS}", "alice")]["not_before"]
    # WHEN a file changes its roles
    run(
        capsys,
        "roles",
        "apply",
        write_file(tmp_path, "b.yaml", BASE_FILE.replace("alice: [writer]", "alice: [reader]")),
        "--yes",
    )
    # THEN roles change and not_before is untouched
    item = world.items()[(f"SUBJECT#{ISS}", "alice")]
    assert item["roles"] == ["reader"]
    assert item["not_before"] == nb


def test_two_people_applying_at_once_the_second_gets_a_conflict(
    world: World, capsys, tmp_path, monkeypatch
) -> None:
    # GIVEN a table at version 1 and two edited files
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    mine = write_file(tmp_path, "mine.yaml", BASE_FILE.replace("Read accounts", "Mine"))
    theirs = write_file(
        tmp_path,
        "theirs.yaml",
        BASE_FILE.replace("Read accounts", "Theirs").replace("bob: [reader]", "bob: [writer]"),
    )

    # WHEN my apply has read the table and waits at the prompt while they apply theirs
    def their_apply_meanwhile(question: str, assume_yes: bool) -> bool:
        if not assume_yes:  # my prompt: they apply now (with --yes, which asks nobody)
            assert main(["--table", TABLE, "--output", "json", "roles", "apply", theirs, "--yes"]) == 0
        return True

    monkeypatch.setattr(render, "confirm", their_apply_meanwhile)
    code, _, err = run(capsys, "roles", "apply", mine)
    # THEN mine fails with a conflict (exit 1), and their edit survives whole
    assert code == 1
    assert "conflict" in err and "role reader" in err
    items = world.items()
    assert items[("ROLE#reader", "ROLE")]["description"] == "Theirs"
    assert items[("ROLE#reader", "ROLE")]["version"] == 2
    assert items[(f"SUBJECT#{ISS}", "bob")]["roles"] == ["writer"]


def test_more_than_100_changes_are_written_in_chunks(world: World, capsys, tmp_path) -> None:
    # GIVEN a file of 150 roles
    text = "roles:\n" + "".join(f"  r{i}:\n    allow: ['GET /r/{i}']\n" for i in range(150))
    # WHEN applied
    code, out, _ = run(capsys, "roles", "apply", write_file(tmp_path, "many.yaml", text), "--yes")
    # THEN all are written (two transactions)
    assert code == 0
    assert out["applied"] is True and out["summary"]["create"] == 150
    assert len(world.items()) == 150


def console_items(world: World) -> None:
    world.put_raw({"pk": {"S": "ROLE#base"}, "sk": {"S": "ROLE"}, "allow": {"SS": ["GET /b"]}})
    world.put_raw(
        {
            "pk": {"S": "ROLE#typo"},
            "sk": {"S": "ROLE"},
            "allow": {"L": [{"S": "GTE /x"}]},
            "colour": {"S": "red"},
        }
    )
    world.put_raw({"pk": {"S": "ROLE#orphan"}, "sk": {"S": "ROLE"}, "inherit": {"L": [{"S": "ghost"}]}})
    world.put_raw({"pk": {"S": "ROLE#x"}, "sk": {"S": "ROLE"}, "inherit": {"L": [{"S": "y"}]}})
    world.put_raw({"pk": {"S": "ROLE#y"}, "sk": {"S": "ROLE"}, "inherit": {"L": [{"S": "x"}]}})
    world.put_raw({"pk": {"S": f"GROUP#{ISS}"}, "sk": {"S": "ops"}, "roles": {"L": [{"S": "nope"}]}})
    world.put_raw({"pk": {"S": f"SUBJECT#{ISS}"}, "sk": {"S": "dave"}, "not_before": {"S": "yesterday"}})
    world.put_raw({"pk": {"S": "THING#1"}, "sk": {"S": "x"}})


def test_lint_reports_console_mistakes(world: World, capsys) -> None:
    # GIVEN items written by hand with mistakes (and one fine string-set role)
    console_items(world)
    # WHEN linted
    code, out, _ = run(capsys, "roles", "lint")
    # THEN exit 3 and each mistake is named on its item
    assert code == 3
    found = {(p["item"], p["problem"].split(" (")[0]) for p in out["problems"]}
    assert any(i == "role typo" and "unknown method 'GTE'" in m for i, m in found)
    assert any(i == "role typo" and "unknown attribute(s) colour" in m for i, m in found)
    assert ("role orphan", "inherits missing role 'ghost'") in found
    assert any(i == "role x" and "inheritance cycle x → y → x" in m for i, m in found)
    assert (f"group {ISS} ops", "names missing role 'nope'") in found
    assert any(i == f"subject {ISS} dave" and "not_before" in m for i, m in found)
    assert any(i == "item THING#1 / x" for i, _ in found)
    assert not any(i == "role base" for i, _ in found)


def test_lint_of_a_clean_table_exits_0(world: World, capsys, tmp_path) -> None:
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    code, out, _ = run(capsys, "roles", "lint")
    assert code == 0
    assert out["problems"] == []


def test_the_change_log_item_is_no_problem_and_no_role_file_content(world: World, capsys, tmp_path) -> None:
    # GIVEN a table with the role-events function's change log item next to the roles
    from edgeauth.adapters.change_log import ChangeLogWriter

    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    ChangeLogWriter(world.table, world.ddb).publish([("ROLE#reader", "ROLE")])
    log_key = (C.CHANGES_PK, C.CHANGES_SK)
    # THEN lint finds nothing wrong, an apply with --prune leaves it alone, and export omits it
    code, out, _ = run(capsys, "roles", "lint")
    assert (code, out["problems"]) == (0, [])
    assert (
        run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--prune", "--yes")[0] == 0
    )
    assert log_key in world.items()
    code, out, _ = run(capsys, "roles", "export")
    assert code == 0 and C.CHANGES_PK not in str(out)


def test_export_of_malformed_role_keeps_it_malformed_so_apply_refuses(world: World, capsys, tmp_path) -> None:
    # GIVEN a role with a malformed deny (which the authorizer treats as deny-everything)
    world.put_raw(
        {
            "pk": {"S": "ROLE#r"},
            "sk": {"S": "ROLE"},
            "allow": {"L": [{"S": "GET /a"}]},
            "deny": {"L": [{"S": "NUKE /a"}]},
        }
    )
    # WHEN exported and applied again
    exported = tmp_path / "e.yaml"
    run(capsys, "roles", "export", "--file", str(exported))
    code, out, _ = run(capsys, "roles", "apply", str(exported), "--yes")
    # THEN apply refuses: the bad deny was not silently dropped (which would widen access)
    assert code == 3
    assert "NUKE" in out["problems"][0]["message"]


def test_list_and_show(world: World, capsys, tmp_path) -> None:
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    code, rows, _ = run(capsys, "roles", "list")
    assert code == 0
    assert [r["name"] for r in rows] == ["reader", "writer"]
    code, shown, _ = run(capsys, "roles", "show", "reader")
    assert code == 0
    assert shown["inherited_by"] == ["writer"]
    assert f"group {ISS} auditors" in shown["held_by"]
    code, text, _ = run(capsys, "roles", "list", output="table")
    assert text.splitlines()[0].split()[:3] == ["NAME", "ALLOW", "DENY"]
    code, _, err = run(capsys, "roles", "show", "nobody")
    assert code == 1 and "no role" in err


def test_delete_refuses_a_role_in_use_then_deletes_with_force(world: World, capsys, tmp_path) -> None:
    run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")
    # WHEN deleting a role others inherit THEN refused with exit 3
    code, _, err = run(capsys, "roles", "delete", "reader", "--yes")
    assert code == 3
    assert "role writer inherits it" in err
    assert ("ROLE#reader", "ROLE") in world.items()
    # WHEN forced THEN deleted
    code, _, _ = run(capsys, "roles", "delete", "reader", "--yes", "--force")
    assert code == 0
    assert ("ROLE#reader", "ROLE") not in world.items()


def test_apply_normalises_a_console_string_set_only_when_content_changes(
    world: World, capsys, tmp_path
) -> None:
    # GIVEN a console role with allow as a string set
    world.put_raw({"pk": {"S": "ROLE#base"}, "sk": {"S": "ROLE"}, "allow": {"SS": ["GET /b", "GET /a"]}})
    same = "roles:\n  base:\n    allow: ['GET /a', 'GET /b']\n    deny: []\n    inherit: []\n    disabled: false\n"
    code, out, _ = run(capsys, "roles", "apply", write_file(tmp_path, "s.yaml", same), "--yes")
    # THEN the set equals the sorted list (no write) ...
    assert code == 0 and out["changes"] == []
    # ... and a real change writes a list, conditional on 'no version' (console item)
    code, out, _ = run(
        capsys,
        "roles",
        "apply",
        write_file(tmp_path, "t.yaml", same.replace("'GET /b'", "'GET /c'")),
        "--yes",
    )
    assert code == 0
    item: dict[str, Any] = world.items()[("ROLE#base", "ROLE")]
    assert item["allow"] == ["GET /a", "GET /c"]
    assert item[C.ATTR_VERSION] == 1


@pytest.mark.parametrize(
    "argv", [["roles", "--help"], ["roles", "apply", "--help"], ["roles", "lint", "--help"]]
)
def test_help_has_examples(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_a_comma_in_a_role_name_is_refused_by_apply_and_reported_by_lint(
    world: World, capsys, tmp_path
) -> None:
    # GIVEN a file naming a role with a comma as a role, a parent and a subject's role (the answer's
    # ``roles`` context joins role names with commas: "viewer,admin" would read as two roles)
    text = """\
roles:
  "viewer,admin":
    allow: ["GET /accounts"]
  reader:
    inherit: ["viewer,admin"]
subjects:
  https://login.example.com/:
    alice: ["viewer,admin"]
"""
    path = write_file(tmp_path, "comma.yaml", text)
    # WHEN it is applied THEN each of the three places is refused, naming the comma; nothing written
    code, out, _ = run(capsys, "roles", "apply", path, "--yes")
    assert code == 3
    where = {p["where"].split(": ", 1)[0]: p["message"] for p in out["problems"]}
    assert "invalid role name 'viewer,admin'" in where[f"{path}:2:3"] and "no ','" in where[f"{path}:2:3"]
    assert "invalid role name 'viewer,admin'" in where[f"{path}:5:15"]
    assert "invalid role name 'viewer,admin'" in where[f"{path}:8:13"]
    assert world.items() == {}
    # GIVEN the same written by hand in the console WHEN linted THEN each item is reported
    world.put_raw({"pk": {"S": "ROLE#viewer,admin"}, "sk": {"S": "ROLE"}, "allow": {"L": [{"S": "GET /a"}]}})
    world.put_raw(
        {"pk": {"S": f"SUBJECT#{ISS}"}, "sk": {"S": "alice"}, "roles": {"L": [{"S": "viewer,admin"}]}}
    )
    code, out, _ = run(capsys, "roles", "lint")
    assert code == 3
    found = {(p["item"], p["problem"]) for p in out["problems"]}
    assert any(i == "role viewer,admin" and "invalid role name 'viewer,admin'" in m for i, m in found)
    assert any(i == f"subject {ISS} alice" and "invalid role name 'viewer,admin'" in m for i, m in found)


def test_a_glob_in_a_permission_is_refused_by_apply_and_reported_by_lint(
    world: World, capsys, tmp_path
) -> None:
    # GIVEN a file with "GET /accounts/*" (which would grant nothing under /accounts/{id})
    path = write_file(tmp_path, "glob.yaml", 'roles:\n  reader:\n    allow: ["GET /accounts/*"]\n')
    # WHEN applied THEN it is refused at its place, with the hint; nothing is written
    code, out, _ = run(capsys, "roles", "apply", path, "--yes")
    assert code == 3
    (problem,) = out["problems"]
    assert problem["where"] == f"{path}:3:13: roles.reader.allow[0]"
    assert "looks like a glob" in problem["message"] and "{id}" in problem["message"]
    assert "{proxy+}" in problem["message"]
    assert world.items() == {}
    # GIVEN the same written in the console WHEN linted THEN the item is reported
    world.put_raw(
        {"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}, "allow": {"L": [{"S": "GET /accounts/*"}]}}
    )
    code, out, _ = run(capsys, "roles", "lint")
    assert code == 3
    assert any(p["item"] == "role reader" and "looks like a glob" in p["problem"] for p in out["problems"])
