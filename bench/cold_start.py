"""Scenario 5, cold start: fresh processes, ours against "import boto3 and create a client".

Ours: a new interpreter does what the Lambda Python runtime does on a cold start (``sys.stdout``
wrapped in awslambdaric's ``Unbuffered``, the handler the stack names imported by the runtime's
own ``_get_handler``: init), then what it does for the first invocation (``_X_AMZN_TRACE_ID`` set,
a ``LambdaContext``, the event parsed) and calls the handler: the JWKS comes from a loopback HTTP
server started here, the roles from a moto server on 127.0.0.1 (``EDGEAUTH_ENDPOINT_URL``), the
audit line goes to ``/dev/null``. The reference process only imports boto3 and creates a DynamoDB
client, the least any Python authorizer reading a table with boto3 does; awscrt is hidden from it, as it
is from boto3 in Lambda's Python runtime. Both start as the runtime's process
starts (:data:`RUNTIME`: awslambdaric's modules loaded, ``sys.stdout`` wrapped), since in Lambda
both would run under it: about 25 ms and 2 MB of peak RSS in each here, which the two rows share.

Both run with the same interpreter, flags and environment, alternately, several times, in a Python
as bare as Lambda's (:func:`lambda_like_python`): a virtual environment of this interpreter without
pip or any ``.pth`` file, the task root and this environment's installed packages on ``PYTHONPATH``
(as Lambda puts ``/var/task`` there). Not this development environment's own Python: its start-up
runs the editable install's finder and setuptools' ``_distutils_hack``, which Lambda has not, and the
objects they allocate move the cyclic collector's runs; measured, that alone moved the reference by
about 18 ms (row 5: 0.52× → 0.55× in full runs), all of it in garbage collection while its
client was created. The time is
what a caller waits for: the wall clock from just before the spawn to the child's answer, which it
signals by writing a byte to a pipe (descriptor 3) as soon as the handler has returned (the
reference: as soon as its client exists); the interpreter's exit is not counted. The memory is the
child's peak RSS over its whole life (``ru_maxrss`` from ``wait4``).
"""

from __future__ import annotations

import http.server
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.ours import FUNCTION_ARN, TASK_ROOT, TIMEOUT_MS, TRACE_ENV, function_environment, trace_header
from bench.world import REGION, ROLE_TABLE, World, event_for, seed_table
from tests.support.dynamo import create_role_table
from tests.support.dynamo_server import reset, start_moto

#: The descriptor on which a measured child writes one byte when it has answered.
ANSWER_FD = 3

#: What the Lambda Python runtime has done in any function's process before the handler's init:
#: its own modules loaded (awslambdaric's bootstrap and context) and ``sys.stdout`` wrapped. Both
#: children start with it, as both would run under that runtime in Lambda.
RUNTIME = """
import json, os, sys, time, uuid
from awslambdaric.bootstrap import Unbuffered, _get_handler, update_xray_env_variable
from awslambdaric.lambda_context import LambdaContext
sys.stdout = Unbuffered(sys.stdout)
"""


def ours(answer_fd: int = ANSWER_FD) -> str:
    """Init (the handler the stack names, imported by the runtime's own resolution), then the first
    invocation as the runtime makes it (trace id, context, event) and the answer: a byte written to
    ``answer_fd`` (the launcher's pipe; ``1`` where a child answers on its stdout)."""
    return (
        RUNTIME
        + f"""
handler = _get_handler(os.environ["_HANDLER"])
update_xray_env_variable(os.environ["BENCH_TRACE_ID"])
deadline_ms = int(time.time() * 1000) + {TIMEOUT_MS}
context = LambdaContext(str(uuid.uuid4()), None, None, deadline_ms, {FUNCTION_ARN!r})
answer = handler(json.loads(os.environ["BENCH_EVENT"]), context)
if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
    sys.exit(3)
os.write({answer_fd}, b"!")
"""
    )


#: The measured child of row 5 (:func:`ours`, answering on :data:`ANSWER_FD`).
OURS = ours()

#: The least any Python authorizer reading a table with boto3 does: boto3 imported, a DynamoDB client
#: made. It runs as in Lambda's Python runtime, whose boto3 comes without awscrt: botocore imports
#: ``awscrt.auth`` whenever it can (and then signs with it), which would add awscrt's load time and
#: memory to the reference from this virtualenv, where the authorizer's awscrt is installed.
REFERENCE = (
    RUNTIME
    + f"""
sys.modules["awscrt"] = None  # not importable: botocore's own signer, as in Lambda's runtime
import boto3
client = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["BENCH_ENDPOINT"])
os.write({ANSWER_FD}, b"!")
"""
)


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    body = b""
    served: list[str]

    def do_GET(self) -> None:
        self.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True, slots=True)
class JwksServer:
    url: str
    """The JWKS document's URL (``http://127.0.0.1:<port>/…``)."""
    served: list[str]
    """The path of every request answered so far."""


@contextmanager
def jwks_server(body: bytes) -> Iterator[JwksServer]:
    """``body`` served as the JWKS on a loopback HTTP server for the duration of the block."""
    served: list[str] = []
    handler = type("Handler", (_JwksHandler,), {"body": body, "served": served})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield JwksServer(f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", served)
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port) for the duration of the block, its URL yielded."""
    server, url = start_moto()
    # moto's state is the process's, not the server's: start from empty even if an earlier server
    # of this process (another test, another run) left tables behind.
    reset(url)
    try:
        yield url
    finally:
        server.stop()


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    """From just before the spawn to the child's answer (the byte on :data:`ANSWER_FD`)."""
    max_rss_kb: int
    """The child's peak RSS over its whole life, exit included."""


# The measured child is started by this small launcher, not by the benchmark process itself: on Linux
# a child's ru_maxrss starts from the RSS of the process it was forked from (kept across execve), and
# the benchmark process is large (moto, boto3). The launcher is small, so the child's own peak shows.
# The clock stops when the child's byte arrives on the pipe: the launcher is blocked in read() until
# then and wakes at once; it then waits for the exit only to read the peak RSS.
LAUNCHER = f"""
import json, os, sys, time
answer_r, answer_w = os.pipe()
t0 = time.perf_counter()
pid = os.posix_spawn(
    sys.executable, [sys.executable, "-c", sys.argv[1]], os.environ,
    file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, answer_w, {ANSWER_FD}),
    ],
)
os.close(answer_w)  # the child's end only: read() sees end-of-file if it exits without answering
answered = os.read(answer_r, 1) == b"!"
dt = time.perf_counter() - t0
_, status, usage = os.wait4(pid, 0)
print(json.dumps({{
    "seconds": dt, "answered": answered, "max_rss_kb": usage.ru_maxrss,
    "exit": os.waitstatus_to_exitcode(status),
}}))
"""


@contextmanager
def lambda_like_python() -> Iterator[str]:
    """The path of a Python that starts as bare as Lambda's: a virtual environment of this
    interpreter (the standard library's ``venv``, no pip, no ``.pth`` file, no system packages) in
    a temporary directory, removed after the block. Its children find the code and the packages
    through ``PYTHONPATH`` (:func:`handler_env`)."""
    with tempfile.TemporaryDirectory(prefix="edgeauth-cold-") as directory:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(directory)
        yield os.path.join(directory, "bin", "python")


def package_dirs() -> list[str]:
    """Where this environment's packages are installed (site-packages), for ``PYTHONPATH``."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(p for p in (paths["purelib"], paths["platlib"]) if p))


def spawn(code: str, env: dict[str, str], python: str = sys.executable) -> Run:
    """Run ``code`` in a fresh ``python``; wall time from spawn to its answer, and its peak RSS.

    ``code`` answers by writing one byte to descriptor :data:`ANSWER_FD`; a child that exits
    without answering, or with a status other than 0, raises ``RuntimeError``. The launcher runs
    with ``python`` too, and starts the child with its own executable."""
    proc = subprocess.run(
        [python, "-c", LAUNCHER, code], env=env, capture_output=True, text=True, check=False
    )
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = {"exit": -1}
    if proc.returncode != 0 or result.get("exit") != 0:
        raise RuntimeError(f"cold-start child failed ({result.get('exit')}): {proc.stderr[-2000:]}")
    if not result.get("answered"):
        raise RuntimeError(f"cold-start child exited without answering: {proc.stderr[-2000:]}")
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
    """The environment of a process that runs the authorizer's handler as Lambda would, with the
    servers it needs running: the function's environment (:func:`bench.ours.function_environment`;
    the task root, then this environment's packages, on ``PYTHONPATH``), the JWKS (``jwks_body``) on a loopback server, the seeded role
    table on a moto server. ``BENCH_EVENT`` is an event presenting ``token``, ``BENCH_TRACE_ID`` the
    trace header the runtime sets for that invocation."""
    import boto3

    with jwks_server(jwks_body) as jwks, moto_server() as endpoint:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        create_role_table(client, ROLE_TABLE)
        seed_table(client)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("EDGEAUTH_", "POWERTOOLS_", "PYTHON")) and k != TRACE_ENV
        }
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "BENCH_ENDPOINT": endpoint,
                "PYTHONPATH": os.pathsep.join([str(TASK_ROOT), *package_dirs()]),
            }
        )
        env.update(function_environment(jwks_uri=jwks.url, endpoint_url=endpoint))
        env["BENCH_EVENT"] = json.dumps(event_for(token))
        env["BENCH_TRACE_ID"] = trace_header()
        yield env


def measure(world: World, runs: int) -> ColdStart:
    """Start the servers, seed the moto server's table, then alternate the two children (each in a
    :func:`lambda_like_python`)."""
    with handler_env(world.jwks_body, world.repeat_token) as base, lambda_like_python() as python:
        # One untimed run of each: bytecode caches and the page cache are warm for every timed run.
        spawn(OURS, base, python)
        spawn(REFERENCE, base, python)
        result = ColdStart([], [])
        for i in range(runs):
            pair = [(OURS, result.ours), (REFERENCE, result.reference)]
            for code, out in pair if i % 2 == 0 else reversed(pair):
                out.append(spawn(code, base, python))
        return result
