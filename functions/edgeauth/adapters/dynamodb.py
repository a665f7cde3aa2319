"""DynamoDB for the authorizer's request path, without boto3 or botocore.

Importing boto3 and creating a DynamoDB client costs a new container about a third of a second
and tens of megabytes (docs/benchmarks.md), for three calls the authorizer makes: the role
table's ``BatchGetItem`` and ``GetItem`` and the DPoP replay table's conditional ``PutItem``.
:class:`DynamoDBClient` makes exactly those calls, with the request and response shapes of
boto3's low-level client (``client.batch_get_item(RequestItems=...)`` returns the same dict), so
the role store and the replay store take either client; the CLI and the other functions keep
boto3.

What a caller may rely on:

* **Protocol.** DynamoDB's JSON 1.0 API: ``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Op>``
  and ``Content-Type: application/x-amz-json-1.0``; binary attribute values (``B``, ``BS``) are
  ``bytes`` both ways, as boto3 gives them. Answers carry ``ResponseMetadata`` (``RequestId``,
  ``HTTPStatusCode``, ``HTTPHeaders``, ``RetryAttempts``) as boto3's do.
* **Signing.** Signature Version 4 by the AWS Common Runtime's signer (``awscrt.auth``), tested to
  produce botocore's signature for the same request, credentials and time.
* **Credentials** (:func:`credentials_from_environment`): ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` as Lambda sets them; where they are absent
  (SnapStart, docs/benchmarks.md "Cold start: no boto3 on the request path"), the container credentials endpoint Lambda sets instead
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with ``AWS_CONTAINER_AUTHORIZATION_TOKEN``), refreshed
  before they expire. This is botocore's order of the two sources.
* **Endpoint**: ``https://dynamodb.<region>.<the partition's DNS suffix>`` as botocore resolves it,
  or the override (``EDGEAUTH_ENDPOINT_URL``, the local stack's moto server).
* **Connection**: one persistent HTTPS connection (:mod:`edgeauth.adapters.crt_http`, awscrt's
  HTTP client: the signer loads it anyway), reused across invocations; one that the server closed
  while the container was frozen is seen closed before it is used and replaced (or, if the close
  arrives with the request, the request fails and is retried, as with botocore). Connecting (TCP
  and TLS) and each answer are bounded by the ``timeout`` given (``EDGEAUTH_DYNAMODB_TIMEOUT``).
* **Retries** as botocore's standard mode: at most 3 attempts, for throttling error codes,
  transient ones, HTTP 5xx, 429 and connection failures, and a bad ``x-amz-crc32``; delays of
  ``random() × min(scale × 2^(attempt−1), 20 s)`` (scale 1 s after throttling, 25 ms otherwise)
  raised to an ``x-amz-retry-after`` (capped 5 s above); a retry quota of 500 (a retry costs 5
  after throttling, 14 otherwise; a success gives back 1, or what its own retry cost). A retry
  starts only if the invocation still has time for it (``time_left``).
* **Failures** raise :class:`DynamoDBError`: :class:`ServiceError` when DynamoDB answered an
  error (``code`` is the short code, ``ProvisionedThroughputExceededException``; ``response`` is
  shaped as botocore's ``ClientError.response``, with ``Item`` on a failed condition), or
  :class:`TransportError` when there is no usable answer (timeout, connection failure, unreadable
  body, no credentials). Nothing in a message is a credential or a signature.

Thread-safe: each call takes an idle connection or opens one (the local gateway calls from
several threads; a Lambda container, one at a time, keeps exactly one).
"""

from __future__ import annotations

import binascii
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from edgeauth.adapters import crt_http
from edgeauth.core.settings import is_loopback_host

if TYPE_CHECKING:
    import datetime
    from typing import TypeAlias

    from awscrt.auth import AwsCredentialsProvider
    from mypy_boto3_dynamodb import DynamoDBClient as Boto3DynamoDBClient

    #: What the role store and the replay store take: this module's client or boto3's.
    TableClient: TypeAlias = "DynamoDBClient | Boto3DynamoDBClient"

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
SERVICE = "dynamodb"

#: Attempts per call in all, as the authorizer's timeout budget and docs/configuration.md promise.
MAX_ATTEMPTS = 3
#: Seconds kept back when deciding whether a retry still fits in the invocation: the answer and
#: its audit line must be written before Lambda's timeout, or the request has no audit line.
RESERVE_SECONDS = 0.2
#: At most this many idle connections are kept (one per concurrent caller; Lambda has one).
MAX_IDLE_CONNECTIONS = 8

# botocore/retries/standard.py (1.44): what standard mode retries, and how long it waits.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
#: Errors DynamoDB's model marks retryable (not throttling) for the operations used here.
MODELED_RETRYABLE = {"PutItem": frozenset({"ReplicatedWriteConflictException"})}
#: The operations' modeled errors: a 429 is treated as throttling only when its code is none of
#: these (then the model decides, as in botocore's ThrottlingStatusCodeChecker).
_READ_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ResourceNotFoundException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ThrottlingException",
    }
)
MODELED_ERRORS = {
    "BatchGetItem": _READ_ERRORS,
    "GetItem": _READ_ERRORS,
    "PutItem": _READ_ERRORS
    | {
        "ConditionalCheckFailedException",
        "ItemCollectionSizeLimitExceededException",
        "TransactionConflictException",
        "ReplicatedWriteConflictException",
    },
}
THROTTLING_BACKOFF_SCALE = 1.0
BACKOFF_SCALE = 0.025  # DynamoDB's non-throttling scale in botocore
MAX_BACKOFF = 20.0
RETRY_AFTER_MAX_ADDITIONAL = 5.0
QUOTA_CAPACITY = 500
RETRY_COST = 14
THROTTLING_RETRY_COST = 5
NO_RETRY_INCREMENT = 1

# botocore/data/partitions.json: each partition's region names and DNS suffix; others are "aws".
# (Patterns, not compiled ones: compiled on the first endpoint resolution, not at import.)
_PARTITIONS = (
    (r"^cn\-\w+\-\d+$", "amazonaws.com.cn"),
    (r"^eusc\-(de)\-\w+\-\d+$", "amazonaws.eu"),
    (r"^us\-iso\-\w+\-\d+$", "c2s.ic.gov"),
    (r"^us\-isob\-\w+\-\d+$", "sc2s.sgov.gov"),
    (r"^eu\-isoe\-\w+\-\d+$", "cloud.adc-e.uk"),
    (r"^us\-isof\-\w+\-\d+$", "csp.hci.ic.gov"),
)
_DEFAULT_DNS_SUFFIX = "amazonaws.com"
_REGION = r"^[a-z0-9-]{1,63}$"

# --- errors -------------------------------------------------------------------------------------


class DynamoDBError(Exception):
    """A call failed. ``code`` says how (a DynamoDB error code, or what failed underneath);
    ``response`` is shaped like botocore's ``ClientError.response``."""

    def __init__(self, code: str, message: str = "", response: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.response: dict[str, Any] = (
            response if response is not None else {"Error": {"Code": code, "Message": message}}
        )


class ServiceError(DynamoDBError):
    """DynamoDB answered with an error (botocore's ``ClientError``). ``status`` is the HTTP status."""

    def __init__(self, code: str, message: str, status: int, response: dict[str, Any]) -> None:
        super().__init__(code, message, response)
        self.status = status


class TransportError(DynamoDBError):
    """No usable answer: a timeout, a connection failure, a body that is not what was sent, or no
    credentials (botocore's ``BotoCoreError`` family). ``retryable``: whether another attempt may
    succeed (a timeout may; missing credentials will not)."""

    retryable = True


class CredentialsError(TransportError):
    """No credentials could be found or fetched (not retried within the call; the next call tries
    again)."""

    retryable = False


def client_failures() -> tuple[type[BaseException], ...]:
    """The exceptions a call of either DynamoDB client raises when DynamoDB did not answer as asked:
    :class:`DynamoDBError`, and botocore's ``ClientError`` and ``BotoCoreError`` once botocore is
    loaded (an injected boto3 client loaded it: the authorizer's request path never does). For
    an ``except`` clause, whose expression is evaluated only when something was raised."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return (DynamoDBError,)
    return (DynamoDBError, exceptions.ClientError, exceptions.BotoCoreError)


def failure_code(error: BaseException) -> str:
    """The short code of a :func:`client_failures` error: DynamoDB's error code
    (``ThrottlingException``) when the service answered, else what failed (``ReadTimeoutError``)."""
    if isinstance(error, DynamoDBError):
        return error.code
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if isinstance(code, str) and code:
            return code
        return "ClientError"
    return type(error).__name__


# --- credentials ----------------------------------------------------------------------------------


class Credentials(NamedTuple):
    """What requests are signed with. ``expires_at``: epoch seconds, ``None`` for never. Its
    ``repr`` shows the key id only."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expires_at: float | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, expires_at={self.expires_at!r})"


class CredentialSource(Protocol):
    """Where a client gets the credentials it signs with."""

    def get(self) -> Credentials:
        """Current credentials (cached by the source). Raises :class:`CredentialsError`."""
        ...

    def reset(self) -> None:
        """Forget cached credentials (after a SnapStart restore)."""
        ...


class StaticCredentials:
    """Fixed credentials (tests, tools)."""

    __slots__ = ("credentials",)

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def get(self) -> Credentials:
        return self.credentials

    def reset(self) -> None:
        pass


# botocore's refresh windows for expiring credentials: within the advisory one a failed refresh
# keeps the current credentials; within the mandatory one it is an error.
ADVISORY_REFRESH_SECONDS = 15 * 60
MANDATORY_REFRESH_SECONDS = 10 * 60
CONTAINER_CREDENTIALS_TIMEOUT = 2.0
# botocore's ContainerMetadataFetcher: plain http only to these hosts (and loopback).
_CONTAINER_HOSTS = frozenset({"169.254.170.2", "169.254.170.23", "fd00:ec2::23"})


class EnvironmentCredentials:
    """Credentials from the process environment as Lambda sets it, read on first use and again
    after :meth:`reset` (a SnapStart restore).

    Static keys (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, optional ``AWS_SESSION_TOKEN``)
    when both keys are set; otherwise the container credentials endpoint
    (``AWS_CONTAINER_CREDENTIALS_FULL_URI``, with the token in ``AWS_CONTAINER_AUTHORIZATION_TOKEN``
    or the file ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``), fetched when needed and refreshed
    before expiry. Raises :class:`CredentialsError` when neither is there or the fetch fails.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = CONTAINER_CREDENTIALS_TIMEOUT,
    ) -> None:
        self._env = env
        self._clock = clock
        self._timeout = timeout
        self._current: Credentials | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the credentials: the next :meth:`get` reads the environment again."""
        with self._lock:
            self._current = None

    def get(self) -> Credentials:
        current = self._current
        if current is not None and (
            current.expires_at is None or current.expires_at - self._clock() > ADVISORY_REFRESH_SECONDS
        ):
            return current
        with self._lock:
            current = self._current
            if current is not None and current.expires_at is None:
                return current
            try:
                fresh = self._read()
            except CredentialsError:
                if (
                    current is not None
                    and current.expires_at is not None
                    and current.expires_at - self._clock() > MANDATORY_REFRESH_SECONDS
                ):
                    return current  # within the advisory window: keep using them
                raise
            self._current = fresh
            return fresh

    def _read(self) -> Credentials:
        env = self._env
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)
        if key or secret:
            missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
            raise CredentialsError("PartialCredentials", f"{missing} is not set")
        uri = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        if uri:
            return fetch_container_credentials(uri, _container_token(env), self._timeout)
        raise CredentialsError(
            "NoCredentials",
            "neither AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
        )


def credentials_from_environment(env: Mapping[str, str]) -> EnvironmentCredentials:
    """The credentials source of a Lambda function (see :class:`EnvironmentCredentials`)."""
    return EnvironmentCredentials(env)


def _container_token(env: Mapping[str, str]) -> str | None:
    path = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise CredentialsError(
                "CredentialRetrievalError",
                f"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE unreadable ({type(e).__name__})",
            ) from None
    else:
        token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or ""
    if any(c in token for c in "\r\n"):
        raise CredentialsError(
            "CredentialRetrievalError", "the container authorization token has a line break"
        )
    return token or None


def fetch_container_credentials(uri: str, token: str | None, timeout: float) -> Credentials:
    """GET the container credentials endpoint (``https``, or plain http to a loopback or the
    container agents' link-local addresses, as botocore allows). Raises :class:`CredentialsError`."""
    parts = urlsplit(uri)
    host = parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = -1
    plain = parts.scheme == "http" and (is_loopback_host(host) or host in _CONTAINER_HOSTS)
    if not host or port == -1 or not (parts.scheme == "https" or plain):
        raise CredentialsError(
            "CredentialRetrievalError", "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an allowed URL"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 80 if plain else 443
    netloc = f"[{host}]" if ":" in host else host
    headers = [
        ("Host", netloc if port in (None, default_port) else f"{netloc}:{port}"),
        ("Accept", "application/json"),
        ("User-Agent", "edgeauth"),
    ]
    if token:
        headers.append(("Authorization", token))
    try:
        conn = crt_http.Connection.open(host, port or default_port, https=not plain, timeout=timeout)
        try:
            answer = conn.exchange(
                crt_http.new_request("GET", path, headers), timeout=timeout, max_body=65536
            )
        finally:
            conn.close()
    except crt_http.HttpError as e:
        raise CredentialsError("CredentialRetrievalError", f"container credentials: {e.code}") from None
    status, body = answer.status, answer.body
    if status != 200:
        raise CredentialsError("CredentialRetrievalError", f"container credentials: HTTP {status}")
    import datetime

    try:
        doc = json.loads(body)
        expiration = doc.get("Expiration")
        expires_at = (
            None
            if expiration is None
            else datetime.datetime.fromisoformat(str(expiration).replace("Z", "+00:00")).timestamp()
        )
        credentials = Credentials(
            str(doc["AccessKeyId"]), str(doc["SecretAccessKey"]), doc.get("Token") or None, expires_at
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CredentialsError(
            "CredentialRetrievalError", "container credentials: unreadable answer"
        ) from None
    if not credentials.access_key_id or not credentials.secret_access_key:
        raise CredentialsError("CredentialRetrievalError", "container credentials: empty keys")
    return credentials


# --- endpoint and signing -------------------------------------------------------------------------


def regional_endpoint(region: str) -> str:
    """DynamoDB's endpoint in ``region``, as botocore's endpoint rules resolve it (no FIPS, no
    dual-stack): ``https://dynamodb.<region>.<DNS suffix of the region's partition>``."""
    if not re.match(_REGION, region):
        raise ValueError(f"not a region name: {region!r}")
    suffix = next((s for pattern, s in _PARTITIONS if re.match(pattern, region)), _DEFAULT_DNS_SUFFIX)
    return f"https://dynamodb.{region}.{suffix}"


class SigV4Signer:
    """Signature Version 4 for one service and region, by awscrt's signer (``aws_sign_request``).

    ``awscrt.auth`` is imported here, when the first client is built, not when this module is
    (the CLI's role store imports the module for its errors only). It loads ``awscrt.http`` for
    the request it signs (``HttpRequest``): the signer's own module requires it.
    """

    def __init__(self, region: str, service: str = SERVICE) -> None:
        from awscrt import auth as crt_auth

        self._auth = crt_auth
        self.region = region
        self.service = service
        self._provider: tuple[Credentials, AwsCredentialsProvider] | None = None

    def _provider_for(self, credentials: Credentials) -> AwsCredentialsProvider:
        cached = self._provider
        if cached is not None and cached[0] is credentials:
            return cached[1]
        provider = self._auth.AwsCredentialsProvider.new_static(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        )
        self._provider = (credentials, provider)
        return provider

    def sign(
        self, credentials: Credentials, request: Any, body: bytes = b"", when: datetime.datetime | None = None
    ) -> None:
        """Sign ``request`` (an ``awscrt.http.HttpRequest`` from :func:`crt_http.new_request`, with
        its ``Host`` header) whose body is ``body``, in place: every header it has is signed, and
        ``X-Amz-Date``, ``X-Amz-Security-Token`` (with a session token) and ``Authorization`` are
        added. The request leaves ready to send, its body set. ``when`` defaults to now."""
        import io

        crt = self._auth
        config = crt.AwsSigningConfig(
            algorithm=crt.AwsSigningAlgorithm.V4,
            signature_type=crt.AwsSignatureType.HTTP_REQUEST_HEADERS,
            credentials_provider=self._provider_for(credentials),
            region=self.region,
            service=self.service,
            date=when,
        )
        request.body_stream = io.BytesIO(body)  # read by the signer for the payload hash
        try:
            crt.aws_sign_request(request, config).result(timeout=5.0)
        except Exception as e:  # awscrt raises its own AwsCrtError; nothing secret in its name
            error = TransportError("SigningError", type(e).__name__)
            error.retryable = False
            raise error from None
        request.body_stream = io.BytesIO(body)  # afresh, for sending


# --- the client -----------------------------------------------------------------------------------


def _encode_blob(value: object) -> str:
    """``json.dumps`` hook: binary attribute values go out base64-encoded, as boto3 sends them."""
    if isinstance(value, bytes | bytearray):
        return binascii.b2a_base64(value, newline=False).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_value(value: Any) -> Any:
    """One attribute value with its ``B``/``BS`` members (at any depth) as ``bytes``."""
    if not isinstance(value, dict):
        return value
    if "B" in value:
        return {**value, "B": binascii.a2b_base64(value["B"])}
    if "BS" in value:
        return {**value, "BS": [binascii.a2b_base64(v) for v in value["BS"]]}
    if "M" in value:
        return {**value, "M": {k: _decode_value(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {**value, "L": [_decode_value(v) for v in value["L"]]}
    return value


def _decode_map(item: Any) -> Any:
    return {k: _decode_value(v) for k, v in item.items()} if isinstance(item, dict) else item


def _decode_blobs(parsed: dict[str, Any]) -> None:
    """Binary values to ``bytes`` wherever these operations return attribute maps (items, keys,
    ``Attributes``, ``ItemCollectionKey``), as botocore's parser does from the model."""
    for name in ("Item", "Attributes"):
        if name in parsed:
            parsed[name] = _decode_map(parsed[name])
    for table, items in (parsed.get("Responses") or {}).items():
        parsed["Responses"][table] = [_decode_map(i) for i in items]
    for request in (parsed.get("UnprocessedKeys") or {}).values():
        if isinstance(request, dict) and "Keys" in request:
            request["Keys"] = [_decode_map(k) for k in request["Keys"]]
    metrics = parsed.get("ItemCollectionMetrics")
    if isinstance(metrics, dict) and "ItemCollectionKey" in metrics:
        metrics["ItemCollectionKey"] = _decode_map(metrics["ItemCollectionKey"])


class _RetryQuota:
    """botocore's retry quota (``botocore/retries/quota.py``): retries stop while it is spent."""

    def __init__(self, capacity: int = QUOTA_CAPACITY) -> None:
        self.capacity = capacity
        self.available = capacity
        self._lock = threading.Lock()

    def acquire(self, amount: int) -> bool:
        with self._lock:
            if amount > self.available:
                return False
            self.available -= amount
            return True

    def release(self, amount: int) -> None:
        if self.available == self.capacity:
            return
        with self._lock:
            self.available = min(self.capacity, self.available + amount)


class DynamoDBClient:
    """``batch_get_item``, ``get_item`` and ``put_item`` as boto3's low-level DynamoDB client has
    them (keyword arguments in, the parsed answer out), over one persistent connection; see the
    module's docstring for what holds.

    ``credentials`` is asked before each request is signed (:class:`EnvironmentCredentials`
    caches). ``time_left``, when given, returns the seconds left in the invocation (``None`` when
    unknown): a retry starts only if its delay and a whole attempt fit, with
    :data:`RESERVE_SECONDS` to spare.
    """

    def __init__(
        self,
        region: str,
        *,
        credentials: CredentialSource,
        endpoint_url: str | None = None,
        timeout: float = 0.5,
        max_attempts: int = MAX_ATTEMPTS,
        time_left: Callable[[], float | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        url = endpoint_url or regional_endpoint(region)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {url!r}")
        self.endpoint_url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        default_port = 443 if self._https else 80
        self._port = parts.port or default_port
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = host if self._port == default_port else f"{host}:{self._port}"
        self._path = parts.path or "/"
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._credentials = credentials
        self._time_left = time_left
        self._sleep = sleep
        self._jitter = jitter
        self._signer = SigV4Signer(region)
        self._quota = _RetryQuota()
        self._idle: list[crt_http.Connection] = []
        self._lock = threading.Lock()

    # The calls RoleStore and DynamoReplayStore make, named and shaped as boto3's.

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        return self._call("BatchGetItem", params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self._call("GetItem", params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self._call("PutItem", params)

    def close(self) -> None:
        """Close the idle connections (the next call opens a new one)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def reset(self) -> None:
        """Start afresh after a SnapStart restore: the connections and the credentials held in
        the snapshot are not this environment's (closed, forgotten; both are made again on the
        next call), and the retry quota is full again."""
        self.close()
        self._credentials.reset()
        self._quota = _RetryQuota()

    # -- one call -----------------------------------------------------------------------------------

    def _call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":"), default=_encode_blob).encode()
        target = TARGET_PREFIX + operation
        attempt = 0
        retry_cost = 0  # what the last retry took from the quota (given back on success)
        while True:
            attempt += 1
            answer: crt_http.Response | None = None
            try:
                answer = self._exchange(target, body)
                if 200 <= answer.status < 300 and _crc32_matches(answer):
                    parsed = _parse_success(answer)
                    parsed["ResponseMetadata"] = _metadata(answer, attempt)
                    self._quota.release(retry_cost or NO_RETRY_INCREMENT)
                    return parsed
                error: DynamoDBError = (
                    TransportError("CRC32CheckFailed", "the answer's x-amz-crc32 does not match its body")
                    if 200 <= answer.status < 300
                    else _service_error(operation, answer, attempt)
                )
            except TransportError as e:
                if not e.retryable:
                    raise
                error = e
            retry = self._retry(operation, error, answer, attempt)
            if retry is None:
                raise error
            delay, retry_cost = retry
            self._sleep(delay)

    def _retry(
        self, operation: str, error: DynamoDBError, answer: crt_http.Response | None, attempt: int
    ) -> tuple[float, int] | None:
        """``(seconds to wait, quota taken)`` before the next attempt, or ``None``: no retry
        (botocore's standard mode)."""
        if attempt >= self.max_attempts:
            return None
        code = error.code
        status = answer.status if answer is not None and isinstance(error, ServiceError) else None
        throttling = code in THROTTLING_CODES or (
            status == 429 and code not in MODELED_ERRORS.get(operation, frozenset())
        )
        retryable = (
            throttling
            or isinstance(error, TransportError)
            or code in TRANSIENT_CODES
            or status in TRANSIENT_STATUSES
            or code in MODELED_RETRYABLE.get(operation, frozenset())
        )
        if not retryable:
            return None
        scale = THROTTLING_BACKOFF_SCALE if throttling else BACKOFF_SCALE
        if self._jitter is None:
            import random  # on the first retry only: nothing of it is needed to answer

            self._jitter = random.random
        delay = self._jitter() * min(scale * 2.0 ** (attempt - 1), MAX_BACKOFF)
        retry_after = _retry_after(answer)
        if retry_after is not None:
            delay = max(delay, min(retry_after, RETRY_AFTER_MAX_ADDITIONAL + delay))
        if self._time_left is not None:
            left = self._time_left()
            if left is not None and left < delay + self.timeout + RESERVE_SECONDS:
                return None
        cost = THROTTLING_RETRY_COST if throttling else RETRY_COST
        if not self._quota.acquire(cost):
            return None
        return delay, cost

    def _exchange(self, target: str, body: bytes) -> crt_http.Response:
        request = crt_http.new_request(
            "POST",
            self._path,
            [
                ("Host", self._host_header),
                ("Content-Type", CONTENT_TYPE),
                ("Content-Length", str(len(body))),  # awscrt sends a body only with its length
                ("X-Amz-Target", target),
            ],
        )
        self._signer.sign(self._credentials.get(), request, body)
        conn = self._connection()
        try:
            answer = conn.exchange(request, timeout=self.timeout)
        except crt_http.HttpError as e:
            # Timeouts, a connection reset or closed mid-answer: the connection is closed already.
            raise TransportError(e.code, "no answer from DynamoDB") from None
        if conn.is_open():
            self._release(conn)
        return answer

    # -- connections --------------------------------------------------------------------------------

    def _connection(self) -> crt_http.Connection:
        """An idle connection that is still open, or a new one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if conn.is_open():
                return conn
            conn.close()  # closed by the server while idle (a frozen container, a keep-alive limit)
        try:
            return crt_http.Connection.open(self._host, self._port, https=self._https, timeout=self.timeout)
        except crt_http.HttpError as e:
            raise TransportError(e.code, "cannot connect to DynamoDB") from None

    def _release(self, conn: crt_http.Connection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()


def _crc32_matches(answer: crt_http.Response) -> bool:
    expected = answer.headers.get("x-amz-crc32")
    if expected is None:
        return True
    try:
        return (binascii.crc32(answer.body) & 0xFFFFFFFF) == int(expected)
    except ValueError:
        return False


def _retry_after(answer: crt_http.Response | None) -> float | None:
    if answer is None:
        return None
    value = answer.headers.get("x-amz-retry-after")
    if value is None:
        return None
    try:
        seconds = int(value) / 1000.0
    except (ValueError, OverflowError):
        return None
    return seconds if seconds >= 0 else None


def _parse_success(answer: crt_http.Response) -> dict[str, Any]:
    try:
        parsed = json.loads(answer.body) if answer.body else {}
    except ValueError:
        raise TransportError("ResponseParserError", "the answer is not JSON") from None
    if not isinstance(parsed, dict):
        raise TransportError("ResponseParserError", "the answer is not a JSON object")
    if b'"B' in answer.body:  # a binary value somewhere (or a name starting with B: harmless)
        _decode_blobs(parsed)
    return parsed


def _metadata(answer: crt_http.Response, attempt: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    request_id = answer.headers.get("x-amzn-requestid")
    if request_id is not None:
        metadata["RequestId"] = request_id
    metadata.update(HTTPStatusCode=answer.status, HTTPHeaders=answer.headers, RetryAttempts=attempt - 1)
    return metadata


def _service_error(operation: str, answer: crt_http.Response, attempt: int) -> ServiceError:
    """The error DynamoDB answered, parsed as botocore's JSON protocol parser does: the code is
    ``__type`` after its last ``#`` (the HTTP status when there is none), the message is
    ``message`` or ``Message``; for an error the operation's model names, the document's members
    (``message``, the ``Item`` of a failed condition) are also kept at the top of ``response``."""
    try:
        body = json.loads(answer.body) if answer.body else {}
    except ValueError:
        body = {"message": answer.body.decode("utf-8", "replace")}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("__type", answer.status))
    if ":" in code:
        code = code.split(":", 1)[0]
    if "#" in code:
        code = code.rsplit("#", 1)[1]
    message = body.get("message", body.get("Message", ""))
    message = message if isinstance(message, str) else ""
    response: dict[str, Any] = {}
    if code in MODELED_ERRORS.get(operation, ()):
        response.update((k, v) for k, v in body.items() if k != "__type")
        _decode_blobs(response)
    response["Error"] = {"Message": message, "Code": code}
    response["ResponseMetadata"] = _metadata(answer, attempt)
    return ServiceError(code, message, answer.status, response)


def client_factory(
    env: Mapping[str, str],
    region: str | None,
    endpoint_url: str | None,
    timeout: float,
    time_left: Callable[[], float | None] | None = None,
) -> Callable[[], DynamoDBClient]:
    """Build the authorizer's client lazily (first use): credentials from ``env`` (read when the
    first request is signed), ``region`` (``AWS_REGION``), the endpoint override, the timeout.
    A missing region raises :class:`TransportError` at the first call (a 500, as before)."""

    def build() -> DynamoDBClient:
        if not region:
            raise TransportError("NoRegionError", "AWS_REGION is not set")
        try:
            client = DynamoDBClient(
                region,
                credentials=credentials_from_environment(env),
                endpoint_url=endpoint_url,
                timeout=timeout,
                time_left=time_left,
            )
        except ValueError as e:
            raise TransportError("InvalidRegionError", str(e)) from None
        return client

    return build
