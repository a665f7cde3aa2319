"""Only the gateway reaches the backend, variant: the dev stage synthesized with ``backend_auth``
``client_certificate`` (and its loopback backend made https). The template puts a client
certificate on the stage; the local stack serves the demo backend over TLS with certificates made
at start, the backend requires a client certificate signed by their CA, and the gateway presents
one, as API Gateway presents the stage's. Every request goes over HTTP(S) on 127.0.0.1."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from edgeauth_local.stack import LocalStack, client_certificate_context, start_stack
from edgeauth_local.template import synthesize
from edgeauth_local.tls import LocalTls
from tests.e2e.conftest import call, resources_of

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    name, template = synthesize("dev", extra_context=client_certificate_context("dev"))
    with start_stack(template=template, stack_name=name, tls_dir=tmp_path_factory.mktemp("tls")) as s:
        yield s


def backend_get(stack: LocalStack, context: ssl.SSLContext) -> int:
    """GET /accounts straight to the backend (around the gateway); the status if it answers."""
    assert stack.urls is not None
    url = urlsplit(stack.urls.backend)
    conn = http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port, timeout=10, context=context)
    try:
        conn.request("GET", "/accounts", headers={"X-Edgeauth-Sub": "forged", "X-Edgeauth-Roles": "admin"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_template_puts_a_client_certificate_on_the_stage(stack: LocalStack) -> None:
    template = stack.spec.raw
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage")
    certificates = [
        k for k, r in template["Resources"].items() if r["Type"] == "AWS::ApiGateway::ClientCertificate"
    ]
    assert len(certificates) == 1
    assert stage["Properties"]["ClientCertificateId"] == {"Ref": certificates[0]}
    assert stack.spec.api.stage.client_certificate_id is not None
    assert all(m.integration.uri.startswith("https://") for m in stack.spec.api.methods)


def test_a_request_through_the_gateway_reaches_the_backend_over_tls(stack: LocalStack) -> None:
    assert stack.urls is not None and stack.urls.backend.startswith("https://")
    answer = call(stack, "GET", "/accounts/42", token=stack.token("bob"))
    assert answer.status == 200, answer.body
    body = answer.json
    assert body["service"] == "demo-bank"
    assert body["account"]["id"] == "42"
    assert body["authorizer"]["sub"] == "bob"  # the context headers the integration maps


def test_the_backend_refuses_a_direct_connection_without_the_client_certificate(stack: LocalStack) -> None:
    assert stack.tls is not None
    # Trusts the backend (the same CA), presents no certificate: the handshake is refused, so the
    # forged context headers never reach a handler.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        backend_get(stack, stack.tls.client_context(present_certificate=False))


def test_the_backend_refuses_a_certificate_of_another_ca(stack: LocalStack, tmp_path: Path) -> None:
    assert stack.tls is not None
    other = LocalTls.create(tmp_path)
    context = ssl.create_default_context(cafile=str(stack.tls.ca_cert))
    context.load_cert_chain(other.client_cert, other.client_key)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        backend_get(stack, context)


def test_the_backend_answers_whoever_presents_the_gateways_certificate(stack: LocalStack) -> None:
    # The control of the two refusals above: the same request with the certificate is answered.
    assert stack.tls is not None
    assert backend_get(stack, stack.tls.client_context(present_certificate=True)) == 200


def test_plain_http_to_the_backend_gets_no_answer(stack: LocalStack) -> None:
    assert stack.urls is not None
    url = urlsplit(stack.urls.backend)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/accounts")
            conn.getresponse()
    finally:
        conn.close()


def test_the_certificates_are_removed_when_the_stack_stops(tmp_path: Path) -> None:
    name, template = synthesize("dev", extra_context=client_certificate_context("dev"))
    s = start_stack(template=template, stack_name=name, tls_dir=tmp_path, seed=False, pollers=False)
    try:
        assert s.tls is not None and s.tls.client_key.is_file()
        assert s.tls.client_key.stat().st_mode & 0o077 == 0  # private keys: owner only
    finally:
        s.stop()
    assert list(tmp_path.iterdir()) == []


def test_make_local_prints_how_to_see_the_refusal(stack: LocalStack) -> None:
    from edgeauth_local.__main__ import usage

    assert stack.tls is not None and stack.urls is not None
    text = usage(stack)
    assert f"curl --cacert {stack.tls.ca_cert} {stack.urls.backend}/accounts" in text
    assert f"--cert {stack.tls.client_cert} --key {stack.tls.client_key}" in text
