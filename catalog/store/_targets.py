"""The plan's read: what to check this run, with each link's previous state."""

from __future__ import annotations

import json
import math
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Engine, Text, case, cast, func, select, tuple_

from catalog import tables as t
from catalog.check import contacts
from catalog.check.fetch import stands_in
from catalog.check.soft404 import may_name_a_message
from catalog.collation import byte_order
from catalog.health import CONTACT_MISSED_LIKE, contact_unconfirmed
from catalog.model import LEGACY_FINGERPRINT, Previous, Target
from catalog.outcomes import Outcome
from catalog.settings import night_span
from catalog.store._sql import CHUNK, chunks, read_session, table_of


def targets_for_check(
    engine: Engine,
    *,
    now: datetime,
    fingerprint_max_age_days: float,
    resource_ids: Sequence[str] | None = None,
    collection_keys: Sequence[str] | None = None,
    entries: Sequence[tuple[str, str]] | None = None,
) -> list[Target]:
    """One Target per distinct link of the active resources, in URL order but for a host
    some of whose links were last checked a night before its others, whose links checked
    least recently go first (`_least_recent_first`); only those of `entries` ((collection
    key, resource id) pairs) when given. A Target's entries (`resource_ids`, `titles`) come
    in id order, those of one id in several catalogs in their collection keys' order.

    A Target's contacts are those every active entry of its link names, whatever the
    filter (`recheck KEY`, `check --id`), in the order of their rows (`resources.id`), as
    the store judges them (`health.apply_contacts`): a run for one entry looked only for
    its own, and another entry's number on the same page read as gone."""
    link, res, col = table_of(t.Link), table_of(t.Resource), table_of(t.Collection)
    obs = table_of(t.Observation)

    # The check that read the page: the observation stamped with the link's
    # `fingerprinted_at` (ix_observations_link_checked). One lookup gives its methods and
    # where it ended ("HEAD,GET https://..."); the addresses it passed through are looked
    # up only for links whose last check ended elsewhere than their URL (the few).
    def read(column: Any) -> Any:
        return (
            select(column)
            .where(obs.c.link_id == link.c.id, obs.c.checked_at == link.c.fingerprinted_at)
            .limit(1)
            .scalar_subquery()
        )

    read_at = read(obs.c.methods + " " + func.coalesce(obs.c.final_url, ""))
    read_chain = case((link.c.final_url != link.c.url, read(obs.c.chain)), else_=None)
    # The contacts lists of the few links a full read missed a contact of (as JSON text,
    # decoded only for those): the rest read NULL.
    seen_text = cast(link.c.contacts_seen, Text)
    missed = seen_text.like(CONTACT_MISSED_LIKE)
    query = (
        select(
            link.c.id,
            link.c.url,
            link.c.host,
            link.c.last_checked_at,
            link.c.etag,
            link.c.last_modified,
            link.c.fingerprint,
            link.c.fingerprinted_at,
            link.c.content_length,
            link.c.content_type,
            link.c.title,
            link.c.outcome,
            link.c.drift_reason,
            link.c.text_upto,
            read_at.label("read_at"),
            read_chain.label("read_chain"),
            case((missed, seen_text), else_=None).label("contacts_missed"),
            case((missed, cast(link.c.contacts_gone, Text)), else_=None).label("contacts_left"),
            res.c.rid,
            col.c.key.label("collection_key"),
            res.c.id.label("entry_id"),
            res.c.title.label("entry_title"),
            res.c.fields["description"].as_string().label("entry_description"),
            res.c.text_at.label("entry_text_at"),
        )
        .join(res, res.c.link_id == link.c.id)
        .join(col, col.c.id == res.c.collection_id)
        .where(res.c.removed_at.is_(None))
        .order_by(byte_order(link.c.url), byte_order(res.c.rid), byte_order(col.c.key))
    )
    # A filter is one bound parameter per value (two per pair): past 65,535 in a statement
    # PostgreSQL refuses it, and SQLite past its SQLITE_MAX_VARIABLE_NUMBER (32,766, or
    # 999 on old builds), so a `recheck --failing` of tens of thousands of entries failed.
    # A small filter stays in SQL, read through the indexes (one entry of 100,000 reads
    # its rows only); a larger one is kept out of SQL and the rows (every active entry,
    # as an unfiltered run reads them) are kept by set membership as they stream. Not
    # chunked IN lists: a link's rows would be split between chunks, and the per-link
    # grouping below (its entries, titles, stamps) needs them together, in URL order.
    keep: list[tuple[Any, frozenset[Any]]] = []  # (row -> its value, the values kept)
    for values, column, width, value_of in (
        (resource_ids, res.c.rid, 1, attrgetter("rid")),
        (collection_keys, col.c.key, 1, attrgetter("collection_key")),
        (entries, tuple_(col.c.key, res.c.rid), 2, attrgetter("collection_key", "rid")),
    ):
        if values is None:
            continue
        wanted = list(values)
        if len(wanted) * width <= IN_SQL_MOST:
            query = query.where(column.in_(wanted))
        else:
            keep.append((value_of, frozenset(tuple(v) if width == 2 else v for v in wanted)))
    # Counted in nights (`lasted`): the plan starts before last week's check of a link did.
    max_age = night_span(fingerprint_max_age_days)
    filtered = resource_ids is not None or collection_keys is not None or entries is not None
    targets: list[Target] = []
    link_ids: list[int] = []
    #: Index in `targets` -> (the latest text stamp of its entries, that its last full read
    #: covered, whether it is flagged as drifted), of the links whose page was read.
    pages: dict[int, tuple[datetime | None, datetime | None, bool]] = {}
    #: Each target's last check (`_checked_at`), in `targets` order: 8 bytes a link.
    checked = array("d")
    with read_session(engine) as s:
        # Ordered by URL, a link's rows are adjacent: each Target is made as its rows end,
        # without holding every row first (at 100,000 links that doubled the peak).
        rows: Iterable[Any] = s.connection().execute(query.execution_options(yield_per=CHUNK))
        if keep:  # a link's rows stay adjacent, those left out dropped
            rows = (row for row in rows if all(value(row) in kept for value, kept in keep))
        for _, group in groupby(rows, key=attrgetter("id")):
            first, *more = group
            rids = dict.fromkeys([first.rid, *(row.rid for row in more)])
            titles = dict.fromkeys(
                row.entry_title
                for row in (first, *more)
                if row.entry_title and may_name_a_message(row.entry_title)
            )
            # The phone numbers and emails the entries name, looked for on the page; a
            # filtered run's are read below, of all the link's entries.
            named = (
                ()
                if filtered
                else _named(
                    (row.entry_title, row.entry_description)
                    for row in sorted((first, *more), key=attrgetter("entry_id"))
                )
            )
            link_ids.append(first.id)
            checked.append(_checked_at(first, now))
            if first.fingerprinted_at is not None:
                stamps = [row.entry_text_at for row in (first, *more) if row.entry_text_at]
                pages[len(targets)] = (
                    max(stamps, default=None),
                    first.text_upto,
                    first.drift_reason is not None,
                )
            target = Target(
                url=first.url,
                host=sys.intern(first.host),  # a few thousand hosts, 100,000 copies
                resource_ids=tuple(rids),
                titles=tuple(titles),
                contacts=named,
                previous=_previous(first),
                fingerprint_due=first.fingerprinted_at is None
                or now - first.fingerprinted_at >= max_age
                or _legacy(first),
            )
            targets.append(_read_in_full(target) if _contact_missed(first, now) else target)
        if pages:
            targets = _read_for_edits(s.connection(), targets, link_ids, pages, filtered)
        if filtered and targets:
            texts = _entry_texts(s.connection(), link_ids)
            targets = [
                replace(target, contacts=_named(texts.get(link_id, ())))
                for target, link_id in zip(targets, link_ids, strict=True)
            ]
    return _least_recent_first(targets, checked)


#: The most bound parameters a filter of `targets_for_check` puts in its statement (a
#: pair is two); a larger filter is applied to the rows as they stream. At most three
#: filters of this many stay far below SQLite's and PostgreSQL's limits.
IN_SQL_MOST = CHUNK


def _checked_at(link: Any, now: datetime) -> float:
    """When the link was last checked, in seconds since the epoch, for `_least_recent_first`:
    -inf if it was tried but never checked (held, or our network was down: `last_checked_at`
    is "last tried" then, `health.apply_observation`), NaN if never tried (a new link).

    A check stamped after `now` (by a clock since set back) is -inf too: read as the host's
    latest, it put every other link of a held host "a night behind" it, first every night,
    and the link itself was never asked again while the hold lasted."""
    at = link.last_checked_at
    if at is None:
        return math.nan
    return at.timestamp() if link.outcome is not None and at <= now else -math.inf


def _least_recent_first(targets: list[Target], checked: Sequence[float]) -> list[Target]:
    """`targets` with the links of each host whose last check (`checked`) is a night older
    than the host's latest, or who were tried but never checked, first in that host's
    places, least recently checked first, after its links never tried; every other link
    keeps its place.

    A host in maintenance is asked twice a night and then held (`HostGate.strike`): its
    other links are not sent and keep their last check (`health.apply_observation`). In URL
    order the same two were asked every night, and their siblings never again: nothing was
    learnt of them, and a host dead behind its 503 page never counted against them. Now the
    links a hold left unsent go first the next night, so every link of a host held night
    after night is asked in turn. A host checked in full each night is checked in URL order
    within a run, so no link of it is a night behind the others: its order is unchanged
    (as are the batches: `plan` moves whole hosts). One pass over the targets, a second
    only when a host has links behind; no query.

    A link never tried (NaN: added since the last run) goes before them all: read as no
    link behind, it followed the held ones, was held its first night too, and was asked
    only the night after, its first try (not sent) making it "tried, never checked". It
    is the link least known of, and one night of it is all it waits for."""
    span = night_span(1).total_seconds()
    # Each host's earliest and latest check, in one pass (NaN, never tried, is neither).
    first: dict[str, float] = {}
    latest: dict[str, float] = {}
    for target, at in zip(targets, checked, strict=True):
        host = target.host
        if at < first.get(host, math.inf):
            first[host] = at
        if at > latest.get(host, -math.inf):
            latest[host] = at
    behind = {host for host, at in first.items() if at == -math.inf or latest[host] - at >= span}
    if not behind:
        return targets
    places: dict[str, list[int]] = defaultdict(list)
    for i, target in enumerate(targets):
        if target.host in behind:
            places[target.host].append(i)
    out = list(targets)
    for host, indexes in places.items():
        newest = latest.get(host, -math.inf)  # none: every link tried, none checked

        def order(i: int, newest: float = newest) -> tuple[int, float]:
            at = checked[i]
            if math.isnan(at):  # never tried
                return (0, 0.0)
            late = at == -math.inf or newest - at >= span
            return (1, at) if late else (2, 0.0)

        for place, i in zip(indexes, sorted(indexes, key=order), strict=True):
            out[place] = targets[i]
    return out


def _read_for_edits(
    conn: Connection,
    targets: list[Target],
    link_ids: Sequence[int],
    pages: dict[int, tuple[datetime | None, datetime | None, bool]],
    filtered: bool,
) -> list[Target]:
    """`targets` with those whose page has not been read in full since what drift judges
    of its entries changed made to read it in full, without validators: an entry's title
    or description edited, an entry new to it, or one its drift flag was raised for gone.

    Drift is judged against every entry of a page when it is read, and only then: an entry
    renamed to the page's new title kept the verdict of its old text ("update the link or
    the entry") through the nights' HEADs, and a new entry on an address already read was
    never compared with it. A weekly read asking "changed since?" would be answered 304,
    which judges nothing. The entries' stamps (`resources.text_at`, set by sync) are
    compared with the latest one the page's last full read covered (`links.text_upto`,
    set with it), not with when it was read: an edit stamped by a clock ahead is settled
    by one read, and a run for one catalog (`pages` holds only its entries) still sees the
    other catalogs' edits of its links. Then the nights are HEADs again (issue #7)."""
    latest = _latest_texts(conn, [link_ids[i] for i in pages]) if filtered else {}
    drifted = [link_ids[i] for i, (_, _, flagged) in pages.items() if flagged]
    left = _entries_left(conn, drifted) if drifted else {}
    out = list(targets)
    for i, (stamp, covered, _) in pages.items():
        link_id = link_ids[i]
        stamp = latest.get(link_id) if filtered else stamp
        stamps = [at for at in (stamp, left.get(link_id)) if at is not None]
        if not stamps or (covered is not None and max(stamps) <= covered):
            continue
        out[i] = _read_in_full(targets[i])
    return out


def _read_in_full(target: Target) -> Target:
    """`target` made to read its page in full, without validators: a 304 judges nothing."""
    previous = target.previous
    if previous is not None and not stands_in(previous):  # stand-ins are never sent
        previous = replace(previous, etag=None, last_modified=None)
    return replace(target, previous=previous, fingerprint_due=True)


def _contact_missed(link: Any, now: datetime) -> bool:
    """Whether a full read of the link missed a contact its entries name, not confirmed
    gone yet, the night before (`health.contact_unconfirmed`): that needs a second full
    read on another night, and the next check is it, once per miss. A page without
    validators is read in full once a week: a hotline's new number was "Content
    changed." one night and news of the old number gone a week later. A drifted page
    judges no contact (`health.apply_contacts`): reading it in full every night would
    learn nothing more."""
    if link.contacts_missed is None or link.drift_reason is not None:
        return False
    seen, gone = json.loads(link.contacts_missed), json.loads(link.contacts_left)
    return contact_unconfirmed(seen, gone, now)


def _latest_texts(conn: Connection, link_ids: Sequence[int]) -> dict[int, datetime]:
    """Link id -> the latest text stamp of its active entries, of every catalog."""
    res = table_of(t.Resource)
    found: dict[int, datetime] = {}
    for chunk in chunks(list(dict.fromkeys(link_ids))):
        rows = conn.execute(
            select(res.c.link_id, func.max(res.c.text_at))
            .where(res.c.link_id.in_(chunk), res.c.removed_at.is_(None))
            .group_by(res.c.link_id)
        )
        found.update({link_id: at for link_id, at in rows if at is not None})
    return found


def drift_raised_for(conn: Connection, link_ids: Sequence[int]) -> dict[int, set[str]]:
    """Link id -> the entries (`resources.id` as text) its drift flag was raised for: those
    its `drift_detected` events since `drift_since` name. Read where an entry left the
    flagged page (`_entries_left`) and where others joined it (`_observations._narrowed`)."""
    link, ev = table_of(t.Link), table_of(t.Event)
    found: dict[int, set[str]] = {}
    for chunk in chunks(list(link_ids)):
        events = conn.execute(
            select(ev.c.link_id, ev.c.details)
            .join(link, link.c.id == ev.c.link_id)
            .where(
                ev.c.link_id.in_(chunk),
                ev.c.kind == "drift_detected",
                ev.c.at >= link.c.drift_since,
            )
        )
        for link_id, details in events:
            entry = str((details or {}).get("entry", ""))
            if entry:
                found.setdefault(link_id, set()).add(entry)
    return found


def _entries_left(conn: Connection, link_ids: Sequence[int]) -> dict[int, datetime]:
    """Link id -> the latest text stamp of the entries its drift flag was raised for (its
    `drift_detected` events since `drift_since`) that left it, removed or moved to another
    address; links none of whose drifted entries left are left out.

    A flag raised for one wrong entry stayed after the curator removed the entry or
    pointed it at its right address: a page is judged only when read, and with an ETag
    the weekly read is answered 304, so the entries still on the page showed the flag
    until the page itself changed."""
    res = table_of(t.Resource)
    found: dict[int, datetime] = {}
    for chunk in chunks(list(link_ids)):
        drifted = {  # entry (resources.id) -> link id
            int(entry): link_id
            for link_id, entries in drift_raised_for(conn, chunk).items()
            for entry in entries
            if entry.isdigit()
        }
        if not drifted:
            continue
        # A chunk's links may name more entries than it has links (bound lists of `CHUNK`).
        rows = (
            row
            for part in chunks(list(drifted))
            for row in conn.execute(
                select(res.c.id, res.c.link_id, res.c.removed_at, res.c.text_at).where(
                    res.c.id.in_(part)
                )
            )
        )
        for entry_id, now_at, removed_at, text_at in rows:
            link_id = drifted[entry_id]
            if (removed_at is None and now_at == link_id) or text_at is None:
                continue  # still on the page
            # Removing or moving an entry moves its `text_at`.
            found[link_id] = max(text_at, found.get(link_id, text_at))
    return found


def _named(texts: Iterable[tuple[str | None, str | None]]) -> tuple[str, ...]:
    """The contacts entries (title, description) name (`contacts.named`), as keys."""
    return tuple(contacts.named(*(text for pair in texts for text in pair)))


def _entry_texts(
    conn: Connection, link_ids: Sequence[int]
) -> dict[int, list[tuple[str | None, str | None]]]:
    """The title and description of every active entry of each link, in `resources.id`
    order (the store's, `_observations._entries_of`)."""
    res = table_of(t.Resource)
    found: dict[int, list[tuple[str | None, str | None]]] = {}
    for chunk in chunks(list(dict.fromkeys(link_ids))):
        rows = conn.execute(
            select(res.c.link_id, res.c.title, res.c.fields["description"].as_string())
            .where(res.c.link_id.in_(chunk), res.c.removed_at.is_(None))
            .order_by(res.c.id)
        )
        for link_id, title, description in rows:
            found.setdefault(link_id, []).append((title, description))
    return found


def _legacy(link: Any) -> bool:
    """Whether the link's fingerprint was made by the earlier fingerprint rule
    (`LEGACY_FINGERPRINT`): its next check reads the page, unconditionally, for a baseline
    of today's rule. A 304 would carry the old fingerprint on, and the first read would come
    the night the page changed, taken as the new baseline with no news of the change."""
    return bool(link.fingerprint) and link.fingerprint.startswith(LEGACY_FINGERPRINT)


def _previous(link: Any) -> Previous | None:
    if link.last_checked_at is None:
        return None
    methods, _, read_at = (link.read_at or "").partition(" ")
    legacy = _legacy(link)
    return Previous(
        etag=None if legacy else link.etag,  # no 304 for a baseline of the earlier rule
        last_modified=None if legacy else link.last_modified,
        fingerprint=link.fingerprint,
        fingerprinted_at=link.fingerprinted_at,
        content_length=link.content_length,
        title=link.title,
        outcome=Outcome(link.outcome) if link.outcome else None,
        # A handful of distinct values, 100,000 copies at 100k links.
        content_type=sys.intern(link.content_type) if link.content_type else None,
        # Mostly the link's own URL: the same string, not a copy per link.
        final_url=link.url if read_at == link.url else read_at or None,
        read_via=_via(link.read_chain),
        read_after_head=methods.startswith("HEAD"),
    )


def _via(chain: Any) -> tuple[str, ...]:
    """The addresses a stored chain (`[{"url", "status"}, ...]`) went through before its end."""
    if not chain or len(chain) < 2:
        return ()
    return tuple(str(hop["url"]) for hop in chain[:-1] if isinstance(hop, dict) and hop.get("url"))
