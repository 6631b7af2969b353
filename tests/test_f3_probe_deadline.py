"""The soft-404 probe takes no more than what is left of the deadline of the URL that waits
for it, over real sockets on 127.0.0.1.

A host that stalls on the made-up address (or trickles its answer for ever) held a live
page's verdict up to `read_timeout` or `total_timeout` past the URL's deadline, and its
per-host slot with it. A probe out of time is "no probe answer": the page's verdict is the
one a prompt "not found" for the probe gives, never a timeout, and the probe still goes
out within the host's slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from catalog.check import check_targets
from catalog.check.soft404 import PROBE_PREFIX, probe_time
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from tests.local_site import PAGES

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits

SETTINGS = replace(
    CheckSettings(),
    allow_private=True,
    total_timeout=3.0,
    read_timeout=2.0,
    connect_timeout=1.0,
    per_host_rate=200.0,
)
#: Time a verdict may take beyond the URL's deadline (event loop, judging, teardown).
SLACK = 0.5
#: A page of a site that answers any address with it (the made-up one too).
CATCHALL = (
    b"<html><head><title>Resource Library</title></head><body><h1>Resource Library</h1>"
    b"<p>Search our library of reports, guides and toolkits for service providers.</p>"
    b"</body></html>"
)


@dataclass
class Request:
    path: str
    opened: float
    closed: float = float("inf")


@dataclass
class ProbeSite:
    """A site on 127.0.0.1: its pages answer at once, those under /page/slow after
    `page_delay` s; the soft-404 probe's made-up address as `probe` says: "404"
    at once, "stall" (no answer before the test ends), "trickle" (a 200 whose body comes a
    byte at a time for ever), "catchall" (the site's one page, as its pages are), "404"
    and "catchall" after `probe_delay` s."""

    page_delay: float
    probe: str
    probe_delay: float = 0.0
    base: str = ""
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def probes(self) -> list[Request]:
        return [r for r in self.requests if PROBE_PREFIX in r.path]


def _closed(sock: socket.socket, seconds: float) -> bool:
    """Whether the client closed its end within `seconds` (it sends nothing more)."""
    readable, _, _ = select.select([sock], [], [], seconds)
    return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""


@contextlib.contextmanager
def probe_site(page_delay: float, probe: str, probe_delay: float = 0.0) -> Iterator[ProbeSite]:
    site = ProbeSite(page_delay, probe, probe_delay)
    gone = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = Request(self.path, time.monotonic())
            with site.lock:
                site.requests.append(request)
            try:
                self._answer()
            except OSError:
                pass  # the client left: what these tests are about
            finally:
                request.closed = time.monotonic()

        def _answer(self) -> None:
            if PROBE_PREFIX not in self.path:
                if self.path.startswith("/page/slow"):
                    gone.wait(site.page_delay)
                self._send(200, CATCHALL if site.probe == "catchall" else None)
                return
            how = site.probe
            if how in ("404", "catchall"):
                gone.wait(site.probe_delay)
            if how == "404":
                self._send(404, None)
            elif how == "catchall":
                self._send(200, CATCHALL)
            elif how == "stall":
                while not gone.is_set() and not _closed(self.connection, 0.02):
                    pass
            else:  # trickle: a byte at a time, each well within `read_timeout`
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(10**6))
                self.end_headers()
                self.wfile.write(CATCHALL[:40])
                while not gone.is_set() and not _closed(self.connection, 0.05):
                    self.wfile.write(b" ")
                    self.wfile.flush()

        def _send(self, status: int, body: bytes | None) -> None:
            if body is None:
                status, _headers, body = (
                    PAGES["/report.html"] if status == 200 else PAGES["/missing"]
                )
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        gone.set()
        server.shutdown()
        server.server_close()


def checked(urls: list[str], settings: CheckSettings = SETTINGS) -> tuple[list[Observation], float]:
    targets = [Target(url=u, host="127.0.0.1", resource_ids=(f"r{i}",)) for i, u in enumerate(urls)]
    start = time.monotonic()
    observations = asyncio.run(check_targets(targets, settings))
    return observations, time.monotonic() - start


def verdict(obs: Observation) -> tuple[Outcome, str | None, str]:
    return obs.outcome, obs.title, obs.reason


@pytest.mark.parametrize(
    ("page_delay", "probe"),
    [
        # Time left for the probe, which trickles: it went on to its own `total_timeout`.
        (0.9, "trickle"),
        # Time left: a probe that stalls ends at its request's `read_timeout`, as ever.
        (0.5, "stall"),
        # Less time left than half the deadline (shorter than `read_timeout`).
        (2.0, "stall"),
        (2.0, "trickle"),
    ],
)
def test_a_probe_out_of_the_urls_time_leaves_its_verdict_in_time_and_unchanged(
    page_delay: float, probe: str
) -> None:
    with probe_site(page_delay, "404") as site:
        (prompt,), _ = checked([site.url("/page/slow-report.html")])
    with probe_site(page_delay, probe) as site:
        (obs,), elapsed = checked([site.url("/page/slow-report.html")])
    assert verdict(prompt) == (Outcome.OK, "Annual Report", prompt.reason)
    assert verdict(obs) == verdict(prompt)
    assert elapsed < SETTINGS.total_timeout + SLACK, elapsed


def test_a_stalled_probe_never_has_the_host_answer_more_at_once_than_its_slots() -> None:
    # One slot for the host: the probe ends with the URL that sent it, before the host's
    # next URL is requested, and that URL does not wait for it again.
    settings = replace(SETTINGS, per_host_concurrency=1)
    urls = [f"/page/slow-{name}.html" for name in ("a", "b", "c")]
    with probe_site(0.3, "trickle") as site:
        observations, elapsed = checked([site.url(u) for u in urls], settings)
        requests = list(site.requests)
    assert [o.outcome for o in observations] == [Outcome.OK] * 3, [o.reason for o in observations]
    assert len([r for r in requests if PROBE_PREFIX in r.path]) == 1, "one probe for the host"
    for one in requests:
        for other in requests:
            if one is not other and one.opened <= other.opened:
                overlap = min(one.closed, other.closed) - other.opened
                assert overlap < 0.1, (one, other)
    assert elapsed < 3 * 0.3 + SETTINGS.total_timeout + SLACK, elapsed


def test_a_url_without_time_for_the_probe_leaves_it_to_the_hosts_next_url() -> None:
    # The slow page's probe would have had 1 s, less than the 1.5 s the probe may want
    # (half the deadline) and the site takes to answer it: cut short, its "no answer" would
    # stand for the host all run, and the site that answers any address with the same page
    # would pass for one that says 404.
    settings = replace(SETTINGS, per_host_concurrency=1)
    with probe_site(2.0, "catchall", probe_delay=1.5) as site:
        observations, elapsed = checked(
            [site.url("/page/slow-annual-report"), site.url("/page/toolkit")], settings
        )
    assert observations[1].outcome is Outcome.SOFT_404, observations[1].reason
    assert len(site.probes()) == 1
    assert elapsed < 2.0 + SETTINGS.total_timeout + SLACK, elapsed


def test_the_probe_gets_what_is_left_of_the_deadline_when_that_is_a_requests_wait() -> None:
    default = CheckSettings()  # read_timeout 15 s, total_timeout 45 s
    assert probe_time(30.0, default) == 30.0
    assert probe_time(15.0, default) == 15.0
    assert probe_time(14.9, default) is None
    assert probe_time(-0.1, default) is None
    assert probe_time(None, default) == 15.0, "no deadline in scope: one request's wait"
    # A deadline shorter than two requests' waits still leaves the probe half of it.
    short = replace(default, total_timeout=10.0)
    assert (probe_time(5.0, short), probe_time(4.9, short)) == (5.0, None)
