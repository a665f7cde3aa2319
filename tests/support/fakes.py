"""In-memory stand-ins for the network edges of the authorizer (no sockets)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edgeauth.core.errors import JwksUnavailableError


@dataclass
class FakeKeyEndpoint:
    """Plays an issuer's JWKS (and discovery) endpoints for ``JwksCache``'s ``fetch`` callable."""

    documents: dict[str, bytes] = field(default_factory=dict)
    failing: bool = False
    calls: list[str] = field(default_factory=list)
    on_call: Callable[[str], None] | None = None

    def __call__(self, url: str, timeout: float, max_bytes: int) -> bytes:
        self.calls.append(url)
        if self.on_call:
            self.on_call(url)
        if self.failing or url not in self.documents:
            raise JwksUnavailableError("fake endpoint failure")
        body = self.documents[url]
        if len(body) > max_bytes:
            raise JwksUnavailableError("too big")
        return body


@dataclass
class Clock:
    """A settable clock (seconds)."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
