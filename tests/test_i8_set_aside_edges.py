"""Set-aside edge cases (review C): a 429 or a wall night inside a failure, a site in
503 maintenance for days, and the cost of the lapse read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event

from catalog import store
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import (
    Ticker,
    days,
)
from tests.test_over_time_set_aside_lapse import (
    Try,
    _ignore,
    _nights,
    _queued,
    _snooze,
    _tried,
    toolkit,
)

_SOFT, _B, _OK = Outcome.SOFT_404, Outcome.BLOCKED, Outcome.OK
_TIMEOUT: Try = (Outcome.TIMEOUT, {"http_status": None})
_503: Try = (Outcome.RATE_LIMITED, {"http_status": 503})
_500: Try = (Outcome.HTTP_ERROR, {"http_status": 500})
_429: Try = (Outcome.RATE_LIMITED, {"http_status": 429})


def _run(
    tmp_path: Path,
    before: Sequence[Any],
    decide: Callable[..., Any],
    after: Sequence[tuple[float, Any]],
) -> list[tuple[bool, str]]:
    """`before` nights (day 0..), `decide` half a night after, then `after` as (day, try):
    [(queued, state)] after each of `after`."""
    out = []
    with toolkit(tmp_path) as (settings, engine):
        for n, tried in enumerate(before):
            _tried(settings, engine, n, tried)
        decide(settings, Ticker(days(len(before) - 0.5)))
        for at, tried in after:
            ctx = _tried(settings, engine, at, tried)  # type: ignore[arg-type]
            state = next(r.state for r in ctx.resources if r.resource_id == "hotline")
            out.append(("hotline" in _queued(ctx), str(state)))
    return out


def test_a_working_snooze_ends_when_its_failure_is_confirmed_a_429_inside_it(
    tmp_path: Path,
) -> None:
    """Nightly 500, 500, 429, 500: confirmed broken on the third 500 (a 429 is no failure:
    the count and `first_failure_at` are left alone). The 500s are the whole failure, so
    the snooze made while the link worked ends that night, not the next."""
    after = [(2, _500), (3, _500), (4, _429), (5, _500), (6, _500)]
    rows = _run(tmp_path, [_OK, _OK], _snooze, after)
    confirmed = next(i for i, (_, s) in enumerate(rows) if "broken" in s.lower())
    assert rows[confirmed][0], rows


def test_a_wall_ignore_ends_when_the_failure_is_confirmed_a_wall_night_inside_it(
    tmp_path: Path,
) -> None:
    """A bot wall ignored; the site then dies: 500, 500, wall, 500. A wall is no failure
    (`first_failure_at` is the first 500), so the 500s are the whole failure, confirmed on
    the third: the ignore ends that night, the wall night between them notwithstanding."""
    after = [(3, _500), (4, _500), (5, _B), (6, _500), (7, _500)]
    rows = _run(tmp_path, [_B, _B, _B], _ignore, after)
    confirmed = next(i for i, (_, s) in enumerate(rows) if "broken" in s.lower())
    assert rows[confirmed][0], rows


def test_a_soft_404_snooze_holds_through_a_maintenance_and_ends_when_the_site_is_down(
    tmp_path: Path,
) -> None:
    """A rebuild snoozed on a soft 404; the site times out one night, then answers 503
    "come back later" for ten nights. A night or two of maintenance keeps the snooze; once
    the 503s have lasted `unavailable_days` (`catalog.health` counts them as failures
    then: the site is down), they end it like any confirmed break."""
    after = [_TIMEOUT] + [_503] * 10
    queued = [("hotline" in _queued(c)) for c in _nights(tmp_path, [_SOFT] * 4, after, _snooze)]
    assert any(queued), queued
    days_503 = HealthSettings().unavailable_days
    first_down = 1 + int(days_503)  # the timeout's night, then the first 503's + 7 nights
    assert queued == [False] * first_down + [True] * (len(after) - first_down), queued


def test_the_settings_unavailable_days_say_when_a_503_site_is_down_for_a_set_aside(
    tmp_path: Path,
) -> None:
    """As above with `[health] unavailable_days = 3`: the run's lapse reads the settings'
    days, as `catalog.health` does, not the default 7 (the snooze and the report would
    disagree for four nights on whether the site is down)."""
    with toolkit(tmp_path, unavailable_days=3) as (settings, engine):
        for night in range(4):
            _tried(settings, engine, night, _SOFT)
        _snooze(settings, Ticker(days(3.5)))
        after = [_TIMEOUT] + [_503] * 6
        queued = [
            "hotline" in _queued(_tried(settings, engine, 4 + n, t)) for n, t in enumerate(after)
        ]
    assert queued == [False] * 4 + [True] * 3, queued


def test_an_entry_that_cannot_lapse_costs_no_query_of_its_decisions_or_checks(
    tmp_path: Path,
) -> None:
    """Cost: an entry ignored and snoozed on a confirmed 500 (stored 'broken'), its site
    then in 503 maintenance (not yet down), checked every 2.4 h. `settled` refuses such a
    503 whatever was decided and seen, so the lapse read asks nothing of the entry's
    decisions, events or checks (it asked 10 queries)."""
    (tmp_path / "x").mkdir()
    with toolkit(tmp_path) as (settings, engine):
        for n in range(4):
            _tried(settings, engine, n, _500)
        _ignore(settings, Ticker(days(3.5)))
        _snooze(settings, Ticker(days(3.6)))
        for n in range(30):
            _tried(settings, engine, 4 + n / 10, _503)  # type: ignore[arg-type]
        stmts: list[str] = []

        def listen(*args: Any) -> None:
            stmts.append(args[2])

        event.listen(engine, "before_cursor_execute", listen)
        store.lapse_set_asides(engine, now=days(7.1))
        event.remove(engine, "before_cursor_execute", listen)
    tables = ("FROM decisions", "FROM events", "FROM observations")
    per_entry = [s for s in stmts if any(table in s for table in tables)]
    assert len(per_entry) <= 4, len(per_entry)
    assert per_entry == [], per_entry
