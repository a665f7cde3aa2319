"""``edgeauth revoke`` on the local stack: from the ``effective_by`` it prints, the token is refused.

The dev stage as deployed: a 30 s role cache, and warm authorizers that look at the role table's
change log every 2 s, so the bound is seconds (stream + look + the second flush's margin), not the
role cache. The gateway's cache keeps its 300 s, so an answer re-cached by the authorizer before its
look is cleared only by the role-events function's second flush, which the bound counts on.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from edgeauth import constants as C
from edgeauth.core.propagation import SECOND_FLUSH_MARGIN, STREAM_ALLOWANCE
from edgeauth_cli.main import main
from edgeauth_local.stack import LocalStack
from tests.e2e.conftest import call

pytestmark = pytest.mark.timeout(120)


def test_a_revoked_token_is_refused_from_effective_by_on(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.urls is not None
    # GIVEN carol's token, allowed, its answer cached by the gateway (300 s) and her roles by the authorizer
    token = stack.token("carol")
    assert call(stack, "GET", "/accounts/42", token).status == 200
    assert call(stack, "GET", "/accounts/42", token).status == 200
    # WHEN she is revoked with the CLI, as docs/cli.md says to on the local stack
    capsys.readouterr()
    code = main(
        [
            "--endpoint-url",
            stack.urls.moto,
            "--stack",
            stack.spec.stack_name,
            "--output",
            "json",
            "revoke",
            "--sub",
            "carol",
            "--iss",
            stack.urls.issuer,
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["flushed"] is True
    # THEN the bound is made of the stack's own settings: the containers' look, not the role cache
    outputs = stack.spec.outputs
    check = int(outputs[C.OUTPUT_REVOCATION_CHECK_SECONDS])
    assert check < int(outputs[C.OUTPUT_ROLE_CACHE_TTL])
    within = STREAM_ALLOWANCE + check + SECOND_FLUSH_MARGIN
    assert out["bound"].startswith(f"{within} s: up to {STREAM_ALLOWANCE} s for the role table's stream")
    effective_by = datetime.fromisoformat(out["effective_by"].replace("Z", "+00:00")).timestamp()
    assert time.time() < effective_by <= time.time() + within + 1
    # AND a request right away may still be allowed by an authorizer that has not looked at the
    # change log yet, and that answer is cached by the gateway for its 300 s (the role-events
    # function's second flush clears it)
    call(stack, "GET", "/accounts/42", token)
    # AND from effective_by on, the token is refused
    time.sleep(max(0.0, effective_by - time.time()))
    assert call(stack, "GET", "/accounts/42", token).status == 401
    assert call(stack, "GET", "/accounts", token).status == 401
