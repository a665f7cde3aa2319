"""``AuditLogWriter``: the adapter that writes audit events to the audit log group, exactly once.

How a retry is recognised (the dedupe design)
----------------------------------------------
``PutLogEvents`` is not idempotent (sequence tokens, and with them ``DataAlreadyAcceptedException``,
are gone), so the writer makes the *log stream* the unit of idempotence:

1. Every source unit gets a deterministic log stream name: one per Kinesis record
   (:func:`stream_for_kinesis_record`, from the stream, shard and sequence number) and one per
   DynamoDB stream record for role changes (:func:`stream_for_role_change`). A redelivered record
   maps to the same log stream, whatever the batch around it looks like (partial-failure retries,
   bisected batches, a crash, a different container).
2. :meth:`AuditLogWriter.write` first calls ``CreateLogStream``. If that succeeds the stream is new,
   so nothing of this unit was written before and every event is put. If it answers
   ``ResourceAlreadyExistsException`` this is a redelivery: the writer reads the stream back
   (``GetLogEvents``), collects the ``id`` of every event already there and puts only the others.
3. Events are put in chronological batches within the service limits; after a crash between two
   batches the readback finds the first batch and the retry writes only the rest.

So a retry never duplicates an event and a crash never loses one (the Kinesis record is redelivered
until the consumer reports it done). What it relies on: a ``PutLogEvents`` call that returned is
visible to ``GetLogEvents`` by the time the record is redelivered. On AWS that is near-immediate but
not documented as strongly consistent, so the writer waits ``settle_seconds`` before a readback (only
on the redelivery path). Cost: one ``CreateLogStream`` per Kinesis record (account quota 50 TPS,
adjustable); one CloudWatch Logs subscription record usually carries many log lines.

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


def stream_for_kinesis_record(stream_arn_or_name: str, shard_id: str, sequence_number: str) -> str:
    """The deterministic log stream of one Kinesis record (``kinesis/<stream>/<shard>/<sequence>``)."""
    kinesis_stream = stream_arn_or_name.rsplit("/", 1)[-1] or "stream"
    return stream_name("kinesis", kinesis_stream, shard_id, sequence_number)


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
            code = _error_code(e)
            if code == "ResourceAlreadyExistsException":
                return False
            if code == "ResourceNotFoundException" and self.create_missing_group:
                self._create_group()
                try:
                    self.client.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
                    return True
                except Exception as e2:
                    if _error_code(e2) == "ResourceAlreadyExistsException":
                        return False
                    raise self._translate(e2) from e2
            raise self._translate(e) from e

    def _create_group(self) -> None:
        try:
            self.client.create_log_group(logGroupName=self.log_group)
        except Exception as e:
            if _error_code(e) != "ResourceAlreadyExistsException":
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

    def _translate(self, e: Exception) -> AuditWriteError:
        code = _error_code(e)
        if code == "ResourceNotFoundException":
            return AuditLogGroupMissingError(f"audit log group {self.log_group!r} (or stream) not found")
        if code in _THROTTLE_CODES:
            return AuditWriteThrottledError(f"CloudWatch Logs throttled: {code}")
        return AuditWriteError(f"CloudWatch Logs call failed: {code or type(e).__name__}")


def _error_code(e: BaseException) -> str | None:
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
