"""An http:// link whose server does not take connections on port 80 while its https://
address serves the page: browsers open it over https (Chrome's HTTPS-Upgrades, HSTS
preloading of .app, .dev and many .gov hosts), so it is not broken (r2 F7)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from catalog.check.checker import HTTP_CONNECT_SHARE, HostPools
from catalog.health import LinkState, apply_observation
from catalog.model import Observation, Previous
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
from tests.local_site import handler_class
from tests.test_fetch import PAGE, check

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits

HTTP = "http://toolkit.example.org/report"
HTTPS = "https://toolkit.example.org/report"

Answer = Callable[[], httpx.Response]


def _failing(error: type[httpx.TransportError], cause: BaseException) -> Answer:
    def fail() -> httpx.Response:
        exc = error("x")
        exc.__cause__ = cause  # as httpx keeps the socket's error
        raise exc

    return fail


REFUSED = _failing(httpx.ConnectError, ConnectionRefusedError(111, "Connection refused"))


def _checked(http: Answer, https: Answer) -> tuple[Observation, list[str]]:
    """The check of `HTTP`, and the URLs requested."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url}")
        return (http if request.url.scheme == "http" else https)()

    return check(HTTP, fingerprint_due=True, transport=httpx.MockTransport(handler)), asked


def _page(status: int = 200, html: str = PAGE) -> Answer:
    return lambda: httpx.Response(status, html=html)


@pytest.mark.parametrize(
    "http",
    [
        REFUSED,
        _failing(httpx.ConnectTimeout, TimeoutError("connect")),
        _failing(httpx.ConnectError, ConnectionResetError(104, "Connection reset by peer")),
    ],
)
def test_an_http_address_that_does_not_answer_is_opened_over_https(http: Answer) -> None:
    obs, asked = _checked(http, _page())
    assert obs.outcome is Outcome.OK
    assert obs.reason.startswith("The http:// address does not answer (")
    assert "; browsers open it over https://, which answers: GET 200" in obs.reason
    assert obs.suggested_url == HTTPS  # the report offers `replace-url` to it
    assert obs.title == "Annual report 2019" and obs.final_url == HTTPS
    assert asked[-1] == f"GET {HTTPS}" and asked.count(f"GET {HTTPS}") == 1


def test_the_https_answer_is_the_verdict_a_404_there_is_not_found() -> None:
    obs, _ = _checked(REFUSED, _page(404, "<title>Not found</title>"))
    assert obs.outcome is Outcome.NOT_FOUND and obs.suggested_url is None
    assert "browsers open it over https://" in obs.reason


def test_no_answer_over_https_either_keeps_the_http_failure() -> None:
    obs, asked = _checked(REFUSED, REFUSED)
    assert obs.outcome is Outcome.CONNECTION_REFUSED
    assert asked == [f"GET {HTTP}", f"GET {HTTPS}"]  # one try over https, no more
    assert obs.suggested_url is None and "https" not in obs.reason


@pytest.mark.parametrize(
    ("http", "outcome"),
    [
        (_page(), Outcome.OK),
        (_failing(httpx.ConnectError, socket.gaierror(socket.EAI_NONAME, "unknown")), None),
        (_page(503, "<title>Down</title>"), Outcome.HTTP_ERROR),
    ],
)
def test_a_working_link_an_answer_or_a_name_that_does_not_resolve_costs_no_https_request(
    http: Answer, outcome: Outcome | None
) -> None:
    obs, asked = _checked(http, _page())
    assert all(not request.endswith(HTTPS) for request in asked)
    assert outcome is None or obs.outcome is outcome


def _night(
    http: Answer, https: Callable[[httpx.Request], httpx.Response], **target: Any
) -> tuple[Observation, list[str]]:
    """The check of `HTTP` with `target`'s `previous` and `fingerprint_due`, and the
    requests sent, with the validators they carried."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent = " ".join(f"{k}={v}" for k, v in request.headers.items() if k.startswith("if-"))
        asked.append(f"{request.method} {request.url} {sent}".rstrip())
        return http() if request.url.scheme == "http" else https(request)

    return check(HTTP, transport=httpx.MockTransport(handler), **target), asked


def test_the_https_try_is_checked_as_any_link_each_request_once_on_a_head_night_too() -> None:
    """HEAD between fingerprints, GET when HEAD does not settle it; no retries."""
    obs, asked = _night(
        REFUSED,
        lambda _: httpx.Response(503, html="<title>Maintenance</title>"),
        fingerprint_due=False,
    )
    assert asked == [f"HEAD {HTTP}", f"HEAD {HTTPS}", f"GET {HTTPS}"]
    assert obs.outcome is Outcome.HTTP_ERROR and "browsers open it over https://" in obs.reason


ETAG = '"v1"'
PDF = b"%PDF-1.7\n" + b"x" * 300_000


def _pdf(request: httpx.Request) -> httpx.Response:
    if request.headers.get("if-none-match") == ETAG:
        return httpx.Response(304, headers={"etag": ETAG})
    headers = {"etag": ETAG, "content-type": "application/pdf", "content-length": str(len(PDF))}
    return httpx.Response(200, headers=headers, content=b"" if request.method == "HEAD" else PDF)


def _after(night: Observation) -> Previous:
    """What the next night knows of the link (as storage keeps it)."""
    return Previous(
        etag=night.etag,
        fingerprint=night.fingerprint,
        content_length=night.content_length,
        outcome=night.outcome,
        content_type=night.content_type,
        final_url=night.final_url,
    )


def test_an_unchanged_https_file_is_not_read_again_between_fingerprints() -> None:
    """r6 R1: the https try was an unconditional GET every night, a 3 MB PDF read whole."""
    first, _ = _night(REFUSED, _pdf, fingerprint_due=True)
    assert first.outcome is Outcome.OK and first.bytes_read == len(PDF)
    second, asked = _night(REFUSED, _pdf, fingerprint_due=False, previous=_after(first))
    assert asked == [f"HEAD {HTTP}", f"HEAD {HTTPS}"]
    assert second.outcome is Outcome.OK and second.bytes_read == 0
    assert second.suggested_url == HTTPS


def test_a_fingerprint_night_over_https_sends_back_the_https_answers_validators() -> None:
    first, _ = _night(REFUSED, _pdf, fingerprint_due=True)
    second, asked = _night(REFUSED, _pdf, fingerprint_due=True, previous=_after(first))
    assert asked == [f"GET {HTTP} if-none-match={ETAG}", f"GET {HTTPS} if-none-match={ETAG}"]
    assert second.outcome is Outcome.OK and second.not_modified
    assert second.fingerprint == first.fingerprint and second.bytes_read == 0


def _refused_after(first: httpx.Response) -> Answer:
    """The http server's answer to the first request, then refused connections."""
    answers = [first]
    return lambda: answers.pop() if answers else REFUSED()


def _failed_then_refused(first: Answer) -> Answer:
    """A server that took the first connection and failed it (a restart), then refused."""
    answers = [first]
    return lambda: (answers.pop() if answers else REFUSED)()


@pytest.mark.parametrize(
    ("http", "due"),
    [
        pytest.param(
            _refused_after(httpx.Response(200, headers={"etag": '"v2"'})),
            False,
            id="head-answered-the-page-changed-then-get-refused",
        ),
        pytest.param(
            _refused_after(httpx.Response(503)), True, id="a-503-retried-and-the-retry-refused"
        ),
        pytest.param(
            _failed_then_refused(_failing(httpx.ReadTimeout, TimeoutError("read"))),
            True,
            id="a-read-timeout-after-connecting-then-refused",
        ),
        pytest.param(
            _failed_then_refused(
                _failing(httpx.ReadError, ConnectionResetError(104, "Connection reset by peer"))
            ),
            True,
            id="a-reset-after-connecting-then-refused",
        ),
    ],
)
def test_an_http_server_that_answered_any_request_of_the_check_is_not_tried_over_https(
    http: Answer, due: bool
) -> None:
    """r6 R6, r10: its https vhost's 404 was the verdict, "the http:// address does not
    answer", though it had answered, or taken the connection, before refusing."""
    previous = Previous(etag=ETAG, fingerprint="sha256:x", content_type="text/html")
    obs, asked = _night(http, lambda _: httpx.Response(404), fingerprint_due=due, previous=previous)
    assert all(HTTPS not in request for request in asked)
    assert obs.outcome is Outcome.CONNECTION_REFUSED and "https" not in obs.reason


def test_the_suggested_https_address_leaves_out_the_links_user_name_and_password() -> None:
    """r6 R5: it suggested https://guest:secret@..., a password the check never sends."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url}")
        return REFUSED() if request.url.scheme == "http" else _page()()

    obs = check(
        "http://guest:secret@toolkit.example.org/report",
        fingerprint_due=True,
        transport=httpx.MockTransport(handler),
    )
    assert obs.outcome is Outcome.OK and obs.suggested_url == HTTPS


# --- an http:// address that black-holes connections, over real sockets ---------------------

#: A URL's times at a tenth of the defaults (10 s connect, 45 s per URL), the connect
#: timeout as aiohttp waits it out (it rounds a wait over 5 s up to a whole second).
BLACK_HOLE = replace(
    CheckSettings(),
    allow_private=True,
    soft404_probe=False,
    per_host_rate=1000.0,
    connect_timeout=1.1,
    read_timeout=1.5,
    total_timeout=4.5,
    backoff_initial=0.05,
    backoff_max=0.8,
)


@contextmanager
def _black_hole() -> Iterator[int]:
    """A port on 127.0.0.1 that never takes a connection and never refuses one: its listen
    queue (of one) is full and never accepted from, so Linux drops each new SYN, as a
    firewall that drops packets to port 80 does."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        port = hole.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            yield port


@contextmanager
def _slow_server(delay: float) -> Iterator[int]:
    """A port on 127.0.0.1 whose server takes each connection at once and answers the page
    `delay` seconds later."""

    def answer(_request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(delay)
        return 200, {"Content-Type": "text/html"}, PAGE.encode()

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(answer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _Port80On(httpx.AsyncBaseTransport):
    """The checker's own transport (`HostPools`, aiohttp), with the http:// address's port
    80 at `port` on 127.0.0.1; the https:// form answers the page at once. Each request is
    noted with the seconds since the transport was made."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._pools = HostPools(BLACK_HOLE)
        self._start = time.monotonic()
        self.asked: list[tuple[str, float]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append((f"{request.method} {request.url}", time.monotonic() - self._start))
        if request.url.scheme == "https":
            return httpx.Response(200, html=PAGE)
        request.url = request.url.copy_with(host="127.0.0.1", port=self._port)
        return await self._pools.handle_async_request(request)

    async def aclose(self) -> None:
        await self._pools.aclose()


@pytest.mark.parametrize("due", [False, True], ids=["head-night", "fingerprint-night"])
def test_an_http_address_that_black_holes_connections_leaves_time_for_https(due: bool) -> None:
    """Four connect waits (HEAD, GET and two retries) and two back-offs passed the URL's
    deadline: "timeout", the https:// form never tried. They now wait half the URL's time
    at most (`HTTP_CONNECT_SHARE`), and the https:// form answers."""
    with _black_hole() as port:
        transport = _Port80On(port)
        obs = check(HTTP, BLACK_HOLE, fingerprint_due=due, transport=transport)
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.reason.startswith(
        "The http:// address does not answer (the server did not accept a connection in time)"
    )
    plain = [sent for sent, _ in transport.asked if sent.endswith(HTTP)]
    assert 2 <= len(plain) <= 3  # HEAD, GET and a retry, or GET and its retries
    https = [at for sent, at in transport.asked if sent.endswith(HTTPS)]
    share = BLACK_HOLE.total_timeout * HTTP_CONNECT_SHARE
    back_offs = 0.25  # 0.05 to 0.1 s, then 0.1 to 0.15 s
    assert share <= https[0] < share + back_offs + 0.5


def test_an_http_server_slow_to_answer_a_connection_it_took_has_the_urls_whole_time() -> None:
    """The bound is on waiting for a connection, not for an answer: a server that takes
    the connection and answers after more than half the URL's time is a working link."""
    delay = BLACK_HOLE.total_timeout * HTTP_CONNECT_SHARE + 0.5
    settings = replace(BLACK_HOLE, read_timeout=delay + 1)
    with _slow_server(delay) as port:
        transport = _Port80On(port)
        obs = check(HTTP, settings, fingerprint_due=True, transport=transport)
    assert obs.outcome is Outcome.OK and obs.reason == "GET 200", obs.reason
    assert all(not sent.endswith(HTTPS) for sent, _ in transport.asked)


# --- a port 80 that refuses some nights and redirects to https:// on others -------------------


def _port_80(night: str) -> Answer:
    """Port 80 on a night: "refused", "moved" (a 301 to `HTTPS`) or "page" (the page)."""
    moved = lambda: httpx.Response(301, headers={"location": HTTPS})  # noqa: E731
    return {"refused": REFUSED, "moved": moved, "page": _page()}[night]


def _nights(*nights: str, https: Answer = _page()) -> list[tuple[Observation, list[str]]]:
    """Each night's observation, and the kinds of event the link's history recorded."""
    state, previous, seen = LinkState(), None, []
    for night in nights:
        obs, _ = _night(_port_80(night), lambda _: https(), fingerprint_due=True, previous=previous)
        state, changes = apply_observation(state, obs, HealthSettings(), now=obs.checked_at)
        previous = _after(obs)
        seen.append((obs, [change.kind for change in changes]))
    return seen


def test_a_port_80_that_refuses_between_redirects_to_https_keeps_the_move() -> None:
    """A refused night after a 301 to the https:// page said "OK", and the next 301 "moved
    permanently" again: each flip an outcome and a redirect event, the row in and out of
    the curator's queue. Port 80 not answering says nothing against the move."""
    (first, _), (moved, news), *rest = _nights("refused", "moved", "refused", "moved", "refused")
    assert first.outcome is Outcome.OK and first.suggested_url == HTTPS
    assert moved.outcome is Outcome.REDIRECTED_PERMANENT
    assert news == ["outcome_changed", "redirect_changed"]  # it said so: news, once
    for obs, changes in rest:
        assert changes == [], obs.reason
        assert obs.outcome is Outcome.REDIRECTED_PERMANENT and obs.suggested_url == HTTPS
        assert (obs.final_url, [hop.url for hop in obs.chain]) == (HTTPS, [HTTP, HTTPS])
    refused = rest[-1][0]
    assert refused.reason == (
        "The http:// address does not answer (the server refused the connection); it last "
        f"answered with a permanent redirect to {HTTPS}, which browsers open and which "
        "answers: GET 200"
    )


def test_a_port_80_that_serves_the_page_ends_the_move_and_the_https_answer_is_the_verdict() -> None:
    nights = _nights("moved", "page", "refused")
    assert [obs.outcome for obs, _ in nights] == [
        Outcome.REDIRECTED_PERMANENT,
        Outcome.OK,  # the http:// address serves the page: no move tonight
        Outcome.OK,  # ... and since: the https:// form, as browsers open it
    ]
    (_, _), (_, _), (refused, _) = nights
    assert refused.chain[0].url == HTTPS
    missing = _nights("moved", "refused", https=_page(404, "<title>Not found</title>"))
    assert missing[1][0].outcome is Outcome.NOT_FOUND  # the https:// answer's word


def test_a_refused_night_after_a_move_elsewhere_is_the_https_answer() -> None:
    moved = Previous(outcome=Outcome.REDIRECTED_PERMANENT, final_url="https://example.net/new")
    obs, _ = _night(REFUSED, lambda _: _page()(), fingerprint_due=True, previous=moved)
    assert obs.outcome is Outcome.OK and obs.chain[0].url == HTTPS
