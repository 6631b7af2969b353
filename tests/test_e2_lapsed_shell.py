"""A lapsed domain parked behind a page of scripts alone: its title the bare domain, no
visible text. It passed as "OK" ("could not be verified" at most) night after night and
never entered the queue. Now a page that had a title of its own and turns into such a
shell is filed under "Check by hand", each night it stays one; a script-built site whose
page always was a shell, and any page with text, stay as they were."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.check import check_targets
from catalog.check.classify import classify
from catalog.check.content import analyse_body
from catalog.check.facts import Answer, CheckFacts, Exchange, Probe
from catalog.check.soft404 import LAPSED_SHELL, lapsed_shell
from catalog.model import Hop, Previous
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Priority, ReportContext
from reports.render import render_markdown
from tests.factories import days, make_catalog, make_resource, temporary_database

HOST = "parked-js.test"
URL = f"https://{HOST}/guide"
GUIDE = (
    "<html><head><title>Guide to Victim Services | Survivor Network</title></head><body>"
    "<h1>Guide to Victim Services</h1><p>Where survivors of trafficking find shelter, legal "
    "help and counselling, region by region, with the hours and languages of each.</p>"
    "</body></html>"
)
#: The parking service's page: its ads are drawn by script, nothing shows without it.
PARKED = (
    f"<html><head><title>{HOST}</title><script src='/js/park.js'></script></head>"
    "<body><script>window.park({caf: 1, domain: location.host});</script></body></html>"
)
#: The same with the element the script renders into, as app shells have it.
PARKED_MOUNT = (
    f"<html><head><title>{HOST}</title></head><body><div id='root'></div>"
    "<script src='/js/park.js'></script></body></html>"
)
#: A single-page app: its own title, an empty element to render into, the same for every path.
APP = (
    "<html><head><title>Survivor Network</title></head><body><div id='app'></div>"
    "<script src='/app.js'></script></body></html>"
)
CHECK = CheckSettings(max_attempts=1)  # the soft-404 probe on, as every night
HEALTH = HealthSettings()


def read(body: str) -> Previous:
    """What a read of `body` left for the next check."""
    page = analyse_body(body.encode(), "text/html", truncated=False)
    return Previous(title=page.title, fingerprint=page.fingerprint, outcome=Outcome.OK)


def facts(body: str, before: Previous | None, *, url: str = URL) -> CheckFacts:
    page = analyse_body(body.encode(), "text/html", truncated=False)
    headers = httpx.Headers({"content-type": "text/html"})
    answer = Answer(url, 200, headers, body.encode())
    probe = Probe(f"https://{HOST}/linkhealth-probe-x", 200, page)  # the same for any path
    exchange = Exchange("GET", chain=(Hop(url, 200),), answer=answer)
    return CheckFacts(url=url, exchanges=(exchange,), page=page, probe=probe, previous=before)


UNTITLED_GUIDE = GUIDE.replace("Guide to Victim Services | Survivor Network", "")


@pytest.mark.parametrize("body", [PARKED, PARKED_MOUNT, PARKED.upper()])
@pytest.mark.parametrize("before", [GUIDE, UNTITLED_GUIDE], ids=["titled", "untitled"])
def test_a_page_that_showed_text_and_now_shows_only_scripts_says_so(body: str, before: str) -> None:
    verdict = classify(facts(body, read(before)))
    assert verdict.outcome is Outcome.OK  # it answers; only a person can tell what it shows
    assert LAPSED_SHELL in verdict.reason
    assert "could not be verified" not in verdict.reason


@pytest.mark.parametrize(
    ("body", "before"),
    [
        pytest.param(PARKED, read(PARKED), id="always-parked"),
        pytest.param(PARKED, read(APP), id="an-app-shell-before"),
        pytest.param(PARKED, None, id="first-read"),
        pytest.param(PARKED, Previous(title="Guide", fingerprint="v1:abc"), id="legacy-read"),
        pytest.param(APP, read(GUIDE), id="a-title-of-its-own"),
        pytest.param(APP.replace("Survivor Network", ""), read(APP), id="app-now-untitled"),
        # No title names no domain: a site rebuilt as a client-side app, a bot check (e4).
        pytest.param(PARKED.replace(HOST, ""), read(GUIDE), id="untitled"),
        pytest.param(UNTITLED_GUIDE, read(GUIDE), id="text"),
        pytest.param(
            f"<html><head><title>{HOST}</title></head><body></body></html>",
            read(GUIDE),
            id="no-scripts",
        ),
    ],
)
def test_shells_that_always_were_and_pages_with_text_are_not_said_to_have_lapsed(
    body: str, before: Previous | None
) -> None:
    verdict = classify(facts(body, before))
    assert LAPSED_SHELL not in verdict.reason


def test_a_title_naming_another_host_is_a_title_of_its_own() -> None:
    other = PARKED.replace(HOST, "parking.example")
    page = analyse_body(other.encode(), "text/html", truncated=False)
    assert lapsed_shell(page, other.encode(), read(GUIDE), URL) is None
    assert lapsed_shell(page, other.encode(), read(GUIDE), URL, "https://parking.example/x")


# --- over the nights, through the store and the report -------------------------------------


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


Site = Callable[[httpx.Request], httpx.Response]


def chunked(body: str) -> httpx.Response:
    """A dynamic page as most are sent: chunked (no length), no ETag, no Last-Modified."""

    async def stream() -> AsyncIterator[bytes]:
        yield body.encode()

    return httpx.Response(200, headers={"Content-Type": "text/html"}, content=stream())


def serving(body: str, headers: dict[str, str] | None = None, *, anywhere: bool = True) -> Site:
    """A site answering `body` (at every address, or at the link's alone: 404 elsewhere);
    HEAD with `headers` and no length."""

    def answer(request: httpx.Request) -> httpx.Response:
        if not anywhere and str(request.url) != URL:
            return httpx.Response(404, headers={"Content-Type": "text/html"}, html="Not found")
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Type": "text/html", **(headers or {})})
        if headers:
            return httpx.Response(200, headers=headers, html=body)
        return chunked(body)

    return answer


def night(engine: Engine, n: int, site: Site, respx_mock: respx.MockRouter) -> ReportContext:
    """Night `n`: checked as the run does (a full read once a week), stored and reported."""
    respx_mock.routes.clear()
    respx_mock.route(host=HOST).mock(side_effect=site)
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    targets = store.targets_for_check(engine, now=days(n), fingerprint_max_age_days=7)
    observations = asyncio.run(
        check_targets(targets, CHECK, resolver=public, clock=lambda: days(n))
    )
    store.record_observations(engine, run_id, observations, HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return build_context(report_data(engine), now=days(n + 0.01))


def queued(ctx: ReportContext) -> list[tuple[str, Priority | None, str | None]]:
    return [(r.resource_id, r.priority, r.seen) for r in ctx.resources if r.priority is not None]


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


@pytest.mark.parametrize(
    ("parked", "takeover", "found"),
    [
        # The new owner sends no validators either: the weekly read finds it.
        pytest.param(serving(PARKED), 4, 8, id="found-by-the-weekly-read"),
        # It sends an ETag: the HEAD of the next night sends the read (`fetch.changed_since`).
        pytest.param(serving(PARKED_MOUNT, {"ETag": '"p1"'}), 4, 4, id="found-by-its-etag"),
    ],
)
def test_a_lapsed_domain_parked_behind_scripts_is_queued_to_check_by_hand_while_it_lasts(
    tmp_path: Path, respx_mock: respx.MockRouter, parked: Site, takeover: int, found: int
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in range(1, takeover):
            assert queued(night(engine, n, serving(GUIDE, anywhere=False), respx_mock)) == []
        for n in range(takeover, found):
            assert queued(night(engine, n, parked, respx_mock)) == []  # HEAD says nothing
        for n in range(found, found + 3):
            ctx = night(engine, n, parked, respx_mock)
            ((rid, priority, seen),) = queued(ctx)
            assert (rid, priority) == ("guide", Priority.LOOK)
            assert seen is not None and LAPSED_SHELL in seen
            (row,) = ctx.resources
            assert row.outcome == Outcome.OK.value
            assert row.fix is not None and "parked" in row.fix and row.command
            assert "nothing to do" not in (row.next_step or "").lower()
            markdown = render_markdown(ctx)
            assert "Check by hand" in markdown and "only scripts" in markdown
        # The resource is back (the domain renewed): out of the queue again.
        assert queued(night(engine, found + 3, serving(GUIDE, anywhere=False), respx_mock)) == []


@pytest.mark.parametrize(
    "app",
    [APP, PARKED, APP.replace("Survivor Network", "")],
    ids=["own-title", "titled-by-its-domain", "untitled"],
)
def test_a_script_built_site_that_always_was_a_shell_stays_out_of_the_queue(
    tmp_path: Path, respx_mock: respx.MockRouter, app: str
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in range(1, 17):
            ctx = night(engine, n, serving(app), respx_mock)
            assert queued(ctx) == []
            (row,) = ctx.resources
            assert row.outcome == Outcome.OK.value
