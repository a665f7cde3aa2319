"""Api: every method behind the REQUEST authorizer with a usage key, JSON logs and JSON errors."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from edgeauth import constants as C
from infra.constructs.api import ERROR_BODY, GATEWAY_RESPONSES
from tests.infra.conftest import Synth


def methods(synth: Synth) -> dict[str, dict[str, Any]]:
    return synth.resources("AWS::ApiGateway::Method")


def test_regional_api_takes_the_usage_key_from_the_authorizer(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"ApiKeySourceType": "AUTHORIZER", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )


def test_request_authorizer_is_keyed_on_token_and_route(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::ApiGateway::Authorizer", 1)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": ",".join(C.IDENTITY_SOURCES),
            "AuthorizerResultTtlInSeconds": synth.config.authorizer_cache_ttl,
            "AuthorizerUri": Match.any_value(),
        },
    )


def test_every_method_needs_the_authorizer_and_a_usage_key(synth: Synth) -> None:
    authorizer_id = synth.logical_id(synth.stack.api.authorizer)
    all_methods = methods(synth)
    assert len(all_methods) == len(synth.config.routes)
    for name, method in all_methods.items():
        props = method["Properties"]
        assert props["AuthorizationType"] == "CUSTOM", name
        assert props["AuthorizerId"] == {"Ref": authorizer_id}, name
        assert props["ApiKeyRequired"] is True, name


def test_each_route_is_an_http_proxy_to_the_backend(synth: Synth) -> None:
    by_method_and_uri = {
        (m["Properties"]["HttpMethod"], m["Properties"]["Integration"]["Uri"]): m["Properties"]
        for m in methods(synth).values()
    }
    backend = synth.config.backend_url
    for route in synth.config.routes:
        props = by_method_and_uri[(route.method, backend + route.integration_path)]
        integration = props["Integration"]
        assert integration["Type"] == "HTTP_PROXY"
        assert integration["IntegrationHttpMethod"] == route.method
        for name in route.path_variables:
            assert props["RequestParameters"][f"method.request.path.{name}"] is True
            assert (
                integration["RequestParameters"][f"integration.request.path.{name}"]
                == f"method.request.path.{name}"
            )


def test_the_backend_receives_the_authorizers_answer_as_headers(synth: Synth) -> None:
    for name, method in methods(synth).items():
        params = method["Properties"]["Integration"]["RequestParameters"]
        for header, source in C.BACKEND_HEADERS.items():
            assert params[f"integration.request.header.{header}"] == source, name
    assert C.BACKEND_HEADERS["X-Edgeauth-Sub"] == "context.authorizer.sub"


def test_root_and_greedy_proxy_always_exist(synth: Synth) -> None:
    uris = {
        (m["Properties"]["HttpMethod"], m["Properties"]["Integration"]["Uri"])
        for m in methods(synth).values()
    }
    backend = synth.config.backend_url
    assert ("ANY", backend + "/") in uris
    assert ("ANY", backend + "/{proxy}") in uris
    synth.template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{proxy+}"})


def test_stage_logs_json_traces_and_throttles_without_data_trace(synth: Synth) -> None:
    throttling = synth.config.throttling
    access_logs_id = synth.logical_id(synth.stack.api.access_log_group)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": synth.config.stage,
            "TracingEnabled": True,
            "AccessLogSetting": {
                "Format": C.ACCESS_LOG_FORMATS[synth.config.access_log_format],
                "DestinationArn": Match.object_like(
                    {"Fn::Join": ["", Match.array_with([{"Ref": access_logs_id}])]}
                ),
            },
            "MethodSettings": [
                {
                    "HttpMethod": "*",
                    "ResourcePath": "/*",
                    "DataTraceEnabled": False,
                    "LoggingLevel": "ERROR",
                    "MetricsEnabled": False,
                    "ThrottlingRateLimit": throttling.rate,
                    "ThrottlingBurstLimit": throttling.burst,
                }
            ],
        },
    )


def test_access_log_has_principal_decision_context_and_usage_key(synth: Synth) -> None:
    fields = C.ACCESS_LOG_FIELDS
    assert fields["principalId"] == "$context.authorizer.principalId"
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"
    assert {"sub", "iss", "roles", "authorizerStatus"} <= set(fields)


def test_access_log_group_has_retention(synth: Synth) -> None:
    log_group = synth.resource(synth.stack.api.access_log_group)
    assert log_group["Properties"]["RetentionInDays"] == synth.config.log_retention_days
    assert log_group["DeletionPolicy"] == "Retain"


def test_gateway_responses_are_json(synth: Synth) -> None:
    responses = synth.resources("AWS::ApiGateway::GatewayResponse")
    types = {r["Properties"]["ResponseType"] for r in responses.values()}
    assert types == {t.response_type for t in GATEWAY_RESPONSES}
    assert {
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "THROTTLED",
        "QUOTA_EXCEEDED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= types
    for response in responses.values():
        assert response["Properties"]["ResponseTemplates"] == {"application/json": ERROR_BODY}
    # The template renders to JSON once API Gateway substitutes its (JSON-quoted) message string.
    rendered = ERROR_BODY.replace("$context.error.messageString", '"Unauthorized"').replace(
        "$context.requestId", "abc"
    )
    assert json.loads(rendered) == {"message": "Unauthorized", "requestId": "abc"}


def test_401_names_the_bearer_scheme(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse",
        {
            "ResponseType": "UNAUTHORIZED",
            "ResponseParameters": {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"},
        },
    )
    others = [
        r
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] != "UNAUTHORIZED"
    ]
    assert all("ResponseParameters" not in r["Properties"] for r in others)
