"""Errors of the local stack. Each one is reported as one clear line and a non-zero exit."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence


class LocalStackError(Exception):
    """The local stack cannot start or run. ``exit_code`` is what ``python -m edgeauth_local`` returns."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class SynthError(LocalStackError):
    """The CDK app did not synthesize, or its template cannot be read."""

    exit_code = 3


class TemplateError(LocalStackError):
    """The synthesized template lacks something the local gateway needs, or uses what it cannot read."""

    exit_code = 3


class PortInUseError(LocalStackError):
    """A port the stack must bind is taken.

    ``busy``: ``(what, port, option)`` of every busy port found; ``suggestions``: option → a port
    that was free, for the ``make local ARGS=…`` the message proposes."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        busy: Sequence[tuple[str, int, str]] = (),
        suggestions: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.busy = list(busy)
        self.suggestions = dict(suggestions or {})


def ports_in_use_message(host: str, busy: Sequence[tuple[str, int, str]], args: Sequence[str]) -> str:
    """One line: every busy port, what needs it and its option, and the ``make local`` to run instead."""
    ports = ", ".join(f"{port} ({what}, {option})" for what, port, option in busy)
    many = len(busy) > 1
    return (
        f"{'ports' if many else 'port'} {ports} {'are' if many else 'is'} already in use on {host}; "
        f"stop what holds {'them' if many else 'it'}, or choose {'free ones' if many else 'a free one'}: "
        f"make local ARGS={shlex.quote(shlex.join(args))}"
    )


class MotoServerError(LocalStackError):
    """The moto server did not start or does not answer."""

    exit_code = 5
