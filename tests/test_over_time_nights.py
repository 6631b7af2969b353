"""Day thresholds over nightly checks a few minutes apart.

A run starts on a schedule, but a given link is checked minutes earlier or later each
night, and the run ends sooner or later. "14 days" must be reached on the 14th night
whichever minute that night's check (or the run's end) came at, never a night late at
random (`catalog.settings.lasted`). Also: what a failing link's nights with a wall or a
"come back later" do to its state, over weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from catalog import store
from catalog.health import BROKEN, CHECK_BY_HAND, SUSPECT, LinkState, apply_observation
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.staleness import staleness
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Priority
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

HEALTH = HealthSettings()  # confirm 3 over 2 days, flaps 4 in 14, unverified after 14, ...
URL = "https://site.example/report"


def night(n: int, minutes: float = 0) -> datetime:
    """Night `n`'s run, `minutes` into it (or before its usual start, if negative)."""
    return days(n) + timedelta(minutes=minutes)


def states(
    observations: Sequence[Observation], health: HealthSettings = HEALTH
) -> list[tuple[LinkState, list[str]]]:
    """The state and event kinds after each observation, stored as the run does."""
    state, seen = LinkState(), []
    for obs in observations:
        state, changes = apply_observation(state, obs, health, now=obs.checked_at)
        seen.append((state, [c.kind for c in changes]))
    return seen


def check(outcome: Outcome, at: datetime, **fields: object) -> Observation:
    return make_observation(URL, outcome, at, **fields)


# --- the flap window -----------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [-5, 0, 5])
def test_a_flip_leaves_the_flap_window_on_its_fourteenth_night_at_any_minute(
    minutes: float,
) -> None:
    """Flips on nights 0, 1 and 2, then a recovery on night 14: the flip of night 0 is two
    weeks old and has left the window, so three flips are in it, not four. Checked five
    minutes earlier in night 14's run than on night 0, it was still "within 14 days": the
    link was flagged flapping (and listed under Check by hand) or not by the minute."""
    first = [check(Outcome.OK, night(-1, 10))]
    flips = [check(Outcome.NOT_FOUND, night(0, 10)), check(Outcome.OK, night(1, 10))]
    down = [check(Outcome.NOT_FOUND, night(n, 10)) for n in range(2, 14)]
    back = check(Outcome.OK, night(14, 10 + minutes))
    state, kinds = states([*first, *flips, *down, back])[-1]
    assert not state.flapping and "flapping_started" not in kinds
    assert state.flips == (night(1, 10), night(2, 10), night(14, 10 + minutes))
    # A flip thirteen nights old is still in it, even checked a little later in the run.
    state, kinds = states([*first, *flips, *down[:-1], check(Outcome.OK, night(13, 15))])[-1]
    assert state.flapping and "flapping_started" in kinds


# --- staleness: unverified, unchanged, review --------------------------------------------


@pytest.mark.parametrize(
    ("checked", "ended"),
    [
        pytest.param(30, 25, id="tonight-checked-and-ended-earlier-than-night-0"),
        pytest.param(30, 45, id="tonight-ended-later"),
        pytest.param(10, 5, id="early-check"),
    ],
)
def test_unverified_is_reached_on_the_fourteenth_night_whatever_the_minute(
    tmp_path: Path, checked: float, ended: float
) -> None:
    """Worked on night 0 (checked 35 minutes into the run), failing every night since:
    no success for 14 days on night 14, whichever minute tonight's check came at and the
    run ended at. The staleness refresh at the end of night 14's run, 25 minutes in, is
    13 days 23 hours 50 minutes after that success: the entry was "unverified" a night
    late (night 15), or on time, by the minute."""
    kit = make_catalog("toolkit", [make_resource("r", URL)])
    first_stale = None
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=night(0))
        for n in range(16):
            outcome = Outcome.OK if n == 0 else Outcome.NOT_FOUND
            at = night(n, 35 if n == 0 else checked)
            store.record_observations(engine, None, [check(outcome, at)], HEALTH, now=at)
            store.refresh_staleness(engine, HEALTH, now=night(n, 40 if n == 0 else ended))
            codes = {note.code for note in store.find_resource(engine, "r").stale}
            if "unverified" in codes and first_stale is None:
                first_stale = n
    assert first_stale == 14


NOW = night(800, 20)


def judge(**facts: object) -> set[str]:
    base: dict[str, object] = {
        "now": NOW,
        "settings": HealthSettings(unverified_days=14, review_days=365, unchanged_days=730),
        "last_success_at": NOW,
        "first_seen_at": night(0),
        "reviewed_at": NOW,
        "fingerprint_unchanged_since": NOW,
        "last_modified": None,
        "title": "Hotline",
        "description": None,
        "year": None,
    }
    base.update(facts)
    return {r.code for r in staleness(**base)}  # type: ignore[arg-type]


def test_unchanged_and_review_thresholds_count_nights_too() -> None:
    """The run that refreshes staleness ended five minutes earlier tonight than the run
    the fingerprint (or the review) dates from: two years (one year) are reached all the
    same; a night earlier they are not."""
    early = timedelta(minutes=5)
    assert "unchanged_long" in judge(
        fingerprint_unchanged_since=NOW - timedelta(days=730) + early,
        reviewed_at=NOW - timedelta(days=400),
    )
    assert "unchanged_long" not in judge(
        fingerprint_unchanged_since=NOW - timedelta(days=729),
        reviewed_at=NOW - timedelta(days=400),
    )
    assert "review_overdue" in judge(reviewed_at=NOW - timedelta(days=365) + early)
    assert "review_overdue" not in judge(reviewed_at=NOW - timedelta(days=364))
    # The review a year old answers `unchanged_long` no longer: one rule for both.
    assert "unchanged_long" in judge(
        fingerprint_unchanged_since=NOW - timedelta(days=1000),
        reviewed_at=NOW - timedelta(days=365) + early,
    )


def test_a_fingerprint_is_due_on_the_seventh_night(tmp_path: Path) -> None:
    """Fingerprinted ten minutes into night 0's run; night 7's plan is made at its start,
    6 days 23 hours 50 minutes later: the fingerprint a week old was due a night late, on
    night 8, every week."""
    kit = make_catalog("toolkit", [make_resource("r", URL)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=night(0))
        read = check(Outcome.OK, night(0, 10), fingerprint="f1")
        store.record_observations(engine, None, [read], HEALTH, now=night(0, 10))
        (sixth,) = store.targets_for_check(engine, now=night(6), fingerprint_max_age_days=7)
        (seventh,) = store.targets_for_check(engine, now=night(7), fingerprint_max_age_days=7)
    assert not sixth.fingerprint_due
    assert seventh.fingerprint_due


# --- walls on a failing link ---------------------------------------------------------------


@pytest.mark.parametrize("wall", [Outcome.BLOCKED, Outcome.RATE_LIMITED])
def test_a_failing_link_stays_failing_through_a_wall_until_walls_last(
    tmp_path: Path, wall: Outcome
) -> None:
    """404 on night 0, then a bot wall (or a 429) on night 1, 404 again on night 2: the
    link went "Failing, not yet confirmed" -> "Check by hand" -> "Failing" again, with
    "Started failing" news twice. It stays failing, in its group, with one piece of news,
    and is confirmed on night 3 as if the wall had not been there. Walls every night
    from night 4 on a second link: after two days of nothing but walls (night 6, a few
    minutes earlier in the run) a person must look."""
    other = "https://other.example/"
    kit = make_catalog("toolkit", [make_resource("r", URL), make_resource("o", other)])
    plan = {0: Outcome.NOT_FOUND, 1: wall, 2: Outcome.NOT_FOUND, 3: Outcome.NOT_FOUND}
    other_plan = {3: Outcome.NOT_FOUND, 4: wall, 5: wall, 6: wall, 7: wall}
    groups: dict[str, list[Priority | None]] = {"r": [], "o": []}
    link_states: dict[str, list[str]] = {"r": [], "o": []}
    news: list[tuple[str, str | None]] = []
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=night(0))
        for n in range(8):
            at = night(n, -4 if n == 6 else 3)
            batch = [make_observation(URL, plan.get(n, Outcome.NOT_FOUND), at)]
            batch.append(make_observation(other, other_plan.get(n, Outcome.OK), at))
            run_id = store.start_run(engine, trigger="schedule", now=night(n))
            store.record_observations(engine, run_id, batch, HEALTH, now=at)
            store.finish_run(engine, run_id, status="completed", now=night(n, 30))
            data = report_data(engine)
            ctx = build_context(data, now=night(n, 30))
            queued = {row.resource_id: row.priority for row in ctx.rows}
            shown = {row.resource_id: row.state for row in data.resources}
            for rid in ("r", "o"):
                groups[rid].append(queued.get(rid))
                link_states[rid].append(shown[rid])
            assert ctx.changes is not None
            news += [
                (section.key, item.resource_id)
                for section in ctx.changes.sections
                for item in section.items
            ]
    assert link_states["r"][:4] == [SUSPECT, SUSPECT, SUSPECT, BROKEN]
    assert groups["r"][:3] == [Priority.FAILING] * 3
    assert news.count(("started_failing", "r")) == 1
    assert news.count(("newly_broken", "r")) == 1
    assert link_states["o"][3:] == [SUSPECT, SUSPECT, SUSPECT, CHECK_BY_HAND, CHECK_BY_HAND]
    assert groups["o"][3:] == [Priority.FAILING] * 3 + [Priority.LOOK] * 2
    assert news.count(("started_failing", "o")) == 1


# --- a site in maintenance -----------------------------------------------------------------


def _unavailable(at: datetime) -> Observation:
    """A 503 asking us to come back in an hour, longer than a check waits (classify)."""
    return check(
        Outcome.RATE_LIMITED,
        at,
        http_status=503,
        reason="GET 503: the site says it is unavailable for now; it asked us to wait 1 h",
    )


def test_a_site_in_maintenance_for_weeks_is_confirmed_broken() -> None:
    """503 "come back later" every night from night 1: a night or two of maintenance is
    no break (Check by hand), but it never became one, for weeks: the report kept the
    link under Check by hand for good. After `unavailable_days` (7) it counts as failing,
    from night 1 on, and is confirmed like any failure (three such checks)."""
    minutes = [3, -4, 9, -2, 0, 6, -5, 1, -3, 4, 2, -1, 8, 0, -6]
    seen = states(
        [check(Outcome.OK, night(0), fingerprint="f1")]
        + [_unavailable(night(n, minutes[n])) for n in range(1, 15)]
    )
    by_night = {n: state for n, (state, _) in enumerate(seen)}
    assert all(by_night[n].state == CHECK_BY_HAND for n in range(1, 8))
    assert all(by_night[n].consecutive_failures == 0 for n in range(1, 8))
    assert (by_night[8].state, by_night[8].consecutive_failures) == (SUSPECT, 1)
    assert by_night[8].first_failure_at == night(1, minutes[1])  # failing visitors since
    assert by_night[10].state == BROKEN
    assert by_night[14].state == BROKEN
    # It comes back: recovered, as from any break.
    back, _ = apply_observation(by_night[14], check(Outcome.OK, night(15)), HEALTH, now=night(15))
    assert back.state == "recovered" and back.consecutive_failures == 0


def test_a_429_every_night_is_no_break() -> None:
    """A 429 is an answer to the checker, whose visitors likely get the page: a person
    must look (Check by hand), however long it lasts; so must a 503 interrupted by a
    night the site answered."""
    limited = states([check(Outcome.RATE_LIMITED, night(n)) for n in range(30)])
    assert {state.state for state, _ in limited} == {CHECK_BY_HAND}
    assert limited[-1][0].consecutive_failures == 0
    broken_up = [_unavailable(night(n)) for n in range(6)]
    broken_up += [check(Outcome.OK, night(6))]
    broken_up += [_unavailable(night(n)) for n in range(7, 13)]
    assert {state.state for state, _ in states(broken_up)} <= {CHECK_BY_HAND, "ok"}
