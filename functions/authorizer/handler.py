"""Lambda entry point of the REQUEST authorizer: a thin shell around :class:`Authorizer`.

Configuration is read and validated once, at cold start (a bad value stops the function at init
with a message naming the setting). The DynamoDB client (no boto3: ``edgeauth.adapters.dynamodb``)
is created on first use; the JWKS of an issuer is fetched on the first token that needs it. With
SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), runtime hooks prepare the snapshot and
renew what a restored environment must not share (``edgeauth.adapters.snapstart``).

The cyclic garbage collector is off from this module's import to the end of the first invocation:
what init and the first request create (modules, the DynamoDB client, the keys, the caches) lives
as long as the container, and collecting it while it is being built only costs the first caller
(about 2.5 ms of the cold start measured in bench row 5, docs/benchmarks.md). At the end of that
invocation it is frozen (``gc.freeze()``: no later collection walks it again) and the collector is
turned back on for what the requests allocate.
"""

from __future__ import annotations

import gc

gc.disable()  # before the imports below: see the module doc

import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from typing import Any  # noqa: E402

from edgeauth.adapters.invocation import CurrentInvocation  # noqa: E402
from edgeauth.adapters.stdout import line_writer  # noqa: E402
from edgeauth.authorizer import Authorizer  # noqa: E402
from edgeauth.bootstrap import build_authorizer  # noqa: E402

_invocation = CurrentInvocation()
# The audit lines go to stdout's descriptor directly, in order with the runtime's own stdout
# (``sys.stdout`` here is already the Lambda runtime's wrapper, see edgeauth.adapters.stdout).
_authorizer: Authorizer = build_authorizer(
    os.environ, emit=line_writer(sys.stdout), time_left=_invocation.seconds_left
)

_first = True  # until the first invocation ends (the collector is off until then)

if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    from edgeauth.adapters.snapstart import register_runtime_hooks

    register_runtime_hooks(_authorizer)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway REST API REQUEST-authorizer handler."""
    global _first  # noqa: PLW0603 - once per container
    _invocation.context = context  # DynamoDB retries start only if they fit in what is left
    try:
        return _authorizer.authorize(event, trace_id=os.environ.get("_X_AMZN_TRACE_ID"))
    finally:
        if _first:  # the end of the first invocation, answered or refused
            _first = False
            gc.freeze()
            gc.enable()
