"""Per-issuer JWKS cache: which key verifies a token, fetched as rarely as safety allows.

Rules (docs/authorizer.md "Keys and the JWKS cache"):

* keys are fetched at most once per ``jwks_cooldown_seconds`` (≥ 10 s) because of unknown ``kid``s,
  so a flood of random ``kid``s causes no fetch storm;
* the set is refreshed after ``jwks_max_age_seconds``; while the endpoint fails, known keys are
  served stale for at most ``jwks_max_stale_seconds`` more, then the issuer fails closed;
* one fetch is in flight per issuer; concurrent callers wait for it and use its result;
* a key is used only if it fits the token's ``alg``: key type, curve, ``use`` (``sig``), ``key_ops``
  (``verify``), the JWK's own ``alg``; RSA keys under 2048 bits and private keys are refused;
* a token without ``kid`` is accepted only when the issuer publishes exactly one key.

The network is not touched here: a ``fetch(url, timeout, max_bytes) -> bytes`` callable is injected
(see :mod:`edgeauth.adapters.jwks_fetcher`). It raises :class:`JwksUnavailableError` on any failure.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from edgeauth.core.errors import AuthenticationError, JwksUnavailableError, JwksUnknownKidError
from edgeauth.core.jose import EC_CURVES, OKP_CURVES, PRIVATE_MEMBERS, public_key
from edgeauth.core.settings import IssuerSettings, validate_key_url

Fetch = Callable[[str, float, int], bytes]

MIN_RSA_BITS = 2048
MAX_KEYS = 100


def _family(alg: str) -> str:
    if alg.startswith(("RS", "PS")):
        return "RSA"
    if alg.startswith("ES"):
        return "EC"
    return "OKP"


class KeyEntry:
    """One JWK of an issuer; the cryptography key object is built on first use only."""

    __slots__ = ("_key", "_problem_by_alg", "jwk", "kid")

    def __init__(self, kid: str | None, jwk: dict[str, Any]) -> None:
        self.kid = kid
        self.jwk = jwk
        self._key: Any = None
        self._problem_by_alg: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"KeyEntry(kid={self.kid!r}, kty={self.jwk.get('kty')!r})"

    def problem_for(self, alg: str) -> str | None:
        """Why this key must not verify a token with ``alg`` (``None`` when it may)."""
        if alg in self._problem_by_alg:
            return self._problem_by_alg[alg]
        problem = self._check(alg)
        self._problem_by_alg[alg] = problem
        return problem

    def _check(self, alg: str) -> str | None:
        jwk = self.jwk
        family = _family(alg)
        if jwk.get("kty") != family:
            return f"key type {jwk.get('kty')!r} does not fit {alg}"
        if PRIVATE_MEMBERS & jwk.keys():
            return "the JWKS publishes private key material"
        if "use" in jwk and jwk["use"] != "sig":
            return f"key use {jwk['use']!r} is not 'sig'"
        if "key_ops" in jwk and (not isinstance(jwk["key_ops"], list) or "verify" not in jwk["key_ops"]):
            return "key_ops does not include 'verify'"
        if "alg" in jwk and jwk["alg"] != alg:
            return f"key is for {jwk['alg']!r}, token uses {alg}"
        if family == "EC" and jwk.get("crv") != EC_CURVES[alg]:
            return f"curve {jwk.get('crv')!r} does not fit {alg}"
        if family == "OKP" and jwk.get("crv") not in OKP_CURVES:
            return f"curve {jwk.get('crv')!r} is not an EdDSA curve"
        try:
            key = self.key()
        except Exception:
            return "the key does not parse"
        if family == "RSA" and key.key_size < MIN_RSA_BITS:
            return f"RSA key of {key.key_size} bits is under {MIN_RSA_BITS}"
        return None

    def key(self) -> Any:
        if self._key is None:
            self._key = public_key(self.jwk)
        return self._key


def parse_jwks(body: bytes) -> list[KeyEntry]:
    """Parse a JWKS document. Raises :class:`JwksUnavailableError` when it is not one."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        # RecursionError: deeply nested arrays; it must count as a failed fetch, not escape it.
        raise JwksUnavailableError("JWKS is not valid JSON") from e
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise JwksUnavailableError("JWKS has no 'keys' list")
    if len(keys) > MAX_KEYS:
        raise JwksUnavailableError(f"JWKS has more than {MAX_KEYS} keys")
    entries = []
    for raw in keys:
        if not isinstance(raw, dict) or not isinstance(raw.get("kty"), str):
            continue  # not a JWK; ignored rather than failing the whole set
        kid = raw.get("kid")
        entries.append(KeyEntry(kid if isinstance(kid, str) else None, raw))
    return entries


class JwksCache:
    """The keys of one issuer. Thread-safe; one fetch in flight at a time."""

    def __init__(
        self,
        issuer: IssuerSettings,
        fetch: Fetch,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.issuer = issuer
        self._fetch = fetch
        self._clock = clock
        self._on_fetch = on_fetch
        self._entries: list[KeyEntry] | None = None
        self._by_kid: dict[str | None, list[KeyEntry]] = {}
        self._fetched_at = 0.0
        self._last_attempt: float | None = None
        self._last_failed = False
        self._jwks_uri: str | None = issuer.jwks_uri
        self._lock = threading.Lock()
        self.fetch_count = 0

    # -- lookups --------------------------------------------------------------------------------

    def candidates(self, kid: str | None, alg: str) -> list[KeyEntry]:
        """Keys that may verify a token with this ``kid`` and ``alg`` (at least one, or raises).

        Raises :class:`AuthenticationError` (``unknown_kid``, ``missing_kid``, ``key_mismatch``) when
        the issuer's current keys rule the token out, and :class:`JwksUnavailableError` when they
        cannot be known: :class:`JwksUnknownKidError` when the keys are known but not this ``kid``
        and the endpoint is failing (so the ``kid`` cannot be ruled out).

        Every key published under ``kid`` that fits ``alg`` is a candidate, in the JWKS's order
        (two keys may share a ``kid``: SECURITY.md, "Deliberate choices").
        """
        now = self._clock()
        if self._entries is None or now - self._fetched_at > self.issuer.jwks_max_age_seconds:
            self._fetch_or_wait(now)
        if self._entries is None:
            raise JwksUnavailableError("issuer keys were never fetched successfully")
        age = now - self._fetched_at
        if age > self.issuer.jwks_max_age_seconds + self.issuer.jwks_max_stale_seconds:
            raise JwksUnavailableError("issuer keys are stale beyond jwks_max_stale_seconds")

        if kid is None:
            if len(self._entries) != 1:
                raise AuthenticationError("missing_kid", "token has no kid and the issuer has several keys")
            found = self._entries
        else:
            found = self._by_kid.get(kid, [])
            if not found:
                self._fetch_or_wait(now)
                found = self._by_kid.get(kid, [])
            if not found:
                if self._last_failed:
                    raise JwksUnknownKidError("unknown kid and the JWKS endpoint is failing")
                raise AuthenticationError("unknown_kid", "no key with this kid")
        usable = [e for e in found if e.problem_for(alg) is None]
        if not usable:
            raise AuthenticationError("key_mismatch", found[0].problem_for(alg) or "")
        return usable

    def current(self, entry: KeyEntry) -> bool:
        """Whether ``entry`` is still published (used to expire cached verifications on rotation).

        ``False`` also once the key set is older than ``jwks_max_age_seconds``: the caller then
        verifies in full, which refreshes the set. Without this, a token served from the token cache
        never triggered a refresh, so a key the issuer had withdrawn kept being trusted for cached
        tokens (until their ``exp``) and the ``jwks_max_stale_seconds`` bound did not apply to them.
        """
        if self._clock() - self._fetched_at > self.issuer.jwks_max_age_seconds:
            return False
        return entry in self._by_kid.get(entry.kid, ())

    # -- fetching -------------------------------------------------------------------------------

    def _fetch_or_wait(self, now: float) -> None:
        """Fetch if the cooldown allows; otherwise, if a fetch is in flight, wait for its result.

        Without the wait, a caller arriving during another thread's fetch skipped it (cooldown) and
        answered from the old state: a 500 ("never fetched") on a cold cache, or a 401 (``unknown_kid``)
        for the very key the fetch in flight was installing. The wait is bounded by the fetch timeout.
        """
        if self._may_fetch(now):
            self._refresh(now)
        elif self._lock.locked():
            with self._lock:
                pass

    def _may_fetch(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self.issuer.jwks_cooldown_seconds

    def _refresh(self, started: float) -> None:
        with self._lock:
            # Re-check the cooldown under the lock: another thread may have fetched while we waited
            # (use its result). Comparing ``_last_attempt`` with a value read before the lock was not
            # enough: a thread that passed ``_may_fetch`` just before another set ``_last_attempt``,
            # and read it just after, fetched a second time.
            if not self._may_fetch(self._clock()):
                return
            self._last_attempt = self._clock()
            self.fetch_count += 1
            try:
                entries = parse_jwks(self._fetch_jwks())
            except JwksUnavailableError:
                self._last_failed = True
                if self._on_fetch:
                    self._on_fetch(self.issuer.issuer, False)
                return
            self._install(entries)
            self._fetched_at = self._clock()
            self._last_failed = False
            if self._on_fetch:
                self._on_fetch(self.issuer.issuer, True)

    def _fetch_jwks(self) -> bytes:
        issuer = self.issuer
        if self._jwks_uri is None:
            body = self._fetch(issuer.discovery_url, issuer.jwks_timeout_seconds, issuer.jwks_max_bytes)
            try:
                doc = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                raise JwksUnavailableError("discovery document is not valid JSON") from e
            if not isinstance(doc, dict) or doc.get("issuer") != issuer.issuer:
                # OIDC Discovery §4.3: the document's issuer must equal the configured one exactly.
                raise JwksUnavailableError("discovery document names another issuer")
            uri = doc.get("jwks_uri")
            try:
                self._jwks_uri = validate_key_url("jwks_uri", str(uri))
            except Exception as e:
                raise JwksUnavailableError("discovery document has no acceptable jwks_uri") from e
        return self._fetch(self._jwks_uri, issuer.jwks_timeout_seconds, issuer.jwks_max_bytes)

    def _install(self, entries: list[KeyEntry]) -> None:
        # Keep the same KeyEntry objects for unchanged keys, so cached verifications stay valid.
        old = {json.dumps(e.jwk, sort_keys=True): e for e in self._entries or ()}
        kept = [old.get(json.dumps(e.jwk, sort_keys=True), e) for e in entries]
        by_kid: dict[str | None, list[KeyEntry]] = {}
        for e in kept:
            by_kid.setdefault(e.kid, []).append(e)
        self._entries = kept
        self._by_kid = by_kid
