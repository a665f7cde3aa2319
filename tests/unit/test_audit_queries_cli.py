"""Saved queries (shape, parameters, quoting) and ``edgeauth audit`` against fake clients (no sockets)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from edgeauth.audit.queries import PRESETS, SAVED_QUERIES, QueryParameterError, render
from edgeauth.audit.schema import SourceLogEvent, normalise_log_event
from edgeauth.core.audit_line import DecisionRecord, decision_line
from edgeauth_cli import main as cli
from edgeauth_cli.context import CliContext
from edgeauth_local.insights import LogRecord, parse_query, run_query

NOW_MS = 1_700_000_000_000
ACCOUNT = "111122223333"


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)


class TestSavedQueries:
    def test_at_least_the_eight_required_presets(self) -> None:
        names = {q.name for q in SAVED_QUERIES}
        assert {
            "denied-by-subject",
            "unauthorized-by-reason",
            "route-callers",
            "subject-activity",
            "role-changes",
            "throttled-clients",
            "authorizer-latency",
            "error-rate-by-route",
        } <= names
        assert len(names) == len(SAVED_QUERIES)

    @pytest.mark.parametrize("saved", SAVED_QUERIES, ids=lambda q: q.name)
    def test_every_preset_is_in_the_local_subset_and_definition_is_valid(self, saved: Any) -> None:
        # parse_query is the documented-grammar check: it refuses what CloudWatch refuses (comparisons
        # as values, a command after dedup), so a preset that parses runs the same on AWS.
        run_query(render(saved, {p: "v" for p in saved.params}), audit_records())
        parse_query(saved.definition_query)
        assert "{" not in saved.definition_query.replace("{id}", "")
        assert saved.definition_name.startswith("edgeauth/")

    def test_error_rate_by_route_counts_status_classes(self) -> None:
        def access(status: int, resource: str = "/accounts/{id}") -> str:
            return json.dumps({"kind": "access", "method": "GET", "resource": resource, "status": status})

        statuses = [200, 204, 301, 400, 403, 429, 499, 500, 502, 503, 599]
        logs = [LogRecord(NOW_MS + i, access(s)) for i, s in enumerate(statuses)]
        logs += [
            LogRecord(NOW_MS + 100, access(200, "/health")),
            LogRecord(NOW_MS + 101, '{"kind": "decision"}'),
        ]
        out = run_query(PRESETS["error-rate-by-route"].query, logs)
        assert out.columns == ["method", "resource", "requests", "errors_4xx", "errors_5xx", "pct_5xx"]
        assert out.rows == [
            {
                "method": "GET",
                "resource": "/accounts/{id}",
                "requests": "11",
                "errors_4xx": "4",
                "errors_5xx": "4",
                "pct_5xx": repr(4 * 100 / 11),
            },
            {
                "method": "GET",
                "resource": "/health",
                "requests": "1",
                "errors_4xx": "0",
                "errors_5xx": "0",
                "pct_5xx": "0",
            },
        ]

    def test_render_quotes_values_so_they_cannot_add_syntax(self) -> None:
        q = render(PRESETS["subject-activity"], {"sub": 'x" or kind = "role_change'})
        assert q.startswith('filter sub = "x\\" or kind = \\"role_change"\n')

    def test_render_refuses_missing_unknown_and_control_characters(self) -> None:
        with pytest.raises(QueryParameterError, match="needs --param sub"):
            render(PRESETS["subject-activity"], {})
        with pytest.raises(QueryParameterError, match="no parameter"):
            render(PRESETS["role-changes"], {"sub": "a"})
        with pytest.raises(QueryParameterError):
            render(PRESETS["subject-activity"], {"sub": "a\nb"})


def audit_records() -> list[LogRecord]:
    """Normalised audit events for a few decisions, as they sit in the audit log group."""
    out = []
    for i, (sub, decision) in enumerate(
        [("alice", "allow"), ("bob", "deny"), ("bob", "deny"), ("eve", "unauthorized")]
    ):
        line = decision_line(
            DecisionRecord(
                decision=decision, reason="r" if decision != "allow" else "allowed", sub=sub, latency_ms=i
            )
        )
        src = SourceLogEvent("/aws/lambda/auth", "s", str(i), NOW_MS - 60_000 + i, line)
        ev = normalise_log_event(src, "decision")
        assert ev is not None
        out.append(LogRecord(ev.time_ms, ev.to_json(), "kinesis/x"))
    return out


class FakeLogs:
    def __init__(self, statuses: list[str] | None = None) -> None:
        self.statuses = statuses or ["Running", "Complete"]
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.records = audit_records()

    def start_query(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("start_query", kw))
        return {"queryId": "0123456789abcdef"}

    def get_query_results(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get_query_results", kw))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        results = [
            [
                {"field": "sub", "value": "bob"},
                {"field": "denied", "value": "2"},
                {"field": "@ptr", "value": "p"},
            ]
        ]
        return {
            "status": status,
            "statistics": {"recordsScanned": 4.0, "recordsMatched": 3.0},
            "results": results if status == "Complete" else [],
        }

    def stop_query(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("stop_query", kw))
        return {"success": True}

    def describe_log_groups(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe_log_groups", kw))
        name = kw["logGroupNamePrefix"]
        return {
            "logGroups": [
                {
                    "logGroupName": name + "-old",
                    "arn": f"arn:aws:logs:us-east-1:999999999999:log-group:{name}-old:*",
                },
                {"logGroupName": name, "arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}:*"},
            ]
        }

    def filter_log_events(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("filter_log_events", kw))
        return {
            "events": [
                {"timestamp": r.timestamp_ms, "message": r.message, "logStreamName": r.log_stream}
                for r in self.records
                if kw["startTime"] <= r.timestamp_ms <= kw["endTime"]
            ]
        }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLogs:
    logs = FakeLogs()
    monkeypatch.setattr(CliContext, "client", lambda self, service: logs)
    monkeypatch.setattr("edgeauth_cli.commands.audit.time.time", lambda: NOW_MS / 1000)
    monkeypatch.setattr("edgeauth_cli.commands.audit.time.sleep", lambda s: None)
    monkeypatch.delenv("EDGEAUTH_ENDPOINT_URL", raising=False)
    return logs


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


class TestCli:
    def test_presets_lists_every_query(self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["audit", "presets", "--output", "json"], capsys)
        assert code == 0 and [p["name"] for p in json.loads(out)] == [q.name for q in SAVED_QUERIES]

    def test_cloudwatch_engine_polls_and_prints_rows(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(
            [
                "audit",
                "query",
                "denied-by-subject",
                "--log-group",
                "audit",
                "--since",
                "2h",
                "--output",
                "json",
            ],
            capsys,
        )
        assert code == 0
        assert json.loads(out) == [{"sub": "bob", "denied": "2"}]
        start = fake.calls[0][1]
        assert start["logGroupName"] == "audit" and start["endTime"] - start["startTime"] == 7200
        assert "Running" in err and "Complete" in err

    def test_timeout_stops_the_query(self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]) -> None:
        fake.statuses = ["Running"]
        code, _, err = run(
            ["audit", "query", "role-changes", "--log-group", "audit", "--timeout", "0"], capsys
        )
        assert code == 1 and "timed out" in err
        assert fake.calls[-1][0] == "stop_query"

    def test_failed_query_is_an_error(self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]) -> None:
        fake.statuses = ["Failed"]
        code, _, err = run(["audit", "query", "--query", "fields @message", "--log-group", "audit"], capsys)
        assert code == 1 and "failed" in err

    def test_endpoint_url_uses_local_evaluator_and_says_so(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = [
            "--endpoint-url",
            "http://127.0.0.1:5000",
            "audit",
            "query",
            "denied-by-subject",
            "--log-group",
            "audit",
            "--output",
            "json",
        ]
        code, out, err = run(argv, capsys)
        assert code == 0 and "evaluating the query locally" in err
        assert "start_query" not in [c[0] for c in fake.calls]
        rows = json.loads(out)
        assert {(r["sub"], r["denied"]) for r in rows} == {("bob", "2"), ("eve", "1")}

    def test_local_engine_refuses_unsupported_query(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = run(
            ["audit", "query", "--engine", "local", "--query", "pattern @message", "--log-group", "a"], capsys
        )
        assert code == 2 and "does not support command 'pattern'" in err
        assert fake.calls == []  # nothing fetched

    def test_local_engine_log_field_is_account_and_group(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["audit", "query", "--engine", "local", "--query", "stats count(*) as n by @log"]
        code, out, err = run([*argv, "--log-group", "/edgeauth/audit", "--output", "json"], capsys)
        assert code == 0, err
        assert json.loads(out) == [{"@log": f"{ACCOUNT}:/edgeauth/audit", "n": "4"}]

    def test_local_engine_names_an_unsupported_command_whatever_follows_it(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        query = 'SOURCE logGroups(namePrefix: ["/aws/lambda"]) | filter @message like /x/'
        code, _, err = run(
            ["audit", "query", "--engine", "local", "--query", query, "--log-group", "a"], capsys
        )
        assert code == 2 and "does not support command 'SOURCE'" in err
        assert fake.calls == []

    def test_param_injection_is_quoted(self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]) -> None:
        argv = [
            "audit",
            "query",
            "subject-activity",
            "--engine",
            "local",
            "--log-group",
            "a",
            "--output",
            "json",
            "--param",
            'sub=bob" or sub = "alice',
        ]
        code, out, _ = run(argv, capsys)
        assert code == 0 and json.loads(out) == []

    def test_csv_output_neutralises_formulas(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        fake.records[0] = LogRecord(NOW_MS - 1000, json.dumps({"kind": "decision", "sub": "=HYPERLINK(1)"}))
        argv = [
            "audit",
            "query",
            "--engine",
            "local",
            "--query",
            "fields sub",
            "--log-group",
            "a",
            "--output",
            "csv",
        ]
        code, out, _ = run(argv, capsys)
        assert code == 0 and out.splitlines()[0] == "sub" and "'=HYPERLINK(1)" in out

    @pytest.mark.parametrize(
        "argv",
        [
            ["audit", "query", "--log-group", "a"],
            ["audit", "query", "nope", "--log-group", "a"],
            ["audit", "query", "subject-activity", "--log-group", "a"],
            ["audit", "query", "role-changes", "--since", "yesterday-ish", "--log-group", "a"],
            ["audit", "query", "role-changes", "--since", "1h", "--until", "2h", "--log-group", "a"],
        ],
    )
    def test_usage_errors_exit_2(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        assert run(argv, capsys)[0] == 2

    def test_table_output_escapes_control_characters(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        fake.records[0] = LogRecord(NOW_MS - 1000, json.dumps({"sub": "a\nb\x1b[31m"}))
        code, out, _ = run(
            [
                "audit",
                "query",
                "--engine",
                "local",
                "--query",
                "fields sub",
                "--log-group",
                "a",
                "--output",
                "table",
            ],
            capsys,
        )
        assert code == 0 and "a\\nb?[31m" in out and "\x1b" not in out

    def test_table_output_marks_empty_cells_so_no_row_reads_as_another_subjects(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # GIVEN rows without a subject, with an empty one, and with values that look empty
        fake.records = [
            LogRecord(NOW_MS - 5000 + i, json.dumps(fields))
            for i, fields in enumerate(
                [
                    {"sub": "alice", "reason": "r1"},
                    {"reason": "r2"},
                    {"sub": "", "reason": "r3"},
                    {"sub": "-", "reason": "r4"},
                    {"sub": "  ", "reason": "r5"},
                ]
            )
        ]
        # WHEN printed as a table
        code, out, _ = run(
            [
                "audit",
                "query",
                "--engine",
                "local",
                "--query",
                "fields sub, reason | sort reason asc",
                "--log-group",
                "a",
                "--output",
                "table",
            ],
            capsys,
        )
        # THEN a missing or empty cell is '-', and '-' or blanks as values are quoted
        assert code == 0
        assert [line.split() for line in out.splitlines()] == [
            ["sub", "reason"],
            ["alice", "r1"],
            ["-", "r2"],
            ["-", "r3"],
            ['"-"', "r4"],
            ['"', '"', "r5"],
        ]
        assert out.splitlines()[5].startswith('"  "')

    def test_log_group_from_stack_output(
        self, fake: FakeLogs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(CliContext, "stack_outputs", lambda self: {"AuditLogGroupName": "from-stack"})
        code, _, _ = run(["--stack", "s", "audit", "query", "role-changes"], capsys)
        assert code == 0 and fake.calls[0][1]["logGroupName"] == "from-stack"
