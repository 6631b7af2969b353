"""Staleness: which catalog entries a curator should look at again, and why.

Stage: health (pure judging, no I/O). Inputs: the time, `HealthSettings`, what storage
knows of one link (last success, first sighting, last review, how long the fingerprint
has not moved, the HTTP Last-Modified header) and the entry's title, description and
year. Output: zero or more `StaleReason`s, each with a sentence saying what to do.
The sentences name dates, never ages ("since 2024-03-02", not "400 days"): the same facts
give the same sentence every night, so storage rewrites an entry's reasons only when
something about it changed.

A link can work and still be stale: a 2018 report superseded by newer editions, a page
nobody re-read in years, a site frozen since its program ended. None of this is an error;
it is a to-do list for curators.

Datetimes without a zone (SQLite gives them back that way) are taken as UTC.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from catalog.clock import as_utc, http_date
from catalog.settings import HealthSettings, lasted
from catalog.text import clipped

__all__ = [
    "REVIEW_FIELDS",
    "StaleCode",
    "StaleReason",
    "edition_years",
    "named_years",
    "review_date",
    "staleness",
]

StaleCode = Literal["unverified", "review_overdue", "unchanged_long", "dated", "new_edition"]

#: Years outside this range are not publication years of anything we catalog.
_FIRST_YEAR, _LAST_YEAR = 1900, 2099


@dataclass(frozen=True)
class StaleReason:
    code: StaleCode
    #: One sentence for curators: what was seen and what to do.
    reason: str
    #: When the condition started (last success, last review, ...), if known.
    since: datetime | None


def staleness(
    *,
    now: datetime,
    settings: HealthSettings,
    last_success_at: datetime | None,
    first_seen_at: datetime | None,
    reviewed_at: datetime | None,
    fingerprint_unchanged_since: datetime | None,
    last_modified: str | None,
    title: str,
    description: str | None,
    year: int | None,
    linked_at: datetime | None = None,
    checked_since_success: bool = True,
    page_title: str | None = None,
    title_since: datetime | None = None,
    reading: bool = True,
) -> tuple[StaleReason, ...]:
    """Every reason the entry needs a curator's attention, in a fixed order.

    `linked_at` is when the entry got its current URL, if later than `first_seen_at`: a
    link that has not succeeded yet is unverified only from then, since the time before
    belongs to the URL it replaced.

    `checked_since_success` is False when no check has reached the link since its last
    success (or, for a link that never worked, ever): every try found our own network
    down. Such a link is not `unverified`: after a fortnight offline, telling curators to
    open every link of the catalog by hand would blame the sites for our outage.

    A review within `review_days` answers the two judgements of age (`dated`,
    `unchanged_long`): the curator re-read an old edition or a quiet site and kept it, and
    the report, which asks for exactly that review, must not ask again until the review is
    due. Whether the link works (`unverified`) is for the checks to say.

    `reading` is False when the last check that reached the link did not read its page:
    it failed (suspect or confirmed broken) or met a wall a person must look at. Such a
    link's fingerprint stands still because nobody reads the page, not because the page
    stands still, so `unchanged_long` is left out: "Confirmed broken" beside "content
    unchanged since 2023" told the curator two things, one of them unknown. When the link
    works again, the clock runs on from the fingerprint's date: the page read then is
    compared with the one read before the failure, and if it is the same, it did not
    change across the failing weeks as far as anyone can tell (a site that comes back as
    it was is the quiet site the reason asks about); if it differs, the clock starts anew.

    Every threshold in days is reached by a span up to `NIGHT_SLACK` short of it
    (`catalog.settings.lasted`): "14 days" counts on the 14th night, whether that night's
    run ended a few minutes earlier than the one it is counted from, or later.

    `page_title` is the linked page's title when it last worked, held since `title_since`
    (its last change, or when the entry got its link). A title naming a later year than
    the entry does (`new_edition`) is evidence, not an age: a review answers it only if
    made on or after that day, so an earlier review never hides a new edition, and a
    page whose text changes every week but whose title does not is not asked about again.
    """
    now = as_utc(now)

    @functools.cache
    def named() -> tuple[tuple[int, ...], tuple[int, ...]]:
        # The years of the title and of the description, read once: both judgements of
        # the entry's years weigh them, and every refresh reads every entry (twice a run).
        return named_years(title), named_years(description or "")

    reviewed = _opt(reviewed_at)
    recently_reviewed = reviewed is not None and not lasted(now - reviewed, settings.review_days)
    edition = (
        None
        if not page_title or (recently_reviewed and _reviewed_since(reviewed, _opt(title_since)))
        else _new_edition(now, page_title, named(), year, title_since)
    )
    found = [
        _unverified(now, settings, _opt(last_success_at), _later(first_seen_at, linked_at))
        if checked_since_success
        else None,
        _review_overdue(now, settings, reviewed, _opt(first_seen_at)),
        None
        if recently_reviewed or not reading
        else _unchanged_long(now, settings, _opt(fingerprint_unchanged_since), last_modified),
        # The page naming the newer edition says more than the entry's age does.
        None if recently_reviewed or edition is not None else _dated(now, settings, *named(), year),
        edition,
    ]
    return tuple(r for r in found if r is not None)


def _unverified(
    now: datetime, settings: HealthSettings, success: datetime | None, first: datetime | None
) -> StaleReason | None:
    since = success or first
    if since is None or not lasted(now - since, settings.unverified_days):
        return None
    if success is not None:
        text = f"No check has succeeded since {_date(since)}"
    else:
        text = f"No check has succeeded since the link was added on {_date(since)}"
    reason = f"{text}; open the link by hand and, if it is gone, find the resource's new address."
    return StaleReason("unverified", reason, since)


def _review_overdue(
    now: datetime, settings: HealthSettings, reviewed: datetime | None, first: datetime | None
) -> StaleReason | None:
    since = reviewed or first
    if since is None or not lasted(now - since, settings.review_days):
        return None
    if reviewed is not None:
        text = f"Last reviewed on {_date(since)}"
    else:
        text = f"Never reviewed since it was added on {_date(since)}"
    reason = (
        f"{text}; re-read the resource, check its title and description still fit, "
        "and mark it reviewed."
    )
    return StaleReason("review_overdue", reason, since)


def _unchanged_long(
    now: datetime, settings: HealthSettings, unchanged: datetime | None, last_modified: str | None
) -> StaleReason | None:
    limit = settings.unchanged_days
    if unchanged is None or not lasted(now - unchanged, limit):
        return None
    modified = http_date(last_modified)
    if modified is not None and modified > now + _SERVER_CLOCK_SLACK:
        # A page dated in the future (a server's wrong clock, a made-up date) tells nothing
        # about when it last changed; trusted, it would hide a frozen site for good.
        modified = None
    if modified is not None and not lasted(now - modified, limit):
        return None
    if modified is not None:
        evidence = (
            f"The content has not changed since {_date(unchanged)} and the server dates it "
            f"{_date(modified)}"
        )
    else:
        evidence = (
            f"The content has not changed since {_date(unchanged)} (by our fingerprints alone: "
            "the server sends no usable Last-Modified date)"
        )
    reason = (
        f"{evidence}; check whether the site is still maintained or has a newer version, "
        "and mark the entry reviewed if it is still the one to link."
    )
    return StaleReason("unchanged_long", reason, unchanged)


#: How far ahead of our clock a server's Last-Modified may be and still count: a server
#: clock a little fast, or ours a little slow.
_SERVER_CLOCK_SLACK = timedelta(days=1)


def _dated(
    now: datetime,
    settings: HealthSettings,
    title_years: tuple[int, ...],
    description_years: tuple[int, ...],
    year: int | None,
) -> StaleReason | None:
    """The newest year the entry names decides: history in a description ("the Act of
    2000") must not date a report whose own year is recent."""
    sources = [("title", y) for y in title_years]
    sources += [("description", y) for y in description_years]
    if year is not None:
        sources.append(("year field", year))
    sources = [(where, y) for where, y in sources if y <= now.year + 1]
    if not sources:
        return None
    where, newest = max(sources, key=lambda s: s[1])  # the first place naming it wins
    cutoff = now.year - settings.dated_years
    if newest >= cutoff:
        return None
    reason = (
        f"The newest year the entry names is {newest} (in its {where}), more than "
        f"{settings.dated_years} years ago; look for a newer edition and link it, or, if "
        "this one is kept on purpose, mark the entry reviewed."
    )
    return StaleReason("dated", reason, datetime(newest, 1, 1, tzinfo=UTC))


def _new_edition(
    now: datetime,
    page_title: str,
    entry_years: tuple[tuple[int, ...], tuple[int, ...]],
    year: int | None,
    page_since: datetime | None,
) -> StaleReason | None:
    """A report replaced by a newer edition at the same address: the page's title names a
    later year than anything in the entry ("2018 ... Report" linked, "2023 ... Report"
    served). An entry that names no year gives nothing to compare with."""
    latest = now.year + 1
    entry = [*entry_years[0], *entry_years[1]]
    if year is not None:
        entry.append(year)
    entry = [y for y in entry if y <= latest]
    shown = [y for y in edition_years(page_title) if y <= latest]
    # The entry's own year still in the title ("Annual Report 2018-2019", "Statistics 2015,
    # updated 2024") is the same edition, or the same one revised.
    if not entry or not shown or max(shown) <= max(entry) or max(entry) in shown:
        return None
    quoted = clipped(page_title, _QUOTED)
    reason = (
        f"The page's title names {max(shown)} (“{quoted}”), later than any year the entry "
        f"names ({max(entry)}); if the link now leads to a newer edition, update the entry's "
        "title and year, or link the edition the entry describes, and mark the entry reviewed."
    )
    return StaleReason("new_edition", reason, _opt(page_since))


#: Characters of a page title quoted in a reason.
_QUOTED = 160
#: Years of a title that name no edition: a copyright line ("© 1998-2026", which rolls
#: over every January) and an update ("updated March 2024").
_NOT_EDITION = re.compile(
    r"(?:©|\(c\)|copyright|updated|revised|last modified|as of)\W*"
    r"(?:[a-z]+\.?\s+)?(?:\d{1,2},?\s+)?\d{4}(?:\s*[-–—/]\s*\d{2,4})?",
    re.IGNORECASE,
)
#: A range of years ("2018-2019", "1998–2026"): its first year is the edition's.
_RANGE = re.compile(r"\b(\d{4})\s*[-–—/]\s*\d{2,4}\b")


def _edition_years(page_title: str) -> str:
    """`page_title` with only the years that can name an edition."""
    return _RANGE.sub(r"\1", _NOT_EDITION.sub(" ", page_title))


def edition_years(page_title: str) -> tuple[int, ...]:
    """The years a page's title names that can name an edition (`new_edition` weighs them):
    not a copyright line's or an update's, nor a range's second year."""
    return named_years(_edition_years(page_title))


def _reviewed_since(reviewed: datetime | None, page_since: datetime | None) -> bool:
    """Reviewed on or after the day the page took its present form. By date: a review is
    recorded as a day (`reviewed_at: 2026-12-05`), the page's form by the check's time."""
    if reviewed is None:
        return False
    return page_since is None or reviewed.date() >= page_since.date()


# --- review dates ----------------------------------------------------------------------

#: Fields of a catalog entry that record when a curator last reviewed it.
REVIEW_FIELDS = ("reviewed_at", "reviewed")


def review_date(value: Any) -> datetime | None:
    """A review date as the curator wrote it (YAML date, ISO text), or None if it is not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


# --- years in text ----------------------------------------------------------------------

#: A run of letters and digits, possibly joined by - – / . or a thousands comma, so that
#: "1-888-373-7888", "2014-VT-BX-K00X", "U.S.C." and "2,125" each come as one piece.
_PIECE = re.compile(r"[^\W_]+(?:(?:[-–/.]|,(?=\d{3}(?!\d)))[^\W_]+)*")
_PARTS = re.compile(r"[-–/.,]")
#: Every year `_piece_years` reads is a part of exactly four decimal digits.
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
#: Fiscal years: "FY 2015", "FY2015", "FY15", "FY 2015-2016".
_FISCAL = re.compile(
    r"(?<!\w)fy\s?(\d{2}(?:\d{2})?)(?:[-–/](\d{2}(?:\d{2})?))?(?!\w)", re.IGNORECASE
)
#: Words before a number that make it a count, a code or a citation, not a year.
_NOT_YEAR_BEFORE_TEXT = """
    u.s.c usc cfr c.f.r § §§ section sec no number nos ncj pp p page pages id grant award
    title chapter ch part art article rule room suite box route highway code case docket
    than over about approximately nearly almost some least under around exceeding
"""
_NOT_YEAR_BEFORE = frozenset(_NOT_YEAR_BEFORE_TEXT.split())
#: Words after a number that make it a count.
_NOT_YEAR_AFTER_TEXT = """
    pages pp languages cities counties people persons victims survivors cases calls hours
    members officers agencies participants times miles dollars copies records sites
    organizations children women men students words contacts
"""
_NOT_YEAR_AFTER = frozenset(_NOT_YEAR_AFTER_TEXT.split())


def named_years(text: str) -> tuple[int, ...]:
    """Years a title or description names, each once (fiscal years first).

    "2018 Trafficking in Persons Report", "FY 2015", "2nd edition (2012)", "2006 to
    2011", "2015-16" name years; "1-888-373-7888", "Title 22 U.S.C. 7102", "18 U.S.C.
    1952", "2,125 cities", "more than 2000 victims" and "2014-VT-BX-K00X" do not.

    Every entry's title and description are read twice a run (both staleness refreshes),
    so the common cases are cut short: no fiscal year means no substitution, and only a
    piece holding a run of four digits is weighed (`_piece_years` finds nothing in any
    other), its neighbours read only then.
    """
    years: list[int] = []
    if _FISCAL.search(text) is not None:
        for match in _FISCAL.finditer(text):
            years += [_full_year(g) for g in match.groups() if g]
        text = _FISCAL.sub(" ", text)
    # Every other form holds a run of four digits; most titles have none.
    if _FOUR_DIGITS.search(text) is None:
        return tuple(dict.fromkeys(y for y in years if _FIRST_YEAR <= y <= _LAST_YEAR))
    pieces = list(_PIECE.finditer(text))
    for i, match in enumerate(pieces):
        piece = match.group(0)
        if piece.isalpha() or _FOUR_DIGITS.search(piece) is None:
            continue  # letters only, or no run of four digits: no year (`_piece_years`)
        previous = pieces[i - 1].group(0) if i > 0 else ""
        before = text[max(0, match.start() - 2) : match.start()].strip()
        after = pieces[i + 1].group(0).lower() if i + 1 < len(pieces) else ""
        counted = previous.lower().rstrip(".") in _NOT_YEAR_BEFORE or after in _NOT_YEAR_AFTER
        if not counted and not before.endswith(("$", "#", "§", "№")):
            years += _piece_years(piece)
    return tuple(dict.fromkeys(y for y in years if _FIRST_YEAR <= y <= _LAST_YEAR))


def _piece_years(piece: str) -> list[int]:
    parts = _PARTS.split(piece)
    # isdecimal, not isdigit: "201²" is digits, but not a number int() can read.
    if not all(p.isdecimal() for p in parts) or "," in piece:
        return []  # letters (grant numbers, "1990s") or a thousands separator
    sizes = [len(p) for p in parts]
    if sizes == [4]:
        return [int(parts[0])]
    if sizes == [4, 4] and int(parts[0]) < int(parts[1]):  # 2006-2011
        return [int(parts[0]), int(parts[1])]
    if sizes == [4, 2] and "." not in piece:  # 2015-16
        return [int(parts[0]), int(parts[0][:2] + parts[1])]
    if sizes == [4, 2, 2] and "." not in piece:  # 2016-05-16
        return [int(parts[0])]
    if len(sizes) == 3 and sizes[2] == 4 and max(sizes[:2]) <= 2:  # 05/16/2016
        return [int(parts[2])]
    return []


def _full_year(digits: str) -> int:
    return int(digits) if len(digits) == 4 else 2000 + int(digits)


# --- time helpers -----------------------------------------------------------------------


def _opt(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    known = [as_utc(m) for m in (first, second) if m is not None]
    return max(known) if known else None


def _date(moment: datetime) -> str:
    return moment.date().isoformat()
