"""A simulated web of many slow hosts on loopback, for benchmarking the checker.

Stage: benchmark fixture (not part of linkhealth). Inputs: HTTP/1.1 requests to host
addresses 127.0.x.y (see `host_address`) on one shared port. Outputs: one behaviour per URL
path (`/<kind>/<n>`, kinds in `KINDS`), each answered after the configured latency; and
per-host records (`HostStats`: requests, methods, statuses, bytes sent, the most requests
and connections open at once, the most requests started within one second) served as JSON
by the control address `127.0.0.1:<port>` (`/__stats`, `/__reset`, `/__config`).

HTTP is spoken by hand on `asyncio.Protocol`s with timers instead of coroutines, on uvloop
when it is installed, so one process on one core answers several thousand requests a second
and the latency a client sees is the configured one, not the server's queueing. Every
listener binds an explicit 127/8 address: on Linux the whole block is local, so no setup
is needed and nothing is reachable from outside the machine.

    python -m bench.simweb --hosts 200 --port 8080 --latency-ms 50 --jitter-ms 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import errno
import importlib
import ipaddress
import json
import os
import random
import resource
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qs

__all__ = [
    "CONTROL_ADDRESS",
    "KINDS",
    "MAX_HOSTS",
    "HostStats",
    "SimWeb",
    "host_address",
    "html_page",
    "main",
    "page_title",
    "pdf_document",
]

#: Behaviours a URL can ask for, as the first path segment: `/html/17`.
KINDS = (
    "ok",
    "html",
    "pdf",
    "404",
    "410",
    "500",
    "flaky503",
    "ratelimit",
    "reset",
    "slow",
    "perm",
    "temp",
    "loop",
    "soft404",
    "home-redirect",
    "head405",
    "etag",
    "blocked",
)
#: Host i lives at 127.0.(1 + i // 254).(1 + i % 254); 127.0.0.x is left to the control side.
MAX_HOSTS = 254 * 254
CONTROL_ADDRESS = "127.0.0.1"
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_MAX_HEAD_BYTES = 64 * 1024
_SLOW_FACTOR = 3.0


def host_address(index: int) -> str:
    """The loopback address of host `index` (0-based)."""
    if not 0 <= index < MAX_HOSTS:
        raise ValueError(f"host index {index} outside 0..{MAX_HOSTS - 1}")
    return f"127.0.{1 + index // 254}.{1 + index % 254}"


def _require_loopback(address: str) -> None:
    if ipaddress.ip_address(address) not in _LOOPBACK:
        raise ValueError(f"{address} is not a loopback address; simweb binds only 127/8")


# --- records -----------------------------------------------------------------------------


@dataclass(slots=True)
class HostStats:
    """What one host saw since the last reset; `open_now`/`connections_now` are live gauges."""

    requests: int = 0
    bytes_sent: int = 0
    methods: collections.Counter[str] = field(default_factory=collections.Counter)
    #: Status codes sent, plus "reset" (we sent RST) and "aborted" (client left first).
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    #: Requests received and not yet answered, now and at most.
    open_now: int = 0
    max_open: int = 0
    connections: int = 0
    connections_now: int = 0
    max_connections: int = 0
    #: Most requests that arrived within any one-second window (a check of the rate limit).
    max_per_second: int = 0
    first_at: float | None = None
    last_at: float | None = None
    recent: collections.deque[float] = field(default_factory=collections.deque)

    def reset(self) -> None:
        """Zero the counters; requests and connections open right now stay counted."""
        self.requests = self.bytes_sent = self.connections = self.max_per_second = 0
        self.methods.clear()
        self.statuses.clear()
        self.max_open = self.open_now
        self.max_connections = self.connections_now
        self.first_at = self.last_at = None
        self.recent.clear()

    def as_dict(self, since: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "bytes_sent": self.bytes_sent,
            "methods": dict(self.methods),
            "statuses": dict(self.statuses),
            "max_open": self.max_open,
            "open_now": self.open_now,
            "connections": self.connections,
            "max_connections": self.max_connections,
            "max_per_second": self.max_per_second,
            "first_s": None if self.first_at is None else round(self.first_at - since, 4),
            "last_s": None if self.last_at is None else round(self.last_at - since, 4),
        }


# --- content -----------------------------------------------------------------------------

_VOCABULARY = (
    "trafficking survivor support service provider training guide report law enforcement "
    "prosecutor victim task force community outreach screening protocol federal state "
    "local agency partnership collaborative model case planning trauma informed "
    "investigation hotline resource toolkit webinar fact sheet research evaluation "
    "program funding grant labour exploitation supply chain youth housing health legal "
    "advocacy data analysis"
)
_WORDS = tuple(_VOCABULARY.split())


#: What real pages carry besides words: dates, counts, phone numbers, years, curly quotes,
#: accents and symbols. One closes every paragraph. Without them the text analysis ran on
#: digit-free ASCII, where its regular expressions never match and `str` methods take
#: their ASCII fast paths, and the bench missed ~1.4 ms of CPU per real 25 KB page.
_NOISE = (
    "Updated March 12, 2024.",
    "Call 1-888-373-7888 (24/7) or text 233733.",
    "This guide was downloaded 3,421 times.",
    "Published 2023-10-01; revised 2025.",
    "See \u201cFact sheet 4\u201d and the survivor\u2019s handbook.",
    "Versi\u00f3n en espa\u00f1ol: p\u00e1gina 7 de 12.",
    "\u00a9 2026 Office for Victims of Crime \u2014 all rights reserved.",
    "Webinar on Tue, 14 Jan 2025 at 2:00 pm EST (90 minutes).",
)


def _paragraphs(count: int = 160) -> list[bytes]:
    rng = random.Random(20240601)
    out = []
    for _ in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(60, 90))]
        noise = rng.choice(_NOISE)
        out.append(f"<p>{' '.join(words).capitalize()}. {noise}</p>\n".encode())
    return out


_PARAS = _paragraphs()
_CORPUS = b"".join(_PARAS)
_OFFSETS = [0]
for _p in _PARAS:
    _OFFSETS.append(_OFFSETS[-1] + len(_p))


def page_title(n: int) -> str:
    """The stable <title> of the HTML and PDF documents of resource `n`."""
    a, b, c = (_WORDS[(n * k + k) % len(_WORDS)] for k in (7, 13, 29))
    return f"Report {n}: {a.capitalize()} {b} and {c}"


def _page(title: str, text: bytes | str) -> bytes:
    body = text.encode() if isinstance(text, str) else text
    return (
        b'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>'
        + title.encode()
        + b"</title></head>\n<body><h1>"
        + title.encode()
        + b"</h1>\n"
        + body
        + b"</body></html>\n"
    )


def html_page(n: int) -> bytes:
    """A stable page of about 5-30 KB for resource `n`: same bytes every time."""
    size = 5_000 + (n * 2_654_435_761) % 25_000
    start = (n * 40_503) % (len(_PARAS) // 2)
    end = start
    while end < len(_PARAS) and _OFFSETS[end] - _OFFSETS[start] < size:
        end += 1
    return _page(page_title(n), _CORPUS[_OFFSETS[start] : _OFFSETS[end]])


def _small_page(n: int) -> bytes:
    return _page(f"Resource {n}", f"<p>Resource {n} is available.</p>\n")


def pdf_document(n: int) -> bytes:
    """A small valid-looking PDF whose document-info title names `n`."""
    stream = b"BT /F1 12 Tf 72 720 Td (" + page_title(n).encode() + b") Tj ET\n" + b"%" * 1500
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length " + str(len(stream)).encode() + b" >> stream\n" + stream + b"\n"
        b"endstream endobj\n5 0 obj << /Title (" + page_title(n).encode() + b") >> endobj\n"
        b"trailer << /Root 1 0 R /Info 5 0 R >>\n%%EOF\n"
    )


_NOT_FOUND_PAGE = _page(
    "Page not found", "<p>Sorry, the page you requested could not be found.</p>"
)
_CHALLENGE_PAGE = _page("Just a moment...", "<p>Checking your browser before you continue.</p>")
_HTML = "text/html; charset=utf-8"
_LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    keep_alive: bool


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes = b""
    content_type: str | None = _HTML
    headers: tuple[tuple[str, str], ...] = ()
    #: Multiplies the host latency (slow pages).
    delay_factor: float = 1.0
    #: Send RST instead of an answer.
    reset: bool = False


def _error(status: int) -> _Answer:
    phrase = HTTPStatus(status).phrase
    return _Answer(status, _page(f"{status} {phrase}", f"<p>{phrase}.</p>\n"))


def _redirect(status: int, location: str) -> _Answer:
    return _Answer(status, b"", None, (("Location", location),))


# --- the server --------------------------------------------------------------------------


class SimWeb:
    """Many loopback hosts on one port, answered from one event loop.

    Use `await start()`, then `close()`; `stats()` and `reset()` are what the control
    address serves. `latency`/`jitter` (seconds) may change while running.
    """

    def __init__(
        self,
        hosts: int,
        port: int = 0,
        latency: float = 0.05,
        jitter: float = 0.0,
        control_port: int | None = None,
        seed: int = 0,
    ) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"hosts must be 1..{MAX_HOSTS}")
        self.addresses = [host_address(i) for i in range(hosts)]
        self.port = port
        self.control_port = control_port
        self._wanted_port = port
        self._wanted_control = control_port
        self.latency = latency
        self.jitter = jitter
        self.random = random.Random(seed)
        self.hosts: dict[str, HostStats] = {a: HostStats() for a in self.addresses}
        #: (host, path) pairs already answered once, for the "fails the first time" kinds.
        self.seen: set[tuple[str, str]] = set()
        self.started = time.monotonic()
        self.since = self.started
        self._servers: list[asyncio.Server] = []

    # lifecycle

    async def start(self) -> SimWeb:
        """Bind every host; with port 0, pick one free port that all hosts can share."""
        for _attempt in range(20):
            try:
                await self._bind_all()
                return self
            except OSError as exc:
                self.close()
                if exc.errno != errno.EADDRINUSE or self._wanted_port != 0:
                    raise
        raise OSError(errno.EADDRINUSE, "no port is free on every host address")

    async def _bind_all(self) -> None:
        loop = asyncio.get_running_loop()
        port = self._wanted_port
        wanted_control = self._wanted_control
        control = await self._listen(
            loop, CONTROL_ADDRESS, port if wanted_control is None else wanted_control, True
        )
        self.control_port = control.sockets[0].getsockname()[1]
        if port == 0 and wanted_control is None:
            port = self.control_port  # the hosts share the control address's port
        for address in self.addresses:
            server = await self._listen(loop, address, port, False)
            port = server.sockets[0].getsockname()[1]
        self.port = port

    async def _listen(
        self, loop: asyncio.AbstractEventLoop, address: str, port: int, control: bool
    ) -> asyncio.Server:
        _require_loopback(address)
        server = await loop.create_server(
            lambda: _Connection(self, control),
            host=address,
            port=port,
            reuse_address=True,
            backlog=2048,
        )
        self._servers.append(server)
        return server

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    # records

    def reset(self) -> None:
        for stats in self.hosts.values():
            stats.reset()
        self.seen.clear()
        self.since = time.monotonic()

    def stats(self) -> dict[str, Any]:
        hosts = {a: s.as_dict(self.since) for a, s in self.hosts.items()}
        firsts = [s.first_at for s in self.hosts.values() if s.first_at is not None]
        lasts = [s.last_at for s in self.hosts.values() if s.last_at is not None]
        return {
            "port": self.port,
            "latency_ms": round(self.latency * 1000, 3),
            "jitter_ms": round(self.jitter * 1000, 3),
            "uptime_s": round(time.monotonic() - self.started, 3),
            "since_reset_s": round(time.monotonic() - self.since, 3),
            "total": {
                "requests": sum(s.requests for s in self.hosts.values()),
                "bytes_sent": sum(s.bytes_sent for s in self.hosts.values()),
                "open_now": sum(s.open_now for s in self.hosts.values()),
                "hosts_contacted": sum(1 for s in self.hosts.values() if s.requests),
                "max_open_per_host": max((s.max_open for s in self.hosts.values()), default=0),
                "max_connections_per_host": max(
                    (s.max_connections for s in self.hosts.values()), default=0
                ),
                "max_per_second_per_host": max(
                    (s.max_per_second for s in self.hosts.values()), default=0
                ),
                "first_s": round(min(firsts) - self.since, 4) if firsts else None,
                "last_s": round(max(lasts) - self.since, 4) if lasts else None,
            },
            "hosts": hosts,
        }

    def delay(self) -> float:
        if not self.jitter:
            return self.latency
        return max(0.0, self.latency + self.random.uniform(-self.jitter, self.jitter))

    def first_time(self, host: str, path: str) -> bool:
        key = (host, path)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    # behaviours

    def answer(self, host: str, request: _Request) -> _Answer:
        parts = request.path.split("/")
        kind = parts[1] if len(parts) > 1 else ""
        if request.path == "/":
            return _Answer(200, _page(f"Welcome to {host}", "<p>Browse our publications.</p>"))
        if len(parts) < 3 or not (parts[2].isascii() and parts[2].isdigit()):
            return _Answer(404, _NOT_FOUND_PAGE)
        n = int(parts[2])
        handler = _HANDLERS.get(kind)
        if handler is None or (len(parts) > 3 and request.path != f"/loop/{n}/again"):
            return _Answer(404, _NOT_FOUND_PAGE)
        return handler(self, host, request, n)

    def control(self, request: _Request) -> tuple[int, dict[str, Any]]:
        if request.path == "/__stats":
            return 200, self.stats()
        if request.path == "/__reset":
            self.reset()
            return 200, {"reset": True}
        if request.path == "/__config":
            query = parse_qs(request.query)
            try:
                if "latency_ms" in query:
                    self.latency = float(query["latency_ms"][0]) / 1000
                if "jitter_ms" in query:
                    self.jitter = float(query["jitter_ms"][0]) / 1000
            except ValueError:
                return 400, {"error": "latency_ms and jitter_ms must be numbers"}
            return 200, {"latency_ms": self.latency * 1000, "jitter_ms": self.jitter * 1000}
        if request.path == "/__health":
            return 200, {"ok": True}
        return 404, {"error": "control paths: /__stats /__reset /__config /__health"}


def _ok(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(200, _small_page(n))


def _html(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(200, html_page(n))


def _pdf(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(200, pdf_document(n), "application/pdf")


def _status(code: int) -> Callable[[SimWeb, str, _Request, int], _Answer]:
    def handler(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
        return _error(code)

    return handler


def _flaky(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    if web.first_time(host, r.path):
        return _error(503)
    return _Answer(200, html_page(n))


def _ratelimit(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    if web.first_time(host, r.path):
        return _Answer(429, b"Too many requests", "text/plain", (("Retry-After", "1"),))
    return _Answer(200, html_page(n))


def _reset(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(0, reset=True)


def _slow(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(200, html_page(n), delay_factor=_SLOW_FACTOR)


def _absolute(r: _Request, host: str, path: str) -> str:
    return f"http://{r.headers.get('host', host)}{path}"


def _perm(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _redirect(301, _absolute(r, host, f"/html/{n}"))


def _temp(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _redirect(302, f"/html/{n}")


def _loop(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _redirect(302, f"/loop/{n}" if r.path.endswith("/again") else f"/loop/{n}/again")


def _soft404(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(200, _NOT_FOUND_PAGE)


def _home_redirect(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _redirect(302, "/")


def _head405(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    if r.method == "HEAD":
        return _Answer(405, b"", None, (("Allow", "GET"),))
    return _Answer(200, html_page(n))


def _etag(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    tag = f'"v1-{n}"'
    validators = (("ETag", tag), ("Last-Modified", _LAST_MODIFIED))
    inm = r.headers.get("if-none-match")
    if inm is not None and (inm.strip() == "*" or tag in inm.replace("W/", "").split(", ")):
        return _Answer(304, b"", None, validators)
    return _Answer(200, html_page(n), _HTML, validators)


def _blocked(web: SimWeb, host: str, r: _Request, n: int) -> _Answer:
    return _Answer(403, _CHALLENGE_PAGE, _HTML, (("cf-mitigated", "challenge"),))


_HANDLERS: dict[str, Callable[[SimWeb, str, _Request, int], _Answer]] = {
    "ok": _ok,
    "html": _html,
    "pdf": _pdf,
    "404": _status(404),
    "410": _status(410),
    "500": _status(500),
    "flaky503": _flaky,
    "ratelimit": _ratelimit,
    "reset": _reset,
    "slow": _slow,
    "perm": _perm,
    "temp": _temp,
    "loop": _loop,
    "soft404": _soft404,
    "home-redirect": _home_redirect,
    "head405": _head405,
    "etag": _etag,
    "blocked": _blocked,
}
assert set(_HANDLERS) == set(KINDS), "every kind needs a handler"


def _head_bytes(status: int, headers: Sequence[tuple[str, str]], keep_alive: bool) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}", "Server: simweb"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    """One client connection: parse a request, answer it after the latency, repeat.

    Requests on one connection are answered in order; a pipelined one waits in the buffer.
    """

    def __init__(self, web: SimWeb, control: bool) -> None:
        self.web = web
        self.control = control
        self.buffer = b""
        self.busy = False
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.host = ""
        self.stats: HostStats | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if self.control:
            return
        self.host = transport.get_extra_info("sockname")[0]
        stats = self.stats = self.web.hosts.get(self.host)
        if stats is not None:
            stats.connections += 1
            stats.connections_now += 1
            stats.max_connections = max(stats.max_connections, stats.connections_now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        stats = self.stats
        if stats is not None:
            stats.connections_now -= 1
            if self.busy:
                stats.open_now -= 1
                stats.statuses["aborted"] += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD_BYTES:
                self._close()
            return
        request = self._parse(self.buffer[:end])
        rest = self.buffer[end + 4 :]
        if request is None:
            self._send_now(400, b"bad request", "text/plain", (), keep_alive=False)
            return
        length = request.headers.get("content-length", "0")
        skip = int(length) if length.isdigit() else 0
        self.buffer = rest[skip:]  # a request body (never sent by the checker) is ignored
        if self.control:
            status, payload = self.web.control(request)
            body = json.dumps(payload).encode()
            self._send_now(status, body, "application/json", (), request.keep_alive)
            return
        self._begin(request)

    def _parse(self, head: bytes) -> _Request | None:
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        path, _, query = target.partition("?")
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        return _Request(method.upper(), path, query, headers, keep_alive)

    def _begin(self, request: _Request) -> None:
        web = self.web
        stats = self.stats
        now = time.monotonic()
        self.busy = True
        if stats is not None:
            stats.requests += 1
            stats.methods[request.method] += 1
            stats.open_now += 1
            if stats.open_now > stats.max_open:
                stats.max_open = stats.open_now
            if stats.first_at is None:
                stats.first_at = now
            stats.last_at = now
            recent = stats.recent
            recent.append(now)
            while recent[0] <= now - 1.0:
                recent.popleft()
            if len(recent) > stats.max_per_second:
                stats.max_per_second = len(recent)
        answer = web.answer(self.host, request)
        delay = web.delay() * answer.delay_factor
        self.timer = asyncio.get_running_loop().call_later(delay, self._finish, request, answer)

    def _finish(self, request: _Request, answer: _Answer) -> None:
        self.timer = None
        if self.closed:
            return
        stats = self.stats
        if answer.reset:
            if stats is not None:
                stats.open_now -= 1
                stats.statuses["reset"] += 1
            self.busy = False
            self._abort_with_reset()
            return
        headers = list(answer.headers)
        if answer.content_type is not None:
            headers.append(("Content-Type", answer.content_type))
        if answer.status != 304:
            headers.append(("Content-Length", str(len(answer.body))))
        data = _head_bytes(answer.status, headers, request.keep_alive)
        if request.method != "HEAD" and answer.status != 304:
            data += answer.body
        if stats is not None:
            stats.open_now -= 1
            stats.bytes_sent += len(data)
            stats.statuses[str(answer.status)] += 1
        self._write(data, request.keep_alive)

    def _send_now(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Sequence[tuple[str, str]],
        keep_alive: bool,
    ) -> None:
        all_headers = [*headers, ("Content-Type", content_type), ("Content-Length", str(len(body)))]
        self.busy = True
        self._write(_head_bytes(status, all_headers, keep_alive) + body, keep_alive)

    def _write(self, data: bytes, keep_alive: bool) -> None:
        assert self.transport is not None
        self.busy = False
        self.transport.write(data)
        if not keep_alive:
            self._close()
        elif self.buffer:
            self._next()

    def _close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def _abort_with_reset(self) -> None:
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


# --- command line ------------------------------------------------------------------------


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(args: argparse.Namespace, loop_name: str) -> None:
    web = SimWeb(
        hosts=args.hosts,
        port=args.port,
        latency=args.latency_ms / 1000,
        jitter=args.jitter_ms / 1000,
        control_port=args.control_port,
        seed=args.seed,
    )
    await web.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "event": "ready",
        "pid": os.getpid(),
        "port": web.port,
        "hosts": len(web.addresses),
        "first_host": web.addresses[0],
        "last_host": web.addresses[-1],
        "control": f"http://{CONTROL_ADDRESS}:{web.control_port}",
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "loop": loop_name,
    }
    print(json.dumps(ready), flush=True)
    try:
        await stop.wait()
    finally:
        web.close()
        total = web.stats()["total"]
        print(json.dumps({"event": "stopped", **total}), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.simweb",
        description="Serve a simulated web of loopback hosts 127.0.x.y for benchmarks.",
    )
    parser.add_argument("--hosts", type=int, default=200, help="number of hosts (default 200)")
    parser.add_argument("--port", type=int, default=8080, help="shared port; 0 picks a free one")
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="port of the control address 127.0.0.1 (default: the shared port)",
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    parser.add_argument("--no-uvloop", action="store_true", help="use the stock asyncio loop")
    args = parser.parse_args(argv)
    _raise_fd_limit()
    uvloop: Any = None
    if not args.no_uvloop:
        try:
            uvloop = importlib.import_module("uvloop")
        except ImportError:
            print("simweb: uvloop is not installed; using asyncio", file=sys.stderr)
    if uvloop is not None:
        uvloop.run(_serve(args, "uvloop"))
    else:
        asyncio.run(_serve(args, "asyncio"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
