"""How real sites answer automated checks today, modelled with MockTransport.

Each test is one behaviour seen on the kind of site the bundled toolkit catalog links
(ojp.gov, ncjrs.gov, dhs.gov, state.gov behind Akamai; nonprofits behind Cloudflare;
PDFs on CDNs; YouTube), and asserts the outcome and the reason a curator would read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from catalog.check import check_targets
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of

PUBLIC = "93.184.216.34"
NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0)
PAGE = (
    "<html><head><title>Human Trafficking Task Force e-Guide | OVC</title></head><body>"
    "<h1>Human Trafficking Task Force e-Guide</h1><p>Strengthening collaborative responses "
    "to human trafficking: forming a task force, supporting victims, building cases.</p>"
    "</body></html>"
)


async def _resolve(host: str, port: int) -> list[str]:
    return [PUBLIC]


async def _no_sleep(seconds: float) -> None:
    return None


Handler = Callable[[httpx.Request], httpx.Response]


def check(url: str, handler: Handler, settings: CheckSettings = SETTINGS, **kw: Any) -> Observation:
    (obs,) = asyncio.run(
        check_targets(
            [Target(url=url, host=host_of(url), **kw)],
            settings,
            transport=httpx.MockTransport(handler),
            resolver=_resolve,
            sleep=_no_sleep,
            clock=lambda: NOW,
        )
    )
    return obs


# --- bot walls: the browser gets the page, we get the wall ------------------------------------

#: Akamai's "Access Denied" page as dhs.gov and state.gov send it: every punctuation mark of
#: the address and the reference number written as an HTML entity.
AKAMAI_ACCESS_DENIED = (
    b"<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n \n"
    b"You don't have permission to access \"http&#58;&#47;&#47;www&#46;dhs&#46;gov&#47;blue"
    b'&#45;campaign" on this server.<P>\nReference&#32;&#35;18&#46;6f5d1202&#46;1764730000'
    b"&#46;1a2b3c4d\n<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;6f5d1202"
    b"&#46;1764730000&#46;1a2b3c4d</P>\n</BODY>\n</HTML>\n"
)


def test_akamai_access_denied_page_is_blocked_not_broken() -> None:
    """HEAD 403 without a body, then GET 403 with Akamai's page: a browser sees the page,
    so this must never be confirmed broken (it was `http_error`)."""

    def site(request: httpx.Request) -> httpx.Response:
        body = AKAMAI_ACCESS_DENIED if request.method == "GET" else b""
        headers = {"Server": "AkamaiGHost", "Content-Type": "text/html", "Mime-Version": "1.0"}
        return httpx.Response(403, headers=headers, content=body)

    obs = check("https://www.dhs.gov/blue-campaign", site, fingerprint_due=False)
    assert obs.outcome is Outcome.BLOCKED
    assert obs.reason == (
        "HEAD 403, GET 403: Akamai turned away the automated check (403); check it in a browser."
    )


CLOUDFLARE_1020 = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Access denied | demand-forum.org used '
    b'Cloudflare to restrict access</title></head><body><div id="cf-wrapper"><div '
    b'id="cf-error-details" class="cf-error-details-wrapper"><h1>Access denied</h1><span '
    b'class="cf-error-code">1020</span><p>The site owner may have set restrictions that '
    b"prevent you from accessing the site.</p><span>Cloudflare Ray ID: <strong>8a1b2c3d4e5f"
    b"6a7b</strong></span></div></div></body></html>"
)


def test_cloudflare_firewall_block_is_blocked_not_broken() -> None:
    def site(request: httpx.Request) -> httpx.Response:
        headers = {"Server": "cloudflare", "CF-RAY": "8a1b2c3d4e5f6a7b-IAD"}
        return httpx.Response(403, headers=headers, content=CLOUDFLARE_1020)

    obs = check("https://demand-forum.org/", site)
    assert obs.outcome is Outcome.BLOCKED
    assert "Cloudflare's firewall turned away the automated check (403)" in obs.reason


def test_cloudflare_error_page_for_a_dead_origin_stays_an_error() -> None:
    """Cloudflare's 5xx pages share the 1020 page's template; the origin really is down."""
    body = CLOUDFLARE_1020.replace(b"Access denied", b"Web server is down")

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(521, headers={"Server": "cloudflare"}, content=body)

    assert check("https://demand-forum.org/", site).outcome is Outcome.HTTP_ERROR


# --- redirects -------------------------------------------------------------------------------


def test_session_cookie_set_before_an_sso_hop_is_no_redirect_loop() -> None:
    """/page sets the session cookie and sends us to /sso, which sends us back: a browser
    returns with the cookie and gets the page (it was `redirect_loop`, confirmed broken,
    because the hop back to /page set no cookie itself)."""
    sent: list[tuple[str, str | None]] = []

    def site(request: httpx.Request) -> httpx.Response:
        cookie = request.headers.get("cookie")
        sent.append((request.url.path, cookie))
        if request.url.path == "/sso":
            return httpx.Response(302, headers={"Location": "/page"})
        if cookie == "sid=1":
            return httpx.Response(200, html=PAGE)
        return httpx.Response(302, headers={"Location": "/sso", "Set-Cookie": "sid=1; Path=/"})

    obs = check("https://www.state.gov/page", site)
    assert obs.outcome is Outcome.OK
    assert sent == [("/page", None), ("/sso", "sid=1"), ("/page", "sid=1")]
    assert obs.reason == (
        "Redirected (302, 302) to set a cookie and back to the page, as a browser is; "
        "the page answers 200."
    )


def test_redirect_back_with_the_same_cookies_is_a_loop() -> None:
    """A server that sets the same cookie and redirects to itself for ever loops in a
    browser too (ERR_TOO_MANY_REDIRECTS): it is found at the first repeat."""

    def site(request: httpx.Request) -> httpx.Response:
        headers = {"Location": "/page", "Set-Cookie": "sid=1; Path=/"}
        return httpx.Response(302, headers=headers)

    obs = check("https://www.state.gov/page", site)
    assert obs.outcome is Outcome.REDIRECT_LOOP and len(obs.chain) == 2
