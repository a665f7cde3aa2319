"""The local Logs Insights evaluator: documentation examples, semantics, and refusals.

Examples marked "docs" are taken from the CloudWatch Logs Insights query syntax documentation
(CWL_QuerySyntax, CWL_QuerySyntax-Stats, the sample queries), evaluated on small synthetic logs.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from edgeauth_local.insights import (
    InsightsSyntaxError,
    LogRecord,
    UndocumentedSyntaxError,
    UnsupportedQueryError,
    parse_query,
    quote_string,
    run_query,
)

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def recs(*messages: str, step_ms: int = 60_000, stream: str = "s") -> list[LogRecord]:
    return [LogRecord(T0 + i * step_ms, m, log_stream=stream) for i, m in enumerate(messages)]


def j(**kw: Any) -> str:
    return json.dumps(kw)


LAMBDA_LOGS = recs(
    "START RequestId: a Version: $LATEST",
    "ERROR Exception: boom",
    "REPORT RequestId: a Duration: 120.5 ms",
    "INFO all good",
    "ERROR Exception: again",
)


class TestDocsExamples:
    def test_docs_recent_messages_sorted_desc_with_limit(self) -> None:
        out = run_query("fields @timestamp, @message | sort @timestamp desc | limit 20", LAMBDA_LOGS)
        assert out.columns == ["@timestamp", "@message"]
        assert [r["@message"] for r in out.rows][:2] == ["ERROR Exception: again", "INFO all good"]
        assert out.rows[0]["@timestamp"] == "2023-11-14 22:17:20.000"

    def test_docs_filter_like_regex_exception(self) -> None:
        q = "fields @timestamp, @message | filter @message like /Exception/ | sort @timestamp desc | limit 20"
        assert len(run_query(q, LAMBDA_LOGS).rows) == 2

    def test_docs_exception_count_per_hour(self) -> None:
        q = "filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) | sort exceptionCount desc"
        out = run_query(q, LAMBDA_LOGS)
        assert out.columns == ["bin(1h)", "exceptionCount"]
        assert out.rows == [{"bin(1h)": "2023-11-14 22:00:00.000", "exceptionCount": "2"}]

    def test_docs_parse_glob_then_stats_by_parsed_fields(self) -> None:
        logs = recs(
            "user=alice, method:GET, latency := 10",
            "user=alice, method:GET, latency := 30",
            "user=bob, method:PUT, latency := 7",
        )
        q = 'parse @message "user=*, method:*, latency := *" as @user, @method, @latency | stats avg(@latency) by @method, @user'
        out = run_query(q, logs)
        assert out.rows == [
            {"@method": "GET", "@user": "alice", "avg(@latency)": "20"},
            {"@method": "PUT", "@user": "bob", "avg(@latency)": "7"},
        ]

    def test_docs_parse_regex_named_groups_and_display(self) -> None:
        logs = recs("2 123 eni-0a1b2c3d 10.0.0.1 ACCEPT", "2 123 eni-9f8e 10.0.0.2 REJECT")
        out = run_query(
            r"parse @message /(?<NetworkInterface>eni-.*?) / | display NetworkInterface, @message", logs
        )
        assert out.columns == ["NetworkInterface", "@message"]
        assert [r["NetworkInterface"] for r in out.rows] == ["eni-0a1b2c3d", "eni-9f8e"]

    def test_docs_stats_by_log_stream(self) -> None:
        logs = recs("a", "b", stream="one") + recs("c", stream="two")
        out = run_query("stats count(*) by @logStream | sort @logStream asc", logs)
        assert out.rows == [{"@logStream": "one", "count(*)": "2"}, {"@logStream": "two", "count(*)": "1"}]

    def test_docs_vpc_flow_top_talkers(self) -> None:
        logs = recs(
            j(srcAddr="a", dstAddr="b", bytes=10),
            j(srcAddr="a", dstAddr="b", bytes=5),
            j(srcAddr="c", dstAddr="b", bytes=100),
        )
        q = "stats sum(bytes) as bytesTransferred by srcAddr, dstAddr | sort bytesTransferred desc | limit 15"
        assert [r["bytesTransferred"] for r in run_query(q, logs).rows] == ["100", "15"]

    def test_docs_lambda_report_durations(self) -> None:
        logs = recs(j(type="REPORT", duration=10), j(type="REPORT", duration=30), j(type="START"))
        q = 'filter type = "REPORT" | stats avg(duration), max(duration), min(duration), pct(duration, 50) by bin(5m)'
        (row,) = run_query(q, logs).rows
        assert row["avg(duration)"] == "20" and row["max(duration)"] == "30" and row["min(duration)"] == "10"
        assert row["pct(duration, 50)"] == "10"

    def test_docs_filter_in_and_not_in(self) -> None:
        logs = recs(j(f1=1), j(f1=2), j(f1=5), j(f2=1))
        assert len(run_query("fields f1 | filter f1 in [1, 2, 3]", logs).rows) == 2
        assert (
            len(run_query("fields f1 | filter f1 not in [1, 2, 3]", logs).rows) == 1
        )  # missing f1 never matches

    def test_docs_case_insensitive_regex(self) -> None:
        logs = recs("an EXCEPTION", "a failure", "fine")
        assert len(run_query("filter @message like /(?i)(Exception|error|fail)/", logs).rows) == 2

    def test_docs_status_code_regex(self) -> None:
        logs = recs(j(statusCode="200"), j(statusCode="201"), j(statusCode="404"))
        assert len(run_query(r"filter statusCode like /2\d\d/", logs).rows) == 2


class TestSemantics:
    def test_json_nested_fields_with_dots_and_lists(self) -> None:
        logs = recs(j(a={"b": {"c": 3}}, l=["x", "y"]))
        out = run_query("fields a.b.c, l.1", logs)
        assert out.rows == [{"a.b.c": "3", "l.1": "y"}]

    def test_comparisons_numeric_and_string_and_missing(self) -> None:
        logs = recs(j(s="401", n=5), j(s="200", n=50), j(x=1))
        assert len(run_query("filter s = 401", logs).rows) == 1
        assert len(run_query("filter n > 5", logs).rows) == 1
        assert len(run_query("filter n >= 5 and n <= 50", logs).rows) == 2
        assert len(run_query('filter s != "200"', logs).rows) == 1  # the event without s does not match
        assert len(run_query("filter not (n < 10) or ispresent(x)", logs).rows) == 2

    def test_like_string_is_substring(self) -> None:
        logs = recs("alpha beta", "gamma")
        assert len(run_query('filter @message like "pha b"', logs).rows) == 1
        assert len(run_query('filter @message not like "pha"', logs).rows) == 1

    def test_count_field_count_distinct_sum_and_arithmetic_in_stats(self) -> None:
        logs = recs(j(u="a", v=1), j(u="a", v=3), j(u="b"), j(v=2))
        q = "stats count(*) as all, count(u) as with_u, count_distinct(u) as users, sum(v) * 10 / count(*) as x"
        assert run_query(q, logs).rows == [{"all": "4", "with_u": "3", "users": "2", "x": "15"}]

    def test_percentiles_nearest_rank(self) -> None:
        logs = recs(*[j(l=i) for i in range(1, 101)], step_ms=1)
        (row,) = run_query("stats pct(l, 50) as p50, pct(l, 99) as p99, pct(l, 100) as p100", logs).rows
        assert (row["p50"], row["p99"], row["p100"]) == ("50", "99", "100")

    def test_bin_and_sort_by_alias_and_by_expression(self) -> None:
        logs = recs("a", "b", "c", "d", "e", "f", step_ms=120_000)
        out = run_query("stats count(*) as n by bin(5m) as w | sort w desc", logs)
        assert [(r["w"][-12:], r["n"]) for r in out.rows] == [
            ("22:20:00.000", "2"),
            ("22:15:00.000", "3"),
            ("22:10:00.000", "1"),
        ]
        out2 = run_query("stats count(*) by bin(5m) | sort bin(5m) asc | limit 1", logs)
        assert out2.rows == [{"bin(5m)": "2023-11-14 22:10:00.000", "count(*)": "1"}]

    def test_comparisons_as_function_arguments_are_one_and_zero(self) -> None:
        logs = recs(j(status=500), j(status=200), j(status=503))
        (row,) = run_query("stats sum(status >= 500) as e, count(*) as n", logs).rows
        assert row == {"e": "2", "n": "3"}

    def test_dedup_and_scalar_functions(self) -> None:
        logs = recs(j(u="A"), j(u="a"), j(u="b"))
        out = run_query("fields tolower(u) as lu, strlen(u) as n | sort @timestamp asc | dedup lu", logs)
        assert [(r["lu"], r["n"]) for r in out.rows] == [("a", "1"), ("b", "1")]

    def test_sort_puts_missing_last_both_directions(self) -> None:
        logs = recs(j(n=1), j(x=0), j(n=3))
        assert [r.get("n") for r in run_query("fields n | sort n desc", logs).rows] == ["3", "1", None]
        assert [r.get("n") for r in run_query("fields n | sort n asc", logs).rows] == ["1", "3", None]

    def test_time_range_and_scan_statistics(self) -> None:
        logs = recs("a", "b", "c")
        out = run_query("filter @message = 'b'", logs, start_ms=T0 + 1, end_ms=T0 + 120_000)
        assert (out.records_scanned, out.records_matched, len(out.rows)) == (2, 1, 1)

    def test_comments_and_backticks(self) -> None:
        logs = recs(j(**{"foo-bar": 1}))
        out = run_query("# a comment\nfields `foo-bar` # trailing\n| filter `foo-bar` = 1", logs)
        assert out.rows == [{"foo-bar": "1"}]

    def test_quote_string_round_trips_through_the_parser(self) -> None:
        evil = 'a"b\\c" or 1 = 1 | stats count(*)'
        logs = recs(j(sub=evil), j(sub="other"))
        out = run_query(f"filter sub = {quote_string(evil)} | fields sub", logs)
        assert out.rows == [{"sub": evil}]
        with pytest.raises(ValueError):
            quote_string("line\nbreak")


class TestNaturalSort:
    """Item 7: CWL_QuerySyntax-Sort's natural order, both directions, descending by default."""

    # The documentation's own example, in ascending order.
    DOCS_ORDER = (
        "!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_", "A", "A9876fghj", "a12345hfh",
        "0", "01", "1", "2", "3",
    )  # fmt: skip

    @staticmethod
    def sorted_values(values: list[Any], direction: str, field: str = "v") -> list[str | None]:
        logs = recs(*[j(**{field: v}) for v in values])
        return [r.get(field) for r in run_query(f"fields {field} | sort {field} {direction}", logs).rows]

    def test_numeric_runs_compare_by_length_then_value(self) -> None:
        values = ["app-10", "app-2", "app-1", "app-02", "app-100", "app-9"]
        ascending = ["app-1", "app-2", "app-9", "app-02", "app-10", "app-100"]
        assert self.sorted_values(values, "asc") == ascending
        assert self.sorted_values(values, "desc") == ascending[::-1]

    def test_the_documentation_example(self) -> None:
        shuffled = list(self.DOCS_ORDER[::2] + self.DOCS_ORDER[1::2])
        assert self.sorted_values(shuffled, "asc") == list(self.DOCS_ORDER)
        assert self.sorted_values(shuffled, "desc") == list(self.DOCS_ORDER[::-1])

    def test_non_numbers_come_before_numbers_in_a_mixed_column(self) -> None:
        values: list[Any] = [10, "b2", 9, "10a", 2.5, "-", "a", 100]
        ascending = ["-", "10a", "a", "b2", "2.5", "9", "10", "100"]
        assert self.sorted_values(values, "asc") == ascending
        assert self.sorted_values(values, "desc") == ascending[::-1]

    def test_numbers_compare_by_value_even_as_strings(self) -> None:
        values = ["10", "9", "-3", "2.5", "100"]
        assert self.sorted_values(values, "asc") == ["-3", "2.5", "9", "10", "100"]

    def test_default_direction_is_descending(self) -> None:
        assert self.sorted_values(["app-2", "app-10", "app-1"], "") == ["app-10", "app-2", "app-1"]
        assert self.sorted_values([3, 20, 1], "") == ["20", "3", "1"]

    def test_sort_of_stats_groups_and_missing_values(self) -> None:
        logs = recs(j(host="web-10"), j(host="web-9"), j(host="web-10"), j(x=1))
        out = run_query("stats count(*) as n by host | sort host asc", logs)
        assert [r.get("host") for r in out.rows] == ["web-9", "web-10", None]


class TestDedup:
    """Item 8: CWL_QuerySyntax-Dedup."""

    def test_events_missing_a_dedup_field_are_all_kept(self) -> None:
        logs = recs(j(u="a", n=1), j(n=2), j(u="a", n=3), j(n=4), j(u="b", n=5))
        out = run_query("sort @timestamp asc | dedup u", logs)
        assert [json.loads(r["@message"])["n"] for r in out.rows] == [1, 2, 4, 5]

    def test_missing_any_of_several_fields_keeps_the_event(self) -> None:
        logs = recs(j(u="a", v=1), j(u="a"), j(u="a"), j(u="a", v=1), j(v=1))
        out = run_query("fields u, v | sort @timestamp asc | dedup u, v", logs)
        assert [(r.get("u"), r.get("v")) for r in out.rows] == [
            ("a", "1"),
            ("a", None),
            ("a", None),
            (None, "1"),
        ]

    def test_without_sort_the_newest_event_is_kept(self) -> None:
        logs = recs(j(server="x", n=1), j(server="y", n=2), j(server="x", n=3))
        out = run_query("fields server, n | dedup server", logs)
        assert [(r["server"], r["n"]) for r in out.rows] == [("x", "3"), ("y", "2")]

    def test_only_limit_may_follow_dedup(self) -> None:
        logs = recs(j(u="a"), j(u="b"), j(u="c"))
        assert len(run_query("sort u asc | dedup u | limit 2", logs).rows) == 2
        assert len(run_query("dedup u | limit 5 | limit 1", logs).rows) == 1
        for after in ("sort u desc", "fields u", "filter u = 'a'", "stats count(*)", "display u", "dedup u"):
            with pytest.raises(InsightsSyntaxError) as info:
                run_query(f"sort u asc | dedup u | {after}", logs)
            assert isinstance(info.value, UnsupportedQueryError)
            assert info.value.construct == f"command {after.split()[0]!r} after dedup"
        with pytest.raises(UndocumentedSyntaxError, match="only limit may follow dedup"):
            parse_query("dedup u | limit 5 | sort u")


class TestNumbers:
    """Item 9: numbers print with full precision."""

    def test_average_has_full_precision(self) -> None:
        logs = recs(j(v=1), j(v=2), j(v=2))
        (row,) = run_query("stats avg(v) as a, sum(v) / 7 as s", logs).rows
        assert row == {"a": repr(5 / 3), "s": repr(5 / 7)}

    def test_small_quotients_are_not_rounded_to_zero(self) -> None:
        out = run_query("fields 42 / 100000000 as tiny, 1 / 3 as third", recs("x"))
        (row,) = out.rows
        assert float(row["tiny"]) == 42 / 100000000 and row["tiny"] != "0.0"
        assert float(row["third"]) == 1 / 3

    def test_json_numbers_keep_their_digits(self) -> None:
        logs = recs(j(v=0.1234567891), j(v=1e-9))
        assert [r["v"] for r in run_query("fields v | sort v asc", logs).rows] == ["1e-09", "0.1234567891"]


class TestLogField:
    """Item 10: @log is account-id:log-group-name."""

    def test_log_is_account_and_group(self) -> None:
        logs = [LogRecord(T0, "m", "s", "/edgeauth/audit", account_id="111122223333")]
        out = run_query("fields @log | stats count(*) by @log", logs)
        assert out.rows == [{"@log": "111122223333:/edgeauth/audit", "count(*)": "1"}]


class TestDocumentedGrammar:
    """Items 11 and 12: what AWS refuses is refused; comparisons only in filter and function arguments."""

    @pytest.mark.parametrize(
        "query",
        [
            "fields status >= 500 as server_error",
            "fields status >= 400 and status < 500 as client_error",
            "fields (status = 500) + 1 as x",
            "fields -(status = 500) as x",
            "fields not ispresent(status) as x",
            "fields @message like /x/ as m",
            "fields status in [500, 503] as m",
            "display status != 200",
            "stats count(*) > 1 as many",
            "stats sum(x) * (y > 1) as z",
            "stats count(*) by status >= 500",
            "sort status >= 500 desc",
            "sort @timestamp asc | dedup status = 500",
        ],
    )
    def test_comparison_as_a_value_is_refused(self, query: str) -> None:
        with pytest.raises(UndocumentedSyntaxError) as info:
            run_query(query, recs(j(status=500)))
        assert isinstance(info.value, InsightsSyntaxError) and isinstance(info.value, UnsupportedQueryError)
        assert info.value.construct.startswith("comparison ") and " as a value in " in info.value.construct

    @pytest.mark.parametrize(
        "query",
        [
            "filter status >= 500 and not (status = 503) or status in [1, 2]",
            "fields ispresent(status) as p, strcontains(@message, 'x') as c, coalesce(a = 1, 0) as q",
            "stats sum(status >= 500) as e, count(*) by floor(status / 100)",
            "fields floor(status / 100) as c | sort c desc",
        ],
    )
    def test_comparisons_in_filter_and_function_arguments_are_accepted(self, query: str) -> None:
        run_query(query, recs(j(status=500)))

    @pytest.mark.parametrize(
        ("query", "construct"),
        [
            (
                'SOURCE logGroups(namePrefix: ["/aws/lambda"], class: "STANDARD") | fields @message',
                "command 'SOURCE'",
            ),
            ("SOURCE logGroups(namePrefix: ['a']) START=-1h END=0s | fields @message", "command 'SOURCE'"),
            ("fields @message | lookup t key OUTPUT v; | fields v", "command 'lookup'"),
            ("fields a | unnest a into b & c", "command 'unnest'"),
        ],
    )
    def test_unsupported_command_is_named_whatever_follows_it(self, query: str, construct: str) -> None:
        with pytest.raises(UnsupportedQueryError) as info:
            parse_query(query)
        assert info.value.construct == construct
        assert not isinstance(info.value, InsightsSyntaxError)


class TestRefusals:
    @pytest.mark.parametrize(
        ("query", "construct"),
        [
            ("pattern @message", "command 'pattern'"),
            ("fields @message | diff", "command 'diff'"),
            ("filterIndex requestId = 'x'", "command 'filterIndex'"),
            ("fields jsonParse(@message) as j", "function 'jsonParse'"),
            ("stats percentile(x, 5)", "function 'percentile'"),
            ("stats count(*) by bin(1mo)", "time unit 'mo'"),
        ],
    )
    def test_unsupported_is_a_clear_error_not_a_full_result(self, query: str, construct: str) -> None:
        with pytest.raises(UnsupportedQueryError) as info:
            run_query(query, recs("x"))
        assert info.value.construct == construct

    @pytest.mark.parametrize(
        "query",
        [
            "",
            "filter",
            "filter a = ",
            "fields a |",
            "frobnicate x",
            "filter a = 'unterminated",
            "stats a",
            "limit x",
            "filter count(*) > 1",
        ],
    )
    def test_syntax_errors(self, query: str) -> None:
        with pytest.raises(InsightsSyntaxError):
            run_query(query, recs("x"))

    def test_parse_never_evaluates_on_error(self) -> None:
        with pytest.raises(UnsupportedQueryError):
            parse_query("fields a | unmask @message")
