"""Lambda entry point of the REQUEST authorizer: a thin shell around :class:`Authorizer`.

Configuration is read and validated once, at cold start (a bad value stops the function at init
with a message naming the setting). The DynamoDB client (no boto3: ``edgeauth.adapters.dynamodb``)
is created on first use; the JWKS of an issuer is fetched on the first token that needs it. With
SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), runtime hooks prepare the snapshot and
renew what a restored environment must not share (``edgeauth.adapters.snapstart``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from edgeauth.adapters.invocation import CurrentInvocation
from edgeauth.adapters.stdout import line_writer
from edgeauth.authorizer import Authorizer
from edgeauth.bootstrap import build_authorizer

_invocation = CurrentInvocation()
# The audit lines go to stdout's descriptor directly, in order with the runtime's own stdout
# (``sys.stdout`` here is already the Lambda runtime's wrapper, see edgeauth.adapters.stdout).
_authorizer: Authorizer = build_authorizer(
    os.environ, emit=line_writer(sys.stdout), time_left=_invocation.seconds_left
)

if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    from edgeauth.adapters.snapstart import register_runtime_hooks

    register_runtime_hooks(_authorizer)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway REST API REQUEST-authorizer handler."""
    _invocation.context = context  # DynamoDB retries start only if they fit in what is left
    return _authorizer.authorize(event, trace_id=os.environ.get("_X_AMZN_TRACE_ID"))
