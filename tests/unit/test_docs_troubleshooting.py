"""Every one-line error the CLI and the synth print has an entry on docs/troubleshooting.md.

The messages are collected from the code, not listed here: each call of an error class that the CLI
or the synth reports as one line (``CliError`` and ``TableError`` in ``edgeauth_cli``, ``ConfigError``
in ``infra/config.py``, ``edgeauth.core.settings`` and the provider presets, ``ClaimPathError`` of
``edgeauth.core.claims`` (a claim path's part of it), ``TemplateError`` of ``edgeauth.core.routes``,
``QueryParameterError`` of the saved queries), the messages error classes build themselves
(``MissingSettingsError``, ``ConflictError``), the renamed alarm keys' messages and the bundler's
(its pip failures, its ``BundlingError`` and its warning of a bundle without bytecode). A message is its text with ``…`` for every value put in (an f-string's ``{…}``); it
has an entry when a code span of the page contains it. Messages that are nothing but values
(``str(e)`` passed on) are the messages above, passed through.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"

#: (source files, error classes whose message is the first argument, ... the second argument)
SOURCES: tuple[tuple[tuple[str, ...], frozenset[str], frozenset[str]], ...] = (
    (("edgeauth_cli",), frozenset({"CliError", "TableError"}), frozenset()),
    (
        ("infra/config.py", "functions/edgeauth/core/settings.py", "functions/edgeauth/core/providers.py"),
        frozenset(),
        frozenset({"ConfigError"}),
    ),
    # A claim path's error becomes the ConfigError of the setting that names it ("…, got …").
    (("functions/edgeauth/core/claims.py",), frozenset({"ClaimPathError"}), frozenset()),
    (("functions/edgeauth/core/routes.py",), frozenset({"TemplateError"}), frozenset()),
    (("functions/edgeauth/audit/queries.py",), frozenset({"QueryParameterError"}), frozenset()),
)
#: CliError subclasses that build their own message in ``__init__`` (assigned to ``message``).
SELF_BUILT = frozenset({"MissingSettingsError", "ConflictError"})


def template(node: ast.expr) -> str | None:
    """The message a string expression makes, ``…`` for each value put in; None if not a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "…" for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = template(node.left), template(node.right)
        if left is None and right is None:
            return None
        return (left or "…") + (right or "…")
    return None


def _files(paths: tuple[str, ...]) -> Iterator[Path]:
    for path in paths:
        target = ROOT / path
        yield from sorted(target.rglob("*.py")) if target.is_dir() else [target]


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def error_messages() -> dict[str, str]:
    """Every message template, with where it is (``file:line``)."""
    found: dict[str, str] = {}

    def add(text: str | None, where: str) -> None:
        if text is None:
            return
        # One line (a pip failure quotes pip's own lines after the first); adjacent values as one.
        text = re.sub("…+", "…", text.split("\n")[0])
        if len(re.sub(r"[^A-Za-z]", "", text.replace("…", ""))) >= 3:
            found.setdefault(text, where)

    for paths, first, second in SOURCES:
        for path in _files(paths):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(ROOT)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = _name(node)
                    index = 0 if name in first else 1 if name in second else None
                    if index is not None and len(node.args) > index:
                        add(template(node.args[index]), f"{where}:{node.lineno}")
                elif isinstance(node, ast.ClassDef) and node.name in SELF_BUILT:
                    for assign in ast.walk(node):
                        if isinstance(assign, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == "message" for t in assign.targets
                        ):
                            add(template(assign.value), f"{where}:{assign.lineno}")
                elif (
                    isinstance(node, ast.AnnAssign)
                    and isinstance(node.target, ast.Name)
                    and node.target.id == "_MOVED_ALARM_KEYS"
                ):
                    assert isinstance(node.value, ast.Dict)
                    for key, value in zip(node.value.keys, node.value.values, strict=True):
                        assert isinstance(key, ast.Constant) and value is not None
                        # As printed: "<path>.<old key>: <message>"; the entry quotes the message.
                        add(template(value), f"{where}:{node.lineno}")
    bundling = ast.parse((ROOT / "infra" / "bundling.py").read_text(encoding="utf-8"))
    for node in ast.walk(bundling):
        if isinstance(node, ast.FunctionDef) and node.name == "_explain_pip_failure":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    add(template(ret.value), f"infra/bundling.py:{ret.lineno}")
        elif isinstance(node, ast.Call) and _name(node) == "BundlingError" and node.args:
            add(template(node.args[0]), f"infra/bundling.py:{node.lineno}")
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "NO_BYTECODE_WARNING"
            and node.value is not None
        ):
            add(template(node.value), f"infra/bundling.py:{node.lineno}")
    return found


def code_spans(markdown: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", markdown)


def missing_entries(messages: dict[str, str], page: str) -> list[str]:
    spans = code_spans(page)
    out = []
    for message, where in sorted(messages.items(), key=lambda m: m[1]):
        # A message whose values come last is quoted up to its first sentence's end, as printed.
        wanted = (
            message.split(". ")[0] if message.startswith(("cannot bundle", "edgeauth: warning")) else message
        )
        if not any(wanted in span for span in spans):
            out.append(f"{where}: {message}")
    return out


def test_the_collector_finds_the_cli_and_synth_messages() -> None:
    messages = error_messages()
    # GIVEN the code WHEN its messages are collected THEN every family is there
    assert len(messages) > 150
    for expected in (
        "missing setting: …: …",
        "conflict: changed by someone else since it was read: …. Nothing of this batch was written",
        "must use https (plain http is allowed only on a loopback address), got …",
        "… in … looks like a glob, but permissions have none: …",
        "not a terminal, so nothing was written: pass --yes to write without asking",
        "query … needs --param …=VALUE",
        "is required by the … preset (…)",
        "give --iss or --issuer-name, not both",
    ):
        assert expected in messages, expected
    assert any(m.startswith("cannot bundle …: no wheel of …") for m in messages)
    assert any(
        m.startswith("cannot bundle with EDGEAUTH_BYTECODE_PYTHON=…: it …, not CPython …") for m in messages
    )
    assert any(m.startswith("cannot bundle …: … (…) could not compile it to bytecode") for m in messages)
    assert any(m.startswith("edgeauth: warning: the Lambda bundle has no bytecode") for m in messages)
    assert any(m.startswith("renamed 'authorizer_faults'") for m in messages)


def test_every_message_has_a_troubleshooting_entry() -> None:
    missing = missing_entries(error_messages(), PAGE.read_text(encoding="utf-8"))
    assert missing == [], "no entry on docs/troubleshooting.md for:\n  " + "\n  ".join(missing)


def test_a_message_without_an_entry_is_reported() -> None:
    # GIVEN the page without the entry of one message
    page = PAGE.read_text(encoding="utf-8")
    message = "no such role: … (create it with 'edgeauth roles apply')"
    assert f"`{message}`" in page
    # WHEN it is checked THEN that message is reported, and only it
    missing = missing_entries(error_messages(), page.replace(f"`{message}`", "``"))
    assert len(missing) == 1 and missing[0].endswith(message)
