"""The database schema (SQLAlchemy 2.0 declarative models).

Only `catalog.store`, `catalog.queries` and the Alembic migrations touch these
classes; everything else works with the frozen records of `catalog.model`.
Changing a column here means adding a migration in `catalog/migrations/versions`.

    collections 1─* resources *─1 links 1─* observations *─1 runs
                                     events (append-only log of everything that changed)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use catalog.clock.utcnow()")

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Named constraints, so later SQLite batch migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Collection(Base):
    """One catalog file (a toolkit)."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    synced_at: Mapped[datetime | None]


class Link(Base):
    """One distinct URL (canonical form) and its current state; shared by resources."""

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    host: Mapped[str] = mapped_column(String(255), index=True, default="")
    outcome: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    #: Health state derived from observations: ok, suspect, broken, recovered, unchecked, ...
    state: Mapped[str] = mapped_column(String(40), default="unchecked")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    #: When the outcome last changed (the "since when" of a report row).
    last_change_at: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    fingerprinted_at: Mapped[datetime | None]
    title: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    content_length: Mapped[int | None]
    last_observation_id: Mapped[int | None]


class Resource(Base):
    """One catalog entry as last synced. Removed entries are soft-deleted."""

    __tablename__ = "resources"
    __table_args__ = (UniqueConstraint("collection_id", "rid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"))
    #: The curator's id from the catalog file.
    rid: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    #: The URL exactly as the curator wrote it.
    url: Mapped[str] = mapped_column(Text)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("links.id"), index=True)
    publisher: Mapped[str | None] = mapped_column(Text)
    #: Every field of the entry (Resource.fields_dict()), for diffs and reports.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    line: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: schedule, manual, recheck, ...
    trigger: Mapped[str] = mapped_column(String(40))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: running, completed, failed, aborted
    status: Mapped[str] = mapped_column(String(20), default="running")
    urls_planned: Mapped[int] = mapped_column(Integer, default=0)
    urls_checked: Mapped[int] = mapped_column(Integer, default=0)
    #: {"ok": 20, "not_found": 2, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    network_unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Anything else worth showing (catalog files, settings that matter, messages).
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration_s: Mapped[float | None] = mapped_column(Float)


class Observation(Base):
    """One check of one URL. Append-only."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_link_checked", "link_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id"))
    url: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    #: "HEAD" or "HEAD,GET" ...
    methods: Mapped[str] = mapped_column(String(40), default="")
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    #: [{"url": ..., "status": ...}, ...]
    chain: Mapped[list[Any]] = mapped_column(JSON, default=list)
    elapsed_ms: Mapped[int | None]
    retries: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str | None] = mapped_column(String(200))
    content_length: Mapped[int | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str | None] = mapped_column(Text)
    bytes_read: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_url: Mapped[str | None] = mapped_column(Text)


class Event(Base):
    """Append-only log: catalog edits and link changes, each with its evidence."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    #: added, removed, url_edited, fields_edited, outcome_changed, redirect_changed,
    #: content_changed, title_changed, ...
    kind: Mapped[str] = mapped_column(String(40), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("links.id"), index=True)
    #: {"old": ..., "new": ..., "fields": [...]} and whatever else explains the event.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
