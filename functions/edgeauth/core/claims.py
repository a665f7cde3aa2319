"""Claim paths: how a setting names a claim, top-level or nested, without ambiguity.

Two spellings, told apart by the first character:

* a string that does **not** start with ``/`` is the name of one top-level claim, taken literally:
  dots, slashes and colons inside are part of the name (``groups``, ``cognito:groups``,
  ``https://example.com/roles``);
* a string that starts with ``/`` is a JSON Pointer (RFC 6901) into the claims object, one
  reference token per ``/``, with ``~1`` for a ``/`` and ``~0`` for a ``~`` inside a member name:
  ``/realm_access/roles``, ``/resource_access/my-client/roles``, ``/https:~1~1example.com~1roles``
  (the top-level claim ``https://example.com/roles``), ``/cognito:groups``.

So ``/a/b`` is always the member ``b`` of the object ``a``, and ``a/b`` always the top-level claim
named ``a/b``. A path steps through JSON objects only (a reference token is a member name, never an
array index). Parsing is strict, at load time (synth and cold start): an empty path, an empty
reference token (``//``, a trailing ``/``) or a ``~`` not followed by ``0`` or ``1`` is a
:class:`ClaimPathError`, which the settings report with the setting's path.

Resolution is a few dict lookups: :meth:`ClaimPath.find` returns the value, :data:`ABSENT` when a
member along the way is missing, or :data:`NOT_AN_OBJECT` when something along the way is not an
object (the caller decides whether that refuses the token).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

MAX_PATH_CHARS: Final = 256
MAX_PATH_DEPTH: Final = 8


class ClaimPathError(ValueError):
    """A claim path that cannot be parsed; the message says what is wrong (never a value)."""


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ABSENT: Final[Any] = _Marker("ABSENT")
"""What :meth:`ClaimPath.find` returns when a member along the path is missing."""
NOT_AN_OBJECT: Final[Any] = _Marker("NOT_AN_OBJECT")
"""What :meth:`ClaimPath.find` returns when a value along the path (not the last) is not an object."""


class ClaimPath(NamedTuple):
    """A parsed claim path. ``text`` is its canonical spelling (:func:`parse_claim_path`).

    (A named tuple, not a dataclass: this module is imported at every cold start, and a frozen
    dataclass costs about 1 ms to create there, a named tuple a quarter of that.)"""

    text: str
    segments: tuple[str, ...]

    @property
    def top_level(self) -> str:
        """The name of the top-level claim the path starts at."""
        return self.segments[0]

    def find(self, claims: Mapping[str, Any]) -> Any:
        """The value at this path, or :data:`ABSENT`, or :data:`NOT_AN_OBJECT`."""
        value: Any = claims
        for segment in self.segments:
            if value.__class__ is not dict:
                return NOT_AN_OBJECT
            value = value.get(segment, ABSENT)
            if value is ABSENT:
                return ABSENT
        return value

    def __str__(self) -> str:
        return self.text


class ClaimCheck(NamedTuple):
    """One claim an issuer's tokens must carry with an allowed value (checked after the signature).

    ``allowed`` is the set of accepted string values, or ``None`` for "present, a non-empty
    string" (a claim only one kind of token carries, e.g. Entra's ``azp`` in access tokens). A
    token whose value is missing, not a string or not allowed is refused with ``reason``.
    ``origin`` says where the check comes from (``provider <name>`` or ``required_claim_values``)
    and ``why`` what it is for; both are shown by ``edgeauth explain`` and the startup log.
    """

    path: ClaimPath
    allowed: frozenset[str] | None
    reason: str
    origin: str
    why: str

    def describe(self) -> dict[str, Any]:
        return {
            "claim": self.path.text,
            "allowed": sorted(self.allowed) if self.allowed is not None else "present",
            "reason": self.reason,
            "origin": self.origin,
            "why": self.why,
        }


def _unescape(token: str) -> str:
    if "~" not in token:
        return token
    out: list[str] = []
    i = 0
    while i < len(token):
        c = token[i]
        if c == "~":
            nxt = token[i + 1 : i + 2]
            if nxt == "0":
                out.append("~")
            elif nxt == "1":
                out.append("/")
            else:
                raise ClaimPathError("'~' must be followed by '0' (for '~') or '1' (for '/') (RFC 6901)")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def canonical_text(segments: tuple[str, ...]) -> str:
    """The canonical spelling of a path: the plain name for one top-level claim whose name does
    not start with ``/``, else the JSON Pointer. ``/groups`` and ``groups`` are one path."""
    if len(segments) == 1 and not segments[0].startswith("/"):
        return segments[0]
    return "".join("/" + _escape(s) for s in segments)


def parse_claim_path(text: Any) -> ClaimPath:
    """Parse one claim path (module docstring). Raises :class:`ClaimPathError`."""
    if not isinstance(text, str) or not text:
        raise ClaimPathError("must be a non-empty string (a claim name, or a JSON Pointer such as /a/b)")
    if len(text) > MAX_PATH_CHARS:
        raise ClaimPathError(f"is longer than {MAX_PATH_CHARS} characters")
    if text != text.strip():
        raise ClaimPathError("must not have leading or trailing whitespace")
    if not text.startswith("/"):
        return ClaimPath(text, (text,))
    raw = text[1:].split("/")
    if len(raw) > MAX_PATH_DEPTH:
        raise ClaimPathError(f"is deeper than {MAX_PATH_DEPTH} levels")
    if any(not token for token in raw):
        raise ClaimPathError(
            "has an empty reference token ('//' or a trailing '/'); write a '/' inside a claim name as '~1'"
        )
    segments = tuple(_unescape(token) for token in raw)
    return ClaimPath(canonical_text(segments), segments)
