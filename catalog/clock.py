"""Time, injectable: every stage takes a `Clock` so tests control it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken as UTC (SQLite gives datetimes back without a
    zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The calendar date at `moment` in this machine's own time zone, the curator's: in
    Sydney at 08:00 it is already the day UTC reaches ten hours later, and a curator who
    writes or records "today" means that day. A naive `moment` is taken as UTC."""
    return as_utc(moment).astimezone().date()


#: How far ahead of UTC a clock on Earth runs (Kiribati, UTC+14).
AHEAD_OF_UTC = timedelta(hours=14)


def latest_date(moment: datetime) -> date:
    """The latest calendar date anywhere on Earth at `moment`: a date after it is ahead for
    every curator, wherever the machine judging it is (a report built on a UTC server
    called a Sydney curator's today "in the future" until UTC's day caught up)."""
    return (as_utc(moment) + AHEAD_OF_UTC).date()


def http_date(value: str | None) -> datetime | None:
    """An RFC 9110 date (`Last-Modified`, `Retry-After`, `Date`), aware; None for anything
    a server got wrong."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
