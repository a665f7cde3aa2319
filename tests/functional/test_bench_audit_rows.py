"""The audit benchmark rows (``make bench`` 7, 7b, 7c) run and parse; no timing is asserted.

Row 7c is the exactly-once recovery path: GIVEN a batch whose first attempt died between two
``PutLogEvents`` calls, WHEN it is delivered again, THEN the row reports the time it takes in the
stack's consumer against 10 % of its timeout, and the measurement behind it counted one readback.
"""

from __future__ import annotations

import re

from bench.audit import measure_recovery, recovery_row

NUMBER = r"[0-9][0-9,]*\.?[0-9]*"


def test_the_recovery_row_parses_and_names_its_target() -> None:
    row = recovery_row(1)
    assert row.key == "7c"
    assert re.fullmatch(rf"{NUMBER} ms", row.median), row
    assert re.fullmatch(rf"{NUMBER}% of the consumer's timeout", row.ratio), row
    assert row.target == "≤ 10% (6 s)" and row.met in ("yes", "NO")


def test_the_recovery_measured_reads_back_once_and_writes_only_what_is_missing() -> None:
    x = measure_recovery(earlier_batches=1)  # 100 records of 50 lines: several PutLogEvents calls
    assert x.readbacks == 1 and x.get_pages >= 1
    assert 0 < x.written < x.events  # the first attempt's first call was in the stream already
    assert x.lease_wait_s <= 4.0 + 1e-9  # a dead writer's lease and the settle time, no more
