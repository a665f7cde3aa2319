"""The benchmark measures what Lambda does (bench/ours.py, bench/__main__.py, bench/cold_start.py).

Rows 3 and 4: GIVEN the benchmark's world (moto table, JWKS on a loopback server), WHEN the
request scenarios run, THEN ours is the handler the stack names, imported in a process set up as
the Lambda runtime sets one up, and called with a ``LambdaContext`` while ``_X_AMZN_TRACE_ID``
holds a fresh X-Ray trace header, which every audit line it writes carries; afterwards the process
is as it was (environment, ``sys.stdout``, ``sys.path``).

Row 5: GIVEN a child process, WHEN the cold start is timed, THEN the time runs from the spawn to the
child's answer (a byte on descriptor 3), not to its exit, the peak RSS still covers its whole life,
and a child that never answers is an error.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from awslambdaric.bootstrap import Unbuffered
from awslambdaric.lambda_context import LambdaContext
from moto import mock_aws

from bench import cold_start, ours
from bench.__main__ import per_request
from bench.common import Settings
from bench.world import World, build_world, role_table_server, token_claims
from edgeauth import constants as C
from edgeauth.adapters.stdout import line_writer
from tests.support.tokens import jwks, make_key, sign

TRACE_HEADER = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")


class FileSink:
    """Lambda's stdout (the runtime's ``Unbuffered`` wrapper) over a file the test reads back."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.stream = Unbuffered(self._f)
        self.write = line_writer(self.stream)

    def close(self) -> None:
        self._f.close()


@pytest.fixture
def endpoint() -> Iterator[str]:
    """The seeded role table on a moto server: the handler's own client reads it over HTTP."""
    with role_table_server() as url:
        yield url


@pytest.fixture
def world(tmp_path: Path, endpoint: str) -> Iterator[World]:
    with mock_aws():
        built = build_world(boto3.client("dynamodb", region_name="us-east-1"), new_tokens=8)
        built.sink.close()
        yield replace(built, sink=FileSink(tmp_path / "stdout"))  # type: ignore[arg-type]


def decision_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{") and '"event":"decision"' in line]


def test_rows_3_and_4_call_the_handler_with_a_fresh_trace_id_on_every_invocation(
    world: World, tmp_path: Path, endpoint: str
) -> None:
    environ_before, stdout_before, path_before = dict(os.environ), sys.stdout, list(sys.path)
    try:
        rows = per_request(world, Settings(quick=True, rounds=2, batch=2, cold_runs=1), endpoint)
    finally:
        gc.unfreeze()
        world.sink.close()
    assert [r.key for r in rows] == ["1", "1b", "1c", "2", "2b", "2c", "3", "4"]
    decisions = decision_lines(tmp_path / "stdout")
    # warm-up (1) + per case: a warm-up batch (1) + 2 rounds of 2; two cases
    assert len(decisions) == 1 + 2 * (1 + 2 * 2)
    traces = [d["xray_trace_id"] for d in decisions]
    assert all(isinstance(t, str) and TRACE_HEADER.fullmatch(t) for t in traces), traces
    assert len(set(traces)) > 1
    assert all(d["decision"] == "allow" and d["service"] == C.AUTHORIZER_SERVICE for d in decisions)
    # The process is as it was: no function environment, trace id or task root left behind.
    assert dict(os.environ) == environ_before
    assert sys.stdout is stdout_before and sys.path == path_before


def test_the_handler_is_the_stacks_entry_point_called_as_the_runtime_calls_it(
    world: World, tmp_path: Path, endpoint: str
) -> None:
    module_name, _, function_name = C.HANDLER_AUTHORIZER.rpartition(".")
    with (
        cold_start.jwks_server(world.jwks_body) as served,
        ours.lambda_process(
            ours.function_environment(jwks_uri=served.url, endpoint_url=endpoint), world.sink.stream
        ) as handler,
    ):
        assert handler is getattr(sys.modules[module_name], function_name)
        assert sys.stdout is world.sink.stream
        assert ours.TRACE_ENV not in os.environ  # the runtime sets it per invocation, not at init
        make = ours.invocations(world.event_source([world.repeat_token] * 3))
        seen: list[str] = []
        for _ in range(3):
            invocation = make()
            event, context = invocation
            assert event["requestContext"]["resourcePath"] == "/accounts/{id}"
            assert isinstance(context, LambdaContext) and context.get_remaining_time_in_millis() > 0
            seen.append(os.environ[ours.TRACE_ENV])
            ours.check_allows(ours.call(handler)(invocation))
        assert len(served.served) == 1  # the JWKS fetched once, by the first invocation
    world.sink.close()
    assert module_name not in sys.modules and ours.TRACE_ENV not in os.environ
    assert len(set(seen)) == 3 and all(TRACE_HEADER.fullmatch(t) for t in seen)
    assert [d["xray_trace_id"] for d in decision_lines(tmp_path / "stdout")] == seen


def test_cold_start_time_ends_at_the_childs_answer_and_its_peak_rss_covers_its_whole_life() -> None:
    # The child answers at once, then takes 64 MB and 3 s before it exits: neither the time to
    # exit nor the exit itself is in the measured time, the memory is in the peak.
    child = 'import os, time\nos.write(3, b"!")\nheld = b"x" * (64 << 20)\ntime.sleep(3)\n'
    run = cold_start.spawn(child, dict(os.environ))
    assert run.seconds < 3.0
    assert run.max_rss_kb >= 64 * 1024


def test_a_child_that_exits_without_answering_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="without answering"):
        cold_start.spawn("pass", dict(os.environ))


def test_the_cold_start_children_start_as_bare_as_lambdas_python() -> None:
    # No start-up file of this development environment runs in them (the editable install's finder,
    # setuptools' hack), and they find the code and the packages through PYTHONPATH only.
    child = (
        "import os, sys\n"
        "hooks = [m for m in sys.modules if m.startswith(('__editable__', '_distutils_hack'))]\n"
        "import authorizer.handler, boto3, awscrt\n"
        "assert not hooks and sys.prefix != sys.base_prefix, hooks\n"
        "assert not any(p.endswith('.pth') for d in sys.path if os.path.isdir(d) and d.startswith(sys.prefix)"
        " for p in os.listdir(d))\n"
        "os.write(3, b'!')\n"
    )
    key = make_key("RS256", "rs-1")
    with (
        cold_start.handler_env(jwks(key), sign(key, token_claims("jti-bare"))) as env,
        cold_start.lambda_like_python() as python,
    ):
        assert cold_start.spawn(child, env, python).max_rss_kb > 0
        # AND the development environment's own Python would not pass the same check
        with pytest.raises(RuntimeError):
            cold_start.spawn(child, env)


def test_both_cold_start_children_answer_under_the_runtime() -> None:
    # Outside mock_aws: the children read the table from a moto server.
    key = make_key("RS256", "rs-1")
    with cold_start.handler_env(jwks(key), sign(key, token_claims("jti-cold"))) as env:
        assert TRACE_HEADER.fullmatch(env["BENCH_TRACE_ID"]) and env["_HANDLER"] == C.HANDLER_AUTHORIZER
        # spawn raises unless the child answered (ours: only after an Allow) and exited with 0
        with cold_start.lambda_like_python() as python:
            ours_run = cold_start.spawn(cold_start.OURS, env, python)
            reference = cold_start.spawn(cold_start.REFERENCE, env, python)
    assert ours_run.max_rss_kb > 0 and reference.max_rss_kb > 0
