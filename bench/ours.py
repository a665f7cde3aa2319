"""Scenarios 3 and 4: our authorizer as Lambda runs it, the entry point's ``handler(event, context)``.

The handler is the one the stack names (``edgeauth.constants.HANDLER_AUTHORIZER``), resolved and
imported the way the Lambda Python runtime does it (awslambdaric's ``_get_handler``) in a process
set up as the runtime sets one up (:func:`lambda_process`): the function's environment in
``os.environ``, ``sys.stdout`` replaced by the runtime's ``Unbuffered`` wrapper before the import,
so the module's init builds its authorizer from that environment and writes its audit lines to that
stdout (:class:`bench.world.NullSink`, over ``/dev/null``).

Each invocation is prepared as the runtime prepares one just before it calls the handler
(:func:`invocations`): a fresh ``_X_AMZN_TRACE_ID`` in ``os.environ`` (the runtime's own
``update_xray_env_variable``), a ``LambdaContext``, the event parsed from its JSON text. Only the
handler call is timed (:class:`bench.common.Fresh`).

New token: every call presents a token not seen before (signed before timing), so the signature is
checked every time; the issuer's JWKS and the principal's roles are warm, as in a warm container.
Repeated token: the same token on every call, each in a new event (new request id, freshly parsed):
the repeated-token answer memo answers. Both include reading the event and the trace id, the RBAC
decision, the policy and the audit line with its EMF metrics.
"""

from __future__ import annotations

import gc
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast
from unittest import mock

from awslambdaric.bootstrap import _get_handler, update_xray_env_variable
from awslambdaric.lambda_context import LambdaContext

from bench.world import JWKS_URL, REGION, World, authorizer_env, event_for
from edgeauth import constants as C

#: Where the Lambda runtime puts the X-Ray trace header of the current invocation.
TRACE_ENV = "_X_AMZN_TRACE_ID"
#: The bundle's root (Lambda's task root, on ``sys.path`` there): ``functions/`` is copied into it.
TASK_ROOT = Path(__file__).resolve().parent.parent / "functions"
FUNCTION_NAME = "edgeauth-bench-authorizer"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
#: The function's timeout (``infra.constructs.authorizer.TIMEOUT``), for the context's deadline.
TIMEOUT_MS = 5_000

#: ``handler(event, context)``.
Handler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
#: What the runtime passes to the handler: the event and a ``LambdaContext``.
Invocation = tuple[dict[str, Any], Any]


def function_environment(jwks_uri: str = JWKS_URL, endpoint_url: str | None = None) -> dict[str, str]:
    """The authorizer function's environment as Lambda sets it: the stack's variables
    (``infra/constructs/authorizer.py``, ``function.py``) and those the runtime sets for every
    function. ``_X_AMZN_TRACE_ID`` is not among them: the runtime sets it per invocation."""
    env = authorizer_env(jwks_uri=jwks_uri, endpoint_url=endpoint_url)
    env.update(
        {
            C.ENV_POWERTOOLS_SERVICE_NAME: C.AUTHORIZER_SERVICE,
            C.ENV_POWERTOOLS_METRICS_NAMESPACE: C.METRICS_NAMESPACE,
            C.ENV_LOG_LEVEL: "INFO",
            "_HANDLER": C.HANDLER_AUTHORIZER,
            "LAMBDA_TASK_ROOT": str(TASK_ROOT),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]" + "0" * 32,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        }
    )
    return env


def trace_header() -> str:
    """A new X-Ray trace header as the runtime sets ``_X_AMZN_TRACE_ID``: ``Root=1-<epoch seconds,
    8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0``."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


@contextmanager
def lambda_process(env: Mapping[str, str], stdout: TextIO) -> Iterator[Handler]:
    """This process, for the duration of the block, as the Lambda Python runtime sets one up:
    ``env`` in ``os.environ`` (no trace id until an invocation sets one), the task root on
    ``sys.path``, ``sys.stdout`` replaced by ``stdout`` (give it the runtime's ``Unbuffered``
    wrapper, e.g. :attr:`bench.world.NullSink.stream`); then the handler module imported afresh
    (its init runs now) and its handler yielded. Everything is restored afterwards."""
    module_name = C.HANDLER_AUTHORIZER.rpartition(".")[0]
    saved_stdout, saved_path = sys.stdout, list(sys.path)
    # The handler module turns the collector off until its first invocation ends: a block that
    # never invokes it must not leave this process without one.
    collecting = gc.isenabled()
    with mock.patch.dict(os.environ, env):
        os.environ.pop(TRACE_ENV, None)
        sys.path.insert(0, str(TASK_ROOT))
        sys.stdout = stdout
        sys.modules.pop(module_name, None)
        try:
            # The runtime's own resolution of the handler setting ("module.function").
            yield cast(Handler, _get_handler(C.HANDLER_AUTHORIZER))
        finally:
            sys.modules.pop(module_name, None)
            sys.stdout = saved_stdout
            sys.path[:] = saved_path
            if collecting:
                gc.enable()


def new_context() -> Any:
    """The ``LambdaContext`` the runtime creates for an invocation (new request id, 5 s deadline)."""
    deadline_ms = int(time.time() * 1000) + TIMEOUT_MS
    return LambdaContext(str(uuid.uuid4()), None, None, deadline_ms, FUNCTION_ARN)


def invocations(events: Callable[[], dict[str, Any]]) -> Callable[[], Invocation]:
    """Each call prepares the next invocation as the runtime does right before the handler call:
    a new trace id in ``os.environ``, a new ``LambdaContext``, the next event of ``events``.

    Prepared untimed, a batch of :data:`bench.common.FRESH_CHUNK` at a time, so the calls of a
    batch all read the trace id set last; each batch reads a new one. Reading it costs the same:
    ``os.environ.get`` decodes a new ``str`` on every call whatever the value."""

    def next_invocation() -> Invocation:
        update_xray_env_variable(trace_header())
        context = new_context()
        return events(), context

    return next_invocation


def call(handler: Handler) -> Callable[[Invocation], dict[str, Any]]:
    """One benchmark operation: ``handler(event, context)``."""
    return lambda invocation: handler(invocation[0], invocation[1])


def check_allows(answer: Mapping[str, Any]) -> None:
    effect = answer["policyDocument"]["Statement"][0]["Effect"]
    if effect != "Allow":
        raise AssertionError(f"the benchmarked request must be allowed, got {effect}")


def warm(handler: Handler, world: World) -> None:
    """JWKS fetched and roles read before timing; the first answer must be an Allow."""
    update_xray_env_variable(trace_header())
    check_allows(handler(event_for(world.repeat_token), new_context()))
