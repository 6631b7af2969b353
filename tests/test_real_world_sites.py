"""How real sites answer automated checks today, modelled with MockTransport.

Each test is one behaviour seen on the kind of site the bundled toolkit catalog links
(ojp.gov, ncjrs.gov, dhs.gov, state.gov behind Akamai; nonprofits behind Cloudflare;
PDFs on CDNs; YouTube), and asserts the outcome and the reason a curator would read.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from catalog.check import check_targets
from catalog.health import Change, Entry, LinkState, apply_observation, judge_page
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
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
    assert obs.reason == (
        "GET 403: Cloudflare's firewall turned away the automated check (403, error 1020); "
        "check it in a browser."
    )


def test_cloudflare_error_for_a_misconfigured_site_stays_an_error() -> None:
    """Error 1000 (the site's DNS points at a forbidden address) is what browsers get too."""
    body = CLOUDFLARE_1020.replace(b">1020<", b">1000<").replace(
        b"Access denied", b"DNS points to prohibited IP"
    )

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, headers={"Server": "cloudflare"}, content=body)

    assert check("https://demand-forum.org/", site).outcome is Outcome.HTTP_ERROR


def test_cloudflare_error_page_for_a_dead_origin_stays_an_error() -> None:
    """Cloudflare's 5xx pages share the 1020 page's template; the origin really is down."""
    body = CLOUDFLARE_1020.replace(b"Access denied", b"Web server is down")

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(521, headers={"Server": "cloudflare"}, content=body)

    assert check("https://demand-forum.org/", site).outcome is Outcome.HTTP_ERROR


F5_REQUEST_REJECTED = (
    b"<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. "
    b"Please consult with your administrator.<br><br>Your support ID is: 1434620431927538947"
    b"<br><br><a href='javascript:history.back();'>[Go Back]</a></body></html>"
)
INCAPSULA_CHALLENGE = (
    b'<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW"><meta '
    b'name="format-detection" content="telephone=no"><script type="text/javascript" '
    b'src="/_Incapsula_Resource?SWJIYLWA=5074a744e2e3d891814e9a2dace20bd4,719d34d31c8e3a6e6f'
    b'ffd425f7e032f3"></script></head><body style="margin:0px;height:100%"></body></html>'
)


@pytest.mark.parametrize(
    ("body", "wall"),
    [
        pytest.param(F5_REQUEST_REJECTED, "an F5 firewall", id="f5-asm"),
        pytest.param(INCAPSULA_CHALLENGE, "an Imperva (Incapsula) bot check", id="incapsula"),
    ],
)
def test_firewall_page_answering_200_is_blocked_not_ok(body: bytes, wall: str) -> None:
    """The firewall's page stands in for the resource with a 200: `ok` said the link works
    when nothing of it was seen, night after night."""

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=body)

    obs = check("https://www.state.gov/j/tip/rls/tiprpt/2018/282570.htm", site)
    assert obs.outcome is Outcome.BLOCKED
    assert (
        obs.reason == f"GET 200: {wall} answered in the page's place (200); check it in a browser."
    )


def test_a_page_that_quotes_a_firewall_message_is_a_page() -> None:
    article = (
        f"<html><head><title>Troubleshooting our portal</title></head><body><p>If you see "
        f"'The requested URL was rejected. Please consult with your administrator.', "
        f"{'write to the help desk with the support ID shown. ' * 200}</p></body></html>"
    ).encode()

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=article)

    assert check("https://www.state.gov/help/", site).outcome is Outcome.OK


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


@pytest.mark.parametrize(
    ("status", "via", "url"),
    [
        (301, None, "https://www.state.gov/report"),
        (308, None, "https://www.state.gov/report"),
        (301, "/cookie-check", "https://www.state.gov/report"),
        # Back to the address as the catalog keys it, spelt otherwise by the server.
        (301, "https://WWW.State.gov:443/report", "https://www.state.gov/report"),
    ],
)
def test_a_cookie_check_by_a_permanent_redirect_to_the_page_itself_is_no_move(
    status: int, via: str | None, url: str
) -> None:
    """The first visit sets a cookie and answers 301 (or 308) back to the page, itself or by
    way of /cookie-check; with the cookie the page answers. It was "Moved permanently" to
    its own address: the entry stayed in the update queue for good, and accept-redirect
    only answered that the entry already uses it."""

    def site(request: httpx.Request) -> httpx.Response:
        if "visited=1" not in (request.headers.get("cookie") or ""):
            headers = {"Location": via or "/report", "Set-Cookie": "visited=1; Path=/"}
            return httpx.Response(status, headers=headers)
        if request.url.path == "/cookie-check":
            return httpx.Response(status, headers={"Location": "/report"})
        return httpx.Response(200, html=PAGE)

    obs = check(url, site)
    assert obs.outcome is Outcome.OK and obs.suggested_url is None
    assert obs.reason.startswith(f"Redirected ({status}") and "set a cookie" in obs.reason


PDF = b"%PDF-1.4\n1 0 obj << /Title (Labor Trafficking Fact Sheet) /Producer (x) >> endobj\n"


def signed_cdn(path: str, night: int) -> str:
    """A CloudFront download address as made for one request: new expiry, new signature."""
    return (
        f"https://d3k8zzc9oc0b2p.cloudfront.net{path}?Expires={1764730000 + night * 86400}"
        f"&Signature=Qm{night}x~Zk-{night}_&Key-Pair-Id=K2JCJMDEHXQW5F"
    )


def pdf_behind_signed_redirect(night: int) -> Handler:
    def site(request: httpx.Request) -> httpx.Response:
        if request.url.host == "www.ojp.gov":
            return httpx.Response(302, headers={"Location": signed_cdn(request.url.path, night)})
        headers = {"Content-Type": "application/pdf", "ETag": '"v1"'}
        return httpx.Response(200, headers=headers, content=PDF)

    return site


def test_pdf_behind_a_signed_cdn_redirect_does_not_move_every_night() -> None:
    """The signature and expiry change at each request: recorded as sent, each night made
    a redirect_changed and a final_url_changed event, and the report showed an address
    that had expired by morning."""
    url = "https://www.ojp.gov/pdffiles1/nij/grants/238795.pdf"
    state, changes = LinkState(), list[Change]()
    for night in range(3):
        obs = check(url, pdf_behind_signed_redirect(night))
        assert obs.outcome is Outcome.OK
        state, changes = apply_observation(state, obs, HealthSettings(), now=obs.checked_at)
    assert [change.kind for change in changes] == []
    assert obs.final_url == "https://d3k8zzc9oc0b2p.cloudfront.net/pdffiles1/nij/grants/238795.pdf"
    assert obs.chain[0].url == url
    assert obs.reason == (
        f"Redirected temporarily (302) to {obs.final_url} (a signed address that expires); "
        "the page answers 200."
    )


def test_a_move_before_a_signed_download_suggests_the_moved_page() -> None:
    """ncjrs.gov -301-> ojp.gov -302-> a signed S3 address: the catalog should hold the
    ojp.gov address, not the signed one, which expires within minutes."""
    moved = "https://www.ojp.gov/pdffiles1/nij/grants/249672.pdf"

    def site(request: httpx.Request) -> httpx.Response:
        if request.url.host == "www.ncjrs.gov":
            return httpx.Response(301, headers={"Location": moved})
        if request.url.host == "www.ojp.gov":
            signed = (
                "https://ojp-pdf.s3.amazonaws.com/249672.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                "&X-Amz-Credential=AKIAEXAMPLE%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
                "&X-Amz-Date=20261203T030000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
                "&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
            )
            return httpx.Response(302, headers={"Location": signed})
        return httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=PDF)

    obs = check("https://www.ncjrs.gov/pdffiles1/nij/grants/249672.pdf", site)
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT
    assert obs.suggested_url == moved
    assert obs.reason == (
        f"Redirected permanently (301, 302) to {moved}, which leads on to "
        "https://ojp-pdf.s3.amazonaws.com/249672.pdf (a signed address that expires); the new "
        "page answers 200."
    )


def nap(request: httpx.Request) -> httpx.Response:
    """doi.org resolves to the registered address; the publisher has moved since."""
    if request.url.host == "dx.doi.org":
        return httpx.Response(301, headers={"Location": f"https://doi.org{request.url.path}"})
    if request.url.host == "doi.org":
        return httpx.Response(302, headers={"Location": "http://www.nap.edu/catalog/18969"})
    if request.url.host == "www.nap.edu":
        new = "https://nap.nationalacademies.org/catalog/18969/confronting-commercial-sexual"
        return httpx.Response(301, headers={"Location": new})
    return httpx.Response(200, html=PAGE)


def test_a_doi_whose_publisher_moved_is_no_move_of_the_doi() -> None:
    """A DOI is the address meant to last: the publisher's own 301 beyond it asked
    curators to replace the DOI with the publisher's page of the day."""
    obs = check("https://doi.org/10.17226/18969", nap)
    assert obs.outcome is Outcome.OK and obs.suggested_url is None
    assert obs.reason.startswith("Redirected temporarily (302, 301) to https://nap.")


def test_the_resolvers_own_move_is_still_a_move() -> None:
    obs = check("http://dx.doi.org/10.17226/18969", nap)
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT
    assert obs.suggested_url == "https://doi.org/10.17226/18969"


def test_a_session_id_in_a_redirect_is_no_move() -> None:
    """Old Java sites answer with a fresh ";jsessionid=" in the address at every visit."""
    url = "https://www.ncjrs.gov/App/Publications/abstract.aspx"
    state, changes = LinkState(), list[Change]()
    for night in range(2):

        def site(request: httpx.Request, night: int = night) -> httpx.Response:
            if ";" in request.url.path:
                return httpx.Response(200, html=PAGE)
            return httpx.Response(302, headers={"Location": f"{url};jsessionid=A1B2C{night}?ID=5"})

        obs = check(url, site)
        state, changes = apply_observation(state, obs, HealthSettings(), now=obs.checked_at)
    assert obs.outcome is Outcome.OK and changes == []
    assert obs.final_url == f"{url}?ID=5"


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        pytest.param(
            "https://storage.googleapis.com/b/x.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=a%40b.iam&X-Goog-Date=20261203T030000Z&X-Goog-Expires=900"
            "&X-Goog-SignedHeaders=host&X-Goog-Signature=0a1b",
            "https://storage.googleapis.com/b/x.pdf",
            id="google-cloud-storage",
        ),
        pytest.param(
            "https://acct.blob.core.windows.net/c/x.pdf?sv=2022-11-02&se=2026-12-04T03%3A00Z"
            "&sr=b&sp=r&sig=abc%3D",
            "https://acct.blob.core.windows.net/c/x.pdf",
            id="azure-sas",
        ),
        pytest.param(
            "https://b.s3.amazonaws.com/x.pdf?response-content-disposition=attachment%3B"
            "%20filename%3Dx.pdf&X-Amz-Expires=300&X-Amz-Signature=ab",
            "https://b.s3.amazonaws.com/x.pdf?response-content-disposition=attachment%3B"
            "%20filename%3Dx.pdf",
            id="s3-keeps-its-other-parameters",
        ),
        pytest.param(
            "https://old.example.gov/(S(lit3py55t21z5v55vlm25s55))/page.aspx?id=2",
            "https://old.example.gov/page.aspx?id=2",
            id="aspnet-cookieless-session",
        ),
        pytest.param(
            "https://ex.org/search?q=signature&expires=never&st=2",
            "https://ex.org/search?q=signature&expires=never&st=2",
            id="unsigned-words-stay",
        ),
    ],
)
def test_redirect_targets_are_recorded_without_what_changes_at_each_request(
    sent: str, recorded: str
) -> None:
    def site(request: httpx.Request) -> httpx.Response:
        if request.url.host == "www.ojp.gov":
            return httpx.Response(302, headers={"Location": sent})
        return httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=PDF)

    obs = check("https://www.ojp.gov/x.pdf", site)
    assert obs.final_url == recorded and obs.chain[-1].url == recorded


# --- video pages -----------------------------------------------------------------------------


def youtube_watch_page(playability: str) -> bytes:
    """A watch page as YouTube serves it for any video id: 200, the full site, and the
    player's verdict only in a script."""
    return (
        '<!DOCTYPE html><html lang="en"><head><title> - YouTube</title></head><body>'
        "<div>About Press Copyright Contact us Creators Advertise Developers Terms Privacy "
        'Policy &amp; Safety How YouTube works Test new features</div><script nonce="x">'
        'var ytInitialPlayerResponse = {"responseContext":{"serviceTrackingParams":[]},'
        f'"playabilityStatus":{playability},"trackingParams":"CAAQu2kiEwj"}};</script>'
        "</body></html>"
    ).encode()


def youtube(playability: str) -> Handler:
    def site(request: httpx.Request) -> httpx.Response:
        page = youtube_watch_page(playability)
        return httpx.Response(
            200, headers={"Content-Type": "text/html; charset=utf-8"}, content=page
        )

    return site


VIDEO = "https://www.youtube.com/watch?v=Ds7xGq1pZ1k"


def test_removed_youtube_video_is_a_soft_404() -> None:
    """The page answers 200 with the site's full template: only the player says so."""
    status = (
        '{"status":"ERROR","reason":"This video isn\'t available anymore","errorScreen":'
        '{"playerErrorMessageRenderer":{"reason":{"simpleText":"This video isn\'t available '
        'anymore"}}}}'
    )
    obs = check(VIDEO, youtube(status))
    assert obs.outcome is Outcome.SOFT_404
    assert obs.reason == (
        "GET 200: YouTube says the video is unavailable (“This video isn't available anymore”)."
    )


def test_private_youtube_video_is_a_soft_404() -> None:
    status = (
        '{"status":"LOGIN_REQUIRED","messages":["This is a private video. Please sign in to '
        'verify that you may see it."],"reason":"Private video"}'
    )
    obs = check(VIDEO, youtube(status))
    assert obs.outcome is Outcome.SOFT_404
    assert "YouTube says the video is private (“Private video”)" in obs.reason


def test_youtube_bot_check_is_blocked_and_a_playing_video_ok() -> None:
    bot = '{"status":"LOGIN_REQUIRED","reason":"Sign in to confirm you\\u2019re not a bot"}'
    obs = check(VIDEO, youtube(bot))
    assert obs.outcome is Outcome.BLOCKED
    assert (
        "YouTube asks the automated check to sign in (“Sign in to confirm you’re not a bot”)"
        in (obs.reason)
    )
    age = '{"status":"LOGIN_REQUIRED","reason":"Sign in to confirm your age"}'
    assert check(VIDEO, youtube(age)).outcome is Outcome.OK
    assert check(VIDEO, youtube('{"status":"OK","playableInEmbed":true}')).outcome is Outcome.OK


def test_only_the_watch_pages_own_player_speaks_for_the_video() -> None:
    """Player data of another video earlier on the page says nothing of this one."""
    other = b'<script>var x = {"playabilityStatus":{"status":"ERROR","reason":"Gone"}};</script>'
    page = youtube_watch_page('{"status":"OK"}').replace(b"<body>", b"<body>" + other)

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=page)

    assert check(VIDEO, site).outcome is Outcome.OK


def test_a_page_quoting_youtube_player_data_elsewhere_is_no_video_page() -> None:
    """Only YouTube's own pages are read this way: a blog embedding the JSON is a page."""
    page = youtube_watch_page('{"status":"ERROR","reason":"Video unavailable"}')

    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=page)

    assert check("https://polarisproject.org/videos/", site).outcome is Outcome.OK


# --- bodies ----------------------------------------------------------------------------------


def test_a_brotli_body_we_did_not_ask_for_is_no_page_of_random_words() -> None:
    """A misconfigured cache sends its brotli copy whatever Accept-Encoding said. Read as
    the HTML its Content-Type claims, the compressed bytes were stored as the page's text
    and judged for drift as a page sharing nothing with its entry (relevance 0)."""
    compressed = random.Random(7).randbytes(30_000)

    def site(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "br"}
        return httpx.Response(200, headers=headers, content=compressed)

    obs = check("https://www.acf.hhs.gov/otip/resource/fslabortrafficking", site)
    assert obs.outcome is Outcome.OK
    assert obs.title is None and not obs.text_sample_packed and obs.fingerprint
    entry = Entry(
        "fs", "Fact Sheet: Labor Trafficking", "What labor trafficking is and looks like."
    )
    assert judge_page(obs, [entry], {}) is None


# --- rate limits -----------------------------------------------------------------------------


def test_head_refused_with_429_then_get_served_says_which_was_retried() -> None:
    """Big hosts rate-limit HEAD apart from GET. The reason read "HEAD 429, GET 200 after
    2 retries (429, ...)", as if the page itself had been refused twice."""

    def site(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(429, headers={"Retry-After": "2"})
        return httpx.Response(200, html=PAGE)

    obs = check("https://www.youtube.com/watch?v=Ds7xGq1pZ1k", site, fingerprint_due=False)
    assert obs.outcome is Outcome.OK
    assert obs.reason == (
        "HEAD 429 after 2 retries (429, Retry-After 2 s; 429, Retry-After 2 s), GET 200"
    )


def test_429_with_a_long_retry_after_is_rate_limited_saying_how_long() -> None:
    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"})

    obs = check("https://www.youtube.com/watch?v=Ds7xGq1pZ1k", site)
    assert obs.outcome is Outcome.RATE_LIMITED
    assert obs.reason == (
        "GET 429: the site asked us to slow down; it asked us to wait 3600 s (about 60 min) "
        "(Retry-After), longer than the check can wait for one link."
    )
