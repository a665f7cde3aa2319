"""IAM evaluation of a Lambda authorizer's policy against one request's method ARN.

API Gateway evaluates the returned policy for every request, including when the answer comes from
its cache; that is what makes a policy written for one route allow or deny another one. Rules, as
IAM applies them to ``execute-api:Invoke``:

* an explicit ``Deny`` that matches wins; otherwise a matching ``Allow`` allows; otherwise the
  request is implicitly denied;
* ``Action``/``Resource`` (string or list) match with ``*`` (any run of characters, ``/``
  included) and ``?`` (exactly one character); ``NotAction``/``NotResource`` match the complement;
* matching is case-sensitive for resources and case-insensitive for actions.

:func:`validate_answer` checks the shape API Gateway requires of the whole answer; a malformed
answer is a 500 and is never cached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Outcome = Literal["allow", "deny", "implicit_deny"]


class MalformedAnswerError(ValueError):
    """The authorizer's answer is not what API Gateway accepts (it answers 500)."""


@dataclass(frozen=True, slots=True)
class AuthorizerAnswer:
    """A validated authorizer answer, as cached by the gateway."""

    principal_id: str
    statements: tuple[dict[str, Any], ...]
    context: dict[str, str]
    usage_key: str | None

    def evaluate(self, method_arn: str) -> Outcome:
        return evaluate(self.statements, method_arn)


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in glob)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: ``*`` is any run of characters (``/`` too), ``?`` one character."""
    return _pattern(glob, ignore_case).fullmatch(value) is not None


def _values(stmt: Mapping[str, Any], key: str) -> list[str] | None:
    v = stmt.get(key)
    if v is None:
        return None
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _matches(stmt: Mapping[str, Any], arn: str) -> bool:
    actions, not_actions = _values(stmt, "Action"), _values(stmt, "NotAction")
    action = "execute-api:Invoke"
    if actions is not None:
        if not any(glob_match(a, action, ignore_case=True) for a in actions):
            return False
    elif not_actions is not None and any(glob_match(a, action, ignore_case=True) for a in not_actions):
        return False
    resources, not_resources = _values(stmt, "Resource"), _values(stmt, "NotResource")
    if resources is not None:
        return any(glob_match(r, arn) for r in resources)
    if not_resources is not None:
        return not any(glob_match(r, arn) for r in not_resources)
    return False


def evaluate(statements: tuple[dict[str, Any], ...], method_arn: str) -> Outcome:
    """Explicit deny first, then allow, else implicit deny."""
    allowed = False
    for stmt in statements:
        if _matches(stmt, method_arn):
            if stmt.get("Effect") == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else "implicit_deny"


def validate_answer(answer: Any) -> AuthorizerAnswer:
    """Check a REQUEST/TOKEN authorizer's output. Raises :class:`MalformedAnswerError`."""
    if not isinstance(answer, dict):
        raise MalformedAnswerError("the answer is not a JSON object")
    principal = answer.get("principalId")
    if not isinstance(principal, str) or not principal:
        raise MalformedAnswerError("principalId is missing or not a string")
    doc = answer.get("policyDocument")
    if not isinstance(doc, dict):
        raise MalformedAnswerError("policyDocument is missing or not an object")
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise MalformedAnswerError("policyDocument.Statement is missing or empty")
    for stmt in statements:
        if not isinstance(stmt, dict) or stmt.get("Effect") not in ("Allow", "Deny"):
            raise MalformedAnswerError("a statement has no Effect Allow/Deny")
        if ("Action" in stmt) == ("NotAction" in stmt) or ("Resource" in stmt) == ("NotResource" in stmt):
            raise MalformedAnswerError(
                "a statement needs exactly one of Action/NotAction and Resource/NotResource"
            )
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            v = stmt.get(key)
            if v is not None and not (
                isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
            ):
                raise MalformedAnswerError(f"{key} must be a string or a list of strings")
    context_raw = answer.get("context") or {}
    if not isinstance(context_raw, dict):
        raise MalformedAnswerError("context is not an object")
    context: dict[str, str] = {}
    for k, v in context_raw.items():
        # API Gateway accepts only string, number and boolean values; objects and arrays are a 500.
        if isinstance(v, bool):
            context[str(k)] = "true" if v else "false"
        elif isinstance(v, int | float | str):
            context[str(k)] = str(v)
        elif v is None:
            continue
        else:
            raise MalformedAnswerError(f"context value {k!r} is not a string, number or boolean")
    usage_key = answer.get("usageIdentifierKey")
    if usage_key is not None and not isinstance(usage_key, str):
        raise MalformedAnswerError("usageIdentifierKey is not a string")
    return AuthorizerAnswer(principal, tuple(statements), context, usage_key)
