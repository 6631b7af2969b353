"""The database schema (SQLAlchemy 2.0 declarative models).

Only `catalog.store`, `catalog.queries` and the Alembic migrations touch these
classes; everything else works with the frozen records of `catalog.model`.
Changing a column here means adding a migration in `catalog/migrations/versions`.

    collections 1─* resources *─1 links 1─* observations *─1 runs
                    resources 1─* decisions (what curators decided, by whom, why)
                                     events (append-only log of everything that changed)
                                     archive_cache (Wayback answers, so nightly runs ask once)
                                     run_leases (one full run at a time; see catalog.runs)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    #: The last sync of the file but a curator decision's re-sync of it alone (`partial`),
    #: which leaves it: a partial removal before it is settled (`store.removed_in_part`).
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
    content_type: Mapped[str | None] = mapped_column(Text)
    content_length: Mapped[int | None] = mapped_column(BigInteger)
    last_observation_id: Mapped[int | None]
    #: Where the first redirect of the last HTTP answer pointed (None: no redirect).
    redirect_url: Mapped[str | None] = mapped_column(Text)
    #: When the current fingerprint was first seen (the "unchanged since" of staleness).
    fingerprint_since: Mapped[datetime | None]
    #: Changing between working and failing too often (see catalog.health).
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ISO times of the recent working<->failing flips, within the flap window.
    flips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: ISO times of the nights the site answered 503 "unavailable", within the flap window.
    unavailable_nights: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Why the page no longer looks like the resource (drift); None when it does.
    drift_reason: Mapped[str | None] = mapped_column(Text)
    drift_since: Mapped[datetime | None]
    #: The latest entry text stamp (`Resource.text_at`) its last full read covered: a read
    #: is due when an entry of it is stamped later (`_targets._read_for_edits`).
    text_upto: Mapped[datetime | None]
    drift_score: Mapped[float | None] = mapped_column(Float)
    #: The entries the page drifted from, when not every entry using the link alike: a
    #: JSON object of entry (`resources.id`, as text) -> its own {"since", "reason",
    #: "score"} (`catalog.groups.stored_drift_entries`); a page that still holds the others
    #: flags only these, each by its own drift (`catalog.groups.entry_drift`,
    #: `entry_drift_since`). NULL: every entry, with the columns above (a takeover, a link
    #: with one entry, and every row from before the column).
    drift_entries: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: Internet Archive copy from before the link failed or drifted.
    archive_url: Mapped[str | None] = mapped_column(Text)
    archive_checked_at: Mapped[datetime | None]
    #: Checks deleted by `db prune` (catalog.retention), per start a row of the link may be
    #: dated from (`catalog.problem_checks.possible_starts`): a JSON object of start (UTC,
    #: `problem_checks.start_key`) -> the checks pruned since it, which a row's "Checks"
    #: adds to the observations still there. NULL: none pruned.
    pruned_by_start: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))
    #: Before migration 0022: the checks pruned since the link's problem start and since its
    #: outcome start, two starts only. Read by nothing now; kept, and still written by
    #: `db prune` from `pruned_by_start`, so that a linkhealth process started before the
    #: upgrade can still write a links row and recounts a link's row as the new readers do.
    pruned_checks: Mapped[int] = mapped_column(Integer, default=0)
    pruned_checks_since: Mapped[datetime | None]
    pruned_outcome_checks: Mapped[int] = mapped_column(Integer, default=0)
    pruned_outcome_since: Mapped[datetime | None]
    #: Checks since the problem start `problem_checks_since`, kept as checks are stored so
    #: a report need not count them (catalog.problem_checks); NULL: not counted yet. It
    #: counts the checks up to the observation `problem_checks_upto` (the link's
    #: `last_observation_id` when counted): a later one stored without counting shows.
    problem_checks: Mapped[int | None]
    problem_checks_since: Mapped[datetime | None]
    problem_checks_upto: Mapped[int | None]
    #: The link's tries since its last check that were not sent, its host having said it
    #: was away (`Observation.held`), kept as they are stored (`health.apply_observation`:
    #: +1 per held try, 0 on a check; a try that found our network down leaves it), so a
    #: report reads it instead of counting observations. 0 when its latest try was a check.
    held_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The contacts its entries name (`catalog.check.contacts` keys) that a read of the
    #: page has shown, and those of them the last read did not show (`catalog.health`).
    contacts_seen: Mapped[list[Any]] = mapped_column(JSON, default=list)
    contacts_gone: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: What the report's queue says of the gone ones; None when none is gone.
    contact_reason: Mapped[str | None] = mapped_column(Text)


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
    #: When sync last changed what drift judges of it (title, description), put it on its
    #: link (new, re-added, URL edited) or removed it; never earlier than any other stamp,
    #: whatever the clock (`store.text_stamp`). Other edits leave it. Indexed: its max is
    #: read by every sync and store round.
    text_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Last review: the curator's `mark-reviewed`, or the entry's `reviewed_at` field.
    reviewed_at: Mapped[datetime | None]
    #: Out of the action queue until then (still checked); see the decisions table for why.
    snoozed_until: Mapped[datetime | None]
    snooze_reason: Mapped[str | None] = mapped_column(Text)
    #: Out of the action queue for good (e.g. a known login wall), until `unignore`.
    ignored_at: Mapped[datetime | None]
    ignored_reason: Mapped[str | None] = mapped_column(Text)
    #: [{"code": "dated", "reason": "...", "since": ISO or None}, ...] from catalog.staleness.
    stale_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)


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
    content_type: Mapped[str | None] = mapped_column(Text)
    content_length: Mapped[int | None] = mapped_column(BigInteger)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str | None] = mapped_column(Text)
    bytes_read: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_url: Mapped[str | None] = mapped_column(Text)
    #: What the https form of a working http link served instead of its page, when the
    #: check tried it (`Observation.https_found`); NULL when not tried, or the same page.
    https_found: Mapped[str | None] = mapped_column(Text)
    #: Lowest drift.relevance score of the page against the entries using the link.
    relevance: Mapped[float | None] = mapped_column(Float)
    #: {"<resources.id>": score} for pages with enough text to judge (drift history).
    relevance_scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The contacts the page showed, for links whose entries name some
    #: (`Observation.contacts`); NULL when not looked for.
    contacts: Mapped[list[Any] | None] = mapped_column(JSON)
    #: Not sent: the host had said it is away (`Observation.held`); no check of the link.
    held: Mapped[bool] = mapped_column(Boolean, default=False)


class Event(Base):
    """Append-only log: catalog edits and link changes, each with its evidence."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_at", "at"),
        #: A link's newest event of a kind (`catalog.problem_checks._FLAPPING_SINCE`).
        Index("ix_events_link_kind_at", "link_id", "kind", "at"),
    )

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


class Decision(Base):
    """A curator's decision about one resource: who, when, what and why. Append-only."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    decided_by: Mapped[str] = mapped_column(String(200))
    #: accept_redirect, replace_url, mark_reviewed, snooze, ignore, unignore
    kind: Mapped[str] = mapped_column(String(40), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    #: {"old": ..., "new": ..., "until": ..., "file": ...}
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ArchiveCacheEntry(Base):
    """One Wayback answer (`catalog.archive.cache_key`), including "no copy"."""

    __tablename__ = "archive_cache"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    checked_at: Mapped[datetime]
    snapshot_url: Mapped[str | None] = mapped_column(Text)
    snapshot_at: Mapped[datetime | None]
    original: Mapped[str | None] = mapped_column(Text)


class RunLease(Base):
    """Who may run now: one row per lease name ("full-run", "full-run:1/2" for shard 1 of 2).

    A holder keeps its lease alive by moving `expires_at` forward (heartbeat); an expired
    lease, or one whose holder process is gone, may be taken over (see `catalog.runs`).
    """

    __tablename__ = "run_leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: "host:pid flow-run-id" (or a random token outside Prefect), so operators can find it.
    holder: Mapped[str] = mapped_column(Text)
    #: The runs row of the holder, once started; not a foreign key (leases outlive nothing).
    run_id: Mapped[int | None]
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
