"""``edgeauth subjects`` and ``edgeauth groups`` against a moto role table."""

from __future__ import annotations

from tests.functional.test_cli_fixtures import BASE_FILE, ISS, World, aws, run, world, write_file

__all__ = ["aws", "world"]


def _seed(capsys, tmp_path) -> None:
    assert run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")[0] == 0


def test_grant_adds_roles_conditionally_and_show_traces_sources(
    world: World, capsys, tmp_path, monkeypatch
) -> None:
    # GIVEN roles and a subject holding 'reader'
    _seed(capsys, tmp_path)
    monkeypatch.setenv("EDGEAUTH_ISSUER", ISS)
    # WHEN granting 'writer' to bob (issuer from the environment)
    code, out, _ = run(capsys, "subjects", "grant", "bob", "writer")
    # THEN bob holds both, version bumped
    assert code == 0
    assert out["roles"] == ["reader", "writer"]
    assert out["version"] == 2
    # AND show lists where each effective role comes from
    code, shown, _ = run(capsys, "subjects", "show", "bob", "--groups", "auditors")
    assert code == 0
    sources = {(r["role"], r["source"]) for r in shown["effective_roles"]}
    assert ("writer", "subject") in sources
    assert ("reader", "group:auditors") in sources


def test_grant_of_a_missing_role_is_refused(world: World, capsys, tmp_path) -> None:
    _seed(capsys, tmp_path)
    code, _, err = run(capsys, "subjects", "grant", "bob", "admin", "--iss", ISS)
    assert code == 3
    assert "no such role: admin" in err
    assert world.items()[(f"SUBJECT#{ISS}", "bob")]["roles"] == ["reader"]


def test_subject_revoke_removes_roles_and_deletes_an_empty_item(world: World, capsys, tmp_path) -> None:
    _seed(capsys, tmp_path)
    code, out, _ = run(capsys, "subjects", "revoke", "bob", "reader", "--iss", ISS)
    assert code == 0
    assert out["exists"] is False
    assert (f"SUBJECT#{ISS}", "bob") not in world.items()


def test_missing_issuer_is_a_usage_error(world: World, capsys) -> None:
    code, _, err = run(capsys, "subjects", "grant", "bob", "reader")
    assert code == 2
    assert "EDGEAUTH_ISSUER" in err


def test_groups_map_unmap_list(world: World, capsys, tmp_path) -> None:
    _seed(capsys, tmp_path)
    # WHEN mapping a new group THEN the item is created
    code, out, _ = run(capsys, "groups", "map", "devs", "writer", "reader", "--iss", ISS)
    assert code == 0 and out["roles"] == ["writer", "reader"] and out["version"] == 1
    # WHEN unmapping one role THEN the other stays
    code, out, _ = run(capsys, "groups", "unmap", "devs", "reader", "--iss", ISS)
    assert code == 0 and out["roles"] == ["writer"]
    # WHEN listing THEN both mappings of the issuer show
    code, rows, _ = run(capsys, "groups", "list", "--iss", ISS)
    assert [(r["group"], r["roles"]) for r in rows] == [("auditors", ["reader"]), ("devs", ["writer"])]
    # WHEN unmapping the whole group with --yes THEN the item is gone
    code, _, _ = run(capsys, "groups", "unmap", "devs", "--iss", ISS, "--yes")
    assert code == 0
    assert (f"GROUP#{ISS}", "devs") not in world.items()


def test_map_over_a_concurrent_console_edit_is_a_conflict(
    world: World, capsys, tmp_path, monkeypatch
) -> None:
    # GIVEN the mapping changes between the CLI's read and its write
    _seed(capsys, tmp_path)
    from edgeauth_cli.commands import subjects  # the read of a map (shared with grant: add_roles)

    real = subjects.read_item

    def read_then_someone_edits(client, table, key):
        item = real(client, table, key)
        world.put_raw(
            {
                "pk": {"S": key[0]},
                "sk": {"S": key[1]},
                "roles": {"L": [{"S": "writer"}]},
                "version": {"N": "7"},
            }
        )
        return item

    monkeypatch.setattr(subjects, "read_item", read_then_someone_edits)
    # WHEN mapping
    code, _, err = run(capsys, "groups", "map", "auditors", "writer", "--iss", ISS)
    # THEN conflict, and the concurrent edit survives
    assert code == 1 and "conflict" in err
    assert world.items()[(f"GROUP#{ISS}", "auditors")]["version"] == 7


def test_a_rewrite_keeps_a_role_name_that_is_no_longer_valid(world: World, capsys, tmp_path) -> None:
    # GIVEN a subject and a group whose items, written before commas were refused, name 'old,deny'
    # (the authorizer still follows it for its denies)
    _seed(capsys, tmp_path)
    for pk, sk in ((f"SUBJECT#{ISS}", "carol"), (f"GROUP#{ISS}", "ops")):
        roles = {"L": [{"S": "reader"}, {"S": "old,deny"}, {"N": "7"}]}
        world.put_raw({"pk": {"S": pk}, "sk": {"S": sk}, "roles": roles})
    # WHEN an unrelated role is granted, mapped, or taken away
    assert run(capsys, "subjects", "grant", "carol", "writer", "--iss", ISS)[0] == 0
    assert run(capsys, "groups", "map", "ops", "writer", "--iss", ISS)[0] == 0
    assert run(capsys, "groups", "unmap", "ops", "reader", "--iss", ISS)[0] == 0
    # THEN the old name stays on both items (only what names no item, the number, is dropped)
    items = world.items()
    assert items[(f"SUBJECT#{ISS}", "carol")]["roles"] == ["reader", "old,deny", "writer"]
    assert items[(f"GROUP#{ISS}", "ops")]["roles"] == ["old,deny", "writer"]
