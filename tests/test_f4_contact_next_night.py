"""A hotline's number changed on its page: the read that misses it makes the next night's
check read the page in full, so the finding comes the next night, not a week later.

A contact is gone only when two full reads on different nights in a row miss it
(`catalog.health.apply_contacts`); a page is read in full once a week, so the second read
came with the next weekly one. The first miss now marks the link due for a full read
(`store.targets_for_check`), without validators: a 304 judges nothing.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.health import LinkState
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import check_night, days, make_catalog, make_resource, temporary_database

SITE = "https://hotline.example/"
HOTLINE = "1-888-373-7888"
NEW = "1-888-555-0100"
KEY = "tel:8883737888"
CHECK = CheckSettings(max_attempts=1, soft404_probe=False)
HEALTH = HealthSettings()
WEEKLY = 7.0  # `fingerprint_max_age_days`: a page is read in full once a week


def _page(number: str) -> str:
    return (
        "<html><head><title>National Hotline</title></head><body>"
        f'<header role="banner"><p>Call the hotline: {number}</p></header>'
        "<main><h1>National Hotline</h1><p>The hotline connects victims and survivors of "
        "trafficking with services and support, confidentially, any hour.</p></main>"
        "</body></html>"
    )


class Site:
    """The hotline's page; its ETag (when it has one) follows the number it shows."""

    def __init__(self, etag: bool) -> None:
        self.etag = etag
        self.number = HOTLINE
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"ETag": f'"{self.number}"'} if self.etag else {}
        if self.etag and request.headers.get("If-None-Match") == headers["ETag"]:
            return httpx.Response(304, headers=headers)
        body = _page(self.number).encode()
        headers["Content-Type"] = "text/html; charset=utf-8"
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=body)


def _night(engine: Engine, n: float, site: Site) -> list[str]:
    """The nightly check of night `n`; the methods it sent."""
    site.requests.clear()
    check_night(engine, n, CHECK, HEALTH, fingerprint_max_age_days=WEEKLY)
    return [r.method for r in site.requests]


def _state(engine: Engine) -> LinkState:
    (state,) = store.link_states(engine)
    return state


@pytest.mark.parametrize("etag", [False, True], ids=["no-validators", "etag"])
def test_a_number_missed_by_the_weekly_read_is_confirmed_the_next_night(
    tmp_path: Path, respx_mock: respx.MockRouter, etag: bool
) -> None:
    site = Site(etag)
    respx_mock.route(url=SITE).mock(side_effect=site)
    kit = make_catalog(
        "toolkit",
        [
            make_resource(
                "hotline",
                SITE,
                title="National Human Trafficking Hotline",
                description=f"Call {HOTLINE}, confidential, 24/7.",
                type="hotline",
            )
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        assert _night(engine, 0, site) == ["GET"]  # the first check reads it
        assert _night(engine, 1, site) == ["HEAD"]
        site.number = NEW
        # Without validators the HEADs learn nothing of the page's text: the weekly read
        # misses the number. With an ETag, the HEAD of that night sees it changed.
        missed = 7 if not etag else 2
        for n in range(2, missed):
            assert "GET" not in _night(engine, n, site)
        assert _night(engine, missed, site)[-1] == "GET"
        assert _state(engine).contacts_gone == ()

        # The next night reads it in full again, validators left out: a 304 judges nothing.
        (target,) = store.targets_for_check(
            engine, now=days(missed + 1), fingerprint_max_age_days=WEEKLY
        )
        assert target.fingerprint_due
        assert target.previous is not None and target.previous.etag is None
        assert _night(engine, missed + 1, site) == ["GET"]
        assert "If-None-Match" not in site.requests[0].headers
        state = _state(engine)
        assert state.contacts_gone == (KEY,)
        assert state.contact_reason is not None and NEW in state.contact_reason

        # Once gone, the nights are HEADs again: "back" waits for a read of the page.
        assert _night(engine, missed + 2, site) == ["HEAD"]


def test_a_miss_the_same_day_is_read_again_the_next_night_too(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """A curator's recheck hours after the miss is no second night: the mark stays, and
    the next night's check reads the page in full and confirms."""
    site = Site(etag=False)
    respx_mock.route(url=SITE).mock(side_effect=site)
    kit = make_catalog("toolkit", [make_resource("hotline", SITE, description=f"Call {HOTLINE}.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 0, site)
        site.number = NEW
        assert _night(engine, 7, site) == ["GET"]
        assert _night(engine, 7.3, site) == ["GET"]
        assert _state(engine).contacts_gone == ()
        assert _night(engine, 8, site) == ["GET"]
        assert _state(engine).contacts_gone == (KEY,)


def test_a_number_back_on_the_next_read_ends_the_full_reads(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """A banner without the number for a night: the next night's full read shows it, no
    news, and the nights after are HEADs again."""
    site = Site(etag=False)
    respx_mock.route(url=SITE).mock(side_effect=site)
    kit = make_catalog("toolkit", [make_resource("hotline", SITE, description=f"Call {HOTLINE}.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 0, site)
        site.number = NEW
        assert _night(engine, 7, site) == ["GET"]
        site.number = HOTLINE
        assert _night(engine, 8, site) == ["GET"]
        assert (_state(engine).contacts_seen, _state(engine).contacts_gone) == ((KEY,), ())
        assert _night(engine, 9, site) == ["HEAD"]


def test_links_naming_no_contact_keep_their_heads(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    site = Site(etag=False)
    respx_mock.route(url=SITE).mock(side_effect=site)
    kit = make_catalog("toolkit", [make_resource("about", SITE, description="About the hotline.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 0, site)
        site.number = NEW
        assert _night(engine, 7, site) == ["GET"]
        assert _night(engine, 8, site) == ["HEAD"]
