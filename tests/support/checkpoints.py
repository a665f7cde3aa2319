"""The audit consumer's checkpoint table for tests: its schema on moto (:func:`create_checkpoint_table`),
and an in-memory stand-in (:class:`DictCheckpointTable`) that answers ``GetItem`` and the conditional
``PutItem`` the checkpoint store makes, for property and fault tests that run many examples."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from edgeauth import constants as C


def create_checkpoint_table(client: Any, name: str) -> None:
    """The checkpoint table as the CDK app defines it (key name from the shared constant)."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": C.CHECKPOINT_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": C.CHECKPOINT_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def client_error(
    code: str, op: str, status: int = 400, extra: Mapping[str, Any] | None = None
) -> ClientError:
    """A botocore ``ClientError`` as the service answers it (``extra``: more keys of the response)."""
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    response.update(extra or {})
    return ClientError(response, op)


@dataclass
class DictCheckpointTable:
    """``get_item``/``put_item`` with the two conditions the store uses (``attribute_not_exists(#k)``,
    ``#v = :v``) and ``ReturnValuesOnConditionCheckFailure``. ``fault(op)`` is called before every
    call: raise from it to inject a fault."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    fault: Callable[[str], None] | None = None

    def _enter(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        if self.fault is not None:
            self.fault(op)

    def get_item(
        self, *, TableName: str, Key: Mapping[str, Any], ConsistentRead: bool = False
    ) -> dict[str, Any]:
        self._enter("get_item")
        item = self.items.get(Key[C.CHECKPOINT_KEY]["S"])
        return {"Item": dict(item)} if item is not None else {}

    def put_item(self, *, TableName: str, Item: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        self._enter("put_item")
        key = Item[C.CHECKPOINT_KEY]["S"]
        old = self.items.get(key)
        condition = kw.get("ConditionExpression", "")
        if condition.startswith("attribute_not_exists"):
            ok = old is None
        else:
            expected = kw["ExpressionAttributeValues"][":v"]
            ok = old is not None and old.get("version") == expected
        if not ok:
            found = old is not None and kw.get("ReturnValuesOnConditionCheckFailure")
            extra = {"Item": dict(old)} if found and old is not None else None
            raise client_error("ConditionalCheckFailedException", "PutItem", extra=extra)
        self.items[key] = dict(Item)
        return {}
