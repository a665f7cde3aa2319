"""Timing, statistics and the result table shared by every scenario.

Per-operation times are this thread's CPU time (``time.thread_time``): on a shared, noisy machine
wall-clock time mostly measures the neighbours, while CPU time of CPU-bound code does not wait for
them (it is still disturbed by shared caches and frequency, which the interleaving below evens out).

Timed cases run *interleaved*: each round times one batch of every case, in an order that rotates
from round to round, so slow phases of a noisy machine hit every case alike. A ratio between two
cases is the median of the per-round ratios (paired), which is far steadier here than the ratio of
two medians measured minutes apart.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A case runs ``n`` operations when called (its own loop, so call overhead is amortised).
Batch = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Fresh:
    """A case whose ``n`` inputs are made just before its batch, outside the timed region.

    The Lambda runtime parses each event from JSON immediately before calling the handler, so the
    handler's input is in the CPU's caches. Inputs built once at the start of a run (thousands of
    events, megabytes) are cold by the time they are used: every field read is a cache miss, which
    measured up to ~20 µs per request here, a cost no Lambda invocation pays. ``make`` builds one
    input (``json.loads`` of the next event's or token's text), ``op`` is the timed operation.
    """

    make: Callable[[], Any]
    op: Callable[[Any], Any]


Case = Batch | Fresh

#: Inputs of a :class:`Fresh` case are made and timed this many at a time: a few events (~3 KB
#: each) stay in the CPU's caches between being parsed and being used, as one event does in Lambda.
#: The two clock reads per chunk (~1 µs here) add ~0.1 µs to every such operation alike.
FRESH_CHUNK = 10


@dataclass(frozen=True, slots=True)
class Settings:
    """How much to measure. ``quick`` is for CI: it proves the benchmarks run, not how fast."""

    quick: bool
    rounds: int
    batch: int
    cold_runs: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls(quick=True, rounds=5, batch=20, cold_runs=2)
        return cls(quick=False, rounds=31, batch=100, cold_runs=9)


def _timed(case: Case, n: int) -> float:
    """CPU seconds of ``n`` operations of ``case`` (a :class:`Fresh` case's inputs made untimed)."""
    if isinstance(case, Fresh):
        make, op = case.make, case.op
        total = 0.0
        for done in range(0, n, FRESH_CHUNK):
            inputs = [make() for _ in range(min(FRESH_CHUNK, n - done))]
            t0 = time.thread_time()
            for item in inputs:
                op(item)
            total += time.thread_time() - t0
        return total
    t0 = time.thread_time()
    case(n)
    return time.thread_time() - t0


def interleaved(
    cases: Mapping[str, Case], rounds: int, batch: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per operation for each case, one sample per round (after ``warmup`` batches each)."""
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            _timed(cases[name], max(1, batch // 4))
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            samples[name].append(_timed(cases[name], batch) / batch)
    return samples


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def percentile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def paired_ratio(num: Sequence[float], den: Sequence[float]) -> float:
    """Median of per-round ratios ``num[i] / den[i]``."""
    return statistics.median(n / d for n, d in zip(num, den, strict=True))


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    key: str
    scenario: str
    median: str = "—"
    spread: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: str = "—"
    note: str = ""


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def timing_row(
    key: str,
    scenario: str,
    samples: Sequence[float],
    *,
    ratio: float | None = None,
    ratio_to: str = "floor",
    target: float | None = None,
    unit: Callable[[float], str] = us,
    note: str = "",
) -> Row:
    """A row for per-operation samples (seconds), spread as p10–p90."""
    row = Row(
        key,
        scenario,
        median=unit(median(samples)),
        spread=f"{unit(percentile(samples, 10))} – {unit(percentile(samples, 90))}",
        note=note,
    )
    if ratio is not None:
        row.ratio = f"{ratio:.2f}× {ratio_to}"
    if target is not None:
        row.target = f"≤ {target:g}× {ratio_to}"
        row.met = "yes" if ratio is not None and ratio <= target else "NO"
    return row


COLUMNS = ("#", "scenario", "median", "spread (p10 – p90)", "ratio", "target", "met")


def render_table(rows: Sequence[Row]) -> str:
    """A Markdown table (also readable as plain text)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        cells = (r.key, r.scenario, r.median, r.spread, r.ratio, r.target, r.met)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def render_notes(rows: Sequence[Row]) -> str:
    return "\n".join(f"- **{r.key}**: {r.note}" for r in rows if r.note)


def parse_table(text: str) -> list[dict[str, str]]:
    """Parse a table written by :func:`render_table` back into rows (used by the CI test)."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if all(set(c) <= {"-", ":"} for c in cells):
            continue
        if len(cells) != len(header):
            raise ValueError(f"row has {len(cells)} cells, header {len(header)}: {line!r}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


@dataclass(slots=True)
class Machine:
    """Where a run happened (shown with the table)."""

    cpus: int
    cpu_model: str
    python: str
    platform: str
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def here(cls) -> Machine:
        model = "unknown"
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        return cls(
            cpus=os.cpu_count() or 0,
            cpu_model=model,
            python=f"{platform.python_implementation()} {sys.version.split()[0]}",
            platform=platform.platform(),
        )

    def describe(self) -> str:
        return f"{self.cpus} CPUs (nproc), {self.cpu_model}, {self.python}, {self.platform}"
