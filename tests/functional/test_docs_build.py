"""The documentation site builds with ``mkdocs build --strict`` (``make docs-build``, part of
``make test``), offline, and a broken link, a lost anchor, a missing page or a generated section
that does not exist fails the build.

Each failing case builds a copy of ``docs/`` with one fault put in, with the repository's own
``mkdocs.yml`` (pointed at the copy) and hooks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


def build(tmp_path: Path, change: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of a copy of docs/ with ``change`` (page -> text appended) applied."""
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    for page, text in (change or {}).items():
        with (docs / page).open("a", encoding="utf-8") as f:
            f.write("\n" + text + "\n")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs_dir: docs\n" in config and "  - tools/docs_hooks.py\n" in config
    config = config.replace("docs_dir: docs\n", f"docs_dir: {docs}\n").replace(
        "  - tools/docs_hooks.py\n", f"  - {ROOT / 'tools' / 'docs_hooks.py'}\n"
    )
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,  # pymdownx.snippets' base path (SECURITY.md)
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )  # fmt: skip


def test_the_site_builds_strictly_with_its_generated_sections_and_security_page(tmp_path: Path) -> None:
    result = build(tmp_path)
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    configuration = (site / "configuration" / "index.html").read_text(encoding="utf-8")
    assert "EDGEAUTH_ROLE_CACHE_TTL" in configuration and "generated:" not in configuration
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert 'id="cli-edgeauth-roles-apply"' in cli
    # SECURITY.md stays at the root and is the site's security page.
    security = (site / "security" / "index.html").read_text(encoding="utf-8")
    assert "threat model and the tests that hold it" in security
    # Diagrams are Mermaid blocks the theme draws in the browser.
    assert 'class="mermaid"' in (site / "concepts" / "index.html").read_text(encoding="utf-8")
    assert "xychart-beta" in (site / "benchmarks" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"index.md": "[gone](no-such-page.md)"}, "no-such-page.md"),
        ({"index.md": "[gone](roles.md#no-such-heading)"}, "no-such-heading"),
        ({"operations.md": "[gone](#no-such-alarm)"}, "no-such-alarm"),
        ({"extra-page.md": "# A page no one links to"}, "extra-page.md"),
        ({"index.md": "<!-- generated: no-such-section -->"}, "no-such-section"),
    ],
    ids=[
        "missing page",
        "lost anchor",
        "lost anchor on the same page",
        "page not in the nav",
        "unknown section",
    ],
)
def test_a_fault_fails_the_strict_build(tmp_path: Path, change: dict[str, str], says: str) -> None:
    result = build(tmp_path, change)
    assert result.returncode != 0
    assert says in result.stderr + result.stdout
