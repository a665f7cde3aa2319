"""A warm RoleStore and the role table's change log (moto): edits reach it within the check interval.

GIVEN a store that caches for 30 s and reads the change log every 2 s (the authorizer's defaults),
WHEN the table changes and the role-events function's writer publishes the change, THEN the store
answers from the new state once its next look is due, drops only what changed, reads strongly
consistently, and fails closed when it cannot read the log.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from edgeauth import constants as C
from edgeauth.adapters.change_log import ChangeLogWriter
from edgeauth.adapters.role_store import RoleStore, role_key, subject_key
from edgeauth.core.errors import RoleStoreError
from tests.conftest import ROLE_TABLE, put_item, put_role
from tests.support.fakes import Clock
from tests.support.tokens import ISSUER

CHECK = 2.0
TTL = 30.0


class Recording:
    """The moto client, with every call's operation and arguments recorded; ``fail`` makes the
    change log read raise (a throttled ``GetItem``)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_get: Exception | None = None
        self.during_batch_get: Any = None

    def get_item(self, **kwargs: Any) -> Any:
        self.calls.append(("GetItem", kwargs))
        if self.fail_get is not None:
            raise self.fail_get
        return self.real.get_item(**kwargs)

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.calls.append(("BatchGetItem", kwargs))
        answer = self.real.batch_get_item(**kwargs)
        if self.during_batch_get is not None:
            hook, self.during_batch_get = self.during_batch_get, None
            hook()
        return answer

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)


@pytest.fixture
def table(dynamodb: Any) -> Any:
    put_role(dynamodb, "base", allow=["GET /base"])
    put_role(dynamodb, "reader", allow=["GET /a"], inherit=["base"])
    put_role(dynamodb, "ops", allow=["GET /ops"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "carol", roles=["reader"])
    put_item(dynamodb, f"SUBJECT#{ISSUER}", "dave", roles=["ops"])
    # Edits were published before (the first publication starts an era, which every store that saw
    # no change log at all must take as "anything may have changed").
    ChangeLogWriter(ROLE_TABLE, dynamodb).publish([])
    return dynamodb


def store_of(client: Any, clock: Clock) -> RoleStore:
    return RoleStore(ROLE_TABLE, client, cache_ttl=TTL, clock=clock, revocation_check_seconds=CHECK)


def allows(store: RoleStore, sub: str) -> tuple[tuple[str, ...], bool]:
    grants, hit = store.grants(ISSUER, sub)
    return grants.effective.granting, hit


def test_an_edit_reaches_a_warm_store_at_its_next_look_not_after_the_ttl(table: Any) -> None:
    # GIVEN carol's grants cached
    clock = Clock(1000.0)
    store = store_of(table, clock)
    assert allows(store, "carol") == (("base", "reader"), False)
    # WHEN her roles are taken away and the change is published
    put_item(table, f"SUBJECT#{ISSUER}", "carol", roles=[])
    ChangeLogWriter(ROLE_TABLE, table).publish([subject_key(ISSUER, "carol")])
    # THEN until the look is due the cache answers (at most one interval after its last look)
    clock.advance(CHECK - 0.01)
    assert allows(store, "carol") == (("base", "reader"), True)
    # AND at the look, carol is read again: no roles (well before the 30 s TTL)
    clock.advance(0.01)
    assert allows(store, "carol") == ((), False)


def test_only_what_changed_is_dropped(table: Any) -> None:
    clock = Clock(1000.0)
    client = Recording(table)
    store = store_of(client, clock)
    allows(store, "carol")
    allows(store, "dave")
    reads = len(client.calls)
    # WHEN the base role (inherited by carol's reader) changes
    put_role(table, "base", allow=["GET /base2"])
    ChangeLogWriter(ROLE_TABLE, table).publish([role_key("base")])
    clock.advance(CHECK)
    # THEN dave (ops only) is still answered from the cache, carol is resolved again
    assert allows(store, "dave") == (("ops",), True)
    grants, hit = store.grants(ISSUER, "carol")
    assert not hit and [p.text for p in grants.effective.roles["base"].allow] == ["GET /base2"]
    # AND only the base role's item was read again (carol's subject and reader items still cached)
    new = [kw for op, kw in client.calls[reads:] if op == "BatchGetItem"]
    assert [[k["pk"]["S"] for k in kw["RequestItems"][ROLE_TABLE]["Keys"]] for kw in new] == [["ROLE#base"]]


def test_a_change_to_an_absent_item_is_seen_too(table: Any) -> None:
    # GIVEN erin has no subject item (cached as absent)
    clock = Clock(1000.0)
    store = store_of(table, clock)
    assert allows(store, "erin") == ((), False)
    # WHEN she is granted a role
    put_item(table, f"SUBJECT#{ISSUER}", "erin", roles=["ops"])
    ChangeLogWriter(ROLE_TABLE, table).publish([subject_key(ISSUER, "erin")])
    clock.advance(CHECK)
    assert allows(store, "erin") == (("ops",), False)


def test_the_log_is_read_at_most_once_per_interval_strongly_consistent(table: Any) -> None:
    clock = Clock(1000.0)
    client = Recording(table)
    store = store_of(client, clock)
    for _ in range(50):
        allows(store, "carol")
        clock.advance(0.1)  # 5 s in all
    # one look at first, then one every 2 s: t=0, 2, 4
    assert client.count("GetItem") == 3
    assert all(kw["ConsistentRead"] is True for op, kw in client.calls if op == "GetItem")
    assert all(
        kw["RequestItems"][ROLE_TABLE]["ConsistentRead"] is True
        for op, kw in client.calls
        if op == "BatchGetItem"
    )
    # AND the first look came before the first item read
    assert client.calls[0][0] == "GetItem"


def test_a_store_too_far_behind_drops_everything(table: Any) -> None:
    clock = Clock(1000.0)
    store = store_of(table, clock)
    allows(store, "carol")
    allows(store, "dave")
    # WHEN more batches were published than the log lists (one with a thousand keys)
    writer = ChangeLogWriter(ROLE_TABLE, table)
    writer.publish([subject_key(ISSUER, f"user-{i}") for i in range(1000)])
    clock.advance(CHECK)
    # THEN nothing is answered from the cache
    assert allows(store, "carol")[1] is False
    assert allows(store, "dave")[1] is False


def test_a_failed_look_fails_closed_even_for_cached_principals_until_one_succeeds(table: Any) -> None:
    from botocore.exceptions import ClientError

    clock = Clock(1000.0)
    client = Recording(table)
    store = store_of(client, clock)
    grants, _ = store.grants(ISSUER, "carol")
    principal = (ISSUER, "carol", (), None)
    assert store.still_current(principal, grants)
    # WHEN the look is due and the change log cannot be read
    client.fail_get = ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "GetItem")
    clock.advance(CHECK)
    # THEN the memo is not current, and the cached principal is an error (500), request after request
    assert not store.still_current(principal, grants)
    for _ in range(3):
        with pytest.raises(RoleStoreError, match="change log read failed: ThrottlingException"):
            store.grants(ISSUER, "carol")
    assert client.count("GetItem") == 4  # the first look, then every request tries again
    # AND once it can be read, answers come back (from the cache: nothing changed)
    client.fail_get = None
    assert allows(store, "carol") == (("base", "reader"), True)


def test_a_malformed_change_log_drops_everything_at_every_look(table: Any) -> None:
    clock = Clock(1000.0)
    store = store_of(table, clock)
    allows(store, "carol")
    table.put_item(
        TableName=ROLE_TABLE,
        Item={"pk": {"S": C.CHANGES_PK}, "sk": {"S": C.CHANGES_SK}, "generation": {"S": "seven"}},
    )
    clock.advance(CHECK)
    assert allows(store, "carol")[1] is False
    assert allows(store, "carol")[1] is True  # cached until the next look...
    clock.advance(CHECK)
    assert allows(store, "carol")[1] is False  # ...which cannot tell what changed either


def test_a_read_that_straddles_a_change_is_not_cached(table: Any) -> None:
    # GIVEN carol's first read in flight when another thread's look drops her subject item
    clock = Clock(1000.0)
    client = Recording(table)
    store = store_of(client, clock)
    allows(store, "dave")  # the first look

    def change_meanwhile() -> None:
        put_item(table, f"SUBJECT#{ISSUER}", "carol", roles=[])
        ChangeLogWriter(ROLE_TABLE, table).publish([subject_key(ISSUER, "carol")])
        clock.advance(CHECK)
        t = threading.Thread(target=store.check_changes)
        t.start()
        t.join()

    client.during_batch_get = change_meanwhile
    # WHEN the read answers with the item from before the change
    assert allows(store, "carol") == (("base", "reader"), False)
    # THEN it was not kept: the next request reads carol again
    assert allows(store, "carol") == ((), False)


def test_without_a_check_interval_the_log_is_never_read(table: Any) -> None:
    client = Recording(table)
    RoleStore(ROLE_TABLE, client, cache_ttl=TTL).grants(ISSUER, "carol")
    RoleStore(ROLE_TABLE, client, cache_ttl=0, revocation_check_seconds=CHECK).grants(ISSUER, "carol")
    assert client.count("GetItem") == 0


def test_a_warm_authorizer_refuses_a_remembered_token_of_a_revoked_subject_at_its_next_look(
    table: Any,
) -> None:
    """Through the whole authorizer as the handler builds it: the repeated-token memo too."""
    from edgeauth.authorizer import Unauthorized
    from edgeauth.bootstrap import build_authorizer
    from tests.conftest import issuer_env
    from tests.support.events import authorizer_event
    from tests.support.fakes import FakeKeyEndpoint
    from tests.support.tokens import claims, jwks, make_key, sign

    key = make_key("RS256", "k1")
    authorizer = build_authorizer(
        issuer_env(),
        emit=lambda _line: None,
        fetch=FakeKeyEndpoint({"https://idp.example.com/jwks.json": jwks(key)}),
        dynamodb_client=table,
        on_jwks_fetch=None,
    )
    clock = Clock(1000.0)
    authorizer.store._clock = clock
    assert authorizer.store.revocation_check_seconds == 2  # the default setting
    token = sign(key, claims(sub="carol", iat=int(time.time()) - 10))
    event = authorizer_event(authorization=f"Bearer {token}", resource="/a", method="GET", path="/a")
    put_role(table, "reader", allow=["GET /a"])
    # GIVEN the token answered twice (remembered) and carol's roles cached for 30 s
    for _ in range(2):
        assert authorizer.authorize(event)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert authorizer._answers
    # WHEN carol is revoked (the role-events function publishes her key)
    put_item(table, f"SUBJECT#{ISSUER}", "carol", roles=["reader"], not_before=int(time.time()))
    ChangeLogWriter(ROLE_TABLE, table).publish([subject_key(ISSUER, "carol")])
    # THEN until the look is due the memo still answers; at the look, the token is refused
    clock.advance(CHECK - 0.5)
    assert authorizer.authorize(event)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    clock.advance(0.5)
    with pytest.raises(Unauthorized):
        authorizer.authorize(event)
