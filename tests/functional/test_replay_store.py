"""The DPoP replay table adapter on moto: first use, replay, expiry, retried writes, faults.

The table is on moto's server; the tests that write run with both clients the store takes: boto3's
and the authorizer's own (``edgeauth.adapters.dynamodb``)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from edgeauth import constants as C
from edgeauth.adapters.replay_store import DynamoReplayStore
from edgeauth.core.errors import DependencyError, ReplayStoreError
from tests.functional.test_dpop_authorizer import REPLAY_TABLE, create_replay_table
from tests.support.dynamo_server import authorizer_client
from tests.support.fakes import Clock


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    return dynamodb_server


@pytest.fixture
def ddb(dynamodb: Any) -> Any:
    create_replay_table(dynamodb)
    return dynamodb


@pytest.fixture(params=["boto3", "authorizer"])
def client(request: pytest.FixtureRequest, ddb: Any) -> Any:
    """The store's client: boto3's, or the authorizer's, on the same server."""
    return ddb if request.param == "boto3" else authorizer_client(ddb)


def item(ddb: Any, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = ddb.get_item(
        TableName=REPLAY_TABLE, Key={C.DPOP_REPLAY_KEY: {"S": key}}
    ).get("Item")
    return found


def test_first_use_then_replay(ddb: Any, client: Any) -> None:
    clock = Clock()
    store = DynamoReplayStore(REPLAY_TABLE, client, clock=clock)
    assert store.first_use("k1", clock.now + 330.4) is True
    assert store.first_use("k1", clock.now + 330) is False
    assert store.first_use("k2", clock.now + 330) is True
    stored = item(ddb, "k1")
    assert stored is not None
    # Rounded up: the record never expires before the proof could no longer be accepted.
    assert stored[C.DPOP_REPLAY_EXPIRES_AT] == {"N": str(int(clock.now) + 331)}
    assert set(stored) == {C.DPOP_REPLAY_KEY, C.DPOP_REPLAY_EXPIRES_AT, C.DPOP_REPLAY_OWNER}


def test_expired_record_not_yet_swept_does_not_count(ddb: Any, client: Any) -> None:
    # DynamoDB's TTL sweep is eventual: an expired item may still be there. It is no replay.
    clock = Clock()
    store = DynamoReplayStore(REPLAY_TABLE, client, clock=clock)
    assert store.first_use("k", clock.now + 10)
    clock.advance(9)
    assert store.first_use("k", clock.now + 10) is False
    clock.advance(2)
    assert store.first_use("k", clock.now + 10) is True


class RetriedAfterLostAnswer:
    """The first PutItem is applied but its answer is lost; botocore retries it (the same request)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def put_item(self, **kwargs: Any) -> Any:
        self.real.put_item(**kwargs)
        return self.real.put_item(**kwargs)


def test_a_retry_of_our_own_applied_write_is_still_a_first_use(ddb: Any, client: Any) -> None:
    store = DynamoReplayStore(REPLAY_TABLE, RetriedAfterLostAnswer(client))  # type: ignore[arg-type]
    assert store.first_use("k", 4_000_000_000) is True
    # ...while another request's write of the same id is a replay, retried or not.
    assert store.first_use("k", 4_000_000_000) is False
    assert DynamoReplayStore(REPLAY_TABLE, client).first_use("k", 4_000_000_000) is False


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def put_item(self, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutItem"),
        ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "x"}}, "PutItem"),
        ClientError({}, "PutItem"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
)
def test_any_other_failure_is_a_dependency_error(error: Exception) -> None:
    store = DynamoReplayStore(REPLAY_TABLE, Failing(error))  # type: ignore[arg-type]
    with pytest.raises(ReplayStoreError) as info:
        store.first_use("k", 4_000_000_000)
    assert isinstance(info.value, DependencyError)
    assert info.value.reason == "dpop_replay_store_unavailable"


def test_client_is_built_once_on_first_use(ddb: Any) -> None:
    built: list[int] = []

    def factory() -> Any:
        built.append(1)
        return ddb

    store = DynamoReplayStore(REPLAY_TABLE, client_factory=factory)
    assert built == []
    store.first_use("a", 4_000_000_000)
    store.first_use("b", 4_000_000_000)
    assert built == [1]
    with pytest.raises(ReplayStoreError):
        DynamoReplayStore(REPLAY_TABLE).first_use("a", 1)
