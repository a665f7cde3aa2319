"""Every environment variable the stack gives a function is in the configuration reference.

docs/configuration.md lists the authorizer's environment from ``edgeauth.core.settings.ENVIRONMENT``
and the other functions' from ``edgeauth.constants.FUNCTION_ENVIRONMENT``; a variable the CDK app
sets that neither names (a new setting passed on to the role-events function, say) would be missing
from the page.
"""

from __future__ import annotations

from edgeauth import constants as C
from edgeauth.core.settings import ENVIRONMENT
from tests.infra.conftest import Synth

#: The functions of the stack, as FUNCTION_ENVIRONMENT's "read by" column names them.
READERS = {
    C.HANDLER_AUTHORIZER: "authorizer",
    C.HANDLER_AUDIT_CONSUMER: "audit consumer",
    C.HANDLER_ROLE_EVENTS: "role events",
}


def documented_for(reader: str) -> set[str]:
    """The variables the reference lists for one function ("all three": every function)."""
    names = {name for name, functions, _ in C.FUNCTION_ENVIRONMENT if reader in functions}
    names |= {name for name, functions, _ in C.FUNCTION_ENVIRONMENT if functions == "all three"}
    if reader == "authorizer":
        names |= {spec.name for spec in ENVIRONMENT}
    return names


def test_every_variable_a_function_gets_is_documented(synth: Synth) -> None:
    # GIVEN each function of the synthesized template (the edgeauth ones, by their handlers)
    seen = set()
    for fn in synth.resources("AWS::Lambda::Function").values():
        props = fn["Properties"]
        reader = READERS.get(props.get("Handler", ""))
        if reader is None:
            continue
        seen.add(reader)
        # WHEN its environment is compared with the reference's rows for it
        variables = set(props.get("Environment", {}).get("Variables", {}))
        # THEN each variable has a row naming that function
        assert variables - documented_for(reader) == set(), reader
    assert seen == set(READERS.values())


def test_the_role_events_function_reads_the_change_log_settings() -> None:
    rows = {name: functions for name, functions, _ in C.FUNCTION_ENVIRONMENT}
    for name in (C.ENV_ROLE_TABLE, C.ENV_REVOCATION_CHECK_SECONDS, C.ENV_ROLE_CACHE_TTL):
        assert "role events" in rows[name], name
