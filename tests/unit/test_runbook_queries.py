"""The saved query the AuthorizerFaults runbook entry confirms the alarm with (docs/operations.md "Alarms and
runbook"), run by the local Logs Insights evaluator on normalised audit events."""

from __future__ import annotations

from edgeauth.audit.queries import PRESETS
from edgeauth.audit.schema import KIND_DECISION, SourceLogEvent, normalise_log_event
from edgeauth.core.audit_line import DecisionRecord, decision_line
from edgeauth_local.insights import LogRecord, run_query

NOW_MS = 1_700_000_000_000


def records(decisions: list[tuple[str, str]]) -> list[LogRecord]:
    out = []
    for i, (decision, reason) in enumerate(decisions):
        line = decision_line(DecisionRecord(decision=decision, reason=reason, sub="carol"))
        event = normalise_log_event(
            SourceLogEvent("/aws/lambda/auth", "s", str(i), NOW_MS + i, line), KIND_DECISION
        )
        assert event is not None
        out.append(LogRecord(event.time_ms, event.to_json(), "kinesis/x"))
    return out


def test_authorizer_faults_counts_the_500_decisions_by_reason() -> None:
    events = records(
        [
            ("error", "role_store_unavailable"),
            ("error", "role_store_unavailable"),
            ("error", "jwks_unavailable"),
            ("unauthorized", "expired"),
            ("deny", "no_matching_permission"),
            ("allow", "allowed"),
        ]
    )
    outcome = run_query(PRESETS["authorizer-faults"].query, events)
    counted = {row["reason"]: int(row["faults"]) for row in outcome.rows}
    assert counted == {"role_store_unavailable": 2, "jwks_unavailable": 1}
