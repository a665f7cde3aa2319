"""Through API Gateway's cache, a caller always gets the direct RBAC decision.

For random route tables, role tables (inheritance, cycles, missing parents, disabled and malformed
roles, console-written string sets), group mappings, tokens and request sequences over a simulated
clock, every answer of :class:`~tests.property.gateway_sim.SimGateway` (identity sources = token +
method + resource template; TTL; cached policies replayed with IAM matching, explicit deny first)
is compared with the brute-force oracle of :mod:`tests.property.model` at the time of the request.

The one documented difference (SECURITY.md, "Replayed tokens"): API Gateway replays a cached answer
until its TTL ends even if the token expired meanwhile. The test pins that down exactly: a cached
answer is always the decision at the time it was made, and differs from the decision now only for a
token that expired less than ``ttl`` seconds ago.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import event, given, target
from hypothesis import strategies as st

from edgeauth.adapters.role_store import RoleStore
from edgeauth.authorizer import Authorizer
from edgeauth.core.jwks import JwksCache
from edgeauth.core.settings import load_settings
from edgeauth.core.tokens import TokenVerifier
from tests.conftest import issuer_env
from tests.property.gateway_sim import SimClock, SimGateway
from tests.property.model import (
    ALPHABET,
    GREEDY,
    METHODS,
    MISSING_ROLE,
    ROLE_NAMES,
    UNIVERSE,
    VAR,
    Principal,
    RoleSpec,
    parse_text,
    ref_decision,
    role_specs,
    route_tables,
)
from tests.support.budget import budget
from tests.support.dynamo import DictDynamo
from tests.support.fakes import FakeKeyEndpoint
from tests.support.tokens import AUDIENCE, ISSUER, claims, forge, jwks, make_key, sign

JWKS_URL = "https://idp.example.com/jwks.json"
KEY = make_key("EdDSA", "k1")
FORGER = make_key("EdDSA", "k1")  # same kid, another key: a forged signature
LEEWAY = 30.0
T0 = 1_800_000_000.0
TTLS = (0, 1, 60, 300, 300, 3600, 3600)
STEPS = (0, 0, 0, 0, 0, 1, 1, 5, 29, 59, 60, 299, 300, 301, 900, 3600)
GROUPS = ("g0", "g1")
SUBJECTS = ("s0", "s1", "s2", "s3")


@dataclass(frozen=True)
class TokenCase:
    text: str | None
    kind: str  # valid | expired | forged | wrong_aud | none_alg | absent
    principal: Principal | None
    exp: float

    def valid_at(self, t: float) -> bool:
        return self.kind == "valid" and t <= self.exp + LEEWAY


def build(dynamo: DictDynamo, clock: SimClock, lines: list[str]) -> Authorizer:
    settings = load_settings(issuer_env(algorithms=["EdDSA"]))
    issuer = settings.issuers[0]
    endpoint = FakeKeyEndpoint({JWKS_URL: jwks(KEY)})
    key_sets = {issuer.issuer: JwksCache(issuer, endpoint, clock=clock)}
    verifier = TokenVerifier(settings.issuer_by_name, key_sets, clock=clock)
    store = RoleStore(settings.role_table, dynamo, cache_ttl=settings.role_cache_ttl, clock=clock)  # type: ignore[arg-type]
    return Authorizer(settings, verifier, store, emit=lines.append, clock=clock)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    routes = draw(route_tables)
    roles = draw(role_specs(routes))
    existing = sorted(roles)
    role_pool = st.sampled_from((*existing * 4, *ROLE_NAMES, MISSING_ROLE))
    principals = [
        Principal(
            sub,
            tuple(draw(st.lists(role_pool, min_size=1, max_size=3, unique=True))),
            tuple(draw(st.lists(st.sampled_from(GROUPS), max_size=2, unique=True))),
        )
        for sub in draw(st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=3, unique=True))
    ]
    group_roles = {g: tuple(draw(st.lists(role_pool, max_size=2, unique=True))) for g in GROUPS}
    unknown_subject = draw(st.booleans())  # a principal with no subject item at all
    return {
        "routes": routes,
        "roles": roles,
        "principals": principals,
        "group_roles": group_roles,
        "unknown_subject": unknown_subject,
        "ttl": draw(st.sampled_from(TTLS)),
    }


def mint(world: dict[str, Any], lifetimes: list[int]) -> list[TokenCase]:
    cases: list[TokenCase] = []
    for principal, lifetime in zip(world["principals"], lifetimes, strict=False):
        payload = claims(
            sub=principal.sub, iat=int(T0), exp=int(T0) + lifetime, groups=list(principal.groups)
        )
        cases.append(TokenCase(sign(KEY, payload), "valid", principal, T0 + lifetime))
    first = world["principals"][0]
    base = claims(sub=first.sub, iat=int(T0), exp=int(T0) + 600, groups=list(first.groups))
    cases += [
        TokenCase(
            sign(KEY, {**base, "iat": int(T0) - 400, "exp": int(T0) - 100}), "expired", first, T0 - 100
        ),
        TokenCase(sign(FORGER, base), "forged", first, T0 + 600),
        TokenCase(sign(KEY, {**base, "aud": AUDIENCE + "-other"}), "wrong_aud", first, T0 + 600),
        TokenCase(forge({"alg": "none", "kid": "k1"}, base), "none_alg", first, T0 + 600),
        TokenCase(None, "absent", None, 0.0),
    ]
    return cases


def seed_table(dynamo: DictDynamo, world: dict[str, Any]) -> None:
    roles: dict[str, RoleSpec] = world["roles"]
    for spec in roles.values():
        dynamo.put(spec.item())
    for i, p in enumerate(world["principals"]):
        if world["unknown_subject"] and i == len(world["principals"]) - 1:
            continue
        dynamo.put(
            {
                "pk": {"S": f"SUBJECT#{ISSUER}"},
                "sk": {"S": p.sub},
                "roles": {"L": [{"S": r} for r in p.roles]},
            }
        )
    for g, names in world["group_roles"].items():
        dynamo.put(
            {"pk": {"S": f"GROUP#{ISSUER}"}, "sk": {"S": g}, "roles": {"L": [{"S": r} for r in names]}}
        )


def direct_roles(world: dict[str, Any], principal: Principal) -> list[str]:
    subject_has_item = not (world["unknown_subject"] and principal == world["principals"][-1])
    names = list(principal.roles) if subject_has_item else []
    for g in principal.groups:
        names += world["group_roles"][g]
    return names


def expected(world: dict[str, Any], token: TokenCase, method: str, template: str | None, t: float) -> str:
    if template is None:
        return "no_route"
    if token.principal is None or not token.valid_at(t):
        return "unauthorized"
    allowed = ref_decision(method, template, direct_roles(world, token.principal), world["roles"])
    return "allow" if allowed else "deny"


def concrete_paths(routes: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    """Paths the routes serve (variables filled from the literals and a fresh value, greedy with one
    or two segments), plus any path of the universe (which may match no route, or another one)."""

    def instance(template: str, data: st.DataObject) -> tuple[str, ...]:
        out: list[str] = []
        for kind, text in parse_text(template):
            if kind == VAR:
                out.append(data.draw(st.sampled_from(ALPHABET)))
            elif kind == GREEDY:
                out += data.draw(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=2))
            else:
                out.append(text)
        return tuple(out)

    served_paths = st.tuples(st.sampled_from(routes), st.data()).map(lambda td: instance(*td))
    return st.one_of(served_paths, served_paths, served_paths, st.sampled_from(UNIVERSE))


@budget(60)
@given(world=worlds(), data=st.data())
def test_the_answer_through_the_gateway_cache_is_the_direct_rbac_decision(
    world: dict[str, Any], data: st.DataObject
) -> None:
    dynamo = DictDynamo()
    seed_table(dynamo, world)
    clock = SimClock(T0)
    lines: list[str] = []
    gateway = SimGateway(build(dynamo, clock, lines), world["routes"], clock, ttl=world["ttl"])
    lifetimes = data.draw(st.lists(st.sampled_from((60, 300, 600, 3600, 7200)), min_size=3, max_size=3))
    tokens = mint(world, lifetimes)
    valid = [t for t in tokens if t.kind == "valid"]
    # A few distinct calls, repeated in a random order: repeats are what exercise the cache.
    calls = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(valid * 10 + tokens),
                st.sampled_from(("GET",) * 4 + METHODS),
                concrete_paths(world["routes"]),
            ),
            min_size=1,
            max_size=4,
        )
    )
    requests = data.draw(
        st.lists(st.tuples(st.sampled_from(calls), st.sampled_from(STEPS)), min_size=2, max_size=25)
    )
    allowed = cached = 0
    for (token, method, path), step in requests:
        clock.now += step
        served = gateway.request(token.text, method, path)
        now_expected = expected(world, token, method, served.template, clock.now)
        then_expected = expected(world, token, method, served.template, served.decided_at)
        context = (
            f"{token.kind} {method} {'/' + '/'.join(path)} -> {served.template} at +{clock.now - T0:.0f}s"
        )
        # A cached answer is the decision made when it was cached; a fresh one is the decision now.
        assert served.outcome == then_expected, f"{context}: got {served.outcome}, expected {then_expected}"
        event(f"outcome={served.outcome}{' (cached)' if served.cached else ''}")
        allowed += served.outcome == "allow"
        cached += served.cached
        if served.outcome != now_expected:
            # Only API Gateway's replay of an answer cached before the token expired.
            assert served.cached, context
            assert now_expected == "unauthorized" and token.kind == "valid", context
            assert served.decided_at <= token.exp + LEEWAY < clock.now < served.decided_at + world["ttl"], (
                context
            )
            event("cached answer replayed after the token expired (bounded by the TTL)")
    # Steer the search towards sequences with allows and cache hits: that is where bugs would hide.
    target(float(allowed), label="allowed requests")
    target(float(cached), label="cached answers")
    # One audit line per authorizer call, never one per cached answer.
    assert len(lines) == gateway.authorizer_calls


@budget(40)
@given(world=worlds(), data=st.data())
def test_no_token_ever_allows_a_request_its_roles_do_not_grant_on_the_concrete_path(
    world: dict[str, Any], data: st.DataObject
) -> None:
    """Concrete safety, independent of templates: whenever the gateway lets a request through, a
    granting role holds an allow whose template matches the concrete path, and no role reached
    through inheritance (whatever its state) has a deny whose template matches it (or a malformed
    deny)."""
    from tests.property.model import held_roles, template_matches

    dynamo = DictDynamo()
    seed_table(dynamo, world)
    clock = SimClock(T0)
    gateway = SimGateway(build(dynamo, clock, []), world["routes"], clock, ttl=world["ttl"])
    tokens = [t for t in mint(world, [7200, 7200, 7200]) if t.kind == "valid"]
    requests = data.draw(
        st.lists(
            st.tuples(st.sampled_from(tokens), st.sampled_from(METHODS), concrete_paths(world["routes"])),
            min_size=1,
            max_size=30,
        )
    )
    roles: dict[str, RoleSpec] = world["roles"]
    for token, method, path in requests:
        clock.now += 7
        served = gateway.request(token.text, method, path)
        if served.outcome != "allow":
            continue
        assert token.principal is not None
        holding = held_roles(direct_roles(world, token.principal), roles)
        reached, granting = holding.reached, holding.granting
        assert not holding.too_deep

        def hits(perm: str, method: str = method, path: tuple[str, ...] = path) -> bool:
            m, t = perm.split(" ", 1)
            return m in ("*", method) and template_matches(parse_text(t), path)

        assert any(hits(p) for r in granting for p in roles[r].allow), f"{method} {path}: no allow"
        assert not any(roles[r].bad_deny or any(hits(p) for p in roles[r].deny) for r in reached), (
            f"{method} {path}: a deny applies"
        )


def test_negative_control_a_token_only_cache_key_replays_a_policy_onto_another_route() -> None:
    """The simulation has teeth: with the cache keyed by the token alone (the well-known Lambda
    authorizer bug), the policy for ``GET /a/{v0}`` (resource ``…/GET/a/*``) is replayed on the
    route ``/a/{v0}/c`` that the role may not call, and IAM's ``*`` lets it through."""
    world = {
        "routes": ["/a/{v0}", "/a/{v0}/c"],
        "roles": {"r0": RoleSpec("r0", allow=("GET /a/{v0}",))},
        "principals": [Principal("s0", ("r0",))],
        "group_roles": {g: () for g in GROUPS},
        "unknown_subject": False,
        "ttl": 300,
    }
    token = mint(world, [3600])[0]
    for key, leaked in (("identity_sources", False), ("token", True)):
        dynamo = DictDynamo()
        seed_table(dynamo, world)
        clock = SimClock(T0)
        gateway = SimGateway(build(dynamo, clock, []), world["routes"], clock, ttl=300, key=key)  # type: ignore[arg-type]
        assert gateway.request(token.text, "GET", ("a", "x")).outcome == "allow"
        second = gateway.request(token.text, "GET", ("a", "x", "c"))
        assert expected(world, token, "GET", "/a/{v0}/c", clock.now) == "deny"
        assert (second.outcome == "allow") is leaked
