"""Scenario 6, RBAC at scale: a whole request on a new route, for each kind of route.

Large: 1,000 roles holding 10,000 permissions in all (10 each, over 50 services), written to the moto
role table; the subject holds 100 roles, each at the bottom of an inheritance chain four deep (500
effective roles, 5,000 permissions). Small: a subject whose two roles hold 10 permissions (those of
one large role). Both subjects' roles are resolved from the table through :class:`RoleStore`.

Each timed operation is one whole request as Lambda's handler makes it (``Authorizer.authorize`` on
an event parsed from JSON just before, untimed, see :class:`bench.common.Fresh`) in a warm
container: the subject's token is verified and its grants are cached, but the route is new, its
decision and answer not yet memoised. The case's ``make`` empties the principal's per-route memos
(``Grants.decisions``, ``Grants.answers``, the authorizer's repeated-token memo) while it makes each
input, untimed; the inputs of one timed chunk (at most :data:`bench.common.FRESH_CHUNK`) are that
many distinct routes of one kind, so every request decides and builds its answer and audit fields
afresh. The token is the same on every request (its verification cached), so the time is the
request path around the decision, not the signature check.

Route kinds (:data:`KINDS`): literal paths, ``{name}`` variables (the first segment too), greedy
``{name+}`` (``GET /items/{proxy+}`` among them) and routes decided by a ``*``-method permission.
Every kind's routes mix allowed, explicitly denied and unmatched requests; the large and small
models decide every route alike (checked before timing). The ratio of a kind is the large model's
time over the small model's, paired by round.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, cast

from bench.common import FRESH_CHUNK, Fresh, Row, Settings, interleaved, median, paired_ratio, timing_row
from bench.world import ROLE_TABLE, World, put_items, role_item, token_claims
from edgeauth import constants as C
from edgeauth.authorizer import Authorizer
from tests.support.events import authorizer_event
from tests.support.tokens import ISSUER, sign

N_ROLES = 1000
PERMS_PER_ROLE = 10
N_SERVICES = 50
DIRECT = 100
DEPTH = 4  # levels of inheritance above each directly held role
LARGE_SUBJECT = "rbac-large"
SMALL_SUBJECT = "rbac-small"
#: The role whose ten permissions the small subject holds (its services: svc07 and svc02).
MODEL_ROLE = 7
A = f"svc{MODEL_ROLE % N_SERVICES:02d}"
B = f"svc{(MODEL_ROLE * 7 + 3) % N_SERVICES:02d}"

#: Per kind, distinct (method, resource template) routes, as many as a timed chunk holds at least.
KINDS: dict[str, list[tuple[str, str]]] = {
    "literal": [
        ("GET", f"/{A}/items"),  # allowed
        ("POST", f"/{A}/items"),  # allowed
        ("GET", f"/{B}/items"),  # allowed
        ("DELETE", f"/{A}/items/42"),  # explicitly denied (DELETE /{A}/items/{id} overlaps it)
        ("GET", f"/{A}/admin/settings"),  # allowed by * /{A}/admin/{proxy+}
        ("PUT", f"/{A}/items"),  # no matching permission
        ("GET", "/nowhere/items"),  # no matching permission
        ("GET", "/"),  # no matching permission
        ("POST", f"/{A}/reports/2024"),  # no matching permission
        ("GET", f"/{A}/reports"),  # no matching permission
    ],
    "{x}": [
        ("GET", f"/{A}/items/{{id}}"),  # allowed
        ("PUT", f"/{A}/items/{{itemId}}"),  # allowed
        ("GET", f"/{A}/reports/{{y}}/{{m}}"),  # allowed
        ("DELETE", f"/{A}/items/{{key}}"),  # explicitly denied
        ("PATCH", f"/{B}/items/{{id}}"),  # allowed
        ("POST", f"/{A}/items/{{id}}"),  # no matching permission
        ("GET", "/nowhere/{id}"),  # no matching permission
        ("GET", "/{tenant}/items"),  # no matching permission (a variable first segment)
        ("DELETE", "/{tenant}/items/{id}"),  # explicitly denied
        ("GET", "/{svc}/items/{id}/{part}"),  # no matching permission
    ],
    "{x+}": [
        ("GET", "/items/{proxy+}"),  # no matching permission
        ("GET", f"/{A}/admin/{{proxy+}}"),  # allowed by * /{A}/admin/{proxy+}
        ("PUT", f"/{A}/admin/{{rest+}}"),  # allowed
        ("DELETE", f"/{A}/items/{{path+}}"),  # explicitly denied (overlaps DELETE /{A}/items/{id})
        ("GET", f"/{A}/items/{{path+}}"),  # no matching permission
        ("GET", "/{proxy+}"),  # no matching permission
        ("DELETE", "/{proxy+}"),  # explicitly denied
        ("POST", f"/{B}/{{proxy+}}"),  # no matching permission
        ("GET", "/files/{path+}"),  # no matching permission
        ("PATCH", f"/{A}/admin/{{p+}}"),  # allowed
    ],
    "method *": [
        ("DELETE", f"/{A}/admin/{{id}}"),  # each allowed by * /{A}/admin/{proxy+}
        ("POST", f"/{A}/admin/{{id}}"),
        ("PUT", f"/{A}/admin/{{id}}"),
        ("PATCH", f"/{A}/admin/{{id}}"),
        ("HEAD", f"/{A}/admin/{{id}}"),
        ("OPTIONS", f"/{A}/admin/{{id}}"),
        ("GET", f"/{A}/admin/{{id}}"),
        ("DELETE", f"/{A}/admin/users"),
        ("POST", f"/{A}/admin/{{id}}/keys"),
        ("PUT", f"/{A}/admin/{{id}}/keys/{{keyId}}"),
    ],
}
ROW_KEYS = {"literal": "6", "{x}": "6b", "{x+}": "6c", "method *": "6d"}
REFERENCE_KEY = "6e"


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


def _subject(sub: str, roles: list[str]) -> dict[str, Any]:
    return {C.TABLE_PARTITION_KEY: C.SUBJECT_PK_PREFIX + ISSUER, C.TABLE_SORT_KEY: sub, "roles": roles}


def large_items() -> list[dict[str, Any]]:
    """1,000 roles, 10,000 permissions; roles 0..99 are held, each inherits a chain of 4 above it."""
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
    items.append(_subject(LARGE_SUBJECT, [f"big-{d:04d}" for d in range(DIRECT)]))
    return items


def small_items() -> list[dict[str, Any]]:
    """Two roles (one inherits the other) holding the 10 permissions of role :data:`MODEL_ROLE`."""
    allow, deny = _perms(MODEL_ROLE)
    return [
        role_item("small-0", allow=allow[:4], deny=deny, inherit=["small-1"]),
        role_item("small-1", allow=allow[4:]),
        _subject(SMALL_SUBJECT, ["small-0"]),
    ]


@dataclass(slots=True)
class Principal:
    """One benchmarked subject: its token (verified once, before timing) and how big its roles are."""

    sub: str
    token: str
    roles: int = 0
    permissions: int = 0


def _event_text(token: str, method: str, resource: str, i: int) -> str:
    path = "/" + "/".join(
        "x" if seg.startswith("{") else seg for seg in resource.strip("/").split("/") if seg
    )
    event = authorizer_event(method=method, resource=resource, path=path, authorization=f"Bearer {token}")
    event["requestContext"]["requestId"] = f"rbac-{i}"
    return json.dumps(event)


def new_route_case(auth: Authorizer, principal: Principal, routes: list[tuple[str, str]]) -> Fresh:
    """Requests of ``principal`` cycling over ``routes``, each on a route not memoised (see above)."""
    if len(routes) < FRESH_CHUNK or len(set(routes)) != len(routes):
        raise AssertionError(f"each kind needs {FRESH_CHUNK} distinct routes, one per request of a chunk")
    texts = itertools.cycle([_event_text(principal.token, m, r, i) for i, (m, r) in enumerate(routes)])
    key = (ISSUER, principal.sub, (), token_claims("x")["client_id"])

    def make() -> dict[str, Any]:
        grants, _ = auth.store.grants(*key)  # a refresh of expired grants happens here, untimed
        grants.decisions.clear()
        grants.answers.clear()
        auth._answers.clear()
        return cast(dict[str, Any], json.loads(next(texts)))

    return Fresh(make, auth.authorize)


def _effect(answer: dict[str, Any]) -> str:
    return cast(str, answer["policyDocument"]["Statement"][0]["Effect"])


def prepare(world: World) -> tuple[Authorizer, Principal, Principal]:
    """Write both role models to the table, then verify each subject's token and cache its grants
    with one request, and check that both models decide every route of every kind alike."""
    put_items(world.client, large_items() + small_items(), ROLE_TABLE)
    auth = world.authorizer()
    principals = []
    for sub in (LARGE_SUBJECT, SMALL_SUBJECT):
        token = sign(world.rs, {**token_claims(f"jti-{sub}"), "sub": sub})
        principal = Principal(sub, token)
        auth.authorize(json.loads(_event_text(token, "GET", f"/{A}/items", 0)))
        grants, hit = auth.store.grants(ISSUER, sub, (), token_claims("x")["client_id"])
        if not hit:
            raise AssertionError("the subject's grants must be cached by its first request")
        principal.roles = len(grants.effective.granting)
        principal.permissions = sum(len(r.allow) + len(r.deny) for r in grants.effective.roles.values())
        principals.append(principal)
    large, small = principals
    if (large.roles, large.permissions) != (DIRECT * (DEPTH + 1), DIRECT * (DEPTH + 1) * PERMS_PER_ROLE):
        raise AssertionError(
            f"large subject resolved to {large.roles} roles, {large.permissions} permissions"
        )
    for kind, routes in KINDS.items():
        for i, (method, resource) in enumerate(routes):
            effects = [
                _effect(auth.authorize(json.loads(_event_text(p.token, method, resource, i))))
                for p in principals
            ]
            if effects[0] != effects[1]:
                raise AssertionError(f"{kind} {method} {resource}: large {effects[0]}, small {effects[1]}")
    return auth, large, small


def rows(world: World, s: Settings, target: float) -> list[Row]:
    """Rows 6–6d (one per route kind, against the same kind with 10 permissions) and 6e (those)."""
    auth, large, small = prepare(world)
    cases: dict[str, Fresh] = {}
    for kind, routes in KINDS.items():
        cases[f"large {kind}"] = new_route_case(auth, large, routes)
        cases[f"small {kind}"] = new_route_case(auth, small, routes)
    x = interleaved(cases, s.rounds, s.batch)
    out: list[Row] = []
    for kind in KINDS:
        big, ref = x[f"large {kind}"], x[f"small {kind}"]
        out.append(
            timing_row(
                ROW_KEYS[kind],
                f"RBAC, a request on a new route, {kind}: 1,000 roles / 10,000 perms "
                f"(subject: {large.roles} roles, {large.permissions:,} perms)",
                big,
                ratio=paired_ratio(big, ref),
                ratio_to="10 perms",
                target=target,
                note=f"the same requests with 10 permissions: {median(ref) * 1e6:.1f} µs.",
            )
        )
    pooled = [t for kind in KINDS for t in x[f"small {kind}"]]
    out.append(
        timing_row(
            REFERENCE_KEY,
            f"RBAC, a request on a new route, 10 permissions ({small.roles} roles, {small.permissions} perms; "
            "all kinds)",
            pooled,
            ratio=1.0,
            ratio_to="10 perms",
            note=_describe(),
        )
    )
    return out


def _describe() -> str:
    counts = ", ".join(f"{kind} {len(routes)}" for kind, routes in KINDS.items())
    return (
        "rows 6–6e: `Authorizer.authorize` on a fresh event, token verified and grants cached (warm "
        "container), the route's decision and answer not memoised; routes per kind: "
        f"{counts} (allowed, denied and unmatched, `GET /items/{{proxy+}}` among the greedy ones)."
    )
