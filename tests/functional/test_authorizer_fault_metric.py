"""The authorizer fault alarm's metric filter, run on the authorizer's own audit lines.

CloudWatch Logs evaluates the filter pattern in AWS only (moto ignores patterns), so this test
evaluates the shipped pattern itself on the lines the real authorizer writes: every 500 outcome
(role table fault, JWKS endpoint down, malformed event) matches; allows, 403s and 401s never do.
The pattern is checked to be nothing but ``$.field = "value"`` terms joined by ``&&`` first, so the
small evaluator below cannot be wrong about a construct it does not know.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from edgeauth.authorizer import Unauthorized
from edgeauth.bootstrap import build_authorizer
from edgeauth.core.errors import EdgeAuthError
from infra.constructs.monitoring import AUTHORIZER_FAULTS_PATTERN
from tests.conftest import issuer_env, put_item, put_role
from tests.support.events import authorizer_event
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import ISSUER, claims, jwks, make_key, sign

JWKS_URL = "https://idp.example.com/jwks.json"
_TERM = r'\(\$\.(\w+) = "([^"\\]*)"\)'


def matches(pattern: str, line: str) -> bool:
    """CloudWatch's JSON filter semantics for ``{ (term) && (term) ... }`` with string equality."""
    assert re.fullmatch(rf"\{{ {_TERM}( && {_TERM})* \}}", pattern), pattern
    event = json.loads(line)
    return all(event.get(field) == value for field, value in re.findall(_TERM, pattern))


class Lines:
    def __init__(self, dynamodb: Any) -> None:
        self.key = make_key("RS256", "k1")
        self.endpoint = FakeKeyEndpoint({JWKS_URL: jwks(self.key)})
        self.lines: list[str] = []
        self.authorizer = build_authorizer(
            issuer_env(),
            emit=self.lines.append,
            fetch=self.endpoint,
            dynamodb_client=dynamodb,
            on_jwks_fetch=None,
        )

    def line_of(self, event: dict[str, Any]) -> str:
        before = len(self.lines)
        with contextlib.suppress(Unauthorized, EdgeAuthError):
            self.authorizer.authorize(event)
        assert len(self.lines) == before + 1
        return self.lines[-1]


@pytest.fixture
def lines(dynamodb: Any) -> Lines:
    put_role(dynamodb, "reader", allow=["GET /accounts", "GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    return Lines(dynamodb)


def bearer(lines: Lines, sub: str = "carol") -> str:
    return f"Bearer {sign(lines.key, claims(sub=sub))}"


def test_allow_deny_and_unauthorized_lines_do_not_count(lines: Lines) -> None:
    pattern = AUTHORIZER_FAULTS_PATTERN.log_pattern_string
    allow = lines.line_of(authorizer_event(authorization=bearer(lines)))
    deny = lines.line_of(
        authorizer_event("PUT", "/admin/config", "/admin/config", authorization=bearer(lines))
    )
    unauthorized = lines.line_of(authorizer_event(authorization="Bearer not.a.token"))
    missing = lines.line_of(authorizer_event())
    decisions = [json.loads(x)["decision"] for x in (allow, deny, unauthorized, missing)]
    assert decisions == ["allow", "deny", "unauthorized", "unauthorized"]
    assert not any(matches(pattern, x) for x in (allow, deny, unauthorized, missing))


def test_every_500_outcome_counts_once_under_its_api(lines: Lines, dynamodb: Any) -> None:
    pattern = AUTHORIZER_FAULTS_PATTERN.log_pattern_string

    def throttled(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "BatchGetItem",
        )

    # The issuer's JWKS endpoint is down when its keys are first needed (a container of its own:
    # the JWKS cache remembers the failure).
    cold = Lines(dynamodb)
    cold.endpoint.failing = True
    jwks_down = cold.line_of(authorizer_event(authorization=bearer(cold)))

    real_client = lines.authorizer.store._client
    lines.authorizer.store._client = type(
        "C", (), {"batch_get_item": staticmethod(throttled), "get_item": staticmethod(real_client.get_item)}
    )()
    role_table = lines.line_of(authorizer_event(authorization=bearer(lines)))
    lines.authorizer.store._client = real_client

    # A resource path that is no template (API Gateway never sends one): a 500 with a line.
    bad_event = lines.line_of(authorizer_event(resource="accounts", authorization=bearer(lines)))

    for line, reason in (
        (role_table, "role_store_unavailable"),
        (jwks_down, "jwks_unavailable"),
        (bad_event, "bad_event"),
    ):
        event = json.loads(line)
        assert (event["decision"], event["reason"]) == ("error", reason)
        assert matches(pattern, line), reason
        # The metric's ApiId dimension comes from this field: the alarm's API.
        assert event["api_id"] == "abc123"
