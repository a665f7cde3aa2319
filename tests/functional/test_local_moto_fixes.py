"""The local stack's fix of moto's TransactWriteItems (edgeauth_local/moto_fixes.py): one backup copy
of the table per transaction, and still moto's all-or-nothing semantics."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from edgeauth_local import moto_fixes
from tests.support.dynamo import create_role_table

TABLE = "roles"


def put(i: int, **condition: Any) -> dict[str, Any]:
    return {
        "Put": {"TableName": TABLE, "Item": {"pk": {"S": f"SUBJECT#x{i}"}, "sk": {"S": "s"}}, **condition}
    }


@pytest.fixture
def table(aws: None) -> Any:
    moto_fixes.install()
    moto_fixes.install()  # idempotent
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_role_table(client, TABLE, stream=True)
    client.put_item(TableName=TABLE, Item={"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}})
    return client


def test_a_transaction_copies_the_table_once_not_once_per_item(table: Any, monkeypatch) -> None:
    copied: list[str] = []
    real = copy.deepcopy

    def counting(obj: Any, memo: Any = None) -> Any:
        copied.append(type(obj).__name__)
        return real(obj, memo)

    monkeypatch.setattr(moto_fixes.copy, "deepcopy", counting)
    table.transact_write_items(TransactItems=[put(i) for i in range(100)])
    # moto 5.2 alone: 100 copies of the whole table (one per item)
    assert copied.count("Table") == 1
    assert table.scan(TableName=TABLE, Select="COUNT")["Count"] == 101


def test_a_cancelled_transaction_still_writes_nothing(table: Any) -> None:
    exists = {"ConditionExpression": "attribute_exists(pk)"}  # x99 does not exist: cancelled
    with pytest.raises(ClientError, match="TransactionCanceled"):
        table.transact_write_items(TransactItems=[put(i) for i in range(99)] + [put(99, **exists)])
    assert table.scan(TableName=TABLE, Select="COUNT")["Count"] == 1
    # and the next transaction copies afresh (the first one's backup is not reused)
    table.transact_write_items(TransactItems=[put(i) for i in range(3)])
    with pytest.raises(ClientError, match="TransactionCanceled"):
        table.transact_write_items(TransactItems=[put(5), put(6, **exists)])
    assert table.scan(TableName=TABLE, Select="COUNT")["Count"] == 4
