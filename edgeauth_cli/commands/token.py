"""``edgeauth token``: a token from the local stack's development identity provider.

Only for the local stack (``make local``): the development identity provider signs a token for any
subject it is asked for. The identity provider's URL comes from ``--idp-url``, else
``EDGEAUTH_IDP_URL``, else the running local stack's state file (``.local/stack-<port>.json``; with
several stacks running, a usage error names them), else ``http://127.0.0.1:8081/``. The token alone is printed, so ``TOKEN=$(edgeauth token --sub bob)``
works.

``--dpop`` (RFC 9449): a new DPoP key pair is made here, the identity provider binds the token to its
thumbprint (``cnf.jkt``), and the answer is JSON: ``{"access_token", "token_type": "DPoP",
"expires_in", "key"}`` with ``key`` the private JWK. Save it to a file; ``edgeauth dpop proof --key
FILE`` signs each request's proof with it. The private key never leaves this machine's output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from edgeauth_cli.context import CliContext, CliError

DEFAULT_IDP_URL = "http://127.0.0.1:8081/"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "token",
        help="print a token from the local stack's development identity provider",
        description="Print an access token signed by the local stack's development identity provider "
        "(make local). Never available on a deployed stack.",
        epilog="examples:\n"
        '  curl -H "Authorization: Bearer $(edgeauth token --sub bob)" http://127.0.0.1:8080/dev/accounts/42\n'
        "  TOKEN=$(edgeauth token --sub carol --groups auditors --ttl 600)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sub", required=True, help="the token's subject (demo: alice, bob, carol)")
    p.add_argument("--groups", default="", help="comma-separated group claim values")
    p.add_argument(
        "--ttl",
        type=int,
        default=3600,
        help="lifetime in seconds (default 3600; the identity provider caps it at a day, and says so)",
    )
    p.add_argument(
        "--scope", default=None, help="space-separated scopes (default: the issuer's required ones)"
    )
    p.add_argument("--client-id", default=None, help="client id claim (a client with its own usage key)")
    p.add_argument("--idp-url", default=None, help="the development identity provider's issuer URL")
    p.add_argument(
        "--dpop",
        action="store_true",
        help="bind the token to a new DPoP key (RFC 9449); print JSON with the token and the private key",
    )
    p.add_argument(
        "--dpop-alg",
        default="ES256",
        choices=("ES256", "EdDSA", "RS256", "PS256"),
        help="algorithm of the DPoP key (default ES256)",
    )
    p.set_defaults(func=cmd_token)


def idp_url(explicit: str | None, state_dir: Path | None = None) -> str:
    """``--idp-url``, else ``EDGEAUTH_IDP_URL``, else the one running local stack's identity provider
    (its state file), else the default. Several running stacks: a usage error naming their ports."""
    if explicit:
        return explicit
    env = os.environ.get("EDGEAUTH_IDP_URL")
    if env:
        return env
    from edgeauth_local.state import STATE_DIR, running_stacks

    stacks = running_stacks(state_dir or STATE_DIR)
    issuers = [s.urls["issuer"] for s in stacks if s.urls.get("issuer")]
    if len(issuers) == 1:
        return issuers[0]
    if len(issuers) > 1:
        ports = ", ".join(f"{s.gateway_port} (identity provider {s.urls['issuer']})" for s in stacks)
        raise CliError(
            f"several local stacks are running, gateway ports {ports}: "
            "pass --idp-url URL or set EDGEAUTH_IDP_URL to choose one",
            2,
        )
    return DEFAULT_IDP_URL


def cmd_token(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.ttl <= 0:
        raise CliError("--ttl must be a positive number of seconds", 2)
    base = idp_url(args.idp_url).rstrip("/")
    body: dict[str, Any] = {
        "sub": args.sub,
        "groups": [g for g in args.groups.split(",") if g],
        "ttl": args.ttl,
    }
    if args.scope is not None:
        body["scope"] = args.scope
    if args.client_id:
        body["client_id"] = args.client_id
    key = None
    if args.dpop:
        from edgeauth_local.dpop_client import DpopKey

        key = DpopKey.generate(args.dpop_alg)
        body["dpop_jkt"] = key.thumbprint
    if not base.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise CliError(f"{base} is not a local development identity provider (loopback http only)", 2)
    req = urllib.request.Request(  # noqa: S310 - loopback http only, checked above
        f"{base}/token",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")[:300]
        raise CliError(f"the identity provider refused: HTTP {e.code} {detail}") from e
    except OSError as e:
        raise CliError(
            f"no development identity provider at {base} ({e}); is the local stack running (make local)?"
        ) from e
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str):
        raise CliError("the identity provider's answer has no access_token")
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in < args.ttl:
        # The development identity provider caps lifetimes (the authorizer refuses longer ones too).
        print(
            f"edgeauth: --ttl {args.ttl} capped by the identity provider: the token expires in {expires_in} s",
            file=sys.stderr,
        )
    if key is not None:
        answer = {
            "access_token": token,
            "token_type": "DPoP",
            "expires_in": answer.get("expires_in"),
            "key": key.private_jwk(),
        }
        print(json.dumps(answer, indent=2))
        return 0
    print(token)
    return 0
