"""Retention: drop old observations so years of nightly runs stay small.

An observation is one check of one URL; a nightly run over a large catalog adds one row
per URL per night, so observations are nearly all of a database's growth. Everything a
curator acts on is kept: events (every change ever seen), runs (the trend chart), curator
decisions, archive lookups and each link's state (confirmation counters, flips, drift)
live in their own tables. Of the observations themselves we keep:

- every one checked within the last `keep_days` days (recent history, "checks" counts);
- each link's latest observation (what the report shows and what `links` points at);
- each link's newest `store.DRIFT_HISTORY` observations with relevance scores, so the
  drift baseline (a page's similarity to its entry over time) survives pruning, and of
  each entry flagged drifted, the baseline it drifted from (`store.drift_baselines`: a
  page shared by several entries goes on scoring the others);
- each link's last `drift.SHORT_READS` judged reads (a relevance stored, a score or not),
  which tell a host slow every night (`health.slow_run`);
- each link's tries not sent since its last check, its host having said it was away
  (`links.held_tries` counts them: `linkhealth resource` and the resource page show them,
  as many as the report's JSON and the export say);
- each link's last working observation, so a link whose host lapsed after a permanent
  move still gets its known new address as the fix (`catalog.queries._with_moved_to`).
- of each entry that took its URL after it had another, its first check of it: its row
  counts its own checks from there (`catalog.queries._with_own_checks`), and the checks
  pruned since it took the URL are kept per start with the link's (`pruned_by_start`).

Memory stays bounded whatever the database's size: a year of nightly runs over 100,000
URLs beyond the window is ~36 million observations, whose ids alone, held in Python sets
and lists, took 5-6 GB. The ids to keep go into a temporary table instead, filled `chunk`
links at a time, and the ones to delete are read `chunk` at a time in id order, each page
left out of the kept ones in SQL. No query returns more than `chunk` rows.

Deletion runs in short write transactions of `chunk` rows, so a check run or a curator's
recheck writing at the same time waits milliseconds, not minutes. It is safe against a
concurrent run: that run only adds observations newer than the cutoff, which are kept (a
kept one it makes redundant is kept until the next prune).
On SQLite the file is then compacted (`VACUUM`); PostgreSQL's autovacuum reuses the space.
VACUUM copies the pages in use twice (a temporary database, then the -wal file), so it is
not started without the free space for both (`not_compacted` says how much it needs: a
failed one filled the disk and left it full); when it fails anyway (a lock) the deletions
stand, the result says so, and the next prune compacts a file whose free pages are a tenth
of it or more, though it deletes nothing. VACUUM also holds the file's write lock while it
copies it, minutes for a large file, longer than a run's write waits
(`catalog.db.SQLITE_BUSY_TIMEOUT_MS`): while a run is in progress, or a full run holds its
lease (still syncing, before its run is recorded), the file is left uncompacted
(`compact_later`), its free pages reused meanwhile.
Interrupted (Ctrl-C), a prune keeps the chunks it committed; the next one goes on.
"""

from __future__ import annotations

import json
import os
import shutil
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Index,
    MetaData,
    Select,
    Subquery,
    Table,
    bindparam,
    case,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from catalog import drift
from catalog.clock import as_utc, utcnow
from catalog.db import wal_checkpoint
from catalog.errors import StoreError
from catalog.problem_checks import (
    CHECKED,
    OUTCOME_START,
    PROBLEM_START,
    START_COLUMNS,
    possible_starts,
    pruned_since,
    same_start,
    start_key,
    urls_taken,
)
from catalog.queries import WORKED
from catalog.settings import MAX_DAYS
from catalog.store import (
    DRIFT_HISTORY,
    PG_WRITE_LOCK,
    drift_baselines,
    held_reason,
    unsent_since_sent,
)
from catalog.tables import Link, Observation, Resource, UTCDateTime

#: Rows deleted per write transaction.
CHUNK = 5_000


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    #: Observations deleted.
    deleted: int
    #: Observations older than the cutoff kept as a link's latest or as drift history.
    kept_old: int
    #: SQLite file size before and after (file plus WAL), None for other databases.
    bytes_before: int | None = None
    bytes_after: int | None = None
    #: Why a SQLite file was not compacted (VACUUM failed: a full disk, a lock); None if it
    #: was, or had no need.
    not_compacted: str | None = None
    #: Why VACUUM was left to a later prune (a run in progress); None if not.
    compact_later: str | None = None


#: The share of a SQLite file's pages left free (by this prune or one whose VACUUM
#: failed) from which a prune compacts it even when it deletes nothing.
COMPACT_FREE_SHARE = 0.1


def prune_observations(
    engine: Engine,
    keep_days: float,
    *,
    now: datetime | None = None,
    vacuum: bool = True,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
    on_scan: Callable[[int, int], None] | None = None,
    on_vacuum: Callable[[], None] | None = None,
) -> PruneResult:
    """Delete observations older than `keep_days` days except those listed above.

    `on_scan(links, total)` is called after each `chunk` links whose observations to keep
    were found, `on_progress(deleted, total)` after every chunk deleted, `on_vacuum()`
    before a SQLite file is compacted.
    """
    if keep_days < 1:
        raise ValueError("keep_days must be at least 1: the latest run's history is needed")
    if keep_days > MAX_DAYS:
        raise ValueError(f"keep_days must be at most {MAX_DAYS}, not {keep_days}")
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    before = _sqlite_bytes(engine)
    deleted = 0
    ids: list[int] = []  # the chunk being deleted
    # One connection throughout: the temporary table is the connection's own.
    with engine.connect() as conn:
        with conn.begin():
            _KEEP.create(conn)
            _TAKEN.create(conn)
        try:
            _fill_keep(conn, cutoff, chunk, on_scan)
            with conn.begin():
                old, doomed, last_old = conn.execute(_old_and_doomed(cutoff)).one()
            after = 0
            while deleted < (doomed or 0):
                with _write(conn):
                    ids = list(conn.scalars(_next_doomed(cutoff, after, last_old, chunk)))
                    if not ids:  # deleted meanwhile (another prune): nothing left
                        break
                    with Session(bind=conn) as session:
                        _count_pruned_checks(session, ids)
                    conn.execute(delete(Observation).where(Observation.id.in_(ids)))
                deleted += len(ids)
                after, ids = ids[-1], []
                if on_progress is not None:
                    on_progress(deleted, doomed)
        except KeyboardInterrupt as exc:
            # Ctrl-C in a commit, or just after it, leaves a chunk deleted but not counted.
            if ids and _committed(engine, ids[-1]):
                deleted += len(ids)
            raise PruneInterrupted(deleted) from exc
        finally:
            if conn.in_transaction():
                conn.rollback()
            # Ctrl-C in a statement invalidates the connection: its temporary table went
            # with it, and a DROP on the new one failed, hiding the interrupt.
            if not conn.invalidated:
                with conn.begin():
                    _KEEP.drop(conn, checkfirst=True)
                    _TAKEN.drop(conn, checkfirst=True)
    not_compacted = later = None
    compact = vacuum and engine.dialect.name == "sqlite" and (deleted or _mostly_free(engine))
    if compact:
        later = _run_in_progress(engine, now or utcnow())
    if compact and later is None:
        not_compacted = _short_of_space(engine)
    if compact and later is None and not_compacted is None:
        if on_vacuum is not None:
            on_vacuum()
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM")
                wal_checkpoint(conn)  # the whole busy timeout: a reader may hold it
        except StoreError as exc:  # the deletions stand: say what was done, then why not this
            not_compacted = str(exc)
    return PruneResult(
        cutoff=cutoff,
        deleted=deleted,
        kept_old=(old or 0) - (doomed or 0),
        bytes_before=before,
        bytes_after=_sqlite_bytes(engine),
        not_compacted=not_compacted,
        compact_later=later,
    )


class PruneInterrupted(KeyboardInterrupt):
    """Ctrl-C during a prune; `deleted` observations were deleted (committed) before it."""

    def __init__(self, deleted: int) -> None:
        super().__init__(deleted)
        self.deleted = deleted


def _committed(engine: Engine, observation_id: int) -> bool:
    """Whether the chunk whose last observation is `observation_id` was deleted."""
    with engine.connect() as conn:
        found = conn.scalar(select(Observation.id).where(Observation.id == observation_id))
    return found is None


def _run_in_progress(engine: Engine, now: datetime) -> str | None:
    """Why not to VACUUM now: a run in progress, whose next batch would wait for the
    lock VACUUM holds past its busy timeout and fail, losing what the batch checked."""
    from catalog.migrate import work_in_progress

    with engine.connect() as conn:
        busy = work_in_progress(conn, now)
    if not busy:
        return None
    return (
        f"a run is in progress ({'; '.join(busy)}), and VACUUM would hold the file's write "
        "lock longer than the run's writes wait; the file was not compacted (its free pages "
        "are reused), a later prune compacts it"
    )


#: Margin over the pages VACUUM copies, for the -wal file's frame headers and its index.
VACUUM_MARGIN = 1.1


def _short_of_space(engine: Engine) -> str | None:
    """Why not to VACUUM: too little free space for the copies it writes. It copies the
    file's pages in use into a temporary database (SQLite's temporary folder), then back
    through the -wal file beside the database. On a nearly full disk it grew the -wal into
    all the free space, failed, and left it there: the WAL could not even be checkpointed,
    and the next run found the disk full."""
    if not engine.url.database or engine.url.database == ":memory:":
        return None
    folder = Path(engine.url.database).resolve().parent
    with suppress(StoreError), engine.connect() as conn:
        # The deletions are in the -wal file: into the database with them, the space the
        # file takes is given back (unless a reader holds them; VACUUM waits for it too).
        wal_checkpoint(conn)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        free_pages = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        in_memory = conn.exec_driver_sql("PRAGMA temp_store").scalar_one() == 2
    used = (pages - free_pages) * page_size
    wal = int(used * VACUUM_MARGIN)
    temp = None if in_memory else _sqlite_temp_folder()
    try:
        here = shutil.disk_usage(folder).free
        shared = temp is not None and temp.stat().st_dev == folder.stat().st_dev
        elsewhere = shutil.disk_usage(temp).free if temp is not None and not shared else None
    except OSError:
        return None  # VACUUM itself says what is wrong
    needed = wal + (used if shared else 0)
    if here < needed:
        also = f" and its temporary one in {temp}" if shared else ""
        copies = f"its copy into the -wal file{also}"
        return (
            f"VACUUM needs about {_mib(needed)} free in {folder} for {copies} "
            f"({_mib(used)} in use of the file's {_mib(pages * page_size)}), and it has "
            f"{_mib(here)}; it was not started, since failing it would leave the disk full: "
            "free some space, then prune again"
        )
    if elsewhere is not None and elsewhere < used:
        return (
            f"VACUUM needs about {_mib(used)} free in {temp}, SQLite's temporary folder "
            f"(SQLITE_TMPDIR or TMPDIR names another), for its temporary copy of the file, "
            f"and it has {_mib(elsewhere)}; it was not started: free some space there (or "
            "name a folder with room), then prune again"
        )
    return None


def _sqlite_temp_folder() -> Path | None:
    """The folder SQLite writes its temporary files in, found as it does on Unix: the first
    usable of $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp, /tmp."""
    named = [os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR")]
    for candidate in [*named, "/var/tmp", "/usr/tmp", "/tmp"]:
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate).resolve()
    return None


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _mostly_free(engine: Engine) -> bool:
    """Whether a SQLite file's free pages are `COMPACT_FREE_SHARE` of it or more."""
    with engine.connect() as conn:
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    return bool(pages) and free >= COMPACT_FREE_SHARE * pages


#: The ids of the observations to keep (each link's latest, its drift history), a
#: temporary table of the pruning connection: SQL compares with it, Python never holds it.
#: Not unique: a link's latest may also be its drift history.
_KEEP = Table(
    "linkhealth_prune_keep",
    MetaData(),
    Column("id", BigInteger, nullable=False),
    Index("ix_linkhealth_prune_keep_id", "id"),
    prefixes=["TEMPORARY"],
)

#: The held tries' alias, made once (`catalog.queries._LATEST` says why).
_UNSENT = aliased(Observation)


def _fill_keep(
    conn: Connection,
    cutoff: datetime,
    chunk: int,
    on_scan: Callable[[int, int], None] | None,
) -> None:
    """Fill `_KEEP`, `chunk` links at a time (key order), with their old observations to
    keep. A window over the whole table sorted every scored observation at once."""
    with conn.begin():
        total = conn.execute(select(func.count()).select_from(Link)).scalar_one()
    done, after = 0, 0
    while True:
        with conn.begin():
            links = list(
                conn.scalars(select(Link.id).where(Link.id > after).order_by(Link.id).limit(chunk))
            )
            if not links:
                return
            first, after = links[0], links[-1]
            in_range = Link.id.between(first, after)
            conn.execute(
                _KEEP.insert().from_select(
                    ["id"],
                    select(Link.last_observation_id).where(
                        in_range, Link.last_observation_id.is_not(None)
                    ),
                )
            )
            conn.execute(
                _KEEP.insert().from_select(
                    ["id"],
                    select(func.max(Observation.id))
                    .where(
                        Observation.link_id.between(first, after),
                        Observation.outcome.in_(WORKED),
                    )
                    .group_by(Observation.link_id),
                )
            )
            # Its tries not sent since its last check (`links.held_tries` counts them): a
            # host held longer than the window had its history cut to the window's nights,
            # fewer than the count. Looked up of the few links held (read first: a join
            # read every old observation of the chunk).
            unsent = _UNSENT
            held = select(Link.id).where(in_range, held_reason())
            conn.execute(
                _KEEP.insert().from_select(
                    ["id"],
                    select(unsent.id).where(
                        unsent.link_id.in_(held),
                        unsent.checked_at < cutoff,
                        *unsent_since_sent(unsent, of_links=False),
                    ),
                )
            )
            of_chunk = Observation.link_id.between(first, after)
            for history in (
                _newest(of_chunk, Observation.relevance_scores, DRIFT_HISTORY),
                _newest(of_chunk, Observation.relevance, drift.SHORT_READS),
                drift_baselines(of_chunk),
            ):
                conn.execute(
                    _KEEP.insert().from_select(
                        ["id"], select(history.c.id).where(history.c.checked_at < cutoff)
                    )
                )
            _keep_first_own_checks(conn, Resource.link_id.between(first, after))
        done += len(links)
        if on_scan is not None:
            on_scan(done, total)


def _keep_first_own_checks(conn: Connection, entries: ColumnElement[bool]) -> None:
    """Keep, of each entry `entries` selects (a condition on `Resource`) that took its URL
    after it had another (`problem_checks.urls_taken`), its first check of it: its row says
    "N checks since" that check's night once its link's problem began earlier, and the
    checks pruned since it are counted (`pruned_by_start`), not when the first was. Each
    such take goes into `_TAKEN` too, for `_count_pruned_checks`."""
    first = (
        select(Observation.id)
        .where(
            Observation.link_id == bindparam("link_id"),
            Observation.checked_at >= bindparam("at", type_=Observation.checked_at.type),
            CHECKED,
        )
        .order_by(Observation.checked_at, Observation.id)
        .limit(1)
        .scalar_subquery()
    )
    taken = [
        {"link_id": link_id, "at": at}
        for link_id, at in urls_taken(conn, entries).values()
        if link_id is not None
    ]
    if taken:
        conn.execute(
            _KEEP.insert().from_select(["id"], select(first).where(first.is_not(None))), taken
        )
        conn.execute(_TAKEN.insert(), taken)


#: When each entry that took its URL after it had another took it (`problem_checks.
#: urls_taken`), with its link: read once, as `_fill_keep` scans the links, not again for
#: each chunk deleted (ten reads of the entries' events per chunk at 100,000 links). A
#: temporary table of the pruning connection, as `_KEEP` is. An edit during the prune
#: takes its URL after every check it deletes, so none of them counts from it.
_TAKEN = Table(
    "linkhealth_prune_taken",
    MetaData(),
    Column("link_id", BigInteger, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_linkhealth_prune_taken_link_id", "link_id"),
    prefixes=["TEMPORARY"],
)


def _old_and_doomed(cutoff: datetime) -> Select[int, Any, int]:
    """Observations older than the cutoff, those of them to delete, and the last one's id
    (where the deleting stops looking), in one pass."""
    kept = select(_KEEP.c.id).where(_KEEP.c.id == Observation.id).exists()
    return select(
        func.count(),
        func.sum(case((kept, 0), else_=1)),
        func.max(Observation.id),
    ).where(Observation.checked_at < cutoff)


def _next_doomed(cutoff: datetime, after: int, last: int, chunk: int) -> Select[Any]:
    kept = select(_KEEP.c.id).where(_KEEP.c.id == Observation.id).exists()
    return (
        select(Observation.id)
        .where(
            Observation.id > after,
            Observation.id <= last,
            Observation.checked_at < cutoff,
            ~kept,
        )
        .order_by(Observation.id)
        .limit(chunk)
    )


@contextmanager
def _write(conn: Connection) -> Iterator[None]:
    """`store.write_session`'s transaction on `conn`: one writer at a time."""
    with conn.begin():
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK})
        yield


def _count_pruned_checks(session: Session, ids: list[int]) -> None:
    """Add the checks among `ids` to their link's `pruned_by_start`, since each start a row
    of the link may be dated from (`problem_checks.possible_starts`), which a row's "Checks"
    adds to the observations still there. Entries sharing the address may each be dated
    from another start (one drifted from, another spared: its flapping or failure), and a
    drift or flapping that ends dates them from yet another: kept from two starts only, the
    checks pruned since a third were in no count. A start no longer possible is dropped
    (no later change brings back an earlier time), which bounds each link's object by its
    entries. An entry that took its URL after it had another is dated from then too
    (`_TAKEN`). One read of the chunk's checks with their links, one of their entries'
    takes, one bulk update."""
    rows = session.execute(
        select(
            Observation.link_id,
            Observation.checked_at,
            Link.pruned_by_start,
            *_FOR_OLD_PROCESSES,
            *START_COLUMNS,
        )
        .join(Link, Link.id == Observation.link_id)
        .where(
            Observation.id.in_(ids),
            CHECKED,  # our network down, or a request held, is no check
        )
        .order_by(Observation.link_id)
    )
    by_link = [(link_id, list(group)) for link_id, group in groupby(rows, key=itemgetter(0))]
    # The starts of the entries that took their URL after it had another: their rows count
    # their own checks from then.
    taken: dict[int, set[str]] = {}
    for link_id, at in session.execute(
        select(_TAKEN.c.link_id, _TAKEN.c.at).where(
            _TAKEN.c.link_id.in_(select(Observation.link_id).where(Observation.id.in_(ids)))
        )
    ):
        taken.setdefault(link_id, set()).add(start_key(at))
    updates: list[dict[str, Any]] = []
    old_width = len(_FOR_OLD_PROCESSES)
    for link_id, (first, *more) in by_link:
        kept, old, columns = first[2] or {}, first[3 : 3 + old_width], first[3 + old_width :]
        times = sorted(as_utc(row[1]) for row in (first, *more))
        counts = {
            key: int(kept.get(key) or 0) + len(times) - bisect_left(times, _time(key))
            for key in possible_starts(*columns) | taken.get(link_id, set())
        }
        counts = {key: n for key, n in sorted(counts.items()) if n}
        start, outcome_start, *old_kept = old
        # 0021's two counts, from the problem start and the outcome start, which a process
        # started before the upgrade reads (and keeps in `problem_checks`, which the new
        # readers trust): taken from `counts`, so both readers say the same.
        for_old = (pruned_since(counts, start), start, pruned_since(counts, outcome_start))
        old_same = (
            (old_kept[0] or 0) == for_old[0]
            and (not for_old[0] or same_start(old_kept[1], start))
            and (old_kept[2] or 0) == for_old[2]
            and (not for_old[2] or same_start(old_kept[3], outcome_start))
        )
        if counts != kept or not old_same:
            updates.append(
                {
                    "id": link_id,
                    "counts": json.dumps(counts) if counts else None,
                    "checks": for_old[0],
                    "since": start,
                    "outcome_checks": for_old[2],
                    "outcome_since": outcome_start,
                }
            )
    if not updates:
        return
    if session.get_bind().dialect.name == "postgresql":
        # One statement for the chunk: an executemany sent one UPDATE per link, and at
        # 100,000 links a chunk of 5,000 observations touches ~5,000 of them (86 -> 46 ms
        # per 2,000 links measured).
        session.execute(
            _PG_PRUNED_CHECKS, {name: [u[name] for u in updates] for name in updates[0]}
        )
    else:  # the JSON text as SQLite stores it, not an ORM bulk update (a third of the time)
        session.execute(_SQLITE_PRUNED_CHECKS, updates)


def _time(key: str) -> datetime:
    """The start a `pruned_by_start` key names."""
    return as_utc(datetime.fromisoformat(key))


#: What `_count_pruned_checks` reads for 0021's two counts: the link's problem start and
#: outcome start, and the counts kept in them.
_FOR_OLD_PROCESSES = (
    PROBLEM_START,
    OUTCOME_START,
    Link.pruned_checks,
    Link.pruned_checks_since,
    Link.pruned_outcome_checks,
    Link.pruned_outcome_since,
)

#: `_count_pruned_checks`' writes on SQLite, one a link.
_SQLITE_PRUNED_CHECKS = text(
    "UPDATE links SET pruned_by_start = :counts, pruned_checks = :checks, "
    "pruned_checks_since = :since, pruned_outcome_checks = :outcome_checks, "
    "pruned_outcome_since = :outcome_since WHERE id = :id"
).bindparams(
    bindparam("since", type_=Link.pruned_checks_since.type),
    bindparam("outcome_since", type_=Link.pruned_outcome_since.type),
)

#: `_count_pruned_checks`' writes on PostgreSQL, one row per link of six arrays.
_PG_PRUNED_CHECKS = text(
    "UPDATE links SET pruned_by_start = CAST(v.counts AS JSON), pruned_checks = v.checks, "
    "pruned_checks_since = v.since, pruned_outcome_checks = v.outcome_checks, "
    "pruned_outcome_since = v.outcome_since "
    "FROM unnest(CAST(:id AS integer[]), CAST(:counts AS text[]), "
    "CAST(:checks AS integer[]), CAST(:since AS timestamp with time zone[]), "
    "CAST(:outcome_checks AS integer[]), CAST(:outcome_since AS timestamp with time zone[])) "
    "AS v(id, counts, checks, since, outcome_checks, outcome_since) WHERE links.id = v.id"
)


def _newest(links: ColumnElement[bool], judged: QueryableAttribute[Any], count: int) -> Subquery:
    """Ids and times of the newest `count` observations whose column `judged` is set of each
    link `links` selects: its drift history (`relevance_scores`, `DRIFT_HISTORY` of them) or
    its last judged reads (`relevance`, `drift.SHORT_READS`), which `health.slow_run`
    counts. A slow night's read below `drift.STILL_MATCHES` stores no score: kept only as
    drift history, it went with a prune, and the count of slow nights started again."""
    # The same filter and order as `store._newest`, which reads these.
    rank = (
        func.row_number()
        .over(
            partition_by=Observation.link_id,
            order_by=(Observation.checked_at.desc(), Observation.id.desc()),
        )
        .label("rank")
    )
    found = (
        select(Observation.id, Observation.checked_at, rank)
        .where(links, judged.is_not(None))
        .subquery()
    )
    return select(found.c.id, found.c.checked_at).where(found.c.rank <= count).subquery()


def _sqlite_bytes(engine: Engine) -> int | None:
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    path = Path(engine.url.database)
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
