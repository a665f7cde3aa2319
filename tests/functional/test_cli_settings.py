"""Missing settings: every command, run as a new user would (``env -i``, an empty ``HOME``).

Each missing setting a command needs (region, credentials, stack or role table, issuer, log group)
is named on ONE line with what to set (``--region`` / ``AWS_REGION``, ``--stack`` /
``EDGEAUTH_STACK`` …), exit 2 (argparse's usage error); never botocore's traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeauth_cli.context import CliContext
from edgeauth_cli.main import build_parser, main

EDGEAUTH = str(Path(sys.executable).with_name("edgeauth"))

# The arguments argparse requires, per command (settings left out on purpose).
ARGS: dict[str, list[str]] = {
    "audit presets": [],
    "audit query": ["denied-by-subject"],
    "audit replay": [],
    "clients add": ["mobile-app", "--tier", "standard"],
    "clients list": [],
    "clients remove": ["mobile-app", "--yes"],
    "clients set-tier": ["mobile-app", "standard"],
    "dpop proof": ["--key", "missing.json", "--method", "GET", "--url", "https://api.example.com/x"],
    "dpop token": ["--key", "missing.json"],
    "explain": ["--sub", "user-123", "GET", "/accounts/42"],
    "groups list": [],
    "groups map": ["admins", "admin"],
    "groups unmap": ["admins", "admin"],
    "revoke": ["--sub", "user-123"],
    "roles apply": ["roles.yaml", "--dry-run"],
    "roles delete": ["legacy-admin", "--yes"],
    "roles export": [],
    "roles lint": [],
    "roles list": [],
    "roles show": ["reader"],
    "subjects grant": ["user-123", "reader"],
    "subjects revoke": ["user-123", "reader"],
    "subjects show": ["user-123"],
    "token": ["--sub", "bob", "--idp-url", "http://127.0.0.1:9/"],
}
# Commands that need no AWS settings, and the one-line failure they end with here instead.
NO_SETTINGS: dict[str, tuple[int, str]] = {
    "audit presets": (0, ""),
    "dpop proof": (2, "cannot read missing.json"),
    "dpop token": (2, "cannot read missing.json"),
    "token": (1, "no development identity provider at http://127.0.0.1:9"),
}
NEEDS_ISSUER = {
    "clients add",
    "clients remove",
    "clients set-tier",
    "groups map",
    "groups unmap",
    "revoke",
    "subjects grant",
    "subjects revoke",
    "subjects show",
}


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[str]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path)
    for action in subs:
        for name, child in action.choices.items():
            yield from leaf_commands(child, (*path, name))


def clean_env(home: Path) -> dict[str, str]:
    """``env -i`` with a PATH and an empty HOME: no region, no credentials, no edgeauth settings."""
    return {"PATH": os.defpath, "HOME": str(home)}


def run_clean(
    home: Path, *argv: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGEAUTH, *argv],
        env={**clean_env(home), **(extra or {})},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_the_table_covers_every_command() -> None:
    assert set(leaf_commands(build_parser())) == set(ARGS)


def test_roles_list_with_nothing_set_names_every_missing_setting_on_one_line(home: Path) -> None:
    # GIVEN a new user's shell: no region, no credentials, no stack
    # WHEN they list roles
    result = run_clean(home, "roles", "list")
    # THEN one line names each missing setting and how to give it, exit 2, no traceback
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("edgeauth: error: missing settings: ")
    for text in ("--region", "AWS_REGION", "--profile", "AWS_ACCESS_KEY_ID", "--stack", "EDGEAUTH_STACK"):
        assert text in line
    assert "Traceback" not in result.stderr and "NoRegionError" not in result.stderr


@pytest.mark.parametrize("command", sorted(ARGS))
def test_every_command_without_settings_fails_on_one_line(command: str, home: Path) -> None:
    # GIVEN a clean environment
    # WHEN the command runs with only the arguments argparse requires
    result = run_clean(home, *command.split(), *ARGS[command])
    # THEN it ends with at most one line on stderr, never a traceback
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    if command in NO_SETTINGS:
        code, text = NO_SETTINGS[command]
        assert result.returncode == code, result.stderr
        assert len(lines) == (1 if text else 0) and text in result.stderr
        return
    # AND the line names what to set, exit 2
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("edgeauth: error: missing settings: ")
    assert "--region REGION or set AWS_REGION" in line
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in line
    assert "--stack NAME or set EDGEAUTH_STACK" in line
    assert ("--iss ISSUER or set EDGEAUTH_ISSUER" in line) == (command in NEEDS_ISSUER)
    if command == "audit query":
        assert "--log-group NAME" in line


def test_a_region_alone_leaves_the_credentials_to_name(home: Path) -> None:
    result = run_clean(home, "--table", "roles", "roles", "list", extra={"AWS_REGION": "eu-west-1"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "edgeauth: error: missing setting: AWS credentials: pass --profile NAME or set AWS_PROFILE, "
        "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ]


def test_region_and_credentials_leave_the_stack_and_issuer_to_name(home: Path) -> None:
    creds = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}
    result = run_clean(home, "subjects", "grant", "user-123", "reader", extra=creds)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "edgeauth: error: missing settings: stack: pass --stack NAME or set EDGEAUTH_STACK "
        "(e.g. EdgeAuth-dev), or name the role table with --table NAME or EDGEAUTH_ROLE_TABLE; "
        "issuer: pass --iss ISSUER or set EDGEAUTH_ISSUER (or name a configured issuer: --issuer-name NAME)"
    ]


@pytest.mark.parametrize(
    ("extra", "argv", "expected"),
    [
        ({"AWS_PROFILE": "nope"}, [], "The config profile (nope) could not be found"),
        ({}, ["--profile", "nope"], "The config profile (nope) could not be found"),
        (
            {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"},
            [],
            "incomplete AWS credentials (Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY)",
        ),
        (
            {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"},
            ["--region", "not a region"],
            "invalid AWS region",
        ),
    ],
)
def test_unusable_settings_are_one_line_exit_2(
    home: Path, extra: dict[str, str], argv: list[str], expected: str
) -> None:
    result = run_clean(home, *argv, "--table", "roles", "roles", "list", extra=extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_endpoint_is_one_line(home: Path) -> None:
    # GIVEN the local stack's endpoint, with nothing listening (port 9: discard, never served here)
    result = run_clean(
        home, "--endpoint-url", "http://127.0.0.1:9", "--stack", "EdgeAuth-dev", "roles", "list"
    )
    # THEN one line says what to check, exit 1 (the operation failed; the settings were complete)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach AWS" in lines[0] and "--endpoint-url" in lines[0] and "make local" in lines[0]


def test_aws_region_comes_before_aws_default_region(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    # GIVEN both variables, as the AWS CLI v2 reads them (AWS_REGION first)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    args = build_parser().parse_args(["roles", "list"])
    assert CliContext.from_args(args).session.region_name == "eu-west-1"
    # AND --region beats both
    args = build_parser().parse_args(["--region", "ap-south-1", "roles", "list"])
    assert CliContext.from_args(args).session.region_name == "ap-south-1"


def test_a_botocore_error_no_command_expected_is_still_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a command that meets a botocore error it does not handle itself
    from botocore.exceptions import ReadTimeoutError

    from edgeauth_cli.commands import roles

    def boom(ctx: CliContext, args: argparse.Namespace) -> int:
        raise ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com/")

    monkeypatch.setattr(roles, "cmd_list", boom)
    # WHEN it runs (on the local endpoint: no settings needed)
    code = main(["--endpoint-url", "http://127.0.0.1:9", "--table", "t", "roles", "list"])
    # THEN one line, exit 1
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [
        "edgeauth: error: AWS call failed: ReadTimeoutError: Read timeout on endpoint URL: "
        '"https://dynamodb.eu-west-1.amazonaws.com/"'
    ]


def test_a_stack_that_does_not_exist_is_named_with_the_case_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    for name in ("EDGEAUTH_STACK", "EDGEAUTH_ROLE_TABLE", "EDGEAUTH_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # GIVEN the README's old spelling of the stack name
    with mock_aws():
        code = main(["--region", "us-east-1", "--stack", "edgeauth-dev", "roles", "list"])
    # THEN one line names it and says names are case-sensitive, exit 2
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        "edgeauth: error: no stack 'edgeauth-dev' in us-east-1 (stack names are case-sensitive, "
        "e.g. EdgeAuth-dev): pass --stack NAME or set EDGEAUTH_STACK"
    ]
