"""The write side of the role table, for the CLI (the authorizer only reads).

Every write is conditional on what was read, so a concurrent edit is never silently overwritten:

* a new item is written with ``attribute_not_exists(pk)``;
* an existing item with a ``version`` is written or deleted with ``version = :read``;
* an existing item without a ``version`` (written by hand in the console) with
  ``attribute_exists(pk) AND attribute_not_exists(version)``.

Every put stamps ``version`` (read + 1, or 1), ``updated_by`` (the caller's identity: the ARN from
``sts get_caller_identity``) and ``updated_at`` (ISO-8601 UTC). Values are written as lists of
strings, strings, booleans and numbers only (never string sets), whatever the item held before.

Several changes go in ``TransactWriteItems`` calls of at most :data:`MAX_TRANSACTION_ITEMS` items.
Up to that many changes are all-or-nothing. Beyond it, chunks are written in order, each atomic;
a conflict in a chunk stops there, and :class:`ConflictError` says how many changes earlier chunks
wrote. Re-running the same ``apply`` then converges, because ``apply`` is declarative (it writes the
difference between the file and what it reads). A single change uses a plain conditional
``PutItem``/``DeleteItem``.

A conflict is never retried here: the caller reads again and decides (``apply`` prints a new diff).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import Key, item_to_python
from edgeauth_cli.context import CliError, botocore_error

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sts import STSClient

    from edgeauth_cli.context import CliContext

MAX_TRANSACTION_ITEMS = 100
STAMP_ATTRS = frozenset({C.ATTR_VERSION, C.ATTR_UPDATED_BY, C.ATTR_UPDATED_AT})
KEY_ATTRS = frozenset({C.TABLE_PARTITION_KEY, C.TABLE_SORT_KEY})


class ConflictError(CliError):
    """Someone else changed (or created, or deleted) an item since it was read. Exit code 1."""

    def __init__(self, labels: Sequence[str], written: int = 0) -> None:
        message = (
            "conflict: changed by someone else since it was read: "
            + ", ".join(labels)
            + ". Nothing of this batch was written"
        )
        if written:
            message += f" (earlier batches wrote {written} change(s))"
        message += "; read again and retry."
        super().__init__(message, 1)
        self.labels = list(labels)
        self.written = written


class TableError(CliError):
    """A DynamoDB call failed for another reason (throttled, denied, missing table). Exit code 1."""


def aws_error_text(error: Exception) -> str:
    """``Code: message`` of a botocore error, or the exception type: never a credential."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    known = botocore_error(error)  # no region or credentials, an unreachable endpoint: say what to check
    return str(known) if known is not None else f"{type(error).__name__}: {error}"


def item_kind(key: Key) -> str:
    """``role``, ``subject``, ``group``, ``client``, ``change log`` (the role-events function's
    :mod:`edgeauth.core.changes` item: never written by the CLI) or ``unknown``."""
    pk = key[0]
    if key == (C.CHANGES_PK, C.CHANGES_SK):
        return "change log"
    for prefix, kind in (
        (C.ROLE_PK_PREFIX, "role"),
        (C.SUBJECT_PK_PREFIX, "subject"),
        (C.GROUP_PK_PREFIX, "group"),
        (C.CLIENT_PK_PREFIX, "client"),
    ):
        if pk.startswith(prefix):
            return kind
    return "unknown"


def item_label(key: Key) -> str:
    """``role reader``, ``subject https://iss/ user-1``, ``group https://iss/ admins``."""
    kind = item_kind(key)
    if kind == "role":
        return f"role {key[0][len(C.ROLE_PK_PREFIX) :]}"
    if kind == "change log":
        return "the change log"
    if kind == "unknown":
        return f"item {key[0]} / {key[1]}"
    issuer = key[0].split("#", 1)[1]
    return f"{kind} {issuer} {key[1]}"


@dataclass(frozen=True, slots=True)
class Change:
    """Write ``new`` (item content without keys or stamps) over ``old`` (as read; ``None``: absent).

    ``new is None`` deletes the item.
    """

    key: Key
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def action(self) -> str:
        if self.old is None:
            return "create"
        return "delete" if self.new is None else "update"

    @property
    def label(self) -> str:
        return item_label(self.key)

    @property
    def old_version(self) -> int | None:
        if self.old is None:
            return None
        v = self.old.get(C.ATTR_VERSION)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def diff(self) -> dict[str, tuple[Any, Any]]:
        """Content attributes that differ: ``{attr: (old, new)}`` (missing is ``None``)."""
        return content_diff(self.old, self.new)


def content(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """The item without its keys and stamps."""
    if item is None:
        return {}
    return {k: v for k, v in item.items() if k not in KEY_ATTRS and k not in STAMP_ATTRS}


def content_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    a, b = content(old), content(new)
    out: dict[str, tuple[Any, Any]] = {}
    for attr in sorted(set(a) | set(b)):
        if not same_value(a.get(attr), b.get(attr)):
            out[attr] = (a.get(attr), b.get(attr))
    return out


def same_value(a: Any, b: Any) -> bool:
    """Equal as the table stores them. A string set equals a list of the same strings only when the
    list is sorted (the order a set is read back in), so a console-written set is not rewritten."""
    if isinstance(a, set | frozenset) and isinstance(b, list):
        return sorted(a) == b
    if isinstance(b, set | frozenset) and isinstance(a, list):
        return sorted(b) == a
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def to_attribute_value(value: Any) -> dict[str, Any]:
    """Python → DynamoDB attribute value, for the types the role table uses (lists, never sets)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        return {"L": [to_attribute_value(v) for v in items]}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute_value(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in the role table")


def now_iso(clock: Callable[[], float] = time.time) -> str:
    return dt.datetime.fromtimestamp(clock(), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def caller_identity(sts: STSClient) -> str:
    """The caller's ARN (``updated_by``). Raises :class:`TableError` when it cannot be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return sts.get_caller_identity()["Arn"]
    except (ClientError, BotoCoreError) as e:
        raise TableError(
            f"cannot determine who you are (sts get-caller-identity): {aws_error_text(e)}"
        ) from e


def read_all(client: DynamoDBClient, table: str) -> dict[Key, dict[str, Any]]:
    """Every item of the role table (consistent Scan, paginated). Role tables are small."""
    from botocore.exceptions import BotoCoreError, ClientError

    items: dict[Key, dict[str, Any]] = {}
    try:
        for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for raw in page.get("Items", []):
                item = item_to_python(raw)
                items[(str(item.get(C.TABLE_PARTITION_KEY)), str(item.get(C.TABLE_SORT_KEY)))] = item
    except (ClientError, BotoCoreError) as e:
        raise TableError(f"cannot read role table {table!r}: {aws_error_text(e)}") from e
    return items


def read_prefix(client: DynamoDBClient, table: str, pk: str) -> dict[Key, dict[str, Any]]:
    """Every item of one partition (``SUBJECT#<issuer>`` …), consistent Query, paginated."""
    from botocore.exceptions import BotoCoreError, ClientError

    items: dict[Key, dict[str, Any]] = {}
    try:
        for page in client.get_paginator("query").paginate(
            TableName=table,
            ConsistentRead=True,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": C.TABLE_PARTITION_KEY},
            ExpressionAttributeValues={":pk": {"S": pk}},
        ):
            for raw in page.get("Items", []):
                item = item_to_python(raw)
                items[(pk, str(item.get(C.TABLE_SORT_KEY)))] = item
    except (ClientError, BotoCoreError) as e:
        raise TableError(f"cannot read role table {table!r}: {aws_error_text(e)}") from e
    return items


def read_item(client: DynamoDBClient, table: str, key: Key) -> dict[str, Any] | None:
    """One item by key (consistent read), ``None`` when absent."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resp = client.get_item(TableName=table, Key=_key(key), ConsistentRead=True)
    except (ClientError, BotoCoreError) as e:
        raise TableError(f"cannot read role table {table!r}: {aws_error_text(e)}") from e
    raw = resp.get("Item")
    return None if raw is None else item_to_python(raw)


def _key(key: Key) -> dict[str, Any]:
    return {C.TABLE_PARTITION_KEY: {"S": key[0]}, C.TABLE_SORT_KEY: {"S": key[1]}}


class TableWriter:
    """Conditional, stamped writes of :class:`Change` lists to the role table."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        identity: str,
        *,
        clock: Callable[[], float] = time.time,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        """``on_written``: called after each :meth:`write` that wrote something."""
        self.client = client
        self.table = table
        self.identity = identity
        self._clock = clock
        self._on_written = on_written

    def operation(self, change: Change) -> dict[str, Any]:
        """The ``TransactWriteItems`` element for one change (``Put`` or ``Delete``)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if change.old is None:
            names["#pk"] = C.TABLE_PARTITION_KEY
            condition = "attribute_not_exists(#pk)"
        elif change.old_version is not None:
            names["#v"] = C.ATTR_VERSION
            values[":v"] = {"N": str(change.old_version)}
            condition = "#v = :v"
        else:
            names["#pk"] = C.TABLE_PARTITION_KEY
            names["#v"] = C.ATTR_VERSION
            condition = "attribute_exists(#pk) AND attribute_not_exists(#v)"
        op: dict[str, Any] = {"TableName": self.table, "ConditionExpression": condition}
        op["ExpressionAttributeNames"] = names
        if values:
            op["ExpressionAttributeValues"] = values
        if change.new is None:
            op["Key"] = _key(change.key)
            return {"Delete": op}
        item: dict[str, Any] = {
            C.TABLE_PARTITION_KEY: change.key[0],
            C.TABLE_SORT_KEY: change.key[1],
            **content(change.new),
            C.ATTR_VERSION: (change.old_version or 0) + 1,
            C.ATTR_UPDATED_BY: self.identity,
            C.ATTR_UPDATED_AT: now_iso(self._clock),
        }
        op["Item"] = {k: to_attribute_value(v) for k, v in item.items()}
        return {"Put": op}

    def write(self, changes: Iterable[Change]) -> int:
        """Write every change; returns how many were written. Raises :class:`ConflictError`."""
        todo = list(changes)
        if not todo:
            return 0
        if len(todo) == 1:
            self._single(todo[0])
            written = 1
        else:
            written = 0
            for start in range(0, len(todo), MAX_TRANSACTION_ITEMS):
                chunk = todo[start : start + MAX_TRANSACTION_ITEMS]
                self._transaction(chunk, written)
                written += len(chunk)
        if self._on_written is not None:
            self._on_written()
        return written

    def _single(self, change: Change) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        ((kind, op),) = self.operation(change).items()
        try:
            if kind == "Put":
                self.client.put_item(**op)
            else:
                self.client.delete_item(**op)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConflictError([change.label]) from e
            raise TableError(f"writing {change.label} failed: {aws_error_text(e)}") from e
        except BotoCoreError as e:
            raise TableError(f"writing {change.label} failed: {aws_error_text(e)}") from e

    def _transaction(self, chunk: list[Change], written: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.transact_write_items(TransactItems=[self.operation(c) for c in chunk])  # type: ignore[misc]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons: list[Any] = list(e.response.get("CancellationReasons") or [])
                conflicted = [
                    c.label
                    for c, r in zip(chunk, reasons, strict=False)
                    if r.get("Code") in ("ConditionalCheckFailed", "TransactionConflict")
                ]
                if conflicted or not reasons:
                    raise ConflictError(conflicted or [c.label for c in chunk], written) from e
            raise TableError(
                f"writing {len(chunk)} change(s) failed: {aws_error_text(e)}"
                + (f" (earlier batches wrote {written} change(s))" if written else "")
            ) from e
        except BotoCoreError as e:
            raise TableError(f"writing {len(chunk)} change(s) failed: {aws_error_text(e)}") from e


def writer_for(ctx: CliContext, *, announce: bool = True) -> TableWriter:
    """A writer on the context's role table, stamping the caller's identity. ``announce``: after
    each write, say on stderr when it is effective everywhere (:mod:`edgeauth_cli.effective`)."""
    from edgeauth_cli.effective import note_effective

    return TableWriter(
        ctx.client("dynamodb"),
        ctx.role_table,
        caller_identity(ctx.client("sts")),
        on_written=(lambda: note_effective(ctx)) if announce else None,
    )
