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

from sqlalchemy import ColumnElement, and_, func, or_

from catalog.health import BROKEN, BROKEN_AT_ONCE, FILED_APART


def confirmed_broken(outcome: Any, state: Any) -> ColumnElement[bool]:
    """`health.confirmed_broken(outcome, state)`. Never NULL (a link never checked has no
    outcome), so its negation holds there too."""
    known = func.coalesce(outcome, "")
    return or_(
        known.in_([o.value for o in BROKEN_AT_ONCE]),
        and_(state == BROKEN, known.not_in([o.value for o in FILED_APART])),
    )


def drifted(outcome: Any, state: Any, drift_reason: Any) -> ColumnElement[bool]:
    """In the "Page no longer matches its entry" group, set-aside aside: a drift flag on a
    link not confirmed broken (a drifted page that broke since is listed as broken)."""
    return and_(drift_reason.is_not(None), drift_reason != "", ~confirmed_broken(outcome, state))


def queued(snoozed_until: Any, ignored_reason: Any, now: datetime) -> ColumnElement[bool]:
    """Not set aside at `now` (`reports.context.Row.set_aside`): not ignored, and not snoozed
    until after `now`. The action queue leaves the others out."""
    return and_(ignored_reason.is_(None), or_(snoozed_until.is_(None), snoozed_until <= now))
