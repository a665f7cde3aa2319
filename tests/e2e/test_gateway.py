"""The local gateway answers as API Gateway does, on the real synthesized template (over HTTP)."""

from __future__ import annotations

import copy
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest

from edgeauth import constants as C
from edgeauth_local.stack import LocalStack
from tests.e2e.conftest import Answer, call, raw_call, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def hook(stack: LocalStack) -> Iterator[Callable[[Callable[..., Any]], None]]:
    """Replace the authorizer's behaviour for one test (fault injection at the Lambda boundary)."""
    assert stack.authorizer is not None
    runtime = stack.authorizer
    timeout = runtime.timeout

    def install(fn: Callable[..., Any]) -> None:
        runtime.hook = fn

    yield install
    runtime.hook = None
    runtime.timeout = timeout


def invocations(stack: LocalStack) -> int:
    assert stack.authorizer is not None
    return stack.authorizer.invocations


# --- authentication and authorization ------------------------------------------------------------


def test_missing_identity_source_is_401_without_calling_the_authorizer(stack: LocalStack) -> None:
    # GIVEN a request without an Authorization header
    before = invocations(stack)
    # WHEN it reaches the gateway
    answer = call(stack, "GET", "/accounts")
    # THEN 401 Unauthorized, and the authorizer never ran
    assert answer.status == 401
    assert answer.json["message"] == "Unauthorized"
    assert invocations(stack) == before


def test_empty_identity_source_is_401_without_calling_the_authorizer(stack: LocalStack) -> None:
    before = invocations(stack)
    answer = call(stack, "GET", "/accounts", headers={"Authorization": ""})
    assert answer.status == 401
    assert invocations(stack) == before


def test_unauthorized_from_the_authorizer_is_401(stack: LocalStack) -> None:
    # GIVEN a token the authorizer refuses (not signed by the issuer)
    before = invocations(stack)
    answer = call(stack, "GET", "/accounts", headers={"Authorization": "Bearer not.a.token"})
    # THEN the authorizer ran and raised Unauthorized: 401
    assert answer.status == 401
    assert answer.json["message"] == "Unauthorized"
    assert invocations(stack) == before + 1


def test_401_carries_the_template_gateway_response_headers(stack: LocalStack) -> None:
    # GIVEN the template's UNAUTHORIZED gateway response (e.g. WWW-Authenticate: Bearer)
    spec = stack.spec.api.gateway_responses.get("UNAUTHORIZED")
    answer = call(stack, "GET", "/accounts")
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/json"
    assert spec is not None, "the template customises UNAUTHORIZED"
    for name, expr in spec.headers.items():
        if expr.startswith("'"):
            assert answer.headers[name.lower()] == expr.strip("'")
    if "WWW-Authenticate" in spec.headers:
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_deny_is_403(stack: LocalStack) -> None:
    # GIVEN carol, a reader, posting a transfer
    answer = call(stack, "POST", "/accounts/42/transfers", stack.token("carol"))
    # THEN the authorizer's Deny policy gives 403, worded as API Gateway words an explicit deny
    assert answer.status == 403
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert answer.json["message"] == (
        "User is not authorized to access this resource with an explicit deny in an identity-based policy"
    )


def test_allow_reaches_the_backend_with_path_parameters(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/42", stack.token("carol"))
    assert answer.status == 200
    body = answer.json
    assert body["service"] == "demo-bank"
    assert body["path"] == "/accounts/42"
    assert body["account"]["id"] == "42"
    assert "x-amzn-requestid" in answer.headers


def test_teller_inherits_reader_and_posts_transfers(stack: LocalStack) -> None:
    token = stack.token("bob")
    assert call(stack, "GET", "/accounts", token).status == 200
    posted = call(stack, "POST", "/accounts/7/transfers", token, body=b'{"amount": 5}')
    assert posted.status == 201
    assert posted.json["body"] == {"amount": 5}
    assert call(stack, "GET", "/admin/config", token).status == 403


def test_proxy_route_passes_the_greedy_path(stack: LocalStack) -> None:
    # GIVEN alice (admin) calling a path only ANY /{proxy+} matches
    answer = call(stack, "GET", "/reports/2024/q1?format=csv", stack.token("alice"))
    # THEN the backend gets the whole path and the query string
    assert answer.status == 200
    assert answer.json["path"] == "/reports/2024/q1"
    assert answer.json["query"] == {"format": "csv"}


def test_unknown_route_is_403_missing_authentication_token(stack: LocalStack) -> None:
    # GIVEN paths outside the stage (no resource of the API matches them)
    for target in ("/", "/nostage/accounts", f"/{stack.spec.api.stage.name}x/accounts"):
        answer = raw_call(stack, "GET", target)
        assert answer.status == 403, target
        assert answer.json["message"] == "Missing Authentication Token"
        assert answer.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


# --- the authorizer cache --------------------------------------------------------------------------


def test_answer_is_cached_per_identity_source_values(stack: LocalStack) -> None:
    # GIVEN one token
    token = stack.token("carol")
    before = invocations(stack)
    # WHEN the same route is called three times, and /accounts/{id} with another id
    for path in ("/accounts/1", "/accounts/1", "/accounts/2"):
        assert call(stack, "GET", path, token).status == 200
    # THEN the authorizer ran once: the key is (token, method, resource template)
    assert invocations(stack) == before + 1
    # AND another route with the same token is another cache entry
    assert call(stack, "GET", "/accounts", token).status == 200
    assert invocations(stack) == before + 2


def test_cached_policy_is_evaluated_against_each_request(
    stack: LocalStack, hook: Callable[[Callable[..., Any]], None]
) -> None:
    # GIVEN an authorizer whose policy names the literal path (a classic cache bug)
    def literal_policy(authorize: Callable[..., Any], event: Mapping[str, Any]) -> Any:
        answer = copy.deepcopy(authorize(event))  # the authorizer's answers are read-only
        answer["policyDocument"]["Statement"][0]["Resource"] = event["methodArn"]
        return answer

    hook(literal_policy)
    token = stack.token("carol")
    # WHEN /accounts/42 fills the cache, then /accounts/43 replays it
    first = call(stack, "GET", "/accounts/42", token)
    before = invocations(stack)
    second = call(stack, "GET", "/accounts/43", token)
    # THEN the replayed policy does not cover /accounts/43: 403, without a new invocation
    assert first.status == 200
    assert second.status == 403
    assert invocations(stack) == before
    # AND API Gateway's wording for an Allow that does not cover the method ARN
    assert second.json["message"] == (
        "User is not authorized to access this resource because no identity-based policy allows the "
        "execute-api:Invoke action"
    )


def test_cache_flush_makes_the_authorizer_run_again(stack: LocalStack) -> None:
    token = stack.token("carol")
    assert call(stack, "GET", "/accounts", token).status == 200
    before = invocations(stack)
    assert call(stack, "GET", "/accounts", token).status == 200
    assert invocations(stack) == before
    # WHEN the stage's authorizer cache is flushed through the (moto) API Gateway API
    stack.client("apigateway").flush_stage_authorizers_cache(
        restApiId=stack.spec.api.id, stageName=stack.spec.api.stage.name
    )
    # THEN the next request calls the authorizer again
    assert call(stack, "GET", "/accounts", token).status == 200
    assert invocations(stack) == before + 1


# --- authorizer faults -----------------------------------------------------------------------------


def test_authorizer_error_is_500_and_not_cached(
    stack: LocalStack, hook: Callable[[Callable[..., Any]], None]
) -> None:
    def broken(authorize: Callable[..., Any], event: Mapping[str, Any]) -> Any:
        raise RuntimeError("role table unreachable")

    hook(broken)
    token = stack.token("carol")
    answer = call(stack, "GET", "/accounts", token)
    assert answer.status == 500
    assert answer.headers["x-amzn-errortype"] == "AuthorizerConfigurationException"
    # WHEN the fault is gone THEN the same identity is authorized again (the 500 was not cached)
    hook(lambda authorize, event: authorize(event))
    assert call(stack, "GET", "/accounts", token).status == 200


def test_authorizer_timeout_is_500(stack: LocalStack, hook: Callable[[Callable[..., Any]], None]) -> None:
    assert stack.authorizer is not None
    stack.authorizer.timeout = 0.3

    def slow(authorize: Callable[..., Any], event: Mapping[str, Any]) -> Any:
        time.sleep(1.0)
        return authorize(event)

    hook(slow)
    started = time.monotonic()
    answer = call(stack, "GET", "/accounts", stack.token("carol"))
    assert answer.status == 500
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    "malformed",
    [
        {"principalId": "x"},
        {"principalId": "x", "policyDocument": {"Version": "2012-10-17", "Statement": []}},
        {
            "policyDocument": {
                "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]
            }
        },
        {
            "principalId": "x",
            "policyDocument": {
                "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]
            },
            "context": {"nested": {"not": "allowed"}},
        },
        "Allow",
    ],
)
def test_malformed_answer_is_500(
    stack: LocalStack, hook: Callable[[Callable[..., Any]], None], malformed: Any
) -> None:
    hook(lambda authorize, event: malformed)
    answer = call(stack, "GET", "/accounts", stack.token("carol"))
    assert answer.status == 500


def test_explicit_deny_beats_allow_in_a_policy(
    stack: LocalStack, hook: Callable[[Callable[..., Any]], None]
) -> None:
    def allow_all_but_deny(authorize: Callable[..., Any], event: Mapping[str, Any]) -> Any:
        answer = copy.deepcopy(authorize(event))  # the authorizer's answers are read-only
        arn = event["methodArn"].split("/")[0]
        answer["policyDocument"]["Statement"] = [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{arn}/*"},
            {"Effect": "Deny", "Action": "execute-api:*", "Resource": f"{arn}/*/GET/accounts/4?"},
        ]
        return answer

    hook(allow_all_but_deny)
    token = stack.token("carol")
    assert call(stack, "GET", "/accounts/42", token).status == 403
    assert call(stack, "GET", "/accounts/420", token).status == 200  # same cached answer, ? is one char


# --- context, access log and audit trail -----------------------------------------------------------


def test_authorizer_context_reaches_the_integration_as_the_template_maps_it(stack: LocalStack) -> None:
    # GIVEN whatever context.authorizer.* the template maps to integration request headers
    mapped = {
        k[len("integration.request.header.") :].lower(): v[len("context.authorizer.") :]
        for m in stack.spec.api.methods
        if m.resource_path == "/accounts/{id}" and m.http_method == "GET"
        for k, v in m.integration.request_parameters.items()
        if k.startswith("integration.request.header.") and v.startswith("context.authorizer.")
    }
    answer = call(stack, "GET", "/accounts/9", stack.token("carol"))
    assert answer.status == 200
    seen = answer.json["headers"]
    expected = {"sub": "carol", "principalId": "carol", "roles": "reader"}
    for header, key in mapped.items():
        assert seen.get(header) == expected.get(key, seen.get(header)), header
    # AND the client's own Authorization header is passed through by the HTTP proxy
    assert seen["authorization"].startswith("Bearer ")


def _access_lines(stack: LocalStack) -> list[dict[str, Any]]:
    group = stack.spec.api.stage.access_log_group
    assert group is not None
    events = stack.client("logs").filter_log_events(logGroupName=group)["events"]
    return [json.loads(e["message"]) for e in events]


def test_one_access_log_line_per_request_in_the_template_format(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/5", stack.token("carol"))
    refused = call(stack, "GET", "/accounts")
    request_ids = {answer.headers["x-amzn-requestid"], refused.headers["x-amzn-requestid"]}
    assert stack.flush_logs()
    lines = [line for line in _access_lines(stack) if line.get("requestId") in request_ids]
    assert len(lines) == 2
    fmt = json.loads(stack.spec.api.stage.access_log_format or "{}")
    assert all(set(line) == set(fmt) for line in lines)
    key = {variable.removeprefix("$context."): k for k, variable in fmt.items()}  # the format's keys
    ok = next(line for line in lines if line["requestId"] == answer.headers["x-amzn-requestid"])
    assert ok["status"] == "200"
    assert ok[key["resourcePath"]] == "/accounts/{id}"
    assert ok.get("sub", "carol") == "carol"
    assert ok.get(key.get("authorizer.principalId", "-"), "carol") == "carol"
    bad = next(line for line in lines if line["requestId"] == refused.headers["x-amzn-requestid"])
    assert bad["status"] == "401"
    assert bad[key["error.responseType"]] == "UNAUTHORIZED"
    assert bad[key["authorizer.status"]] == "-"  # the authorizer never ran


def test_audit_trail_flows_to_the_audit_log_group(stack: LocalStack) -> None:
    # GIVEN requests through the gateway
    answer = call(stack, "GET", "/accounts/77", stack.token("bob"))
    request_id = answer.headers["x-amzn-requestid"]
    audit_group = stack.spec.outputs[C.OUTPUT_AUDIT_LOG_GROUP]
    logs = stack.client("logs")

    def events() -> list[dict[str, Any]]:
        found = logs.filter_log_events(logGroupName=audit_group)["events"]
        return [json.loads(e["message"]) for e in found]

    # THEN subscriptions → Kinesis → consumer write both the decision and the access event
    def both() -> bool:
        kinds = {e.get("kind") for e in events() if e.get("request_id") == request_id}
        return {"decision", "access"} <= kinds

    assert wait_until(both, timeout=20, interval=0.3)
    decision = next(e for e in events() if e.get("request_id") == request_id and e["kind"] == "decision")
    assert decision["sub"] == "bob"
    assert decision["decision"] == "allow"


# --- concurrency -------------------------------------------------------------------------------------


def test_concurrent_requests_stay_consistent(stack: LocalStack) -> None:
    # GIVEN 8 clients sharing one token (so one usage key: the default tier's), 25 requests each
    token = stack.token("carol")
    plan = next(p for p in stack.spec.api.usage_plans if p.key_ids)
    assert plan.throttle is not None
    time.sleep(plan.throttle.burst / plan.throttle.rate)  # a full bucket to start with
    before = invocations(stack)
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(25):
            answer = call(stack, "GET", "/accounts/1", token)
            with lock:
                statuses.append(answer.status)
            if answer.status == 429:
                assert answer.json["message"] == "Too Many Requests"

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.monotonic() - started
    # THEN the plan's token bucket admitted its burst plus its rate, no more, and refused the rest
    assert len(statuses) == 200
    assert set(statuses) <= {200, 429}
    admitted = statuses.count(200)
    assert plan.throttle.burst <= admitted <= plan.throttle.burst + plan.throttle.rate * elapsed + 1
    # AND the authorizer cache kept the authorizer to the first concurrent misses
    assert 1 <= invocations(stack) - before <= 8
    time.sleep(plan.throttle.burst / plan.throttle.rate)  # leave a full bucket to the next tests


# --- tools against the local stack ---------------------------------------------------------------


def test_cli_client_with_its_own_usage_key_is_metered_on_its_plan(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgeauth_cli.main import main

    # GIVEN a client added with the CLI, against the local stack (moto + the stack's outputs)
    assert stack.urls is not None
    monkeypatch.setenv("EDGEAUTH_ISSUER", stack.urls.issuer)
    base = ["--endpoint-url", stack.urls.moto, "--region", "us-east-1", "--stack", stack.spec.stack_name]
    assert main([*base, "--output", "json", "clients", "add", "acme", "--tier", "partner"]) == 0
    capsys.readouterr()
    # WHEN bob calls with a token naming that client
    answer = call(stack, "GET", "/accounts/1", stack.token("bob", client_id="acme"))
    # THEN the request passes on the client's own key, which the gateway found in API Gateway (moto)
    assert answer.status == 200
    partner = next(p for p in stack.spec.api.usage_plans if p.name.endswith("partner"))
    assert stack.gateway is not None
    assert any(plan.id == partner.id for plan in stack.gateway.usage.plan_of_key.values())


def test_explain_reads_the_local_rest_api(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    from edgeauth_cli.main import main

    assert stack.urls is not None
    base = ["--endpoint-url", stack.urls.moto, "--region", "us-east-1", "--stack", stack.spec.stack_name]
    code = main(
        [
            *base,
            "--output",
            "json",
            "explain",
            "--iss",
            stack.urls.issuer,
            "--sub",
            "carol",
            "GET",
            "/admin/config",
        ]
    )
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert "admin/config" in out


# --- the integration ---------------------------------------------------------------------------------


def test_backend_crash_is_502(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/1", stack.token("carol"), headers={"X-Demo-Crash": "1"})
    assert answer.status == 502


def test_backend_status_is_passed_through(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/accounts/1", stack.token("carol"), headers={"X-Demo-Status": "503"})
    assert answer.status == 503
    assert answer.json["service"] == "demo-bank"


# --- size limits (API Gateway's, answered as JSON) -----------------------------------------------------


def _exchange(stack: LocalStack, head: bytes, body: bytes = b"", *, read_first: bool = False) -> Answer:
    """Raw bytes to the gateway, its answer read as HTTP. ``read_first``: read the answer before
    sending ``body`` (an ``Expect: 100-continue`` client)."""
    assert stack.urls is not None
    base = urlsplit(stack.urls.gateway)
    with socket.create_connection((base.hostname or "127.0.0.1", base.port or 80), timeout=30) as sock:
        sock.sendall(head)
        if body and not read_first:
            sock.sendall(body)
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())


def _head(stack: LocalStack, size: int, token: str, method: str = "GET", path: str = "/accounts/1") -> bytes:
    """A request line plus headers of exactly ``size`` bytes (line endings included), padded with
    an ``X-Pad`` header, then the empty line that ends the head."""
    assert stack.urls is not None
    line = f"{method} /{stack.spec.api.stage.name}{path} HTTP/1.1\r\n".encode()
    fixed = f"Host: {urlsplit(stack.urls.gateway).netloc}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n"
    pad = size - len(line) - len(fixed.encode()) - len(b"X-Pad: \r\n")
    assert pad >= 0
    return line + fixed.encode() + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"


def _too_long(answer: Answer) -> None:
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/json"
    assert answer.json["message"] == "Request Too Long"
    assert "requestId" in answer.json  # a gateway response: the template's DEFAULT_4XX body applies
    assert answer.headers["connection"] == "close"


def test_request_line_plus_headers_over_10240_bytes_are_refused_not_forwarded(stack: LocalStack) -> None:
    token = stack.token("carol")
    # GIVEN exactly 10,240 bytes of request line plus headers: served
    assert _exchange(stack, _head(stack, 10_240, token)).status == 200
    before, served = invocations(stack), stack.gateway.requests if stack.gateway else 0
    # WHEN one more byte
    answer = _exchange(stack, _head(stack, 10_241, token))
    # THEN 413 Request Too Long, as JSON, and neither the authorizer nor the backend saw it
    _too_long(answer)
    assert invocations(stack) == before
    assert stack.gateway is not None and stack.gateway.requests == served + 1  # the refusal's access line


def test_an_oversized_header_is_a_json_answer_never_an_html_page(stack: LocalStack) -> None:
    token = stack.token("carol")
    # GIVEN a header line longer than http.server's own 65,536-byte limit, and a request line too
    for head in (
        _head(stack, 70_000, token),
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        # THEN the same JSON 413, not http.server's HTML 431 or 414
        _too_long(_exchange(stack, head))


def test_many_small_headers_within_10240_bytes_are_forwarded(stack: LocalStack) -> None:
    # GIVEN 150 headers (http.server refuses more than 100) in well under 10,240 bytes
    headers = {f"X-H{i}": "v" for i in range(150)}
    before = invocations(stack)
    answer = call(stack, "GET", "/accounts/1", stack.token("carol"), headers=headers)
    # THEN the gateway takes the request: the authorizer runs and the backend gets every header
    assert invocations(stack) == before + 1
    assert answer.status == 200
    assert all(answer.json["headers"].get(name.lower()) == "v" for name in headers)


def test_a_body_over_10_mb_is_413_request_too_long(stack: LocalStack) -> None:
    token = stack.token("bob")
    before = invocations(stack)
    # GIVEN a client that sends its whole body before reading (http.client does)
    answer = call(
        stack, "POST", "/accounts/7/transfers", token, body=b"x" * (10 * 1024 * 1024 + 1), timeout=60
    )
    # THEN 413 Request Too Long, read by the client, the authorizer never called
    _too_long(answer)
    assert invocations(stack) == before


def test_a_chunked_body_over_10_mb_is_413_request_too_long(stack: LocalStack) -> None:
    chunk = b"y" * (1024 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(11)) + b"0\r\n\r\n"
    head = _head(stack, 2000, stack.token("bob"), "POST", "/accounts/7/transfers")
    head = head[:-2] + b"Transfer-Encoding: chunked\r\n\r\n"
    _too_long(_exchange(stack, head, body))


def test_expect_100_continue_with_a_body_over_10_mb_is_refused_before_it_is_sent(stack: LocalStack) -> None:
    head = _head(stack, 2000, stack.token("bob"), "POST", "/accounts/7/transfers")
    head = head[:-2] + b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (10 * 1024 * 1024 + 1)
    # THEN the final answer comes at once (no 100 Continue), and the body need never be sent
    _too_long(_exchange(stack, head, b"z" * 1024, read_first=True))


def test_requests_that_are_not_http_get_json_answers(stack: LocalStack) -> None:
    bad = _exchange(stack, b"GET /dev/accounts/1 HTTP/1.1\r\nNo colon\r\n\r\n")
    assert bad.status == 400 and bad.json == {"message": "Bad Request"}
    # AND a method that no ANY method stands for finds no method: 403 Missing Authentication Token
    odd = _exchange(stack, b"FOO /dev/accounts/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert odd.status == 403 and odd.json["message"] == "Missing Authentication Token"
