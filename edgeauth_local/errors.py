"""Errors of the local stack. Each one is reported as one clear line and a non-zero exit."""

from __future__ import annotations


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
    """A port the stack must bind is taken."""

    exit_code = 4


class MotoServerError(LocalStackError):
    """The moto server did not start or does not answer."""

    exit_code = 5
