"""``edgeauth clients``: API keys in usage plans (moto's API Gateway control plane)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.functional.test_cli_fixtures import ISS, REGION, World, aws, run, world

__all__ = ["aws", "world"]


@pytest.fixture
def plans(world: World) -> dict[str, Any]:
    apigw = boto3.client("apigateway", region_name=REGION)
    api = apigw.create_rest_api(name="edgeauth")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api, stageName="prod")
    ids = {
        tier: apigw.create_usage_plan(name=f"edgeauth-{tier}", apiStages=[{"apiId": api, "stage": "prod"}])[
            "id"
        ]
        for tier in ("gold", "silver")
    }
    return {"client": apigw, **ids}


def _plans_of(apigw: Any, key_id: str) -> list[str]:
    return [p["id"] for p in apigw.get_usage_plans(keyId=key_id)["items"]]


def test_add_creates_key_in_tier_plan_and_records_client(world: World, plans, capsys) -> None:
    # WHEN adding a client to the gold tier (plan found by name)
    code, out, _ = run(capsys, "clients", "add", "mobile", "--tier", "gold", "--iss", ISS)
    # THEN an API key exists in the gold plan, and the item records its value and id
    assert code == 0
    key_id = out["usage_key_id"]
    assert _plans_of(plans["client"], key_id) == [plans["gold"]]
    item = world.items()[(f"CLIENT#{ISS}", "mobile")]
    key = plans["client"].get_api_key(apiKey=key_id, includeValue=True)
    assert item["usage_key"] == key["value"] and len(key["value"]) >= 20
    assert item["tier"] == "gold" and item["usage_key_id"] == key_id
    # AND two clients of one tier get different keys (throttled independently)
    code, other, _ = run(capsys, "clients", "add", "web", "--tier", "gold", "--iss", ISS)
    assert code == 0 and other["usage_key_id"] != key_id
    # AND adding the same client twice is refused
    code, _, err = run(capsys, "clients", "add", "mobile", "--tier", "gold", "--iss", ISS)
    assert code == 1 and "already exists" in err


def test_set_tier_moves_the_key_and_remove_deletes_key_and_item(world: World, plans, capsys) -> None:
    run(capsys, "clients", "add", "mobile", "--tier", "gold", "--iss", ISS)
    key_id = world.items()[(f"CLIENT#{ISS}", "mobile")]["usage_key_id"]
    # WHEN moving to silver THEN the key is only in the silver plan and the item says silver
    code, _, _ = run(capsys, "clients", "set-tier", "mobile", "silver", "--iss", ISS)
    assert code == 0
    assert _plans_of(plans["client"], key_id) == [plans["silver"]]
    assert world.items()[(f"CLIENT#{ISS}", "mobile")]["tier"] == "silver"
    code, rows, _ = run(capsys, "clients", "list")
    assert [(r["client"], r["tier"]) for r in rows] == [("mobile", "silver")]
    # WHEN removing THEN item and key are gone
    code, _, _ = run(capsys, "clients", "remove", "mobile", "--iss", ISS, "--yes")
    assert code == 0
    assert world.items() == {}
    assert key_id not in [k["id"] for k in plans["client"].get_api_keys()["items"]]


def test_unknown_tier_creates_nothing(world: World, plans, capsys) -> None:
    code, _, err = run(capsys, "clients", "add", "mobile", "--tier", "platinum", "--iss", ISS)
    assert code == 1 and "no usage plan for tier 'platinum'" in err
    assert plans["client"].get_api_keys()["items"] == []
    assert world.items() == {}


def test_failed_item_write_deletes_the_new_key(world: World, plans, capsys, monkeypatch) -> None:
    # GIVEN the item write conflicts (someone created the client meanwhile)
    from edgeauth_cli.commands import clients

    real = clients.read_item

    def read_then_created_meanwhile(client, table, key):
        item = real(client, table, key)
        world.put_raw({"pk": {"S": key[0]}, "sk": {"S": key[1]}, "tier": {"S": "silver"}})
        return item

    monkeypatch.setattr(clients, "read_item", read_then_created_meanwhile)
    code, _, err = run(capsys, "clients", "add", "mobile", "--tier", "gold", "--iss", ISS)
    # THEN conflict, and no orphan key is left behind
    assert code == 1 and "conflict" in err
    assert plans["client"].get_api_keys()["items"] == []
