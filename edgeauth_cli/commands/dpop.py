"""``edgeauth dpop``: DPoP proofs (RFC 9449) for the local stack's demo and for trying a deployment.

* ``edgeauth dpop proof --key FILE --method GET --url URL [--token TOKEN]``: print a fresh proof for
  one request (a new ``jti`` and ``iat`` each time), to send as the ``DPoP`` header;
* ``edgeauth dpop token --key FILE``: print the access token saved in FILE.

FILE is what ``edgeauth token --dpop`` printed (``{"access_token", …, "key": <private JWK>}``) or a
bare private JWK (then give ``--token``; without a token the proof has no ``ath`` and an API refuses
it). The proof's ``htu`` is the URL without query and fragment. A plain-http loopback URL (the
local gateway) is signed as https: the authorizer checks proofs against the https URL API Gateway
serves, and the local gateway stands for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgeauth.core.settings import is_loopback_host
from edgeauth_cli.context import CliContext, CliError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dpop",
        help="DPoP (RFC 9449) proofs for a key saved by 'edgeauth token --dpop'",
        description="Sign DPoP proofs with a client key saved by 'edgeauth token --dpop'.",
    )
    sub = p.add_subparsers(dest="dpop_command", required=True)
    proof = sub.add_parser(
        "proof",
        help="print a fresh DPoP proof for one request",
        epilog="example (a local stack whose issuer requires DPoP: make local ARGS=--dpop):\n"
        "  edgeauth token --sub bob --dpop > bob.json\n"
        '  curl -H "Authorization: DPoP $(edgeauth dpop token --key bob.json)" \\\n'
        '       -H "DPoP: $(edgeauth dpop proof --key bob.json --method GET --url http://127.0.0.1:8080/dev/accounts/42)" \\\n'
        "       http://127.0.0.1:8080/dev/accounts/42\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    proof.add_argument("--key", required=True, type=Path, help="file from 'edgeauth token --dpop' (or a JWK)")
    proof.add_argument("--method", required=True, help="the request's HTTP method (htm), e.g. GET")
    proof.add_argument("--url", required=True, help="the request's URL (htu; query and fragment dropped)")
    proof.add_argument("--token", default=None, help="the access token (default: the one in --key's file)")
    proof.set_defaults(func=cmd_proof)
    token = sub.add_parser(
        "token",
        help="print the access token saved in a 'edgeauth token --dpop' file",
        epilog="example:\n  edgeauth dpop token --key bob.json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("--key", required=True, type=Path, help="file from 'edgeauth token --dpop'")
    token.set_defaults(func=cmd_token)


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}", 2) from e
    except ValueError as e:
        raise CliError(f"{path} is not JSON: {e}", 2) from e
    if not isinstance(doc, dict):
        raise CliError(f"{path} must hold a JSON object", 2)
    return doc


def signed_url(url: str) -> str:
    """The ``htu`` for ``url``: https for a plain-http loopback URL (the local gateway), else as is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--url must be an http(s) URL, got {url!r}", 2)
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        from edgeauth_local.dpop_client import gateway_htu

        return gateway_htu(url)
    return url


def cmd_proof(ctx: CliContext, args: argparse.Namespace) -> int:
    from edgeauth_local.dpop_client import DpopKey

    doc = _read(args.key)
    jwk = doc.get("key", doc)
    if not isinstance(jwk, dict):
        raise CliError(f"{args.key}: 'key' must be a JWK object", 2)
    try:
        key = DpopKey.from_jwk(jwk)
    except (ValueError, TypeError) as e:
        raise CliError(f"{args.key}: not a private key this command can sign with ({e})", 2) from e
    token = args.token if args.token is not None else doc.get("access_token")
    if token is not None and not isinstance(token, str):
        raise CliError(f"{args.key}: 'access_token' must be a string", 2)
    if token is None:
        print("edgeauth: no access token: the proof has no 'ath' and APIs refuse it", file=sys.stderr)
    htu = signed_url(args.url)
    if htu != args.url:
        print(f"edgeauth: signing {htu} (API Gateway serves https only)", file=sys.stderr)
    print(key.proof(args.method, htu, token))
    return 0


def cmd_token(ctx: CliContext, args: argparse.Namespace) -> int:
    token = _read(args.key).get("access_token")
    if not isinstance(token, str):
        raise CliError(f"{args.key} has no access_token (make it with 'edgeauth token --dpop')", 2)
    print(token)
    return 0
