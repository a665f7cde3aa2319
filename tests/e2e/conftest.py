"""End-to-end fixtures: the CDK app synthesized once per session, one local stack per test module.

Every request goes over HTTP to the local gateway on 127.0.0.1 (ephemeral ports). A module that
needs a variant of the template (smaller usage limits, a short integration timeout) passes a
patched copy of the synthesized template to its own stack.
"""

from __future__ import annotations

import copy
import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from edgeauth_local.stack import LocalStack, start_stack
from edgeauth_local.template import synthesize


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(
    stack: LocalStack,
    method: str,
    path: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 15.0,
) -> Answer:
    """One HTTP request to the stack's stage (``path`` relative to the stage, e.g. ``/accounts/42``)."""
    assert stack.urls is not None
    base = urlsplit(stack.urls.gateway)
    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=timeout)
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    target = path if path.startswith("/" + stack.spec.api.stage.name) or path.startswith("//") else None
    target = target or f"/{stack.spec.api.stage.name}{path}"
    try:
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def raw_call(stack: LocalStack, method: str, target: str, headers: dict[str, str] | None = None) -> Answer:
    """A request to an arbitrary target on the gateway (outside the stage, for instance)."""
    assert stack.urls is not None
    base = urlsplit(stack.urls.gateway)
    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=15)
    try:
        conn.request(method, target, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="session")
def synthesized() -> tuple[str, dict[str, Any]]:
    """``(stack name, template)`` of the dev stage, synthesized once (and cached on disk)."""
    return synthesize("dev")


def patched(template: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    edit(t)
    return t


def resources_of(template: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r.get("Type") == rtype]


@pytest.fixture(scope="module")
def stack(synthesized: tuple[str, dict[str, Any]]) -> Iterator[LocalStack]:
    """The stack exactly as the template describes it."""
    name, template = synthesized
    with start_stack(template=template, stack_name=name) as s:
        yield s
