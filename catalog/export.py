"""Export: the current state of every active catalog resource, as JSON Lines or CSV.

Input: the database (through `catalog.store.resource_statuses`). Output: one flat
record per resource, `EXPORT_FIELDS` in order, written to a text stream. Resources
never checked (or only tried while our network was down) export with an empty outcome
and no `checked_at`. A working link whose page no longer holds the resource (a parked or
hijacked site) says so in `drift_reason`; `stale`, `snoozed_until`, `ignored` and
`ignored_reason` carry the curator-facing rest, so a site built from the export can leave
such links out. CSV cells that a spreadsheet would run as a formula get a leading
apostrophe (OWASP "CSV injection", `catalog.csv_guard`); `import-csv` takes it off again.
A CSV export starts with a UTF-8 byte order mark, as Excel's own "CSV UTF-8" does.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Engine

from catalog import store
from catalog.clock import utcnow
from catalog.csv_guard import UTF8_BOM, guard
from catalog.health import UNCHECKED

EXPORT_FIELDS = (
    "collection",
    "id",
    "title",
    "url",
    "outcome",
    "state",
    "http_status",
    "final_url",
    "checked_at",
    "reason",
    "content_changed",
    "drift_reason",
    "stale",
    "snoozed_until",
    "ignored",
    "ignored_reason",
)

ExportFormat = Literal["jsonl", "csv"]


def export_rows(engine: Engine, *, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """One record per active resource, by collection then id. `snoozed_until` only while
    the snooze lasts (after `now`), as the report counts it."""
    now = now or utcnow()
    for status in store.resource_statuses(engine):
        link = status.link
        checked = link if link is not None and link.outcome is not None else None
        yield {
            "collection": status.collection,
            "id": status.rid,
            "title": status.title,
            "url": status.url,
            "outcome": checked.outcome.value if checked and checked.outcome else "",
            "state": link.state if link is not None else UNCHECKED,
            "http_status": checked.http_status if checked else None,
            "final_url": checked.final_url if checked else None,
            # A link tried only while our network was down has a last attempt, not a check.
            "checked_at": iso_utc(checked.last_checked_at) if checked else None,
            "reason": checked.reason if checked else None,
            "content_changed": status.content_changed,
            # A working link can still be a hijacked or parked site: `outcome` says "ok".
            "drift_reason": checked.drift_reason if checked else None,
            "stale": list(status.stale),
            "snoozed_until": _while_it_lasts(status.snoozed_until, now),
            "ignored": status.ignored,
            "ignored_reason": status.ignored_reason,
        }


def write_export(rows: Iterable[dict[str, Any]], fmt: ExportFormat, out: TextIO) -> int:
    """Write `rows` to `out`; returns how many were written."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        # Excel reads a CSV without a byte order mark in the computer's own code page: "–"
        # and "é" would show as "â€“" and "Ã©". Its own "CSV UTF-8" starts with one too.
        out.write(UTF8_BOM)
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
    return count


def _while_it_lasts(snoozed_until: datetime | None, now: datetime) -> str | None:
    return iso_utc(snoozed_until) if snoozed_until and snoozed_until > now else None


def csv_cell(value: Any) -> str:
    """A safe CSV cell: text a spreadsheet would evaluate gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # staleness codes: "dated;review_overdue"
        value = ";".join(map(str, value))
    return guard(str(value))


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, e.g. 2025-03-01T02:00:00Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
