"""Lambda SnapStart runtime hooks for the authorizer (docs/benchmarks.md "SnapStart").

With SnapStart, Lambda runs the function's init once, when a version is published, snapshots the
execution environment and starts new environments by restoring copies of that snapshot. So:

* before the snapshot (:func:`prepare`): build the signature checks of the configured algorithms
  (``cryptography``'s modules loaded, no key, no randomness used). Nothing that holds randomness, a
  connection, credentials or data is made: not the DynamoDB client (loading awscrt seeds its TLS
  library's random generator, which every restored copy would then share), no TLS context, no
  socket, no JWKS fetch, no table read. Every cache is empty in the snapshot.
* after each restore (:func:`renew`): what a copy must not share with the others is made anew:
  ``random``'s state (the retry jitter, seeded at import and so identical in every copy) and, if
  one exists, the DynamoDB client's connections and credentials (a SnapStart function has no key
  variables: the client fetches its credentials from the container credentials endpoint, after the
  restore). ``secrets`` and ``os.urandom`` (the replay store's write owner) read the kernel's
  generator, which Lambda reseeds on restore.

The hooks are registered only when Lambda says the init is a SnapStart one
(``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``); ``snapshot_restore_py`` is part of Lambda's
Python runtimes (3.12 and later), not of the bundle.
"""

from __future__ import annotations

import random
from typing import Any

from edgeauth.adapters.dynamodb import DynamoDBClient
from edgeauth.authorizer import Authorizer


def register_runtime_hooks(authorizer: Authorizer, hooks: Any = None) -> None:
    """Register :func:`prepare` (before the snapshot) and :func:`renew` (after each restore) with
    ``hooks`` (the ``snapshot_restore_py`` module by default)."""
    if hooks is None:
        import snapshot_restore_py

        hooks = snapshot_restore_py
    hooks.register_before_snapshot(prepare, authorizer)
    hooks.register_after_restore(renew, authorizer)


def prepare(authorizer: Authorizer) -> None:
    """Before the snapshot: build the signature checks of every configured algorithm (imports
    ``cryptography``'s modules). The DynamoDB client is left for the first request (see above)."""
    from edgeauth.core.jose import verifier

    for issuer in authorizer.settings.issuers:
        for alg in sorted(issuer.algorithms | (issuer.dpop_algorithms if issuer.dpop != "off" else set())):
            verifier(alg)


def renew(authorizer: Authorizer) -> None:
    """After a restore: reseed ``random``; drop the DynamoDB client's connections and credentials."""
    random.seed()
    client = authorizer.store.built_client
    if isinstance(client, DynamoDBClient):  # none before the first request, unless injected
        client.reset()
