"""The documentation's generated sections list everything the code defines (tools/docs_reference.py).

Each generator is checked against its source: every setting, variable, command, option, saved query
and alarm is in the Markdown it makes, with what the reader needs (default, bounds, help), and a
page asking for a section that does not exist stops the build.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from bench import results
from bench.common import Row
from edgeauth import constants as C
from edgeauth.audit.queries import SAVED_QUERIES
from edgeauth.core.settings import ENVIRONMENT, ISSUER_SETTINGS, REQUIRED, SettingSpec
from edgeauth_cli.main import build_parser
from infra.alarms import ALARMS
from infra.config import ALARM_SETTINGS, STAGE_SETTINGS
from tools import docs_reference as docs

ROOT = Path(__file__).resolve().parents[2]


def rows_by_first_cell(markdown: str) -> dict[str, list[str]]:
    out = {}
    for line in markdown.splitlines():
        if line.startswith(("| `", "| [`")):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            out[cells[0].strip("`")] = cells  # a link's cell stays "[`name`](#…)"
    return out


def test_environment_lists_every_variable_the_loader_reads_with_default_and_bounds() -> None:
    rows = rows_by_first_cell(docs.environment())
    assert list(rows) == [s.name for s in ENVIRONMENT]
    # Every EDGEAUTH_* variable the authorizer reads is a row (names from the shared constants).
    authorizer_vars = {
        C.ENV_ISSUERS, C.ENV_ROLE_TABLE, C.ENV_ROLE_CACHE_TTL, C.ENV_REVOCATION_CHECK_SECONDS,
        C.ENV_DEFAULT_USAGE_KEY, C.ENV_TOKEN_CACHE_SIZE, C.ENV_DYNAMODB_TIMEOUT, C.ENV_ENDPOINT_URL,
        C.ENV_DPOP_REPLAY_TABLE,
    }  # fmt: skip
    assert set(rows) == authorizer_vars
    assert rows[C.ENV_ROLE_CACHE_TTL][3:] == ["`30`", "0–60"]
    assert rows[C.ENV_REVOCATION_CHECK_SECONDS][3:] == ["`2`", "1–10"]
    assert rows[C.ENV_DYNAMODB_TIMEOUT][3:] == ["`0.5`", "0.05–5.0"]
    assert rows[C.ENV_ISSUERS][3] == "required"
    assert rows[C.ENV_DEFAULT_USAGE_KEY][4] == "at least 20 characters"


def test_every_environment_variable_of_every_function_is_documented() -> None:
    # GIVEN every ENV_* name of the shared constants WHEN the two environment tables are generated
    names = {v for k, v in vars(C).items() if k.startswith("ENV_") and isinstance(v, str)}
    documented = set(rows_by_first_cell(docs.environment())) | set(
        rows_by_first_cell(docs.function_environment())
    )
    # THEN each is a row of one of them
    assert names - documented == set()


def test_issuer_settings_list_every_key_the_parser_accepts() -> None:
    from edgeauth.core import settings

    rows = rows_by_first_cell(docs.issuer_settings())
    assert list(rows) == [s.name for s in ISSUER_SETTINGS]
    assert set(rows) == settings._ISSUER_KEYS
    assert rows["leeway_seconds"][3:] == ["`30`", "0–300"]
    assert rows["dpop"][4] == "`off`, `optional`, `required`"
    assert rows["algorithms"][3] == '`["RS256"]`'


def test_the_issuer_table_has_the_preset_and_claim_settings_with_the_loaders_bounds() -> None:
    from edgeauth.core import settings
    from edgeauth.core.errors import ConfigError
    from edgeauth.core.providers import PROVIDERS

    rows = rows_by_first_cell(docs.issuer_settings())
    # GIVEN the issuer keys of the provider presets and claim paths
    assert {"provider", "name", "client_ids", "required_claim_values", "mapped_claims"} <= set(rows)
    assert rows["provider"][4] == ", ".join(f"`{p}`" for p in PROVIDERS)
    assert rows["groups_claim"][4] == f"at most {settings.MAX_GROUPS_CLAIMS} entries"
    assert rows["name"][4] == f"1–{settings.MAX_NAME_CHARS} characters"
    # WHEN a value is just past a bound the table gives THEN the loader refuses it, naming the setting
    issuer = {"issuer": "https://i/", "audiences": ["a"], "discovery": True}
    too_many = [f"c{i}" for i in range(settings.MAX_GROUPS_CLAIMS + 1)]
    with pytest.raises(ConfigError, match=r"groups_claim: names 9 claims; at most 8"):
        settings.parse_issuer({**issuer, "groups_claim": too_many})
    with pytest.raises(ConfigError, match=r"\.name: must be 1-32 characters"):
        settings.parse_issuer({**issuer, "name": "n" * (settings.MAX_NAME_CHARS + 1)})
    assert settings.parse_issuer({**issuer, "name": "n" * settings.MAX_NAME_CHARS}).name
    with pytest.raises(ConfigError, match=r"\.provider: unknown provider 'nope'"):
        settings.parse_issuer({**issuer, "provider": "nope"})


def test_provider_presets_lists_every_preset_with_its_page_and_values() -> None:
    from edgeauth.core.providers import PRESETS, PROVIDERS

    rows = rows_by_first_cell(docs.provider_presets())
    assert len(rows) == len(PROVIDERS) == len(PRESETS)
    for name in PROVIDERS:
        if name == "generic":
            assert "generic" in rows
            continue
        row = rows[f"[`{name}`](providers/{name}.md)"]
        # The page it links exists (the strict build checks the link too).
        assert (ROOT / "docs" / "providers" / f"{name}.md").is_file()
        assert row[1] == PRESETS[name].summary
        for key in PRESETS[name].keys:
            assert f"`{key}`" in row[3], (name, key)
        for required in PRESETS[name].required:
            for key in required.split(" or "):
                assert f"`{key}`" in row[2], (name, key)


def test_the_loaders_use_the_tables_defaults_and_bounds() -> None:
    # The table is not a copy: change a bound in it and the loader enforces the new one.
    from edgeauth.core import settings
    from edgeauth.core.errors import ConfigError

    spec = settings._ENV[C.ENV_ROLE_CACHE_TTL]
    env = {C.ENV_ISSUERS: json.dumps([{"issuer": "https://i/", "audiences": ["a"], "discovery": True}])}
    env[C.ENV_ROLE_TABLE] = "t"
    assert settings.load_settings(env).role_cache_ttl == spec.default
    with pytest.raises(ConfigError, match=f"must be between 0 and {spec.high}"):
        settings.load_settings({**env, C.ENV_ROLE_CACHE_TTL: str(int(spec.high or 0) + 1)})
    issuer = {"issuer": "https://i/", "audiences": ["a"], "discovery": True}
    for key_spec in ISSUER_SETTINGS:
        if key_spec.kind == "integer":
            assert getattr(settings.parse_issuer(issuer), key_spec.name) == key_spec.default
            with pytest.raises(ConfigError, match=re.escape(key_spec.name)):
                settings.parse_issuer({**issuer, key_spec.name: int(key_spec.high or 0) + 1})


def test_stage_and_alarm_settings_list_every_cdk_json_key() -> None:
    from infra import config

    stage = rows_by_first_cell(docs.stage_settings())
    assert list(stage) == [s.name for s in STAGE_SETTINGS]
    assert set(stage) == config._STAGE_KEYS
    assert set(config._REQUIRED_STAGE_KEYS) == {"issuers", "backend_url", "usage_tiers", "default_tier"}
    assert stage["authorizer_cache_ttl"][3:] == ["`300`", "0–3,600"]
    assert "3653" in stage["log_retention_days"][4]
    alarms = rows_by_first_cell(docs.alarm_settings())
    assert set(alarms) == config._ALARM_KEYS
    defaults = config.AlarmSettings()
    for spec in ALARM_SETTINGS:
        assert getattr(defaults, spec.name) == spec.default, spec.name


def test_stage_object_settings_list_the_keys_of_tiers_quotas_and_backend_auth() -> None:
    from infra import config

    text = docs.stage_object_settings()
    tables = [rows_by_first_cell(part) for part in text.split("\n\n") if part.startswith("|")]
    assert [set(t) for t in tables] == [set(config._TIER), set(config._QUOTA), set(config._BACKEND_AUTH)]
    assert tables[0]["rate"][4] == "above 0, at most 1,000,000"
    assert tables[1]["period"][3:] == ['`"DAY"`', "`DAY`, `WEEK`, `MONTH`"]
    assert tables[2]["generation"][3:] == ["`1`", "1–1,000"]


def test_the_stage_loader_refuses_what_the_table_bounds() -> None:
    from infra.config import ConfigError, load_config

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    for spec in STAGE_SETTINGS:
        if spec.kind == "integer" and spec.high is not None:
            stage = {**context["edgeauth"]["stages"]["dev"], spec.name: int(spec.high) + 1}
            bad = {"edgeauth": {"stages": {"dev": stage}}}
            with pytest.raises(ConfigError, match=re.escape(f"dev.{spec.name}")):
                load_config(bad, "dev")
    # ... and inside its objects: a tier's quota and burst, the client certificate's generation.
    dev = context["edgeauth"]["stages"]["dev"]
    tier = {"rate": 1, "burst": 1, "quota": {"limit": 2_000_000_001}}
    for stage, setting in (
        ({**dev, "usage_tiers": {"standard": tier}}, "usage_tiers.standard.quota.limit"),
        ({**dev, "throttling": {"rate": 1, "burst": 1_000_001}}, "throttling.burst"),
        ({**dev, "throttling": {"rate": 0, "burst": 1}}, "throttling.rate"),
        (
            {
                **dev,
                "backend_url": "https://b.test",
                "backend_auth": {"mode": "client_certificate", "generation": 0},
            },
            "backend_auth.generation",
        ),
    ):
        with pytest.raises(ConfigError, match=re.escape(f"dev.{setting}")):
            load_config({"edgeauth": {"stages": {"dev": stage}}}, "dev")


def _commands(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out += _commands(child, f"{path} {name}")
    return out


def test_cli_reference_has_every_command_and_option_with_default_and_help() -> None:
    text = docs.cli()
    commands = _commands(build_parser(), "edgeauth")
    assert len(commands) > 25
    for path, parser in commands:
        anchor = "cli-" + path.replace(" ", "-")
        assert f"`{path}` {{#{anchor}}}" in text, path
        section = text.split(f"{{#{anchor}}}", 1)[1].split("{#cli-", 1)[0]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            name = (action.option_strings or [action.metavar or action.dest])[0]
            assert f"`{name}`" in section, (path, name)
            if action.help:
                assert " ".join(action.help.split())[:40] in section, (path, name)
            if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0:
                assert f"`{action.default}`" in section, (path, name, action.default)


def test_saved_queries_lists_every_query_with_its_parameters_and_text() -> None:
    text = docs.saved_queries()
    rows = rows_by_first_cell(text)
    assert len(SAVED_QUERIES) >= 10
    for query in SAVED_QUERIES:
        row = next(cells for first, cells in rows.items() if first.startswith(f"[`{query.name}`]"))
        assert row[1] == (", ".join(f"`{p}`" for p in query.params) or "—")
        assert query.description in row[2]
        assert f"{{#query-{query.name}}}" in text
        assert query.query in text


def test_alarms_lists_every_alarm_with_a_link_to_its_runbook_entry() -> None:
    text = docs.alarms()
    for alarm in ALARMS:
        assert f"[`{alarm.alarm_id}`](#{alarm.alarm_id.lower()})" in text
        assert alarm.summary in text


def test_benchmark_results_and_chart_come_from_the_json_make_bench_writes(tmp_path: Path) -> None:
    # GIVEN a result document written as `make bench` writes it
    rows = [
        Row("1", "floor", "26.9 µs", "25.9 µs – 28.4 µs", "1.00× floor"),
        Row("3", "ours, new token", "86.8 µs", "…", "3.23× floor", "≤ 2× floor", "NO", note="a note"),
        Row("5", "cold start", "552.9 ms", "…", "1.04× boto3 client", "≤ 1.25× boto3 client", "yes"),
        Row("5c", "reference", "532.2 ms", "…", "1.00× boto3 client"),
    ]
    path = tmp_path / "latest.json"
    results.write(path, "2 CPUs", "full; 31 rounds", rows)
    # WHEN the page's sections are generated from it
    table = docs.benchmark_results(path)
    chart = docs.benchmark_chart(path)
    # THEN the table is the rows, and each reference with two rows or more is a bar chart of ratios
    assert "- Machine: 2 CPUs" in table and "- **3**: a note" in table
    assert "| 3 | ours, new token | 86.8 µs | … | 3.23× floor | ≤ 2× floor | NO |" in table
    assert chart.count("xychart-beta") == 2
    assert 'x-axis ["1", "3"]' in chart and "bar [1, 3.23]" in chart and "targets: 3 ≤ 2×" in chart
    assert 'x-axis ["5", "5c"]' in chart and "bar [1.04, 1]" in chart


def test_rows_measured_in_a_run_of_their_own_say_so_under_the_run(tmp_path: Path) -> None:
    # GIVEN a full run's document with rows merged from a run of their own (rows 9–9d: the local stack)
    path = tmp_path / "latest.json"
    apart = "Rows 9–9d: `python -m bench --only propagation`, 2026-12-03 13:38 UTC, took 575 s"
    results.write(path, "2 CPUs", "full; 31 rounds", [Row("9", "role edit", "7.1 s", "p95 7.9 s")], [apart])
    # WHEN the table is generated THEN that run is named on its own line, after the full run's
    table = docs.benchmark_results(path)
    assert table.startswith(f"- Machine: 2 CPUs\n- Mode: full; 31 rounds\n- {apart}\n\n| # |")
    # AND a document without such rows has no such line (nor the key)
    results.write(path, "2 CPUs", "full; 31 rounds", [Row("9", "role edit")])
    assert "apart" not in results.load(path)
    assert docs.benchmark_results(path).startswith("- Machine: 2 CPUs\n- Mode: full; 31 rounds\n\n")


def test_the_checked_in_results_render() -> None:
    document = results.load(docs.LATEST_BENCH)
    table = docs.benchmark_results()
    for row in document["rows"]:
        assert f"| {row['key']} | " in table
    assert {"9", "9b", "9c", "9d"} <= {row["key"] for row in document["rows"]}
    assert "xychart-beta" in docs.benchmark_chart()


def test_an_unknown_generated_section_stops_the_build() -> None:
    assert docs.expand("a\n<!-- generated: alarms -->\nb", "p.md").startswith("a\n| alarm")
    with pytest.raises(docs.DocsError, match=r"p\.md: unknown generated section 'nope'"):
        docs.expand("<!-- generated: nope -->", "p.md")


def test_every_generated_section_is_used_by_a_page() -> None:
    pages = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    used = set(docs.MARKER.findall(pages))
    assert used == set(docs.GENERATORS)


def test_setting_spec_renders_defaults_and_bounds() -> None:
    assert SettingSpec("x", "integer", "m", REQUIRED).default_markdown() == "required"
    assert SettingSpec("x", "integer", "m", None).default_markdown() == "none"
    assert SettingSpec("x", "integer", "m", 5, 1, 10).bounds_markdown() == "1–10"
    assert SettingSpec("x", "integer", "m", 5, low=1).bounds_markdown() == "≥ 1"
    assert SettingSpec("x", "number", "m", 5, 0, 100, low_exclusive=True).bounds_markdown() == (
        "above 0, at most 100"
    )
