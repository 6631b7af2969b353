"""A server that leaves out its intermediate certificate works, as it does in browsers.

Real sockets on 127.0.0.1: an HTTPS site whose certificate is signed by an intermediate it
does not send, and a plain HTTP "CA" serving that intermediate at the address the
certificate names (Authority Information Access), as real CAs publish theirs. The checker
trusts only the fixture root, as a run trusts only the system's roots.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from catalog.check import check_targets
from catalog.check.checker import HostPools
from catalog.check.issuers import issuer_of
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of
from tests.local_site import Answer, handler_class

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits

SETTINGS = replace(
    CheckSettings(),
    allow_private=True,
    total_timeout=5.0,
    connect_timeout=2.0,
    read_timeout=2.0,
    per_host_rate=200.0,
    soft404_probe=False,
)
PAGE = (200, {"Content-Type": "text/html"}, b"<title>Report</title><p>Findings.</p>")


@dataclass
class Chain:
    """A root the checker trusts, an intermediate it does not have, and a leaf."""

    root: trustme.CA
    intermediate: trustme.CA

    def leaf(self, issuers: list[str], signer: trustme.CA | None = None) -> tuple[bytes, bytes]:
        """PEM certificate and key for 127.0.0.1, naming `issuers` as its CA Issuers."""
        signer = signer or self.intermediate
        signer_cert = x509.load_pem_x509_certificate(signer.cert_pem.bytes())
        signer_key = serialization.load_pem_private_key(signer.private_key_pem.bytes(), None)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(signer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if issuers:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(url),
                        )
                        for url in issuers
                    ]
                ),
                critical=False,
            )
        cert = builder.sign(signer_key, hashes.SHA256())  # type: ignore[arg-type]
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    def client(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.root.configure_trust(ctx)
        return ctx


@pytest.fixture
def chain() -> Chain:
    root = trustme.CA(organization_name="fixture root")
    return Chain(root=root, intermediate=root.create_child_ca())


def der(ca: trustme.CA) -> bytes:
    cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    return cert.public_bytes(serialization.Encoding.DER)


@contextmanager
def serve(
    answer: Callable[[BaseHTTPRequestHandler], Answer], tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(answer))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def ca_site(files: dict[str, bytes]) -> Iterator[tuple[str, Counter[str]]]:
    """A plain HTTP server for certificate files, counting requests per path."""
    hits: Counter[str] = Counter()

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        hits[request.path] += 1
        if request.path in files:
            return 200, {"Content-Type": "application/pkix-cert"}, files[request.path]
        return 404, {}, b""

    with serve(answer) as base:
        yield base, hits


@contextmanager
def https_site(leaf: tuple[bytes, bytes], tmp_path: Path) -> Iterator[str]:
    """An HTTPS site on 127.0.0.1 that sends only `leaf`, no intermediate."""
    (tmp_path / "leaf.pem").write_bytes(leaf[0])
    (tmp_path / "key.pem").write_bytes(leaf[1])
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    with serve(lambda _request: PAGE, tls) as base:
        yield base


def check(
    urls: list[str], trust: ssl.SSLContext, settings: CheckSettings = SETTINGS
) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), resource_ids=(u,)) for u in urls]
    pools = HostPools(settings, tls=trust)
    return asyncio.run(check_targets(targets, settings, transport=pools))


def test_a_site_that_leaves_out_its_intermediate_is_ok_once_it_is_fetched(
    chain: Chain, tmp_path: Path
) -> None:
    with ca_site({"/int.crt": der(chain.intermediate)}) as (ca, hits):
        leaf = chain.leaf([f"{ca}/int.crt"])
        with https_site(leaf, tmp_path) as site:
            observations = check([f"{site}/a", f"{site}/b", f"{site}/c"], chain.client())
    assert [o.outcome for o in observations] == [Outcome.OK] * 3, [o.reason for o in observations]
    assert hits["/int.crt"] == 1, "fetched once for the host, not per URL"


def test_a_pem_or_pkcs7_intermediate_is_read_too(chain: Chain, tmp_path: Path) -> None:
    cert = x509.load_der_x509_certificate(der(chain.intermediate))
    files = {
        "/int.pem": chain.intermediate.cert_pem.bytes(),
        "/int.p7c": pkcs7.serialize_certificates([cert], serialization.Encoding.DER),
    }
    for path in files:
        with (
            ca_site(files) as (ca, _hits),
            https_site(chain.leaf([f"{ca}{path}"]), tmp_path) as site,
        ):
            (observation,) = check([f"{site}/"], chain.client())
        assert observation.outcome is Outcome.OK, (path, observation.reason)


def test_without_a_fetchable_intermediate_the_link_stays_a_tls_error(
    chain: Chain, tmp_path: Path
) -> None:
    with (
        ca_site({}) as (ca, hits),  # the CA's address answers 404
        https_site(chain.leaf([f"{ca}/int.crt"]), tmp_path) as site,
    ):
        (observation,) = check([f"{site}/"], chain.client())
    assert observation.outcome is Outcome.TLS_ERROR
    assert "intermediate" in (observation.reason or "")
    assert hits["/int.crt"] == 1


def test_an_intermediate_of_an_untrusted_root_does_not_make_the_site_trusted(
    chain: Chain, tmp_path: Path
) -> None:
    stranger = trustme.CA(organization_name="not in the trust store").create_child_ca()
    with ca_site({"/int.crt": der(stranger)}) as (ca, hits):
        leaf = chain.leaf([f"{ca}/int.crt"], signer=stranger)
        with https_site(leaf, tmp_path) as site:
            (observation,) = check([f"{site}/"], chain.client())
    assert hits["/int.crt"] == 1  # fetched, added, and still no chain to a trusted root
    assert observation.outcome is Outcome.TLS_ERROR


def test_a_self_signed_certificate_offered_as_the_issuer_is_never_trusted(
    tmp_path: Path,
) -> None:
    # A leaf signed directly by a root nobody trusts, naming that root as its issuer's
    # address: trusting what it points at would trust anything.
    rogue = trustme.CA(organization_name="rogue root")
    trusted = Chain(root=trustme.CA(), intermediate=rogue)
    with (
        ca_site({"/root.crt": der(rogue)}) as (ca, hits),
        https_site(trusted.leaf([f"{ca}/root.crt"]), tmp_path) as site,
    ):
        (observation,) = check([f"{site}/"], trusted.client())
    assert hits["/root.crt"] == 1
    assert observation.outcome is Outcome.TLS_ERROR


def test_the_issuer_address_gets_the_address_check_of_any_url(chain: Chain, tmp_path: Path) -> None:
    # The site is allowed by name; the address in its certificate is a loopback one that
    # is not, so it is never requested.
    settings = replace(SETTINGS, allow_private=False, private_allowlist=("localhost",))
    with ca_site({"/int.crt": der(chain.intermediate)}) as (ca, hits):
        leaf_pem, key = chain.leaf([f"{ca}/int.crt"])
        with https_site((leaf_pem, key), tmp_path) as site:
            url = site.replace("127.0.0.1", "localhost") + "/"
            (observation,) = check([url], _trusting_localhost(chain), settings)
    assert not hits, "the certificate's address was requested despite the address check"
    assert observation.outcome is Outcome.TLS_ERROR


def _trusting_localhost(chain: Chain) -> ssl.SSLContext:
    # The leaf names 127.0.0.1 only; reaching it as "localhost" would fail on the name
    # before the chain, so name checks are off for this one test of the chain.
    ctx = chain.client()
    ctx.check_hostname = False
    return ctx


def test_issuer_of_accepts_only_the_ca_that_signed_the_certificate(chain: Chain) -> None:
    leaf = x509.load_pem_x509_certificate(chain.leaf([])[0])
    other = chain.root.create_child_ca()  # same name pattern, another key
    assert issuer_of(leaf, der(chain.intermediate)) == der(chain.intermediate)
    assert issuer_of(leaf, der(other)) is None
    assert issuer_of(leaf, b"<html>not a certificate</html>") is None
