"""The audit consumer Lambda: Kinesis (CloudWatch Logs subscriptions) → audit log group.

Thin: Powertools' ``BatchProcessor`` for Kinesis runs :func:`record_handler` per record and returns
``batchItemFailures`` naming only the records whose write failed (the event source mapping must have
``ReportBatchItemFailures``). Kinesis then redelivers from the first failed record; records after it
that had succeeded are redelivered too and recognised as duplicates by the writer (see
:mod:`edgeauth.audit.writer`), as are the records of a batch redelivered after a crash.

Environment: :data:`edgeauth.constants.ENV_AUDIT_LOG_GROUP`,
:data:`edgeauth.constants.ENV_AUTHORIZER_LOG_GROUP` and :data:`edgeauth.constants.ENV_ACCESS_LOG_GROUP`
(required: a line's kind comes from its source group, see :class:`edgeauth.audit.schema.AuditSources`),
:data:`edgeauth.constants.ENV_ENDPOINT_URL` (local stack only).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from edgeauth import constants as C
from edgeauth.audit.consumer import AuditConsumer, KinesisSource, RecordOutcome, shard_of
from edgeauth.audit.schema import AuditSources
from edgeauth.audit.writer import AuditLogWriter

SERVICE = C.AUDIT_CONSUMER_SERVICE
SETTLE_SECONDS = 2.0
"""Wait before reading back a log stream on the redelivery path (see the writer's docstring)."""

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=C.METRICS_NAMESPACE, service=SERVICE)
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

_state: dict[str, AuditConsumer] = {}


def get_consumer() -> AuditConsumer:
    """The container's consumer, built on first use from the environment."""
    consumer = _state.get("consumer")
    if consumer is None:
        group, authorizer_group, access_group = (
            _required(C.ENV_AUDIT_LOG_GROUP),
            _required(C.ENV_AUTHORIZER_LOG_GROUP),
            _required(C.ENV_ACCESS_LOG_GROUP),
        )
        consumer = _state["consumer"] = AuditConsumer(
            AuditLogWriter(group, settle_seconds=SETTLE_SECONDS),
            AuditSources(authorizer_log_group=authorizer_group, access_log_group=access_group),
        )
    return consumer


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


def set_consumer(consumer: AuditConsumer | None) -> None:
    """Inject a consumer (tests, the local stack); ``None`` rebuilds from the environment."""
    if consumer is None:
        _state.pop("consumer", None)
    else:
        _state["consumer"] = consumer


def source_of(record: KinesisStreamRecord) -> KinesisSource:
    """The coordinates and data of a Lambda Kinesis record."""
    return KinesisSource(
        stream_arn=record.event_source_arn or "",
        shard_id=shard_of(record.event_id or ""),
        sequence_number=record.kinesis.sequence_number,
        data_b64=record.kinesis.data,
        arrival_ms=int(float(record.kinesis.approximate_arrival_timestamp or 0) * 1000),
    )


def record_handler(record: KinesisStreamRecord) -> RecordOutcome:
    outcome = get_consumer().process(source_of(record))
    if outcome.written:
        metrics.add_metric(name="AuditEventsWritten", unit=MetricUnit.Count, value=outcome.written)
    if outcome.duplicates:
        metrics.add_metric(name="AuditDuplicatesSkipped", unit=MetricUnit.Count, value=outcome.duplicates)
    if outcome.malformed:
        metrics.add_metric(name="AuditMalformed", unit=MetricUnit.Count, value=outcome.malformed)
    if outcome.skipped_lines:
        metrics.add_metric(name="AuditLinesSkipped", unit=MetricUnit.Count, value=outcome.skipped_lines)
    return outcome


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failures = response.get("batchItemFailures", [])
    if failures:
        logger.warning("audit records failed", extra={"failed": len(failures)})
    return dict(response)
