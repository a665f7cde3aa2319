"""``edgeauth explain`` and ``edgeauth revoke`` (moto; the cache flush is intercepted, moto lacks it)."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from edgeauth_cli.commands import revoke
from edgeauth_cli.context import CliContext
from tests.functional.test_cli_fixtures import BASE_FILE, ISS, REGION, World, aws, run, world, write_file

__all__ = ["aws", "world"]


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def token(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'RS256', 'kid': 'k1'})}.{_b64(claims)}.c2lnbmF0dXJlLXNlY3JldA"


@pytest.fixture
def seeded(world: World, capsys, tmp_path) -> World:
    assert run(capsys, "roles", "apply", write_file(tmp_path, "a.yaml", BASE_FILE), "--yes")[0] == 0
    return world


@pytest.fixture
def api(world: World) -> str:
    apigw = boto3.client("apigateway", region_name=REGION)
    api_id = apigw.create_rest_api(name="edgeauth")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    accounts = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="accounts")["id"]
    one = apigw.create_resource(restApiId=api_id, parentId=accounts, pathPart="{id}")["id"]
    for res, method in ((accounts, "GET"), (accounts, "POST"), (one, "GET"), (one, "DELETE")):
        apigw.put_method(restApiId=api_id, resourceId=res, httpMethod=method, authorizationType="CUSTOM")
    return api_id


def test_explain_from_the_api_traces_roles_rule_and_policy(seeded: World, api: str, capsys) -> None:
    # WHEN explaining alice's GET of one account against the API's resources
    code, out, _ = run(
        capsys,
        "explain",
        "--iss",
        ISS,
        "--sub",
        "alice",
        "--rest-api-id",
        api,
        "--stage",
        "prod",
        "GET",
        "/accounts/42",
    )
    # THEN the template, inherited role, deciding rule and the exact route policy are shown
    assert code == 0
    assert out["template"] == "/accounts/{id}"
    assert out["path_parameters"] == {"id": "42"}
    assert {(r["role"], r["source"]) for r in out["roles"]} == {
        ("writer", "subject"),
        ("reader", "inherited:writer"),
    }
    assert out["decision"] == {
        "effect": "Allow",
        "reason": "allowed",
        "rule": "reader:allow:GET /accounts/{id}",
    }
    statement = out["policy"]["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == f"arn:aws:execute-api:{REGION}:123456789012:{api}/prod/GET/accounts/*"
    assert out["policy"]["context"]["roles"] == "reader,writer"


def test_explain_deny_names_the_deny_rule(seeded: World, capsys) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        "--iss",
        ISS,
        "--sub",
        "alice",
        "--route",
        "/accounts/{id}",
        "DELETE",
        "/accounts/42",
    )
    assert code == 0
    assert out["decision"]["effect"] == "Deny"
    assert out["decision"]["rule"] == "writer:deny:DELETE /accounts/{id+}"
    assert out["policy"]["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_explain_with_a_token_decodes_without_verifying_and_never_prints_it(seeded: World, capsys) -> None:
    # GIVEN a token of a group member (signature is garbage: explain does not verify)
    tok = token({"iss": ISS, "sub": "zed", "groups": ["auditors"], "client_id": "mobile", "iat": 1})
    # WHEN explained, in table output
    code, text, err = run(
        capsys, "explain", "--token", tok, "--route", "/accounts", "GET", "/accounts", output="table"
    )
    # THEN the group's role allows, the output says the token was not verified, and no token part is printed
    assert code == 0
    assert "WITHOUT verifying" in text
    assert "group:auditors" in text
    assert "decision:   Allow" in text
    assert tok not in text + err
    assert tok.split(".")[2] not in text + err
    assert tok.split(".")[1] not in text + err


def test_explain_of_a_revoked_token_is_unauthorized(seeded: World, capsys) -> None:
    run(capsys, "revoke", "--sub", "alice", "--iss", ISS, "--no-flush")
    tok = token({"iss": ISS, "sub": "alice", "iat": 1000})
    code, out, _ = run(capsys, "explain", "--token", tok, "--route", "/accounts", "GET", "/accounts")
    assert code == 0
    assert out["decision"]["effect"] == "Unauthorized"
    assert "policy" not in out


def test_explain_of_an_unknown_path_exits_1(seeded: World, capsys) -> None:
    code, _, err = run(
        capsys, "explain", "--iss", ISS, "--sub", "alice", "--route", "/accounts", "GET", "/nope"
    )
    assert code == 1
    assert "no resource" in err


def test_explain_rejects_a_non_jwt_without_echoing_it(seeded: World, capsys) -> None:
    code, _, err = run(capsys, "explain", "--token", "secret-opaque-value", "--route", "/a", "GET", "/a")
    assert code == 2
    assert "secret-opaque-value" not in err


@pytest.fixture
def flush_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Intercept FlushStageAuthorizersCache on every apigateway client the CLI builds."""
    state: dict[str, Any] = {"calls": [], "fail": 0}
    real_client = CliContext.client

    def client(self: CliContext, service: str) -> Any:
        c = real_client(self, service)
        if service == "apigateway":

            def intercept(params: dict[str, Any], **_: Any) -> Any:
                state["calls"].append(params)
                if state["fail"]:
                    state["fail"] -= 1
                    return SimpleNamespace(status_code=503), {
                        "Error": {"Code": "ServiceUnavailableException", "Message": "down"}
                    }
                return SimpleNamespace(status_code=202), {}

            c.meta.events.register("before-call.api-gateway.FlushStageAuthorizersCache", intercept)
        return c

    monkeypatch.setattr(CliContext, "client", client)
    monkeypatch.setattr(revoke, "sleep", lambda s: None)
    return state


def test_revoke_sets_not_before_and_flushes(seeded: World, capsys, flush_calls, monkeypatch) -> None:
    monkeypatch.setattr(revoke, "clock", lambda: 1_700_000_000.0)
    # WHEN revoking a subject that only has group roles (no subject item yet)
    code, out, _ = run(
        capsys, "revoke", "--sub", "zed", "--iss", ISS, "--rest-api-id", "a1", "--stage", "prod"
    )
    # THEN the item is created with no roles and not_before = now, and the cache is flushed once
    assert code == 0
    assert out["flushed"] is True
    item = seeded.items()[(f"SUBJECT#{ISS}", "zed")]
    assert item["not_before"] == 1_700_000_000 and item["roles"] == []
    assert len(flush_calls["calls"]) == 1
    # AND revoking alice keeps her roles
    run(capsys, "revoke", "--sub", "alice", "--iss", ISS, "--rest-api-id", "a1", "--stage", "prod")
    assert seeded.items()[(f"SUBJECT#{ISS}", "alice")]["roles"] == ["writer"]


def test_revoke_retries_a_failing_flush_then_succeeds(seeded: World, capsys, flush_calls) -> None:
    flush_calls["fail"] = 2
    code, out, _ = run(
        capsys, "revoke", "--sub", "alice", "--iss", ISS, "--rest-api-id", "a1", "--stage", "prod"
    )
    assert code == 0 and out["flushed"] is True
    assert len(flush_calls["calls"]) == 3


def test_revoke_reports_a_flush_that_keeps_failing(seeded: World, capsys, flush_calls) -> None:
    flush_calls["fail"] = 100
    code, out, err = run(
        capsys, "revoke", "--sub", "alice", "--iss", ISS, "--rest-api-id", "a1", "--stage", "prod"
    )
    # THEN exit 1, bounded attempts, the revocation itself is written, and the message says so
    assert code == 1
    assert out["flushed"] is False
    assert len(flush_calls["calls"]) == revoke.FLUSH_ATTEMPTS
    assert "revocation is written" in err and "NOT flushed" in err
    assert "not_before" in seeded.items()[(f"SUBJECT#{ISS}", "alice")]


def test_revoke_without_api_or_stage_reports_no_flush(seeded: World, capsys) -> None:
    code, _, err = run(capsys, "revoke", "--sub", "alice", "--iss", ISS)
    assert code == 1
    assert "NOT flushed" in err


def _role(world: World, name: str, **lists: Any) -> None:
    item: dict[str, Any] = {"pk": {"S": f"ROLE#{name}"}, "sk": {"S": "ROLE"}}
    for attr, value in lists.items():
        item[attr] = {"BOOL": value} if isinstance(value, bool) else {"L": [{"S": v} for v in value]}
    world.put_raw(item)


def test_explain_shows_a_disabled_roles_inherited_deny_and_a_chain_past_the_limit(
    world: World, capsys
) -> None:
    # GIVEN dave holds editor (allows DELETE) and a disabled contractor, which inherits a guard
    # denying DELETE
    _role(world, "editor", allow=["DELETE /accounts/{id}", "GET /accounts/{id}"])
    _role(world, "contractor", inherit=["guard"], disabled=True)
    _role(world, "guard", deny=["DELETE /accounts/{id}"])
    world.put_raw(
        {
            "pk": {"S": f"SUBJECT#{ISS}"},
            "sk": {"S": "dave"},
            "roles": {"L": [{"S": "editor"}, {"S": "contractor"}]},
        }
    )
    argv = ("explain", "--iss", ISS, "--sub", "dave", "--route", "/accounts/{id}")
    # WHEN explaining DELETE THEN the guard's deny decides, and each role says whether it counts
    code, out, _ = run(capsys, *argv, "DELETE", "/accounts/42")
    assert code == 0
    assert out["decision"] == {
        "effect": "Deny",
        "reason": "explicit_deny",
        "rule": "guard:deny:DELETE /accounts/{id}",
    }
    status = {r["role"]: r["status"] for r in out["roles"]}
    assert status["editor"] == "grants"
    assert status["contractor"].startswith("disabled (grants nothing; its denies apply)")
    assert status["guard"].startswith("inherited only through a disabled or malformed role")
    # GIVEN the guard moved past the depth limit (contractor -> c1 -> ... -> c8 -> guard)
    _role(world, "contractor", inherit=["c1"], disabled=True)
    for k in range(1, 9):
        _role(world, f"c{k}", inherit=[f"c{k + 1}" if k < 8 else "guard"])
    # WHEN explaining a route the editor allows THEN it is denied, and the trace says why
    code, out, _ = run(capsys, *argv, "GET", "/accounts/42")
    assert code == 0
    assert out["decision"] == {"effect": "Deny", "reason": "inheritance_too_deep", "rule": "c8:inherit:guard"}
    assert out["policy"]["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    status = {r["role"]: r["status"] for r in out["roles"]}
    assert status["guard"].startswith("beyond the inheritance depth limit")
    assert any("inheritance_too_deep" in n for n in out["notes"])
    assert any("deeper than 8 levels" in p for p in out["problems"])
    # AND the table output names the reason and the rule
    code, text, _ = run(capsys, *argv, "GET", "/accounts/42", output="table")
    assert "decision:   Deny (reason: inheritance_too_deep; rule: c8:inherit:guard)" in text


def stack_with_outputs(**outputs: str) -> str:
    """A moto CloudFormation stack whose outputs are ``outputs`` (what ``--stack`` reads)."""
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="EdgeAuth-dev", TemplateBody=json.dumps(template)
    )
    return "EdgeAuth-dev"


@pytest.mark.parametrize(
    ("authorizer_ttl", "effective_by", "within"),
    [
        # up to 10 s for the stream and the role-events function + the containers' look every 2 s
        # + 1 s before its second flush
        ("300", "2023-11-14T22:13:33Z", 13),
        # no gateway cache: the containers alone (the stream, then their look)
        ("0", "2023-11-14T22:13:32Z", 12),
    ],
)
def test_revoke_says_when_it_is_effective_everywhere_from_the_stack_settings(
    seeded: World, capsys, flush_calls, monkeypatch, authorizer_ttl: str, effective_by: str, within: int
) -> None:
    # GIVEN a stack whose containers look at the change log every 2 s (role cache 30 s), and a
    # revocation written at 2023-11-14T22:13:20Z
    stack = stack_with_outputs(
        RestApiId="a1",
        StageName="prod",
        RoleCacheTtl="30",
        AuthorizerCacheTtl=authorizer_ttl,
        RevocationCheckSeconds="2",
    )
    monkeypatch.setattr(revoke, "clock", lambda: 1_700_000_000.0)
    # WHEN revoking
    code, out, err = run(capsys, "--stack", stack, "revoke", "--sub", "alice", "--iss", ISS)
    # THEN the cache is flushed, and the answer says when no authorizer answer can still allow
    assert code == 0 and out["flushed"] is True
    assert out["effective_by"] == effective_by
    assert out["bound"].startswith(f"{within} s: up to 10 s for the role table's stream")
    assert "looked at the change log (every 2 s)" in out["bound"]
    assert f"refused everywhere by {effective_by} (within {within} s" in err


def test_revoke_on_a_stack_from_before_the_change_log_waits_out_the_role_cache(
    seeded: World, capsys, flush_calls, monkeypatch
) -> None:
    # GIVEN a stack deployed before the change log (no RevocationCheckSeconds output)
    stack = stack_with_outputs(RestApiId="a1", StageName="prod", RoleCacheTtl="30", AuthorizerCacheTtl="300")
    monkeypatch.setattr(revoke, "clock", lambda: 1_700_000_000.0)
    code, out, _ = run(capsys, "--stack", stack, "revoke", "--sub", "alice", "--iss", ISS)
    # THEN its bound: role cache 30 s + 1 s + 10 s for the stream and the second flush
    assert code == 0
    assert out["effective_by"] == "2023-11-14T22:14:01Z"
    assert (
        out["bound"].startswith("41 s: ") and "role cache 30 s (the stack has no change log)" in out["bound"]
    )


def test_revoke_in_table_output_prints_effective_by(seeded: World, capsys, flush_calls, monkeypatch) -> None:
    stack = stack_with_outputs(
        RestApiId="a1",
        StageName="prod",
        RoleCacheTtl="30",
        AuthorizerCacheTtl="300",
        RevocationCheckSeconds="2",
    )
    monkeypatch.setattr(revoke, "clock", lambda: 1_700_000_000.0)
    code, text, _ = run(capsys, "--stack", stack, "revoke", "--sub", "alice", "--iss", ISS, output="table")
    assert code == 0
    assert "effective_by: 2023-11-14T22:13:33Z" in text.splitlines()
    assert "flushed:      yes" in text.splitlines()


def test_revoke_whose_flush_fails_is_effective_only_when_cached_answers_expire(
    seeded: World, capsys, flush_calls, monkeypatch
) -> None:
    # GIVEN a flush that keeps failing
    stack = stack_with_outputs(
        RestApiId="a1",
        StageName="prod",
        RoleCacheTtl="30",
        AuthorizerCacheTtl="300",
        RevocationCheckSeconds="2",
    )
    flush_calls["fail"] = 100
    monkeypatch.setattr(revoke, "clock", lambda: 1_700_000_000.0)
    code, out, err = run(capsys, "--stack", stack, "revoke", "--sub", "alice", "--iss", ISS)
    # THEN the bound is the containers' (12 s) plus the whole gateway cache TTL (312 s), and the
    # error says when
    assert code == 1 and out["flushed"] is False
    assert out["effective_by"] == "2023-11-14T22:18:32Z"
    assert "may be replayed until 2023-11-14T22:18:32Z" in err


def test_revoke_without_the_stack_settings_assumes_the_longest_allowed(
    seeded: World, capsys, flush_calls, monkeypatch
) -> None:
    # GIVEN no --stack: the role cache, gateway cache TTL and check interval are unknown
    monkeypatch.setattr(revoke, "clock", lambda: 1_700_000_000.0)
    code, out, _ = run(
        capsys, "revoke", "--sub", "alice", "--iss", ISS, "--rest-api-id", "a1", "--stage", "prod"
    )
    # THEN the bound uses the longest check interval the authorizer allows (10 s) and says so:
    # 10 s for the stream + 10 s + 1 s
    assert code == 0
    assert out["effective_by"] == "2023-11-14T22:13:41Z"
    assert "every 10 s (the longest allowed; the stack's is unknown)" in out["bound"]


@pytest.mark.parametrize(
    "command",
    [
        ("subjects", "grant", "carol", "reader", "--iss", ISS),
        ("groups", "map", "contractors", "reader", "--iss", ISS),
    ],
)
def test_every_write_says_when_it_is_effective_everywhere(
    seeded: World, capsys, monkeypatch, command: tuple[str, ...]
) -> None:
    # GIVEN a stack whose containers look at the change log every 2 s, and a write at 22:13:20Z
    from edgeauth_cli import effective

    stack = stack_with_outputs(
        RestApiId="a1",
        StageName="prod",
        RoleCacheTtl="30",
        AuthorizerCacheTtl="300",
        RevocationCheckSeconds="2",
    )
    monkeypatch.setattr(effective, "clock", lambda: 1_700_000_000.0)
    # WHEN a command writes the role table
    code, _, err = run(capsys, "--stack", stack, *command)
    # THEN it says on stderr from when every answer reflects it (13 s later), once
    assert code == 0
    assert err.count("effective everywhere by") == 1
    assert (
        "effective everywhere by 2023-11-14T22:13:33Z (within 13 s: up to 10 s for the role table's stream"
        in err
    )
