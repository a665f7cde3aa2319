"""The machine-readable result of a benchmark run: ``bench/latest.json`` beside ``bench/latest.md``.

``python -m bench`` writes both from the same rows. The documentation's benchmarks page renders its
table and its chart from the JSON (``tools/docs_reference.py``), so the page shows the last full run
without anyone copying numbers. Each row keeps the table's text cells and, where the row has one, its
ratio and target as numbers (``ratio_value``, ``target_value``) with what they are ratios to
(``ratio_to``: ``floor``, ``boto3 client`` …). Rows measured in a run of their own (rows 9–9d, on
the local stack: ``python -m bench --only propagation``) and merged into the last full run say so in
``apart``: one line each, shown under the run's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bench.common import Row

VERSION: Final = 1
_RATIO = re.compile(r"(?:≤\s*)?([0-9][0-9.,]*)×\s*(.+)")


def ratio_parts(text: str) -> tuple[float | None, str]:
    """``"3.23× floor"`` -> ``(3.23, "floor")``; ``"≤ 2× floor"`` -> ``(2.0, "floor")``; else ``(None, "")``."""
    m = _RATIO.fullmatch(text.strip())
    if m is None:
        return None, ""
    return float(m.group(1).replace(",", "")), m.group(2).strip()


def to_document(machine: str, run: str, rows: Sequence[Row], apart: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON document of one run: where (``machine``), how and when (``run``), every row, and the
    rows measured in a run of their own (``apart``: one line each, e.g. ``"Rows 9–9d: …"``)."""
    out = []
    for row in rows:
        ratio, ratio_to = ratio_parts(row.ratio)
        target, _ = ratio_parts(row.target)
        out.append(
            {
                "key": row.key,
                "scenario": row.scenario,
                "median": row.median,
                "spread": row.spread,
                "ratio": row.ratio,
                "target": row.target,
                "met": row.met,
                "note": row.note,
                "ratio_value": ratio,
                "ratio_to": ratio_to,
                "target_value": target,
            }
        )
    document: dict[str, Any] = {"version": VERSION, "machine": machine, "run": run, "rows": out}
    if apart:
        document["apart"] = list(apart)
    return document


def write(path: Path, machine: str, run: str, rows: Sequence[Row], apart: Sequence[str] = ()) -> None:
    text = json.dumps(to_document(machine, run, rows, apart), indent=1, ensure_ascii=False)
    path.write_text(text + "\n", "utf-8")


def load(path: Path) -> dict[str, Any]:
    """A document :func:`write` wrote; ``ValueError`` naming the file if it is not one."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise ValueError(f"{path}: not a benchmark result of version {VERSION}")
    return document


def rows_of(document: dict[str, Any]) -> list[Row]:
    """The rows of a document, as the table renders them."""
    fields = ("key", "scenario", "median", "spread", "ratio", "target", "met", "note")
    return [Row(**{f: str(r[f]) for f in fields}) for r in document["rows"]]
