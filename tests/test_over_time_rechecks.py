"""Nights and the curators' rechecks between them, as "Since the last run" tells them."""

from __future__ import annotations

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
from reports import build_context
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

URLS = [f"https://host{n}.example/page" for n in range(3)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(resources=[make_resource(f"r{n}", url) for n, url in enumerate(URLS)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        yield engine


def run(
    engine: Engine,
    at: datetime,
    outcomes: dict[str, Outcome],
    *,
    whole: bool,
    health: HealthSettings = HealthSettings(),
) -> int:
    """A night (holding the full-run lease) or a recheck of `outcomes`' URLs only."""
    summary = {"holder": "box:1", **({"lease": "full-run"} if whole else {})}
    run_id = store.start_run(
        engine, trigger="schedule" if whole else "manual", now=at, summary=summary
    )
    observations = [make_observation(u, o, at) for u, o in outcomes.items()]
    store.record_observations(engine, run_id, observations, health, now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    return run_id


def news(engine: Engine, now: datetime) -> tuple[int | None, set[tuple[str, str | None]]]:
    changes = build_context(report_data(engine), now=now).changes
    assert changes is not None
    found = {(s.key, i.resource_id) for s in changes.sections for i in s.items}
    return changes.previous_run_id, found


def test_a_morning_recheck_keeps_the_nights_news_in_the_latest_report(engine: Engine) -> None:
    """The night found r0 failing; in the morning a curator rechecked r1 after editing it.
    The recheck's report becomes the latest one: it said "nothing changed" since the
    night, and r0's failure was then in no report a curator opens (the next night's
    covers only what came after the night)."""
    all_ok = dict.fromkeys(URLS, Outcome.OK)
    first = run(engine, days(1), all_ok, whole=True)
    run(engine, days(2), {**all_ok, URLS[0]: Outcome.NOT_FOUND}, whole=True)
    run(engine, days(2.3), {URLS[1]: Outcome.OK}, whole=False)
    run(engine, days(2.4), {URLS[2]: Outcome.NOT_FOUND}, whole=False)

    previous, found = news(engine, days(2.5))

    assert previous == first
    assert ("started_failing", "r0") in found  # the night's
    assert ("started_failing", "r2") in found  # the second recheck's


def test_a_recheck_after_the_very_first_night_keeps_that_nights_news(engine: Engine) -> None:
    run(
        engine, days(1), {**dict.fromkeys(URLS, Outcome.OK), URLS[0]: Outcome.NOT_FOUND}, whole=True
    )
    run(engine, days(1.3), {URLS[1]: Outcome.OK}, whole=False)

    previous, found = news(engine, days(1.5))

    assert previous is None
    assert ("started_failing", "r0") in found


def test_the_next_night_still_reports_since_the_night_before(engine: Engine) -> None:
    all_ok = dict.fromkeys(URLS, Outcome.OK)
    run(engine, days(1), all_ok, whole=True)
    second = run(engine, days(2), {**all_ok, URLS[0]: Outcome.NOT_FOUND}, whole=True)
    run(engine, days(2.3), {URLS[2]: Outcome.NOT_FOUND}, whole=False)
    run(
        engine,
        days(3),
        {**all_ok, URLS[0]: Outcome.NOT_FOUND, URLS[2]: Outcome.NOT_FOUND},
        whole=True,
    )

    previous, found = news(engine, days(3.5))

    assert previous == second
    assert ("started_failing", "r2") in found and ("started_failing", "r0") not in found


def test_a_link_whose_state_changed_twice_is_told_where_it_stands(engine: Engine) -> None:
    """The night failed r0 and confirmed r1 broken; the morning's recheck found r0 working
    and r1 failing on. "Started failing: Failed its last check" beside "Recovered: Works
    again" (and "Newly broken" for a link still failing) told two stories of one link."""
    quick = HealthSettings(confirm_failures=2, confirm_days=0)
    all_ok = dict.fromkeys(URLS, Outcome.OK)
    run(engine, days(1), {**all_ok, URLS[1]: Outcome.NOT_FOUND}, whole=True, health=quick)
    night = {**all_ok, URLS[0]: Outcome.NOT_FOUND, URLS[1]: Outcome.NOT_FOUND}
    run(engine, days(2), night, whole=True, health=quick)
    morning = {URLS[0]: Outcome.OK, URLS[1]: Outcome.NOT_FOUND, URLS[2]: Outcome.NOT_FOUND}
    run(engine, days(2.3), morning, whole=False, health=quick)
    run(engine, days(2.4), {URLS[2]: Outcome.NOT_FOUND}, whole=False, health=quick)

    _, found = news(engine, days(2.5))

    assert {key for key, rid in found if rid == "r0"} == {"recovered"}
    assert {key for key, rid in found if rid == "r1"} == {"newly_broken"}
    # Failing since a recheck and confirmed by the next one: broken, told once.
    assert {key for key, rid in found if rid == "r2"} == {"newly_broken"}
