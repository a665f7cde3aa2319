"""README.md is the front door: short, the two commands first, and every link it has leads somewhere.

(Its commands are run by tests/e2e/test_readme_tour.py and tests/e2e/test_cli_examples.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_LINES = 150


def headings(markdown: str) -> list[str]:
    out, fence = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            out.append(line.lstrip("#").strip())
    return out


def anchors(path: Path) -> set[str]:
    """The ids a page's headings get on the site (``{#id}`` if given, else the toc's slug)."""
    out = set()
    for heading in headings(path.read_text(encoding="utf-8")):
        explicit = re.search(r"\{#([\w-]+)\}$", heading)
        out.add(explicit.group(1) if explicit else slugify(heading.replace("`", ""), "-"))
    return out


def test_the_readme_is_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_the_two_commands_come_first() -> None:
    text = README.read_text(encoding="utf-8")
    first_block = text.split("```", 2)[1]
    assert [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line] == [
        "make local",
        "make test",
    ]
    assert text.index("```") < text.index("\n## ")


def test_every_link_of_the_readme_leads_to_a_file_and_anchor_that_exist() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert len(local) >= 10
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), link
        if anchor:
            assert anchor in anchors(target), link


def test_the_readme_links_every_page_of_the_manual() -> None:
    text = README.read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name in ("index.md", "security.md"):
            continue  # the README is the index; SECURITY.md is linked at the root
        assert f"(docs/{page.name}" in text, page.name
    assert "(SECURITY.md)" in text
