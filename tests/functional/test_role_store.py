"""RoleStore against moto DynamoDB: exact-key reads, caching, console-written items, faults.

The table is on moto's server; each read test runs with both clients the store takes: boto3's
(the CLI's ``explain``) and the authorizer's own (``edgeauth.adapters.dynamodb``)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from edgeauth.adapters.role_store import RoleStore
from edgeauth.core.errors import RoleStoreError
from tests.conftest import ROLE_TABLE, put_item, put_role
from tests.support.dynamo_server import authorizer_client
from tests.support.fakes import Clock
from tests.support.tokens import ISSUER


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    return dynamodb_server


@pytest.fixture(params=["boto3", "authorizer"])
def client(request: pytest.FixtureRequest, dynamodb: Any) -> Any:
    """The store's client: boto3's, or the authorizer's, on the same server."""
    return dynamodb if request.param == "boto3" else authorizer_client(dynamodb)


def test_grants_resolve_subject_groups_and_client_in_one_read(dynamodb: Any, client: Any) -> None:
    put_role(dynamodb, "reader", allow=["GET /a"])
    put_role(dynamodb, "ops", allow=["GET /ops"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    put_item(dynamodb, f"GROUP#{ISSUER}", "operators", roles=["ops"])
    put_item(dynamodb, f"CLIENT#{ISSUER}", "cli", usage_key="u" * 24, tier="gold")
    store = RoleStore(ROLE_TABLE, client)
    grants, hit = store.grants(ISSUER, "carol", ("operators",), "cli")
    assert not hit
    assert grants.effective.granting == ("ops", "reader")
    assert grants.usage_key == "u" * 24 and grants.tier == "gold"
    assert {(s.role, s.source) for s in grants.effective.sources} == {
        ("reader", "subject"),
        ("ops", "group:operators"),
    }


def test_console_written_string_sets_are_read(dynamodb: Any, client: Any) -> None:
    dynamodb.put_item(
        TableName=ROLE_TABLE,
        Item={"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}, "allow": {"SS": ["GET /a", "GET /b"]}},
    )
    dynamodb.put_item(
        TableName=ROLE_TABLE,
        Item={"pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": "carol"}, "roles": {"SS": ["reader"]}},
    )
    grants, _ = RoleStore(ROLE_TABLE, client).grants(ISSUER, "carol")
    assert grants.effective.granting == ("reader",)
    assert not grants.problems


def test_wrong_attribute_types_grant_nothing_and_are_reported(dynamodb: Any, client: Any) -> None:
    dynamodb.put_item(
        TableName=ROLE_TABLE,
        Item={"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}, "allow": {"S": "GET /a"}},
    )
    dynamodb.put_item(
        TableName=ROLE_TABLE,
        Item={"pk": {"S": f"SUBJECT#{ISSUER}"}, "sk": {"S": "carol"}, "roles": {"L": [{"S": "reader"}]}},
    )
    grants, _ = RoleStore(ROLE_TABLE, client).grants(ISSUER, "carol")
    assert grants.effective.granting == ()
    assert any("ROLE" in p or "reader" in p for p in grants.problems)


def test_non_numeric_not_before_means_revoked(dynamodb: Any, client: Any) -> None:
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=[], not_before="yesterday")
    grants, _ = RoleStore(ROLE_TABLE, client).grants(ISSUER, "carol")
    assert grants.not_before == float("inf")


def test_reads_are_cached_for_the_ttl_then_reread(dynamodb: Any, client: Any) -> None:
    put_role(dynamodb, "reader", allow=["GET /a"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    clock = Clock()
    store = RoleStore(ROLE_TABLE, client, cache_ttl=30, clock=clock)
    store.grants(ISSUER, "carol")
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=[])
    clock.advance(29)
    grants, hit = store.grants(ISSUER, "carol")
    assert hit and grants.effective.granting == ("reader",)
    clock.advance(2)
    grants, hit = store.grants(ISSUER, "carol")
    assert not hit and grants.effective.granting == ()


def test_no_principal_keeps_an_edited_role_longer_than_one_ttl(dynamodb: Any, client: Any) -> None:
    # GIVEN the reader role read (and cached) at t=0 for alice
    put_role(dynamodb, "reader", allow=["GET /a"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "alice", roles=["reader"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    clock = Clock()
    store = RoleStore(ROLE_TABLE, client, cache_ttl=30, clock=clock)
    store.grants(ISSUER, "alice")
    # WHEN the role loses its permission at t=20 and carol is first resolved at t=25 (from the
    # cached role item, still valid)
    clock.advance(20)
    put_role(dynamodb, "reader", allow=["GET /b"])
    clock.advance(5)
    carol, hit = store.grants(ISSUER, "carol")
    assert not hit and [p.text for p in carol.effective.roles["reader"].allow] == ["GET /a"]
    # THEN carol's grants expire with that item (t=30), not a full TTL after t=25
    clock.advance(6)
    carol, hit = store.grants(ISSUER, "carol")
    assert not hit and [p.text for p in carol.effective.roles["reader"].allow] == ["GET /b"]


class _Unprocessed:
    """Returns every key as unprocessed ``failures`` times, then delegates."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            return {"Responses": {ROLE_TABLE: []}, "UnprocessedKeys": kwargs["RequestItems"]}
        return self.real.batch_get_item(**kwargs)


def test_unprocessed_keys_are_retried_a_bounded_number_of_times(dynamodb: Any, client: Any) -> None:
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    flaky = _Unprocessed(client, failures=2)
    grants, _ = RoleStore(ROLE_TABLE, flaky).grants(ISSUER, "carol")  # type: ignore[arg-type]
    assert [s.role for s in grants.effective.sources] == ["reader"]
    stuck = _Unprocessed(client, failures=100)
    with pytest.raises(RoleStoreError):
        RoleStore(ROLE_TABLE, stuck).grants(ISSUER, "carol")  # type: ignore[arg-type]
    assert stuck.calls == 4


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ProvisionedThroughputExceededException", "AccessDeniedException"]
)
def test_client_errors_fail_closed_and_nothing_is_cached(dynamodb: Any, code: str) -> None:
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    store = RoleStore(ROLE_TABLE, dynamodb)

    def fail(request: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "BatchGetItem")

    dynamodb.meta.events.register_first("before-send.dynamodb.BatchGetItem", fail)
    with pytest.raises(RoleStoreError) as info:
        store.grants(ISSUER, "carol")
    assert code in str(info.value)
    dynamodb.meta.events.unregister("before-send.dynamodb.BatchGetItem", fail)
    grants, hit = store.grants(ISSUER, "carol")
    assert not hit and [s.role for s in grants.effective.sources] == ["reader"]


def test_token_without_sub_reads_no_subject_item(dynamodb: Any, client: Any) -> None:
    grants, _ = RoleStore(ROLE_TABLE, client).grants(ISSUER, "", ())
    assert grants.effective.granting == ()


def test_the_item_cache_is_bounded_by_count_and_drops_expired_items_first() -> None:
    from edgeauth.adapters.role_store import MAX_CACHED_ITEMS
    from tests.support.dynamo import DictDynamo

    # GIVEN a store (in-memory table) whose token claims carry ever new group values
    dynamo = DictDynamo()
    clock = Clock()
    store = RoleStore(ROLE_TABLE, dynamo, cache_ttl=30, clock=clock)  # type: ignore[arg-type]
    # WHEN principals with 100 distinct groups each arrive, far more keys than the bound
    for i in range(3 * MAX_CACHED_ITEMS // 100):
        store.grants(ISSUER, f"user-{i}", tuple(f"g-{i}-{j}" for j in range(100)))
        # THEN the item cache never holds more than the bound
        assert len(store._items) <= MAX_CACHED_ITEMS
    assert store.max_items == MAX_CACHED_ITEMS

    # GIVEN a small bound: items read long ago (expired) and recently
    store = RoleStore(ROLE_TABLE, dynamo, cache_ttl=30, clock=clock, max_items=10)  # type: ignore[arg-type]
    store.get_items([("GROUP#old", str(i)) for i in range(4)])
    clock.advance(31)
    store.get_items([("GROUP#recent", str(i)) for i in range(6)])
    calls = dynamo.calls
    # WHEN one more key is read (11 > 10)
    store.get_items([("GROUP#new", "0")])
    # THEN the expired items went first and the recent ones are still served from the cache
    assert len(store._items) == 7
    store.get_items([("GROUP#recent", str(i)) for i in range(6)] + [("GROUP#new", "0")])
    assert dynamo.calls == calls + 1
    # AND when nothing has expired, the least recently read go first, down to half the bound
    store.get_items([("GROUP#more", str(i)) for i in range(4)])
    assert len(store._items) == 5
    calls = dynamo.calls
    store.get_items([("GROUP#more", str(i)) for i in range(4)] + [("GROUP#new", "0")])
    assert dynamo.calls == calls


@pytest.mark.parametrize("where", ["subject", "group", "inherit"])
def test_a_role_named_by_an_invalid_name_grants_nothing_but_its_denies_apply(where: str) -> None:
    from edgeauth.core.roles import decide
    from edgeauth.core.routes import parse_template
    from tests.support.dynamo import DictDynamo

    # GIVEN a role whose name is not a valid role name (a comma: an existing table may hold one),
    # named by the subject item, a group mapping or another role's inherit
    dynamo = DictDynamo()

    def put(pk: str, sk: str, **lists: list[str]) -> None:
        dynamo.put(
            {
                "pk": {"S": pk},
                "sk": {"S": sk},
                **{k: {"L": [{"S": v} for v in vs]} for k, vs in lists.items()},
            }
        )

    put("ROLE#ops,guard", "ROLE", allow=["GET /accounts"], deny=["DELETE /accounts/{id}"])
    put("ROLE#editor", "ROLE", allow=["DELETE /accounts/{id}"])
    put("ROLE#team", "ROLE", inherit=["ops,guard"])  # malformed itself: it names an invalid parent
    held = ["editor", *{"subject": ["ops,guard"], "inherit": ["team"]}.get(where, [])]
    put(f"SUBJECT#{ISSUER}", "carol", roles=held)
    put(f"GROUP#{ISSUER}", "ops", roles=["ops,guard"] if where == "group" else [])
    # WHEN carol's grants are resolved
    grants, _ = RoleStore(ROLE_TABLE, dynamo).grants(ISSUER, "carol", ("ops",))  # type: ignore[arg-type]
    # THEN the role is read and reported, grants nothing, and its deny applies
    assert grants.effective.granting == ("editor",)
    assert any("invalid role name 'ops,guard'" in p for p in grants.problems)
    d = decide("DELETE", parse_template("/accounts/{id}"), grants.effective)
    assert (d.allowed, d.rule) == (False, "ops,guard:deny:DELETE /accounts/{id}")
    assert not decide("GET", parse_template("/accounts"), grants.effective).allowed
