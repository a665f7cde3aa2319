"""``python -m bench.import_profile --docs`` writes its tables into the benchmarks page, between its
markers, and nowhere else (the README no longer holds the benchmarks)."""

from __future__ import annotations

from pathlib import Path

from bench import import_profile

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmarks_page_holds_the_import_profile_block() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert import_profile.PAGE == ROOT / "docs" / "benchmarks.md"
    assert text.index(import_profile.START) < text.index(import_profile.END)
    assert "python -m bench.import_profile --docs" in text
    assert import_profile.START not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_write_page_replaces_only_the_block_between_the_markers(tmp_path: Path) -> None:
    # GIVEN a page with an old table between the markers
    page = tmp_path / "benchmarks.md"
    page.write_text(
        f"before\n{import_profile.START}\nold table\n{import_profile.END}\nafter\n", encoding="utf-8"
    )
    # WHEN the new tables are written
    import_profile.write_page("| new | table |", page)
    # THEN only the block changed
    assert page.read_text(encoding="utf-8") == (
        f"before\n{import_profile.START}\n| new | table |\n{import_profile.END}\nafter\n"
    )
