"""The README's five-minute tour, run as written on a local stack: token, 200/401/403, a role edit,
the audit trail.

How: the tour is every ``bash`` block of the README's "A five-minute tour" section, in order, run as
one ``bash`` script (as a user types it into one terminal) in the environment ``make local`` tells
the user to set (its ``export`` line, :func:`edgeauth_local.__main__.tour_exports`), pointing at this
module's stack on free ports. Each line's own output is checked: a ``curl`` line ending in ``# NNN``
must print that status, and every line must exit 0. The audit queries are then run again, as
written, until the trail shows the tour's decisions (the pipeline delivers within seconds).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeauth_local.__main__ import tour_exports, usage
from edgeauth_local.stack import LocalStack

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## A five-minute tour"
_EXPECTED_STATUS = re.compile(r"#\s*(\d{3})\s*$")
_MARK = "@@tour-line-status@@"


def tour_blocks() -> list[tuple[str, list[str]]]:
    """``(language, lines)`` of each code block of the tour section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    return [(lang, [line for line in body.splitlines() if line.strip()]) for lang, body in blocks]


def tour_lines() -> list[str]:
    return [line for lang, lines in tour_blocks() if lang == "bash" for line in lines]


def environment(stack: LocalStack, home: Path) -> dict[str, str]:
    """What a user of the tour has: the variables of make local's export line, the virtualenv's
    PATH, no AWS settings at all, and (make local writes it to .local/; this stack does not) the
    identity provider's URL."""
    assert stack.urls is not None
    exports = tour_exports(stack).removeprefix("export ").split()
    env = dict(item.split("=", 1) for item in exports)
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}",
        "HOME": str(home),
        "EDGEAUTH_IDP_URL": stack.urls.issuer,
        **env,
    }


def run_script(lines: list[str], env: dict[str, str], cwd: Path) -> list[tuple[str, int, str]]:
    """Each line as written, in one bash process; ``(line, exit status, its output)`` per line."""
    script = "".join(f"{line}\nprintf '\\n{_MARK}%d\\n' $?\n" for line in lines)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],  # noqa: S607 - bash from PATH, as a user runs it
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    parts = result.stdout.split(_MARK)
    assert len(parts) == len(lines) + 1, result.stderr
    out = []
    for line, before, after in zip(lines, parts, parts[1:], strict=False):
        status = int(after.split("\n", 1)[0])
        output = before.split("\n", 1)[1] if out else before
        out.append((line, status, output.strip()))
    return out


def test_the_tour_is_found_and_uses_only_what_make_local_exports(stack: LocalStack) -> None:
    lines = tour_lines()
    text = " ".join(lines)
    # The four things the tour shows: a token, the three answers, a role edit, an audit query.
    assert "edgeauth token" in text and "subjects grant" in text and "audit query" in text
    assert sorted(m.group(1) for line in lines if (m := _EXPECTED_STATUS.search(line))) == [
        "200", "201", "401", "403",
    ]  # fmt: skip
    # make local prints the export line (the README shows it for the default ports)...
    exports = tour_exports(stack)
    assert exports in usage(stack)
    names = {item.split("=", 1)[0] for item in exports.removeprefix("export ").split()}
    shown = [line for lang, block in tour_blocks() if lang == "text" for line in block]
    assert any(line.startswith("export ") for line in shown)
    shown_names = {
        item.split("=", 1)[0]
        for line in shown
        if line.startswith("export ")
        for item in line.removeprefix("export ").split()
    }
    assert shown_names == names
    # ...and the tour uses no other variable than those and the ones it sets itself.
    assigned = {m.group(1) for line in lines if (m := re.match(r"([A-Z_]+)=", line))}
    used = set(re.findall(r"\$\{?([A-Z_]+)\}?", text))
    assert used <= names | assigned


def test_the_tour_runs_as_written(stack: LocalStack, tmp_path: Path) -> None:
    env = environment(stack, tmp_path)
    lines = tour_lines()
    # WHEN the tour runs as written
    results = run_script(lines, env, tmp_path)
    # THEN every line succeeds and every curl answers the status its comment says
    for line, status, output in results:
        assert status == 0, f"{line}\n  exit {status}\n  output: {output}"
        assert "Traceback" not in output
        expected = _EXPECTED_STATUS.search(line)
        if expected and line.startswith("curl"):
            assert output == expected.group(1), f"{line}\n  printed: {output}"
    explain = next(output for line, _, output in results if line.startswith("edgeauth explain"))
    assert "no_matching_permission" in explain or "Deny" in explain
    # AND the audit queries, run again as written, show the tour's decisions once delivered
    queries = [line for line in lines if line.startswith("edgeauth audit query")]
    assert queries
    deadline = time.monotonic() + 60
    while True:
        outputs = [output for _, status, output in run_script(queries, env, tmp_path) if status == 0]
        # carol's 403 among the denials; dave's allowed transfer (and its 201) in his activity
        if (
            len(outputs) == len(queries)
            and "carol" in outputs[0]
            and "no_matching_permission" in outputs[0]
            and "/accounts/{id}/transfers" in outputs[1]
            and '"allowed"' in outputs[1]
        ):
            break
        assert time.monotonic() < deadline, f"the audit trail never showed the tour: {outputs}"
        time.sleep(1)
