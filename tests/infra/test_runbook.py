"""Every alarm the stack defines has a runbook entry on docs/operations.md, found by its name.

The alarms are read from the synthesized template (whichever construct creates them); an entry is a
heading that is the alarm's id (``### AuthorizerFaults``), whose anchor each alarm's description names.
"""

from __future__ import annotations

import re
from pathlib import Path

from infra.alarms import ALARMS
from infra.constructs.monitoring import RUNBOOK
from tests.infra.conftest import Synth

ROOT = Path(__file__).resolve().parents[2]


def runbook_entries() -> set[str]:
    page = (ROOT / RUNBOOK).read_text(encoding="utf-8")
    return set(re.findall(r"^### (\w+)$", page, flags=re.MULTILINE))


def test_every_alarm_of_the_template_has_a_runbook_entry(synth: Synth) -> None:
    # GIVEN every alarm of the synthesized template
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    assert len(alarms) >= 12
    prefix = f"{synth.config.stack_name}-"
    entries = runbook_entries()
    for props in alarms:
        name = props["AlarmName"]
        assert name.startswith(prefix), name
        alarm_id = name[len(prefix) :]
        # THEN the operations page has its entry, and the alarm's description points at it
        assert alarm_id in entries, f"{name}: no '### {alarm_id}' runbook entry in {RUNBOOK}"
        assert props["AlarmDescription"].endswith(f"Runbook: {RUNBOOK}#{alarm_id.lower()}"), name


def test_the_alarm_definitions_are_the_template_alarms(synth: Synth) -> None:
    names = {a["Properties"]["AlarmName"] for a in synth.resources("AWS::CloudWatch::Alarm").values()}
    assert names == {f"{synth.config.stack_name}-{a.alarm_id}" for a in ALARMS}
    assert {a.alarm_id for a in ALARMS} <= runbook_entries()
