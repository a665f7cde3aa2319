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
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from edgeauth import constants as C
from infra import constants as ids
from infra.alarms import ALARM_DEFINITIONS, RUNBOOK
from infra.config import AlarmSettings

# Access-log metric filters: the gateway's own status codes, so they also count the 401s API Gateway
# answers without calling the authorizer (no Authorization header) and the 429s of usage plans.
STATUS_METRICS: Final = (
    (ids.METRIC_UNAUTHORIZED, "401"),
    (ids.METRIC_FORBIDDEN, "403"),
    (ids.METRIC_THROTTLED, "429"),
)

AUTHORIZER_FAULTS_PATTERN: Final = logs.FilterPattern.all(
    logs.FilterPattern.string_value("$.message", "=", C.AUDIT_DECISION_MESSAGE),
    logs.FilterPattern.string_value("$.decision", "=", C.AUDIT_DECISION_FAULT),
)
"""The authorizer's audit lines of requests that answered 500: dependency faults (role table, JWKS,
DPoP replay table), malformed events, internal errors. Not 401s (``unauthorized``) nor 403s."""
SUBSCRIPTION_DESTINATION_TYPE: Final = "Kinesis"
"""The ``DestinationType`` dimension CloudWatch Logs publishes its subscription metrics under for a
Kinesis Data Streams destination."""

DECISIONS_SEARCH: Final = (
    f"SEARCH('{{{C.METRICS_NAMESPACE},decision,reason}} MetricName=\"Decisions\"', 'Sum', 300)"
)
"""Every (decision, reason) series of the authorizer's EMF metric, for the dashboard."""


class Monitoring(Construct):
    """Alarms (:attr:`alarms`, keyed by the ids in :mod:`infra.constants`) and a dashboard.

    Alarms, each over ``alarms.period_seconds`` windows and ``alarms.evaluation_periods`` of them
    (:data:`infra.alarms.ALARMS`; the documentation's operations page says what each means and what to do):

    * authorizer faults (its own audit lines with decision ``error``: the 500 outcomes; never
      Lambda's ``Errors``, which counts every 401 as well) and throttles, authorizer p99 duration;
    * API 5xx count; 401 and 403 rates (percent of requests, once there are ``rate_min_requests``);
      429 count;
    * iterator age of the audit consumer and of the role-events function; messages in either
      dead-letter queue;
    * the audit subscriptions' delivery errors and throttling (CloudWatch Logs' ``DeliveryErrors``
      and ``DeliveryThrottling`` of each source group's filter), and the audit consumer's throttled
      writes (its ``AuditWriteThrottled`` metric).

    Each alarm states its datapoints-to-alarm and missing-data treatment (:meth:`_alarm`). Every
    alarm notifies :attr:`topic` (state changes to ALARM and back to OK) when the settings name one:
    ``topic_arn``, or ``emails`` subscribed to a topic created here (TLS-only); else :attr:`topic`
    is None (the dev stage).
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
        authorizer_log_group: logs.ILogGroup,
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
        self.topic: sns.ITopic | None = None
        if settings.topic_arn:
            self.topic = sns.Topic.from_topic_arn(self, ids.ALARM_TOPIC, settings.topic_arn)
        elif settings.emails:
            topic = sns.Topic(
                self,
                ids.ALARM_TOPIC,
                display_name=f"{name_prefix} alarms",
                enforce_ssl=True,
            )
            for address in settings.emails:
                # Each address gets a confirmation email: no notification before it is confirmed.
                topic.add_subscription(subscriptions.EmailSubscription(address))
            self.topic = topic
        # Created before any alarm: _alarm wires every alarm to it.
        self._actions = [cw_actions.SnsAction(self.topic)] if self.topic is not None else []

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

        # Faults are counted from the authorizer's own audit lines by a metric filter: no work on
        # the request path (the line is written anyway), one series whatever the reason (the
        # line's EMF metric Decisions is per (decision, reason), and an alarm cannot sum a
        # dimension it does not list), and the ApiId dimension keeps two stages in one account
        # apart (the EMF metrics have no stage dimension). Lambda's Errors metric is useless here:
        # every 401 is a raised Unauthorized, which Lambda counts as an error.
        faults_filter = logs.MetricFilter(
            self,
            ids.AUTHORIZER_FAULTS_FILTER,
            log_group=authorizer_log_group,
            metric_namespace=C.METRICS_NAMESPACE,
            metric_name=ids.METRIC_AUTHORIZER_FAULTS,
            filter_pattern=AUTHORIZER_FAULTS_PATTERN,
            metric_value="1",
            dimensions={ids.METRIC_DIMENSION_API_ID: "$.api_id"},
        )
        faults = faults_filter.metric(
            statistic=cw.Stats.SUM,
            period=period,
            dimensions_map={ids.METRIC_DIMENSION_API_ID: rest_api_id},
        )
        self._alarm(
            ids.ALARM_AUTHORIZER_FAULTS,
            faults,
            settings.authorizer_faults,
            # A fault: every one is a 500 to a caller, so one breaching window alarms, and the alarm
            # stays until evaluation_periods windows in a row are clean (no flapping in an outage).
            # No data point means no fault line in the window (the filter publishes only on a
            # match): nothing failed.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self._alarm(
            ids.ALARM_AUTHORIZER_THROTTLES,
            authorizer.metric_throttles(statistic=cw.Stats.SUM, period=period),
            1,
            # A fault: a throttled invocation is a 500 to a caller.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # no invocation, no throttle
        )
        self._alarm(
            ids.ALARM_AUTHORIZER_LATENCY,
            authorizer.metric_duration(statistic=cw.Stats.percentile(99), period=period),
            settings.authorizer_p99_ms,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # A level: a percentile of one window is noisy (a burst of cold starts), so only a
            # sustained rise alarms, every evaluated window breaching.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # no invocations, no latency
        )
        self._alarm(
            ids.ALARM_API_5XX,
            stage.metric_server_error(statistic=cw.Stats.SUM, period=period),
            settings.api_5xx,
            # A fault: each one failed a caller and the threshold already absorbs the odd one.
            # API Gateway publishes the metric only while there are requests.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
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
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # A level: callers cause these, in bursts (one client with an expired token), so only
                # a rate that lasts every evaluated window alarms.
                # The expression is 0 below rate_min_requests; no data is no traffic at all.
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        self._alarm(
            ids.ALARM_THROTTLED,
            status[ids.METRIC_THROTTLED],
            settings.throttled,
            # A level: throttling is the usage plans working; a client's burst is expected.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # published on a 429 only
        )
        iterator_age_ms = settings.iterator_age_seconds * 1000
        for alarm_id, function in (
            (ids.ALARM_CONSUMER_ITERATOR_AGE, audit_consumer),
            (ids.ALARM_ROLE_EVENTS_ITERATOR_AGE, role_events),
        ):
            self._alarm(
                alarm_id,
                function.metric("IteratorAge", statistic=cw.Stats.MAXIMUM, period=period),
                iterator_age_ms,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                # A level: a burst can age a batch briefly; only a lag lasting every evaluated window.
                # Lambda publishes IteratorAge only when it invokes: no records, no age.
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        for alarm_id, queue in (
            (ids.ALARM_AUDIT_DEAD_LETTERS, audit_dead_letters),
            (ids.ALARM_ROLE_EVENTS_DEAD_LETTERS, role_events_dead_letters),
        ):
            self._alarm(
                alarm_id,
                queue.metric_approximate_number_of_messages_visible(
                    statistic=cw.Stats.MAXIMUM, period=period
                ),
                1,
                # A fault: one dead letter is lost processing.
                # SQS stops publishing for an idle, empty queue.
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
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
            # A fault: a revocation that is not effective yet.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # published on a failure only
        )

        self._audit_alarms(settings, period, audit_subscriptions)

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
                [faults, authorizer.metric_throttles(statistic=cw.Stats.SUM, period=period)],
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
        for alarm_id, metric_name, threshold in (
            (ids.ALARM_AUDIT_DELIVERY_ERRORS, "DeliveryErrors", settings.audit_delivery_errors),
            (ids.ALARM_AUDIT_DELIVERY_THROTTLING, "DeliveryThrottling", settings.audit_delivery_throttling),
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
            self._alarm(
                alarm_id,
                total,
                threshold,
                # Delivery errors are a fault (the stream's key, policy or existence): the first window
                # alarms. Throttling is a level, expected for moments while an on-demand stream scales:
                # only throttling in every evaluated window means the stream cannot keep up.
                # CloudWatch Logs publishes these metrics only when something failed.
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
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
            # A level: throttled calls are retried under the shard's lease, so a moment of it is
            # absorbed; in every evaluated window it means the consumer falls behind.
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # published on a throttle only
        )

    def _alarm(
        self,
        alarm_id: str,
        metric: cw.IMetric,
        threshold: float,
        *,
        treat_missing_data: cw.TreatMissingData,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> None:
        """One alarm over ``evaluation_periods`` windows, as :data:`infra.alarms.ALARMS` defines it (its
        description and kind: a fault alarms on one breaching window, a level on all of them).
        ``treat_missing_data`` has no default on purpose: each alarm says why it chose it."""
        definition = ALARM_DEFINITIONS.get(alarm_id)
        if definition is None:
            raise ValueError(f"alarm {alarm_id!r} has no entry in ALARMS (and so no runbook entry)")
        periods = self._settings.evaluation_periods
        alarm = cw.Alarm(
            self,
            alarm_id,
            alarm_name=f"{self._name_prefix}-{alarm_id}",
            alarm_description=f"{definition.summary} Runbook: {RUNBOOK}#{alarm_id.lower()}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=1 if definition.kind == "fault" else periods,
            comparison_operator=comparison,
            treat_missing_data=treat_missing_data,
        )
        # Back to OK is news too: whoever was paged learns that it recovered.
        alarm.add_alarm_action(*self._actions)
        alarm.add_ok_action(*self._actions)
        self.alarms[alarm_id] = alarm


def _graph(title: str, metrics: Sequence[cw.IMetric]) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(metrics), width=12, height=6)
