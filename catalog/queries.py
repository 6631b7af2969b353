"""Read-only queries for the curator reports.

Stage: report (read side). Input: an engine on the linkhealth database. Output:
`ReportData`, plain frozen records, so `reports/` never sees SQLAlchemy or ORM rows.

The numbers describe the links' *current* state (links carry it); the run only says
which check is being reported on. A report for an older run therefore shows that
run's header with today's state, which is what the nightly run writes right after
it finishes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from catalog.db import session_scope
from catalog.errors import NotFoundError
from catalog.outcomes import Outcome
from catalog.tables import Collection, Link, Observation, Resource, Run

#: The totals key for resources whose link has never been checked.
UNCHECKED = "unchecked"
#: Health states that put a resource on the attention list whatever its last outcome.
ATTENTION_STATES = frozenset({"suspect", "broken", "check_by_hand"})


@dataclass(frozen=True)
class RunInfo:
    id: int
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    urls_planned: int
    urls_checked: int
    network_unavailable: bool
    duration_s: float | None
    #: The run's own outcome counts, as stored ({"ok": 20, ...}).
    counts: Mapping[str, int]


@dataclass(frozen=True)
class CollectionInfo:
    key: str
    title: str
    #: Active (not removed) resources in the collection.
    resources: int
    synced_at: datetime | None


@dataclass(frozen=True)
class AttentionRow:
    """One active resource whose link needs a curator."""

    collection_key: str
    collection_title: str
    #: The curator's id from the catalog file.
    resource_id: str
    title: str
    publisher: str | None
    url: str
    #: None when the stored value is not a known `Outcome` (or the link was never checked).
    outcome: Outcome | None
    outcome_value: str | None
    state: str
    reason: str | None
    http_status: int | None
    final_url: str | None
    #: The replacement to consider (final URL of a permanent redirect), if any.
    suggested_url: str | None
    #: Title of the page that answered; web-sourced, never trust it.
    page_title: str | None
    #: Since when the link has been failing (or last changed outcome).
    since: datetime | None
    failing_checks: int
    last_checked_at: datetime | None


@dataclass(frozen=True)
class ReportData:
    #: The run reported on; None when nothing has been checked yet.
    run: RunInfo | None
    #: Active resources per outcome value, never-checked ones under `UNCHECKED`.
    totals: Mapping[str, int]
    attention: tuple[AttentionRow, ...]
    collections: tuple[CollectionInfo, ...]
    #: The run found our own network down, so it learned nothing about the links.
    network_unavailable: bool

    @property
    def resources_total(self) -> int:
        return sum(self.totals.values())


def report_data(engine: Engine, *, run_id: int | None = None) -> ReportData:
    """Everything a report shows, for `run_id` or the latest finished run."""
    with session_scope(engine) as session:
        run = _run(session, run_id)
        rows = session.execute(_active_resources()).all()
        per_collection: Counter[int] = Counter()
        totals: Counter[str] = Counter()
        attention: list[AttentionRow] = []
        for row in rows:
            per_collection[row.collection_id] += 1
            totals[row.outcome or UNCHECKED] += 1
            outcome = _outcome(row.outcome)
            state = row.state or UNCHECKED
            if (outcome is not None and outcome.needs_attention) or state in ATTENTION_STATES:
                attention.append(_attention_row(row, outcome, state))
        collections = tuple(
            CollectionInfo(c.key, c.title, per_collection[c.id], c.synced_at)
            for c in session.scalars(select(Collection).order_by(Collection.title, Collection.key))
            if per_collection[c.id]
        )
    return ReportData(
        run=run,
        totals=MappingProxyType(dict(totals)),
        attention=tuple(attention),
        collections=collections,
        network_unavailable=bool(run and run.network_unavailable),
    )


def _run(session: Session, run_id: int | None) -> RunInfo | None:
    if run_id is None:
        row = session.scalars(
            select(Run)
            .where(Run.finished_at.is_not(None))
            .order_by(Run.finished_at.desc(), Run.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
    else:
        row = session.get(Run, run_id)
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist; `linkhealth runs` lists them")
    return RunInfo(
        id=row.id,
        trigger=row.trigger,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        urls_planned=row.urls_planned or 0,
        urls_checked=row.urls_checked or 0,
        network_unavailable=bool(row.network_unavailable),
        duration_s=row.duration_s,
        counts=MappingProxyType({str(k): int(v) for k, v in (row.counts or {}).items()}),
    )


def _active_resources() -> Select:
    return (
        select(
            Resource.collection_id,
            Collection.key.label("collection_key"),
            Collection.title.label("collection_title"),
            Resource.rid,
            Resource.title,
            Resource.publisher,
            Resource.url,
            Link.outcome,
            Link.state,
            Link.reason,
            Link.http_status,
            Link.final_url,
            Link.title.label("page_title"),
            Link.consecutive_failures,
            Link.first_failure_at,
            Link.last_change_at,
            Link.last_checked_at,
            Observation.suggested_url,
        )
        .join(Collection, Resource.collection_id == Collection.id)
        .outerjoin(Link, Resource.link_id == Link.id)
        .outerjoin(Observation, Observation.id == Link.last_observation_id)
        .where(Resource.removed_at.is_(None))
        .order_by(Collection.title, Resource.rid)
    )


def _outcome(value: str | None) -> Outcome | None:
    # An outcome written by a newer or older version must not break the report.
    try:
        return Outcome(value) if value else None
    except ValueError:
        return None


def _attention_row(row: Any, outcome: Outcome | None, state: str) -> AttentionRow:
    suggested = row.suggested_url
    if suggested is None and outcome is Outcome.REDIRECTED_PERMANENT and row.final_url:
        suggested = row.final_url if row.final_url != row.url else None
    return AttentionRow(
        collection_key=row.collection_key,
        collection_title=row.collection_title,
        resource_id=row.rid,
        title=row.title,
        publisher=row.publisher,
        url=row.url,
        outcome=outcome,
        outcome_value=row.outcome,
        state=state,
        reason=row.reason,
        http_status=row.http_status,
        final_url=row.final_url,
        suggested_url=suggested,
        page_title=row.page_title,
        since=row.first_failure_at or row.last_change_at,
        failing_checks=row.consecutive_failures or 0,
        last_checked_at=row.last_checked_at,
    )
