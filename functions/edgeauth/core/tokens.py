"""JWT access-token verification (RFC 7519, RFC 8725 best current practices).

The signature is checked by :mod:`edgeauth.core.jose` (PyJWT's algorithm operations on
``cryptography`` directly), on keys chosen by :class:`~edgeauth.core.jwks.JwksCache`. Parsing and
claim checks are done here rather than by ``jwt.decode`` for two reasons: the checks are stricter
than PyJWT's (numeric-only time claims, no NaN/Infinity, no duplicate JSON members, ``crit``
refused, ``jku``/``x5u``/``jwk``/``x5c`` never used, issuer matched before any key lookup), and
``jwt.decode`` spends two thirds of its time in a per-character base64url check written in Python
(see docs/benchmarks.md).

Order of checks: size → shape → header (``alg`` in the global asymmetric list, ``crit``) → payload
JSON → ``iss`` exact match → ``alg`` allowed for that issuer → ``typ`` → key → signature → claims.
Claims are checked only after the signature, so an audit reason such as ``expired`` is never about a
forged token.

A verified token is remembered by the SHA-256 of its signing input, with its signature, until its
``exp`` (bounded count), so a repeated token is not verified twice while valid. A cached
verification is dropped when its key is no longer published by the issuer. An ES* signature has two
spellings that verify (``s`` and ``n − s``, :func:`~edgeauth.core.jose.ecdsa_low_s`); the cache
serves both from the one entry (docs/authorizer.md "Caches" says why it does not refuse the high-s one).

A token bound to a key (RFC 7800 ``cnf``) is accepted only with a binding this authorizer can check:
``cnf`` absent, or exactly ``{"jkt": <SHA-256 JWK thumbprint>}`` (DPoP, RFC 9449 §6.1), which the
authorizer then holds the request to. Any other ``cnf`` (``x5t#S256`` of mTLS, RFC 8705; ``jwk``;
``jkt: null``; not an object) is refused (``unsupported_binding``): ignoring it would accept a token
as a bearer token that its issuer meant to be usable only with a key.
"""

from __future__ import annotations

import hashlib
import json
import json.scanner
import math
import threading
import time
from collections.abc import Callable, Mapping
from hmac import compare_digest
from typing import Any, TypeGuard, cast

from edgeauth.core.claims import ABSENT, NOT_AN_OBJECT, ClaimCheck, ClaimPath
from edgeauth.core.errors import (
    AuthenticationError,
    TokenClaimError,
    TokenParseError,
    TokenSignatureError,
)
from edgeauth.core.jose import b64url_bytes, ecdsa_low_s, verifier
from edgeauth.core.jwks import JwksCache, KeyEntry
from edgeauth.core.settings import SUPPORTED_ALGORITHMS, IssuerSettings

MAX_TOKEN_BYTES = 8192
MAX_GROUPS = 100
MAX_CLAIM_STRING = 1024
# Checked JOSE headers remembered by their base64url text (cleared when full).
MAX_CACHED_HEADERS = 64
# Header parameters this verifier understands; any name in ``crit`` is refused (RFC 7515 §4.1.11).
_UNDERSTOOD_CRIT: frozenset[str] = frozenset()


def b64url_decode(part: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2). Raises :class:`TokenParseError`.

    :func:`edgeauth.core.jose.b64url_bytes`, in C (a regex check and ``str.translate`` did the same
    at about 4× the cost, docs/benchmarks.md).
    """
    try:
        return b64url_bytes(part)
    except ValueError:  # binascii.Error and UnicodeEncodeError are ValueErrors
        raise TokenParseError("malformed_token", "not base64url") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


_decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
# The C scanner without the duplicate-member hook (a Python call per object): for flat objects only.
_scan_flat = json.scanner.make_scanner(json.JSONDecoder(parse_constant=_reject_constant))  # type: ignore[arg-type]


def _flat_object(text: str) -> dict[str, Any] | None:
    """``text`` as a JSON object when it is one flat object without duplicate members, else ``None``.

    The fast way for the usual payload (no nested object, no whitespace): the C scanner alone, then
    a duplicate check by counting. When no ``"`` is followed by whitespace, each member name ends
    with ``":``, so the count of ``":`` is at least the number of members, which is at least the
    number of distinct names; when the count equals the number of names, no name was repeated.
    Any other text (a ``"`` followed by whitespace, a count that differs because a string contains
    ``":``, a nested object, leading or trailing whitespace) returns ``None`` and goes through the
    strict decoder.
    """
    if text[:1] != "{" or "{" in text[1:] or '" ' in text or '"\t' in text or '"\n' in text or '"\r' in text:
        return None
    value, end = _scan_flat(text, 0)
    if end != len(text) or len(value) != text.count('":'):
        return None
    return value  # type: ignore[no-any-return]


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        value = _flat_object(text)
        if value is None:
            value = _decoder.decode(text)
    except (ValueError, UnicodeDecodeError, RecursionError, StopIteration):
        # RecursionError: ~6 KB of "[[[[..." nests deeper than the interpreter's recursion limit.
        # Without catching it an unauthenticated caller turns a malformed token into a 500.
        # StopIteration: the C scanner's "no value here" (``_flat_object`` calls it directly).
        raise TokenParseError("malformed_token", f"{what} is not a JSON object") from None
    if not isinstance(value, dict):
        raise TokenParseError("malformed_token", f"{what} is not a JSON object")
    return value


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token WITHOUT verifying it (for ``edgeauth explain`` only)."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenParseError("token_too_large", "token exceeds 8 KB")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenParseError("malformed_token", "not a compact JWS")
    return _json_object(b64url_decode(parts[0]), "header"), _json_object(b64url_decode(parts[1]), "payload")


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (not a bool). ``1e400`` parses to ``inf`` and ``10**400`` cannot be
    converted to a float: without the finiteness check the first made a token that never expires
    (when no maximum lifetime is configured) and the second raised OverflowError (a 500)."""
    if type(value) is not int and type(value) is not float:
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


class VerifiedToken:
    """A token whose signature and claims passed. Only what the authorizer uses is kept.

    Never changed once built. A slotted class, not a dataclass (cold start) nor a named tuple
    (slower to build and read): see ``AuthorizerRequest`` in ``edgeauth.authorizer``.
    """

    __slots__ = (
        "claims",
        "client_id",
        "exp",
        "groups",
        "iat",
        "issuer",
        "jkt",
        "jti",
        "key",
        "kid",
        "sub",
        "valid_until",
    )

    def __init__(
        self,
        issuer: IssuerSettings,
        sub: str,
        exp: float,
        valid_until: float,
        iat: float | None,
        kid: str | None,
        jti: str | None,
        groups: tuple[str, ...],
        client_id: str | None,
        claims: Mapping[str, Any],
        key: KeyEntry,
        jkt: str | None,
    ) -> None:
        self.issuer = issuer
        self.sub = sub
        self.exp = exp
        self.valid_until = valid_until  # exp + the issuer's leeway: the last moment the token is accepted
        self.iat = iat
        self.kid = kid
        self.jti = jti
        self.groups = groups
        self.client_id = client_id
        self.claims = claims
        self.key = key
        self.jkt = jkt  # the DPoP key thumbprint the token is bound to (cnf.jkt), None if unbound


class TokenVerifier:
    """Verifies compact JWS access tokens against the configured issuers."""

    def __init__(
        self,
        issuers: Mapping[str, IssuerSettings],
        key_sets: Mapping[str, JwksCache],
        *,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = issuers
        self._key_sets = key_sets
        self._clock = clock
        self._cache_size = cache_size
        # SHA-256 of the signing input -> (the signature's base64url text, its verification).
        self._cache: dict[bytes, tuple[str, VerifiedToken]] = {}
        self._lock = threading.Lock()
        # h64 -> (header, alg, kid) of headers that passed _check_header; never mutated.
        self._headers: dict[str, tuple[dict[str, Any], str, str | None]] = {}

    def verify(self, token: str) -> tuple[VerifiedToken, bool]:
        """The verified token and whether it came from the cache. Raises AuthenticationError."""
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenParseError("token_too_large", "token exceeds 8 KB")
        if not token.isascii():
            # A compact JWS is ASCII. A lone surrogate (possible in a JSON event) made encode()
            # below raise UnicodeEncodeError (a 500); ASCII-only also makes len() a byte count.
            raise TokenParseError("malformed_token", "token is not ASCII")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenParseError("malformed_token", "not a compact JWS (three parts)")
        h64, p64, s64 = parts
        signing_input = f"{h64}.{p64}".encode("ascii")
        # One SHA-256 of the signing input is both the cache key and, for the SHA-256 algorithms,
        # the digest the signature check needs (jose.verifier's ``sha256``): hashing the whole
        # token for the key and the signing input again inside OpenSSL cost a second hash.
        # The key leaves the signature out, so a hit also compares it: a cached verification is
        # only ever given to the very token that was verified, never to its header and payload
        # under another signature. In constant time (the token is ASCII, checked above): how long
        # the comparison takes says nothing about how much of a guessed signature was right.
        digest = hashlib.sha256(signing_input).digest()
        cached = self._cache.get(digest)
        if cached is not None and (compare_digest(cached[0], s64) or _other_ecdsa_spelling(cached, s64)):
            if self.still_valid(cached[1]):
                return cached[1], True
            with self._lock:
                self._cache.pop(digest, None)
        # (Another signature over a cached signing input is checked in full: a forged copy fails
        # and leaves the entry alone, so it cannot push the real token out of the cache.)
        verified = self._verify(h64, p64, s64, signing_input, digest)
        if self._cache_size > 0:
            with self._lock:
                if len(self._cache) >= self._cache_size:
                    self._evict()
                self._cache[digest] = (s64, verified)
        return verified, False

    def still_valid(self, verified: VerifiedToken) -> bool:
        """Whether a verification made earlier still holds now: the token has not expired (with
        leeway) and its key is still published by the issuer (rotation ends cached verifications)."""
        return self._clock() <= verified.valid_until and self._key_sets[verified.issuer.issuer].current(
            verified.key
        )

    def _evict(self) -> None:
        now = self._clock()
        expired = [k for k, (_, v) in self._cache.items() if v.valid_until < now]
        for k in expired:
            del self._cache[k]
        if len(self._cache) >= self._cache_size:
            # Drop the oldest half (dicts keep insertion order): bounded work, bounded memory.
            for k in list(self._cache)[: max(1, len(self._cache) // 2)]:
                del self._cache[k]

    def unverified_hint(self, token: str) -> tuple[str | None, str | None]:
        """``(iss, kid)`` as presented, for the audit line of a refused token (never trusted)."""
        try:
            header, claims = peek(token)
        except AuthenticationError:
            return None, None
        iss, kid = claims.get("iss"), header.get("kid")
        return (
            iss[:256] if isinstance(iss, str) else None,
            kid[:256] if isinstance(kid, str) else None,
        )

    def _verify(self, h64: str, p64: str, s64: str, signing_input: bytes, digest: bytes) -> VerifiedToken:
        # ``digest``: the SHA-256 of ``signing_input`` (the SHA-256 signature checks use it).
        # An issuer signs its tokens with a few headers, byte for byte the same: a header that
        # passed the checks below is remembered by its base64url text and not decoded again.
        checked = self._headers.get(h64)
        if checked is None:
            checked = _check_header(_json_object(b64url_decode(h64), "header"))
            if len(self._headers) >= MAX_CACHED_HEADERS:
                self._headers.clear()
            self._headers[h64] = checked
        header, alg, kid = checked

        claims = _json_object(b64url_decode(p64), "payload")
        iss = claims.get("iss")
        if not isinstance(iss, str):
            raise TokenClaimError("missing_claim", "iss", "a string", type(iss).__name__)
        issuer = self._issuers.get(iss)
        if issuer is None:
            raise AuthenticationError("unknown_issuer", "issuer is not trusted")
        if alg not in issuer.algorithms:
            raise TokenSignatureError("alg_not_allowed", f"{alg} is not allowed for this issuer")
        if issuer.token_type is not None:
            check_token_type(issuer, header)

        signature = b64url_decode(s64)
        algorithm = verifier(alg)
        key_entry: KeyEntry | None = None
        for candidate in self._key_sets[iss].candidates(kid, alg):
            if algorithm(candidate.key(), signing_input, signature, digest):
                key_entry = candidate
                break
        if key_entry is None:
            raise TokenSignatureError("bad_signature", "signature does not verify")

        return self._check_claims(issuer, claims, kid, key_entry)

    def _check_claims(
        self, issuer: IssuerSettings, claims: dict[str, Any], kid: str | None, key: KeyEntry
    ) -> VerifiedToken:
        return check_claims(issuer, claims, self._clock(), kid, key)


def check_claims(
    issuer: IssuerSettings, claims: dict[str, Any], now: float, kid: str | None, key: KeyEntry
) -> VerifiedToken:
    """The claim checks of a token whose signature verified, in order; the first failure raises
    :class:`TokenClaimError` (or :class:`AuthenticationError`). ``now`` is the verifier's clock."""
    # Straight-line for the usual token (docs/benchmarks.md); every branch refuses or falls
    # through, in the order: the issuer's claim checks (the kind of token first, so that an ID
    # token is refused as one, not for a claim only access tokens have), presence, time claims'
    # types, times, aud, sub, jti, scopes, groups, client.
    for check in issuer.claim_checks:
        check_claim_value(check, claims)
    if not all(map(claims.__contains__, issuer.required_claims)):
        for name in issuer.required_claims:
            if name not in claims:
                raise TokenClaimError("missing_claim", name, "present", "absent")
    get = claims.get
    exp_value, nbf, iat_value = claims["exp"], get("nbf"), get("iat")
    if not _is_number(exp_value):
        raise TokenClaimError("claim_type", "exp", "a JSON number", type(exp_value).__name__)
    # (``null`` is present but not a number: hence the ``in`` test when ``get`` gave None.)
    if (nbf is not None or "nbf" in claims) and not _is_number(nbf):
        raise TokenClaimError("claim_type", "nbf", "a JSON number", type(nbf).__name__)
    if (iat_value is not None or "iat" in claims) and not _is_number(iat_value):
        raise TokenClaimError("claim_type", "iat", "a JSON number", type(iat_value).__name__)
    leeway = issuer.leeway_seconds
    exp = float(exp_value)
    if now > exp + leeway:
        raise TokenClaimError("expired", "exp", f">= now - {leeway}s", "in the past")
    if nbf is not None and now + leeway < nbf:
        raise TokenClaimError("not_yet_valid", "nbf", f"<= now + {leeway}s", "in the future")
    iat: float | None = None
    if iat_value is not None:
        iat = float(iat_value)
        if iat > now + leeway:
            raise TokenClaimError("issued_in_future", "iat", f"<= now + {leeway}s", "in the future")
    if issuer.max_lifetime_seconds is not None:
        start = iat if iat is not None else now
        if exp - start > issuer.max_lifetime_seconds:
            raise TokenClaimError(
                "lifetime_too_long", "exp", f"<= {issuer.max_lifetime_seconds}s after iat", "later"
            )

    if issuer.audiences:
        check_audience(issuer, claims)
    # No aud check without audiences: only with client_ids (settings), the client is then checked.
    # No aud: acceptable only if the issuer's required_claims explicitly leave it out.

    sub = get("sub", "")
    if sub.__class__ is not str or len(sub) > MAX_CLAIM_STRING or (not sub and "sub" in claims):
        raise TokenClaimError("claim_type", "sub", "a non-empty string", type(sub).__name__)
    jti = get("jti")
    if jti is not None and jti.__class__ is not str:
        raise TokenClaimError("claim_type", "jti", "a string", type(jti).__name__)

    if issuer.required_scopes:
        check_scopes(issuer, claims)

    groups = group_keys(issuer, claims) if issuer.groups_claims or issuer.mapped_claims else ()
    client_id = client_of(issuer, claims) if issuer.client_claim else None

    # RFC 7800 cnf: a binding that cannot be checked refuses the token (module docstring).
    jkt = bound_thumbprint(claims) if "cnf" in claims else None

    return VerifiedToken(
        issuer,
        sub,
        exp,
        exp + leeway,
        iat,
        kid,
        jti[:256] if jti else None,
        groups,
        client_id,
        claims,
        key,
        jkt,
    )


def check_scopes(issuer: IssuerSettings, claims: Mapping[str, Any]) -> None:
    """Every required scope is in ``scope`` or ``scp`` (a space-separated string, or an array)."""
    if not issuer.required_scopes <= _scopes(claims):
        raise TokenClaimError("missing_scope", "scope", "the required scopes", "fewer")


def check_token_type(issuer: IssuerSettings, header: Mapping[str, Any]) -> None:
    """The header's ``typ`` is the issuer's ``token_type`` (RFC 7515 §4.1.9 media type comparison)."""
    expected = issuer.token_type
    if expected is None:
        return
    typ = header.get("typ")
    if not isinstance(typ, str) or _media_type(typ) != _media_type(expected):
        raise TokenClaimError("wrong_token_type", "typ", expected, str(typ)[:64])


def check_claim_value(check: ClaimCheck, claims: Mapping[str, Any]) -> None:
    """One of the issuer's claim checks (:class:`~edgeauth.core.claims.ClaimCheck`)."""
    value = check.path.find(claims)
    if value.__class__ is str and value and (check.allowed is None or value in check.allowed):
        return
    expected = "present" if check.allowed is None else "one of " + ", ".join(sorted(check.allowed))
    raise TokenClaimError(check.reason, check.path.text, expected[:200], _found(value))


def check_audience(issuer: IssuerSettings, claims: Mapping[str, Any]) -> None:
    """``aud``, when present, is or contains one of ``audiences`` (a string or a list of strings)."""
    aud = claims.get("aud")
    if aud.__class__ is str:
        if aud not in issuer.audiences:
            raise TokenClaimError("wrong_audience", "aud", "an accepted audience", "another")
    elif aud is not None or "aud" in claims:
        if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            if issuer.audiences.isdisjoint(aud):
                raise TokenClaimError("wrong_audience", "aud", "an accepted audience", "another")
        else:
            raise TokenClaimError("claim_type", "aud", "a string or list of strings", type(aud).__name__)


def client_of(issuer: IssuerSettings, claims: Mapping[str, Any]) -> str | None:
    """The client the token names in the issuer's ``client_claim`` (a short string), or ``None``;
    with ``client_ids``, it must be present and one of them (``wrong_client``)."""
    name = cast(str, issuer.client_claim)
    raw_client = claims.get(name)
    client_id: str | None = None
    if raw_client is not None or name in claims:
        if raw_client.__class__ is not str or not raw_client or len(raw_client) > 256:
            raise TokenClaimError("claim_type", name, "a string", type(raw_client).__name__)
        client_id = raw_client
    if issuer.client_ids and client_id not in issuer.client_ids:
        raise TokenClaimError(
            "wrong_client",
            name,
            "one of the issuer's client_ids",
            "absent" if client_id is None else "another",
        )
    return client_id


def group_keys(issuer: IssuerSettings, claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys looked up as the principal's group mappings, sorted and unique: every string value
    of each ``groups_claim`` path, and ``<claim>=<value>`` for each of ``mapped_claims``.

    A groups claim that the token says is elsewhere (OIDC distributed claims, ``_claim_names``;
    Entra's group overage, and its ``hasgroups``) refuses the token (``groups_overage``): acting on
    a partial list could miss a group whose mapping denies. A value that is not a string or a list
    of short strings, or a path through something that is not an object, refuses it
    (``claim_type``); more than :data:`MAX_GROUPS` values in all refuse it (``claim_too_large``).
    """
    keys: list[str] = []
    for path in issuer.groups_claims:
        _refuse_overage(path, claims)
        keys.extend(_strings_at(path, claims))
    for path in issuer.mapped_claims:
        keys.extend(f"{path.text}={value}" for value in _strings_at(path, claims))
    if len(keys) > MAX_GROUPS:
        where = ", ".join(p.text for p in (*issuer.groups_claims, *issuer.mapped_claims))
        raise TokenClaimError("claim_too_large", where[:200], f"<= {MAX_GROUPS} values", str(len(keys)))
    return tuple(sorted(set(keys)))


def _strings_at(path: ClaimPath, claims: Mapping[str, Any]) -> list[str]:
    raw = path.find(claims)
    if raw is ABSENT:
        return []
    if raw is NOT_AN_OBJECT:
        raise TokenClaimError(
            "claim_type", path.text, "a path through JSON objects", "another value on the way"
        )
    if raw.__class__ is str:
        raw = [raw]
    if raw.__class__ is not list or not all(g.__class__ is str and 0 < len(g) <= 256 for g in raw):
        raise TokenClaimError("claim_type", path.text, "a string or a list of strings", "other")
    return cast(list[str], raw)


def _refuse_overage(path: ClaimPath, claims: Mapping[str, Any]) -> None:
    names = claims.get("_claim_names")
    if names is not None and (names.__class__ is not dict or path.top_level in names):
        raise TokenClaimError("groups_overage", path.text, "the whole list in the token", "_claim_names")
    if path.top_level == "groups" and claims.get("hasgroups") is True and "groups" not in claims:
        raise TokenClaimError("groups_overage", path.text, "the whole list in the token", "hasgroups")


def _found(value: Any) -> str:
    """What a claim check found, for the error's detail (a short value, or a kind of value)."""
    if value is ABSENT:
        return "absent"
    if value is NOT_AN_OBJECT:
        return "a path through something not an object"
    if value.__class__ is str:
        return repr(value[:64]) if value else "an empty string"
    return f"a JSON {_json_type(value)}"


def _other_ecdsa_spelling(cached: tuple[str, VerifiedToken], s64: str) -> bool:
    """Whether ``s64`` is the other spelling ``(r, n − s)`` of the cached token's ECDSA signature:
    then it verifies exactly as the cached one did (:func:`~edgeauth.core.jose.ecdsa_low_s`).

    Only reached when the signature text differs from the cached one (never for a repeated token).
    The key that verified the cached token fixes the curve: an EC key verifies only ES* tokens.
    """
    jwk = cached[1].key.jwk
    if jwk.get("kty") != "EC":
        return False
    crv = jwk["crv"]  # KeyEntry.problem_for admitted the key: crv is one of the ES* curves
    try:
        presented = b64url_bytes(s64)
    except ValueError:
        return False
    return compare_digest(ecdsa_low_s(presented, crv), ecdsa_low_s(b64url_bytes(cached[0]), crv))


def bound_thumbprint(claims: Mapping[str, Any]) -> str | None:
    """The key thumbprint a token is bound to (``cnf.jkt``, RFC 9449 §6.1), ``None`` without ``cnf``.

    Raises :class:`TokenClaimError` (reason ``unsupported_binding``) for every other ``cnf``: not an
    object, a member other than ``jkt`` (``x5t#S256``, ``jwk``, ``jku``, ``kid``... RFC 7800 §3,
    RFC 8705 §3.1), no member, or a ``jkt`` that is not a SHA-256 thumbprint (43 characters of
    canonical base64url, 32 bytes). The detail names what was found, never its value.
    """
    if "cnf" not in claims:
        return None
    cnf = claims["cnf"]
    expected = 'absent, or {"jkt": <SHA-256 JWK thumbprint>}'
    if not isinstance(cnf, dict):
        raise TokenClaimError("unsupported_binding", "cnf", expected, f"a JSON {_json_type(cnf)}")
    if cnf.keys() != {"jkt"}:
        others = sorted(str(m)[:32] for m in cnf if m != "jkt")[:4]
        found = f"members {', '.join(others)}" if others else "an empty object"
        raise TokenClaimError("unsupported_binding", "cnf", expected, found)
    jkt = cnf["jkt"]
    if not isinstance(jkt, str) or len(jkt) != 43 or not _is_sha256_b64url(jkt):
        raise TokenClaimError("unsupported_binding", "cnf.jkt", "a SHA-256 JWK thumbprint", "another value")
    return jkt


def _is_sha256_b64url(text: str) -> bool:
    try:
        return len(b64url_bytes(text)) == 32
    except ValueError:
        return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "number"


def _check_header(header: dict[str, Any]) -> tuple[dict[str, Any], str, str | None]:
    """``(header, alg, kid)`` of a JOSE header that passes the issuer-independent checks."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        raise TokenSignatureError("alg_not_allowed", "algorithm refused")
    if "crit" in header:
        crit = header["crit"]
        if (
            not isinstance(crit, list)
            or not crit
            or any(not isinstance(c, str) or c not in _UNDERSTOOD_CRIT for c in crit)
        ):
            raise TokenParseError("unknown_crit", "crit names a parameter not understood")
    if "zip" in header:
        raise TokenParseError("malformed_token", "'zip' is not allowed in a JWS")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > 256):
        raise TokenParseError("malformed_token", "kid must be a short non-empty string")
    return header, alg, kid


def _media_type(typ: str) -> str:
    """RFC 7515 §4.1.9: compare case-insensitively, ``application/`` prefix optional."""
    t = typ.lower()
    return t[len("application/") :] if t.startswith("application/") else t


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        return frozenset(scp.split())
    if isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return frozenset(scp)
    return frozenset()
