"""Test-time TLS certificates for the fixture web server.

Inputs: nothing. Outputs: server-side `ssl.SSLContext`s for each certificate fault a link
checker meets (self-signed, expired, wrong host name, valid), and the fixture CA so a test
can trust it. Certificate verification reports chain problems before date or name problems,
so the expired and wrong-host certificates are issued by the fixture CA: only a client that
trusts that CA can see the fault we mean.
"""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class FixtureCerts:
    ca: trustme.CA
    #: PEM file of the fixture CA, for `SSL_CERT_FILE` or `ssl.create_default_context(cafile=)`.
    ca_file: Path
    self_signed: ssl.SSLContext
    expired: ssl.SSLContext
    wrong_host: ssl.SSLContext
    valid: ssl.SSLContext

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only the fixture CA."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


def make_certs(directory: Path) -> FixtureCerts:
    """Generate every fixture certificate; PEM files go to `directory`."""
    now = datetime.now(UTC)
    ca = trustme.CA(organization_name="linkhealth fixture CA")
    ca_file = directory / "fixture-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    expired = ca.issue_cert(
        *LOOPBACK_NAMES, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    wrong_host = ca.issue_cert("wrong-host.example")
    valid = ca.issue_cert(*LOOPBACK_NAMES)
    return FixtureCerts(
        ca=ca,
        ca_file=ca_file,
        self_signed=_self_signed_context(directory, now),
        expired=_server_context(expired),
        wrong_host=_server_context(wrong_host),
        valid=_server_context(valid),
    )


def _server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    return ctx


def _self_signed_context(directory: Path, now: datetime) -> ssl.SSLContext:
    """A leaf that signs itself (issuer == subject), as a forgotten test server would have."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "self-signed.pem"
    key_file = directory / "self-signed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def make_certs_in_tempdir() -> tuple[FixtureCerts, tempfile.TemporaryDirectory[str]]:
    """`make_certs` in a fresh temporary directory the caller must clean up."""
    tmp = tempfile.TemporaryDirectory(prefix="linkhealth-certs-")
    return make_certs(Path(tmp.name)), tmp
