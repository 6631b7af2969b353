"""A site's nights of 503 "come back later" across an upgrade and a curator's recheck: a
row upgraded while its site is partway through a run of 503 nights keeps the run's start
(confirmed broken on the night it would have been, "for 10 nights" of 10), and a recheck
the day after a nightly 503 adds no second night, while nightly checks a little earlier or
later each night still count one night each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from catalog import migrate, runs, store
from catalog import tables as t
from catalog.health import LinkState, apply_observation
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
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

HEALTH = HealthSettings()  # flaps 4 in 14 days, unavailable_days 7, confirm 3 over 2 days
URL = "https://site.example/resources"


def unavailable(at: datetime) -> Observation:
    return unavailable_observation(URL, at, 3600)


def ok(at: datetime) -> Observation:
    return make_observation(URL, Outcome.OK, at)


def down_from_night_1(n: int) -> Observation:
    return ok(days(n)) if n == 0 else unavailable(days(n))


def states(
    checks: Sequence[Observation], state: LinkState | None = None
) -> list[tuple[LinkState, list[tuple[str, dict[str, object]]]]]:
    """Each check's state and events (kind, details), in order."""
    state, seen = state or LinkState(), []
    for obs in checks:
        state, changes = apply_observation(state, obs, HEALTH, now=obs.checked_at)
        seen.append((state, [(c.kind, c.details) for c in changes]))
    return seen


def test_a_row_upgraded_mid_stretch_keeps_the_stretch_start() -> None:
    """503 from night 1, upgraded after night 8 (its row with no nights kept, as migration
    0018 leaves it): it goes on exactly as a row that kept them all along."""
    along = states([down_from_night_1(n) for n in range(21)])
    upgraded_row = replace(along[8][0], unavailable_nights=())
    upgraded = states([down_from_night_1(n) for n in range(9, 21)], upgraded_row)

    def news(seen: list[tuple[LinkState, list[tuple[str, dict[str, object]]]]]) -> list[object]:
        return [(s.state, s.consecutive_failures, events) for s, events in seen]

    assert news(upgraded) == news(along[9:])
    broken = [d for _, events in along for k, d in events if d.get("new") == "broken"]
    assert broken == [{**broken[0], "unavailable_nights": 10}]


def test_a_database_upgraded_mid_stretch_confirms_on_the_tenth_night(tmp_path: Path) -> None:
    """The same through the store and a real migration (0017 -> 0018) after night 8."""
    kit = make_catalog("toolkit", [make_resource("site", URL)])
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(11):
            if n == 9:
                with engine.begin() as conn:
                    migrate.command.downgrade(migrate.alembic_config(conn), "0017")
                migrate.upgrade(engine)
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            stored = runs.store_batch(
                settings, run_id, [down_from_night_1(n)], clock=Ticker(days(n))
            )
            runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(n + 0.01)))
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.Event.at, t.Event.details).where(t.Event.kind == "state_changed")
            ).all()
    broken = [(at, d["unavailable_nights"]) for at, d in rows if d.get("new") == "broken"]
    assert [(at - days(10) < timedelta(hours=1), nights) for at, nights in broken] == [(True, 10)]
