"""The local stack's moto server tells the gateway about every write to API keys and usage plans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from edgeauth_local.moto_server import MotoServer


@pytest.fixture
def server() -> Iterator[MotoServer]:
    s = MotoServer("127.0.0.1", 0)
    s.start()
    s.reset()
    try:
        yield s
    finally:
        s.reset()
        s.stop()


def _apigateway(server: MotoServer) -> Any:
    return boto3.client(
        "apigateway",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_every_write_to_keys_and_plans_is_reported_once_applied(server: MotoServer) -> None:
    # GIVEN a callback that reads what the write left, as the local gateway does
    gw = _apigateway(server)
    seen: list[list[tuple[str, bool]]] = []
    server.on_usage_change = lambda: seen.append(
        [(k["name"], k["enabled"]) for k in gw.get_api_keys()["items"]]
    )
    # WHEN keys and plans are created, changed and deleted
    key = gw.create_api_key(name="k1", enabled=True, value="v" * 30)["id"]
    plan = gw.create_usage_plan(name="gold")["id"]
    gw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    gw.update_api_key(apiKey=key, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}])
    gw.update_usage_plan(
        usagePlanId=plan, patchOperations=[{"op": "replace", "path": "/throttle/rateLimit", "value": "5"}]
    )
    gw.delete_usage_plan_key(usagePlanId=plan, keyId=key)
    gw.delete_api_key(apiKey=key)
    # THEN each write was reported after moto applied it (the callback saw its effect)
    assert seen == [
        [("k1", True)],
        [("k1", True)],
        [("k1", True)],
        [("k1", False)],
        [("k1", False)],
        [("k1", False)],
        [],
    ]
    # AND reads are not reported
    gw.get_usage_plans()
    gw.get_api_keys()
    assert len(seen) == 7


def test_a_failing_callback_does_not_fail_the_write(
    server: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("gateway gone")

    server.on_usage_change = broken
    gw = _apigateway(server)
    key = gw.create_api_key(name="k1", enabled=True)["id"]
    assert gw.get_api_key(apiKey=key)["name"] == "k1"
