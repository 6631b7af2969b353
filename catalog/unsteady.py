"""News that would repeat every night, told once: a page whose content (or title) changes
at every read, a permanent redirect that comes and goes (or leads elsewhere by turns), a
page that stops matching its entry and matches it again by turns.

A rotating news block was "Content changed" each night, a site that answered 301 on odd
nights "Now redirects permanently" and "No longer redirects permanently" by turns for
weeks: a curator who reads the same item every night learns to skip the section. Whether a
link is unsteady is decided here from its stored history (observations and events), the
report only words it (`reports.changes`): the few first changes are news, the one that
shows the link unsteady says so once (`Unsteady.first`), and the later ones of that kind
are quiet while it lasts. The events are all stored as before. A page steady for weeks that
changes is news as ever: only changes at each of the last `READS_IN_A_ROW` reads are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.check.redirects import address_key, same_address, stable_url
from catalog.clock import as_utc
from catalog.outcomes import Outcome, Severity
from catalog.settings import lasted
from catalog.tables import Event, Link, Observation

#: Changes at this many reads in a row make a page one that changes at every read.
READS_IN_A_ROW = 3
#: A permanent redirect that came, went or led elsewhere this many times within
#: `REDIRECT_WINDOW_DAYS` comes and goes: twice is news (it came, it went), the third time
#: says it is unsteady. So does a page that drifted from its entry or matched it again.
REDIRECT_CHANGES = 3
REDIRECT_WINDOW_DAYS = 14

CONTENT = "content"
TITLE = "title"
REDIRECT = "redirect"
DRIFT = "drift"

#: Reads kept per link to count a streak: a few more than the streak needs.
_READS_KEPT = 4 * READS_IN_A_ROW
#: How far before the window's first change reads are fetched: `_READS_KEPT` reads of a
#: page read weekly. Bounds the query through `ix_observations_link_checked` (a year of
#: history ranked whole took 14 s); a page read less often counts from its oldest read.
_READS_SPAN = timedelta(days=7 * _READS_KEPT)
#: A content change that multiplies or divides the page's size by this much is another
#: page in its place (460 B -> 87.9 KiB), not a rotating block's new items: news.
_REPLACED_FACTOR = 2
_CHUNK = 500
_MOVED = Outcome.REDIRECTED_PERMANENT.value
#: Events of a redirect that now leads elsewhere (`redirect_change`).
_TARGET_KINDS = ("redirect_changed", "final_url_changed")
#: The events of a page that stops matching its entry, or matches it again (`judge_drift`).
_DRIFT_KINDS = ("drift_detected", "drift_cleared")
#: Outcomes whose check read the page (or its redirect's target).
_READ_OUTCOMES = tuple(o.value for o in Outcome if o.severity in (Severity.OK, Severity.UPDATE))


@dataclass(frozen=True)
class Unsteady:
    """Of one event: its link's change of this `kind` is one of a run of them."""

    kind: str
    #: The event that shows the link unsteady, told once; later ones (False) are quiet.
    first: bool
    #: Reads in a row that changed (content, title), or the redirect's comings and goings
    #: (redirect), or the page's drifts and matches again (drift), within
    #: `REDIRECT_WINDOW_DAYS`.
    count: int


def changed_reads(
    reads: Iterable[datetime], changed: Collection[datetime], at: datetime
) -> list[bool]:
    """Whether each of the link's reads up to `at`, oldest first, changed the page
    (`changed`: the times of its change events of one kind).

    Only changes since the oldest read known count: the reads between older ones may have
    been pruned (`db prune`), and three changes a year apart are no page that changes at
    every read."""
    read = [r for r in reads if r <= at]
    if not read:
        return []
    oldest = min(read)
    known = {*read, *(c for c in changed if oldest <= c <= at)}
    return [one in changed for one in sorted(known)]


def unsteady_flags(changes: Sequence[bool]) -> list[bool]:
    """After each read (`changed_reads`), whether the page changes at every read: from the
    `READS_IN_A_ROW`-th change in a row, until fewer than 2 of its last 3 reads changed.
    A rotating block that kept its items for one night was said anew three reads later;
    two steady reads of 3 make it steady again, so a change after them is news."""
    flags: list[bool] = []
    unsteady, streak = False, 0
    for at, change in enumerate(changes):
        streak = streak + 1 if change else 0
        if streak >= READS_IN_A_ROW:
            unsteady = True
        elif unsteady and sum(changes[max(0, at - 2) : at + 1]) < 2:
            unsteady = False
        flags.append(unsteady)
    return flags


def judge_reads(
    kind: str, reads: Iterable[datetime], changed: Collection[datetime], at: datetime
) -> Unsteady | None:
    """The change of `kind` at the read at `at`, if it is one of a page that changes at
    every read (`unsteady_flags`); `first` if it is the one that shows it."""
    changes = changed_reads(reads, changed, at)
    flags = unsteady_flags(changes)
    if not flags or not flags[-1]:
        return None
    streak = changes[::-1].index(False) if False in changes else len(changes)
    return Unsteady(kind, len(flags) < 2 or not flags[-2], streak)


def changes_within(changes: Iterable[datetime], at: datetime) -> int:
    """The `changes` (a redirect's comings and goings, a page's drifts and matches again)
    within the window up to `at`."""
    return sum(1 for c in changes if c <= at and not lasted(at - c, REDIRECT_WINDOW_DAYS))


def judge_redirect(changes: Sequence[datetime], at: datetime) -> Unsteady | None:
    """The permanent redirect's coming or going at `at`, one of `changes` (all its link's)."""
    count = changes_within(changes, at)
    if count < REDIRECT_CHANGES:
        return None
    before = [c for c in changes if c < at]
    steady_before = not before or changes_within(changes, max(before)) < REDIRECT_CHANGES
    return Unsteady(REDIRECT, steady_before, count)


def judge_drift(
    flips: Collection[datetime], reads: Sequence[datetime], at: datetime
) -> Unsteady | None:
    """The page's drift from an entry, or its match again, at `at` (one of `flips`, all that
    entry's: `judge_entry_drift`), if it is one of a page that keeps flipping:
    `REDIRECT_CHANGES` flips within the window, the one before it less than
    `READS_IN_A_ROW` reads ago (`reads`: the times of the link's reads). One server of two
    behind a balancer serving the home page made every night news. A page that held its
    match (or drift) for a few reads and then changes is news as ever, however it flipped
    before: a drift that stays is a fix to make."""

    def flipping(when: datetime) -> int | None:
        before = [f for f in flips if f < when]
        count = changes_within(flips, when)
        if count < REDIRECT_CHANGES or not before or _held(reads, max(before), when):
            return None
        return count

    count = flipping(at)
    if count is None:
        return None
    return Unsteady(DRIFT, flipping(max(f for f in flips if f < at)) is None, count)


def entry_flips(
    events: Iterable[tuple[datetime, str, int | None]],
) -> dict[int | None, set[datetime]]:
    """Each entry's flips (`judge_drift`) among its link's drift events (time, kind and the
    entry named, oldest first): its own, and the link-wide ones (naming no entry: the flag
    concerned every entry) that cleared it. Drift is an entry's: a curator who fixed a
    drifted entry (a link-wide clear), added a wrong one on that address (its drift) and
    fixed that one too made three changes, of two entries, and no page that flips. A
    link-wide event with no entry known drifted (its drift older than those read) counts
    for each entry named, or under None when none is."""
    events = list(events)
    named = {entry for _, _, entry in events if entry is not None}
    flips: dict[int | None, set[datetime]] = defaultdict(set)
    drifted: set[int | None] = set()
    for at, kind, entry in events:
        if entry is not None:
            concerned: set[int | None] = {entry}
        elif kind == "drift_cleared" and drifted:
            concerned = set(drifted)
        else:
            concerned = set(named) or {None}
        for key in concerned:
            flips[key].add(at)
        if kind == "drift_detected":
            drifted |= concerned
        else:
            drifted -= concerned
    return flips


def judge_entry_drift(
    flips: Mapping[int | None, Collection[datetime]],
    entry: int | None,
    reads: Sequence[datetime],
    at: datetime,
) -> Unsteady | None:
    """A drift event at `at` of `entry` (None: link-wide) judged by `judge_drift` on the
    flips of the entry (`entry_flips`); a link-wide one on those of each entry it
    concerned, and news unless the page flips for each of them."""
    if entry is not None:
        return judge_drift(flips.get(entry, ()), reads, at)
    judged = [judge_drift(ts, reads, at) for ts in flips.values() if at in ts]
    verdicts = [v for v in judged if v is not None]
    if not verdicts or len(verdicts) < len(judged):
        return None
    return Unsteady(DRIFT, any(v.first for v in verdicts), max(v.count for v in verdicts))


def _held(reads: Sequence[datetime], since: datetime, at: datetime) -> bool:
    """Whether the page was read `READS_IN_A_ROW` times from `since` to before `at`; so it
    is taken where reads from `since` are not known (pruned, or older than those fetched)."""
    if not reads or since < min(reads):
        return True
    return sum(1 for r in reads if since <= r < at) >= READS_IN_A_ROW


def replaced(details: Mapping[str, Any]) -> bool:
    """Whether a `content_changed` put another page in place (size x`_REPLACED_FACTOR` or
    more, either way): a rotating block's items churn its size far less."""
    old, new = details.get("old_content_length"), details.get("new_content_length")
    if not isinstance(old, int) or not isinstance(new, int) or old <= 0 or new <= 0:
        return False
    return max(old, new) >= _REPLACED_FACTOR * min(old, new)


def moved_in_or_out(details: Mapping[str, object]) -> bool:
    """Whether an `outcome_changed` is a permanent redirect coming or going."""
    return _MOVED in (details.get("old"), details.get("new"))


def redirect_change(kind: str, details: Mapping[str, object], url: str) -> bool:
    """Whether an event of the link at `url` changes its redirect: a permanent one coming
    or going, or a redirect that leads elsewhere (its first hop or final address, from one
    target to another). Two servers behind a balancer that send the link to /report-a and
    /report-b by turns were "Now leads somewhere else" every night: such a change counts as
    a coming does. A link answering directly has its own address as its final one (as
    the checker records it): a redirect that comes or goes changes that address from or to
    the link's own, and counts only by its outcome (a night's 302 detour to another site's
    maintenance page made a real move a few nights later "unsteady")."""
    if kind == "outcome_changed":
        return moved_in_or_out(details)
    if kind in _TARGET_KINDS:
        return _target(details.get("old"), url) and _target(details.get("new"), url)
    return False


def _target(address: object, url: str) -> bool:
    """Whether `address` is a redirect's target: set, and not the link's own `url` (compared
    as `catalog.health` compares them, `same_address`)."""
    return isinstance(address, str) and bool(address) and not same_address(address, url)


class _Event(Protocol):
    """What of an event the judgement needs (`queries.EventRow` has more)."""

    @property
    def id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def link_id(self) -> int | None: ...
    @property
    def link_url(self) -> str | None: ...
    @property
    def resource_pk(self) -> int | None: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


def unsteady_news(session: Session, events: Sequence[_Event]) -> dict[int, Unsteady]:
    """The window's `events` (oldest first) that change an unsteady link, by id: content
    and title changes at each of the link's last reads, a permanent redirect's comings,
    goings and changes of target (`redirect_change`), and a page's drifts and matches again
    by turns (each entry's own: `judge_entry_drift`). Of the events of one check (its
    first hop and final address changed together), only the first is `first`: one item.
    A drift from two entries at one check is one item of each: the second entry's own
    page flipping is no less news."""
    found: dict[int, Unsteady] = {}
    for kind, event_kind, column in (
        (CONTENT, "content_changed", Observation.fingerprint),
        (TITLE, "title_changed", Observation.title),
    ):
        mine = [e for e in events if e.kind == event_kind and e.link_id is not None]
        if not mine:
            continue
        links = sorted({e.link_id for e in mine if e.link_id is not None})
        reads = _reads(session, links, column, min(as_utc(e.at) for e in mine) - _READS_SPAN)
        changed = _event_times(session, links, (event_kind,), _oldest(reads))
        for e in mine:
            link = e.link_id or 0
            at = as_utc(e.at)
            if kind == CONTENT and replaced(e.details):
                continue  # another page in its place: news, however unsteady the old one
            verdict = judge_reads(kind, reads[link], changed[link], at)
            if verdict is not None:
                found[e.id] = verdict
    moves = [e for e in events if redirect_change(e.kind, e.details, e.link_url or "")]
    if moves:
        links = sorted({e.link_id for e in moves if e.link_id is not None})
        since = min(as_utc(e.at) for e in moves) - timedelta(days=2 * REDIRECT_WINDOW_DAYS + 1)
        times = _redirect_times(session, links, since)
        told: set[tuple[int, datetime]] = set()
        for e in moves:
            check = (e.link_id or 0, as_utc(e.at))
            verdict = judge_redirect(times[check[0]], check[1])
            if verdict is not None:
                found[e.id] = replace(verdict, first=verdict.first and check not in told)
                told.add(check)
    flips = [e for e in events if e.kind in _DRIFT_KINDS and e.link_id is not None]
    if flips:
        links = sorted({e.link_id for e in flips if e.link_id is not None})
        earliest = min(as_utc(e.at) for e in flips)
        drift_reads = _reads(session, links, Observation.fingerprint, earliest - _READS_SPAN)
        since = earliest - timedelta(days=2 * REDIRECT_WINDOW_DAYS + 1)
        drift_times = _drift_times(session, links, since)
        told_entries: set[tuple[int, datetime, int | None]] = set()
        for e in flips:
            check = (e.link_id or 0, as_utc(e.at))
            flipped = drift_times[check[0]]
            verdict = judge_entry_drift(flipped, e.resource_pk, drift_reads[check[0]], check[1])
            if verdict is not None:
                entry = (*check, e.resource_pk)  # each entry's drift is its own news
                found[e.id] = replace(verdict, first=verdict.first and entry not in told_entries)
                told_entries.add(entry)
    return found


def unsteady_redirects(session: Session, links: Collection[int]) -> dict[int, int]:
    """Of `links`, those that redirect permanently now, but whose redirect came, went or led
    elsewhere (`redirect_change`) at least `REDIRECT_CHANGES` times within the window up to
    their last check: link id -> how many times. The queue does not tell the curator to
    accept a redirect the site keeps undoing; one that stayed at its last `READS_IN_A_ROW`
    checks since it came is steady again (`steadied_redirects`)."""
    return _redirect_states(session, links)[0]


def steadied_redirects(session: Session, links: Collection[int]) -> dict[int, datetime]:
    """Of `links`, those whose redirect came and went (`unsteady_redirects`) and then
    stayed at `READS_IN_A_ROW` checks since it last came: link id -> the check at which it
    did. The queue offers `accept-redirect` again from then, and the news says so once."""
    return _redirect_states(session, links)[1]


def redirect_turns(session: Session, links: Collection[int]) -> dict[int, tuple[str, ...]]:
    """Of `links` redirecting permanently now, those whose redirect leads elsewhere by turns
    (`leads_by_turns`) at their checks within the window up to their last check: link id ->
    the addresses it led to there (as `accept-redirect` would take them), sorted. Two
    servers behind a balancer make tonight's target no address to move the entry to; a
    redirect that moved once (/new-a, a night without it, then /new-b) is not one of them:
    its latest target is offered once it stays (`steadied_redirects`). Targets are told
    apart as the checker tells them (`same_address`): one with a fresh session id each
    night, or its host in capitals on some, is one address (`_spelling`). For the few
    unsteady links (`unsteady_redirects`): reads their checks of the window through
    `ix_observations_link_checked`, one query for them all."""
    checked = _redirected_last_checked(session, links)
    found: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    window = REDIRECT_WINDOW_DAYS
    if checked:
        query = select(
            Observation.link_id,
            Observation.checked_at,
            func.coalesce(Observation.suggested_url, Observation.final_url),
        ).where(
            Observation.link_id.in_(sorted(checked)),
            Observation.checked_at >= min(checked.values()) - timedelta(days=window),
            Observation.outcome == _MOVED,
        )
        for link_id, at, target in session.execute(query):
            last, at = checked.get(link_id), as_utc(at)
            if target and last is not None and at <= last and not lasted(last - at, window):
                found[link_id].append((at, address_key(target), target))
    turns: dict[int, tuple[str, ...]] = {}
    for link, seen in found.items():
        seen.sort()
        if not leads_by_turns([key for _, key, _ in seen]):
            continue
        by_address: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for at, key, target in seen:
            by_address[key].append((at, target))
        turns[link] = tuple(sorted(_spelling(spelt) for spelt in by_address.values()))
    return turns


def leads_by_turns(seen: Sequence[str]) -> bool:
    """Whether a redirect that led to the addresses `seen` (as `address_key` tells them
    apart, in the order of its checks, those without the redirect left out) leads
    elsewhere by turns: it left an address for another and came back to it, or led to three
    or more (three servers that have not come round yet; a site moves a page once, not
    twice within the window). /new-a, then /new-b from then on is a move, however many
    nights it stayed on each or went between them."""
    stays = [key for at, key in enumerate(seen) if at == 0 or seen[at - 1] != key]
    return len(set(stays)) < len(stays) or len(set(stays)) > 2


def _spelling(seen: Sequence[tuple[datetime, str]]) -> str:
    """The one way to write an address its redirect spelt several ways (checks' times and
    targets): without a session id (`stable_url`, as the checker now records targets),
    the most often seen, then the latest, so the row's words hold from night to night."""
    counts = Counter(stable_url(target) for _, target in seen)
    latest = {stable_url(target): at for at, target in sorted(seen)}
    return max(counts, key=lambda target: (counts[target], latest[target]))


def _redirected_last_checked(session: Session, links: Collection[int]) -> dict[int, datetime]:
    """Of `links`, those redirecting permanently at their last check: link id -> when."""
    return {
        link: as_utc(at)
        for link, at in session.execute(
            select(Link.id, Link.last_checked_at).where(
                Link.id.in_(sorted(links)),
                Link.outcome == _MOVED,
                Link.last_checked_at.is_not(None),
            )
        )
        if at is not None
    }


def _redirect_states(
    session: Session, links: Collection[int]
) -> tuple[dict[int, int], dict[int, datetime]]:
    """(`unsteady_redirects`, `steadied_redirects`). Reads links by id and events through
    `ix_events_link_kind_at`: no scan of either table."""
    checked = _redirected_last_checked(session, links)
    if not checked:
        return {}, {}
    since = max(checked.values()) - timedelta(days=REDIRECT_WINDOW_DAYS + 1)
    times = _redirect_times(session, sorted(checked), since)
    counts = {link: changes_within(ts, checked[link]) for link, ts in times.items()}
    came_and_went = {link: n for link, n in counts.items() if n >= REDIRECT_CHANGES}
    stays = _stays_redirected(session, {link: times[link][-1] for link in came_and_went})
    unsteady = {link: n for link, n in came_and_went.items() if link not in stays}
    return unsteady, stays


def _stays_redirected(session: Session, came: Mapping[int, datetime]) -> dict[int, datetime]:
    """Of links redirecting permanently since `came[link]` (its redirect's last coming or
    change of target), those checked `READS_IN_A_ROW` times since, with the check that made
    it so: each check redirected there (a going or another target would be newer), so the
    site keeps the redirect now."""
    checks: dict[int, list[datetime]] = defaultdict(list)
    if came:
        query = select(Observation.link_id, Observation.checked_at).where(
            Observation.link_id.in_(sorted(came)), Observation.checked_at >= min(came.values())
        )
        for link_id, at in session.execute(query):
            if link_id is not None and as_utc(at) >= came[link_id]:
                checks[link_id].append(as_utc(at))
    return {
        link: sorted(ats)[READS_IN_A_ROW - 1]
        for link, ats in checks.items()
        if len(ats) >= READS_IN_A_ROW
    }


def _reads(
    session: Session, links: Sequence[int], column: object, since: datetime
) -> dict[int, list[datetime]]:
    """The times of each link's last `_READS_KEPT` checks since `since` that read its page
    (`column`, its fingerprint or title, set; or a 304 that vouched for it)."""
    reads: dict[int, list[datetime]] = defaultdict(list)
    for start in range(0, len(links), _CHUNK):
        ranked = (
            select(
                Observation.link_id,
                Observation.checked_at,
                func.row_number()
                .over(partition_by=Observation.link_id, order_by=Observation.checked_at.desc())
                .label("rank"),
            )
            .where(
                Observation.link_id.in_(links[start : start + _CHUNK]),
                Observation.checked_at >= since,
                Observation.outcome.in_(_READ_OUTCOMES),
                or_(column.is_not(None), Observation.not_modified.is_(True)),  # type: ignore[attr-defined]
            )
            .subquery()
        )
        query = select(ranked.c.link_id, ranked.c.checked_at).where(ranked.c.rank <= _READS_KEPT)
        for link_id, at in session.execute(query):
            reads[link_id].append(as_utc(at))
    return reads


def _oldest(reads: Mapping[int, Sequence[datetime]]) -> datetime | None:
    return min((min(ts) for ts in reads.values() if ts), default=None)


def _event_times(
    session: Session, links: Sequence[int], kinds: Collection[str], since: datetime | None
) -> dict[int, set[datetime]]:
    """The times of each link's events of `kinds` since `since`."""
    times: dict[int, set[datetime]] = defaultdict(set)
    for start in range(0, len(links), _CHUNK):
        query = select(Event.link_id, Event.at).where(
            Event.link_id.in_(links[start : start + _CHUNK]), Event.kind.in_(sorted(kinds))
        )
        if since is not None:
            query = query.where(Event.at >= since)
        for link_id, at in session.execute(query):
            times[link_id or 0].add(as_utc(at))
    return times


def _drift_times(
    session: Session, links: Sequence[int], since: datetime
) -> dict[int, dict[int | None, set[datetime]]]:
    """Each link's entries' flips (`entry_flips`) since `since`."""
    events: dict[int, list[tuple[datetime, str, int | None]]] = defaultdict(list)
    for start in range(0, len(links), _CHUNK):
        query = (
            select(Event.link_id, Event.at, Event.kind, Event.resource_id)
            .where(
                Event.link_id.in_(links[start : start + _CHUNK]),
                Event.kind.in_(_DRIFT_KINDS),
                Event.at >= since,
            )
            .order_by(Event.at, Event.id)
        )
        for link_id, at, kind, entry in session.execute(query):
            events[link_id or 0].append((as_utc(at), kind, entry))
    return defaultdict(dict, {link: entry_flips(evs) for link, evs in events.items()})


def _redirect_times(
    session: Session, links: Sequence[int], since: datetime
) -> dict[int, list[datetime]]:
    """The times (checks) each link's permanent redirect came, went or led elsewhere
    (`redirect_change`) since `since`, oldest first."""
    times: dict[int, set[datetime]] = defaultdict(set)
    for start in range(0, len(links), _CHUNK):
        query = (
            select(Event.link_id, Event.kind, Event.at, Event.details, Link.url)
            .join(Link, Link.id == Event.link_id)
            .where(
                Event.link_id.in_(links[start : start + _CHUNK]),
                Event.kind.in_(("outcome_changed", *_TARGET_KINDS)),
                Event.at >= since,
            )
        )
        for link_id, kind, at, details, url in session.execute(query):
            if redirect_change(kind, details or {}, url):
                times[link_id or 0].add(as_utc(at))
    return defaultdict(list, {link: sorted(ts) for link, ts in times.items()})
