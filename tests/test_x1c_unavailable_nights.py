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
)

HEALTH = HealthSettings()  # flaps 4 in 14 days, unavailable_days 7, confirm 3 over 2 days
URL = "https://site.example/resources"


def unavailable(at: datetime) -> Observation:
    """A 503 asking us to come back later than a check waits: maintenance (classify)."""
    return make_observation(
        URL,
        Outcome.RATE_LIMITED,
        at,
        http_status=503,
        reason="GET 503: the site says it is unavailable for now; it asked us to wait 3600 s",
    )


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


def maintenance_with_rechecks(recheck_after: timedelta) -> list[Observation]:
    """Maintenance at the nightly check on nights 1, 5 and 9 (3 in 14: no flapping), each
    rechecked by a curator `recheck_after` the nightly 503, still 503."""
    checks = [unavailable(days(n)) if n in (1, 5, 9) else ok(days(n)) for n in range(25)]
    checks += [unavailable(days(n) + recheck_after) for n in (1, 5, 9)]
    return sorted(checks, key=lambda o: o.checked_at)


def test_a_recheck_the_day_after_a_maintenance_night_is_no_second_night() -> None:
    for hours in (21.5, 22, 23):
        checks = maintenance_with_rechecks(timedelta(hours=hours))
        seen = states(checks)
        kinds = [k for _, events in seen for k, _ in events]
        assert "flapping_started" not in kinds, hours
        runs = {days(n) for n in range(25)}
        nightly = [s for o, (s, _) in zip(checks, seen, strict=True) if o.checked_at in runs]
        # the recheck's night, and its flip, are dropped at the next nightly check
        assert max(len(s.unavailable_nights) for s in nightly) == 3, hours
        assert all(not s.flips for s in nightly), hours


def test_a_recheck_then_a_wall_at_the_nightly_check_makes_no_flip() -> None:
    """Three maintenance nights, the third rechecked 22 h later (503), then the nightly
    check meets a bot wall: the link is as it was, working."""
    checks = [unavailable(days(n)) if n in (1, 5, 9) else ok(days(n)) for n in range(10)]
    checks += [
        unavailable(days(9) + timedelta(hours=22)),
        make_observation(URL, Outcome.BLOCKED, days(10), http_status=403),
    ]
    final, _ = states(checks)[-1]
    assert final.flips == ()
    assert len(final.unavailable_nights) == 3


def test_a_recheck_before_a_second_503_night_leaves_both_nights() -> None:
    """503 at the nightly check on nights 1 and 2, rechecked 22 h after night 1: two nights,
    the second the nightly check's; rechecked again an hour after night 2: still two."""
    checks = [
        unavailable(days(1)),
        unavailable(days(1) + timedelta(hours=22)),
        unavailable(days(2)),
        ok(days(2) + timedelta(hours=1)),
    ]
    seen = states(checks)
    assert seen[2][0].unavailable_nights == (days(1), days(2))
    assert seen[3][0].unavailable_nights == (days(1), days(2))


def test_nightly_checks_with_the_runs_jitter_count_one_night_each() -> None:
    """Six nights of 503 in seven, the nightly run starting up to 50 minutes early or late:
    every 503 night counts, and the site is flagged on the same night as without jitter."""
    jitter = [timedelta(minutes=m) for m in (0, 50, -50, 40, -45, 50, -50)]

    def at(n: int, shift: bool) -> datetime:
        return days(n) + (jitter[n % 7] if shift else timedelta())

    def plan(shift: bool) -> list[Observation]:
        return [ok(at(n, shift)) if n % 7 == 0 else unavailable(at(n, shift)) for n in range(22)]

    def flagged(seen: list[tuple[LinkState, list[tuple[str, dict[str, object]]]]]) -> list[int]:
        return [n for n, (_, events) in enumerate(seen) for k, _ in events if k.startswith("flap")]

    steady, jittered = states(plan(False)), states(plan(True))
    assert flagged(jittered) == flagged(steady) != []
    assert [len(s.unavailable_nights) for s, _ in jittered] == [
        len(s.unavailable_nights) for s, _ in steady
    ]
