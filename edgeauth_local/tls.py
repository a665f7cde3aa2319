"""Throwaway TLS material for the local stack's backend hop (``backend_auth`` ``client_certificate``).

API Gateway, with a client certificate on the stage, presents it in every TLS handshake with an
HTTPS backend, and a backend that verifies it accepts no connection from anyone else. The local
stack does the same with certificates made here at start: a CA, a server certificate for the demo
backend (``localhost``, ``127.0.0.1``, ``::1``) and a client certificate for the gateway, both
signed by that CA. They live in a fresh directory under ``.local/tls/`` (private keys readable by
the owner only) and are deleted when the stack stops. Nothing here is meant for a real deployment.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)
"""Long enough for a `make local` session; the material is remade at every start."""
SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class LocalTls:
    """Paths of the PEM files in :attr:`directory`."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def create(cls, parent: Path) -> LocalTls:
        """Make a CA, a server and a client certificate in a new directory under ``parent``."""
        parent.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="backend-", dir=parent))
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgeauth local CA")])
        ca = (
            _builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        tls = cls(
            directory=directory,
            ca_cert=directory / "ca.pem",
            server_cert=directory / "backend.pem",
            server_key=directory / "backend-key.pem",
            client_cert=directory / "gateway-client.pem",
            client_key=directory / "gateway-client-key.pem",
        )
        _write(tls.ca_cert, ca.public_bytes(serialization.Encoding.PEM))
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_ADDRESSES]
        for cert_path, key_path, common_name, usage, san in (
            (tls.server_cert, tls.server_key, "edgeauth demo backend", ExtendedKeyUsageOID.SERVER_AUTH, sans),
            (
                tls.client_cert,
                tls.client_key,
                "edgeauth local gateway",
                ExtendedKeyUsageOID.CLIENT_AUTH,
                None,
            ),
        ):
            key = ec.generate_private_key(ec.SECP256R1())
            builder = _builder(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
                ca_name,
                key.public_key(),
                now,
            )
            # (Key identifiers: OpenSSL's strict verification, the default from Python 3.13, wants them.)
            builder = (
                builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
                )
            )
            if san is not None:
                builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
            _write(cert_path, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
            _write(
                key_path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
                private=True,
            )
        return tls

    def server_context(self, *, require_client_certificate: bool) -> ssl.SSLContext:
        """The demo backend's context; with ``require_client_certificate``, a handshake without a
        certificate signed by this CA fails (the backend never sees the request)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=self.ca_cert)
        return context

    def client_context(self, *, present_certificate: bool) -> ssl.SSLContext:
        """The gateway's context for the backend hop: verifies the backend against this CA and,
        with ``present_certificate`` (the stage has a client certificate), presents its own."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        if present_certificate:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
