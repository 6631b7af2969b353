"""Curator decisions: accept-redirect, replace-url, snooze, ignore, reviewed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from catalog import tables as t
from catalog.check import contacts
from catalog.health import settled_contacts
from catalog.outcomes import Outcome
from catalog.store._observations import text_or_none
from catalog.store._records import DecisionRecord
from catalog.store._sql import read_session, write_session

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
    settle_contacts: bool = False,
) -> DecisionRecord:
    """Append a decision and apply its effect on the resource row, in one transaction."""
    with recording_decision(
        engine,
        resource_id,
        kind,
        by=by,
        at=at,
        reason=reason,
        details=details,
        resource_changes=resource_changes,
        settle_contacts=settle_contacts,
    ) as decision:
        return decision


@contextmanager
def recording_decision(
    engine: Engine,
    resource_id: int,
    kind: str,
    *,
    by: str,
    at: datetime,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    resource_changes: Mapping[str, Any] | None = None,
    settle_contacts: bool = False,
) -> Iterator[DecisionRecord]:
    """`record_decision`, committed only when the `with` block ends without an error.
    `settle_contacts` (a review): the phone numbers and emails the entry names that its
    link's page no longer shows are forgotten (`health.settled_contacts`), in the same
    transaction.

    A commit that fails (a full disk), or a lock that cannot be had, raises out of the
    `with`, so a caller that edited the catalog file first can put it back."""
    unknown = set(resource_changes or {}) - DECISION_COLUMNS
    if unknown:
        raise ValueError(f"a decision cannot set {sorted(unknown)}")
    with write_session(engine) as s:
        row = s.get_one(t.Resource, resource_id)
        for name, value in (resource_changes or {}).items():
            setattr(row, name, value)
        if settle_contacts:
            _settle_contacts(s, row)
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
        yield decision_record(decision)


def gone_contacts(engine: Engine, resource_id: int) -> tuple[list[str], list[str]]:
    """The contacts the entry names that its link's page no longer shows (as the entry
    writes them: what a review settles), and the other active entries using the link
    ("KEY/ID") that name one of them too: the review settles them for those as well, the
    finding being of the page."""
    with read_session(engine) as s:
        row = s.get_one(t.Resource, resource_id)
        link = s.get(t.Link, row.link_id) if row.link_id is not None else None
        gone = list(link.contacts_gone or ()) if link is not None else []
        named = _named(row)
        settled = [key for key in gone if key in named]
        if not settled:
            return [], []
        others = s.execute(
            select(t.Resource, t.Collection.key)
            .join(t.Collection, t.Collection.id == t.Resource.collection_id)
            .where(
                t.Resource.link_id == row.link_id,
                t.Resource.id != row.id,
                t.Resource.removed_at.is_(None),
            )
            .order_by(t.Resource.id)
        )
        also = [f"{key}/{other.rid}" for other, key in others if _named(other).keys() & settled]
        return [named[key] for key in settled], also


def _settle_contacts(s: Session, resource: t.Resource) -> None:
    """Forget the gone contacts `resource` names on its link (`gone_contacts`)."""
    link = s.get(t.Link, resource.link_id) if resource.link_id is not None else None
    if link is None or not link.contacts_gone:
        return
    seen, gone, reason = settled_contacts(
        link.contacts_seen or (), link.contacts_gone, link.contact_reason, _named(resource)
    )
    if gone != tuple(link.contacts_gone):
        link.contacts_seen, link.contacts_gone, link.contact_reason = list(seen), list(gone), reason


def _named(resource: t.Resource) -> dict[str, str]:
    """The contacts an entry names, as the check looks for them (`contacts.named`)."""
    description = text_or_none((resource.fields or {}).get("description"))
    return contacts.named(resource.title, description)


def decisions_for(engine: Engine, resource_id: int) -> list[DecisionRecord]:
    """A resource's decisions, newest first."""
    with read_session(engine) as s:
        rows = s.scalars(
            select(t.Decision)
            .where(t.Decision.resource_id == resource_id)
            .order_by(t.Decision.at.desc(), t.Decision.id.desc())
        )
        return [decision_record(d) for d in rows]


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


def decision_record(row: t.Decision) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        at=row.at,
        by=row.decided_by,
        kind=row.kind,
        resource_id=row.resource_id,
        reason=row.reason,
        details=dict(row.details or {}),
    )
