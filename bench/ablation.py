"""``python -m bench.ablation [--quick]``: where a request's time goes, by taking parts away.

Rows 3 and 4 of ``make bench`` miss their targets; docs/benchmarks.md says what bounds them. A timer
around each part inside ``authorize`` perturbs what it measures (each timer is itself a few Python
calls on cold caches), so this measures the other way round: the same interleaved, paired loop as
the table, against the same floor (``verify`` alone), with variants of the authorizer that each
skip one part, and prints what removing that part saves. Every variant is called as the table's rows
3 and 4 call ours: through the Lambda handler, with the runtime's trace id and context
(:mod:`bench.ours`), the handler module's authorizer replaced by the variant's during each call.
Parts are skipped by replacing a module-level function or a method with one that returns a result
prepared before timing; the replaced name is restored after each request. For measurement only: no
variant here is a valid authorizer.

New token (row 3): the signature check, the audit line and its write, the payload's JSON parse,
the claim checks, the verified-token cache. Repeated token (row 4): the audit line's write, the
whole audit line.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import itertools
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bench import floor, ours
from bench.common import Case, Fresh, Settings, interleaved, paired_ratio
from bench.world import World, aws_test_credentials, build_world, event_for, role_table_server
from edgeauth import authorizer as authorizer_module
from edgeauth.authorizer import Authorizer
from edgeauth.core import tokens as tokens_module
from edgeauth.core.audit_line import request_line
from edgeauth.core.tokens import VerifiedToken

Op = Callable[[ours.Invocation], Any]


def _with(module: Any, name: str, value: Any, op: Op) -> Op:
    """``op`` with ``module.name`` replaced by ``value`` during each call (restored after it)."""
    real = getattr(module, name)

    def run(invocation: ours.Invocation) -> Any:
        setattr(module, name, value)
        try:
            return op(invocation)
        finally:
            setattr(module, name, real)

    return run


def _handler_of(handler: ours.Handler, auth: Authorizer) -> Op:
    """The Lambda handler, answering with ``auth`` (the handler module's authorizer during each call)."""
    return _with(sys.modules[handler.__module__], "_authorizer", auth, ours.call(handler))


def _warm(auth: Authorizer, world: World) -> None:
    """JWKS fetched and roles read before timing; the first answer must be an Allow."""
    ours.check_allows(auth.authorize(event_for(world.repeat_token)))


def _without_token_cache(auth: Authorizer) -> None:
    verifier = auth.verifier

    def verify(token: str) -> tuple[VerifiedToken, bool]:
        h64, p64, s64 = token.split(".")
        signing_input = f"{h64}.{p64}".encode()
        # The signing input is hashed as before: the signature check needs its SHA-256.
        return verifier._verify(h64, p64, s64, signing_input, hashlib.sha256(signing_input).digest()), False

    verifier.verify = verify  # type: ignore[method-assign]


def new_token_variants(world: World, handler: ours.Handler) -> dict[str, Op]:
    """Each variant through the handler (all with the same wrappers, so their cost cancels)."""
    auths = {}
    for name in ("all parts", "signature check", "audit line", "payload JSON", "claim checks", "token cache"):
        auths[name] = world.authorizer()
        _warm(auths[name], world)
    payload = json.loads(base64.urlsafe_b64decode(world.repeat_token.split(".")[1] + "=="))
    verified = auths["claim checks"].verifier.verify(world.repeat_token)[0]
    auths["claim checks"].verifier._check_claims = lambda *_: verified  # type: ignore[method-assign]
    _without_token_cache(auths["token cache"])
    auths["audit line"]._emit = lambda _line: None
    line = request_line
    op = {name: _handler_of(handler, auth) for name, auth in auths.items()}
    return {
        "all parts": _with(authorizer_module, "request_line", line, op["all parts"]),
        "signature check": _with(
            tokens_module, "verifier", lambda _alg: lambda *_: True, op["signature check"]
        ),
        "audit line": _with(authorizer_module, "request_line", lambda *_: "", op["audit line"]),
        "payload JSON": _with(
            tokens_module, "_json_object", lambda _raw, _what: payload.copy(), op["payload JSON"]
        ),
        "claim checks": _with(authorizer_module, "request_line", line, op["claim checks"]),
        "token cache": _with(authorizer_module, "request_line", line, op["token cache"]),
    }


def repeated_token_variants(world: World, handler: ours.Handler) -> dict[str, Op]:
    auths = {}
    for name in ("all parts", "the line's write", "audit line"):
        auths[name] = world.authorizer()
        _warm(auths[name], world)
        _warm(auths[name], world)  # the memo admits a token from its second use
    auths["the line's write"]._emit = lambda _line: None
    auths["audit line"]._emit = lambda _line: None
    line = request_line
    op = {name: _handler_of(handler, auth) for name, auth in auths.items()}
    return {
        "all parts": _with(authorizer_module, "request_line", line, op["all parts"]),
        "the line's write": _with(authorizer_module, "request_line", line, op["the line's write"]),
        "audit line": _with(authorizer_module, "request_line", lambda *_: "", op["audit line"]),
    }


def report(title: str, samples: dict[str, list[float]]) -> list[str]:
    """One line per part: the ratio without it and what removing it saves (paired medians)."""
    base, full = samples["floor"], samples["all parts"]
    floor_us = statistics.median(base) * 1e6
    lines = [
        f"{title}: floor {floor_us:.1f} µs, all parts {statistics.median(full) * 1e6:.1f} µs"
        f" = {paired_ratio(full, base):.2f}× the floor"
    ]
    for name, xs in samples.items():
        if name in ("floor", "all parts"):
            continue
        saved = statistics.median(a - b for a, b in zip(full, xs, strict=True)) * 1e6
        lines.append(
            f"  without {name:16s} {paired_ratio(xs, base):.2f}× the floor;"
            f" saves {saved:5.1f} µs = {saved / floor_us:.2f}× the floor"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablation", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (seconds), for CI")
    args = parser.parse_args(argv)
    s = Settings.make(args.quick)
    aws_test_credentials()
    import boto3
    from moto import mock_aws

    with role_table_server() as endpoint, mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        per_case = s.batch + s.rounds * s.batch + 8
        world = build_world(client, new_tokens=8 * per_case)
        chunks = iter(range(0, 8 * per_case, per_case))

        def fresh_tokens() -> list[str]:
            start = next(chunks)
            return world.new_tokens[start : start + per_case]

        check = floor.rs256_verifier(world.rs.private.public_key())
        # The handler module is imported as Lambda imports it (its own authorizer is never called:
        # each variant's replaces it); the audit lines go to the runtime's stdout over /dev/null.
        env = ours.function_environment(endpoint_url=endpoint)
        with ours.lambda_process(env, world.sink.stream) as handler:
            new_cases: dict[str, Case] = {
                "floor": Fresh(floor.decoded(world.token_source(fresh_tokens())), check)
            }
            for name, op in new_token_variants(world, handler).items():
                new_cases[name] = Fresh(ours.invocations(world.event_source(fresh_tokens())), op)
            repeated_cases: dict[str, Case] = {
                "floor": Fresh(floor.decoded(world.token_source(fresh_tokens())), check)
            }
            repeat = itertools.repeat(world.repeat_token)
            for name, op in repeated_token_variants(world, handler).items():
                repeated_cases[name] = Fresh(ours.invocations(world.event_source(repeat)), op)
            gc.collect()
            gc.freeze()
            out = report("new token (row 3)", interleaved(new_cases, s.rounds, s.batch))
            out += report("repeated token (row 4)", interleaved(repeated_cases, s.rounds, s.batch))
        world.sink.close()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
