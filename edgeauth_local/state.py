"""The local stacks running from this checkout: one state file per gateway port.

``python -m edgeauth_local`` (``make local``) writes ``.local/stack-<gateway port>.json`` (its URLs,
stack name and process id) once it has started, and removes it when it stops; ``edgeauth token``
reads the identity provider's URL from it. One file per port, so a second stack in the same checkout
(on other ports: ``make local ARGS='--port 8090 …'``) never overwrites the first's. A file whose
process is gone (a stack killed with SIGKILL) is ignored, and replaced by the next stack on its port.

Light on purpose (stdlib only): the CLI imports it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path(__file__).resolve().parents[1] / ".local"
"""Where ``make local`` writes its state files (``.local/`` of the checkout)."""
_PREFIX, _SUFFIX = "stack-", ".json"


@dataclass(frozen=True, slots=True)
class StackState:
    """A running local stack, as its state file describes it."""

    path: Path
    gateway_port: int
    pid: int
    stack: str
    urls: Mapping[str, str]
    """``api``, ``gateway``, ``moto``, ``issuer``, ``token_endpoint``, ``backend``."""


def state_path(gateway_port: int, directory: Path = STATE_DIR) -> Path:
    return directory / f"{_PREFIX}{gateway_port}{_SUFFIX}"


def write_state(directory: Path, gateway_port: int, stack: str, urls: Mapping[str, str]) -> Path:
    """Write this process's state file for ``gateway_port``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = state_path(gateway_port, directory)
    doc = {**urls, "stack": stack, "pid": os.getpid(), "gateway_port": gateway_port}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(path)  # readers never see half a file
    return path


def remove_state(path: Path) -> None:
    """Remove ``path`` if this process wrote it (a later stack on the port may own it now)."""
    state = read_state(path)
    if state is not None and state.pid == os.getpid():
        path.unlink(missing_ok=True)


def read_state(path: Path) -> StackState | None:
    """The state in ``path``; ``None`` if it is missing or unreadable."""
    try:
        doc = json.loads(path.read_text())
        pid, port = doc["pid"], doc["gateway_port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(pid, int) or not isinstance(port, int) or not isinstance(doc.get("stack"), str):
        return None
    urls = {k: v for k, v in doc.items() if isinstance(v, str) and k != "stack"}
    return StackState(path, port, pid, doc["stack"], urls)


def running_stacks(directory: Path = STATE_DIR) -> list[StackState]:
    """The stacks whose state file is in ``directory`` and whose process is alive, by gateway port."""
    states = [read_state(p) for p in sorted(directory.glob(f"{_PREFIX}*{_SUFFIX}"))]
    return sorted((s for s in states if s is not None and _alive(s.pid)), key=lambda s: s.gateway_port)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True
