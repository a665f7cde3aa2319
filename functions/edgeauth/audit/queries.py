"""Saved CloudWatch Logs Insights queries, shared by the CDK app (as query definitions) and the CLI.

(Filled in by the audit trail work; the CDK app ships every entry of :data:`SAVED_QUERIES`.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """``name`` is the CLI preset (kebab-case); ``query`` runs against the audit log group."""

    name: str
    title: str
    description: str
    query: str


SAVED_QUERIES: tuple[SavedQuery, ...] = ()
