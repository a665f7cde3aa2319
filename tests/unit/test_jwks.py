"""Tests of :class:`JwksCache`: which keys may verify a token, and how rarely the endpoint is asked.

GIVEN an issuer whose JWKS (or discovery document) is served by :class:`FakeKeyEndpoint` and a
settable clock, WHEN tokens name known, unknown or missing ``kid``s while the endpoint works, fails or
is slow, THEN the fetch count stays within the cooldown / max-age / single-flight rules, stale keys are
served only within ``jwks_max_stale_seconds``, and an unavailable key set is a 500 (never a 401).

No test here opens a socket (an autouse fixture makes any attempt fail).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any

import pytest

from edgeauth.core.errors import AuthenticationError, JwksUnavailableError
from edgeauth.core.jwks import MAX_KEYS, JwksCache, KeyEntry, parse_jwks
from edgeauth.core.settings import IssuerSettings, parse_issuer
from tests.support.fakes import Clock, FakeKeyEndpoint
from tests.support.tokens import AUDIENCE, ISSUER, SigningKey, b64url, jwks, make_key, rsa_key

JWKS_URL = "https://idp.example.com/jwks.json"
DISCOVERY_URL = "https://idp.example.com/.well-known/openid-configuration"


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def issuer(**overrides: Any) -> IssuerSettings:
    cfg: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "jwks_uri": JWKS_URL,
        "algorithms": ["RS256", "PS256", "ES256", "ES384", "EdDSA"],
        "jwks_max_age_seconds": 3600,
        "jwks_cooldown_seconds": 30,
        "jwks_max_stale_seconds": 600,
    }
    cfg.update(overrides)
    if cfg.get("discovery"):
        cfg.pop("jwks_uri", None)
    return parse_issuer(cfg)


class Keys:
    """A JwksCache with its fake endpoint and clock, and a record of on_fetch callbacks."""

    def __init__(self, *keys: SigningKey, **overrides: Any) -> None:
        self.clock = Clock()
        self.endpoint = FakeKeyEndpoint({JWKS_URL: jwks(*keys)})
        self.outcomes: list[tuple[str, bool]] = []
        self.cache = JwksCache(
            issuer(**overrides),
            self.endpoint,
            clock=self.clock,
            on_fetch=lambda i, ok: self.outcomes.append((i, ok)),
        )

    def publish(self, *keys: SigningKey) -> None:
        self.endpoint.documents[JWKS_URL] = jwks(*keys)

    def kids(self, kid: str | None, alg: str = "RS256") -> list[str | None]:
        return [e.kid for e in self.cache.candidates(kid, alg)]

    def refused(self, kid: str | None, reason: str, alg: str = "RS256") -> AuthenticationError:
        with pytest.raises(AuthenticationError) as info:
            self.cache.candidates(kid, alg)
        assert info.value.reason == reason, info.value
        return info.value


@pytest.fixture
def k1() -> SigningKey:
    return make_key("RS256", "k1")


# -- key fitness ---------------------------------------------------------------------------------------


def entry(key: SigningKey, **jwk: Any) -> KeyEntry:
    data = key.public_jwk() | jwk
    return KeyEntry(data.get("kid"), {k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize(
    ("key_alg", "jwk", "token_alg", "problem"),
    [
        ("RS256", {}, "RS256", None),
        ("RS256", {}, "RS512", None),
        ("RS256", {}, "PS384", None),
        ("RS256", {}, "ES256", "key type"),
        ("RS256", {}, "EdDSA", "key type"),
        ("ES256", {}, "ES256", None),
        ("ES256", {}, "ES384", "curve"),
        ("ES256", {}, "ES512", "curve"),
        ("ES256", {}, "RS256", "key type"),
        ("ES384", {}, "ES256", "curve"),
        ("ES512", {}, "ES512", None),
        ("EdDSA", {}, "EdDSA", None),
        ("EdDSA", {}, "ES256", "key type"),
        ("EdDSA", {"crv": "X25519"}, "EdDSA", "curve"),
        ("RS256", {"alg": "RS256"}, "RS256", None),
        ("RS256", {"alg": "RS256"}, "PS256", "key is for"),
        ("RS256", {"alg": "HS256"}, "RS256", "key is for"),
        ("RS256", {"use": "sig"}, "RS256", None),
        ("RS256", {"use": "enc"}, "RS256", "use"),
        ("RS256", {"use": None, "key_ops": ["verify"]}, "RS256", None),
        ("RS256", {"key_ops": ["encrypt", "wrapKey"]}, "RS256", "key_ops"),
        ("RS256", {"key_ops": "verify"}, "RS256", "key_ops"),
        ("RS256", {"kty": "rsa"}, "RS256", "key type"),
        ("RS256", {"kty": "oct"}, "RS256", "key type"),
        ("RS256", {"d": "AQAB"}, "RS256", "private"),
        ("RS256", {"k": "AQAB"}, "RS256", "private"),
        ("ES256", {"d": "AQAB"}, "ES256", "private"),
        ("EdDSA", {"d": "AQAB"}, "EdDSA", "private"),
        ("RS256", {"n": "!!!"}, "RS256", "parse"),
        ("ES256", {"x": b64url(b"\x01" * 32)}, "ES256", "parse"),  # not a point on the curve
    ],
)
def test_key_fitness(key_alg: str, jwk: dict[str, Any], token_alg: str, problem: str | None) -> None:
    e = entry(make_key(key_alg, "k"), **jwk)
    found = e.problem_for(token_alg)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_rsa_1024_bit_key_is_unfit_and_2048_is_fit() -> None:
    small = SigningKey("small", "RS256", rsa_key(1024))
    assert "1024 bits" in (entry(small).problem_for("RS256") or "")
    assert entry(make_key("RS256", "big")).problem_for("RS256") is None


def test_fitness_is_remembered_per_alg() -> None:
    e = entry(make_key("ES256", "k"))
    assert e.problem_for("ES256") is None
    assert e.problem_for("ES384") is not None
    assert set(e._problem_by_alg) == {"ES256", "ES384"}


# -- parse_jwks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"keys": {}}',
        b'{"no_keys": []}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"keys": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["text", "empty", "binary", "array", "keys-object", "no-keys", "nested", "nested-keys"],
)
def test_a_body_that_is_not_a_jwks_is_a_fetch_failure(body: bytes) -> None:
    with pytest.raises(JwksUnavailableError):
        parse_jwks(body)


def test_too_many_keys_is_refused(k1: SigningKey) -> None:
    jwk = k1.public_jwk()
    assert len(parse_jwks(json.dumps({"keys": [jwk] * MAX_KEYS}).encode())) == MAX_KEYS
    with pytest.raises(JwksUnavailableError):
        parse_jwks(json.dumps({"keys": [jwk] * (MAX_KEYS + 1)}).encode())


def test_entries_that_are_not_jwks_are_skipped_and_non_string_kids_dropped(k1: SigningKey) -> None:
    good = k1.public_jwk()
    body = json.dumps({"keys": [1, "x", None, {"kid": "no-kty"}, {"kty": 1}, good, good | {"kid": 7}]})
    entries = parse_jwks(body.encode())
    assert [e.kid for e in entries] == ["k1", None]


# -- lookups -----------------------------------------------------------------------------------------


def test_known_kid_is_served_from_one_fetch(k1: SigningKey) -> None:
    keys = Keys(k1)
    for _ in range(100):
        assert keys.kids("k1") == ["k1"]
    assert keys.endpoint.calls == [JWKS_URL]
    assert keys.outcomes == [(ISSUER, True)]


def test_missing_kid_one_key_versus_several(k1: SigningKey) -> None:
    assert Keys(k1).kids(None) == ["k1"]
    keys = Keys(k1, make_key("RS256", "k2", slot=1))
    keys.refused(None, "missing_kid")


def test_missing_kid_counts_every_published_key_even_unusable_ones(k1: SigningKey) -> None:
    keys = Keys(k1, make_key("ES256", "ec"))
    keys.refused(None, "missing_kid")


def test_unknown_kid_is_a_401_when_the_endpoint_is_healthy(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    keys.clock.advance(30)
    keys.refused("nope", "unknown_kid")
    assert len(keys.endpoint.calls) == 2  # one re-fetch, the cooldown had passed


def test_every_key_under_a_shared_kid_that_fits_is_a_candidate_in_jwks_order(k1: SigningKey) -> None:
    """Deliberate choice (SECURITY.md): two keys may share a kid (RFC 7517 §4.5 only says SHOULD be
    distinct; issuers do it during rotation); each one that fits the alg is tried, in JWKS order."""
    other = make_key("RS256", "k1", slot=1)
    keys = Keys(k1, other, make_key("ES256", "k1"))
    candidates = keys.cache.candidates("k1", "RS256")
    assert [c.jwk["n"] for c in candidates] == [k1.public_jwk()["n"], other.public_jwk()["n"]]


def test_duplicate_kid_returns_only_the_keys_that_fit(k1: SigningKey) -> None:
    ec_key = make_key("ES256", "k1")
    keys = Keys(ec_key, k1)
    assert [e.jwk["kty"] for e in keys.cache.candidates("k1", "RS256")] == ["RSA"]
    assert [e.jwk["kty"] for e in keys.cache.candidates("k1", "ES256")] == ["EC"]


def test_key_mismatch_reason_says_what_is_wrong(k1: SigningKey) -> None:
    keys = Keys(make_key("ES256", "k1"))
    err = keys.refused("k1", "key_mismatch", alg="RS256")
    assert "key type" in err.detail


# -- unknown-kid flood and cooldown ------------------------------------------------------------------


def test_a_flood_of_random_kids_causes_at_most_one_fetch_per_cooldown(k1: SigningKey) -> None:
    # GIVEN a warm cache
    keys = Keys(k1)
    keys.kids("k1")
    # WHEN 10 000 random kids arrive over 300 s (one every 30 ms)
    for i in range(10_000):
        keys.refused(uuid.uuid4().hex, "unknown_kid")
        if i % 1000 == 999:
            assert keys.kids("k1") == ["k1"]  # the real key keeps working throughout
        keys.clock.advance(0.03)
    # THEN at most one fetch per 30 s cooldown (plus the first)
    assert len(keys.endpoint.calls) <= 1 + 300 // 30
    assert keys.cache.fetch_count == len(keys.endpoint.calls)


def test_no_fetch_within_the_cooldown_however_many_unknown_kids(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    for i in range(1000):
        keys.refused(f"kid-{i}", "unknown_kid")
    keys.clock.advance(29.9)
    keys.refused("kid-x", "unknown_kid")
    assert len(keys.endpoint.calls) == 1
    keys.clock.advance(0.1)
    keys.refused("kid-y", "unknown_kid")
    assert len(keys.endpoint.calls) == 2


def test_a_new_kid_is_picked_up_after_the_cooldown(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    k2 = make_key("RS256", "k2", slot=1)
    keys.publish(k1, k2)
    keys.refused("k2", "unknown_kid")  # within cooldown: not fetched yet
    keys.clock.advance(30)
    assert keys.kids("k2") == ["k2"]
    assert len(keys.endpoint.calls) == 2


# -- max age, stale serving, failing closed ----------------------------------------------------------


def test_set_is_refreshed_after_max_age_and_not_before(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    keys.clock.advance(3600)
    keys.kids("k1")
    assert len(keys.endpoint.calls) == 1
    keys.clock.advance(1)
    keys.kids("k1")
    assert len(keys.endpoint.calls) == 2
    keys.clock.advance(3600)
    assert len(keys.endpoint.calls) == 2  # nothing happens without a lookup


def test_max_age_refresh_drops_a_withdrawn_key(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    keys.publish(make_key("RS256", "k2", slot=1))
    keys.clock.advance(3601)
    keys.refused("k1", "unknown_kid")


def test_known_keys_are_served_stale_while_failing_then_fail_closed(k1: SigningKey) -> None:
    # GIVEN keys fetched at t0, max age 3600 s, max stale 600 s
    keys = Keys(k1)
    keys.kids("k1")
    keys.endpoint.failing = True
    # WHEN the endpoint fails after the max age THEN the known key is still served ...
    keys.clock.advance(3601)
    assert keys.kids("k1") == ["k1"]
    keys.clock.advance(600 - 1)  # exactly max age + max stale
    assert keys.kids("k1") == ["k1"]
    # ... with at most one attempt per cooldown
    assert len(keys.endpoint.calls) <= 2 + 599 // 30
    # ... and one second later the issuer fails closed (a 500, not a 401)
    keys.clock.advance(1)
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    assert (ISSUER, False) in keys.outcomes


def test_max_stale_zero_fails_closed_as_soon_as_a_refresh_fails(k1: SigningKey) -> None:
    keys = Keys(k1, jwks_max_stale_seconds=0)
    keys.kids("k1")
    keys.endpoint.failing = True
    keys.clock.advance(3601)
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")


def test_recovery_after_an_outage(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    keys.endpoint.failing = True
    keys.clock.advance(3601 + 601)
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    keys.endpoint.failing = False
    keys.clock.advance(30)
    assert keys.kids("k1") == ["k1"]
    assert keys.outcomes[-1] == (ISSUER, True)


def test_unknown_kid_while_the_endpoint_fails_is_a_500_not_a_401(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.kids("k1")
    keys.endpoint.failing = True
    keys.clock.advance(30)
    with pytest.raises(JwksUnavailableError) as info:
        keys.cache.candidates("rotated-in", "RS256")
    assert not isinstance(info.value, AuthenticationError)
    # its own reason: a flood of random kids during an outage is told apart from the outage itself
    assert info.value.reason == "jwks_unavailable_unknown_kid"
    # and within the cooldown, still a 500 without another attempt
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("rotated-in", "RS256")
    assert len(keys.endpoint.calls) == 2
    assert keys.kids("k1") == ["k1"]  # the known key keeps working


def test_never_fetched_and_failing_is_a_500_with_one_attempt_per_cooldown(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.endpoint.failing = True
    for kid in ("k1", None, "other"):
        with pytest.raises(JwksUnavailableError) as info:
            keys.cache.candidates(kid, "RS256")
        assert info.value.reason == "jwks_unavailable"  # no keys at all: not the unknown-kid case
    assert len(keys.endpoint.calls) == 1
    keys.clock.advance(30)
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    assert len(keys.endpoint.calls) == 2


def test_a_fetch_that_returns_garbage_counts_as_a_failure(k1: SigningKey) -> None:
    keys = Keys(k1)
    keys.endpoint.documents[JWKS_URL] = b"[" * 50_000
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    assert keys.outcomes == [(ISSUER, False)]


def test_the_size_cap_is_passed_to_the_fetcher(k1: SigningKey) -> None:
    keys = Keys(k1, jwks_max_bytes=1024)
    keys.endpoint.documents[JWKS_URL] = json.dumps({"keys": [k1.public_jwk()] * 5}).encode()
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")


# -- rotation and current() ------------------------------------------------------------------------


def test_unchanged_keys_keep_their_identity_across_refreshes_and_withdrawn_ones_are_not_current(
    k1: SigningKey,
) -> None:
    keys = Keys(k1)
    first = keys.cache.candidates("k1", "RS256")[0]
    assert keys.cache.current(first)
    k2 = make_key("RS256", "k2", slot=1)
    keys.publish(k1, k2)
    keys.clock.advance(30)
    keys.kids("k2")
    assert keys.cache.candidates("k1", "RS256")[0] is first and keys.cache.current(first)
    keys.publish(k2)
    keys.clock.advance(3601)  # k2 is known: only the max age makes the cache look again
    keys.kids("k2")
    assert not keys.cache.current(first)


def test_a_key_republished_under_the_same_kid_with_new_material_is_not_current(k1: SigningKey) -> None:
    keys = Keys(k1)
    first = keys.cache.candidates("k1", "RS256")[0]
    keys.publish(make_key("RS256", "k1", slot=1))
    keys.clock.advance(3601)
    keys.kids("k1")
    assert not keys.cache.current(first)


def test_current_is_false_once_the_set_is_older_than_max_age(k1: SigningKey) -> None:
    # so that the token cache falls back to a full verification, which refreshes the set
    keys = Keys(k1)
    first = keys.cache.candidates("k1", "RS256")[0]
    keys.clock.advance(3600)
    assert keys.cache.current(first)
    keys.clock.advance(1)
    assert not keys.cache.current(first)
    keys.kids("k1")
    assert keys.cache.current(first)


# -- one fetch in flight ---------------------------------------------------------------------------


class SlowEndpoint(FakeKeyEndpoint):
    """Counts concurrent calls; each call takes ``delay`` seconds."""

    def __init__(self, documents: dict[str, bytes], delay: float) -> None:
        super().__init__(documents)
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._guard = threading.Lock()

    def __call__(self, url: str, timeout: float, max_bytes: int) -> bytes:
        with self._guard:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return super().__call__(url, timeout, max_bytes)
        finally:
            with self._guard:
                self.in_flight -= 1


def run_concurrently(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=5)
        try:
            results[i] = work(i)
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.parametrize("warm", [False, True])
def test_one_fetch_in_flight_under_concurrent_lookups(k1: SigningKey, warm: bool) -> None:
    # GIVEN a slow endpoint (cold cache, or warm cache and a kid that needs a re-fetch)
    k2 = make_key("RS256", "k2", slot=1)
    endpoint = SlowEndpoint({JWKS_URL: jwks(k1, k2) if not warm else jwks(k1)}, delay=0.2)
    clock = Clock()
    cache = JwksCache(issuer(), endpoint, clock=clock)
    if warm:
        cache.candidates("k1", "RS256")
        endpoint.documents[JWKS_URL] = jwks(k1, k2)
        clock.advance(30)
    calls_before = len(endpoint.calls)
    # WHEN 16 threads released together all need k2
    results = run_concurrently(16, lambda i: [e.kid for e in cache.candidates("k2", "RS256")])
    # THEN exactly one fetch was made, and every thread got the key from it
    assert len(endpoint.calls) - calls_before == 1
    assert endpoint.max_in_flight == 1
    assert results == [["k2"]] * 16


def test_one_fetch_even_when_a_thread_passes_the_cooldown_check_just_before_another_fetches(
    k1: SigningKey,
) -> None:
    # GIVEN thread B has seen "may fetch" (no attempt yet) but is paused before taking the lock,
    # while thread A performs the fetch
    endpoint = SlowEndpoint({JWKS_URL: jwks(k1)}, delay=0.0)
    cache = JwksCache(issuer(), endpoint, clock=Clock())
    a_fetching, b_checked = threading.Event(), threading.Event()
    original_may_fetch = cache._may_fetch

    def may_fetch_b(now: float) -> bool:
        allowed = original_may_fetch(now)
        if threading.current_thread().name == "B" and not b_checked.is_set():
            b_checked.set()
            assert a_fetching.wait(5)
            time.sleep(0.05)  # let A finish its fetch
        return allowed

    endpoint.on_call = lambda url: a_fetching.set()
    cache._may_fetch = may_fetch_b  # type: ignore[method-assign]
    b = threading.Thread(target=cache.candidates, args=("k1", "RS256"), name="B")
    b.start()
    assert b_checked.wait(5)
    cache.candidates("k1", "RS256")  # thread A (main)
    b.join(5)
    # THEN B used A's result instead of fetching again
    assert endpoint.calls == [JWKS_URL]


# -- discovery -----------------------------------------------------------------------------------


def discovery_doc(**overrides: Any) -> bytes:
    doc = {"issuer": ISSUER, "jwks_uri": JWKS_URL, "id_token_signing_alg_values_supported": ["RS256"]}
    doc.update(overrides)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def discovering(k1: SigningKey, doc: bytes) -> Keys:
    keys = Keys(k1, discovery=True)
    keys.endpoint.documents[DISCOVERY_URL] = doc
    return keys


def test_discovery_finds_the_jwks_uri_once(k1: SigningKey) -> None:
    keys = discovering(k1, discovery_doc())
    assert keys.kids("k1") == ["k1"]
    keys.clock.advance(3601)
    keys.kids("k1")
    assert keys.endpoint.calls == [DISCOVERY_URL, JWKS_URL, JWKS_URL]


@pytest.mark.parametrize(
    "named",
    [
        "https://idp.example.com",  # near miss: the configured issuer has a trailing slash
        "https://evil.example.com/",
        "HTTPS://IDP.EXAMPLE.COM/",
        None,
        ["https://idp.example.com/"],
    ],
)
def test_discovery_document_naming_another_issuer_is_refused(k1: SigningKey, named: Any) -> None:
    keys = discovering(k1, discovery_doc(issuer=named))
    keys.endpoint.documents["https://evil.example.com/jwks.json"] = jwks(k1)
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    assert keys.endpoint.calls == [DISCOVERY_URL]


@pytest.mark.parametrize(
    "jwks_uri",
    [
        "http://idp.example.com/jwks.json",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://idp.example.com/jwks.json",
        "//idp.example.com/jwks.json",
        "/jwks.json",
        "https://idp.example.com:99999/jwks.json",
        "",
        None,
        123,
    ],
)
def test_discovery_jwks_uri_must_be_https_or_loopback(k1: SigningKey, jwks_uri: Any) -> None:
    keys = discovering(k1, discovery_doc(jwks_uri=jwks_uri))
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    assert keys.endpoint.calls == [DISCOVERY_URL]


def test_discovery_jwks_uri_on_loopback_http_is_allowed(k1: SigningKey) -> None:
    local = "http://127.0.0.1:8080/jwks.json"
    keys = discovering(k1, discovery_doc(jwks_uri=local))
    keys.endpoint.documents[local] = jwks(k1)
    assert keys.kids("k1") == ["k1"]
    assert keys.endpoint.calls == [DISCOVERY_URL, local]


@pytest.mark.parametrize("doc", [b"not json", b"[]", b"[" * 50_000, b'"https://idp.example.com/"'])
def test_discovery_document_that_is_not_an_object_is_a_fetch_failure(k1: SigningKey, doc: bytes) -> None:
    keys = discovering(k1, doc)
    with pytest.raises(JwksUnavailableError):
        keys.cache.candidates("k1", "RS256")
    assert keys.outcomes == [(ISSUER, False)]
