"""Scenario 5, cold start: fresh processes, ours against "import boto3 and create a client".

Ours: a new interpreter imports ``authorizer.handler`` (init, as Lambda does) and answers its first
request: the JWKS comes from a loopback HTTP server started here, the roles from a moto server on
127.0.0.1 (``EDGEAUTH_ENDPOINT_URL``, read by the authorizer's own client: no boto3), the audit
line goes to ``/dev/null``. The reference process only imports boto3 and creates a DynamoDB client,
the least any Python authorizer reading a table with boto3 does; awscrt is hidden from it, as it
is from boto3 in Lambda's Python runtime. Both run with the same interpreter, flags and environment, alternately, several times; the
time is the wall clock from spawn to exit seen by this process, and the memory is the child's peak
RSS (``ru_maxrss`` from ``wait4``).
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.world import REGION, ROLE_TABLE, World, authorizer_env, event_for, seed_table
from tests.support.dynamo import create_role_table

ROOT = Path(__file__).resolve().parent.parent

OURS = """
import json, os, sys
from authorizer.handler import handler
answer = handler(json.loads(os.environ["BENCH_EVENT"]), None)
if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
    sys.exit(3)
"""

# The reference runs as in Lambda's Python runtime, whose boto3 comes without awscrt: botocore
# imports ``awscrt.auth`` whenever it can (and then signs with it), which would add awscrt's load
# time and memory to the reference from this virtualenv, where the authorizer's awscrt is installed.
REFERENCE = """
import sys
sys.modules["awscrt"] = None  # not importable: botocore's own signer, as in Lambda's runtime
import os
import boto3
client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["BENCH_ENDPOINT"])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def jwks_server(body: bytes) -> Iterator[str]:
    handler = type("Handler", (_JwksHandler,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    max_rss_kb: int


# The measured child is started by this small launcher, not by the benchmark process itself: on Linux
# a child's ru_maxrss starts from the RSS of the process it was forked from (kept across execve), and
# the benchmark process is large (moto, boto3). The launcher is small, so the child's own peak shows.
LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(
    sys.executable, [sys.executable, "-c", sys.argv[1]], os.environ,
    file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
)
_, status, usage = os.wait4(pid, 0)
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "max_rss_kb": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}))
"""


def spawn(code: str, env: dict[str, str]) -> Run:
    """Run ``code`` in a fresh interpreter; wall time from spawn to exit, and its peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, code], env=env, capture_output=True, text=True, check=False
    )
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = {"exit": -1}
    if proc.returncode != 0 or result.get("exit") != 0:
        raise RuntimeError(f"cold-start child failed ({result.get('exit')}): {proc.stderr[-2000:]}")
    return Run(float(result["seconds"]), int(result["max_rss_kb"]))


@dataclass(slots=True)
class ColdStart:
    ours: list[Run]
    reference: list[Run]

    @staticmethod
    def _median(runs: list[Run], attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in runs))

    def time_ratio(self) -> float:
        return self._median(self.ours, "seconds") / self._median(self.reference, "seconds")

    def rss_ratio(self) -> float:
        return self._median(self.ours, "max_rss_kb") / self._median(self.reference, "max_rss_kb")


@contextmanager
def handler_env(jwks_body: bytes, token: str) -> Iterator[dict[str, str]]:
    """The environment of a process that runs ``authorizer.handler`` as Lambda would, with the
    servers it needs running: the JWKS (``jwks_body``) on a loopback server, the seeded role table
    on a moto server. ``BENCH_EVENT`` is an event presenting ``token``."""
    import boto3

    with jwks_server(jwks_body) as jwks_url, moto_server() as endpoint:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        create_role_table(client, ROLE_TABLE)
        seed_table(client)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("EDGEAUTH_", "POWERTOOLS_", "PYTHON")) and k != "_X_AMZN_TRACE_ID"
        }
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "BENCH_ENDPOINT": endpoint,
                "PYTHONPATH": str(ROOT / "functions"),
                "POWERTOOLS_SERVICE_NAME": "edgeauth-authorizer",
            }
        )
        env.update(authorizer_env(jwks_uri=jwks_url, endpoint_url=endpoint))
        env["BENCH_EVENT"] = json.dumps(event_for(token))
        yield env


def measure(world: World, runs: int) -> ColdStart:
    """Start the servers, seed the moto server's table, then alternate the two children."""
    with handler_env(world.jwks_body, world.repeat_token) as base:
        # One untimed run of each: bytecode caches and the page cache are warm for every timed run.
        spawn(OURS, base)
        spawn(REFERENCE, base)
        result = ColdStart([], [])
        for i in range(runs):
            pair = [(OURS, result.ours), (REFERENCE, result.reference)]
            for code, out in pair if i % 2 == 0 else reversed(pair):
                out.append(spawn(code, base))
        return result
