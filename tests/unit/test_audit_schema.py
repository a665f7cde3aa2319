"""Audit event schema: normalisation of decision/access lines, role changes, ids, injection, truncation."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.audit import schema as S
from edgeauth.audit.schema import AuditSources, SourceLogEvent, normalise_log_event, role_change_event
from edgeauth.core.audit_line import DecisionRecord, decision_line

T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def src(message: str, event_id: str = "e1", group: str = "/aws/lambda/authorizer") -> SourceLogEvent:
    return SourceLogEvent(
        log_group=group,
        log_stream="2024/01/01/[$LATEST]abc",
        event_id=event_id,
        timestamp_ms=T0,
        message=message,
    )


SOURCES = AuditSources(authorizer_log_group="/aws/lambda/authorizer", access_log_group="api-access")


def normalise(line: SourceLogEvent) -> S.AuditEvent | None:
    """What the consumer makes of a line: its kind from its log group, as the stack configures them."""
    return normalise_log_event(line, SOURCES.kind_of(line.log_group))


def access_line(**over: str) -> str:
    body = {k: "-" for k in C.ACCESS_LOG_FIELDS}
    body.update(
        requestId="req-1",
        requestTimeEpoch=str(T0 - 5),
        httpMethod="GET",
        resourcePath="/accounts/{id}",
        path="/accounts/42",
        status="200",
        responseLatency="12",
        integrationLatency="8",
        integrationStatus="200",
        apiKeyId="key-123",
        principalId="alice",
        sub="alice",
        iss="https://idp.example",
        authorizerStatus="200",
        authorizerLatency="3",
    )
    body.update(over)
    return json.dumps(body)


def written(ev: S.AuditEvent) -> dict[str, Any]:
    text = ev.to_json()
    assert "\n" not in text
    doc: dict[str, Any] = json.loads(text)
    return doc


class TestDecision:
    def test_given_authorizer_line_when_normalised_then_decision_event_with_fields(self) -> None:
        # GIVEN the authorizer's own line
        line = decision_line(
            DecisionRecord(
                decision="deny",
                reason="no_matching_permission",
                method="DELETE",
                resource="/accounts/{id}",
                path="/accounts/7",
                iss="https://idp.example",
                sub="bob",
                roles=["reader", "auditor"],
                latency_ms=1.234,
                request_id="r-9",
                role_cache_hit=True,
            ),
            now=T0 / 1000,
        )
        # WHEN
        ev = normalise(src(line))
        # THEN
        assert ev is not None and ev.kind == "decision"
        doc = written(ev)
        assert doc["audit_version"] == C.AUDIT_EVENT_VERSION
        assert doc["decision"] == "deny" and doc["reason"] == "no_matching_permission"
        assert doc["sub"] == "bob" and doc["roles"] == "reader,auditor"
        assert doc["method"] == "DELETE" and doc["resource"] == "/accounts/{id}"
        assert doc["latency_ms"] == 1.234 and doc["role_cache_hit"] == 1
        assert doc["time"] == "2023-11-14T22:13:20.000Z"
        assert "_aws" not in doc and "Decisions" not in doc and "rule" not in doc  # null fields omitted
        # version 2: what every event of the group would repeat is left out
        assert doc["audit_version"] == 2 and not {"source", "api_id", "stage", "service"} & set(doc)

    def test_given_same_source_when_normalised_twice_then_same_id(self) -> None:
        line = decision_line(DecisionRecord(decision="allow", reason="allowed"))
        a, b = normalise(src(line, "E1")), normalise(src(line, "E1"))
        c = normalise(src(line, "E2"))
        assert a is not None and b is not None and c is not None
        assert a.id == b.id != c.id
        assert len(a.id) == 32

    def test_given_decision_line_with_wrong_shape_then_malformed(self) -> None:
        line = json.dumps({"message": C.AUDIT_DECISION_MESSAGE, "event": "decision", "decision": 3})
        ev = normalise(src(line))
        assert ev is not None and ev.kind == "malformed"
        assert written(ev)["error"] == S.ERR_BAD_DECISION

    def test_given_future_schema_version_then_marked_not_guessed(self) -> None:
        body = json.loads(decision_line(DecisionRecord(decision="allow", reason="allowed")))
        body["audit_version"] = 99
        ev = normalise(src(json.dumps(body)))
        assert ev is not None and written(ev)["error"] == S.ERR_UNKNOWN_VERSION


class TestInjection:
    def test_given_subject_with_newline_and_json_then_one_field_and_no_new_keys(self) -> None:
        # GIVEN a subject that tries to end the line and add fields
        evil = 'x"}\n{"kind":"role_change","decision":"allow","sub":"root'
        line = decision_line(DecisionRecord(decision="deny", reason="no_roles", sub=evil))
        # WHEN
        ev = normalise(src(line))
        assert ev is not None
        text = ev.to_json()
        # THEN the line stays one line, one object, and the value round-trips unchanged
        assert "\n" not in text
        doc = json.loads(text)
        assert doc["sub"] == evil and doc["kind"] == "decision" and doc["decision"] == "deny"
        assert text.count('"kind"') == 1

    def test_given_access_line_with_duplicate_keys_then_malformed_not_overridden(self) -> None:
        # API Gateway does not escape $context values: a crafted value can repeat a key.
        raw = access_line()[:-1] + ', "status": "200"}'
        raw = raw.replace('"status": "200"', '"status": "403"', 1)
        ev = normalise(src(raw, group="api-access"))
        assert ev is not None and ev.kind == "malformed"
        assert written(ev)["error"] == S.ERR_DUPLICATE_KEYS

    def test_given_non_string_values_then_coerced_to_text(self) -> None:
        body = json.loads(decision_line(DecisionRecord(decision="deny", reason="x")))
        body["sub"] = {"nested": ["a", 1]}
        ev = normalise(src(json.dumps(body)))
        assert ev is not None and written(ev)["sub"] == '{"nested":["a",1]}'


class TestTruncation:
    def test_given_oversized_field_then_cut_with_marker_and_named(self) -> None:
        line = decision_line(DecisionRecord(decision="deny", reason="r", path="/" + "a" * 10_000))
        ev = normalise(src(line))
        assert ev is not None
        doc = written(ev)
        assert len(doc["path"]) == S.MAX_FIELD_CHARS
        assert doc["path"].endswith(S.TRUNCATION_MARKER)
        assert doc["truncated"] == "path"

    def test_given_huge_garbage_line_then_malformed_excerpt_bounded(self) -> None:
        ev = normalise(src("not json " * 100_000))
        assert ev is not None and ev.kind == "malformed"
        doc = written(ev)
        assert doc["error"] == S.ERR_NOT_JSON
        assert len(doc["excerpt"]) == S.MAX_EXCERPT_CHARS and doc["truncated"] == "excerpt"
        assert len(ev.to_json()) <= S.MAX_EVENT_BYTES


class TestNonAudit:
    @pytest.mark.parametrize(
        "line",
        [
            "START RequestId: 1 Version: $LATEST",
            "END RequestId: 1",
            "REPORT RequestId: 1\tDuration: 2.0 ms",
            '{"time":"2024-01-01T00:00:00Z","type":"platform.start","record":{}}',
            '{"level":"INFO","message":"cold start","service":"edgeauth-authorizer"}',
        ],
    )
    def test_given_platform_or_other_app_line_then_skipped(self, line: str) -> None:
        assert normalise(src(line)) is None

    @pytest.mark.parametrize("line", ["[1, 2]", '"just a string"', "{bad json"])
    def test_given_unreadable_line_then_malformed(self, line: str) -> None:
        ev = normalise(src(line))
        assert ev is not None and ev.kind == "malformed"


class TestAccess:
    def test_given_success_then_access_event_numbers_and_no_refusal(self) -> None:
        ev = normalise(src(access_line(), group="api-access"))
        assert ev is not None and ev.kind == "access"
        doc = written(ev)
        assert doc["status"] == 200 and doc["latency_ms"] == 12 and doc["api_key_id"] == "key-123"
        assert doc["sub"] == "alice" and doc["resource"] == "/accounts/{id}"
        # version 2: what every event of the group would repeat is left out
        assert doc["audit_version"] == 2 and not {"source", "principal", "api_id", "stage", "protocol"} & set(
            doc
        )
        assert "refused_by" not in doc and "reason" not in doc and "user_agent" not in doc  # "-" → absent
        assert ev.time_ms == T0 - 5  # the request's time

    @pytest.mark.parametrize(
        ("over", "refused_by", "reason"),
        [
            (
                {
                    "status": "401",
                    "errorResponseType": "UNAUTHORIZED",
                    "authorizerStatus": "-",
                    "authorizerLatency": "-",
                },
                "gateway",
                "missing_token",
            ),
            ({"status": "429", "errorResponseType": "THROTTLED"}, "gateway", "throttled"),
            ({"status": "429", "errorResponseType": "QUOTA_EXCEEDED"}, "gateway", "quota_exceeded"),
            (
                {
                    "status": "403",
                    "errorResponseType": "MISSING_AUTHENTICATION_TOKEN",
                    "errorMessage": "Missing Authentication Token",
                    "authorizerStatus": "-",
                    "resourcePath": "-",
                },
                "gateway",
                "unknown_route",
            ),
            ({"status": "403", "errorResponseType": "ACCESS_DENIED"}, "authorizer", "access_denied"),
            ({"status": "401", "errorResponseType": "UNAUTHORIZED"}, "authorizer", "unauthorized"),
            (
                {"status": "502", "integrationStatus": "502", "errorResponseType": "-"},
                "backend",
                "status_502",
            ),
        ],
    )
    def test_given_refusals_then_classified(self, over: dict[str, str], refused_by: str, reason: str) -> None:
        ev = normalise(src(access_line(**over), group="api-access"))
        assert ev is not None
        doc = written(ev)
        assert (doc["refused_by"], doc["reason"]) == (refused_by, reason)

    def test_given_roles_as_json_list_string_then_joined(self) -> None:
        ev = normalise(src(access_line(roles='["a","b"]'), group="api-access"))
        assert ev is not None and written(ev)["roles"] == "a,b"


class TestRoleChange:
    def test_given_modify_then_diff_of_lists_and_scalars(self) -> None:
        # GIVEN a role edit as the role-events Lambda sees it (TypeDeserializer output)
        old = {
            "pk": "ROLE#reader",
            "sk": "ROLE",
            "allow": {"GET /a", "GET /b"},
            "description": "r",
            "version": Decimal(3),
        }
        new = {
            "pk": "ROLE#reader",
            "sk": "ROLE",
            "allow": {"GET /a", "GET /c"},
            "description": "reader",
            "version": Decimal(4),
        }
        # WHEN
        ev = role_change_event(
            stream_event_id="abc123",
            who="ops@example",
            when=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
            table_key={"pk": "ROLE#reader", "sk": "ROLE"},
            old_image=old,
            new_image=new,
        )
        doc = written(ev)
        # THEN
        assert doc["kind"] == "role_change" and doc["action"] == "modify" and doc["actor"] == "ops@example"
        assert doc["entity"] == "role" and doc["role"] == "reader" and doc["version"] == 4
        assert doc["diff"]["allow"] == {"added": ["GET /c"], "removed": ["GET /b"]}
        assert doc["diff"]["description"] == {"old": "r", "new": "reader"}
        assert doc["changed"] == "allow,description"
        assert doc["time"] == "2024-05-01T12:00:00.000Z"
        assert ev.id == S.event_id("ddb", "abc123")

    def test_given_insert_and_remove_then_action_and_entity(self) -> None:
        key = {"pk": "SUBJECT#https://idp", "sk": "alice"}
        ins = role_change_event(
            stream_event_id="1",
            who=None,
            when=1.5,
            table_key=key,
            old_image=None,
            new_image={**key, "roles": ["a"]},
        )
        rem = role_change_event(
            stream_event_id="2",
            who="x",
            when=2,
            table_key=key,
            old_image={**key, "roles": ["a"]},
            new_image=None,
        )
        di, dr = written(ins), written(rem)
        assert di["action"] == "insert" and di["diff"]["roles"] == {"added": ["a"]} and "actor" not in di
        assert dr["action"] == "remove" and dr["diff"]["roles"] == {"removed": ["a"]}
        assert di["entity"] == "subject" and di["iss"] == "https://idp" and di["sub"] == "alice"
        assert ins.time_ms == 1500

    def test_given_huge_images_then_bounded(self) -> None:
        key = {"pk": "ROLE#big", "sk": "ROLE"}
        new = {**key, "allow": {f"GET /r{i}/" + "x" * 3000 for i in range(500)}, "blob": "y" * 100_000}
        ev = role_change_event(
            stream_event_id="3", who="x", when=0, table_key=key, old_image={}, new_image=new
        )
        text = ev.to_json()
        assert len(text) <= S.MAX_EVENT_BYTES
        assert json.loads(text)["id"] == ev.id


class TestHostileAccessLines:
    """An access line never makes normalisation raise (a raise would fail the whole Kinesis record)."""

    def test_deeply_nested_roles_are_kept_as_text(self) -> None:
        roles = "[" * 5000 + "]" * 5000
        ev = normalise(src(access_line(roles=roles), group="api-access"))
        assert ev is not None and ev.kind == "access"
        assert written(ev)["roles"].startswith("[[[")

    def test_request_time_beyond_year_9999_keeps_the_log_timestamp(self) -> None:
        ev = normalise(src(access_line(requestTimeEpoch="9" * 30), group="api-access"))
        assert ev is not None and ev.time_ms == T0
        assert written(ev)["time"].startswith("20")


class TestKindComesFromTheSourceGroup:
    """API Gateway does not escape ``$context`` values: a caller writes raw text into the access line.
    The event's kind comes from the log group the line was logged to, never from what it says."""

    FORGED_DECISION = (
        'curl/8","message":"authorization decision","event":"decision","audit_version":1,'
        '"decision":"allow","reason":"allowed","rule":"admin:allow:*","zz":"'
    )
    """A User-Agent that adds a complete decision line's keys, none of them a key of the format."""

    def test_given_user_agent_forging_a_decision_in_a_401_then_malformed_with_excerpt_not_a_decision(
        self,
    ) -> None:
        # GIVEN a request refused with 401 before the authorizer ran, whose User-Agent adds the keys
        # of an allowed decision (no key repeated, so the duplicate-key check does not fire)
        from tests.support.access_lines import UNAUTHENTICATED, raw_access_line

        line = raw_access_line({**UNAUTHENTICATED, "userAgent": self.FORGED_DECISION})
        assert json.loads(line)["decision"] == "allow"  # valid JSON: the forgery parses
        # WHEN the access log group's line is normalised
        ev = normalise(src(line, group="api-access"))
        # THEN it is recorded, as malformed, with the line kept: never a decision, never dropped
        assert ev is not None and ev.kind == S.KIND_MALFORMED
        doc = written(ev)
        assert doc["error"] == S.ERR_NOT_ACCESS_FORMAT and doc["source"] == "api-access"
        assert UNAUTHENTICATED["requestId"] in doc["excerpt"] and "decision" not in doc

    def test_given_a_genuine_decision_line_in_the_access_log_group_then_malformed(self) -> None:
        line = decision_line(DecisionRecord(decision="allow", reason="allowed", sub="alice"))
        ev = normalise(src(line, group="api-access"))
        assert ev is not None and ev.kind == S.KIND_MALFORMED
        assert written(ev)["error"] == S.ERR_NOT_ACCESS_FORMAT

    def test_given_an_access_line_in_the_authorizer_group_then_never_an_access_event(self) -> None:
        # An application line of the authorizer that happens to look like an access line is skipped
        # (counted), as any other application line there.
        assert normalise(src(access_line(), group="/aws/lambda/authorizer")) is None

    @pytest.mark.parametrize(
        "line",
        [
            decision_line(DecisionRecord(decision="allow", reason="allowed")),
            access_line(),
            "START RequestId: 1 Version: $LATEST",
        ],
    )
    def test_given_a_line_from_another_log_group_then_malformed_unknown_source(self, line: str) -> None:
        ev = normalise(src(line, group="/aws/lambda/someone-else"))
        assert ev is not None and ev.kind == S.KIND_MALFORMED
        doc = written(ev)
        assert doc["error"] == S.ERR_UNKNOWN_SOURCE and doc["excerpt"] == line
        assert doc["source"] == "/aws/lambda/someone-else"

    def test_given_values_that_swallow_the_keys_between_them_into_an_object_then_malformed(self) -> None:
        # GIVEN two caller-controlled values: the first opens an object under a key of the format,
        # which swallows every real key up to the second, which closes it and re-adds them forged
        from tests.support.access_lines import TYPICAL, raw_access_line

        line = raw_access_line(
            {
                **TYPICAL,
                "userAgent": 'x","apiKeyId":{"a":"',
                "roles": 'r"},"principalId":"root","sub":"root","iss":"https://idp.example.com/","zz":"',
            }
        )
        body = json.loads(line)
        assert isinstance(body["apiKeyId"], dict) and body["sub"] == "root"  # parses, no key repeated
        # WHEN / THEN
        ev = normalise(src(line, group="api-access"))
        assert ev is not None and written(ev)["error"] == S.ERR_NOT_ACCESS_FORMAT

    def test_given_a_value_that_is_not_a_string_then_malformed(self) -> None:
        body = json.loads(access_line())
        body["status"] = 200
        ev = normalise(src(json.dumps(body), group="api-access"))
        assert ev is not None and written(ev)["error"] == S.ERR_NOT_ACCESS_FORMAT

    def test_given_hostile_but_contained_values_then_access_event_with_them_as_text(self) -> None:
        # Quotes and backslashes that do not leave their string are just text of that field.
        from tests.support.access_lines import TYPICAL, raw_access_line

        line = raw_access_line({**TYPICAL, "userAgent": 'a \\"quoted\\" agent \\\\', "path": "/p\\u0041"})
        ev = normalise(src(line, group="api-access"))
        assert ev is not None and ev.kind == S.KIND_ACCESS
        doc = written(ev)
        assert doc["user_agent"] == 'a "quoted" agent \\' and doc["path"] == "/pA"

    def test_given_no_source_kind_then_malformed(self) -> None:
        line = decision_line(DecisionRecord(decision="allow", reason="allowed"))
        ev = normalise_log_event(src(line), None)
        assert ev is not None and written(ev)["error"] == S.ERR_UNKNOWN_SOURCE

    def test_sources_must_name_two_different_groups(self) -> None:
        with pytest.raises(ValueError, match="required"):
            AuditSources(authorizer_log_group="", access_log_group="a")
        with pytest.raises(ValueError, match="differ"):
            AuditSources(authorizer_log_group="a", access_log_group="a")


class TestAccessLogFormats:
    """The stage logs either format (``access_log_format``); the consumer reads both."""

    def test_both_formats_log_the_same_context_values_under_their_keys(self) -> None:
        for event_key, full, compact, _ in S._ACCESS_MAP:
            if compact is not None:
                assert C.ACCESS_LOG_FIELDS[full] == C.ACCESS_LOG_FIELDS_COMPACT[compact], event_key
        read = {full for _, full, _, _ in S._ACCESS_MAP}
        # Left out of version 2 events (the same on every event, or another field says it) or read
        # apart (the time):
        not_read = {"extendedRequestId", "principalId", "apiId", "stage", "protocol"}
        assert set(C.ACCESS_LOG_FIELDS) - read == {"requestTimeEpoch", *not_read}
        assert set(C.ACCESS_LOG_FIELDS_COMPACT) - {c for _, _, c, _ in S._ACCESS_MAP} == {"t", "apiId"}
        # Unchanged names, because the access log metric filters select on them.
        assert {"requestId", "status", "apiId"} <= set(C.ACCESS_LOG_FIELDS_COMPACT)

    def test_a_compact_line_is_the_same_access_event_as_a_full_one(self) -> None:
        from tests.support.access_lines import TYPICAL, escaped_access_line

        full = normalise(src(escaped_access_line(TYPICAL, "full"), group="api-access"))
        compact = normalise(src(escaped_access_line(TYPICAL, "compact"), group="api-access"))
        assert full is not None and compact is not None and compact.kind == S.KIND_ACCESS
        assert dict(compact.fields) == dict(full.fields) and compact.time_ms == full.time_ms
        from tests.support.access_lines import COMPACT_FORMAT, raw_access_line

        # What the stage writes, as it writes it: the compact line is about 40 % shorter.
        assert len(raw_access_line(TYPICAL, COMPACT_FORMAT)) < 0.62 * len(raw_access_line(TYPICAL))

    def test_a_line_mixing_the_two_formats_keys_is_malformed(self) -> None:
        from tests.support.access_lines import TYPICAL, escaped_access_line

        body = json.loads(escaped_access_line(TYPICAL, "compact"))
        body["httpMethod"] = "DELETE"
        ev = normalise(src(json.dumps(body), group="api-access"))
        assert ev is not None and written(ev)["error"] == S.ERR_NOT_ACCESS_FORMAT
