"""Scenario 6, RBAC at scale: the core ``decide`` on a large and on a tiny role model.

Large: 1,000 roles holding 10,000 permissions in all (10 each, over 50 services), written to the
moto role table; the subject holds 5 roles, each at the bottom of an inheritance chain three deep
(5 × 4 = 20 effective roles, 200 permissions). Small: the same kind of subject whose roles hold 10
permissions in all. Both are resolved through :class:`RoleStore` from the table, then
:func:`edgeauth.core.roles.decide` is timed directly on the resolved ``EffectiveRoles``, over the
same mix of routes (allowed by the deepest ancestor, explicitly denied, no matching permission,
greedy). The per-route decision memo in ``Grants`` is deliberately bypassed: it would make both
sizes trivially equal after the first request.
"""

from __future__ import annotations

import itertools
from typing import Any

from bench.common import Batch
from bench.world import ROLE_TABLE, put_items, role_item
from edgeauth import constants as C
from edgeauth.adapters.role_store import RoleStore
from edgeauth.core.roles import Decision, EffectiveRoles, decide
from edgeauth.core.routes import Template, parse_template
from tests.support.tokens import ISSUER

N_ROLES = 1000
PERMS_PER_ROLE = 10
N_SERVICES = 50
DIRECT = 5
DEPTH = 3  # levels of inheritance above each directly held role
LARGE_SUBJECT = "rbac-large"
SMALL_SUBJECT = "rbac-small"


def _perms(i: int) -> tuple[list[str], list[str]]:
    """Ten permissions of role ``i``: nine allows over two services, one deny."""
    a, b = f"svc{i % N_SERVICES:02d}", f"svc{(i * 7 + 3) % N_SERVICES:02d}"
    allow = [
        f"GET /{a}/items",
        f"GET /{a}/items/{{id}}",
        f"POST /{a}/items",
        f"PUT /{a}/items/{{id}}",
        f"GET /{a}/reports/{{year}}/{{month}}",
        f"* /{a}/admin/{{proxy+}}",
        f"GET /{b}/items",
        f"GET /{b}/items/{{id}}/history",
        f"PATCH /{b}/items/{{id}}",
    ]
    deny = [f"DELETE /{a}/items/{{id}}"]
    return allow, deny


def large_items() -> list[dict[str, Any]]:
    """1,000 roles, 10,000 permissions; roles 0..4 are held, each inherits a chain of 3."""
    inherit: dict[int, int] = {}
    for d in range(DIRECT):
        chain = [d] + [DIRECT + d * DEPTH + k for k in range(DEPTH)]
        for child, parent in itertools.pairwise(chain):
            inherit[child] = parent
    items = []
    for i in range(N_ROLES):
        allow, deny = _perms(i)
        attrs: dict[str, Any] = {"allow": allow, "deny": deny}
        if i in inherit:
            attrs["inherit"] = [f"big-{inherit[i]:04d}"]
        items.append(role_item(f"big-{i:04d}", **attrs))
    items.append(
        {
            C.TABLE_PARTITION_KEY: C.SUBJECT_PK_PREFIX + ISSUER,
            C.TABLE_SORT_KEY: LARGE_SUBJECT,
            "roles": [f"big-{d:04d}" for d in range(DIRECT)],
        }
    )
    return items


def small_items() -> list[dict[str, Any]]:
    """Two roles (one inherits the other) holding 10 permissions in all."""
    allow, deny = _perms(DIRECT + DEPTH - 1)  # the services of a deepest ancestor above
    return [
        role_item("small-0", allow=allow[:4], deny=deny, inherit=["small-1"]),
        role_item("small-1", allow=allow[4:]),
        {
            C.TABLE_PARTITION_KEY: C.SUBJECT_PK_PREFIX + ISSUER,
            C.TABLE_SORT_KEY: SMALL_SUBJECT,
            "roles": ["small-0"],
        },
    ]


def routes() -> list[tuple[str, Template]]:
    """The routes decided in both cases (same list, same order)."""
    deep = DIRECT + DEPTH - 1  # top of chain 0: its permissions come through 3 levels
    a = f"svc{deep % N_SERVICES:02d}"
    return [
        ("GET", parse_template(f"/{a}/reports/{{y}}/{{m}}")),  # allowed by the deepest ancestor
        ("DELETE", parse_template(f"/{a}/items/{{itemId}}")),  # explicit deny
        ("POST", parse_template("/nowhere/items")),  # no matching permission
        ("GET", parse_template(f"/{a}/items/{{id}}")),  # allowed
        ("PUT", parse_template(f"/{a}/admin/{{rest+}}")),  # allowed by a greedy permission
        ("GET", parse_template("/svc49/files/{path+}")),  # no matching permission
    ]


def resolve(client: Any) -> tuple[EffectiveRoles, EffectiveRoles]:
    """Write both role models to the table and resolve both subjects through the role store."""
    put_items(client, large_items() + small_items(), ROLE_TABLE)
    store = RoleStore(ROLE_TABLE, client, cache_ttl=0)
    large, _ = store.grants(ISSUER, LARGE_SUBJECT)
    small, _ = store.grants(ISSUER, SMALL_SUBJECT)
    if len(large.effective.granting) != DIRECT * (DEPTH + 1):
        raise AssertionError(f"large subject resolved to {len(large.effective.granting)} roles")
    return large.effective, small.effective


def permission_count(effective: EffectiveRoles) -> int:
    return sum(len(r.allow) + len(r.deny) for r in effective.roles.values())


def decisions(effective: EffectiveRoles) -> list[Decision]:
    return [decide(m, t, effective) for m, t in routes()]


def decide_batch(effective: EffectiveRoles) -> Batch:
    """``n`` decisions, cycling over :func:`routes`."""
    rs = routes()
    k = len(rs)

    def run(n: int) -> None:
        for i in range(n):
            m, t = rs[i % k]
            decide(m, t, effective)

    return run
