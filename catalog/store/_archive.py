"""Archive copies: which links want one, and the lookup cache."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, or_, select

from catalog import health as health_rules
from catalog import tables as t
from catalog.archive import CacheEntry, Snapshot
from catalog.settings import night_span
from catalog.store._sql import read_session, write_session


@dataclass(frozen=True)
class ArchiveCandidate:
    link_id: int
    url: str
    #: The first failure (or drift): only copies from before it show the resource.
    before: datetime


def archive_candidates(
    engine: Engine, *, now: datetime, recheck_days: float, limit: int
) -> list[ArchiveCandidate]:
    """Broken or drifting links in use, with no archive copy and no recent lookup."""
    if limit <= 0:
        return []
    used = select(t.Resource.link_id).where(t.Resource.removed_at.is_(None))
    query = (
        select(t.Link)
        .where(
            or_(t.Link.state == health_rules.BROKEN, t.Link.drift_reason.is_not(None)),
            t.Link.archive_url.is_(None),
            or_(
                t.Link.archive_checked_at.is_(None),
                t.Link.archive_checked_at < now - night_span(recheck_days),
            ),
            t.Link.id.in_(used),
        )
        .order_by(t.Link.archive_checked_at.is_not(None), t.Link.id)
        .limit(limit)
    )
    with read_session(engine) as s:
        found = []
        for link in s.scalars(query):
            moments = [m for m in (link.first_failure_at, link.drift_since) if m is not None]
            before = min(moments) if moments else link.last_checked_at or now
            found.append(ArchiveCandidate(link.id, link.url, before))
        return found


def set_archive(engine: Engine, link_id: int, archive_url: str | None, *, at: datetime) -> None:
    with write_session(engine) as s:
        link = s.get_one(t.Link, link_id)
        link.archive_checked_at = at
        if archive_url is not None:
            link.archive_url = archive_url


class ArchiveCache(MutableMapping[str, CacheEntry]):
    """`catalog.archive.ArchiveLookup`'s cache kept in the database, so runs share it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getitem__(self, key: str) -> CacheEntry:
        with read_session(self._engine) as s:
            row = s.get(t.ArchiveCacheEntry, key)
            if row is None:
                raise KeyError(key)
            snapshot = (
                Snapshot(row.snapshot_url, row.snapshot_at, row.original or "")
                if row.snapshot_url and row.snapshot_at
                else None
            )
            return row.checked_at, snapshot

    def __setitem__(self, key: str, value: CacheEntry) -> None:
        checked_at, snapshot = value
        with write_session(self._engine) as s:
            s.merge(
                t.ArchiveCacheEntry(
                    key=key,
                    checked_at=checked_at,
                    snapshot_url=snapshot.url if snapshot else None,
                    snapshot_at=snapshot.timestamp if snapshot else None,
                    original=snapshot.original if snapshot else None,
                )
            )

    def __delitem__(self, key: str) -> None:
        with write_session(self._engine) as s:
            row = s.get(t.ArchiveCacheEntry, key)
            if row is None:
                raise KeyError(key)
            s.delete(row)

    def __iter__(self) -> Iterator[str]:
        with read_session(self._engine) as s:
            return iter(list(s.scalars(select(t.ArchiveCacheEntry.key))))

    def __len__(self) -> int:
        with read_session(self._engine) as s:
            return s.scalar(select(func.count()).select_from(t.ArchiveCacheEntry)) or 0
