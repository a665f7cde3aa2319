"""infra.config: the settings of a stage are validated at synth, with messages naming the setting."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import load_settings
from infra.application import cdk_json_context
from infra.config import LOG_RETENTION_DAYS, BackendAuth, load_config
from infra.constructs.retention import _RETENTION


def valid_stage() -> dict[str, Any]:
    """A deployable stage: real-looking hosts (a host under example.com is a placeholder outside
    the dev stage) and a notification target for its alarms."""
    return {
        "issuers": [
            {
                "issuer": "https://idp.acme-bank.net/",
                "jwks_uri": "https://idp.acme-bank.net/jwks.json",
                "audiences": ["api"],
            }
        ],
        "backend_url": "https://backend.acme-bank.net/",
        "usage_tiers": {"standard": {"rate": 10, "burst": 20}},
        "default_tier": "standard",
        "alarm_emails": ["oncall@acme-bank.net"],
    }


def context(stage: dict[str, Any], name: str = "prod") -> dict[str, Any]:
    return {"edgeauth": {"stages": {name: stage}}, "stage": name}


def error_of(stage: dict[str, Any], name: str = "prod") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(context(stage, name))
    return str(info.value)


def test_minimal_stage_gets_secure_defaults() -> None:
    # GIVEN only the required settings WHEN loaded
    config = load_config(context(valid_stage()))
    # THEN defaults apply and the trailing slash of the backend is dropped
    assert config.stack_name == "EdgeAuth-prod"
    assert config.authorizer_cache_ttl == 300
    assert config.role_cache_ttl == 30
    assert config.revocation_check_seconds == 2
    assert config.backend_url == "https://backend.acme-bank.net"
    assert [(r.method, r.path) for r in config.routes] == [("ANY", "/"), ("ANY", "/{proxy+}")]
    assert not config.local_only
    # Outside dev the backend gets the stage's client certificate unless the stage says otherwise.
    assert config.backend_auth == BackendAuth("client_certificate")
    assert config.waf_acl_arn is None and config.authorizer_reserved_concurrency is None
    # the audit pipeline's: half-price audit log class, a week of stream, the compact access log
    assert config.audit_log_class == "INFREQUENT_ACCESS"
    assert config.audit_stream_retention_hours == 168
    assert config.access_log_format == "compact"


def test_issuers_env_is_what_the_authorizer_accepts() -> None:
    config = load_config(context(valid_stage()))
    settings = load_settings({"EDGEAUTH_ISSUERS": config.issuers_env, "EDGEAUTH_ROLE_TABLE": "t"})
    assert [i.issuer for i in settings.issuers] == ["https://idp.acme-bank.net/"]


def test_cdk_json_dev_stage_is_valid_and_local() -> None:
    config = load_config(cdk_json_context(), "dev")
    assert config.local_only
    assert config.backend_auth == BackendAuth("none")
    assert config.alarms.topic_arn is None and config.alarms.emails == ()


def test_cdk_json_prod_stage_is_refused_until_its_placeholders_are_filled() -> None:
    # (tests/infra/test_deploy.py fills them and synthesizes it.)
    with pytest.raises(ConfigError, match=r"^edgeauth.stages.prod.issuers\[0\].issuer: .* is a placeholder"):
        load_config(cdk_json_context(), "prod")


def test_routes_become_methods_with_path_variables() -> None:
    stage = valid_stage() | {"routes": ["GET /accounts/{id}", "/admin", "* /files/{path+}"]}
    routes = {(r.method, r.path): r for r in load_config(context(stage)).routes}
    assert routes[("GET", "/accounts/{id}")].path_variables == ("id",)
    assert ("ANY", "/admin") in routes
    files = routes[("ANY", "/files/{path+}")]
    assert files.path_variables == ("path",)
    assert files.integration_path == "/files/{path}"


def mutate(path: str, value: Any) -> dict[str, Any]:
    """A valid stage with the setting at dotted ``path`` replaced (``value`` ``...`` deletes it)."""
    stage = valid_stage()
    node: Any = stage
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[parts[-1]]
    else:
        node[parts[-1]] = copy.deepcopy(value)
    return stage


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("issuers", ..., "edgeauth.stages.prod.issuers: is required"),
        ("issuers", [], "edgeauth.stages.prod.issuers: must be a non-empty list"),
        ("issuers.0.issuer", ..., "edgeauth.stages.prod.issuers[0].issuer: is required"),
        (
            "issuers.0.jwks_uri",
            "http://idp.example.com/jwks.json",
            "edgeauth.stages.prod.issuers[0].jwks_uri: must use https",
        ),
        (
            "issuers.0.algorithms",
            ["HS256"],
            "edgeauth.stages.prod.issuers[0].algorithms: 'HS256' is not accepted",
        ),
        (
            "issuers.0.audience",
            "api",
            "edgeauth.stages.prod.issuers[0].audience: is not a known issuer setting",
        ),
        (
            "authorizer_cache_ttl",
            3601,
            "edgeauth.stages.prod.authorizer_cache_ttl: must be between 0 and 3600",
        ),
        ("authorizer_cache_ttl", "300", "edgeauth.stages.prod.authorizer_cache_ttl: must be an integer"),
        ("role_cache_ttl", 61, "edgeauth.stages.prod.role_cache_ttl: must be between 0 and 60"),
        (
            "revocation_check_seconds",
            0,
            "edgeauth.stages.prod.revocation_check_seconds: must be between 1 and 10",
        ),
        (
            "revocation_check_seconds",
            1.5,
            "edgeauth.stages.prod.revocation_check_seconds: must be an integer",
        ),
        ("usage_tiers.standard.rate", ..., "edgeauth.stages.prod.usage_tiers.standard.rate: is required"),
        ("usage_tiers.standard.rate", 0, "edgeauth.stages.prod.usage_tiers.standard.rate: must be a number"),
        ("usage_tiers.standard.burst", ..., "edgeauth.stages.prod.usage_tiers.standard.burst: is required"),
        (
            "usage_tiers.standard.quota",
            {"limit": 10, "period": "YEAR"},
            "edgeauth.stages.prod.usage_tiers.standard.quota.period: must be one of DAY, WEEK, MONTH",
        ),
        (
            "usage_tiers.standard.ratelimit",
            5,
            "edgeauth.stages.prod.usage_tiers.standard.ratelimit: is not a known",
        ),
        ("usage_tiers", {}, "edgeauth.stages.prod.usage_tiers: must define at least one tier"),
        (
            "usage_tiers.Gold",
            {"rate": 1, "burst": 1},
            "edgeauth.stages.prod.usage_tiers.Gold: tier names must",
        ),
        ("default_tier", "gold", "edgeauth.stages.prod.default_tier: must name one of usage_tiers"),
        ("backend_url", "http://backend.example.com", "edgeauth.stages.prod.backend_url: must use https"),
        (
            "backend_url",
            "https://u:p@backend.example.com",
            "edgeauth.stages.prod.backend_url: must not contain",
        ),
        (
            "backend_url",
            "https://backend.example.com/?a=1",
            "edgeauth.stages.prod.backend_url: must not have a query",
        ),
        ("routes", ["FETCH /a"], "edgeauth.stages.prod.routes[0]: unknown method 'FETCH'"),
        ("routes", ["GET accounts"], "edgeauth.stages.prod.routes[0]: resource template must start with '/'"),
        ("routes", ["GET /a", "GET /a"], "edgeauth.stages.prod.routes[1]: duplicate route GET /a"),
        (
            "routes",
            ["/{proxy+}"],
            "edgeauth.stages.prod.routes[0]: duplicate route ANY /{proxy+} (always created)",
        ),
        ("routes", ["GET /{id}"], "edgeauth.stages.prod.routes[0]: '/{id}' puts {id} beside {proxy+}"),
        (
            "routes",
            ["GET /a/{id}", "GET /a/{key}/b"],
            "edgeauth.stages.prod.routes[1]: '/a/{key}/b' puts {key} beside {id}",
        ),
        (
            "log_retention_days",
            10,
            "edgeauth.stages.prod.log_retention_days: must be a retention CloudWatch Logs offers",
        ),
        ("throttling", {"rate": 10}, "edgeauth.stages.prod.throttling.burst: is required"),
        ("log_level", "TRACE", "edgeauth.stages.prod.log_level: must be one of"),
        (
            "alarms",
            {"period_seconds": 90},
            "edgeauth.stages.prod.alarms.period_seconds: must be a multiple of 60",
        ),
        (
            "alarm_topic_arn",
            "arn:aws:sqs:x",
            "edgeauth.stages.prod.alarm_topic_arn: must be an SNS topic ARN",
        ),
        (
            "alarms",
            {"topic_arn": "arn:aws:sns:eu-west-1:210987654321:oncall"},
            "edgeauth.stages.prod.alarms.topic_arn: moved to the stage setting 'alarm_topic_arn'",
        ),
        (
            "alarms",
            {"authorizer_errors": 1},
            "edgeauth.stages.prod.alarms.authorizer_errors: renamed 'authorizer_faults'",
        ),
        (
            "alarms",
            {"authorizer_faults": 0},
            "edgeauth.stages.prod.alarms.authorizer_faults: must be between 1",
        ),
        ("alarm_emails", [], "edgeauth.stages.prod.alarm_emails: must be a non-empty list"),
        ("alarm_emails", ["oncall"], "edgeauth.stages.prod.alarm_emails[0]: must be an email address"),
        (
            "alarm_emails",
            ["a@acme-bank.net", "A@acme-bank.net"],
            "edgeauth.stages.prod.alarm_emails[1]: duplicate address",
        ),
        (
            "backend_auth",
            "mtls",
            "edgeauth.stages.prod.backend_auth.mode: must be one of none, client_certificate",
        ),
        ("backend_auth", {"nlb_arn": "x"}, "edgeauth.stages.prod.backend_auth.mode: is required"),
        (
            "backend_auth",
            {"mode": "private"},
            "edgeauth.stages.prod.backend_auth.nlb_arn: mode 'private' needs",
        ),
        (
            "backend_auth",
            {
                "mode": "private",
                "nlb_arn": "arn:aws:elasticloadbalancing:eu-west-1:210987654321:loadbalancer/app/a/0123456789abcdef",
            },
            "edgeauth.stages.prod.backend_auth.nlb_arn: must be a network load balancer ARN",
        ),
        (
            "backend_auth",
            {
                "mode": "private",
                "nlb_arn": "arn:aws:elasticloadbalancing:eu-west-1:210987654321:loadbalancer/net/a/0123456789abcdef",
                "vpc_link_id": "abc123",
            },
            "edgeauth.stages.prod.backend_auth.nlb_arn: mode 'private' needs exactly one",
        ),
        (
            "backend_auth",
            {"mode": "client_certificate", "vpc_link_id": "abc123"},
            "edgeauth.stages.prod.backend_auth.vpc_link_id: applies only to mode 'private'",
        ),
        (
            "backend_auth",
            {"mode": "private", "vpc_link_id": "ABC 1"},
            "edgeauth.stages.prod.backend_auth.vpc_link_id: must be",
        ),
        (
            "backend_auth",
            {"mode": "none", "tls": True},
            "edgeauth.stages.prod.backend_auth.tls: is not a known setting",
        ),
        (
            "backend_auth",
            {"mode": "client_certificate", "generation": 0},
            "edgeauth.stages.prod.backend_auth.generation: must be between 1",
        ),
        (
            "backend_auth",
            {"mode": "client_certificate", "prepare_next": "yes"},
            "edgeauth.stages.prod.backend_auth.prepare_next: must be true or false",
        ),
        (
            "backend_auth",
            {"mode": "none", "generation": 2},
            "edgeauth.stages.prod.backend_auth.generation: applies only to mode 'client_certificate'",
        ),
        ("waf_acl_arn", "arn:aws:waf::x", "edgeauth.stages.prod.waf_acl_arn: must be a WAFv2 web ACL ARN"),
        (
            "waf_acl_arn",
            "arn:aws:wafv2:us-east-1:210987654321:global/webacl/edge/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "edgeauth.stages.prod.waf_acl_arn: must be a REGIONAL web ACL",
        ),
        (
            "authorizer_reserved_concurrency",
            0,
            "edgeauth.stages.prod.authorizer_reserved_concurrency: must be between 1",
        ),
        (
            "authorizer_reserved_concurrency",
            True,
            "edgeauth.stages.prod.authorizer_reserved_concurrency: must be an integer",
        ),
        ("alarms", {"p99": 1}, "edgeauth.stages.prod.alarms.p99: is not a known setting"),
        ("authorizer_ttl", 30, "edgeauth.stages.prod.authorizer_ttl: is not a known setting"),
        ("audit_log_class", "DELIVERY", "edgeauth.stages.prod.audit_log_class: must be one of"),
        (
            "audit_stream_retention_hours",
            24,
            "edgeauth.stages.prod.audit_stream_retention_hours: must be between 168 and 8760",
        ),
        ("access_log_format", "clf", "edgeauth.stages.prod.access_log_format: must be one of"),
        (
            "alarms",
            {"audit_write_throttles": 0},
            "edgeauth.stages.prod.alarms.audit_write_throttles: must be",
        ),
    ],
)
def test_invalid_setting_fails_with_its_name(path: str, value: Any, message: str) -> None:
    assert error_of(mutate(path, value)).startswith(message)


def test_http_key_url_is_allowed_on_loopback_only() -> None:
    stage = mutate("issuers.0.jwks_uri", "http://127.0.0.1:8081/jwks.json")
    stage["backend_url"] = "http://localhost:8082"
    assert load_config(context(stage, "dev"), "dev").local_only


# --- What a stage other than dev must get right before it is deployed ------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "issuers.0.issuer",
            "https://idp.example.com/",
            "issuers[0].issuer: 'https://idp.example.com/' is a placeholder",
        ),
        (
            "issuers.0.issuer",
            "http://127.0.0.1:8081/",
            "issuers[0].issuer: 'http://127.0.0.1:8081/' is a loopback address",
        ),
        (
            "issuers.0.issuer",
            "https://login.example.org/tenant/",
            "issuers[0].issuer: 'https://login.example.org/tenant/' is a placeholder",
        ),
        (
            "issuers.0.jwks_uri",
            "https://keys.example.net/jwks.json",
            "issuers[0].jwks_uri: 'https://keys.example.net/jwks.json' is a placeholder",
        ),
        (
            "issuers.0.jwks_uri",
            "http://localhost:8081/jwks.json",
            "issuers[0].jwks_uri: 'http://localhost:8081/jwks.json' is a loopback",
        ),
        (
            "issuers.0.jwks_uri",
            "https://idp.corp.test/jwks.json",
            "issuers[0].jwks_uri: 'https://idp.corp.test/jwks.json' is a placeholder (.test",
        ),
        (
            "issuers.0.audiences",
            ["api", "https://api.example.com"],
            "issuers[0].audiences[1]: 'https://api.example.com' is a placeholder",
        ),
        (
            "backend_url",
            "https://backend.example.com",
            "backend_url: 'https://backend.example.com' is a placeholder",
        ),
        (
            "backend_url",
            "https://127.0.0.1:8443",
            "backend_url: 'https://127.0.0.1:8443' is a loopback address",
        ),
        ("backend_url", "https://[::1]:8443", "backend_url: 'https://[::1]:8443' is a loopback address"),
        (
            "backend_url",
            "https://api.localhost",
            "backend_url: 'https://api.localhost' is a loopback address",
        ),
        ("backend_url", "https://0.0.0.0", "backend_url: 'https://0.0.0.0' is a loopback address"),
        ("backend_url", "https://10.0.3.7", "backend_url: 'https://10.0.3.7' is a private address"),
        (
            "backend_url",
            "https://169.254.169.254",
            "backend_url: 'https://169.254.169.254' is a link-local address",
        ),
        # A plain-http loopback backend: the loopback is what is wrong (not backend_auth's https).
        (
            "backend_url",
            "http://127.0.0.1:8082",
            "backend_url: 'http://127.0.0.1:8082' is a loopback address",
        ),
        (
            "issuers.0.jwks_uri",
            "https://192.168.1.20/jwks.json",
            "issuers[0].jwks_uri: 'https://192.168.1.20/jwks.json' is a private address",
        ),
        ("alarm_emails", ["oncall@example.com"], "alarm_emails[0]: 'oncall@example.com' is a placeholder"),
        ("alarm_emails", ..., "alarm_topic_arn: is required outside the dev stage"),
    ],
)
def test_a_deployed_stage_refuses_placeholder_and_loopback_settings(
    path: str, value: Any, message: str
) -> None:
    assert error_of(mutate(path, value)).startswith(f"edgeauth.stages.prod.{message}")


def test_the_dev_stage_may_use_loopback_and_placeholder_hosts_and_no_alarm_target() -> None:
    stage = mutate("issuers.0.issuer", "http://127.0.0.1:8081/")
    stage["issuers"][0]["jwks_uri"] = "https://idp.example.com/jwks.json"
    stage["backend_url"] = "http://127.0.0.1:8082"
    del stage["alarm_emails"]
    config = load_config(context(stage, "dev"), "dev")
    assert config.backend_auth == BackendAuth("none")  # the local stack's plain-http backend
    assert config.alarms.topic_arn is None and config.alarms.emails == ()


def test_the_alarm_target_is_a_topic_or_emails_not_both() -> None:
    topic = "arn:aws:sns:eu-west-1:210987654321:oncall"
    stage = mutate("alarm_emails", ...)
    stage["alarm_topic_arn"] = topic
    assert load_config(context(stage)).alarms.topic_arn == topic
    stage["alarm_emails"] = ["oncall@acme-bank.net"]
    assert error_of(stage).startswith(
        "edgeauth.stages.prod.alarm_emails: set alarm_topic_arn or alarm_emails, not both"
    )
    del stage["alarm_emails"]
    stage["alarm_topic_arn"] = "arn:aws:sns:us-east-1:123456789012:alarms"
    assert error_of(stage).startswith(
        "edgeauth.stages.prod.alarm_topic_arn: 'arn:aws:sns:us-east-1:123456789012:alarms' names a placeholder account"
    )


def test_backend_auth_modes() -> None:
    nlb = "arn:aws:elasticloadbalancing:eu-west-1:210987654321:loadbalancer/net/backend/0123456789abcdef"
    for raw, expected in (
        ("client_certificate", BackendAuth("client_certificate")),
        (
            {"mode": "client_certificate", "generation": 3, "prepare_next": True},
            BackendAuth("client_certificate", generation=3, prepare_next=True),
        ),
        ({"mode": "client_certificate"}, BackendAuth("client_certificate")),
        ({"mode": "private", "nlb_arn": nlb}, BackendAuth("private", nlb_arn=nlb)),
        ({"mode": "private", "vpc_link_id": "a1b2c3"}, BackendAuth("private", vpc_link_id="a1b2c3")),
        ("none", BackendAuth("none")),
    ):
        assert load_config(context(mutate("backend_auth", raw))).backend_auth == expected
    # Behind a VPC link the backend URL may name a private address (the link reaches it).
    stage = mutate("backend_auth", {"mode": "private", "nlb_arn": nlb})
    stage["backend_url"] = "https://10.0.3.7"
    assert load_config(context(stage)).backend_url == "https://10.0.3.7"
    stage["backend_auth"]["nlb_arn"] = nlb.replace("210987654321", "123456789012")
    assert error_of(stage).startswith("edgeauth.stages.prod.backend_auth.nlb_arn: ")
    assert "placeholder account" in error_of(stage)


def test_client_certificate_needs_an_https_backend_even_in_dev() -> None:
    stage = mutate("backend_url", "http://127.0.0.1:8082")
    stage["backend_auth"] = "client_certificate"
    with pytest.raises(
        ConfigError, match=r"^edgeauth.stages.dev.backend_auth.mode: 'client_certificate' needs an https"
    ):
        load_config(context(stage, "dev"), "dev")


def test_waf_acl_and_reserved_concurrency() -> None:
    acl = "arn:aws:wafv2:eu-west-1:210987654321:regional/webacl/api/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    stage = mutate("waf_acl_arn", acl)
    stage["authorizer_reserved_concurrency"] = 50
    config = load_config(context(stage))
    assert (config.waf_acl_arn, config.authorizer_reserved_concurrency) == (acl, 50)


def test_oversized_issuers_fail_before_lambda_would() -> None:
    issuer = valid_stage()["issuers"][0]
    stage = mutate("issuers", [issuer | {"issuer": f"https://idp{i}.example.com/"} for i in range(40)])
    assert "edgeauth.stages.prod.issuers: serialise to" in error_of(stage)


def test_unknown_stage_lists_the_defined_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"^stage: unknown stage 'qa'; edgeauth.stages defines: prod"
    ) as info:
        load_config(context(valid_stage()), "qa")
    assert "infra/stage-template.json" in str(info.value)


def test_stage_name_must_suit_stack_and_api_stage_names() -> None:
    assert error_of(valid_stage(), name="Prod_1").startswith("edgeauth.stages.Prod_1: stage names must match")


def test_unknown_top_level_key_and_missing_root() -> None:
    with pytest.raises(ConfigError, match=r"^edgeauth.stage: is not a known setting"):
        load_config({"edgeauth": {"stages": {"prod": valid_stage()}, "stage": {}}}, "prod")
    with pytest.raises(ConfigError, match=r"^edgeauth: is missing"):
        load_config({}, "prod")


def test_config_error_is_one_line() -> None:
    # app.py prints it on stderr as the whole diagnosis.
    assert "\n" not in error_of(mutate("authorizer_cache_ttl", 3601))


def test_retention_enum_covers_exactly_the_accepted_values() -> None:
    assert set(_RETENTION) == LOG_RETENTION_DAYS
