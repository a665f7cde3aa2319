"""CliContext: the local stack needs no exported credentials; real endpoints get no fallback."""

from __future__ import annotations

import pytest

from edgeauth_cli.context import CliContext


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_loopback_endpoint_gets_dummy_credentials_and_a_region(no_aws_env: None) -> None:
    ctx = CliContext(endpoint_url="http://127.0.0.1:5000")
    assert ctx.is_local
    assert ctx.session.region_name == "us-east-1"
    creds = ctx.session.get_credentials()
    assert creds is not None and creds.access_key == "local"


def test_real_endpoint_gets_no_fallback(no_aws_env: None) -> None:
    ctx = CliContext(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")
    assert not ctx.is_local
    assert ctx.session.get_credentials() is None
    assert CliContext().is_local is False
