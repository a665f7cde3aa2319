"""Token buckets and quotas: stage throttling and usage plans, as API Gateway applies them.

* A :class:`TokenBucket` holds up to ``burst`` tokens and refills at ``rate`` per second; a request
  takes one token or is throttled (429 ``Too Many Requests``).
* A :class:`QuotaCounter` counts requests per calendar period (UTC day, ISO week starting Monday,
  calendar month); past ``limit`` a request is refused (429 ``Limit Exceeded``). ``offset`` is
  subtracted from the limit of the first period only, as the usage plan's ``Quota.Offset`` is.
* :class:`UsagePlans` maps an API key id to its plan and keeps, per key, the plan's bucket, one
  bucket per throttled method of the plan, and the quota counter: limits are per key, aggregated
  over the plan's stages, as API Gateway documents. :meth:`UsagePlans.refresh` re-reads keys and
  plans from the control plane: a disabled key, a key removed from its plan, a key moved to another
  plan and a plan's new limits apply from the next request on.

All of it is thread-safe (one lock per bucket or counter) and takes an injectable clock.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from edgeauth_local.template import ApiKeySpec, Quota, Throttle, UsagePlanSpec

Clock = Callable[[], float]
KEY_REFRESH_SECONDS = 1.0
"""The local stack re-reads API keys and usage plans at this interval, whatever else happens
(changes made through API Gateway's API are read at once: :mod:`edgeauth_local.moto_server`)."""
Verdict = Literal["ok", "forbidden", "throttled", "quota_exceeded"]


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

    def resized(self, throttle: Throttle) -> TokenBucket:
        """A bucket with new limits holding the tokens this one holds now (at most its capacity):
        a plan's new limits neither refill nor empty its keys' buckets."""
        bucket = TokenBucket(throttle, self._clock)
        with self._lock:
            now = self._clock()
            left = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        bucket._tokens = min(bucket.capacity, left)
        return bucket

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

    def resized(self, quota: Quota) -> QuotaCounter:
        """A counter for a plan's new quota: in the same period unit, the requests counted so far
        in this period count against the new limit; another unit starts a new count."""
        counter = QuotaCounter(quota, self._clock)
        if quota.period == self.quota.period:
            with self._lock:
                counter._first_period, counter._period, counter._used = (
                    self._first_period,
                    self._period,
                    self._used,
                )
        return counter

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
    plan: UsagePlanSpec
    """The plan these buckets and this counter were built from."""
    bucket: TokenBucket | None
    method_buckets: dict[str, TokenBucket]
    quota: QuotaCounter | None


UsageSource = Callable[[], tuple[Iterable[UsagePlanSpec], Iterable[ApiKeySpec]]]
"""Reads the usage plans (their keys in ``key_ids``) and the API keys from API Gateway's control plane."""


@dataclass(frozen=True, slots=True)
class _Registry:
    """The keys and plans of one read, indexed for the request path (replaced whole, never edited)."""

    keys_by_value: dict[str, ApiKeySpec]
    plan_of_key: dict[str, UsagePlanSpec]


def _same_limits(a: UsagePlanSpec, b: UsagePlanSpec) -> bool:
    return a.throttle == b.throttle and a.quota == b.quota and a.method_throttles == b.method_throttles


class UsagePlans:
    """The usage plans of one API stage, enforced per API key.

    What a caller may rely on:

    * :meth:`admit` answers ``"forbidden"`` for a value that is no API key, a disabled key, or a key
      in no usage plan of this stage (API Gateway's 403 ``Forbidden``), from the last read of the
      control plane;
    * after :meth:`refresh`, every request is decided on what it read: a key disabled or removed
      from its plan is refused, a key moved to another plan is metered on the new plan only (its
      bucket starts full at the new plan's burst and its quota count at 0: API Gateway records
      usage per plan and key), a plan whose limits changed meters its keys on the new limits (the
      tokens left and the quota used so far in the period carry over);
    * a failed read keeps the last keys and plans read (API Gateway's request path does not depend
      on its control plane being up either).
    """

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
        self.api_id = api_id
        self.stage = stage
        self._clock = clock
        self._wall = wall_clock
        self._registry = self._index(plans, keys)
        self._state: dict[str, _KeyState] = {}
        self._lock = threading.Lock()
        self.source: UsageSource | None = None
        """Where :meth:`refresh` reads keys and plans (the local stack: moto's API Gateway)."""
        self._read_lock = threading.Lock()
        self.reads = 0
        self.read_failures = 0
        self._failing = False

    # -- what the last read holds ----------------------------------------------------------------------

    @property
    def keys_by_value(self) -> dict[str, ApiKeySpec]:
        return self._registry.keys_by_value

    @property
    def plan_of_key(self) -> dict[str, UsagePlanSpec]:
        """Key id -> its usage plan on this stage (keys in no plan of the stage are absent)."""
        return self._registry.plan_of_key

    def _index(self, plans: Iterable[UsagePlanSpec], keys: Iterable[ApiKeySpec]) -> _Registry:
        plan_of_key: dict[str, UsagePlanSpec] = {}
        for plan in plans:
            if (self.api_id, self.stage) not in plan.stages:
                continue
            for key_id in plan.key_ids:
                # A key belongs to at most one plan per stage (API Gateway refuses a second one).
                plan_of_key.setdefault(key_id, plan)
        return _Registry({k.value: k for k in keys}, plan_of_key)

    def key(self, value: str | None) -> ApiKeySpec | None:
        """The enabled API key with this value that belongs to a plan of this stage."""
        if not value:
            return None
        registry = self._registry
        key = registry.keys_by_value.get(value)
        if key is None or not key.enabled or key.id not in registry.plan_of_key:
            return None
        return key

    # -- reading the control plane ------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Read keys and plans from :attr:`source` now and meter every later request on them.

        Reads are serialised; False when there is no source or the read failed (the last keys and
        plans stay in force)."""
        source = self.source
        if source is None:
            return False
        with self._read_lock:
            try:
                plans, keys = source()
                registry = self._index(list(plans), list(keys))
            except Exception as e:  # the control plane unreachable or answering nonsense
                self.read_failures += 1
                if not self._failing:  # once per run of failures
                    print(
                        f"edgeauth-local: cannot read API keys and usage plans ({e}); "
                        "the last ones read stay in force",
                        file=sys.__stderr__,
                    )
                self._failing = True
                return False
            with self._lock:
                self._reconcile(registry)
                self._registry = registry
            self.reads += 1
            self._failing = False
            return True

    def _reconcile(self, new: _Registry) -> None:
        """Carry each key's buckets and quota count over to what ``new`` says (under ``_lock``)."""
        for key_id, state in list(self._state.items()):
            plan = new.plan_of_key.get(key_id)
            if plan is None or plan.id != state.plan.id:
                del self._state[key_id]  # out of the stage's plans, or moved: the new plan starts afresh
            elif not _same_limits(plan, state.plan):
                self._state[key_id] = self._new_state(plan, previous=state)
            else:
                state.plan = plan

    # -- metering -------------------------------------------------------------------------------------------

    def _new_state(self, plan: UsagePlanSpec, previous: _KeyState | None = None) -> _KeyState:
        def bucket(throttle: Throttle, old: TokenBucket | None) -> TokenBucket:
            return TokenBucket(throttle, self._clock) if old is None else old.resized(throttle)

        old_methods = previous.method_buckets if previous else {}
        quota: QuotaCounter | None = None
        if plan.quota is not None:
            old_quota = previous.quota if previous else None
            quota = (
                QuotaCounter(plan.quota, self._wall) if old_quota is None else old_quota.resized(plan.quota)
            )
        return _KeyState(
            plan=plan,
            bucket=bucket(plan.throttle, previous.bucket if previous else None) if plan.throttle else None,
            method_buckets={m: bucket(t, old_methods.get(m)) for m, t in plan.method_throttles.items()},
            quota=quota,
        )

    def _state_of(self, key_id: str) -> _KeyState | None:
        state = self._state.get(key_id)
        if state is None:
            with self._lock:
                state = self._state.get(key_id)
                if state is None:
                    # The plan of the registry in force now: a read may have replaced the one the
                    # caller's key came from.
                    plan = self._registry.plan_of_key.get(key_id)
                    if plan is None:
                        return None
                    state = self._state[key_id] = self._new_state(plan)
        return state

    def admit(self, key_id: str, resource_path: str, method: str) -> Verdict:
        """Take one request from the key's buckets and quota (``"forbidden"``: the key left its
        plans since :meth:`key` found it)."""
        state = self._state_of(key_id)
        if state is None:
            return "forbidden"
        mb = state.method_buckets.get(f"{resource_path}/{method}")
        if mb is not None and not mb.try_take():
            return "throttled"
        if state.bucket is not None and not state.bucket.try_take():
            return "throttled"
        if state.quota is not None and not state.quota.try_take():
            return "quota_exceeded"
        return "ok"


def plan_from_api(item: Mapping[str, Any], key_ids: Iterable[str]) -> UsagePlanSpec:
    """A usage plan as API Gateway's ``GetUsagePlans`` returns it (``throttle``, ``quota``,
    ``apiStages[].throttle``), with the key ids of ``GetUsagePlanKeys``."""

    def throttle(raw: Mapping[str, Any] | None) -> Throttle | None:
        if not raw or (raw.get("rateLimit") is None and raw.get("burstLimit") is None):
            return None
        # API Gateway's own defaults for a missing half: the account-level limits.
        return Throttle(float(raw.get("rateLimit", 10_000)), int(raw.get("burstLimit", 5_000)))

    stages: list[tuple[str, str]] = []
    method_throttles: dict[str, Throttle] = {}
    for st in item.get("apiStages") or []:
        stages.append((str(st.get("apiId")), str(st.get("stage"))))
        for path_method, raw in (st.get("throttle") or {}).items():
            t = throttle(raw)
            if t is not None:
                method_throttles[str(path_method)] = t
    q = item.get("quota") or {}
    plan_id = str(item["id"])
    return UsagePlanSpec(
        logical_id=plan_id,
        id=plan_id,
        name=str(item.get("name") or plan_id),
        throttle=throttle(item.get("throttle")),
        quota=Quota(int(q["limit"]), str(q.get("period", "DAY")), int(q.get("offset", 0)))
        if q.get("limit") is not None
        else None,
        stages=tuple(stages),
        method_throttles=method_throttles,
        key_ids=tuple(key_ids),
    )


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
