"""The report's action-queue groups other figures count, as SQL conditions.

Stage: read side, beside `catalog.queries` and `catalog.store` (which both use it; no import
of either). Input: the columns of a `links` row and of its `resources` row, ORM or Core.
Output: conditions for bulk counts, so the run summary, its events and the Drift line of
`linkhealth check` count what the report lists (`reports.build._priority`, whose rule for
"Confirmed broken" is `catalog.health.confirmed_broken`), at any catalog size in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, func, literal, null, or_, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from catalog.health import BROKEN, BROKEN_AT_ONCE, FILED_APART, EntryDrift


def confirmed_broken(outcome: Any, state: Any) -> ColumnElement[bool]:
    """`health.confirmed_broken(outcome, state)`. Never NULL (a link never checked has no
    outcome), so its negation holds there too."""
    known = func.coalesce(outcome, "")
    return or_(
        known.in_([o.value for o in BROKEN_AT_ONCE]),
        and_(state == BROKEN, known.not_in([o.value for o in FILED_APART])),
    )


def stored_drift_entries(entries: Sequence[EntryDrift]) -> dict[str, dict[str, Any]]:
    """`LinkState.drift_entries` as `links.drift_entries` holds them: a JSON object of entry
    (`resources.id` as text) -> its own drift, read in SQL by `entry_drift` and
    `entry_drift_since`. The since is UTC with its offset ("2026-12-05 02:00:00.000000+00:00"):
    its first 26 characters are how SQLite stores a time, so it compares with the time
    columns there, and PostgreSQL reads it as a timestamptz whatever the session's zone."""
    return {
        e.key: {
            "since": e.since.astimezone(UTC).isoformat(sep=" ", timespec="microseconds"),
            "reason": e.reason,
            "score": e.score,
        }
        for e in entries
    }


class _EntryValue(FunctionElement[str]):
    """The text of `field` of the entry `resource_id` in a `links.drift_entries` object;
    NULL when it does not name the entry. JSON extraction differs by database: SQLite
    `json_extract(col, '$."12".since')`, PostgreSQL `col -> '12' ->> 'since'`."""

    name = "entry_value"
    type = Text()
    inherit_cache = True


@compiles(_EntryValue)
def _entry_value_sqlite(element: _EntryValue, compiler: SQLCompiler, **kw: Any) -> str:
    entries, resource_id, field = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_extract({entries}, '$.\"' || {resource_id} || '\".' || {field})"


@compiles(_EntryValue, "postgresql")
def _entry_value_postgresql(element: _EntryValue, compiler: SQLCompiler, **kw: Any) -> str:
    entries, resource_id, field = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({entries} AS JSON) -> CAST({resource_id} AS TEXT) ->> {field})"


def _entry_value(drift_entries: Any, resource_id: Any, field: str) -> ColumnElement[str]:
    return _EntryValue(drift_entries, resource_id, literal(field, Text))


def drifted_from(drift_entries: Any, resource_id: Any) -> ColumnElement[bool]:
    """Whether a link's drift flag (if it has one) concerns its entry `resource_id`:
    `links.drift_entries` is NULL (every entry) or names it (`stored_drift_entries`)."""
    return or_(
        drift_entries.is_(None), _entry_value(drift_entries, resource_id, "reason").is_not(None)
    )


def entry_drift(drift_reason: Any, drift_entries: Any, resource_id: Any) -> ColumnElement[Any]:
    """The link's drift reason as its entry `resource_id` has it: its own (a page shared by
    several drifts from each by its own figures), NULL where the page still holds that
    entry while it drifted from another sharing the address. Every reader of a resource's
    drift (the report's rows and counts, `export`, `linkhealth resource`, a recheck's
    lines, set-asides) reads this one expression, so none of them flags an entry the page
    holds or shows another entry's figures."""
    return case(
        (drift_reason.is_(None), null()),
        (drift_entries.is_(None), drift_reason),
        else_=_entry_value(drift_entries, resource_id, "reason"),
    )


def entry_drift_since(
    drift_since: Any, drift_entries: Any, resource_id: Any
) -> ColumnElement[datetime | None]:
    """When the page drifted from the entry `resource_id` (`entry_drift`'s twin): the
    link's `drift_since` for a flag on every entry, else the entry's own, NULL for an
    entry the page still holds. The row's "Since" and checks and a set-aside's lapse
    date an entry's drift by it, not by another entry's earlier drift."""
    own = _entry_value(drift_entries, resource_id, "since")
    return case(
        (drift_since.is_(None), null()),
        (drift_entries.is_(None), drift_since),
        else_=type_coerce(_since_value(own), drift_since.type),
    )


class _SinceValue(FunctionElement[str]):
    """A stored entry's since (`stored_drift_entries`) as the database's time."""

    name = "since_value"
    type = Text()
    inherit_cache = True


@compiles(_SinceValue)
def _since_value_sqlite(element: _SinceValue, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"substr({text}, 1, 26)"


@compiles(_SinceValue, "postgresql")
def _since_value_postgresql(element: _SinceValue, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST({text} AS TIMESTAMP WITH TIME ZONE)"


def _since_value(text: ColumnElement[str]) -> ColumnElement[str]:
    return _SinceValue(text)


def drifted(outcome: Any, state: Any, drift_reason: Any) -> ColumnElement[bool]:
    """In the "Page no longer matches its entry" group, set-aside aside: a drift flag on a
    link not confirmed broken (a drifted page that broke since is listed as broken).
    `drift_reason`: the entry's (`entry_drift`), for a count of resources."""
    return and_(drift_reason.is_not(None), drift_reason != "", ~confirmed_broken(outcome, state))


def queued(snoozed_until: Any, ignored_reason: Any, now: datetime) -> ColumnElement[bool]:
    """Not set aside at `now` (`reports.context.Row.set_aside`): not ignored, and not snoozed
    until after `now`. The action queue leaves the others out."""
    return and_(ignored_reason.is_(None), or_(snoozed_until.is_(None), snoozed_until <= now))
