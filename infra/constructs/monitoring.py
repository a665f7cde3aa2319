"""Monitoring: the alarms an operator of the gateway needs, and one dashboard that shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids
from infra.config import AlarmSettings

# Access-log metric filters: the gateway's own status codes, so they also count the 401s API Gateway
# answers without calling the authorizer (no Authorization header) and the 429s of usage plans.
STATUS_METRICS: Final = (
    (ids.METRIC_UNAUTHORIZED, "401"),
    (ids.METRIC_FORBIDDEN, "403"),
    (ids.METRIC_THROTTLED, "429"),
)

SUBSCRIPTION_DESTINATION_TYPE: Final = "Kinesis"
"""The ``DestinationType`` dimension CloudWatch Logs publishes its subscription metrics under for a
Kinesis Data Streams destination."""
RUNBOOK: Final = "README.md#runbook"

DECISIONS_SEARCH: Final = (
    f"SEARCH('{{{C.METRICS_NAMESPACE},decision,reason}} MetricName=\"Decisions\"', 'Sum', 300)"
)
"""Every (decision, reason) series of the authorizer's EMF metric, for the dashboard."""


class Monitoring(Construct):
    """Alarms (:attr:`alarms`, keyed by the ids in :mod:`infra.constants`) and a dashboard.

    Alarms, each over ``alarms.period_seconds`` and ``alarms.evaluation_periods``:

    * authorizer errors and throttles (either means clients get 500s), authorizer p99 duration;
    * API 5xx count; 401 and 403 rates (percent of requests, once there are ``rate_min_requests``);
      429 count;
    * iterator age of the audit consumer and of the role-events function; messages in either
      dead-letter queue;
    * the audit subscriptions' delivery errors and throttling (CloudWatch Logs' ``DeliveryErrors``
      and ``DeliveryThrottling`` of each source group's filter), and the audit consumer's throttled
      writes (its ``AuditWriteThrottled`` metric). README "Audit trail" > "Runbook" says what each
      audit alarm means and what to do.

    With ``alarms.topic_arn`` every alarm notifies that SNS topic. Missing data never alarms.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AlarmSettings,
        name_prefix: str,
        stage: apigw.Stage,
        rest_api_id: str,
        access_log_group: logs.ILogGroup,
        authorizer: lambda_.IFunction,
        audit_consumer: lambda_.IFunction,
        role_events: lambda_.IFunction,
        audit_dead_letters: sqs.IQueue,
        role_events_dead_letters: sqs.IQueue,
        audit_subscriptions: Sequence[tuple[logs.ILogGroup, str]] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        period = Duration.seconds(settings.period_seconds)
        self._settings = settings
        self._name_prefix = name_prefix
        self.alarms: dict[str, cw.Alarm] = {}

        status: dict[str, cw.Metric] = {}
        for metric_name, code in STATUS_METRICS:
            metric_filter = logs.MetricFilter(
                self,
                f"{metric_name}Filter",
                log_group=access_log_group,
                metric_namespace=C.METRICS_NAMESPACE,
                metric_name=metric_name,
                filter_pattern=logs.FilterPattern.string_value("$.status", "=", code),
                metric_value="1",
                # A dimension per API keeps two stages in one account apart. (CloudWatch allows no
                # default value with dimensions; the alarms fill gaps with 0 instead.)
                dimensions={ids.METRIC_DIMENSION_API_ID: "$.apiId"},
            )
            status[metric_name] = metric_filter.metric(
                statistic=cw.Stats.SUM,
                period=period,
                dimensions_map={ids.METRIC_DIMENSION_API_ID: rest_api_id},
            )
        requests = stage.metric_count(statistic=cw.Stats.SUM, period=period)

        self._alarm(
            ids.ALARM_AUTHORIZER_ERRORS,
            authorizer.metric_errors(statistic=cw.Stats.SUM, period=period),
            settings.authorizer_errors,
            "The authorizer failed (clients got 500): check its log group for the fault.",
        )
        self._alarm(
            ids.ALARM_AUTHORIZER_THROTTLES,
            authorizer.metric_throttles(statistic=cw.Stats.SUM, period=period),
            1,
            "The authorizer was throttled (clients got 500): raise the account's Lambda concurrency.",
        )
        self._alarm(
            ids.ALARM_AUTHORIZER_LATENCY,
            authorizer.metric_duration(statistic=cw.Stats.percentile(99), period=period),
            settings.authorizer_p99_ms,
            "Authorizer p99 duration is high: JWKS endpoint or role table slow?",
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self._alarm(
            ids.ALARM_API_5XX,
            stage.metric_server_error(statistic=cw.Stats.SUM, period=period),
            settings.api_5xx,
            "The API answered 5xx (authorizer failure, backend error or timeout).",
        )
        for alarm_id, metric_name, percent, what in (
            (ids.ALARM_UNAUTHORIZED_RATE, ids.METRIC_UNAUTHORIZED, settings.unauthorized_percent, "401"),
            (ids.ALARM_FORBIDDEN_RATE, ids.METRIC_FORBIDDEN, settings.forbidden_percent, "403"),
        ):
            rate = cw.MathExpression(
                expression=f"IF(requests >= {settings.rate_min_requests}, 100 * FILL(status, 0) / requests, 0)",
                using_metrics={"requests": requests, "status": status[metric_name]},
                period=period,
                label=f"{what} responses (% of requests)",
            )
            self._alarm(
                alarm_id,
                rate,
                percent,
                f"More than {percent:g}% of requests answered {what}: a client misconfigured, a key "
                "rotated, or someone probing the API. Query the audit log group by reason.",
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
        self._alarm(
            ids.ALARM_THROTTLED,
            status[ids.METRIC_THROTTLED],
            settings.throttled,
            "Many requests answered 429 (usage plan or stage throttle, or quota).",
        )
        iterator_age_ms = settings.iterator_age_seconds * 1000
        for alarm_id, function, what in (
            (ids.ALARM_CONSUMER_ITERATOR_AGE, audit_consumer, "The audit consumer"),
            (
                ids.ALARM_ROLE_EVENTS_ITERATOR_AGE,
                role_events,
                "The role-events function (role edits not yet effective)",
            ),
        ):
            self._alarm(
                alarm_id,
                function.metric("IteratorAge", statistic=cw.Stats.MAXIMUM, period=period),
                iterator_age_ms,
                f"{what} is falling behind its stream.",
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
        for alarm_id, queue, what in (
            (ids.ALARM_AUDIT_DEAD_LETTERS, audit_dead_letters, "audit records"),
            (ids.ALARM_ROLE_EVENTS_DEAD_LETTERS, role_events_dead_letters, "role-table events"),
        ):
            self._alarm(
                alarm_id,
                queue.metric_approximate_number_of_messages_visible(
                    statistic=cw.Stats.MAXIMUM, period=period
                ),
                1,
                f"Batches of {what} were dead-lettered: their records were not processed. The messages "
                "name the shard and sequence numbers to replay.",
            )

        self._alarm(
            ids.ALARM_CACHE_FLUSH_FAILED,
            cw.Metric(
                namespace=C.METRICS_NAMESPACE,
                metric_name=C.METRIC_CACHE_FLUSH_FAILED,
                dimensions_map={"service": C.ROLE_EVENTS_SERVICE},
                statistic=cw.Stats.SUM,
                period=period,
            ),
            1,
            "The role-events function could not flush the authorizer cache: role edits and revocations "
            "take effect only when cached answers expire (the authorizer cache TTL).",
        )

        self._audit_alarms(settings, period, audit_subscriptions)

        if settings.topic_arn:
            topic = sns.Topic.from_topic_arn(self, "AlarmTopic", settings.topic_arn)
            for alarm in self.alarms.values():
                alarm.add_alarm_action(cw_actions.SnsAction(topic))

        self.dashboard = cw.Dashboard(self, ids.DASHBOARD, default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=4),
        )
        self.dashboard.add_widgets(
            _graph(
                "Authorizer decisions (by decision, reason)",
                [cw.MathExpression(expression=DECISIONS_SEARCH, using_metrics={}, label="", period=period)],
            ),
            _graph(
                "API responses",
                [
                    requests,
                    *status.values(),
                    stage.metric_server_error(statistic=cw.Stats.SUM, period=period),
                ],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "Latency (ms)",
                [
                    authorizer.metric_duration(
                        statistic=cw.Stats.percentile(99), period=period, label="authorizer p99"
                    ),
                    authorizer.metric_duration(
                        statistic=cw.Stats.percentile(50), period=period, label="authorizer p50"
                    ),
                    stage.metric_latency(statistic=cw.Stats.percentile(99), period=period, label="API p99"),
                    stage.metric_integration_latency(
                        statistic=cw.Stats.percentile(99), period=period, label="backend p99"
                    ),
                ],
            ),
            _graph(
                "Authorizer faults",
                [
                    authorizer.metric_errors(statistic=cw.Stats.SUM, period=period),
                    authorizer.metric_throttles(statistic=cw.Stats.SUM, period=period),
                ],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "Stream consumers: iterator age (ms)",
                [
                    audit_consumer.metric(
                        "IteratorAge", statistic=cw.Stats.MAXIMUM, period=period, label="audit"
                    ),
                    role_events.metric(
                        "IteratorAge", statistic=cw.Stats.MAXIMUM, period=period, label="role events"
                    ),
                ],
            ),
            _graph(
                "Dead letters",
                [
                    audit_dead_letters.metric_approximate_number_of_messages_visible(
                        period=period, label="audit"
                    ),
                    role_events_dead_letters.metric_approximate_number_of_messages_visible(
                        period=period, label="role events"
                    ),
                ],
            ),
        )

    def _audit_alarms(
        self, settings: AlarmSettings, period: Duration, subscriptions: Sequence[tuple[logs.ILogGroup, str]]
    ) -> None:
        """The audit pipeline's own alarms (the consumer's iterator age and dead letters are above)."""
        for alarm_id, metric_name, threshold, what in (
            (
                ids.ALARM_AUDIT_DELIVERY_ERRORS,
                "DeliveryErrors",
                settings.audit_delivery_errors,
                "CloudWatch Logs failed to deliver audit lines to the audit stream (it retries for up "
                "to 24 hours, then drops them)",
            ),
            (
                ids.ALARM_AUDIT_DELIVERY_THROTTLING,
                "DeliveryThrottling",
                settings.audit_delivery_throttling,
                "The audit stream throttled CloudWatch Logs' deliveries (delayed, retried)",
            ),
        ):
            metrics = {
                f"m{i}": cw.Metric(
                    namespace="AWS/Logs",
                    metric_name=metric_name,
                    dimensions_map={
                        "LogGroupName": group.log_group_name,
                        "DestinationType": SUBSCRIPTION_DESTINATION_TYPE,
                        "FilterName": filter_name,
                    },
                    statistic=cw.Stats.SUM,
                    period=period,
                )
                for i, (group, filter_name) in enumerate(subscriptions)
            }
            if not metrics:
                continue
            total = cw.MathExpression(
                expression=" + ".join(f"FILL({name}, 0)" for name in metrics),
                using_metrics=dict(metrics),
                period=period,
                label=f"{metric_name} (audit subscriptions)",
            )
            self._alarm(alarm_id, total, threshold, f"{what}. Runbook: {RUNBOOK} ({alarm_id}).")
        self._alarm(
            ids.ALARM_AUDIT_WRITE_THROTTLED,
            cw.Metric(
                namespace=C.METRICS_NAMESPACE,
                metric_name=C.METRIC_AUDIT_WRITE_THROTTLED,
                dimensions_map={"service": C.AUDIT_CONSUMER_SERVICE},
                statistic=cw.Stats.SUM,
                period=period,
            ),
            settings.audit_write_throttles,
            "CloudWatch Logs or DynamoDB throttled the audit consumer's writes (retried, or the records "
            f"delivered again: the audit log group falls behind). Runbook: {RUNBOOK} ({ids.ALARM_AUDIT_WRITE_THROTTLED}).",
        )

    def _alarm(
        self,
        alarm_id: str,
        metric: cw.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> None:
        self.alarms[alarm_id] = cw.Alarm(
            self,
            alarm_id,
            alarm_name=f"{self._name_prefix}-{alarm_id}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=self._settings.evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )


def _graph(title: str, metrics: Sequence[cw.IMetric]) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(metrics), width=12, height=6)
