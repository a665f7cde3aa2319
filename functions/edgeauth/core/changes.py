"""The role table's change log: how an edit reaches warm authorizer containers within seconds.

An authorizer container caches role-table items for the role-cache TTL (up to 60 s), so without
help an edit, a grant or a revocation would wait that long in every warm container. Instead one item
of the role table (``pk`` :data:`~edgeauth.constants.CHANGES_PK`, ``sk``
:data:`~edgeauth.constants.CHANGES_SK`) says what changed lately, and every warm container reads it
at most once every ``revocation_check_seconds`` (default 2 s):

* ``generation``: grows by one with every batch of edits the role-events function handles;
* ``recent``: ``[generation, pk, sk]`` of every key those batches changed, oldest first, as many
  as fit in :data:`MAX_RECENT_BYTES`, so that the item stays under 4 KB and a strongly consistent
  read of it costs one read unit;
* ``listed_after``: every key changed by a generation above it is in ``recent`` (entries are
  dropped oldest generation first to make room; a batch with more keys than fit lists none).

Writer: the role-events function, once per batch of stream records, before its audit writes and
its cache flushes (:func:`next_log`, conditional on the generation it read). Readers: each warm
authorizer container (:class:`~edgeauth.adapters.role_store.RoleStore`), with a strongly consistent
``GetItem``; :func:`changed_since` says what to drop: the changed keys (their items and every
principal resolved from them) or, when it cannot tell, everything (the container is further behind
than ``recent`` reaches, or the item is missing, malformed or older than what it saw).

Why one item and not a flush the containers cannot see: a container keeps nothing longer than
one check interval after the change log says it changed, so the role-events function's second
cache flush waits seconds, not the role-cache TTL, and no invocation holds the stream for long.
Why the keys and not just a counter: under a steady stream of edits a counter alone would make
every container drop everything every interval and read its whole working set again; with the keys,
a container drops only what changed (``tests/unit/test_changes.py``).

A new era: when the item is missing (no edit yet, or deleted by hand) or malformed, the writer
starts again from ``generation`` = its clock in milliseconds, with nothing listed before it: larger
than any count of batches in an older era, so no container can mistake the new era's numbers for
ones it has seen, and every container behind it drops everything once.

Pure: items come in as plain values (numbers as ``int``, lists as ``list``), and go out as
DynamoDB attribute values from :func:`to_item`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

from edgeauth import constants as C

Key = tuple[str, str]
"""A role-table key: ``(pk, sk)``."""

MAX_RECENT_BYTES: Final = 3584
"""Bytes of ``recent`` entries kept (DynamoDB's item size accounting). With the item's other
attributes (about 100 bytes) the item stays under 4 KB: one read unit per strongly consistent read."""
_NUMBER_BYTES: Final = 21
"""The most a DynamoDB number can take (an upper bound for a generation)."""
_ENTRY_OVERHEAD: Final = 3 + 3 + _NUMBER_BYTES
"""A ``[generation, pk, sk]`` entry: a list (3 bytes) of three elements (1 byte each) and the number."""


class ChangeLogFormatError(ValueError):
    """The change log item is malformed; the message names the attribute."""


class ChangeLog(NamedTuple):
    """What the change log item says (:data:`NO_CHANGES` when there is no item)."""

    generation: int = 0
    listed_after: int = 0
    recent: tuple[tuple[int, Key], ...] = ()


NO_CHANGES: Final = ChangeLog()
"""A role table whose change log item does not exist (yet)."""


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ChangeLogFormatError(f"'{name}' must be a whole number >= 0, got {value!r}")
    return value


def parse_log(item: Mapping[str, Any] | None) -> ChangeLog:
    """The change log in ``item`` (plain values, as the role store converts items); ``None``: no item.

    Raises :class:`ChangeLogFormatError` naming what is wrong: a reader must then assume that
    anything may have changed, a writer must start a new era."""
    if item is None:
        return NO_CHANGES
    generation = _int(C.ATTR_GENERATION, item.get(C.ATTR_GENERATION))
    listed_after = _int(C.ATTR_LISTED_AFTER, item.get(C.ATTR_LISTED_AFTER))
    if listed_after > generation:
        raise ChangeLogFormatError(f"'{C.ATTR_LISTED_AFTER}' {listed_after} is above the generation")
    raw = item.get(C.ATTR_RECENT, [])
    if not isinstance(raw, list):
        raise ChangeLogFormatError(f"'{C.ATTR_RECENT}' must be a list")
    recent: list[tuple[int, Key]] = []
    previous = listed_after
    for i, entry in enumerate(raw):
        if (
            not isinstance(entry, list)
            or len(entry) != 3
            or not isinstance(entry[1], str)
            or not isinstance(entry[2], str)
        ):
            raise ChangeLogFormatError(f"'{C.ATTR_RECENT}[{i}]' must be [generation, pk, sk]")
        gen = _int(f"{C.ATTR_RECENT}[{i}][0]", entry[0])
        if not previous <= gen <= generation or gen == listed_after:
            raise ChangeLogFormatError(
                f"'{C.ATTR_RECENT}[{i}]' has generation {gen}, outside {listed_after} < g <= {generation} "
                "or out of order"
            )
        previous = gen
        recent.append((gen, (entry[1], entry[2])))
    return ChangeLog(generation, listed_after, tuple(recent))


def changed_since(log: ChangeLog, seen: int | None) -> frozenset[Key] | None:
    """The keys changed after generation ``seen`` (the one a container last saw; ``None``: none yet).

    An empty set: nothing changed. ``None``: the log cannot tell (first look, a gap longer than
    ``recent`` reaches, a generation lower than ``seen``), so the caller must drop everything."""
    if seen is None:
        return None
    if log.generation == seen:
        return frozenset()
    if log.generation < seen or log.listed_after > seen:
        return None
    return frozenset(key for gen, key in log.recent if gen > seen)


def entry_bytes(key: Key) -> int:
    """An upper bound of what one ``recent`` entry adds to the item's size (DynamoDB's accounting)."""
    return _ENTRY_OVERHEAD + len(key[0].encode()) + len(key[1].encode())


def next_log(
    current: ChangeLog | None, keys: Iterable[Key], *, new_era: int, unknown: bool = False
) -> ChangeLog:
    """The change log after one more batch of edits to ``keys``.

    ``current`` ``None``: the item is missing or malformed, so a new era starts at generation
    ``new_era`` (the writer's clock in milliseconds), with nothing listed before it. Entries are
    dropped oldest generation first (a generation is listed whole or not at all) until the rest
    fit in :data:`MAX_RECENT_BYTES`. ``unknown``: the batch also changed keys that cannot be named,
    so nothing is listed and every reader behind drops everything."""
    if current is None:
        generation = max(1, new_era)
        listed_after, recent = generation - 1, []
    else:
        generation = current.generation + 1
        listed_after, recent = current.listed_after, list(current.recent)
    if unknown:
        return ChangeLog(generation, generation, ())
    recent.extend((generation, key) for key in sorted(set(keys)))
    size = sum(entry_bytes(key) for _, key in recent)
    start = 0
    while start < len(recent) and size > MAX_RECENT_BYTES:
        oldest = recent[start][0]
        while start < len(recent) and recent[start][0] == oldest:
            size -= entry_bytes(recent[start][1])
            start += 1
        listed_after = oldest
    return ChangeLog(generation, listed_after, tuple(recent[start:]))


def change_log_key() -> dict[str, dict[str, str]]:
    """The change log item's key as DynamoDB attribute values."""
    return {C.TABLE_PARTITION_KEY: {"S": C.CHANGES_PK}, C.TABLE_SORT_KEY: {"S": C.CHANGES_SK}}


def to_item(log: ChangeLog) -> dict[str, Any]:
    """The change log item, as DynamoDB attribute values (for ``PutItem``)."""
    return {
        **change_log_key(),
        C.ATTR_GENERATION: {"N": str(log.generation)},
        C.ATTR_LISTED_AFTER: {"N": str(log.listed_after)},
        C.ATTR_RECENT: {
            "L": [{"L": [{"N": str(gen)}, {"S": pk}, {"S": sk}]} for gen, (pk, sk) in log.recent]
        },
    }


def is_change_log(key: Key) -> bool:
    """Whether ``key`` is the change log item's (not a role, subject, group or client)."""
    return key == (C.CHANGES_PK, C.CHANGES_SK)
