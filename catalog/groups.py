"""The report's action-queue groups other figures count, as SQL conditions.

Stage: read side, beside `catalog.queries` and `catalog.store` (which both use it; no import
of either). Input: the columns of a `links` row and of its `resources` row, ORM or Core.
Output: conditions for bulk counts, so the run summary, its events and the Drift line of
`linkhealth check` count what the report lists (`reports.build._priority`, whose rule for
"Confirmed broken" is `catalog.health.confirmed_broken`), at any catalog size in one query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, cast, func, literal, null, or_

from catalog.health import BROKEN, BROKEN_AT_ONCE, FILED_APART


def confirmed_broken(outcome: Any, state: Any) -> ColumnElement[bool]:
    """`health.confirmed_broken(outcome, state)`. Never NULL (a link never checked has no
    outcome), so its negation holds there too."""
    known = func.coalesce(outcome, "")
    return or_(
        known.in_([o.value for o in BROKEN_AT_ONCE]),
        and_(state == BROKEN, known.not_in([o.value for o in FILED_APART])),
    )


def drifted_from(drift_entries: Any, resource_id: Any) -> ColumnElement[bool]:
    """Whether a link's drift flag (if it has one) concerns its entry `resource_id`:
    `links.drift_entries` is NULL (every entry) or names it (a JSON list of ids as text,
    `catalog.health.apply_drift`). Read as text on both databases: `'%"12"%'` matches the
    id 12, not 112 or 120."""
    quoted = literal('%"', Text) + cast(resource_id, Text) + literal('"%', Text)
    return or_(drift_entries.is_(None), cast(drift_entries, Text).like(quoted))


def entry_drift(drift_reason: Any, drift_entries: Any, resource_id: Any) -> ColumnElement[Any]:
    """The link's drift reason as its entry `resource_id` has it: NULL where the page still
    holds that entry while it drifted from another sharing the address. Every reader of
    a resource's drift (the report's rows and counts, `export`, `linkhealth resource`, a
    recheck's lines, set-asides) reads this one expression, so none of them flags an entry
    the page holds."""
    return case(
        (drift_reason.is_(None), null()),
        (drifted_from(drift_entries, resource_id), drift_reason),
        else_=null(),
    )


def drifted(outcome: Any, state: Any, drift_reason: Any) -> ColumnElement[bool]:
    """In the "Page no longer matches its entry" group, set-aside aside: a drift flag on a
    link not confirmed broken (a drifted page that broke since is listed as broken).
    `drift_reason`: the entry's (`entry_drift`), for a count of resources."""
    return and_(drift_reason.is_not(None), drift_reason != "", ~confirmed_broken(outcome, state))


def queued(snoozed_until: Any, ignored_reason: Any, now: datetime) -> ColumnElement[bool]:
    """Not set aside at `now` (`reports.context.Row.set_aside`): not ignored, and not snoozed
    until after `now`. The action queue leaves the others out."""
    return and_(ignored_reason.is_(None), or_(snoozed_until.is_(None), snoozed_until <= now))
