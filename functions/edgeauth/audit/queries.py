"""Saved CloudWatch Logs Insights queries, shared by the CDK app (as query definitions) and the CLI.

Every query runs against the audit log group and uses only fields of the audit schema
(:mod:`edgeauth.audit.schema`). Parameters are written ``{name}`` in :attr:`SavedQuery.query` and
stand for a *string literal*: :func:`render` fills them with a safely quoted literal (a value can
never close the string and add query syntax). For the CDK query definitions use
:attr:`SavedQuery.definition_query`, where each placeholder is replaced by an obvious sample literal
(``"<sub>"``) for the console user to edit: a ``{name}`` placeholder is not valid query syntax.

Every query keeps to the documented Logs Insights grammar (no comparison as a value, nothing but
``limit`` after ``dedup``), so it runs the same on CloudWatch; the local evaluator
(:mod:`edgeauth_local.insights`) refuses anything else and supports every construct used here. A test
keeps both so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

_PLACEHOLDER: Final = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class QueryParameterError(ValueError):
    """A parameter is missing, unknown or has a value that cannot be quoted safely."""


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """``name`` is the CLI preset (kebab-case); ``query`` runs against the audit log group."""

    name: str
    title: str
    description: str
    query: str

    @property
    def params(self) -> tuple[str, ...]:
        """Placeholder names in order of first use."""
        seen: list[str] = []
        for m in _PLACEHOLDER.finditer(self.query):
            if m.group(1) not in seen:
                seen.append(m.group(1))
        return tuple(seen)

    @property
    def definition_query(self) -> str:
        """The query for a CloudWatch query definition: placeholders become ``"<name>"`` literals."""
        return _PLACEHOLDER.sub(lambda m: quote_literal(f"<{m.group(1)}>"), self.query)

    @property
    def definition_name(self) -> str:
        """Query definition name; the ``/`` makes the console show them in an ``edgeauth`` folder."""
        return f"edgeauth/{self.name}"


def quote_literal(value: str) -> str:
    """A Logs Insights string literal: double quotes, ``\\`` and ``"`` escaped; control characters
    are refused (``QueryParameterError``)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise QueryParameterError("control characters are not allowed in a query parameter")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(saved: SavedQuery, params: Mapping[str, str]) -> str:
    """``saved.query`` with every ``{name}`` replaced by the quoted value of ``params[name]``.

    Raises :class:`QueryParameterError` for a missing or unknown parameter or an unquotable value.
    """
    wanted = set(saved.params)
    unknown = sorted(set(params) - wanted)
    if unknown:
        raise QueryParameterError(
            f"query {saved.name!r} has no parameter {', '.join(unknown)}"
            + (f" (it takes: {', '.join(saved.params)})" if saved.params else " (it takes none)")
        )
    missing = [p for p in saved.params if p not in params]
    if missing:
        raise QueryParameterError(f"query {saved.name!r} needs --param {missing[0]}=VALUE")
    quoted = {k: quote_literal(v) for k, v in params.items()}
    return _PLACEHOLDER.sub(lambda m: quoted[m.group(1)], saved.query)


SAVED_QUERIES: tuple[SavedQuery, ...] = (
    SavedQuery(
        name="denied-by-subject",
        title="Denied requests by subject",
        description="Authorizer refusals (403 deny and 401 unauthorized) counted per issuer, subject and reason.",
        query=(
            'filter kind = "decision" and decision in ["deny", "unauthorized"]\n'
            "| stats count(*) as denied by iss, sub, reason\n"
            "| sort denied desc\n"
            "| limit 100"
        ),
    ),
    SavedQuery(
        name="unauthorized-by-reason",
        title="401s by reason over time",
        description=(
            "401 answers per reason in 5-minute bins: the authorizer's reasons (expired, bad_signature, ...)"
            " plus missing_token for requests API Gateway refused before the authorizer ran."
        ),
        query=(
            'filter (kind = "decision" and decision = "unauthorized")'
            ' or (kind = "access" and status = 401 and refused_by = "gateway")\n'
            "| stats count(*) as requests by bin(5m) as window, reason\n"
            "| sort window asc"
        ),
    ),
    SavedQuery(
        name="route-callers",
        title="Who called a route",
        description="Callers of one route (method and resource template, e.g. GET /accounts/{id}) by subject, key and status.",
        query=(
            'filter kind = "access" and method = {method} and resource = {resource}\n'
            "| stats count(*) as requests by iss, sub, api_key_id, status\n"
            "| sort requests desc\n"
            "| limit 200"
        ),
    ),
    SavedQuery(
        name="subject-activity",
        title="A subject's activity",
        description="Every decision and request of one subject, newest first.",
        query=(
            "filter sub = {sub}\n"
            "| fields @timestamp, kind, decision, reason, method, resource, path, status, source_ip, request_id\n"
            "| sort @timestamp desc\n"
            "| limit 500"
        ),
    ),
    SavedQuery(
        name="role-changes",
        title="Role changes",
        description="Edits of the role table (roles, subjects, groups, clients): who changed what, newest first.",
        query=(
            'filter kind = "role_change"\n'
            "| fields @timestamp, actor, action, entity, pk, sk, changed, version\n"
            "| sort @timestamp desc\n"
            "| limit 500"
        ),
    ),
    SavedQuery(
        name="throttled-clients",
        title="Throttled clients (429 by usage key)",
        description="Requests refused with 429 (throttle or quota) per API key id and reason.",
        query=(
            'filter kind = "access" and status = 429\n'
            "| stats count(*) as throttled, count_distinct(sub) as subjects by api_key_id, reason\n"
            "| sort throttled desc"
        ),
    ),
    SavedQuery(
        name="authorizer-latency",
        title="Authorizer latency percentiles",
        description="Time spent in the authorizer per decision (its own measure), p50/p90/p99 in 5-minute bins.",
        query=(
            'filter kind = "decision"\n'
            "| stats count(*) as decisions, avg(latency_ms) as avg_ms, pct(latency_ms, 50) as p50_ms,"
            " pct(latency_ms, 90) as p90_ms, pct(latency_ms, 99) as p99_ms, max(latency_ms) as max_ms"
            " by bin(5m) as window\n"
            "| sort window asc"
        ),
    ),
    SavedQuery(
        name="error-rate-by-route",
        title="Error rate by route",
        description="Requests, 4xx and 5xx per route, with the share of 5xx answers in percent.",
        # Comparisons are allowed only in filter and as function arguments, never as values
        # (``fields status >= 500 as e`` is a syntax error): a status class from floor() and
        # 1 - least(|class - N|, 1), which is 1 for class N and 0 otherwise, count per class.
        query=(
            'filter kind = "access"\n'
            "| fields floor(status / 100) as status_class\n"
            "| fields 1 - least(abs(status_class - 4), 1) as is_4xx, 1 - least(abs(status_class - 5), 1) as is_5xx\n"
            "| stats count(*) as requests, sum(is_4xx) as errors_4xx, sum(is_5xx) as errors_5xx,"
            " sum(is_5xx) * 100 / count(*) as pct_5xx by method, resource\n"
            "| sort pct_5xx desc, requests desc"
        ),
    ),
    SavedQuery(
        name="authorizer-faults",
        title="Authorizer faults (500) by reason",
        description=(
            "Decisions that answered 500 (role table, JWKS endpoint or DPoP replay table failing, a"
            " malformed event, an internal error) per reason in 5-minute bins: what the"
            " AuthorizerFaults alarm counts."
        ),
        query=(
            'filter kind = "decision" and decision = "error"\n'
            "| stats count(*) as faults by bin(5m) as window, reason\n"
            "| sort window asc"
        ),
    ),
    SavedQuery(
        name="malformed-lines",
        title="Malformed audit input",
        description="Lines and records the consumer could not normalise, by error and source.",
        query=(
            'filter kind = "malformed"\n'
            "| stats count(*) as lines, latest(excerpt) as example by error, source\n"
            "| sort lines desc"
        ),
    ),
    SavedQuery(
        name="request-trail",
        title="One request end to end",
        description="The decision and access events of one API Gateway request id.",
        query=(
            "filter request_id = {request_id}\n"
            "| fields @timestamp, kind, decision, reason, status, sub, method, resource, latency_ms\n"
            "| sort @timestamp asc"
        ),
    ),
)

PRESETS: Final[dict[str, SavedQuery]] = {q.name: q for q in SAVED_QUERIES}
