"""The authorizer's cold start, as Lambda runs it: a fresh interpreter imports the handler and answers.

GIVEN the JWKS on a loopback server and the role table on moto's server, WHEN a new interpreter
imports ``authorizer.handler`` and answers its first request, THEN the answer is an Allow (the
roles were read from the table) and neither boto3 nor botocore was ever imported: the role table
was read by ``edgeauth.adapters.dynamodb`` over awscrt. Nor ``dataclasses`` (with ``inspect``: about
15 ms of a cold start), nor, for an RSA key, ``cryptography``'s EC and EdDSA modules. The cyclic
collector is off from the import to the end of the first answer, then on again with what the cold
start built frozen (out of every later collection's walk).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.cold_start import handler_env
from bench.world import token_claims
from tests.support.tokens import jwks, make_key, sign


def run_child(code: str, jti: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter as a new container (the JWKS and the role table served,
    the event carrying a token with ``jti``); what it printed last, as JSON."""
    key = make_key("RS256", "rs-1")
    with handler_env(jwks(key), sign(key, token_claims(jti))) as env:
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


CHILD = """
import json, os, sys
UNWANTED = {
    "dataclasses",
    "inspect",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.hazmat.primitives.asymmetric.ed448",
}
import gc
freezes = []
_freeze = gc.freeze
gc.freeze = lambda: (freezes.append(gc.isenabled()), _freeze())
from authorizer.handler import handler
collecting_at_init = gc.isenabled()

class Context:  # what the Lambda runtime passes: the invocation's remaining time
    def get_remaining_time_in_millis(self):
        return 3000

event = json.loads(os.environ["BENCH_EVENT"])
answer = handler(event, Context())
collecting, frozen = gc.isenabled(), gc.get_freeze_count()
again = handler(event, Context())
print(json.dumps({
    "collecting_at_init": collecting_at_init,
    "collecting": collecting,
    "frozen": frozen,
    "freezes": freezes,
    "again": again["policyDocument"]["Statement"][0]["Effect"],
    "effect": answer["policyDocument"]["Statement"][0]["Effect"],
    "roles": answer["context"].get("roles"),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "awscrt", "s3transfer")),
    "unwanted": sorted(m for m in sys.modules if m in UNWANTED),
}))
"""


def test_the_first_answer_of_a_new_container_never_imports_boto3_or_botocore() -> None:
    result = run_child(CHILD, "jti-cold")
    assert result["effect"] == "Allow" and result["roles"]
    top = {m.split(".")[0] for m in result["modules"]}
    assert "boto3" not in top and "botocore" not in top and "s3transfer" not in top, result["modules"]
    assert "awscrt" in top  # the table was read through the authorizer's own client
    assert result["unwanted"] == [], result["unwanted"]
    # AND the collector was off through init and the first answer, on after it, with the cold
    # start's objects frozen once, before the collector came back (a second invocation freezes
    # nothing more)
    assert result["collecting_at_init"] is False
    assert result["collecting"] is True
    assert result["frozen"] > 10_000
    assert result["freezes"] == [False] and result["again"] == "Allow"


FIRST_REFUSED = """
import gc, json, os
from authorizer.handler import handler
event = json.loads(os.environ["BENCH_EVENT"])
forged = "Bearer not.a.token"
refused = dict(
    event,
    headers=dict(event["headers"], Authorization=forged),
    multiValueHeaders=dict(event["multiValueHeaders"], Authorization=[forged]),
)
try:
    handler(refused, None)
    outcome = "answered"
except Exception as e:  # API Gateway's 401: the handler raises Unauthorized
    outcome = str(e)
collecting, frozen = gc.isenabled(), gc.get_freeze_count()
answer = handler(event, None)
print(json.dumps({
    "outcome": outcome,
    "collecting": collecting,
    "frozen": frozen,
    "then": answer["policyDocument"]["Statement"][0]["Effect"],
}))
"""


def test_a_first_invocation_that_refuses_still_turns_the_collector_back_on() -> None:
    # GIVEN a new container WHEN its first request is refused (a 401: the handler raises)
    result = run_child(FIRST_REFUSED, "jti-cold-refused")
    # THEN the refusal was the 401, the collector is on again with the cold start frozen, and the
    # next request is answered
    assert result["outcome"] == "Unauthorized"
    assert result["collecting"] is True and result["frozen"] > 10_000
    assert result["then"] == "Allow"
