"""Scenario 7, the audit consumer: CPU per Kinesis record against just decompressing and parsing it.

Measured through the audit package's own benchmark helper, :mod:`edgeauth.audit.bench`: records
shaped like CloudWatch Logs subscription payloads (our decision lines and API Gateway access lines,
gzip JSON, base64 as Lambda hands them over). Its ``consumer`` path is the whole of
``normalise_record`` plus what the writer does before the network (rendering each event, planning
the ``PutLogEvents`` batches); its ``baseline`` is what any consumer must do (base64, gunzip, parse
the document and every line). Both are CPU time (``process_time``), no I/O.

Here each round calls the helper's ``measure`` once (one pass over the records for each path), so
the rounds give a spread and a paired ratio like every other row. While the helper does not exist
the row reads "pending".
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class AuditSamples:
    consumer_us: list[float]
    baseline_us: list[float]
    ratios: list[float]
    lines_per_record: int


def helper() -> Any | None:
    """``edgeauth.audit.bench`` when it offers ``synthetic_records`` and ``measure``, else ``None``."""
    try:
        mod = importlib.import_module("edgeauth.audit.bench")
    except ImportError:
        return None
    if callable(getattr(mod, "synthetic_records", None)) and callable(getattr(mod, "measure", None)):
        return mod
    return None


def measure(mod: Any, rounds: int, records: int) -> AuditSamples:
    data = mod.synthetic_records(records, 50)
    mod.measure(data[:2], 1)  # warm-up
    out = AuditSamples([], [], [], 0)
    for _ in range(rounds):
        res = mod.measure(data, 1)
        out.consumer_us.append(float(res.consumer_us_per_record))
        out.baseline_us.append(float(res.baseline_us_per_record))
        out.ratios.append(float(res.ratio))
        out.lines_per_record = int(res.lines_per_record)
    return out
