"""``python -m bench.ablation [--quick]``: where a request's time goes, by taking parts away.

Rows 3 and 4 of ``make bench`` miss their targets; the README says what bounds them. A timer
around each part inside ``authorize`` perturbs what it measures (each timer is itself a few Python
calls on cold caches), so this measures the other way round: the same interleaved, paired loop as
the table, with variants of the authorizer that each skip one part, and prints what removing that
part saves. Parts are skipped by replacing a module-level function or a method with one that
returns a result prepared before timing; the replaced name is restored after each request. For
measurement only: no variant here is a valid authorizer.

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
from bench.world import World, aws_test_credentials, build_world
from edgeauth import authorizer as authorizer_module
from edgeauth.authorizer import Authorizer
from edgeauth.core import tokens as tokens_module
from edgeauth.core.audit_line import request_line
from edgeauth.core.tokens import VerifiedToken

Op = Callable[[dict[str, Any]], Any]


def _with(module: Any, name: str, value: Any, op: Op) -> Op:
    """``op`` with ``module.name`` replaced by ``value`` during each call (restored after it)."""
    real = getattr(module, name)

    def run(event: dict[str, Any]) -> Any:
        setattr(module, name, value)
        try:
            return op(event)
        finally:
            setattr(module, name, real)

    return run


def _without_token_cache(auth: Authorizer) -> None:
    verifier = auth.verifier

    def verify(token: str) -> tuple[VerifiedToken, bool]:
        h64, p64, s64 = token.split(".")
        signing_input = f"{h64}.{p64}".encode()
        # The signing input is hashed as before: the signature check needs its SHA-256.
        return verifier._verify(h64, p64, s64, signing_input, hashlib.sha256(signing_input).digest()), False

    verifier.verify = verify  # type: ignore[method-assign]


def new_token_variants(world: World) -> dict[str, Op]:
    """Each variant's ``authorize`` (all with the same wrapper, so the wrapper's cost cancels)."""
    auths = {}
    for name in ("all parts", "signature check", "audit line", "payload JSON", "claim checks", "token cache"):
        auths[name] = world.authorizer()
        ours.warm(auths[name], world)
    payload = json.loads(base64.urlsafe_b64decode(world.repeat_token.split(".")[1] + "=="))
    verified = auths["claim checks"].verifier.verify(world.repeat_token)[0]
    auths["claim checks"].verifier._check_claims = lambda *_: verified  # type: ignore[method-assign]
    _without_token_cache(auths["token cache"])
    auths["audit line"]._emit = lambda _line: None
    line = request_line
    return {
        "all parts": _with(authorizer_module, "request_line", line, auths["all parts"].authorize),
        "signature check": _with(
            tokens_module, "verifier", lambda _alg: lambda *_: True, auths["signature check"].authorize
        ),
        "audit line": _with(authorizer_module, "request_line", lambda *_: "", auths["audit line"].authorize),
        "payload JSON": _with(
            tokens_module, "_json_object", lambda _raw, _what: payload.copy(), auths["payload JSON"].authorize
        ),
        "claim checks": _with(authorizer_module, "request_line", line, auths["claim checks"].authorize),
        "token cache": _with(authorizer_module, "request_line", line, auths["token cache"].authorize),
    }


def repeated_token_variants(world: World) -> dict[str, Op]:
    auths = {}
    for name in ("all parts", "the line's write", "audit line"):
        auths[name] = world.authorizer()
        ours.warm(auths[name], world)
        ours.warm(auths[name], world)  # the memo admits a token from its second use
    auths["the line's write"]._emit = lambda _line: None
    auths["audit line"]._emit = lambda _line: None
    line = request_line
    return {
        "all parts": _with(authorizer_module, "request_line", line, auths["all parts"].authorize),
        "the line's write": _with(
            authorizer_module, "request_line", line, auths["the line's write"].authorize
        ),
        "audit line": _with(authorizer_module, "request_line", lambda *_: "", auths["audit line"].authorize),
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

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        per_case = s.batch + s.rounds * s.batch + 8
        world = build_world(client, new_tokens=8 * per_case)
        chunks = iter(range(0, 8 * per_case, per_case))

        def fresh_tokens() -> list[str]:
            start = next(chunks)
            return world.new_tokens[start : start + per_case]

        check = floor.rs256_verifier(world.rs.private.public_key())
        new_cases: dict[str, Case] = {"floor": Fresh(world.token_source(fresh_tokens()), check)}
        for name, op in new_token_variants(world).items():
            new_cases[name] = Fresh(world.event_source(fresh_tokens()), op)
        repeated_cases: dict[str, Case] = {"floor": Fresh(world.token_source(fresh_tokens()), check)}
        for name, op in repeated_token_variants(world).items():
            repeated_cases[name] = Fresh(world.event_source(itertools.repeat(world.repeat_token)), op)
        gc.collect()
        gc.freeze()
        out = report("new token (row 3)", interleaved(new_cases, s.rounds, s.batch))
        out += report("repeated token (row 4)", interleaved(repeated_cases, s.rounds, s.batch))
        world.sink.close()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
