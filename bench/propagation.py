"""Scenario 9, how fast role-table edits take effect at the gateway, on the local stack.

The whole local stack runs in this process (:func:`edgeauth_local.stack.start_stack`, the dev
template as synthesized: role cache 30 s, a look at the change log every 2 s, API Gateway's cache
300 s, the role-events function's event source mapping with its batch size and no window; usage
plans raised so that nothing answers 429), with the stream pollers on. Meanwhile a background
writer edits an unrelated role every :data:`CHURN_SECONDS` (a steady stream of edits, so every
trial's edit can find a batch in progress ahead of it).

Each trial: a token whose answer the gateway has cached (and whose roles the authorizer has), a
prober that calls the gateway with it every :data:`PROBE_SECONDS`, then the change; the sample is
the time from just before the write to the first answer of the new kind, confirmed by
:data:`CONFIRM_SECONDS` more of them (an old answer in between moves it on). Kinds, alternating
directions so every trial starts from the state the previous one left:

* ``9``: a role edit: the allow of a role the subject holds gains or loses the route (200 ↔ 403),
  written by the CLI's table writer (what ``roles apply`` does);
* ``9b``: a grant: the subject is granted the role or it is taken back (403 ↔ 200), as
  ``subjects grant`` / ``subjects revoke`` write it;
* ``9c``: ``edgeauth revoke`` (the CLI, in-process, ``--stack``, its own cache flush) until the
  token gets 401; each trial uses a new token, issued after the previous revocation;
* ``9d``: a bulk ``edgeauth roles apply`` of :data:`BULK_ITEMS` subjects (the churn paused): the
  time until the role-events function has taken in the whole stream, and the longest any one
  invocation held the shard.

No timing is asserted: the table says whether the targets (p95 ≤ 10 s; bulk ≤ 60 s) are met.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import itertools
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROBE_SECONDS = 0.05
CONFIRM_SECONDS = 1.0
CHURN_SECONDS = 0.5
TRIAL_TIMEOUT = 60.0
ROUTE_EDIT = ("GET", "/admin/config")
ROUTE_READ = ("GET", "/accounts")


@dataclass(frozen=True, slots=True)
class PropagationSettings:
    trials: int
    bulk_items: int

    @classmethod
    def make(cls, quick: bool) -> PropagationSettings:
        return cls(trials=2, bulk_items=200) if quick else cls(trials=20, bulk_items=1000)


BULK_ITEMS = PropagationSettings.make(quick=False).bulk_items


@dataclass(slots=True)
class PropagationResult:
    settings: PropagationSettings
    samples: dict[str, list[float]] = field(default_factory=dict)
    flip_backs: int = 0
    bulk_seconds: float = 0.0
    bulk_records: int = 0
    bulk_invocations: list[tuple[int, float]] = field(default_factory=list)
    check_seconds: int = 0


class Prober:
    """Calls the gateway with one token every :data:`PROBE_SECONDS` in a thread; keeps (time, status)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = urlsplit(url)
        self.token = token
        self.seen: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-prober", daemon=True)

    def status(self) -> int:
        conn = http.client.HTTPConnection(self.url.hostname or "127.0.0.1", self.url.port, timeout=15)
        try:
            conn.request("GET", self.url.path, headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self.status()
            self.seen.append((time.perf_counter(), status))
            self._stop.wait(PROBE_SECONDS)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def effective(self, since: float, new: int, timeout: float = TRIAL_TIMEOUT) -> tuple[float, int]:
        """Wait until ``new`` has been seen, confirmed for :data:`CONFIRM_SECONDS`; returns the time
        of the first ``new`` answer after the last other one (after ``since``), and how many times
        an old answer came back after a new one."""
        deadline = since + timeout
        while time.perf_counter() < deadline:
            after = [(t, s) for t, s in self.seen if t >= since]
            firsts = [t for t, s in after if s == new]
            if firsts and time.perf_counter() - firsts[0] >= CONFIRM_SECONDS:
                last_old = max((t for t, s in after if s != new), default=since)
                at = min(t for t, s in after if s == new and t > last_old)
                flips = sum(1 for (_, a), (_, b) in itertools.pairwise(after) if a == new and b != new)
                return at, flips
            time.sleep(PROBE_SECONDS)
        raise AssertionError(f"{self.url.path}: no {new} within {timeout:.0f} s (saw {self.seen[-5:]})")


def _url(stack: Any, route: tuple[str, str]) -> str:
    return f"{stack.urls.api.rstrip('/')}{route[1]}"


def _wait_status(url: str, token: str, status: int, timeout: float = TRIAL_TIMEOUT) -> None:
    """Until the gateway answers ``status`` twice in a row (the second from its cache)."""
    prober = Prober(url, token)
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        streak = streak + 1 if prober.status() == status else 0
        if streak >= 2:
            return
        time.sleep(PROBE_SECONDS)
    raise AssertionError(f"{url}: the gateway does not answer {status}")


class Churn:
    """Edits an unrelated role every :data:`CHURN_SECONDS` while running (a steady stream)."""

    def __init__(self, write: Callable[[int], None]) -> None:
        self._write = write
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.edits = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bench-churn", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def _run(self) -> None:
        while not self._stop.wait(CHURN_SECONDS):
            self.edits += 1
            self._write(self.edits)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The CLI's stdout and stderr (plans, notes) out of the benchmark's table."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def measure(s: PropagationSettings, log: Callable[[str], None] = lambda _m: None) -> PropagationResult:
    """Start the stack, run the trials, stop the stack."""
    from bench.gateway import unthrottled
    from edgeauth import constants as C
    from edgeauth.adapters.role_store import role_key, subject_key
    from edgeauth_cli.main import main as cli
    from edgeauth_cli.table_writer import Change, TableWriter, content, read_item
    from edgeauth_local.stack import start_stack
    from edgeauth_local.template import synthesize

    name, template = synthesize("dev")
    stack = start_stack(template=unthrottled(template), stack_name=name)
    try:
        assert stack.urls is not None
        issuer = stack.urls.issuer
        table = stack.spec.outputs[C.OUTPUT_ROLE_TABLE]
        ddb = stack.client("dynamodb")
        writer = TableWriter(ddb, table, "arn:aws:iam::000000000000:user/bench")
        poller = next(p for p in stack.pollers if p.spec.kind == "dynamodb")
        out = PropagationResult(s, check_seconds=int(stack.spec.outputs[C.OUTPUT_REVOCATION_CHECK_SECONDS]))

        def put(key: tuple[str, str], new: dict[str, Any] | None) -> None:
            writer.write([Change(key, read_item(ddb, table, key), new)])

        # The trials' subjects and roles, and the churn's role.
        put(role_key("bench-edit"), {C.ATTR_ALLOW: [" ".join(ROUTE_EDIT)]})
        put(role_key("bench-churn"), {C.ATTR_ALLOW: ["GET /accounts"], C.ATTR_DESCRIPTION: "0"})
        put(subject_key(issuer, "frank"), {C.ATTR_ROLES: ["bench-edit"]})
        put(subject_key(issuer, "grace"), {C.ATTR_ROLES: []})
        put(subject_key(issuer, "erin"), {C.ATTR_ROLES: ["reader"]})
        if not stack.wait_for_role_events(timeout=30):
            raise AssertionError("the role-events function did not take in the set-up edits")
        cli_base = ["--endpoint-url", stack.urls.moto, "--stack", name, "--output", "json"]

        def churn(n: int) -> None:
            key = role_key("bench-churn")
            old = read_item(ddb, table, key)
            put(key, {**content(old), C.ATTR_DESCRIPTION: str(n)})

        steady = Churn(churn)
        steady.start()
        rng = random.Random(9)  # noqa: S311 - the phase of a benchmark trial, not a secret

        def trial(kind: str, url: str, token: str, old: int, new: int, change: Callable[[], None]) -> None:
            _wait_status(url, token, old)
            time.sleep(rng.uniform(0.0, 1.0))  # any phase of the churn's batches
            with Prober(url, token) as prober:
                time.sleep(2 * PROBE_SECONDS)
                started = time.perf_counter()
                change()
                at, flips = prober.effective(started, new)
            out.samples.setdefault(kind, []).append(at - started)
            out.flip_backs += flips
            log(f"propagation {kind}: {at - started:.2f} s")

        def revoke() -> None:
            with _quiet():
                code = cli([*cli_base, "revoke", "--sub", "erin", "--iss", issuer])
            if code != 0:
                raise AssertionError(f"edgeauth revoke exited {code}")

        try:
            frank = stack.token("frank")
            grace = stack.token("grace")
            revoked_at = 0.0
            for i in range(s.trials):
                # Even trials take the route away from frank's role, odd ones give it back; even
                # trials grant grace the reader role, odd ones take it back.
                has = i % 2 == 0
                allow = [] if has else [" ".join(ROUTE_EDIT)]
                edit = functools.partial(put, role_key("bench-edit"), {C.ATTR_ALLOW: allow})
                trial("edit", _url(stack, ROUTE_EDIT), frank, 200 if has else 403, 403 if has else 200, edit)
                held = not has
                roles = [] if held else ["reader"]
                grant = functools.partial(put, subject_key(issuer, "grace"), {C.ATTR_ROLES: roles})
                before, after = (200, 403) if held else (403, 200)
                trial("grant", _url(stack, ROUTE_READ), grace, before, after, grant)
                # A new token for each revocation, issued after the previous one's not_before
                # (whole seconds: a token of the same second is revoked too).
                time.sleep(max(0.0, int(revoked_at) + 1.0 - time.time()))
                erin = stack.token("erin")
                trial("revoke", _url(stack, ROUTE_READ), erin, 200, 401, revoke)
                revoked_at = time.time()
        finally:
            steady.stop()

        # The bulk apply, the churn stopped so that the drain is the apply's own.
        if not stack.wait_for_role_events(timeout=60):
            raise AssertionError("the role-events function did not take in the churn")
        subjects = {f"bulk-{i:05d}": ["reader"] for i in range(s.bulk_items)}
        with tempfile.TemporaryDirectory(prefix="edgeauth-bench-") as tmp:
            path = Path(tmp) / "bulk.json"
            path.write_text(json.dumps({"subjects": {issuer: subjects}}))
            delivered = poller.delivered
            seen = len(poller.invocations)
            started = time.perf_counter()
            with _quiet():
                code = cli([*cli_base, "roles", "apply", str(path), "--yes"])
            if code != 0:
                raise AssertionError(f"edgeauth roles apply exited {code}")
            deadline = time.monotonic() + 600
            while poller.delivered - delivered < s.bulk_items or not (
                poller.drained() and poller.idle.is_set()
            ):
                if time.monotonic() > deadline:
                    raise AssertionError("the role table's stream was not drained within 600 s")
                time.sleep(0.05)
            out.bulk_seconds = time.perf_counter() - started
            out.bulk_records = poller.delivered - delivered
            out.bulk_invocations = list(poller.invocations)[seen:]
        return out
    finally:
        stack.stop()
