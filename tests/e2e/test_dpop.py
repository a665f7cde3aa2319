"""DPoP (RFC 9449) end to end, variant: the dev stage synthesized with its issuer at ``dpop: required``
(and ``authorizer_cache_ttl`` 0, as DPoP requires), so the template has the replay table, the
``DPoP`` identity source and the DPoP challenge; the local stack creates the table (with its TTL)
from it. Every request goes over HTTP through the gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth_cli.main import main
from edgeauth_local.dpop_client import DpopKey, gateway_htu
from edgeauth_local.stack import LocalStack, dpop_context, start_stack
from edgeauth_local.template import synthesize
from tests.e2e.conftest import Answer, call

pytestmark = pytest.mark.timeout(180)

PATH = "/accounts/42"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    name, template = synthesize("dev", extra_context=dpop_context("dev"))
    with start_stack(template=template, stack_name=name) as s:
        yield s


@pytest.fixture
def client() -> DpopKey:
    return DpopKey.generate("ES256")


def url(stack: LocalStack, path: str = PATH) -> str:
    """What the client calls, as API Gateway sees it: https, the gateway's host, the stage's path."""
    assert stack.urls is not None
    return gateway_htu(f"{stack.urls.gateway}/{stack.spec.api.stage.name}{path}")


def dpop_call(
    stack: LocalStack, method: str, path: str, token: str, proof: str | None, scheme: str = "DPoP"
) -> Answer:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return call(stack, method, path, headers=headers)


def reasons(stack: LocalStack) -> list[str]:
    """Reasons of the authorizer's audit lines so far, oldest first (from its log group in moto)."""
    stack.flush_logs()
    group = stack.spec.functions[stack.spec.authorizer.function].log_group
    found: list[tuple[int, str]] = []
    for event in stack.client("logs").filter_log_events(logGroupName=group)["events"]:
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("message") == C.AUDIT_DECISION_MESSAGE:
            found.append((event["timestamp"], str(line["reason"])))
    return [r for _, r in sorted(found, key=lambda x: x[0])]


def test_the_template_has_the_replay_table_and_the_stack_created_it_with_ttl(stack: LocalStack) -> None:
    name = stack.spec.outputs[C.OUTPUT_DPOP_REPLAY_TABLE]
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": C.DPOP_REPLAY_EXPIRES_AT}
    assert stack.spec.authorizer.identity_sources[-1] == C.IDENTITY_SOURCE_DPOP
    assert stack.spec.authorizer.ttl == 0


def test_good_dpop_request_passes_and_its_replay_is_refused(stack: LocalStack, client: DpopKey) -> None:
    token = stack.token("bob", dpop_jkt=client.thumbprint)
    proof = client.proof("GET", url(stack), token)
    answer = dpop_call(stack, "GET", PATH, token, proof)
    assert answer.status == 200, answer.body
    assert answer.json["authorizer"]["sub"] == "bob"
    # The same proof again (a captured request replayed): refused, though everything else is valid.
    replayed = dpop_call(stack, "GET", PATH, token, proof)
    assert replayed.status == 401
    assert replayed.headers["www-authenticate"].startswith('DPoP algs="')
    assert reasons(stack)[-2:] == ["allowed", "dpop_replay"]
    # A fresh proof works again.
    assert dpop_call(stack, "GET", PATH, token, client.proof("GET", url(stack), token)).status == 200


def test_proof_for_another_method_or_url_is_refused(stack: LocalStack, client: DpopKey) -> None:
    token = stack.token("bob", dpop_jkt=client.thumbprint)
    wrong_method = client.proof("POST", url(stack), token)
    assert dpop_call(stack, "GET", PATH, token, wrong_method).status == 401
    # Same route template (/accounts/{id}), another path: htu is the full URL, not the route.
    other_path = client.proof("GET", url(stack, "/accounts/43"), token)
    assert dpop_call(stack, "GET", PATH, token, other_path).status == 401
    plain_http = client.proof("GET", url(stack).replace("https://", "http://"), token)
    assert dpop_call(stack, "GET", PATH, token, plain_http).status == 401
    assert reasons(stack)[-3:] == ["invalid_dpop_proof"] * 3


def test_stolen_token_without_the_key_is_useless(stack: LocalStack, client: DpopKey) -> None:
    token = stack.token("bob", dpop_jkt=client.thumbprint)
    # As Bearer (downgrade), or with a proof from the thief's own key.
    assert dpop_call(stack, "GET", PATH, token, None, scheme="Bearer").status == 401
    thief = DpopKey.generate("ES256")
    assert dpop_call(stack, "GET", PATH, token, thief.proof("GET", url(stack), token)).status == 401
    # A Bearer request has no DPoP header: with every issuer "required" the gateway itself refuses it.
    before = stack.authorizer.invocations if stack.authorizer else 0
    assert call(stack, "GET", PATH, stack.token("bob")).status == 401
    assert stack.authorizer is not None and stack.authorizer.invocations == before
    proof = client.proof("GET", url(stack), token)
    assert dpop_call(stack, "GET", PATH, token, proof, scheme="Bearer").status == 401
    assert reasons(stack)[-2:] == ["invalid_dpop_proof", "dpop_downgrade"]


def test_plain_bearer_token_is_refused_by_a_required_issuer(stack: LocalStack, client: DpopKey) -> None:
    token = stack.token("bob")
    assert (
        dpop_call(stack, "GET", PATH, token, client.proof("GET", url(stack), token), "Bearer").status == 401
    )
    assert reasons(stack)[-1] == "dpop_required"
    assert dpop_call(stack, "GET", PATH, token, client.proof("GET", url(stack), token)).status == 401
    assert reasons(stack)[-1] == "dpop_unbound_token"


def test_rbac_still_applies_to_dpop_requests(stack: LocalStack, client: DpopKey) -> None:
    token = stack.token("carol", dpop_jkt=client.thumbprint)
    proof = client.proof("GET", url(stack, "/admin/config"), token)
    assert dpop_call(stack, "GET", "/admin/config", token, proof).status == 403


def test_cli_token_and_proof_work_against_the_gateway(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.urls is not None
    assert main(["token", "--sub", "bob", "--dpop", "--idp-url", stack.urls.issuer]) == 0
    saved: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert saved["token_type"] == "DPoP" and saved["key"]["kty"] == "EC" and "d" in saved["key"]
    key_file = tmp_path / "bob.json"
    key_file.write_text(json.dumps(saved))
    assert main(["dpop", "token", "--key", str(key_file)]) == 0
    token = capsys.readouterr().out.strip()
    assert token == saved["access_token"]
    # The URL as curl would call it (plain http on loopback): the CLI signs the https form.
    http_url = f"{stack.urls.api}accounts/42"
    assert main(["dpop", "proof", "--key", str(key_file), "--method", "GET", "--url", http_url]) == 0
    out = capsys.readouterr()
    assert "signing https://" in out.err
    assert dpop_call(stack, "GET", PATH, token, out.out.strip()).status == 200
