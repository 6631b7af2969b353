"""The report night by night for a site in maintenance (503 "come back later"): weekly
maintenance is no flapping news, so the page's real 404 later is "Started failing" news;
and an ignored entry whose site is flagged flapping gets no flapping news ("listed under
Check by hand until it steadies. Ignored, so not in the queue." said both)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from catalog import decisions, runs, store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import Settings
from catalog.sync import sync_catalogs
from reports.build import build_context
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
    unavailable_observation,
)

URL = "https://site.example/resources"


def unavailable(n: int) -> Observation:
    return unavailable_observation(URL, days(n))


def ok(n: int) -> Observation:
    return make_observation(URL, Outcome.OK, days(n))


def news_by_night(
    tmp_path: Path,
    answer: Callable[[int], Observation],
    last: int,
    before: Callable[[Settings, int], None] = lambda _s, _n: None,
) -> tuple[dict[int, list[tuple[str, str]]], bool]:
    """Each night's news of the link (section, summary), checking it every night, and
    whether the link is flagged flapping at the end."""
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    news: dict[int, list[tuple[str, str]]] = {}
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(last + 1):
            before(settings, n)
            news[n] = _night(engine, settings, answer(n), n)
        (link,) = store.link_states(engine)
    return news, link.flapping


def _night(engine: Engine, settings: Settings, obs: Observation, n: int) -> list[tuple[str, str]]:
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    stored = runs.store_batch(settings, run_id, [obs], clock=Ticker(days(n)))
    runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(n + 0.01)))
    ctx = build_context(report_data(engine), now=days(n + 0.01))
    assert ctx.changes is not None
    return [
        (s.key, i.summary)
        for s in ctx.changes.sections
        if s.key != "catalog_edits"  # its "Added." of night 0
        for i in s.items
    ]


def test_a_404_on_a_site_in_weekly_maintenance_is_started_failing_news(tmp_path: Path) -> None:
    def answer(n: int) -> Observation:
        if n >= 12:
            return make_observation(URL, Outcome.NOT_FOUND, days(n), http_status=404)
        return unavailable(n) if n % 7 == 3 else ok(n)

    news, flapping = news_by_night(tmp_path, answer, last=12)

    assert not flapping
    assert not any(key.startswith("flapping") for n in news for key, _ in news[n])
    assert [key for key, _ in news[12]] == ["started_failing"]


def test_an_ignored_site_flagged_flapping_gets_no_flapping_news(tmp_path: Path) -> None:
    def ignore(settings: Settings, n: int) -> None:
        if n == 2:
            reason = "works in a browser; answers automated checks 503 Service Unavailable"
            decisions.ignore(settings, "site", reason=reason, by="ana", clock=Ticker(days(1.5)))

    news, flapping = news_by_night(
        tmp_path, lambda n: unavailable(n) if n % 2 else ok(n), 12, ignore
    )

    assert flapping  # 503 every other night: flagged, its news left out
    assert not any(key.startswith("flapping") for n in news for key, _ in news[n])
