"""DynamoDB for tests and benchmarks: the role table's schema on moto (:func:`create_role_table`),
and a client that answers ``BatchGetItem`` from a dict for property tests and fuzzers that run
thousands of examples (moto costs milliseconds per call). Items are attribute-value JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeauth import constants as C


def create_role_table(client: Any, name: str, *, stream: bool = False) -> None:
    """The role table as the CDK app defines it (same key names, from the shared constants);
    ``stream``: with the change stream the role-events Lambda reads."""
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": C.TABLE_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": C.TABLE_SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": C.TABLE_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": C.TABLE_SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


@dataclass
class DictDynamo:
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    fault: Callable[[], None] | None = None
    """Called before every read: raise from it to inject a fault."""

    def put(self, item: Mapping[str, Any]) -> None:
        self.items[(item["pk"]["S"], item["sk"]["S"])] = dict(item)

    def batch_get_item(self, RequestItems: Mapping[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.fault is not None:
            self.fault()
        (table, request), *_ = RequestItems.items()
        found = []
        for key in request["Keys"]:
            item = self.items.get((key["pk"]["S"], key["sk"]["S"]))
            if item is not None:
                found.append(item)
        return {"Responses": {table: found}, "UnprocessedKeys": {}}
