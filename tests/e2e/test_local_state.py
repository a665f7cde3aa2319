"""Two local stacks in one checkout: each keeps its own state file (``.local/stack-<port>.json``),
and ``edgeauth token`` finds the identity provider of the one running, or asks which."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest

from edgeauth_cli.commands.token import idp_url
from edgeauth_cli.context import CliError
from edgeauth_cli.main import main
from edgeauth_local import state
from edgeauth_local.stack import start_stack

pytestmark = pytest.mark.timeout(120)


def test_a_second_stack_keeps_the_first_stacks_state_file(
    synthesized: tuple[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, template = synthesized
    monkeypatch.delenv("EDGEAUTH_IDP_URL", raising=False)
    monkeypatch.setattr(state, "STATE_DIR", tmp_path)
    # GIVEN a stale state file of a stack that was killed (its process is gone)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = state.state_path(1, tmp_path)
    stale.write_text(json.dumps({"pid": int(dead.stdout), "gateway_port": 1, "stack": name, "issuer": "x"}))
    # AND a first stack, then a second one, from the same checkout
    first = start_stack(template=template, stack_name=name, seed=False, pollers=False, state_dir=tmp_path)
    try:
        assert first.urls is not None and first._gateway_server is not None
        first_port = first._gateway_server.port
        second = start_stack(
            template=template, stack_name=name, seed=False, pollers=False, state_dir=tmp_path
        )
        try:
            assert second.urls is not None and second._gateway_server is not None
            second_port = second._gateway_server.port
            # THEN each has its own file with its own URLs
            running = state.running_stacks(tmp_path)
            assert {s.gateway_port: s.urls["issuer"] for s in running} == {
                first_port: first.urls.issuer,
                second_port: second.urls.issuer,
            }
            assert state.read_state(state.state_path(first_port, tmp_path)) is not None
            # AND edgeauth token does not guess between them: a usage error naming both
            with pytest.raises(CliError) as raised:
                idp_url(None)
            assert raised.value.exit_code == 2
            assert str(first_port) in str(raised.value) and str(second_port) in str(raised.value)
            assert "--idp-url" in str(raised.value)
        finally:
            second.stop()
        # WHEN the second stops, THEN only its file goes; the first's is intact
        assert [s.gateway_port for s in state.running_stacks(tmp_path)] == [first_port]
        # AND edgeauth token finds the first's identity provider by itself
        capsys.readouterr()
        assert main(["token", "--sub", "bob"]) == 0
        token = capsys.readouterr().out.strip()
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == first.urls.issuer
    finally:
        first.stop()
    assert not state.state_path(first_port, tmp_path).exists()
    assert state.running_stacks(tmp_path) == []
