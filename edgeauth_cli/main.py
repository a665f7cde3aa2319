"""Entry point of the ``edgeauth`` command (``pyproject.toml`` installs it).

Global options follow the AWS CLI's habits: ``--profile``, ``--region``, ``--endpoint-url``,
``--stack`` (find the role table, API and stream from the stack's outputs), ``--output``.

Exit codes: 0 success; 1 the operation failed (AWS error, conflict, nothing found); 2 bad usage or
invalid input (argparse's own convention); 3 validation found problems (``roles lint``/``apply``);
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from edgeauth_cli import commands
from edgeauth_cli.context import CliContext, CliError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeauth",
        description="Manage and inspect an edgeauth deployment (roles, subjects, clients, audit).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'edgeauth COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--profile", help="AWS named profile (as in the AWS CLI)")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--endpoint-url",
        help="AWS endpoint override, e.g. the local stack's moto server (http://127.0.0.1:5000)",
    )
    parser.add_argument(
        "--stack",
        help="CloudFormation stack to read the role table, API and stream names from (its outputs)",
    )
    parser.add_argument("--table", help="role table name (overrides --stack)")
    parser.add_argument(
        "--output",
        choices=("table", "json"),
        default=None,
        help="output format (default: table on a terminal, json in a pipe)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = CliContext.from_args(args)
    try:
        code: int = args.func(ctx, args)
        return code
    except CliError as e:
        print(f"edgeauth: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("edgeauth: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
