"""``python -m edgeauth_local`` (what ``make local`` runs): start the whole stack, print how to use it.

Exit codes: 0 after Ctrl-C; 1 other failure; 3 the template did not synthesize or cannot be read;
4 a port is in use; 5 the moto server did not start.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from edgeauth_local.errors import LocalStackError, PortInUseError, ports_in_use_message
from edgeauth_local.stack import LOCAL_PRESETS, LocalStack, StackOptions
from edgeauth_local.state import STATE_DIR


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edgeauth_local",
        description="Run edgeauth on 127.0.0.1: moto, a development identity provider, a demo backend and "
        "the gateway, all as the synthesized CDK template describes them.",
    )
    p.add_argument("--stage", default="dev", help="CDK stage to synthesize (default dev)")
    p.add_argument("--port", type=int, default=8080, help="gateway port (default 8080)")
    p.add_argument("--moto-port", type=int, default=5000, help="moto server port (default 5000)")
    p.add_argument(
        "--idp-port", type=int, default=None, help="identity provider port (default: the issuer's)"
    )
    p.add_argument(
        "--backend-port", type=int, default=None, help="demo backend port (default: the template's)"
    )
    p.add_argument(
        "--template", type=Path, default=None, help="use this synthesized template instead of synthesizing"
    )
    p.add_argument("--no-seed", action="store_true", help="do not write the demo roles and subjects")
    p.add_argument(
        "--dpop",
        action="store_true",
        help="run the stage with its issuer set to dpop: required (DPoP-bound tokens, RFC 9449)",
    )
    p.add_argument(
        "--client-certificate",
        action="store_true",
        help="run the stage with backend_auth client_certificate: the gateway presents a locally made "
        "client certificate over TLS and the demo backend refuses connections without it",
    )
    p.add_argument(
        "--provider",
        choices=sorted(LOCAL_PRESETS),
        default=None,
        help="run the stage's issuer as this provider's preset: the development identity provider "
        "issues tokens shaped like that provider's (cognito: access tokens, cognito-id: ID tokens)",
    )
    return p


def usage(stack: LocalStack) -> str:
    u = stack.urls
    if u is None:
        return "edgeauth local stack is not running"
    t = stack.spec
    return f"""
edgeauth local stack is running ({t.stack_name}, stage {t.api.stage.name})
  API (gateway)        {u.api}
  identity provider    {u.issuer}  (discovery: {u.issuer.rstrip("/")}/.well-known/openid-configuration)
  demo backend         {u.backend}
  moto (AWS APIs)      {u.moto}

In another terminal, these variables (the README's tour uses them; on a loopback endpoint the CLI
needs no AWS credentials):
  source .venv/bin/activate
  {tour_exports(stack)}

Try it (subjects: carol = reader, bob = teller, alice = admin):
  TOKEN=$(edgeauth token --sub bob)
  curl -i -H "Authorization: Bearer $TOKEN" "${{API}}accounts/42"
  curl -i -X POST -H "Authorization: Bearer $TOKEN" "${{API}}accounts/42/transfers"
  curl -i -H "Authorization: Bearer $(edgeauth token --sub carol)" "${{API}}admin/config"    # 403
  curl -i "${{API}}accounts"                                                                  # 401

{_dpop_usage(stack)}{_backend_tls_usage(stack)}{_provider_usage(stack)}
Inspect and change it:
  edgeauth roles list
  edgeauth explain --iss {u.issuer} --sub carol GET /admin/config
  edgeauth audit presets
  edgeauth audit query denied-by-subject --since 15m

Ctrl-C stops everything.
"""


def tour_exports(stack: LocalStack) -> str:
    """The ``export`` line a user pastes into a second terminal: the stage's URL as ``API`` (with its
    trailing slash) and the CLI's settings for this stack (endpoint, stack, the development identity
    provider's issuer). The README's tour uses exactly these."""
    u = stack.urls
    if u is None:
        return ""
    return (
        f"export API={u.api} EDGEAUTH_ENDPOINT_URL={u.moto} EDGEAUTH_STACK={stack.spec.stack_name} "
        f"EDGEAUTH_ISSUER={u.issuer}"
    )


def _provider_usage(stack: LocalStack) -> str:
    """How to call the API with the provider-shaped tokens of ``--provider`` (when given)."""
    if stack.idp is None or stack.urls is None:
        return ""
    settings = stack.idp.settings
    if settings.provider == "generic":
        return "Provider-shaped tokens: run 'python -m edgeauth_local --provider cognito' (or entra, okta, ...).\n"
    # With the tour's exports set (above), the CLI is pointed at this stack and API is its URL.
    examples = {
        "github-actions": (
            "repo:octo-org/octo-repo:ref:refs/heads/main",
            f"  edgeauth groups map repository=octo-org/octo-repo teller --issuer-name {settings.name}\n",
        ),
        "kubernetes": (
            "system:serviceaccount:payments:ledger",
            f"  edgeauth subjects grant system:serviceaccount:payments:ledger reader --issuer-name {settings.name}\n",
        ),
    }
    sub, grant = examples.get(settings.provider, ("bob", ""))
    return f"""Tokens shaped like {settings.provider}'s (issuer {settings.name}: its settings expanded in the startup log)
{grant}  curl -i -H "Authorization: Bearer $(edgeauth token --sub '{sub}')" "${{API}}accounts/42"
"""


def _dpop_usage(stack: LocalStack) -> str:
    u = stack.urls
    if u is None or stack.idp is None:
        return ""
    if stack.idp.settings.dpop == "off":
        return (
            "DPoP (RFC 9449): run 'python -m edgeauth_local --dpop' (make local ARGS=--dpop) for an "
            "issuer with dpop: required.\n"
        )
    url = f"{u.api}accounts/42"
    return f"""DPoP (RFC 9449; this issuer: dpop {stack.idp.settings.dpop}): a token bound to a key, a proof per request
  edgeauth token --sub bob --dpop > bob.json                           # token + private key (JWK)
  curl -i -H "Authorization: DPoP $(edgeauth dpop token --key bob.json)" \\
       -H "DPoP: $(edgeauth dpop proof --key bob.json --method GET --url {url})" {url}
  (the same proof twice, another method or URL, or the token as Bearer: 401)
"""


def with_options(argv: Sequence[str], values: Mapping[str, int]) -> list[str]:
    """``argv`` with the options of ``values`` set to those values (``--port 1`` and ``--port=1`` forms)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name, eq, _ = arg.partition("=")
        if name in values:
            skip = not eq
            continue
        out.append(arg)
    return out + [part for option, port in values.items() for part in (option, str(port))]


def _backend_tls_usage(stack: LocalStack) -> str:
    u = stack.urls
    if u is None or stack.tls is None:
        return (
            "Backend authentication: run 'python -m edgeauth_local --client-certificate' (make local "
            "ARGS=--client-certificate) for a TLS backend that accepts only the gateway's certificate.\n"
        )
    tls = stack.tls
    if stack.spec.api.stage.client_certificate_id is None:
        return f"The demo backend speaks TLS (CA {tls.ca_cert}).\n"
    return f"""Backend authentication (backend_auth client_certificate): the gateway presents a client certificate
  curl --cacert {tls.ca_cert} {u.backend}/accounts                # refused: no client certificate
  curl --cacert {tls.ca_cert} --cert {tls.client_cert} --key {tls.client_key} {u.backend}/accounts
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = StackOptions(
        stage=args.stage,
        gateway_port=args.port,
        moto_port=args.moto_port,
        idp_port=args.idp_port,
        backend_port=args.backend_port,
        template_path=args.template,
        seed=not args.no_seed,
        dpop=args.dpop,
        state_dir=STATE_DIR,
        client_certificate=args.client_certificate,
        provider=args.provider,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    stack = LocalStack(options)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        stack.start()
    except PortInUseError as e:
        # The free ports, in the make local ARGS the user ran (their other options kept).
        given = list(sys.argv[1:] if argv is None else argv)
        message = (
            ports_in_use_message(options.host, e.busy, with_options(given, e.suggestions))
            if e.busy
            else str(e)
        )
        print(f"edgeauth-local: error: {message}", file=sys.stderr)
        return e.exit_code
    except LocalStackError as e:
        print(f"edgeauth-local: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("edgeauth-local: interrupted while starting; stopped", file=sys.stderr)
        return 130
    signal.signal(signal.SIGTERM, on_signal)
    print(usage(stack), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("edgeauth-local: stopping …", file=sys.stderr, flush=True)
    stack.stop()
    print("edgeauth-local: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
