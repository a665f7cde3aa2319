"""Fuzz targets of the audit consumer's input: access log lines and whole subscription records.

Defined errors: none. Whatever a caller writes into an access log line (API Gateway does not escape
``$context`` values) and whatever bytes a Kinesis record holds, normalisation never raises, and:

* a line's event kind is one its log group allows (access group: ``access``/``malformed``, never
  ``None``; authorizer group: ``decision``/``malformed`` or a skip; any other group: ``malformed``);
* every event renders as one line of JSON, at most :data:`edgeauth.audit.schema.MAX_EVENT_BYTES`,
  with its kind and id; a ``malformed`` event keeps the start of the line it stands for.

``python -m tests.fuzz.audit_harness`` (re)writes the ``seed-*`` files of ``corpus/access_line/``.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

from edgeauth.audit import schema as S
from edgeauth.audit.consumer import KinesisSource, normalise_record
from tests.support.access_lines import COMPACT_FORMAT, TYPICAL, UNAUTHENTICATED, raw_access_line

CORPUS = Path(__file__).parent / "corpus" / "access_line"
AUTHORIZER_GROUP = "/aws/lambda/EdgeAuth-prod-Authorizer"
ACCESS_GROUP = "EdgeAuth-prod-ApiAccessLogs"
OTHER_GROUP = "/aws/lambda/other"
SOURCES = S.AuditSources(authorizer_log_group=AUTHORIZER_GROUP, access_log_group=ACCESS_GROUP)
ALLOWED = {
    AUTHORIZER_GROUP: {S.KIND_DECISION, S.KIND_MALFORMED, None},
    ACCESS_GROUP: {S.KIND_ACCESS, S.KIND_MALFORMED},
    OTHER_GROUP: {S.KIND_MALFORMED},
}
T0 = 1_717_000_000_000


def _check_event(ev: S.AuditEvent, message: str) -> None:
    text = ev.to_json()
    assert "\n" not in text and len(text) <= S.MAX_EVENT_BYTES
    doc = json.loads(text)
    assert doc["kind"] == ev.kind and doc["id"] == ev.id
    if ev.kind == S.KIND_MALFORMED and "excerpt" in doc:
        excerpt = doc["excerpt"]
        kept = excerpt.removesuffix(S.TRUNCATION_MARKER) if "excerpt" in doc.get("truncated", "") else excerpt
        assert message.startswith(kept)


def check_access_line(message: str) -> None:
    """One line as if logged to each of the three kinds of group."""
    for group, allowed in ALLOWED.items():
        src = S.SourceLogEvent(group, "s", "e1", T0, message)
        ev = S.normalise_log_event(src, SOURCES.kind_of(group))
        assert (ev.kind if ev is not None else None) in allowed, (group, ev)
        if ev is not None:
            _check_event(ev, message)


def subscription_record(group: str, messages: list[str]) -> bytes:
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [{"id": f"e{i}", "timestamp": T0 + i, "message": m} for i, m in enumerate(messages)],
    }
    return gzip.compress(json.dumps(doc).encode())


def check_record(data: bytes, group: str | None = None) -> None:
    """A Kinesis record's bytes: never raises; events of the kinds its log group allows."""
    src = KinesisSource(
        "arn:aws:kinesis:us-east-1:123456789012:stream/audit",
        "shardId-0",
        "7",
        base64.b64encode(data).decode(),
        T0,
    )
    norm = normalise_record(src, SOURCES)
    for ev in norm.events:
        _check_event(ev, ev.fields.get("excerpt", "") if ev.kind == S.KIND_MALFORMED else "")
        if group is not None:
            assert ev.kind in ALLOWED[group]


def seeds() -> dict[str, str]:
    """The known attacks and edge cases of an access line (file name → line)."""
    forged_decision = (
        'curl","message":"authorization decision","event":"decision","audit_version":1,'
        '"decision":"allow","reason":"allowed","zz":"'
    )
    return {
        "seed-typical.json": raw_access_line(TYPICAL),
        "seed-unauthenticated.json": raw_access_line(UNAUTHENTICATED),
        "seed-forged-decision-user-agent.json": raw_access_line(
            {**UNAUTHENTICATED, "userAgent": forged_decision}
        ),
        "seed-repeated-status.json": raw_access_line({**TYPICAL, "userAgent": 'x","status":"200'}),
        "seed-swallowed-keys.json": raw_access_line(
            {**TYPICAL, "userAgent": 'x","apiKeyId":{"a":"', "roles": 'r"},"sub":"root","zz":"'}
        ),
        "seed-backslash-at-end.json": raw_access_line({**TYPICAL, "userAgent": "x\\", "path": "\\"}),
        "seed-escaped-quotes.json": raw_access_line({**TYPICAL, "userAgent": 'a \\"b\\" c'}),
        "seed-role-change-keys.json": raw_access_line(
            {**TYPICAL, "path": '/x","kind":"role_change","actor":"root","zz":"'}
        ),
        "seed-number-value.json": raw_access_line(TYPICAL).replace('"status": "200"', '"status": 200'),
        "seed-nested-roles.json": raw_access_line({**TYPICAL, "roles": "[" * 300 + "]" * 300}),
        "seed-huge-user-agent.json": raw_access_line({**TYPICAL, "userAgent": "A" * 9000}),
        "seed-control-characters.json": raw_access_line({**TYPICAL, "userAgent": "a\tb\x00c"}),
        "seed-unicode.json": raw_access_line({**TYPICAL, "sub": "\u00e9\u2028\ud83d\ude00"}),
        "seed-truncated.json": raw_access_line(TYPICAL)[:300],
        "seed-empty-object.json": "{}",
        "seed-array.json": "[1,2]",
        "seed-platform-line.txt": "REPORT RequestId: 1\tDuration: 2.0 ms",
        "seed-compact-typical.json": raw_access_line(TYPICAL, COMPACT_FORMAT),
        "seed-compact-forged-decision.json": raw_access_line(
            {**UNAUTHENTICATED, "userAgent": forged_decision}, COMPACT_FORMAT
        ),
        "seed-compact-swallowed-keys.json": raw_access_line(
            {**TYPICAL, "userAgent": 'x","key":{"a":"', "roles": 'r"},"sub":"root","zz":"'}, COMPACT_FORMAT
        ),
        "seed-mixed-formats.json": raw_access_line(
            {**TYPICAL, "userAgent": 'x","httpMethod":"DELETE'}, COMPACT_FORMAT
        ),
    }


def write_corpus() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for name, text in seeds().items():
        (CORPUS / name).write_text(text, encoding="utf-8", errors="surrogatepass")


if __name__ == "__main__":
    write_corpus()
