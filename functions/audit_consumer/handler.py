"""The audit consumer Lambda: Kinesis (CloudWatch Logs subscriptions) → audit log group, exactly once.

Thin: the batch goes whole to :meth:`edgeauth.audit.consumer.AuditConsumer.process_batch`, which
writes each shard's events under its checkpoint (:mod:`edgeauth.audit.shard_writer`) and says from
which record, if any, a shard must be delivered again; that record is returned in
``batchItemFailures`` (the event source mapping has ``ReportBatchItemFailures``), so Kinesis
redelivers exactly the records after the last committed one. A failed write never raises: a raise
would make Lambda retry (and bisect) the whole batch, which the checkpoint makes harmless but slow.

Environment: :data:`edgeauth.constants.ENV_AUDIT_LOG_GROUP`,
:data:`edgeauth.constants.ENV_AUDIT_CHECKPOINT_TABLE`,
:data:`edgeauth.constants.ENV_AUTHORIZER_LOG_GROUP` and :data:`edgeauth.constants.ENV_ACCESS_LOG_GROUP`
(required: a line's kind comes from its source group, see :class:`edgeauth.audit.schema.AuditSources`),
:data:`edgeauth.constants.ENV_ENDPOINT_URL` (local stack only).
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from edgeauth import constants as C
from edgeauth.audit.checkpoint import CheckpointStore
from edgeauth.audit.consumer import AuditConsumer, BatchOutcome, KinesisSource, shard_of
from edgeauth.audit.schema import AuditSources
from edgeauth.audit.shard_writer import ShardWriter
from edgeauth.audit.writer import AuditLogWriter, consumer_client

SERVICE = C.AUDIT_CONSUMER_SERVICE

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=C.METRICS_NAMESPACE, service=SERVICE)

_state: dict[str, AuditConsumer] = {}


def get_consumer() -> AuditConsumer:
    """The container's consumer, built on first use from the environment."""
    consumer = _state.get("consumer")
    if consumer is None:
        group, table, authorizer_group, access_group = (
            _required(C.ENV_AUDIT_LOG_GROUP),
            _required(C.ENV_AUDIT_CHECKPOINT_TABLE),
            _required(C.ENV_AUTHORIZER_LOG_GROUP),
            _required(C.ENV_ACCESS_LOG_GROUP),
        )
        consumer = _state["consumer"] = AuditConsumer(
            ShardWriter(AuditLogWriter(group, consumer_client()), CheckpointStore(table)),
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


def sources_of(event: dict[str, Any]) -> list[KinesisSource]:
    """The coordinates and data of every record of a Lambda Kinesis event."""
    return [
        KinesisSource(
            stream_arn=record.event_source_arn or "",
            shard_id=shard_of(record.event_id or ""),
            sequence_number=record.kinesis.sequence_number,
            data_b64=record.kinesis.data,
            arrival_ms=int(float(record.kinesis.approximate_arrival_timestamp or 0) * 1000),
        )
        for record in KinesisStreamEvent(event).records
    ]


def _deadline_ms(context: Any) -> int | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(time.time() * 1000) + int(remaining()) if callable(remaining) else None


def _count(outcome: BatchOutcome) -> None:
    for name, value in (
        ("AuditEventsWritten", outcome.written),
        ("AuditDuplicatesSkipped", outcome.duplicates),
        ("AuditMalformed", outcome.malformed),
        ("AuditLinesSkipped", outcome.skipped_lines),
        ("AuditReadbacks", outcome.readbacks),
        (C.METRIC_AUDIT_WRITE_THROTTLED, outcome.throttled),
        ("AuditRecordsRedelivered", len(outcome.failed)),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@metrics.log_metrics(raise_on_empty_metrics=False)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = get_consumer().process_batch(sources_of(event), deadline_ms=_deadline_ms(context))
    _count(outcome)
    if outcome.failed:
        logger.warning(
            "audit records to be delivered again",
            extra={"from_sequence_numbers": outcome.failed, "errors": outcome.errors},
        )
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in outcome.failed]}
