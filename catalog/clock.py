"""Time, injectable: every stage takes a `Clock` so tests control it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
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
