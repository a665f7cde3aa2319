"""Scenario 2, the baseline: the REQUEST authorizer a competent engineer writes by hand.

Written plainly and correctly, the way the AWS documentation and blueprints lead one to write it:

* ``PyJWKClient`` for the issuer's keys (``cache_keys=True``), primed once so no timed request
  touches the network, then ``jwt.decode`` with the algorithm, audience and issuer pinned;
* one DynamoDB ``GetItem`` per request for the subject's roles (same moto table as ours);
* the route check against each role's permissions (loaded once at init) and a policy built with an
  ``AuthPolicy`` class shaped like the one in AWS's ``api-gateway-authorizer-python`` blueprint;
* one Powertools ``Logger.info`` line for the decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jwt
from aws_lambda_powertools import Logger

from bench.world import ROLE_TABLE, SUBJECT
from edgeauth import constants as C
from tests.support.tokens import AUDIENCE, ISSUER


class HttpVerb:
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    HEAD = "HEAD"
    DELETE = "DELETE"
    OPTIONS = "OPTIONS"
    ALL = "*"


class AuthPolicy:
    """Builds the IAM policy the way AWS's Python authorizer blueprint does (allow/deny lists)."""

    path_regex = r"^[/.a-zA-Z0-9-\*]+$"

    def __init__(self, principal: str, aws_account_id: str) -> None:
        self.aws_account_id = aws_account_id
        self.principal_id = principal
        self.version = "2012-10-17"
        self.allow_methods: list[dict[str, Any]] = []
        self.deny_methods: list[dict[str, Any]] = []
        self.rest_api_id = "*"
        self.region = "*"
        self.stage = "*"

    def _add_method(self, effect: str, verb: str, resource: str, conditions: list[Any]) -> None:
        if verb != "*" and not hasattr(HttpVerb, verb):
            raise NameError(f"Invalid HTTP verb {verb}. Allowed verbs in HttpVerb class")
        if not re.match(self.path_regex, resource):
            raise NameError(f"Invalid resource path: {resource}. Path should match {self.path_regex}")
        resource = resource.removeprefix("/")
        arn = f"arn:aws:execute-api:{self.region}:{self.aws_account_id}:{self.rest_api_id}/{self.stage}/{verb}/{resource}"
        entry = {"resourceArn": arn, "conditions": conditions}
        (self.allow_methods if effect.lower() == "allow" else self.deny_methods).append(entry)

    def _statement(self, effect: str) -> dict[str, Any]:
        return {
            "Action": "execute-api:Invoke",
            "Effect": effect[:1].upper() + effect[1:].lower(),
            "Resource": [],
        }

    def _statements_for_effect(self, effect: str, methods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = []
        if methods:
            statement = self._statement(effect)
            for m in methods:
                if not m["conditions"]:
                    statement["Resource"].append(m["resourceArn"])
                else:
                    conditional = self._statement(effect)
                    conditional["Resource"].append(m["resourceArn"])
                    conditional["Condition"] = m["conditions"]
                    statements.append(conditional)
            if statement["Resource"]:
                statements.append(statement)
        return statements

    def allow_method(self, verb: str, resource: str) -> None:
        self._add_method("Allow", verb, resource, [])

    def deny_method(self, verb: str, resource: str) -> None:
        self._add_method("Deny", verb, resource, [])

    def deny_all_methods(self) -> None:
        self._add_method("Deny", HttpVerb.ALL, "*", [])

    def build(self) -> dict[str, Any]:
        if not self.allow_methods and not self.deny_methods:
            raise NameError("No statements defined for the policy")
        policy: dict[str, Any] = {
            "principalId": self.principal_id,
            "policyDocument": {"Version": self.version, "Statement": []},
        }
        policy["policyDocument"]["Statement"].extend(self._statements_for_effect("Allow", self.allow_methods))
        policy["policyDocument"]["Statement"].extend(self._statements_for_effect("Deny", self.deny_methods))
        return policy


class BaselineAuthorizer:
    """The hand-written authorizer. ``handler`` is its Lambda entry point."""

    def __init__(
        self, jwks_client: PrimedJWKClient, dynamodb: Any, logger: Logger, with_get_item: bool = True
    ) -> None:
        self.jwks_client = jwks_client
        self.dynamodb = dynamodb
        self.logger = logger
        self.with_get_item = with_get_item
        # Role permissions change rarely: read once at init ("METHOD /template" strings).
        self.permissions: dict[str, set[str]] = {}
        self.roles_in_memory: dict[str, list[str]] = {}

    def load_role(self, name: str) -> None:
        item = self.dynamodb.get_item(
            TableName=ROLE_TABLE, Key={"pk": {"S": C.ROLE_PK_PREFIX + name}, "sk": {"S": C.ROLE_SK}}
        ).get("Item", {})
        perms = {v["S"] for v in item.get("allow", {}).get("L", [])}
        for parent in item.get("inherit", {}).get("L", []):
            self.load_role(parent["S"])
            perms |= self.permissions[parent["S"]]
        self.permissions[name] = perms

    def roles_of(self, sub: str) -> list[str]:
        if not self.with_get_item:
            return self.roles_in_memory.get(sub, [])
        resp = self.dynamodb.get_item(
            TableName=ROLE_TABLE,
            Key={"pk": {"S": C.SUBJECT_PK_PREFIX + ISSUER}, "sk": {"S": sub}},
            ConsistentRead=False,
        )
        item = resp.get("Item")
        if not item:
            return []
        roles = [v["S"] for v in item.get("roles", {}).get("L", [])]
        self.roles_in_memory[sub] = roles
        return roles

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = event.get("headers") or {}
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Exception("Unauthorized")
        try:
            signing_key = self.jwks_client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError:
            self.logger.info("token rejected", extra={"path": event.get("path")})
            raise Exception("Unauthorized") from None

        method = event["requestContext"]["httpMethod"]
        resource = event["requestContext"]["resourcePath"]
        roles = self.roles_of(claims["sub"])
        allowed = any(f"{method} {resource}" in self.permissions.get(r, ()) for r in roles)

        arn_parts = event["methodArn"].split(":")
        api_parts = arn_parts[5].split("/")
        policy = AuthPolicy(claims["sub"], arn_parts[4])
        policy.rest_api_id, policy.stage, policy.region = api_parts[0], api_parts[1], arn_parts[3]
        route = re.sub(r"\{[^}]+\}", "*", resource)
        if allowed:
            policy.allow_method(method, route)
        else:
            policy.deny_method(method, route)
        answer = policy.build()
        answer["context"] = {"sub": claims["sub"], "roles": ",".join(roles)}
        self.logger.info(
            "authorization decision",
            extra={
                "decision": "allow" if allowed else "deny",
                "sub": claims["sub"],
                "roles": roles,
                "method": method,
                "resource": resource,
                "request_id": event["requestContext"].get("requestId"),
            },
        )
        return answer


class PrimedJWKClient(jwt.PyJWKClient):
    """``PyJWKClient`` whose one and only fetch returns the given JWKS (primed before timing)."""

    def __init__(self, body: bytes) -> None:
        super().__init__("https://idp.example.com/.well-known/jwks.json", cache_keys=True, lifespan=86400)
        self._body = body
        self.fetches = 0

    def fetch_data(self) -> Any:
        import json

        self.fetches += 1
        data = json.loads(self._body)
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        return data


def build_baseline(
    jwks_body: bytes, dynamodb: Any, sink: Any, *, with_get_item: bool = True
) -> BaselineAuthorizer:
    import logging

    handler = logging.StreamHandler(sink)
    logger = Logger(service="baseline-authorizer", logger_handler=handler, level="INFO")
    auth = BaselineAuthorizer(PrimedJWKClient(jwks_body), dynamodb, logger)
    auth.load_role("teller")
    auth.load_role("reader")
    auth.roles_of(SUBJECT)  # primes roles_in_memory for the variant without GetItem
    auth.with_get_item = with_get_item
    return auth


def handler_of(auth: BaselineAuthorizer) -> Callable[[dict[str, Any]], Any]:
    """The baseline's handler as one benchmark operation (no Lambda context)."""
    handler = auth.handler
    return lambda event: handler(event, None)
