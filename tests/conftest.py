"""Shared fixtures: AWS credentials for moto, the role table, an authorizer wired to fakes.

Two role tables: ``dynamodb`` is moto in-process (``mock_aws``), for code that uses boto3 (the CLI,
the other functions); ``dynamodb_server`` is the same table on moto's server, reached over HTTP,
for the authorizer's own client (``edgeauth.adapters.dynamodb``), which ``mock_aws`` cannot
intercept. Suites of the authorizer point their ``dynamodb`` fixture at the server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from edgeauth import constants as C
from tests.support import dynamo_server
from tests.support.dynamo import create_role_table

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROLE_TABLE = "edgeauth-roles-test"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_role_table(client, ROLE_TABLE, stream=True)
    return client


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server on 127.0.0.1, one per session (each ``dynamodb_server`` starts from empty)."""
    server, url = dynamo_server.start_moto()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def dynamodb_server(moto_url: str) -> Any:
    """A boto3 client of moto's server, with the role table created (and its stream, as on AWS)."""
    dynamo_server.reset(moto_url)
    client = dynamo_server.boto3_client(moto_url)
    create_role_table(client, ROLE_TABLE, stream=True)
    return client


def put_role(client: Any, name: str, **attrs: Any) -> None:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    item = {C.TABLE_PARTITION_KEY: C.ROLE_PK_PREFIX + name, C.TABLE_SORT_KEY: C.ROLE_SK, **attrs}
    client.put_item(TableName=ROLE_TABLE, Item={k: ser.serialize(v) for k, v in item.items()})


def put_item(client: Any, pk: str, sk: str, **attrs: Any) -> None:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    item = {C.TABLE_PARTITION_KEY: pk, C.TABLE_SORT_KEY: sk, **attrs}
    client.put_item(TableName=ROLE_TABLE, Item={k: ser.serialize(v) for k, v in item.items()})


def issuer_env(**issuer: Any) -> dict[str, str]:
    from tests.support.tokens import AUDIENCE, ISSUER

    cfg: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "jwks_uri": "https://idp.example.com/jwks.json",
        "algorithms": ["RS256", "PS256", "ES256", "EdDSA"],
        "groups_claim": "groups",
    }
    cfg.update(issuer)
    return {
        C.ENV_ISSUERS: json.dumps([cfg]),
        C.ENV_ROLE_TABLE: ROLE_TABLE,
        C.ENV_DEFAULT_USAGE_KEY: "edgeauth-default-key-0123456789",
        "AWS_REGION": "us-east-1",
        # The Lambda environment's credentials (the authorizer's DynamoDB client reads them here).
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
