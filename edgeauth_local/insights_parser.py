"""Lexer and parser of the CloudWatch Logs Insights query language subset that edgeauth evaluates locally.

The grammar follows the Logs Insights QL documentation (CWL_QuerySyntax): commands separated by ``|``,
``#`` comments, double- or single-quoted strings (``\\`` escapes the next character), ``/regex/``
literals, backtick-quoted field names, numbers, and time spans such as ``5m`` inside ``bin()``.

Anything outside the subset raises :class:`UnsupportedQueryError` naming the construct; malformed
text raises :class:`InsightsSyntaxError` with the offset. The parser never guesses.

It also refuses what the documented grammar does not allow even where a lenient parser could give it a
meaning, raising :class:`UndocumentedSyntaxError` (both an ``InsightsSyntaxError`` and an
``UnsupportedQueryError``): a command other than ``limit`` after ``dedup`` (CWL_QuerySyntax-Dedup), and
comparisons, ``like``, ``in`` and ``and``/``or``/``not`` used as values (in ``fields``, ``display``,
``stats``, ``sort``, ``dedup``): the documentation allows them only in ``filter`` and as arguments of
functions (CWL_QuerySyntax-operations-functions). A query that passes here therefore keeps to the
documented grammar, so it runs the same on CloudWatch.

Tokens are read as the parser needs them, so a command the evaluator does not support is named as such
even when the rest of its text is outside the lexer's subset (``SOURCE logGroups(namePrefix: [...])``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

COMMANDS: Final = frozenset({"fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup"})
UNSUPPORTED_COMMANDS: Final = frozenset(
    {
        "pattern",
        "diff",
        "anomaly",
        "unmask",
        "filterindex",
        "lookup",
        "join",
        "unnest",
        "source",
        "addtotals",
        "subquery",
    }
)
KEYWORDS: Final = frozenset({"and", "or", "not", "like", "in", "as", "by", "asc", "desc"})


class InsightsError(Exception):
    """Root of the local evaluator's errors."""


class InsightsSyntaxError(InsightsError):
    """The query text is not valid Logs Insights QL. ``position`` is the character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.position = position


class UnsupportedQueryError(InsightsError):
    """The query uses something valid on AWS that the local evaluator does not implement.

    ``construct`` names it (e.g. ``command 'pattern'`` or ``function 'jsonParse'``). Raised instead
    of returning a result that would silently differ from CloudWatch's.
    """

    def __init__(self, construct: str) -> None:
        super().__init__(f"the local Logs Insights evaluator does not support {construct}")
        self.construct = construct


class UndocumentedSyntaxError(InsightsSyntaxError, UnsupportedQueryError):
    """The query uses a form that the Logs Insights documentation does not allow, which CloudWatch
    answers with a syntax error (e.g. a command other than ``limit`` after ``dedup``).

    It is both an :class:`InsightsSyntaxError` (``position``) and an :class:`UnsupportedQueryError`
    (``construct`` names the form): refused before any event is read, like every unsupported construct.
    """

    def __init__(self, construct: str, rule: str, position: int) -> None:
        InsightsError.__init__(
            self,
            f"the local Logs Insights evaluator does not support {construct}: {rule}, and CloudWatch refuses"
            f" it as a syntax error (at character {position})",
        )
        self.construct = construct
        self.position = position


# --- tokens ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # STRING REGEX NUMBER SPAN IDENT OP LPAREN RPAREN LBRACK RBRACK COMMA PIPE END
    value: str
    start: int
    end: int


_OPS: Final = ("!=", "<=", ">=", "=~", "=", "<", ">", "+", "-", "*", "/", "%", "^")
_IDENT_RE: Final = re.compile(r"@?[A-Za-z_][A-Za-z0-9_.]*(?<!\.)|@`[^`]+`|`[^`]+`")
_NUMBER_RE: Final = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SPAN_RE: Final = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z]+)")
_OPERAND_END: Final = frozenset({"STRING", "NUMBER", "SPAN", "IDENT", "RPAREN", "RBRACK", "REGEX"})


def _regex_may_start(tokens: list[Token]) -> bool:
    """A ``/`` starts a regex unless it follows an operand (then it divides); after ``like`` and
    after ``parse [field]`` it always starts one."""
    if not tokens or tokens[-1].kind not in _OPERAND_END:
        return True
    last = tokens[-1]
    if last.kind == "IDENT" and last.value.lower() in ("like", "parse"):
        return True
    return (
        len(tokens) >= 2
        and last.kind == "IDENT"
        and tokens[-2].kind == "IDENT"
        and tokens[-2].value.lower() == "parse"
    )


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``, ending with an ``END`` token."""
    return list(iter_tokens(text))


def iter_tokens(text: str) -> Iterator[Token]:
    """Tokens of ``text`` one at a time, ending with an ``END`` token; a lexical error is raised only
    when the parser asks for the token where it occurs."""
    tokens: list[Token] = []  # what came before decides whether a '/' starts a regex
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start = i
        if c in "\"'":
            i += 1
            buf: list[str] = []
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            if i >= n:
                raise InsightsSyntaxError("unterminated string", start)
            i += 1
            tokens.append(Token("STRING", "".join(buf), start, i))
            yield tokens[-1]
            continue
        if c == "/" and _regex_may_start(tokens):
            i += 1
            rbuf: list[str] = []
            while i < n and text[i] != "/":
                if text[i] == "\\" and i + 1 < n:
                    if text[i + 1] == "/":
                        rbuf.append("/")
                    else:
                        rbuf.append(text[i : i + 2])
                    i += 2
                    continue
                rbuf.append(text[i])
                i += 1
            if i >= n:
                raise InsightsSyntaxError("unterminated regular expression", start)
            i += 1
            tokens.append(Token("REGEX", "".join(rbuf), start, i))
            yield tokens[-1]
            continue
        # ASCII digits only: "²".isdigit() is True but no number pattern matches it, which tripped the
        # assert below (found by tests/fuzz).
        if "0" <= c <= "9":
            m = _SPAN_RE.match(text, i)
            if m and not (m.group(2).lower().startswith("e") and m.group(2)[1:].isdigit()):
                i = m.end()
                tokens.append(Token("SPAN", m.group(0), start, i))
                yield tokens[-1]
                continue
            m2 = _NUMBER_RE.match(text, i)
            assert m2 is not None  # noqa: S101 - c is a digit
            i = m2.end()
            tokens.append(Token("NUMBER", m2.group(0), start, i))
            yield tokens[-1]
            continue
        if c in "@`" or c.isalpha() or c == "_":
            m3 = _IDENT_RE.match(text, i)
            if not m3:
                raise InsightsSyntaxError(f"unexpected character {c!r}", i)
            i = m3.end()
            raw = m3.group(0)
            name = raw.replace("`", "")
            tokens.append(Token("IDENT", name, start, i))
            yield tokens[-1]
            continue
        simple = {"(": "LPAREN", ")": "RPAREN", "[": "LBRACK", "]": "RBRACK", ",": "COMMA", "|": "PIPE"}
        if c in simple:
            i += 1
            tokens.append(Token(simple[c], c, start, i))
            yield tokens[-1]
            continue
        for op in _OPS:
            if text.startswith(op, i):
                i += len(op)
                tokens.append(Token("OP", op, start, i))
                yield tokens[-1]
                break
        else:
            raise InsightsSyntaxError(f"unexpected character {c!r}", i)
    yield Token("END", "", n, n)


# --- AST -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    """An expression node. ``op`` is one of: lit, field, regex, span, star, call, unary, binary, cmp,
    like, in, and, or, not. ``text`` is the expression's source text (used as a column name)."""

    op: str
    text: str
    value: object = None
    args: tuple[Expr, ...] = ()
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    """An expression with its output name (``as alias`` or the source text)."""

    expr: Expr
    name: str


@dataclass(slots=True)
class Command:
    name: str
    items: list[Item] = field(default_factory=list)  # fields/display/stats/sort/dedup
    by: list[Item] = field(default_factory=list)  # stats ... by
    condition: Expr | None = None  # filter
    descending: list[bool] = field(default_factory=list)  # sort
    limit: int = 0
    parse_source: Expr | None = None
    parse_pattern: str = ""
    parse_is_regex: bool = False
    parse_names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Query:
    text: str
    commands: list[Command]


# --- parser --------------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self._stream = iter_tokens(text)
        self.tokens: list[Token] = []  # read so far; the lexer runs only as far as the parser looks
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        while len(self.tokens) <= self.i + offset:
            if self.tokens and self.tokens[-1].kind == "END":
                return self.tokens[-1]
            self.tokens.append(next(self._stream))
        return self.tokens[self.i + offset]

    @property
    def tok(self) -> Token:
        return self.peek()

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "IDENT" and self.tok.value.lower() == word

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise InsightsSyntaxError(
                f"expected {what}, found {self.tok.value or self.tok.kind!r}", self.tok.start
            )
        return self.next()

    def src(self, start: int, end: int) -> str:
        return " ".join(self.text[start:end].split())

    # commands
    def query(self) -> Query:
        commands: list[Command] = []
        while True:
            if self.tok.kind == "END":
                break
            commands.append(self.command(after_dedup=any(c.name == "dedup" for c in commands)))
            if self.tok.kind == "PIPE":
                self.next()
                if self.tok.kind == "END":
                    raise InsightsSyntaxError("a command must follow '|'", self.tok.start)
                continue
            if self.tok.kind != "END":
                raise InsightsSyntaxError(f"unexpected {self.tok.value!r}", self.tok.start)
        if not commands:
            raise InsightsSyntaxError("empty query", 0)
        return Query(text=self.text, commands=commands)

    def command(self, after_dedup: bool = False) -> Command:
        t = self.expect("IDENT", "a command")
        name = t.value.lower()
        if after_dedup and name != "limit":
            raise UndocumentedSyntaxError(
                f"command {t.value!r} after dedup", "only limit may follow dedup", t.start
            )
        if name in UNSUPPORTED_COMMANDS:
            raise UnsupportedQueryError(f"command {t.value!r}")
        if name not in COMMANDS:
            raise InsightsSyntaxError(f"unknown command {t.value!r}", t.start)
        cmd = Command(name=name)
        if name == "filter":
            cmd.condition = self.expr()
        elif name in ("fields", "display", "dedup"):
            cmd.items = self.items(allow_alias=name == "fields", command=name)
        elif name == "stats":
            cmd.items = self.items(allow_alias=True, command=name)
            if self.is_kw("by"):
                self.next()
                cmd.by = self.items(allow_alias=True, command="stats ... by")
        elif name == "sort":
            while True:
                start = self.tok.start
                e = self.expr()
                _refuse_conditions_as_values(e, "sort", start)
                # No direction means descending: moto's reading of CloudWatch, and the default order
                # (@timestamp, descending) that the dedup documentation names.
                desc = True
                if self.is_kw("desc") or self.is_kw("asc"):
                    desc = self.next().value.lower() == "desc"
                cmd.items.append(Item(e, e.text))
                cmd.descending.append(desc)
                if self.tok.kind != "COMMA":
                    break
                self.next()
        elif name == "limit":
            n = self.expect("NUMBER", "a number")
            if "." in n.value or "e" in n.value.lower():
                raise InsightsSyntaxError("limit must be an integer", n.start)
            cmd.limit = int(n.value)
        elif name == "parse":
            self.parse_command(cmd)
        return cmd

    def parse_command(self, cmd: Command) -> None:
        source: Expr = Expr("field", "@message", "@message")
        if self.tok.kind == "IDENT":
            source = self.primary()
        if self.tok.kind == "STRING":
            cmd.parse_pattern = self.next().value
            cmd.parse_is_regex = False
            if not self.is_kw("as"):
                raise InsightsSyntaxError("a glob parse needs 'as name, ...'", self.tok.start)
            self.next()
            while True:
                cmd.parse_names.append(self.expect("IDENT", "a field name").value)
                if self.tok.kind != "COMMA":
                    break
                self.next()
            if cmd.parse_pattern.count("*") != len(cmd.parse_names):
                raise InsightsSyntaxError("parse: the number of '*' differs from the number of names", 0)
        elif self.tok.kind == "REGEX":
            cmd.parse_pattern = self.next().value
            cmd.parse_is_regex = True
            names = re.findall(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>", cmd.parse_pattern)
            if not names:
                raise InsightsSyntaxError("a regex parse needs named groups (?<name>...)", self.tok.start)
            cmd.parse_names = names
        else:
            raise InsightsSyntaxError('parse needs a "glob" or a /regex/', self.tok.start)
        cmd.parse_source = source

    def items(self, allow_alias: bool, command: str) -> list[Item]:
        out: list[Item] = []
        while True:
            start = self.tok.start
            e = self.expr()
            _refuse_conditions_as_values(e, command, start)
            name = e.text
            if self.is_kw("as"):
                if not allow_alias:
                    raise InsightsSyntaxError("'as' is not allowed here", self.tok.start)
                self.next()
                name = self.expect("IDENT", "an alias").value
            out.append(Item(e, name))
            if self.tok.kind != "COMMA":
                return out
            self.next()

    # expressions
    def expr(self) -> Expr:
        start = self.tok.start
        left = self.and_expr()
        while self.is_kw("or"):
            self.next()
            right = self.and_expr()
            left = Expr("or", self.src(start, self.tokens[self.i - 1].end), args=(left, right))
        return left

    def and_expr(self) -> Expr:
        start = self.tok.start
        left = self.not_expr()
        while self.is_kw("and"):
            self.next()
            right = self.not_expr()
            left = Expr("and", self.src(start, self.tokens[self.i - 1].end), args=(left, right))
        return left

    def not_expr(self) -> Expr:
        if self.is_kw("not"):
            start = self.next().start
            inner = self.not_expr()
            return Expr("not", self.src(start, self.tokens[self.i - 1].end), args=(inner,))
        return self.comparison()

    def comparison(self) -> Expr:
        start = self.tok.start
        left = self.additive()
        negate = False
        if (
            self.is_kw("not")
            and self.peek(1).kind == "IDENT"
            and self.peek(1).value.lower() in ("like", "in")
        ):
            self.next()
            negate = True
        if self.tok.kind == "OP" and self.tok.value in ("=", "!=", "<", "<=", ">", ">="):
            op = self.next().value
            right = self.additive()
            return Expr("cmp", self.src(start, self.tokens[self.i - 1].end), op, (left, right))
        if self.is_kw("like") or (self.tok.kind == "OP" and self.tok.value == "=~"):
            self.next()
            t = self.tok
            if t.kind == "REGEX":
                self.next()
                pat = Expr("regex", t.value, t.value)
            elif t.kind == "STRING":
                self.next()
                pat = Expr("lit", t.value, t.value)
            else:
                raise InsightsSyntaxError('like needs a "string" or a /regex/', t.start)
            return Expr("like", self.src(start, self.tokens[self.i - 1].end), args=(left, pat), negate=negate)
        if self.is_kw("in"):
            self.next()
            self.expect("LBRACK", "'['")
            values: list[Expr] = []
            while self.tok.kind != "RBRACK":
                values.append(self.additive())
                if self.tok.kind == "COMMA":
                    self.next()
                elif self.tok.kind != "RBRACK":
                    raise InsightsSyntaxError("expected ',' or ']'", self.tok.start)
            self.next()
            return Expr(
                "in", self.src(start, self.tokens[self.i - 1].end), args=(left, *values), negate=negate
            )
        if negate:
            raise InsightsSyntaxError("'not' must be followed by like or in here", self.tok.start)
        return left

    def additive(self) -> Expr:
        start = self.tok.start
        left = self.multiplicative()
        while self.tok.kind == "OP" and self.tok.value in ("+", "-"):
            op = self.next().value
            right = self.multiplicative()
            left = Expr("binary", self.src(start, self.tokens[self.i - 1].end), op, (left, right))
        return left

    def multiplicative(self) -> Expr:
        start = self.tok.start
        left = self.unary()
        while self.tok.kind == "OP" and self.tok.value in ("*", "/", "%"):
            op = self.next().value
            right = self.unary()
            left = Expr("binary", self.src(start, self.tokens[self.i - 1].end), op, (left, right))
        return left

    def unary(self) -> Expr:
        if self.tok.kind == "OP" and self.tok.value == "-":
            start = self.next().start
            inner = self.unary()
            return Expr("unary", self.src(start, self.tokens[self.i - 1].end), "-", (inner,))
        start = self.tok.start
        base = self.primary()
        if self.tok.kind == "OP" and self.tok.value == "^":
            self.next()
            exp = self.unary()
            return Expr("binary", self.src(start, self.tokens[self.i - 1].end), "^", (base, exp))
        return base

    def primary(self) -> Expr:
        t = self.tok
        if t.kind == "NUMBER":
            self.next()
            num: float | int = float(t.value) if any(ch in t.value for ch in ".eE") else int(t.value)
            return Expr("lit", t.value, num)
        if t.kind == "STRING":
            self.next()
            return Expr("lit", self.text[t.start : t.end], t.value)
        if t.kind == "SPAN":
            self.next()
            return Expr("span", t.value, t.value)
        if t.kind == "REGEX":
            raise InsightsSyntaxError("a /regex/ is only allowed after like, =~ or in parse", t.start)
        if t.kind == "LPAREN":
            self.next()
            inner = self.expr()
            end = self.expect("RPAREN", "')'")
            return Expr(inner.op, self.src(t.start, end.end), inner.value, inner.args, inner.negate)
        if t.kind == "OP" and t.value == "*":
            self.next()
            return Expr("star", "*")
        if t.kind == "IDENT":
            self.next()
            if t.value.lower() in KEYWORDS:
                raise InsightsSyntaxError(f"unexpected keyword {t.value!r}", t.start)
            if self.tok.kind == "LPAREN":
                self.next()
                args: list[Expr] = []
                while self.tok.kind != "RPAREN":
                    args.append(self.expr())
                    if self.tok.kind == "COMMA":
                        self.next()
                    elif self.tok.kind != "RPAREN":
                        raise InsightsSyntaxError("expected ',' or ')'", self.tok.start)
                end = self.next()
                return Expr("call", self.src(t.start, end.end), t.value, tuple(args))
            return Expr("field", t.value, t.value)
        raise InsightsSyntaxError(f"unexpected {t.value or t.kind!r}", t.start)


_CONDITIONS: Final = frozenset({"cmp", "like", "in", "and", "or", "not"})


def _refuse_conditions_as_values(e: Expr, command: str, position: int) -> None:
    """Refuse a comparison (``=``, ``like``, ``in``, ``and``/``or``/``not``) used as a value in
    ``command``: the documentation allows comparisons only in ``filter`` and as arguments of functions,
    so the arguments of a call are not searched."""
    if e.op in _CONDITIONS:
        raise UndocumentedSyntaxError(
            f"comparison {e.text!r} as a value in {command}",
            "comparisons belong in filter or in a function's arguments",
            position,
        )
    if e.op != "call":
        for arg in e.args:
            _refuse_conditions_as_values(arg, command, position)


def parse_query(text: str) -> Query:
    """Parse ``text``; raises :class:`InsightsSyntaxError` or :class:`UnsupportedQueryError`."""
    try:
        return _Parser(text).query()
    except RecursionError:
        # A few hundred nested parentheses exhaust the recursive descent (found by tests/fuzz).
        raise InsightsSyntaxError("expression nested too deeply", 0) from None
