"""The documentation's generated sections, built from the code so that they cannot drift from it.

A page of ``docs/`` writes ``<!-- generated: NAME -->`` on a line of its own; :func:`expand` (called by
the MkDocs hook ``tools/docs_hooks.py`` for every page) replaces it with the Markdown of
:data:`GENERATORS` ``[NAME]``. An unknown name stops the build (:class:`DocsError`). The sources:

* ``environment``, ``issuer-settings``: the authorizer's settings as its loader reads them
  (``edgeauth.core.settings.ENVIRONMENT``, ``ISSUER_SETTINGS``); ``provider-presets``: the issuer
  presets (``edgeauth.core.providers.PRESETS``), each linked to its page of ``docs/providers/``;
  ``function-environment``: what the CDK app sets for the other functions
  (``edgeauth.constants.FUNCTION_ENVIRONMENT``);
* ``stage-settings``, ``stage-object-settings``, ``alarm-settings``: the ``cdk.json`` keys as
  ``infra/config.py`` reads them;
* ``cli``: every command and option of the ``edgeauth`` parser (``edgeauth_cli.main.build_parser``);
* ``saved-queries``: ``edgeauth.audit.queries.SAVED_QUERIES``;
* ``alarms``: ``infra.alarms.ALARMS`` (each row links to its runbook entry on the same page);
* ``benchmark-results``, ``benchmark-chart``: ``bench/latest.json``, written by ``make bench``.

Nothing here imports the CDK (the build must stay fast and need no Node) or touches the network.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
LATEST_BENCH: Final = ROOT / "bench" / "latest.json"
MARKER: Final = re.compile(r"^<!-- generated: ([a-z0-9-]+) -->$", re.MULTILINE)


class DocsError(Exception):
    """A page asks for a generated section that does not exist, or its source cannot be read."""


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, ``|`` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- settings --------------------------------------------------------------------------------------


def _settings_table(specs: Sequence[Any], first: str) -> str:
    rows = [
        [f"`{s.name}`", s.kind, s.meaning, s.default_markdown(), s.bounds_markdown() or "—"] for s in specs
    ]
    return table([first, "type", "meaning", "default", "accepted"], rows)


def environment() -> str:
    from edgeauth.core.settings import ENVIRONMENT

    return _settings_table(ENVIRONMENT, "variable")


def issuer_settings() -> str:
    from edgeauth.core.settings import ISSUER_SETTINGS

    return _settings_table(ISSUER_SETTINGS, "key")


def provider_presets() -> str:
    """One row per provider preset: its page, what it accepts, the values it requires, its own keys."""
    from edgeauth.core.providers import PRESETS
    from edgeauth.core.settings import PROVIDERS

    rows = []
    for name in PROVIDERS:
        preset = PRESETS[name]
        page = f"`{name}`" if name == "generic" else f"[`{name}`](providers/{name}.md)"
        # A requirement is a key, or alternatives ("application_id or application_id_uri").
        required = ", ".join(" or ".join(f"`{key}`" for key in r.split(" or ")) for r in preset.required)
        own = ", ".join(f"`{k}`" for k in sorted(preset.keys))
        rows.append([page, preset.summary, required or "—", own or "—"])
    return table(["provider", "accepts", "requires", "its own settings"], rows)


def function_environment() -> str:
    from edgeauth.constants import FUNCTION_ENVIRONMENT

    rows = [[f"`{name}`", functions, meaning] for name, functions, meaning in FUNCTION_ENVIRONMENT]
    return table(["variable", "read by", "meaning"], rows)


def stage_settings() -> str:
    from infra.config import STAGE_SETTINGS

    return _settings_table(STAGE_SETTINGS, "setting")


def alarm_settings() -> str:
    from infra.config import ALARM_SETTINGS

    return _settings_table(ALARM_SETTINGS, "key")


def stage_object_settings() -> str:
    """The keys inside a stage's objects: a usage tier, its quota, ``backend_auth``."""
    from infra.config import BACKEND_AUTH_SETTINGS, QUOTA_SETTINGS, TIER_SETTINGS

    return "\n\n".join(
        (
            "Each tier of `usage_tiers` (and `throttling`, which has `rate` and `burst` only):",
            _settings_table(TIER_SETTINGS, "key"),
            "A tier's `quota`:",
            _settings_table(QUOTA_SETTINGS, "key"),
            '`backend_auth` as an object (`"client_certificate"` alone means `{"mode": "client_certificate"}`):',
            _settings_table(BACKEND_AUTH_SETTINGS, "key"),
        )
    )


# --- CLI -------------------------------------------------------------------------------------------


def _commands(
    parser: argparse.ArgumentParser, path: str, summary: str
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    yield path, summary, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                yield from _commands(child, f"{path} {name}", helps.get(name, ""))


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(prog=parser.prog, width=100)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _option_rows(parser: argparse.ArgumentParser) -> list[list[str]]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
        if action.choices is not None:
            value = ", ".join(f"`{c}`" for c in action.choices)
        elif action.nargs == 0:
            value = "flag"
        else:
            metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
            value = f"`{metavar}`" + (" …" if action.nargs in ("*", "+", argparse.REMAINDER) else "")
        default = action.default
        shown = "—" if default in (None, False, argparse.SUPPRESS) or action.nargs == 0 else f"`{default}`"
        help_text = (action.help or "") % {"default": default, "prog": parser.prog}
        rows.append([names, value, shown, help_text])
    return rows


def cli() -> str:
    """Every command of ``edgeauth``: summary, usage, options (value, default, help) and examples."""
    from edgeauth_cli.main import build_parser

    out: list[str] = []
    for path, summary, parser in _commands(build_parser(), "edgeauth", ""):
        anchor = "cli-" + path.replace(" ", "-")
        level = "###" if path.count(" ") <= 1 else "####"
        out.append(f"{level} `{path}` {{#{anchor}}}\n")
        if summary:
            out.append(summary[:1].upper() + summary[1:] + ".\n")
        out.append("```text\n" + _usage(parser) + "\n```\n")
        description = (parser.description or "").strip()
        if description and description != summary:
            out.append("```text\n" + description + "\n```\n")
        rows = _option_rows(parser)
        if rows:
            out.append(table(["option", "value", "default", "what"], rows) + "\n")
        if parser.epilog:
            out.append("```text\n" + parser.epilog.strip() + "\n```\n")
    return "\n".join(out)


# --- saved queries, alarms -------------------------------------------------------------------------


def saved_queries() -> str:
    from edgeauth.audit.queries import SAVED_QUERIES

    rows = [
        [
            f"[`{q.name}`](#query-{q.name})",
            ", ".join(f"`{p}`" for p in q.params) or "—",
            f"{q.title}: {q.description}",
        ]
        for q in SAVED_QUERIES
    ]
    out = [table(["name", "parameters", "what"], rows), ""]
    for q in SAVED_QUERIES:
        out.append(f"#### `{q.name}` {{#query-{q.name}}}\n")
        out.append(f"Query definition `{q.definition_name}`; `edgeauth audit query {q.name}`.\n")
        out.append("```\n" + q.query + "\n```\n")
    return "\n".join(out)


def alarms() -> str:
    from infra.alarms import ALARMS

    rows = [[f"[`{a.alarm_id}`](#{a.alarm_id.lower()})", a.kind, a.threshold, a.summary] for a in ALARMS]
    return table(["alarm (`EdgeAuth-<stage>-…`)", "kind", "threshold", "means"], rows)


# --- benchmarks ------------------------------------------------------------------------------------


def _bench(path: Path) -> dict[str, Any]:
    from bench import results

    try:
        return results.load(path)
    except (OSError, ValueError) as e:
        raise DocsError(f"cannot read the benchmark results ({e}): run 'make bench'") from e


def benchmark_results(path: Path = LATEST_BENCH) -> str:
    from bench import results
    from bench.common import render_notes, render_table

    document = _bench(path)
    rows = results.rows_of(document)
    apart = "".join(f"- {line}\n" for line in document.get("apart", []))
    header = f"- Machine: {document['machine']}\n- Mode: {document['run']}\n{apart}"
    return f"{header}\n{render_table(rows)}\n\n{render_notes(rows)}\n"


def benchmark_chart(path: Path = LATEST_BENCH) -> str:
    """One Mermaid bar chart per reference (``floor``, ``boto3 client`` …) with two rows or more: each
    row's ratio; the title names the targets of the rows that have one."""
    document = _bench(path)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in document["rows"]:
        if row["ratio_value"] is not None:
            groups.setdefault(row["ratio_to"], []).append(row)
    out = []
    for reference, rows in groups.items():
        if len(rows) < 2:
            continue
        top = max(r["ratio_value"] for r in rows)
        keys = ", ".join(f'"{r["key"]}"' for r in rows)
        ratios = ", ".join(f"{r['ratio_value']:g}" for r in rows)
        targets = "; ".join(f"{r['key']} ≤ {r['target_value']:g}×" for r in rows if r["target_value"])
        title = f"Ratio to {reference}, per row (lower is better)" + (
            f"; targets: {targets}" if targets else ""
        )
        lines = [
            "```mermaid",
            "xychart-beta",
            f'    title "{title}"',
            f"    x-axis [{keys}]",
            f'    y-axis "× {reference}" 0 --> {top * 1.1:.3g}',
            f"    bar [{ratios}]",
            "```",
        ]
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


GENERATORS: Final[dict[str, Callable[[], str]]] = {
    "environment": environment,
    "issuer-settings": issuer_settings,
    "provider-presets": provider_presets,
    "function-environment": function_environment,
    "stage-settings": stage_settings,
    "alarm-settings": alarm_settings,
    "stage-object-settings": stage_object_settings,
    "cli": cli,
    "saved-queries": saved_queries,
    "alarms": alarms,
    "benchmark-results": benchmark_results,
    "benchmark-chart": benchmark_chart,
}


def expand(markdown: str, page: str) -> str:
    """``markdown`` with every ``<!-- generated: NAME -->`` line replaced by its section."""

    def replace(m: re.Match[str]) -> str:
        generator = GENERATORS.get(m.group(1))
        if generator is None:
            raise DocsError(
                f"{page}: unknown generated section {m.group(1)!r}; known: {', '.join(sorted(GENERATORS))}"
            )
        return generator().rstrip("\n")

    return MARKER.sub(replace, markdown)
