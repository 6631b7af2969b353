"""Intermediate certificates a server leaves out, fetched as browsers fetch them.

Stage: check (beside `Fetcher`). A server that sends its certificate without the
intermediate that signed it works in every mainstream browser: Chrome, Edge and Safari
fetch the missing certificate from the address the certificate names (its Authority
Information Access "CA Issuers" URL) and Firefox ships the intermediates, while OpenSSL,
and so every Python client, refuses the connection ("unable to get local issuer
certificate"). SSL Labs lists such incomplete chains among the commonest faults of small
agency and non-profit sites; calling them broken is crying wolf.

So, on that error, once per host and run: read the server's certificate without verifying
it, fetch the issuer it names over plain HTTP (as Chrome does: no loop through another
TLS chain), keep it only if it is a CA that really signed that certificate and is not
self-issued, and add it to the run's TLS context. There OpenSSL uses it only to build a
chain up to a root it already trusts: partial chains stay off, so a fetched certificate is
never trusted on its own, and a chain to an unknown root still fails.

A CA's address that stalls or trickles must not hold the link: each URL waits for the
intermediate no longer than its own deadline allows (`Issuers.complete`), and the fetch,
which hosts under one CA share and so has no one URL's deadline, no longer than
`ISSUER_SECONDS`. An intermediate that does not come in time is one that could not be
fetched: the handshake's failure stands, as in a browser that could not fetch it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # imported where needed: ~80 ms that most runs never spend
    from cryptography import x509

log = logging.getLogger(__name__)

#: OpenSSL's verify codes for "the issuer of a certificate in the chain is not at hand".
MISSING_ISSUER_CODES = frozenset({2, 20})  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)
#: "CA Issuers" URLs tried per certificate (real certificates name one).
MAX_ISSUER_URLS = 2

#: Seconds a CA's certificate file may take to come. CAs serve these few-KB files from
#: CDNs at once; Chromium gives up on them after 15 s. Without a bound a CA address that
#: trickled kept its request (and every URL waiting for it) going for the whole run.
ISSUER_SECONDS = 10.0
#: Seconds before its deadline at which a URL stops waiting for an intermediate, so that
#: the handshake's own failure, not the deadline, is what the link is judged on.
DEADLINE_MARGIN = 0.5

#: GET `url` -> the body of a 2xx answer, or None.
FetchBody = Callable[[str], Awaitable[bytes | None]]


class ChainTrust(Protocol):
    """What the connections offer (`checker.HostPools`): the server's certificate as sent,
    and a way to let later handshakes build chains through an intermediate."""

    async def peer_certificate(self, host: str, port: int) -> bytes | None: ...

    def trust_intermediate(self, der: bytes) -> None: ...


def missing_issuer(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) is a verification failure for a missing issuer."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_code in MISSING_ISSUER_CODES
        current = current.__cause__ or current.__context__
    return False


class Issuers:
    """Missing intermediates of one run, fetched at most once per host (and per URL)."""

    def __init__(self, trust: ChainTrust, fetch: FetchBody) -> None:
        self._trust = trust
        self._fetch = fetch
        self._hosts: dict[tuple[str, int], asyncio.Task[bool]] = {}
        self._urls: dict[str, asyncio.Task[bytes | None]] = {}

    def tried(self, host: str, port: int) -> bool:
        """True once the host's chain was completed or could not be: a handshake that fails
        after this is the certificate's own fault, not a missing intermediate."""
        task = self._hosts.get((host.lower(), port))
        return task is not None and task.done()

    async def complete(self, host: str, port: int, within: float | None = None) -> bool:
        """Fetch and trust the intermediate `host`'s certificate names; True when one was
        added, so that a handshake that failed for want of it may be tried again.

        `within`: the seconds before the deadline of the URL that asks, if it has one; it
        waits until `DEADLINE_MARGIN` before it at most, and False then (the fetch goes on
        for the host's later URLs, within `ISSUER_SECONDS`). A CA address that trickled
        made a site that answered at once a timeout."""
        key = (host.lower(), port)
        task = self._hosts.get(key)
        if task is None:
            task = self._hosts[key] = asyncio.ensure_future(self._complete(host, port))
        try:
            async with asyncio.timeout(None if within is None else within - DEADLINE_MARGIN):
                return await asyncio.shield(task)
        except TimeoutError:
            log.debug("the intermediate of %s did not come in the link's time", host)
            return False
        except Exception:  # anything a hostile server or CA does means "nothing added"
            log.debug("completing the certificate chain of %s failed", host, exc_info=True)
            return False

    def cancel(self) -> None:
        for task in [*self._hosts.values(), *self._urls.values()]:
            task.cancel()

    async def _complete(self, host: str, port: int) -> bool:
        from cryptography import x509

        leaf_der = await self._trust.peer_certificate(host, port)
        if leaf_der is None:
            return False
        leaf = x509.load_der_x509_certificate(leaf_der)
        for url in issuer_urls(leaf)[:MAX_ISSUER_URLS]:
            task = self._urls.get(url)
            if task is None:  # many hosts share one CA's intermediate
                task = self._urls[url] = asyncio.ensure_future(self._fetch_in_time(url))
            body = await asyncio.shield(task)
            issuer = issuer_of(leaf, body) if body else None
            if issuer is not None:
                self._trust.trust_intermediate(issuer)
                log.info("%s leaves out its intermediate certificate; fetched %s", host, url)
                return True
        return False

    async def _fetch_in_time(self, url: str) -> bytes | None:
        """The CA's file at `url`, or None when it has not come in `ISSUER_SECONDS`."""
        try:
            async with asyncio.timeout(ISSUER_SECONDS):
                return await self._fetch(url)
        except TimeoutError:
            log.debug("the certificate file %s did not come in %s s", url, ISSUER_SECONDS)
            return None


def issuer_urls(cert: x509.Certificate) -> list[str]:
    """The certificate's "CA Issuers" addresses that are plain http:// URLs."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        str(item.access_location.value)
        for item in access.value
        if item.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(item.access_location, x509.UniformResourceIdentifier)
        and str(item.access_location.value).lower().startswith("http://")
    ]


def issuer_of(leaf: x509.Certificate, body: bytes) -> bytes | None:
    """The DER of the certificate in `body` (DER, PEM or PKCS #7, as CAs publish them) that
    signed `leaf`, when it is a CA certificate and not self-issued; else None."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    for cert in _certificates(body):
        if cert.subject != leaf.issuer or cert.subject == cert.issuer:
            continue  # not the one asked for, or a root: roots come from the trust store only
        try:
            if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                continue
            leaf.verify_directly_issued_by(cert)
        except Exception:  # not a CA, a bad signature, or an algorithm we cannot check
            continue
        return cert.public_bytes(Encoding.DER)
    return None


def _certificates(body: bytes) -> list[x509.Certificate]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs7

    loaders: list[Callable[[bytes], list[x509.Certificate]]]
    if b"-----BEGIN" in body:
        loaders = [x509.load_pem_x509_certificates, pkcs7.load_pem_pkcs7_certificates]
    else:
        loaders = [
            lambda data: [x509.load_der_x509_certificate(data)],
            pkcs7.load_der_pkcs7_certificates,
        ]
    for load in loaders:
        try:
            return load(body)
        except Exception:  # not this encoding: try the next
            continue
    return []
