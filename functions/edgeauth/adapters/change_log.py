"""The write side of the role table's change log (:mod:`edgeauth.core.changes`), for the role-events
function: one strongly consistent ``GetItem`` and one conditional ``PutItem`` per batch of edits.

The put is conditional on what was read (the same ``generation``, or no item), so two writers at
once (two stream shards) never lose each other's keys: the one that loses re-reads and writes again,
at most :data:`WRITE_ATTEMPTS` times. Other faults raise :class:`ChangeLogWriteError` after the
client's own bounded retries; the caller decides (the role-events function fails the batch, so that
the stream delivers it again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from edgeauth import constants as C
from edgeauth.adapters.gateway_cache import error_code
from edgeauth.adapters.role_store import item_to_python
from edgeauth.core.changes import (
    ChangeLog,
    ChangeLogFormatError,
    Key,
    change_log_key,
    next_log,
    parse_log,
    to_item,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WRITE_ATTEMPTS = 5
"""Conditional writes tried when other writers keep winning (each after a fresh read)."""


class ChangeLogWriteError(Exception):
    """The change log could not be written; the message names the AWS error code, nothing more."""


class ChangeLogWriter:
    """Adds one generation per :meth:`publish` to the change log of ``table_name``."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        attempts: int = WRITE_ATTEMPTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.client = client
        self.attempts = max(1, attempts)
        self._clock = clock

    def publish(self, keys: Iterable[Key], *, unknown: bool = False) -> ChangeLog:
        """Record that ``keys`` changed, as one new generation; returns the log as written.
        ``unknown``: other keys changed too, that cannot be named (every reader drops everything).

        Raises :class:`ChangeLogWriteError`."""
        batch = list(keys)
        for _ in range(self.attempts):
            raw = self._call("GetItem", self.client.get_item, Key=change_log_key(), ConsistentRead=True).get(
                "Item"
            )
            current: ChangeLog | None
            try:
                current = None if raw is None else parse_log(item_to_python(raw))
            except ChangeLogFormatError:
                current = None  # a new era: readers drop everything once
            log = next_log(current, batch, new_era=int(self._clock() * 1000), unknown=unknown)
            try:
                self._call("PutItem", self.client.put_item, Item=to_item(log), **_unchanged(raw))
            except _ConditionFailed:
                continue  # another writer went first: read again
            return log
        raise ChangeLogWriteError(f"another writer won {self.attempts} times in a row")

    def _call(self, operation: str, call: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return call(TableName=self.table_name, **kwargs)
        except Exception as e:  # botocore's ClientError and BotoCoreError, or a fake's
            code = error_code(e)
            if code == "ConditionalCheckFailedException":
                raise _ConditionFailed() from e
            raise ChangeLogWriteError(f"change log {operation} failed: {code or type(e).__name__}") from e


class _ConditionFailed(Exception):
    pass


def _unchanged(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The condition that the item is still what was read (by its ``generation`` as stored)."""
    if raw is None:
        return {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": C.TABLE_PARTITION_KEY},
        }
    names = {"#pk": C.TABLE_PARTITION_KEY, "#g": C.ATTR_GENERATION}
    if C.ATTR_GENERATION not in raw:
        return {
            "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(#g)",
            "ExpressionAttributeNames": names,
        }
    return {
        "ConditionExpression": "attribute_exists(#pk) AND #g = :g",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":g": raw[C.ATTR_GENERATION]},
    }
