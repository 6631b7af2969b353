"""The fetch of an intermediate a server leaves out takes no more than the URL's deadline
allows, over real sockets on 127.0.0.1 (the chain fixtures of tests/test_issuers.py).

A CA address that trickled its file held the link to its deadline, and the link that had
answered at once was a timeout. Now the link is judged, in its time, as when the CA's
file cannot be fetched; and the fetch itself, which no one URL's deadline bounds, stops
at `ISSUER_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from catalog.check import issuers
from catalog.check.issuers import Issuers
from catalog.outcomes import Outcome
from tests.test_issuers import SETTINGS, Chain, ca_site, check, https_site

FAST = replace(SETTINGS, total_timeout=3.0)
#: Time a verdict may take beyond the URL's deadline (event loop, judging, teardown).
SLACK = 0.5


@pytest.fixture
def chain() -> Chain:
    root = trustme.CA(organization_name="fixture root")
    return Chain(root=root, intermediate=root.create_child_ca())


@contextlib.contextmanager
def trickling_ca() -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP "CA" that answers 200 and then sends its file a byte at a time, each
    well within `read_timeout`, until the client leaves; with the paths asked for."""
    asked: list[str] = []
    gone = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-cert")
            self.send_header("Content-Length", str(10**6))
            self.end_headers()
            with contextlib.suppress(OSError):
                while not gone.is_set():
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return  # the client left
                    self.wfile.write(b"0")
                    self.wfile.flush()

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        gone.set()
        server.shutdown()
        server.server_close()


def test_a_ca_that_trickles_leaves_the_link_judged_in_time_as_without_the_file(
    chain: Chain, tmp_path: Path
) -> None:
    with (
        ca_site({}) as (ca, _hits),  # the CA's address answers 404 at once
        https_site(chain.leaf([f"{ca}/int.crt"]), tmp_path) as site,
    ):
        (prompt,) = check([f"{site}/a"], chain.client(), FAST)
    with (
        trickling_ca() as (ca, asked),
        https_site(chain.leaf([f"{ca}/int.crt"]), tmp_path) as site,
    ):
        start = time.monotonic()
        first, second = check([f"{site}/a", f"{site}/b"], chain.client(), FAST)
        elapsed = time.monotonic() - start
    assert prompt.outcome is Outcome.TLS_ERROR, prompt.reason
    for obs in (first, second):
        assert (obs.outcome, obs.reason) == (prompt.outcome, prompt.reason)
    assert asked == ["/int.crt"], "fetched once for the host, not per URL"
    assert elapsed < FAST.total_timeout + SLACK, elapsed


class _Trust:
    """The server's certificate as sent; what was trusted."""

    def __init__(self, leaf_der: bytes) -> None:
        self.leaf_der = leaf_der
        self.trusted: list[bytes] = []

    async def peer_certificate(self, host: str, port: int) -> bytes | None:
        return self.leaf_der

    def trust_intermediate(self, der: bytes) -> None:
        self.trusted.append(der)


def test_a_fetch_no_deadline_bounds_stops_at_its_cap(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(issuers, "ISSUER_SECONDS", 0.2)
    leaf = x509.load_pem_x509_certificate(chain.leaf(["http://ca.example/int.crt"])[0])
    trust = _Trust(leaf.public_bytes(serialization.Encoding.DER))
    fetched: list[str] = []

    async def never(url: str) -> bytes | None:
        fetched.append(url)
        await asyncio.sleep(5)
        return None

    async def complete() -> tuple[bool, float]:
        found = Issuers(trust, never)
        start = time.monotonic()
        added = await found.complete("site.example", 443)
        return added, time.monotonic() - start

    added, elapsed = asyncio.run(complete())
    assert (added, trust.trusted, fetched) == (False, [], ["http://ca.example/int.crt"])
    assert elapsed < 1.0, elapsed
