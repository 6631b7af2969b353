"""Relative times count nights as the day thresholds do (`NIGHT_SLACK`): the checks of one
night read alike, and a day count is the count of nights a curator expects (r1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reports.context import ago, when


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 1) -> datetime:
    return datetime(2027, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize("now", [at(29, 2, 0, 5), at(29, 2, 45), at(29, 4, 30)])
def test_the_checks_of_one_night_minutes_apart_read_alike(now: datetime) -> None:
    """One night's rows read "a day ago" and "23 hours ago" side by side: the run's
    checks came a few seconds either side of the report's minute the next night."""
    night = [at(28, 2, 0, 4), at(28, 2, 0, 8), *(at(28, 2, m) for m in range(0, 45, 5))]
    assert {ago(moment, now) for moment in night} == {"a day ago"}
    assert {when(moment, now).ago for moment in night} == {"a day ago"}


def test_a_title_read_four_nights_back_reads_four_days_ago() -> None:
    """Read on the 16th, shown on the 20th as "3 days ago (2027-01-16)": the 20th's run
    began two seconds earlier in its minute than the 16th's."""
    read = at(16, 2, 0, 8)
    assert ago(read, at(20, 2, 0, 6)) == "4 days ago"
    assert ago(read, at(20, 5, 0)) == "4 days ago"
    assert when(read, at(20, 2, 0, 6)).ago == "4 days ago"


def test_months_and_years_are_made_of_the_same_days() -> None:
    assert ago(datetime(2025, 2, 8, 12, 2, tzinfo=UTC), datetime(2025, 3, 10, 12, tzinfo=UTC)) == (
        "a month ago"
    )
    assert ago(at(1, 2, 0, 9), at(1, 2, 0, 5) + timedelta(days=365)) == "a year ago"
    assert ago(at(1, 2), at(1, 2) + timedelta(days=29, hours=20)) == "29 days ago"


@pytest.mark.parametrize(
    ("span", "words"),
    [
        pytest.param(timedelta(seconds=30), "just now", id="seconds"),
        pytest.param(timedelta(seconds=90), "a minute ago", id="a-minute"),
        pytest.param(timedelta(minutes=59), "59 minutes ago", id="minutes"),
        pytest.param(timedelta(minutes=61), "an hour ago", id="an-hour"),
        pytest.param(timedelta(hours=20, minutes=59), "20 hours ago", id="hours-short-of-a-night"),
        pytest.param(timedelta(hours=21), "a day ago", id="a-night"),
        pytest.param(timedelta(days=2, hours=20), "2 days ago", id="two-nights-and-a-bit"),
    ],
)
def test_spans_shorter_than_a_night_keep_hours_and_minutes(span: timedelta, words: str) -> None:
    now = at(29, 2)
    assert ago(now - span, now) == words


def test_a_moment_ahead_counts_its_nights_too() -> None:
    """A snooze of a week set a few minutes before the report reads "in 7 days"."""
    now = at(20, 2, 10)
    assert ago(at(27, 2, 4), now) == "in 7 days"
    assert ago(now + timedelta(hours=2), now) == "in 2 hours"
