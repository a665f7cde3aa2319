"""Where moto's cost is far from AWS's and the local stack's measurements would show moto, not us.

One fix, installed by :func:`install` (idempotent; the local stack calls it before starting its
moto server):

* ``TransactWriteItems`` (moto 5.2) takes a backup of the table for a rollback once *per item* of
  the transaction, each a deep copy of the whole table with its stream records: a 100-item
  transaction on a table of a few thousand items takes seconds, and ``edgeauth roles apply`` of
  1,000 items (ten such transactions) over a minute, where DynamoDB takes milliseconds. Every one
  of those copies is of the same, untouched table (they are all taken before the first write), so
  taking one per table gives moto the very same backup: the copy of a table is made once per
  transaction, on the calling thread only (other requests on other threads copy as before).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_state = threading.local()
_installed: list[bool] = []


class _CopyOncePerTable:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: inside a transaction on
    this thread, a table is deep-copied once; everything else is ``copy`` itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        tables: dict[int, Any] | None = getattr(_state, "tables", None)
        if tables is None or type(obj).__name__ != "Table":
            return copy.deepcopy(obj, memo)
        if id(obj) not in tables:
            tables[id(obj)] = copy.deepcopy(obj, memo)
        return tables[id(obj)]


def install() -> None:
    """Apply the fix to moto's DynamoDB backend (once per process)."""
    if _installed:
        return
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _state.tables = {}
        try:
            original(self, transact_items)
        finally:
            _state.tables = None

    models.copy = _CopyOncePerTable()  # type: ignore[attr-defined,assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed.append(True)
