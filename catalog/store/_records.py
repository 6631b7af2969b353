"""Frozen records the store hands out, and the row-to-record conversions: ORM objects never
leave the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from catalog import tables as t
from catalog.health import LinkState
from catalog.outcomes import Outcome


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
    #: Not sent: its host had said it is away (`Observation.held`); no check of the link.
    held: bool = False


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
class RecheckLink:
    """The columns of a links row `linkhealth recheck` picks by and words its verdict with."""

    state: str
    #: None: never checked (tried only while our network was down, or not sent).
    outcome: Outcome | None
    last_checked_at: datetime | None
    reason: str | None
    drift_reason: str | None
    #: `links.flapping`: the verdict says it in the words of the report's row, which files
    #: it under "Check by hand" unless confirmed broken (`catalog.ops.verdict_lines`).
    flapping: bool = False
    first_failure_at: datetime | None = None
    last_change_at: datetime | None = None
    #: The last check's status: a rate limit answered 503 reads "Unavailable (503)".
    http_status: int | None = None
    #: The sentences of the gone contacts this entry names (`health.entry_contact_reason`):
    #: a working page the report counts to fix for them.
    contact_reason: str | None = None
    #: Its last check's reason when a later try was not sent (`reason` is then that
    #: try's: `HELD_REASON_END`), else None.
    checked_reason: str | None = None


@dataclass(frozen=True)
class RecheckStatus:
    """One active resource as `linkhealth recheck` picks and reports it."""

    collection: str
    rid: str
    #: None: no links row for its URL yet.
    link: RecheckLink | None
    #: Its latest edit (an event of the kinds asked, from the time asked), when asked.
    last_edit: datetime | None = None


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


# --- row -> record ---------------------------------------------------------------------------


def event_record(row: t.Event) -> EventRecord:
    return EventRecord(
        id=row.id,
        at=row.at,
        kind=row.kind,
        run_id=row.run_id,
        link_id=row.link_id,
        resource_id=row.resource_id,
        details=dict(row.details or {}),
    )


def event_with(event: EventRecord, **changes: Any) -> EventRecord:
    return replace(event, **changes)


def observation_record(row: t.Observation | Row[Any]) -> ObservationRecord:
    """From an ORM object or a Core row of the observations table (same names)."""
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
        held=bool(row.held),
    )


def resource_record(row: t.Resource, collection: str, path: str | None = None) -> ResourceRecord:
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
                parse_time(n["since"]) if n.get("since") else None,
            )
            for n in (row.stale_reasons or ())
            if isinstance(n, dict)
        ),
    )


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
