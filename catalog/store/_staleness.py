"""Staleness stored per resource, refreshed after every sync."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select

from catalog import groups
from catalog import tables as t
from catalog.drift import names_markers
from catalog.outcomes import Outcome, Severity
from catalog.settings import HealthSettings
from catalog.staleness import REVIEW_FIELDS, review_date, staleness
from catalog.store._observations import text_or_none
from catalog.store._sql import table_of, write_session
from catalog.store._sync_rows import NewEvent, add_events

#: Sync events that give an entry its URL (`catalog.sync.ADDED`, `catalog.sync.URL_EDITED`).
LINKING_EVENTS = ("added", "url_edited")
#: `catalog.health`'s event for a page title that changed.
TITLE_CHANGED = "title_changed"


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


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
    res, link, event = table_of(t.Resource), table_of(t.Link), table_of(t.Event)
    # When each entry got its current URL: its last `added` or `url_edited` sync event.
    linked = (
        select(event.c.resource_id, func.max(event.c.at).label("linked_at"))
        .where(event.c.kind.in_(LINKING_EVENTS), event.c.resource_id.is_not(None))
        .group_by(event.c.resource_id)
        .subquery()
    )
    # When each link's page title last changed: a review since then answers `new_edition`.
    retitled = (
        select(event.c.link_id, func.max(event.c.at).label("retitled_at"))
        .where(event.c.kind == TITLE_CHANGED, event.c.link_id.is_not(None))
        .group_by(event.c.link_id)
        .subquery()
    )
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
            link.c.last_checked_at,
            link.c.outcome,
            link.c.fingerprint_since,
            link.c.last_modified,
            link.c.title,
            groups.entry_drift(link.c.drift_reason, link.c.drift_entries, res.c.id),
            linked.c.linked_at,
            retitled.c.retitled_at,
        )
        .outerjoin(link, link.c.id == res.c.link_id)
        .outerjoin(linked, linked.c.resource_id == res.c.id)
        .outerjoin(retitled, retitled.c.link_id == res.c.link_id)
        .where(res.c.removed_at.is_(None))
        .order_by(res.c.id)
    )
    if collection_keys is not None:
        collections = select(table_of(t.Collection).c.id).where(
            table_of(t.Collection).c.key.in_(list(collection_keys))
        )
        query = query.where(res.c.collection_id.in_(collections))
    ended: list[NewEvent] = []
    stale: list[dict[str, Any]] = []
    with write_session(engine) as s:
        conn = s.connection()
        # Rows unpacked as tuples: reading eighteen columns by name was a fifth of the loop.
        for (
            row_id,
            rid,
            link_id,
            title,
            data,
            created_at,
            column_reviewed_at,
            snoozed_until,
            snooze_reason,
            stale_reasons,
            last_success_at,
            last_checked_at,
            outcome,
            fingerprint_since,
            last_modified,
            page_title,
            drift_reason,
            linked_at,
            retitled_at,
        ) in conn.execute(query):
            if snoozed_until is not None and snoozed_until <= now:
                ended.append(
                    NewEvent(
                        "snooze_ended",
                        at=now,
                        run_id=run_id,
                        resource_id=row_id,
                        link_id=link_id,
                        details={
                            "id": rid,
                            "until": snoozed_until.isoformat(),
                            "reason": snooze_reason,
                        },
                    )
                )
            data = data or {}
            reasons = staleness(
                now=now,
                settings=health,
                last_success_at=last_success_at,
                first_seen_at=created_at,
                reviewed_at=reviewed_at(column_reviewed_at, data),
                fingerprint_unchanged_since=fingerprint_since,
                last_modified=last_modified,
                title=title,
                description=text_or_none(data.get("description")),
                year=_year(data.get("year")),
                linked_at=linked_at,
                checked_since_success=_checked_since_success(
                    last_success_at, last_checked_at, outcome
                ),
                # A parked or casino page's year ("Best Online Casino 2026") is the new
                # owner's, no newer edition of the entry to link.
                page_title=None
                if drift_reason is not None and names_markers(drift_reason)
                else page_title,
                # The title was read no earlier than the entry got its link.
                title_since=_latest(retitled_at, linked_at or created_at),
                reading=_reading(outcome),
            )
            stored = [
                {
                    "code": r.code,
                    "reason": r.reason,
                    "since": r.since.astimezone(UTC).isoformat() if r.since else None,
                }
                for r in reasons
            ]
            if stored != (stale_reasons or []):
                stale.append({"row_id": row_id, "reasons": stored})
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


def _checked_since_success(
    last_success_at: datetime | None, last_checked_at: datetime | None, outcome: str | None
) -> bool:
    """False when no check has reached the link since its last success, or, for a link
    that never worked, ever: every try found our network down. Such a try moves neither
    `outcome` nor `last_checked_at` of a link with an outcome, and sets only
    `last_checked_at` of one without (catalog.health): a link tried but with no outcome was
    tried only while we were offline. Weeks offline from the day a catalog was added had
    every link "unverified since it was added". A link never tried at all is judged from
    when it was given (`staleness`), as is one whose site failed a check that reached it."""
    if last_success_at is None:
        return last_checked_at is None or outcome is not None
    if last_checked_at is None:
        return True
    return bool(last_checked_at > last_success_at)


def _reading(outcome: str | None) -> bool:
    """Whether the link's last check that reached it read its page (`staleness`'s
    `reading`): not when it failed or met a wall. An outcome this version does not know
    hides nothing."""
    known = Outcome.known(outcome)
    return known is None or known.severity not in (Severity.BROKEN, Severity.LOOK)


def reviewed_at(column: datetime | None, data: Mapping[str, Any]) -> datetime | None:
    """The later of the curator's `mark-reviewed` and the entry's `reviewed_at`/`reviewed`."""
    found = [column] if column is not None else []
    for name in REVIEW_FIELDS:
        moment = review_date(data.get(name))
        if moment is not None:
            found.append(moment)
    return max(found) if found else None


def _year(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
