"""JWKS endpoint faults, end to end: REQUEST event → authorizer → real fetcher (``http.client``) →
a misbehaving server on 127.0.0.1 (plain http is allowed on loopback only).

Expected answers: an endpoint that fails while no usable key is known is an error (500, nothing
cached), never an allow and never a 401 (a client would throw its token away); a key the issuer
removed is a 401 as soon as the set is refreshed; known keys are served stale for
``jwks_max_stale_seconds`` only. Every answer within :data:`BOUND` seconds of the fetch timeout.

Covered at the fetcher or cache level already (referenced from SECURITY.md):
``tests/functional/test_jwks_fetcher.py`` (redirects not followed, any status but 200, a server that
never answers or trickles, size caps with and without Content-Length, chunked bodies, invalid JSON,
refused URLs, TLS failures) and ``tests/unit/test_jwks.py`` (cooldown under a flood of kids, one
fetch in flight, stale serving, withdrawn and re-published keys).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from edgeauth.adapters.jwks_fetcher import fetch
from edgeauth.core.errors import JwksUnavailableError
from tests.conftest import put_item, put_role
from tests.faults.support import (
    MisbehavingServer,
    answer_of,
    elapsed,
    hang,
    last_line,
    production_authorizer,
    send,
)
from tests.support.fakes import Clock
from tests.support.tokens import ISSUER, claims, jwks, make_key, sign

TIMEOUT = 0.5
BOUND = TIMEOUT + 1.5
K1 = make_key("RS256", "k1", slot=0)
K2 = make_key("RS256", "k2", slot=1)


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    s = MisbehavingServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    """The role table on moto's server: the authorizer reads it with its own client, over HTTP."""
    return dynamodb_server


@pytest.fixture
def table(dynamodb: Any) -> Any:
    put_role(dynamodb, "reader", allow=["GET /accounts/{id}"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    return dynamodb


def authorizer_for(server: MisbehavingServer, table: Any, lines: list[str], **issuer: Any) -> Any:
    return production_authorizer(
        lines,
        fetch,
        endpoint_url=table.meta.endpoint_url,
        jwks_uri=server.url("/jwks.json"),
        jwks_timeout_seconds=TIMEOUT,
        jwks_max_bytes=4096,
        jwks_cooldown_seconds=10,
        **issuer,
    )


def jwks_clock(authorizer: Any) -> Clock:
    """Put the issuer's key cache on a settable clock (max age, cooldown and staleness)."""
    clock = Clock(10_000.0)
    authorizer.verifier._key_sets[ISSUER]._clock = clock
    return clock


def _big() -> bytes:
    return json.dumps(
        {"keys": [{"kty": "RSA", "kid": f"pad{i}", "n": "x" * 100, "e": "AQAB"} for i in range(60)]}
    ).encode()


ENDPOINT_FAULTS = {
    "500": lambda s: send(500, b'{"message": "boom"}'),
    "503 with a JWKS body": lambda s: send(503, jwks(K1)),
    "slow (never answers)": lambda s: hang(s.stop),
    "huge body": lambda s: send(200, _big()),
    "redirect to a good JWKS": lambda s: send(302, b"", {"Location": s.url("/good.json")}),
    "invalid JSON": lambda s: send(200, b"{not json"),
    "JSON without keys": lambda s: send(200, b'{"keys": "none"}'),
    "HTML": lambda s: send(200, b"<html>login</html>", {"Content-Type": "text/html"}),
}


@pytest.mark.parametrize("fault", sorted(ENDPOINT_FAULTS))
def test_a_failing_jwks_endpoint_on_a_cold_cache_is_an_error_within_the_bound(
    server: MisbehavingServer, table: Any, fault: str
) -> None:
    server.routes["/jwks.json"] = ENDPOINT_FAULTS[fault](server)
    server.routes["/good.json"] = send(200, jwks(K1))
    lines: list[str] = []
    authorizer = authorizer_for(server, table, lines)
    with elapsed() as t:
        outcome, exc = answer_of(authorizer, sign(K1, claims(sub="carol")))
    assert outcome == "error" and isinstance(exc, JwksUnavailableError), (fault, outcome, exc)
    assert t[0] < BOUND, f"{fault}: {t[0]:.2f}s"
    assert "/good.json" not in server.hits, "a redirect was followed"
    assert (last_line(lines)["decision"], last_line(lines)["reason"]) == ("error", "jwks_unavailable")


def test_a_key_removed_by_the_issuer_is_refused_after_the_next_refresh(
    server: MisbehavingServer, table: Any
) -> None:
    server.routes["/jwks.json"] = send(200, jwks(K1, K2))
    lines: list[str] = []
    authorizer = authorizer_for(server, table, lines, jwks_max_age_seconds=300)
    clock = jwks_clock(authorizer)
    token = sign(K1, claims(sub="carol"))
    assert answer_of(authorizer, token)[0] == "allow"
    assert answer_of(authorizer, token)[0] == "allow"  # from the token cache
    # WHEN the issuer withdraws k1 and the set reaches its max age
    server.routes["/jwks.json"] = send(200, jwks(K2))
    clock.advance(301)
    with elapsed() as t:
        outcome, _ = answer_of(authorizer, token)
    # THEN the cached verification is dropped and the token refused (401, not an allow)
    assert outcome == "unauthorized" and t[0] < BOUND
    assert last_line(lines)["reason"] == "unknown_kid"
    assert answer_of(authorizer, sign(K2, claims(sub="carol")))[0] == "allow"


def test_known_keys_are_served_stale_during_an_outage_then_the_issuer_fails_closed(
    server: MisbehavingServer, table: Any
) -> None:
    server.routes["/jwks.json"] = send(200, jwks(K1))
    lines: list[str] = []
    authorizer = authorizer_for(server, table, lines, jwks_max_age_seconds=300, jwks_max_stale_seconds=600)
    clock = jwks_clock(authorizer)
    token = sign(K1, claims(sub="carol"))
    assert answer_of(authorizer, token)[0] == "allow"
    server.routes["/jwks.json"] = hang(server.stop)
    clock.advance(301)
    with elapsed() as t:
        assert answer_of(authorizer, token)[0] == "allow"  # stale but within jwks_max_stale_seconds
    assert t[0] < BOUND
    clock.advance(600)
    with elapsed() as t:
        outcome, exc = answer_of(authorizer, token)
    assert outcome == "error" and isinstance(exc, JwksUnavailableError) and t[0] < BOUND


def test_a_flood_of_unknown_kids_against_a_hanging_endpoint_is_answered_in_bounded_time_with_one_fetch(
    server: MisbehavingServer, table: Any
) -> None:
    """DoS: sixteen concurrent callers with random kids while the endpoint hangs. One fetch is made
    (the others wait for it, bounded by its timeout); each answer is an error (500: the endpoint is
    failing, so the kid cannot be ruled out), and a token of a known key is still allowed."""
    server.routes["/jwks.json"] = send(200, jwks(K1))
    lines: list[str] = []
    authorizer = authorizer_for(server, table, lines)
    clock = jwks_clock(authorizer)
    good = sign(K1, claims(sub="carol"))
    assert answer_of(authorizer, good)[0] == "allow"
    server.routes["/jwks.json"] = hang(server.stop)
    clock.advance(11)  # past the cooldown: an unknown kid may trigger one fetch
    before = len(server.hits)
    results: list[tuple[str, float]] = []
    lock = threading.Lock()

    def caller() -> None:
        forged = sign(make_key("RS256", f"kid-{uuid.uuid4().hex}", slot=2), claims(sub="carol"))
        with elapsed() as t:
            outcome, _ = answer_of(authorizer, forged)
        with lock:
            results.append((outcome, t[0]))

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(results) == 16
    assert {o for o, _ in results} == {"error"}, results
    assert max(s for _, s in results) < BOUND, results
    assert len(server.hits) - before == 1, "more than one fetch for a flood of kids"
    assert answer_of(authorizer, good)[0] == "allow"


def test_an_unknown_kid_from_a_healthy_endpoint_is_a_401_and_fetches_at_most_once_per_cooldown(
    server: MisbehavingServer, table: Any
) -> None:
    server.routes["/jwks.json"] = send(200, jwks(K1))
    lines: list[str] = []
    authorizer = authorizer_for(server, table, lines)
    jwks_clock(authorizer)
    answers = [
        answer_of(authorizer, sign(make_key("RS256", f"r{i}", slot=2), claims(sub="carol")))[0]
        for i in range(20)
    ]
    assert set(answers) == {"unauthorized"}
    assert len(server.hits) <= 2  # the first fetch, and at most one more for an unknown kid
