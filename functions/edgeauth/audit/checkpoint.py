"""The audit consumer's per-shard checkpoint: one DynamoDB item per Kinesis shard, changed only by
conditional writes. :mod:`edgeauth.audit.shard_writer` runs the protocol; this module stores it.

An item (key :data:`edgeauth.constants.CHECKPOINT_KEY` = ``<kinesis stream>/<shard id>``) holds:

* ``committed``: the sequence number of the last record whose events are all in the shard's log
  stream (every record up to it is done); absent until the first commit;
* ``version``: bumped by every write; a write is conditional on the version its writer read, so
  holding the current version is holding the shard (a fencing token): whoever lost a race finds
  out at its next write, before it writes any event;
* an *intent*, while a batch is being written: the writer (``owner``, random per batch), how long it
  may write (``lease_until``, epoch ms), the batch's sequence range (``first``, ``last``), the
  digest of its events (``digest``) and the range of log timestamps it writes (``min_ms``,
  ``max_ms``). A commit removes it. An intent that is still there once its lease is over (the
  writer crashed, timed out or lost the shard) or that was released (``owner`` absent: a write
  whose outcome is unknown) is a *leftover*: some of its events may be in the log stream, and
  only then does the next writer read that window of the stream back.

Sequence numbers are kept as decimal strings: Kinesis' have up to 128 digits, more than a DynamoDB
number holds. A write whose answer was lost and that botocore retried would fail its own condition;
each write carries a random ``token`` and asks for the item on a failed condition
(``ReturnValuesOnConditionCheckFailure``), so our own earlier attempt is recognised as success.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from edgeauth import constants as C
from edgeauth.audit.writer import AuditWriteError, AuditWriteThrottledError, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_THROTTLE_CODES: Final = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)


class CheckpointConflictError(Exception):
    """Someone else changed the checkpoint since it was read: re-read it, the shard may be theirs."""

    def __init__(self, current: Checkpoint | None) -> None:
        super().__init__("the shard's checkpoint changed since it was read")
        self.current = current


class CheckpointStoreError(AuditWriteError):
    """The checkpoint table could not be read or written (after the client's retries)."""


class CheckpointThrottledError(CheckpointStoreError, AuditWriteThrottledError):
    """DynamoDB throttled the checkpoint table."""


@dataclass(frozen=True, slots=True)
class Intent:
    """A batch being written, or a leftover one (see the module docstring)."""

    owner: str | None
    """Random per batch; ``None`` when released (nobody writes, a readback is due)."""
    lease_until_ms: int
    first: int
    last: int
    min_ms: int
    max_ms: int
    digest: str

    def released(self, now_ms: int) -> Intent:
        """The same window, owned by nobody from ``now_ms`` on."""
        return replace(self, owner=None, lease_until_ms=min(self.lease_until_ms, now_ms))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One shard's state; ``version`` 0 means no item yet."""

    key: str
    version: int = 0
    committed: int | None = None
    intent: Intent | None = None


def checkpoint_key(stream_arn_or_name: str, shard_id: str) -> str:
    """``<kinesis stream name>/<shard id>``."""
    return f"{stream_arn_or_name.rsplit('/', 1)[-1] or 'stream'}/{shard_id}"


def _default_client() -> DynamoDBClient:
    import os

    import boto3
    from botocore.config import Config

    # Short timeouts: the lease protocol budgets every call (edgeauth.audit.shard_writer).
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=0.5, read_timeout=1.0
    )
    endpoint = os.environ.get(C.ENV_ENDPOINT_URL) or None
    client: DynamoDBClient = boto3.client("dynamodb", config=config, endpoint_url=endpoint)
    return client


class CheckpointStore:
    """The checkpoint table (``client`` built on first use unless injected)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        if not table_name:
            raise ValueError("the checkpoint table name is required")
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = _default_client()
        return self._client

    def read(self, key: str) -> Checkpoint:
        """The shard's checkpoint (a strongly consistent read)."""
        try:
            resp = self.client.get_item(
                TableName=self.table_name, Key={C.CHECKPOINT_KEY: {"S": key}}, ConsistentRead=True
            )
        except Exception as e:
            raise _translate(e, "read") from e
        item = resp.get("Item")
        return _from_item(key, item) if item else Checkpoint(key)

    def write(self, held: Checkpoint, *, committed: int | None, intent: Intent | None) -> Checkpoint:
        """Replace ``held`` (the state its caller read) with the given state, version + 1.

        Raises :class:`CheckpointConflictError` (with the current state) when the item is no longer
        ``held``, :class:`CheckpointStoreError` when the table cannot tell.
        """
        token = secrets.token_hex(8)
        new = Checkpoint(held.key, held.version + 1, committed, intent)
        item = _to_item(new, token)
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": C.CHECKPOINT_KEY},
            }
            if held.version == 0
            else {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(held.version)}},
            }
        )
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition,
            )
        except Exception as e:
            if error_code(e) == "ConditionalCheckFailedException":
                response: Mapping[str, Any] = getattr(e, "response", {}) or {}
                existing = response.get("Item")
                if isinstance(existing, dict) and existing.get("token") == {"S": token}:
                    return new  # our own earlier attempt, retried by botocore after a lost answer
                raise CheckpointConflictError(_from_item(held.key, existing) if existing else None) from e
            raise _translate(e, "write") from e
        return new


def _to_item(cp: Checkpoint, token: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        C.CHECKPOINT_KEY: {"S": cp.key},
        "version": {"N": str(cp.version)},
        "token": {"S": token},
    }
    if cp.committed is not None:
        item["committed"] = {"S": str(cp.committed)}
    it = cp.intent
    if it is not None:
        if it.owner is not None:
            item["owner"] = {"S": it.owner}
        item["lease_until"] = {"N": str(it.lease_until_ms)}
        item["first"] = {"S": str(it.first)}
        item["last"] = {"S": str(it.last)}
        item["min_ms"] = {"N": str(it.min_ms)}
        item["max_ms"] = {"N": str(it.max_ms)}
        item["digest"] = {"S": it.digest}
    return item


def _from_item(key: str, item: Mapping[str, Any]) -> Checkpoint:
    def s(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if isinstance(value, dict) and "S" in value else None

    def n(name: str) -> int:
        value = item.get(name)
        return int(str(value["N"])) if isinstance(value, dict) and "N" in value else 0

    committed = s("committed")
    intent = None
    if "last" in item:
        intent = Intent(
            owner=s("owner"),
            lease_until_ms=n("lease_until"),
            first=int(s("first") or 0),
            last=int(s("last") or 0),
            min_ms=n("min_ms"),
            max_ms=n("max_ms"),
            digest=s("digest") or "",
        )
    return Checkpoint(key, n("version"), int(committed) if committed is not None else None, intent)


def _translate(e: Exception, what: str) -> CheckpointStoreError:
    code = error_code(e) or type(e).__name__
    if code in _THROTTLE_CODES:
        return CheckpointThrottledError(f"checkpoint table {what} throttled: {code}")
    return CheckpointStoreError(f"checkpoint table {what} failed: {code}")
