"""Every ``edgeauth`` example of README.md, of the manual and of every ``--help``, run as written on
the local stack.

How (docs/cli.md "Settings, output and exit codes" says the same):

* the examples: each line of the ``bash`` code blocks of README.md and of the manual's pages
  (``docs/*.md``; generated sections are built from ``--help``, run below), and each line of every command's
  ``--help`` output, that runs ``edgeauth`` (``edgeauth …``, ``VAR=x edgeauth …``, ``… | edgeauth
  …``, ``$(edgeauth …)``), with ``\\`` continuations joined, each distinct line once. Synopses are
  ``text`` blocks whose lines start with ``usage:``;
* where: a local stack on free ports (this module's own: the examples write), with the
  environment the README tells a user of the local stack to set: ``API``, ``EDGEAUTH_ENDPOINT_URL``,
  ``EDGEAUTH_STACK`` and ``EDGEAUTH_ISSUER`` (the ``export`` line ``make local`` prints),
  ``EDGEAUTH_IDP_URL`` (``make local`` writes it to
  ``.local/``; this stack does not), ``$TOKEN`` (bob's token, as ``TOKEN=$(edgeauth token --sub bob)``
  makes it), an empty ``HOME`` (no AWS settings at all), and a terminal on stdin answering ``y``;
* how: ``bash -o pipefail -c LINE`` in a scratch directory; a line whose program is not
  ``edgeauth`` (``curl …``: its URLs are ``make local``'s fixed ports) runs only its
  ``$(edgeauth …)`` parts, as written;
* prior state an example needs (a ``roles.yaml``, a role to delete, a client to move …) is made
  first, with the CLI, by :func:`prepare`; the example's line itself is never changed.

Exit 0 is required of each (``roles lint || echo …`` is its own judge).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeauth_cli.main import build_parser, main
from edgeauth_local.stack import LocalStack, start_stack

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: Where the examples are: the README and the manual's pages (not docs/ subfolders, whose pages may
#: show other stacks).
EXAMPLE_PAGES = (README, *sorted((ROOT / "docs").glob("*.md")))
RUNNABLE_BLOCKS = frozenset({"bash", "sh", "shell", "console"})
ISS = "https://login.example.com/"
_RUNS_EDGEAUTH = re.compile(r"^(?:[A-Za-z_]\w*=\S*\s+)*edgeauth\s|\$\(edgeauth\s|\|\s*edgeauth\s")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")


@dataclass(frozen=True)
class Example:
    source: str
    line: str

    def __str__(self) -> str:
        return f"{self.source}: {self.line}"


def _joined(lines: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """``(source, line)`` with backslash continuations joined onto their first line."""
    pending: tuple[str, str] | None = None
    for where, line in lines:
        source, text = where, line.strip()
        if pending is not None:
            source, text = pending[0], pending[1] + " " + text
            pending = None
        if text.endswith("\\"):
            pending = (source, text[:-1].rstrip())
            continue
        yield source, text
    if pending is not None:
        yield pending


def page_examples(page: Path) -> list[Example]:
    lines: list[tuple[str, str]] = []
    lang: str | None = None
    name = page.relative_to(ROOT)
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            lang = None if lang is not None else line[3:].strip()
            continue
        if lang in RUNNABLE_BLOCKS:
            lines.append((f"{name}:{number}", line))
    return [Example(src, text) for src, text in _joined(lines) if _RUNS_EDGEAUTH.search(text)]


def readme_examples() -> list[Example]:
    return [example for page in EXAMPLE_PAGES for example in page_examples(page)]


def _parsers(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def help_examples() -> list[Example]:
    out: list[Example] = []
    for path, parser in _parsers(build_parser(), "edgeauth"):
        lines = [(f"{path} --help", line) for line in parser.format_help().splitlines()]
        out.extend(Example(src, text) for src, text in _joined(lines) if _RUNS_EDGEAUTH.search(text))
    return out


def _first_of_each(examples: list[Example]) -> list[Example]:
    """One run per distinct line (a group's --help repeats its commands' examples)."""
    first: dict[str, Example] = {}
    for example in examples:
        first.setdefault(example.line, example)
    return list(first.values())


EXAMPLES = _first_of_each(readme_examples() + help_examples())


def commands_of(line: str) -> list[str]:
    """What to run for one example line: the line, or its ``$(edgeauth …)`` parts."""
    if re.match(r"^[A-Za-z_]\w*=\$\(", line):  # TOKEN=$(edgeauth …)
        return [line]
    words = [w for w in line.split() if not _ASSIGNMENT.match(w)]
    if words and words[0] in ("edgeauth", "echo", "printf"):
        return [line]
    commands = []
    for start in (m.start() for m in re.finditer(r"\$\(edgeauth\s", line)):
        depth, end = 0, start + 1
        for end in range(start + 1, len(line)):
            depth += {"(": 1, ")": -1}.get(line[end], 0)
            if depth == 0:
                break
        commands.append(line[start + 2 : end])
    return commands


@dataclass
class Setting:
    stack: LocalStack
    workdir: Path
    env: dict[str, str]

    def cli(self, *argv: str) -> int:
        """The CLI in-process on the stack (preparation only), output discarded."""
        assert self.stack.urls is not None
        prefix = ["--endpoint-url", self.stack.urls.moto, "--stack", self.stack.spec.stack_name]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return main([*prefix, *argv])


@pytest.fixture(scope="module")
def setting(
    synthesized: tuple[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setting]:
    name, template = synthesized
    stack = start_stack(template=template, stack_name=name)
    try:
        assert stack.urls is not None
        workdir = tmp_path_factory.mktemp("examples")
        home = tmp_path_factory.mktemp("home")
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}",
            "HOME": str(home),
            "API": stack.urls.api,
            "EDGEAUTH_ENDPOINT_URL": stack.urls.moto,
            "EDGEAUTH_STACK": stack.spec.stack_name,
            "EDGEAUTH_ISSUER": stack.urls.issuer,
            "EDGEAUTH_IDP_URL": stack.urls.issuer,
            "TOKEN": stack.token("bob"),
        }
        yield Setting(stack, workdir, env)
    finally:
        stack.stop()


def prepare(command: str, s: Setting) -> None:
    """The state an example assumes, made with the CLI (never by changing the example)."""
    if "roles.yaml" in command and "> roles.yaml" not in command and not (s.workdir / "roles.yaml").exists():
        assert s.cli("roles", "export", "--file", str(s.workdir / "roles.yaml")) == 0
    if "roles delete legacy-admin" in command:
        role_file = s.workdir / "legacy-admin.yaml"
        role_file.write_text('roles:\n  legacy-admin:\n    allow: ["GET /accounts"]\n')
        assert s.cli("roles", "apply", str(role_file), "--yes") == 0
    if re.search(r"subjects (show|revoke) user-123", command):
        assert s.cli("subjects", "grant", "user-123", "reader", "teller", "--iss", ISS) == 0
    if "groups unmap admins" in command:
        assert s.cli("groups", "map", "admins", "admin", "teller", "--iss", ISS) == 0
    if "groups unmap contractors" in command:
        assert s.cli("groups", "map", "contractors", "reader", "--iss", ISS) == 0
    if re.search(r"clients (set-tier|remove) mobile-app", command):
        s.cli("clients", "add", "mobile-app", "--tier", "partner", "--iss", ISS)  # 1 if it exists: fine
    if "clients add mobile-app" in command:
        s.cli("clients", "remove", "mobile-app", "--iss", ISS, "--yes")  # 1 if absent: fine
    if "--key bob.json" in command and not (s.workdir / "bob.json").exists():
        run_line("edgeauth token --sub bob --dpop > bob.json", s)


def run_line(command: str, s: Setting) -> subprocess.CompletedProcess[str]:
    """``bash -o pipefail -c COMMAND`` with a terminal on stdin that answers ``y`` to a prompt."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"y\n")
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],  # noqa: S607 - bash from PATH, as a user runs it
            cwd=s.workdir,
            env=s.env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_the_examples_are_found() -> None:
    # The extraction is not vacuous: examples of each source and command family are there.
    sources = {e.source.split(" --help")[0].split(":")[0] for e in EXAMPLES}
    assert "README.md" in sources
    assert {"docs/roles.md", "docs/cli.md", "docs/local.md"} <= sources
    for command in ("roles", "subjects", "groups", "clients", "explain", "revoke", "audit query", "token"):
        assert f"edgeauth {command}" in sources, command
    assert len(EXAMPLES) >= 40
    # AND every code line of the README and the manual that starts with 'edgeauth' is in a block
    # that is run
    for page in EXAMPLE_PAGES:
        lang: str | None = None
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                lang = None if lang is not None else line[3:].strip()
            elif lang is not None and line.strip().startswith("edgeauth "):
                assert lang in RUNNABLE_BLOCKS, f"{page.name}:{number} is in a ```{lang} block: {line}"


def test_commands_of_a_line() -> None:
    assert commands_of("edgeauth roles list | jq '.[].name'") == ["edgeauth roles list | jq '.[].name'"]
    assert commands_of('curl -H "A: $(edgeauth token --sub bob)" http://x/') == ["edgeauth token --sub bob"]
    assert commands_of("TOKEN=$(edgeauth token --sub bob)  # x") == ["TOKEN=$(edgeauth token --sub bob)  # x"]
    assert commands_of("X=1 edgeauth revoke --sub a") == ["X=1 edgeauth revoke --sub a"]


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{n:02d} {e.source.replace(' --help', '')}" for n, e in enumerate(EXAMPLES)]
)
def test_example_runs_as_written(example: Example, setting: Setting) -> None:
    for command in commands_of(example.line):
        prepare(command, setting)
        result = run_line(command, setting)
        assert result.returncode == 0, (
            f"{example}\n  ran: {command}\n  exit {result.returncode}\n  stderr: {result.stderr.strip()}"
        )
        assert "Traceback" not in result.stderr, result.stderr
