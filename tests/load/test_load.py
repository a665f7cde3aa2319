"""Load through the local gateway over HTTP on 127.0.0.1: mixed requests from 8 concurrent clients.

Five kinds of request, interleaved at random (seeded):

* valid (200; 201 for a transfer): carol GET /accounts/{id}, bob POST /accounts/{id}/transfers, alice
  GET /admin/config, with a few tokens per subject (the authorizer runs as well as the cache);
* expired (401): a token of the stack's own key that expired an hour ago;
* forged (401): a valid token with its payload swapped (sub → alice), or signed by another key
  under the same kid;
* wrong_role (403): carol GET /admin/config;
* over_rate (200 or 429): bob as client "tiny", whose usage plan admits 1 request per second.

Then: no wrong decision, no 500 (nor any status not in the table), and every request present exactly
once (by request id) among the access events of the audit log group, after the pipeline (access log
→ subscription → Kinesis → audit consumer) has drained; and exactly once among the decision events
when the authorizer ran for it (the authorizer's invocations are recorded as they happen), never
when it did not (a cached answer, a request refused before the authorizer).

Bounded: ``EDGEAUTH_LOAD_COUNT`` requests (default 2,000, the reduced count ``make test`` runs;
``EDGEAUTH_LOAD_FULL=1`` makes it 20,000), every HTTP call has a timeout, the clients stop at a
deadline, and the audit wait has its own deadline. Run the full one with
``EDGEAUTH_LOAD_FULL=1 .venv/bin/pytest tests/load -q``.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from edgeauth import constants as C
from edgeauth_local.stack import LocalStack, start_stack
from tests.e2e.conftest import patched, resources_of
from tests.support.tokens import b64json, make_key

FULL = os.environ.get("EDGEAUTH_LOAD_FULL", "") not in ("", "0")
COUNT = int(os.environ.get("EDGEAUTH_LOAD_COUNT", "20000" if FULL else "2000"))
CLIENTS = 8
DEADLINE = 900.0 if FULL else 240.0
"""Seconds the clients may take in all; they stop by themselves at it (and the test fails)."""
AUDIT_WAIT = 600.0 if FULL else 120.0
TINY_RATE, TINY_BURST = 1, 2

pytestmark = [pytest.mark.slow, pytest.mark.timeout(int(DEADLINE + AUDIT_WAIT + 180))]

EXPECTED: dict[str, set[int]] = {
    "valid": {200, 201},  # POST …/transfers answers 201
    "expired": {401},
    "forged": {401},
    "wrong_role": {403},
    "over_rate": {200, 429},
}
MIX = ["valid"] * 50 + ["expired"] * 10 + ["forged"] * 10 + ["wrong_role"] * 15 + ["over_rate"] * 15


def _unthrottled(template: dict[str, Any]) -> None:
    """Lift the stage throttle and the default tier's limits (the load is the point, not them), and
    give the partner tier a tiny rate: the "over the rate" client is on it."""
    for stage in resources_of(template, "AWS::ApiGateway::Stage"):
        for ms in stage["Properties"].get("MethodSettings") or []:
            if "ThrottlingRateLimit" in ms:
                ms["ThrottlingRateLimit"], ms["ThrottlingBurstLimit"] = 100_000, 100_000
    for plan in resources_of(template, "AWS::ApiGateway::UsagePlan"):
        props = plan["Properties"]
        name = json.dumps(props.get("UsagePlanName", ""))
        if "partner" in name:
            props["Throttle"] = {"RateLimit": TINY_RATE, "BurstLimit": TINY_BURST}
        else:
            props["Throttle"] = {"RateLimit": 100_000, "BurstLimit": 100_000}
        props["Quota"] = {"Limit": 10_000_000, "Period": "DAY"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    from edgeauth_local.template import synthesize

    name, template = synthesize("dev")
    with start_stack(template=patched(template, _unthrottled), stack_name=name) as s:
        yield s


def _add_tiny_client(stack: LocalStack) -> None:
    from edgeauth_cli.main import main

    assert stack.urls is not None
    os.environ.setdefault("EDGEAUTH_ISSUER", stack.urls.issuer)
    base = ["--endpoint-url", stack.urls.moto, "--region", "us-east-1", "--stack", stack.spec.stack_name]
    assert (
        main(
            [
                *base,
                "--output",
                "json",
                "clients",
                "add",
                "tiny",
                "--tier",
                "partner",
                "--iss",
                stack.urls.issuer,
            ]
        )
        == 0
    )


@dataclass(frozen=True)
class Planned:
    kind: str
    method: str
    path: str
    token: str


def _forged(stack: LocalStack, rng: random.Random) -> str:
    good = stack.token("carol")
    h, p, s = good.split(".")
    if rng.random() < 0.5:
        claims = json.loads(_b64d(p))
        claims["sub"] = "alice"
        return f"{h}.{b64json(claims)}.{s}"
    import jwt

    header = json.loads(_b64d(h))
    other = make_key("ES256" if header["alg"] == "ES256" else "RS256", header["kid"], slot=3)
    return str(
        jwt.encode(
            json.loads(_b64d(p)), other.private, algorithm=header["alg"], headers={"kid": header["kid"]}
        )
    )


def _b64d(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _plan(stack: LocalStack, n: int, seed: int) -> list[Planned]:
    rng = random.Random(seed)
    now = int(time.time())
    tokens = {
        "carol": [stack.token("carol") for _ in range(3)],
        "bob": [stack.token("bob") for _ in range(3)],
        "alice": [stack.token("alice") for _ in range(3)],
        "tiny": [stack.token("bob", client_id="tiny")],
        "expired": [
            stack.token("carol", claims={"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})
            for _ in range(2)
        ],
        "forged": [_forged(stack, rng) for _ in range(4)],
    }
    out: list[Planned] = []
    for _ in range(n):
        kind = rng.choice(MIX)
        i = rng.randrange(1, 10_000)
        if kind == "valid":
            who = rng.choice(("carol", "bob", "alice"))
            method, path = {
                "carol": ("GET", f"/accounts/{i}"),
                "bob": ("POST", f"/accounts/{i}/transfers"),
                "alice": ("GET", "/admin/config"),
            }[who]
            out.append(Planned(kind, method, path, rng.choice(tokens[who])))
        elif kind == "expired":
            out.append(Planned(kind, "GET", f"/accounts/{i}", rng.choice(tokens["expired"])))
        elif kind == "forged":
            out.append(Planned(kind, "GET", f"/accounts/{i}", rng.choice(tokens["forged"])))
        elif kind == "wrong_role":
            out.append(Planned(kind, "GET", "/admin/config", rng.choice(tokens["carol"])))
        else:
            out.append(Planned(kind, "GET", f"/accounts/{i}", tokens["tiny"][0]))
    return out


@dataclass
class Result:
    planned: Planned
    status: int
    request_id: str | None
    error: str | None = None


def _run(stack: LocalStack, plan: list[Planned]) -> tuple[list[Result], float]:
    assert stack.urls is not None
    base = urlsplit(stack.urls.gateway)
    stage = stack.spec.api.stage.name
    results: list[Result] = []
    lock = threading.Lock()
    deadline = time.monotonic() + DEADLINE
    chunks = [plan[i::CLIENTS] for i in range(CLIENTS)]

    def client(work: list[Planned]) -> None:
        conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=15)
        mine: list[Result] = []
        try:
            for p in work:
                if time.monotonic() > deadline:
                    break
                try:
                    conn.request(
                        p.method,
                        f"/{stage}{p.path}",
                        body=b"{}" if p.method == "POST" else None,
                        headers={"Authorization": f"Bearer {p.token}", "Content-Type": "application/json"},
                    )
                    resp = conn.getresponse()
                    resp.read()
                    mine.append(Result(p, resp.status, resp.getheader("x-amzn-RequestId")))
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=15)
                    mine.append(Result(p, 0, None, f"{type(e).__name__}: {e}"))
        finally:
            conn.close()
            with lock:
                results.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic() + 30))
    return results, time.monotonic() - started


def _audit_events(stack: LocalStack) -> list[dict[str, Any]]:
    logs = stack.client("logs")
    group = stack.spec.outputs[C.OUTPUT_AUDIT_LOG_GROUP]
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    while True:
        resp = logs.filter_log_events(**kwargs)
        out += [json.loads(e["message"]) for e in resp.get("events", [])]
        token = resp.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return out
        kwargs["nextToken"] = token


def test_mixed_load_through_the_local_gateway_decides_right_and_audits_every_request_once(
    stack: LocalStack,
) -> None:
    _add_tiny_client(stack)
    plan = _plan(stack, COUNT, seed=7)
    invoked: list[str] = []  # request ids the authorizer ran for (list.append is atomic)
    assert stack.authorizer is not None

    def record(call: Any, event: Any) -> Any:
        invoked.append(str(event["requestContext"]["requestId"]))
        return call(event)

    stack.authorizer.hook = record
    try:
        results, took = _run(stack, plan)
    finally:
        stack.authorizer.hook = None

    # Bounded and complete: every planned request was sent and answered before the deadline.
    errors = [r for r in results if r.error]
    assert not errors, f"{len(errors)} transport errors, e.g. {errors[:3]}"
    assert len(results) == COUNT, (
        f"{len(results)}/{COUNT} requests done in {took:.0f}s (deadline {DEADLINE:.0f}s)"
    )

    # No wrong decision, no unexpected status (500 in particular).
    by_kind = Counter((r.planned.kind, r.status) for r in results)
    wrong = [r for r in results if r.status not in EXPECTED[r.planned.kind]]
    assert not wrong, f"wrong answers: {Counter((r.planned.kind, r.status) for r in wrong)}; all: {by_kind}"
    assert by_kind[("over_rate", 429)] > 0, f"the tiny plan never throttled: {by_kind}"

    # Every request id once among the audit log group's access events, once the pipeline drained.
    ids = [r.request_id for r in results]
    assert None not in ids and len(set(ids)) == len(ids)
    wanted = set(ids)
    deadline = time.monotonic() + AUDIT_WAIT
    while True:
        stack.wait_for_pipeline(timeout=30)
        events = _audit_events(stack)
        access = Counter(e.get("request_id") for e in events if e.get("kind") == "access")
        missing = wanted - set(access)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not missing, f"{len(missing)} of {len(wanted)} requests are not in the audit log group"
    duplicated = {i: n for i, n in access.items() if i in wanted and n > 1}
    assert not duplicated, f"{len(duplicated)} requests audited more than once"
    # Once as a decision event exactly when the authorizer ran for the request.
    ran = set(invoked) & wanted
    assert ran and len(ran) == len([i for i in invoked if i in wanted]), (
        "the authorizer ran twice for a request"
    )
    deadline = time.monotonic() + AUDIT_WAIT
    while True:
        decisions = Counter(e.get("request_id") for e in events if e.get("kind") == "decision")
        if ran <= set(decisions) or time.monotonic() > deadline:
            break
        stack.wait_for_pipeline(timeout=30)
        events = _audit_events(stack)
    unaudited = ran - set(decisions)
    assert not unaudited, f"{len(unaudited)} of {len(ran)} authorizer runs have no decision event"
    twice = {i: n for i, n in decisions.items() if i in wanted and n > 1}
    assert not twice, f"{len(twice)} requests have more than one decision event"
    assert not (set(decisions) & wanted) - ran, (
        "a decision event for a request the authorizer did not run for"
    )
    # A decision event says what the caller got: never "allow" for a refused kind.
    refused_kinds = {
        r.request_id: r.planned.kind for r in results if r.planned.kind in ("expired", "forged", "wrong_role")
    }
    for e in events:
        if e.get("kind") == "decision" and e.get("request_id") in refused_kinds:
            assert e.get("decision") != "allow", e
    print(
        f"\nload: {COUNT} requests by {CLIENTS} clients in {took:.1f}s ({COUNT / took:.0f}/s); {dict(by_kind)}"
    )
