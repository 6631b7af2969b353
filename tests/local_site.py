"""A tiny real HTTP site on 127.0.0.1 for flow and CLI tests (the checker's own
edge cases live in tests/fixture_web.py)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/": (200, {"Content-Type": "text/html"}, b"<title>Home</title><h1>Welcome</h1>"),
    "/report.html": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b"<html><head><title>Annual Report</title></head><body><h1>Annual Report</h1>"
        b"<p>Findings about human trafficking task forces.</p></body></html>",
    ),
    "/missing": (404, {"Content-Type": "text/html"}, b"<title>404</title>nope"),
    "/moved": (301, {"Location": "/report.html"}, b""),
    "/removed": (410, {"Content-Type": "text/html"}, b"gone"),
}


#: (status, headers, body) of one answer.
Answer = tuple[int, Mapping[str, str], bytes]


def handler_class(
    answer: Callable[[BaseHTTPRequestHandler], Answer],
) -> type[BaseHTTPRequestHandler]:
    """A quiet request handler whose GET and HEAD send `answer(request)` (HEAD without the
    body); `answer` runs on the server's thread for the request and may block."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, with_body: bool) -> None:
            status, headers, body = answer(self)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving(answer: Callable[[BaseHTTPRequestHandler], Answer]) -> Iterator[str]:
    """A site on 127.0.0.1 that sends `answer(request)` (`handler_class`), by its base URL,
    stopped and its port closed on exit."""
    with serving_at(answer, "127.0.0.1") as (base,):
        yield base


def served_at(request: BaseHTTPRequestHandler) -> str:
    """The loopback address of the `serving_at` site `request` came to (its connection's own
    end: the address that site listens on)."""
    return str(request.connection.getsockname()[0])


@contextmanager
def serving_at(
    answer: Callable[[BaseHTTPRequestHandler], Answer], *ips: str
) -> Iterator[list[str]]:
    """One site per loopback address of `ips` ("127.0.0.2": a host of its own to the
    checker's politeness), each sending `answer(request)`, by their base URLs in that order;
    stopped and their ports closed on exit. `answer` tells them apart by
    `served_at(request)`. A test whose `answer` blocks releases it before the exit:
    stopping waits for no request, but a blocked one keeps its thread."""
    handler = handler_class(answer)
    servers = [ThreadingHTTPServer((ip, 0), handler) for ip in ips]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield [f"http://{ip}:{s.server_address[1]}" for ip, s in zip(ips, servers, strict=True)]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()


@dataclass
class Site:
    base: str
    hits: Counter[str] = field(default_factory=Counter)
    _close: Callable[[], None] | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        """Stop serving and close the port now (connections to it are then refused)."""
        if self._close is not None:
            close, self._close = self._close, None
            close()


@contextmanager
def local_site() -> Iterator[Site]:
    site = Site(base="")

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        path = request.path.split("?")[0]
        site.hits[f"{request.command} {path}"] += 1
        return PAGES.get(path, PAGES["/missing"])

    Handler = handler_class(answer)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def close() -> None:
        server.shutdown()
        server.server_close()

    site._close = close
    try:
        yield site
    finally:
        site.stop()
