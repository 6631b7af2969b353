"""`linkhealth resource ID`: one resource's history as the terminal and `--json` show it.

Stage: report (output). Input: a `catalog.store.ResourceHistory` and the entry's own
additions and removals (`catalog.queries.entry_events`). Output: lines of text, or JSON
data. The history itself is `catalog.decisions`'s; this adds what the report's pages say
of it (`reports.history.readdition`): an entry put back in the catalog after its removal
reads re-added, with when, not as if its first addition were its only one. With the
report's row of the resource (`reports.build.resource_report_row`), it also says what the
report says: since when the problem runs and in how many checks (a link flapping all year
is flapping since a year ago, not failing since last night), and the report's fix and
command (a link that had moved for good before its old host lapsed: its new address).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from catalog import store
from catalog.clock import as_utc
from catalog.decisions import ReportWords, history_json, history_lines
from catalog.queries import EventRow
from reports.context import Row
from reports.history import Readdition, readdition, readditions


def resource_lines(
    history: store.ResourceHistory,
    entry_events: Iterable[EventRow],
    *,
    now: datetime | None = None,
    row: Row | None = None,
) -> list[str]:
    """What `linkhealth resource ID` prints: the history, with a `re-added:` line among
    the entry's facts when it was put back after a removal, and the report's words of
    `row` (its report row; None for a removed entry) in its current state."""
    put_back = readditions(entry_events)
    report = _report_words(row) if row is not None else None
    lines = history_lines(history, now=now, readded={r.event_id for r in put_back}, report=report)
    if not put_back:
        return lines
    # The entry's facts end at the first blank line, before "Current state".
    end = lines.index("") if "" in lines else len(lines)
    lines.insert(end, f"  {'re-added:':<10} {_readded_text(put_back[-1], history)}")
    return lines


def resource_json(
    history: store.ResourceHistory, entry_events: Iterable[EventRow], row: Row | None = None
) -> dict[str, Any]:
    """What `linkhealth resource ID --json` prints: the history, its `resource` with
    `readded` (as the report's JSON says of a catalog edit), `readded_at` (ISO 8601) and
    `last_removed_on` (the date it had been removed on, when known). `created_at` stays
    its first addition. `report`: what the report says of it (`row`), None for an entry
    removed from the catalog: `priority` (its queue group's key, None when it needs
    nothing), `since` (ISO 8601) and `flapping_since` (that time is when it began
    flapping), `checks` since then, `suggested_url`, `fix`, `command`,
    `command_needs_input` (the command has NEW_URL to fill in) and `held_tries` (its
    latest tries not sent since its last check, as the report's JSON counts them)."""
    data = history_json(history)
    data["report"] = _report_json(row) if row is not None else None
    put_back = readdition(entry_events)
    data["resource"].update(
        readded=put_back is not None,
        readded_at=as_utc(put_back.at).isoformat() if put_back else None,
        last_removed_on=put_back.removed_on if put_back else None,
    )
    return data


def _report_words(row: Row) -> ReportWords:
    """What the history's current state tells of the report's `row`."""
    began = row.began if row.since else None
    return ReportWords(
        since=datetime.fromisoformat(row.since.iso) if row.since and began else None,
        began=began,
        checks=row.checks,
        fix=row.fix,
        command=row.command,
        flapping=row.flapping_words,
    )


def _report_json(row: Row) -> dict[str, Any]:
    return {
        "priority": row.priority.key if row.priority else None,
        "since": row.since.iso if row.since else None,
        "flapping_since": bool(row.since and row.flapping_since),
        "checks": row.checks_shown,
        "suggested_url": row.suggested_url,
        "fix": row.fix,
        "command": row.command,
        "command_needs_input": row.command_needs_input,
        "held_tries": row.held_tries,
    }


def _readded_text(put_back: Readdition, history: store.ResourceHistory) -> str:
    removed = f"removed on {put_back.removed_on}; " if put_back.removed_on else ""
    first = _minute(history.resource.created_at)
    return f"{_minute(put_back.at)} ({removed}first added {first})"


def _minute(moment: datetime) -> str:
    """As `catalog.decisions` shows times: UTC, to the minute."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M")
