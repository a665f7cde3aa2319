"""Scenario 8, the local gateway under load: requests per second and p50/p99 latency.

The local gateway (``edgeauth_local``) is being built in its own issue. Until it exposes a gateway,
this scenario reports "not yet available" rather than a number. When it lands, the intended
measurement is: load from a second process against the gateway (authorizer in the path) and the
same load sent straight to the backend, rps and p50/p99 of both, in one run.
"""

from __future__ import annotations

import importlib


def gateway_available() -> str | None:
    """The module path of the local gateway, or ``None`` while it does not exist yet."""
    for name in ("edgeauth_local.gateway", "edgeauth_local.server"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        return name
    return None
