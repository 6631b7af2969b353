"""Storage stage: every SQL write, and the reads sync, plan and export need.

Inputs: `catalog.model` records (Catalog, Resource, Observation) and settings.
Outputs: frozen records defined here (RunRecord, EventRecord, LinkStateRecord, ...);
ORM objects never leave this module.

Each public function is one short transaction. On SQLite, writes start with
`BEGIN IMMEDIATE` so two writers queue on the busy timeout instead of failing
when a read lock cannot be upgraded. `catalog.sync` composes several writes into
one transaction per catalog through `write_session` and the `Session`-taking
helpers below (still no SQL outside this module).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, text
from sqlalchemy.orm import Session

from catalog import health as health_rules
from catalog import tables as t
from catalog.errors import NotFoundError
from catalog.health import Change, LinkState
from catalog.model import Catalog, Observation, Previous, Resource, Target
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.urls import canonical_url, host_of

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


@dataclass(frozen=True)
class ResourceHistory:
    resource: ResourceRecord
    link: LinkStateRecord | None
    #: Newest first.
    observations: tuple[ObservationRecord, ...]
    #: Resource events and its link's events, newest first.
    events: tuple[EventRecord, ...]


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
        yield session


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
) -> int:
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
            summary={"catalogs": [str(c) for c in catalogs]},
        )
        s.add(run)
        s.flush()
        return run.id


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
        run.network_unavailable = network_unavailable
        run.duration_s = (now - run.started_at).total_seconds()
        if summary:
            run.summary = {**(run.summary or {}), **summary}
        s.flush()
        return _run_record(run)


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
        raise NotFoundError(f"run {run_id} does not exist; `linkhealth runs` lists the runs")
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


def stored_resources(s: Session, collection_id: int) -> list[StoredResource]:
    rows = s.scalars(select(t.Resource).where(t.Resource.collection_id == collection_id))
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
        for r in rows
    ]


def ensure_link(s: Session, url: str) -> int:
    """The id of the links row for `url`'s canonical form, created when new."""
    return _link_row(s, url).id


def insert_resource(
    s: Session,
    collection_id: int,
    resource: Resource,
    fields_data: Mapping[str, Any],
    *,
    now: datetime,
) -> StoredResource:
    row = t.Resource(
        collection_id=collection_id,
        rid=resource.id,
        title=resource.title,
        url=resource.url,
        link_id=ensure_link(s, resource.url),
        publisher=resource.publisher,
        fields=dict(fields_data),
        line=resource.line,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    s.flush()
    return _stored(row)


def update_resource(
    s: Session,
    resource_id: int,
    resource: Resource,
    fields_data: Mapping[str, Any],
    *,
    now: datetime,
    restore: bool = False,
    touched: bool = True,
) -> StoredResource:
    """Write the catalog's current data; re-point the link when the URL changed.

    `touched` is False when only bookkeeping (the line number) moved, so
    `updated_at` keeps meaning "the curator changed something".
    """
    row = s.get_one(t.Resource, resource_id)
    if row.url != resource.url or row.link_id is None:
        row.link_id = ensure_link(s, resource.url)
    row.title = resource.title
    row.url = resource.url
    row.publisher = resource.publisher
    row.fields = dict(fields_data)
    row.line = resource.line
    if restore:
        row.removed_at = None
    if touched or restore:
        row.updated_at = now
    s.flush()
    return _stored(row)


def mark_removed(s: Session, resource_id: int, *, now: datetime) -> None:
    row = s.get_one(t.Resource, resource_id)
    row.removed_at = now
    row.updated_at = now


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


def _stored(row: t.Resource) -> StoredResource:
    return StoredResource(
        id=row.id,
        rid=row.rid,
        url=row.url,
        link_id=row.link_id,
        fields=dict(row.fields or {}),
        line=row.line,
        removed_at=row.removed_at,
    )


def _link_row(s: Session, url: str) -> t.Link:
    key = canonical_url(url)
    link = s.scalar(select(t.Link).where(t.Link.url == key))
    if link is None:
        link = t.Link(url=key, host=host_of(url), state=health_rules.UNCHECKED)
        link.consecutive_failures = 0
        s.add(link)
        s.flush()
    return link


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
    query = (
        select(t.Link, t.Resource.rid)
        .join(t.Resource, t.Resource.link_id == t.Link.id)
        .join(t.Collection, t.Collection.id == t.Resource.collection_id)
        .where(t.Resource.removed_at.is_(None))
        .order_by(t.Link.url, t.Resource.rid)
    )
    if resource_ids is not None:
        query = query.where(t.Resource.rid.in_(list(resource_ids)))
    if collection_keys is not None:
        query = query.where(t.Collection.key.in_(list(collection_keys)))
    max_age = timedelta(days=fingerprint_max_age_days)
    with read_session(engine) as s:
        links: dict[int, t.Link] = {}
        rids: dict[int, list[str]] = defaultdict(list)
        for link, rid in s.execute(query):
            links[link.id] = link
            if rid not in rids[link.id]:
                rids[link.id].append(rid)
        return [
            Target(
                url=link.url,
                host=link.host,
                resource_ids=tuple(rids[link.id]),
                previous=_previous(link),
                fingerprint_due=link.fingerprinted_at is None
                or now - link.fingerprinted_at >= max_age,
            )
            for link in links.values()
        ]


def _previous(link: t.Link) -> Previous | None:
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


def record_observations(
    engine: Engine,
    run_id: int | None,
    observations: Sequence[Observation],
    health: HealthSettings,
    *,
    now: datetime,
) -> list[EventRecord]:
    """Store one batch in one transaction: observations, new link states, change events."""
    events: list[EventRecord] = []
    with write_session(engine) as s:
        for obs in observations:
            link = _link_row(s, obs.url)
            row = _observation_row(obs, run_id, link.id)
            s.add(row)
            s.flush()
            new, changes = health_rules.apply_observation(_link_state(link), obs, health, now=now)
            _write_state(link, new)
            if obs.outcome is not Outcome.NETWORK_UNAVAILABLE:
                link.last_observation_id = row.id
            events.extend(_link_events(s, changes, link, run_id, obs.checked_at))
    return events


def _observation_row(obs: Observation, run_id: int | None, link_id: int) -> t.Observation:
    return t.Observation(
        run_id=run_id,
        link_id=link_id,
        url=obs.url,
        checked_at=obs.checked_at,
        outcome=obs.outcome.value,
        reason=obs.reason,
        methods=",".join(obs.methods),
        http_status=obs.http_status,
        final_url=obs.final_url,
        chain=[{"url": h.url, "status": h.status} for h in obs.chain],
        elapsed_ms=obs.elapsed_ms,
        retries=obs.retries,
        content_type=obs.content_type,
        content_length=obs.content_length,
        etag=obs.etag,
        last_modified=obs.last_modified,
        fingerprint=obs.fingerprint,
        title=obs.title,
        bytes_read=obs.bytes_read,
        not_modified=obs.not_modified,
        suggested_url=obs.suggested_url,
    )


def _link_state(link: t.Link) -> LinkState:
    values = {name: getattr(link, name) for name in _STATE_FIELDS}
    values["outcome"] = Outcome(link.outcome) if link.outcome else None
    values["state"] = link.state or health_rules.UNCHECKED
    values["consecutive_failures"] = link.consecutive_failures or 0
    return LinkState(**values)


def _write_state(link: t.Link, state: LinkState) -> None:
    for name in _STATE_FIELDS:
        setattr(link, name, getattr(state, name))
    link.outcome = state.outcome.value if state.outcome else None


def _link_events(
    s: Session, changes: Sequence[Change], link: t.Link, run_id: int | None, at: datetime
) -> list[EventRecord]:
    records = []
    for change in changes:
        event = add_event(
            s, change.kind, at=at, run_id=run_id, link_id=link.id, details=change.details
        )
        records.append(_with(event, url=link.url))
    return records


def link_states(engine: Engine) -> list[LinkStateRecord]:
    """Every link used by an active resource, in URL order."""
    with read_session(engine) as s:
        return _link_records(s, active_only=True)


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
    )


# --- history and export reads ----------------------------------------------------------------


def resource_history(
    engine: Engine, rid: str, *, collection: str | None = None, limit: int = 100
) -> ResourceHistory:
    """Observations of a resource's link and the events of both, newest first.

    An id used in several collections needs `collection`; an active resource wins
    over a removed one with the same id.
    """
    with read_session(engine) as s:
        query = (
            select(t.Resource, t.Collection.key)
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
            keys = ", ".join(sorted(key for _, key in candidates))
            raise NotFoundError(
                f"resource id {rid!r} is in several collections ({keys}); name the collection"
            )
        row, key = candidates[0]
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
            event_filter = or_(event_filter, t.Event.link_id == row.link_id)
        events = s.execute(
            select(t.Event, t.Link.url, t.Resource.rid, t.Collection.key)
            .outerjoin(t.Link, t.Link.id == t.Event.link_id)
            .outerjoin(t.Resource, t.Resource.id == t.Event.resource_id)
            .outerjoin(t.Collection, t.Collection.id == t.Resource.collection_id)
            .where(event_filter)
            .order_by(t.Event.at.desc(), t.Event.id.desc())
            .limit(limit)
        )
        return ResourceHistory(
            resource=_resource_record(row, key),
            link=link,
            observations=tuple(_observation_record(o) for o in observations),
            events=tuple(
                _with(_event_record(e), url=url, rid=erid, collection=ekey)
                for e, url, erid, ekey in events
            ),
        )


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
            )
            for r, key in rows
        ]


def _links_with_changed_content(s: Session) -> set[int]:
    """Links whose latest observation has a fingerprint unlike the previous fingerprint."""
    newest = (
        func.row_number()
        .over(
            partition_by=t.Observation.link_id,
            order_by=(t.Observation.checked_at.desc(), t.Observation.id.desc()),
        )
        .label("n")
    )
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
    )


def _resource_record(row: t.Resource, collection: str) -> ResourceRecord:
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
    )
