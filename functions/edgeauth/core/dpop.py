"""DPoP proofs (RFC 9449): the client proves, on every request, that it holds the token's key.

:func:`verify_proof` performs the checks of RFC 9449 §4.3 that need no state; the replay check
(``jti`` not seen before within the window, across Lambda containers) is done by the caller through
a :class:`ReplayStore` (see :mod:`edgeauth.adapters.replay_store`), after the proof verified, so an
attacker cannot fill the store with unsigned junk.

Binding: the access token's ``cnf.jkt`` (read, and any other ``cnf`` refused, by
:func:`edgeauth.core.tokens.bound_thumbprint` when the token is verified) must equal the RFC 7638
thumbprint of the proof's ``jwk``, and the proof's ``ath`` the base64url SHA-256 of the access token.

Every field of a proof comes from the network: :func:`verify_proof` refuses each bad one with a
:class:`~edgeauth.core.errors.DpopError` naming it (``member``), and raises nothing else
(``tests/fuzz``: the proof parser is fuzzed like the token parser).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

from edgeauth.core.errors import AuthenticationError, DpopError
from edgeauth.core.jose import EC_CURVES, OKP_CURVES, PRIVATE_MEMBERS, public_key, verifier
from edgeauth.core.settings import DPOP_MODES  # noqa: F401 - re-exported with the DPoP names
from edgeauth.core.tokens import MAX_TOKEN_BYTES, b64url_decode
from edgeauth.core.tokens import _is_number as is_number
from edgeauth.core.tokens import _json_object as json_object

DPOP_TYP = "dpop+jwt"
#: RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
_DEFAULT_PORTS = {"https": 443, "http": 80}
#: RSA proof keys: at least 2048 bits (as for the issuers' keys), at most 4096 bits with a public
#: exponent of at most 64 bits. The proof's key is the caller's own choice, checked before anything
#: ties it to the token: without the upper bounds any caller could make a request cost tens of ES256
#: proof checks (~0.1 ms): a 3072-bit exponent, which OpenSSL allows up to 3072-bit moduli, ~6.5 ms;
#: a 16384-bit modulus ~1.3 ms. Real DPoP keys are ES256 or EdDSA, RSA ones 2048-4096 bits with e=65537.
MIN_RSA_BITS, MAX_RSA_BITS, MAX_RSA_EXPONENT_BITS = 2048, 4096, 64
_MAX_JTI = 256


class ReplayStore(Protocol):
    """Remembers proof ids until they expire; shared by every container."""

    def first_use(self, key: str, expires_at: float) -> bool:
        """Record ``key``; ``True`` if it was not already recorded (and unexpired)."""
        ...


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK. Raises :class:`DpopError` if it has none."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise DpopError("invalid_dpop_proof", "jwk lacks the members of its key type", member="jwk")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(token: str) -> str:
    """The ``ath`` value for an access token (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def normalize_htu(url: str) -> str:
    """Syntax- and scheme-based normalisation (RFC 3986 §6.2.2–6.2.3) without query and fragment.

    Raises :class:`DpopError` (``member`` ``htu``) and nothing else when ``url`` does not parse:
    ``urlsplit`` raises ValueError for unbalanced or invalid IPv6 brackets (``https://[x/``), a
    host that NFKC-normalises into a delimiter, and ``port`` for a port that is not 0–65535.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DpopError("invalid_dpop_proof", "htu is not a URL", member="htu") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets: "[::1:8080]" is not "[::1]:8080"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


class DpopProof(NamedTuple):
    """A verified proof: its id, the key thumbprint and when it was made."""

    jti: str
    jkt: str
    iat: float

    def replay_key(self) -> str:
        # Scoped by key: a client cannot block another client's proof ids. (``jti`` is valid
        # Unicode: verify_proof refuses lone surrogates, which UTF-8 cannot encode.)
        return hashlib.sha256(f"{self.jkt}\x00{self.jti}".encode()).hexdigest()


def _key_for(jwk: dict[str, Any], alg: str) -> Any:
    if PRIVATE_MEMBERS & jwk.keys():
        raise DpopError("invalid_dpop_proof", "jwk contains private key material", member="jwk")
    kty = jwk.get("kty")
    try:
        if alg.startswith(("RS", "PS")) and kty == "RSA":
            key = public_key(jwk)
            if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
                raise DpopError("invalid_dpop_proof", "RSA key not of 2048-4096 bits", member="jwk")
            if key.public_numbers().e.bit_length() > MAX_RSA_EXPONENT_BITS:
                raise DpopError("invalid_dpop_proof", "RSA public exponent over 64 bits", member="jwk")
            return key
        if alg in EC_CURVES and kty == "EC" and jwk.get("crv") == EC_CURVES[alg]:
            return public_key(jwk)
        if alg == "EdDSA" and kty == "OKP" and jwk.get("crv") in OKP_CURVES:
            return public_key(jwk)
    except DpopError:
        raise
    except Exception:
        # public_key's ValueError, KeyError, TypeError on members of any type; an unhashable crv.
        raise DpopError("invalid_dpop_proof", "jwk does not parse", member="jwk") from None
    raise DpopError("invalid_dpop_proof", "jwk does not fit alg", member="jwk")


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str,
    algorithms: frozenset[str],
    now: float,
    max_age_seconds: int,
    leeway_seconds: int,
) -> DpopProof:
    """Check one DPoP proof for a request (RFC 9449 §4.3 steps 2–9, 11, 12 except the replay).

    Raises :class:`DpopError` and nothing else, whatever the proof holds (``member`` names the
    header member or claim refused): every value comes from the network, and anything else
    escaping would be a 500 (and the errors alarm) for a caller's mistake.
    """
    if len(proof) > MAX_TOKEN_BYTES or proof.count(".") != 2:
        raise DpopError("invalid_dpop_proof", "not a compact JWS")
    h64, p64, s64 = proof.split(".")
    try:
        header = json_object(b64url_decode(h64), "header")
        claims = json_object(b64url_decode(p64), "payload")
        signature = b64url_decode(s64)
    except AuthenticationError:
        # The token parser's errors say "malformed_token": this is the proof, not the token.
        raise DpopError("invalid_dpop_proof", "not a well-formed JWS") from None
    if header.get("typ") != DPOP_TYP:
        raise DpopError("invalid_dpop_proof", "typ is not dpop+jwt", member="typ")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise DpopError("invalid_dpop_proof", "alg not allowed", member="alg")
    if "crit" in header:
        raise DpopError("invalid_dpop_proof", "crit is not understood", member="crit")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise DpopError("invalid_dpop_proof", "jwk header is not an object", member="jwk")
    key = _key_for(jwk, alg)
    try:
        valid = verifier(alg)(key, f"{h64}.{p64}".encode("ascii"), signature)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise DpopError("invalid_dpop_proof", "signature does not verify")

    jti, htm, htu, iat, ath = (claims.get(k) for k in ("jti", "htm", "htu", "iat", "ath"))
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI or not _is_text(jti):
        raise DpopError("invalid_dpop_proof", "jti is not a string of 1-256 characters", member="jti")
    if htm != method:
        raise DpopError("invalid_dpop_proof", "htm does not match the request method", member="htm")
    if not isinstance(htu, str) or normalize_htu(htu) != normalize_htu(url):
        raise DpopError("invalid_dpop_proof", "htu does not match the request URL", member="htu")
    # is_number: a finite JSON number, not a bool; 10**400 or 1e400 is no number, not an OverflowError.
    if not is_number(iat):
        raise DpopError("invalid_dpop_proof", "iat is not a number", member="iat")
    if iat > now + leeway_seconds:
        raise DpopError("invalid_dpop_proof", "iat in the future", member="iat")
    if iat < now - max_age_seconds:
        raise DpopError("invalid_dpop_proof", "proof too old", member="iat")
    if ath != access_token_hash(access_token):
        raise DpopError("invalid_dpop_proof", "ath does not match the access token", member="ath")
    return DpopProof(jti=jti, jkt=jwk_thumbprint(jwk), iat=float(iat))


def _is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode: JSON's ``\\ud800`` escapes decode to lone surrogates,
    which UTF-8 (the replay key's encoding) cannot encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
