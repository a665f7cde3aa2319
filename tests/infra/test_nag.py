"""cdk-nag AwsSolutions: no finding without an acknowledgment, and every acknowledgment has a reason."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synth


def nag_report(synth: Synth) -> dict[str, Any]:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (plugin,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    result: dict[str, Any] = plugin
    return result


def test_synth_passes_the_aws_solutions_checks(synth: Synth) -> None:
    plugin = nag_report(synth)
    findings = [
        f"{v['ruleName']} at {[c['constructPath'] for c in v['violatingConstructs']]}"
        for v in plugin["violations"]
    ]
    assert findings == []
    assert plugin["conclusion"] == "success"
    assert synth.validation_failure is None


def test_every_acknowledgment_carries_a_reason(synth: Synth) -> None:
    acknowledged = nag_report(synth)["suppressedViolations"]
    assert acknowledged, "the app acknowledges some findings; none found"
    for finding in acknowledged:
        assert len(finding["reason"]) >= 40, finding["acknowledgedId"]


def test_wildcard_acknowledgments_are_per_finding(synth: Synth) -> None:
    # "AwsSolutions-IAM5" alone would hide any future wildcard; each acknowledgment names its finding.
    for finding in nag_report(synth)["suppressedViolations"]:
        if finding["ruleName"].startswith("AwsSolutions-IAM"):
            assert "[" in finding["acknowledgedId"], finding["acknowledgedId"]
