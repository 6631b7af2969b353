"""Redirects that change at every request, or come and go, while the link stays where it is.

Each case ran night after night against a local web: a 301 that adds a fresh session id was
"Moved permanently" with a random `?sid=` to write into the catalog; click trackers,
downloads behind a token and consent walls were "Now leads somewhere else" every night; a
cookie check's 302 to the page itself was "Now redirects." to the page. A checker that cries
wolf is worse than none: only a real change of destination is news.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from catalog.check import check_targets
from catalog.check.redirects import is_signed, same_address, stable_url
from catalog.health import Change, LinkState, apply_observation
from catalog.model import Hop, Observation, Previous, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
from catalog.urls import host_of
from tests.factories import days, make_observation

NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0)
HEALTH = HealthSettings()
PAGE = (
    "<html><head><title>Model Protocol for Multidisciplinary Response</title></head><body>"
    "<h1>Model Protocol for Multidisciplinary Response</h1><p>Roles of law enforcement, "
    "prosecutors, child welfare and victim advocates; information sharing and case review.</p>"
    "</body></html>"
)
CASINO = "https://casino.example.net/promo/spring-offers"
CASINO_PAGE = (
    "<html><head><title>Casino bonus</title></head><body><h1>Casino</h1>"
    "<p>Play slots now, best bonus offers in town, sign up today and win.</p></body></html>"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n% annual data\n%%EOF\n"

Handler = Callable[[httpx.Request], httpx.Response]


async def _resolve(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


async def _no_sleep(seconds: float) -> None:
    return None


def check(url: str, handler: Handler, night: int) -> Observation:
    (obs,) = asyncio.run(
        check_targets(
            [Target(url=url, host=host_of(url))],
            SETTINGS,
            transport=httpx.MockTransport(handler),
            resolver=_resolve,
            sleep=_no_sleep,
            clock=lambda: NOW + timedelta(days=night),
        )
    )
    return obs


def nights(
    url: str, site: Callable[[httpx.Request, int], httpx.Response], count: int = 6
) -> tuple[list[Observation], list[list[Change]]]:
    """Each night's observation of `url` and the changes it made."""
    state = LinkState()
    seen: list[Observation] = []
    changes: list[list[Change]] = []
    for night in range(count):
        obs = check(url, functools.partial(_tonight, site, night), night)
        state, made = apply_observation(state, obs, HEALTH, now=obs.checked_at)
        seen.append(obs)
        changes.append(made)
    return seen, changes


def _tonight(
    site: Callable[[httpx.Request, int], httpx.Response], night: int, request: httpx.Request
) -> httpx.Response:
    return site(request, night)


def _night_time(night: int) -> datetime:
    return NOW + timedelta(days=night)


def fresh(n: int = 20) -> str:
    return "".join(random.choice("abcdef0123456789") for _ in range(n))


def kinds(changes: Sequence[Sequence[Change]]) -> list[list[str]]:
    return [[c.kind for c in made] for made in changes]


# --- stable_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param(
            "https://ex.org/docs/p?sid=23ca9f0e1b7d4c2a8e61", "https://ex.org/docs/p", id="sid"
        ),
        pytest.param(
            "https://ex.org/c?continue=%2Fx&sessionId=303ae1b0bd23520c062b",
            "https://ex.org/c?continue=%2Fx",
            id="sessionId",
        ),
        pytest.param(
            "https://ex.org/t?id=7&utm_source=newsletter&utm_medium=email&utm_campaign=c1"
            "&mc_eid=ab12cd34ef&mc_cid=99",
            "https://ex.org/t?id=7",
            id="utm-and-mailchimp",
        ),
        pytest.param(
            "https://ex.org/a?page=2&fbclid=IwAR3x&gclid=Cj0K&_ga=2.1.2.3&_gl=1*x&msclkid=ab",
            "https://ex.org/a?page=2",
            id="ad-click-ids",
        ),
        pytest.param(
            "https://ex.org/f.pdf?token=4e5458c678213a7c94b3fabf&expires=1798322758",
            "https://ex.org/f.pdf",
            id="token-with-expiry",
        ),
        pytest.param(
            "https://ex.org/s?q=x&doc=5&id=3&page=2&session_id=Zx81kq02LmN7pQ4r",
            "https://ex.org/s?q=x&doc=5&id=3&page=2",
            id="content-keys-stay",
        ),
        pytest.param("https://ex.org/story?sid=42", "https://ex.org/story?sid=42", id="short-sid"),
        pytest.param(
            "https://ex.org/p?session=Zx81kq02LmN7pQ4rTy9aB3==",
            "https://ex.org/p",
            id="base64-session",
        ),
        pytest.param(
            "https://ex.org/program?session=keynote-2026-day1",
            "https://ex.org/program?session=keynote-2026-day1",
            id="readable-session",
        ),
        pytest.param(
            "https://ex.org/course?s_id=CS101-2026-SPRING",
            "https://ex.org/course?s_id=CS101-2026-SPRING",
            id="course-id",
        ),
        pytest.param(
            "https://ex.org/view?sid=2019JB017123456789",
            "https://ex.org/view?sid=2019JB017123456789",
            id="document-id",
        ),
        pytest.param(
            "https://ex.org/story?sid=1734567890123456789",
            "https://ex.org/story?sid=1734567890123456789",
            id="long-number",
        ),
        pytest.param(
            "https://ex.org/reset?token=abc123def456",
            "https://ex.org/reset?token=abc123def456",
            id="token-without-expiry",
        ),
        pytest.param(
            "https://ex.org/p?exp=hero-b&v=2", "https://ex.org/p?exp=hero-b&v=2", id="experiment"
        ),
    ],
)
def test_stable_url_drops_session_and_tracking_keys_only(sent: str, kept: str) -> None:
    assert stable_url(sent) == kept


def test_a_token_with_an_expiry_is_an_address_that_expires() -> None:
    assert is_signed("https://cdn.ex.net/f.pdf?token=4e5458c678213a7c&expires=1798322758")
    assert not is_signed("https://ex.org/reset?token=abc123def456")


def test_an_address_that_differs_by_tracking_keys_alone_is_the_same_address() -> None:
    assert same_address(
        "https://ex.org/p?utm_source=x&sid=23ca9f0e1b7d4c2a8e61", "https://ex.org/p"
    )
    assert not same_address("https://ex.org/p?id=2", "https://ex.org/p?id=1")


# --- 1. a permanent redirect that adds a session id -------------------------------------------


def test_a_permanent_redirect_that_only_adds_a_session_id_is_no_move() -> None:
    url = "https://partners.example.org/docs/model-protocol"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if "sid" not in request.url.params:
            return httpx.Response(301, headers={"Location": f"{url}?sid={fresh()}"})
        return httpx.Response(200, html=PAGE)

    seen, changes = nights(url, site, 3)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 3
    assert [obs.suggested_url for obs in seen] == [None] * 3
    assert kinds(changes) == [[], [], []]
    assert all("sid=" not in (obs.final_url or "") for obs in seen)


def test_a_move_to_an_address_with_a_session_id_suggests_it_without() -> None:
    url = "https://partners.example.org/docs/old-protocol"
    moved = "https://partners.example.org/docs/model-protocol"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.path.endswith("old-protocol"):
            location = f"{moved}?sid={fresh()}&utm_source=site&utm_campaign=c{fresh(5)}"
            return httpx.Response(301, headers={"Location": location})
        return httpx.Response(200, html=PAGE)

    seen, changes = nights(url, site, 3)
    assert [obs.outcome for obs in seen] == [Outcome.REDIRECTED_PERMANENT] * 3
    assert [obs.suggested_url for obs in seen] == [moved] * 3
    assert kinds(changes)[1:] == [[], []]


def test_a_move_to_an_address_whose_session_key_names_content_keeps_it() -> None:
    """`session=keynote-2026-day1` is the programme's session, not the visitor's: the
    address to write into the catalog keeps it."""
    url = "https://conf.example.org/keynote"
    target = "https://conf.example.org/program?session=keynote-2026-day1"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.path == "/keynote":
            return httpx.Response(301, headers={"Location": target})
        return httpx.Response(200, html=PAGE)

    (seen,), _ = nights(url, site, 1)
    assert seen.outcome is Outcome.REDIRECTED_PERMANENT
    assert seen.final_url == target
    assert seen.suggested_url == target


def test_a_move_between_documents_whose_ids_are_named_sid_is_a_move() -> None:
    old = "https://pubs.example.org/view?sid=2019JB017123456789"
    new = "https://pubs.example.org/view?sid=2021JB019987654321"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if str(request.url) == old:
            return httpx.Response(301, headers={"Location": new})
        return httpx.Response(200, html=PAGE)

    (seen,), _ = nights(old, site, 1)
    assert seen.outcome is Outcome.REDIRECTED_PERMANENT
    assert seen.suggested_url == new


# --- 2. temporary redirects with a fresh token, or that come and go ------------------------------


def test_a_click_tracker_that_changes_every_night_is_no_news() -> None:
    url = "https://news.example.org/go/toolkit"
    end = "https://partners.example.org/resources/toolkit"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.host == "news.example.org":
            tracker = "t1.example.net" if night % 2 else "t2.example.net"
            return httpx.Response(302, headers={"Location": f"https://{tracker}/c/{fresh(8)}"})
        if request.url.path.startswith("/c/"):
            location = (
                f"{end}?utm_source=newsletter&utm_medium=email&utm_campaign=c{fresh(5)}"
                f"&mc_eid={fresh(10)}"
            )
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, html=PAGE)

    seen, changes = nights(url, site, 4)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 4
    assert {obs.final_url for obs in seen} == {end}
    assert kinds(changes) == [[], [], [], []]


def test_a_download_behind_a_fresh_token_is_no_news() -> None:
    url = "https://prevention.example.org/download/annual-data.pdf"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.host == "prevention.example.org":
            location = (
                f"https://files.example.net/files/annual-data.pdf?token={fresh(24)}"
                f"&expires={1798322758 + night * 86400}"
            )
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, headers={"Content-Type": "application/pdf"}, content=PDF)

    seen, changes = nights(url, site, 3)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 3
    assert {obs.final_url for obs in seen} == {"https://files.example.net/files/annual-data.pdf"}
    assert kinds(changes) == [[], [], []]


def test_a_consent_wall_for_a_few_nights_is_no_news() -> None:
    url = "https://eu.example.org/eu-strategy"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.host == "eu.example.org" and night in (1, 2, 3):
            location = (
                "https://consent.example.net/consent?continue=https%3A%2F%2Feu.example.org"
                f"%2Feu-strategy&sessionId={fresh()}"
            )
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, html=PAGE)

    seen, changes = nights(url, site, 5)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 5
    assert kinds(changes) == [[]] * 5


def test_a_temporary_redirect_on_alternate_nights_is_no_news() -> None:
    url = "https://prevention.example.org/prevention-curriculum"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if night % 2 == 0 and "exp" not in request.url.params:
            return httpx.Response(302, headers={"Location": f"{url}?exp=hero-b&v=2"})
        return httpx.Response(200, html=PAGE)

    seen, changes = nights(url, site, 5)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 5
    assert kinds(changes) == [[]] * 5


def test_a_temporary_redirect_to_another_page_on_alternate_nights_is_no_news() -> None:
    """The link works either way, and a 302 says the catalog's address is the right one."""
    url = "https://prevention.example.org/guide"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.path == "/guide" and night % 2:
            return httpx.Response(302, headers={"Location": "/guide-b"})
        return httpx.Response(200, html=PAGE)

    _, changes = nights(url, site, 4)
    assert kinds(changes) == [[]] * 4


def test_a_temporary_redirect_that_now_leads_elsewhere_is_news() -> None:
    """A short link pointed at another page is a real change of destination."""
    url = "https://go.example.org/toolkit"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.host == "go.example.org":
            page = "toolkit-2025" if night < 2 else "toolkit-2026"
            location = f"https://site.example.org/{page}?utm_source=go&sid={fresh()}"
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, html=PAGE)

    _, changes = nights(url, site, 3)
    assert kinds(changes)[:2] == [[], []]
    (made,) = [c for c in changes[2] if c.kind == "redirect_changed"]
    assert made.details == {
        "old": "https://site.example.org/toolkit-2025",
        "new": "https://site.example.org/toolkit-2026",
    }


def test_a_temporary_redirect_to_another_site_is_news_when_it_comes_and_goes() -> None:
    """A working link that starts 302-redirecting to another site (a lapsed campaign's
    casino) may no longer lead to the resource: "Now redirects" there, and back, is news."""
    url = "https://toolkit.example.org/protocol"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.host == "toolkit.example.org":
            if night in (2, 3):
                return httpx.Response(302, headers={"location": CASINO})
            return httpx.Response(200, html=PAGE)
        return httpx.Response(200, html=CASINO_PAGE)

    seen, changes = nights(url, site, 5)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 5
    made = kinds(changes)
    assert made[:2] == [[], []]
    assert {"redirect_changed", "final_url_changed"} <= set(made[2])
    assert made[3] == []
    assert {"redirect_changed", "final_url_changed"} <= set(made[4])


def test_a_temporary_redirect_to_another_site_on_a_head_night_is_news() -> None:
    """On nights whose fingerprint is not due only a HEAD is sent: no content or title
    change can tell, so the redirect's events are all the curator would see."""
    url = "https://toolkit.example.org/protocol"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if request.url.host == "toolkit.example.org":
            if night >= 1:
                return httpx.Response(302, headers={"location": CASINO})
            return httpx.Response(200, html=PAGE)
        if request.method == "HEAD":  # a dynamic page: no validators, no length
            return httpx.Response(200, headers={"content-type": "text/html; charset=utf-8"})
        return httpx.Response(200, html=CASINO_PAGE)

    state, previous = LinkState(), None
    for night in range(2):
        target = Target(url=url, host=host_of(url), previous=previous, fingerprint_due=night == 0)
        (obs,) = asyncio.run(
            check_targets(
                [target],
                SETTINGS,
                transport=httpx.MockTransport(functools.partial(_tonight, site, night)),
                resolver=_resolve,
                sleep=_no_sleep,
                clock=functools.partial(_night_time, night),
            )
        )
        state, made = apply_observation(state, obs, HEALTH, now=obs.checked_at)
        previous = Previous(
            fingerprint=state.fingerprint,
            fingerprinted_at=state.fingerprinted_at,
            outcome=obs.outcome,
            content_type=state.content_type,
            content_length=state.content_length,
            final_url=obs.final_url,
            title=state.title,
        )
    assert obs.methods == ("HEAD",)
    assert {"redirect_changed", "final_url_changed"} <= {c.kind for c in made}


# --- 3. a redirect back to the page itself ---------------------------------------------------


def test_a_cookie_check_back_to_the_page_itself_is_no_redirect() -> None:
    url = "https://county.example.org/safe-harbor"

    def site(request: httpx.Request, night: int) -> httpx.Response:
        if night in (1, 2) and "visited=1" not in request.headers.get("cookie", ""):
            headers = {"Location": "/safe-harbor", "Set-Cookie": "visited=1; Path=/"}
            return httpx.Response(302, headers=headers)
        return httpx.Response(200, html=PAGE)

    seen, changes = nights(url, site, 4)
    assert [obs.outcome for obs in seen] == [Outcome.OK] * 4
    assert kinds(changes) == [[]] * 4


def test_a_redirect_to_the_same_address_is_no_redirect_for_the_events() -> None:
    url = "https://example.org/r1"
    direct = make_observation(url=url, checked_at=days(0), chain=(Hop(url, 200),))
    back = make_observation(
        url=url, checked_at=days(1), chain=(Hop(url, 302), Hop(url, 200)), final_url=url
    )
    state, _ = apply_observation(LinkState(), direct, HEALTH, now=days(0))
    state, made = apply_observation(state, back, HEALTH, now=days(1))
    assert made == []
    state, made = apply_observation(state, replace(direct, checked_at=days(2)), HEALTH, now=days(2))
    assert made == []


def test_a_moved_link_whose_target_gets_a_fresh_session_is_no_new_move() -> None:
    """Observations stored before the session keys were known carry them: the next check's
    target, recorded without, is the same destination."""
    url = "https://example.org/r1"

    def moved(day: int, sid: str) -> Observation:
        target = f"https://example.org/new?sid={sid}&utm_source=x"
        return make_observation(
            url=url,
            outcome=Outcome.REDIRECTED_PERMANENT,
            checked_at=days(day),
            chain=(Hop(url, 301), Hop(target, 200)),
            final_url=target,
        )

    state, _ = apply_observation(LinkState(), moved(0, fresh()), HEALTH, now=days(0))
    state, made = apply_observation(state, moved(1, fresh()), HEALTH, now=days(1))
    assert made == []
