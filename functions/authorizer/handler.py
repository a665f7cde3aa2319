"""Lambda entry point of the REQUEST authorizer: a thin shell around :class:`Authorizer`.

Configuration is read and validated once, at cold start (a bad value stops the function at init
with a message naming the setting). AWS clients are created lazily on first use; the JWKS of an
issuer is fetched on the first token that needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from edgeauth.adapters.stdout import line_writer
from edgeauth.authorizer import Authorizer
from edgeauth.bootstrap import build_authorizer

# The audit lines go to stdout's descriptor directly, in order with the runtime's own stdout
# (``sys.stdout`` here is already the Lambda runtime's wrapper, see edgeauth.adapters.stdout).
_authorizer: Authorizer = build_authorizer(os.environ, emit=line_writer(sys.stdout))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway REST API REQUEST-authorizer handler."""
    return _authorizer.authorize(event, trace_id=os.environ.get("_X_AMZN_TRACE_ID"))
