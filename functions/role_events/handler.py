"""The role-events Lambda, on the role table's DynamoDB stream (``NEW_AND_OLD_IMAGES``).

For each stream record it writes one ``role_change`` audit event (who, when, old and new, as a diff:
:func:`edgeauth.audit.schema.role_change_event`) to the audit log group, through
:class:`edgeauth.audit.writer.AuditLogWriter` with one log stream per stream record, so a redelivered
record never duplicates its event. Then, once per batch, it flushes the stage's authorizer cache, so
an edit takes effect within the authorizer's role-cache time rather than the gateway's cache TTL.

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
* Two flushes: one at once, and one after the authorizer's role-cache time
  (:data:`~edgeauth.constants.ENV_ROLE_CACHE_TTL` + 1 s). The first clears what the gateway cached;
  but an authorizer container may still hold the old roles for up to its role-cache time, and a
  request in that window would put a stale answer back into the gateway's cache for its whole TTL.
  The second flush clears that too, so an edit takes effect within the role-cache time (plus the
  stream's delay), never the gateway's cache TTL.
* The flush runs whenever the batch had records, even if an audit write failed: the table changed
  either way. It is retried with bounded exponential backoff; when it still fails the function logs
  an error and emits the ``AuthorizerCacheFlushFailed`` metric (alarm on it) and does NOT fail the
  batch: failing would redeliver the records for ever while the gateway is unreachable, and the
  cached answers expire by themselves within the cache TTL.

Environment: :data:`~edgeauth.constants.ENV_AUDIT_LOG_GROUP`, :data:`~edgeauth.constants.ENV_REST_API_ID`,
:data:`~edgeauth.constants.ENV_STAGE_NAME` (required), :data:`~edgeauth.constants.ENV_ROLE_CACHE_TTL`
(the authorizer's; default 30), :data:`~edgeauth.constants.ENV_ENDPOINT_URL` (local stack only).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from edgeauth import constants as C
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
from edgeauth.core.propagation import SECOND_FLUSH_MARGIN

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = C.ROLE_EVENTS_SERVICE
UNKNOWN_CONSOLE = "unknown (console edit)"
UNKNOWN_DELETE = "unknown (item deleted)"
TTL_DELETE = "dynamodb.amazonaws.com (TTL expiry)"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=C.METRICS_NAMESPACE, service=SERVICE)


class AuditSink(Protocol):
    """Where audit events go (:class:`~edgeauth.audit.writer.AuditLogWriter` in production)."""

    def write(self, stream: str, events: Sequence[AuditEvent]) -> Any: ...


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
        attempts: int = FLUSH_ATTEMPTS,
        base_delay: float = FLUSH_BASE_DELAY,
        max_delay: float = FLUSH_MAX_DELAY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        settle_seconds: float = 0.0,
    ) -> None:
        self.sink = sink
        self.gateway = gateway
        self.rest_api_id = rest_api_id
        self.stage = stage
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._clock = clock
        self.settle_seconds = settle_seconds

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

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
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
            if event.get("Records"):
                self._flush_and_count()
                if self.settle_seconds > 0:
                    # Authorizer containers may still hold the old roles: flush again once they cannot.
                    self._sleep(self.settle_seconds)
                    self._flush_and_count()
        failures = response.get("batchItemFailures") or []
        if failures:
            logger.warning(
                "some role changes were not audited; they will be retried", extra={"failed": len(failures)}
            )
        return response


_state: dict[str, RoleEvents] = {}


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


def _role_cache_ttl() -> float:
    """The authorizer's role-cache time (same variable and default as the authorizer's)."""
    from edgeauth.core.settings import DEFAULT_ROLE_CACHE_TTL, MAX_ROLE_CACHE_TTL

    raw = os.environ.get(C.ENV_ROLE_CACHE_TTL, "")
    try:
        value = float(raw) if raw else float(DEFAULT_ROLE_CACHE_TTL)
    except ValueError:
        value = float(MAX_ROLE_CACHE_TTL)  # unknown: wait for the longest the authorizer allows
    return min(max(value, 0.0), float(MAX_ROLE_CACHE_TTL))


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
        instance = _state["instance"] = RoleEvents(
            AuditLogWriter(_required(C.ENV_AUDIT_LOG_GROUP), logs),
            gateway,
            _required(C.ENV_REST_API_ID),
            _required(C.ENV_STAGE_NAME),
            settle_seconds=_role_cache_ttl() + SECOND_FLUSH_MARGIN,
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
