"""Scenario 8, the local gateway under load: requests per second and p50/p99 latency.

The whole local stack runs in this process (:func:`edgeauth_local.stack.start_stack`, ephemeral
ports on 127.0.0.1: moto server, development identity provider, demo backend, in-process
authorizer, gateway), on a variant of the dev template whose usage plans and stage throttles are
too high to bind (the default key's plan, 10 rps with a burst of 20, would answer 429 to most of the
load). The stream pollers (audit consumer, role events) are off: they are background work, not the
request path.

The load comes from a second process, :mod:`bench.loadgen` (keep-alive ``http.client`` connections
from a few threads, bounded in count and time), with ``GET /accounts`` as ``alice`` (admin):

* ``cached``: the gateway with the authorizer's answer cached (same token and route; the cache is
  primed before the run, and the authorizer must not be invoked during it);
* ``authorizer``: every request reaches the authorizer (each carries a token never sent before,
  minted beforehand: a gateway cache miss, and a new token for the authorizer, signature checked);
* ``backend``: the same load straight to the demo backend.

The three run one after the other in each round, rotating the order; every answer must be 200.
rps is per round (ratios to the backend are paired per round, their median reported); p50/p99 pool
the latencies of all rounds. Note that the gateway, the authorizer and the backend share this
process and its GIL (two Python HTTP servers for every gateway request), and the load generator
shares the machine's cores.
"""

from __future__ import annotations

import copy
import http.client
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SUBJECT = "alice"
ROUTE = "accounts"
MODES = ("cached", "authorizer", "backend")
HIGH_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class LoadSettings:
    rounds: int
    requests: int
    connections: int
    warmup: int = 2
    max_seconds: float = 60.0

    @classmethod
    def make(cls, quick: bool) -> LoadSettings:
        if quick:
            return cls(rounds=1, requests=200, connections=4, warmup=2, max_seconds=20.0)
        return cls(rounds=5, requests=600, connections=8, warmup=2, max_seconds=60.0)


@dataclass(slots=True)
class ModeSamples:
    rps: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0


@dataclass(slots=True)
class GatewayResult:
    settings: LoadSettings
    modes: dict[str, ModeSamples]
    authorizer_calls: dict[str, int]

    def rps_ratio(self, mode: str) -> float:
        """Median over rounds of ``rps(mode) / rps(backend)``."""
        import statistics

        pairs = zip(self.modes[mode].rps, self.modes["backend"].rps, strict=True)
        return statistics.median(a / b for a, b in pairs)


def unthrottled(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` whose usage plans and stage method throttles never bind."""
    t = copy.deepcopy(template)
    for res in t["Resources"].values():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::ApiGateway::UsagePlan":
            props["Throttle"] = {"RateLimit": HIGH_LIMIT, "BurstLimit": HIGH_LIMIT}
            props["Quota"] = {"Limit": HIGH_LIMIT * 100, "Period": "DAY"}
            for stage in props.get("ApiStages") or []:
                stage.pop("Throttle", None)
        elif res.get("Type") == "AWS::ApiGateway::Stage":
            for ms in props.get("MethodSettings") or []:
                if "ThrottlingRateLimit" in ms or "ThrottlingBurstLimit" in ms:
                    ms["ThrottlingRateLimit"] = HIGH_LIMIT
                    ms["ThrottlingBurstLimit"] = HIGH_LIMIT
    return t


def _get(url: str, token: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=15)
    try:
        conn.request("GET", parts.path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _loadgen(url: str, s: LoadSettings, source: list[str]) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--requests",
        str(s.requests),
        "--connections",
        str(s.connections),
        "--warmup",
        str(s.warmup),
        "--max-seconds",
        str(s.max_seconds),
        *source,
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=s.max_seconds + 60, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed ({proc.returncode}): {proc.stderr[-2000:]}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    if doc["errors"] or doc["statuses"] != {"200": s.requests}:
        raise AssertionError(
            f"{url}: expected {s.requests} answers 200, got {doc['statuses']} and {doc['errors']} errors"
        )
    return doc


def measure(s: LoadSettings, log: Callable[[str], None] = lambda _m: None) -> GatewayResult:
    """Start the stack, run ``s.rounds`` rounds of the three loads, stop the stack."""
    from edgeauth_local.stack import start_stack
    from edgeauth_local.template import synthesize

    name, template = synthesize("dev")
    stack = start_stack(template=unthrottled(template), stack_name=name, pollers=False)
    try:
        assert stack.urls is not None and stack.authorizer is not None
        runtime = stack.authorizer
        api = f"{stack.urls.api}{ROUTE}"
        backend = f"{stack.urls.backend}/{ROUTE}"
        token = stack.token(SUBJECT)
        # Prime: JWKS, roles, the gateway's cache for this token and route, the backend connection.
        for _ in range(2):
            if (status := _get(api, token)) != 200:
                raise AssertionError(f"GET {api} as {SUBJECT}: {status}, expected 200")
        per_run = s.requests + s.warmup * s.connections
        out = GatewayResult(s, {m: ModeSamples() for m in MODES}, {m: 0 for m in MODES})
        with tempfile.TemporaryDirectory(prefix="edgeauth-bench-") as tmp:
            for r in range(s.rounds):
                tokens = Path(tmp) / f"tokens-{r}.txt"
                tokens.write_text("".join(stack.token(SUBJECT) + "\n" for _ in range(per_run)))
                sources: dict[str, tuple[str, list[str]]] = {
                    "cached": (api, ["--token", token]),
                    "authorizer": (api, ["--tokens-file", str(tokens)]),
                    "backend": (backend, ["--token", token]),
                }
                for mode in MODES[r % 3 :] + MODES[: r % 3]:
                    url, source = sources[mode]
                    calls = runtime.invocations
                    doc = _loadgen(url, s, source)
                    out.authorizer_calls[mode] += runtime.invocations - calls
                    m = out.modes[mode]
                    m.rps.append(float(doc["rps"]))
                    m.latencies_ms.extend(float(x) for x in doc["latencies_ms"])
                    m.requests += int(doc["requests"])
                    log(f"gateway round {r + 1}/{s.rounds} {mode}: {doc['rps']:.0f} rps")
        if out.authorizer_calls["cached"] or out.authorizer_calls["backend"]:
            raise AssertionError(
                f"the authorizer ran during a cached or backend load: {out.authorizer_calls}"
            )
        if out.authorizer_calls["authorizer"] < s.rounds * per_run:
            raise AssertionError(
                f"{out.authorizer_calls['authorizer']} authorizer calls for {s.rounds * per_run} new tokens"
            )
        return out
    finally:
        stack.stop()
