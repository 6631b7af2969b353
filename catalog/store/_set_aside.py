"""Ignores and snoozes that lapse when their link's problem changes kind
(`catalog.set_aside`): read after each run, few rows (only the resources set aside)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from catalog import tables as t
from catalog.health import BROKEN
from catalog.outcomes import Outcome, Severity
from catalog.set_aside import THEN, UNCHECKED, WORKING, lapses, problem_kind
from catalog.store._sql import read_session, table_of, write_session
from catalog.store._sync_rows import NewEvent, add_events

#: The event a lapse writes (its details: `catalog.set_aside.lapse_note`).
SET_ASIDE_LAPSED = "set_aside_lapsed"
_DRIFT_MOVES = ("drift_detected", "drift_cleared")


def link_problem(engine: Engine, link_id: int | None) -> str:
    """The link's problem kind now, as a set-aside decision stores it (`THEN`)."""
    if link_id is None:
        return UNCHECKED
    with read_session(engine) as s:
        link = s.get(t.Link, link_id)
        if link is None or link.outcome is None:
            return UNCHECKED
        return problem_kind(link.outcome, link.state, link.drift_reason) or WORKING


def _problem_then(s: Session, link_id: int | None, at: datetime) -> str:
    """For a decision stored without `THEN` (before it was stored): the problem kind of the
    link's last check at or before `at`, its drift read from the drift events then. The
    state then is not kept: a failing check counts as confirmed, so that an old ignore of a
    broken link is not ended by its being broken."""
    if link_id is None:
        return UNCHECKED
    outcome = s.scalar(
        select(t.Observation.outcome)
        .where(t.Observation.link_id == link_id, t.Observation.checked_at <= at)
        .order_by(t.Observation.checked_at.desc(), t.Observation.id.desc())
        .limit(1)
    )
    if outcome is None:
        return UNCHECKED
    drift = s.scalar(
        select(t.Event.kind)
        .where(t.Event.link_id == link_id, t.Event.kind.in_(_DRIFT_MOVES), t.Event.at <= at)
        .order_by(t.Event.at.desc(), t.Event.id.desc())
        .limit(1)
    )
    try:
        failing = Outcome(outcome).severity is Severity.BROKEN
    except ValueError:
        failing = False
    state = BROKEN if failing else None
    return problem_kind(outcome, state, "drift" if drift == "drift_detected" else None) or WORKING


def lapse_set_asides(engine: Engine, *, now: datetime, run_id: int | None = None) -> int:
    """End the ignores and snoozes (in force at `now`) whose link now has a settled problem
    of another kind than when they were decided; each writes a `set_aside_lapsed` event.
    Returns how many resources went back to the queue."""
    res, link = table_of(t.Resource), table_of(t.Link)
    query = (
        select(
            res.c.id,
            res.c.rid,
            res.c.link_id,
            res.c.ignored_at,
            res.c.ignored_reason,
            res.c.snoozed_until,
            res.c.snooze_reason,
            link.c.outcome,
            link.c.state,
            link.c.drift_reason,
            link.c.reason,
        )
        .join(link, link.c.id == res.c.link_id)
        .where(
            res.c.removed_at.is_(None),
            (res.c.ignored_at.is_not(None)) | (res.c.snoozed_until > now),
        )
    )
    events: list[NewEvent] = []
    with write_session(engine) as s:
        conn = s.connection()
        for row in conn.execute(query).all():
            now_kind = problem_kind(row.outcome, row.state, row.drift_reason)
            for kind, reason in (("ignore", row.ignored_reason), ("snooze", row.snooze_reason)):
                if kind == "ignore" and row.ignored_at is None:
                    continue
                if kind == "snooze" and (row.snoozed_until is None or row.snoozed_until <= now):
                    continue
                decision = s.scalars(
                    select(t.Decision)
                    .where(t.Decision.resource_id == row.id, t.Decision.kind == kind)
                    .order_by(t.Decision.at.desc(), t.Decision.id.desc())
                    .limit(1)
                ).first()
                details = dict(decision.details or {}) if decision else {}
                then = details.get(THEN)
                if then is None and decision is not None:
                    then = _problem_then(s, row.link_id, decision.at)
                then_kind = None if then in (WORKING, None) else then
                if then == UNCHECKED or not lapses(then_kind, now_kind):
                    continue
                lapsed: dict[str, Any] = {
                    "id": row.rid,
                    "decision": kind,
                    "decision_id": decision.id if decision else None,
                    "decided_at": decision.at.isoformat() if decision else None,
                    "by": decision.decided_by if decision else None,
                    "reason": reason,
                    "then": then_kind,
                    "now": now_kind,
                    "now_reason": row.drift_reason or row.reason,
                }
                if kind == "snooze":
                    lapsed["until"] = row.snoozed_until.isoformat()
                events.append(
                    NewEvent(
                        SET_ASIDE_LAPSED,
                        at=now,
                        run_id=run_id,
                        resource_id=row.id,
                        link_id=row.link_id,
                        details=lapsed,
                    )
                )
        if events:
            add_events(s, events)
            for kind, values in (
                ("ignore", {"ignored_at": None, "ignored_reason": None}),
                ("snooze", {"snoozed_until": None, "snooze_reason": None}),
            ):
                ids = [{"row_id": e.resource_id} for e in events if e.details["decision"] == kind]
                if ids:
                    conn.execute(
                        res.update().where(res.c.id == bindparam("row_id")).values(**values), ids
                    )
    return len({e.resource_id for e in events})
