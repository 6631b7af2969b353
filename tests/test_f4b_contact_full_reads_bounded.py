"""A contact's first miss forces one full read, the next night's, not one every night.

The mark a full read leaves on a missed contact (`catalog.health.apply_contacts`) is
cleared only by a read that judges the contact: a read cut short at the byte cap, or a
page turned PDF, judges nothing, and the forced full GET (`store.targets_for_check`) came
every night, forever. Now only while the mark is younger than
`health.CONTACT_RECHECK_NIGHTS`; then the page keeps its own schedule (HEADs).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import check_night, days, make_catalog, make_resource, temporary_database

SITE = "https://hotline.example/"
HOTLINE = "1-888-373-7888"
NEW = "1-888-555-0100"
CAP = 8 * 1024
CHECK = CheckSettings(max_attempts=1, soft404_probe=False, max_body_bytes=CAP)
HEALTH = HealthSettings()
WEEKLY = 7.0


def _page(number: str | None, pad: int = 0, title: str = "National Hotline") -> str:
    call = f"<p>Call the hotline: {number}</p>" if number else "<p>Call the hotline.</p>"
    filler = "<p>" + "x" * 60 + "</p>\n"
    return (
        f"<html><head><title>{title}</title></head><body>"
        "<main><h1>National Hotline</h1><p>The hotline connects victims and survivors of "
        "trafficking with services and support, confidentially, any hour.</p>"
        + filler * pad
        + f"</main><footer>{call}</footer></body></html>"
    )


class Site:
    def __init__(self) -> None:
        self.body = _page(HOTLINE)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=self.body.encode())


def _night(engine: Engine, n: float, site: Site) -> list[str]:
    site.requests.clear()
    check_night(engine, n, CHECK, HEALTH, fingerprint_max_age_days=WEEKLY)
    return [r.method for r in site.requests]


@pytest.mark.parametrize("missed", [True, False], ids=["after-a-miss", "control-no-miss"])
def test_reads_cut_short_after_a_miss_are_full_gets_every_night(
    tmp_path: Path, respx_mock: respx.MockRouter, missed: bool
) -> None:
    site = Site()
    respx_mock.route(url=SITE).mock(side_effect=site)
    kit = make_catalog(
        "toolkit",
        [make_resource("hotline", SITE, description=f"Call {HOTLINE}, 24/7.", type="hotline")],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        assert _night(engine, 0, site) == ["GET"]
        for n in range(1, 7):
            _night(engine, n, site)
        if missed:
            site.body = _page(None)  # the weekly read (night 7) misses the number: mark
        assert _night(engine, 7, site)[-1] == "GET"
        # From night 8 the page is bigger than the cap, its number in the footer: every
        # read is cut short and judges nothing (`contacts_judged`).
        site.body = _page(NEW if missed else HOTLINE, pad=400)
        nights = {n: _night(engine, n, site) for n in range(8, 14)}
        # The one forced read the README promises (night 8), then HEADs until the weekly
        # read (night 14); it was a full GET every night.
        assert [n for n, m in nights.items() if "GET" in m] == ([8] if missed else [])


def test_a_page_turned_pdf_after_a_miss_is_downloaded_every_night(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """The hotline's address now serves a PDF (no text: `read_page` says nothing, so
    `obs.contacts` is None and the mark stays): the whole file, up to the byte cap, is
    downloaded every night instead of HEADs."""
    site = Site()
    pdf = b"%PDF-1.4\n" + b"0" * (3 * CAP)

    def serve(request: httpx.Request) -> httpx.Response:
        if site.body != "pdf":
            return site(request)
        site.requests.append(request)
        headers = {"Content-Type": "application/pdf"}
        return httpx.Response(
            200, headers=headers, content=b"" if request.method == "HEAD" else pdf
        )

    respx_mock.route(url=SITE).mock(side_effect=serve)
    kit = make_catalog("toolkit", [make_resource("hotline", SITE, description=f"Call {HOTLINE}.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 0, site)
        site.body = _page(None)
        _night(engine, 7, site)
        site.body = "pdf"
        nights = {n: _night(engine, n, site) for n in range(8, 14)}
        (state,) = store.link_states(engine)
        assert [n for n, m in nights.items() if "GET" in m] == [8], state
