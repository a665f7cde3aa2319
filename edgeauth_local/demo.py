"""The demo bank's roles and subjects, written to the role table at start.

Roles: ``reader`` reads accounts; ``teller`` inherits ``reader`` and may post transfers; ``admin``
may call everything. Subjects of the development issuer: ``carol`` (reader), ``bob`` (teller),
``alice`` (admin).
"""

from __future__ import annotations

from typing import Any

from edgeauth import constants as C

ROLES: dict[str, dict[str, Any]] = {
    "reader": {
        C.ATTR_DESCRIPTION: "Read accounts",
        C.ATTR_ALLOW: ["GET /accounts", "GET /accounts/{id}"],
    },
    "teller": {
        C.ATTR_DESCRIPTION: "Reader, and may post transfers",
        C.ATTR_ALLOW: ["POST /accounts/{id}/transfers"],
        C.ATTR_INHERIT: ["reader"],
    },
    "admin": {
        C.ATTR_DESCRIPTION: "Everything",
        C.ATTR_ALLOW: ["* /", "* /{proxy+}"],
    },
}
SUBJECTS: dict[str, list[str]] = {"carol": ["reader"], "bob": ["teller"], "alice": ["admin"]}


def _av(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [_av(v) for v in value]}
    raise TypeError(type(value).__name__)


def role_item(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    item = {C.TABLE_PARTITION_KEY: C.ROLE_PK_PREFIX + name, C.TABLE_SORT_KEY: C.ROLE_SK, **attrs}
    item.setdefault(C.ATTR_VERSION, 1)
    item.setdefault(C.ATTR_UPDATED_BY, "edgeauth-local")
    return {k: _av(v) for k, v in item.items()}


def subject_item(issuer: str, sub: str, roles: list[str]) -> dict[str, Any]:
    item = {C.TABLE_PARTITION_KEY: C.SUBJECT_PK_PREFIX + issuer, C.TABLE_SORT_KEY: sub, C.ATTR_ROLES: roles}
    return {k: _av(v) for k, v in item.items()}


def seed(dynamodb: Any, table: str, issuer: str) -> None:
    """Write the demo roles and subjects (overwriting items with the same keys)."""
    for name, attrs in ROLES.items():
        dynamodb.put_item(TableName=table, Item=role_item(name, attrs))
    for sub, roles in SUBJECTS.items():
        dynamodb.put_item(TableName=table, Item=subject_item(issuer, sub, roles))
