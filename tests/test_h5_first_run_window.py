"""What a report's "Since the last run" says its window is, when no run came before it.

A recheck after the first night keeps that night's news (`queries.report_data`): its
window runs from the first run's start to the recheck's end. "During the first run" then
credited the first run with the catalog edits a curator made after it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context, render_html, render_json, render_markdown
from reports.context import ReportContext
from tests.factories import (
    days,
    edit,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

URLS = [f"https://host{n}.example/page" for n in range(3)]
CATALOG = make_catalog(resources=[make_resource(f"r{n}", url) for n, url in enumerate(URLS)])
NEW_URL = "https://moved.example/page"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [CATALOG], now=days(0))
        yield engine


def run(engine: Engine, at: datetime, urls: list[str], *, whole: bool) -> int:
    """A night (holding the full-run lease) or a recheck of `urls` only, all OK."""
    summary = {"holder": "box:1", **({"lease": "full-run"} if whole else {})}
    run_id = store.start_run(
        engine, trigger="schedule" if whole else "manual", now=at, summary=summary
    )
    observations = [make_observation(u, Outcome.OK, at) for u in urls]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    return run_id


def context(engine: Engine, run_id: int | None = None) -> ReportContext:
    return build_context(report_data(engine, run_id=run_id), now=days(3))


def opening(ctx: ReportContext) -> tuple[str, str]:
    """The sentence before the news, in Markdown and in HTML."""
    md = next(
        line for line in render_markdown(ctx).splitlines() if line.startswith(("Since", "During"))
    )
    html = render_html(ctx).split('<h2 id="changes-heading">Since the last run</h2>\n')[1]
    return md, html.split("\n", 1)[0]


def test_a_recheck_after_the_first_run_names_the_runs_its_news_covers(engine: Engine) -> None:
    first = run(engine, days(1), URLS, whole=True)
    sync_catalogs(engine, [edit(CATALOG, "r1", url=NEW_URL)], now=days(1.5))  # a hand edit
    recheck = run(engine, days(2), [NEW_URL], whole=False)

    ctx = context(engine)
    md, html = opening(ctx)

    assert ctx.changes is not None and ctx.changes.previous_run_id is None
    assert ctx.changes.first_run_id == first
    assert "During the first run" not in md and "during the first run" not in html
    assert md.startswith(f"Since the first run (run {first}) began (2025-03-02 02:00 UTC), ")
    assert f"through this recheck (run {recheck}): " in md
    assert "1 catalog edit" in md  # the edit after the first run: in this window, as before
    assert f"Changes since the first run (run {first}) began (" in html
    assert f"through this recheck (run {recheck})." in html
    changes = json.loads(render_json(ctx))["changes"]
    assert changes["first_run_id"] == first and changes["previous_run_id"] is None
    assert changes["since"]["text"] == "2025-03-02 02:00 UTC"


def test_the_first_runs_own_report_still_says_during_the_first_run(engine: Engine) -> None:
    first = run(engine, days(1), URLS, whole=True)
    sync_catalogs(engine, [edit(CATALOG, "r1", url=NEW_URL)], now=days(1.5))
    run(engine, days(2), [NEW_URL], whole=False)

    ctx = context(engine, first)
    md, html = opening(ctx)

    assert ctx.changes is not None and ctx.changes.first_run_id is None
    assert md.startswith("During the first run: ")
    assert "Changes during the first run." in html
    assert "catalog edit" not in md  # the edit came after it


def test_only_rechecks_so_far_say_since_the_last_one(engine: Engine) -> None:
    """With no night yet, a recheck's window starts when the recheck before it finished;
    the very first run, a recheck, is the first run."""
    first = run(engine, days(1), URLS[:1], whole=False)
    assert opening(context(engine))[0].startswith("During the first run: ")
    run(engine, days(2), URLS[1:2], whole=False)

    md, html = opening(context(engine))

    assert md.startswith(f"Since run {first} finished (2025-03-02 02:05 UTC): ")
    assert f"Changes since run {first} finished (" in html
