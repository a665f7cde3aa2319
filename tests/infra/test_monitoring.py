"""Monitoring: the alarms exist with the configured thresholds, and 401/403/429 are counted."""

from __future__ import annotations

from typing import Any

from edgeauth import constants as C
from infra import constants as ids
from infra.alarms import RUNBOOK
from infra.constructs.monitoring import AUTHORIZER_FAULTS_PATTERN, STATUS_METRICS
from tests.infra.conftest import Synth

# Alarms whose every data point is a failed caller or lost work: the first breaching window alarms.
ANY_WINDOW = {
    ids.ALARM_AUTHORIZER_FAULTS,
    ids.ALARM_AUTHORIZER_THROTTLES,
    ids.ALARM_API_5XX,
    ids.ALARM_AUDIT_DEAD_LETTERS,
    ids.ALARM_ROLE_EVENTS_DEAD_LETTERS,
    ids.ALARM_CACHE_FLUSH_FAILED,
    ids.ALARM_AUDIT_DELIVERY_ERRORS,
}
# Alarms on levels that callers or bursts move briefly: every evaluated window must breach.
SUSTAINED = {
    ids.ALARM_AUTHORIZER_LATENCY,
    ids.ALARM_UNAUTHORIZED_RATE,
    ids.ALARM_FORBIDDEN_RATE,
    ids.ALARM_THROTTLED,
    ids.ALARM_CONSUMER_ITERATOR_AGE,
    ids.ALARM_ROLE_EVENTS_ITERATOR_AGE,
    ids.ALARM_AUDIT_DELIVERY_THROTTLING,
    ids.ALARM_AUDIT_WRITE_THROTTLED,
}


def alarm(synth: Synth, alarm_id: str) -> dict[str, Any]:
    props: dict[str, Any] = synth.resource(synth.stack.monitoring.alarms[alarm_id])["Properties"]
    return props


def test_every_required_alarm_exists(synth: Synth) -> None:
    expected = {
        ids.ALARM_AUTHORIZER_FAULTS,
        ids.ALARM_AUTHORIZER_THROTTLES,
        ids.ALARM_AUTHORIZER_LATENCY,
        ids.ALARM_API_5XX,
        ids.ALARM_UNAUTHORIZED_RATE,
        ids.ALARM_FORBIDDEN_RATE,
        ids.ALARM_THROTTLED,
        ids.ALARM_CONSUMER_ITERATOR_AGE,
        ids.ALARM_ROLE_EVENTS_ITERATOR_AGE,
        ids.ALARM_AUDIT_DEAD_LETTERS,
        ids.ALARM_ROLE_EVENTS_DEAD_LETTERS,
        ids.ALARM_CACHE_FLUSH_FAILED,
        ids.ALARM_AUDIT_DELIVERY_ERRORS,
        ids.ALARM_AUDIT_DELIVERY_THROTTLING,
        ids.ALARM_AUDIT_WRITE_THROTTLED,
    }
    assert set(synth.stack.monitoring.alarms) == expected
    synth.template.resource_count_is("AWS::CloudWatch::Alarm", len(expected))
    for alarm_id in expected:
        props = alarm(synth, alarm_id)
        assert props["AlarmName"] == f"{synth.config.stack_name}-{alarm_id}"
        # Every metric here is published only when there is something to count or measure.
        assert props["TreatMissingData"] == "notBreaching"
        assert props["EvaluationPeriods"] == synth.config.alarms.evaluation_periods
        # No topic in the dev settings: no actions.
        assert "AlarmActions" not in props
        assert "OKActions" not in props


def test_every_alarm_chooses_its_datapoints_to_alarm(synth: Synth) -> None:
    assert set(synth.stack.monitoring.alarms) == ANY_WINDOW | SUSTAINED
    periods = synth.config.alarms.evaluation_periods
    for alarm_id in ANY_WINDOW:
        assert alarm(synth, alarm_id)["DatapointsToAlarm"] == 1, alarm_id
    for alarm_id in SUSTAINED:
        assert alarm(synth, alarm_id)["DatapointsToAlarm"] == periods, alarm_id


def test_authorizer_alarms(synth: Synth) -> None:
    settings = synth.config.alarms
    api = {"Ref": synth.logical_id(synth.stack.api.rest_api)}
    faults = alarm(synth, ids.ALARM_AUTHORIZER_FAULTS)
    # The authorizer's own count of its 500 outcomes, per API; never Lambda's Errors (every 401).
    assert (faults["Namespace"], faults["MetricName"], faults["Statistic"]) == (
        C.METRICS_NAMESPACE,
        ids.METRIC_AUTHORIZER_FAULTS,
        "Sum",
    )
    assert faults["Dimensions"] == [{"Name": ids.METRIC_DIMENSION_API_ID, "Value": api}]
    assert faults["Threshold"] == settings.authorizer_faults
    assert faults["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    lambda_errors = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
        or any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "Errors"
            for m in a["Properties"].get("Metrics", [])
        )
    ]
    assert lambda_errors == []
    latency = alarm(synth, ids.ALARM_AUTHORIZER_LATENCY)
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Duration", "p99")
    assert latency["Threshold"] == settings.authorizer_p99_ms


def test_api_5xx_and_429_alarms(synth: Synth) -> None:
    settings = synth.config.alarms
    server = alarm(synth, ids.ALARM_API_5XX)
    assert (server["Namespace"], server["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert server["Threshold"] == settings.api_5xx
    throttled = alarm(synth, ids.ALARM_THROTTLED)
    assert (throttled["Namespace"], throttled["MetricName"]) == (C.METRICS_NAMESPACE, ids.METRIC_THROTTLED)
    assert throttled["Dimensions"] == [
        {"Name": ids.METRIC_DIMENSION_API_ID, "Value": {"Ref": synth.logical_id(synth.stack.api.rest_api)}}
    ]


def test_401_and_403_alarms_are_rates_over_a_minimum_of_requests(synth: Synth) -> None:
    settings = synth.config.alarms
    for alarm_id, metric_name, percent in (
        (ids.ALARM_UNAUTHORIZED_RATE, ids.METRIC_UNAUTHORIZED, settings.unauthorized_percent),
        (ids.ALARM_FORBIDDEN_RATE, ids.METRIC_FORBIDDEN, settings.forbidden_percent),
    ):
        props = alarm(synth, alarm_id)
        assert props["Threshold"] == percent
        expression = next(m for m in props["Metrics"] if "Expression" in m)
        assert f"requests >= {settings.rate_min_requests}" in expression["Expression"]
        names = {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
        assert names == {"Count", metric_name}


def test_the_fault_metric_counts_the_authorizers_error_decisions_per_api(synth: Synth) -> None:
    # tests/functional/test_authorizer_fault_metric.py runs this pattern on the authorizer's lines.
    synth.template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": {"Ref": synth.logical_id(synth.stack.authorizer.log_group)},
            "FilterPattern": AUTHORIZER_FAULTS_PATTERN.log_pattern_string,
            "MetricTransformations": [
                {
                    "MetricNamespace": C.METRICS_NAMESPACE,
                    "MetricName": ids.METRIC_AUTHORIZER_FAULTS,
                    "MetricValue": "1",
                    "Dimensions": [{"Key": ids.METRIC_DIMENSION_API_ID, "Value": "$.api_id"}],
                }
            ],
        },
    )
    pattern = AUTHORIZER_FAULTS_PATTERN.log_pattern_string
    assert f'$.decision = "{C.AUDIT_DECISION_FAULT}"' in pattern
    assert f'$.message = "{C.AUDIT_DECISION_MESSAGE}"' in pattern


def test_access_log_metric_filters_count_status_codes_per_api(synth: Synth) -> None:
    access = {"Ref": synth.logical_id(synth.stack.api.access_log_group)}
    for metric_name, code in STATUS_METRICS:
        synth.template.has_resource_properties(
            "AWS::Logs::MetricFilter",
            {
                "LogGroupName": access,
                "FilterPattern": f'{{ $.status = "{code}" }}',
                "MetricTransformations": [
                    {
                        "MetricNamespace": C.METRICS_NAMESPACE,
                        "MetricName": metric_name,
                        "MetricValue": "1",
                        "Dimensions": [{"Key": ids.METRIC_DIMENSION_API_ID, "Value": "$.apiId"}],
                    }
                ],
            },
        )
    # The access log writes the status as a string, which is what the filters compare with.
    assert C.ACCESS_LOG_FIELDS["status"] == "$context.status"
    assert C.ACCESS_LOG_FIELDS["apiId"] == "$context.apiId"


def test_stream_alarms(synth: Synth) -> None:
    threshold_ms = synth.config.alarms.iterator_age_seconds * 1000
    for alarm_id, function in (
        (ids.ALARM_CONSUMER_ITERATOR_AGE, synth.stack.audit.consumer),
        (ids.ALARM_ROLE_EVENTS_ITERATOR_AGE, synth.stack.role_events.function),
    ):
        props = alarm(synth, alarm_id)
        assert (props["MetricName"], props["Statistic"], props["Threshold"]) == (
            "IteratorAge",
            "Maximum",
            threshold_ms,
        )
        assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": synth.logical_id(function)}}]
    for alarm_id, queue in (
        (ids.ALARM_AUDIT_DEAD_LETTERS, synth.stack.audit.dead_letters),
        (ids.ALARM_ROLE_EVENTS_DEAD_LETTERS, synth.stack.role_events.dead_letters),
    ):
        props = alarm(synth, alarm_id)
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [synth.logical_id(queue), "QueueName"]}}
        ]


def test_dashboard_exists(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_failed_cache_flush_alarms_on_the_role_events_metric(synth: Synth) -> None:
    props = alarm(synth, ids.ALARM_CACHE_FLUSH_FAILED)
    assert props["Namespace"] == "EdgeAuth"
    assert props["MetricName"] == "AuthorizerCacheFlushFailed"
    assert props["Dimensions"] == [{"Name": "service", "Value": "edgeauth-role-events"}]
    assert props["Threshold"] == 1


def test_audit_subscription_delivery_alarms_sum_both_source_groups_filters(synth: Synth) -> None:
    from infra.constructs.audit_pipeline import SUBSCRIPTION_FILTER_NAME
    from infra.constructs.monitoring import SUBSCRIPTION_DESTINATION_TYPE

    settings = synth.config.alarms
    groups = [
        {"Ref": synth.logical_id(synth.stack.authorizer.log_group)},
        {"Ref": synth.logical_id(synth.stack.api.access_log_group)},
    ]
    for alarm_id, metric_name, threshold in (
        (ids.ALARM_AUDIT_DELIVERY_ERRORS, "DeliveryErrors", settings.audit_delivery_errors),
        (ids.ALARM_AUDIT_DELIVERY_THROTTLING, "DeliveryThrottling", settings.audit_delivery_throttling),
    ):
        props = alarm(synth, alarm_id)
        assert (
            props["Threshold"] == threshold and props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        )
        stats = [m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m]
        assert {(s["Metric"]["Namespace"], s["Metric"]["MetricName"], s["Stat"]) for s in stats} == {
            ("AWS/Logs", metric_name, "Sum")
        }
        dims = [{d["Name"]: d["Value"] for d in s["Metric"]["Dimensions"]} for s in stats]
        assert sorted(map(str, (d["LogGroupName"] for d in dims))) == sorted(map(str, groups))
        assert {d["FilterName"] for d in dims} == {SUBSCRIPTION_FILTER_NAME}
        assert {d["DestinationType"] for d in dims} == {SUBSCRIPTION_DESTINATION_TYPE}
        (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
        assert expression.count("FILL(") == 2
        assert props["AlarmDescription"].endswith(f"Runbook: {RUNBOOK}#{alarm_id.lower()}")


def test_audit_consumer_write_throttling_alarm(synth: Synth) -> None:
    props = alarm(synth, ids.ALARM_AUDIT_WRITE_THROTTLED)
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        C.METRICS_NAMESPACE,
        C.METRIC_AUDIT_WRITE_THROTTLED,
        "Sum",
    )
    assert props["Dimensions"] == [{"Name": "service", "Value": C.AUDIT_CONSUMER_SERVICE}]
    assert props["Threshold"] == synth.config.alarms.audit_write_throttles
    assert props["AlarmDescription"].endswith(f"Runbook: {RUNBOOK}#{ids.ALARM_AUDIT_WRITE_THROTTLED.lower()}")
