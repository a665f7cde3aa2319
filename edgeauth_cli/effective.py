"""When a role-table write takes effect everywhere, for every command that writes the table.

:func:`bound_for` reads the stack's settings from its outputs (``RoleCacheTtl``,
``AuthorizerCacheTtl``, ``RevocationCheckSeconds``; without ``--stack``, the longest allowed) and
hands them to :func:`edgeauth.core.propagation.edit_bound`. ``edgeauth revoke`` prints the result
as ``effective_by``; every other write (``roles apply``, ``subjects grant``, ``groups map`` …)
says it on stderr after writing (:func:`note_effective`), so its output stays what it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edgeauth import constants as C
from edgeauth.core.propagation import PropagationBound, edit_bound
from edgeauth_cli import render
from edgeauth_cli.context import CliContext

clock: Callable[[], float] = time.time


def _seconds(value: str | None) -> int | None:
    try:
        seconds = int(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def bound_for(ctx: CliContext, *, flush_failed: bool = False) -> PropagationBound:
    """How long an edit written now takes to reach every answer of the stack (``None`` settings:
    unknown, the longest allowed). A stack whose outputs lack ``RevocationCheckSeconds`` was
    deployed before the change log: its containers keep the old roles for their role cache."""
    if not ctx.stack:
        return edit_bound(None, None, None, flush_failed=flush_failed)
    outputs = ctx.stack_outputs()
    return edit_bound(
        _seconds(outputs.get(C.OUTPUT_ROLE_CACHE_TTL)),
        _seconds(outputs.get(C.OUTPUT_AUTHORIZER_CACHE_TTL)),
        _seconds(outputs.get(C.OUTPUT_REVOCATION_CHECK_SECONDS)),
        change_log=C.OUTPUT_REVOCATION_CHECK_SECONDS in outputs,
        flush_failed=flush_failed,
    )


def note_effective(ctx: CliContext) -> None:
    """Say on stderr from when every answer reflects what was just written."""
    from edgeauth_cli.table_writer import now_iso

    bound = bound_for(ctx)
    when = now_iso(lambda: float(bound.effective_by(clock())))
    render.note(f"effective everywhere by {when} (within {bound.seconds} s: {bound.because})")
