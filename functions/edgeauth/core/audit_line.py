"""The authorizer's audit line: one JSON object per decision, on stdout.

Shape. The line has the keys of a Powertools Logger record (``level``, ``location``, ``message``,
``timestamp``, ``service``, ``xray_trace_id``) so that it reads like every other log line of the
function, plus the audit fields below at the top level, plus an Embedded Metric Format (EMF) block
(``_aws``) so that CloudWatch extracts the decision metrics from the same line:

=================  ==========================================================================
key                meaning
=================  ==========================================================================
audit_version      :data:`edgeauth.constants.AUDIT_SCHEMA_VERSION`
event              always ``"decision"``
decision           ``allow`` | ``deny`` (RBAC, 403) | ``unauthorized`` (401) | ``error`` (500)
reason             stable reason code (``allowed``, ``explicit_deny``, ``inheritance_too_deep``,
                   ``no_matching_permission``, ``no_roles``, ``expired``, ``bad_signature``, ... see
                   docs/authorizer.md "Reason codes")
rule               the permission that decided (``role:allow:GET /accounts/{id}``), the inherit
                   link not followed for ``inheritance_too_deep`` (``role:inherit:parent``), or null
iss, sub, kid,     from the token, only once its signature is verified (null otherwise, except
jti, client_id     ``kid`` and ``iss`` which are recorded as presented when verification failed)
roles              effective role names (list)
method, resource   ``requestContext.httpMethod`` and ``requestContext.resourcePath``
path               the request path
source_ip, request_id, api_id, stage
latency_ms         time spent in the authorizer for this decision
Decisions,         EMF metric values (namespace ``EdgeAuth``, dimensions ``[decision, reason]``)
LatencyMs,
RoleCacheHit
=================  ==========================================================================

Why not ``Logger.info``: Powertools' Logger costs about twice a signature check per line, which
alone would break the authorizer's latency budget (see docs/benchmarks.md). This module writes the
same structured shape directly. Powertools stays in use for every other log line and metric, except
the rare JWKS fetch metric, written by :func:`metric_line` so that the first request does not import
Powertools' metrics (cold-start memory).

Strings are emitted with the ``json`` module's own C string encoder (``encode_basestring_ascii``,
what ``json.dumps(..., ensure_ascii=True)`` uses), so a value cannot break out of its field (no
newline or quote injection); any value that is not a plain string, ``None`` or float goes through
``json.dumps`` itself. The token, its signature and any secret are never passed here.

Speed. The line is assembled from pre-encoded constant fragments instead of building a dict and
encoding it (byte-for-byte the same text, checked by ``tests/unit/test_audit_line_encoding.py``),
and the ``timestamp``'s date-time part is formatted once per second: together about 4× cheaper,
which is a large share of the per-request budget (docs/benchmarks.md). Key order: the fields
that are the same for every request of one token on one route come first (``level`` … ``resource``,
:func:`line_prefix`, kept with a remembered answer), then the request's own, ``xray_trace_id``,
``timestamp`` and the EMF block ``_aws`` last (EMF does not need it first; JSON has no key order).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from edgeauth import constants as C

_EMF_METRICS = json.dumps(
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

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


class DecisionRecord(NamedTuple):
    """Everything the audit line says about one decision."""

    decision: str
    reason: str
    method: str | None = None
    resource: str | None = None
    path: str | None = None
    source_ip: str | None = None
    request_id: str | None = None
    api_id: str | None = None
    stage: str | None = None
    rule: str | None = None
    iss: str | None = None
    sub: str | None = None
    kid: str | None = None
    jti: str | None = None
    client_id: str | None = None
    roles: Sequence[str] = ()
    latency_ms: float = 0.0
    role_cache_hit: bool = False
    xray_trace_id: str | None = None


# The C encoder (``c_encode_basestring_ascii``); raises TypeError for anything but a str.
_str: Callable[[Any], str] = json.encoder.encode_basestring_ascii
_INF = float("inf")


def _json(value: Any) -> str:
    """``value`` as ``_dumps`` renders it (fast paths for str and None)."""
    if value.__class__ is str:
        text: str = _str(value)
        return text
    if value is None:
        return "null"
    return _dumps(value)


def string_list(values: Any) -> str:
    """A list of strings as ``_dumps`` renders it (any other value too), for :func:`roles_tail`."""
    if values.__class__ is list and all(v.__class__ is str for v in values):
        return "[" + ",".join([_str(v) for v in values]) + "]"
    return _dumps(values)


_EVENT = f',"audit_version":{_dumps(C.AUDIT_SCHEMA_VERSION)},"event":"decision","decision":'
_LINE_START = '{"level":"INFO","location":"edgeauth.audit","message":' + _str(C.AUDIT_DECISION_MESSAGE)
_SERVICE_FIELD = ',"service":' + _str(C.AUTHORIZER_SERVICE)
_EMF_TAIL = ',"CloudWatchMetrics":' + _EMF_METRICS + "}}"
# '123Z"' for every millisecond, five characters each: a slice instead of a format per line
# (one 5 KB string rather than a list of 1,000: cold-start memory, docs/benchmarks.md).
_MILLIS = "".join(f'{i:03d}Z"' for i in range(1000))
# (second, "YYYY-MM-DDTHH:MM:SS.") of the last line: the date-time part changes once a second.
_second: tuple[int, str] = (-1, "")


def decision_line(
    record: DecisionRecord, service: str = C.AUTHORIZER_SERVICE, now: float | None = None
) -> str:
    """Render one audit line (no trailing newline)."""
    return request_line(
        line_prefix(principal_fragment(record), service),
        record.path,
        record.source_ip,
        record.request_id,
        record.api_id,
        record.stage,
        record.latency_ms,
        record.role_cache_hit,
        record.xray_trace_id,
        now,
    )


def line_prefix(fragment: str, service: str = C.AUTHORIZER_SERVICE) -> str:
    """The line's start up to the end of a :func:`principal_fragment`: the Logger fields that
    never change and the decision's own. The authorizer keeps it with a remembered answer."""
    svc = _SERVICE_FIELD if service == C.AUTHORIZER_SERVICE else ',"service":' + _json(service)
    return _LINE_START + svc + fragment


def principal_fragment(record: DecisionRecord) -> str:
    """The line's contiguous middle, from ``audit_version`` to ``resource``: the decision and the
    principal's fields, which are the same for every request of one verified token on one route.

    The authorizer keeps it with its cached answer so a repeated token encodes only the request's
    own fields (:func:`request_line`); :func:`decision_line` is the two composed. It is the three
    parts below, which the authorizer also keeps apart: :func:`principal_head` and
    :func:`principal_tail` are the same for every token of one principal on one route (kept with
    the principal's grants), :func:`token_fields` are the token's own.
    """
    return (
        principal_head(record.decision, record.reason, record.rule, record.iss, record.sub)
        + token_fields(record.kid, record.jti)
        + principal_tail(record.client_id, record.roles, record.method, record.resource)
    )


def principal_head(decision: str, reason: str, rule: str | None, iss: str | None, sub: str | None) -> str:
    j = _json
    return f'{_EVENT}{j(decision)},"reason":{j(reason)},"rule":{j(rule)},"iss":{j(iss)},"sub":{j(sub)}'


def token_fields(kid: str | None, jti: str | None) -> str:
    return f',"kid":{_json(kid)},"jti":{_json(jti)}'


def principal_tail(client_id: str | None, roles: Any, method: str | None, resource: str | None) -> str:
    return roles_tail(client_id, string_list(roles), method, resource)


def roles_tail(client_id: str | None, roles_json: str, method: str | None, resource: str | None) -> str:
    """:func:`principal_tail` with the roles already encoded by :func:`string_list`: a principal's
    roles are the same on every route, and encoding hundreds of names for each new route cost more
    than the rest of its answer (docs/benchmarks.md, "RBAC at scale")."""
    j = _json
    return f',"client_id":{j(client_id)},"roles":{roles_json},"method":{j(method)},"resource":{j(resource)}'


def request_line(
    prefix: str,
    path: str | None,
    source_ip: str | None,
    request_id: str | None,
    api_id: str | None,
    stage: str | None,
    latency_ms: float,
    role_cache_hit: bool,
    xray_trace_id: str | None,
    now: float | None = None,
) -> str:
    """The audit line from a :func:`line_prefix` and one request's own fields.

    Written for the repeated-token path, where it is most of the work: the constant part comes
    first (one string kept with the answer), then the request's fields, the timestamps and the
    EMF block; the usual case (every field a string, a finite latency, today's second already
    formatted) is one f-string of C-encoded strings, with no Python call per field.
    """
    global _second  # noqa: PLW0603 - a one-entry cache, replaced atomically
    ts = time.time() if now is None else now
    ms = int(ts * 1000)
    sec = math.floor(ts)  # what time.gmtime(ts) uses
    cached = _second
    if cached[0] != sec:
        cached = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".")
        _second = cached
    # Milliseconds with three decimals (the fastest float formatting there is); else the encoder.
    latency = (
        "%.3f" % latency_ms  # noqa: UP031
        if latency_ms.__class__ is float and -_INF < latency_ms < _INF
        else _dumps(latency_ms)
    )
    m = ms % 1000 * 5
    s = _str
    try:
        fields = (
            f',"path":{s(path)},"source_ip":{s(source_ip)},"request_id":{s(request_id)}'
            f',"api_id":{s(api_id)},"stage":{s(stage)}'
        )
        trace = "null" if xray_trace_id is None else s(xray_trace_id)
    except TypeError:  # a field is None or not a string (a malformed event): the general encoder
        j = _json
        fields = (
            f',"path":{j(path)},"source_ip":{j(source_ip)},"request_id":{j(request_id)}'
            f',"api_id":{j(api_id)},"stage":{j(stage)}'
        )
        trace = j(xray_trace_id)
    return (
        f'{prefix}{fields},"latency_ms":{latency},"Decisions":1,"LatencyMs":{latency}'
        f',"RoleCacheHit":{1 if role_cache_hit else 0},"xray_trace_id":{trace}'
        f',"timestamp":"{cached[1]}{_MILLIS[m : m + 5]},"_aws":{{"Timestamp":{ms}{_EMF_TAIL}'
    )


def metric_line(
    name: str,
    value: float,
    unit: str,
    dimensions: Mapping[str, str],
    properties: Mapping[str, Any] | None = None,
    *,
    namespace: str = C.METRICS_NAMESPACE,
    now: float | None = None,
) -> str:
    """One Embedded Metric Format document with one metric (no trailing newline), for rare events.

    What Powertools' ``single_metric`` prints, without importing Powertools' metrics (about 0.9 MB
    at cold start, see docs/benchmarks.md): CloudWatch extracts ``name`` in ``namespace`` by the
    ``dimensions`` (string values); ``properties`` are extra top-level keys, searchable in Logs
    Insights but not dimensions. A property named like a dimension or the metric is overridden.
    """
    for key, dim in dimensions.items():
        if dim.__class__ is not str or not dim:
            raise ValueError(f"EMF dimension {key!r} needs a non-empty string value, not {dim!r}")
    ts = time.time() if now is None else now
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(ts * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        }
    }
    for key, prop in (properties or {}).items():
        if key != "_aws":
            doc[key] = prop
    doc.update(dimensions)
    doc[name] = value
    return _dumps(doc)
