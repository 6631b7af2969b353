"""A bot check answering 200 in a page's place is "blocked", not OK.

A bot-challenge page (Cloudflare's "Just a moment...", AWS WAF's challenge.js, DDoS-Guard,
Sucuri, a cookie set and the page reloaded) answered 200 where a page with text had been:
the check said OK, stored the wall's title and fingerprint as the page's ("content
changed", "title changed", and again the night the page was back; `export` said
`content_changed` both nights), and the curator was never asked to look. Now it is
BLOCKED, as the same walls answering 403 are, naming the vendor; the link keeps its last
real read to compare the next one with. A page with text of its own stays OK whatever
scripts or words it carries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.check import check_targets
from catalog.check.content import analyse_body
from catalog.export import export_rows
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from catalog.urls import host_of
from reports.build import build_context
from reports.context import Priority, ReportContext
from tests.factories import days, make_catalog, make_resource, temporary_database

HOST = "www.survivors.test"
URL = f"https://{HOST}/guide"
GUIDE = (
    "<html><head><title>Guide to Victim Services | Survivor Network</title></head><body>"
    "<h1>Guide to Victim Services</h1><p>Where survivors of trafficking find shelter, legal "
    "help and counselling, region by region, with the hours and languages of each.</p>"
    "</body></html>"
)

# --- the walls, as their vendors send them -----------------------------------------------

CLOUDFLARE = (
    "<!DOCTYPE html><html lang='en-US'><head><title>Just a moment...</title>"
    "<meta name='robots' content='noindex,nofollow'><meta http-equiv='refresh' content='390'>"
    "<style>*{box-sizing:border-box;margin:0;padding:0}</style></head><body class='no-js'>"
    f"<div class='main-wrapper' role='main'><div class='main-content'><h1>{HOST}</h1>"
    "<h2 id='challenge-running'>Verifying you are human. This may take a few seconds.</h2>"
    f"<div id='challenge-body-text'>{HOST} needs to review the security of your connection "
    "before proceeding.</div><noscript><span id='challenge-error-text'>Enable JavaScript and "
    "cookies to continue</span></noscript></div></div><script>(function(){window._cf_chl_opt="
    "{cvId: '3', cZone: 'www.survivors.test', cType: 'managed', cRay: '8f2a9c3b1d4e5f60'};"
    "var cpo = document.createElement('script');"
    "cpo.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8f2a9c3b1d4e5f60';"
    "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script>"
    "<div class='footer'><div class='ray-id'>Ray ID: <code>8f2a9c3b1d4e5f60</code></div>"
    "<div id='footer-text'>Performance &amp; security by <a href='https://www.cloudflare.com'>"
    "Cloudflare</a></div></div></body></html>"
)
#: Cloudflare's older "I'm Under Attack" page.
CLOUDFLARE_IUAM = (
    "<!DOCTYPE HTML><html lang='en-US'><head><meta http-equiv='refresh' content='12'>"
    "<title>Just a moment...</title></head><body><table><tr><td><div class='cf-browser-"
    f"verification cf-im-under-attack'><h1>Checking your browser before accessing {HOST}."
    "</h1><p>This process is automatic. Your browser will redirect to your requested content "
    "shortly.</p><p>Please allow up to 5 seconds&hellip;</p></div><form id='challenge-form' "
    "action='/cdn-cgi/l/chk_jschl' method='get'><input type='hidden' name='jschl_vc' "
    "value='427c2b1c'/></form><div class='attribution'>DDoS protection by Cloudflare<br>"
    "Ray ID: 4834ce407815974a</div></td></tr></table></body></html>"
)
AWS_WAF = (
    "<!DOCTYPE html><html><head><title></title><meta charset='utf-8'>"
    "<script>window.awsWafCookieDomainList = [];window.gokuProps = {'key':'AQID'};</script>"
    "<script src='https://3f1e.edge.sdk.awswaf.com/3f1e/2b6d/challenge.js'></script></head>"
    "<body><div id='challenge-container'></div><script>AwsWafIntegration.checkForceRefresh()"
    ".then((f) => { if (f) { AwsWafIntegration.forceRefreshToken().then(() => "
    "{ window.location.reload(true); }); } });</script><noscript><h1>JavaScript is "
    "disabled</h1>In order to continue, we need to verify that you're not a robot. This "
    "requires JavaScript.</noscript></body></html>"
)
DDOS_GUARD = (
    "<!DOCTYPE html><html><head><title>DDoS-Guard</title>"
    "<script src='/.well-known/ddos-guard/check?context=free_splash'></script></head>"
    f"<body><div id='ddg-splash'><h2>Checking your browser before accessing {HOST}</h2>"
    "<p>DDoS protection by DDoS-Guard</p></div></body></html>"
)
SUCURI = (
    "<html><title>You are being redirected...</title><noscript>Javascript is required. "
    "Please enable javascript before you are allowed to see this page.</noscript><script>"
    "var s={},u,c,U,r,i,l=0,a,e=eval,w=String.fromCharCode,sucuri_cloudproxy_js='',"
    "S='ZG9jdW1lbnQuY29va2llPSdzdWN1cmlfY3AnOyBsb2NhdGlvbi5yZWxvYWQoKTs=';L=S.length;"
    "for(i=0;i<L;i++){r+=S.charAt(i);}e(atob(r));</script></html>"
)
COOKIE_RELOAD = (
    "<html><head><script>document.cookie = 'bot_check=5f3c9a; path=/; max-age=3600';"
    "location.reload();</script></head><body></body></html>"
)

WALLS = [
    pytest.param(CLOUDFLARE, "a Cloudflare bot check", id="cloudflare"),
    pytest.param(CLOUDFLARE_IUAM, "a Cloudflare bot check", id="cloudflare-iuam"),
    pytest.param(AWS_WAF, "an AWS WAF bot check", id="aws-waf"),
    pytest.param(DDOS_GUARD, "a DDoS-Guard bot check", id="ddos-guard"),
    pytest.param(SUCURI, "a Sucuri bot check", id="sucuri"),
    pytest.param(
        COOKIE_RELOAD,
        "a bot check (a script that sets a cookie and reloads the page)",
        id="cookie-and-reload",
    ),
]

# --- over the nights, through the checker, the store, the report and the export ----------

CHECK = CheckSettings(max_attempts=1)  # the soft-404 probe on, as every night
HEALTH = HealthSettings()
KIT = make_catalog(
    "toolkit",
    [
        make_resource(
            "guide",
            URL,
            title="Guide to Victim Services",
            description="Shelter, legal help and counselling for survivors of trafficking.",
        )
    ],
)
Site = Callable[[httpx.Request], httpx.Response]


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def serving(body: str, etag: str) -> Site:
    """A site answering `body` with `etag` (a new one tells the HEAD of a night that the
    page changed, so that night reads it): the page at its address (404 elsewhere), a wall
    at every address."""

    def answer(request: httpx.Request) -> httpx.Response:
        if body == GUIDE and str(request.url) != URL:
            return httpx.Response(404, headers={"Content-Type": "text/html"}, html="Not found")
        headers = {"Content-Type": "text/html", "ETag": f'"{etag}"'}
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, html=body)

    return answer


def night(
    engine: Engine, n: int, site: Site, respx_mock: respx.MockRouter
) -> tuple[Observation, list[str], ReportContext]:
    """Night `n`: checked, stored and reported as the run does; its observation, the kinds
    of the events it wrote, and the report."""
    respx_mock.routes.clear()
    respx_mock.route(host=HOST).mock(side_effect=site)
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    targets = store.targets_for_check(engine, now=days(n), fingerprint_max_age_days=7)
    (obs,) = asyncio.run(check_targets(targets, CHECK, resolver=public, clock=lambda: days(n)))
    events = store.record_observations(engine, run_id, [obs], HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return obs, [e.kind for e in events], build_context(report_data(engine), now=days(n + 0.01))


def link(engine: Engine) -> store.LinkStateRecord:
    (found,) = [s for s in store.link_states(engine) if s.url == URL]
    return found


def content_changed(engine: Engine, n: float) -> bool:
    (row,) = export_rows(engine, now=days(n))
    return bool(row["content_changed"])


GUIDE_READ = analyse_body(GUIDE.encode(), "text/html", truncated=False)


#: A wall with words of its own and one without, over the nights (every vendor's, at one
#: check: `test_each_vendors_wall_answering_200_is_blocked`).
OVER_NIGHTS = [WALLS[0], WALLS[-1]]


@pytest.mark.parametrize(("wall", "vendor"), OVER_NIGHTS)
def test_a_bot_check_in_place_of_a_page_with_text_is_blocked_and_the_page_is_kept(
    tmp_path: Path, respx_mock: respx.MockRouter, wall: str, vendor: str
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        night(engine, 1, serving(GUIDE, "g1"), respx_mock)
        assert link(engine).fingerprint == GUIDE_READ.fingerprint
        for n in (2, 3):
            obs, events, ctx = night(engine, n, serving(wall, f"w{n}"), respx_mock)
            assert obs.methods == ("HEAD", "GET")  # the wall was read, not vouched for
            assert obs.outcome is Outcome.BLOCKED
            assert obs.reason == (
                f"HEAD 200, GET 200: {vendor} answered in the page's place (200); "
                "check it in a browser."
            )
            state = link(engine)
            assert (state.title, state.fingerprint) == (GUIDE_READ.title, GUIDE_READ.fingerprint)
            assert state.drift_reason is None
            assert not {"content_changed", "title_changed", "drift_detected"} & set(events)
            assert not content_changed(engine, n + 0.02)
            (row,) = ctx.resources
            assert (row.resource_id, row.priority) == ("guide", Priority.LOOK)
            assert row.seen is not None and vendor in row.seen
        # The page is back: compared with the last real read, it is the same page.
        obs, events, ctx = night(engine, 4, serving(GUIDE, "g2"), respx_mock)
        assert obs.methods == ("HEAD", "GET") and obs.outcome is Outcome.OK
        assert obs.fingerprint == GUIDE_READ.fingerprint
        assert not {"content_changed", "title_changed", "drift_detected"} & set(events)
        assert not content_changed(engine, 4.02)
        assert [r.priority for r in ctx.resources] == [None]


@pytest.mark.parametrize(("wall", "vendor"), OVER_NIGHTS)
def test_a_bot_check_at_the_first_check_is_blocked_and_the_page_read_later_is_the_baseline(
    tmp_path: Path, respx_mock: respx.MockRouter, wall: str, vendor: str
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        obs, _, _ = night(engine, 1, serving(wall, "w1"), respx_mock)
        assert obs.outcome is Outcome.BLOCKED and vendor in obs.reason
        assert (obs.title, obs.fingerprint) == (None, None)
        assert (link(engine).title, link(engine).fingerprint) == (None, None)
        obs, events, _ = night(engine, 2, serving(GUIDE, "g1"), respx_mock)
        assert obs.outcome is Outcome.OK and "content_changed" not in events
        assert link(engine).fingerprint == GUIDE_READ.fingerprint
        assert not content_changed(engine, 2.02)


# --- one check: what is a wall and what is a page -----------------------------------------

ONE = replace(CheckSettings(), soft404_probe=False, max_attempts=1)


def check(
    respx_mock: respx.MockRouter,
    body: str,
    headers: dict[str, str] | None = None,
    status: int = 200,
) -> Observation:
    respx_mock.route(host=HOST).mock(
        return_value=httpx.Response(
            status, headers={"Content-Type": "text/html", **(headers or {})}, html=body
        )
    )
    target = Target(url=URL, host=host_of(URL))
    (obs,) = asyncio.run(check_targets([target], ONE, resolver=public, clock=lambda: days(1)))
    return obs


@pytest.mark.parametrize(("wall", "vendor"), WALLS)
def test_each_vendors_wall_answering_200_is_blocked(
    respx_mock: respx.MockRouter, wall: str, vendor: str
) -> None:
    obs = check(respx_mock, wall)
    assert obs.outcome is Outcome.BLOCKED
    assert obs.reason == (
        f"GET 200: {vendor} answered in the page's place (200); check it in a browser."
    )
    assert (obs.title, obs.fingerprint) == (None, None)  # the wall is not the page


def test_aws_wafs_challenge_answering_202_is_blocked_too(respx_mock: respx.MockRouter) -> None:
    obs = check(respx_mock, AWS_WAF, status=202)
    assert obs.outcome is Outcome.BLOCKED
    assert "an AWS WAF bot check answered in the page's place (202)" in obs.reason


def test_cloudflares_challenge_header_at_200_is_its_word_for_a_challenge(
    respx_mock: respx.MockRouter,
) -> None:
    obs = check(
        respx_mock, "<html><body><div id='x'></div></body></html>", {"cf-mitigated": "challenge"}
    )
    assert obs.outcome is Outcome.BLOCKED
    assert "a Cloudflare bot check answered in the page's place (200)" in obs.reason


def _page(title: str, words: str, extra: str = "") -> str:
    return f"<html><head><title>{title}</title>{extra}</head><body><p>{words}</p></body></html>"


TIP_FORM = (
    "Report a tip to the hotline. Tell us what you saw, where and when; we answer every "
    "report within a day."
)
#: Pages of their own, each with something of a wall about it: OK, as a browser shows them.
PAGES = [
    pytest.param(
        _page(
            "Report a tip",
            TIP_FORM + "<form><div class='g-recaptcha' data-sitekey='6Lc_x'></div></form>",
            "<script src='https://www.google.com/recaptcha/api.js' async defer></script>",
        ),
        id="recaptcha-in-a-form",
    ),
    pytest.param(
        _page(
            "Report a tip",
            TIP_FORM + "<form><div class='h-captcha' data-sitekey='10000000'></div></form>",
            "<script src='https://js.hcaptcha.com/1/api.js'></script>",
        ),
        id="hcaptcha-in-a-form",
    ),
    pytest.param(
        _page(
            "Help: Just a moment...",
            "Seeing 'Just a moment...' from Cloudflare? Complete the captcha to verify you are "
            "human, then the guide opens.",
        ),
        id="prose-naming-the-walls",
    ),
    pytest.param(
        _page(
            "Guide to Victim Services",
            TIP_FORM,
            "<script>window.__CF$cv$params={r:'8f2a9c3b',t:'MTczMw=='};var a=document."
            "createElement('script');a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';"
            "document.head.appendChild(a);</script>",
        ),
        id="cloudflare-script-on-a-page-with-text",
    ),
    pytest.param(
        _page(
            "Guide to Victim Services",
            "Download the guide (PDF, 2 MB).",
            "<script src='/_Incapsula_Resource?SWJIYLWA=5074a744e2e3d891'></script>",
        ),
        id="imperva-script-on-a-page-with-a-line-of-text",
    ),
    pytest.param(
        _page(
            "Guide to Victim Services",
            "Download the guide (PDF, 2 MB).",
            "<script>document.cookie = 'lang=en; path=/'; location.reload();</script>",
        ),
        id="cookie-and-reload-on-a-page-with-a-line-of-text",
    ),
    pytest.param(
        _page(
            "Guide to Victim Services",
            TIP_FORM + "<button onclick='accept()'>Accept cookies</button>",
            "<script>function accept(){document.cookie = 'consent=yes; path=/';"
            "location.reload();}</script>",
        ),
        id="consent-banner-reloading-on-click",
    ),
    pytest.param(
        "<html><head><title>Survivor Network</title><script src='/_Incapsula_Resource?"
        "SWJIYLWA=5074a744'></script></head><body><div id='root'></div>"
        "<script src='/app.js'></script></body></html>",
        id="script-built-app-behind-imperva",
    ),
    pytest.param(
        CLOUDFLARE.replace("</body>", f"<p>{TIP_FORM}</p></body>"),
        id="challenge-scripts-on-a-page-with-text",
    ),
]


@pytest.mark.parametrize("body", PAGES)
def test_a_page_with_text_of_its_own_is_no_wall_whatever_it_carries(
    respx_mock: respx.MockRouter, body: str
) -> None:
    obs = check(respx_mock, body)
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.fingerprint is not None
