"""Fuzzing of the audit consumer's input (issue 15, item 3): access log lines a caller writes into, and
whole Kinesis records. The checks are in :mod:`tests.fuzz.audit_harness`; example counts follow
:mod:`tests.support.budget`. A failing input is printed by hypothesis: save it as
``corpus/access_line/found-<what>`` so it is replayed on every run from then on.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeauth import constants as C
from tests.fuzz import strategies as S
from tests.fuzz.audit_harness import (
    ACCESS_GROUP,
    ALLOWED,
    CORPUS,
    check_access_line,
    check_record,
    subscription_record,
)
from tests.support.access_lines import TYPICAL, raw_access_line
from tests.support.budget import budget

LINES = [p.read_text(encoding="utf-8", errors="surrogateescape") for p in sorted(CORPUS.iterdir())]
JSON_NOISE = '"\\{}[],:-_ abcdefgrstu0123456789\n\x00\u00e9'


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()))
def test_access_line_corpus(name: str) -> None:
    check_access_line((CORPUS / name).read_text(encoding="utf-8", errors="surrogateescape"))


@budget(150)
@given(S.mutated(LINES, JSON_NOISE))
def test_access_line_mutations_of_the_corpus(text: str) -> None:
    check_access_line(text)


@budget(150)
@given(
    st.dictionaries(st.sampled_from(tuple(C.ACCESS_LOG_FIELDS)), st.text(alphabet=JSON_NOISE, max_size=40))
)
def test_access_lines_with_fuzzed_context_values(values: dict[str, str]) -> None:
    check_access_line(raw_access_line({**TYPICAL, **values}))


@budget(100)
@given(st.text(max_size=200))
def test_access_line_random_text(text: str) -> None:
    check_access_line(text)


@budget(100)
@given(st.sampled_from(sorted(ALLOWED)), st.lists(S.mutated(LINES, JSON_NOISE), min_size=1, max_size=5))
def test_subscription_records_of_fuzzed_lines(group: str, lines: list[str]) -> None:
    check_record(subscription_record(group, lines), group)


@budget(100)
@given(S.mutated([subscription_record(ACCESS_GROUP, LINES[:3]).decode("latin-1")], JSON_NOISE))
def test_corrupted_record_bytes(text: str) -> None:
    check_record(text.encode("latin-1", "replace"))
