"""A stage other than dev, as a platform team deploys it: the stage template, each deploy setting in
the synthesized template, and the refusals (app.py's one-line error naming the setting, exit 2).

Extra synths of a ``prod`` stage made from ``infra/stage-template.json`` with its placeholders
filled (bundling skipped: the session synth builds and checks the same asset):

* ``template_synth``: the template as written (``backend_auth`` ``client_certificate``,
  ``alarm_emails``), cdk-nag on;
* ``private_synth``: ``backend_auth`` ``private`` with ``nlb_arn``, ``alarm_topic_arn``,
  ``waf_acl_arn`` and ``authorizer_reserved_concurrency``, cdk-nag on;
* ``none_synth``: ``backend_auth`` ``none`` through an existing VPC link is impossible, so the two
  cheaper cases (``none``, ``vpc_link_id``) build their stacks without cdk-nag.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from edgeauth import constants as C
from infra import constants as ids
from infra.application import CDK_JSON, cdk_json_context, create_app
from infra.constructs.api import EXECUTION_LOG_GROUP_PREFIX
from infra.constructs.audit_pipeline import CONSUMER_STREAM_ACTIONS
from tests.infra.conftest import Synth, actions, resources

REPO = CDK_JSON.parent
STAGE_TEMPLATE = REPO / "infra" / "stage-template.json"
NLB = "arn:aws:elasticloadbalancing:eu-west-1:210987654321:loadbalancer/net/backend/0123456789abcdef"
TOPIC = "arn:aws:sns:eu-west-1:210987654321:oncall"
WEB_ACL = "arn:aws:wafv2:eu-west-1:210987654321:regional/webacl/api/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
_PLACEHOLDER_HOST = re.compile(r"\b([a-z0-9-]+\.)*example\.com\b")


def filled(stage: dict[str, Any]) -> dict[str, Any]:
    """The stage with every example.com host replaced by a real-looking one (what a user does)."""
    text = json.dumps(stage)
    assert _PLACEHOLDER_HOST.search(text), "the stage template has no placeholder left to fill"
    return dict(
        json.loads(_PLACEHOLDER_HOST.sub(lambda m: m.group(0).replace("example.com", "acme-bank.net"), text))
    )


def stage_template() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(STAGE_TEMPLATE.read_text())
    return raw


def prod_context(stage: dict[str, Any]) -> dict[str, Any]:
    context = copy.deepcopy(cdk_json_context())
    context["edgeauth"]["stages"]["prod"] = stage
    context["stage"] = "prod"
    context["aws:cdk:bundling-stacks"] = []
    return context


def synth_stage(outdir: Path, stage: dict[str, Any], *, nag: bool = True) -> Synth:
    app, stack = create_app(prod_context(stage), outdir=str(outdir), nag=nag)
    try:
        app.synth()
        failure = None
    except RuntimeError as e:
        failure = str(e)
    template = json.loads((outdir / stack.template_file).read_text())
    return Synth(app, stack, Template.from_json(template), outdir, failure)


@pytest.fixture(scope="module")
def template_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    yield synth_stage(tmp_path_factory.mktemp("cdk.out.template"), filled(stage_template()))


@pytest.fixture(scope="module")
def private_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    stage = filled(stage_template())
    del stage["alarm_emails"]
    stage.update(
        backend_auth={"mode": "private", "nlb_arn": NLB},
        alarm_topic_arn=TOPIC,
        waf_acl_arn=WEB_ACL,
        authorizer_reserved_concurrency=50,
    )
    yield synth_stage(tmp_path_factory.mktemp("cdk.out.private"), stage)


def alarms(s: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in s.resources("AWS::CloudWatch::Alarm").values()]


def nag_findings(s: Synth) -> list[str]:
    report = json.loads((s.outdir / "validation-report.json").read_text())
    (plugin,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    return [v["ruleName"] for v in plugin["violations"]]


# --- The stage template ---------------------------------------------------------------------------


def test_the_stage_template_is_cdk_jsons_prod_stage() -> None:
    # One template: the file to copy for a new stage, and the prod stage to edit in place.
    assert cdk_json_context()["edgeauth"]["stages"]["prod"] == stage_template()


def test_the_template_synthesizes_clean_once_its_placeholders_are_filled(template_synth: Synth) -> None:
    assert template_synth.validation_failure is None
    assert nag_findings(template_synth) == []
    assert template_synth.config.stage == "prod"
    assert not template_synth.config.local_only
    warnings = [str(m.data) for m in template_synth.stack.node.metadata if m.type == "aws:cdk:warning"]
    assert warnings == []


def test_app_py_refuses_each_placeholder_of_the_template_naming_it(tmp_path: Path) -> None:
    # Fill all but one placeholder at a time: the synth stops with one line naming that setting.
    template = stage_template()
    text = json.dumps(template)
    settings = {
        "issuers[0].issuer": ("issuers", 0, "issuer"),
        "issuers[0].jwks_uri": ("issuers", 0, "jwks_uri"),
        "issuers[0].audiences[0]": ("issuers", 0, "audiences"),
        "backend_url": ("backend_url",),
        "alarm_emails[0]": ("alarm_emails",),
    }
    assert len(_PLACEHOLDER_HOST.findall(text)) == len(settings)
    for name, path in settings.items():
        stage = filled(template)
        node: Any = stage
        original: Any = template
        for key in path[:-1]:
            node, original = node[key], original[key]
        node[path[-1]] = copy.deepcopy(original[path[-1]])
        result = run_app(tmp_path, prod_context(stage))
        assert result.returncode == 2, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"edgeauth: invalid setting in cdk.json: edgeauth.stages.prod.{name}: "), (
            lines
        )
        assert "placeholder" in lines[0]


def run_app(tmp_path: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """``python app.py`` as the CDK CLI runs it (context in CDK_CONTEXT_JSON)."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        [sys.executable, str(REPO / "app.py")], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


def test_app_py_refuses_a_deployed_stage_without_an_alarm_target(tmp_path: Path) -> None:
    stage = filled(stage_template())
    del stage["alarm_emails"]
    result = run_app(tmp_path, prod_context(stage))
    assert result.returncode == 2
    assert result.stderr.startswith(
        "edgeauth: invalid setting in cdk.json: edgeauth.stages.prod.alarm_topic_arn: is required outside the dev stage"
    )


# --- Only the gateway reaches the backend ---------------------------------------------------------


def test_client_certificate_is_on_the_stage_and_output(template_synth: Synth) -> None:
    s = template_synth
    certificate = s.stack.api.client_certificate
    assert certificate is not None
    s.template.resource_count_is("AWS::ApiGateway::ClientCertificate", 1)
    stage = s.resource(s.stack.api.stage)["Properties"]
    assert stage["ClientCertificateId"] == {"Ref": s.logical_id(certificate)}
    outputs = s.template.to_json()["Outputs"]
    assert outputs[C.OUTPUT_CLIENT_CERTIFICATE_ID]["Value"] == {"Ref": s.logical_id(certificate)}
    s.template.resource_count_is("AWS::ApiGateway::VpcLink", 0)
    for method in s.resources("AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        assert integration["Uri"].startswith("https://")
        assert "ConnectionType" not in integration or integration["ConnectionType"] == "INTERNET"


def test_private_backend_goes_through_a_vpc_link_to_the_load_balancer(private_synth: Synth) -> None:
    s = private_synth
    assert s.validation_failure is None
    assert nag_findings(s) == []
    (link_id, link) = next(iter(s.resources("AWS::ApiGateway::VpcLink").items()))
    assert link["Properties"]["TargetArns"] == [NLB]
    methods = s.resources("AWS::ApiGateway::Method").values()
    assert methods
    for method in methods:
        integration = method["Properties"]["Integration"]
        assert integration["ConnectionType"] == "VPC_LINK"
        assert integration["ConnectionId"] == {"Ref": link_id}
    s.template.resource_count_is("AWS::ApiGateway::ClientCertificate", 0)
    assert "ClientCertificateId" not in s.resource(s.stack.api.stage)["Properties"]


def test_an_existing_vpc_link_is_used_as_is(tmp_path: Path) -> None:
    stage = filled(stage_template())
    stage["backend_auth"] = {"mode": "private", "vpc_link_id": "a1b2c3"}
    s = synth_stage(tmp_path, stage, nag=False)
    s.template.resource_count_is("AWS::ApiGateway::VpcLink", 0)
    for method in s.resources("AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        assert (integration["ConnectionType"], integration["ConnectionId"]) == ("VPC_LINK", "a1b2c3")


def test_backend_auth_none_outside_dev_synthesizes_with_a_warning(tmp_path: Path) -> None:
    stage = filled(stage_template())
    stage["backend_auth"] = "none"
    s = synth_stage(tmp_path, stage, nag=False)
    s.template.resource_count_is("AWS::ApiGateway::ClientCertificate", 0)
    s.template.resource_count_is("AWS::ApiGateway::VpcLink", 0)
    warnings = [str(m.data) for m in s.stack.node.metadata if m.type == "aws:cdk:warning"]
    assert any("backend_auth 'none'" in w and "X-Edgeauth-*" in w for w in warnings), warnings


def test_the_dev_stage_has_no_backend_auth_and_no_warning_about_it(synth: Synth) -> None:
    assert synth.config.backend_auth.mode == "none"
    synth.template.resource_count_is("AWS::ApiGateway::ClientCertificate", 0)
    warnings = [str(m.data) for m in synth.stack.node.metadata if m.type == "aws:cdk:warning"]
    assert not any("backend_auth" in w for w in warnings)


# --- Alarms notify someone -------------------------------------------------------------------------


def test_alarm_emails_subscribe_to_a_tls_only_topic_every_alarm_notifies(template_synth: Synth) -> None:
    s = template_synth
    (topic_id,) = s.resources("AWS::SNS::Topic")
    subscriptions = [r["Properties"] for r in s.resources("AWS::SNS::Subscription").values()]
    assert subscriptions == [
        {"Endpoint": e, "Protocol": "email", "TopicArn": {"Ref": topic_id}} for e in s.config.alarms.emails
    ]
    (policy,) = [p["Properties"] for p in s.resources("AWS::SNS::TopicPolicy").values()]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    assert len(alarms(s)) == len(s.stack.monitoring.alarms)
    for props in alarms(s):
        assert props["AlarmActions"] == [{"Ref": topic_id}], props["AlarmName"]
        assert props["OKActions"] == [{"Ref": topic_id}], props["AlarmName"]
    assert s.template.to_json()["Outputs"][C.OUTPUT_ALARM_TOPIC_ARN]["Value"] == {"Ref": topic_id}


def test_alarm_topic_arn_is_notified_by_every_alarm(private_synth: Synth) -> None:
    s = private_synth
    s.template.resource_count_is("AWS::SNS::Topic", 0)
    for props in alarms(s):
        assert props["AlarmActions"] == [TOPIC], props["AlarmName"]
        assert props["OKActions"] == [TOPIC], props["AlarmName"]
    assert s.template.to_json()["Outputs"][C.OUTPUT_ALARM_TOPIC_ARN]["Value"] == TOPIC


def test_prod_alarm_choices_follow_the_settings(template_synth: Synth) -> None:
    settings = template_synth.config.alarms
    faults = template_synth.resource(template_synth.stack.monitoring.alarms[ids.ALARM_AUTHORIZER_FAULTS])
    props = faults["Properties"]
    assert (props["MetricName"], props["Threshold"]) == (
        ids.METRIC_AUTHORIZER_FAULTS,
        settings.authorizer_faults,
    )
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (settings.evaluation_periods, 1)
    latency = template_synth.resource(template_synth.stack.monitoring.alarms[ids.ALARM_AUTHORIZER_LATENCY])
    assert latency["Properties"]["DatapointsToAlarm"] == settings.evaluation_periods == 2


# --- Other deploy settings -------------------------------------------------------------------------


def test_stage_arn_is_an_output(template_synth: Synth) -> None:
    s = template_synth
    value = s.template.to_json()["Outputs"][C.OUTPUT_STAGE_ARN]["Value"]
    api, stage = s.logical_id(s.stack.api.rest_api), s.logical_id(s.stack.api.stage)
    assert value == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:",
                {"Ref": "AWS::Region"},
                "::/restapis/",
                {"Ref": api},
                "/stages/",
                {"Ref": stage},
            ],
        ]
    }


def test_waf_acl_is_associated_with_the_stage(private_synth: Synth, template_synth: Synth) -> None:
    s = private_synth
    (association,) = [r["Properties"] for r in s.resources("AWS::WAFv2::WebACLAssociation").values()]
    assert association["WebACLArn"] == WEB_ACL
    assert association["ResourceArn"] == s.template.to_json()["Outputs"][C.OUTPUT_STAGE_ARN]["Value"]
    template_synth.template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)


def test_execution_log_group_is_created_before_the_stage_with_retention(template_synth: Synth) -> None:
    s = template_synth
    group = s.resource(s.stack.api.execution_log_group)
    assert group["Properties"]["RetentionInDays"] == s.config.log_retention_days
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Join": ["", [EXECUTION_LOG_GROUP_PREFIX, {"Ref": s.logical_id(s.stack.api.rest_api)}, "/prod"]]
    }
    assert group["DeletionPolicy"] == "Retain"
    assert s.logical_id(s.stack.api.execution_log_group) in s.resource(s.stack.api.stage)["DependsOn"]


def test_authorizer_reserved_concurrency(private_synth: Synth, template_synth: Synth) -> None:
    fn = private_synth.resource(private_synth.stack.authorizer.function)["Properties"]
    assert fn["ReservedConcurrentExecutions"] == 50
    unset = template_synth.resource(template_synth.stack.authorizer.function)["Properties"]
    assert "ReservedConcurrentExecutions" not in unset


def test_audit_consumer_may_not_use_enhanced_fan_out(template_synth: Synth) -> None:
    s = template_synth
    stream_arn = {"Fn::GetAtt": [s.logical_id(s.stack.audit.stream), "Arn"]}
    statements = s.policy_statements(s.stack.audit.consumer.role)  # type: ignore[arg-type]
    granted = {a for st in statements if stream_arn in resources(st) for a in actions(st)}
    assert granted == set(CONSUMER_STREAM_ACTIONS)
    every = {a for st in statements for a in actions(st)}
    assert not every & {"kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"}
    key = {"Fn::GetAtt": [s.logical_id(s.stack.audit.key), "Arn"]}
    assert {a for st in statements if key in resources(st) for a in actions(st)} == {"kms:Decrypt"}
    consumer = {"Ref": s.logical_id(s.stack.audit.consumer)}
    mappings = [m["Properties"] for m in s.resources("AWS::Lambda::EventSourceMapping").values()]
    assert [m["FunctionName"] for m in mappings if m["EventSourceArn"] == stream_arn] == [consumer]


def test_client_certificate_rotation_prepares_the_next_then_moves_the_stage_to_it(
    tmp_path: Path, template_synth: Synth
) -> None:
    first = template_synth.logical_id(template_synth.stack.api.client_certificate)  # type: ignore[arg-type]
    stage = filled(stage_template())
    # Step 1: the next certificate exists (and is output) while the stage still presents the first.
    stage["backend_auth"] = {"mode": "client_certificate", "prepare_next": True}
    s = synth_stage(tmp_path / "prepare", stage, nag=False)
    certificates = s.resources("AWS::ApiGateway::ClientCertificate")
    assert s.stack.api.next_client_certificate is not None
    second = s.logical_id(s.stack.api.next_client_certificate)
    assert set(certificates) == {first, second}
    assert s.resource(s.stack.api.stage)["Properties"]["ClientCertificateId"] == {"Ref": first}
    assert s.template.to_json()["Outputs"][C.OUTPUT_NEXT_CLIENT_CERTIFICATE_ID]["Value"] == {"Ref": second}
    # Step 2: generation 2 is the same resource, now presented; the first is gone.
    stage["backend_auth"] = {"mode": "client_certificate", "generation": 2}
    s = synth_stage(tmp_path / "move", stage, nag=False)
    assert set(s.resources("AWS::ApiGateway::ClientCertificate")) == {second}
    assert s.resource(s.stack.api.stage)["Properties"]["ClientCertificateId"] == {"Ref": second}
    assert C.OUTPUT_NEXT_CLIENT_CERTIFICATE_ID not in s.template.to_json()["Outputs"]
