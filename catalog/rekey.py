"""Re-keying links after the canonical URL form changes.

`links.url` is the canonical form of a URL (`catalog.urls.canonical_url`): the key that
makes a URL shared by several entries one link, checked once per run. When the form
changes (it gained sorted query parameters, IDNA hosts and dropped default ports), an
existing database still holds keys in the old form, and the next sync would open a new
link beside each old one: its history, confirmation counters and "since when" would start
again from nothing, and two old keys that now mean the same URL would stay two links.

`rekey_links` brings every key to the current form. Links whose keys collapse into one
are merged into the one checked most recently (its state is the newest), and the others'
observations, events and resources move to it, so no history is lost. It is idempotent,
and cheap when nothing changed. The checks `db prune` deleted of each, kept per start
(`links.pruned_by_start`), are added up for the survivor's starts, so a pruned database's
rows count them still. Migrations call it (0004; 0011, for emoji domains; 0012,
for spaces in URLs; 0013, for backslashes ending the host and user names); a future change
of the form needs only a new migration that calls it again.

It works on a Connection with lightweight table definitions (only the columns it
touches), so it keeps working inside migrations whatever later revisions add; the pruned
counts, there from 0022 on, are read with the start columns of `catalog.problem_checks`;
a merged link's tries not sent since its last check (`links.held_tries`, from 0023 on) are
counted again from the rows it now holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from catalog.urls import canonical_url, host_of

_links = sa.table(
    "links",
    sa.column("id", sa.Integer),
    sa.column("url", sa.Text),
    sa.column("host", sa.String),
    # Untyped: compared only with each other (a datetime on PostgreSQL, ISO text on SQLite).
    sa.column("last_checked_at"),
)
#: Tables whose rows point at a link.
_CHILDREN = tuple(
    sa.table(name, sa.column("link_id", sa.Integer))
    for name in ("observations", "events", "resources")
)
#: Links bound in one IN list: well under the 999 parameters of a statement that SQLite
#: builds before 3.32 allow (PostgreSQL takes 65,535), however many links a rule merges.
CHUNK = 500


@dataclass(frozen=True)
class RekeyResult:
    #: Links whose key was rewritten in place.
    renamed: int = 0
    #: Links folded into another with the same new key (and deleted).
    merged: int = 0


def rekey_links(
    conn: Connection,
    canonical: Callable[[str], str] = canonical_url,
    host: Callable[[str], str] = host_of,
) -> RekeyResult:
    """Rewrite every `links.url` to `canonical(url)`, merging links that collapse."""
    groups: dict[str, list[sa.Row[int, str, datetime | None]]] = defaultdict(list)
    rows = conn.execute(sa.select(_links.c.id, _links.c.url, _links.c.last_checked_at))
    for row in rows:
        groups[canonical(row.url)].append(row)
    renamed = merged = 0
    survivors: list[int] = []
    pruned = _pruned_counts(conn)
    absorbed: dict[int, list[_Pruned]] = {}
    for key, members in groups.items():
        if len(members) == 1 and members[0].url == key:
            continue
        survivor = max(members, key=lambda r: _newest_first(r, key))
        losers = [r.id for r in members if r.id != survivor.id]
        if losers and pruned is not None and (counts := pruned([r.id for r in members])):
            absorbed[survivor.id] = counts
        if losers:
            for child in _CHILDREN:
                conn.execute(
                    sa.update(child).where(child.c.link_id.in_(losers)).values(link_id=survivor.id)
                )
            conn.execute(sa.delete(_links).where(_links.c.id.in_(losers)))
            merged += len(losers)
            survivors.append(survivor.id)
        if survivor.url != key:
            conn.execute(
                sa.update(_links).where(_links.c.id == survivor.id).values(url=key, host=host(key))
            )
            renamed += 1
    _forget_counts(conn, survivors)
    _add_pruned_counts(conn, absorbed)
    _recount_held_tries(conn, survivors)
    return RekeyResult(renamed=renamed, merged=merged)


@dataclass(frozen=True)
class _Pruned:
    """What `db prune` kept of one of the links a merge folds into one."""

    #: Its `pruned_by_start`, with a 0 for each start its rows may be dated from where it
    #: kept none (none was pruned since).
    counts: dict[str, int]
    #: Those of its starts (not an entry's take of its URL) whose check was pruned.
    gone: frozenset[str]


def _pruned_counts(conn: Connection) -> Callable[[list[int]], list[_Pruned]] | None:
    """A reader of what `db prune` kept of links (those it pruned checks of), None before
    migration 0022 added `pruned_by_start`. Read before a merge moves their entries."""
    if "pruned_by_start" not in {c["name"] for c in sa.inspect(conn).get_columns("links")}:
        return None
    # The schema has 0022's columns, and with them every one a link's starts are read from.
    from catalog.problem_checks import (
        CHECKED,
        START_COLUMNS,
        possible_starts,
        start_key,
        taken_starts,
    )
    from catalog.tables import Link, Observation

    def read(link_ids: list[int]) -> list[_Pruned]:
        query = sa.select(Link.id, Link.pruned_by_start, *START_COLUMNS).where(
            Link.id.in_(link_ids), Link.pruned_by_start.is_not(None)
        )
        rows = [row for row in conn.execute(query) if row[1]]
        taken = taken_starts(conn, [row[0] for row in rows])
        found = []
        for link_id, counts, *columns in rows:
            # Each a time of one of its checks (a flapping's event is its check's time).
            starts = possible_starts(*columns)
            there = conn.scalars(
                sa.select(Observation.checked_at).where(
                    Observation.link_id == link_id,
                    Observation.checked_at >= min(map(_time, starts)),
                    CHECKED,
                )
                if starts
                else sa.select(Observation.checked_at).where(sa.false())
            )
            gone = starts - {start_key(at) for at in there}
            every = dict.fromkeys(starts | taken.get(link_id, set()), 0)
            found.append(_Pruned({**every, **counts}, frozenset(gone)))
        return found

    return read


def _add_pruned_counts(conn: Connection, absorbed: dict[int, list[_Pruned]]) -> None:
    """Give each surviving link the checks `db prune` deleted of the links it absorbed,
    added to its own (`absorbed`: what it kept of each, the survivor's too), per start its
    rows may be dated from now that it holds their entries: their observations came
    along, and a recount added the pruned ones from its own counts alone (a pruned
    database's rows lost them: "7 checks" where the same database unpruned said 10).

    Each link kept its counts from its own starts. Where the survivor's start is one of
    them (one address under two keys, checked in the same runs) the count is exact. Else
    the times of its pruned checks are gone, and the count from its nearest start stands
    for it, less its check there when that start is earlier and the check was pruned:
    exact for one address checked at two moments of each run, off by its pruned checks
    between the two starts otherwise.

    0021's two counts (from the problem start and the outcome start), which a process
    started before 0022 reads and keeps, are taken from the merged ones, as `db prune`
    writes them: left as they were, such a process counted the survivor's own alone."""
    if not absorbed:
        return
    from catalog.problem_checks import (
        OUTCOME_START,
        PROBLEM_START,
        START_COLUMNS,
        possible_starts,
        pruned_since,
        taken_starts,
    )
    from catalog.tables import Link

    ids = sorted(absorbed)
    starts = taken_starts(conn, ids)
    # A rule that merges tens of thousands of links: IN lists of `CHUNK`, as the rest here.
    rows = [
        row
        for first in range(0, len(ids), CHUNK)
        for row in conn.execute(
            sa.select(Link.id, PROBLEM_START, OUTCOME_START, *START_COLUMNS).where(
                Link.id.in_(ids[first : first + CHUNK])
            )
        )
    ]
    for link_id, start, outcome_start, *columns in rows:
        merged = {
            key: n
            for key in sorted(possible_starts(*columns) | starts.get(link_id, set()))
            if (n := sum(_since(pruned, key) for pruned in absorbed[link_id]))
        }
        conn.execute(
            sa.update(Link)
            .where(Link.id == link_id)
            .values(
                pruned_by_start=merged or sa.null(),
                pruned_checks=pruned_since(merged, start),
                pruned_checks_since=start,
                pruned_outcome_checks=pruned_since(merged, outcome_start),
                pruned_outcome_since=outcome_start,
            )
        )


def _since(pruned: _Pruned, key: str) -> int:
    """The checks `pruned` kept since the start `key`: its own where kept from it, else
    those since its nearest start (the later of two as near), less its check at that
    start when it is earlier and the check was pruned."""
    counts = pruned.counts
    if key in counts:
        return int(counts[key] or 0)
    if not counts:
        return 0
    at = _time(key)
    nearest = min(counts, key=lambda k: (abs(_time(k) - at), k < key))
    before = nearest < key and nearest in pruned.gone
    return max(int(counts[nearest] or 0) - before, 0)


def _time(key: str) -> datetime:
    """The start a `pruned_by_start` key names (`problem_checks.start_key`)."""
    return datetime.fromisoformat(key)


def _forget_counts(conn: Connection, link_ids: list[int]) -> None:
    """A merged link's kept count of its problem's checks (catalog.problem_checks) left
    out the checks it took over: it is counted again at its next check. The column is
    newer than the migration (0004) that first calls this."""
    if not link_ids:
        return
    if "problem_checks" not in {c["name"] for c in sa.inspect(conn).get_columns("links")}:
        return
    kept = sa.table("links", sa.column("id", sa.Integer), sa.column("problem_checks", sa.Integer))
    for start in range(0, len(link_ids), CHUNK):
        ids = link_ids[start : start + CHUNK]
        conn.execute(sa.update(kept).where(kept.c.id.in_(ids)).values(problem_checks=None))


def _recount_held_tries(conn: Connection, link_ids: list[int]) -> None:
    """A merged link's tries not sent since its last check (`links.held_tries`), counted
    again from the observations it now holds (`store.recounted_held_tries`). Its own count
    left out those of the links it absorbed (one address under two keys, held in the same
    runs, was held twice a night) that `linkhealth resource` lists; adding theirs counted
    tries from before the survivor's newer check, and so would the larger of the two
    counts (the other's tries held before that check). Counted from the rows, it is what the
    reports read before the column (migration 0023) of the merged history. The column is
    newer than the migrations (0004, 0011 to 0013) that call this: 0023 counts every link
    after them."""
    if not link_ids:
        return
    if "held_tries" not in {c["name"] for c in sa.inspect(conn).get_columns("links")}:
        return
    from catalog.store import recounted_held_tries
    from catalog.tables import Link

    for start in range(0, len(link_ids), CHUNK):
        ids = link_ids[start : start + CHUNK]
        conn.execute(
            sa.update(Link).where(Link.id.in_(ids)).values(held_tries=recounted_held_tries())
        )


def _newest_first(
    row: sa.Row[int, str, datetime | None], key: str
) -> tuple[bool, datetime | str, bool, int]:
    """Most recently checked first; then the one already in the new form; then the oldest."""
    checked = row.last_checked_at
    return (checked is not None, checked or "", row.url == key, -row.id)
