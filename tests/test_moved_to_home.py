"""A retired page sent to the site's home page, its search or an error page, by any means
(a 301 or 302, a slow refresh under a "moved" notice, a script), is a missing page over
real sockets, and `accept-redirect` never writes such a page into the catalog.

A site on 127.0.0.1 (`tests.local_site.handler_class`) answers each path as `SITE` says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import decisions, store
from catalog.check import check_targets
from catalog.errors import LinkhealthError
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from catalog.urls import host_of
from flows.cli import app
from tests.factories import (
    T0,
    Ticker,
    database_url,
    days,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)
from tests.local_site import Answer, serving

FAST = replace(
    CheckSettings(),
    allow_private=True,
    total_timeout=3.0,
    read_timeout=2.0,
    connect_timeout=1.0,
    backoff_initial=0.01,
    backoff_max=0.05,
    per_host_rate=200.0,
)
HTML = {"Content-Type": "text/html; charset=utf-8"}
HOME = (
    b"<html><head><title>Office for Victims of Crime | Home</title></head><body><h1>Welcome"
    b"</h1><p>Latest news, funding opportunities, events, grants, training and our directory."
    b"</p></body></html>"
)
REPORT = (
    b"<html><head><title>Annual Report 2019</title></head><body><h1>Annual Report 2019</h1>"
    b"<p>Findings on victim services for human trafficking survivors.</p></body></html>"
)
OLD = "/reports/2019/annual-report"


def moved(status: int, location: str) -> Answer:
    return status, {"Location": location}, b""


def page(markup: str) -> Answer:
    return 200, HTML, markup.encode()


SITE: dict[str, Answer] = {
    "/": (200, HTML, HOME),
    "/Pages/default.aspx": (200, HTML, HOME),
    "/search": (200, HTML, HOME.replace(b"Home", b"Search")),
    "/reports/2019/final": (200, HTML, REPORT),
    f"{OLD}/utm": moved(301, "/?utm_source=old-site"),
    f"{OLD}/utm-302": moved(302, "/?utm_source=old-site"),
    f"{OLD}/lang": moved(301, "/?lang=en"),
    f"{OLD}/sharepoint": moved(301, "/Pages/default.aspx"),
    f"{OLD}/search": moved(301, "/search?q=annual+report"),
    f"{OLD}/moved-on": moved(301, "/reports/2019/final?format=html"),
    f"{OLD}/slow-refresh": page(
        '<title>Page Moved</title><meta http-equiv="refresh" content="10; url=/"><p>This page '
        "has moved. You will be redirected to our home page in 10 seconds.</p>"
    ),
    f"{OLD}/script": page(
        '<title>Redirecting...</title><script>window.location.replace("/");</script>'
    ),
    f"{OLD}/script-later": page(
        '<title>Page moved</title><script>setTimeout(function(){window.location.href="/"}, '
        "3000)</script><p>This resource has moved. Redirecting you to the home page.</p>"
    ),
    # r5: a hotline page's "Quick Exit" button (to Google on a click, and it says so), a tip
    # form whose 20-minute session timeout returns to the home page (and says so)
    "/get-help": page(
        "<title>National Human Trafficking Hotline | Get Help</title><script>function "
        'quickExit(){ window.location.replace("https://www.google.com"); }</script><p>Safety '
        "alert: computer use can be monitored. Click Quick Exit at any time and you will be "
        'redirected to Google. <button onclick="quickExit()">Quick Exit</button></p><h1>Get '
        "help</h1><p>The Hotline connects victims and survivors of sex and labor trafficking "
        "with services and supports to get help and stay safe. Call 1-888-373-7888, text "
        "233733, or chat live. It is confidential, available 24 hours a day, 7 days a week, "
        "in more than 200 languages.</p>"
    ),
    "/tips/submit": page(
        '<title>Submit a Tip</title><meta http-equiv="refresh" content="1200;url=/"><h1>Submit '
        "a tip</h1><p>For your security, this form times out after 20 minutes of inactivity "
        "and you will be redirected to the home page; anything you typed is discarded.</p>"
        "<form><label>What did you see?</label><textarea></textarea><p>Tips are reviewed by "
        "trained staff and may be shared with law enforcement. You may submit anonymously. "
        "If someone is in immediate danger, call 911.</p></form>"
    ),
    f"{OLD}/analytics": page(
        "<title>Annual Report 2019</title><h1>Annual Report 2019</h1><p>Findings on victim "
        "services.</p><script>gtag('config', 'G-1', {page_location: window.location.href});"
        "function goHome() { window.location.href = '/'; }</script>"
    ),
}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if request.path == "/":  # the home page picks the visitor's language
            return moved(301, "/?lang=en")
        return SITE.get(request.path.split("?")[0], (404, HTML, b"<title>Not Found</title>"))

    with serving(answer) as base:
        yield base


def check(url: str) -> Observation:
    target = Target(url=url, host=host_of(url), resource_ids=("annual-report",))
    (observation,) = asyncio.run(check_targets([target], FAST))
    return observation


@pytest.mark.parametrize("path", ["utm", "utm-302", "lang", "sharepoint", "search"])
def test_a_report_sent_to_the_home_page_or_the_search_is_missing_not_moved(
    site: str, path: str
) -> None:
    """Each was "moved permanently: switch to the new address" (a 302 plain "OK")."""
    observation = check(f"{site}{OLD}/{path}")
    assert observation.outcome is Outcome.SOFT_404, observation.reason
    assert observation.suggested_url is None


def test_a_report_moved_to_another_page_with_a_query_is_still_moved(site: str) -> None:
    observation = check(f"{site}{OLD}/moved-on")
    assert observation.outcome is Outcome.REDIRECTED_PERMANENT
    assert observation.suggested_url == f"{site}/reports/2019/final?format=html"


def test_the_home_page_sent_to_its_language_is_not_missing(site: str) -> None:
    observation = check(f"{site}/")
    assert observation.final_url == f"{site}/?lang=en"
    assert observation.outcome is not Outcome.SOFT_404


@pytest.mark.parametrize("path", ["slow-refresh", "script", "script-later"])
def test_a_moved_notice_that_forwards_to_the_home_page_is_missing(site: str, path: str) -> None:
    observation = check(f"{site}{OLD}/{path}")
    assert observation.outcome is Outcome.SOFT_404, observation.reason
    assert "home page" in observation.reason


def test_a_page_whose_analytics_read_the_location_is_ok(site: str) -> None:
    observation = check(f"{site}{OLD}/analytics")
    assert observation.outcome is Outcome.OK, observation.reason
    assert observation.reason == "GET 200"


@pytest.mark.parametrize("path", ["/get-help", "/tips/submit"])
def test_a_page_that_tells_where_a_button_or_a_timeout_sends_visitors_is_ok(
    site: str, path: str
) -> None:
    """Both were soft 404s (r5): the hotline's "Quick Exit" read as the page forwarding its
    visitors to Google's home page, the form's session timeout as a move to the home page."""
    observation = check(f"{site}{path}")
    assert observation.outcome is Outcome.OK, observation.reason
    assert observation.reason == "GET 200"


# --- a link to the home page on a site that answers every address with it ------------

#: An organisation's home page, which a catch-all site (a CMS's, a static host's fallback)
#: also sends for every address it has no page for.
ORG_HOME = (
    b"<!doctype html><html><head><title>Polaris - Ending Human Trafficking</title></head>"
    b"<body><h1>Together we can end trafficking</h1><p>"
    + b"Polaris operates the hotline and works with survivors across the country. " * 10
    + b"</p></body></html>"
)


def _catch_all(request: BaseHTTPRequestHandler) -> Answer:
    return 200, HTML, ORG_HOME


def _unknown_sent_home(request: BaseHTTPRequestHandler) -> Answer:
    """Every address the site has no page for goes (302) to its home page, "/en/"."""
    return (200, HTML, ORG_HOME) if request.path == "/en/" else moved(302, "/en/")


@pytest.mark.parametrize(
    "path", ["/", "/en/", "/en-US", "/index.php", "/Pages/default.aspx", "/?lang=en"]
)
def test_a_home_page_link_on_a_catch_all_site_is_ok(path: str) -> None:
    """The README's home page (a language root, a home document, a language query) was a
    soft 404 there, night after night: the probe reads the home page too. Only "/" was spared."""
    with serving(_catch_all) as base:
        observation = check(base + path)
    assert observation.outcome is Outcome.OK, observation.reason


def test_a_language_root_on_a_site_sending_unknown_addresses_home_is_ok() -> None:
    """The probe ended on "/en/", the very page the link is: "100% alike", a soft 404."""
    with serving(_unknown_sent_home) as base:
        observation = check(base + "/en/")
    assert observation.outcome is Outcome.OK, observation.reason


def _spanish_dropped(request: BaseHTTPRequestHandler) -> Answer:
    """The site dropped its Spanish pages: "/es/" answers 200 with its not-found page."""
    if request.path == "/es/":
        gone = b"<html><head><title>P\xc3\xa1gina no encontrada</title></head><body>"
        return 200, HTML, gone + b"<h1>P\xc3\xa1gina no encontrada</h1></body></html>"
    return 200, HTML, ORG_HOME


def test_a_language_root_whose_page_says_not_found_is_still_missing() -> None:
    """A home page is probed for nothing, but its own words still count: only the site's
    root is never a soft 404."""
    with serving(_spanish_dropped) as base:
        observation = check(base + "/es/")
    assert observation.outcome is Outcome.SOFT_404, observation.reason


@pytest.mark.parametrize("site", [_catch_all, _unknown_sent_home], ids=["200", "302"])
def test_a_deep_link_on_those_sites_is_still_missing(
    site: Callable[[BaseHTTPRequestHandler], Answer],
) -> None:
    with serving(site) as base:
        observation = check(base + OLD)
    assert observation.outcome is Outcome.SOFT_404, observation.reason


# --- accept-redirect -------------------------------------------------------------------


REPORT_URL = "https://example.org/reports/2019/annual-report"


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "annual", "title": "Annual Report", "url": REPORT_URL}]
    )


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        yield engine


def moved_before_the_fix(engine: Engine, target: str) -> None:
    """What a check before this rule stored: a "move" to the home page, offered to accept."""
    observation = make_observation(
        REPORT_URL, Outcome.REDIRECTED_PERMANENT, days(1), final_url=target, suggested_url=target
    )
    store.record_observations(engine, None, [observation], HealthSettings(), now=days(1))


@pytest.mark.parametrize(
    "target",
    [
        "https://example.org/?utm_source=old-site",
        "https://example.org/",
        "https://example.org/Pages/default.aspx",
        "https://example.org/search?q=annual+report",
        "https://example.org/errors/404.html",
    ],
)
def test_accept_redirect_refuses_to_link_the_home_page(
    engine: Engine, catalog_file: Path, target: str
) -> None:
    moved_before_the_fix(engine, target)
    settings = settings_for(engine, [catalog_file])
    before = catalog_file.read_text()
    for dry_run in (True, False):
        with pytest.raises(LinkhealthError) as refused:
            decisions.accept_redirect(settings, "annual", dry_run=dry_run, clock=Ticker(days(2)))
        assert target in str(refused.value) and "replace-url" in str(refused.value)
    assert catalog_file.read_text() == before
    assert store.resource_history(engine, "annual").decisions == ()


@pytest.mark.parametrize(
    "target",
    ["https://example.org/?utm_source=old-site", "https://example.org/errors/404.html"],
)
def test_the_report_of_a_stored_move_to_the_home_page_offers_no_accept_redirect(
    engine: Engine, target: str
) -> None:
    """The row said "Switch to the new address" with the `accept-redirect` that refuses."""
    from catalog.queries import report_data
    from reports import build_context

    moved_before_the_fix(engine, target)
    ctx = build_context(report_data(engine), now=days(2))
    (row,) = [r for r in ctx.rows if r.resource_id == "annual"]
    assert row.fix and row.fix.startswith("It has not moved") and target in row.fix
    assert row.command == "linkhealth replace-url annual NEW_URL"
    assert row.suggested_url is None


def test_accept_redirect_of_a_home_page_target_exits_1_with_the_reason_on_stderr(
    engine: Engine, catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # nothing answers: no announcement
    moved_before_the_fix(engine, "https://example.org/?utm_source=old-site")
    db = database_url(engine)
    result = CliRunner().invoke(
        app, ["accept-redirect", "annual", "--db", db, "--catalog", str(catalog_file)]
    )
    assert result.exit_code == 1
    assert "home page" in result.stderr and "replace-url annual NEW-URL" in result.stderr
    assert result.stdout == ""
    assert "utm_source" not in catalog_file.read_text()


@pytest.mark.parametrize(
    "target",
    ["https://example.org/?q=annual-2019", "https://example.org/index.php?q=annual-2019"],
)
def test_accept_redirect_links_a_page_named_by_the_home_address_query(
    engine: Engine, catalog_file: Path, target: str
) -> None:
    """Drupal without clean URLs names its pages "/?q=<path>": accepting was refused as
    "redirected to the site's search" (r5)."""
    moved_before_the_fix(engine, target)
    settings = settings_for(engine, [catalog_file])
    decisions.accept_redirect(settings, "annual", clock=Ticker(days(2)))
    assert f"url: {target}" in catalog_file.read_text()
    assert store.find_resource(engine, "annual").url == target
