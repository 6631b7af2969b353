"""An entry edited, or new to an address already read, is judged against its page at the
next check of that address.

Drift is judged against every entry of a page when the page is read, and only then. A
curator who renamed a drifted entry to the page's new title and ran `recheck --changed`
got a HEAD and the old verdict, now quoting the page's title for an entry of that very
title; with an ETag the weekly read was answered 304, so the flag stayed until the page
itself changed. A new entry on an address already read was never compared with its page.
The next check reads such a page in full, without validators, once (issue #7: the nights
after are HEADs again)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.check import check_targets
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.model import Catalog
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import (
    days,
    edit,
    make_catalog,
    make_resource,
    temporary_database,
    write_catalog,
)
from tests.local_site import Answer, handler_class
from tests.test_e2_validators_appear import CHECK, HEALTH, public

URL = "https://example.org/guide"
OTHER = "https://example.org/other"
runner = CliRunner()
#: The checker's settings for a site on 127.0.0.1 (`allow_private`, as linkhealth.toml's).
LOCAL = replace(CHECK, allow_private=True)
PAGE = "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
GUIDE = (
    "Guide to Victim Services",
    "Where survivors of human trafficking find shelter, legal help and counselling near"
    " them. Victim service providers list emergency housing, case management, medical care,"
    " immigration relief and hotlines for survivors and their families in every state.",
)
HANDBOOK = (
    "Courtroom Accommodations Handbook",
    "How courts accommodate witnesses and jurors with disabilities with sign language"
    " interpreters, wheelchair ramps, hearing loops, large print forms, service animals,"
    " breaks during testimony, remote appearance by video and scheduling that suits every"
    " party to a hearing.",
)


class Site:
    """example.org serving `version` at every path, with a strong ETag per version (its
    title's length) on HEAD and GET unless `etags` is off; a GET whose If-None-Match is
    the current ETag is answered 304."""

    def __init__(self) -> None:
        self.version = GUIDE
        self.etags = True
        #: (method, If-None-Match) of every request, in order.
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        etag = f'"v{len(self.version[0])}"'
        sent = request.headers.get("if-none-match")
        self.asked.append((request.method, sent))
        headers = {"Content-Type": "text/html", **({"ETag": etag} if self.etags else {})}
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        if self.etags and sent == etag:
            return httpx.Response(304, headers=headers)
        title, text = self.version
        return httpx.Response(200, headers=headers, content=PAGE.format(title=title, text=text))


@pytest.fixture
def site(respx_mock: respx.MockRouter) -> Iterator[Site]:
    served = Site()
    respx_mock.route(host="example.org").mock(side_effect=served)
    yield served


def night(engine: Engine, n: float, site: Site) -> list[tuple[str, str | None]]:
    """Night `n`'s check (a full read once a week), stored: the requests it sent."""
    site.asked.clear()
    targets = store.targets_for_check(engine, now=days(n), fingerprint_max_age_days=7)
    observations = asyncio.run(
        check_targets(targets, CHECK, resolver=public, clock=lambda: days(n))
    )
    store.record_observations(engine, None, observations, HEALTH, now=days(n))
    return list(site.asked)


def drift_of(engine: Engine, url: str = URL) -> str | None:
    (state,) = [s for s in store.link_states(engine) if s.url == url]
    return state.drift_reason


def kit(*resources: tuple[str, str, tuple[str, str]]) -> Catalog:
    return make_catalog(
        "toolkit",
        [
            make_resource(rid, url, title=title, description=text)
            for rid, url, (title, text) in resources
        ],
    )


def test_an_entry_renamed_to_its_pages_new_title_clears_the_drift_at_the_next_check(
    tmp_path: Path, site: Site
) -> None:
    """The page became the handbook (its ETag changed: read that night, drift). The
    curator renames the entry to the handbook: the next check reads the page without
    validators and clears the flag; the nights after are HEADs again."""
    before = kit(("edition", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2, 3):
            night(engine, n, site)
        site.version = HANDBOOK
        assert night(engine, 4, site)[-1][0] == "GET"
        assert drift_of(engine) is not None
        renamed = edit(before, "edition", title=HANDBOOK[0], description=HANDBOOK[1])
        sync_catalogs(engine, [renamed], now=days(4.5))

        assert night(engine, 4.6, site) == [("GET", None)]  # no If-None-Match: no 304
        assert drift_of(engine) is None
        assert [night(engine, n, site) for n in (5, 6)] == [[("HEAD", None)]] * 2


def test_an_edit_makes_the_weekly_read_a_full_one(tmp_path: Path, site: Site) -> None:
    """An entry edited on a night its page's fingerprint is due: the read asks for the page
    itself, not "changed since?" (a 304 would judge nothing), and the drift the edit
    answers is cleared; a week later the read is conditional again."""
    before = kit(("edition", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        night(engine, 1, site)
        site.version = HANDBOOK
        night(engine, 2, site)
        assert drift_of(engine) is not None
        renamed = edit(before, "edition", title=HANDBOOK[0], description=HANDBOOK[1])
        sync_catalogs(engine, [renamed], now=days(8.5))

        assert night(engine, 9, site) == [("GET", None)]
        assert drift_of(engine) is None
        assert night(engine, 16, site) == [("GET", '"v33"')]  # "changed since?": 304


@pytest.mark.parametrize("how", ["added", "moved"])
def test_an_entry_new_to_an_address_already_read_is_judged_against_its_page(
    tmp_path: Path, site: Site, how: str
) -> None:
    """A wrong entry added at the guide's address, or moved there from another address
    (`replace-url`), is compared with the page at the next check: drift, not "OK - HEAD
    200" until the page changes."""
    wrong = ("Courtroom Accommodations Handbook", HANDBOOK[1])
    before = kit(("guide", URL, GUIDE), *([("other", OTHER, wrong)] if how == "moved" else []))
    after = kit(("guide", URL, GUIDE), ("other", URL, wrong))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        assert drift_of(engine) is None
        sync_catalogs(engine, [after], now=days(2.5))

        assert night(engine, 3, site) == [("GET", None)]
        assert drift_of(engine) is not None
        assert night(engine, 4, site) == [("HEAD", None)]


@pytest.mark.parametrize("how", ["removed", "moved"])
def test_the_wrong_entry_gone_from_a_page_clears_the_drift_it_caused_at_the_next_check(
    tmp_path: Path, site: Site, how: str
) -> None:
    """The handbook entry wrongly linked the guide's page: drift for the page. The curator
    removes it, or points it at its own address: the next check reads the guide's page
    and judges it against the guide alone, which it matches (it showed the flag until the
    page changed: HEADs, and a weekly read answered 304)."""
    both = kit(("guide", URL, GUIDE), ("handbook", URL, HANDBOOK))
    fixed = kit(("guide", URL, GUIDE), *([("handbook", OTHER, HANDBOOK)] if how == "moved" else []))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [both], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        assert drift_of(engine) is not None
        sync_catalogs(engine, [fixed], now=days(2.5))

        asked = night(engine, 3, site)
        assert asked == [("GET", None)] * (2 if how == "moved" else 1)  # the handbook's too
        assert drift_of(engine) is None
        assert night(engine, 4, site) == [("HEAD", None)] * len(asked)


def test_an_unedited_catalog_costs_heads_between_weekly_reads(tmp_path: Path, site: Site) -> None:
    """Issue #7: without an edit, nothing changes: one read a week, conditional."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit(("guide", URL, GUIDE))], now=days(0))
        seen = [night(engine, n, site) for n in range(1, 9)]
    assert [methods for (methods, _), *_ in seen] == ["GET", *["HEAD"] * 6, "GET"]
    assert seen[-1][0][1] is not None


def test_a_page_read_after_the_edit_that_made_no_fingerprint_is_not_read_every_night(
    tmp_path: Path, site: Site
) -> None:
    """A soft 404's read leaves the page's fingerprint as it was (a site without
    validators: its HEADs show no change): the read after the edit judged what it could,
    and the nights after are HEADs, not a read each night."""
    before = kit(("guide", URL, GUIDE))
    site.etags = False
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        night(engine, 1, site)
        site.version = ("Page Not Found", "Sorry, the page you are looking for does not exist.")
        sync_catalogs(engine, [edit(before, "guide", title="Guide to Services")], now=days(1.5))

        assert night(engine, 2, site) == [("GET", None)]
        (state,) = store.link_states(engine)
        assert state.outcome == "soft_404" and state.fingerprinted_at == days(1)
        assert [night(engine, n, site) for n in (3, 4)] == [[("HEAD", None)]] * 2


@pytest.mark.flow
def test_recheck_changed_right_after_renaming_a_drifted_entry_clears_its_drift(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """The README's walkthrough: the page became the handbook (the check that saw its new
    ETag flagged drift); the curator renames the entry and runs `recheck --changed`,
    which reads the page itself and finds it matching: no drift left."""
    served = {"version": GUIDE}
    gets: list[str | None] = []

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if request.path != "/guide":
            return 404, {"Content-Type": "text/html"}, b"<title>Not Found</title>"
        title, text = served["version"]
        etag = f'"v{len(title)}"'
        headers = {"Content-Type": "text/html", "ETag": etag}
        if request.command == "GET":
            gets.append(request.headers.get("If-None-Match"))
            if request.headers.get("If-None-Match") == etag:
                return 304, headers, b""
        return 200, headers, PAGE.format(title=title, text=text).encode()

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(answer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/guide"
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml"]\n'
        "[check]\nallow_private = true\n",
        encoding="utf-8",
    )

    def entry(title: str, text: str) -> list[dict[str, str]]:
        return [{"id": "edition", "title": title, "description": text, "url": url}]

    try:
        write_catalog(isolated_cwd / "toolkit.yaml", entry(*GUIDE))
        # The nights before, as the run makes them (a CLI run takes seconds).
        engine = open_engine("sqlite:///var/lh.db")
        try:
            sync_catalogs(engine, load_catalogs(["toolkit.yaml"]), now=utcnow())
            for _ in range(2):
                targets = store.targets_for_check(engine, now=utcnow(), fingerprint_max_age_days=7)
                observations = asyncio.run(check_targets(targets, LOCAL))
                store.record_observations(engine, None, observations, HEALTH, now=utcnow())
                served["version"] = HANDBOOK
            (state,) = store.link_states(engine)
            assert state.drift_reason is not None
        finally:
            engine.dispose()
        write_catalog(isolated_cwd / "toolkit.yaml", entry(*HANDBOOK))
        gets.clear()
        result = runner.invoke(app, ["recheck", "--changed", "--no-report"])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert gets == [None]
    assert linked_drift(isolated_cwd) is None
    assert "no longer matches" not in result.output


def linked_drift(folder: Path) -> str | None:
    engine = open_engine(f"sqlite:///{folder / 'var' / 'lh.db'}")
    try:
        (state,) = store.link_states(engine)
    finally:
        engine.dispose()
    return state.drift_reason
