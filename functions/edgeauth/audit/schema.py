"""The audit event schema (version :data:`edgeauth.constants.AUDIT_EVENT_VERSION`) and its builders.

One audit event is one flat JSON object, written as one log event in the audit log group, so that
CloudWatch Logs Insights discovers every key as a field. Every event has:

=============  ==========================================================================
key            meaning
=============  ==========================================================================
audit_version  schema version (``2``; version 1 events carried the fields noted below);
               a reader that sees a newer version must not guess
kind           ``decision`` | ``access`` | ``role_change`` | ``malformed``
id             32 hex characters, a hash of the event's source coordinates (see below)
time           ISO-8601 UTC with milliseconds (``2024-05-01T12:00:00.123Z``); the log event's
               timestamp is the same instant (unless outside what CloudWatch Logs accepts)
truncated      comma-separated names of fields that were cut (absent when none was)
=============  ==========================================================================

Kinds and their fields (absent when unknown; never ``null`` in the written JSON):

* ``decision`` (the authorizer's line, :mod:`edgeauth.core.audit_line`, from the authorizer's log
  group only): ``decision``, ``reason``, ``rule``, ``iss``, ``sub``, ``kid``, ``jti``, ``client_id``,
  ``roles`` (comma-separated), ``method``, ``resource``, ``path``, ``source_ip``, ``request_id``,
  ``latency_ms``, ``role_cache_hit`` (0/1), ``xray_trace_id``.
* ``access`` (API Gateway's access log, either format of :data:`edgeauth.constants.ACCESS_LOG_FORMATS`,
  from the access log group only): ``request_id``, ``method``, ``resource``, ``path``, ``status``,
  ``latency_ms``, ``integration_latency_ms``, ``integration_status``, ``authorizer_status``,
  ``authorizer_latency_ms``, ``authorizer_error``, ``api_key_id``, ``iss``, ``sub``, ``client_id``,
  ``roles``, ``source_ip``, ``user_agent``, ``response_length``, ``error_message``, ``error_type``,
  and two derived fields: ``refused_by`` (``gateway`` when API Gateway refused before the authorizer
  ran: missing token 401, unknown route 403, 429; ``authorizer``; ``backend``; absent for a success)
  and ``reason`` (a stable code such as ``missing_token``, ``unknown_route``, ``throttled``,
  ``quota_exceeded``, ``access_denied``; absent for a success).
* ``role_change`` (:func:`role_change_event`): ``source`` (``dynamodb``), ``actor``, ``action``
  (``insert``/``modify``/``remove``), ``entity`` (``role``/``subject``/``group``/``client``/``other``),
  ``pk``, ``sk``, ``role``, ``iss``, ``sub``, ``group``, ``client_id``, ``changed`` (comma-separated
  attribute names), ``version`` and ``diff`` (nested: ``diff.<attr>.old``/``.new`` for scalars,
  ``.added``/``.removed`` for lists).
* ``malformed``: a source line or record that could not be normalised, or a line of a log group that
  is not a source: ``source`` (the log group, or ``kinesis``), ``source_stream``, ``error`` (a
  stable code), ``excerpt`` (the start of the raw text, JSON-escaped like every other value).

Version 2 leaves out what every decision and access event of one audit log group would repeat:
``source`` (the kind says which group), ``api_id``, ``stage`` and ``service``, and the access log's
``principal`` (the authorizer sets it to ``sub``) and ``protocol``. Version 1 events had them.

Ids. ``id`` is deterministic from the source: for log lines the CloudWatch Logs event id (with the
group and stream), for role changes the DynamoDB stream record's ``eventID``, for undecodable Kinesis
records the shard and sequence number. A redelivered source therefore yields the same id, which is
what the writer deduplicates on.

Safety. An event's kind comes from where its line was logged (:class:`AuditSources`: the authorizer's
log group gives ``decision`` events, the access log group ``access`` events), never from the line's
content, and an access line that does not have the access log format's shape is ``malformed``: see
:func:`normalise_log_event`. Every value a caller controls is placed in the object by ``json.dumps``
(ASCII-escaped): a subject containing a newline and JSON stays one string field and cannot add or
override keys.
Strings longer than their field's limit are cut and end with :data:`TRUNCATION_MARKER`, and the field
is named in ``truncated``: an oversized line is shortened, never dropped.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from edgeauth import constants as C

KIND_DECISION: Final = "decision"
KIND_ACCESS: Final = "access"
KIND_ROLE_CHANGE: Final = "role_change"
KIND_MALFORMED: Final = "malformed"
KINDS: Final = (KIND_DECISION, KIND_ACCESS, KIND_ROLE_CHANGE, KIND_MALFORMED)

TRUNCATION_MARKER: Final = "...[truncated]"
MAX_FIELD_CHARS: Final = 1024
"""Longest string value of an ordinary field (after which it is cut, marker included)."""
MAX_EXCERPT_CHARS: Final = 2048
"""Longest ``excerpt`` of a malformed line."""
MAX_DIFF_VALUE_CHARS: Final = 2048
"""Longest JSON text of one value inside a role change ``diff``."""
MAX_DIFF_ITEMS: Final = 100
"""Most list items shown in one ``added``/``removed`` list of a ``diff``."""
MAX_EVENT_BYTES: Final = 64 * 1024
"""Upper bound of one serialised audit event; well under the 256 KB CloudWatch Logs event limit."""

# Malformed reasons (stable codes).
ERR_NOT_JSON: Final = "not_json"
ERR_NOT_OBJECT: Final = "not_an_object"
ERR_DUPLICATE_KEYS: Final = "duplicate_keys"
ERR_BAD_DECISION: Final = "bad_decision_line"
ERR_UNKNOWN_VERSION: Final = "unknown_audit_version"
ERR_UNDECODABLE_RECORD: Final = "undecodable_record"
ERR_NOT_ACCESS_FORMAT: Final = "not_access_log_format"
"""An access log line with a key outside the stage's access log format, or a value that is not a string."""
ERR_UNKNOWN_SOURCE: Final = "unknown_source"
"""A line from a log group that is neither of the stack's source groups."""


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode

# Lambda's own lines in a function's log group (text format and JSON format).
_PLATFORM_PREFIXES: Final = (
    "START ",
    "END ",
    "REPORT ",
    "INIT_START ",
    "EXTENSION",
    "TELEMETRY",
    "INIT_REPORT",
)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One normalised audit event.

    ``fields`` holds the kind-specific keys (no ``None`` values); :meth:`to_json` renders the whole
    event. Instances are immutable so that the same event can be retried and compared.
    """

    id: str
    kind: str
    time_ms: int
    fields: Mapping[str, Any]

    def to_json(self) -> str:
        """The event as one JSON line (ASCII, no newline), at most :data:`MAX_EVENT_BYTES` bytes."""
        body: dict[str, Any] = {
            "audit_version": C.AUDIT_EVENT_VERSION,
            "kind": self.kind,
            "id": self.id,
            "time": iso_time(self.time_ms),
        }
        for key, value in self.fields.items():
            if key not in body and value is not None:
                body[key] = value
        text = _encode(body)
        if len(text) > MAX_EVENT_BYTES:  # only reachable with huge diffs: keep the identity, drop detail
            body = {k: body[k] for k in ("audit_version", "kind", "id", "time")}
            body["truncated"] = "*"
            for key in ("source", "actor", "action", "entity", "pk", "sk", "decision", "reason", "sub"):
                if key in self.fields and self.fields[key] is not None:
                    body[key] = self.fields[key]
            text = _encode(body)
        return text


@dataclass(frozen=True, slots=True)
class AuditSources:
    """The stack's two source log groups. A line's kind comes from the group it was logged to (the
    subscription payload's ``logGroup``), never from its content: see :func:`normalise_log_event`."""

    authorizer_log_group: str
    access_log_group: str

    def __post_init__(self) -> None:
        if not self.authorizer_log_group or not self.access_log_group:
            raise ValueError("both source log groups are required")
        if self.authorizer_log_group == self.access_log_group:
            raise ValueError("the authorizer and access log groups must differ")

    def kind_of(self, log_group: str) -> str | None:
        """``decision`` for the authorizer's group, ``access`` for the access log group, else ``None``."""
        if log_group == self.authorizer_log_group:
            return KIND_DECISION
        if log_group == self.access_log_group:
            return KIND_ACCESS
        return None


@dataclass(frozen=True, slots=True)
class SourceLogEvent:
    """One log event of a CloudWatch Logs subscription payload, with where it came from."""

    log_group: str
    log_stream: str
    event_id: str
    timestamp_ms: int
    message: str


# --- helpers ------------------------------------------------------------------------------------------


def event_id(*parts: str) -> str:
    """A stable id from source coordinates: the first 32 hex digits of SHA-256 over the parts."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


_last_second: tuple[int, str] = (-1, "")
"""The last second :func:`iso_time` formatted (the events of a record mostly share their second)."""


def iso_time(ms: int) -> str:
    """``2024-05-01T12:00:00.123Z`` for epoch milliseconds."""
    global _last_second  # noqa: PLW0603 - a one-entry cache, replaced atomically
    second = ms // 1000
    cached_second, prefix = _last_second
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, prefix)
    return f"{prefix}.{ms % 1000:03d}Z"


def _truncate(value: str, limit: int) -> tuple[str, bool]:
    if len(value) <= limit:
        return value, False
    return value[: max(0, limit - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER, True


class _Fields:
    """Collects fields, coercing and truncating values, and remembers what was cut."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.cut: list[str] = []

    def text(self, key: str, value: Any, limit: int = MAX_FIELD_CHARS, dash_is_empty: bool = False) -> None:
        if type(value) is str and len(value) <= limit:  # the common case, short of every branch below
            if not (dash_is_empty and (value == "-" or not value)):
                self.values[key] = value
            return
        if value is None:
            return
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = value
        elif isinstance(value, list | tuple):
            text = ",".join(v if isinstance(v, str) else _encode(_plain(v)) for v in value)
        elif isinstance(value, int | float):
            text = str(value)
        else:
            text = _encode(_plain(value))
        if dash_is_empty and text in ("-", ""):
            return
        text, was_cut = _truncate(text, limit)
        if was_cut:
            self.cut.append(key)
        self.values[key] = text

    def number(self, key: str, value: Any) -> None:
        parsed = _number(value)
        if parsed is not None:
            self.values[key] = parsed

    def raw(self, key: str, value: Any) -> None:
        if value is not None:
            self.values[key] = value

    def done(self) -> dict[str, Any]:
        if self.cut:
            self.values["truncated"] = ",".join(self.cut)
        return self.values


def _number(value: Any) -> int | float | None:
    """An int or float from a JSON number or a numeric string (API Gateway writes strings)."""
    if type(value) is str:  # the common cases ("200", "12", "-"), short of every branch below
        if value.isdigit() and value.isascii() and len(value) <= 32:
            return int(value)
        if value == "-":
            return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "-" or len(text) > 32:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            parsed = float(text)
        except ValueError:
            return None
        return _number(parsed)
    return None


def _plain(value: Any) -> Any:
    """A JSON-compatible copy of a DynamoDB-deserialised value (Decimal, set, bytes ...)."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=_sort_key)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _sort_key(value: Any) -> str:
    return value if isinstance(value, str) else _encode(value)


class _DuplicateKeyError(ValueError):
    pass


def _unique_pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(items)
    if len(out) != len(items):
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


_strict_decode = json.JSONDecoder(object_pairs_hook=_unique_pairs).decode


def _loads_strict(text: str) -> Any:
    """``json.loads`` that refuses duplicate keys (a sign of field injection in a raw log line)."""
    return _strict_decode(text)


# --- malformed ------------------------------------------------------------------------------------------


def malformed_event(
    *, id: str, time_ms: int, source: str, error: str, excerpt: str | bytes, log_stream: str | None = None
) -> AuditEvent:
    """A clearly-marked event for input that could not be normalised (never silently dropped)."""
    if isinstance(excerpt, bytes):
        excerpt = excerpt.decode("utf-8", "replace")
    f = _Fields()
    f.text("source", source)
    f.text("source_stream", log_stream)
    f.text("error", error)
    f.text("excerpt", excerpt, limit=MAX_EXCERPT_CHARS)
    return AuditEvent(id=id, kind=KIND_MALFORMED, time_ms=time_ms, fields=f.done())


# --- decision and access lines ---------------------------------------------------------------------------


def is_platform_line(message: str) -> bool:
    """True for Lambda's own START/END/REPORT lines (text or JSON log format), which carry no audit data."""
    stripped = message.lstrip()
    if stripped.startswith(_PLATFORM_PREFIXES):
        return True
    return stripped.startswith('{"time"') and '"type":"platform.' in stripped.replace(" ", "")


_MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def normalise_log_event(src: SourceLogEvent, source_kind: str | None) -> AuditEvent | None:
    """The audit event for one source log line, or ``None`` for a line that is not audit data.

    ``source_kind`` is what the line's log group is (:meth:`AuditSources.kind_of`): it alone decides
    what the line may become, whatever the line says. API Gateway does not escape ``$context``
    values in access log lines, so a caller can put any key into one (through ``User-Agent``, for
    example); the content of a line is evidence of nothing.

    * ``decision`` (the authorizer's group): the authorizer's audit line becomes a ``decision``
      event; Lambda platform lines and other JSON application lines are ``None`` (callers count
      them); text that is not JSON, or a line shaped like a decision line but not valid, is
      ``malformed``. An access-shaped line here is just another application line.
    * ``access`` (the stage's access log group): every line becomes an ``access`` event or a
      ``malformed`` one (excerpt kept), never ``None`` and never a decision. It is ``malformed``
      unless it is a JSON object without repeated keys, whose keys are all keys of one access log
      format (:data:`ACCESS_FORMATS`: the compact or the full one) and whose values are all strings, as API Gateway
      writes them: an injected key is either repeated, outside the format, or leaves a value that
      is an object (to swallow the real keys that follow), so each is caught.
    * ``None`` (any other group): ``malformed`` with error :data:`ERR_UNKNOWN_SOURCE`.

    Never raises for any input text.
    """
    eid = event_id("cwl", src.log_group, src.log_stream, src.event_id)
    if source_kind is None or source_kind not in (KIND_DECISION, KIND_ACCESS):
        return _malformed(eid, src, ERR_UNKNOWN_SOURCE)
    try:
        body = _loads_strict(src.message)
    except _DuplicateKeyError:
        return _malformed(eid, src, ERR_DUPLICATE_KEYS)
    except (ValueError, RecursionError):
        if source_kind == KIND_DECISION and is_platform_line(src.message):
            return None
        return _malformed(eid, src, ERR_NOT_JSON)
    if not isinstance(body, dict):
        return _malformed(eid, src, ERR_NOT_OBJECT)
    if source_kind == KIND_ACCESS:
        fmt = _access_format(body)
        if fmt is None:
            return _malformed(eid, src, ERR_NOT_ACCESS_FORMAT)
        return _access(eid, src, body, fmt)
    if body.get("event") == "decision" or body.get("message") == C.AUDIT_DECISION_MESSAGE:
        return _decision(eid, src, body)
    return None


def _malformed(eid: str, src: SourceLogEvent, error: str) -> AuditEvent:
    return malformed_event(
        id=eid,
        time_ms=src.timestamp_ms,
        source=src.log_group,
        log_stream=src.log_stream,
        error=error,
        excerpt=src.message,
    )


def _access_format(body: dict[str, Any]) -> _AccessFormat | None:
    """The access log format the line has: only keys of that format (the compact or the full one),
    every value a string (API Gateway quotes each one). ``None`` when it has neither's shape."""
    keys = body.keys()
    if "requestId" not in keys:
        return None
    for fmt in (ACCESS_FORMATS["compact"], ACCESS_FORMATS["full"]):
        if keys <= fmt.keys:
            return fmt if all(type(v) is str for v in body.values()) else None
    return None


# Not kept (version 2 leaves out what every event of the group would repeat): the line's ``api_id``,
# ``stage`` and ``service``, and the source log group (the kind says it).
_DECISION_TEXT_FIELDS: Final = (
    *("decision", "reason", "rule", "iss", "sub", "kid", "jti", "client_id", "roles"),
    *("method", "resource", "path", "source_ip", "request_id"),
)


def _decision(eid: str, src: SourceLogEvent, body: dict[str, Any]) -> AuditEvent:
    version = body.get("audit_version")
    valid = (
        body.get("message") == C.AUDIT_DECISION_MESSAGE
        and body.get("event") == "decision"
        and isinstance(body.get("decision"), str)
        and isinstance(body.get("reason"), str)
    )
    if not valid:
        return _malformed(eid, src, ERR_BAD_DECISION)
    if type(version) is not int or version != C.AUDIT_SCHEMA_VERSION:
        return _malformed(eid, src, ERR_UNKNOWN_VERSION)
    f = _Fields()
    values = f.values
    for key in _DECISION_TEXT_FIELDS:
        value = body.get(key)
        if type(value) is str and len(value) <= MAX_FIELD_CHARS:  # f.text's common case, inlined
            values[key] = value
        elif value is not None:
            f.text(key, value)
    f.number("latency_ms", body.get("latency_ms"))
    f.number("role_cache_hit", body.get("RoleCacheHit"))
    f.text("xray_trace_id", body.get("xray_trace_id"))
    return AuditEvent(id=eid, kind=KIND_DECISION, time_ms=src.timestamp_ms, fields=f.done())


# errorResponseType (API Gateway gateway responses) → stable reason code.
_GATEWAY_REASONS: Final = {
    "UNAUTHORIZED": "unauthorized",
    "MISSING_AUTHENTICATION_TOKEN": "unknown_route",
    "THROTTLED": "throttled",
    "QUOTA_EXCEEDED": "quota_exceeded",
    "ACCESS_DENIED": "access_denied",
    "INVALID_API_KEY": "invalid_api_key",
    "AUTHORIZER_FAILURE": "authorizer_failure",
    "AUTHORIZER_CONFIGURATION_ERROR": "authorizer_configuration_error",
    "EXPIRED_TOKEN": "expired_token",
    "INVALID_SIGNATURE": "invalid_signature",
    "RESOURCE_NOT_FOUND": "resource_not_found",
    "WAF_FILTERED": "waf_filtered",
    "REQUEST_TOO_LARGE": "request_too_large",
    "BAD_REQUEST_BODY": "bad_request_body",
    "BAD_REQUEST_PARAMETERS": "bad_request_parameters",
    "INTEGRATION_FAILURE": "integration_failure",
    "INTEGRATION_TIMEOUT": "integration_timeout",
}


# The access line's fields in output order: (event key, key in the full format, key in the compact
# format, is a number). ``roles`` is read apart (a JSON list in a string is flattened); the request's
# time (``requestTimeEpoch`` / ``t``) becomes the event's time. Not read (version 2 leaves out what
# every event would repeat, or another field says): ``extendedRequestId``, ``principalId`` (= ``sub``),
# ``apiId``, ``stage``, ``protocol``.
_ACCESS_MAP: Final = (
    ("request_id", "requestId", "requestId", False),
    ("method", "httpMethod", "m", False),
    ("resource", "resourcePath", "res", False),
    ("path", "path", "p", False),
    ("status", "status", "status", True),
    ("latency_ms", "responseLatency", "lat", True),
    ("integration_latency_ms", "integrationLatency", "ilat", True),
    ("integration_status", "integrationStatus", "ist", True),
    ("authorizer_status", "authorizerStatus", "ast", True),
    ("authorizer_latency_ms", "authorizerLatency", "alat", True),
    ("authorizer_error", "authorizerError", "aerr", False),
    ("api_key_id", "apiKeyId", "key", False),
    ("iss", "iss", "iss", False),
    ("sub", "sub", "sub", False),
    ("client_id", "clientId", "cid", False),
    ("roles", "roles", "rol", False),
    ("source_ip", "sourceIp", "ip", False),
    ("user_agent", "userAgent", "ua", False),
    ("response_length", "responseLength", "len", True),
    ("error_message", "errorMessage", "err", False),
    ("error_type", "errorResponseType", "et", False),
)


@dataclass(frozen=True, slots=True)
class _AccessFormat:
    keys: frozenset[str]
    fields: tuple[tuple[str, str, bool], ...]  # (event key, line key, is a number)
    roles: str
    time: str


ACCESS_FORMATS: Final = {
    "full": _AccessFormat(
        frozenset(C.ACCESS_LOG_FIELDS),
        tuple((event, full, number) for event, full, _, number in _ACCESS_MAP),
        "roles",
        "requestTimeEpoch",
    ),
    "compact": _AccessFormat(
        frozenset(C.ACCESS_LOG_FIELDS_COMPACT),
        tuple((event, compact, number) for event, _, compact, number in _ACCESS_MAP),
        "rol",
        "t",
    ),
}
"""How each access log format of :data:`edgeauth.constants.ACCESS_LOG_FORMATS` is read."""


def _access(eid: str, src: SourceLogEvent, body: dict[str, Any], fmt: _AccessFormat) -> AuditEvent:
    f = _Fields()
    values = f.values
    limit = MAX_FIELD_CHARS
    roles_key = fmt.roles
    for key, name, is_number in fmt.fields:
        value = body.get(name)
        if is_number:
            parsed = _number(value)
            if parsed is not None:
                values[key] = parsed
        elif name == roles_key:
            if isinstance(value, str) and value.startswith("["):
                # RecursionError: "[[[[…" thousands deep; the text is then kept as it is.
                with contextlib.suppress(ValueError, RecursionError):
                    value = json.loads(value)
            f.text(key, value, limit, True)
        elif type(value) is str and len(value) <= limit:  # f.text's common case, inlined
            if value != "-" and value:
                values[key] = value
        elif value is not None:
            f.text(key, value, limit, True)
    refused_by, reason = classify_access(
        status=values.get("status"),
        error_type=values.get("error_type"),
        authorizer_status=values.get("authorizer_status"),
        authorizer_latency_ms=values.get("authorizer_latency_ms"),
        integration_status=values.get("integration_status"),
    )
    f.raw("refused_by", refused_by)
    f.raw("reason", reason)
    time_ms = _number(body.get(fmt.time))
    # A time outside what an ISO-8601 timestamp can show (year 9999) would overflow when rendered:
    # such a line keeps its CloudWatch Logs timestamp instead.
    when = src.timestamp_ms
    if isinstance(time_ms, int | float) and 0 < time_ms < _MAX_TIME_MS:
        when = int(time_ms)
    return AuditEvent(id=eid, kind=KIND_ACCESS, time_ms=when, fields=f.done())


def classify_access(
    *,
    status: Any,
    error_type: Any,
    authorizer_status: Any = None,
    authorizer_latency_ms: Any = None,
    integration_status: Any = None,
) -> tuple[str | None, str | None]:
    """``(refused_by, reason)`` for an access log line; ``(None, None)`` for a success (< 400).

    ``refused_by`` is ``gateway`` when API Gateway answered without running the authorizer (no
    authorizer status or latency: a missing token 401, an unknown route 403, a 429), ``authorizer``
    when the authorizer refused or failed, and ``backend`` when the integration answered the error.
    """
    if not isinstance(status, int) or status < 400:
        return None, None
    etype = error_type if isinstance(error_type, str) else None
    authorizer_ran = authorizer_status is not None or (
        isinstance(authorizer_latency_ms, int | float) and authorizer_latency_ms > 0
    )
    reason = _GATEWAY_REASONS.get(etype, etype.lower()) if etype else None
    if etype in ("THROTTLED", "QUOTA_EXCEEDED", "MISSING_AUTHENTICATION_TOKEN", "INVALID_API_KEY"):
        return "gateway", reason
    if etype == "UNAUTHORIZED" and not authorizer_ran:
        return "gateway", "missing_token"
    if etype in ("UNAUTHORIZED", "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"):
        return "authorizer", reason
    if integration_status is not None:
        return "backend", reason or f"status_{status}"
    if status == 429:
        return "gateway", "throttled"
    return ("gateway" if not authorizer_ran else "backend"), reason or f"status_{status}"


# --- role changes ------------------------------------------------------------------------------------------

_BOOKKEEPING: Final = frozenset({C.ATTR_VERSION, C.ATTR_UPDATED_AT, C.ATTR_UPDATED_BY})


def role_change_event(
    *,
    stream_event_id: str,
    who: str | None,
    when: datetime | float | int,
    table_key: Mapping[str, Any],
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any] | None,
) -> AuditEvent:
    """The ``role_change`` audit event for one edit of the role table. Pure.

    ``stream_event_id`` is the DynamoDB stream record's ``eventID`` (the id is derived from it, so a
    redelivered stream record yields the same event). ``who`` is the actor (e.g. the item's
    ``updated_by``), ``when`` a timezone-aware datetime or epoch seconds (the stream record's
    ``ApproximateCreationDateTime``). Images are plain Python dicts as returned by boto3's
    ``TypeDeserializer`` (Decimal, set and bytes values are accepted). ``action`` is ``insert`` when
    there is no old image, ``remove`` when there is no new image, else ``modify``. The bookkeeping
    attributes (``version``, ``updated_at``, ``updated_by``) are not part of ``diff``/``changed``.
    """
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        time_ms = int(when.timestamp() * 1000)
    else:
        time_ms = int(float(when) * 1000)
    old = dict(old_image or {})
    new = dict(new_image or {})
    action = "insert" if old_image is None else "remove" if new_image is None else "modify"
    pk = table_key.get(C.TABLE_PARTITION_KEY)
    sk = table_key.get(C.TABLE_SORT_KEY)
    f = _Fields()
    f.text("source", "dynamodb")
    f.text("actor", who)
    f.text("action", action)
    _entity_fields(f, pk, sk)
    f.text("pk", pk)
    f.text("sk", sk)
    diff, changed = _diff(old, new)
    f.text("changed", changed, limit=MAX_FIELD_CHARS)
    f.number("version", (new or old).get(C.ATTR_VERSION))
    f.raw("diff", diff or None)
    return AuditEvent(
        id=event_id("ddb", stream_event_id), kind=KIND_ROLE_CHANGE, time_ms=time_ms, fields=f.done()
    )


def _entity_fields(f: _Fields, pk: Any, sk: Any) -> None:
    pk_text = pk if isinstance(pk, str) else ""
    if pk_text.startswith(C.ROLE_PK_PREFIX):
        f.text("entity", "role")
        f.text("role", pk_text[len(C.ROLE_PK_PREFIX) :])
    elif pk_text.startswith(C.SUBJECT_PK_PREFIX):
        f.text("entity", "subject")
        f.text("iss", pk_text[len(C.SUBJECT_PK_PREFIX) :])
        f.text("sub", sk)
    elif pk_text.startswith(C.GROUP_PK_PREFIX):
        f.text("entity", "group")
        f.text("iss", pk_text[len(C.GROUP_PK_PREFIX) :])
        f.text("group", sk)
    elif pk_text.startswith(C.CLIENT_PK_PREFIX):
        f.text("entity", "client")
        f.text("iss", pk_text[len(C.CLIENT_PK_PREFIX) :])
        f.text("client_id", sk)
    else:
        f.text("entity", "other")


def _bounded(value: Any) -> Any:
    """A diff value no longer than :data:`MAX_DIFF_VALUE_CHARS` as JSON text (else a cut string)."""
    plain = _plain(value)
    text = _encode(plain)
    if len(text) <= MAX_DIFF_VALUE_CHARS:
        return plain
    return _truncate(text, MAX_DIFF_VALUE_CHARS)[0]


def _bounded_list(values: Iterable[Any]) -> list[Any]:
    items = sorted((_plain(v) for v in values), key=_sort_key)
    out = [_bounded(v) for v in items[:MAX_DIFF_ITEMS]]
    if len(items) > MAX_DIFF_ITEMS:
        out.append(f"{TRUNCATION_MARKER} +{len(items) - MAX_DIFF_ITEMS} more")
    return out


def _is_collection(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    diff: dict[str, Any] = {}
    skip = _BOOKKEEPING | {C.TABLE_PARTITION_KEY, C.TABLE_SORT_KEY}
    for attr in sorted(set(old) | set(new)):
        if attr in skip:
            continue
        before, after = old.get(attr), new.get(attr)
        if _plain(before) == _plain(after):
            continue
        if (before is None or _is_collection(before)) and (after is None or _is_collection(after)):
            b = {_sort_key(_plain(v)): v for v in (before or ())}
            a = {_sort_key(_plain(v)): v for v in (after or ())}
            entry: dict[str, Any] = {}
            added = [a[k] for k in a if k not in b]
            removed = [b[k] for k in b if k not in a]
            if added:
                entry["added"] = _bounded_list(added)
            if removed:
                entry["removed"] = _bounded_list(removed)
            if not entry:  # same members, different order
                entry["reordered"] = 1
            diff[str(attr)] = entry
        else:
            entry = {}
            if attr in old:
                entry["old"] = _bounded(before)
            if attr in new:
                entry["new"] = _bounded(after)
            diff[str(attr)] = entry
    return diff, list(diff)
