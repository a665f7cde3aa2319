"""SnapStart runtime hooks and the invocation's remaining time, as the handler wires them.

GIVEN Lambda's SnapStart init (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), WHEN the handler is
imported, THEN it registers one hook before the snapshot (which builds the DynamoDB client and the
signature checks, with no network call and no credentials) and one after each restore (which
reseeds ``random`` and drops the client's connections and credentials); without SnapStart nothing
is registered and ``snapshot_restore_py`` is not imported.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.world import authorizer_env
from edgeauth import constants as C
from edgeauth.adapters import snapstart
from edgeauth.adapters.dynamodb import DynamoDBClient, EnvironmentCredentials
from edgeauth.adapters.invocation import CurrentInvocation
from edgeauth.bootstrap import build_authorizer
from edgeauth.core import jose
from tests.conftest import ROLE_TABLE, issuer_env
from tests.support.dynamo_server import DynamoProxy

ROOT = Path(__file__).resolve().parents[2]

FAKE_HOOKS = """
registered = []
calls = []
def register_before_snapshot(func, *args, **kwargs):
    registered.append(("before_snapshot", func.__module__ + "." + func.__name__))
    calls.append((func, args, kwargs))
def register_after_restore(func, *args, **kwargs):
    registered.append(("after_restore", func.__module__ + "." + func.__name__))
"""

# Imports the handler (init), then, as Lambda does before taking the snapshot, runs the
# before-snapshot hooks; reports what was registered and what the snapshot would hold.
CHILD = """
import json, sys
import authorizer.handler
hooks = sys.modules.get("snapshot_restore_py")
for func, args, kwargs in (hooks.calls if hooks else []):
    func(*args, **kwargs)
print(json.dumps({
    "registered": None if hooks is None else hooks.registered,
    "awscrt": "_awscrt" in sys.modules,
    "cryptography": "cryptography.hazmat.primitives.asymmetric.padding" in sys.modules,
    "client": authorizer.handler._authorizer.store.built_client is not None,
}))
"""


def import_handler(tmp_path: Path, **extra: str) -> Any:
    (tmp_path / "snapshot_restore_py.py").write_text(FAKE_HOOKS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGEAUTH_", "AWS_LAMBDA_"))}
    env.update(authorizer_env())
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions"), str(tmp_path)])
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_snapstart_init_registers_the_hooks_and_the_snapshot_holds_no_random_state(tmp_path: Path) -> None:
    result = import_handler(tmp_path, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    assert result["registered"] == [
        ["before_snapshot", "edgeauth.adapters.snapstart.prepare"],
        ["after_restore", "edgeauth.adapters.snapstart.renew"],
    ]
    # The signature checks are ready in the snapshot; awscrt (whose TLS library seeds a random
    # generator when it loads) and the DynamoDB client are not: each restored copy makes its own.
    assert result["cryptography"] is True
    assert result["awscrt"] is False and result["client"] is False


def test_an_ordinary_init_registers_nothing(tmp_path: Path) -> None:
    assert import_handler(tmp_path, AWS_LAMBDA_INITIALIZATION_TYPE="on-demand")["registered"] is None


@pytest.fixture
def proxy(dynamodb_server: Any) -> Iterator[DynamoProxy]:
    p = DynamoProxy(dynamodb_server.meta.endpoint_url)
    try:
        yield p
    finally:
        p.close()


def test_prepare_builds_the_signature_checks_and_no_client_without_a_network_call_or_credentials(
    proxy: DynamoProxy,
) -> None:
    # GIVEN a SnapStart function's environment at snapshot time: no credentials at all
    env = {**issuer_env(algorithms=["RS256", "ES384"]), C.ENV_ENDPOINT_URL: proxy.url}
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    authorizer = build_authorizer(env, emit=lambda line: None)
    jose.verifier.cache_clear()
    # WHEN the before-snapshot hook runs
    snapstart.prepare(authorizer)
    # THEN the configured algorithms' checks are built, no client exists, and nothing went out
    assert jose.verifier.cache_info().currsize >= 2
    assert authorizer.store.built_client is None
    assert proxy.connections == 0 and proxy.requests == []


def test_renew_without_a_client_builds_none(proxy: DynamoProxy) -> None:
    authorizer = build_authorizer({**issuer_env(), C.ENV_ENDPOINT_URL: proxy.url}, emit=lambda line: None)
    snapstart.renew(authorizer)
    assert authorizer.store.built_client is None


def test_renew_reseeds_random_and_renews_the_clients_connections_and_credentials(
    proxy: DynamoProxy,
) -> None:
    # GIVEN a restored environment whose client was used (a connection, credentials of the snapshot)
    env = {**issuer_env(), C.ENV_ENDPOINT_URL: proxy.url}
    authorizer = build_authorizer(env, emit=lambda line: None)
    client = authorizer.store.client
    assert isinstance(client, DynamoDBClient)
    client.get_item(TableName=ROLE_TABLE, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    random.seed(1)
    state = random.getstate()
    env["AWS_ACCESS_KEY_ID"] = "AKIDRESTORED"
    # WHEN the after-restore hook runs
    snapstart.renew(authorizer)
    # THEN random was reseeded, and the next call has a new connection and the new credentials
    assert random.getstate() != state
    client.get_item(TableName=ROLE_TABLE, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert proxy.connections == 2
    assert "Credential=AKIDRESTORED/" in proxy.requests[-1].headers["authorization"]


def test_register_runtime_hooks_uses_the_module_given() -> None:
    calls: list[tuple[str, Any]] = []

    class Hooks:
        @staticmethod
        def register_before_snapshot(func: Any, *args: Any) -> None:
            calls.append(("before", func))

        @staticmethod
        def register_after_restore(func: Any, *args: Any) -> None:
            calls.append(("after", func))

    authorizer = build_authorizer(issuer_env(), emit=lambda line: None)
    snapstart.register_runtime_hooks(authorizer, Hooks)
    assert calls == [("before", snapstart.prepare), ("after", snapstart.renew)]


# -- the invocation's remaining time ---------------------------------------------------------------------


def test_the_remaining_time_is_read_from_the_current_lambda_context() -> None:
    invocation = CurrentInvocation()
    assert invocation.seconds_left() is None  # outside an invocation

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 1250

    invocation.context = Context()
    assert invocation.seconds_left() == 1.25
    invocation.context = object()  # a context that does not tell
    assert invocation.seconds_left() is None


def test_the_authorizers_client_asks_the_handlers_invocation_for_the_time_left() -> None:
    invocation = CurrentInvocation()
    authorizer = build_authorizer(issuer_env(), emit=lambda line: None, time_left=invocation.seconds_left)
    client = authorizer.store.client
    assert isinstance(client, DynamoDBClient)
    assert client._time_left == invocation.seconds_left
    assert isinstance(client._credentials, EnvironmentCredentials)
