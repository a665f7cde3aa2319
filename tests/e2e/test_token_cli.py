"""``edgeauth token`` prints a token from the running development identity provider."""

from __future__ import annotations

import pytest

from edgeauth_cli.main import main
from edgeauth_local.stack import LocalStack
from tests.e2e.conftest import call

pytestmark = pytest.mark.timeout(120)


def test_token_from_the_cli_is_accepted_by_the_gateway(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.urls is not None
    code = main(["token", "--sub", "bob", "--ttl", "600", "--idp-url", stack.urls.issuer])
    token = capsys.readouterr().out.strip()
    assert code == 0
    assert token.count(".") == 2
    assert call(stack, "POST", "/accounts/1/transfers", token).status == 201
    assert call(stack, "GET", "/admin/config", token).status == 403


def test_token_with_groups_claim(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert stack.urls is not None
    assert main(["token", "--sub", "dave", "--groups", "a,b", "--idp-url", stack.urls.issuer]) == 0
    import jwt

    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert claims["groups"] == ["a", "b"]
    assert claims["sub"] == "dave"


def test_token_without_a_running_idp_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "--sub", "bob", "--idp-url", "http://127.0.0.1:9/"])
    assert code == 1
    assert "is the local stack running" in capsys.readouterr().err


def test_a_ttl_beyond_the_identity_providers_cap_is_capped_and_says_so(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.urls is not None
    # WHEN asking for a lifetime the development identity provider does not give
    assert main(["token", "--sub", "bob", "--ttl", "999999", "--idp-url", stack.urls.issuer]) == 0
    out, err = capsys.readouterr()
    import jwt

    claims = jwt.decode(out.strip(), options={"verify_signature": False})
    # THEN the token is capped, stdout holds only the token, and stderr says what was given
    assert claims["exp"] - claims["iat"] == 86400
    assert err.splitlines() == [
        "edgeauth: --ttl 999999 capped by the identity provider: the token expires in 86400 s"
    ]


def test_a_ttl_within_the_cap_is_given_silently(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.urls is not None
    assert main(["token", "--sub", "bob", "--ttl", "86400", "--idp-url", stack.urls.issuer]) == 0
    assert capsys.readouterr().err == ""
