"""``edgeauth audit``: run the saved (or any) Logs Insights queries on the audit log group.

``edgeauth audit presets`` lists the saved queries; ``edgeauth audit query PRESET|--query TEXT``
runs one. Two engines:

* ``cloudwatch``: ``StartQuery``, then ``GetQueryResults`` until the query completes, with progress
  on stderr; at ``--timeout`` the query is stopped (``StopQuery``) and the command fails.
* ``local``: moto's Logs Insights ignores ``filter``, ``stats`` and ``parse``, so against the local
  stack the events of the range are fetched with ``FilterLogEvents`` and evaluated by
  :mod:`edgeauth_local.insights`. A query outside its subset is an error, never moto's unfiltered
  rows.

``--engine auto`` (the default) picks ``local`` when an endpoint override is set (``--endpoint-url``
or ``EDGEAUTH_ENDPOINT_URL``, which only the local stack uses) and ``cloudwatch`` otherwise, and says
so on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from edgeauth import constants as C
from edgeauth.audit.queries import PRESETS, SAVED_QUERIES, QueryParameterError, render
from edgeauth_cli.context import AWS, CliContext, CliError, stack_unless

_SPAN = re.compile(r"^(\d+)\s*([smhdw])$")
_SPAN_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DONE_STATES = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="query the audit trail (CloudWatch Logs Insights)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    sub.required = True

    presets = sub.add_parser("presets", help="list the saved queries")
    presets.add_argument("--output", dest="audit_output", choices=("table", "json"), default=None)
    presets.set_defaults(func=cmd_presets)

    q = sub.add_parser(
        "query",
        help="run a saved query (PRESET) or --query TEXT on the audit log group",
        epilog=(
            "examples:\n"
            "  edgeauth --stack EdgeAuth-dev audit query denied-by-subject --since 24h\n"
            "  edgeauth audit query subject-activity --param sub=alice --output csv\n"
            "  edgeauth audit query --query 'filter status = 429 | stats count(*) by api_key_id'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("preset", nargs="?", help="saved query name (see 'edgeauth audit presets')")
    q.add_argument("--query", dest="query_text", help="Logs Insights query text instead of a preset")
    q.add_argument("--since", default="1h", help="start: a span back from now (30m, 1h, 7d) or ISO-8601")
    q.add_argument("--until", default=None, help="end: a span back from now or ISO-8601 (default: now)")
    q.add_argument("--param", action="append", default=[], metavar="K=V", help="fill a {K} placeholder")
    q.add_argument("--output", dest="audit_output", choices=("table", "json", "csv"), default=None)
    q.add_argument(
        "--log-group", help=f"audit log group (default: the stack output {C.OUTPUT_AUDIT_LOG_GROUP})"
    )
    q.add_argument("--timeout", type=float, default=120.0, help="seconds before the query is stopped")
    q.add_argument("--limit", type=int, default=None, help="StartQuery limit (rows), cloudwatch engine")
    q.add_argument(
        "--engine",
        choices=("auto", "cloudwatch", "local"),
        default="auto",
        help="auto: local evaluator when --endpoint-url is set (moto ignores filter/stats/parse)",
    )
    q.set_defaults(func=cmd_query, needs=(AWS, stack_unless("log_group", "--log-group NAME")))

    from edgeauth_cli.commands import audit_replay

    audit_replay.add_parser(sub)


# --- presets ---------------------------------------------------------------------------------------------


def cmd_presets(ctx: CliContext, args: argparse.Namespace) -> int:
    fmt = args.audit_output or ctx.output
    if fmt == "json":
        doc = [
            {
                "name": q.name,
                "title": q.title,
                "description": q.description,
                "params": list(q.params),
                "query": q.query,
            }
            for q in SAVED_QUERIES
        ]
        print(json.dumps(doc, indent=2))
        return 0
    rows = [{"name": q.name, "params": ",".join(q.params), "title": q.title} for q in SAVED_QUERIES]
    write_table(rows, ["name", "params", "title"], sys.stdout)
    return 0


# --- time ------------------------------------------------------------------------------------------------


def parse_time(text: str, now: float) -> float:
    """Epoch seconds from ``30m``/``1h``/``7d`` (before ``now``) or an ISO-8601 date-time (UTC if naive)."""
    m = _SPAN.match(text.strip())
    if m:
        return now - int(m.group(1)) * _SPAN_SECONDS[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise CliError(f"bad time {text!r}: use a span such as 1h or an ISO-8601 date-time", 2) from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_params(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"bad --param {item!r}: use KEY=VALUE", 2)
        out[key.strip()] = value
    return out


# --- query -----------------------------------------------------------------------------------------------


def resolve_query(args: argparse.Namespace) -> str:
    params = parse_params(args.param)
    if args.query_text and args.preset:
        raise CliError("give either PRESET or --query, not both", 2)
    if args.query_text:
        if params:
            raise CliError("--param only fills the placeholders of a preset", 2)
        return str(args.query_text)
    if not args.preset:
        raise CliError("give a PRESET (see 'edgeauth audit presets') or --query TEXT", 2)
    saved = PRESETS.get(args.preset)
    if saved is None:
        raise CliError(f"unknown preset {args.preset!r}; known: {', '.join(PRESETS)}", 2)
    try:
        return render(saved, params)
    except QueryParameterError as e:
        raise CliError(str(e), 2) from e


def choose_engine(requested: str, endpoint_url: str | None) -> str:
    """``local`` or ``cloudwatch``; ``auto`` means local exactly when an endpoint override is set."""
    if requested != "auto":
        return requested
    return "local" if endpoint_url else "cloudwatch"


class Progress:
    """One updating status line on stderr (a plain line per update when stderr is not a terminal)."""

    def __init__(self, stream: TextIO, interval: float = 1.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = interval
        self._last = 0.0

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def cmd_query(ctx: CliContext, args: argparse.Namespace) -> int:
    query = resolve_query(args)
    now = time.time()
    start = parse_time(args.since, now)
    end = parse_time(args.until, now) if args.until else now
    if start >= end:
        raise CliError("--since must be before --until", 2)
    log_group = args.log_group or ctx.output_value(C.OUTPUT_AUDIT_LOG_GROUP, "--log-group NAME")
    engine = choose_engine(args.engine, ctx.endpoint_url)
    logs = ctx.client("logs")
    progress = Progress(sys.stderr)
    if engine == "local":
        if args.engine == "auto":
            print(
                "edgeauth: evaluating the query locally (endpoint override set; moto's Logs Insights "
                "ignores filter/stats/parse). Use --engine cloudwatch to force StartQuery.",
                file=sys.stderr,
            )
        columns, rows = run_local(logs, log_group, query, start, end, progress)
    else:
        columns, rows = run_cloudwatch(
            logs, log_group, query, start, end, args.timeout, args.limit, progress, time.sleep, time.monotonic
        )
    fmt = args.audit_output or ctx.output
    emit(rows, columns, fmt, sys.stdout)
    return 0


def run_local(
    logs: Any, log_group: str, query: str, start: float, end: float, progress: Progress
) -> tuple[list[str], list[dict[str, str]]]:
    from botocore.exceptions import BotoCoreError, ClientError

    from edgeauth_local.insights import InsightsError, query_log_group

    try:
        outcome = query_log_group(
            logs,
            log_group,
            query,
            int(start * 1000),
            int(end * 1000),
            progress=lambda n: progress.update(f"local: {n} events fetched"),
        )
    except InsightsError as e:
        raise CliError(f"query not supported by the local evaluator: {e}", 2) from e
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot read log group {log_group!r}: {e}") from e
    progress.update(
        f"local: Complete, {outcome.records_scanned} records scanned, {outcome.records_matched} matched,"
        f" {len(outcome.rows)} rows",
        force=True,
    )
    progress.done()
    return outcome.columns, outcome.rows


def run_cloudwatch(
    logs: Any,
    log_group: str,
    query: str,
    start: float,
    end: float,
    timeout: float,
    limit: int | None,
    progress: Progress,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> tuple[list[str], list[dict[str, str]]]:
    """StartQuery, poll GetQueryResults until done or ``timeout`` (then StopQuery and fail)."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": int(start),
        "endTime": int(end),
        "queryString": query,
    }
    if limit:
        kwargs["limit"] = limit
    try:
        query_id = logs.start_query(**kwargs)["queryId"]
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"StartQuery failed on {log_group!r}: {e}") from e
    began = clock()
    delay = 0.5
    while True:
        try:
            resp = logs.get_query_results(queryId=query_id)
        except (ClientError, BotoCoreError) as e:
            raise CliError(f"GetQueryResults failed: {e}") from e
        status = resp.get("status", "Unknown")
        stats = resp.get("statistics", {})
        elapsed = clock() - began
        progress.update(
            f"query {query_id[:8]}: {status}, {int(stats.get('recordsScanned', 0))} records scanned,"
            f" {int(stats.get('recordsMatched', 0))} matched, {elapsed:.1f}s",
            force=status in DONE_STATES,
        )
        if status == "Complete":
            progress.done()
            return results_to_rows(resp.get("results", []))
        if status in DONE_STATES:
            progress.done()
            raise CliError(f"query {status.lower()} (id {query_id})")
        if elapsed >= timeout:
            progress.done()
            # it may have finished meanwhile; the timeout is what we report
            with contextlib.suppress(ClientError, BotoCoreError):
                logs.stop_query(queryId=query_id)
            raise CliError(f"query timed out after {timeout:g}s and was stopped (id {query_id})")
        sleep(min(delay, max(0.0, timeout - elapsed)))
        delay = min(delay * 1.5, 5.0)


def results_to_rows(results: Sequence[Sequence[dict[str, str]]]) -> tuple[list[str], list[dict[str, str]]]:
    """``GetQueryResults`` rows → (columns in first-seen order without ``@ptr``, dict rows)."""
    columns: list[str] = []
    rows: list[dict[str, str]] = []
    for result in results:
        row: dict[str, str] = {}
        for cell in result:
            name = cell.get("field", "")
            if name == "@ptr" or not name:
                continue
            row[name] = cell.get("value", "")
            if name not in columns:
                columns.append(name)
        rows.append(row)
    return columns, rows


# --- output ----------------------------------------------------------------------------------------------


def emit(rows: list[dict[str, str]], columns: list[str], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(rows, indent=2) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_safe(row.get(c, "")) for c in columns})
        out.write(buf.getvalue())
    else:
        write_table(rows, columns, out)


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets; audit values come from callers.
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not _is_number(value) else value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


EMPTY_CELL = "-"
"""A field the row does not have, or an empty one. Blank cells made a row read as the row above's
continuation (another subject's); ``-`` itself and blank values are quoted to stay distinct."""


def _cell(value: str | None, width: int = 60) -> str:
    if value is None or value == "":
        return EMPTY_CELL
    if value == EMPTY_CELL or not value.strip():
        value = json.dumps(value)
    text = value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def write_table(rows: list[dict[str, str]], columns: list[str], out: TextIO) -> None:
    if not rows:
        out.write("(no rows)\n")
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
