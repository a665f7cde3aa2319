"""The authorizer's DynamoDB client against boto3's, on the same moto server.

GIVEN a table on moto's server (and, for faults moto cannot produce, an HTTP proxy in front of it
that answers instead), WHEN the same calls go through ``edgeauth.adapters.dynamodb.DynamoDBClient``
and through boto3's low-level client, THEN the answers are equal (items, missing items, unprocessed
keys), the errors are equal (code, message, HTTP status, ``Item`` of a failed condition), and so is
the number of attempts for each kind of fault (botocore's standard retry mode, 3 attempts).
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from edgeauth.adapters import dynamodb as ddb
from edgeauth.adapters.dynamodb import (
    Credentials,
    CredentialsError,
    DynamoDBClient,
    EnvironmentCredentials,
    ServiceError,
    StaticCredentials,
    TransportError,
    client_failures,
    failure_code,
)
from tests.conftest import ROLE_TABLE
from tests.support.dynamo_server import (
    DynamoProxy,
    Fault,
    Seen,
    authorizer_client,
    boto3_client,
    error_document,
)

KEY = {"pk": {"S": "ROLE#reader"}, "sk": {"S": "ROLE"}}
ITEM = {
    **KEY,
    "allow": {"SS": ["GET /a", "GET /b"]},
    "count": {"N": "42"},
    "ratio": {"N": "0.25"},
    "ns": {"NS": ["1", "2.5"]},
    "blob": {"B": b"\x00\x01\xff"},
    "blobs": {"BS": [b"a", b"\x00"]},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "list": {"L": [{"S": "x"}, {"B": b"\x02"}, {"M": {"B": {"S": "a map key named B"}}}]},
    "map": {"M": {"inner": {"L": [{"N": "1"}]}, "bin": {"B": b"\x03"}}},
    "unicode": {"S": "ünïcödé ✓"},
}


@pytest.fixture
def dynamodb(dynamodb_server: Any) -> Any:
    return dynamodb_server


@pytest.fixture
def proxy(dynamodb: Any) -> Iterator[DynamoProxy]:
    p = DynamoProxy(dynamodb.meta.endpoint_url)
    try:
        yield p
    finally:
        p.close()


def without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard-mode delays to 0 (the number of attempts is what is compared)."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


def standard_boto3(url: str) -> Any:
    return boto3_client(url, retries={"total_max_attempts": 3, "mode": "standard"}, read_timeout=2)


# -- answers ---------------------------------------------------------------------------------------


def test_items_and_missing_items_are_answered_as_boto3_answers_them(dynamodb: Any) -> None:
    # GIVEN an item with every attribute type (binary ones included, at every depth)
    dynamodb.put_item(TableName=ROLE_TABLE, Item=ITEM)
    ours = authorizer_client(dynamodb)
    missing = {"pk": {"S": "ROLE#nobody"}, "sk": {"S": "ROLE"}}
    for operation, params in [
        ("batch_get_item", {"RequestItems": {ROLE_TABLE: {"Keys": [KEY, missing]}}}),
        ("batch_get_item", {"RequestItems": {ROLE_TABLE: {"Keys": [missing]}}}),
        ("get_item", {"TableName": ROLE_TABLE, "Key": KEY}),
        ("get_item", {"TableName": ROLE_TABLE, "Key": missing}),
        ("get_item", {"TableName": ROLE_TABLE, "Key": KEY, "ConsistentRead": True}),
    ]:
        # WHEN both clients make the same call
        theirs = getattr(dynamodb, operation)(**params)
        mine = getattr(ours, operation)(**params)
        # THEN the answers are equal, metadata included (but for the request id and headers)
        assert without_metadata(mine) == without_metadata(theirs), operation
        for field in ("HTTPStatusCode", "RetryAttempts"):
            assert mine["ResponseMetadata"][field] == theirs["ResponseMetadata"][field]
        assert (
            mine["ResponseMetadata"]["RequestId"]
            == mine["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        )
    assert ours.get_item(TableName=ROLE_TABLE, Key=KEY)["Item"]["blob"] == {"B": b"\x00\x01\xff"}


def test_a_put_item_with_binary_values_writes_what_boto3_reads(dynamodb: Any) -> None:
    ours = authorizer_client(dynamodb)
    ours.put_item(TableName=ROLE_TABLE, Item=ITEM)
    assert dynamodb.get_item(TableName=ROLE_TABLE, Key=KEY)["Item"] == ITEM


def test_unprocessed_keys_are_answered_as_boto3_answers_them(dynamodb: Any, proxy: DynamoProxy) -> None:
    # GIVEN DynamoDB answering a BatchGetItem in part (moto never does: the proxy answers instead)
    dynamodb.put_item(TableName=ROLE_TABLE, Item=ITEM)
    encoded = json.loads(json.dumps(ITEM, default=lambda b: base64.b64encode(b).decode()))
    partial = {
        "Responses": {ROLE_TABLE: [encoded]},
        "UnprocessedKeys": {
            ROLE_TABLE: {
                "Keys": [{"pk": {"S": "GROUP#x"}, "sk": {"B": base64.b64encode(b"\x01").decode()}}],
                "ConsistentRead": True,
            }
        },
    }
    proxy.fault = lambda seen: Fault(status=200, body=json.dumps(partial).encode())
    params = {"RequestItems": {ROLE_TABLE: {"Keys": [KEY]}}}
    theirs = boto3_client(proxy.url).batch_get_item(**params)
    mine = authorizer_client(dynamodb, endpoint_url=proxy.url).batch_get_item(**params)
    assert without_metadata(mine) == without_metadata(theirs)
    assert mine["UnprocessedKeys"][ROLE_TABLE]["Keys"][0]["sk"] == {"B": b"\x01"}


# -- errors ------------------------------------------------------------------------------------------


def error_of(call: Any) -> Any:
    try:
        call()
    except client_failures() as e:
        return e
    raise AssertionError("no error")


def same_error(mine: BaseException, theirs: Any) -> None:
    assert isinstance(mine, ServiceError)
    assert mine.response["Error"] == theirs.response["Error"]
    assert mine.status == theirs.response["ResponseMetadata"]["HTTPStatusCode"]
    assert without_metadata(mine.response) == without_metadata(theirs.response)
    assert failure_code(mine) == failure_code(theirs) == mine.code


def test_a_missing_table_is_the_error_boto3_raises(dynamodb: Any) -> None:
    ours = authorizer_client(dynamodb)
    for operation, params in [
        ("batch_get_item", {"RequestItems": {"no-such-table": {"Keys": [KEY]}}}),
        ("get_item", {"TableName": "no-such-table", "Key": KEY}),
        ("put_item", {"TableName": "no-such-table", "Item": KEY}),
    ]:
        mine = error_of(lambda: getattr(ours, operation)(**params))  # noqa: B023 - called at once
        theirs = error_of(lambda: getattr(dynamodb, operation)(**params))  # noqa: B023
        same_error(mine, theirs)
        assert mine.code == "ResourceNotFoundException"


def test_a_failed_condition_is_the_error_boto3_raises_with_the_item(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=ROLE_TABLE, Item=ITEM)
    params = {
        "TableName": ROLE_TABLE,
        "Item": KEY,
        "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    mine = error_of(lambda: authorizer_client(dynamodb).put_item(**params))
    theirs = error_of(lambda: dynamodb.put_item(**params))
    same_error(mine, theirs)
    assert mine.response["Item"] == ITEM  # binary values as bytes, as boto3 gives them


def test_an_invalid_request_is_the_error_boto3_raises(dynamodb: Any) -> None:
    params = {"TableName": ROLE_TABLE, "Key": {"pk": {"S": ""}, "sk": {"S": "ROLE"}}}
    same_error(
        error_of(lambda: authorizer_client(dynamodb).get_item(**params)),
        error_of(lambda: dynamodb.get_item(**params)),
    )


# Faults moto cannot produce, answered by the proxy, through both clients: what each raises and how
# many attempts each makes (botocore standard mode: throttling, transient codes, 5xx, a 429 with an
# unmodelled code, and modelled retryable errors are retried; the rest is not).
RETRY_MATRIX = [
    ("BatchGetItem", 400, "ThrottlingException", 3),
    ("BatchGetItem", 400, "ProvisionedThroughputExceededException", 3),
    ("BatchGetItem", 400, "RequestLimitExceeded", 3),
    ("BatchGetItem", 400, "RequestTimeout", 3),
    ("BatchGetItem", 500, "InternalServerError", 3),
    ("BatchGetItem", 503, "ServiceUnavailable", 3),
    ("BatchGetItem", 429, "SomethingUnmodelled", 3),
    ("BatchGetItem", 429, "ResourceNotFoundException", 1),
    ("BatchGetItem", 400, "AccessDeniedException", 1),
    ("BatchGetItem", 400, "ValidationException", 1),
    ("BatchGetItem", 400, "UnrecognizedClientException", 1),
    ("GetItem", 400, "ProvisionedThroughputExceededException", 3),
    ("GetItem", 400, "ResourceNotFoundException", 1),
    ("PutItem", 400, "ReplicatedWriteConflictException", 3),
    ("PutItem", 400, "TransactionConflictException", 1),
    ("PutItem", 400, "ConditionalCheckFailedException", 1),
]


def call(client: Any, operation: str) -> None:
    params: dict[str, Any] = {
        "BatchGetItem": {"RequestItems": {ROLE_TABLE: {"Keys": [KEY]}}},
        "GetItem": {"TableName": ROLE_TABLE, "Key": KEY},
        "PutItem": {"TableName": ROLE_TABLE, "Item": KEY},
    }[operation]
    method = {"BatchGetItem": "batch_get_item", "GetItem": "get_item", "PutItem": "put_item"}[operation]
    getattr(client, method)(**params)


@pytest.mark.parametrize(("operation", "status", "code", "attempts"), RETRY_MATRIX)
def test_faults_are_retried_and_raised_as_boto3_standard_mode_does(
    dynamodb: Any,
    proxy: DynamoProxy,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    status: int,
    code: str,
    attempts: int,
) -> None:
    no_backoff(monkeypatch)
    proxy.fault = lambda seen: error_document(status, code, f"injected {code}")
    theirs = error_of(lambda: call(standard_boto3(proxy.url), operation))
    boto3_attempts = len(proxy.requests)
    proxy.requests.clear()
    mine = error_of(
        lambda: call(authorizer_client(dynamodb, endpoint_url=proxy.url, jitter=lambda: 0.0), operation)
    )
    assert len(proxy.requests) == boto3_attempts == attempts
    same_error(mine, theirs)
    assert (
        mine.response["ResponseMetadata"]["RetryAttempts"]
        == theirs.response["ResponseMetadata"]["RetryAttempts"]
    )


def test_a_fault_that_clears_is_retried_into_the_same_answer(dynamodb: Any, proxy: DynamoProxy) -> None:
    dynamodb.put_item(TableName=ROLE_TABLE, Item=ITEM)
    throttle = error_document(400, "ThrottlingException")
    proxy.fault = lambda seen: throttle if len(proxy.requests) == 1 else None
    answer = authorizer_client(dynamodb, endpoint_url=proxy.url, jitter=lambda: 0.0).get_item(
        TableName=ROLE_TABLE, Key=KEY
    )
    assert answer["Item"] == ITEM
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1 and len(proxy.requests) == 2


def test_an_answer_that_is_not_its_checksum_is_retried_then_refused(
    dynamodb: Any, proxy: DynamoProxy
) -> None:
    # botocore retries a bad x-amz-crc32 (standard mode) and then parses the last answer anyway;
    # the authorizer's client refuses it (a body that is not what DynamoDB sent is not trusted).
    proxy.fault = lambda seen: Fault(status=200, body=b'{"Responses": {}}', headers={"x-amz-crc32": "1"})
    client = authorizer_client(dynamodb, endpoint_url=proxy.url, jitter=lambda: 0.0)
    with pytest.raises(TransportError) as info:
        call(client, "BatchGetItem")
    assert info.value.code == "CRC32CheckFailed" and len(proxy.requests) == 3


def test_a_silent_server_is_a_timeout_error_after_three_attempts(dynamodb: Any, proxy: DynamoProxy) -> None:
    proxy.fault = lambda seen: Fault(hang=True)
    client = authorizer_client(dynamodb, endpoint_url=proxy.url, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        call(client, "GetItem")
    assert info.value.code == "Timeout" and len(proxy.requests) == 3
    assert time.monotonic() - started < 0.2 * 3 + 0.5  # three timeouts and 25 ms-scale backoffs
    assert failure_code(info.value) == "Timeout"


def test_a_dropped_connection_is_retried(dynamodb: Any, proxy: DynamoProxy) -> None:
    dynamodb.put_item(TableName=ROLE_TABLE, Item=ITEM)
    proxy.fault = lambda seen: Fault(drop=True) if len(proxy.requests) == 1 else None
    answer = authorizer_client(dynamodb, endpoint_url=proxy.url).get_item(TableName=ROLE_TABLE, Key=KEY)
    assert answer["Item"] == ITEM and answer["ResponseMetadata"]["RetryAttempts"] == 1


def test_no_retry_starts_that_cannot_finish_in_the_invocations_time(
    dynamodb: Any, proxy: DynamoProxy
) -> None:
    proxy.fault = lambda seen: error_document(500, "InternalServerError")
    # GIVEN an invocation with less time left than a delay, an attempt and the reserve
    short = authorizer_client(dynamodb, endpoint_url=proxy.url, timeout=0.5, time_left=lambda: 0.6)
    with pytest.raises(ServiceError):
        call(short, "GetItem")
    assert len(proxy.requests) == 1
    # AND with time enough, or outside an invocation (None), the three attempts
    proxy.requests.clear()
    call_ok = authorizer_client(dynamodb, endpoint_url=proxy.url, timeout=0.5, time_left=lambda: 10.0)
    with pytest.raises(ServiceError):
        call(call_ok, "GetItem")
    assert len(proxy.requests) == 3


def test_the_retry_quota_stops_retries_during_a_long_outage(dynamodb: Any, proxy: DynamoProxy) -> None:
    # botocore's quota: 500, 14 per non-throttling retry; a success gives 1 back.
    proxy.fault = lambda seen: error_document(500, "InternalServerError")
    client = authorizer_client(dynamodb, endpoint_url=proxy.url, jitter=lambda: 0.0)
    calls = 0
    while True:
        proxy.requests.clear()
        with pytest.raises(ServiceError):
            call(client, "GetItem")
        calls += 1
        if len(proxy.requests) == 1:
            break
        assert calls < 40
    # 500 // 14 = 35 retries: 17 calls with two retries each, the 18th with one, then none.
    assert calls == 19


@pytest.mark.parametrize(
    ("code", "status", "cost"), [("ThrottlingException", 400, 5), ("InternalServerError", 500, 14)]
)
def test_a_success_after_a_retry_gives_back_what_the_retry_took(
    dynamodb: Any, proxy: DynamoProxy, code: str, status: int, cost: int
) -> None:
    # GIVEN a client whose quota is below its capacity (so that what is given back shows)
    client = authorizer_client(dynamodb, endpoint_url=proxy.url, jitter=lambda: 0.0)
    assert client._quota.acquire(100)
    # WHEN a call is retried once and then answered
    proxy.fault = lambda seen: error_document(status, code) if len(proxy.requests) == 1 else None
    call(client, "GetItem")
    # THEN the retry's cost came back (botocore: the last amount taken), not one unit
    assert client._quota.available == 400
    # AND a call answered at once gives back one unit
    call(client, "GetItem")
    assert client._quota.available == 401


def test_retry_after_raises_the_delay_within_five_seconds_of_the_backoff(
    dynamodb: Any, proxy: DynamoProxy
) -> None:
    delays: list[float] = []

    def with_header(seen: Seen) -> Fault | None:
        if len(proxy.requests) > 1:
            return None
        fault = error_document(500, "InternalServerError")
        fault.headers["x-amz-retry-after"] = "1500"  # milliseconds
        return fault

    proxy.fault = with_header
    client = authorizer_client(dynamodb, endpoint_url=proxy.url, jitter=lambda: 0.0, sleep=delays.append)
    with pytest.raises(ServiceError) as info:  # after the retry, moto answers: no such table
        client.get_item(TableName="no-such-table", Key=KEY)
    assert info.value.code == "ResourceNotFoundException"
    assert delays == [1.5]


# -- connections ---------------------------------------------------------------------------------------


def test_one_connection_is_kept_and_reused_across_calls(dynamodb: Any, proxy: DynamoProxy) -> None:
    client = authorizer_client(dynamodb, endpoint_url=proxy.url)
    for _ in range(5):
        client.get_item(TableName=ROLE_TABLE, Key=KEY)
    assert len(proxy.requests) == 5 and proxy.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failed_attempt(
    dynamodb: Any, proxy: DynamoProxy
) -> None:
    # GIVEN a connection used once, then closed by the server while idle (a frozen container)
    client = authorizer_client(dynamodb, endpoint_url=proxy.url)
    client.get_item(TableName=ROLE_TABLE, Key=KEY)
    proxy.drop_idle_connections()
    deadline = time.monotonic() + 2
    while client._idle and client._idle[0].is_open() and time.monotonic() < deadline:
        time.sleep(0.01)
    # WHEN the next call comes THEN it goes out on a new connection, first time
    answer = client.get_item(TableName=ROLE_TABLE, Key=KEY)
    assert answer["ResponseMetadata"]["RetryAttempts"] == 0
    assert proxy.connections == 2 and len(proxy.requests) == 2


def test_a_server_that_closes_after_each_answer_gets_a_new_connection_each_call(dynamodb: Any) -> None:
    proxy = DynamoProxy(dynamodb.meta.endpoint_url, keep_alive=False)
    try:
        client = authorizer_client(dynamodb, endpoint_url=proxy.url)
        for _ in range(3):
            assert client.get_item(TableName=ROLE_TABLE, Key=KEY)["ResponseMetadata"]["RetryAttempts"] == 0
        assert proxy.connections == 3
    finally:
        proxy.close()


def test_concurrent_callers_each_get_an_answer(dynamodb: Any, proxy: DynamoProxy) -> None:
    dynamodb.put_item(TableName=ROLE_TABLE, Item=ITEM)
    client = authorizer_client(dynamodb, endpoint_url=proxy.url)
    answers: list[Any] = []

    def read() -> None:
        answers.append(client.get_item(TableName=ROLE_TABLE, Key=KEY)["Item"])

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert answers == [ITEM] * 8
    assert len(client._idle) <= ddb.MAX_IDLE_CONNECTIONS


def test_a_closed_port_is_a_transport_error(dynamodb: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(TransportError) as info:
        call(authorizer_client(dynamodb, endpoint_url=url, jitter=lambda: 0.0), "GetItem")
    assert "REFUSED" in info.value.code


# -- what goes out ---------------------------------------------------------------------------------------


def test_requests_are_signed_json_1_0_calls_with_the_session_token(dynamodb: Any, proxy: DynamoProxy) -> None:
    client = DynamoDBClient(
        "us-east-1",
        endpoint_url=proxy.url,
        credentials=StaticCredentials(Credentials("AKIDTEST", "secret", "session-token")),
    )
    client.get_item(TableName=ROLE_TABLE, Key=KEY)
    (seen,) = proxy.requests
    assert seen.target == "DynamoDB_20120810.GetItem" and seen.body == {"TableName": ROLE_TABLE, "Key": KEY}
    assert seen.headers["content-type"] == "application/x-amz-json-1.0"
    assert seen.headers["x-amz-security-token"] == "session-token"
    assert (
        seen.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
        and "/us-east-1/dynamodb/aws4_request" in seen.headers["authorization"]
    )


# -- credentials ------------------------------------------------------------------------------------------


def test_static_credentials_come_from_the_lambda_variables() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok"}
    assert EnvironmentCredentials(env).get() == Credentials("AKID", "secret", "tok")
    assert EnvironmentCredentials({**env, "AWS_SESSION_TOKEN": ""}).get().session_token is None


@pytest.mark.parametrize(
    ("env", "code", "names"),
    [
        ({"AWS_ACCESS_KEY_ID": "AKID"}, "PartialCredentials", "AWS_SECRET_ACCESS_KEY"),
        ({"AWS_SECRET_ACCESS_KEY": "secret-value"}, "PartialCredentials", "AWS_ACCESS_KEY_ID"),
        ({}, "NoCredentials", "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ],
)
def test_missing_credentials_are_an_error_naming_what_is_missing(
    env: dict[str, str], code: str, names: str
) -> None:
    with pytest.raises(CredentialsError) as info:
        EnvironmentCredentials(env).get()
    assert info.value.code == code and names in str(info.value)
    assert "secret-value" not in str(info.value)


def test_missing_credentials_fail_a_call_without_retrying(dynamodb: Any, proxy: DynamoProxy) -> None:
    client = DynamoDBClient("us-east-1", endpoint_url=proxy.url, credentials=EnvironmentCredentials({}))
    with pytest.raises(CredentialsError):
        call(client, "GetItem")
    assert proxy.requests == []


class CredentialsEndpoint:
    """Lambda's container credentials endpoint, on 127.0.0.1."""

    def __init__(self) -> None:
        self.tokens: list[str | None] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.tokens.append(self.headers.get("Authorization"))
                status, doc = outer.answers.pop(0) if outer.answers else (500, {})
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/2021-04-23/credentials"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def endpoint() -> Iterator[CredentialsEndpoint]:
    e = CredentialsEndpoint()
    try:
        yield e
    finally:
        e.close()


def container_doc(key: str, expiration: str) -> dict[str, Any]:
    return {"AccessKeyId": key, "SecretAccessKey": "s3cr3t", "Token": "tok", "Expiration": expiration}


def test_container_credentials_are_fetched_with_the_token_and_refreshed_before_they_expire(
    endpoint: CredentialsEndpoint,
) -> None:
    # GIVEN a SnapStart function's environment: no keys, the container credentials endpoint
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "auth-token",
    }
    now = [1_800_000_000.0]
    source = EnvironmentCredentials(env, clock=lambda: now[0])
    endpoint.answers = [
        (200, container_doc("ASIA1", "2027-01-15T08:00:00Z")),
        (200, container_doc("ASIA2", "2027-01-15T09:00:00Z")),
    ]
    first = source.get()
    assert (first.access_key_id, first.session_token) == ("ASIA1", "tok")
    assert first.expires_at == datetime.datetime(2027, 1, 15, 8, tzinfo=datetime.UTC).timestamp()
    assert endpoint.tokens == ["auth-token"]
    # WHEN used again long before expiry THEN no new fetch
    now[0] = first.expires_at - 3600
    assert source.get() is first and len(endpoint.tokens) == 1
    # WHEN within 15 minutes of expiry THEN refreshed
    now[0] = first.expires_at - 14 * 60
    assert source.get().access_key_id == "ASIA2" and len(endpoint.tokens) == 2


def test_a_failed_refresh_keeps_current_credentials_until_ten_minutes_before_expiry(
    endpoint: CredentialsEndpoint,
) -> None:
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url}
    now = [0.0]
    source = EnvironmentCredentials(env, clock=lambda: now[0])
    endpoint.answers = [(200, container_doc("ASIA1", "2027-01-15T08:00:00Z"))]
    first = source.get()
    assert first.expires_at is not None
    now[0] = first.expires_at - 12 * 60  # advisory window: the endpoint fails, the old ones serve
    assert source.get() is first
    now[0] = first.expires_at - 9 * 60  # mandatory window: an error
    with pytest.raises(CredentialsError) as info:
        source.get()
    assert "HTTP 500" in str(info.value) and "s3cr3t" not in str(info.value)


def test_the_container_token_may_come_from_a_file(endpoint: CredentialsEndpoint, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
    }
    endpoint.answers = [(200, container_doc("ASIA1", "2027-01-15T08:00:00Z"))]
    EnvironmentCredentials(env).get()
    assert endpoint.tokens == ["from-file"]


@pytest.mark.parametrize(
    "uri",
    [
        "http://169.254.169.254/creds",
        "http://example.com/creds",
        "ftp://127.0.0.1/creds",
        "http://127.0.0.1:99999/",
    ],
)
def test_container_credentials_over_plain_http_only_from_loopback_or_the_agents(uri: str) -> None:
    with pytest.raises(CredentialsError) as info:
        EnvironmentCredentials({"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri}).get()
    assert "not an allowed URL" in str(info.value)


def test_reset_reads_the_environment_again() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKID1", "AWS_SECRET_ACCESS_KEY": "s"}
    source = EnvironmentCredentials(env)
    assert source.get().access_key_id == "AKID1"
    env["AWS_ACCESS_KEY_ID"] = "AKID2"
    assert source.get().access_key_id == "AKID1"
    source.reset()
    assert source.get().access_key_id == "AKID2"


def test_reset_closes_the_connections_and_forgets_the_credentials(dynamodb: Any, proxy: DynamoProxy) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKID1", "AWS_SECRET_ACCESS_KEY": "s"}
    client = DynamoDBClient("us-east-1", endpoint_url=proxy.url, credentials=EnvironmentCredentials(env))
    client.get_item(TableName=ROLE_TABLE, Key=KEY)
    env["AWS_ACCESS_KEY_ID"] = "AKID2"
    client.reset()
    client.get_item(TableName=ROLE_TABLE, Key=KEY)
    assert proxy.connections == 2
    assert "Credential=AKID2/" in proxy.requests[-1].headers["authorization"]


# -- the error mapping the stores use ----------------------------------------------------------------------


def test_failure_codes_of_both_clients() -> None:
    from botocore.exceptions import ClientError, ReadTimeoutError

    assert failure_code(ServiceError("ThrottlingException", "m", 400, {})) == "ThrottlingException"
    assert failure_code(TransportError("Timeout")) == "Timeout"
    assert (
        failure_code(ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetItem"))
        == "AccessDeniedException"
    )
    assert failure_code(ClientError({}, "GetItem")) == "ClientError"
    assert failure_code(ReadTimeoutError(endpoint_url="https://x")) == "ReadTimeoutError"
    assert ClientError in client_failures() and ddb.DynamoDBError in client_failures()


def test_tls_is_version_1_2_at_least() -> None:
    # awscrt's default policy would still offer TLS 1.0 (the untrusted-certificate case is
    # tests/functional/test_jwks_fetcher.py::test_an_untrusted_certificate_is_a_failed_fetch_and_no_request_is_sent).
    from awscrt.io import TlsVersion

    from edgeauth.adapters import crt_http

    assert crt_http._runtime.tls()._min_tls_ver == TlsVersion.TLSv1_2
