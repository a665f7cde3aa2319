"""``edgeauth revoke --sub SUB``: make every token of a subject issued until now invalid.

Sets ``not_before`` = now (epoch seconds) on the subject item (creating it with no roles when the
subject only had roles through groups), with a conditional write; the authorizer refuses tokens whose
``iat`` is at or before it. Then flushes the stage's authorizer cache, so policies API Gateway cached
for those tokens stop being replayed.

That is not yet the end: warm authorizer containers keep what they read until they next look at
the role table's change log (the role-events function writes the subject there within seconds;
they look every ``revocation_check_seconds``), and an answer built before that can be cached again
until the role-events function's second flush. So the command prints ``effective_by``: the UTC
time from which every answer refuses those tokens (:func:`edgeauth.core.propagation.edit_bound`,
from the stack's outputs ``RoleCacheTtl``, ``AuthorizerCacheTtl`` and ``RevocationCheckSeconds``;
without ``--stack``, the longest values allowed; a stack without ``RevocationCheckSeconds`` predates
the change log, and its role cache is waited out).

The write is retried after a conflict (re-reading the item each time): unlike ``apply``, revoking
only ever adds a not-before time, so a retry cannot overwrite anybody's edit. The flush is retried
with a bounded backoff; a flush that still fails is reported clearly (exit 1), since cached policies
then stay valid for up to the cache TTL.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.gateway_cache import flush_authorizer_cache as flush
from edgeauth.adapters.role_store import subject_key
from edgeauth_cli import render
from edgeauth_cli.commands.subjects import add_issuer_argument, issuer_of
from edgeauth_cli.context import AWS, ISSUER, ROLE_TABLE, CliContext, CliError
from edgeauth_cli.effective import bound_for
from edgeauth_cli.table_writer import Change, ConflictError, content, now_iso, read_item, writer_for

FLUSH_ATTEMPTS = 4
FLUSH_BASE_DELAY = 0.5
WRITE_ATTEMPTS = 3

sleep: Callable[[float], None] = time.sleep
clock: Callable[[], float] = time.time

_EPILOG = """examples:
  edgeauth --stack EdgeAuth-dev revoke --sub user-123 --iss https://login.example.com/
  EDGEAUTH_ISSUER=https://login.example.com/ edgeauth --output json revoke --sub user-123

exit codes: 0 revoked and cache flushed; 1 the write failed, or the cache could not be flushed
(the revocation is written either way; the message says which)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "revoke",
        help="invalidate every token of a subject issued until now, and flush the authorizer cache",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sub", required=True, help="the subject ('sub' claim)")
    add_issuer_argument(parser)
    parser.add_argument("--rest-api-id", help=f"REST API id (default: stack output {C.OUTPUT_REST_API_ID})")
    parser.add_argument("--stage", help=f"stage (default: stack output {C.OUTPUT_STAGE_NAME})")
    parser.add_argument(
        "--no-flush",
        action="store_true",
        help="do not flush the authorizer cache (cached policies stay valid up to the cache TTL)",
    )
    parser.set_defaults(func=cmd_revoke, needs=(AWS, ROLE_TABLE, ISSUER))


def flush_authorizer_cache(client: Any, rest_api_id: str, stage: str) -> str | None:
    """Flush with bounded backoff. ``None`` on success, else what went wrong."""
    outcome = flush(
        client, rest_api_id, stage, attempts=FLUSH_ATTEMPTS, base_delay=FLUSH_BASE_DELAY, sleep=sleep
    )
    if outcome.ok:
        return None
    return f"{outcome.error} (after {outcome.attempts} attempts)"


def cmd_revoke(ctx: CliContext, args: argparse.Namespace) -> int:
    issuer = issuer_of(args)
    key = subject_key(issuer, args.sub)
    client = ctx.client("dynamodb")
    writer = writer_for(ctx, announce=False)  # says effective_by itself
    not_before = int(clock())
    for attempt in range(WRITE_ATTEMPTS):
        old = read_item(client, ctx.role_table, key)
        new = {**content(old), C.ATTR_NOT_BEFORE: not_before}
        if old is None:
            new[C.ATTR_ROLES] = []
        try:
            writer.write([Change(key, old, new)])
            break
        except ConflictError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            render.note("the subject item changed meanwhile; reading it again")
    written_at = clock()
    when = now_iso(lambda: float(not_before))
    result: dict[str, Any] = {"issuer": issuer, "sub": args.sub, "not_before": not_before, "flushed": False}

    flush_failed = False
    if args.no_flush:
        result["flush_error"] = "skipped (--no-flush)"
    else:
        rest_api_id = args.rest_api_id or (
            ctx.stack_outputs().get(C.OUTPUT_REST_API_ID) if ctx.stack else None
        )
        stage = args.stage or (ctx.stack_outputs().get(C.OUTPUT_STAGE_NAME) if ctx.stack else None)
        if not rest_api_id or not stage:
            result["flush_error"] = "no REST API id / stage (pass --stack, or --rest-api-id and --stage)"
        else:
            result["flush_error"] = flush_authorizer_cache(ctx.client("apigateway"), rest_api_id, stage)
            flush_failed = result["flush_error"] is not None
        result["flushed"] = result["flush_error"] is None
    bound = bound_for(ctx, flush_failed=flush_failed)
    effective_by = now_iso(lambda: float(bound.effective_by(written_at)))
    result["effective_by"] = effective_by
    result["bound"] = f"{bound.seconds} s: {bound.because}"
    _print(ctx, result)
    render.note(
        f"revoked: tokens of {args.sub!r} ({issuer}) issued at or before {when} are refused everywhere "
        f"by {effective_by} (within {bound.seconds} s: {bound.because})"
    )
    if args.no_flush:
        render.note("authorizer cache NOT flushed (--no-flush): the role-events function's flushes clear it")
        return 0
    if not result["flushed"]:
        raise CliError(
            f"the revocation is written, but the authorizer cache was NOT flushed: {result['flush_error']}. "
            f"Policies API Gateway already cached for this subject may be replayed until {effective_by}; "
            "flush it with 'aws apigateway flush-stage-authorizers-cache'"
        )
    render.note(f"authorizer cache of {rest_api_id}/{stage} flushed")
    return 0


def _print(ctx: CliContext, result: dict[str, Any]) -> None:
    if ctx.output == "json":
        render.print_json(result)
    else:
        render.print_fields(list(result.items()))
