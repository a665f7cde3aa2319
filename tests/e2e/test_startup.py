"""The local stack refuses to start cleanly: a port in use, a moto server that does not start, a
template that does not synthesize. Each is one clear message and a non-zero exit, nothing left running."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeauth_local import moto_server
from edgeauth_local.errors import MotoServerError, PortInUseError, SynthError
from edgeauth_local.stack import LocalStack, StackOptions, start_stack
from edgeauth_local.template import synthesize

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_gateway_port_in_use_is_a_clear_error_and_stops_the_rest(
    synthesized: tuple[str, dict[str, Any]], busy_port: int
) -> None:
    name, template = synthesized
    stack = LocalStack(
        StackOptions(
            template=template,
            stack_name=name,
            gateway_port=busy_port,
            moto_port=0,
            idp_port=0,
            backend_port=0,
        )
    )
    with pytest.raises(PortInUseError, match=rf"gateway: port {busy_port} .* already in use .*--port"):
        stack.start()
    # THEN what had started is stopped again
    assert _port_free(stack.moto.port)


def test_moto_port_in_use_is_a_clear_error(synthesized: tuple[str, dict[str, Any]], busy_port: int) -> None:
    name, template = synthesized
    with pytest.raises(PortInUseError, match=r"moto server: port .* --moto-port"):
        start_stack(template=template, stack_name=name, moto_port=busy_port)


def test_moto_server_failing_to_start_is_a_clear_error(
    synthesized: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: moto_server.MotoServer, timeout: float = 10.0) -> None:
        self.stop()
        raise MotoServerError(f"moto server does not answer on {self.url}: simulated")

    monkeypatch.setattr(moto_server.MotoServer, "wait_ready", broken)
    name, template = synthesized
    with pytest.raises(MotoServerError, match="does not answer"):
        start_stack(template=template, stack_name=name)


def test_template_failing_to_synthesize_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "raise SystemExit('edgeauth: invalid setting in cdk.json: stages.dev.issuers')\n"
    )
    (tmp_path / "cdk.json").write_text("{}")
    (tmp_path / "infra").mkdir()
    with pytest.raises(SynthError, match=r"(?s)failed to synthesize .*invalid setting"):
        synthesize("dev", root=tmp_path, cache_dir=tmp_path / "cache")


def test_missing_app_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match=r"app\.py does not exist"):
        synthesize("dev", root=tmp_path, cache_dir=tmp_path / "cache")


def _run_main(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgeauth_local", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_command_exits_non_zero_with_one_line_on_a_bad_template(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    proc = _run_main("--template", str(bad), "--port", "0", "--moto-port", "0")
    assert proc.returncode == 3
    assert "edgeauth-local: error: template" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_command_exits_non_zero_when_the_port_is_in_use(
    synthesized: tuple[str, dict[str, Any]], tmp_path: Path, busy_port: int
) -> None:
    _, template = synthesized
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    proc = _run_main(
        *("--template", str(path), "--port", str(busy_port)),
        *("--moto-port", "0", "--idp-port", "0", "--backend-port", "0"),
    )
    assert proc.returncode == 4
    assert f"port {busy_port}" in proc.stderr
    assert "Traceback" not in proc.stderr
