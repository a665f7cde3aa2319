"""The deploy path of docs/deploying.md, run as documented with a stubbed CDK CLI.

A fake ``npx`` first on ``PATH`` records its arguments and environment instead of reaching AWS;
``make`` is the real one, on the real Makefile. What must hold: ``make deploy`` refuses to run
without ``STAGE`` (before installing or calling anything), passes the stage as ``-c stage=NAME``,
and leaves the caller's region and profile alone (no ``AWS_DEFAULT_REGION`` of its own), so the
deploy goes where ``make bootstrap`` / ``cdk bootstrap`` went.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STAMP = ".venv/.installed"

FAKE_NPX = """#!/bin/sh
# Records how the CDK CLI would have been called (argv and the AWS part of the environment).
exec "{python}" - "$@" <<'EOF'
import json, os, sys
record = {{"argv": sys.argv[1:], "env": {{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}}}
with open(os.environ["FAKE_NPX_LOG"], "a") as f:
    f.write(json.dumps(record) + "\\n")
EOF
"""


def run_make(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    npx = bin_dir / "npx"
    npx.write_text(FAKE_NPX.format(python=shutil.which("python3") or "/usr/bin/python3"))
    npx.chmod(0o755)
    log = tmp_path / "npx.jsonl"
    log.unlink(missing_ok=True)
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("STAGE", "MAKEFLAGS")
    }
    base.update(env)
    base["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    base["FAKE_NPX_LOG"] = str(log)
    # -o: the virtualenv is already installed (this is about the deploy command, not pip).
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", STAMP, *args],  # noqa: S607
        cwd=REPO,
        env=base,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_deploy_without_stage_refuses_and_calls_nothing(tmp_path: Path) -> None:
    result, calls = run_make(tmp_path, "deploy", env={})
    assert result.returncode != 0
    assert "STAGE is not set" in result.stderr and "make deploy STAGE=prod" in result.stderr
    assert calls == []


def test_deploy_with_an_empty_stage_refuses(tmp_path: Path) -> None:
    result, calls = run_make(tmp_path, "deploy", "STAGE=", env={})
    assert result.returncode != 0 and "STAGE is not set" in result.stderr
    assert calls == []


def test_deploy_uses_the_callers_profile_and_region(tmp_path: Path) -> None:
    result, calls = run_make(tmp_path, "deploy", env={"STAGE": "prod", "AWS_PROFILE": "platform-prod"})
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call["argv"][:3] == ["--yes", "aws-cdk@2", "deploy"]
    assert call["argv"][3:5] == ["-c", "stage=prod"]
    assert call["argv"][5:] == ["--profile", "platform-prod"]
    # No region of the Makefile's own: the CLI resolves the profile's, where bootstrap ran.
    assert call["env"] == {"AWS_PROFILE": "platform-prod"}


def test_deploy_keeps_a_region_the_caller_chose(tmp_path: Path) -> None:
    result, calls = run_make(
        tmp_path,
        "deploy",
        "STAGE=staging",
        env={"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call["argv"][3:] == ["-c", "stage=staging"]  # no --profile without AWS_PROFILE
    assert call["env"] == {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}


def test_bootstrap_uses_the_callers_profile(tmp_path: Path) -> None:
    result, calls = run_make(tmp_path, "bootstrap", env={"AWS_PROFILE": "platform-prod"})
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call["argv"] == ["--yes", "aws-cdk@2", "bootstrap", "--profile", "platform-prod"]
    assert call["env"] == {"AWS_PROFILE": "platform-prod"}


def test_make_local_and_make_test_are_unchanged(tmp_path: Path) -> None:
    # Dry runs: what they would execute, with no AWS setting forced on them.
    for target, expected in (
        ("local", ".venv/bin/python -m edgeauth_local"),
        ("unit", ".venv/bin/pytest"),
        ("synth", ".venv/bin/python app.py"),
    ):
        result, calls = run_make(tmp_path, "-n", target, env={})
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout, result.stdout
        assert "AWS_DEFAULT_REGION" not in result.stdout
        assert calls == []


def test_make_synth_of_the_shipped_prod_template_names_the_first_placeholder(tmp_path: Path) -> None:
    # The real synth (offline, stopped by the settings check before any asset is built).
    result, calls = run_make(tmp_path, "synth", "STAGE=prod", env={})
    assert result.returncode != 0
    assert (
        "edgeauth: invalid setting in cdk.json: edgeauth.stages.prod.issuers[0].issuer: "
        "'https://idp.example.com/' is a placeholder"
    ) in result.stderr
    assert calls == []
