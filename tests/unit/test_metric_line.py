"""The JWKS fetch metric is one valid Embedded Metric Format line, written without Powertools.

``bootstrap.record_jwks_fetch`` writes ``JwksFetches`` (Count) by ``outcome`` with
``audit_line.metric_line`` instead of Powertools' ``single_metric`` (cold-start memory, docs/benchmarks.md). CloudWatch accepts the line only if it is a valid EMF document: ``_aws.Timestamp`` in
epoch milliseconds, one ``CloudWatchMetrics`` directive with a namespace, dimension sets naming
top-level string members and metrics naming top-level numeric members.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from edgeauth import bootstrap
from edgeauth import constants as C
from edgeauth.core.audit_line import metric_line

ROOT = Path(__file__).resolve().parents[2]


def assert_valid_emf(doc: dict[str, Any]) -> None:
    """The EMF specification's structural rules (the ones CloudWatch rejects a line for)."""
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_500_000_000_000
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for d in directives:
        assert isinstance(d["Namespace"], str) and 1 <= len(d["Namespace"]) <= 1024
        assert isinstance(d["Dimensions"], list)
        for dim_set in d["Dimensions"]:
            assert isinstance(dim_set, list) and len(dim_set) <= 30
            for name in dim_set:
                assert isinstance(doc[name], str) and doc[name], name
        assert 1 <= len(d["Metrics"]) <= 100
        for m in d["Metrics"]:
            assert isinstance(m["Name"], str) and m["Name"]
            value = doc[m["Name"]]
            assert isinstance(value, int | float) and not isinstance(value, bool)
            assert m.get("Unit", "None") in ("Count", "Milliseconds", "Bytes", "Seconds", "None")


def test_metric_line_is_one_valid_emf_json_line() -> None:
    line = metric_line(
        "JwksFetches", 1, "Count", {"outcome": "ok"}, {"iss": 'https://idp/\n"x'}, now=1_700_000_000.25
    )
    assert "\n" not in line
    doc = json.loads(line)
    assert_valid_emf(doc)
    assert doc["_aws"]["Timestamp"] == 1_700_000_000_250
    assert doc["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": C.METRICS_NAMESPACE,
            "Dimensions": [["outcome"]],
            "Metrics": [{"Name": "JwksFetches", "Unit": "Count"}],
        }
    ]
    assert doc["outcome"] == "ok"
    assert doc["JwksFetches"] == 1
    assert doc["iss"] == 'https://idp/\n"x'  # a property, escaped inside its string


def test_properties_cannot_override_the_directive_the_dimension_or_the_value() -> None:
    doc = json.loads(
        metric_line("M", 2, "Count", {"outcome": "failed"}, {"_aws": 1, "outcome": "ok", "M": "x"})
    )
    assert_valid_emf(doc)
    assert (doc["outcome"], doc["M"]) == ("failed", 2)


@pytest.mark.parametrize("value", ["", None, 3])
def test_dimension_values_must_be_non_empty_strings(value: Any) -> None:
    with pytest.raises(ValueError, match="dimension"):
        metric_line("M", 1, "Count", {"outcome": value})


@pytest.mark.parametrize(("ok", "outcome"), [(True, "ok"), (False, "failed")])
def test_record_jwks_fetch_writes_the_metric_line(
    ok: bool, outcome: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(bootstrap, "warn", lambda message, extra: warnings.append((message, dict(extra))))
    bootstrap.record_jwks_fetch("https://idp.example/", ok)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert_valid_emf(doc)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["outcome"]]
    assert (doc["outcome"], doc["JwksFetches"], doc["iss"]) == (outcome, 1, "https://idp.example/")
    assert warnings == ([] if ok else [("JWKS fetch failed", {"iss": "https://idp.example/"})])


def test_a_successful_fetch_imports_no_powertools() -> None:
    code = textwrap.dedent(
        """
        import sys
        from edgeauth.bootstrap import record_jwks_fetch
        record_jwks_fetch("https://idp.example/", True)
        print(sorted(m for m in sys.modules if m.startswith("aws_lambda_powertools")))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == "[]"
