"""A misbehaving web server on 127.0.0.1, for tests that check links over real sockets.

Inputs: HTTP/1.1 requests on loopback. Outputs: one behaviour per path (see `ROUTES` and
`PREFIX_ROUTES`), and per-path records (`PathStats`) so tests can assert what reached the
server. HTTP is spoken by hand on raw asyncio streams so a path can misbehave at the byte
level (trickle, never answer, reset, oversize bodies). The server runs its own event loop on
a background thread, so the checker under test runs on the test's loop without sharing it.

Listeners: plain HTTP, and TLS with a self-signed, an expired, a wrong-host and a valid
certificate (the last three issued by the fixture CA; see `tests.certs`). `closed_port` is a
port nothing listens on. Import `fixture_web` and `fresh_web` into a test module, then ask for
`web`: the module's server with its records cleared for each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import secrets
import socket
import ssl
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.certs import FixtureCerts, make_certs_in_tempdir

HOST = "127.0.0.1"
#: Behaviours that wait for the client never outlive this, even if the client never leaves.
MAX_HOLD_SECONDS = 120.0
HUGE_BODY_BYTES = 50 * 1024 * 1024
BOMB_DECOMPRESSED_BYTES = 50 * 1024 * 1024
ETAG = '"fixture-v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


@dataclass
class PathStats:
    """What one path saw since the last reset."""

    count: int = 0
    methods: list[str] = field(default_factory=list)
    #: Requests being answered at the same moment, at most.
    max_open: int = 0
    open_now: int = 0
    #: Headers of the last request, names lower-cased.
    last_headers: dict[str, str] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    #: `time.monotonic()` at each request's arrival, to measure waits between retries.
    arrivals: list[float] = field(default_factory=list)
    #: Body bytes the kernel accepted (after `drain`), all requests together.
    body_bytes_sent: int = 0

    def copy(self) -> PathStats:
        return PathStats(
            count=self.count,
            methods=list(self.methods),
            max_open=self.max_open,
            open_now=self.open_now,
            last_headers=dict(self.last_headers),
            headers=[dict(h) for h in self.headers],
            statuses=list(self.statuses),
            arrivals=list(self.arrivals),
            body_bytes_sent=self.body_bytes_sent,
        )


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class Exchange:
    """One request and the means to answer it, byte by byte if need be."""

    def __init__(
        self,
        server: FixtureWeb,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stats: PathStats,
    ) -> None:
        self.server = server
        self.request = request
        self.reader = reader
        self.writer = writer
        self.stats = stats

    @property
    def is_head(self) -> bool:
        return self.request.method == "HEAD"

    # Each answer is recorded before it is written: recorded after, a test that reads the
    # records as soon as its client has the answer could find them not there yet.

    async def send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {_phrase(status)}", *(f"{k}: {v}" for k, v in headers)]
        self.server.record_status(self.request.path, status)
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self.writer.drain()

    async def send_body(self, data: bytes) -> None:
        self.server.record_body(self.request.path, len(data))
        self.writer.write(data)
        await self.writer.drain()

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str | None = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> bool:
        """A complete answer with Content-Length; HEAD gets the headers only."""
        all_headers = [("Server", "linkhealth-fixture"), ("Date", _http_date())]
        if content_type and status not in (204, 304):
            all_headers.append(("Content-Type", content_type))
        if status not in (204, 304):
            all_headers.append(("Content-Length", str(len(body))))
        all_headers += headers or []
        await self.send_head(status, all_headers)
        if body and not self.is_head and status not in (204, 304):
            await self.send_body(body)
        return self.request.keep_alive

    async def redirect(self, status: int, location: str) -> bool:
        return await self.respond(
            status,
            f'<a href="{location}">moved</a>'.encode(),
            headers=[("Location", location)],
        )

    async def wait_for_client_to_leave(self, tick: float) -> bool:
        """Wait up to `tick` seconds; True once the client has closed or reset the socket."""
        try:
            data = await asyncio.wait_for(self.reader.read(1024), timeout=tick)
        except TimeoutError:
            return False
        except (ConnectionError, OSError):
            return True
        return not data

    def abort_with_reset(self) -> None:
        """Close so the client sees a TCP RST, not a FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Exchange], Awaitable[bool]]


def _phrase(status: int) -> str:
    if status == 999:
        return "Request denied"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _http_date() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _page(title: str, text: str, extra_head: str = "") -> bytes:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>{extra_head}</head>\n"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    ).encode()


OK_PAGE = _page(
    "Survivor Support Toolkit",
    "A practical guide for service providers working with survivors of trafficking.",
)
NOT_FOUND_PAGE = _page("Page Not Found", "Sorry, the page you requested could not be found.")
#: A page whose script writes a document of its own ("</html>" long before the page ends).
SCRIPTED_PAGE = _page(
    "Survivor Support Toolkit",
    "A practical guide for service providers working with survivors of trafficking.",
    "<script>var frame = '<html><body>Loading</body></html>';</script>",
)
HOME_PAGE = _page("Welcome", "Welcome to the Example Institute. Browse our publications.")
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
CATCHALL_PAGE = _page("Resource Library", "Search our library of reports and guides.")
LOGIN_PAGE = _page("Sign in", "Please sign in to view this document.")
CHALLENGE_PAGE = _page("Just a moment...", "Checking your browser before accessing the site.")


# --- behaviours -------------------------------------------------------------------------


async def ok(x: Exchange) -> bool:
    return await x.respond(200, OK_PAGE)


async def home(x: Exchange) -> bool:
    return await x.respond(200, HOME_PAGE)


async def pdf(x: Exchange) -> bool:
    return await x.respond(200, PDF_BYTES, content_type="application/pdf")


async def head_405(x: Exchange) -> bool:
    if x.is_head:
        return await x.respond(405, b"", headers=[("Allow", "GET")])
    return await x.respond(200, OK_PAGE)


async def head_404(x: Exchange) -> bool:
    if x.is_head:
        return await x.respond(404, b"")
    return await x.respond(200, OK_PAGE)


def _status(code: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Handler:
    async def handler(x: Exchange) -> bool:
        return await x.respond(code, body or _page(_phrase(code), "Error."), headers=headers)

    return handler


async def flaky_503_once(x: Exchange) -> bool:
    """503 to the first request of each distinct target (path + query), 200 afterwards."""
    if x.server.first_time(x.request.target):
        return await x.respond(503, _page("Service Unavailable", "Try again."))
    return await x.respond(200, OK_PAGE)


async def retry_after_503_once(x: Exchange) -> bool:
    if x.server.first_time(x.request.target):
        return await x.respond(503, b"busy", headers=[("Retry-After", "1")])
    return await x.respond(200, OK_PAGE)


async def rate_limited(x: Exchange) -> bool:
    return await x.respond(429, b"slow down", headers=[("Retry-After", "1")])


def _redirect(code: int, location: str, absolute: bool = False) -> Handler:
    async def handler(x: Exchange) -> bool:
        where = f"http://{x.request.headers.get('host', HOST)}{location}" if absolute else location
        return await x.redirect(code, where)

    return handler


async def redirects(x: Exchange) -> bool:
    """/redirects/N answers N redirects in a row (?code=301 to change the status), then 200;
    any other name under /redirects/ (the checker's soft-404 probe) is not found."""
    last = x.request.path.rsplit("/", 1)[1]
    if last and not last.isdigit():
        return await x.respond(404, _page("Not Found", "Error."))
    left = int(last or 0)
    if left <= 0:
        return await x.respond(200, OK_PAGE)
    code = int(x.request.query.get("code", ["302"])[0])
    return await x.redirect(code, f"/redirects/{left - 1}?code={code}")


async def deep_link_to_home(x: Exchange) -> bool:
    """/deep-301/... and /deep-302/...: a retired article sent to the home page."""
    code = 302 if x.request.path.startswith("/deep-302/") else 301
    return await x.redirect(code, "/")


async def catchall(x: Exchange) -> bool:
    return await x.respond(200, CATCHALL_PAGE)


async def conditional(x: Exchange) -> bool:
    """ETag and Last-Modified; 304 without a body when the client already has this version."""
    validators = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED), ("Cache-Control", "no-cache")]
    inm = x.request.headers.get("if-none-match")
    ims = x.request.headers.get("if-modified-since")
    fresh = False
    if inm is not None:
        fresh = inm.strip() == "*" or ETAG in [t.strip().removeprefix("W/") for t in inm.split(",")]
    elif ims is not None:
        with contextlib.suppress(TypeError, ValueError):
            fresh = parsedate_to_datetime(ims) >= parsedate_to_datetime(LAST_MODIFIED)
    if fresh:
        return await x.respond(304, b"", headers=validators)
    return await x.respond(200, OK_PAGE, headers=validators)


async def dynamic(x: Exchange) -> bool:
    """Same content each time; only the CSRF token, a nonce and a hidden timestamp change."""
    token = secrets.token_hex(16)
    stamp = datetime.now(UTC).isoformat()
    body = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="csrf-token" content="{token}"><title>Annual Report</title>'
        f'<script nonce="{secrets.token_hex(8)}">window.renderedAt = "{stamp}";</script>'
        f"</head>\n<!-- rendered {stamp} -->\n<body><h1>Annual Report</h1>"
        "<p>Findings on labour exploitation in supply chains.</p>"
        f'<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        '<input type="email" name="email"><button>Subscribe</button></form></body></html>\n'
    ).encode()
    return await x.respond(200, body)


async def trickle(x: Exchange) -> bool:
    """Headers at once, then one body byte a second until the client leaves."""
    return await _trickle(x, 200)


async def trickle_not_found(x: Exchange) -> bool:
    """`trickle`, for a 404's page."""
    return await _trickle(x, 404)


async def _trickle(x: Exchange, status: int) -> bool:
    await x.send_head(
        status,
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(1024 * 1024))],
    )
    if x.is_head:
        return x.request.keep_alive
    source = OK_PAGE * 1000
    for i in range(int(MAX_HOLD_SECONDS)):
        await x.send_body(source[i : i + 1])
        if await x.wait_for_client_to_leave(1.0):
            break
    return False


async def stall_body(x: Exchange) -> bool:
    """Headers and part of the page at once, then nothing more until the client leaves."""
    await x.send_head(
        200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "100000")]
    )
    if x.is_head:
        return x.request.keep_alive
    await x.send_body(OK_PAGE[:200])
    for _ in range(int(MAX_HOLD_SECONDS)):
        if await x.wait_for_client_to_leave(1.0):
            break
    return False


#: Bytes of `/slow-file`: more than the body cap, as a large report is.
SLOW_FILE_BYTES = 4 * 1024 * 1024


async def slow_file(x: Exchange) -> bool:
    """A 4 MiB PDF sent steadily at `?kbps=` KiB/s (400 by default), until it ends or the
    client leaves: a slow server, not a stalled one. A throttle's pace: each tenth of a
    second, what the rate allows by then from the start (a tenth's worth at once). A fixed
    step a tick fell behind on a loaded machine, whose late ticks cut the rate by half and
    more: too little came by a short deadline for a slow read to be judged."""
    rate = int(x.request.query.get("kbps", ["400"])[0]) * 1024
    await x.send_head(
        200,
        [
            ("Content-Type", "application/pdf"),
            ("Content-Length", str(SLOW_FILE_BYTES)),
            ("ETag", ETAG),
        ],
    )
    if x.is_head:
        return x.request.keep_alive
    body = (PDF_BYTES + bytes(range(256)) * 64) * (SLOW_FILE_BYTES // len(PDF_BYTES) + 1)
    start, sent = time.monotonic(), 0
    while sent < SLOW_FILE_BYTES:
        due = min(SLOW_FILE_BYTES, int((time.monotonic() - start + 0.1) * rate))
        await x.send_body(body[sent:due])
        sent = due
        if await x.wait_for_client_to_leave(0.1):
            break
    return False


def _stall_after(body: bytes, *, chunked: bool) -> Handler:
    """A 200 whose whole `body` comes at once, then nothing until the client leaves: chunked
    without the last chunk, or under a Content-Length two bytes longer than `body`."""

    async def handler(x: Exchange) -> bool:
        framing = (
            ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(len(body) + 2))
        )
        await x.send_head(200, [("Content-Type", "text/html; charset=utf-8"), framing])
        if x.is_head:
            return x.request.keep_alive
        await x.send_body(b"%x\r\n%s\r\n" % (len(body), body) if chunked else body)
        for _ in range(int(MAX_HOLD_SECONDS)):
            if await x.wait_for_client_to_leave(1.0):
                break
        return False

    return handler


async def trickle_headers(x: Exchange) -> bool:
    """Even the status line arrives one byte a second."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    for i in range(len(head)):
        x.writer.write(head[i : i + 1])
        await x.writer.drain()
        if await x.wait_for_client_to_leave(1.0):
            break
    return False


async def never_answers(x: Exchange) -> bool:
    """Reads the request, then says nothing until the client gives up."""
    for _ in range(int(MAX_HOLD_SECONDS)):
        if await x.wait_for_client_to_leave(1.0):
            break
    return False


async def reset_connection(x: Exchange) -> bool:
    x.abort_with_reset()
    return False


async def reset_mid_body(x: Exchange) -> bool:
    await x.send_head(200, [("Content-Type", "text/html"), ("Content-Length", "100000")])
    if not x.is_head:
        await x.send_body(OK_PAGE[:100])
        await asyncio.sleep(0.05)
    x.abort_with_reset()
    return False


async def truncated_body(x: Exchange) -> bool:
    """Promises 100 kB, sends 100 bytes, closes cleanly (FIN)."""
    await x.send_head(200, [("Content-Type", "text/html"), ("Content-Length", "100000")])
    if not x.is_head:
        await x.send_body(OK_PAGE[:100])
    return False


async def huge(x: Exchange) -> bool:
    """A 50 MB body made as it is sent; `body_bytes_sent` tells how much the client let through."""
    sock = x.writer.get_extra_info("socket")
    if sock is not None:  # a small send buffer keeps the count close to what the client read
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    await x.send_head(
        200,
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(HUGE_BODY_BYTES))],
    )
    if x.is_head:
        return x.request.keep_alive
    chunk = b"0123456789abcdef" * 4096  # 64 KiB
    sent = 0
    while sent < HUGE_BODY_BYTES:
        await x.send_body(chunk)
        sent += len(chunk)
    return x.request.keep_alive


@cache
def gzip_bomb() -> bytes:
    """~50 kB of gzip that inflates to 50 MB of HTML."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [comp.compress(b"<!doctype html><html><head><title>Bomb</title></head><body>")]
    block = b" " * (1024 * 1024)
    parts += [comp.compress(block) for _ in range(BOMB_DECOMPRESSED_BYTES // len(block))]
    parts.append(comp.flush())
    return b"".join(parts)


async def gzip_bomb_page(x: Exchange) -> bool:
    return await x.respond(200, gzip_bomb(), headers=[("Content-Encoding", "gzip")])


async def gzip_page(x: Exchange) -> bool:
    """A well-behaved gzip page, the control for the bomb."""
    return await x.respond(200, gzip.compress(OK_PAGE), headers=[("Content-Encoding", "gzip")])


def _gzip_again(gzipped: Callable[[], bytes]) -> Handler:
    """A gzipped body gzipped once more and labelled so ("Content-Encoding: gzip, gzip")."""

    async def handler(x: Exchange) -> bool:
        twice = gzip.compress(gzipped())
        return await x.respond(200, twice, headers=[("Content-Encoding", "gzip, gzip")])

    return handler


async def slow(x: Exchange) -> bool:
    """/slow/<digits> takes 0.3 s, so overlapping requests are visible in `max_open`."""
    if not x.request.path.removeprefix("/slow/").isdigit():
        return await x.respond(404, _page("Not Found", "No such page."))
    await asyncio.sleep(0.3)
    return await x.respond(200, OK_PAGE)


async def slow_hops(x: Exchange) -> bool:
    """/slow-hops/<n>: 0.5 s, then a 302 to /slow-hops/<n-1>; /slow-hops/0 is the page."""
    left = x.request.path.removeprefix("/slow-hops/")
    if not left.isdigit():
        return await x.respond(404, _page("Not Found", "No such page."))
    await asyncio.sleep(0.5)
    if int(left) == 0:
        return await x.respond(200, OK_PAGE)
    return await x.redirect(302, f"/slow-hops/{int(left) - 1}")


async def slow_retry_after(x: Exchange) -> bool:
    """0.3 s, then 503 with Retry-After: ?s= (seconds, default 2), every time."""
    await asyncio.sleep(0.3)
    seconds = x.request.query.get("s", ["2"])[0]
    return await x.respond(503, b"busy", headers=[("Retry-After", seconds)])


async def echo_headers(x: Exchange) -> bool:
    lines = "".join(f"<li>{k}: {v}</li>" for k, v in x.request.headers.items())
    return await x.respond(200, _page("Headers", f"<ul>{lines}</ul>"))


#: A page with accents: its length in characters is less than its length in bytes.
ACCENTED_PAGE = _page(
    "Guía para proveedores", "Señales de trata de personas – niños y víctimas, en español."
)


def _framed(framing: list[tuple[str, str]], body: bytes = OK_PAGE) -> Handler:
    """A 200 whose head carries exactly `framing` (no Content-Length of its own), sent with
    its body in one write, then the connection closed: framings browsers, curl and h11 read
    that llhttp refuses, or that every parser refuses."""

    async def handler(x: Exchange) -> bool:
        lines = ["HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8"]
        lines += [f"{name}: {value}" for name, value in framing]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        x.server.record_status(x.request.path, 200)
        x.writer.write(head if x.is_head else head + body)
        await x.writer.drain()
        return False

    return handler


def _chunked(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


async def ssh_banner(x: Exchange) -> bool:
    """What an SSH server on an HTTP port says, then nothing until the client leaves."""
    x.writer.write(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n")
    await x.writer.drain()
    for _ in range(int(MAX_HOLD_SECONDS)):
        if await x.wait_for_client_to_leave(1.0):
            break
    return False


async def http_0_9(x: Exchange) -> bool:
    """An HTTP/0.9 answer: the page with no status line nor headers, then the close."""
    x.writer.write(OK_PAGE)
    await x.writer.drain()
    return False


async def stray_answer_after(x: Exchange) -> bool:
    """The page, chunked on a kept-alive connection, and 0.1 s later a second answer nobody
    asked for (a 404), as a buggy proxy or application sends; then the next request."""
    await x.send_head(
        200, [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")]
    )
    if not x.is_head:
        await x.send_body(_chunked(OK_PAGE))
    await asyncio.sleep(0.1)
    await x.send_body(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return x.request.keep_alive


def _bad_chunk_later(first: bytes) -> Handler:
    """A chunked 200 whose first chunk (`first`) is sound and whose next, sent a moment
    later in a read of its own, has no size ("zz"); then the connection stays open."""

    async def handler(x: Exchange) -> bool:
        await x.send_head(
            200, [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")]
        )
        if x.is_head:
            return False
        await x.send_body(b"%x\r\n%s\r\n" % (len(first), first))
        await asyncio.sleep(0.2)
        await x.send_body(b"zz\r\nmore\r\n0\r\n\r\n")
        for _ in range(int(MAX_HOLD_SECONDS)):
            if await x.wait_for_client_to_leave(1.0):
                break
        return False

    return handler


def _broken_off(
    body: bytes, content_type: str = "text/html; charset=utf-8", *, reset: bool = True
) -> Handler:
    """A chunked 200 whose first chunk is `body` and whose next breaks off after three of
    its 4,096 bytes: the connection reset (a proxy closing early) or closed."""

    async def handler(x: Exchange) -> bool:
        await x.send_head(200, [("Content-Type", content_type), ("Transfer-Encoding", "chunked")])
        if not x.is_head:
            await x.send_body(b"%x\r\n%s\r\n1000\r\nabc" % (len(body), body))
            await asyncio.sleep(0.05)
        if reset:
            x.abort_with_reset()
        return False

    return handler


def _typed(content_type: str, body: bytes) -> Handler:
    """A 200 of `body` labelled `content_type`, whatever the body is."""

    async def handler(x: Exchange) -> bool:
        return await x.respond(200, body, content_type=content_type)

    return handler


ROUTES: dict[str, Handler] = {
    "/": home,
    "/ok": ok,
    #: Where redirects land: not "/ok", which a home-page heuristic may read as a language root.
    "/toolkit": ok,
    "/pdf": pdf,
    "/head-405": head_405,
    "/head-404": head_404,
    "/not-found": _status(404),
    "/gone": _status(410),
    #: A 304 to every request, conditional or not (a misconfigured cache).
    "/always-304": _status(304),
    "/server-error": _status(500),
    "/flaky-503-once": flaky_503_once,
    "/retry-after-503-once": retry_after_503_once,
    "/rate-limited": rate_limited,
    "/redirect-301": _redirect(301, "/toolkit", absolute=True),
    "/redirect-308": _redirect(308, "/toolkit"),
    "/redirect-302": _redirect(302, "/toolkit"),
    "/loop-a": _redirect(302, "/loop-b"),
    "/loop-b": _redirect(302, "/loop-a"),
    "/redirect-to-404": _redirect(302, "/not-found"),
    "/soft-404-title": _status(
        200, _page("Page Not Found", "Sorry, the page you requested could not be found.")
    ),
    "/soft-404-es": _status(
        200, _page("Página no encontrada", "Lo sentimos, la página que busca no existe.")
    ),
    # The same page under the labels of misconfigured servers, and in UTF-16 saying nothing.
    "/soft-404-plain": _typed("text/plain", NOT_FOUND_PAGE),
    "/soft-404-octet-stream": _typed("application/octet-stream", NOT_FOUND_PAGE),
    "/soft-404-utf16": _typed("text/html", NOT_FOUND_PAGE.decode().encode("utf-16-le")),
    "/soft-404-as-zip": _typed("application/zip", NOT_FOUND_PAGE),
    "/status-999": _status(999, b"<html><body></body></html>"),
    "/cf-challenge": _status(
        403, CHALLENGE_PAGE, [("cf-mitigated", "challenge"), ("Server", "cloudflare")]
    ),
    "/waf-challenge": _status(202, b" ", [("x-amzn-waf-action", "challenge")]),
    "/login-required": _status(401, LOGIN_PAGE, [("WWW-Authenticate", 'Basic realm="staff"')]),
    "/conditional": conditional,
    "/dynamic": dynamic,
    "/trickle": trickle,
    "/trickle-404": trickle_not_found,
    "/trickle-headers": trickle_headers,
    "/stall-body": stall_body,
    "/slow-file": slow_file,
    "/never-answers": never_answers,
    "/reset-connection": reset_connection,
    "/reset-mid-body": reset_mid_body,
    "/truncated-body": truncated_body,
    "/huge": huge,
    "/gzip-bomb": gzip_bomb_page,
    "/gzip": gzip_page,
    "/gzip-twice": _gzip_again(lambda: gzip.compress(OK_PAGE)),
    "/gzip-bomb-twice": _gzip_again(gzip_bomb),
    "/echo-headers": echo_headers,
    "/slow-retry-after": slow_retry_after,
    # Framings llhttp refuses and browsers read (`transport.AiohttpPool._reread`).
    "/length-twice": _framed([("Content-Length", str(len(OK_PAGE)))] * 2),
    "/length-list": _framed([("Content-Length", f"{len(OK_PAGE)}, {len(OK_PAGE)}")]),
    "/length-in-characters": _framed(
        [("Content-Length", str(len(ACCENTED_PAGE.decode())))], ACCENTED_PAGE
    ),
    "/chunked-and-length": _framed(
        [("Transfer-Encoding", "chunked"), ("Content-Length", str(len(OK_PAGE)))],
        _chunked(OK_PAGE),
    ),
    "/huge-cookie": _framed(
        [("Set-Cookie", "session=" + "c" * 70_000), ("Content-Length", str(len(OK_PAGE)))]
    ),
    # ... and framings no parser reads.
    "/lengths-disagree": _framed(
        [("Content-Length", str(len(OK_PAGE))), ("Content-Length", str(len(OK_PAGE) + 5))]
    ),
    "/negative-length": _framed([("Content-Length", "-1")]),
    "/bad-chunk-later": _bad_chunk_later(OK_PAGE[:100]),
    # A whole page, then the answer breaks off (`fetch.read_page_body`) ...
    "/bad-chunk-after-page": _bad_chunk_later(OK_PAGE),
    "/reset-after-page": _broken_off(OK_PAGE),
    "/closed-after-page": _broken_off(OK_PAGE, reset=False),
    # ... or never ends (`fetch.judged_when_cut`) ...
    "/stall-after-page": _stall_after(OK_PAGE, chunked=True),
    "/stall-after-page-length": _stall_after(OK_PAGE, chunked=False),
    # ... and what breaks off before a whole page has come.
    "/reset-before-page-end": _broken_off(OK_PAGE[: OK_PAGE.rindex(b"</body>")]),
    "/reset-after-pdf": _broken_off(PDF_BYTES + OK_PAGE, "application/pdf"),
    "/reset-after-script-string": _broken_off(SCRIPTED_PAGE[: SCRIPTED_PAGE.rindex(b"<p>")]),
    "/stray-answer-after": stray_answer_after,
    "/ssh-banner": ssh_banner,
    "/http-0.9": http_0_9,
}
#: Longest prefix wins; anything else is a plain 404.
PREFIX_ROUTES: dict[str, Handler] = {
    "/redirects/": redirects,
    "/deep-301/": deep_link_to_home,
    "/deep-302/": deep_link_to_home,
    "/catchall/": catchall,
    "/slow/": slow,
    "/slow-hops/": slow_hops,
}


def route(path: str) -> Handler:
    if path in ROUTES:
        return ROUTES[path]
    for prefix in sorted(PREFIX_ROUTES, key=len, reverse=True):
        if path.startswith(prefix):
            return PREFIX_ROUTES[prefix]
    return _status(404)


# --- the server ---------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)
    parts = urlsplit(target)
    return Request(method.upper(), target, parts.path or "/", parse_qs(parts.query), headers)


class FixtureWeb:
    """The server; `start()` and `stop()` from the test thread."""

    def __init__(self) -> None:
        self.certs: FixtureCerts
        self.port = 0
        #: TLS ports by certificate kind: "self_signed", "expired", "wrong_host", "valid".
        self.tls_ports: dict[str, int] = {}
        self.closed_port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._stats: dict[str, PathStats] = {}
        self._seen_targets: set[str] = set()
        self._log: list[tuple[str, str]] = []
        self._open_total = 0
        self._max_open_total = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle

    def start(self) -> FixtureWeb:
        self.certs, self._tmp = make_certs_in_tempdir()
        self._loop.set_exception_handler(_quiet_handshakes)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        self.closed_port = _unused_port()
        return self

    async def _start(self) -> None:
        listeners: list[tuple[str, ssl.SSLContext | None]] = [
            ("plain", None),
            ("self_signed", self.certs.self_signed),
            ("expired", self.certs.expired),
            ("wrong_host", self.certs.wrong_host),
            ("valid", self.certs.valid),
        ]
        for kind, ctx in listeners:
            server = await asyncio.start_server(
                self._serve,
                HOST,
                0,
                limit=64 * 1024,
                ssl=ctx,
                ssl_handshake_timeout=5.0 if ctx else None,
            )
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
            if ctx is None:
                self.port = port
            else:
                self.tls_ports[kind] = port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    # -- URLs

    def url(self, path: str = "/ok", tls: str | None = None, host: str = HOST) -> str:
        """`tls` is None for plain HTTP, else a `tls_ports` key."""
        if tls is None:
            return f"http://{host}:{self.port}{path}"
        return f"https://{host}:{self.tls_ports[tls]}{path}"

    def closed_url(self, path: str = "/ok") -> str:
        return f"http://{HOST}:{self.closed_port}{path}"

    # -- records (read from the test thread)

    def reset(self) -> None:
        with self._lock:
            self._stats.clear()
            self._seen_targets.clear()
            self._log.clear()
            self._max_open_total = self._open_total

    def stats(self, path: str) -> PathStats:
        with self._lock:
            return self._stats.get(path, PathStats()).copy()

    def requests(self) -> list[tuple[str, str]]:
        """(method, target) of every request since the last reset, in arrival order."""
        with self._lock:
            return list(self._log)

    @property
    def total_requests(self) -> int:
        with self._lock:
            return len(self._log)

    @property
    def max_open_total(self) -> int:
        """Requests being answered at once across all paths, at most, since the last reset."""
        with self._lock:
            return self._max_open_total

    # -- records (written from the server loop)

    def first_time(self, target: str) -> bool:
        with self._lock:
            if target in self._seen_targets:
                return False
            self._seen_targets.add(target)
            return True

    def record_status(self, path: str, status: int) -> None:
        with self._lock:
            self._stats.setdefault(path, PathStats()).statuses.append(status)

    def record_body(self, path: str, n: int) -> None:
        with self._lock:
            self._stats.setdefault(path, PathStats()).body_bytes_sent += n

    @contextlib.contextmanager
    def _recording(self, request: Request) -> Iterator[PathStats]:
        with self._lock:
            stats = self._stats.setdefault(request.path, PathStats())
            stats.count += 1
            stats.methods.append(request.method)
            stats.last_headers = dict(request.headers)
            stats.headers.append(dict(request.headers))
            stats.arrivals.append(time.monotonic())
            stats.open_now += 1
            stats.max_open = max(stats.max_open, stats.open_now)
            self._log.append((request.method, request.target))
            self._open_total += 1
            self._max_open_total = max(self._max_open_total, self._open_total)
        try:
            yield stats
        finally:
            with self._lock:
                stats.open_now -= 1
                self._open_total -= 1

    # -- connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                with self._recording(request) as stats:
                    exchange = Exchange(self, request, reader, writer, stats)
                    keep_alive = await route(request.path)(exchange)
                if not keep_alive:
                    break
        except (ConnectionError, OSError, asyncio.CancelledError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), timeout=1)


def _quiet_handshakes(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    """Clients that reject our certificates or hang up are the point, not an error."""
    if isinstance(context.get("exception"), ssl.SSLError | ConnectionError | TimeoutError):
        return
    loop.default_exception_handler(context)


def _unused_port() -> int:
    """A loopback port that was free a moment ago and has no listener now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- pytest fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_web() -> Iterator[FixtureWeb]:
    """One server per test module: started once, stopped after the module's last test."""
    server = FixtureWeb().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="web")
def fresh_web(fixture_web: FixtureWeb) -> FixtureWeb:
    """The module's server with its records cleared for this test."""
    fixture_web.reset()
    return fixture_web
