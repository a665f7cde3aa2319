"""Role table faults, end to end through the authorizer with the production DynamoDB client.

The client comes from the product's own factory (``edgeauth.adapters.dynamodb.client_factory``: 0.5 s
connect/read timeouts, botocore's standard retries, 3 attempts), and the fault is injected
underneath it, so its retries and timeouts are the real ones: an HTTP proxy in front of moto's
server (:class:`tests.support.dynamo_server.DynamoProxy`) answers, stays silent or drops the
connection instead of forwarding, or a real server on 127.0.0.1 that never answers.

Expected answer for every fault: an error (API Gateway answers 500 and caches nothing), never an
allow and never a Deny (a Deny would be cached), with the audit line saying why; within
:data:`BOUND` seconds; and the next request after the fault answers normally (nothing was cached
from the failure).

Already covered elsewhere (referenced from SECURITY.md): a fake client raising throttling
(``tests/functional/test_authorizer.py::test_role_table_fault_fails_closed_with_an_error_not_a_deny``),
the missing table through moto (``::test_missing_table_fails_closed``), client errors in the store
(``tests/functional/test_role_store.py::test_client_errors_fail_closed_and_nothing_is_cached``) and
unprocessed keys (``::test_unprocessed_keys_are_retried_a_bounded_number_of_times``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.bootstrap import build_authorizer
from edgeauth.core.errors import RoleStoreError
from tests.conftest import ROLE_TABLE, issuer_env, put_item, put_role
from tests.faults.support import MisbehavingServer, answer_of, elapsed, hang, last_line
from tests.support.dynamo_server import DynamoProxy, Fault, Seen, error_document
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import ISSUER, claims, jwks, make_key, sign

BOUND = 5.0
"""Seconds within which a role-table fault must be answered (docs/configuration.md: 3 attempts of ≤ 0.5 s, with
botocore's backoff in between; API Gateway gives the authorizer 29 s at most)."""
KEY = make_key("RS256", "k1")
JWKS_URL = "https://idp.example.com/jwks.json"

FAULTS: dict[str, Fault] = {
    "throttled (ProvisionedThroughputExceeded)": error_document(
        400, "ProvisionedThroughputExceededException"
    ),
    "throttled (ThrottlingException)": error_document(400, "ThrottlingException"),
    "access denied": error_document(400, "AccessDeniedException"),
    "missing table": error_document(400, "ResourceNotFoundException"),
    "internal server error": error_document(500, "InternalServerError"),
    "read timeout": Fault(hang=True),
    "connection dropped": Fault(drop=True),
}


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    """The role table on moto's server: the authorizer reads it with its own client, over HTTP."""
    return dynamodb_server


@pytest.fixture
def table(dynamodb: Any) -> Any:
    put_role(dynamodb, "reader", allow=["GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    return dynamodb


@pytest.fixture
def proxy(table: Any) -> Iterator[DynamoProxy]:
    p = DynamoProxy(table.meta.endpoint_url)
    try:
        yield p
    finally:
        p.close()


def _authorizer(lines: list[str], endpoint_url: str) -> Any:
    # No dynamodb_client: the product's factory builds the client, as the handler's build does.
    return build_authorizer(
        {**issuer_env(), C.ENV_ENDPOINT_URL: endpoint_url},
        emit=lines.append,
        fetch=FakeKeyEndpoint({JWKS_URL: jwks(KEY)}),
        on_jwks_fetch=None,
    )


def _batch_gets(inject: Fault, calls: list[int]) -> Callable[[Seen], Fault | None]:
    def fault(seen: Seen) -> Fault | None:
        if not seen.target.endswith(".BatchGetItem"):
            return None
        calls.append(1)
        return inject

    return fault


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_role_table_fault_is_an_error_within_the_bound_and_never_an_allow(
    proxy: DynamoProxy, fault: str
) -> None:
    lines: list[str] = []
    authorizer = _authorizer(lines, proxy.url)
    token = sign(KEY, claims(sub="carol"))
    calls: list[int] = []
    proxy.fault = _batch_gets(FAULTS[fault], calls)
    with elapsed() as t:
        outcome, exc = answer_of(authorizer, token)
    assert outcome == "error" and isinstance(exc, RoleStoreError), (outcome, exc)
    assert t[0] < BOUND, f"{fault}: answered after {t[0]:.2f}s"
    assert 1 <= len(calls) <= 3, f"{fault}: {len(calls)} attempts (bounded retries: at most 3)"
    line = last_line(lines)
    assert (line["decision"], line["reason"]) == ("error", "role_store_unavailable")
    # THEN once the fault is gone the very same request is answered normally: nothing was cached.
    proxy.fault = None
    assert answer_of(authorizer, token)[0] == "allow"


def test_one_throttled_attempt_is_retried_and_answered_correctly(proxy: DynamoProxy) -> None:
    lines: list[str] = []
    authorizer = _authorizer(lines, proxy.url)
    throttle = error_document(400, "ProvisionedThroughputExceededException")
    calls: list[int] = []

    def once(seen: Seen) -> Fault | None:
        calls.append(1)
        return throttle if len(calls) == 1 else None  # None: moto answers

    proxy.fault = once
    with elapsed() as t:
        assert answer_of(authorizer, sign(KEY, claims(sub="carol")))[0] == "allow"
        assert answer_of(authorizer, sign(KEY, claims(sub="mallory")))[0] == "deny"
    assert t[0] < BOUND and len(calls) >= 2


def test_a_role_table_that_accepts_but_never_answers_times_out_within_the_bound() -> None:
    """No mock: a real socket to a server on 127.0.0.1 that reads the request and says nothing. The
    production client's read timeout and retries bound the answer."""
    server = MisbehavingServer()
    server.routes["*"] = hang(server.stop)
    lines: list[str] = []
    env = {**issuer_env(), C.ENV_ENDPOINT_URL: server.url(""), C.ENV_DYNAMODB_TIMEOUT: "0.3"}
    try:
        authorizer = build_authorizer(
            env, emit=lines.append, fetch=FakeKeyEndpoint({JWKS_URL: jwks(KEY)}), on_jwks_fetch=None
        )
        with elapsed() as t:
            outcome, exc = answer_of(authorizer, sign(KEY, claims(sub="carol")))
        assert outcome == "error" and isinstance(exc, RoleStoreError), (outcome, exc)
        assert t[0] < BOUND, f"answered after {t[0]:.2f}s"
        assert 1 <= len(server.hits) <= 3, server.hits
        assert last_line(lines)["reason"] == "role_store_unavailable"
    finally:
        server.close()


def test_a_role_table_endpoint_refusing_connections_is_an_error_within_the_bound(table: Any) -> None:
    """Nothing listens at the endpoint: every attempt is refused at connect."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    lines: list[str] = []
    authorizer = _authorizer(lines, closed)
    with elapsed() as t:
        outcome, exc = answer_of(authorizer, sign(KEY, claims(sub="carol")))
    assert outcome == "error" and isinstance(exc, RoleStoreError), (outcome, exc)
    assert t[0] < BOUND
    assert (last_line(lines)["decision"], last_line(lines)["reason"]) == ("error", "role_store_unavailable")


def test_the_table_deleted_under_a_warm_container_fails_closed_once_the_role_cache_expires(
    table: Any,
) -> None:
    """Cached reads keep answering for at most the role-cache TTL (the documented bound); after it,
    the missing table is an error, never an allow from stale data."""
    from tests.support.fakes import Clock

    lines: list[str] = []
    authorizer = _authorizer(lines, table.meta.endpoint_url)
    clock = Clock(1_000.0)
    authorizer.store._clock = clock
    token = sign(KEY, claims(sub="carol"))
    assert answer_of(authorizer, token)[0] == "allow"
    table.delete_table(TableName=ROLE_TABLE)
    assert answer_of(authorizer, token)[0] == "allow"  # within the role-cache TTL: cached
    clock.advance(authorizer.store.cache_ttl + 0.001)
    with elapsed() as t:
        outcome, _ = answer_of(authorizer, token)
    assert outcome == "error" and t[0] < BOUND
