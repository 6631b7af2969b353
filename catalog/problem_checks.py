"""When a link's current problem began, and how many checks have seen it.

A report row says since when its problem runs and in how many checks ("Checks"). The
start is one SQL expression (`PROBLEM_START`), read by the report, by `db prune` and by
the store. Counting the checks since that start by scanning observations made every
report read every observation since each link's problem began: for a link working all
year that is every check of the year, and ~70 s a night at 100,000 resources after a
year of nights. So each link keeps its count (`links.problem_checks`, counted from
`links.problem_checks_since`), kept up as checks are stored (`catalog.store`), and a
read takes it as it is whenever it was counted from the start the link has now and up to
its newest check (`links.problem_checks_upto`, its `last_observation_id` when counted).

The kept count is only ever a shortcut. A count kept from another start, or not up to the
newest check, is recounted from the observations: a database from before the column, two
links merged by a rekey, checks stored meanwhile by a linkhealth process started before
the upgrade (it keeps no count). Nothing is wrong when it is missing, only slower. It
includes checks `db prune` deleted later, as the recount does by adding those kept in
`links.pruned_by_start`: per start a row of the link may be dated from (`possible_starts`),
the checks pruned since it. Entries sharing an address can each be dated from another
start (one drifted from, one spared, one drifted from later), and a drift or flapping that
ends dates them from yet another: a count per start is the only one each of them can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from catalog.clock import as_utc
from catalog.groups import drifted_from, entry_drift_since
from catalog.health import BROKEN as BROKEN_STATE
from catalog.outcomes import Outcome
from catalog.tables import Event, Link, Observation, Resource

#: An observation that checked its link: not a night our network was down, nor a request
#: held because its host had said it is away (`health.is_check`, said in SQL).
CHECKED = and_(
    Observation.outcome != Outcome.NETWORK_UNAVAILABLE.value, Observation.held.is_not(True)
)

#: When a flapping link last started flapping (its `flapping_started` event).
_FLAPPING_SINCE = (
    select(func.max(Event.at))
    .where(Event.link_id == Link.id, Event.kind == "flapping_started")
    .correlate(Link)
    .scalar_subquery()
)

#: When the link's problem began, as the report files it (`reports.context` ranks a
#: confirmed break above drift, drift above a failure not yet confirmed): drift (a page that
#: no longer holds the resource) unless the link is confirmed broken; else, for a link
#: flapping and not confirmed broken, when it started flapping (its last failure or
#: recovery is a day or two old, the trouble weeks); else its current failure; else its
#: last change of outcome. `ResourceRow.since` and the checks counted since then both
#: read this one expression, as does `db prune` counting the checks it deletes.
PROBLEM_START = case(
    (and_(Link.drift_since.is_not(None), Link.state != BROKEN_STATE), Link.drift_since),
    (
        and_(Link.flapping.is_(True), Link.state != BROKEN_STATE),
        func.coalesce(_FLAPPING_SINCE, Link.first_failure_at, Link.last_change_at),
    ),
    else_=func.coalesce(Link.first_failure_at, Link.last_change_at),
)

#: `PROBLEM_START` without its drift: the start of the row of an entry whose page still
#: holds it while it drifted from another entry sharing the address (`entry_start`).
UNDRIFTED_START = case(
    (
        and_(Link.flapping.is_(True), Link.state != BROKEN_STATE),
        func.coalesce(_FLAPPING_SINCE, Link.first_failure_at, Link.last_change_at),
    ),
    else_=func.coalesce(Link.first_failure_at, Link.last_change_at),
)


def own_start(resource_id: Any) -> ColumnElement[bool]:
    """Whether the row of the entry `resource_id` may be dated apart from its link
    (`entry_start`): the link's drift, not confirmed broken, concerns some of its entries
    alone, each from its own since."""
    del resource_id  # the same for each entry of the link; named for the reader
    return and_(
        Link.drift_since.is_not(None),
        Link.state != BROKEN_STATE,
        Link.drift_entries.is_not(None),
    )


def entry_start(resource_id: Any) -> ColumnElement[Any]:
    """`PROBLEM_START` as the row of the entry `resource_id` dates it: a drifted entry from
    its own drift (`groups.entry_drift_since`), not another's earlier one; an entry the
    page still holds while it drifted from another by its own state, as if the link had not
    drifted (working: its last change of outcome; failing: its failure; flapping: its
    flapping). Its checks are counted from there too (`recount_entries`)."""
    drifted = and_(
        Link.drift_since.is_not(None),
        Link.state != BROKEN_STATE,
        drifted_from(Link.drift_entries, resource_id),
    )
    return case(
        (drifted, entry_drift_since(Link.drift_since, Link.drift_entries, resource_id)),
        else_=UNDRIFTED_START,
    )


#: The start `PROBLEM_START` falls back to when a link's drift or flapping ends: its current
#: failure's, else its last change of outcome.
OUTCOME_START = func.coalesce(Link.first_failure_at, Link.last_change_at)

#: The columns `possible_starts` reads, in its order: every time `PROBLEM_START` and
#: `entry_start` are made of, whatever the link's state now (a flapping link confirmed
#: broken is dated from its failure, and from its flapping again once it works).
START_COLUMNS = (
    Link.drift_since,
    Link.drift_entries,
    case((Link.flapping.is_(True), _FLAPPING_SINCE), else_=None),
    Link.first_failure_at,
    Link.last_change_at,
    Link.unavailable_nights,
)


def possible_starts(
    drift_since: datetime | None,
    drift_entries: Mapping[str, Any] | None,
    flapping_since: datetime | None,
    first_failure_at: datetime | None,
    last_change_at: datetime | None,
    unavailable_nights: Sequence[str] | None,
) -> set[str]:
    """Every start (`start_key`) a row of the link may be dated from, now or later, read
    from its `START_COLUMNS`: the link's drift and each entry's own, its flapping, its
    failure, its last change of outcome, and its nights of 503 (a stretch of them turned
    failure dates the failure from one). Whatever changes later stores a time of a check
    made then, never an earlier one, so the checks `db prune` deletes only ever count from
    one of these (`links.pruned_by_start`)."""
    found = [drift_since, flapping_since, first_failure_at, last_change_at]
    for entry in (drift_entries or {}).values():
        if isinstance(entry, Mapping) and entry.get("since"):
            found.append(datetime.fromisoformat(str(entry["since"])))
    found += [datetime.fromisoformat(str(night)) for night in unavailable_nights or ()]
    return {start_key(moment) for moment in found if moment is not None}


def urls_taken(
    db: Session | Connection, entries: ColumnElement[bool]
) -> dict[int, tuple[int | None, datetime]]:
    """Per entry of those `entries` selects (a condition on `Resource`) that took its URL
    after it had another (an edit of its URL, or its entry put back with another URL, not
    its first addition): its link and when it took the URL it has now (UTC). Its row counts
    its own checks from then once its link's problem began earlier (`queries`), and
    `db prune` keeps the checks it deletes since then (`taken_starts`)."""
    query = (
        select(Event.resource_id, Resource.link_id, Event.at, Event.details)
        .join(Resource, Resource.id == Event.resource_id)
        .where(
            entries,
            or_(
                Event.kind == "url_edited",
                # Not its first addition, the one `added` event of most entries.
                and_(Event.kind == "added", Event.at > Resource.created_at),
            ),
        )
        .order_by(Event.at, Event.id)
    )
    taken: dict[int, tuple[int | None, datetime]] = {}
    for pk, link_id, at, details in db.execute(query):
        if "old" in (details or {}) or "old_url" in (details or {}):
            taken[pk] = (link_id, as_utc(at))  # later ones win
    return taken


def taken_starts(db: Session | Connection, link_ids: Sequence[int]) -> dict[int, set[str]]:
    """Per link of `link_ids`, the starts (`start_key`) its entries that took their URL
    may be dated from (`urls_taken`): `possible_starts` reads only the link's columns."""
    found: dict[int, set[str]] = {}
    for ids in _chunks(sorted(set(link_ids))):
        for link_id, at in urls_taken(db, Resource.link_id.in_(ids)).values():
            if link_id is not None:
                found.setdefault(link_id, set()).add(start_key(at))
    return found


def start_key(moment: datetime) -> str:
    """A start as `links.pruned_by_start` names it: UTC, to the microsecond (the times of
    one start read from a column and from `drift_entries` give one key)."""
    return as_utc(moment).isoformat(sep=" ", timespec="microseconds")


def pruned_since(pruned: Mapping[str, Any] | None, start: datetime | None) -> int:
    """The checks `db prune` deleted since `start`, as `pruned` (`links.pruned_by_start`)
    kept them: none where it kept no count from that start (none was pruned since)."""
    if not pruned or start is None:
        return 0
    return int(pruned.get(start_key(start)) or 0)


#: Links per recount: an `IN` list SQLite and PostgreSQL both take in one statement.
_RECOUNT_CHUNK = 500


def same_start(kept: datetime | None, start: datetime | None) -> bool:
    """Whether a count kept from `kept` is a count from `start`, both read as UTC."""
    return kept is not None and start is not None and as_utc(kept) == as_utc(start)


def checks_since(db: Session | Connection, link_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Per link (of `link_ids`, else every link), the checks since its current problem
    began: the kept count where it was counted from that start, else a recount."""
    query = select(
        Link.id,
        PROBLEM_START,
        Link.problem_checks,
        Link.problem_checks_since,
        Link.problem_checks_upto == Link.last_observation_id,
    ).where(PROBLEM_START.is_not(None))
    checks: dict[int, int] = {}
    stale: list[int] = []
    for ids in _in_chunks(link_ids):
        rows = db.execute(query if ids is None else query.where(Link.id.in_(ids)))
        for link_id, start, kept, kept_since, up_to_date in rows:
            if kept is not None and up_to_date and same_start(kept_since, start):
                checks[link_id] = kept
            else:
                stale.append(link_id)
    for ids in _chunks(stale):
        checks.update(recount(db, ids))
    return checks


def recount(
    db: Session | Connection, link_ids: Sequence[int], start: Any = PROBLEM_START
) -> dict[int, int]:
    """The checks since each link's problem began (`start`: `PROBLEM_START` by default),
    counted from its observations plus those `db prune` deleted since that start
    (`links.pruned_by_start`): one grouped query."""
    return _counted(
        db,
        select(Link.id.label("key"), Link.id.label("link_id"), start.label("start")).where(
            Link.id.in_(link_ids), start.is_not(None)
        ),
    )


def recount_entries(db: Session | Connection, resource_ids: Sequence[int]) -> dict[int, int]:
    """Per entry (of `resource_ids`), the checks since its row's start (`entry_start`),
    counted as `recount` counts a link's."""
    start = entry_start(Resource.id)
    return _counted(
        db,
        select(Resource.id.label("key"), Link.id.label("link_id"), start.label("start"))
        .join(Link, Link.id == Resource.link_id)
        .where(Resource.id.in_(resource_ids), start.is_not(None)),
    )


def _counted(db: Session | Connection, keyed: Select[Any]) -> dict[int, int]:
    """The checks of `keyed`'s link since its start, per key (columns key, link_id, start)."""
    # Each start worked out once, not once per observation: joined as it was, the start
    # (with its event lookups for a flapping link) was computed for each of the link's
    # observations. Materialized, the database counts each link's observations since its
    # start off the (link, time) index.
    starts = (
        keyed.add_columns(Link.pruned_by_start).cte("problem_starts").prefix_with("MATERIALIZED")
    )
    rows = db.execute(
        select(starts.c.key, func.count())
        .select_from(Observation)
        .join(starts, starts.c.link_id == Observation.link_id)
        .where(
            Observation.checked_at >= starts.c.start,
            CHECKED,
        )
        .group_by(Observation.link_id, starts.c.key)  # each link's checks off its index
    )
    checks = {key: count for key, count in rows}
    # Checks since the start that `db prune` deleted (catalog.retention), kept per start.
    pruned = db.execute(
        select(starts.c.key, starts.c.pruned_by_start, starts.c.start).where(
            starts.c.pruned_by_start.is_not(None)
        )
    )
    for key, kept, start in pruned:
        if n := pruned_since(kept, start):
            checks[key] = checks.get(key, 0) + n
    return checks


def keep_recounted(conn: Connection, link_ids: Iterable[int]) -> None:
    """Recount the links `link_ids` and keep their counts, from the start each has now.
    For the store, after a round of checks moved these links' problem starts."""
    table = cast(Table, Link.__table__)
    keep = (
        table.update()
        .where(table.c.id == bindparam("link_id"))
        .values(
            problem_checks=bindparam("checks"),
            problem_checks_since=bindparam("since"),
            problem_checks_upto=table.c.last_observation_id,
        )
    )
    for ids in _chunks(sorted(set(link_ids))):
        starts: dict[int, datetime] = dict(
            conn.execute(
                select(Link.id, PROBLEM_START).where(Link.id.in_(ids), PROBLEM_START.is_not(None))
            ).all()
        )
        counted = recount(conn, ids)
        rows: list[dict[str, Any]] = [
            {
                "link_id": link_id,
                "checks": counted.get(link_id, 0) if link_id in starts else None,
                "since": starts.get(link_id),
            }
            for link_id in ids
        ]
        conn.execute(keep, rows)


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _RECOUNT_CHUNK):
        yield values[start : start + _RECOUNT_CHUNK]


def _in_chunks(link_ids: Sequence[int] | None) -> Iterable[Sequence[int] | None]:
    if link_ids is None:
        yield None
    else:
        yield from _chunks(link_ids)
