"""Wire the authorizer's parts from the environment (used by the handler and the local gateway)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from edgeauth.adapters import jwks_fetcher
from edgeauth.adapters.dynamodb import client_factory
from edgeauth.adapters.role_store import RoleStore
from edgeauth.authorizer import Authorizer
from edgeauth.core.jwks import Fetch, JwksCache
from edgeauth.core.settings import Settings, describe_issuer, load_settings
from edgeauth.core.tokens import TokenVerifier

_logger: Any = None


def _powertools_logger() -> Any:
    """Powertools Logger, imported on first use only (it is not needed on the hot path)."""
    global _logger  # noqa: PLW0603 - one logger per container
    if _logger is None:
        from aws_lambda_powertools import Logger

        _logger = Logger()
    return _logger


def warn(message: str, extra: Mapping[str, Any]) -> None:
    _powertools_logger().warning(message, extra=dict(extra))


def record_jwks_fetch(issuer: str, ok: bool) -> None:
    """``JwksFetches`` by ``outcome`` for each JWKS fetch (rare: at most once per cooldown per issuer).

    One EMF line on stdout, written directly like the audit line: importing Powertools' metrics for
    it would cost the first request about 0.9 MB of peak memory. Powertools' Logger is imported only
    for the warning on failure.
    """
    from edgeauth.constants import AUTHORIZER_SERVICE, ENV_POWERTOOLS_SERVICE_NAME
    from edgeauth.core.audit_line import metric_line

    service = os.environ.get(ENV_POWERTOOLS_SERVICE_NAME) or AUTHORIZER_SERVICE
    outcome = {"outcome": "ok" if ok else "failed"}
    props = {"service": service, "iss": issuer}
    # One write with its newline (print() writes the newline separately): another thread's audit
    # line cannot land between them (the local gateway calls the authorizer from several threads).
    sys.stdout.write(metric_line("JwksFetches", 1, "Count", outcome, props, namespace=_namespace()) + "\n")
    if not ok:
        warn("JWKS fetch failed", {"iss": issuer})


def _namespace() -> str:
    from edgeauth.constants import ENV_POWERTOOLS_METRICS_NAMESPACE, METRICS_NAMESPACE

    return os.environ.get(ENV_POWERTOOLS_METRICS_NAMESPACE, METRICS_NAMESPACE)


def settings_line(settings: Settings, now: float | None = None) -> str:
    """The cold start's one ``INFO`` line, in the Powertools Logger shape: every issuer's settings
    as the verifier uses them, a provider preset expanded (:func:`describe_issuer`). What an
    operator reads to see what a preset turned into; it holds no secret (the settings have none)."""
    import json
    import time

    from edgeauth.constants import AUTHORIZER_SERVICE, ENV_POWERTOOLS_SERVICE_NAME

    ts = time.time() if now is None else now
    record = {
        "level": "INFO",
        "location": "edgeauth.bootstrap",
        "message": "issuer settings",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z",
        "service": os.environ.get(ENV_POWERTOOLS_SERVICE_NAME) or AUTHORIZER_SERVICE,
        "issuers": [describe_issuer(i) for i in settings.issuers],
    }
    return json.dumps(record, separators=(",", ":"))


def build_authorizer(
    env: Mapping[str, str],
    *,
    emit: Callable[[str], Any],
    fetch: Fetch = jwks_fetcher.fetch,
    dynamodb_client: Any = None,
    on_jwks_fetch: Callable[[str, bool], None] | None = record_jwks_fetch,
    time_left: Callable[[], float | None] | None = None,
    log: Callable[[str], Any] | None = print,
) -> Authorizer:
    """Validate ``env`` (raises ConfigError) and assemble an :class:`Authorizer`.

    ``emit`` is called with each audit line, without a newline (the handler's is
    :func:`edgeauth.adapters.stdout.line_writer`). Without ``dynamodb_client`` (boto3's or
    :class:`~edgeauth.adapters.dynamodb.DynamoDBClient`), the role and replay tables are read
    through a :class:`~edgeauth.adapters.dynamodb.DynamoDBClient` built on first use from ``env``
    (credentials, ``AWS_REGION``, ``EDGEAUTH_ENDPOINT_URL``, ``EDGEAUTH_DYNAMODB_TIMEOUT``);
    ``time_left`` tells it how long the invocation has left (the handler's
    :class:`~edgeauth.adapters.invocation.CurrentInvocation`). ``log``, unless ``None``, is called once with
    :func:`settings_line` (the handler's prints it to stdout, as its other log lines)."""
    settings: Settings = load_settings(env)
    if log is not None:
        log(settings_line(settings))
    key_sets = {i.issuer: JwksCache(i, fetch, on_fetch=on_jwks_fetch) for i in settings.issuers}
    verifier = TokenVerifier(settings.issuer_by_name, key_sets, cache_size=settings.token_cache_size)
    store = RoleStore(
        settings.role_table,
        dynamodb_client,
        cache_ttl=settings.role_cache_ttl,
        revocation_check_seconds=settings.revocation_check_seconds,
        client_factory=client_factory(
            env,
            env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            settings.endpoint_url,
            settings.dynamodb_timeout,
            time_left,
        ),
    )

    # DPoP's replay table shares the role store's client (one client per container, same timeouts).
    # Imported only when configured: nothing of DPoP's adapter is loaded on a Bearer-only cold start.
    replay = None
    if settings.dpop_replay_table is not None:
        from edgeauth.adapters.replay_store import DynamoReplayStore

        replay = DynamoReplayStore(settings.dpop_replay_table, client_factory=lambda: store.client)

    return Authorizer(settings, verifier, store, emit=emit, warn=warn, replay_store=replay)
