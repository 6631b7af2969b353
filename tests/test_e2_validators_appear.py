"""Validators that appear on a page whose read had none: a new owner's server.

A site that sent no ETag, no Last-Modified and no length gives the nightly HEAD nothing to
compare; its page is read weekly. When its HEAD begins to carry validators (a takeover's
new server), the page is read that night, once; a site whose validators are steady costs
no GET more than before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.check import check_targets
from catalog.model import Observation, Previous, Target
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from catalog.urls import host_of
from tests.factories import days, make_catalog, make_resource, temporary_database

URL = "https://example.org/guide"
PAGE = (
    "<html><head><title>Guide to Victim Services</title></head><body><h1>Guide</h1>"
    "<p>Where survivors of trafficking find shelter, legal help and counselling.</p>"
    "</body></html>"
)
CHECK = replace(CheckSettings(), max_attempts=1, soft404_probe=False, per_host_rate=1000.0)
HEALTH = HealthSettings()
#: The answer's own Date, a day after the Last-Modified below.
SAID_AT = {"Date": "Wed, 01 May 2024 12:00:00 GMT"}
#: What a weekly read of a page sent chunked, with no validator, left.
READ_BLIND = Previous(
    fingerprint="sha256:abc",
    title="Guide to Victim Services",
    content_type="text/html; charset=utf-8",
)


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def check(previous: Previous) -> Observation:
    target = Target(url=URL, host=host_of(URL), previous=previous, fingerprint_due=False)
    (observation,) = asyncio.run(check_targets([target], CHECK, resolver=public))
    return observation


@respx.mock
@pytest.mark.parametrize(
    ("previous", "head_headers", "fetched"),
    [
        pytest.param(READ_BLIND, {"ETag": '"p1"'}, True, id="an-etag-appears"),
        pytest.param(READ_BLIND, {"ETag": 'W/"p1"'}, True, id="a-weak-etag-appears"),
        pytest.param(
            READ_BLIND,
            {"ETag": '"p1"', "Content-Length": "2048"},
            True,
            id="an-etag-and-a-length-appear",
        ),
        pytest.param(
            READ_BLIND,
            {"Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT", **SAID_AT},
            True,
            id="a-last-modified-appears",
        ),
        pytest.param(
            READ_BLIND,
            {"Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT"},
            True,
            id="a-last-modified-without-date",
        ),
        # Dynamic pages stamp every answer with the time: that is no validator.
        pytest.param(
            READ_BLIND, {"Last-Modified": SAID_AT["Date"], **SAID_AT}, False, id="modified-now"
        ),
        pytest.param(READ_BLIND, {}, False, id="still-none"),
        # A length is no validator: the first HEAD after a chunked read gives most sites'.
        pytest.param(READ_BLIND, {"Content-Length": "2048"}, False, id="a-length-alone"),
        # Read once already after a HEAD: a server that sends its validators on HEAD alone
        # is not read every night.
        pytest.param(
            replace(READ_BLIND, read_after_head=True), {"ETag": '"p1"'}, False, id="read-once"
        ),
        # The read had its own: they speak (same ETag), as before.
        pytest.param(replace(READ_BLIND, etag='"p1"'), {"ETag": '"p1"'}, False, id="steady"),
        pytest.param(
            replace(READ_BLIND, last_modified="Tue, 30 Apr 2024 10:00:00 GMT"),
            {"Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT", "ETag": '"p1"', **SAID_AT},
            False,
            id="the-read-had-a-last-modified",
        ),
        # A stored length compares by the length rules (`test_fetch`'s "an-etag-now").
        pytest.param(
            replace(READ_BLIND, content_length=2048),
            {"ETag": '"p1"', "Content-Length": "2048"},
            False,
            id="the-read-had-a-length",
        ),
    ],
)
def test_validators_that_appear_where_the_read_had_none_send_the_read(
    previous: Previous, head_headers: dict[str, str], fetched: bool
) -> None:
    respx.head(URL).respond(200, headers={"Content-Type": "text/html", **head_headers})
    get = respx.get(URL).respond(200, html=PAGE)
    observation = check(previous)
    assert observation.methods == (("HEAD", "GET") if fetched else ("HEAD",))
    assert get.called is fetched


# --- over the nights -----------------------------------------------------------------------

Site = Callable[[httpx.Request], httpx.Response]


def site(head: dict[str, str], get: dict[str, str] | None) -> Site:
    """HEAD answered with `head`; GET with `get` and a length, or chunked with no header
    but its type when `get` is None."""

    async def stream() -> AsyncIterator[bytes]:
        yield PAGE.encode()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Type": "text/html", **head})
        if get is None:
            return httpx.Response(200, headers={"Content-Type": "text/html"}, content=stream())
        return httpx.Response(200, headers=get, html=PAGE)

    return answer


def night(engine: Engine, n: int, answer: Site, respx_mock: respx.MockRouter) -> tuple[str, ...]:
    """Night `n`'s check as the run makes it (a full read once a week): its methods."""
    respx_mock.routes.clear()
    respx_mock.route(host="example.org").mock(side_effect=answer)
    targets = store.targets_for_check(engine, now=days(n), fingerprint_max_age_days=7)
    (observation,) = asyncio.run(
        check_targets(targets, CHECK, resolver=public, clock=lambda: days(n))
    )
    store.record_observations(engine, None, [observation], HEALTH, now=days(n))
    return observation.methods


KIT = make_catalog("toolkit", [make_resource("guide", URL, title="Guide to Victim Services")])
BLIND = site({}, None)


def test_a_new_servers_validators_send_the_read_the_next_night_then_compare(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """Nights 1-3 the old site (chunked, nothing to compare); from night 4 a new server
    sends ETags: read that night, then its HEADs compare with the read's ETag, and one that
    changes is read at once (it waited for the weekly read on night 8)."""
    new = site({"ETag": '"p1"', "Content-Length": "900"}, {"ETag": '"p1"'})
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, BLIND, respx_mock) for n in (1, 2, 3)]
        assert seen == [("GET",), ("HEAD",), ("HEAD",)]
        assert night(engine, 4, new, respx_mock) == ("HEAD", "GET")
        assert night(engine, 5, new, respx_mock) == ("HEAD",)  # steady: no GET more
        changed = site({"ETag": '"p2"', "Content-Length": "900"}, {"ETag": '"p2"'})
        assert night(engine, 6, changed, respx_mock) == ("HEAD", "GET")


def test_validators_on_head_alone_cost_one_read_not_one_a_night(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """A server that sends an ETag to HEAD but none to its chunked GET: read once when the
    ETag appears, then HEAD alone until the weekly read."""
    odd = site({"ETag": '"p1"'}, None)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        assert night(engine, 1, BLIND, respx_mock) == ("GET",)
        seen = [night(engine, n, odd, respx_mock) for n in range(2, 8)]
        assert seen == [("HEAD", "GET"), *[("HEAD",)] * 5]


def test_a_site_with_steady_validators_is_read_weekly_as_before(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    steady = site({"ETag": '"p1"', "Content-Length": "900"}, {"ETag": '"p1"'})
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, steady, respx_mock) for n in range(1, 9)]
        assert seen == [("GET",), *[("HEAD",)] * 6, ("GET",)]
