"""Verdicts at the network and protocol level that once misled curators (review r2).

A passing server error behind a redirect, a firewall's block page and a connection reset
during the TLS handshake each read as the site's lasting fault ("find where it moved",
"broken", "Certificate problem"); a browser's reload would have found the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from catalog.check import check_targets
from catalog.check.reasons import FailureKind, describe_error
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of
from tests.factories import public_resolver

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0)
OLD = "http://www.example.gov/reports/2019"
NEW = "https://www.example.gov/reports/2019/"


class _Sleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def check(
    url: str = OLD,
    settings: CheckSettings = SETTINGS,
    *,
    sleep: _Sleep | None = None,
    resolver: Any = public_resolver,
    fingerprint_due: bool = True,
    **kwargs: Any,
) -> Observation:
    (obs,) = asyncio.run(
        check_targets(
            [Target(url=url, host=host_of(url), fingerprint_due=fingerprint_due)],
            settings,
            resolver=resolver,
            sleep=sleep or _Sleep(),
            clock=lambda: NOW,
            **kwargs,
        )
    )
    return obs


# --- F3: a server error behind a redirect ----------------------------------------------------


@respx.mock
@pytest.mark.parametrize("redirect", [301, 302, 308])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_a_passing_error_behind_a_redirect_is_judged_as_without_it(
    redirect: int, status: int
) -> None:
    """An http:// link's 301 to https:// in front of a maintenance page was "Redirects to
    an error" (not transient: "find where the resource moved"), while the same 503 without
    the redirect "may recover by itself". It is the same passing trouble, retried alike."""
    respx.get(OLD).respond(redirect, headers={"Location": NEW})
    route = respx.get(NEW).respond(status, html="<title>Down for maintenance</title>")
    obs = check()
    assert obs.outcome is Outcome.HTTP_ERROR and obs.outcome.is_transient
    assert route.call_count == SETTINGS.max_attempts, "retried as a direct one is"
    assert obs.http_status == status
    retries = SETTINGS.max_attempts - 1
    assert obs.reason == (
        f"GET {redirect} → {status} after {retries} retries ({'; '.join([str(status)] * retries)})"
        f": after redirects to {NEW}, the server answers with an error."
    )


@respx.mock
@pytest.mark.parametrize("status", [404, 410])
def test_a_redirect_to_a_missing_page_stays_a_redirect_to_error(status: int) -> None:
    """A moved page whose new address is dead: "find where the resource moved" is right."""
    respx.get(OLD).respond(301, headers={"Location": NEW})
    route = respx.get(NEW).respond(status)
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR and not obs.outcome.is_transient
    assert route.call_count == 1
    assert obs.reason == f"Redirects (301) to {NEW}, which answers {status}."


@respx.mock
@pytest.mark.parametrize("status", [429, 503])
def test_come_back_later_behind_a_redirect_is_rate_limited_as_without_it(status: int) -> None:
    respx.get(OLD).respond(301, headers={"Location": NEW})
    route = respx.get(NEW).respond(status, headers={"Retry-After": "3600"})
    obs = check()
    assert obs.outcome is Outcome.RATE_LIMITED
    assert route.call_count == 1 and "3600" in obs.reason


@respx.mock
@pytest.mark.parametrize("status", [429, 503])
def test_a_short_retry_after_behind_a_redirect_is_waited_for_and_the_page_read(
    status: int,
) -> None:
    respx.get(OLD).respond(301, headers={"Location": NEW})
    respx.get(NEW).mock(
        side_effect=[
            httpx.Response(status, headers={"Retry-After": "2"}),
            httpx.Response(200, html="<title>Annual report 2019</title><p>Findings.</p>"),
        ]
    )
    sleep = _Sleep()
    obs = check(sleep=sleep)
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT
    assert sleep.waits == [2.0] and "Retry-After 2 s" in obs.reason


@respx.mock
def test_a_persistent_429_behind_a_redirect_is_rate_limited() -> None:
    respx.get(OLD).respond(302, headers={"Location": NEW})
    route = respx.get(NEW).respond(429)
    obs = check()
    assert obs.outcome is Outcome.RATE_LIMITED
    assert route.call_count == SETTINGS.max_attempts


# --- F4: a firewall's block page -------------------------------------------------------------

#: AWS WAF's block page as CloudFront serves it (the 403 a .gov site behind WAF sends).
CLOUDFRONT_WAF = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
    b'"http://www.w3.org/TR/html4/loose.dtd">\n<HTML><HEAD><META HTTP-EQUIV="Content-Type" '
    b'CONTENT="text/html; charset=iso-8859-1">\n<TITLE>ERROR: The request could not be '
    b"satisfied</TITLE>\n</HEAD><BODY>\n<H1>403 ERROR</H1>\n<H2>The request could not be "
    b'satisfied.</H2>\n<HR noshade size="1px">\nRequest blocked.\nWe can\'t connect to the '
    b"server for this app or website at this time. There might be too much traffic or a "
    b"configuration error. Try again later, or contact the app or website owner.\n<BR "
    b'clear="all">\nIf you provide content to customers through CloudFront, you can find '
    b"steps to troubleshoot and help prevent this error by reviewing the CloudFront "
    b'documentation.\n<BR clear="all">\n<HR noshade size="1px">\n<PRE>\nGenerated by '
    b"cloudfront (CloudFront)\nRequest ID: 3x4mpl3Kq1aW==\n</PRE>\n<ADDRESS>\n</ADDRESS>\n"
    b"</BODY></HTML>"
)
#: CloudFront's 403 for a distribution that does not serve the host: browsers get it too.
CLOUDFRONT_BAD_REQUEST = CLOUDFRONT_WAF.replace(b"Request blocked.", b"Bad request.")
#: S3 behind CloudFront answers 403 for a file that is not there.
S3_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access '
    b"Denied</Message><RequestId>0A1B2C3D4E5F</RequestId><HostId>abc=</HostId></Error>"
)
APACHE_406 = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>406 Not '
    b"Acceptable</title>\n</head><body>\n<h1>Not Acceptable</h1>\n<p>An appropriate "
    b"representation of the requested resource could not be found on this server.</p>\n"
)
MODSECURITY_406 = APACHE_406 + b"<p>This error was generated by Mod_Security.</p>\n</body></html>"
WORDFENCE = (
    b"<!DOCTYPE html><html><head><title>Your access to this site has been limited by the site "
    b"owner</title></head><body><h1>Your access to this site has been limited by the site "
    b"owner</h1><p>Your access to this service has been limited. (HTTP response code 403)</p>"
    b"<p>If you think you have been blocked in error, contact the owner of this site for "
    b'assistance.</p><p class="generated">Generated by Wordfence at Sat, 5 Dec 2026 3:00:00 '
    b"GMT.<br>Your computer's time: <script>document.write(new Date().toUTCString());</script>"
    b".</p></body></html>"
)
INCAPSULA_BLOCK = (
    b'<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW"></head>'
    b'<body style="margin:0px;height:100%"><iframe id="main-iframe" frameborder=0 '
    b'width="100%" height="100%">Request unsuccessful. Incapsula incident ID: '
    b"485000470549342814-1091780437566882554</iframe></body></html>"
)
F5_REJECTED = (
    b"<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. "
    b"Please consult with your administrator.<br><br>Your support ID is: 1434620431927538947"
    b"</body></html>"
)
PAGE_URL = "https://www.example.gov/grants/solicitation-2026.pdf"


@respx.mock
@pytest.mark.parametrize(
    ("status", "headers", "body", "firewall"),
    [
        pytest.param(
            403,
            {"Server": "CloudFront", "X-Cache": "Error from cloudfront"},
            CLOUDFRONT_WAF,
            "AWS WAF (on CloudFront)",
            id="cloudfront-waf",
        ),
        pytest.param(406, {"Server": "Apache"}, MODSECURITY_406, "ModSecurity", id="modsecurity"),
        pytest.param(403, {}, WORDFENCE, "Wordfence", id="wordfence-403"),
        pytest.param(503, {}, WORDFENCE, "Wordfence", id="wordfence-503"),
        pytest.param(403, {}, INCAPSULA_BLOCK, "Imperva (Incapsula)", id="incapsula"),
        pytest.param(403, {}, F5_REJECTED, "an F5 firewall", id="f5-asm-403"),
    ],
)
def test_a_firewalls_block_page_is_blocked_not_broken(
    status: int, headers: dict[str, str], body: bytes, firewall: str
) -> None:
    """CloudFront's WAF page and ModSecurity's 406 were `http_error`, confirmed broken
    after three nights, of links that open in a browser."""
    route = respx.get(PAGE_URL).respond(status, headers=headers, content=body)
    obs = check(PAGE_URL)
    assert obs.outcome is Outcome.BLOCKED and not obs.outcome.is_failure
    assert route.call_count == 1, "a firewall answers the same way every time"
    assert obs.reason == (
        f"GET {status}: {firewall} turned away the automated check ({status}); "
        "check it in a browser."
    )


@respx.mock
@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(403, CLOUDFRONT_BAD_REQUEST, id="cloudfront-bad-request"),
        pytest.param(403, S3_ACCESS_DENIED, id="s3-missing-file"),
        pytest.param(406, APACHE_406, id="apache-406"),
        pytest.param(403, b"<title>403 Forbidden</title><h1>Forbidden</h1>", id="bare-403"),
        pytest.param(500, b"<p>This error was generated by our server.</p>", id="500"),
    ],
)
def test_an_error_page_of_no_firewall_stays_an_error(status: int, body: bytes) -> None:
    respx.get(PAGE_URL).respond(status, headers={"Server": "CloudFront"}, content=body)
    assert check(PAGE_URL).outcome is Outcome.HTTP_ERROR


@respx.mock
def test_a_page_quoting_a_firewalls_words_is_a_page() -> None:
    """A help page about ModSecurity answers 200: it is the page, not the firewall."""
    article = (
        b"<html><head><title>Fixing 406 errors on shared hosting</title></head><body><p>If "
        b"your form shows 'This error was generated by Mod_Security.', ask your host to "
        b"relax the rule.</p></body></html>"
    )
    respx.get(PAGE_URL).respond(200, headers={"Content-Type": "text/html"}, content=article)
    assert check(PAGE_URL).outcome is Outcome.OK


# --- F5: a reset during the TLS handshake ----------------------------------------------------


def _reset_in_handshake() -> httpx.ConnectError:
    """The chain aiohttp gives for a reset during the handshake when the reset beats the
    ClientHello's write (a race: a few times in ten on loopback): ssl's "call again when
    data comes" signal rides along as the context."""
    want = ssl.SSLWantReadError(2, "The operation did not complete (read) (_ssl.c:1006)")
    reset = ConnectionResetError(104, "Connection reset by peer")
    connector = OSError("Cannot connect to host site.test:443 ssl:default")
    connector.__context__ = want
    outer = httpx.ConnectError("Cannot connect to host site.test:443 ssl:default")
    outer.__cause__, outer.__context__ = reset, connector
    return outer


def test_a_reset_beside_an_ssl_want_read_is_a_reset_not_a_certificate_problem() -> None:
    """The signal was read first, and made a reset a "Certificate problem" (not retried,
    not transient, "browsers will warn visitors about this site's security certificate")."""
    failure = describe_error(_reset_in_handshake())
    assert failure.kind is FailureKind.RESET
    assert failure.sentence == "the server reset the connection"


def test_a_reset_in_the_handshake_is_retried_and_ends_as_a_connection_reset() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        raise _reset_in_handshake()

    obs = check(PAGE_URL, transport=httpx.MockTransport(handler))
    assert obs.outcome is Outcome.CONNECTION_RESET and obs.outcome.is_transient
    assert obs.reason == (
        "GET no answer after 2 retries (connection reset; connection reset): the server "
        "reset the connection."
    )
    assert len(sent) == SETTINGS.max_attempts == 3


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), FailureKind.OTHER),
        (ssl.SSLError(1, "[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol"), FailureKind.TLS),
        (ssl.SSLWantReadError(2, "The operation did not complete (read)"), FailureKind.OTHER),
    ],
)
def test_a_tls_errors_kind(error: ssl.SSLError, kind: FailureKind) -> None:
    """Plain HTTP on the HTTPS port offers no certificate; a lone "call again" signal is
    no failure of the handshake."""
    error.reason = str(error.args[1]).split("]")[0].removeprefix("[SSL: ")  # type: ignore[misc]
    outer = httpx.ConnectError("x")
    outer.__cause__ = error
    assert describe_error(outer).kind is kind


@pytest.fixture
def tls_port_that_resets() -> Iterator[tuple[int, list[int]]]:
    """A port that takes each connection's ClientHello, then resets it (an overloaded
    server, a load balancer recycling a node): no certificate is ever sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with conn:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        _stop(listener, thread)


def _stop(listener: socket.socket, thread: threading.Thread) -> None:
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept()
    listener.close()
    thread.join(timeout=5)


async def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


LOCAL = replace(
    SETTINGS,
    allow_private=True,
    total_timeout=5.0,
    connect_timeout=2.0,
    backoff_initial=0.01,
    backoff_max=0.02,
)


def test_a_reset_during_the_tls_handshake_is_retried_and_a_connection_reset(
    tls_port_that_resets: tuple[int, list[int]],
) -> None:
    """Over real sockets, whichever way the stack words the reset."""
    port, accepted = tls_port_that_resets
    obs = check(f"https://site.test:{port}/report", LOCAL, resolver=_loopback, sleep=None)
    assert obs.outcome is Outcome.CONNECTION_RESET and obs.outcome.is_transient
    assert "certificate" not in obs.reason.lower() and "TLS" not in obs.reason
    assert len(accepted) == LOCAL.max_attempts, "retried, as any reset is"


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A port that answers in plain HTTP whatever comes (an https:// link to a server
    whose port 443 is set up without TLS)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        _stop(listener, thread)


def test_plain_http_on_the_https_port_is_no_certificate_problem(plain_http_port: int) -> None:
    """ "Browsers will warn visitors about this site's security certificate" was said of a
    server that offers no certificate at all: browsers say it cannot connect securely."""
    obs = check(f"https://site.test:{plain_http_port}/report", LOCAL, resolver=_loopback)
    assert obs.outcome is Outcome.CONNECTION_ERROR
    assert obs.reason == (
        "GET no answer: the server does not speak HTTPS on this port (it answered the secure "
        "connection in another protocol, most often plain HTTP)."
    )
