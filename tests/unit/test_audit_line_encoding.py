"""The audit line's hand-assembled JSON is byte-for-byte what encoding the same dict would give.

``decision_line`` builds its text from pre-encoded fragments for speed (docs/benchmarks.md). The
reference below is the straightforward implementation it replaced; both must agree on every input,
including values of unexpected types taken from a malformed event and hostile strings.
"""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.core import audit_line
from edgeauth.core.audit_line import (
    DecisionRecord,
    decision_line,
    line_prefix,
    principal_fragment,
    request_line,
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def reference_line(
    record: DecisionRecord, service: str = C.AUTHORIZER_SERVICE, now: float | None = None
) -> str:
    ts = time.time() if now is None else now
    ms = int(ts * 1000)
    body: dict[str, Any] = {
        "level": "INFO",
        "location": "edgeauth.audit",
        "message": C.AUDIT_DECISION_MESSAGE,
        "service": service,
        "audit_version": C.AUDIT_SCHEMA_VERSION,
        "event": "decision",
        "decision": record.decision,
        "reason": record.reason,
        "rule": record.rule,
        "iss": record.iss,
        "sub": record.sub,
        "kid": record.kid,
        "jti": record.jti,
        "client_id": record.client_id,
        "roles": record.roles,
        "method": record.method,
        "resource": record.resource,
        "path": record.path,
        "source_ip": record.source_ip,
        "request_id": record.request_id,
        "api_id": record.api_id,
        "stage": record.stage,
        "latency_ms": "<latency>",
        "Decisions": 1,
        "LatencyMs": "<latency>",
        "RoleCacheHit": 1 if record.role_cache_hit else 0,
        "xray_trace_id": record.xray_trace_id,
        "timestamp": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ts))}.{ms % 1000:03d}Z",
    }
    emf = json.dumps(
        [
            {
                "Namespace": C.METRICS_NAMESPACE,
                "Dimensions": [["decision", "reason"]],
                "Metrics": [
                    {"Name": "Decisions", "Unit": "Count"},
                    {"Name": "LatencyMs", "Unit": "Milliseconds"},
                    {"Name": "RoleCacheHit", "Unit": "Count"},
                ],
            }
        ],
        separators=(",", ":"),
    )
    # Milliseconds with three decimals (any other value as the encoder writes it).
    x = record.latency_ms
    latency = "%.3f" % x if type(x) is float and math.isfinite(x) else _dumps(x)  # noqa: UP031
    text = _dumps(body)[:-1].replace('"<latency>"', latency)
    return f'{text},"_aws":{{"Timestamp":{ms},"CloudWatchMetrics":{emf}}}}}'


STRINGS = [
    "",
    "alice",
    'a"b\\c',
    "line\nbreak\r\t\x00\x1f",
    "ünïcødé ☃ 𝄞",
    "\ud800 lone surrogate",
    '{"decision":"allow"}',
    "</script>",
    "x" * 300,
]
ODD_VALUES: list[Any] = [None, 42, 4.5, True, ["a", 1], {"k": "v"}, float("nan")]


def _value(rng: random.Random) -> Any:
    return rng.choice(STRINGS + ODD_VALUES) if rng.random() < 0.5 else rng.choice(STRINGS)


def _record(rng: random.Random) -> DecisionRecord:
    roles: Any = rng.choice([[], ["reader"], ["a", "b\n"], ["x", 3], ("t",)])
    latency: Any = rng.choice([0.0, 0.1234567, 12.5, 1e-9, 3, float("inf"), float("nan"), 1e21])
    return DecisionRecord(
        decision=rng.choice(["allow", "deny", "unauthorized", "error"]),
        reason=rng.choice(STRINGS),
        method=_value(rng),
        resource=_value(rng),
        path=_value(rng),
        source_ip=_value(rng),
        request_id=_value(rng),
        api_id=_value(rng),
        stage=_value(rng),
        rule=_value(rng),
        iss=_value(rng),
        sub=_value(rng),
        kid=_value(rng),
        jti=_value(rng),
        client_id=_value(rng),
        roles=roles,
        latency_ms=latency,
        role_cache_hit=rng.random() < 0.5,
        xray_trace_id=_value(rng),
    )


@pytest.mark.parametrize("seed", range(5))
def test_decision_line_matches_the_reference_encoding(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        record = _record(rng)
        now = rng.choice([1_700_000_000.0, 1_700_000_000.9995, 1_700_000_001.25, 1_699_999_999.9999999, 0.5])
        now += rng.random() * rng.choice([0, 1, 86_400])
        service = rng.choice([C.AUTHORIZER_SERVICE, "svc\n"])
        assert decision_line(record, service, now=now) == reference_line(record, service, now=now)


@pytest.mark.parametrize("seed", range(3))
def test_a_cached_principal_fragment_with_another_requests_fields_matches_the_reference(seed: int) -> None:
    # The authorizer keeps principal_fragment() of a decision and renders later requests of the
    # same token and route with request_line(): the line must be what the record would give.
    rng = random.Random(1000 + seed)
    for _ in range(300):
        first, later = _record(rng), _record(rng)
        shared = (
            "decision",
            "reason",
            "rule",
            "iss",
            "sub",
            "kid",
            "jti",
            "client_id",
            "roles",
            "method",
            "resource",
        )
        later = later._replace(**{name: getattr(first, name) for name in shared})
        now = 1_700_000_000.0 + rng.random() * 86_400
        service = rng.choice([C.AUTHORIZER_SERVICE, "svc\n"])
        line = request_line(
            line_prefix(principal_fragment(first), service),
            later.path,
            later.source_ip,
            later.request_id,
            later.api_id,
            later.stage,
            later.latency_ms,
            later.role_cache_hit,
            later.xray_trace_id,
            now,
        )
        assert line == reference_line(later, service, now=now)


def test_the_cached_second_never_leaks_into_another_second() -> None:
    record = DecisionRecord(decision="allow", reason="allowed")
    for now in (1_700_000_000.999, 1_700_000_001.0, 1_700_000_000.5, 1_800_000_000.0, 1_700_000_000.0):
        assert decision_line(record, now=now) == reference_line(record, now=now)
    assert audit_line._second[0] == 1_700_000_000


def test_the_line_is_one_json_object_with_the_audit_fields() -> None:
    line = decision_line(DecisionRecord(decision="deny", reason="explicit_deny", sub="a\nb", roles=["r"]))
    body = json.loads(line)
    assert "\n" not in line
    assert (body["decision"], body["reason"], body["sub"], body["roles"]) == (
        "deny",
        "explicit_deny",
        "a\nb",
        ["r"],
    )
    assert body["_aws"]["CloudWatchMetrics"][0]["Namespace"] == C.METRICS_NAMESPACE
