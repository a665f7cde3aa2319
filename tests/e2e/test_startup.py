"""The local stack refuses to start cleanly: a port in use, a moto server that does not start, a
template that does not synthesize. Each is one clear message and a non-zero exit, nothing left running."""

from __future__ import annotations

import json
import shlex
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
    with pytest.raises(PortInUseError, match=rf"port {busy_port} \(gateway, --port\) is already in use"):
        stack.start()
    # THEN nothing was started (the ports are checked first)
    assert stack.moto.port == 0 or _port_free(stack.moto.port)


def test_moto_port_in_use_is_a_clear_error(synthesized: tuple[str, dict[str, Any]], busy_port: int) -> None:
    name, template = synthesized
    with pytest.raises(PortInUseError, match=rf"{busy_port} \(moto server, --moto-port\)"):
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


@pytest.fixture
def busy_ports() -> Iterator[list[int]]:
    socks = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        socks.append(sock)
    try:
        yield [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def test_every_busy_port_is_named_with_free_ones_to_choose(
    synthesized: tuple[str, dict[str, Any]], busy_ports: list[int]
) -> None:
    # GIVEN the gateway's and the moto server's ports taken
    gateway_port, moto_port = busy_ports
    name, template = synthesized
    stack = LocalStack(
        StackOptions(
            template=template,
            stack_name=name,
            gateway_port=gateway_port,
            moto_port=moto_port,
            idp_port=0,
            backend_port=0,
        )
    )
    # WHEN it starts
    with pytest.raises(PortInUseError) as raised:
        stack.start()
    # THEN one message names both, and the make local ARGS with a free port for each
    message = str(raised.value)
    assert "\n" not in message
    assert f"{gateway_port} (gateway, --port), {moto_port} (moto server, --moto-port)" in message
    free = raised.value.suggestions
    assert set(free) == {"--port", "--moto-port"}
    assert free["--port"] not in busy_ports and free["--moto-port"] not in busy_ports
    assert all(_port_free(p) for p in free.values())
    assert message.endswith(f"make local ARGS='--port {free['--port']} --moto-port {free['--moto-port']}'")
    # AND nothing was started
    assert stack.moto.port == moto_port and stack.urls is None


def test_command_names_every_busy_port_in_the_make_local_form_it_was_run_with(
    synthesized: tuple[str, dict[str, Any]], tmp_path: Path, busy_ports: list[int]
) -> None:
    # GIVEN make local ARGS='--template t.json --port B1 --moto-port=B2 --idp-port 0 --backend-port 0'
    _, template = synthesized
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    gateway_port, moto_port = busy_ports
    proc = _run_main(
        *("--template", str(path), "--port", str(gateway_port), f"--moto-port={moto_port}"),
        *("--idp-port", "0", "--backend-port", "0"),
    )
    # THEN exit 4 and one line: both ports, and the same ARGS with free ports instead
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{gateway_port} (gateway, --port), {moto_port} (moto server, --moto-port)" in lines[0]
    args = lines[0].split("make local ARGS=", 1)[1]
    words = shlex.split(args)[0].split()
    assert words[:6] == ["--template", str(path), "--idp-port", "0", "--backend-port", "0"]
    assert words[6] == "--port" and int(words[7]) not in busy_ports
    assert words[8] == "--moto-port" and int(words[9]) not in busy_ports
