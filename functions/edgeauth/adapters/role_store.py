"""The role table on DynamoDB: exact-key reads only (BatchGetItem), cached in the container.

Reads are by key, never Scan: the principal's subject item, its group mappings and its client item
in one BatchGetItem, then the roles level by level along ``inherit`` (one BatchGetItem per level).
Every item read (present or absent) is cached for ``cache_ttl`` seconds, and so is the resolved
:class:`Grants` of a principal, so a warm container makes no network call.

Both caches are bounded: at most ``max_items`` items (expired ones are dropped first, then the
oldest, as the verified-token cache does), so tokens carrying many distinct group values cannot grow
the container's memory without limit; and at most :data:`MAX_CACHED_PRINCIPALS` principals.

Edits reach a warm container within ``revocation_check_seconds``, not the TTL (the authorizer's
store; the CLI's reads once and needs none): before it answers from its caches, the store reads
the role table's change log (:mod:`edgeauth.core.changes`) with a strongly consistent ``GetItem``
if its last look is that old, and drops what changed since: those keys' items and every principal
resolved from them, or everything when the log cannot tell. One read per container per interval,
on the request that finds it due, never per request. The first look comes before the first item
read, so that every cached item was read after a look, and anything written after it is seen by the
next one. Item reads are strongly consistent too: an item read just after the change log said it
changed must not be the version from before the change (an eventually consistent read may be).

Faults fail closed: throttling, timeouts, access denied or a missing table raise
:class:`RoleStoreError` after the client's bounded retries; unprocessed keys are retried a bounded
number of times and then raise too. Nothing is cached from a failed read. A change log read that
fails raises the same way (500, never cached by API Gateway), on every request until one succeeds:
nothing is answered from the caches while the container cannot tell what changed.

The client is the authorizer's own (:class:`edgeauth.adapters.dynamodb.DynamoDBClient`, no boto3
on the request path) or, in the CLI's ``explain`` and in tests, boto3's: both answer
``batch_get_item`` and ``get_item`` alike and fail with :func:`~edgeauth.adapters.dynamodb.client_failures`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from edgeauth import constants as C
from edgeauth.adapters.dynamodb import client_failures, failure_code
from edgeauth.core.changes import ChangeLogFormatError, change_log_key, changed_since, parse_log
from edgeauth.core.errors import RoleStoreError
from edgeauth.core.roles import (
    Decision,
    EffectiveRoles,
    Role,
    RoleSource,
    parse_role_item,
    resolve_roles,
    role_references,
)

if TYPE_CHECKING:
    from edgeauth.adapters.dynamodb import TableClient

Key = tuple[str, str]

#: BatchGetItem takes at most 100 keys; tokens with more group values than this are refused upstream.
MAX_KEYS_PER_BATCH = 100
UNPROCESSED_RETRIES = 3
MAX_CACHED_PRINCIPALS = 10_000
#: Items (roles, subjects, group mappings, clients, absent ones too) the item cache holds at most:
#: a principal reads up to 102 keys (subject, 100 groups, client) plus its roles; a few hundred
#: bytes to a few KB each.
MAX_CACHED_ITEMS = 20_000


def from_attribute_value(value: Mapping[str, Any]) -> Any:
    """Convert one DynamoDB attribute value (``{"S": "x"}``) to a plain Python value."""
    if "S" in value:
        return value["S"]
    if "N" in value:
        text = value["N"]
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "NULL" in value:
        return None
    if "L" in value:
        return [from_attribute_value(v) for v in value["L"]]
    if "M" in value:
        return {k: from_attribute_value(v) for k, v in value["M"].items()}
    if "SS" in value:
        return set(value["SS"])
    if "NS" in value:
        return {from_attribute_value({"N": n}) for n in value["NS"]}
    if "B" in value or "BS" in value:
        return _Unsupported("binary")
    return _Unsupported(next(iter(value), "?"))


class _Unsupported:
    """A value of a type the role model never uses; any attribute holding it is malformed.

    Deliberately not a tuple (nor a list, set or string): no parser may take it for a value."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unsupported) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash((_Unsupported, self.type_name))

    def __repr__(self) -> str:
        return f"_Unsupported({self.type_name!r})"


def item_to_python(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {k: from_attribute_value(v) for k, v in item.items()}


def role_key(name: str) -> Key:
    return (C.ROLE_PK_PREFIX + name, C.ROLE_SK)


def subject_key(issuer: str, sub: str) -> Key:
    return (C.SUBJECT_PK_PREFIX + issuer, sub)


def group_key(issuer: str, group: str) -> Key:
    return (C.GROUP_PK_PREFIX + issuer, group)


def client_key(issuer: str, client_id: str) -> Key:
    return (C.CLIENT_PK_PREFIX + issuer, client_id)


class Grants:
    """What the role table says about one principal, resolved, plus a per-route decision memo.

    ``decisions`` memoizes the RBAC decision per route; ``audit_roles`` is the audit line's
    ``roles`` (a JSON list of the granting roles), encoded by the authorizer on the principal's
    first new route and kept for the others; ``answers`` is what the authorizer derived from these
    grants for one route (method, resourcePath, methodArn): its answer and audit fields, the same
    for every token of the principal (it lives and dies with this object, so a role-cache refresh
    starts afresh); ``keys`` is every key read to resolve these grants (present or absent): a
    change to any of them in the change log drops the grants.
    """

    __slots__ = (
        "answers",
        "audit_roles",
        "context_roles",
        "decisions",
        "effective",
        "keys",
        "not_before",
        "problems",
        "tier",
        "usage_key",
    )

    def __init__(
        self,
        effective: EffectiveRoles,
        not_before: float | None = None,
        usage_key: str | None = None,
        tier: str | None = None,
        problems: list[str] | None = None,
        context_roles: str = "",
    ) -> None:
        self.effective = effective
        self.not_before = not_before
        self.usage_key = usage_key
        self.tier = tier
        self.problems: list[str] = [] if problems is None else problems
        self.decisions: dict[tuple[str, str], Decision] = {}
        self.context_roles = context_roles
        self.audit_roles: str | None = None
        self.answers: dict[tuple[str, str, str], Any] = {}
        self.keys: frozenset[Key] = frozenset()


class RoleStore:
    """Read side of the role table, shared by the authorizer, the CLI's ``explain`` and the tests."""

    def __init__(
        self,
        table_name: str,
        client: TableClient | None = None,
        *,
        cache_ttl: float = 30.0,
        client_factory: Callable[[], TableClient] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_items: int = MAX_CACHED_ITEMS,
        revocation_check_seconds: float | None = None,
    ) -> None:
        """``revocation_check_seconds``: how often the change log is read (see the module doc);
        ``None`` never reads it (a store that lives for one command, or that caches nothing)."""
        self.table_name = table_name
        self._client = client
        self._client_factory = client_factory
        self.cache_ttl = cache_ttl
        self._clock = clock
        self.max_items = max_items
        # Key -> (expires at, item or None). Insertion order is age order: a key fetched again is
        # moved to the end (see get_items), so eviction drops the least recently fetched first.
        self._items: dict[Key, tuple[float, dict[str, Any] | None]] = {}
        self._grants: dict[tuple[str, str, tuple[str, ...], str | None], tuple[float, Grants]] = {}
        self._lock = threading.Lock()
        self.revocation_check_seconds = revocation_check_seconds
        # The change log: the generation last seen (None: none yet, or the log could not tell) and
        # when the next look is due (on this store's clock). Never, when nothing is cached.
        self._generation: int | None = None
        checks = revocation_check_seconds is not None and cache_ttl > 0
        self._next_check = -math.inf if checks else math.inf
        self._check_lock = threading.Lock()
        # Bumped whenever the change log drops something: a read that started before it (another
        # thread's, in the local gateway) is returned but not cached, as it may predate the change.
        self._epoch = 0

    @property
    def client(self) -> TableClient:
        if self._client is None:
            if self._client_factory is None:
                raise RoleStoreError("no DynamoDB client configured")
            self._client = self._client_factory()
        return self._client

    @property
    def built_client(self) -> TableClient | None:
        """The client if it exists already (given, or built by a read or :meth:`warm`); unlike
        :attr:`client`, never builds one (the SnapStart restore hook resets it only if it exists)."""
        return self._client

    def warm(self) -> None:
        """Create the lazily built client now (no network call); a failure surfaces on first read."""
        if self._client is None and self._client_factory is not None:
            # A failure is raised again, at the same point as before, by the first read.
            with contextlib.suppress(Exception):
                self._client = self._client_factory()

    def invalidate(self) -> None:
        """Forget everything cached (tests, and the CLI after a write)."""
        self._forget(None)

    def _forget(self, keys: frozenset[Key] | None) -> None:
        """Drop the items of ``keys`` and every principal resolved from any of them (``None``: all)."""
        with self._lock:
            self._epoch += 1
            if keys is None:
                self._items.clear()
                self._grants.clear()
                return
            for key in keys:
                self._items.pop(key, None)
            for principal in [p for p, (_, g) in self._grants.items() if not keys.isdisjoint(g.keys)]:
                del self._grants[principal]

    # -- the change log ---------------------------------------------------------------------------

    def check_changes(self) -> None:
        """Read the change log if the last look is ``revocation_check_seconds`` old (or there was
        none), and drop what changed since. Raises :class:`RoleStoreError` when it cannot be read
        (the look stays due: the next request tries again)."""
        with self._check_lock:
            started = self._clock()
            if started < self._next_check:
                return  # another thread looked meanwhile
            item = self._read_change_log()
            try:
                log = parse_log(item)
            except ChangeLogFormatError:
                # Unknown: drop everything at every look until the role-events function rewrites it.
                self._forget(None)
                self._generation = None
            else:
                changed = changed_since(log, self._generation)
                if changed is None or changed:
                    self._forget(changed)
                self._generation = log.generation
            if self.revocation_check_seconds is not None:
                self._next_check = started + self.revocation_check_seconds

    def _read_change_log(self) -> dict[str, Any] | None:
        try:
            resp = self.client.get_item(TableName=self.table_name, Key=change_log_key(), ConsistentRead=True)
        except client_failures() as e:
            raise RoleStoreError(f"role table change log read failed: {failure_code(e)}") from e
        raw = resp.get("Item")
        return None if raw is None else item_to_python(raw)

    # -- reads ------------------------------------------------------------------------------------

    def grants(
        self,
        issuer: str,
        sub: str,
        groups: tuple[str, ...] = (),
        client_id: str | None = None,
    ) -> tuple[Grants, bool]:
        """The principal's resolved grants and whether they came from the cache.

        Reads the change log first when a look is due (:meth:`check_changes`)."""
        cache_key = (issuer, sub, groups, client_id)
        now = self._clock()
        if now >= self._next_check:
            self.check_changes()
        hit = self._grants.get(cache_key)
        if hit is not None and hit[0] > now:
            return hit[1], True
        # The grants are as old as the oldest item they were built from: they expire with it, so
        # no principal keeps an edited role longer than one TTL after the role's item was read.
        # (Expiring after a full TTL of their own let grants built from an item cached just before
        # an edit live almost two TTLs; found by tests/property/test_answer_memo_equivalence.py.)
        expiries: list[float] = []
        used: set[Key] = set()
        epoch = self._epoch
        grants = self._resolve(issuer, sub, groups, client_id, expiries, used)
        grants.keys = frozenset(used)
        if self.cache_ttl > 0:
            with self._lock:
                if len(self._grants) >= MAX_CACHED_PRINCIPALS:
                    self._grants.clear()
                if epoch == self._epoch:
                    self._grants[cache_key] = (min(expiries, default=now + self.cache_ttl), grants)
        return grants, False

    def still_current(self, principal: tuple[str, str, tuple[str, ...], str | None], grants: Grants) -> bool:
        """Whether :meth:`grants` would still return this very ``grants`` object for ``principal``
        (``(issuer, sub, groups, client_id)``) from its cache: nothing expired or invalidated, and no
        look at the change log due (``False`` then: the caller's :meth:`grants` call looks)."""
        hit = self._grants.get(principal)
        now = self._clock()
        return hit is not None and hit[1] is grants and hit[0] > now and now < self._next_check

    def _resolve(
        self,
        issuer: str,
        sub: str,
        groups: tuple[str, ...],
        client_id: str | None,
        expiries: list[float],
        used: set[Key],
    ) -> Grants:
        # DynamoDB refuses empty key strings: a token without ``sub`` has no subject item.
        skey = subject_key(issuer, sub) if sub else None
        gkeys = [group_key(issuer, g) for g in groups]
        ckey = client_key(issuer, client_id) if client_id else None
        first = ([skey] if skey else []) + gkeys + ([ckey] if ckey else [])
        items = self.get_items(first, expiries, used)

        problems: list[str] = []
        direct: list[RoleSource] = []
        not_before: float | None = None
        subject = items.get(skey) if skey else None
        if subject is not None:
            # Invalid names too (a problem each): the role they name grants nothing, its denies apply.
            names, bad = role_references(subject.get(C.ATTR_ROLES))
            problems.extend(f"subject {sub!r}: {p}" for p in bad)
            direct.extend(RoleSource(n, "subject") for n in names)
            if C.ATTR_NOT_BEFORE in subject:
                nb = subject[C.ATTR_NOT_BEFORE]
                if isinstance(nb, int | float) and not isinstance(nb, bool):
                    not_before = float(nb)
                else:
                    # Unknown revocation time: treat every token as revoked (fail closed).
                    problems.append(f"subject {sub!r}: 'not_before' is not a number")
                    not_before = float("inf")
        for g, gk in zip(groups, gkeys, strict=True):
            gitem = items.get(gk)
            if gitem is None:
                continue
            names, bad = role_references(gitem.get(C.ATTR_ROLES))
            problems.extend(f"group {g!r}: {p}" for p in bad)
            direct.extend(RoleSource(n, f"group:{g}") for n in names)

        usage_key: str | None = None
        tier: str | None = None
        if ckey is not None:
            citem = items.get(ckey)
            if citem is not None:
                uk = citem.get(C.ATTR_USAGE_KEY)
                if isinstance(uk, str) and uk:
                    usage_key = uk
                elif uk is not None:
                    problems.append(f"client {client_id!r}: 'usage_key' is not a string")
                t = citem.get(C.ATTR_TIER)
                tier = t if isinstance(t, str) else None

        effective = resolve_roles(direct, lambda names: self.roles(names, expiries, used))
        problems.extend(effective.problems)
        return Grants(
            effective=effective,
            not_before=not_before,
            usage_key=usage_key,
            tier=tier,
            problems=problems,
            context_roles=",".join(effective.granting),
        )

    def roles(
        self, names: Iterable[str], expiries: list[float] | None = None, used: set[Key] | None = None
    ) -> dict[str, Role | None]:
        """Parsed roles by name (``None`` where no item exists)."""
        names = list(names)
        items = self.get_items([role_key(n) for n in names], expiries, used)
        result: dict[str, Role | None] = {}
        for n in names:
            item = items.get(role_key(n))
            result[n] = None if item is None else parse_role_item(n, item)
        return result

    def get_items(
        self, keys: Iterable[Key], expiries: list[float] | None = None, used: set[Key] | None = None
    ) -> dict[Key, dict[str, Any] | None]:
        """Items by key through the item cache; one strongly consistent BatchGetItem per 100
        uncached keys.

        ``expiries``, when given, receives when each item served from the cache expires (items
        read now expire a full TTL from now and are not listed); ``used``, every key asked for.
        """
        now = self._clock()
        result: dict[Key, dict[str, Any] | None] = {}
        missing: list[Key] = []
        keys = dict.fromkeys(keys)
        if used is not None:
            used.update(keys)
        for key in keys:
            cached = self._items.get(key)
            if cached is not None and cached[0] > now:
                result[key] = cached[1]
                if expiries is not None:
                    expiries.append(cached[0])
            else:
                missing.append(key)
        for start in range(0, len(missing), MAX_KEYS_PER_BATCH):
            chunk = missing[start : start + MAX_KEYS_PER_BATCH]
            epoch = self._epoch
            fetched = self._batch_get(chunk)
            expires = now + self.cache_ttl
            with self._lock:
                keep = self.cache_ttl > 0 and epoch == self._epoch
                for key in chunk:
                    item = fetched.get(key)
                    result[key] = item
                    if keep:
                        self._items.pop(key, None)  # to the end: the newest entry
                        self._items[key] = (expires, item)
                if len(self._items) > self.max_items:
                    self._evict_items(now)
        return result

    def _evict_items(self, now: float) -> None:
        """Bring the item cache back under ``max_items`` (called with the lock held): expired items
        go first; if that is not enough, the oldest until half the bound is left (bounded work per
        read, like the verified-token cache)."""
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]
        if len(self._items) > self.max_items:
            for key in list(self._items)[: len(self._items) - self.max_items // 2]:
                del self._items[key]

    def _batch_get(self, keys: list[Key]) -> dict[Key, dict[str, Any]]:
        pk, sk = C.TABLE_PARTITION_KEY, C.TABLE_SORT_KEY
        request: dict[str, Any] = {
            self.table_name: {
                "Keys": [{pk: {"S": k[0]}, sk: {"S": k[1]}} for k in keys],
                "ConsistentRead": True,
            }
        }
        found: dict[Key, dict[str, Any]] = {}
        for attempt in range(UNPROCESSED_RETRIES + 1):
            try:
                resp = self.client.batch_get_item(RequestItems=request)
            except client_failures() as e:
                raise RoleStoreError(f"role table read failed: {failure_code(e)}") from e
            for raw in resp.get("Responses", {}).get(self.table_name, []):
                item = item_to_python(raw)
                found[(str(item.get(pk)), str(item.get(sk)))] = item
            unprocessed = resp.get("UnprocessedKeys") or {}
            if not unprocessed.get(self.table_name):
                return found
            # Strongly consistent again (DynamoDB echoes the setting; a fake or proxy may not).
            request = {self.table_name: {**unprocessed[self.table_name], "ConsistentRead": True}}
            if attempt < UNPROCESSED_RETRIES:
                time.sleep(0.02 * (2**attempt))
        raise RoleStoreError("role table read failed: unprocessed keys after retries")
