"""The CLI and provider presets: ``--issuer-name``, subjects with ``:``, ``/`` and ``#``, claim
mappings, and ``explain --token`` showing the issuer's expanded settings and each check's outcome.

The configured issuers come from ``$EDGEAUTH_ISSUERS`` or from the ``--stack``'s template (moto
CloudFormation here), as the authorizer's own parser expands them.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest

from edgeauth import constants as C
from tests.functional.test_cli_fixtures import BASE_FILE, REGION, World, aws, run, world, write_file
from tests.support import provider_tokens as P

__all__ = ["aws", "world"]

ISSUERS = [
    {"provider": "cognito", "user_pool_id": P.POOL, "client_ids": [P.COGNITO_CLIENT], "token_use": "access"},
    {"provider": "github-actions", "audiences": [P.GITHUB_AUD], "owners": ["octo-org"]},
    {"provider": "kubernetes", "issuer": P.K8S_ISS, "audiences": [P.K8S_AUD], "name": "eks-prod"},
]
GITHUB_SUB = "repo:octo-org/octo-repo:ref:refs/heads/main"
K8S_SUB = "system:serviceaccount:payments:ledger"


@pytest.fixture
def seeded(world: World, capsys, tmp_path, monkeypatch) -> World:
    monkeypatch.setenv(C.ENV_ISSUERS, json.dumps(ISSUERS))
    assert run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")[0] == 0
    return world


def unsigned(shaped: tuple[dict[str, Any], dict[str, Any]]) -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header, claims = shaped
    return f"{b64({'alg': 'RS256', **header})}.{b64(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("name", "sub", "issuer"),
    [
        ("github-actions", GITHUB_SUB, P.GITHUB_ISS),
        ("github-actions", "repo:octo-org/octo-repo:environment:prod", P.GITHUB_ISS),
        ("eks-prod", K8S_SUB, P.K8S_ISS),
        ("cognito", "tenant#7|user/1", P.COGNITO_ISS),
    ],
)
def test_subjects_grant_by_issuer_name_keeps_the_subject_exactly(
    seeded: World, capsys, name: str, sub: str, issuer: str
) -> None:
    # WHEN granting by the issuer's short name a subject with ':', '/' and '#'
    code, out, err = run(capsys, "subjects", "grant", sub, "reader", "--issuer-name", name)
    # THEN the item is keyed by the full issuer and the subject byte for byte
    assert code == 0, err
    assert (out["issuer"], out["sub"], out["roles"]) == (issuer, sub, ["reader"])
    assert seeded.items()[(f"SUBJECT#{issuer}", sub)]["roles"] == ["reader"]
    # AND show and revoke find it the same way
    code, shown, _ = run(capsys, "subjects", "show", sub, "--issuer-name", name)
    assert code == 0 and [r["role"] for r in shown["effective_roles"]] == ["reader"]
    code, out, _ = run(capsys, "subjects", "revoke", sub, "reader", "--issuer-name", name)
    assert code == 0 and (f"SUBJECT#{issuer}", sub) not in seeded.items()


def test_groups_map_by_issuer_name_for_a_claim_mapping(seeded: World, capsys) -> None:
    code, out, err = run(
        capsys, "groups", "map", "repository=octo-org/octo-repo", "writer", "--issuer-name", "github-actions"
    )
    assert code == 0, err
    assert (out["issuer"], out["group"], out["roles"]) == (
        P.GITHUB_ISS,
        "repository=octo-org/octo-repo",
        ["writer"],
    )
    assert seeded.items()[(f"GROUP#{P.GITHUB_ISS}", "repository=octo-org/octo-repo")]["roles"] == ["writer"]
    code, rows, _ = run(capsys, "groups", "list", "--issuer-name", "github-actions")
    assert [(r["issuer"], r["group"]) for r in rows] == [(P.GITHUB_ISS, "repository=octo-org/octo-repo")]
    code, _, _ = run(
        capsys, "groups", "unmap", "repository=octo-org/octo-repo", "--issuer-name", "github-actions", "--yes"
    )
    assert code == 0 and (f"GROUP#{P.GITHUB_ISS}", "repository=octo-org/octo-repo") not in seeded.items()


def test_an_unknown_issuer_name_lists_the_names(seeded: World, capsys) -> None:
    code, _, err = run(capsys, "subjects", "grant", "bob", "reader", "--issuer-name", "okta")
    assert code == 2 and "'okta'" in err and "cognito, eks-prod, github-actions" in err
    assert not any(k[0].startswith("SUBJECT#") and k[1] == "bob" and "okta" in k[0] for k in seeded.items())


def test_iss_and_issuer_name_together_are_a_usage_error(seeded: World, capsys) -> None:
    code, _, err = run(
        capsys, "groups", "map", "devs", "reader", "--issuer-name", "cognito", "--iss", P.COGNITO_ISS
    )
    assert code == 2 and "not both" in err


def test_issuer_name_without_a_source_of_issuers_says_where_they_come_from(
    world: World, capsys, monkeypatch
) -> None:
    monkeypatch.delenv(C.ENV_ISSUERS, raising=False)
    code, _, err = run(capsys, "subjects", "grant", "bob", "reader", "--issuer-name", "cognito")
    assert code == 2 and "--stack" in err and C.ENV_ISSUERS in err


def test_issuer_name_from_the_stacks_template(world: World, capsys, monkeypatch) -> None:
    # GIVEN a stack whose authorizer function carries the issuers (as the CDK app deploys it)
    monkeypatch.delenv(C.ENV_ISSUERS, raising=False)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(
        RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    template = {
        "Resources": {
            "Authorizer": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "authorizer.handler.handler",
                    "Runtime": "python3.12",
                    "Role": "arn:aws:iam::123456789012:role/fn",
                    "Code": {"ZipFile": "def handler(e, c): pass"},
                    "Environment": {"Variables": {C.ENV_ISSUERS: json.dumps(ISSUERS), C.ENV_ROLE_TABLE: "x"}},
                },
            }
        },
        "Outputs": {"RoleTableName": {"Value": world.table}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="EdgeAuth-test", TemplateBody=json.dumps(template)
    )
    assert run(capsys, "roles", "apply", write_file_base(), "--yes")[0] == 0
    # WHEN granting by name against the stack
    code, out, err = run(
        capsys,
        "--stack",
        "EdgeAuth-test",
        "subjects",
        "grant",
        K8S_SUB,
        "reader",
        "--issuer-name",
        "eks-prod",
    )
    # THEN the name resolves through the template's issuers
    assert code == 0, err
    assert out["issuer"] == P.K8S_ISS and out["sub"] == K8S_SUB


def write_file_base() -> str:
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "base.yaml"
    path.write_text(BASE_FILE)
    return str(path)


def test_explain_token_shows_the_expanded_settings_and_each_preset_check(seeded: World, capsys) -> None:
    now = int(time.time())
    seeded.put_raw(
        {"pk": {"S": f"GROUP#{P.COGNITO_ISS}"}, "sk": {"S": "tellers"}, "roles": {"L": [{"S": "reader"}]}}
    )
    # WHEN explaining a Cognito access token of an allowed client
    token = unsigned(P.cognito_access(now, groups=["tellers"]))
    code, out, err = run(capsys, "explain", "--token", token, "--route", "/accounts", "GET", "/accounts")
    # THEN the issuer's settings are shown expanded, every check passed, groups read from cognito:groups
    assert code == 0, err
    assert out["issuer"]["issuer"] == P.COGNITO_ISS and out["issuer"]["client_ids"] == [P.COGNITO_CLIENT]
    assert {c["check"]: c["result"] for c in out["checks"]} == {
        "alg": "passed",
        "token_use one of access (provider cognito)": "passed",
        "client (client_id) in client_ids": "passed",
        "groups and mapped claims": "passed",
    }
    assert out["principal"]["groups"] == ["tellers"] and out["principal"]["client_id"] == P.COGNITO_CLIENT
    assert out["decision"]["effect"] == "Allow"
    assert token.split(".")[2] not in json.dumps(out)


def test_explain_token_says_which_preset_check_refuses_it(seeded: World, capsys) -> None:
    now = int(time.time())
    token = unsigned(P.cognito_id(now, groups=["tellers"]))
    code, out, _ = run(capsys, "explain", "--token", token, "--route", "/accounts", "GET", "/accounts")
    assert code == 0
    failed = [c for c in out["checks"] if c["result"] == "failed"]
    assert [c["check"] for c in failed] == [
        "token_use one of access (provider cognito)",
        "client (client_id) in client_ids",
    ]
    assert failed[0]["detail"].startswith("wrong_token_type: token_use")
    assert out["decision"] == {"effect": "Unauthorized", "reason": "wrong_token_type", "rule": None}


def test_explain_token_of_github_actions_uses_the_claim_mappings(seeded: World, capsys) -> None:
    seeded.put_raw(
        {
            "pk": {"S": f"GROUP#{P.GITHUB_ISS}"},
            "sk": {"S": "repository=octo-org/octo-repo"},
            "roles": {"L": [{"S": "writer"}]},
        }
    )
    token = unsigned(P.github_actions(int(time.time())))
    code, out, err = run(
        capsys, "explain", "--token", token, "--route", "/accounts/{id}", "PUT", "/accounts/1"
    )
    assert code == 0, err
    assert out["principal"]["sub"] == GITHUB_SUB
    assert "repository=octo-org/octo-repo" in out["principal"]["groups"]
    assert ("writer", "group:repository=octo-org/octo-repo") in {
        (r["role"], r["source"]) for r in out["roles"]
    }
    assert out["decision"]["effect"] == "Allow"
    # a repository of another owner is refused by the preset
    token = unsigned(P.github_actions(int(time.time()), repository="evil/octo-repo"))
    code, out, _ = run(capsys, "explain", "--token", token, "--route", "/accounts/{id}", "PUT", "/accounts/1")
    assert out["decision"]["reason"] == "claim_not_allowed"


def test_explain_by_issuer_name_and_a_subject_with_colons(seeded: World, capsys) -> None:
    run(capsys, "subjects", "grant", K8S_SUB, "reader", "--issuer-name", "eks-prod")
    code, out, err = run(
        capsys,
        "explain",
        "--issuer-name",
        "eks-prod",
        "--sub",
        K8S_SUB,
        "--route",
        "/accounts",
        "GET",
        "/accounts",
    )
    assert code == 0, err
    assert out["principal"]["iss"] == P.K8S_ISS and out["principal"]["sub"] == K8S_SUB
    assert out["decision"]["effect"] == "Allow"


def test_explain_table_output_lists_the_checks(seeded: World, capsys) -> None:
    token = unsigned(P.cognito_id(int(time.time())))
    code, out, _ = run(
        capsys, "explain", "--token", token, "--route", "/accounts", "GET", "/accounts", output="table"
    )
    assert code == 0
    assert "provider cognito" in out and "check:      failed  token_use one of access" in out


def test_role_file_round_trips_subjects_and_claim_mappings_with_colons_slashes_and_hashes(
    seeded: World, capsys, tmp_path
) -> None:
    # GIVEN a role file naming provider subjects and a claim mapping (quoted YAML keys)
    subjects = (
        f'subjects:\n  "{P.GITHUB_ISS}":\n    "{GITHUB_SUB}": [reader]\n'
        f'  "{P.K8S_ISS}":\n    "{K8S_SUB}": [reader]\n    "tenant#7|user/1": [writer]\n'
    )
    mapping = f'  "{P.GITHUB_ISS}":\n    "repository=octo-org/octo-repo": [writer]\n'
    text = BASE_FILE.replace("subjects:\n", subjects) + mapping  # groups is the file's last section
    code, _, err = run(capsys, "roles", "apply", write_file(tmp_path, "p.yaml", text), "--yes")
    assert code == 0, err
    items = seeded.items()
    assert items[(f"SUBJECT#{P.GITHUB_ISS}", GITHUB_SUB)]["roles"] == ["reader"]
    assert items[(f"SUBJECT#{P.K8S_ISS}", "tenant#7|user/1")]["roles"] == ["writer"]
    assert items[(f"GROUP#{P.GITHUB_ISS}", "repository=octo-org/octo-repo")]["roles"] == ["writer"]
    # WHEN exported and applied again THEN nothing changes (the keys survived YAML both ways)
    code, exported, _ = run(capsys, "roles", "export", "--format", "yaml", output="table")
    assert code == 0
    code, _, err = run(capsys, "roles", "apply", write_file(tmp_path, "e.yaml", exported), "--yes", "--prune")
    assert code == 0, err
    assert seeded.items().keys() == items.keys()
