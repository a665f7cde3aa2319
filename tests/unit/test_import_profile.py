"""``python -m bench.import_profile --docs`` writes its tables into the benchmarks page, between its
markers, and nowhere else (the README no longer holds the benchmarks); the README holds a few lines
of summary of the same profile, between markers of their own."""

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


def test_the_readme_reports_the_import_profile_in_its_summary_block() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert import_profile.README == ROOT / "README.md"
    block = text[text.index(import_profile.SUMMARY_START) : text.index(import_profile.SUMMARY_END)]
    assert "python -X importtime" in block and "`awscrt`" in block and " ms" in block


def test_the_summary_names_the_largest_packages_and_sums_the_rest() -> None:
    # GIVEN the import times of a few modules (µs); C extensions count with their package
    own = {
        "_awscrt": 30_000,
        "awscrt.http": 2_000,
        "edgeauth.core": 5_000,
        "json": 1_000,
        "re": 500,
        "enum": 500,
    }
    # WHEN the README's summary is rendered with the two largest packages
    text = import_profile.summary(own, runs=3, top=2)
    # THEN it gives the total, each of them with its share, and the rest in one sum
    assert ": 39.0 ms in 6 modules" in text
    assert "`awscrt` 32.0 ms (82 %), `edgeauth` 5.0 ms (13 %), everything else 2.0 ms" in text
    assert "minimum of 3 runs" in text and "`json`" not in text
