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
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
from catalog.urls import host_of

NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0)
HEALTH = HealthSettings()
PAGE = (
    "<html><head><title>Model Protocol for Multidisciplinary Response</title></head><body>"
    "<h1>Model Protocol for Multidisciplinary Response</h1><p>Roles of law enforcement, "
    "prosecutors, child welfare and victim advocates; information sharing and case review.</p>"
    "</body></html>"
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
