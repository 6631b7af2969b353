"""A site answering 503 "unavailable, come back later" on most nights, and working on the
others, is down for visitors half the time or more: flagged flapping once (Check by hand),
as the same site answering 503 without a Retry-After is; a maintenance window of a night
or two, or one such night a month, stays quiet. A site confirmed broken after many nights
of 503 is said to have been unavailable for those nights, not "after 3 failed checks"."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from catalog import store
from catalog.health import LinkState, apply_observation
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.set_aside import site_down
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Priority
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    unavailable_observation,
)

HEALTH = HealthSettings()  # flaps 4 in 14 days, unavailable_days 7, confirm 3 over 2 days
URL = "https://site.example/resources"


def unavailable(at: datetime, wait: int = 120) -> Observation:
    return unavailable_observation(URL, at, wait)


def nights(down: Callable[[int], bool], last: int) -> list[tuple[LinkState, list[str]]]:
    """Check the link every night up to `last`: 503 on `down` nights, 200 on the others."""
    state, seen = LinkState(), []
    for n in range(last + 1):
        obs = unavailable(days(n)) if down(n) else make_observation(URL, Outcome.OK, days(n))
        state, changes = apply_observation(state, obs, HEALTH, now=days(n))
        seen.append((state, [c.kind for c in changes]))
    return seen


def flag_events(seen: list[tuple[LinkState, list[str]]]) -> list[tuple[int, str]]:
    return [(n, k) for n, (_, kinds) in enumerate(seen) for k in kinds if k.startswith("flap")]


def test_a_site_unavailable_every_other_night_is_flagged_once_and_kept() -> None:
    seen = nights(lambda n: n % 2 == 0, last=60)

    # Its 4th night of 503 (night 6) is the first to flip (x1b: fewer are maintenance),
    # and the 4th flip (night 9) flags it.
    assert flag_events(seen) == [(9, "flapping_started")]
    assert all(state.flapping for state, _ in seen[9:])


def test_a_site_unavailable_six_nights_of_seven_is_flagged_once_and_kept() -> None:
    # Never seven nights in a row, so never failing by `unavailable_days`: it sat in
    # Check by hand with "Checks 1" on its 503 nights, and left the queue on each 200 one.
    seen = nights(lambda n: n >= 3 and n % 7 != 0, last=41)

    (started,) = flag_events(seen)
    assert started[1] == "flapping_started" and started[0] <= 22
    assert all(state.flapping for state, _ in seen[started[0] :])
    assert all(state.consecutive_failures == 0 for state, _ in seen)  # no break: flapping


def test_the_flag_goes_once_the_site_has_answered_steadily_for_a_while() -> None:
    seen = nights(lambda n: n <= 30 and n % 2 == 0, last=60)

    events = flag_events(seen)
    assert events[0] == (9, "flapping_started")
    (stopped,) = [n for n, kind in events if kind == "flapping_stopped"]
    assert events == [(9, "flapping_started"), (stopped, "flapping_stopped")]
    assert 31 < stopped <= 30 + 14
    assert not seen[-1][0].flapping


def test_a_maintenance_window_or_one_such_night_a_month_stays_quiet() -> None:
    window = nights(lambda n: n in (10, 11), last=40)
    monthly = nights(lambda n: n % 30 == 15, last=120)

    for seen in (window, monthly):
        assert flag_events(seen) == []
        assert not any(state.flapping for state, _ in seen)


def test_walls_between_503_nights_are_no_flips() -> None:
    """A 429 or a bot wall says nothing of the site's page: a 503 night, then walls, then
    a 503 night again is one stretch of "unavailable" (one flip), not a flip a night."""
    state = LinkState()
    for n in range(30):
        if n == 0:
            obs = make_observation(URL, Outcome.OK, days(n))
        elif n % 2:
            obs = unavailable(days(n))
        else:
            obs = make_observation(URL, Outcome.RATE_LIMITED if n % 4 else Outcome.BLOCKED, days(n))
        state, _ = apply_observation(state, obs, HEALTH, now=days(n))
    # One flip, on its 4th night of 503 (night 7), kept past the window while it lasts.
    assert state.flips == (days(7),) and not state.flapping
    back, _ = apply_observation(
        state, make_observation(URL, Outcome.OK, days(30)), HEALTH, now=days(30)
    )
    assert back.flips == (days(30),)


def run_nights(
    tmp_path: Path, answer: Callable[[int], Observation], last: int, off: Collection[int] = ()
) -> tuple[dict[int, list[tuple[str, str]]], dict[int, tuple[Priority | None, str | None]]]:
    """Store a night's check of the link and build the report, each night up to `last` but
    those our machine was `off` (no run): each night's news (section, summary) and the
    link's queue group and note."""
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    news: dict[int, list[tuple[str, str]]] = {}
    rows: dict[int, tuple[Priority | None, str | None]] = {}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in (n for n in range(last + 1) if n not in off):
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            store.record_observations(engine, run_id, [answer(n)], HEALTH, now=days(n))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
            ctx = build_context(report_data(engine), now=days(n + 0.01))
            assert ctx.changes is not None
            news[n] = [
                (s.key, i.summary)
                for s in ctx.changes.sections
                if s.key != "catalog_edits"  # its "Added." of night 0
                for i in s.items
            ]
            (row,) = ctx.resources
            rows[n] = (row.priority, row.state_note)
    return news, rows


def test_the_report_lists_a_site_unavailable_every_other_night_under_check_by_hand(
    tmp_path: Path,
) -> None:
    def answer(n: int) -> Observation:
        return unavailable(days(n)) if n % 2 else make_observation(URL, Outcome.OK, days(n))

    news, rows = run_nights(tmp_path, answer, last=14)

    # Once, the night it is flagged: its 4th night of 503 (night 7) flips, and so do the
    # three nights after it (x1b: two such nights were maintenance, not flapping).
    assert [n for n in news if news[n]] == [10]
    ((section, summary),) = news[10]
    assert section == "flapping_started" and "Check by hand" in summary
    for n in range(10, 15):  # its 200 nights as well: it no longer leaves the queue
        priority, note = rows[n]
        assert priority is Priority.LOOK and note is not None and "flapping" in note.lower(), n


def test_a_site_unavailable_for_ten_nights_is_said_so_when_confirmed_broken(
    tmp_path: Path,
) -> None:
    def answer(n: int) -> Observation:
        return make_observation(URL, Outcome.OK, days(n)) if n == 0 else unavailable(days(n), 3600)

    news, rows = run_nights(tmp_path, answer, last=12)

    broken = [
        (n, summary) for n in news for section, summary in news[n] if section == "newly_broken"
    ]
    assert broken == [(10, "Confirmed broken: unavailable (503) at every check for 10 nights.")]
    assert rows[12][0] is Priority.BROKEN


def test_two_maintenance_answers_a_week_apart_are_not_a_site_down_for_nine_nights(
    tmp_path: Path,
) -> None:
    """Review rv6: the site answered 503 "come back later" on night 3, our machine was off
    nights 4 to 10, and night 11 found it in maintenance again. The unchecked week counted
    as nights of 503: at once "Started failing: Unavailable (503) at every check for 9
    nights", its fix to remove the entry. Two checks saw a 503, two nights of maintenance
    (Check by hand); the stretch starts over at night 11, and fails a week of checks on."""

    def answer(n: int) -> Observation:
        return unavailable(days(n)) if n >= 3 else make_observation(URL, Outcome.OK, days(n))

    news, rows = run_nights(tmp_path, answer, last=19, off=range(4, 11))

    assert rows[11][0] is Priority.LOOK and news[11] == []
    assert [(n, said) for n in news for _, said in news[n]] == [
        (18, "Unavailable (503) at every check for 8 nights; not confirmed yet.")
    ]

    # A set-aside reads the site as down by the same start (`site_down`).
    state = LinkState()
    for n in (3, *range(11, 19)):
        state, _ = apply_observation(state, unavailable(days(n)), HEALTH, now=days(n))
        down = site_down(
            Outcome.RATE_LIMITED.value, 503, state.last_change_at, days(n), HEALTH.unavailable_days
        )
        assert down is (n == 18), n


def test_a_503_stretch_lasts_through_a_missed_run_and_a_host_s_turns() -> None:
    """A night our machine missed is no reason to start a week of 503 over; nor are the
    nights a host in maintenance held the link while asking its others in turn
    (`Observation.held`): the site said it was away on those nights."""
    missed = nights(lambda n: n > 0, last=9)  # as `nights`, but night 4 never run
    state = LinkState()
    for n in (n for n in range(10) if n != 4):
        obs = unavailable(days(n)) if n else make_observation(URL, Outcome.OK, days(n))
        state, _ = apply_observation(state, obs, HEALTH, now=days(n))
        if n == 8:
            assert (state.consecutive_failures, state.first_failure_at) == (1, days(1))
    assert state.consecutive_failures == missed[9][0].consecutive_failures == 2

    state = LinkState()
    for n in range(13):
        if n == 0:
            obs = make_observation(URL, Outcome.OK, days(n))
        elif n % 4 == 1:  # asked every fourth night, held the three between
            obs = unavailable(days(n))
        else:
            obs = replace(unavailable(days(n)), held=True)
        state, _ = apply_observation(state, obs, HEALTH, now=days(n))
    # Its checks on nights 1, 5 and 9: failing from night 1, once that has lasted 7 nights.
    assert (state.consecutive_failures, state.first_failure_at) == (1, days(1))
