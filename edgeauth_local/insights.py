"""A local CloudWatch Logs Insights evaluator, for the local stack and tests.

Why: moto's Logs Insights only applies ``fields``, ``sort`` and ``limit``; ``filter``, ``stats`` and
``parse`` are silently ignored, so a query against moto returns every line. This module evaluates the
query language subset the saved queries use, and more, over log events fetched with
``FilterLogEvents``, returning rows shaped like ``GetQueryResults`` (every value a string).

Supported: commands ``fields`` (with ``as`` and expressions), ``filter``, ``stats`` (``count(*)``,
``count(f)``, ``count_distinct``, ``sum``, ``avg``, ``min``, ``max``, ``pct(f, n)``, ``stddev``,
``earliest``, ``latest``; arithmetic over aggregates; ``by`` fields and ``bin(period)``), ``sort``
(``asc``/``desc``, several keys), ``limit``, ``parse`` (glob with ``*`` and regex with named groups),
``display``, ``dedup``. Expressions: ``= != < <= > >=``, ``like "substring"``, ``like /regex/``,
``=~``, ``in [...]``, ``not like``/``not in``, ``and``/``or``/``not``, parentheses, ``+ - * / % ^``
and the scalar functions in :data:`SCALAR_FUNCTIONS`. Fields: ``@timestamp``, ``@message``,
``@logStream``, ``@log``, ``@ingestionTime`` and the keys of a JSON ``@message`` (nested keys with
dots, list items as ``key.0``).

Semantics worth knowing: a comparison with a missing field is false (so is ``!=``); values compare
as numbers when both sides are numeric, else as strings; comparisons (and ``like``, ``in``,
``and``/``or``/``not``) are refused as values, as AWS refuses them, except as arguments of functions,
where they are 1/0; ``sort`` uses AWS's natural order (non-numbers before numbers, digit runs by
length then value: ``app-2`` before ``app-10``) and is descending unless ``asc`` is given, with
missing values last either way; ``dedup`` keeps the first event in sort order (newest first when
nothing was sorted) and every event missing a dedup field, and only ``limit`` may follow it; numbers
print with full precision; ``@log`` is ``account-id:log-group-name``; ``pct``
is the nearest-rank percentile (CloudWatch's is approximate, so it can differ on large sets); events
without a ``stats ... by`` field form a group with that field empty; without
``sort`` rows keep the events' time order; without ``fields``/``display``/``stats`` rows show
``@timestamp`` and ``@message``; at most 10,000 rows are returned, as on AWS.

Anything else raises :class:`UnsupportedQueryError`; it never falls back to an unfiltered result.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from edgeauth_local.insights_parser import (
    Command,
    Expr,
    InsightsError,
    InsightsSyntaxError,
    Query,
    UndocumentedSyntaxError,
    UnsupportedQueryError,
    parse_query,
)

__all__ = [
    "MAX_ROWS",
    "InsightsError",
    "InsightsSyntaxError",
    "LogRecord",
    "QueryOutcome",
    "UndocumentedSyntaxError",
    "UnsupportedQueryError",
    "format_value",
    "parse_query",
    "query_log_group",
    "quote_string",
    "run_query",
]

MAX_ROWS: Final = 10_000
Row = dict[str, Any]


class Time(int):
    """Epoch milliseconds that render as ``YYYY-MM-DD HH:MM:SS.mmm`` (as Logs Insights shows times)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log event to evaluate (what ``FilterLogEvents`` returns).

    ``@log`` is ``account_id:log_group``, as Logs Insights defines it; a record built without an
    account id (by hand, in tests) shows the bare ``log_group``.
    """

    timestamp_ms: int
    message: str
    log_stream: str = ""
    log_group: str = ""
    ingestion_ms: int | None = None
    account_id: str = ""


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    """Rows (strings, as ``GetQueryResults``), their column order and scan statistics."""

    rows: list[dict[str, str]]
    columns: list[str]
    records_scanned: int
    records_matched: int


# --- values ----------------------------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _pyval(f: float) -> int | float:
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def format_value(v: Any) -> str:
    """A value as ``GetQueryResults`` shows it."""
    if isinstance(v, Time):
        ms = int(v)
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        # Full precision (the shortest text that reads back as the same number), never rounded:
        # ``42 / 100000000`` is 4.2e-07, not 0.0.
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


def quote_string(value: str) -> str:
    """A Logs Insights string literal for ``value`` (double quotes; ``\\`` and ``"`` escaped).

    Control characters (newline, tab, ...) are refused with ``ValueError``: they cannot appear in an
    audit field value a user would search for, and refusing them keeps the query single-line.
    """
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("control characters are not allowed in a query parameter")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- events → rows ---------------------------------------------------------------------------------------


def _flatten(prefix: str, value: Any, out: Row) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(f"{prefix}.{i}", v, out)
    elif value is None:
        return
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    else:
        out[prefix] = value


def record_row(rec: LogRecord) -> Row:
    """The discovered fields of one event: system fields plus the JSON keys of its message."""
    row: Row = {}
    text = rec.message.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            _flatten("", doc, row)
    row["@timestamp"] = Time(rec.timestamp_ms)
    row["@message"] = rec.message
    row["@logStream"] = rec.log_stream
    row["@log"] = f"{rec.account_id}:{rec.log_group}" if rec.account_id else rec.log_group
    if rec.ingestion_ms is not None:
        row["@ingestionTime"] = Time(rec.ingestion_ms)
    return row


# --- expressions -----------------------------------------------------------------------------------------

_SPAN_UNITS: Final = {
    "ms": 1,
    "msec": 1,
    "millisecond": 1,
    "s": 1000,
    "sec": 1000,
    "second": 1000,
    "m": 60_000,
    "min": 60_000,
    "minute": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hour": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "w": 604_800_000,
    "week": 604_800_000,
}


def span_ms(text: str) -> int:
    """Milliseconds of a time span such as ``5m``, ``30s``, ``1h``, ``2hrs``."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]+)", text)
    if not m:
        raise InsightsSyntaxError(f"bad time span {text!r}", 0)
    unit = m.group(2).lower()
    if unit not in _SPAN_UNITS and unit.endswith("s") and unit[:-1] in _SPAN_UNITS:
        unit = unit[:-1]
    if unit not in _SPAN_UNITS:
        raise UnsupportedQueryError(f"time unit {m.group(2)!r}")
    return int(float(m.group(1)) * _SPAN_UNITS[unit])


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    na, nb = _num(a), _num(b)
    x: Any
    y: Any
    if na is not None and nb is not None:
        x, y = na, nb
    else:
        x, y = format_value(a), format_value(b)
    if op == "=":
        return bool(x == y)
    if op == "!=":
        return bool(x != y)
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern))
    except re.error as e:
        raise InsightsSyntaxError(f"bad regular expression /{pattern}/: {e}", 0) from e


def _arith(op: str, a: Any, b: Any) -> Any:
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    if op == "+":
        return _pyval(x + y)
    if op == "-":
        return _pyval(x - y)
    if op == "*":
        return _pyval(x * y)
    if op == "^":
        # ``2 ^ 2000`` raised OverflowError, ``0 ^ -1`` ZeroDivisionError and ``(-8) ^ 0.5`` made a
        # complex number (found by tests/fuzz): no value, like a division by zero.
        try:
            power = x**y
        except (OverflowError, ZeroDivisionError):
            return None
        return _pyval(power) if isinstance(power, float | int) else None
    if y == 0:
        return None
    if op == "/":
        return _pyval(x / y)
    return _pyval(math.fmod(x, y))


def _s(v: Any) -> str | None:
    return None if v is None else format_value(v)


def _fn_bin(args: Sequence[Any], row: Row) -> Any:
    period = args[0]
    # ``bin(0m)`` (or ``0.0001s``: 0 ms) divided by zero (found by tests/fuzz/atheris_main.py).
    if not isinstance(period, int) or period <= 0:
        raise InsightsSyntaxError("bin() needs a time span such as 5m", 0)
    ts = args[1] if len(args) > 1 else row.get("@timestamp")
    n = _num(ts)
    if n is None:
        return None
    return Time(int(n) - int(n) % period)


def _fn_strcontains(a: Sequence[Any], _: Row) -> Any:
    if a[0] is None or a[1] is None:
        return None
    return 1 if format_value(a[1]) in format_value(a[0]) else 0


def _fn_substr(a: Sequence[Any], _: Row) -> Any:
    text = _s(a[0])
    start = _num(a[1])
    if text is None or start is None:
        return None
    begin = int(start)
    if len(a) > 2:
        length = _num(a[2])
        return None if length is None else text[begin : begin + int(length)]
    return text[begin:]


def _fn_replace(a: Sequence[Any], _: Row) -> Any:
    text, old, new = _s(a[0]), _s(a[1]), _s(a[2])
    if text is None or old is None or new is None:
        return None
    return text.replace(old, new)


def _math1(fn: Callable[[float], float]) -> Callable[[Sequence[Any], Row], Any]:
    def run(a: Sequence[Any], _: Row) -> Any:
        x = _num(a[0])
        if x is None:
            return None
        try:
            return _pyval(float(fn(x)))
        except ValueError:
            return None

    return run


def _str1(fn: Callable[[str], str]) -> Callable[[Sequence[Any], Row], Any]:
    def run(a: Sequence[Any], _: Row) -> Any:
        text = _s(a[0])
        return None if text is None else fn(text)

    return run


def _first_present(a: Sequence[Any], _: Row) -> Any:
    return next((v for v in a if v is not None and v != ""), None)


def _extreme(pick: Callable[..., float]) -> Callable[[Sequence[Any], Row], Any]:
    def run(a: Sequence[Any], _: Row) -> Any:
        nums = [n for n in (_num(v) for v in a) if n is not None]
        return _pyval(pick(nums)) if nums else None

    return run


SCALAR_FUNCTIONS: Final[dict[str, tuple[int, int, Callable[[Sequence[Any], Row], Any]]]] = {
    # name: (min args, max args, implementation)
    "bin": (1, 2, _fn_bin),
    "datefloor": (2, 2, lambda a, r: _fn_bin([a[1], a[0]], r)),
    "abs": (1, 1, _math1(abs)),
    "ceil": (1, 1, _math1(math.ceil)),
    "floor": (1, 1, _math1(math.floor)),
    "sqrt": (1, 1, _math1(math.sqrt)),
    "log": (1, 1, _math1(math.log)),
    "greatest": (1, 99, _extreme(max)),
    "least": (1, 99, _extreme(min)),
    "strlen": (1, 1, lambda a, r: None if a[0] is None else len(format_value(a[0]))),
    "tolower": (1, 1, _str1(str.lower)),
    "toupper": (1, 1, _str1(str.upper)),
    "trim": (1, 1, _str1(str.strip)),
    "ltrim": (1, 1, _str1(str.lstrip)),
    "rtrim": (1, 1, _str1(str.rstrip)),
    "concat": (1, 99, lambda a, r: "".join(format_value(v) for v in a if v is not None)),
    "substr": (2, 3, _fn_substr),
    "replace": (3, 3, _fn_replace),
    "strcontains": (2, 2, _fn_strcontains),
    "isempty": (1, 1, lambda a, r: 1 if a[0] is None or format_value(a[0]) == "" else 0),
    "isblank": (1, 1, lambda a, r: 1 if a[0] is None or format_value(a[0]).strip() == "" else 0),
    "ispresent": (1, 1, lambda a, r: 0 if a[0] is None else 1),
    "coalesce": (1, 99, _first_present),
    "frommillis": (1, 1, lambda a, r: None if _num(a[0]) is None else Time(int(_num(a[0]) or 0))),
    "tomillis": (1, 1, lambda a, r: None if _num(a[0]) is None else int(_num(a[0]) or 0)),
}
AGGREGATE_FUNCTIONS: Final = frozenset(
    {"count", "count_distinct", "sum", "avg", "min", "max", "pct", "stddev", "earliest", "latest"}
)


def _is_aggregate(e: Expr) -> bool:
    if e.op == "call" and str(e.value).lower() in AGGREGATE_FUNCTIONS:
        return True
    return any(_is_aggregate(a) for a in e.args)


class _Evaluator:
    def __init__(self) -> None:
        self._regex_cache: dict[str, re.Pattern[str]] = {}

    def regex(self, pattern: str) -> re.Pattern[str]:
        rx = self._regex_cache.get(pattern)
        if rx is None:
            rx = self._regex_cache[pattern] = _regex(pattern)
        return rx

    def ev(self, e: Expr, row: Row) -> Any:
        op = e.op
        if op == "lit":
            return e.value
        if op == "field":
            return row.get(str(e.value))
        if op == "span":
            return span_ms(str(e.value))
        if op == "cmp":
            return 1 if _compare(str(e.value), self.ev(e.args[0], row), self.ev(e.args[1], row)) else 0
        if op == "and":
            return 1 if self.truthy(e.args[0], row) and self.truthy(e.args[1], row) else 0
        if op == "or":
            return 1 if self.truthy(e.args[0], row) or self.truthy(e.args[1], row) else 0
        if op == "not":
            return 0 if self.truthy(e.args[0], row) else 1
        if op == "like":
            subject = self.ev(e.args[0], row)
            if subject is None:
                return 0
            text = format_value(subject)
            pat = e.args[1]
            if pat.op == "regex":
                hit = self.regex(str(pat.value)).search(text) is not None
            else:
                hit = str(pat.value) in text
            return 1 if hit != e.negate else 0
        if op == "in":
            subject = self.ev(e.args[0], row)
            if subject is None:
                return 0
            hit = any(_compare("=", subject, self.ev(v, row)) for v in e.args[1:])
            return 1 if hit != e.negate else 0
        if op == "binary":
            return _arith(str(e.value), self.ev(e.args[0], row), self.ev(e.args[1], row))
        if op == "unary":
            x = _num(self.ev(e.args[0], row))
            return None if x is None else _pyval(-x)
        if op == "call":
            return self.call(e, row)
        if op == "star":
            raise InsightsSyntaxError("'*' is only allowed in count(*)", 0)
        if op == "regex":
            raise InsightsSyntaxError("a /regex/ is only allowed after like or =~", 0)
        raise UnsupportedQueryError(f"expression {e.text!r}")

    def truthy(self, e: Expr, row: Row) -> bool:
        v = self.ev(e, row)
        if v is None:
            return False
        n = _num(v)
        if n is not None:
            return n != 0
        return format_value(v) != ""

    def call(self, e: Expr, row: Row) -> Any:
        name = str(e.value).lower()
        if name in AGGREGATE_FUNCTIONS:
            raise InsightsSyntaxError(f"aggregate function {e.value}() is only allowed in stats", 0)
        spec = SCALAR_FUNCTIONS.get(name)
        if spec is None:
            raise UnsupportedQueryError(f"function {e.value!r}")
        lo, hi, fn = spec
        if not lo <= len(e.args) <= hi:
            raise InsightsSyntaxError(f"{e.value}() takes {lo}..{hi} arguments, got {len(e.args)}", 0)
        return fn([self.ev(a, row) for a in e.args], row)

    # aggregates: evaluate an expression tree over a group of rows
    def agg(self, e: Expr, rows: list[Row]) -> Any:
        if e.op == "call" and str(e.value).lower() in AGGREGATE_FUNCTIONS:
            return self.aggregate(str(e.value).lower(), e, rows)
        if e.op == "binary":
            return _arith(str(e.value), self.agg(e.args[0], rows), self.agg(e.args[1], rows))
        if e.op == "unary":
            x = _num(self.agg(e.args[0], rows))
            return None if x is None else _pyval(-x)
        if e.op == "lit":
            return e.value
        if e.op == "call":
            spec = SCALAR_FUNCTIONS.get(str(e.value).lower())
            if spec is None:
                raise UnsupportedQueryError(f"function {e.value!r}")
            return spec[2]([self.agg(a, rows) for a in e.args], rows[0] if rows else {})
        # a plain field inside stats (CloudWatch refuses these unless grouped); take the group's value
        return self.ev(e, rows[0]) if rows else None

    def aggregate(self, name: str, e: Expr, rows: list[Row]) -> Any:
        args = e.args
        if name == "count":
            if not args or args[0].op == "star":
                return len(rows)
            return sum(1 for r in rows if self.ev(args[0], r) is not None)
        if not args:
            raise InsightsSyntaxError(f"{name}() needs a field", 0)
        values = [self.ev(args[0], r) for r in rows]
        present = [v for v in values if v is not None]
        if name == "count_distinct":
            return len({format_value(v) for v in present})
        if name in ("earliest", "latest"):
            stamped = [
                (int(r.get("@timestamp") or 0), v) for r, v in zip(rows, values, strict=True) if v is not None
            ]
            if not stamped:
                return None
            return (min if name == "earliest" else max)(stamped, key=lambda t: t[0])[1]
        if name in ("min", "max"):
            if not present:
                return None
            nums = [_num(v) for v in present]
            if all(n is not None for n in nums):
                pairs = list(zip(nums, present, strict=True))
                chosen = (min if name == "min" else max)(pairs, key=lambda p: p[0] or 0.0)[1]
                return chosen
            texts = [format_value(v) for v in present]
            return min(texts) if name == "min" else max(texts)
        nums2 = [n for n in (_num(v) for v in present) if n is not None]
        if name == "sum":
            return _pyval(math.fsum(nums2)) if nums2 else None
        if name == "avg":
            return math.fsum(nums2) / len(nums2) if nums2 else None
        if name == "stddev":
            if len(nums2) < 2:
                return 0 if nums2 else None
            mean = math.fsum(nums2) / len(nums2)
            return math.sqrt(math.fsum((x - mean) ** 2 for x in nums2) / (len(nums2) - 1))
        if name == "pct":
            if len(args) != 2 or _num(self.ev(args[1], {})) is None:
                raise InsightsSyntaxError("pct() needs a field and a percentile, e.g. pct(latency, 99)", 0)
            p = _num(self.ev(args[1], {})) or 0.0
            if not nums2:
                return None
            ordered = sorted(nums2)
            rank = max(1, math.ceil(p / 100.0 * len(ordered)))
            return _pyval(ordered[min(rank, len(ordered)) - 1])
        raise UnsupportedQueryError(f"aggregate {name!r}")  # pragma: no cover - names are closed


# --- commands ------------------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("*")
    out = [re.escape(parts[0])]
    for i, literal in enumerate(parts[1:], start=1):
        last = i == len(parts) - 1
        out.append("(.*)" if last and literal == "" else "(.*?)")
        out.append(re.escape(literal))
    return re.compile("".join(out), re.DOTALL)


_NUMBER_TEXT: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_CHUNK: Final = re.compile(r"[0-9]+|[^0-9]+")
_DIGIT_CHUNK: Final = ord("0")


def _sort_key(v: Any) -> tuple[Any, ...]:
    """Logs Insights' natural order (CWL_QuerySyntax-Sort), ascending: every non-number value before
    every number; numbers by value (``0 < 01 < 1``, as in the documentation's example); other values
    in chunks of digits and of non-digits, compared chunk by chunk: two digit chunks by length, then
    value (``app-2 < app-10``), anything else by Unicode code points (``'2345' < '@'``). ``v`` is not
    missing (missing values are placed apart)."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return (1, float(v), format_value(v))
    text = format_value(v)
    if _NUMBER_TEXT.fullmatch(text):
        return (1, float(text), text)
    # A digit chunk and a non-digit chunk differ in their first character, so they compare by it;
    # tagging each chunk with that character's code point (one tag, '0', for every digit chunk)
    # keeps the tuples comparable while two digit chunks go on to compare by length.
    return (
        0,
        tuple(
            (_DIGIT_CHUNK, len(chunk), chunk) if "0" <= chunk[0] <= "9" else (ord(chunk[0]), 0, chunk)
            for chunk in _CHUNK.findall(text)
        ),
    )


class _Run:
    def __init__(self, query: Query) -> None:
        self.query = query
        self.ev = _Evaluator()
        self.columns: list[str] = []
        self.aggregated = False
        self.displayed = False
        self.sorted = False
        self.limit: int | None = None
        self.matched = 0
        self.parsers: dict[int, re.Pattern[str]] = {}
        for c in query.commands:
            self._validate(c)

    def _validate(self, c: Command) -> None:
        # Reject unsupported functions before running anything (even on an empty group).
        exprs: list[Expr] = [i.expr for i in c.items] + [i.expr for i in c.by]
        if c.condition is not None:
            exprs.append(c.condition)
        stack = list(exprs)
        while stack:
            e = stack.pop()
            if e.op == "call":
                name = str(e.value).lower()
                if name not in SCALAR_FUNCTIONS and name not in AGGREGATE_FUNCTIONS:
                    raise UnsupportedQueryError(f"function {e.value!r}")
                if name in AGGREGATE_FUNCTIONS and c.name != "stats":
                    raise InsightsSyntaxError(f"aggregate function {e.value}() is only allowed in stats", 0)
            if e.op == "span":
                span_ms(str(e.value))
            if e.op in ("like",) and e.args[1].op == "regex":
                self.ev.regex(str(e.args[1].value))
            stack.extend(e.args)
        if c.name == "stats":
            for item in c.items:
                if not _is_aggregate(item.expr):
                    raise InsightsSyntaxError(f"stats needs aggregate functions, found {item.name!r}", 0)
        if c.name == "parse":
            self.parsers[id(c)] = (
                self.ev.regex(c.parse_pattern) if c.parse_is_regex else _glob_regex(c.parse_pattern)
            )

    def _add_columns(self, names: Iterable[str]) -> None:
        for n in names:
            if n not in self.columns:
                self.columns.append(n)

    def run(self, rows: list[Row]) -> list[Row]:
        for c in self.query.commands:
            rows = self.step(c, rows)
        if not self.aggregated and not self.columns:
            self.columns = ["@timestamp", "@message"]
        cap = MAX_ROWS if self.limit is None else min(self.limit, MAX_ROWS)
        return rows[:cap]

    def step(self, c: Command, rows: list[Row]) -> list[Row]:
        if c.name == "filter":
            assert c.condition is not None  # noqa: S101 - parser guarantees it
            cond = c.condition
            kept = [r for r in rows if self.ev.truthy(cond, r)]
            if not self.aggregated:
                self.matched = len(kept)
            return kept
        if c.name == "fields":
            for r in rows:
                for item in c.items:
                    if item.expr.op != "field" or item.name != item.expr.value:
                        r[item.name] = self.ev.ev(item.expr, r)
            if not self.displayed:
                self._add_columns(i.name for i in c.items)
            return rows
        if c.name == "display":
            self.displayed = True
            self.columns = [i.name for i in c.items]
            for r in rows:
                for item in c.items:
                    if item.expr.op != "field":
                        r[item.name] = self.ev.ev(item.expr, r)
            return rows
        if c.name == "parse":
            rx = self.parsers[id(c)]
            assert c.parse_source is not None  # noqa: S101 - parser guarantees it
            for r in rows:
                v = self.ev.ev(c.parse_source, r)
                if v is None:
                    continue
                m = rx.search(format_value(v))
                if not m:
                    continue
                if c.parse_is_regex:
                    for name in c.parse_names:
                        got = m.group(name)
                        if got is not None:
                            r[name] = got
                else:
                    for name, got in zip(c.parse_names, m.groups(), strict=True):
                        r[name] = got
            return rows
        if c.name == "stats":
            return self.stats(c, rows)
        if c.name == "sort":
            out = list(rows)
            for item, desc in reversed(list(zip(c.items, c.descending, strict=True))):
                keyed = [(self._sort_value(item.expr, r), r) for r in out]
                present = [kr for kr in keyed if kr[0] is not None]
                missing = [kr[1] for kr in keyed if kr[0] is None]
                present.sort(key=lambda kr: _sort_key(kr[0]), reverse=desc)
                out = [kr[1] for kr in present] + missing  # missing values last either way
            self.sorted = True
            return out
        if c.name == "limit":
            self.limit = c.limit if self.limit is None else min(self.limit, c.limit)
            return rows[: c.limit]
        if c.name == "dedup":
            # CWL_QuerySyntax-Dedup: the first event in sort order is kept, and unsorted events are in
            # the default order, newest first.
            if not self.sorted and not self.aggregated:
                rows = sorted(rows, key=lambda r: int(r["@timestamp"]), reverse=True)
            seen: set[tuple[str, ...]] = set()
            out2: list[Row] = []
            for r in rows:
                values = [self.ev.ev(i.expr, r) for i in c.items]
                # "Null values are not considered duplicates": an event missing any dedup field is kept.
                if any(v is None for v in values):
                    out2.append(r)
                    continue
                key = tuple(format_value(v) for v in values)
                if key in seen:
                    continue
                seen.add(key)
                out2.append(r)
            return out2
        raise UnsupportedQueryError(f"command {c.name!r}")  # pragma: no cover - parser closes the set

    def _sort_value(self, e: Expr, r: Row) -> Any:
        # ``sort bin(5m)`` after ``stats ... by bin(5m)`` refers to the column of that name
        if e.text in r:
            return r[e.text]
        return self.ev.ev(e, r)

    def stats(self, c: Command, rows: list[Row]) -> list[Row]:
        groups: dict[tuple[str, ...], tuple[list[Any], list[Row]]] = {}
        for r in rows:
            keys = [self.ev.ev(b.expr, r) for b in c.by]
            # An event without a grouping field forms its own group (the field is empty in the row):
            # refusals of unverified tokens have no ``sub`` and must still be counted.
            gk = tuple("\x00" if k is None else format_value(k) for k in keys)
            groups.setdefault(gk, (keys, []))[1].append(r)
        if not c.by and not groups:
            groups[()] = ([], [])
        out: list[Row] = []
        for keys, members in groups.values():
            row: Row = {}
            for b, k in zip(c.by, keys, strict=True):
                row[b.name] = k
            for item in c.items:
                row[item.name] = self.ev.agg(item.expr, members)
            out.append(row)
        self.aggregated = True
        self.displayed = False
        self.columns = [b.name for b in c.by] + [i.name for i in c.items]
        return out


def run_query(
    query: str | Query,
    records: Iterable[LogRecord],
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> QueryOutcome:
    """Evaluate ``query`` over ``records`` (optionally only those in ``[start_ms, end_ms]``).

    Returns rows with string values, in the column order CloudWatch would show (group fields, then
    aggregates, for ``stats``). Raises :class:`InsightsSyntaxError` or
    :class:`UnsupportedQueryError` before evaluating anything if the query is outside the subset.
    """
    q = parse_query(query) if isinstance(query, str) else query
    runner = _Run(q)
    rows: list[Row] = []
    scanned = 0
    for rec in records:
        if start_ms is not None and rec.timestamp_ms < start_ms:
            continue
        if end_ms is not None and rec.timestamp_ms > end_ms:
            continue
        scanned += 1
        rows.append(record_row(rec))
    rows.sort(key=lambda r: int(r["@timestamp"]))
    runner.matched = scanned
    result = runner.run(rows)
    columns = list(runner.columns)
    shaped = [{col: format_value(r[col]) for col in columns if r.get(col) is not None} for r in result]
    return QueryOutcome(rows=shaped, columns=columns, records_scanned=scanned, records_matched=runner.matched)


def log_group_account(client: Any, log_group: str) -> str:
    """The id of the account that owns ``log_group``, from its ARN (``DescribeLogGroups``).

    Raises botocore's ``ClientError`` (``ResourceNotFoundException``) when there is no such log group,
    as ``FilterLogEvents`` would.
    """
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"logGroupNamePrefix": log_group}
    while True:
        resp = client.describe_log_groups(**kwargs)
        for group in resp.get("logGroups", []):
            if group.get("logGroupName") == log_group:
                # arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
                return str(group.get("logGroupArn") or group["arn"]).split(":")[4]
        token = resp.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            break
        kwargs["nextToken"] = token
    raise ClientError(
        {
            "Error": {
                "Code": "ResourceNotFoundException",
                "Message": f"The specified log group does not exist: {log_group}",
            }
        },
        "DescribeLogGroups",
    )


def fetch_records(
    client: Any,
    log_group: str,
    start_ms: int,
    end_ms: int,
    progress: Callable[[int], None] | None = None,
    account_id: str = "",
) -> list[LogRecord]:
    """Every event of ``log_group`` in ``[start_ms, end_ms]`` via ``FilterLogEvents`` (paginated);
    ``account_id`` (the log group's owner) makes their ``@log`` ``account_id:log_group``."""
    records: list[LogRecord] = []
    kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": start_ms, "endTime": end_ms}
    while True:
        resp = client.filter_log_events(**kwargs)
        for ev in resp.get("events", []):
            records.append(
                LogRecord(
                    timestamp_ms=int(ev["timestamp"]),
                    message=str(ev.get("message", "")),
                    log_stream=str(ev.get("logStreamName", "")),
                    log_group=log_group,
                    ingestion_ms=ev.get("ingestionTime"),
                    account_id=account_id,
                )
            )
        if progress is not None:
            progress(len(records))
        token = resp.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return records
        kwargs["nextToken"] = token


def query_log_group(
    client: Any,
    log_group: str,
    query: str,
    start_ms: int,
    end_ms: int,
    progress: Callable[[int], None] | None = None,
) -> QueryOutcome:
    """Run ``query`` locally over ``log_group``'s events in the range (the moto replacement for
    ``StartQuery``). The query is parsed before any event is fetched, so an unsupported query fails
    fast. ``@log`` is ``account-id:log-group-name``, the account read from the log group's ARN."""
    parsed = parse_query(query)
    _Run(parsed)  # validate everything up front
    account_id = log_group_account(client, log_group)
    records = fetch_records(client, log_group, start_ms, end_ms, progress, account_id=account_id)
    return run_query(parsed, records, start_ms=start_ms, end_ms=end_ms)


def rows_as_results(outcome: QueryOutcome) -> list[list[Mapping[str, str]]]:
    """Rows in ``GetQueryResults``' ``results`` shape (``[[{"field", "value"}, ...], ...]``)."""
    return [[{"field": k, "value": v} for k, v in row.items()] for row in outcome.rows]
