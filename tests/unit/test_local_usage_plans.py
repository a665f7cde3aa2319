"""The local gateway's usage plans (``edgeauth_local.throttle``): key and plan changes after a read.

API Gateway answers 403 ``Forbidden`` for a disabled key or a key in no plan of the stage, and meters
a key on the plan it is in now; a plan's new limits apply to its keys. Fake clocks: nothing here
depends on time passing.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from edgeauth_local.template import ApiKeySpec, Quota, Throttle, UsagePlanSpec
from edgeauth_local.throttle import QuotaCounter, TokenBucket, UsagePlans, plan_from_api

API, STAGE = "api1", "dev"
NOON = 1_700_000_000.0 - (1_700_000_000.0 % 86_400) + 43_200  # a UTC noon: a quota day lasts


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def plan(
    plan_id: str,
    keys: Iterable[str],
    *,
    burst: int = 100,
    rate: float = 0.001,
    quota: int | None = None,
    stages: tuple[tuple[str, str], ...] = ((API, STAGE),),
) -> UsagePlanSpec:
    return UsagePlanSpec(
        logical_id=plan_id,
        id=plan_id,
        name=plan_id,
        throttle=Throttle(rate, burst),
        quota=Quota(quota, "DAY") if quota is not None else None,
        stages=stages,
        method_throttles={},
        key_ids=tuple(keys),
    )


def key(key_id: str, *, enabled: bool = True) -> ApiKeySpec:
    return ApiKeySpec(key_id, key_id, key_id, f"value-of-{key_id}", enabled)


class ControlPlane:
    """What API Gateway's API would answer; tests edit it, then the gateway reads it."""

    def __init__(self, plans: list[UsagePlanSpec], keys: list[ApiKeySpec]) -> None:
        self.plans = plans
        self.keys = keys
        self.fail: Exception | None = None

    def __call__(self) -> tuple[list[UsagePlanSpec], list[ApiKeySpec]]:
        if self.fail is not None:
            raise self.fail
        return list(self.plans), list(self.keys)


def usage_of(control: ControlPlane) -> UsagePlans:
    usage = UsagePlans(control.plans, control.keys, API, STAGE, clock=Clock(), wall_clock=Clock(NOON))
    usage.source = control
    return usage


def send(usage: UsagePlans, value: str, n: int = 1) -> list[str]:
    """What ``n`` requests with this key value get: "forbidden" (403) or the plan's verdict."""
    verdicts: list[str] = []
    for _ in range(n):
        k = usage.key(value)
        verdicts.append("forbidden" if k is None else usage.admit(k.id, "/accounts", "GET"))
    return verdicts


def test_a_disabled_key_is_forbidden_after_its_first_use_and_allowed_again_once_enabled() -> None:
    # GIVEN a key in use
    control = ControlPlane([plan("gold", ["k1"])], [key("k1")])
    usage = usage_of(control)
    assert send(usage, "value-of-k1") == ["ok"]
    # WHEN it is disabled in API Gateway and the gateway reads it
    control.keys = [key("k1", enabled=False)]
    assert usage.refresh()
    # THEN 403 Forbidden
    assert send(usage, "value-of-k1") == ["forbidden"]
    # AND enabled again, it passes
    control.keys = [key("k1")]
    usage.refresh()
    assert send(usage, "value-of-k1") == ["ok"]


def test_a_key_removed_from_its_plan_or_deleted_is_forbidden() -> None:
    control = ControlPlane([plan("gold", ["k1", "k2"])], [key("k1"), key("k2")])
    usage = usage_of(control)
    assert send(usage, "value-of-k1") == ["ok"] and send(usage, "value-of-k2") == ["ok"]
    # WHEN k1 leaves the plan (the key itself still exists) and k2 is deleted
    control.plans = [plan("gold", ["k2"])]
    control.keys = [key("k1")]
    usage.refresh()
    # THEN both are refused
    assert send(usage, "value-of-k1") == ["forbidden"]
    assert send(usage, "value-of-k2") == ["forbidden"]


def test_a_key_in_a_plan_of_another_stage_only_is_forbidden() -> None:
    control = ControlPlane([plan("gold", ["k1"])], [key("k1")])
    usage = usage_of(control)
    control.plans = [plan("gold", ["k1"], stages=((API, "prod"),))]
    usage.refresh()
    assert send(usage, "value-of-k1") == ["forbidden"]


def test_a_moved_key_is_metered_on_its_new_plan_only() -> None:
    # GIVEN a key that used up its small plan's bucket (burst 2, no refill to speak of)
    control = ControlPlane([plan("free", ["k1"], burst=2), plan("gold", [], burst=5)], [key("k1")])
    usage = usage_of(control)
    assert send(usage, "value-of-k1", 3) == ["ok", "ok", "throttled"]
    # WHEN it moves to the bigger plan (set-tier: out of one plan, into the other)
    control.plans = [plan("free", [], burst=2), plan("gold", ["k1"], burst=5)]
    usage.refresh()
    # THEN the new plan's limits apply: its full burst, then throttled; nothing of the old bucket
    assert send(usage, "value-of-k1", 6) == ["ok"] * 5 + ["throttled"]
    assert usage.plan_of_key["k1"].id == "gold"
    # AND moved back, the small plan starts afresh too (its bucket is the key's on that plan)
    control.plans = [plan("free", ["k1"], burst=2), plan("gold", [], burst=5)]
    usage.refresh()
    assert send(usage, "value-of-k1", 3) == ["ok", "ok", "throttled"]


def test_a_moved_key_starts_the_new_plans_quota_at_zero() -> None:
    control = ControlPlane([plan("free", ["k1"], quota=1), plan("gold", [], quota=2)], [key("k1")])
    usage = usage_of(control)
    assert send(usage, "value-of-k1", 2) == ["ok", "quota_exceeded"]
    control.plans = [plan("free", [], quota=1), plan("gold", ["k1"], quota=2)]
    usage.refresh()
    assert send(usage, "value-of-k1", 3) == ["ok", "ok", "quota_exceeded"]


def test_new_limits_of_a_plan_apply_to_its_keys_with_what_they_used_so_far() -> None:
    # GIVEN a key that took 4 of its plan's burst of 5 and 4 of its quota of 10
    control = ControlPlane([plan("gold", ["k1"], burst=5, quota=10)], [key("k1")])
    usage = usage_of(control)
    assert send(usage, "value-of-k1", 4) == ["ok"] * 4
    # WHEN the plan's burst grows to 50 and its quota shrinks to 6
    control.plans = [plan("gold", ["k1"], burst=50, quota=6)]
    usage.refresh()
    # THEN the one token left carries over (no free refill), and the quota counts the 4 used
    assert send(usage, "value-of-k1", 2) == ["ok", "throttled"]
    usage_clock = usage._clock
    assert isinstance(usage_clock, Clock)
    usage_clock.now += 1000  # 1 token back at 0.001/s
    assert send(usage, "value-of-k1", 2) == ["ok", "throttled"]
    usage_clock.now += 1000
    assert send(usage, "value-of-k1") == ["quota_exceeded"]  # 6 used of 6


def test_unchanged_plans_keep_their_buckets_across_reads() -> None:
    control = ControlPlane([plan("gold", ["k1"], burst=2)], [key("k1")])
    usage = usage_of(control)
    assert send(usage, "value-of-k1", 2) == ["ok", "ok"]
    # WHEN another key joins the plan (its key list changes, not its limits)
    control.plans = [plan("gold", ["k1", "k2"], burst=2)]
    control.keys = [key("k1"), key("k2")]
    usage.refresh()
    # THEN k1's bucket is still empty, and k2 has its own
    assert send(usage, "value-of-k1") == ["throttled"]
    assert send(usage, "value-of-k2", 3) == ["ok", "ok", "throttled"]


def test_a_failed_read_keeps_the_last_keys_and_plans(capsys: pytest.CaptureFixture[str]) -> None:
    control = ControlPlane([plan("gold", ["k1"])], [key("k1")])
    usage = usage_of(control)
    control.fail = ConnectionError("moto is down")
    assert not usage.refresh()
    assert not usage.refresh()
    assert send(usage, "value-of-k1") == ["ok"]
    assert usage.read_failures == 2
    control.fail = None
    control.keys = [key("k1", enabled=False)]
    assert usage.refresh()
    assert send(usage, "value-of-k1") == ["forbidden"]


def test_a_key_that_leaves_its_plan_between_lookup_and_metering_is_forbidden() -> None:
    control = ControlPlane([plan("gold", ["k1"])], [key("k1")])
    usage = usage_of(control)
    found = usage.key("value-of-k1")
    assert found is not None
    control.plans = [plan("gold", [])]
    usage.refresh()
    assert usage.admit(found.id, "/accounts", "GET") == "forbidden"


def test_without_a_source_refresh_changes_nothing() -> None:
    usage = UsagePlans([plan("gold", ["k1"])], [key("k1")], API, STAGE, clock=Clock())
    assert not usage.refresh()
    assert send(usage, "value-of-k1") == ["ok"]
    assert send(usage, "") == ["forbidden"]
    assert send(usage, "no-such-value") == ["forbidden"]


def test_plan_from_api_reads_what_get_usage_plans_returns() -> None:
    item = {
        "id": "p1",
        "name": "edgeauth-gold",
        "apiStages": [
            {
                "apiId": API,
                "stage": STAGE,
                "throttle": {"/accounts/{id}/GET": {"rateLimit": 1.5, "burstLimit": 2}},
            }
        ],
        "throttle": {"rateLimit": 7, "burstLimit": 3},
        "quota": {"limit": 5, "period": "WEEK", "offset": 1},
    }
    spec = plan_from_api(item, ["k1"])
    assert spec.id == "p1" and spec.name == "edgeauth-gold"
    assert spec.stages == ((API, STAGE),)
    assert spec.throttle == Throttle(7.0, 3)
    assert spec.quota == Quota(5, "WEEK", 1)
    assert spec.method_throttles == {"/accounts/{id}/GET": Throttle(1.5, 2)}
    assert spec.key_ids == ("k1",)
    bare = plan_from_api({"id": "p2"}, [])
    assert bare.throttle is None and bare.quota is None and bare.stages == ()


def test_resized_bucket_and_counter_carry_what_was_used() -> None:
    clock = Clock()
    bucket = TokenBucket(Throttle(0.0, 3), clock)
    assert bucket.try_take()
    smaller = bucket.resized(Throttle(0.0, 1))
    assert smaller.try_take() and not smaller.try_take()
    larger = bucket.resized(Throttle(0.0, 10))
    assert [larger.try_take() for _ in range(3)] == [True, True, False]

    counter = QuotaCounter(Quota(3, "DAY"), Clock(NOON))
    assert counter.try_take() and counter.try_take()
    assert not counter.resized(Quota(2, "DAY")).try_take()
    assert counter.resized(Quota(2, "WEEK")).try_take()  # another period unit: a new count


def test_the_poller_rereads_until_stopped() -> None:
    import threading

    from edgeauth_local.pollers import UsagePlanPoller

    reads = threading.Semaphore(0)
    poller = UsagePlanPoller(reads.release, interval=0.01)
    poller.start()
    try:
        assert all(reads.acquire(timeout=10) for _ in range(3))
    finally:
        poller.stop()
    assert not poller._thread.is_alive()
