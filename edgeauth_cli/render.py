"""Output helpers: readable tables on a terminal, plain JSON in a pipe.

Every command builds plain data (lists of dicts, dicts) and hands it here; the ``--output`` choice
(``table`` by default on a terminal, ``json`` otherwise: see :class:`edgeauth_cli.context.CliContext`)
decides the shape. JSON output is one document on stdout, stable for scripts (``jq``); messages for
humans (progress, warnings) go to stderr so they never corrupt it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def to_jsonable(value: Any) -> Any:
    """Sets become sorted lists, unknown objects their ``repr``: JSON output never fails."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def print_json(data: Any, out: TextIO | None = None) -> None:
    """One indented JSON document and a newline."""
    stream = out or sys.stdout
    stream.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")


def cell(value: Any) -> str:
    """A value as table cell text: lists joined by ``, ``, ``None`` and ``""`` as ``-``."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, set | frozenset):
        value = sorted(value, key=str)
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value) if value else "-"
    return str(value)


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
    out: TextIO | None = None,
    empty: str = "(none)",
) -> None:
    """Left-aligned columns separated by two spaces, with an upper-case header line."""
    stream = out or sys.stdout
    if not rows:
        stream.write(empty + "\n")
        return
    heads = list(headers) if headers is not None else [c.upper().replace("_", " ") for c in columns]
    body = [[cell(row.get(c)).replace("\n", " ") for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in body)
    stream.write("\n".join(lines) + "\n")


def print_fields(pairs: Sequence[tuple[str, Any]], out: TextIO | None = None) -> None:
    """``key: value`` lines with the keys aligned (a record on a terminal)."""
    stream = out or sys.stdout
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        stream.write(f"{(key + ':').ljust(width + 1)} {cell(value)}\n")


def emit(
    output: str,
    data: Any,
    rows: Sequence[Mapping[str, Any]] | None = None,
    columns: Sequence[str] = (),
) -> None:
    """JSON of ``data`` for ``--output json``; otherwise a table of ``rows`` (default ``data``)."""
    if output == "json":
        print_json(data)
    else:
        print_table(rows if rows is not None else data, columns)


def note(message: str) -> None:
    """A message for the human at the terminal (stderr), never part of the command's output."""
    print(message, file=sys.stderr)


def confirm(question: str, assume_yes: bool) -> bool:
    """``--yes``, or ask on a terminal. Without a terminal and without ``--yes``, refuse (exit 2):
    a script must say what it means."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        from edgeauth_cli.context import CliError

        raise CliError("not a terminal, so nothing was written: pass --yes to write without asking", 2)
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
