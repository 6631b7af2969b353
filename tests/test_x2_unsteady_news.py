"""News that repeated every night, night by night as the Markdown report tells it: a
permanent redirect that comes and goes, a page whose content changes at every read.

A curator who reads the same item in "Since the last run" every night learns to skip the
section: such news is told a couple of times, then once as unsteady, then not again while
it lasts (`catalog.unsteady`). A page steady for weeks that changes is news as ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.model import Hop, Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Row
from reports.render import render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

FLAP = "https://guides.example/old"
NEW = "https://guides.example/new"
TICKER = "https://news.example/partners"
STEADY = "https://reports.example/annual"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(
        resources=[
            make_resource("guide", FLAP),
            make_resource("partners", TICKER),
            make_resource("annual", STEADY),
        ]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        yield engine


def night(engine: Engine, n: int, observations: list[Observation], report: bool = True) -> str:
    """Store night `n`'s checks as a run does, and return the news of its Markdown report."""
    at = days(n)
    run_id = store.start_run(engine, trigger="schedule", now=at)
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    if not report:
        return ""
    ctx = build_context(report_data(engine), now=at + timedelta(minutes=10))
    markdown = render_markdown(ctx, limit=None)
    news = markdown.partition("## Since the last run")[2]
    return news.partition("\n## ")[0]


def row(engine: Engine, rid: str, n: int) -> Row:
    ctx = build_context(report_data(engine), now=days(n) + timedelta(minutes=10))
    (found,) = [r for r in ctx.resources if r.resource_id == rid]
    return found


def page(url: str, at: datetime, version: int, title: str = "Guide") -> Observation:
    """A read of `url` whose content is its `version`."""
    return make_observation(
        url,
        Outcome.OK,
        at,
        chain=(Hop(url, 200),),
        fingerprint=f"sha256:{url}#{version}",
        content_length=400 + 60 * (version % 4),
        title=title,
    )


def moved(at: datetime) -> Observation:
    return make_observation(
        FLAP,
        Outcome.REDIRECTED_PERMANENT,
        at,
        chain=(Hop(FLAP, 301), Hop(NEW, 200)),
        final_url=NEW,
        reason=f"Redirected permanently (301) to {NEW}; the new page answers 200.",
        methods=("HEAD",),
    )


def items_of(news: str, rid: str) -> list[str]:
    return [line for line in news.splitlines() if f"({rid})" in line]


def test_a_permanent_redirect_that_went_is_not_counted_as_a_new_one(engine: Engine) -> None:
    """ "No longer redirects permanently" was filed under "New redirects" and counted as
    "1 new redirect"."""
    night(engine, 1, [page(FLAP, days(1), 1)], report=False)
    night(engine, 2, [moved(days(2))], report=False)
    went = night(engine, 3, [page(FLAP, days(3), 1)])
    assert "### No longer redirecting (1)" in went
    assert "1 no longer redirecting" in went
    assert "new redirect" not in went.lower()
    (gone,) = items_of(went, "guide")
    assert "No longer redirects permanently." in gone
