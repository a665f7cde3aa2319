"""``python -m bench.loadgen``: a small HTTP load generator, run as a second process by scenario 8.

``--connections`` threads each hold one keep-alive ``http.client`` connection to ``--url`` and send
``GET`` requests until ``--requests`` have been sent in all (or ``--max-seconds`` have passed: the
run is bounded in count and in time). Each request carries ``Authorization: Bearer <token>``: one
token for all (``--token``), or the next unused line of ``--tokens-file`` (every request a token
never sent before). ``--warmup`` requests per connection are sent first and not counted.

Prints one JSON object: requests sent and answered, statuses, wall seconds, requests per second,
and every latency in milliseconds (send to end of body), for the parent to pool across rounds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit


@dataclass(slots=True)
class LoadResult:
    requests: int
    seconds: float
    rps: float
    statuses: dict[str, int]
    errors: int
    latencies_ms: list[float] = field(default_factory=list)


def _tokens(token: str | None, tokens_file: str | None) -> Callable[[], str]:
    """A function returning the token of the next request (thread-safe)."""
    if tokens_file is None:
        fixed = token or ""
        return lambda: fixed
    with open(tokens_file, encoding="ascii") as f:
        pool = [line.strip() for line in f if line.strip()]
    lock = threading.Lock()
    it = iter(pool)

    def next_token() -> str:
        with lock:
            try:
                return next(it)
            except StopIteration:
                raise RuntimeError(f"{tokens_file}: out of tokens ({len(pool)})") from None

    return next_token


def run(
    url: str,
    *,
    requests: int,
    connections: int,
    warmup: int,
    max_seconds: float,
    next_token: Callable[[], str],
    timeout: float = 10.0,
) -> LoadResult:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    lock = threading.Lock()
    remaining = [requests]
    statuses: Counter[str] = Counter()
    errors = [0]
    latencies: list[float] = []
    ready = threading.Barrier(connections + 1)
    # Infinite until the main thread sets it after the barrier: a worker released by the barrier
    # can call take() before that, and with 0.0 it stopped at once (a run with no answers at all).
    deadline = [math.inf]

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or time.monotonic() > deadline[0]:
                return False
            remaining[0] -= 1
            return True

    def one(conn: http.client.HTTPConnection) -> tuple[int, float]:
        headers = {"Authorization": f"Bearer {next_token()}"}
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, (time.perf_counter() - t0) * 1e3

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        mine_s: Counter[str] = Counter()
        mine_l: list[float] = []
        mine_e = 0
        try:
            for _ in range(warmup):
                one(conn)
        finally:
            ready.wait()
        while take():
            try:
                status, ms = one(conn)
            except (OSError, http.client.HTTPException):
                mine_e += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
                continue
            mine_s[str(status)] += 1
            mine_l.append(ms)
        conn.close()
        with lock:
            statuses.update(mine_s)
            latencies.extend(mine_l)
            errors[0] += mine_e

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    deadline[0] = time.monotonic() + max_seconds
    for t in threads:
        t.join(max_seconds + timeout + 5)
    seconds = time.perf_counter() - started
    done = len(latencies)
    return LoadResult(
        done, seconds, done / seconds if seconds > 0 else 0.0, dict(statuses), errors[0], latencies
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    p.add_argument("--url", required=True, help="http://127.0.0.1:PORT/path")
    p.add_argument("--requests", type=int, default=500, help="requests to send in all (after warm-up)")
    p.add_argument("--connections", type=int, default=4, help="threads, one keep-alive connection each")
    p.add_argument("--warmup", type=int, default=2, help="uncounted requests per connection first")
    p.add_argument("--max-seconds", type=float, default=30.0, help="stop sending after this long")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--token", help="the same bearer token on every request")
    src.add_argument("--tokens-file", help="one token a line; every request takes the next one")
    args = p.parse_args(argv)
    if args.requests < 1 or args.connections < 1 or args.max_seconds <= 0:
        p.error("--requests, --connections and --max-seconds must be positive")
    result = run(
        args.url,
        requests=args.requests,
        connections=args.connections,
        warmup=args.warmup,
        max_seconds=args.max_seconds,
        next_token=_tokens(args.token, args.tokens_file),
    )
    json.dump(asdict(result), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
