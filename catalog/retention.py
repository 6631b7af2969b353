"""Retention: drop old observations so years of nightly runs stay small.

An observation is one check of one URL; a nightly run over a large catalog adds one row
per URL per night, so observations are nearly all of a database's growth. Everything a
curator acts on is kept: events (every change ever seen), runs (the trend chart), curator
decisions, archive lookups and each link's state (confirmation counters, flips, drift)
live in their own tables. Of the observations themselves we keep:

- every one checked within the last `keep_days` days (recent history, "checks" counts);
- each link's latest observation (what the report shows and what `links` points at);
- each link's newest `store.DRIFT_HISTORY` observations with relevance scores, so the
  drift baseline (a page's similarity to its entry over time) survives pruning.

Deletion runs in short write transactions of `chunk` rows, so a check run or a curator's
recheck writing at the same time waits milliseconds, not minutes. It is safe against a
concurrent run: that run only adds observations newer than the cutoff, which are kept.
On SQLite the file is then compacted (`VACUUM`); PostgreSQL's autovacuum reuses the space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, delete, func, select, update
from sqlalchemy.orm import Session

from catalog.clock import utcnow
from catalog.outcomes import Outcome
from catalog.queries import PROBLEM_START
from catalog.store import DRIFT_HISTORY, read_session, write_session
from catalog.tables import Link, Observation

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


def prune_observations(
    engine: Engine,
    keep_days: float,
    *,
    now: datetime | None = None,
    vacuum: bool = True,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
) -> PruneResult:
    """Delete observations older than `keep_days` days except those listed above.

    `on_progress(deleted, total)` is called after every chunk.
    """
    if keep_days < 1:
        raise ValueError("keep_days must be at least 1: the latest run's history is needed")
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    before = _sqlite_bytes(engine)
    with read_session(engine) as session:
        keep = set(session.scalars(_latest_per_link()))
        keep.update(session.scalars(_drift_history()))
        old_ids = select(Observation.id).where(Observation.checked_at < cutoff)
        old = list(session.scalars(old_ids.order_by(Observation.id)))
    doomed = [oid for oid in old if oid not in keep]
    deleted = 0
    for start in range(0, len(doomed), chunk):
        ids = doomed[start : start + chunk]
        with write_session(engine) as session:
            _count_pruned_checks(session, ids)
            session.execute(delete(Observation).where(Observation.id.in_(ids)))
        deleted += len(ids)
        if on_progress is not None:
            on_progress(deleted, len(doomed))
    if vacuum and deleted and engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return PruneResult(
        cutoff=cutoff,
        deleted=deleted,
        kept_old=len(old) - len(doomed),
        bytes_before=before,
        bytes_after=_sqlite_bytes(engine),
    )


def _count_pruned_checks(session: Session, ids: list[int]) -> None:
    """Add the checks among `ids` that saw their link's current problem to the link's
    `pruned_checks`, which a queue row's "Checks" adds to the observations still there
    (`catalog.queries.PROBLEM_START`). A count kept for an earlier problem starts over.
    One grouped read and one bulk update per chunk."""
    start = PROBLEM_START
    counted = session.execute(
        select(Link.id, start, func.count(), Link.pruned_checks, Link.pruned_checks_since)
        .join(Observation, Observation.link_id == Link.id)
        .where(
            Observation.id.in_(ids),
            start.is_not(None),
            Observation.checked_at >= start,
            Observation.outcome != Outcome.NETWORK_UNAVAILABLE.value,
        )
        .group_by(Link.id)
    ).all()
    updates = []
    for link_id, since, n, kept, kept_since in counted:
        same = kept_since is not None and _utc(kept_since) == _utc(since)
        total = (kept or 0) + n if same else n
        updates.append({"id": link_id, "pruned_checks": total, "pruned_checks_since": since})
    if updates:
        session.execute(update(Link), updates)


def _utc(moment: datetime) -> datetime:
    """SQLite gives datetimes back without a zone; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _latest_per_link() -> Select[Any]:
    return select(Link.last_observation_id).where(Link.last_observation_id.is_not(None))


def _drift_history() -> Select[Any]:
    # The same filter and order as `store._relevance_history`, which reads this history.
    rank = (
        func.row_number()
        .over(
            partition_by=Observation.link_id,
            order_by=(Observation.checked_at.desc(), Observation.id.desc()),
        )
        .label("rank")
    )
    scored = (
        select(Observation.id, rank).where(Observation.relevance_scores.is_not(None)).subquery()
    )
    return select(scored.c.id).where(scored.c.rank <= DRIFT_HISTORY)


def _sqlite_bytes(engine: Engine) -> int | None:
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    path = Path(engine.url.database)
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
