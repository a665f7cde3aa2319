"""How hard the property tests and fuzzers try: a quick mode for CI and a longer mode for local runs.

* quick: ``FUZZ_QUICK=1``, or ``CI=true`` (``.ci/run`` sets it), or ``HYPOTHESIS_PROFILE=edgeauth-quick``;
* long (the default for local runs): several times the examples of quick mode, still bounded;
* ``FUZZ_SCALE=N`` multiplies the example counts of either mode (``FUZZ_SCALE=20`` for a soak run).

Every test keeps ``database=None`` (nothing is written under ``.hypothesis``) and no per-example
deadline (a slow CI machine must not turn into a flaky failure); the bound is the example count,
and pytest-timeout (``timeout = 300`` in pyproject.toml) is the backstop.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

QUICK: Final = (
    os.environ.get("FUZZ_QUICK", "") not in ("", "0")
    or os.environ.get("CI", "").lower() in ("true", "1")
    or os.environ.get("HYPOTHESIS_PROFILE") == "edgeauth-quick"
)
LONG_FACTOR: Final = 4
_SCALE: Final = max(1, int(os.environ.get("FUZZ_SCALE", "1") or "1"))
MODE: Final = "quick" if QUICK else "long"

_BASE = settings(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile("edgeauth-quick", _BASE)
settings.register_profile("edgeauth-long", _BASE)


def examples(quick: int) -> int:
    """The example count for a test that runs ``quick`` examples in quick mode."""
    return quick * _SCALE * (1 if QUICK else LONG_FACTOR)


def budget(quick: int) -> settings:
    """``@budget(50)``: hypothesis settings with that many examples in quick mode (more when long)."""
    return settings(_BASE, max_examples=examples(quick))
