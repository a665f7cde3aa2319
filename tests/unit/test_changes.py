"""The role table's change log (edgeauth/core/changes.py): what a writer writes, what a reader drops."""

from __future__ import annotations

import pytest

from edgeauth import constants as C
from edgeauth.core.changes import (
    MAX_RECENT_BYTES,
    NO_CHANGES,
    ChangeLog,
    ChangeLogFormatError,
    changed_since,
    entry_bytes,
    is_change_log,
    next_log,
    parse_log,
    to_item,
)

ALICE = ("SUBJECT#https://idp/", "alice")
BOB = ("SUBJECT#https://idp/", "bob")
READER = ("ROLE#reader", "ROLE")


def plain(log: ChangeLog) -> dict[str, object]:
    """What the role store makes of the item the writer puts (numbers as int, lists as list)."""
    return {
        C.ATTR_GENERATION: log.generation,
        C.ATTR_LISTED_AFTER: log.listed_after,
        C.ATTR_RECENT: [[g, pk, sk] for g, (pk, sk) in log.recent],
    }


def test_the_first_batch_starts_an_era_that_lists_only_itself() -> None:
    # GIVEN no change log item yet; WHEN a batch changes alice and the reader role
    log = next_log(None, [ALICE, READER, ALICE], new_era=1_700_000_000_000)
    # THEN the era starts at the writer's clock, and only this batch's keys (once each) are listed
    era = 1_700_000_000_000
    assert log == ChangeLog(era, era - 1, ((era, READER), (era, ALICE)))
    # AND a container that saw "no item" (generation 0) cannot tell what changed: it drops everything
    assert changed_since(log, 0) is None
    # AND one that saw the era's first generation drops nothing more
    assert changed_since(log, log.generation) == frozenset()


def test_each_batch_adds_one_generation_and_readers_drop_what_changed_since_theirs() -> None:
    log = next_log(ChangeLog(10, 9, ((10, ALICE),)), [BOB], new_era=0)
    log = next_log(log, [READER], new_era=0)
    assert log.generation == 12 and log.listed_after == 9
    assert changed_since(log, 9) == {ALICE, BOB, READER}
    assert changed_since(log, 10) == {BOB, READER}
    assert changed_since(log, 11) == {READER}
    assert changed_since(log, 12) == frozenset()


@pytest.mark.parametrize(
    ("seen", "why"),
    [
        (None, "a container that never looked"),
        (8, "a container further behind than the list reaches"),
        (13, "a generation the log has not reached (the item was rewritten)"),
    ],
)
def test_a_reader_drops_everything_when_the_log_cannot_tell(seen: int | None, why: str) -> None:
    log = ChangeLog(12, 9, ((10, ALICE), (11, BOB), (12, READER)))
    assert changed_since(log, seen) is None, why


def test_oldest_generations_are_dropped_whole_to_stay_under_the_budget() -> None:
    # GIVEN a log nearly full of old single-key generations
    key_bytes = entry_bytes(("SUBJECT#https://idp/", "user-0000"))
    old = tuple(
        (g, ("SUBJECT#https://idp/", f"user-{g:04d}")) for g in range(1, MAX_RECENT_BYTES // key_bytes + 1)
    )
    current = ChangeLog(old[-1][0], 0, old)
    # WHEN a batch of two keys is added
    log = next_log(current, [ALICE, BOB], new_era=0)
    # THEN the entries fit, the oldest generations went first and whole, and listed_after says so
    assert sum(entry_bytes(k) for _, k in log.recent) <= MAX_RECENT_BYTES
    assert log.recent[-2:] == ((log.generation, ALICE), (log.generation, BOB))  # sorted keys
    assert log.listed_after == log.recent[0][0] - 1
    assert changed_since(log, log.listed_after) == {k for _, k in log.recent}
    assert changed_since(log, log.listed_after - 1) is None


def test_a_batch_too_large_to_list_lists_nothing_and_readers_drop_everything() -> None:
    keys = [("SUBJECT#https://idp/", f"user-{i:05d}") for i in range(1000)]
    log = next_log(ChangeLog(5, 4, ((5, ALICE),)), keys, new_era=0)
    assert log == ChangeLog(6, 6, ())
    assert changed_since(log, 5) is None
    assert changed_since(log, 6) == frozenset()


def test_the_item_stays_under_one_read_unit() -> None:
    # Every entry as long as a real key can make it within the budget: the whole item < 4 KB.
    keys = [("SUBJECT#https://login.example.com/tenant/1234/", f"{i:036d}") for i in range(200)]
    log = next_log(None, keys[:40], new_era=1_700_000_000_000)
    for i in range(40, 200, 7):
        log = next_log(log, keys[i : i + 7], new_era=0)
    item = to_item(log)
    size = sum(len(name) for name in item) + sum(
        len(v["S"]) if "S" in v else 21 for v in item.values() if "L" not in v
    )
    size += 3 + sum(1 + entry_bytes((e["L"][1]["S"], e["L"][2]["S"])) for e in item[C.ATTR_RECENT]["L"])
    assert size < 4096


def test_what_the_writer_puts_the_reader_parses_back() -> None:
    log = next_log(ChangeLog(3, 1, ((2, BOB), (3, ALICE))), [READER], new_era=0)
    item = to_item(log)
    assert is_change_log((item["pk"]["S"], item["sk"]["S"]))
    assert parse_log(plain(log)) == log
    assert parse_log(None) == NO_CHANGES


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({C.ATTR_LISTED_AFTER: 0, C.ATTR_RECENT: []}, "'generation'"),
        ({C.ATTR_GENERATION: "7", C.ATTR_LISTED_AFTER: 0}, "'generation'"),
        ({C.ATTR_GENERATION: True, C.ATTR_LISTED_AFTER: 0}, "'generation'"),
        ({C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: -1}, "'listed_after'"),
        ({C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: 8}, "'listed_after'"),
        ({C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: 5, C.ATTR_RECENT: "x"}, "'recent'"),
        ({C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: 5, C.ATTR_RECENT: [[6, "pk"]]}, "'recent[0]'"),
        ({C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: 5, C.ATTR_RECENT: [[5, "pk", "sk"]]}, "'recent[0]'"),
        ({C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: 5, C.ATTR_RECENT: [[8, "pk", "sk"]]}, "'recent[0]'"),
        (
            {C.ATTR_GENERATION: 7, C.ATTR_LISTED_AFTER: 5, C.ATTR_RECENT: [[7, "a", "b"], [6, "c", "d"]]},
            "'recent[1]'",
        ),
    ],
)
def test_a_malformed_item_is_refused_naming_what_is_wrong(item: dict[str, object], named: str) -> None:
    with pytest.raises(ChangeLogFormatError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_log(item)


def test_the_change_log_is_no_role_subject_group_or_client() -> None:
    assert not any(
        C.CHANGES_PK.startswith(p)
        for p in (C.ROLE_PK_PREFIX, C.SUBJECT_PK_PREFIX, C.GROUP_PK_PREFIX, C.CLIENT_PK_PREFIX)
    )
    assert not is_change_log(ALICE)


def test_a_batch_with_keys_that_cannot_be_named_makes_every_reader_behind_drop_everything() -> None:
    log = next_log(ChangeLog(5, 4, ((5, ALICE),)), [BOB], new_era=0, unknown=True)
    assert log == ChangeLog(6, 6, ())
    assert changed_since(log, 5) is None
