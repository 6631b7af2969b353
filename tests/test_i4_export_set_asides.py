"""`linkhealth export` says who set an entry aside, when and why: a curator exporting to
review the snoozes and ignores had each snooze's date only (its reason and author were in
the database alone) and each ignore's reason without who or when. The new columns come
after `held_tries`, so a reader of the earlier columns by place reads them as before, and
`import-csv` leaves them out of the entries as the export's other check results."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from catalog import decisions
from catalog.export import EXPORT_FIELDS, export_rows, write_export
from catalog.importer import import_entries, parse_csv
from catalog.source import load_catalog
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    days,
    make_catalog,
    make_resource,
    settings_for,
    temporary_database,
    write_catalog,
)

NEW = ("snooze_reason", "snoozed_by", "snoozed_at", "ignored_by", "ignored_at")


def _exported(tmp_path: Path, now_days: float) -> list[dict[str, str]]:
    entries = [{"id": rid, "title": f"Resource {rid}", "url": f"https://example.org/{rid}"}
               for rid in ("a", "b", "c")]  # fmt: skip
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [write_catalog(tmp_path / "toolkit.yaml", entries)])
        sync_catalogs(engine, [make_catalog("toolkit", [make_resource(e["id"]) for e in entries])],
                      now=T0)  # fmt: skip
        decisions.snooze(settings, "a", until=days(10), reason="site rebuild until June",
                         by="maria", clock=lambda: days(1))  # fmt: skip
        decisions.ignore(settings, "b", reason="known login wall", by="sam",
                         clock=lambda: days(2))  # fmt: skip
        out = io.StringIO()
        write_export(export_rows(engine, now=days(now_days)), "csv", out)
    return list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))


def test_the_export_says_who_set_an_entry_aside_when_and_why(tmp_path: Path) -> None:
    assert EXPORT_FIELDS[-len(NEW) :] == NEW
    assert EXPORT_FIELDS[-len(NEW) - 1] == "held_tries"
    rows = {r["id"]: r for r in _exported(tmp_path, 3)}
    assert {n: rows["a"][n] for n in ("snoozed_until", *NEW)} == {
        "snoozed_until": "2025-03-11T02:00:00Z",
        "snooze_reason": "site rebuild until June",
        "snoozed_by": "maria",
        "snoozed_at": "2025-03-02T02:00:00Z",
        "ignored_by": "",
        "ignored_at": "",
    }
    assert {n: rows["b"][n] for n in ("ignored", "ignored_reason", *NEW)} == {
        "ignored": "true",
        "ignored_reason": "known login wall",
        "snooze_reason": "",
        "snoozed_by": "",
        "snoozed_at": "",
        "ignored_by": "sam",
        "ignored_at": "2025-03-03T02:00:00Z",
    }
    assert all(rows["c"][n] == "" for n in NEW)


def test_a_snooze_that_ended_exports_no_reason_or_author(tmp_path: Path) -> None:
    """As `snoozed_until`: only while the snooze lasts (the report counts it so)."""
    rows = {r["id"]: r for r in _exported(tmp_path, 11)}
    assert rows["a"]["snoozed_until"] == "" and rows["a"]["snooze_reason"] == ""
    assert rows["a"]["snoozed_by"] == rows["a"]["snoozed_at"] == ""
    assert rows["b"]["ignored_by"] == "sam"  # an ignore lasts until unignore


def test_import_csv_leaves_the_new_columns_out_of_the_entries(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()  # the export's own folder, apart from the catalog imported into
    rows = _exported(tmp_path / "db", 3)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*EXPORT_FIELDS, "description"])
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "description": f"About {row['id']}."})
    parsed = parse_csv(out.getvalue(), source="review.csv")
    target = tmp_path / "toolkit.yaml"
    import_entries(target, parsed)
    entries = {e.id: e for e in load_catalog(target).resources}
    assert entries["a"].description == "About a." and dict(entries["a"].extra) == {}
    assert parsed.skipped == ()
    (note,) = parsed.notes
    assert note.code == "check_results" and set(NEW) <= set(note.facts["headers"])
    # An export written before these columns is still told from a sheet of the curator's.
    older = [n for n in EXPORT_FIELDS if n not in NEW]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=older, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    (note,) = parse_csv(out.getvalue(), source="older.csv").notes
    assert note.code == "check_results" and not set(NEW) & set(note.facts["headers"])
