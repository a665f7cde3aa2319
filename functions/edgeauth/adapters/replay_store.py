"""The DPoP replay table on DynamoDB: one conditional PutItem per proof, shared by every container.

RFC 9449 §11.1: a proof's ``jti`` must not be accepted twice within the window its ``iat`` allows.
A container's memory is not enough (API Gateway spreads requests over many containers), so each
accepted proof is recorded with one conditional write::

    PutItem  pk = <replay key>, expires_at = <epoch s>, owner = <random>
             condition: attribute_not_exists(pk) OR expires_at < :now

* the write succeeds → the id was never seen (or its record has expired): first use;
* ``ConditionalCheckFailedException`` → an unexpired record exists: a replay. DynamoDB's TTL sweep
  deletes expired items only eventually (typically within days), hence the ``expires_at < :now``
  half of the condition: an expired record that is still there does not count;
* any other error (throttling, timeout, access denied, missing table) → :class:`ReplayStoreError`,
  a :class:`~edgeauth.core.errors.DependencyError`: the authorizer answers 500 (fails closed,
  nothing cached), never 401 and never Allow.

A retried write: the client retries a PutItem whose answer was lost (a timeout). If the first attempt
had been applied, the retry fails its condition and the request would be refused as its own replay.
Each write therefore carries a random ``owner`` and asks for the existing item on a failed
condition (``ReturnValuesOnConditionCheckFailure = ALL_OLD``, no extra permission): an item with
our own ``owner`` is our earlier attempt, so the proof is still a first use.

The item holds a hash (the proof's :meth:`~edgeauth.core.dpop.DpopProof.replay_key`), an expiry
and the random owner: no token, no proof, nothing personal.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from edgeauth import constants as C
from edgeauth.adapters.dynamodb import client_failures, failure_code
from edgeauth.core.errors import ReplayStoreError

if TYPE_CHECKING:
    from edgeauth.adapters.dynamodb import TableClient

_CONDITION = "attribute_not_exists(#pk) OR #exp < :now"


class DynamoReplayStore:
    """:class:`edgeauth.core.dpop.ReplayStore` on a DynamoDB table keyed by ``pk`` (string).

    ``client`` or ``client_factory`` (called once, on first use): the authorizer passes the role
    store's client, so a container builds one DynamoDB client with the same short timeouts and
    bounded retries (``EDGEAUTH_DYNAMODB_TIMEOUT``); boto3's client works too (tests).
    """

    def __init__(
        self,
        table_name: str,
        client: TableClient | None = None,
        *,
        client_factory: Callable[[], TableClient] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._client_factory = client_factory
        self._clock = clock

    @property
    def client(self) -> TableClient:
        if self._client is None:
            if self._client_factory is None:
                raise ReplayStoreError("no DynamoDB client configured for the DPoP replay table")
            self._client = self._client_factory()
        return self._client

    def first_use(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds); ``False`` if already recorded.

        Raises :class:`ReplayStoreError` when the table cannot tell.
        """
        owner = secrets.token_hex(8)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    C.DPOP_REPLAY_KEY: {"S": key},
                    C.DPOP_REPLAY_EXPIRES_AT: {"N": str(math.ceil(expires_at))},
                    C.DPOP_REPLAY_OWNER: {"S": owner},
                },
                ConditionExpression=_CONDITION,
                ExpressionAttributeNames={"#pk": C.DPOP_REPLAY_KEY, "#exp": C.DPOP_REPLAY_EXPIRES_AT},
                ExpressionAttributeValues={":now": {"N": str(math.floor(self._clock()))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except client_failures() as e:
            code = failure_code(e)
            if code == "ConditionalCheckFailedException":
                response: Mapping[str, Any] = getattr(e, "response", None) or {}
                existing = response.get("Item")
                return isinstance(existing, dict) and existing.get(C.DPOP_REPLAY_OWNER) == {"S": owner}
            raise ReplayStoreError(f"DPoP replay table write failed: {code}") from e
        return True
