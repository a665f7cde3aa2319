"""Typed errors of the authorizer core.

Three families, each with its own handling at the boundary:

* :class:`ConfigError`: a setting is wrong. Raised at cold start; the function does not start.
* :class:`AuthenticationError`: the caller is not authenticated (API Gateway answers 401). Carries a
  machine-readable ``reason`` for the audit line; never shown to the caller.
* :class:`DependencyError`: a dependency (DynamoDB, a JWKS endpoint) failed. The handler lets it
  propagate so API Gateway answers 500 and caches nothing: a fault never allows and never caches a Deny.

No message of these errors may contain a token, a signature or a secret.
"""

from __future__ import annotations


class EdgeAuthError(Exception):
    """Root of every error raised on purpose by edgeauth."""


class ConfigError(EdgeAuthError):
    """A configuration value is invalid. ``setting`` names it, ``problem`` says what is wrong."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class AuthenticationError(EdgeAuthError):
    """The request is not authenticated. ``reason`` is a stable code for the audit record."""

    reason: str = "unauthenticated"

    def __init__(self, reason: str | None = None, detail: str = "") -> None:
        if reason is not None:
            self.reason = reason
        self.detail = detail
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


class TokenParseError(AuthenticationError):
    """The token or the Authorization header is not well formed."""

    reason = "malformed_token"


class TokenSignatureError(AuthenticationError):
    """No acceptable key verifies the token's signature (or the algorithm is refused)."""

    reason = "bad_signature"


class TokenClaimError(AuthenticationError):
    """A claim is missing, of the wrong type, or has an unacceptable value.

    ``claim`` names it; ``expected`` and ``found`` describe the mismatch without echoing secrets.
    """

    reason = "invalid_claim"

    def __init__(self, reason: str, claim: str, expected: str = "", found: str = "") -> None:
        self.claim = claim
        self.expected = expected
        self.found = found
        detail = claim
        if expected or found:
            detail = f"{claim}: expected {expected}, found {found}"
        super().__init__(reason, detail)


class DpopError(AuthenticationError):
    """The DPoP proof (RFC 9449) is not acceptable (401, reason ``invalid_dpop_proof``).

    ``member`` names the proof's header member or claim at fault (``"jwk"``, ``"htu"``, ``"iat"``...),
    or is ``""`` when the proof as a whole is (not a compact JWS, a bad signature, no proof at all).
    """

    reason = "invalid_dpop_proof"

    def __init__(self, reason: str | None = None, detail: str = "", *, member: str = "") -> None:
        self.member = member
        super().__init__(reason, detail)


class DependencyError(EdgeAuthError):
    """A dependency failed; the authorizer must fail closed by raising (API Gateway answers 500)."""

    reason = "dependency_error"


class JwksUnavailableError(DependencyError):
    """The issuer's keys could not be fetched and no usable cached key exists."""

    reason = "jwks_unavailable"


class JwksUnknownKidError(JwksUnavailableError):
    """A token names a ``kid`` the cached keys lack while the issuer's JWKS endpoint fails: the
    ``kid`` can be neither found nor ruled out (500, not 401: it may be a key rotated in during the
    outage). Its own reason, so that a flood of random ``kid``s during an outage is told apart from
    the outage refusing known keys (SECURITY.md, "Deliberate choices")."""

    reason = "jwks_unavailable_unknown_kid"


class RoleStoreError(DependencyError):
    """The role table could not be read (throttled, timed out, denied, missing)."""

    reason = "role_store_unavailable"


class ReplayStoreError(DependencyError):
    """The DPoP replay table could not be written: whether a proof is fresh is unknown (500)."""

    reason = "dpop_replay_store_unavailable"


class RequestError(EdgeAuthError):
    """The authorizer event itself is not what API Gateway sends (a wiring fault, not a caller's)."""
