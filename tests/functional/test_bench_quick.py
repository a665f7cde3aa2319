"""``make bench-quick`` end to end: every scenario runs and the table parses (no timing asserted).

GIVEN the benchmark package, WHEN ``python -m bench --quick`` runs in a fresh process, THEN it exits
0 and prints (and writes to ``--output``) one table with a row for every scenario 1–9, whose cells
parse: a time and a ratio for the measured rows (for the local gateway, 8–8c: rps, p50 and p99
latency and the ratio to the backend; for edits reaching the gateway, 9–9d: p50 and p95 seconds,
the bulk apply's drain time), and a met column of yes/NO where a target applies.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import parse_table

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [
    *["1", "1b", "1c", "2", "2b", "2c", "3", "4", "5", "5b", "5c", "6", "6b", "7", "8", "8b", "8c"],
    *["9", "9b", "9c", "9d"],
]
NUMBER = r"[0-9][0-9,]*\.?[0-9]*"
#: RBAC at scale: rows 6–6d are one route kind each (against the same requests with 10 permissions,
#: row 6e), with a target.
RBAC_ROWS = ["6", "6b", "6c", "6d"]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m <args>`` from the repository root, without this shell's AWS or EDGEAUTH settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGEAUTH_", "AWS_"))}
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def quick_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("bench") / "quick.md"
    proc = run_bench("bench", "--quick", "--output", str(out))
    return proc.stdout, out


@pytest.fixture(scope="module")
def quick_run(quick_output: tuple[str, Path]) -> tuple[str, str]:
    stdout, out = quick_output
    return stdout, out.read_text(encoding="utf-8")


def test_the_rows_are_also_written_as_json_for_the_documentation(quick_output: tuple[str, Path]) -> None:
    # GIVEN the table written to --output WHEN the JSON beside it is read (the docs render it)
    from bench import results

    stdout, out = quick_output
    document = results.load(out.with_suffix(".json"))
    # THEN it has the same rows, with each ratio and target as a number
    rows = parse_table(stdout)
    assert [r["key"] for r in document["rows"]] == [r["#"] for r in rows]
    for row, cells in zip(document["rows"], rows, strict=True):
        assert row["ratio"] == cells["ratio"] and row["met"] == cells["met"]
        value, reference = results.ratio_parts(cells["ratio"])
        assert (row["ratio_value"], row["ratio_to"]) == (value, reference)
    new_token = next(r for r in document["rows"] if r["key"] == "3")
    assert new_token["ratio_to"] == "floor" and new_token["target_value"] == 2.0
    assert isinstance(new_token["ratio_value"], float)
    assert document["run"].startswith("quick")


def test_the_table_has_a_row_for_every_scenario_and_parses(quick_run: tuple[str, str]) -> None:
    stdout, written = quick_run
    rows = parse_table(stdout)
    assert parse_table(written) == rows
    by_key = {r["#"]: r for r in rows}
    assert [k for k in SCENARIOS if k not in by_key] == []
    assert [k for k in [*RBAC_ROWS, "6e"] if k not in by_key] == []
    for key in RBAC_ROWS:
        row = by_key[key]
        assert re.fullmatch(rf"{NUMBER} µs", row["median"]), row
        assert re.fullmatch(rf"{NUMBER}× 10 perms", row["ratio"]), row
        assert (row["target"], row["met"] in ("yes", "NO")) == ("≤ 1.2× 10 perms", True), row
    for key in ("1", "2", "3", "4", "5", "6"):
        row = by_key[key]
        assert re.fullmatch(rf"{NUMBER} (µs|ms)", row["median"]), row
        assert re.fullmatch(rf"{NUMBER}× .+", row["ratio"]), row
    for key in ("3", "4", "5", "5b", "6"):
        assert by_key[key]["met"] in ("yes", "NO"), by_key[key]
        assert by_key[key]["target"].startswith("≤ "), by_key[key]
    assert by_key["7"]["met"] in ("yes", "NO", "pending")
    # The local gateway under load (no target): rps in the scenario, p50 as the median, p99 as the spread.
    for key in ("8", "8b", "8c"):
        row = by_key[key]
        assert re.fullmatch(rf".+: {NUMBER} rps", row["scenario"]), row
        assert re.fullmatch(rf"{NUMBER} ms", row["median"]), row
        assert re.fullmatch(rf"p99 {NUMBER} ms", row["spread (p10 – p90)"]), row
        assert re.fullmatch(rf"{NUMBER}× backend rps", row["ratio"]), row
        assert (row["target"], row["met"]) == ("—", "—"), row
    # Role edits, grants and revocations on the local stack under a steady stream of edits: p50 as
    # the median, p95 as the spread, a target on the p95; the bulk apply's drain time and its
    # longest invocation, a target on the drain.
    for key in ("9", "9b", "9c"):
        row = by_key[key]
        assert re.fullmatch(r".+ \(\d+ trials\)", row["scenario"]), row
        assert re.fullmatch(rf"{NUMBER} s", row["median"]), row
        assert re.fullmatch(rf"p95 {NUMBER} s", row["spread (p10 – p90)"]), row
        assert (row["target"], row["met"] in ("yes", "NO")) == ("p95 ≤ 10 s", True), row
    bulk = by_key["9d"]
    assert re.fullmatch(
        r"bulk `edgeauth roles apply` of [0-9,]+ subjects .+ \(\d+ invocations\)", bulk["scenario"]
    )
    assert re.fullmatch(rf"{NUMBER} s", bulk["median"]), bulk
    assert re.fullmatch(rf"longest invocation {NUMBER} s", bulk["spread (p10 – p90)"]), bulk
    assert (bulk["target"], bulk["met"] in ("yes", "NO")) == ("≤ 60 s", True), bulk


def test_the_run_names_the_machine_and_the_mode(quick_run: tuple[str, str]) -> None:
    stdout, _ = quick_run
    assert re.search(r"Machine: \d+ CPUs \(nproc\), .+, CPython 3\.\d+", stdout)
    assert "Mode: quick" in stdout


def test_the_ablation_runs_every_variant_and_reports_each_part() -> None:
    # ``python -m bench.ablation`` is what docs/benchmarks.md's "what bounds" paragraphs quote.
    proc = run_bench("bench.ablation", "--quick")
    lines = proc.stdout.splitlines()
    heads = [line for line in lines if not line.startswith(" ")]
    assert [h.split(":")[0] for h in heads] == ["new token (row 3)", "repeated token (row 4)"]
    parts = [
        re.fullmatch(
            rf"  without (.+?) +{NUMBER}× the floor; saves +-?{NUMBER} µs = -?{NUMBER}× the floor", x
        )
        for x in lines
        if x.startswith(" ")
    ]
    assert all(parts), lines
    assert [m.group(1) for m in parts if m] == [
        "signature check",
        "audit line",
        "payload JSON",
        "claim checks",
        "token cache",
        "the line's write",
        "audit line",
    ]
