"""infra.config: the settings of a stage are validated at synth, with messages naming the setting."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edgeauth.core.errors import ConfigError
from edgeauth.core.settings import load_settings
from infra.application import cdk_json_context
from infra.config import LOG_RETENTION_DAYS, load_config
from infra.constructs.retention import _RETENTION


def valid_stage() -> dict[str, Any]:
    return {
        "issuers": [
            {
                "issuer": "https://idp.example.com/",
                "jwks_uri": "https://idp.example.com/jwks.json",
                "audiences": ["api"],
            }
        ],
        "backend_url": "https://backend.example.com/",
        "usage_tiers": {"standard": {"rate": 10, "burst": 20}},
        "default_tier": "standard",
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
    assert config.backend_url == "https://backend.example.com"
    assert [(r.method, r.path) for r in config.routes] == [("ANY", "/"), ("ANY", "/{proxy+}")]
    assert not config.local_only
    # the audit pipeline's: half-price audit log class, a week of stream, the compact access log
    assert config.audit_log_class == "INFREQUENT_ACCESS"
    assert config.audit_stream_retention_hours == 168
    assert config.access_log_format == "compact"


def test_issuers_env_is_what_the_authorizer_accepts() -> None:
    config = load_config(context(valid_stage()))
    settings = load_settings({"EDGEAUTH_ISSUERS": config.issuers_env, "EDGEAUTH_ROLE_TABLE": "t"})
    assert [i.issuer for i in settings.issuers] == ["https://idp.example.com/"]


def test_every_stage_in_cdk_json_is_valid() -> None:
    raw = cdk_json_context()
    for name in raw["edgeauth"]["stages"]:
        assert load_config(raw, name).stage == name


def test_cdk_json_dev_stage_is_local_and_prod_is_not() -> None:
    raw = cdk_json_context()
    assert load_config(raw, "dev").local_only
    assert not load_config(raw, "prod").local_only


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
            "alarms",
            {"topic_arn": "arn:aws:sqs:x"},
            "edgeauth.stages.prod.alarms.topic_arn: must be an SNS topic ARN",
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
    assert load_config(context(stage)).local_only


def test_oversized_issuers_fail_before_lambda_would() -> None:
    issuer = valid_stage()["issuers"][0]
    stage = mutate("issuers", [issuer | {"issuer": f"https://idp{i}.example.com/"} for i in range(40)])
    assert "edgeauth.stages.prod.issuers: serialise to" in error_of(stage)


def test_unknown_stage_lists_the_defined_ones() -> None:
    with pytest.raises(ConfigError, match=r"^stage: unknown stage 'qa'; edgeauth.stages defines: prod"):
        load_config(context(valid_stage()), "qa")


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
