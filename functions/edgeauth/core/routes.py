"""API Gateway resource templates and the permissions written against them.

A permission is ``"METHOD /resource/template"`` in API Gateway's own notation: ``{name}`` is one path
segment, a final ``{name+}`` is one or more segments. METHOD is one of :data:`METHODS` or ``*``.

The authorizer decides on the resource template that API Gateway matched (``/accounts/{id}``), not
on the literal path, because the gateway caches the answer per template. Two relations follow:

* an ``allow`` permission applies when it **covers** the template: every request the template can
  receive is inside the permission (``GET /accounts/{id}`` covers ``/accounts/{accountId}``, but
  ``GET /accounts/42`` does not, since the same cached answer also serves ``/accounts/43``);
* a ``deny`` permission applies when it **overlaps** the template: some request could be inside
  both (``DELETE /accounts/42`` overlaps ``/accounts/{id}``, so it denies the whole route).

Both err towards refusing, never towards allowing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

METHODS: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

# A segment of a template: a literal, a {name} variable or a final greedy {name+}.
_VAR = re.compile(r"\{([A-Za-z0-9._-]+)\}")
_GREEDY = re.compile(r"\{([A-Za-z0-9._-]+)\+\}")
# Characters API Gateway accepts in a literal resource path part.
_LITERAL = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+")

LITERAL = 0
VARIABLE = 1
GREEDY = 2


class TemplateError(ValueError):
    """A permission or resource template is not well formed. The message says what is wrong."""


class Template(NamedTuple):
    """A parsed resource template: a tuple of ``(kind, text)`` segments."""

    text: str
    segments: tuple[tuple[int, str], ...]


class Permission(NamedTuple):
    """``METHOD /template``; ``method`` is ``*`` for any method."""

    method: str
    template: Template

    @property
    def text(self) -> str:
        return f"{self.method} {self.template.text}"


@lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """Parse ``/a/{b}/{c+}``. Raises :class:`TemplateError`."""
    if not isinstance(text, str) or not text.startswith("/"):
        raise TemplateError(f"resource template must start with '/': {text!r}")
    if text == "/":
        return Template("/", ())
    if text.endswith("/"):
        raise TemplateError(f"resource template must not end with '/': {text!r}")
    parts = text[1:].split("/")
    segments: list[tuple[int, str]] = []
    names: set[str] = set()
    for i, part in enumerate(parts):
        if not part:
            raise TemplateError(f"empty path segment in {text!r}")
        greedy = _GREEDY.fullmatch(part)
        if greedy:
            if i != len(parts) - 1:
                raise TemplateError(f"a greedy '{{{greedy.group(1)}+}}' must be the last segment: {text!r}")
            name = greedy.group(1)
            kind = GREEDY
        elif var := _VAR.fullmatch(part):
            name = var.group(1)
            kind = VARIABLE
        elif "{" in part or "}" in part:
            raise TemplateError(f"malformed path variable {part!r} in {text!r}")
        elif _LITERAL.fullmatch(part):
            segments.append((LITERAL, part))
            continue
        else:
            raise TemplateError(f"invalid characters in segment {part!r} of {text!r}")
        if name in names:
            raise TemplateError(f"path variable {{{name}}} appears twice in {text!r}")
        names.add(name)
        segments.append((kind, name))
    return Template(text, tuple(segments))


def parse_permission(text: str) -> Permission:
    """Parse ``"METHOD /template"`` (one space or more between). Raises :class:`TemplateError`."""
    if not isinstance(text, str):
        raise TemplateError(f"permission must be a string, got {type(text).__name__}")
    parts = text.split()
    if len(parts) != 2:
        raise TemplateError(f"permission must be 'METHOD /resource/template', got {text!r}")
    method, template = parts
    if method != "*" and method not in METHODS:
        raise TemplateError(
            f"unknown method {method!r} in {text!r}; use one of {', '.join(sorted(METHODS))} or '*'"
        )
    _refuse_globs(method, template, text)
    return Permission(method, parse_template(template))


# Characters that read as a glob (``*``, ``?``, ``[...]``). The template grammar has none: a ``*``
# is a literal character to it, so ``GET /accounts/*`` would grant only the resource literally
# named ``/accounts/*`` and nothing under ``/accounts/{id}``, silently.
_GLOB_CHARS = frozenset("*?[]")


def _refuse_globs(method: str, template: str, text: str) -> None:
    """Raise :class:`TemplateError` when a path segment of a permission holds a glob character,
    with the permission to write instead."""
    if _GLOB_CHARS.isdisjoint(template):
        return
    parts = template.split("/")
    for i, segment in enumerate(parts):
        if _GLOB_CHARS.isdisjoint(segment):
            continue
        var = next(v for v in ("id", "id2", "id3", "segment") if "{" + v + "}" not in template)
        one = "/".join([*parts[:i], "{" + var + "}", *parts[i + 1 :]])
        if i == len(parts) - 1:
            rest = "/".join([*parts[:i], "{proxy+}"])
            hint = f"use {{{var}}} for one segment ({method} {one}) or {{proxy+}} for one or more ({method} {rest})"
        else:
            hint = f"use {{{var}}} for one segment ({method} {one}); {{proxy+}} (one or more) can only end a template"
        raise TemplateError(f"{segment!r} in {text!r} looks like a glob, but permissions have none: {hint}")


def template_arn_suffix(template: Template) -> str:
    """The template as an execute-api resource: every path variable becomes ``*``."""
    if not template.segments:
        return "/"
    return "/" + "/".join("*" if kind != LITERAL else text for kind, text in template.segments)


def covers(permission: Template, resource: Template) -> bool:
    """True when every request that can reach ``resource`` is inside ``permission``."""
    p, r = permission.segments, resource.segments
    n = len(p)
    for i, (kind, text) in enumerate(p):
        if kind == GREEDY:
            # One or more remaining segments of any kind (a greedy resource included).
            return len(r) > i
        if i >= len(r):
            return False
        rkind, rtext = r[i]
        if rkind == GREEDY:
            return False  # the resource spans more than one segment here
        if kind == LITERAL and (rkind != LITERAL or rtext != text):
            return False
    return len(r) == n


def overlaps(permission: Template, resource: Template) -> bool:
    """True when some request could be inside both templates."""
    return _overlap(permission.segments, 0, resource.segments, 0)


def _overlap(p: tuple[tuple[int, str], ...], i: int, r: tuple[tuple[int, str], ...], j: int) -> bool:
    if i == len(p) or j == len(r):
        return i == len(p) and j == len(r)
    pkind, ptext = p[i]
    rkind, rtext = r[j]
    if pkind == GREEDY:
        return True  # absorbs the rest (at least the current segment of r)
    if rkind == GREEDY:
        return True
    if pkind == LITERAL and rkind == LITERAL and ptext != rtext:
        return False
    return _overlap(p, i + 1, r, j + 1)


def method_matches(permission_method: str, method: str) -> bool:
    """``*`` matches every method; otherwise exact (HEAD is not GET)."""
    return permission_method == "*" or permission_method == method


class RouteMatch(NamedTuple):
    """The resource template API Gateway would select for a path, with its path parameters."""

    template: Template
    params: dict[str, str]


class RouteTable:
    """Resource templates of one REST API, matched as API Gateway matches them.

    At every level a literal child beats a ``{var}`` child, which beats a greedy ``{var+}`` child;
    a greedy child matches one or more remaining segments. Backtracking applies: when the literal
    branch has no match for the rest of the path, the variable branch is tried.
    """

    def __init__(self, templates: Iterable[str]) -> None:
        self.templates = tuple(parse_template(t) for t in templates)
        self._root: dict[str, Any] = {}
        for t in self.templates:
            node = self._root
            for kind, text in t.segments:
                key = text if kind == LITERAL else ("{}" if kind == VARIABLE else "{+}")
                node = node.setdefault(key, {"__name__": text} if kind != LITERAL else {})
            node["__template__"] = t

    def match(self, path: str) -> RouteMatch | None:
        """Match a literal request path (``/accounts/42``); ``None`` when no resource matches."""
        if not path.startswith("/"):
            return None
        parts = [p for p in path[1:].split("/")] if path != "/" else []
        if parts and parts[-1] == "":
            parts.pop()  # a trailing slash is ignored, as API Gateway does
        if any(p == "" for p in parts):
            return None
        params: dict[str, str] = {}
        found = self._walk(self._root, parts, 0, params)
        if found is None:
            return None
        return RouteMatch(found, params)

    def _walk(
        self, node: dict[str, Any], parts: list[str], i: int, params: dict[str, str]
    ) -> Template | None:
        if i == len(parts):
            template: Template | None = node.get("__template__")
            return template
        seg = parts[i]
        if seg in node and not seg.startswith("__"):
            found = self._walk(node[seg], parts, i + 1, params)
            if found is not None:
                return found
        var = node.get("{}")
        if var is not None:
            params[var["__name__"]] = seg
            found = self._walk(var, parts, i + 1, params)
            if found is not None:
                return found
            del params[var["__name__"]]
        greedy = node.get("{+}")
        if greedy is not None and "__template__" in greedy:
            params[greedy["__name__"]] = "/".join(parts[i:])
            tmpl: Template = greedy["__template__"]
            return tmpl
        return None
