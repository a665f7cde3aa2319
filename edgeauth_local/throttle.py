"""Token buckets and quotas: stage throttling and usage plans, as API Gateway applies them.

* A :class:`TokenBucket` holds up to ``burst`` tokens and refills at ``rate`` per second; a request
  takes one token or is throttled (429 ``Too Many Requests``).
* A :class:`QuotaCounter` counts requests per calendar period (UTC day, ISO week starting Monday,
  calendar month); past ``limit`` a request is refused (429 ``Limit Exceeded``). ``offset`` is
  subtracted from the limit of the first period only, as the usage plan's ``Quota.Offset`` is.
* :class:`UsagePlans` maps an API key id to its plan and keeps, per key, the plan's bucket, one
  bucket per throttled method of the plan, and the quota counter: limits are per key, aggregated
  over the plan's stages, as API Gateway documents.

All of it is thread-safe (one lock per bucket or counter) and takes an injectable clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from edgeauth_local.template import ApiKeySpec, Quota, Throttle, UsagePlanSpec

Clock = Callable[[], float]
KEY_REFRESH_SECONDS = 1.0
Verdict = Literal["ok", "throttled", "quota_exceeded"]


class TokenBucket:
    def __init__(self, throttle: Throttle, clock: Clock = time.monotonic) -> None:
        self.rate = max(0.0, throttle.rate)
        self.burst = max(0, throttle.burst)
        # A bucket with burst 0 but a positive rate still lets one request through per token.
        self.capacity = float(max(self.burst, 1 if self.rate > 0 else 0))
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def period_start(period: str, now: float) -> float:
    """Start (epoch seconds) of the UTC quota period holding ``now``."""
    t = datetime.fromtimestamp(now, UTC)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        return day.timestamp()
    if period == "WEEK":
        return (day - timedelta(days=day.weekday())).timestamp()
    if period == "MONTH":
        return day.replace(day=1).timestamp()
    raise ValueError(f"unknown quota period {period!r}")


class QuotaCounter:
    def __init__(self, quota: Quota, clock: Clock = time.time) -> None:
        self.quota = quota
        self._clock = clock
        self._first_period = period_start(quota.period, clock())
        self._period = self._first_period
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def limit_for(self, period: float) -> int:
        return self.quota.limit - (self.quota.offset if period == self._first_period else 0)

    def try_take(self) -> bool:
        with self._lock:
            start = period_start(self.quota.period, self._clock())
            if start != self._period:
                self._period, self._used = start, 0
            if self._used >= self.limit_for(self._period):
                return False
            self._used += 1
            return True


@dataclass
class _KeyState:
    bucket: TokenBucket | None
    method_buckets: dict[str, TokenBucket]
    quota: QuotaCounter | None


class UsagePlans:
    """The usage plans of one API stage, enforced per API key."""

    def __init__(
        self,
        plans: Iterable[UsagePlanSpec],
        keys: Iterable[ApiKeySpec],
        api_id: str,
        stage: str,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._clock = clock
        self._wall = wall_clock
        self.keys_by_value = {k.value: k for k in keys}
        self.plan_of_key: dict[str, UsagePlanSpec] = {}
        for plan in plans:
            if (api_id, stage) not in plan.stages:
                continue
            for key_id in plan.key_ids:
                # A key belongs to at most one plan per stage (API Gateway refuses a second one).
                self.plan_of_key.setdefault(key_id, plan)
        self.plans = {p.id: p for p in plans if (api_id, stage) in p.stages}
        self._state: dict[str, _KeyState] = {}
        self._lock = threading.Lock()
        self.key_source: Callable[[], list[tuple[str, str, bool, str]]] | None = None
        """Keys added at run time (``edgeauth clients add`` on the local stack): ``(value, id,
        enabled, plan id)``, read again at most every :data:`KEY_REFRESH_SECONDS` on an unknown value."""
        self._refreshed = float("-inf")
        self._refresh_lock = threading.Lock()

    def key(self, value: str | None) -> ApiKeySpec | None:
        """The enabled API key with this value that belongs to a plan of this stage."""
        if not value:
            return None
        key = self.keys_by_value.get(value)
        if key is None and self.key_source is not None:
            self._refresh()
            key = self.keys_by_value.get(value)
        if key is None or not key.enabled or key.id not in self.plan_of_key:
            return None
        return key

    def _refresh(self) -> bool:
        # One read at a time, and callers arriving meanwhile wait for it: before, they skipped it
        # (refreshed "just now") and answered 403 for a key the read in flight was about to add
        # (found by tests/load: a new client's first concurrent requests).
        with self._refresh_lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        now = self._clock()
        with self._lock:
            if now - self._refreshed < KEY_REFRESH_SECONDS or self.key_source is None:
                return False
            self._refreshed = now
        try:
            found = self.key_source()
        except Exception:  # an unreachable key source means "no such key"
            return False
        with self._lock:
            for value, key_id, enabled, plan_id in found:
                plan = self.plans.get(plan_id)
                if plan is None:
                    continue
                self.keys_by_value[value] = ApiKeySpec(key_id, key_id, key_id, value, enabled)
                if self.plan_of_key.get(key_id, plan) is not plan:
                    self._state.pop(key_id, None)  # moved to another plan: new buckets
                self.plan_of_key[key_id] = plan
        return True

    def _state_of(self, key_id: str) -> _KeyState:
        state = self._state.get(key_id)
        if state is None:
            with self._lock:
                state = self._state.get(key_id)
                if state is None:
                    plan = self.plan_of_key[key_id]
                    state = _KeyState(
                        bucket=TokenBucket(plan.throttle, self._clock) if plan.throttle else None,
                        method_buckets={
                            m: TokenBucket(t, self._clock) for m, t in plan.method_throttles.items()
                        },
                        quota=QuotaCounter(plan.quota, self._wall) if plan.quota else None,
                    )
                    self._state[key_id] = state
        return state

    def admit(self, key_id: str, resource_path: str, method: str) -> Verdict:
        """Take one request from the key's buckets and quota."""
        state = self._state_of(key_id)
        mb = state.method_buckets.get(f"{resource_path}/{method}")
        if mb is not None and not mb.try_take():
            return "throttled"
        if state.bucket is not None and not state.bucket.try_take():
            return "throttled"
        if state.quota is not None and not state.quota.try_take():
            return "quota_exceeded"
        return "ok"


class StageThrottle:
    """Stage method settings: one bucket per (resource path, method) for all clients together."""

    def __init__(self, settings: dict[tuple[str, str], Throttle], clock: Clock = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def admit(self, resource_path: str, method: str) -> bool:
        key = (resource_path, method)
        bucket = self._buckets.get(key)
        if bucket is None:
            setting = (
                self._settings.get(key)
                or self._settings.get((resource_path, "*"))
                or self._settings.get(("*", method))
                or self._settings.get(("*", "*"))
            )
            if setting is None:
                return True
            with self._lock:
                bucket = self._buckets.setdefault(key, TokenBucket(setting, self._clock))
        return bucket.try_take()
