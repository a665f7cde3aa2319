"""The authorizer's SigV4 signer (awscrt) against botocore's, and its endpoint against botocore's.

GIVEN the same request, credentials and time, WHEN signed by ``edgeauth.adapters.dynamodb.SigV4Signer``
(awscrt's ``aws_sign_request``) and by botocore's ``SigV4Auth``, THEN the ``Authorization``,
``X-Amz-Date`` and ``X-Amz-Security-Token`` headers are identical. No socket is opened.
"""

from __future__ import annotations

import datetime
import json
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from edgeauth.adapters import crt_http
from edgeauth.adapters.dynamodb import Credentials, SigV4Signer, regional_endpoint

WHEN = datetime.datetime(2026, 3, 1, 12, 34, 56, tzinfo=datetime.UTC)
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SESSION = Credentials("ASIAEXAMPLE", "secret/with+slash=", "FwoGZXIvYXdzE+session/token==")

BATCH = {"RequestItems": {"roles": {"Keys": [{"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}}]}}}
PUT = {
    "TableName": "replay",
    "Item": {"pk": {"S": "k"}, "expires_at": {"N": "1800000330"}, "owner": {"S": "0a1b"}},
    "ConditionExpression": "attribute_not_exists(#pk) OR #exp < :now",
    "ExpressionAttributeNames": {"#pk": "pk", "#exp": "expires_at"},
    "ExpressionAttributeValues": {":now": {"N": "1800000000"}},
    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
}


def signed_by_awscrt(
    credentials: Credentials, region: str, url: str, headers: dict[str, str], body: bytes
) -> dict[str, str]:
    host = url.split("://", 1)[1].split("/", 1)[0]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1] if url.count("/") > 2 else "/"
    request = crt_http.new_request("POST", path, [("Host", host), *headers.items()])
    SigV4Signer(region).sign(credentials, request, body, WHEN)
    return {name.lower(): value for name, value in request.headers}


def signed_by_botocore(
    credentials: Credentials, region: str, url: str, headers: dict[str, str], body: bytes
) -> dict[str, str]:
    request = AWSRequest("POST", url, headers=dict(headers), data=body)
    boto = BotoCredentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN.replace(tzinfo=None)):
        SigV4Auth(boto, "dynamodb", region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


CASES: list[tuple[str, Credentials, str, str, dict[str, Any]]] = [
    ("batch get, static keys", KEYS, "us-east-1", "https://dynamodb.us-east-1.amazonaws.com/", BATCH),
    ("batch get, session token", SESSION, "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com/", BATCH),
    (
        "put item, session token",
        SESSION,
        "ap-southeast-2",
        "https://dynamodb.ap-southeast-2.amazonaws.com/",
        PUT,
    ),
    ("china partition", SESSION, "cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn/", BATCH),
    ("endpoint override with a port", KEYS, "us-east-1", "http://127.0.0.1:5000/", PUT),
    ("endpoint override with a path", KEYS, "us-west-2", "http://localhost:8000/ddb/", BATCH),
    ("empty body", KEYS, "us-east-1", "https://dynamodb.us-east-1.amazonaws.com/", {}),
]


@pytest.mark.parametrize(("case", "credentials", "region", "url", "params"), CASES, ids=[c[0] for c in CASES])
def test_awscrt_signs_exactly_as_botocore(
    case: str, credentials: Credentials, region: str, url: str, params: dict[str, Any]
) -> None:
    # GIVEN a DynamoDB JSON request as the authorizer's client builds it
    target = "DynamoDB_20120810.PutItem" if "Item" in params else "DynamoDB_20120810.BatchGetItem"
    body = json.dumps(params, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "Content-Length": str(len(body)),
        "X-Amz-Target": target,
    }
    # WHEN both signers sign it at the same time with the same credentials
    ours = signed_by_awscrt(credentials, region, url, headers, body)
    theirs = signed_by_botocore(credentials, region, url, headers, body)
    # THEN the signature and the headers it depends on are identical
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"] == "20260301T123456Z"
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token") == credentials.session_token
    assert (
        f"Credential={credentials.access_key_id}/20260301/{region}/dynamodb/aws4_request"
        in ours["authorization"]
    )


def test_a_different_secret_gives_a_different_signature() -> None:
    body = json.dumps(BATCH).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.BatchGetItem"}
    url = "https://dynamodb.us-east-1.amazonaws.com/"
    one = signed_by_awscrt(KEYS, "us-east-1", url, headers, body)["authorization"]
    other = signed_by_awscrt(Credentials(KEYS.access_key_id, "another"), "us-east-1", url, headers, body)
    assert one != other["authorization"]
    # ...and so does a different body (the payload's hash is signed)
    assert one != signed_by_awscrt(KEYS, "us-east-1", url, headers, body + b" ")["authorization"]


def test_the_secret_is_in_no_representation_of_the_credentials() -> None:
    assert "EXAMPLEKEY" not in repr(KEYS) and "session" not in repr(SESSION)


REGIONS = [
    "us-east-1",
    "eu-west-1",
    "ap-southeast-7",
    "mx-central-1",
    "il-central-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "eusc-de-east-1",
]


@pytest.mark.parametrize("region", REGIONS)
def test_the_regional_endpoint_is_the_one_botocore_resolves(region: str) -> None:
    client = boto3.client("dynamodb", region_name=region, aws_access_key_id="a", aws_secret_access_key="b")
    assert regional_endpoint(region) == client.meta.endpoint_url


@pytest.mark.parametrize("region", ["", "us-east-1/evil", "US_EAST_1", "a" * 64, "us-east-1.example.com"])
def test_a_region_that_is_no_region_name_is_refused(region: str) -> None:
    with pytest.raises(ValueError, match="not a region name"):
        regional_endpoint(region)
