"""``AuditLogWriter``: the adapter that talks to the audit log group (the only one here).

Two ways of using it:

* the audit consumer's (Kinesis → audit log group): one log stream per Kinesis shard
  (:func:`stream_for_shard`), written with single ``PutLogEvents`` attempts (:meth:`put_lines`)
  under the per-shard checkpoint of :mod:`edgeauth.audit.shard_writer`, which decides what to
  write and when a window of the stream must be read back (:meth:`ids_between`). See that module
  for the exactly-once design;
* the role-events function's (one DynamoDB stream record → one ``role_change`` event, rare):
  :meth:`write`, idempotent per log stream, described below.

Idempotent per log stream (:meth:`write`)
-----------------------------------------
``PutLogEvents`` is not idempotent (sequence tokens, and with them ``DataAlreadyAcceptedException``,
are gone), so :meth:`write` makes the *log stream* the unit of idempotence:

1. Every source unit gets a deterministic log stream name: one per DynamoDB stream record for role
   changes (:func:`stream_for_role_change`). A redelivered record
   maps to the same log stream, whatever the batch around it looks like (partial-failure retries,
   bisected batches, a crash, a different container).
2. :meth:`AuditLogWriter.write` first calls ``CreateLogStream``. If that succeeds the stream is new,
   so nothing of this unit was written before and every event is put. If it answers
   ``ResourceAlreadyExistsException`` this is a redelivery: the writer reads the stream back
   (``GetLogEvents``), collects the ``id`` of every event already there and puts only the others.
3. Events are put in chronological batches within the service limits; after a crash between two
   batches the readback finds the first batch and the retry writes only the rest.

So a retry never duplicates an event and a crash never loses one (the stream record is redelivered
until the function reports it done). What it relies on: a ``PutLogEvents`` call that returned is
visible to ``GetLogEvents`` by the time the record is redelivered. On AWS that is near-immediate but
not documented as strongly consistent, so the writer waits ``settle_seconds`` before a readback (only
on the redelivery path). Cost: one ``CreateLogStream`` per source unit (account quota 50 TPS,
adjustable): fine for role edits, which people make; the consumer's shard streams are created once.

Errors are typed (:class:`AuditWriteError` and subclasses) so that the consumer fails just the
record concerned and Kinesis redelivers it. A missing log group raises
:class:`AuditLogGroupMissingError` unless ``create_missing_group`` is set (the deployed group has
retention and encryption set by the CDK app: the writer does not silently create a weaker one).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from edgeauth.audit.batching import LogLine, plan_batches
from edgeauth.audit.schema import AuditEvent

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

MAX_PAST_MS: Final = 14 * 24 * 3600 * 1000
MAX_FUTURE_MS: Final = 2 * 3600 * 1000
_CLAMP_MARGIN_MS: Final = 10 * 60 * 1000
_THROTTLE_CODES: Final = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "LimitExceededException", "RequestLimitExceeded"}
)
_BAD_STREAM_CHARS = re.compile(r"[:*]")


class AuditWriteError(Exception):
    """Writing audit events failed; the source record must be retried."""


class AuditLogGroupMissingError(AuditWriteError):
    """The audit log group does not exist (and the writer may not create it)."""


class AuditWriteThrottledError(AuditWriteError):
    """CloudWatch Logs throttled the writer after the client's own retries."""


class AuditWriteRejectedError(AuditWriteError):
    """``PutLogEvents`` rejected some events (``rejectedLogEventsInfo``)."""


class AuditWriteUncertainError(AuditWriteError):
    """A ``PutLogEvents`` call whose outcome is unknown (its answer was lost: a read timeout, a dropped
    connection, a server error): its events may or may not be in the stream."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """``written`` events were put now; ``duplicates`` were already in the stream (a retry)."""

    stream: str
    written: int
    duplicates: int


def stream_name(*parts: str) -> str:
    """A valid log stream name (no ``:`` or ``*``, at most 512 characters) from parts joined by ``/``."""
    name = "/".join(_BAD_STREAM_CHARS.sub("_", p) for p in parts)
    return name[:512]


def stream_for_shard(stream_arn_or_name: str, shard_id: str) -> str:
    """The audit consumer's log stream of one Kinesis shard (``kinesis/<stream>/<shard>``)."""
    kinesis_stream = stream_arn_or_name.rsplit("/", 1)[-1] or "stream"
    return stream_name("kinesis", kinesis_stream, shard_id)


def stream_for_role_change(stream_event_id: str) -> str:
    """The deterministic log stream of one DynamoDB stream record (``role-events/<eventID>``)."""
    return stream_name("role-events", stream_event_id)


def _default_client() -> CloudWatchLogsClient:
    import os

    import boto3
    from botocore.config import Config

    from edgeauth import constants as C

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)
    endpoint = os.environ.get(C.ENV_ENDPOINT_URL) or None
    client: CloudWatchLogsClient = boto3.client("logs", config=config, endpoint_url=endpoint)
    return client


PUT_CONNECT_TIMEOUT: Final = 0.5
PUT_READ_TIMEOUT: Final = 1.5
"""Seconds; one ``PutLogEvents`` attempt of the consumer ends (client side) within their sum."""


def consumer_client() -> CloudWatchLogsClient:
    """The audit consumer's client: short timeouts and no retries of botocore's own.

    botocore would retry a call whose answer was lost (a read timeout), writing its events twice;
    the consumer retries only calls that were refused (throttling), and only while it holds its
    shard's lease (:mod:`edgeauth.audit.shard_writer`).
    """
    import os

    import boto3
    from botocore.config import Config

    from edgeauth import constants as C

    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=PUT_CONNECT_TIMEOUT,
        read_timeout=PUT_READ_TIMEOUT,
    )
    endpoint = os.environ.get(C.ENV_ENDPOINT_URL) or None
    client: CloudWatchLogsClient = boto3.client("logs", config=config, endpoint_url=endpoint)
    return client


class AuditLogWriter:
    """Writes :class:`AuditEvent` s to one log group, idempotently per log stream (see module doc).

    The boto3 client is built on first use unless one is injected (tests pass moto-backed clients).
    ``clock`` returns epoch seconds; timestamps outside the window CloudWatch accepts (14 days back,
    2 hours ahead) are clamped for the log event only: the event's ``time`` field keeps the truth.
    """

    def __init__(
        self,
        log_group: str,
        client: CloudWatchLogsClient | None = None,
        *,
        create_missing_group: bool = False,
        settle_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not log_group:
            raise ValueError("log_group is required")
        self.log_group = log_group
        self._client = client
        self.create_missing_group = create_missing_group
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._sleep = sleep

    @property
    def client(self) -> CloudWatchLogsClient:
        if self._client is None:
            self._client = _default_client()
        return self._client

    # --- public ---------------------------------------------------------------------------------------

    def write(self, stream: str, events: Sequence[AuditEvent]) -> WriteResult:
        """Make ``stream`` contain each of ``events`` exactly once (by ``id``); safe to call again.

        Raises :class:`AuditWriteError` (or a subclass) when the events could not all be written; a
        later call with the same stream and events completes the write without duplicating.
        """
        lines = self._lines(events)
        created = self._ensure_stream(stream)
        duplicates = 0
        if not created:
            if self.settle_seconds > 0:
                self._sleep(self.settle_seconds)
            existing = self.existing_ids(stream)
            kept = [ln for ln in lines if ln.id not in existing]
            duplicates = len(lines) - len(kept)
            lines = kept
        for batch in plan_batches(lines):
            self._put(stream, batch)
        return WriteResult(stream=stream, written=len(lines), duplicates=duplicates)

    def existing_ids(self, stream: str) -> set[str]:
        """The ``id`` of every audit event already in ``stream`` (reads the whole stream)."""
        ids: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": self.log_group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if token:
                kwargs["nextToken"] = token
            try:
                resp = self.client.get_log_events(**kwargs)
            except Exception as e:
                raise self._translate(e) from e
            for ev in resp.get("events", []):
                try:
                    doc = json.loads(ev.get("message", ""))
                except ValueError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                    ids.add(doc["id"])
            nxt = resp.get("nextForwardToken")
            if not nxt or nxt == token or not resp.get("events"):
                return ids
            token = nxt

    def put_lines(self, stream: str, lines: Sequence[LogLine]) -> list[int]:
        """One ``PutLogEvents`` attempt of ``lines`` (chronological, within the call limits).

        Returns the indexes of the lines CloudWatch Logs rejected (too old, too new, past the
        group's retention) while it accepted the others. Creates the stream when it does not exist
        yet (once per shard). Raises :class:`AuditWriteThrottledError` (refused: nothing written),
        :class:`AuditWriteUncertainError` (the outcome is unknown), :class:`AuditLogGroupMissingError`
        or :class:`AuditWriteError` (refused).
        """
        events: Any = [{"timestamp": ln.timestamp, "message": ln.message} for ln in lines]
        for attempt in range(2):
            try:
                resp = self.client.put_log_events(
                    logGroupName=self.log_group, logStreamName=stream, logEvents=events
                )
            except Exception as e:
                if error_code(e) == "ResourceNotFoundException" and attempt == 0:
                    self._ensure_stream(stream)  # the shard's first batch (or the stream was deleted)
                    continue
                raise self._translate(e, uncertain_possible=True) from e
            return _rejected_indexes(resp.get("rejectedLogEventsInfo"), len(lines))
        raise AuditLogGroupMissingError(f"audit log stream {self.log_group}/{stream} not found")

    def ids_between(self, stream: str, start_ms: int, end_ms: int) -> set[str]:
        """The ``id`` of every audit event in ``stream`` with a log timestamp in ``[start_ms, end_ms)``.

        Pages through ``GetLogEvents`` until a page hands back the token it was given (a page may be
        empty while more follow). A missing stream holds nothing.
        """
        ids: set[str] = set()
        token: str | None = None
        created_checked = False
        created_checked = False
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": self.log_group,
                "logStreamName": stream,
                "startFromHead": True,
                "startTime": max(0, start_ms),
                "endTime": max(start_ms + 1, end_ms),
            }
            if token:
                kwargs["nextToken"] = token
            try:
                resp = self.client.get_log_events(**kwargs)
            except Exception as e:
                if error_code(e) != "ResourceNotFoundException" or token is not None or created_checked:
                    raise self._translate(e) from e
                # No such stream (its writer stopped before its first call) or no such group:
                # creating the stream tells them apart, without reading any other resource.
                created_checked = True
                if self._ensure_stream(stream):
                    return ids  # it did not exist: nothing in it
                continue

            for ev in resp.get("events", []):
                event_id = id_of(ev.get("message", ""))
                if event_id is not None:
                    ids.add(event_id)
            nxt = resp.get("nextForwardToken")
            if not nxt or nxt == token:
                return ids
            token = nxt

    def lines(self, events: Sequence[AuditEvent]) -> list[LogLine]:
        """Each event once (by id) as a log line, its timestamp clamped into what CloudWatch accepts."""
        return self._lines(events)

    # --- internals ------------------------------------------------------------------------------------

    def _lines(self, events: Sequence[AuditEvent]) -> list[LogLine]:
        now_ms = int(self._clock() * 1000)
        lo = now_ms - MAX_PAST_MS + _CLAMP_MARGIN_MS
        hi = now_ms + MAX_FUTURE_MS - _CLAMP_MARGIN_MS
        seen: set[str] = set()
        lines: list[LogLine] = []
        for ev in events:
            if ev.id in seen:  # the same source twice in one call: once is enough
                continue
            seen.add(ev.id)
            lines.append(LogLine(timestamp=min(max(ev.time_ms, lo), hi), message=ev.to_json(), id=ev.id))
        return lines

    def _ensure_stream(self, stream: str) -> bool:
        """True when the stream was created now (so it is empty), False when it already existed."""
        try:
            self.client.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
            return True
        except Exception as e:
            code = error_code(e)
            if code == "ResourceAlreadyExistsException":
                return False
            if code == "ResourceNotFoundException" and self.create_missing_group:
                self._create_group()
                try:
                    self.client.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
                    return True
                except Exception as e2:
                    if error_code(e2) == "ResourceAlreadyExistsException":
                        return False
                    raise self._translate(e2) from e2
            raise self._translate(e) from e

    def _create_group(self) -> None:
        try:
            self.client.create_log_group(logGroupName=self.log_group)
        except Exception as e:
            if error_code(e) != "ResourceAlreadyExistsException":
                raise self._translate(e) from e

    def _put(self, stream: str, batch: list[LogLine]) -> None:
        events: Any = [{"timestamp": ln.timestamp, "message": ln.message} for ln in batch]
        try:
            resp = self.client.put_log_events(
                logGroupName=self.log_group, logStreamName=stream, logEvents=events
            )
        except Exception as e:
            raise self._translate(e) from e
        rejected = resp.get("rejectedLogEventsInfo")
        if rejected:
            raise AuditWriteRejectedError(
                f"PutLogEvents rejected events in {self.log_group}/{stream}: {dict(rejected)}"
            )

    def _translate(self, e: Exception, *, uncertain_possible: bool = False) -> AuditWriteError:
        code = error_code(e)
        if code == "ResourceNotFoundException":
            return AuditLogGroupMissingError(f"audit log group {self.log_group!r} (or stream) not found")
        if code in _THROTTLE_CODES:
            return AuditWriteThrottledError(f"CloudWatch Logs throttled: {code}")
        if uncertain_possible and _outcome_unknown(e):
            return AuditWriteUncertainError(
                f"CloudWatch Logs call outcome unknown: {code or type(e).__name__}"
            )
        return AuditWriteError(f"CloudWatch Logs call failed: {code or type(e).__name__}")


def error_code(e: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``None`` for any other exception)."""
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _outcome_unknown(e: BaseException) -> bool:
    """True when the request may have been applied although no success came back: its answer was lost
    (read timeout, dropped connection) or the service failed while handling it (HTTP 5xx). A request
    that never left (no connection) or that the service refused (HTTP 4xx) was not applied."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    if isinstance(e, ConnectTimeoutError | EndpointConnectionError):
        return False
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return isinstance(status, int) and status >= 500
    return True


_ID_KEY = '"id":"'


def id_of(message: str) -> str | None:
    """The ``id`` of an audit event as written (its third key), without parsing the whole line."""
    at = message.find(_ID_KEY, 0, 80)
    if at < 0:
        try:
            doc = json.loads(message)
        except ValueError:
            return None
        value = doc.get("id") if isinstance(doc, dict) else None
        return value if isinstance(value, str) else None
    start = at + len(_ID_KEY)
    end = message.find('"', start)
    return message[start:end] if end > start else None


def _rejected_indexes(info: Any, count: int) -> list[int]:
    """The indexes ``rejectedLogEventsInfo`` names: ``[0, tooOldEnd)``, ``[0, expiredEnd)``,
    ``[tooNewStart, count)``."""
    if not isinstance(info, dict) or not info:
        return []
    rejected: set[int] = set()
    for key in ("tooOldLogEventEndIndex", "expiredLogEventEndIndex"):
        end = info.get(key)
        if isinstance(end, int):
            rejected.update(range(min(end, count)))
    start = info.get("tooNewLogEventStartIndex")
    if isinstance(start, int):
        rejected.update(range(max(0, start), count))
    return sorted(rejected)
