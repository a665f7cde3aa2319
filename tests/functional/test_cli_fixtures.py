"""Shared fixtures of the CLI's functional tests (moto-backed role table, API, usage plans).

Imported by the other ``test_cli_*`` modules; holds no tests itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edgeauth import constants as C
from edgeauth.adapters.role_store import item_to_python
from edgeauth_cli.main import main
from tests.support.dynamo import create_role_table

TABLE = "edgeauth-roles"
ISS = "https://login.example.com/"
REGION = "us-east-1"


@dataclass
class World:
    ddb: Any
    table: str

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for raw in self.ddb.scan(TableName=self.table, ConsistentRead=True)["Items"]:
            item = item_to_python(raw)
            out[(item[C.TABLE_PARTITION_KEY], item[C.TABLE_SORT_KEY])] = item
        return out

    def put_raw(self, item: dict[str, Any]) -> None:
        """Write an item as a person would in the console (attribute-value JSON, no stamps)."""
        self.ddb.put_item(TableName=self.table, Item=item)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in (
        "AWS_PROFILE",
        "EDGEAUTH_STACK",
        "EDGEAUTH_ROLE_TABLE",
        "EDGEAUTH_ENDPOINT_URL",
        "EDGEAUTH_ISSUER",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def world(aws: None) -> World:
    ddb = boto3.client("dynamodb", region_name=REGION)
    create_role_table(ddb, TABLE)
    return World(ddb, TABLE)


def run(capsys: pytest.CaptureFixture[str], *argv: str, output: str = "json") -> tuple[int, Any, str]:
    """Run ``edgeauth --table T --output json ARGV``; returns (exit code, parsed stdout, stderr)."""
    capsys.readouterr()
    code = main(["--table", TABLE, "--output", output, *argv])
    captured = capsys.readouterr()
    parsed: Any = captured.out
    if output == "json" and captured.out.strip():
        try:
            parsed = json.loads(captured.out)
        except ValueError:
            parsed = captured.out
    return code, parsed, captured.err


def write_file(tmp_path: Any, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


BASE_FILE = f"""\
roles:
  reader:
    description: Read accounts
    allow: ["GET /accounts", "GET /accounts/{{id}}"]
  writer:
    allow: ["POST /accounts", "PUT /accounts/{{id}}"]
    deny: ["DELETE /accounts/{{id+}}"]
    inherit: [reader]
subjects:
  {ISS}:
    alice: [writer]
    bob: [reader]
groups:
  {ISS}:
    auditors: [reader]
"""
