"""Decoding CloudWatch Logs subscription payloads as they arrive through Kinesis.

CloudWatch Logs puts one gzip-compressed JSON document per Kinesis record (Lambda hands the record
data to the function base64-encoded). ``messageType`` is ``DATA_MESSAGE`` for log events and
``CONTROL_MESSAGE`` for the reachability check sent when a subscription is created; control messages
carry no audit data and are skipped.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any, Final

from edgeauth.audit.schema import SourceLogEvent

DATA_MESSAGE: Final = "DATA_MESSAGE"
CONTROL_MESSAGE: Final = "CONTROL_MESSAGE"
MAX_DECOMPRESSED_BYTES: Final = 64 * 1024 * 1024
"""A Kinesis record holds at most 1 MB; refuse payloads that inflate beyond this (a gzip bomb)."""


class SubscriptionDecodeError(ValueError):
    """The record is not a CloudWatch Logs subscription payload. ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SubscriptionPayload:
    """A decoded payload: ``log_events`` is empty for control messages."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    log_events: tuple[SourceLogEvent, ...]

    @property
    def is_control(self) -> bool:
        return self.message_type == CONTROL_MESSAGE


def decode_base64_record(data: str) -> bytes:
    """The raw bytes of a Lambda Kinesis record's ``data`` (base64). Raises SubscriptionDecodeError."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SubscriptionDecodeError("bad_base64") from e


def decompress(raw: bytes) -> bytes:
    """gunzip with a size bound. Raises SubscriptionDecodeError."""
    try:
        d = zlib.decompressobj(wbits=31)  # gzip container only
        out = d.decompress(raw, MAX_DECOMPRESSED_BYTES)
        if d.unconsumed_tail:
            raise SubscriptionDecodeError("too_large", f"more than {MAX_DECOMPRESSED_BYTES} bytes")
        if not d.eof:
            raise SubscriptionDecodeError("bad_gzip", "truncated stream")
        return out
    except (zlib.error, gzip.BadGzipFile, EOFError) as e:
        raise SubscriptionDecodeError("bad_gzip") from e


def parse_payload(text: bytes) -> SubscriptionPayload:
    """The subscription document from decompressed JSON bytes. Raises SubscriptionDecodeError."""
    try:
        doc: Any = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SubscriptionDecodeError("bad_json") from e
    if not isinstance(doc, dict):
        raise SubscriptionDecodeError("bad_json", "not an object")
    message_type = doc.get("messageType")
    if message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
        raise SubscriptionDecodeError("bad_message_type", repr(message_type)[:64])
    group = doc.get("logGroup")
    stream = doc.get("logStream")
    owner = doc.get("owner")
    raw_events = doc.get("logEvents") or []
    if message_type == DATA_MESSAGE and (
        not isinstance(group, str) or not isinstance(stream, str) or not isinstance(raw_events, list)
    ):
        raise SubscriptionDecodeError("bad_payload", "logGroup/logStream/logEvents missing")
    events: list[SourceLogEvent] = []
    if message_type == DATA_MESSAGE:
        for i, ev in enumerate(raw_events):
            if not isinstance(ev, dict):
                raise SubscriptionDecodeError("bad_payload", f"logEvents[{i}] is not an object")
            message = ev.get("message")
            ts = ev.get("timestamp")
            eid = ev.get("id")
            if not isinstance(message, str) or not isinstance(ts, int) or isinstance(ts, bool):
                raise SubscriptionDecodeError("bad_payload", f"logEvents[{i}] lacks message/timestamp")
            events.append(
                SourceLogEvent(
                    log_group=str(group),
                    log_stream=str(stream),
                    # Without an id, the position in the payload is the only stable coordinate.
                    event_id=str(eid) if eid is not None else f"#{i}",
                    timestamp_ms=ts,
                    message=message,
                )
            )
    return SubscriptionPayload(
        message_type=str(message_type),
        owner=str(owner or ""),
        log_group=str(group or ""),
        log_stream=str(stream or ""),
        log_events=tuple(events),
    )


def decode_record_data(raw: bytes) -> SubscriptionPayload:
    """gzip bytes (a Kinesis record's data) → payload. Raises SubscriptionDecodeError."""
    return parse_payload(decompress(raw))
