"""The role-events Lambda, on the role table's DynamoDB stream (``NEW_AND_OLD_IMAGES``).

For each batch of stream records, in this order:

1. **The change log** (:mod:`edgeauth.core.changes`): one write that adds a generation listing
   every key the batch changed (:class:`~edgeauth.adapters.change_log.ChangeLogWriter`). Every
   warm authorizer container reads it at most ``EDGEAUTH_REVOCATION_CHECK_SECONDS`` later and drops
   what changed, so no container answers from the old roles longer than that.
2. **A first flush** of the stage's authorizer cache, so answers API Gateway cached before the edit
   stop being replayed (skipped when this container flushed less than
   :data:`FLUSH_DEBOUNCE_SECONDS` ago: under a steady stream of edits the previous batch's second
   flush has just done it).
3. **The audit**: one ``role_change`` event per record (who, when, old and new, as a diff:
   :func:`edgeauth.audit.schema.role_change_event`) to the audit log group, through
   :class:`edgeauth.audit.writer.AuditLogWriter` with one log stream per stream record, so a
   redelivered record never duplicates its event.
4. **A second flush**, ``min(role-cache TTL, check interval)`` + :data:`SECOND_FLUSH_MARGIN` after
   the change log was written (the audit writes take part of that wait): a container that had not
   looked yet may have answered from the old roles in between, and API Gateway may have cached
   that answer for its whole TTL. After this flush, every answer is built from the new state.

So an invocation holds its shard for its audit writes or about three seconds (the default check
interval of 2 s + 1 s), whichever is longer, plus the flushes: never the role-cache TTL. Per batch,
never per record: one change log write and at most two flushes. A batch with only the change log's
own records (the stream carries them too) does nothing.

Thin: Powertools' ``BatchProcessor`` runs :meth:`RoleEvents.record_handler` per record and returns
``batchItemFailures`` for the records whose audit write failed (the event source mapping must have
``ReportBatchItemFailures``; it should also bound retries and bisect, as the CDK app sets it).

Decisions worth knowing:

* The images in the record are the truth: the table is never read back, so a record for an item
  that has since been changed or deleted is audited as it happened. ``REMOVE`` records have no new
  image; a ``KEYS_ONLY`` stream has no images at all (the event then carries keys only, and a
  warning is logged: the stream should be ``NEW_AND_OLD_IMAGES``).
* Who: ``updated_by`` of the new image when the write bumped ``version`` (the CLI always does).
  A new image without ``updated_by``, or with the same ``version`` as the old one (someone edited the
  item in the console and left the stamps alone), is ``unknown (console edit)``. A deletion carries
  no new image: ``unknown (item deleted)``; a TTL deletion names the DynamoDB service.
* A change log write that fails (after the client's retries and :data:`~edgeauth.adapters.
  change_log.WRITE_ATTEMPTS` conditional attempts) logs an error, emits
  :data:`~edgeauth.constants.METRIC_CHANGE_LOG_WRITE_FAILED` and fails every record of the batch,
  so the stream delivers it again (the audit events are not written twice): without it, warm
  containers keep the old roles for their role-cache TTL. The first flush still runs.
* The flushes run whenever the batch had edits, even if an audit write failed: the table changed
  either way. Each is retried with bounded exponential backoff; when it still fails the function logs
  an error and emits the ``AuthorizerCacheFlushFailed`` metric (alarm on it) and does NOT fail the
  batch: failing would redeliver the records for ever while the gateway is unreachable, and the
  cached answers expire by themselves within the cache TTL.
* What a flush costs: every flush empties the whole stage's authorizer cache, so each (token,
  route) in use calls the authorizer once more (answered from its caches: a verified-token hit, no
  role read). Under a steady stream of edits, that is about one flush per batch (the debounce), so
  at most one every ``check interval + 1 s``: ``bench/capacity.py`` counts it.

Environment: :data:`~edgeauth.constants.ENV_AUDIT_LOG_GROUP`, :data:`~edgeauth.constants.ENV_REST_API_ID`,
:data:`~edgeauth.constants.ENV_STAGE_NAME`, :data:`~edgeauth.constants.ENV_ROLE_TABLE` (required),
:data:`~edgeauth.constants.ENV_REVOCATION_CHECK_SECONDS` and :data:`~edgeauth.constants.ENV_ROLE_CACHE_TTL`
(the authorizer's; defaults 2 and 30), :data:`~edgeauth.constants.ENV_ENDPOINT_URL` (local stack only).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from edgeauth import constants as C
from edgeauth.adapters.change_log import ChangeLogWriteError, ChangeLogWriter
from edgeauth.adapters.gateway_cache import (
    FLUSH_ATTEMPTS,
    FLUSH_BASE_DELAY,
    FLUSH_MAX_DELAY,
    FlushOutcome,
    GatewayClient,
    flush_authorizer_cache,
)
from edgeauth.audit.schema import AuditEvent, role_change_event
from edgeauth.audit.writer import AuditLogWriter, stream_for_role_change
from edgeauth.core.changes import Key, is_change_log
from edgeauth.core.propagation import SECOND_FLUSH_MARGIN

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = C.ROLE_EVENTS_SERVICE
UNKNOWN_CONSOLE = "unknown (console edit)"
UNKNOWN_DELETE = "unknown (item deleted)"
TTL_DELETE = "dynamodb.amazonaws.com (TTL expiry)"
FLUSH_DEBOUNCE_SECONDS = 1.0
"""A batch's first flush is skipped when this container flushed less than this long ago."""

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=C.METRICS_NAMESPACE, service=SERVICE)


class AuditSink(Protocol):
    """Where audit events go (:class:`~edgeauth.audit.writer.AuditLogWriter` in production)."""

    def write(self, stream: str, events: Sequence[AuditEvent]) -> Any: ...


class ChangePublisher(Protocol):
    """Where a batch's changed keys go (:class:`~edgeauth.adapters.change_log.ChangeLogWriter`)."""

    def publish(self, keys: Iterable[Key], *, unknown: bool = False) -> Any: ...


def record_key(record: Mapping[str, Any]) -> Key | None:
    """``(pk, sk)`` of a raw stream record's item, ``None`` when the record has no such keys."""
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    pk = (keys.get(C.TABLE_PARTITION_KEY) or {}).get("S")
    sk = (keys.get(C.TABLE_SORT_KEY) or {}).get("S")
    return (pk, sk) if isinstance(pk, str) and isinstance(sk, str) else None


def actor(record: DynamoDBRecord, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    """Who made the edit (see the module docstring)."""
    if new is None:
        identity = record.user_identity or {}
        if identity.get("type") == "Service" and identity.get("principalId") == "dynamodb.amazonaws.com":
            return TTL_DELETE
        return UNKNOWN_DELETE
    who = new.get(C.ATTR_UPDATED_BY)
    if not isinstance(who, str) or not who:
        return UNKNOWN_CONSOLE
    if old is not None and old.get(C.ATTR_VERSION) == new.get(C.ATTR_VERSION):
        return UNKNOWN_CONSOLE  # content changed but the stamps were left alone
    return who


class RoleEvents:
    """The function's logic with its parts injected (tests hand it moto clients and fakes)."""

    def __init__(
        self,
        sink: AuditSink,
        gateway: GatewayClient,
        rest_api_id: str,
        stage: str,
        *,
        changes: ChangePublisher,
        settle_seconds: float,
        attempts: int = FLUSH_ATTEMPTS,
        base_delay: float = FLUSH_BASE_DELAY,
        max_delay: float = FLUSH_MAX_DELAY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        debounce_seconds: float = FLUSH_DEBOUNCE_SECONDS,
    ) -> None:
        """``settle_seconds``: from the change log write to the second flush (see the module doc)."""
        self.sink = sink
        self.gateway = gateway
        self.rest_api_id = rest_api_id
        self.stage = stage
        self.changes = changes
        self.settle_seconds = settle_seconds
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self.debounce_seconds = debounce_seconds
        self._last_flush: float | None = None

    def event_for(self, record: DynamoDBRecord) -> AuditEvent:
        """The ``role_change`` event of one stream record. Pure apart from the clock fallback."""
        stream = record.dynamodb
        if stream is None:
            raise ValueError("stream record without a 'dynamodb' section")
        name = record.event_name.name if record.event_name is not None else "MODIFY"
        old: dict[str, Any] | None = None if name == "INSERT" else dict(stream.old_image or {})
        new: dict[str, Any] | None = None if name == "REMOVE" else dict(stream.new_image or {})
        if not stream.old_image and not stream.new_image:
            logger.warning(
                "stream record carries no images; the role table stream should be NEW_AND_OLD_IMAGES",
                extra={"event_id": record.event_id, "view_type": str(stream.stream_view_type)},
            )
        keys = dict(stream.keys or {})
        when = stream.approximate_creation_date_time or self._clock()
        return role_change_event(
            stream_event_id=record.event_id or f"{keys}",
            who=actor(record, old, new),
            when=when,
            table_key=keys,
            old_image=old,
            new_image=new,
        )

    def record_handler(self, record: DynamoDBRecord) -> None:
        key = record_key(record.raw_event)
        if key is not None and is_change_log(key):
            return  # this function's own write: not a role change
        event = self.event_for(record)
        self.sink.write(stream_for_role_change(record.event_id or event.id), [event])
        metrics.add_metric(name="RoleChanges", unit=MetricUnit.Count, value=1)

    def flush(self) -> FlushOutcome:
        """Flush the stage's authorizer cache, retrying with bounded backoff; never raises."""
        outcome = flush_authorizer_cache(
            self.gateway,
            self.rest_api_id,
            self.stage,
            attempts=self.attempts,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            sleep=self._sleep,
        )
        if not outcome.ok:
            return self._flush_failed(outcome.attempts, outcome.error or "unknown")
        self._last_flush = self._monotonic()
        return outcome

    def _flush_and_count(self) -> None:
        if self.flush().ok:
            metrics.add_metric(name="AuthorizerCacheFlushed", unit=MetricUnit.Count, value=1)

    def _flush_failed(self, attempts: int, error: str) -> FlushOutcome:
        logger.error(
            "authorizer cache flush failed; role edits take effect when cached policies expire",
            extra={
                "rest_api_id": self.rest_api_id,
                "stage": self.stage,
                "attempts": attempts,
                "error": error,
            },
        )
        metrics.add_metric(name=C.METRIC_CACHE_FLUSH_FAILED, unit=MetricUnit.Count, value=1)
        return FlushOutcome(False, attempts, error)

    def _publish(self, keys: list[Key], unknown: bool) -> float | None:
        """Write the change log; when it was written (monotonic), or ``None`` if it failed."""
        try:
            self.changes.publish(keys, unknown=unknown)
        except ChangeLogWriteError as e:
            logger.error(
                "role table change log write failed; the batch is retried",
                extra={"keys": len(keys), "error": str(e)},
            )
            metrics.add_metric(name=C.METRIC_CHANGE_LOG_WRITE_FAILED, unit=MetricUnit.Count, value=1)
            return None
        return self._monotonic()

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        records: list[dict[str, Any]] = event.get("Records") or []
        keys = [record_key(r) for r in records]
        changed = [key for key in keys if key is not None and not is_change_log(key)]
        # A record without keys changed something that cannot be named: every container drops all.
        unknown = None in keys
        edits = bool(changed) or unknown
        published: float | None = None
        if edits:
            published = self._publish(changed, unknown)
            last = self._last_flush
            if last is None or self._monotonic() - last >= self.debounce_seconds:
                self._flush_and_count()
        # One processor per invocation; partial failures are reported, never raised as a whole
        # (a batch that failed entirely is reported record by record, with the same effect).
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        try:
            response: dict[str, Any] = dict(
                process_partial_response(
                    event=event, record_handler=self.record_handler, processor=processor, context=context
                )
            )
        finally:
            if published is not None:
                # Containers that had not looked at the change log yet may have answered from the
                # old roles meanwhile: flush again once every one of them has looked.
                remaining = published + self.settle_seconds - self._monotonic()
                if remaining > 0:
                    self._sleep(remaining)
                self._flush_and_count()
        failures = response.get("batchItemFailures") or []
        if edits and published is None:
            # Delivered again from the first record: the change log is written then.
            failures = [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                for r in records
                if (r.get("dynamodb") or {}).get("SequenceNumber")
            ]
            response["batchItemFailures"] = failures
        if failures:
            logger.warning(
                "some role changes were not audited or published; they will be retried",
                extra={"failed": len(failures)},
            )
        return response


_state: dict[str, RoleEvents] = {}


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


def _seconds(name: str, default: int, highest: int) -> float:
    """One of the authorizer's settings, as the authorizer reads it (an unknown value: the highest)."""
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else float(default)
    except ValueError:
        value = float(highest)
    return min(max(value, 0.0), float(highest))


def settle_seconds() -> float:
    """From the change log write to the second flush: the longest a warm container may keep the old
    roles (its check interval, or its role-cache TTL if shorter) + :data:`SECOND_FLUSH_MARGIN`."""
    from edgeauth.core.settings import (
        DEFAULT_REVOCATION_CHECK_SECONDS,
        DEFAULT_ROLE_CACHE_TTL,
        MAX_REVOCATION_CHECK_SECONDS,
        MAX_ROLE_CACHE_TTL,
    )

    check = _seconds(
        C.ENV_REVOCATION_CHECK_SECONDS, DEFAULT_REVOCATION_CHECK_SECONDS, MAX_REVOCATION_CHECK_SECONDS
    )
    ttl = _seconds(C.ENV_ROLE_CACHE_TTL, DEFAULT_ROLE_CACHE_TTL, MAX_ROLE_CACHE_TTL)
    return min(check, ttl) + SECOND_FLUSH_MARGIN


def get_role_events() -> RoleEvents:
    """The container's instance, built on first use from the environment."""
    instance = _state.get("instance")
    if instance is None:
        import boto3
        from botocore.config import Config

        endpoint = os.environ.get(C.ENV_ENDPOINT_URL) or None
        config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=10)
        gateway: GatewayClient = boto3.client("apigateway", endpoint_url=endpoint, config=config)
        logs = boto3.client("logs", endpoint_url=endpoint, config=config)
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, config=config)
        instance = _state["instance"] = RoleEvents(
            AuditLogWriter(_required(C.ENV_AUDIT_LOG_GROUP), logs),
            gateway,
            _required(C.ENV_REST_API_ID),
            _required(C.ENV_STAGE_NAME),
            changes=ChangeLogWriter(_required(C.ENV_ROLE_TABLE), dynamodb),
            settle_seconds=settle_seconds(),
        )
    return instance


def set_role_events(instance: RoleEvents | None) -> None:
    """Inject an instance (tests, the local stack); ``None`` rebuilds from the environment."""
    if instance is None:
        _state.pop("instance", None)
    else:
        _state["instance"] = instance


@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return get_role_events().handle(event, context)
