"""Provider presets over HTTP, variant: the dev stage synthesized with its loopback issuer turned
into a provider's preset (``python -m edgeauth_local --provider NAME``, :func:`provider_context`),
so the development identity provider issues tokens shaped like that provider's and the authorizer
checks them with the preset's expanded settings. Every request goes through the local gateway.

Three stacks, one alive at a time: Cognito access tokens, Cognito ID tokens, GitHub Actions.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from edgeauth import constants as C
from edgeauth_cli.main import main
from edgeauth_local.stack import LocalStack, provider_context, start_stack
from edgeauth_local.template import synthesize
from tests.e2e.conftest import call

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def provider_stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    """The stack of one provider (``indirect`` parameter); pytest keeps one alive at a time."""
    provider: str = request.param
    name, template = synthesize("dev", extra_context=provider_context("dev", provider))
    with start_stack(template=template, stack_name=name) as s:
        yield s


def on(provider: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("provider_stack", [provider], indirect=True)


def cli_token(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert stack.urls is not None
    capsys.readouterr()
    assert main(["token", *args, "--idp-url", stack.urls.issuer]) == 0
    return capsys.readouterr().out.strip()


def reasons(stack: LocalStack) -> list[str]:
    """The authorizer's audit reasons so far, oldest first (its log group in moto)."""
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


def startup_settings(stack: LocalStack) -> dict[str, Any]:
    """The authorizer's cold-start line (each issuer's expanded settings), from its log group."""
    stack.flush_logs()
    group = stack.spec.functions[stack.spec.authorizer.function].log_group
    for event in stack.client("logs").filter_log_events(logGroupName=group)["events"]:
        if '"issuer settings"' in event["message"]:
            record: dict[str, Any] = json.loads(event["message"])
            return record
    raise AssertionError("no issuer settings line")


# -- Cognito access tokens -------------------------------------------------------------------------------


@on("cognito")
def test_cognito_access_token_from_the_dev_idp_is_shaped_like_cognitos_and_accepted(
    provider_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    cognito = provider_stack
    token = cli_token(cognito, capsys, "--sub", "bob", "--groups", "tellers")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "typ" not in header
    assert claims["token_use"] == "access" and claims["client_id"] == "edgeauth-local-app"
    assert "aud" not in claims and claims["cognito:groups"] == ["tellers"] and claims["username"] == "bob"
    answer = call(cognito, "POST", "/accounts/1/transfers", token)
    assert answer.status == 201, answer.body
    assert answer.json["authorizer"]["client-id"] == "edgeauth-local-app"


@on("cognito")
def test_cognito_access_preset_refuses_id_tokens_and_other_app_clients(provider_stack: LocalStack) -> None:
    cognito = provider_stack
    id_token = cognito.token("bob", claims={"token_use": "id", "aud": "edgeauth-local-app"})
    assert call(cognito, "GET", "/accounts/42", id_token).status == 401
    other = cognito.token("bob", client_id="another-app-client")
    assert call(cognito, "GET", "/accounts/42", other).status == 401
    assert reasons(cognito)[-2:] == ["wrong_token_type", "wrong_client"]


@on("cognito")
def test_the_startup_log_shows_the_cognito_preset_expanded(provider_stack: LocalStack) -> None:
    cognito = provider_stack
    (issuer,) = startup_settings(cognito)["issuers"]
    assert (issuer["provider"], issuer["name"]) == ("cognito", "cognito")
    assert issuer["client_ids"] == ["edgeauth-local-app"] and issuer["groups_claim"] == ["cognito:groups"]
    assert [(c["claim"], c["allowed"]) for c in issuer["claim_checks"]] == [("token_use", ["access"])]


# -- Cognito ID tokens -----------------------------------------------------------------------------------


@on("cognito-id")
def test_cognito_id_token_is_accepted_and_an_access_token_is_not(
    provider_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    cognito_id = provider_stack
    token = cli_token(cognito_id, capsys, "--sub", "carol")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["token_use"] == "id" and claims["aud"] == "edgeauth-local-app" and "client_id" not in claims
    assert call(cognito_id, "GET", "/accounts/42", token).status == 200
    access = cognito_id.token("carol", claims={"token_use": "access", "client_id": "edgeauth-local-app"})
    assert call(cognito_id, "GET", "/accounts/42", access).status == 401
    other_client = cognito_id.token("carol", claims={"aud": "another-app-client"})
    assert call(cognito_id, "GET", "/accounts/42", other_client).status == 401
    assert reasons(cognito_id)[-2:] == ["wrong_token_type", "wrong_audience"]


# -- GitHub Actions ----------------------------------------------------------------------------------------


@on("github-actions")
def test_github_workflows_are_mapped_by_repository_with_the_cli_by_issuer_name(
    provider_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    github = provider_stack
    assert github.urls is not None
    moto = ["--endpoint-url", github.urls.moto, "--stack", github.spec.stack_name, "--output", "json"]
    # GIVEN a claim mapping made with the CLI, by the issuer's short name (read from the stack)
    code = main(
        [*moto, "groups", "map", "repository=octo-org/octo-repo", "teller", "--issuer-name", "github-actions"]
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["issuer"] == github.urls.issuer
    # (No wait for the role-events flush: these tokens are new, nothing about them is cached.)
    # WHEN workflows of that repository call, on any branch or environment
    for sub in ("repo:octo-org/octo-repo:ref:refs/heads/main", "repo:octo-org/octo-repo:environment:prod"):
        token = cli_token(github, capsys, "--sub", sub)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["repository"] == "octo-org/octo-repo" and claims["sub"] == sub
        # THEN the mapping grants them, with no subject item for either
        answer = call(github, "POST", "/accounts/1/transfers", token)
        assert answer.status == 201, answer.body
        assert answer.json["authorizer"]["sub"] == sub
    # AND another repository of an allowed owner has no role, one of another owner is refused
    other = cli_token(github, capsys, "--sub", "repo:octo-org/other:ref:refs/heads/main")
    assert call(github, "POST", "/accounts/1/transfers", other).status == 403
    evil = github.token("repo:evil-org/octo-repo:ref:refs/heads/main")
    assert call(github, "POST", "/accounts/1/transfers", evil).status == 401
    assert reasons(github)[-2:] == ["no_roles", "claim_not_allowed"]


@on("github-actions")
def test_github_token_endpoint_refuses_a_sub_github_would_not_issue(provider_stack: LocalStack) -> None:
    github = provider_stack
    assert github.urls is not None
    req = urllib.request.Request(  # noqa: S310 - the loopback dev identity provider
        github.urls.token_endpoint,
        data=json.dumps({"sub": "bob"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)  # noqa: S310
    assert info.value.code == 400
    assert "repo:<owner>/<repo>" in json.loads(info.value.read())["error_description"]
