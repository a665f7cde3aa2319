"""No forged audit events: caller-controlled values in every ``$context`` field of the access log format.

API Gateway writes access log lines by substituting ``$context`` values into the stage's JSON format
without escaping them (:mod:`tests.support.access_lines`). Here any subset of the fields holds
hostile text (JSON fragments that try to add, repeat or swallow keys, stray quotes and backslashes,
a whole decision line), and the properties are:

* a line of the access log group always becomes exactly one event, ``access`` or ``malformed``,
  never a decision and never nothing; a ``malformed`` one keeps the start of the line;
* when it is an ``access`` event, no boundary moved: each field's raw text is a complete JSON string
  body on its own, and the event is exactly the one an escaping writer's line of those values gives
  (no value leaked into another field, no key added);
* the authorizer's own line with caller-controlled values (subject, path, …) is one ``decision``
  event whose fields are those values, and no others;
* whatever the lines of a subscription record, its events' kinds are the ones its log group allows.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgeauth import constants as C
from edgeauth.audit import schema as S
from edgeauth.audit.consumer import KinesisSource, normalise_record
from edgeauth.core.audit_line import DecisionRecord, decision_line
from tests.support.access_lines import FORMATS, TYPICAL, UNAUTHENTICATED, escaped_access_line, raw_access_line
from tests.support.budget import budget

AUTHORIZER_GROUP = "/aws/lambda/EdgeAuth-prod-Authorizer"
ACCESS_GROUP = "EdgeAuth-prod-ApiAccessLogs"
SOURCES = S.AuditSources(authorizer_log_group=AUTHORIZER_GROUP, access_log_group=ACCESS_GROUP)
T0 = 1_717_000_000_000

FIELDS = tuple(C.ACCESS_LOG_FIELDS)
FRAGMENTS = (
    '","status":"200',
    '","status":"200","zz":"',
    '","requestId":"forged',
    '","message":"authorization decision","event":"decision","audit_version":1,"decision":"allow","reason":"allowed","zz":"',
    '","kind":"role_change","actor":"root","zz":"',
    '","apiKeyId":{"a":"',
    '"},"zz":"',
    '"}',
    '"},"sub":"root","iss":"https://idp.example.com/","zz":"',
    '{"',
    '"]',
    '","zz":["',
    "\\",
    '\\"',
    "\\\\",
    '"',
    "\\u0022",
    "\n",
    "-",
    "",
    "null",
    '":1,"zz":"',
    "}",
)
text_parts = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.text(alphabet='"\\{}[],:abcsu0129 -', max_size=12),
    st.text(max_size=8),
)
hostile = st.lists(text_parts, min_size=1, max_size=4).map("".join)
overrides = st.dictionaries(st.sampled_from(FIELDS), hostile, max_size=5)
bases = st.sampled_from((TYPICAL, UNAUTHENTICATED))


def source_event(message: str, group: str = ACCESS_GROUP) -> S.SourceLogEvent:
    return S.SourceLogEvent(group, "a1b2c3d4e5_prod", "38294756283947562839475628394756", T0, message)


def decoded_alone(raw: str) -> str | None:
    """The raw text read as the body of one JSON string, or ``None`` when it is not one."""
    try:
        value = json.loads('"' + raw + '"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


@budget(150)
@given(base=bases, over=overrides, fmt=st.sampled_from(sorted(FORMATS)))
def test_an_access_line_with_caller_controlled_values_is_its_own_access_event_or_malformed(
    base: dict[str, str], over: dict[str, str], fmt: str
) -> None:
    values = {**base, **over}
    line = raw_access_line(values, FORMATS[fmt][0])
    ev = S.normalise_log_event(source_event(line), SOURCES.kind_of(ACCESS_GROUP))
    assert ev is not None, "an access log line is never dropped"
    assert ev.kind in (S.KIND_ACCESS, S.KIND_MALFORMED)
    doc = json.loads(ev.to_json())
    assert doc["kind"] == ev.kind and doc["id"] == ev.id
    if ev.kind == S.KIND_MALFORMED:
        excerpt = doc["excerpt"]
        kept = excerpt.removesuffix(S.TRUNCATION_MARKER) if doc.get("truncated") else excerpt
        assert line.startswith(kept) and kept
        return
    # An access event: every boundary is where the format put it (the fields the format logs).
    logged = {k for k, var in C.ACCESS_LOG_FIELDS.items() if var in FORMATS[fmt][0]}
    honest_values = {key: decoded_alone(raw if raw else "-") for key, raw in values.items() if key in logged}
    assert None not in honest_values.values(), f"an access event from a line whose values moved: {line}"
    honest = S.normalise_log_event(
        source_event(
            escaped_access_line({k: v or "-" for k, v in honest_values.items() if v is not None}, fmt)
        ),
        S.KIND_ACCESS,
    )
    assert honest is not None and honest.to_json() == ev.to_json()


@budget(150)
@given(
    sub=st.text(max_size=40),
    path=st.text(max_size=40),
    source_ip=hostile,
    client_id=hostile,
)
def test_the_authorizers_line_with_caller_controlled_values_is_one_decision_of_those_values(
    sub: str, path: str, source_ip: str, client_id: str
) -> None:
    line = decision_line(
        DecisionRecord(
            decision="deny",
            reason="no_roles",
            sub=sub,
            path=path,
            source_ip=source_ip,
            client_id=client_id,
            request_id="r-1",
        ),
        now=T0 / 1000,
    )
    ev = S.normalise_log_event(source_event(line, AUTHORIZER_GROUP), SOURCES.kind_of(AUTHORIZER_GROUP))
    assert ev is not None and ev.kind == S.KIND_DECISION
    doc = json.loads(ev.to_json())
    assert (doc["decision"], doc["reason"], doc["request_id"]) == ("deny", "no_roles", "r-1")
    for key, value in (("sub", sub), ("path", path), ("source_ip", source_ip), ("client_id", client_id)):
        assert doc.get(key) == value, key
    assert "actor" not in doc and "status" not in doc


def record(group: str, messages: list[str]) -> KinesisSource:
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [{"id": f"e{i}", "timestamp": T0 + i, "message": m} for i, m in enumerate(messages)],
    }
    data = base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()
    return KinesisSource("arn:aws:kinesis:us-east-1:123456789012:stream/audit", "shardId-0", "1", data, T0)


ALLOWED: dict[str, set[str]] = {
    AUTHORIZER_GROUP: {S.KIND_DECISION, S.KIND_MALFORMED},
    ACCESS_GROUP: {S.KIND_ACCESS, S.KIND_MALFORMED},
    "/aws/lambda/other": {S.KIND_MALFORMED},
}


def _line(kind: str, over: dict[str, str], sub: str) -> str:
    if kind == "access":
        return raw_access_line({**TYPICAL, **over})
    if kind == "decision":
        return decision_line(DecisionRecord(decision="allow", reason="allowed", sub=sub))
    return "START RequestId: 1 Version: $LATEST"


@budget(100)
@given(
    group=st.sampled_from(sorted(ALLOWED)),
    lines=st.lists(
        st.tuples(st.sampled_from(("access", "decision", "platform")), overrides, st.text(max_size=10)),
        min_size=1,
        max_size=6,
    ),
)
def test_a_records_events_are_of_the_kinds_its_log_group_allows(
    group: str, lines: list[tuple[str, dict[str, str], str]]
) -> None:
    messages = [_line(*spec) for spec in lines]
    norm = normalise_record(record(group, messages), SOURCES)
    kinds: Any = {e.kind for e in norm.events}
    assert kinds <= ALLOWED[group]
    # Nothing vanishes: every line is an event, or (only in the authorizer's group) a counted skip.
    assert len(norm.events) + norm.skipped_lines == len(messages)
    if group != AUTHORIZER_GROUP:
        assert norm.skipped_lines == 0
