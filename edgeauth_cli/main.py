"""Entry point of the ``edgeauth`` command (``pyproject.toml`` installs it).

Global options follow the AWS CLI's habits: ``--profile``, ``--region``, ``--endpoint-url``,
``--stack`` (find the role table, API and stream from the stack's outputs), ``--output``. Each has
an environment variable (see :mod:`edgeauth_cli.context`). A setting the command needs and nobody
gave is one line naming it (exit 2), checked before the command does anything.

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
from edgeauth_cli.context import (
    ENV_ENDPOINT_URL,
    ENV_ROLE_TABLE,
    ENV_STACK,
    CliContext,
    CliError,
    botocore_error,
)

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
    parser.add_argument("--profile", help="AWS named profile (default: $AWS_PROFILE)")
    parser.add_argument(
        "--region", help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, the profile's)"
    )
    parser.add_argument(
        "--endpoint-url",
        help="AWS endpoint override, e.g. the local stack's moto server, http://127.0.0.1:5000 "
        f"(default: ${ENV_ENDPOINT_URL})",
    )
    parser.add_argument(
        "--stack",
        help="CloudFormation stack to read the role table, API and stream names from (its outputs), "
        f"e.g. EdgeAuth-dev (default: ${ENV_STACK})",
    )
    parser.add_argument(
        "--table", help=f"role table name, instead of the stack's (default: ${ENV_ROLE_TABLE})"
    )
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
        ctx.check_settings(getattr(args, "needs", ()), args)
        code: int = args.func(ctx, args)
        return code
    except CliError as e:
        print(f"edgeauth: error: {e}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        error = aws_failure(e)
        if error is None:
            raise
        print(f"edgeauth: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("edgeauth: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def aws_failure(error: Exception) -> CliError | None:
    """A botocore error no command reported itself, as one line (never a traceback); ``None`` for
    anything else (a bug: its traceback is wanted)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from edgeauth_cli.table_writer import aws_error_text

    if not isinstance(error, BotoCoreError | ClientError):
        return None
    return botocore_error(error) or CliError(f"AWS call failed: {aws_error_text(error)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
