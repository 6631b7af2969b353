"""Ignores and snoozes that lapse when their link settles into another kind of problem
(`catalog.set_aside`): read after each run, few rows (only the resources set aside)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, bindparam, or_, select, true
from sqlalchemy.orm import Session

from catalog import groups
from catalog import tables as t
from catalog.clock import as_utc
from catalog.outcomes import Outcome, Severity
from catalog.problem_checks import CHECKED
from catalog.set_aside import (
    BREAKS,
    BROKEN,
    GONE,
    ONE_NIGHT,
    REFUSED,
    THEN,
    UNCHECKED,
    WORKING,
    in_streak,
    lapses,
    may_settle,
    problem_kind,
    settled,
    site_down,
    streak_key,
)
from catalog.settings import HealthSettings, night_span
from catalog.store._sql import read_session, table_of, write_session
from catalog.store._sync_rows import NewEvent, add_events

#: The event a lapse writes (its details: `catalog.set_aside.lapse_note`).
SET_ASIDE_LAPSED = "set_aside_lapsed"
_DRIFT_MOVES = ("drift_detected", "drift_cleared")
#: How many of a link's latest checks a streak is looked for in first (`_streak`): a
#: few nights, for a link checked nightly, are plenty to see one night's span.
_STREAK_CHECKS = 8
#: How far back from the latest check a streak filling those is read on (a link checked
#: every few hours): two nights, enough to see one night's span. Bounded by nights, not by
#: checks, and read only while the streak is undecided: a new problem's first night.
_STREAK_SPAN = night_span(2)


def link_problem(
    engine: Engine,
    link_id: int | None,
    resource_id: int | None = None,
    *,
    unavailable_days: float = HealthSettings.unavailable_days,
) -> str:
    """The link's problem kind now, as a set-aside decision of its entry `resource_id`
    stores it (`THEN`): drift only if the page drifted from that entry; a site down
    (`site_down`: 503 for `unavailable_days`) a break."""
    if link_id is None:
        return UNCHECKED
    with read_session(engine) as s:
        link = s.get(t.Link, link_id)
        if link is None or link.outcome is None:
            return UNCHECKED
        drift = link.drift_reason
        if resource_id is not None and link.drift_entries is not None:
            drift = drift if str(resource_id) in link.drift_entries else None  # entry -> drift
        down = _down(link, unavailable_days)
        kind = problem_kind(link.outcome, link.state, drift, link.http_status, down=down)
        return kind or WORKING


def _problem_then(s: Session, link_id: int | None, at: datetime, resource_id: int) -> str:
    """For a decision stored without `THEN` (before it was stored): the problem kind of the
    link's last check at or before `at`, its state and drift read from the events then (the
    drift events of the link's every entry, or naming the entry `resource_id`). A
    failing check whose state then is unknown counts as not confirmed: a bot wall's
    timeout, which neither a block nor a confirmed break ends the ignore of. A try held
    (its host away) or made while our network was down is no check (`CHECKED`, as the
    kept state skips it): the host's 503 the night before was not the link's problem."""
    if link_id is None:
        return UNCHECKED
    check = s.execute(
        select(t.Observation.outcome, t.Observation.http_status)
        .where(t.Observation.link_id == link_id, t.Observation.checked_at <= at, CHECKED)
        .order_by(t.Observation.checked_at.desc(), t.Observation.id.desc())
        .limit(1)
    ).first()
    if check is None or check.outcome is None:
        return UNCHECKED

    def latest(*kinds: str, entry: Any = true()) -> t.Event | None:
        return s.scalars(
            select(t.Event)
            .where(t.Event.link_id == link_id, t.Event.kind.in_(kinds), t.Event.at <= at, entry)
            .order_by(t.Event.at.desc(), t.Event.id.desc())
            .limit(1)
        ).first()

    concerned = or_(t.Event.resource_id.is_(None), t.Event.resource_id == resource_id)
    drift, state_change = latest(*_DRIFT_MOVES, entry=concerned), latest("state_changed")
    state = (state_change.details or {}).get("new") if state_change is not None else None
    drifted = "drift" if drift is not None and drift.kind == "drift_detected" else None
    return problem_kind(check.outcome, state, drifted, check.http_status) or WORKING


class _Streak(NamedTuple):
    """What a link's latest checks say of its problem now (`_streak`)."""

    #: From the first of the consecutive checks seeing it to the last.
    seen_for: timedelta
    #: The first of them (None: none seen).
    first: datetime | None
    #: The first of the failing checks seeing it, no check of the decisions' own kind
    #: failing between them, none working (`_whole_failure`): a 429, a block or a wall
    #: between them is no failure, and skipped.
    failing_from: datetime | None


def _streak(
    s: Session,
    link_id: int,
    drift_since: datetime | None,
    kind: str,
    new: _New,
    first_failure: datetime | None,
) -> _Streak:
    """How long consecutive checks of the link have seen its problem now: from the first
    of them to the last (nights our network was down skipped), and the first (None: none
    seen). Each of them is `new` (another kind of problem than the decisions': the 404s
    after a 500 ignored are no part of a soft 404's streak) and `in_streak` (a break's any
    error, a block's the same block...). Read from the latest `_STREAK_CHECKS`; when they
    are all in the streak yet span less than a night (a link checked every few hours), on
    back for `_STREAK_SPAN`, or to the link's `first_failure` for a break. The span is then
    at least the one read: enough for `settled`. For a break, also how far back its failing
    checks run (`failing_from`), past the checks that are no failure (a 429, a block or a
    wall of the decision's own kind: `catalog.health` counts none of them) that end the
    streak: to the link's `first_failure`, they are its whole failure (`_whole_failure`).
    A drift, since it was flagged (checks without a page to judge leave the flag as it
    was)."""
    if kind == "drift":
        last = s.scalar(select(t.Link.last_checked_at).where(t.Link.id == link_id))
        if drift_since is None or last is None:
            return _Streak(timedelta(0), None, None)
        return _Streak(as_utc(last) - as_utc(drift_since), as_utc(drift_since), None)
    checks = s.execute(
        _CHECKS.where(t.Observation.link_id == link_id, CHECKED).limit(_STREAK_CHECKS)
    ).all()
    key = streak_key(checks[0].outcome, checks[0].http_status) if checks else None
    if key is None:
        return _Streak(timedelta(0), None, None)
    failure = as_utc(first_failure) if kind in BREAKS and first_failure is not None else None
    last = first = failing_from = as_utc(checks[0].checked_at)
    cut, reaching = False, failure is not None

    def read(check: Any) -> bool:
        """Walk back over one more check; whether the checks before it matter."""
        nonlocal first, failing_from, cut, reaching
        at = as_utc(check.checked_at)
        if in_streak(kind, key, check.outcome, check.http_status) and new(
            check.outcome, check.http_status
        ):
            first = first if cut else at
            failing_from = at if reaching else failing_from
        else:
            cut = True
            reaching = reaching and _no_failure(check.outcome)
        if failure is not None and failing_from <= failure:
            reaching = False
        return not cut or reaching

    for check in checks[1:]:
        if not read(check):
            return _Streak(last - first, first, failing_from)
    if len(checks) < _STREAK_CHECKS or last - first >= ONE_NIGHT:
        return _Streak(last - first, first, failing_from)
    since = last - _STREAK_SPAN
    if failure is not None:
        if failing_from <= failure:
            return _Streak(last - first, first, failing_from)
        since = max(since, failure)
    oldest = checks[-1]
    earlier = s.execute(
        _CHECKS.where(
            t.Observation.link_id == link_id,
            CHECKED,
            t.Observation.checked_at >= since,
            or_(
                t.Observation.checked_at < oldest.checked_at,
                and_(
                    t.Observation.checked_at == oldest.checked_at,
                    t.Observation.id < oldest.id,
                ),
            ),
        )
    ).all()
    for check in earlier:
        if not read(check):
            break
    return _Streak(last - first, first, failing_from)


def _no_failure(outcome: str | None) -> bool:
    """Whether a check is no failure (`catalog.health` leaves the failure's count as it
    was): a 429, a block, a wall, a private address (a person must look)."""
    known = Outcome.known(outcome)
    return known is not None and known.severity is Severity.LOOK


#: A link's checks, latest first (`_streak`).
_CHECKS = select(
    t.Observation.outcome, t.Observation.http_status, t.Observation.checked_at, t.Observation.id
).order_by(t.Observation.checked_at.desc(), t.Observation.id.desc())


#: Whether a check's outcome and status are another kind of problem than the decisions'.
_New = Callable[[str | None, int | None], bool]


def _another_kind(thens: Sequence[str | None], state: str | None, down: bool = False) -> _New:
    """`_New` for the decisions made on `thens`, a check read in the link's `state` now
    (`down`: the site is down now, its 503s were: `site_down`)."""

    def new(outcome: str | None, http_status: int | None) -> bool:
        kind = problem_kind(outcome, state, None, http_status, down=down)
        return all(lapses(then, kind) for then in thens)

    return new


def _whole_failure(first_seen: datetime | None, first_failure: datetime | None) -> bool:
    """Whether the failing checks that see the link's problem now, from `first_seen`
    (`_Streak.failing_from`), are its whole failure, from `first_failure`
    (`catalog.set_aside.settled`): none of the decisions' kind failed first (a 429 or a
    wall between them is no failure). Not known (no failure dated): not (the problem then
    waits for its night)."""
    if first_seen is None or first_failure is None:
        return False
    return first_seen <= as_utc(first_failure)


def _lapsed(
    s: Session, resource_id: int, link_id: int | None, kind: str, now_kind: str | None
) -> dict[str, Any] | None:
    """The details of the resource's latest `kind` of decision (ignore, snooze) if its
    link's problem now is of another kind than when it was decided; None if it holds."""
    decision = s.scalars(
        select(t.Decision)
        .where(t.Decision.resource_id == resource_id, t.Decision.kind == kind)
        .order_by(t.Decision.at.desc(), t.Decision.id.desc())
        .limit(1)
    ).first()
    details = dict(decision.details or {}) if decision else {}
    then = details.get(THEN)
    if decision is not None and then in (None, BROKEN):
        # Stored before it was stored, or as "broken" before a page turning us away and a
        # page gone were told apart: the check then tells which (a 500's stays broken).
        found = _problem_then(s, link_id, decision.at, resource_id)
        then = found if then is None or found in (REFUSED, GONE) else then
    then_kind = None if then in (WORKING, None) else then
    if then == UNCHECKED or not lapses(then_kind, now_kind):
        return None
    return {
        "decision": kind,
        "decision_id": decision.id if decision else None,
        "decided_at": decision.at.isoformat() if decision else None,
        "by": decision.decided_by if decision else None,
        "then": then_kind,
    }


def _down(link: Any, unavailable_days: float) -> bool:
    """`site_down` of a link (a row or a `Link`)."""
    since, at = link.last_change_at, link.last_checked_at
    return site_down(
        link.outcome,
        link.http_status,
        as_utc(since) if since is not None else None,
        as_utc(at) if at is not None else None,
        unavailable_days,
    )


def lapse_set_asides(
    engine: Engine,
    *,
    now: datetime,
    run_id: int | None = None,
    unavailable_days: float = HealthSettings.unavailable_days,
) -> int:
    """End the ignores and snoozes (in force at `now`) whose link settled into a problem of
    another kind than when they were decided (`catalog.set_aside`); each entry back in the
    queue writes one `set_aside_lapsed` event, naming its ignore and its snooze when it
    had both. An entry one of whose set-asides still holds stays out with both. Returns
    how many resources went back to the queue. `unavailable_days`: as `catalog.health`'s,
    after which a 503 "come back later" at every check is the site down (`site_down`)."""
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
            link.c.http_status,
            link.c.first_failure_at,
            link.c.last_change_at,
            link.c.last_checked_at,
            groups.entry_drift(link.c.drift_reason, link.c.drift_entries, res.c.id).label(
                "drift_reason"
            ),
            # The entry's own drift since: one drifted from after another is not settled
            # by the other's nights.
            groups.entry_drift_since(link.c.drift_since, link.c.drift_entries, res.c.id).label(
                "drift_since"
            ),
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
            down = _down(row, unavailable_days)
            now_kind = problem_kind(
                row.outcome, row.state, row.drift_reason, row.http_status, down=down
            )
            if now_kind is None or not may_settle(now_kind, row.outcome, row.state):
                continue  # whatever was decided and seen: no query for it
            in_force = ["ignore"] if row.ignored_at is not None else []
            if row.snoozed_until is not None and as_utc(row.snoozed_until) > now:
                in_force.append("snooze")
            ended = [_lapsed(s, row.id, row.link_id, kind, now_kind) for kind in in_force]
            if not ended or None in ended:
                continue
            for lapsed in ended:
                if lapsed is not None and lapsed["decision"] == "ignore":
                    lapsed["reason"] = row.ignored_reason
                elif lapsed is not None:
                    lapsed |= {"reason": row.snooze_reason, "until": row.snoozed_until.isoformat()}
            new = _another_kind([e["then"] for e in ended if e is not None], row.state, down)
            streak = _streak(s, row.link_id, row.drift_since, now_kind, new, row.first_failure_at)
            seen_for = streak.seen_for
            whole = _whole_failure(streak.failing_from, row.first_failure_at)
            if not settled(now_kind, row.outcome, row.state, seen_for, whole_failure=whole):
                continue
            first, *rest = [lapsed for lapsed in ended if lapsed is not None]
            details: dict[str, Any] = {
                "id": row.rid,
                **first,
                "now": now_kind,
                "now_reason": row.drift_reason or row.reason,
                "lapsed_at": now.isoformat(),
            }
            if rest:
                details["also"] = rest[0]
            events.append(
                NewEvent(
                    SET_ASIDE_LAPSED,
                    at=now,
                    run_id=run_id,
                    resource_id=row.id,
                    link_id=row.link_id,
                    details=details,
                )
            )
        if events:
            add_events(s, events)
            for kind, values in (
                ("ignore", {"ignored_at": None, "ignored_reason": None}),
                ("snooze", {"snoozed_until": None, "snooze_reason": None}),
            ):
                ids = [{"row_id": e.resource_id} for e in events if kind in _decisions(e)]
                if ids:
                    conn.execute(
                        res.update().where(res.c.id == bindparam("row_id")).values(**values), ids
                    )
    return len(events)


def _decisions(event: NewEvent) -> set[str]:
    """The kinds of set-aside (ignore, snooze) a lapse event ended."""
    also = event.details.get("also") or {}
    return {event.details["decision"], *([also["decision"]] if also else [])}
