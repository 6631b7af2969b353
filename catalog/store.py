"""Storage stage: every SQL write, and the reads sync, plan and export need.

Inputs: `catalog.model` records (Catalog, Resource, Observation) and settings.
Outputs: frozen records defined here (RunRecord, EventRecord, LinkStateRecord, ...);
ORM objects never leave this module.

Each public function is one short transaction. On SQLite, writes start with
`BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing
when a read lock cannot be upgraded; on PostgreSQL they take one transaction-level
advisory lock, so writers queue the same way there. `catalog.sync` composes several
writes into one transaction per catalog through `write_session` and the
`Session`-taking helpers below (still no SQL outside this module). Run leases
(`acquire_lease`, `abort_stale_runs`) live here too; `catalog.runs` holds their rules.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from catalog import health as health_rules
from catalog import tables as t
from catalog.archive import CacheEntry, Snapshot
from catalog.errors import ConfigError, NotFoundError, StoreError
from catalog.health import Change, Entry, LinkState
from catalog.model import Catalog, Observation, Previous, Resource, Target
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.shards import SHARDED_RUN
from catalog.staleness import staleness
from catalog.urls import CheckedUrl, canonical_url, parse_url


def _table(model: type[t.Base]) -> Table:
    """The model's Core table. SQLAlchemy types `__table__` as any FROM clause, which has
    no insert() or update(); a declarative model's is always a Table."""
    return cast(Table, model.__table__)


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    id: int
    trigger: str
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    #: running, completed, failed, aborted
    status: str
    urls_planned: int
    urls_checked: int
    #: Observations by outcome value, e.g. {"ok": 20, "not_found": 2}.
    counts: Mapping[str, int]
    network_unavailable: bool
    summary: Mapping[str, Any]
    duration_s: float | None


@dataclass(frozen=True)
class EventRecord:
    id: int
    at: datetime
    kind: str
    run_id: int | None
    link_id: int | None
    #: Database id of the resource, for resource events (sync); None for link events.
    resource_id: int | None
    details: Mapping[str, Any]
    #: The link's canonical URL, when the event concerns a link.
    url: str | None = None
    #: Curator id and collection key, when the event concerns a resource.
    rid: str | None = None
    collection: str | None = None


@dataclass(frozen=True, kw_only=True)
class LinkStateRecord(LinkState):
    """One links row: its health (the `LinkState` fields) plus identity."""

    id: int
    url: str
    host: str
    #: The observation the state reflects (network_unavailable checks do not count).
    last_observation_id: int | None
    #: Curator ids of the active resources that use this link.
    resource_ids: tuple[str, ...] = ()
    #: Internet Archive copy from before the link failed or drifted, if one was found.
    archive_url: str | None = None
    archive_checked_at: datetime | None = None

    @property
    def health(self) -> LinkState:
        return LinkState(**{f.name: getattr(self, f.name) for f in fields(LinkState)})


@dataclass(frozen=True)
class ObservationRecord:
    id: int
    run_id: int | None
    link_id: int
    url: str
    checked_at: datetime
    outcome: Outcome
    reason: str
    http_status: int | None
    final_url: str | None
    methods: tuple[str, ...]
    chain: tuple[Mapping[str, Any], ...]
    elapsed_ms: int | None
    retries: int
    content_type: str | None
    content_length: int | None
    fingerprint: str | None
    title: str | None
    not_modified: bool
    suggested_url: str | None
    #: Lowest drift relevance of the page against its entries (None: not judged).
    relevance: float | None = None


@dataclass(frozen=True)
class StaleNote:
    """One stored staleness reason (see catalog.staleness)."""

    code: str
    reason: str
    since: datetime | None


@dataclass(frozen=True)
class ResourceRecord:
    id: int
    collection: str
    rid: str
    title: str
    #: As the curator wrote it.
    url: str
    link_id: int | None
    fields: Mapping[str, Any]
    line: int | None
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None
    #: The catalog file the resource comes from.
    path: str | None = None
    reviewed_at: datetime | None = None
    snoozed_until: datetime | None = None
    snooze_reason: str | None = None
    ignored_at: datetime | None = None
    ignored_reason: str | None = None
    stale: tuple[StaleNote, ...] = ()

    def snoozed(self, now: datetime) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > now

    @property
    def ignored(self) -> bool:
        return self.ignored_at is not None


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    at: datetime
    by: str
    #: accept_redirect, replace_url, mark_reviewed, snooze, ignore, unignore
    kind: str
    resource_id: int
    reason: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True)
class ResourceHistory:
    resource: ResourceRecord
    link: LinkStateRecord | None
    #: Newest first.
    observations: tuple[ObservationRecord, ...]
    #: Resource events and its link's events, newest first.
    events: tuple[EventRecord, ...]
    #: The curators' decisions about the resource, newest first.
    decisions: tuple[DecisionRecord, ...] = ()


@dataclass(frozen=True)
class ResourceStatus:
    """One active resource with its link's current state, for exports and reports."""

    collection: str
    rid: str
    title: str
    url: str
    link: LinkStateRecord | None
    #: The latest observation's fingerprint differs from the one before it that had one.
    content_changed: bool
    #: Codes of the entry's stored staleness reasons (catalog.staleness), in their order.
    stale: tuple[str, ...] = ()
    snoozed_until: datetime | None = None
    #: Out of the queue for good (`ignore`), with the curator's reason.
    ignored: bool = False
    ignored_reason: str | None = None


@dataclass(frozen=True)
class StoredResource:
    """What sync needs to know about a resource row to diff it against the catalog."""

    id: int
    rid: str
    url: str
    link_id: int | None
    fields: Mapping[str, Any]
    line: int | None
    removed_at: datetime | None


# --- transactions ----------------------------------------------------------------------------


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if engine.dialect.name == "sqlite":
            # Take the write lock now: a deferred transaction that reads first fails with
            # "database is locked" when it tries to upgrade while another writer holds it.
            session.execute(text("BEGIN IMMEDIATE"))
        elif engine.dialect.name == "postgresql":
            # The same one-writer-at-a-time rule: link state is read, recomputed in Python and
            # written back, so two overlapping writers (a recheck during the nightly run)
            # would otherwise lose one's update. Released at commit or rollback.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK})
        yield session


#: Arbitrary constant naming the PostgreSQL advisory lock of `write_session`
#: (not the migrations' lock, so a writer never waits on an upgrade it is part of).
_PG_WRITE_LOCK = 0x6C68_7772  # "lhwr"


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


# --- runs ------------------------------------------------------------------------------------


def start_run(
    engine: Engine,
    *,
    trigger: str,
    now: datetime,
    flow_run_id: str | None = None,
    catalogs: Sequence[str] = (),
    summary: Mapping[str, Any] | None = None,
) -> int:
    """A new `running` run; `summary` adds to it (e.g. the holder and lease of `catalog.runs`)."""
    with write_session(engine) as s:
        run = t.Run(
            trigger=trigger,
            flow_run_id=flow_run_id,
            started_at=now,
            status="running",
            urls_planned=0,
            urls_checked=0,
            counts={},
            network_unavailable=False,
            summary={"catalogs": [str(c) for c in catalogs], **(summary or {})},
        )
        s.add(run)
        s.flush()
        return run.id


def group_shard_runs(engine: Engine, flow_run_ids: Sequence[str], sharded_run: str) -> list[int]:
    """Mark the runs of `flow_run_ids` as the shards of one sharded run, so reports show
    that night as one run (`catalog.queries`); their ids. A shard whose flow failed before
    it recorded a run has no row and is simply not among them."""
    with write_session(engine) as s:
        runs = s.scalars(select(t.Run).where(t.Run.flow_run_id.in_(list(flow_run_ids)))).all()
        for run in runs:
            run.summary = {**(run.summary or {}), SHARDED_RUN: sharded_run}
        return sorted(run.id for run in runs)


def note_run_progress(engine: Engine, run_id: int, urls_checked: int) -> None:
    """The URLs a running run has checked so far, for `linkhealth status` (most runs are
    one batch, stored only at its end); the run's close counts them exactly."""
    with write_session(engine) as s:
        s.execute(
            update(t.Run)
            .where(t.Run.id == run_id, t.Run.status == "running")
            .values(urls_checked=urls_checked)
        )


def set_run_planned(engine: Engine, run_id: int, urls_planned: int) -> None:
    with write_session(engine) as s:
        _run(s, run_id).urls_planned = urls_planned


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    now: datetime,
    network_unavailable: bool = False,
    summary: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Close a run; counts and urls_checked come from the observations it wrote."""
    with write_session(engine) as s:
        run = _run(s, run_id)
        _close_run(s, run, status=status, now=now, network_unavailable=network_unavailable)
        if summary:
            run.summary = {**(run.summary or {}), **summary}
        s.flush()
        return _run_record(run)


def _close_run(
    s: Session, run: t.Run, *, status: str, now: datetime, network_unavailable: bool = False
) -> None:
    """Counts and urls_checked from the observations the run wrote; status and times."""
    run_id = run.id
    rows = s.execute(
        select(t.Observation.outcome, func.count())
        .where(t.Observation.run_id == run_id)
        .group_by(t.Observation.outcome)
    ).all()
    run.counts = {outcome: n for outcome, n in sorted(rows)}
    run.urls_checked = (
        s.scalar(
            select(func.count(func.distinct(t.Observation.link_id))).where(
                t.Observation.run_id == run_id
            )
        )
        or 0
    )
    run.status = status
    run.finished_at = now
    run.network_unavailable = bool(run.network_unavailable) or network_unavailable
    run.duration_s = (now - run.started_at).total_seconds()


def mark_run_network_unavailable(engine: Engine, run_id: int, reason: str) -> None:
    """The canaries failed: nothing this run stores says anything about the links."""
    with write_session(engine) as s:
        run = _run(s, run_id)
        run.network_unavailable = True
        run.summary = {**(run.summary or {}), "network_unavailable_reason": reason}


def update_run_summary(engine: Engine, run_id: int, **values: Any) -> Mapping[str, Any]:
    with write_session(engine) as s:
        run = _run(s, run_id)
        run.summary = {**(run.summary or {}), **values}
        return dict(run.summary)


def get_run(engine: Engine, run_id: int) -> RunRecord:
    with read_session(engine) as s:
        return _run_record(_run(s, run_id))


def latest_runs(engine: Engine, limit: int = 10) -> list[RunRecord]:
    with read_session(engine) as s:
        runs = s.scalars(select(t.Run).order_by(t.Run.id.desc()).limit(limit))
        return [_run_record(r) for r in runs]


def _run(s: Session, run_id: int) -> t.Run:
    run = s.get(t.Run, run_id)
    if run is None:
        raise NotFoundError(
            f"run {run_id} does not exist; `linkhealth status --limit 50` lists the runs"
        )
    return run


def _run_record(run: t.Run) -> RunRecord:
    return RunRecord(
        id=run.id,
        trigger=run.trigger,
        flow_run_id=run.flow_run_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        urls_planned=run.urls_planned or 0,
        urls_checked=run.urls_checked or 0,
        counts=dict(run.counts or {}),
        network_unavailable=bool(run.network_unavailable),
        summary=dict(run.summary or {}),
        duration_s=run.duration_s,
    )


# --- run leases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseRecord:
    """Who holds a run lease, and until when (see `catalog.runs` for the rules)."""

    name: str
    #: "host:pid flow-run-id" (see `lease_holder`).
    holder: str
    run_id: int | None
    acquired_at: datetime
    expires_at: datetime
    heartbeat_at: datetime

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass(frozen=True)
class LeaseClaim:
    """What `acquire_lease` found: whether we hold the lease now, and the row as it stands."""

    acquired: bool
    lease: LeaseRecord


def lease_holder(flow_run_id: str | None = None) -> str:
    """This process as a lease holder: host and pid (to tell a dead holder on this host),
    then the Prefect flow run id, or a random token so two holders never look alike."""
    return f"{socket.gethostname()}:{os.getpid()} {flow_run_id or 'local-' + uuid.uuid4().hex[:12]}"


def holder_gone(holder: str) -> bool:
    """True when `holder` names a process of this host that no longer runs.

    Holders on other hosts cannot be probed: only their lease expiry tells.
    """
    where = holder.split(" ", 1)[0]
    host, _, pid_text = where.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    try:  # a killed child nobody reaped yet still answers signal 0
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return any(
        line.split()[1:2] == ["Z"] for line in status.splitlines() if line.startswith("State:")
    )


def acquire_lease(
    engine: Engine,
    name: str,
    holder: str,
    *,
    now: datetime,
    ttl: timedelta,
    run_id: int | None = None,
) -> LeaseClaim:
    """Take lease `name` in one short write transaction, atomically on every backend.

    Inserts the row, or takes it over when it expired or is already ours; a live lease
    of someone else is left alone and returned (`acquired` False).
    """
    table = _table(t.RunLease)
    insert = _dialect_insert(engine)(table).values(
        name=name,
        holder=holder,
        run_id=run_id,
        acquired_at=now,
        expires_at=now + ttl,
        heartbeat_at=now,
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={
            c: insert.excluded[c]
            for c in ("holder", "run_id", "acquired_at", "expires_at", "heartbeat_at")
        },
        where=or_(table.c.expires_at <= now, table.c.holder == holder),
    )
    with write_session(engine) as s:
        s.execute(upsert)
        row = s.get_one(t.RunLease, name, populate_existing=True)
        return LeaseClaim(acquired=row.holder == holder, lease=_lease_record(row))


def _dialect_insert(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return postgresql_insert
    if engine.dialect.name == "sqlite":
        return sqlite_insert
    raise StoreError(f"run leases need SQLite or PostgreSQL, not {engine.dialect.name}")


def renew_lease(
    engine: Engine,
    name: str,
    holder: str,
    *,
    now: datetime,
    ttl: timedelta,
    run_id: int | None = None,
) -> LeaseRecord | None:
    """Heartbeat: move the expiry to `now + ttl` if `holder` still holds the lease; None
    when it was lost (it expired and someone took it over, or it was released)."""
    with write_session(engine) as s:
        row = s.get(t.RunLease, name)
        if row is None or row.holder != holder:
            return None
        row.expires_at = now + ttl
        row.heartbeat_at = now
        if run_id is not None:
            row.run_id = run_id
        s.flush()
        return _lease_record(row)


def release_lease(engine: Engine, name: str, holder: str) -> bool:
    """Give the lease back if `holder` holds it; False when it was not ours (any more)."""
    with write_session(engine) as s:
        result = s.execute(
            delete(t.RunLease).where(t.RunLease.name == name, t.RunLease.holder == holder)
        )
        return bool(getattr(result, "rowcount", 0))


def get_lease(engine: Engine, name: str) -> LeaseRecord | None:
    with read_session(engine) as s:
        row = s.get(t.RunLease, name)
        return _lease_record(row) if row is not None else None


def leases(engine: Engine) -> list[LeaseRecord]:
    """Every lease row, expired ones included (`linkhealth status` shows them)."""
    with read_session(engine) as s:
        return [_lease_record(r) for r in s.scalars(select(t.RunLease).order_by(t.RunLease.name))]


def abort_stale_runs(
    engine: Engine, *, now: datetime, gone: Callable[[str], bool] = holder_gone
) -> list[int]:
    """Mark `aborted` the running runs nobody is running any more; returns their ids.

    A run is stale when its holder process is gone (`gone`, on this host) or when the
    lease it ran under expired or belongs to someone else now. Those leases are deleted
    in the same transaction, so the next run can take them. Runs that never recorded a
    holder (made before leases existed) are left alone.
    """
    with write_session(engine) as s:
        live: set[tuple[str, str]] = set()
        for lease in s.scalars(select(t.RunLease)):
            if lease.expires_at <= now or gone(lease.holder):
                s.delete(lease)
            else:
                live.add((lease.name, lease.holder))
        aborted = []
        running = s.scalars(select(t.Run).where(t.Run.status == "running").order_by(t.Run.id))
        for run in running:
            summary = dict(run.summary or {})
            holder, lease_name = summary.get("holder"), summary.get("lease")
            if not isinstance(holder, str):
                continue
            if gone(holder):
                why = f"its process ({holder}) is gone"
            elif lease_name and (lease_name, holder) not in live:
                why = f"its lease {lease_name!r} expired without a heartbeat"
            else:
                continue
            _close_run(s, run, status="aborted", now=now)
            run.summary = {**summary, "aborted_reason": why}
            aborted.append(run.id)
        return aborted


def _lease_record(row: t.RunLease) -> LeaseRecord:
    return LeaseRecord(
        name=row.name,
        holder=row.holder,
        run_id=row.run_id,
        acquired_at=row.acquired_at,
        expires_at=row.expires_at,
        heartbeat_at=row.heartbeat_at,
    )


# --- sync primitives (called by catalog.sync inside one write_session) -------------------------


def upsert_collection(
    s: Session, catalog: Catalog, data: Mapping[str, Any], *, now: datetime
) -> int:
    row = s.scalar(select(t.Collection).where(t.Collection.key == catalog.key))
    if row is None:
        row = t.Collection(key=catalog.key, path=str(catalog.path), title=catalog.title)
        s.add(row)
    row.path = str(catalog.path)
    row.title = catalog.title
    row.data = dict(data)
    row.synced_at = now
    s.flush()
    return row.id


def stored_rids(s: Session, collection_id: int) -> dict[str, bool]:
    """Every resource id the collection has rows for -> whether the row is active (not
    removed): what sync needs of the rows before it reads them a chunk at a time."""
    table = _table(t.Resource)
    rows = s.connection().execute(
        select(table.c.rid, table.c.removed_at.is_(None)).where(
            table.c.collection_id == collection_id
        )
    )
    return {rid: bool(active) for rid, active in rows}


def stored_resources(
    s: Session, collection_id: int, rids: Sequence[str] | None = None
) -> list[StoredResource]:
    """The collection's rows (only those of `rids` when given: sync reads a chunk at once)."""
    table = _table(t.Resource)
    query = select(
        table.c.id,
        table.c.rid,
        table.c.url,
        table.c.link_id,
        table.c.fields,
        table.c.line,
        table.c.removed_at,
    ).where(table.c.collection_id == collection_id)
    if rids is not None:
        if not rids:
            return []
        query = query.where(table.c.rid.in_(list(rids)))
    return [
        StoredResource(
            id=r.id,
            rid=r.rid,
            url=r.url,
            link_id=r.link_id,
            fields=dict(r.fields or {}),
            line=r.line,
            removed_at=r.removed_at,
        )
        for r in s.connection().execute(query)
    ]


def ensure_links(s: Session, urls: Sequence[str]) -> dict[str, int]:
    """URL as written -> id of the links row of its canonical form (created when new)."""
    parsed = {url: _key_and_host(url) for url in dict.fromkeys(urls)}
    keys = {url: key for url, (key, _) in parsed.items()}
    table = _table(t.Link)
    conn = s.connection()
    ids: dict[str, int] = {}
    wanted = list(dict.fromkeys(keys.values()))
    for chunk in _chunks(wanted):
        rows = conn.execute(select(table.c.url, table.c.id).where(table.c.url.in_(chunk)))
        ids.update((url, link_id) for url, link_id in rows)
    # The host of the first spelling, as the links row would have got it when created.
    hosts = {key: host for key, host in reversed(parsed.values())}
    missing = [key for key in wanted if key not in ids]
    if missing:
        inserted = conn.execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True),
            [{"url": key, "host": hosts[key], "state": health_rules.UNCHECKED} for key in missing],
        ).scalars()
        ids.update(zip(missing, inserted, strict=True))
    return {url: ids[key] for url, key in keys.items()}


@dataclass(frozen=True)
class ResourceWrite:
    """One resource row to insert or update during sync, with its catalog data."""

    resource: Resource
    fields: Mapping[str, Any]
    link_id: int
    #: The row to update; None to insert a new one.
    id: int | None = None


def insert_resources(
    s: Session, collection_id: int, writes: Sequence[ResourceWrite], *, now: datetime
) -> list[StoredResource]:
    """New resource rows, in one executemany; returned in the order given."""
    if not writes:
        return []
    table = _table(t.Resource)
    ids = (
        s.connection()
        .execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True),
            [
                {
                    "collection_id": collection_id,
                    **_resource_values(w),
                    "created_at": now,
                    "updated_at": now,
                }
                for w in writes
            ],
        )
        .scalars()
    )
    return [_written(w, row_id) for w, row_id in zip(writes, ids, strict=True)]


def update_resources(
    s: Session, writes: Sequence[ResourceWrite], *, now: datetime
) -> list[StoredResource]:
    """Write the catalog's current data (and link) over existing rows; restores removed
    ones. Every write here is a curator's change, so `updated_at` moves."""
    if not writes:
        return []
    table = _table(t.Resource)
    names = ["title", "url", "publisher", "fields", "line", "link_id"]
    statement = (
        table.update()
        .where(table.c.id == bindparam("row_id"))
        .values(
            {name: bindparam(name) for name in names}
            | {"removed_at": None, "updated_at": bindparam("now")}
        )
    )
    s.connection().execute(
        statement,
        [{"row_id": w.id, "now": now, **_resource_values(w)} for w in writes],
    )
    return [_written(w, w.id) for w in writes if w.id is not None]


def update_lines(s: Session, lines: Mapping[int, int | None]) -> None:
    """Only the entries' line numbers moved: bookkeeping, so `updated_at` stays."""
    if not lines:
        return
    table = _table(t.Resource)
    statement = (
        table.update().where(table.c.id == bindparam("row_id")).values(line=bindparam("new_line"))
    )
    s.connection().execute(
        statement, [{"row_id": row_id, "new_line": line} for row_id, line in lines.items()]
    )


def mark_removed(s: Session, resource_ids: Sequence[int], *, now: datetime) -> None:
    table = _table(t.Resource)
    for chunk in _chunks(list(resource_ids)):
        s.connection().execute(
            table.update().where(table.c.id.in_(chunk)).values(removed_at=now, updated_at=now)
        )


def _resource_values(write: ResourceWrite) -> dict[str, Any]:
    res = write.resource
    return {
        "rid": res.id,
        "title": res.title,
        "url": res.url,
        "link_id": write.link_id,
        "publisher": res.publisher,
        "fields": dict(write.fields),
        "line": res.line,
    }


def _written(write: ResourceWrite, row_id: int | None) -> StoredResource:
    assert row_id is not None
    return StoredResource(
        id=row_id,
        rid=write.resource.id,
        url=write.resource.url,
        link_id=write.link_id,
        fields=dict(write.fields),
        line=write.resource.line,
        removed_at=None,
    )


@dataclass(frozen=True)
class NewEvent:
    """An event to append (see `add_events`)."""

    kind: str
    at: datetime
    run_id: int | None = None
    resource_id: int | None = None
    link_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def add_events(s: Session, events: Sequence[NewEvent]) -> list[EventRecord]:
    """Append events in one executemany; their ids ascend in the order given."""
    return _insert_events(
        s.connection(),
        [
            {
                "at": e.at,
                "kind": e.kind,
                "run_id": e.run_id,
                "resource_id": e.resource_id,
                "link_id": e.link_id,
                "details": dict(e.details),
            }
            for e in events
        ],
    )


def add_event(
    s: Session,
    kind: str,
    *,
    at: datetime,
    run_id: int | None = None,
    resource_id: int | None = None,
    link_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> EventRecord:
    row = t.Event(
        at=at,
        kind=kind,
        run_id=run_id,
        resource_id=resource_id,
        link_id=link_id,
        details=dict(details or {}),
    )
    s.add(row)
    s.flush()
    return _event_record(row)


# --- plan ------------------------------------------------------------------------------------


def targets_for_check(
    engine: Engine,
    *,
    now: datetime,
    fingerprint_max_age_days: float,
    resource_ids: Sequence[str] | None = None,
    collection_keys: Sequence[str] | None = None,
) -> list[Target]:
    """One Target per distinct link of the active resources, in URL order."""
    link, res, col = _table(t.Link), _table(t.Resource), _table(t.Collection)
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
            link.c.title,
            link.c.outcome,
            res.c.rid,
        )
        .join(res, res.c.link_id == link.c.id)
        .join(col, col.c.id == res.c.collection_id)
        .where(res.c.removed_at.is_(None))
        .order_by(link.c.url, res.c.rid)
    )
    if resource_ids is not None:
        query = query.where(res.c.rid.in_(list(resource_ids)))
    if collection_keys is not None:
        query = query.where(col.c.key.in_(list(collection_keys)))
    max_age = timedelta(days=fingerprint_max_age_days)
    targets: list[Target] = []
    with read_session(engine) as s:
        # Ordered by URL, a link's rows are adjacent: each Target is made as its rows end,
        # without holding every row first (at 100,000 links that doubled the peak).
        rows = s.connection().execute(query.execution_options(yield_per=CHUNK))
        for _, group in groupby(rows, key=attrgetter("id")):
            first, *more = group
            rids = dict.fromkeys([first.rid, *(row.rid for row in more)])
            targets.append(
                Target(
                    url=first.url,
                    host=sys.intern(first.host),  # a few thousand hosts, 100,000 copies
                    resource_ids=tuple(rids),
                    previous=_previous(first),
                    fingerprint_due=first.fingerprinted_at is None
                    or now - first.fingerprinted_at >= max_age,
                )
            )
    return targets


def _previous(link: Any) -> Previous | None:
    if link.last_checked_at is None:
        return None
    return Previous(
        etag=link.etag,
        last_modified=link.last_modified,
        fingerprint=link.fingerprint,
        fingerprinted_at=link.fingerprinted_at,
        content_length=link.content_length,
        title=link.title,
        outcome=Outcome(link.outcome) if link.outcome else None,
    )


# --- observations and link state -------------------------------------------------------------

_STATE_FIELDS = tuple(f.name for f in fields(LinkState))

#: None as SQL NULL, not JSON 'null' (what `IS NOT NULL` filters on drift history expect).
_JSON_OR_NULL = JSON(none_as_null=True)

#: Rows per `IN (...)` list: far below SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 2000


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: Observations stored per round of reads and writes inside `record_observations`'s one
#: transaction: a round's rows, link states and parameters are transient, and a batch of
#: 5,000 HTML observations stored at once peaked ~60 MB above the batch itself.
STORE_CHUNK = 1000


def record_observations(
    engine: Engine,
    run_id: int | None,
    observations: Sequence[Observation],
    health: HealthSettings,
    *,
    now: datetime,
) -> list[EventRecord]:
    """Store one batch in one transaction: observations, new link states, change events.

    Set-based, because a batch may hold a whole run: links, entries and drift history
    are read with one query per `CHUNK` links and every row is written by executemany,
    instead of several statements per URL. Observations of one URL in a batch are
    applied in order, each on the state (and drift history) the one before left.
    """
    if not observations:
        return []
    with write_session(engine) as s:
        conn = s.connection()
        events: list[EventRecord] = []
        for chunk in _chunks(observations, STORE_CHUNK):
            events += _record_chunk(conn, run_id, chunk, health, now=now)
        return events


def _record_chunk(
    conn: Connection,
    run_id: int | None,
    observations: Sequence[Observation],
    health: HealthSettings,
    *,
    now: datetime,
) -> list[EventRecord]:
    """One round of `record_observations`. It reads the links and drift history as the
    rounds before left them in this transaction, so a URL seen in two rounds is applied
    in order."""
    parsed = [_key_and_host(obs.url) for obs in observations]
    keys = [key for key, _ in parsed]
    hosts: dict[str, str] = {}
    for key, host in parsed:  # the first spelling's host, as links were always created
        hosts.setdefault(key, host)
    links = _links_by_url(conn, hosts)
    judged = [
        links[key].id
        for key, obs in zip(keys, observations, strict=True)
        if health_rules.judges_drift(obs)
    ]
    entries = _entries_of(conn, judged)
    by_id = {link.id: link for link in links.values()}
    # A link never checked has no observations, so no drift history to read.
    history = _relevance_histories(
        conn,
        [i for i in dict.fromkeys(judged) if i in entries and by_id[i].last_checked_at],
    )
    states: dict[int, LinkState] = {}
    rows: list[dict[str, Any]] = []
    #: Per observation: its link row and the changes it revealed.
    changed: list[tuple[Any, list[Change], datetime]] = []
    for obs, key in zip(observations, keys, strict=True):
        link = links[key]
        judgement = None
        if link.id in entries and health_rules.judges_drift(obs):
            past = history.setdefault(link.id, [])
            judgement = health_rules.judge_page(obs, entries[link.id], _by_entry(past))
        row = _observation_values(obs, run_id, link.id)
        if judgement is not None:
            row["relevance"] = judgement.relevance
            row["relevance_scores"] = dict(judgement.baseline_scores) or None
            if row["relevance_scores"]:
                past.insert(0, row["relevance_scores"])
                del past[DRIFT_HISTORY:]
        rows.append(row)
        state = states.get(link.id) or _link_state(link)
        new, changes = health_rules.apply_observation(state, obs, health, now=now)
        new, drift_changes = health_rules.apply_drift(new, judgement, at=obs.checked_at)
        states[link.id] = new
        changed.append((link, [*changes, *drift_changes], obs.checked_at))
    table = _table(t.Observation)
    insert = table.insert().values(
        relevance_scores=bindparam("relevance_scores", type_=_JSON_OR_NULL)
    )
    ids = conn.execute(insert.returning(table.c.id, sort_by_parameter_order=True), rows).scalars()
    last_seen = {link_id: link.last_observation_id for link_id, link in by_id.items()}
    for obs, row, obs_id in zip(observations, rows, ids, strict=True):
        if obs.outcome is not Outcome.NETWORK_UNAVAILABLE:
            last_seen[row["link_id"]] = obs_id
    _write_states(conn, states, last_seen)
    return _insert_link_events(conn, changed, run_id)


def _key_and_host(url: str) -> tuple[str, str]:
    """`canonical_url(url)` and `host_of(url)` with one parse instead of two."""
    parsed = parse_url(url)
    if isinstance(parsed, CheckedUrl):  # valid URLs hold no whitespace: nothing to strip
        return parsed.canonical, parsed.host
    return canonical_url(url), ""


def _links_by_url(conn: Connection, hosts: Mapping[str, str]) -> dict[str, Any]:
    """The links rows (Core rows) of canonical URLs (-> host); missing ones are created."""
    table = _table(t.Link)
    found: dict[str, Any] = {}
    keys = list(hosts)
    for chunk in _chunks(keys):
        for row in conn.execute(select(table).where(table.c.url.in_(chunk))):
            found[row.url] = row
    missing = [key for key in keys if key not in found]
    if missing:
        conn.execute(
            table.insert(),
            [{"url": key, "host": hosts[key], "state": health_rules.UNCHECKED} for key in missing],
        )
        for chunk in _chunks(missing):
            for row in conn.execute(select(table).where(table.c.url.in_(chunk))):
                found[row.url] = row
    return found


def _write_states(
    conn: Connection, states: Mapping[int, LinkState], last_seen: Mapping[int, int | None]
) -> None:
    table = _table(t.Link)
    names = [*_STATE_FIELDS, "last_observation_id"]
    statement = (
        table.update()
        .where(table.c.id == bindparam("link_id"))
        .values({name: bindparam(name) for name in names})
    )
    conn.execute(
        statement,
        [
            {**_state_values(state), "link_id": link_id, "last_observation_id": last_seen[link_id]}
            for link_id, state in states.items()
        ],
    )


def _insert_link_events(
    conn: Connection, changed: Sequence[tuple[Any, list[Change], datetime]], run_id: int | None
) -> list[EventRecord]:
    """One event per change, in observation order (ids ascend the same way)."""
    rows: list[dict[str, Any]] = []
    urls: list[str] = []
    for link, changes, at in changed:
        for change in changes:
            # Drift is judged per entry: its event names the resource too.
            entry = change.details.get("entry")
            rows.append(
                {
                    "at": at,
                    "kind": change.kind,
                    "run_id": run_id,
                    "link_id": link.id,
                    "resource_id": int(entry) if entry is not None else None,
                    "details": dict(change.details),
                }
            )
            urls.append(link.url)
    return _insert_events(conn, rows, urls)


def _insert_events(
    conn: Connection, rows: Sequence[dict[str, Any]], urls: Sequence[str | None] | None = None
) -> list[EventRecord]:
    if not rows:
        return []
    table = _table(t.Event)
    ids = conn.execute(
        table.insert().returning(table.c.id, sort_by_parameter_order=True), list(rows)
    ).scalars()
    return [
        EventRecord(
            id=event_id,
            at=row["at"],
            kind=row["kind"],
            run_id=row["run_id"],
            link_id=row["link_id"],
            resource_id=row["resource_id"],
            details=dict(row["details"]),
            url=url,
        )
        for event_id, row, url in zip(ids, rows, urls or [None] * len(rows), strict=True)
    ]


#: Earlier relevance scores of a link used as the drift baseline.
DRIFT_HISTORY = 10


def _entries_of(conn: Connection, link_ids: Sequence[int]) -> dict[int, list[Entry]]:
    """The active catalog entries that use each link, keyed by resources.id; links with
    none are left out."""
    table = _table(t.Resource)
    found: dict[int, list[Entry]] = {}
    for chunk in _chunks(list(dict.fromkeys(link_ids))):
        rows = conn.execute(
            select(table.c.id, table.c.link_id, table.c.title, table.c.fields)
            .where(table.c.link_id.in_(chunk), table.c.removed_at.is_(None))
            .order_by(table.c.id)
        )
        for r in rows:
            description = _text_or_none((r.fields or {}).get("description"))
            found.setdefault(r.link_id, []).append(Entry(str(r.id), r.title, description))
    return found


def _relevance_histories(conn: Connection, link_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The last `DRIFT_HISTORY` relevance_scores of each link, newest first."""
    table = _table(t.Observation)
    found: dict[int, list[Any]] = {}
    for chunk in _chunks(list(link_ids)):
        rank = _newest_first("rank")
        scored = (
            select(table.c.link_id, table.c.relevance_scores, rank)
            .where(table.c.link_id.in_(chunk), table.c.relevance_scores.is_not(None))
            .subquery()
        )
        rows = conn.execute(
            select(scored.c.link_id, scored.c.relevance_scores)
            .where(scored.c.rank <= DRIFT_HISTORY)
            .order_by(scored.c.link_id, scored.c.rank)
        )
        for link_id, scores in rows:
            found.setdefault(link_id, []).append(scores)
    return found


def _by_entry(rows: Sequence[Any]) -> dict[str, list[float]]:
    history: dict[str, list[float]] = defaultdict(list)
    for scores in rows:
        for key, score in (scores or {}).items():
            if isinstance(score, int | float):
                history[key].append(float(score))
    return history


def _relevance_history(s: Session, link_id: int) -> dict[str, list[float]]:
    """One link's drift baseline: entry key -> earlier scores, newest first."""
    return _by_entry(_relevance_histories(s.connection(), [link_id]).get(link_id, []))


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _observation_values(obs: Observation, run_id: int | None, link_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "link_id": link_id,
        "url": obs.url,
        "checked_at": obs.checked_at,
        "outcome": obs.outcome.value,
        "reason": obs.reason,
        "methods": ",".join(obs.methods),
        "http_status": obs.http_status,
        "final_url": obs.final_url,
        "chain": [{"url": h.url, "status": h.status} for h in obs.chain],
        "elapsed_ms": obs.elapsed_ms,
        "retries": obs.retries,
        "content_type": obs.content_type,
        "content_length": obs.content_length,
        "etag": obs.etag,
        "last_modified": obs.last_modified,
        "fingerprint": obs.fingerprint,
        "title": obs.title,
        "bytes_read": obs.bytes_read,
        "not_modified": obs.not_modified,
        "suggested_url": obs.suggested_url,
        "relevance": None,
        "relevance_scores": None,
    }


def _link_state(link: Any) -> LinkState:
    """A links row's health, from an ORM object or a Core row (same attribute names)."""
    values = {name: getattr(link, name) for name in _STATE_FIELDS}
    values["outcome"] = Outcome(link.outcome) if link.outcome else None
    values["state"] = link.state or health_rules.UNCHECKED
    values["consecutive_failures"] = link.consecutive_failures or 0
    values["flapping"] = bool(link.flapping)
    values["flips"] = tuple(_parse_time(f) for f in (link.flips or ()))
    return LinkState(**values)


def _state_values(state: LinkState) -> dict[str, Any]:
    """The links columns of `state`, as stored."""
    values = {name: getattr(state, name) for name in _STATE_FIELDS}
    values["outcome"] = state.outcome.value if state.outcome else None
    values["flips"] = [f.astimezone(UTC).isoformat() for f in state.flips]
    return values


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def link_states(engine: Engine) -> list[LinkStateRecord]:
    """Every link used by an active resource, in URL order."""
    with read_session(engine) as s:
        return _link_records(s, active_only=True)


def active_rids(engine: Engine, rids: Iterable[str]) -> set[str]:
    """Those of `rids` that some active resource has (in any collection)."""
    query = select(t.Resource.rid).where(
        t.Resource.rid.in_(list(rids)), t.Resource.removed_at.is_(None)
    )
    with read_session(engine) as s:
        return set(s.scalars(query))


def stored_collections(engine: Engine) -> set[str]:
    """The keys of the collections that have active resources in the database."""
    query = (
        select(t.Collection.key)
        .join(t.Resource, t.Resource.collection_id == t.Collection.id)
        .where(t.Resource.removed_at.is_(None))
        .distinct()
    )
    with read_session(engine) as s:
        return set(s.scalars(query))


def answering_urls(
    engine: Engine, *, not_on: Iterable[str], limit: int = 3, answered_only: bool = True
) -> list[str]:
    """Up to `limit` URLs, one per host and none on the hosts `not_on`, whose last check
    got an HTTP answer, the most recently checked hosts first: witnesses that our network
    works. Hosts are picked first, so one big host checked last cannot take every place.

    With `answered_only` off, any host's links qualify (never checked, or last seen
    unreachable): the witnesses left when nothing ever answered, as on a machine that has
    been offline since the catalog was added."""
    answered = (
        t.Link.http_status.is_not(None) if answered_only else true(),
        t.Link.host.not_in(list(not_on)),
        t.Link.host != "",
    )
    latest = func.max(t.Link.last_checked_at)
    hosts = (
        select(t.Link.host)
        .where(*answered)
        .group_by(t.Link.host)
        .order_by(latest.desc().nulls_last(), t.Link.host)
        .limit(limit)
    )
    found = []
    with read_session(engine) as s:
        for host in s.scalars(hosts).all():
            url = s.scalar(
                select(t.Link.url)
                .where(t.Link.host == host, answered[0])
                .order_by(t.Link.last_checked_at.desc().nulls_last(), t.Link.id)
                .limit(1)
            )
            if url is not None:
                found.append(url)
    return found


def _link_records(
    s: Session, *, active_only: bool, link_ids: Sequence[int] | None = None
) -> list[LinkStateRecord]:
    query = (
        select(t.Link, t.Resource.rid)
        .outerjoin(
            t.Resource, and_(t.Resource.link_id == t.Link.id, t.Resource.removed_at.is_(None))
        )
        .order_by(t.Link.url, t.Resource.rid)
    )
    if link_ids is not None:
        query = query.where(t.Link.id.in_(list(link_ids)))
    links: dict[int, t.Link] = {}
    rids: dict[int, list[str]] = defaultdict(list)
    for link, rid in s.execute(query):
        links[link.id] = link
        if rid is not None and rid not in rids[link.id]:
            rids[link.id].append(rid)
    return [
        _link_record(link, tuple(rids[link.id]))
        for link in links.values()
        if rids[link.id] or not active_only
    ]


def _link_record(link: t.Link, resource_ids: tuple[str, ...]) -> LinkStateRecord:
    state = _link_state(link)
    return LinkStateRecord(
        **{name: getattr(state, name) for name in _STATE_FIELDS},
        id=link.id,
        url=link.url,
        host=link.host,
        last_observation_id=link.last_observation_id,
        resource_ids=resource_ids,
        archive_url=link.archive_url,
        archive_checked_at=link.archive_checked_at,
    )


# --- curator decisions ----------------------------------------------------------------------

#: The resource columns a decision may set.
DECISION_COLUMNS = frozenset(
    {"reviewed_at", "snoozed_until", "snooze_reason", "ignored_at", "ignored_reason"}
)


def record_decision(
    engine: Engine,
    resource_id: int,
    kind: str,
    *,
    by: str,
    at: datetime,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    resource_changes: Mapping[str, Any] | None = None,
) -> DecisionRecord:
    """Append a decision and apply its effect on the resource row, in one transaction."""
    unknown = set(resource_changes or {}) - DECISION_COLUMNS
    if unknown:
        raise ValueError(f"a decision cannot set {sorted(unknown)}")
    with write_session(engine) as s:
        row = s.get_one(t.Resource, resource_id)
        for name, value in (resource_changes or {}).items():
            setattr(row, name, value)
        decision = t.Decision(
            at=at,
            decided_by=by,
            kind=kind,
            resource_id=resource_id,
            reason=reason,
            details=dict(details or {}),
        )
        s.add(decision)
        s.flush()
        return _decision_record(decision)


def decisions_for(engine: Engine, resource_id: int) -> list[DecisionRecord]:
    """A resource's decisions, newest first."""
    with read_session(engine) as s:
        rows = s.scalars(
            select(t.Decision)
            .where(t.Decision.resource_id == resource_id)
            .order_by(t.Decision.at.desc(), t.Decision.id.desc())
        )
        return [_decision_record(d) for d in rows]


def permanent_redirect_target(engine: Engine, link_id: int) -> str | None:
    """Where the link's current permanent redirect leads; None unless it redirects now."""
    with read_session(engine) as s:
        link = s.get(t.Link, link_id)
        if link is None or link.outcome != Outcome.REDIRECTED_PERMANENT.value:
            return None
        obs = s.scalar(
            select(t.Observation)
            .where(
                t.Observation.link_id == link_id,
                t.Observation.outcome == Outcome.REDIRECTED_PERMANENT.value,
            )
            .order_by(t.Observation.checked_at.desc(), t.Observation.id.desc())
            .limit(1)
        )
        if obs is None:
            return None
        return obs.suggested_url or obs.final_url


def _decision_record(row: t.Decision) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        at=row.at,
        by=row.decided_by,
        kind=row.kind,
        resource_id=row.resource_id,
        reason=row.reason,
        details=dict(row.details or {}),
    )


# --- staleness -------------------------------------------------------------------------------


def refresh_staleness(
    engine: Engine,
    health: HealthSettings,
    *,
    now: datetime,
    collection_keys: Sequence[str] | None = None,
    run_id: int | None = None,
) -> int:
    """Recompute every active resource's stale reasons; end snoozes whose date passed.

    Returns how many resources' reasons changed. A snooze that ended writes a
    `snooze_ended` event so the resource's return to the queue is explained. Reads plain
    columns and writes only the rows that changed, in executemany batches.
    """
    res, link = _table(t.Resource), _table(t.Link)
    query = (
        select(
            res.c.id,
            res.c.rid,
            res.c.link_id,
            res.c.title,
            res.c.fields,
            res.c.created_at,
            res.c.reviewed_at,
            res.c.snoozed_until,
            res.c.snooze_reason,
            res.c.stale_reasons,
            link.c.last_success_at,
            link.c.fingerprint_since,
            link.c.last_modified,
        )
        .outerjoin(link, link.c.id == res.c.link_id)
        .where(res.c.removed_at.is_(None))
        .order_by(res.c.id)
    )
    if collection_keys is not None:
        collections = select(_table(t.Collection).c.id).where(
            _table(t.Collection).c.key.in_(list(collection_keys))
        )
        query = query.where(res.c.collection_id.in_(collections))
    ended: list[NewEvent] = []
    stale: list[dict[str, Any]] = []
    with write_session(engine) as s:
        conn = s.connection()
        for row in conn.execute(query):
            if row.snoozed_until is not None and row.snoozed_until <= now:
                ended.append(
                    NewEvent(
                        "snooze_ended",
                        at=now,
                        run_id=run_id,
                        resource_id=row.id,
                        link_id=row.link_id,
                        details={
                            "id": row.rid,
                            "until": row.snoozed_until.isoformat(),
                            "reason": row.snooze_reason,
                        },
                    )
                )
            data = row.fields or {}
            reasons = staleness(
                now=now,
                settings=health,
                last_success_at=row.last_success_at,
                first_seen_at=row.created_at,
                reviewed_at=reviewed_at(row.reviewed_at, data),
                fingerprint_unchanged_since=row.fingerprint_since,
                last_modified=row.last_modified,
                title=row.title,
                description=_text_or_none(data.get("description")),
                year=_year(data.get("year")),
            )
            stored = [
                {
                    "code": r.code,
                    "reason": r.reason,
                    "since": r.since.astimezone(UTC).isoformat() if r.since else None,
                }
                for r in reasons
            ]
            if stored != (row.stale_reasons or []):
                stale.append({"row_id": row.id, "reasons": stored})
        if ended:
            add_events(s, ended)
            conn.execute(
                res.update()
                .where(res.c.id == bindparam("row_id"))
                .values(snoozed_until=None, snooze_reason=None),
                [{"row_id": e.resource_id} for e in ended],
            )
        if stale:
            conn.execute(
                res.update()
                .where(res.c.id == bindparam("row_id"))
                .values(stale_reasons=bindparam("reasons")),
                stale,
            )
    return len(stale)


def reviewed_at(column: datetime | None, data: Mapping[str, Any]) -> datetime | None:
    """The later of the curator's `mark-reviewed` and the entry's `reviewed_at`/`reviewed`."""
    found = [column] if column is not None else []
    for name in ("reviewed_at", "reviewed"):
        moment = _as_datetime(data.get(name))
        if moment is not None:
            found.append(moment)
    return max(found) if found else None


def _as_datetime(value: Any) -> datetime | None:
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


def _year(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# --- archive copies --------------------------------------------------------------------------


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
                t.Link.archive_checked_at < now - timedelta(days=recheck_days),
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


# --- history and export reads ----------------------------------------------------------------


def resource_history(
    engine: Engine, rid: str, *, collection: str | None = None, limit: int = 100
) -> ResourceHistory:
    """Observations of a resource's link, the events of both and the decisions, newest first.

    An id used in several collections needs `collection`; an active resource wins
    over a removed one with the same id.
    """
    with read_session(engine) as s:
        row, key, path = _find_resource(s, rid, collection)
        links = _link_records(s, active_only=False, link_ids=[row.link_id] if row.link_id else [])
        link = links[0] if links else None
        observations = s.scalars(
            select(t.Observation)
            .where(t.Observation.link_id == row.link_id)
            .order_by(t.Observation.checked_at.desc(), t.Observation.id.desc())
            .limit(limit)
        )
        event_filter = t.Event.resource_id == row.id
        if row.link_id is not None:
            # The link's own events; not another entry's edits or drift on a shared link.
            of_link = and_(t.Event.link_id == row.link_id, t.Event.resource_id.is_(None))
            event_filter = or_(event_filter, of_link)
        events = s.execute(
            select(t.Event, t.Link.url, t.Resource.rid, t.Collection.key)
            .outerjoin(t.Link, t.Link.id == t.Event.link_id)
            .outerjoin(t.Resource, t.Resource.id == t.Event.resource_id)
            .outerjoin(t.Collection, t.Collection.id == t.Resource.collection_id)
            .where(event_filter)
            .order_by(t.Event.at.desc(), t.Event.id.desc())
            .limit(limit)
        )
        decisions = s.scalars(
            select(t.Decision)
            .where(t.Decision.resource_id == row.id)
            .order_by(t.Decision.at.desc(), t.Decision.id.desc())
            .limit(limit)
        )
        return ResourceHistory(
            resource=_resource_record(row, key, path),
            link=link,
            observations=tuple(_observation_record(o) for o in observations),
            events=tuple(
                _with(_event_record(e), url=url, rid=erid, collection=ekey)
                for e, url, erid, ekey in events
            ),
            decisions=tuple(_decision_record(d) for d in decisions),
        )


def find_resource(engine: Engine, rid: str, *, collection: str | None = None) -> ResourceRecord:
    """The resource a curator named; `NotFoundError` when unknown, `ConfigError` (a usage
    error) when it is in several collections and none was named."""
    with read_session(engine) as s:
        return _resource_record(*_find_resource(s, rid, collection))


def _find_resource(s: Session, rid: str, collection: str | None) -> tuple[t.Resource, str, str]:
    query = (
        select(t.Resource, t.Collection.key, t.Collection.path)
        .join(t.Collection, t.Collection.id == t.Resource.collection_id)
        .where(t.Resource.rid == rid)
    )
    if collection is not None:
        query = query.where(t.Collection.key == collection)
    matches = s.execute(query).all()
    active = [m for m in matches if m[0].removed_at is None]
    candidates = active or matches
    if not candidates:
        where = f" in collection {collection!r}" if collection else ""
        raise NotFoundError(f"no resource with id {rid!r}{where}; check the catalog file")
    if len(candidates) > 1:
        keys = ", ".join(sorted(key for _, key, _ in candidates))
        # It exists: naming it without its collection is a usage error (exit 2), not 4.
        raise ConfigError(
            f"resource id {rid!r} is in several collections ({keys}); name one with --collection"
        )
    row, key, path = candidates[0]
    return row, key, path


def resource_statuses(engine: Engine) -> list[ResourceStatus]:
    """Every active resource with its link's state, by collection then curator id."""
    with read_session(engine) as s:
        changed = _links_with_changed_content(s)
        links = {rec.id: rec for rec in _link_records(s, active_only=True)}
        rows = s.execute(
            select(t.Resource, t.Collection.key)
            .join(t.Collection, t.Collection.id == t.Resource.collection_id)
            .where(t.Resource.removed_at.is_(None))
            .order_by(t.Collection.key, t.Resource.rid)
        )
        return [
            ResourceStatus(
                collection=key,
                rid=r.rid,
                title=r.title,
                url=r.url,
                link=links.get(r.link_id) if r.link_id is not None else None,
                content_changed=r.link_id in changed,
                stale=tuple(
                    str(n.get("code")) for n in (r.stale_reasons or ()) if isinstance(n, dict)
                ),
                snoozed_until=r.snoozed_until,
                ignored=r.ignored_at is not None,
                ignored_reason=r.ignored_reason if r.ignored_at is not None else None,
            )
            for r, key in rows
        ]


@dataclass(frozen=True)
class RunVerdict:
    """One active resource checked in a run: its outcome there and what a curator set."""

    collection: str
    rid: str
    outcome: str
    #: The link's drift (a working page that no longer holds the resource), if any.
    drift_reason: str | None
    #: Snoozed (until a time after `now`) or ignored: out of the action queue.
    set_aside: bool


def run_verdicts(engine: Engine, run_id: int, *, now: datetime) -> list[RunVerdict]:
    """Each active resource whose link `run_id` observed, with that run's last outcome for
    it, by collection then id (`check --strict` judges these)."""
    obs, link, res, col = (
        _table(t.Observation),
        _table(t.Link),
        _table(t.Resource),
        _table(t.Collection),
    )
    query = (
        select(
            col.c.key,
            res.c.rid,
            obs.c.outcome,
            link.c.drift_reason,
            res.c.snoozed_until,
            res.c.ignored_at,
        )
        .join(link, link.c.id == obs.c.link_id)
        .join(res, res.c.link_id == link.c.id)
        .join(col, col.c.id == res.c.collection_id)
        .where(obs.c.run_id == run_id, res.c.removed_at.is_(None))
        .order_by(col.c.key, res.c.rid, obs.c.checked_at, obs.c.id)
    )
    latest: dict[tuple[str, str], RunVerdict] = {}
    with read_session(engine) as s:
        for key, rid, outcome, drift, snoozed_until, ignored_at in s.execute(query):
            snoozed = snoozed_until is not None and snoozed_until > now
            latest[(key, rid)] = RunVerdict(
                key, rid, outcome, drift, snoozed or ignored_at is not None
            )
    return list(latest.values())


def _newest_first(label: str) -> Any:
    """1 for each link's newest observation, 2 for the one before, and so on."""
    return (
        func.row_number()
        .over(
            partition_by=t.Observation.link_id,
            order_by=(t.Observation.checked_at.desc(), t.Observation.id.desc()),
        )
        .label(label)
    )


def _links_with_changed_content(s: Session) -> set[int]:
    """Links whose latest observation has a fingerprint unlike the previous fingerprint."""
    newest = _newest_first("n")
    latest = select(t.Observation.link_id, t.Observation.fingerprint, newest).subquery()
    latest_fp = {
        link_id: fp
        for link_id, fp in s.execute(
            select(latest.c.link_id, latest.c.fingerprint).where(latest.c.n == 1)
        )
        if fp is not None
    }
    fingerprinted = (
        select(t.Observation.link_id, t.Observation.fingerprint, newest)
        .where(t.Observation.fingerprint.is_not(None))
        .subquery()
    )
    earlier = s.execute(
        select(fingerprinted.c.link_id, fingerprinted.c.fingerprint).where(fingerprinted.c.n == 2)
    )
    return {link_id for link_id, fp in earlier if link_id in latest_fp and latest_fp[link_id] != fp}


# --- row -> record ---------------------------------------------------------------------------


def _event_record(row: t.Event) -> EventRecord:
    return EventRecord(
        id=row.id,
        at=row.at,
        kind=row.kind,
        run_id=row.run_id,
        link_id=row.link_id,
        resource_id=row.resource_id,
        details=dict(row.details or {}),
    )


def _with(event: EventRecord, **changes: Any) -> EventRecord:
    return replace(event, **changes)


def _observation_record(row: t.Observation) -> ObservationRecord:
    return ObservationRecord(
        id=row.id,
        run_id=row.run_id,
        link_id=row.link_id,
        url=row.url,
        checked_at=row.checked_at,
        outcome=Outcome(row.outcome),
        reason=row.reason,
        http_status=row.http_status,
        final_url=row.final_url,
        methods=tuple(m for m in (row.methods or "").split(",") if m),
        chain=tuple(row.chain or ()),
        elapsed_ms=row.elapsed_ms,
        retries=row.retries or 0,
        content_type=row.content_type,
        content_length=row.content_length,
        fingerprint=row.fingerprint,
        title=row.title,
        not_modified=bool(row.not_modified),
        suggested_url=row.suggested_url,
        relevance=row.relevance,
    )


def _resource_record(row: t.Resource, collection: str, path: str | None = None) -> ResourceRecord:
    return ResourceRecord(
        id=row.id,
        collection=collection,
        rid=row.rid,
        title=row.title,
        url=row.url,
        link_id=row.link_id,
        fields=dict(row.fields or {}),
        line=row.line,
        created_at=row.created_at,
        updated_at=row.updated_at,
        removed_at=row.removed_at,
        path=path,
        reviewed_at=row.reviewed_at,
        snoozed_until=row.snoozed_until,
        snooze_reason=row.snooze_reason,
        ignored_at=row.ignored_at,
        ignored_reason=row.ignored_reason,
        stale=tuple(
            StaleNote(
                str(n.get("code")),
                str(n.get("reason")),
                _parse_time(n["since"]) if n.get("since") else None,
            )
            for n in (row.stale_reasons or ())
            if isinstance(n, dict)
        ),
    )
