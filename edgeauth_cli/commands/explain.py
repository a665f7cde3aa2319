"""``edgeauth explain``: why a request is allowed or refused, step by step.

The trace follows the authorizer: the resource template API Gateway selects for the path (from the
API's resources, or the templates given with ``--route``), the principal's roles and where each comes
from (subject item, group mapping, inheritance), every permission that matched, the rule that
decided, and the exact answer (policy, context, usage key) the authorizer returns for that route.

With ``--token`` the claims are decoded locally WITHOUT verifying the signature (the output says so):
explain answers "what would the role table decide for these claims", not "is this token valid". The
token and its signature are never printed. Pass ``--token -`` to read it from stdin (keeps it out of
shell history). When the token's issuer is configured (read from ``--stack``'s template or
``$EDGEAUTH_ISSUERS``), the trace also shows the issuer's settings as the authorizer uses them (a
provider preset expanded), each of its checks passed or failed, the verdict of the claim checks,
and the groups and client exactly as the authorizer reads them (claim paths, mapped claims).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import json
import os
import sys
from typing import Any

from edgeauth import constants as C
from edgeauth.adapters.role_store import RoleStore
from edgeauth.core.claim_report import claim_report
from edgeauth.core.errors import AuthenticationError
from edgeauth.core.policy import MethodArn, authorizer_answer
from edgeauth.core.roles import EffectiveRoles, decide
from edgeauth.core.routes import METHODS, RouteTable, TemplateError
from edgeauth.core.settings import IssuerSettings, describe_issuer
from edgeauth.core.tokens import client_of, group_keys
from edgeauth_cli import render
from edgeauth_cli.context import AWS, ENV_ISSUER, ROLE_TABLE, CliContext, CliError
from edgeauth_cli.issuers import add_issuer_name_argument, configured_issuers, issuer_for, named_issuer
from edgeauth_cli.table_writer import aws_error_text

EXIT_USAGE = 2

_EPILOG = """examples:
  edgeauth --stack EdgeAuth-dev explain --iss https://login.example.com/ --sub user-123 GET /accounts/42
  edgeauth explain --iss https://login.example.com/ --sub user-123 --groups admins ops \\
      --route /accounts --route '/accounts/{id}' DELETE /accounts/42
  echo "$TOKEN" | edgeauth --stack EdgeAuth-dev explain --token - POST /accounts/42/transfers

exit codes: 0 the trace was printed (whatever the decision); 1 no resource matches the path, or an
AWS call failed; 2 bad arguments (e.g. a token that is not a JWT)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="trace the decision for a token (or iss/sub/groups), a method and a path",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_argument_group("who (a token, or the claims themselves)")
    who.add_argument("--token", help="a JWT ('-' reads it from stdin); decoded WITHOUT verification")
    who.add_argument("--iss", help=f"issuer (default: ${ENV_ISSUER})")
    add_issuer_name_argument(who)
    who.add_argument("--sub", help="subject")
    who.add_argument("--groups", nargs="*", default=None, metavar="GROUP", help="group claim values")
    who.add_argument("--client-id", help="client id (selects the client's usage key)")
    who.add_argument(
        "--groups-claim",
        default=None,
        help="token claim holding groups (default: the configured issuer's, else groups)",
    )
    who.add_argument(
        "--client-claim",
        default=None,
        help="token claim naming the client (default: the configured issuer's, else client_id)",
    )
    routes = parser.add_argument_group("routes (default: the API's resources)")
    routes.add_argument(
        "--routes-from-api", action="store_true", help="match PATH against the REST API's resources (default)"
    )
    routes.add_argument(
        "--route", action="append", default=[], metavar="TEMPLATE", help="a resource template (repeatable)"
    )
    routes.add_argument("--rest-api-id", help=f"REST API id (default: stack output {C.OUTPUT_REST_API_ID})")
    routes.add_argument("--stage", help=f"stage name (default: stack output {C.OUTPUT_STAGE_NAME})")
    parser.add_argument("method", metavar="METHOD", help="HTTP method, e.g. GET")
    parser.add_argument("path", metavar="PATH", help="literal request path, e.g. /accounts/42")
    parser.set_defaults(func=cmd_explain, needs=(AWS, ROLE_TABLE))


def b64url_json(part: str, what: str) -> dict[str, Any]:
    """Decode one base64url JWT segment into a JSON object (no signature check)."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise CliError(f"the token's {what} is not base64url-encoded JSON", EXIT_USAGE) from e
    if not isinstance(value, dict):
        raise CliError(f"the token's {what} is not a JSON object", EXIT_USAGE)
    return value


def unverified_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of a compact JWS, decoded WITHOUT verifying anything."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise CliError("the token is not a compact JWT (three dot-separated parts)", EXIT_USAGE)
    return b64url_json(parts[0], "header"), b64url_json(parts[1], "payload")


def _optional(ctx: CliContext, arg: str | None, output_key: str) -> str | None:
    if arg:
        return arg
    if ctx.stack:
        return ctx.stack_outputs().get(output_key)
    return None


def _api_templates(ctx: CliContext, rest_api_id: str) -> tuple[list[str], dict[str, list[str]]]:
    from botocore.exceptions import BotoCoreError, ClientError

    templates: list[str] = []
    methods: dict[str, list[str]] = {}
    try:
        for page in ctx.client("apigateway").get_paginator("get_resources").paginate(restApiId=rest_api_id):
            for res in page.get("items", []):
                path = res.get("path")
                if isinstance(path, str):
                    templates.append(path)
                    methods[path] = sorted(res.get("resourceMethods", {}) or {})
    except (ClientError, BotoCoreError) as e:
        raise CliError(f"cannot read the resources of REST API {rest_api_id}: {aws_error_text(e)}") from e
    return templates, methods


def cmd_explain(ctx: CliContext, args: argparse.Namespace) -> int:
    method = args.method.upper()
    if method not in METHODS:
        raise CliError(f"unknown method {args.method!r}; use one of {', '.join(sorted(METHODS))}", EXIT_USAGE)
    notes: list[str] = []
    iat: float | None = None
    header: dict[str, Any] = {}
    configured: IssuerSettings | None = None
    refusal: AuthenticationError | None = None
    checks: list[dict[str, Any]] = []
    if args.token:
        if args.iss or args.sub or args.issuer_name:
            raise CliError("give either --token or --iss/--issuer-name/--sub, not both", EXIT_USAGE)
        from_stdin = args.token == "-"  # noqa: S105 - '-' means stdin, not a secret
        token = sys.stdin.readline().strip() if from_stdin else args.token
        header, claims = unverified_claims(token)
        issuer, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(issuer, str) or not isinstance(sub, str):
            raise CliError("the token has no string 'iss' and 'sub' claims", EXIT_USAGE)
        issuers: tuple[IssuerSettings, ...] | None = None
        if args.groups_claim is None and args.client_claim is None:
            try:
                issuers = configured_issuers(ctx)
            except CliError as e:  # explain still traces the roles without the issuer's settings
                notes.append(f"the issuer settings could not be read ({e}): its checks are not shown")
            configured = issuer_for(issuer, issuers)
        if configured is not None:
            notes.append(
                "token decoded WITHOUT verifying its signature; its claims are checked as the authorizer "
                "checks them (checks, below)"
            )
            import time

            outcomes, refusal = claim_report(configured, header, claims, time.time())
            checks = [
                {"check": o.check, "result": "passed" if o.passed else "failed", "detail": o.detail}
                for o in outcomes
            ]
            groups, client_id = _principal(configured, claims, notes)
        else:
            notes.append("token decoded WITHOUT verifying its signature, expiry or audience")
            if issuers is not None:
                notes.append(f"the token's issuer {issuer!r} is not configured: the authorizer answers 401")
            groups, client_id = _claims_principal(
                claims, args.groups_claim or "groups", args.client_claim or "client_id", notes
            )
        if args.groups is not None:
            groups = tuple(sorted(set(args.groups)))
        client_id = args.client_id or client_id
        raw_iat = claims.get("iat")
        iat = float(raw_iat) if isinstance(raw_iat, int | float) and not isinstance(raw_iat, bool) else None
    else:
        issuer = named_issuer(ctx, args) or args.iss or os.environ.get(ENV_ISSUER)
        sub = args.sub
        if not issuer or not sub:
            raise CliError(f"give --token, or --sub and --iss/--issuer-name (or ${ENV_ISSUER})", EXIT_USAGE)
        groups = tuple(sorted(set(args.groups or ())))
        client_id = args.client_id

    rest_api_id = _optional(ctx, args.rest_api_id, C.OUTPUT_REST_API_ID)
    stage = _optional(ctx, args.stage, C.OUTPUT_STAGE_NAME)
    api_methods: dict[str, list[str]] = {}
    if args.route and not args.routes_from_api:
        templates = list(args.route)
        route_source = "--route"
    else:
        if not rest_api_id:
            raise CliError(
                "no routes: pass --route TEMPLATE, or --rest-api-id/--stack to read the API", EXIT_USAGE
            )
        templates, api_methods = _api_templates(ctx, rest_api_id)
        route_source = f"REST API {rest_api_id}"
    try:
        table = RouteTable(templates)
    except TemplateError as e:
        raise CliError(f"bad resource template: {e}", EXIT_USAGE) from e
    match = table.match(args.path)

    store = RoleStore(ctx.role_table, ctx.client("dynamodb"), cache_ttl=0)
    try:
        grants, _ = store.grants(issuer, sub, groups, client_id)
    except Exception as e:  # RoleStoreError and friends: report, never a traceback
        raise CliError(f"cannot read the role table: {e}") from e
    effective = grants.effective

    trace: dict[str, Any] = {
        "notes": notes,
        **({"issuer": describe_issuer(configured), "checks": checks} if configured is not None else {}),
        "principal": {
            "iss": issuer,
            "sub": sub,
            "groups": list(groups),
            "client_id": client_id,
            "kid": header.get("kid"),
            "iat": iat,
        },
        "request": {"method": method, "path": args.path, "routes_from": route_source},
        "template": match.template.text if match else None,
        "path_parameters": match.params if match else {},
        "roles": [
            {
                "role": s.role,
                "source": s.source,
                "status": _status(s.role, effective),
            }
            for s in effective.sources
        ],
        "problems": grants.problems,
        "not_before": grants.not_before,
    }
    if match is None:
        trace["decision"] = {"effect": "None", "reason": "no_route"}
        _print(ctx, trace, None)
        render.note(
            f"no resource of {route_source} matches {args.path}: API Gateway answers 403/404 before the "
            "authorizer runs"
        )
        return 1
    if (
        api_methods
        and method not in api_methods.get(match.template.text, [])
        and "ANY" not in api_methods.get(match.template.text, [])
    ):
        notes.append(
            f"{match.template.text} has no {method} method: API Gateway refuses the request before the authorizer"
        )

    revoked = grants.not_before is not None and (iat is None or iat <= grants.not_before)
    decision = decide(method, match.template, effective, trace=True)
    if effective.too_deep is not None:
        notes.append(
            f"inheritance goes deeper than the limit at {effective.too_deep}: the authorizer denies every "
            "route of this principal (reason inheritance_too_deep) until the chain is shortened"
        )
    trace["matched"] = list(decision.matched)
    trace["decision"] = {"effect": decision.effect, "reason": decision.reason, "rule": decision.rule}
    if refusal is not None:
        trace["decision"] = {"effect": "Unauthorized", "reason": refusal.reason, "rule": None}
        notes.append(f"the issuer's checks refuse this token ({refusal.reason}): the authorizer answers 401")
        _print(ctx, trace, None)
        return 0
    if revoked and args.token:
        trace["decision"] = {"effect": "Unauthorized", "reason": "revoked", "rule": None}
        notes.append("the token was issued at or before the subject's not_before: the authorizer answers 401")
        _print(ctx, trace, None)
        return 0
    if grants.not_before is not None:
        notes.append(
            f"tokens issued at or before {_when(grants.not_before)} are refused (401): not_before is set"
        )

    arn = MethodArn(
        f"arn:aws:execute-api:{ctx.session.region_name or '<region>'}:{_account(ctx)}:{rest_api_id or '<api-id>'}",
        stage or "<stage>",
        method,
    )
    usage_key = grants.usage_key or os.environ.get(C.ENV_DEFAULT_USAGE_KEY) or "<default tier key>"
    if not grants.usage_key:
        notes.append("no client usage key: the answer carries the default tier's key")
    policy = authorizer_answer(
        arn,
        method,
        match.template,
        decision.allowed,
        sub=sub,
        issuer=issuer,
        roles=grants.context_roles,
        client_id=client_id,
        usage_key=usage_key,
    )
    trace["policy"] = policy
    _print(ctx, trace, policy)
    return 0


def _principal(
    issuer: IssuerSettings, claims: dict[str, Any], notes: list[str]
) -> tuple[tuple[str, ...], str | None]:
    """Groups (group claims and mapped claims) and client as the authorizer reads them."""
    groups: tuple[str, ...] = ()
    client_id: str | None = None
    try:
        groups = group_keys(issuer, claims) if issuer.groups_claims or issuer.mapped_claims else ()
    except AuthenticationError as e:
        notes.append(f"groups: {e.detail} ({e.reason}): the authorizer refuses such a token")
    if issuer.client_claim:
        try:
            client_id = client_of(issuer, claims)
        except AuthenticationError as e:
            notes.append(f"client: {e.detail} ({e.reason}): the authorizer refuses such a token")
            raw = claims.get(issuer.client_claim)
            client_id = raw if isinstance(raw, str) else None
    return groups, client_id


def _claims_principal(
    claims: dict[str, Any], groups_claim: str, client_claim: str, notes: list[str]
) -> tuple[tuple[str, ...], str | None]:
    """Groups and client from top-level claims named on the command line (no issuer settings)."""
    raw_groups = claims.get(groups_claim, [])
    if isinstance(raw_groups, list) and all(isinstance(g, str) for g in raw_groups):
        groups = tuple(sorted(set(raw_groups)))
    else:
        groups = ()
        notes.append(f"claim {groups_claim!r} is not a list of strings: the authorizer refuses such a token")
    raw_client = claims.get(client_claim)
    return groups, raw_client if isinstance(raw_client, str) else None


def _status(role: str, effective: EffectiveRoles) -> str:
    """Whether and why a role counts, as core/roles.py decides (docs/roles.md)."""
    parsed = effective.roles.get(role)
    if parsed is None:
        if role in effective.beyond_limit:
            return "beyond the inheritance depth limit (not read: every route is denied)"
        return "missing (grants nothing)"
    if parsed.problems:
        return "malformed (grants nothing; its denies apply)"
    if parsed.disabled:
        return "disabled (grants nothing; its denies apply)"
    if role in effective.cyclic:
        return "in a cycle (grants nothing; its denies apply)"
    if role not in effective.granting:
        return "inherited only through a disabled or malformed role (grants nothing; its denies apply)"
    return "grants"


def _when(epoch: float) -> str:
    if epoch == float("inf"):
        return "any time (not_before is malformed)"
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _account(ctx: CliContext) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        account: str = ctx.client("sts").get_caller_identity()["Account"]
        return account
    except (ClientError, BotoCoreError):
        return "<account>"


def _print(ctx: CliContext, trace: dict[str, Any], policy: dict[str, Any] | None) -> None:
    if ctx.output == "json":
        render.print_json(trace)
        return
    for n in trace["notes"]:
        print(f"NOTE: {n}")
    if "issuer" in trace:
        i = trace["issuer"]
        print(f"issuer:     {i['issuer']} (name {i['name'] or '-'}, provider {i['provider']})")
        for c in trace["checks"]:
            print(
                f"check:      {c['result']:<6}  {c['check']}" + (f"  [{c['detail']}]" if c["detail"] else "")
            )
    p = trace["principal"]
    print(
        f"principal:  iss={p['iss']} sub={p['sub']} groups={render.cell(p['groups'])} client={p['client_id'] or '-'}"
    )
    r = trace["request"]
    if trace["template"]:
        params = ", ".join(f"{k}={v}" for k, v in trace["path_parameters"].items())
        print(
            f"route:      {r['method']} {r['path']} → {trace['template']}"
            + (f" ({params})" if params else "")
        )
    else:
        print(f"route:      {r['method']} {r['path']} → no matching resource ({r['routes_from']})")
    print("roles:")
    render.print_table(trace["roles"], ["role", "source", "status"], empty="  (no roles)")
    for problem in trace["problems"]:
        print(f"problem:    {problem}")
    if "matched" in trace:
        print(
            "matched:    "
            + ("\n            ".join(trace["matched"]) if trace["matched"] else "(no permission)")
        )
    d = trace["decision"]
    print(
        f"decision:   {d['effect']} (reason: {d['reason']}"
        + (f"; rule: {d['rule']})" if d.get("rule") else ")")
    )
    if policy is not None:
        print("authorizer answer:")
        print(json.dumps(policy, indent=2))
