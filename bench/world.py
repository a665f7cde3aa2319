"""What every scenario shares: keys, tokens, the moto-backed role table and our authorizer.

The role table lives in moto in-process (``mock_aws``); the baseline's GetItem and the in-process
authorizers' role store read the same table through the same client. The handler as Lambda runs it
builds its own DynamoDB client, which speaks HTTP that ``mock_aws`` cannot intercept: it reads the
same seeded table from a moto server (:func:`role_table_server`). JWKS documents are served from memory to the
in-process authorizers (no network in any timed loop); the cold-start scenario serves the same
document from a loopback HTTP server.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

from edgeauth import constants as C
from edgeauth.adapters.stdout import line_writer
from edgeauth.authorizer import Authorizer
from edgeauth.bootstrap import build_authorizer
from tests.support.dynamo import create_role_table
from tests.support.events import authorizer_event
from tests.support.tokens import AUDIENCE, ISSUER, SigningKey, jwks, make_key, sign

JWKS_URL = "https://idp.example.com/.well-known/jwks.json"
ROLE_TABLE = "edgeauth-roles-bench"
REGION = "us-east-1"
SUBJECT = "bench-user"
CLIENT_ID = "bench-client"
USAGE_KEY = "bench-usage-key-0123456789abcdef"
METHOD = "GET"
RESOURCE = "/accounts/{id}"
PATH = "/accounts/42"

#: The subject's roles: ``teller`` (direct) inherits ``reader``, which allows the benchmarked route.
ROLES: dict[str, dict[str, Any]] = {
    "reader": {"allow": ["GET /accounts", "GET /accounts/{id}", "GET /accounts/{id}/transactions"]},
    "teller": {
        "allow": ["POST /accounts/{id}/transfers"],
        "deny": ["DELETE /accounts/{id}"],
        "inherit": ["reader"],
    },
}


def aws_test_credentials() -> None:
    """Dummy credentials and region for moto (never real ones)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


def put_items(client: Any, items: list[dict[str, Any]], table: str = ROLE_TABLE) -> None:
    """Write plain-Python items (BatchWriteItem, 25 at a time)."""
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        requests = [{"PutRequest": {"Item": {k: ser.serialize(v) for k, v in it.items()}}} for it in chunk]
        client.batch_write_item(RequestItems={table: requests})


def role_item(name: str, **attrs: Any) -> dict[str, Any]:
    return {C.TABLE_PARTITION_KEY: C.ROLE_PK_PREFIX + name, C.TABLE_SORT_KEY: C.ROLE_SK, **attrs}


def seed_table(client: Any, table: str = ROLE_TABLE) -> None:
    """The benchmark principal: subject item, client item, and its roles."""
    items = [role_item(n, **attrs) for n, attrs in ROLES.items()]
    items.append(
        {C.TABLE_PARTITION_KEY: C.SUBJECT_PK_PREFIX + ISSUER, C.TABLE_SORT_KEY: SUBJECT, "roles": ["teller"]}
    )
    items.append(
        {
            C.TABLE_PARTITION_KEY: C.CLIENT_PK_PREFIX + ISSUER,
            C.TABLE_SORT_KEY: CLIENT_ID,
            "usage_key": USAGE_KEY,
        }
    )
    put_items(client, items, table)


@contextmanager
def role_table_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 holding the seeded role table; yields its URL, the handler's
    ``EDGEAUTH_ENDPOINT_URL``. Start it outside ``mock_aws`` (which would take the seeding calls)."""
    import boto3

    from bench.cold_start import moto_server

    with moto_server() as endpoint:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        create_role_table(client, ROLE_TABLE)
        seed_table(client)
        yield endpoint


def issuer_config(jwks_uri: str = JWKS_URL) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "jwks_uri": jwks_uri,
        "algorithms": ["RS256", "ES256", "EdDSA"],
    }


def authorizer_env(jwks_uri: str = JWKS_URL, endpoint_url: str | None = None) -> dict[str, str]:
    env = {
        C.ENV_ISSUERS: json.dumps([issuer_config(jwks_uri)]),
        C.ENV_ROLE_TABLE: ROLE_TABLE,
        C.ENV_ROLE_CACHE_TTL: "60",
        C.ENV_DEFAULT_USAGE_KEY: "bench-default-key-0123456789",
        "AWS_REGION": REGION,
    }
    if endpoint_url:
        env[C.ENV_ENDPOINT_URL] = endpoint_url
    return env


def token_claims(jti: str, now: int | None = None) -> dict[str, Any]:
    """A typical access token's claims (valid for an hour)."""
    t = int(time.time()) if now is None else now
    return {
        "iss": ISSUER,
        "sub": SUBJECT,
        "aud": AUDIENCE,
        "iat": t,
        "exp": t + 3600,
        "jti": jti,
        "client_id": CLIENT_ID,
        "scope": "accounts:read accounts:write",
    }


#: The headers a REST API passes through CloudFront-fronted edge endpoints (besides Authorization).
HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate, br",
    "CloudFront-Forwarded-Proto": "https",
    "CloudFront-Is-Desktop-Viewer": "true",
    "CloudFront-Is-Mobile-Viewer": "false",
    "CloudFront-Viewer-Country": "DE",
    "Host": "abc123.execute-api.us-east-1.amazonaws.com",
    "User-Agent": "python-requests/2.32.3",
    "Via": "2.0 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Id": "Xj3bUmN9nqyTQXo5b2aO3eC7wYvG0dZfAq6sLhKpR1tE8uVcW4iJ2g==",
    "X-Amzn-Trace-Id": "Root=1-65f0c0de-0123456789abcdef01234567",
    "X-Forwarded-For": "203.0.113.7, 198.51.100.10",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def event_for(token: str, request_id: str = "req-1") -> dict[str, Any]:
    """A REQUEST-authorizer event as API Gateway sends it, with a realistic set of headers."""
    event = authorizer_event(
        method=METHOD, resource=RESOURCE, path=PATH, authorization=f"Bearer {token}", headers=HEADERS
    )
    event["requestContext"]["requestId"] = request_id
    return event


class NullSink:
    """Lambda's stdout, pointed at ``/dev/null``: where every audit and log line of the loops goes.

    The Lambda Python runtime wraps ``sys.stdout`` in awslambdaric's ``Unbuffered`` (a ``flush``
    after every ``write``) before it imports the handler; this is the same wrapper over a real
    file. The baseline's Powertools Logger writes through it (:attr:`stream`), ours as the
    handler does (:func:`edgeauth.adapters.stdout.line_writer` of it, :attr:`write`).
    """

    def __init__(self) -> None:
        from awslambdaric.bootstrap import Unbuffered

        self._f = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.stream: TextIO = Unbuffered(self._f)
        self.write = line_writer(self.stream)

    def close(self) -> None:
        self._f.close()


@dataclass
class World:
    """Everything built once per run."""

    rs: SigningKey
    es: SigningKey
    ed: SigningKey
    jwks_body: bytes
    client: Any
    new_tokens: list[str]
    repeat_token: str
    es_tokens: list[str]
    ed_tokens: list[str]
    sink: NullSink
    fetch_calls: list[str] = field(default_factory=list)

    def fetch(self, url: str, timeout: float, max_bytes: int) -> bytes:
        """The JWKS endpoint, in memory (no network in a timed loop)."""
        self.fetch_calls.append(url)
        return self.jwks_body

    def authorizer(self) -> Authorizer:
        """Our authorizer, wired like the handler but with the in-memory JWKS and moto client."""
        return build_authorizer(
            authorizer_env(),
            emit=self.sink.write,
            fetch=self.fetch,
            dynamodb_client=self.client,
            on_jwks_fetch=None,
            log=None,
        )

    def event_source(self, tokens: Iterable[str]) -> Callable[[], dict[str, Any]]:
        """Each call parses the next event from its JSON text, as the Lambda runtime does just
        before calling the handler (see :class:`bench.common.Fresh`)."""
        texts = (json.dumps(event_for(t, f"req-{i}")) for i, t in enumerate(tokens))
        return lambda: cast(dict[str, Any], json.loads(next(texts)))

    def token_source(self, tokens: Iterable[str]) -> Callable[[], str]:
        """Each call parses the next token from its JSON text (a fresh string, like an event's)."""
        texts = (json.dumps(t) for t in tokens)
        return lambda: cast(str, json.loads(next(texts)))


def build_world(client: Any, new_tokens: int) -> World:
    """Keys, tokens (signing is slow: done here, outside any timed region) and the seeded table."""
    create_role_table(client, ROLE_TABLE)
    seed_table(client)
    rs, es, ed = make_key("RS256", "rs-1"), make_key("ES256", "es-1"), make_key("EdDSA", "ed-1")
    now = int(time.time())
    tokens = [sign(rs, token_claims(f"jti-{i}", now)) for i in range(new_tokens)]
    return World(
        rs=rs,
        es=es,
        ed=ed,
        jwks_body=jwks(rs, es, ed),
        client=client,
        new_tokens=tokens,
        repeat_token=sign(rs, token_claims("jti-repeat", now)),
        es_tokens=[sign(es, token_claims(f"es-{i}", now)) for i in range(50)],
        ed_tokens=[sign(ed, token_claims(f"ed-{i}", now)) for i in range(50)],
        sink=NullSink(),
    )
