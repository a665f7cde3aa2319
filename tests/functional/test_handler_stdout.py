"""The authorizer handler's audit lines on stdout as the Lambda runtime sets stdout up.

GIVEN a fresh process whose ``sys.stdout`` is wrapped in awslambdaric's ``Unbuffered`` before the
handler module is imported (what ``awslambdaric.bootstrap.run`` does), the JWKS on a loopback
server and the role table on a moto server, WHEN the handler answers requests between the
runtime's own writes to stdout, THEN every audit line arrives whole, as one JSON object per line,
in order with those writes.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.cold_start import handler_env
from bench.world import token_claims
from tests.support.tokens import jwks, make_key, sign

CHILD = """
import json, os, sys
from awslambdaric.bootstrap import Unbuffered
sys.stdout = Unbuffered(sys.stdout)
print("runtime: init")
from authorizer.handler import handler
event = json.loads(os.environ["BENCH_EVENT"])
for i in range(3):
    answer = handler(event, None)
    print("runtime: answered", answer["policyDocument"]["Statement"][0]["Effect"])
"""


def test_audit_lines_reach_stdout_whole_and_in_order_under_the_lambda_runtimes_stdout() -> None:
    key = make_key("RS256", "rs-1")
    with handler_env(jwks(key), sign(key, token_claims("jti-stdout"))) as env:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "runtime: init"
    # Each answer is preceded by its audit line (after the first, by the JWKS fetch metric too).
    decisions = [i for i, line in enumerate(lines) if line.startswith("{") and '"event":"decision"' in line]
    answered = [i for i, line in enumerate(lines) if line == "runtime: answered Allow"]
    assert len(decisions) == len(answered) == 3
    assert all(d == a - 1 for d, a in zip(decisions, answered, strict=True))
    for i in decisions:
        record = json.loads(lines[i])
        assert record["decision"] == "allow" and record["jti"] == "jti-stdout"
    assert all(line.startswith(("runtime: ", "{")) for line in lines), lines
