"""``edgeauth audit query`` against moto: the local stack path (moto server + --endpoint-url) and StartQuery."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from edgeauth.audit.schema import SourceLogEvent, normalise_log_event
from edgeauth.audit.writer import AuditLogWriter
from edgeauth.core.audit_line import DecisionRecord, decision_line
from edgeauth_cli import main as cli

AUDIT_GROUP = "edgeauth-audit"


def seed_audit(logs: Any, group: str = AUDIT_GROUP) -> None:
    """Five decisions: bob denied twice, eve unauthorized once, alice allowed twice."""
    now = int(time.time() * 1000) - 60_000
    events = []
    spec = [("alice", "allow"), ("bob", "deny"), ("alice", "allow"), ("bob", "deny"), ("eve", "unauthorized")]
    for i, (sub, decision) in enumerate(spec):
        line = decision_line(
            DecisionRecord(
                decision=decision,
                reason="allowed" if decision == "allow" else "no_roles",
                sub=sub,
                iss="https://idp",
                latency_ms=float(i),
            )
        )
        ev = normalise_log_event(SourceLogEvent("/aws/lambda/auth", "s", f"e{i}", now + i, line), "decision")
        assert ev is not None
        events.append(ev)
    logs.create_log_group(logGroupName=group)
    AuditLogWriter(group, logs).write("kinesis/test/shard/1", events)


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_given_local_stack_when_querying_then_local_evaluator_filters_and_aggregates(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN audit events in the moto server's audit log group
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=moto_server)
    seed_audit(logs)
    # moto's own Logs Insights ignores filter/stats: this is why the CLI must not use it locally
    qid = logs.start_query(
        logGroupName=AUDIT_GROUP,
        startTime=0,
        endTime=int(time.time()) + 60,
        queryString='filter sub = "nobody" | fields sub',
    )["queryId"]
    assert len(logs.get_query_results(queryId=qid)["results"]) == 5
    # WHEN
    code = cli.main(
        [
            "--region",
            "us-east-1",
            "--endpoint-url",
            moto_server,
            "audit",
            "query",
            "denied-by-subject",
            "--log-group",
            AUDIT_GROUP,
            "--output",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    # THEN CloudWatch's answer, not moto's
    assert code == 0, err
    assert "evaluating the query locally" in err
    rows = json.loads(out)
    assert sorted((r["sub"], r["reason"], r["denied"]) for r in rows) == [
        ("bob", "no_roles", "2"),
        ("eve", "no_roles", "1"),
    ]


def test_given_local_stack_when_subject_activity_then_only_that_subject(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=moto_server)
    seed_audit(logs, "other-audit")  # the server's state outlives a test: use a group of its own
    code = cli.main(
        [
            "--region",
            "us-east-1",
            "--endpoint-url",
            moto_server,
            "audit",
            "query",
            "subject-activity",
            "--param",
            "sub=alice",
            "--log-group",
            "other-audit",
            "--output",
            "csv",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("@timestamp,kind,decision,reason")
    assert len(lines) == 3 and all(",decision,allow," in ln for ln in lines[1:])


def test_given_cloudwatch_engine_then_start_query_and_results_are_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # moto implements fields/sort/limit, enough to exercise StartQuery/GetQueryResults end to end
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        seed_audit(logs)
        code = cli.main(
            [
                "--region",
                "us-east-1",
                "audit",
                "query",
                "--engine",
                "cloudwatch",
                "--query",
                "fields @timestamp, @message | sort @timestamp desc | limit 2",
                "--log-group",
                AUDIT_GROUP,
                "--output",
                "json",
                "--since",
                "1h",
            ]
        )
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 2 and all(json.loads(r["@message"])["kind"] == "decision" for r in rows)
    assert "Complete" in err


def test_given_local_engine_then_log_is_account_id_and_log_group_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN audit events in moto, and a second log group whose name starts with the first one's
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        seed_audit(logs, "edgeauth-audit-2")
        seed_audit(logs)
        account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
        # WHEN @log is shown by the local engine
        code = cli.main(
            [
                "--region",
                "us-east-1",
                "audit",
                "query",
                "--engine",
                "local",
                "--query",
                "stats count(*) as events by @log",
                "--log-group",
                AUDIT_GROUP,
                "--output",
                "json",
            ]
        )
        out, err = capsys.readouterr()
        # THEN it is account-id:log-group-name, as Logs Insights defines it
        assert code == 0, err
        assert json.loads(out) == [{"@log": f"{account}:{AUDIT_GROUP}", "events": "5"}]
        # AND a log group that does not exist is an AWS error, not an empty answer
        argv = ["--region", "us-east-1", "audit", "query", "role-changes", "--engine", "local"]
        code = cli.main([*argv, "--log-group", "edgeauth-aud"])
        _, err = capsys.readouterr()
        assert code == 1 and "cannot read log group 'edgeauth-aud'" in err and "does not exist" in err
