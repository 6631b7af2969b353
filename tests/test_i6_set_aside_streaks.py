"""A set-aside's streak is the run of the link's latest checks that are all another kind of
problem than the decision's, whatever their own errors: a dead site that times out one
night and is not found in the DNS (or refuses the connection) the next is down two nights,
which ends a decision made on a soft 404. A decision made on a working link is ended by any
confirmed break, the timeouts it began with included, however often the link is checked:
the streak is read on past the latest eight checks when they span less than a night, back
to the link's first failure or two nights at most."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from catalog import tables as t
from catalog.clock import as_utc
from catalog.outcomes import Outcome
from catalog.set_aside import ONE_NIGHT
from catalog.store._set_aside import _STREAK_SPAN, _another_kind, _streak
from catalog.store._sql import read_session
from tests.factories import (
    Ticker,
    days,
)
from tests.test_over_time_set_aside_lapse import (
    HOTLINE,
    Try,
    _ignore,
    _nights,
    _queued,
    _snooze,
    _tried,
    toolkit,
)

_SOFT = Outcome.SOFT_404
_500: Try = (Outcome.HTTP_ERROR, {"http_status": 500})
_DNS: Try = (Outcome.DNS_ERROR, {"http_status": None})
_TIMEOUT: Try = (Outcome.TIMEOUT, {"http_status": None})
_REFUSED_CONN: Try = (Outcome.CONNECTION_REFUSED, {"http_status": None})
_503_LATER: Try = (Outcome.RATE_LIMITED, {"http_status": 503})
_429: Try = (Outcome.RATE_LIMITED, {"http_status": 429})


def _queue(reports: Sequence[Any]) -> list[bool]:
    """Each night: whether the hotline is back in the queue."""
    return [("hotline" in _queued(ctx)) for ctx in reports]


def test_a_dead_site_alternating_timeouts_and_dns_errors_ends_a_soft_404_snooze(
    tmp_path: Path,
) -> None:
    """Soft 404 confirmed, snoozed (a site rebuild); then the domain dies: timeouts and DNS
    errors on alternate nights, six nights, confirmed broken all along. The site is down,
    another problem than a page missing: the snooze ends, though no two nights in a row
    share one error."""
    after = [_TIMEOUT, _DNS, _TIMEOUT, _DNS, _TIMEOUT, _DNS]
    reports = _nights(tmp_path, [_SOFT] * 4, after, _snooze)
    assert any(_queue(reports)), _queue(reports)


def test_a_dead_site_alternating_timeouts_and_refused_connections_ends_a_soft_404_ignore(
    tmp_path: Path,
) -> None:
    """The same with an ignore, the dead site timing out and refusing the connection on
    alternate nights."""
    after = [_TIMEOUT, _REFUSED_CONN] * 3
    reports = _nights(tmp_path, [_SOFT] * 4, after, _ignore)
    assert any(_queue(reports)), _queue(reports)


def test_a_working_snooze_ends_at_the_confirmed_break_that_began_with_timeouts(
    tmp_path: Path,
) -> None:
    """Snoozed while the link worked; it then fails: timeout, timeout, 500, 500 (confirmed
    broken on the third night). Every failure is another problem than a working link's, so
    the timeouts are part of the break: the snooze ends the night it is confirmed, as it
    did before the timeouts were given a streak of their own, not a night later."""
    reports = _nights(tmp_path, [Outcome.OK] * 2, [_TIMEOUT, _TIMEOUT, _500, _500], _snooze)
    assert _queue(reports) == [False, False, True, True]


def test_a_working_snooze_ends_when_a_link_checked_often_is_confirmed_broken(
    tmp_path: Path,
) -> None:
    """Snoozed while the link worked; it is then checked every 2.4 hours (a cron'd
    `linkhealth check`, or rechecks) and answers 500 throughout: confirmed broken after two
    days. The snooze (made on a working link) ends within the five days, though the
    link's latest eight checks span less than a night."""
    with toolkit(tmp_path) as (settings, engine):
        _tried(settings, engine, 0, Outcome.OK)
        _tried(settings, engine, 1, Outcome.OK)
        _snooze(settings, Ticker(days(1.5)))
        reports = [_tried(settings, engine, 2 + n / 10, _500) for n in range(50)]  # type: ignore[arg-type]
        states = [r.state for r in reports[-1].resources if r.resource_id == "hotline"]
    assert states and "broken" in str(states).lower()
    assert any(_queue(reports)), (states, _queue(reports)[-5:])


def test_a_dead_site_alternating_500s_and_503s_come_back_later_ends_a_soft_404_snooze(
    tmp_path: Path,
) -> None:
    """A 503 with a Retry-After (filed as rate limited, shown "Unavailable (503)") is the
    site down, as the 500 of the night before: the snooze ends on the second 500, the
    503s' nights never ending it themselves (a come back later never settles)."""
    after = [_500, _503_LATER, _500, _503_LATER, _500]
    reports = _nights(tmp_path, [_SOFT] * 4, after, _snooze)
    assert _queue(reports) == [False, False, True, True, True]


def test_a_429_ends_a_breaks_nights(tmp_path: Path) -> None:
    """A 429 (come back later) says nothing of the site: the 500 after it is its first
    night, and ends a soft 404's ignore only on its second."""
    reports = _nights(tmp_path, [_SOFT] * 4, [_429, _500, _500], _ignore)
    assert _queue(reports) == [False, False, True]


def test_a_block_after_a_night_of_500_needs_its_own_night(tmp_path: Path) -> None:
    """A block, unlike a break, must be seen by checks a night apart itself (the README): a
    night of a 500 before the bot wall is no night of the wall."""
    reports = _nights(tmp_path, [_SOFT] * 4, [_500, Outcome.BLOCKED, Outcome.BLOCKED], _ignore)
    assert _queue(reports) == [False, False, True]


def test_a_working_snooze_ends_when_a_link_checked_often_is_blocked_a_night(
    tmp_path: Path,
) -> None:
    """The same link checked every 2.4 hours, a bot wall throughout: the latest eight
    checks span less than a night, those before them are read on, and the snooze ends once
    the wall has been seen a night (not before)."""
    with toolkit(tmp_path) as (settings, engine):
        _tried(settings, engine, 0, Outcome.OK)
        _tried(settings, engine, 1, Outcome.OK)
        _snooze(settings, Ticker(days(1.5)))
        reports = [_tried(settings, engine, 2 + n / 10, Outcome.BLOCKED) for n in range(20)]  # type: ignore[arg-type]
    queued = _queue(reports)
    assert True in queued, queued
    a_night = next(n for n in range(20) if days(2 + n / 10) - days(2) >= ONE_NIGHT)
    assert queued.index(True) == a_night, queued


def test_a_streak_is_read_back_two_nights_at_most(tmp_path: Path) -> None:
    """The cost: a link checked every 2.4 hours and failing for five days has its streak
    read back `_STREAK_SPAN` (two nights' checks), not to its first failure."""
    with toolkit(tmp_path) as (settings, engine):
        _tried(settings, engine, 0, Outcome.OK)
        for n in range(50):
            _tried(settings, engine, 1 + n / 10, _500)  # type: ignore[arg-type]
        with read_session(engine) as s:
            link = s.scalars(select(t.Link).where(t.Link.url == HOTLINE)).one()
            new = _another_kind([None], link.state)
            seen_for, first, _ = _streak(s, link.id, None, "broken", new, link.first_failure_at)
    assert first is not None and link.first_failure_at is not None
    assert as_utc(link.first_failure_at) < days(1.1)
    assert first >= days(5.9) - _STREAK_SPAN
    assert ONE_NIGHT <= seen_for <= _STREAK_SPAN


def test_a_soft_404_ignore_ends_when_the_site_becomes_a_bot_wall(tmp_path: Path) -> None:
    """Timeouts and blocks on alternate nights (a bot wall that sometimes lets the check
    time out): not the page missing, night after night. A block's night alone ends
    nothing (it must be seen twice itself); the timeout the night after it does."""
    after = [_TIMEOUT, Outcome.BLOCKED, _TIMEOUT, Outcome.BLOCKED]
    reports = _nights(tmp_path, [_SOFT] * 4, after, _ignore)
    assert _queue(reports) == [False, False, True, True]
