"""An export edited in a spreadsheet and imported back brings no check results into the
catalog, also when the curator deleted the export's columns they did not need."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import LinkhealthError
from catalog.export import EXPORT_FIELDS
from catalog.importer import Parsed, import_entries, parse_csv
from catalog.model import RESOURCE_FIELDS
from catalog.queries import report_data
from catalog.source import load_catalog
from flows.cli import app
from reports import build_context, render_csv
from reports.render import CSV_COLUMNS
from tests import report_fixtures as fx

runner = CliRunner()

RESULTS = [n for n in EXPORT_FIELDS if n not in RESOURCE_FIELDS]


def _export(columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerow(
        {
            "collection": "toolkit",
            "id": "a",
            "title": "Guide",
            "url": "https://example.org/a",
            "outcome": "ok",
            "state": "working",
            "http_status": "200",
            "checked_at": "2026-01-02T03:04:05Z",
            "stale": "",
            "ignored": "false",
            "description": "Written in the sheet.",
        }
    )
    return out.getvalue()


@pytest.mark.parametrize(
    "deleted",
    [
        ["drift_reason", "content_changed"],
        ["final_url", "reason", "drift_reason", "snoozed_until", "ignored_reason", "stale"],
    ],
)
def test_an_export_with_columns_deleted_still_leaves_its_check_results_out(
    tmp_path: Path, deleted: list[str]
) -> None:
    columns = [n for n in EXPORT_FIELDS if n not in deleted] + ["description"]
    parsed = parse_csv(_export(columns), source="links.csv")
    target = tmp_path / "toolkit.yaml"
    import_entries(target, parsed)
    (entry,) = load_catalog(target).resources
    assert (entry.id, entry.description, dict(entry.extra)) == ("a", "Written in the sheet.", {})
    assert parsed.skipped == ()  # columns left out, not a row
    (note,) = parsed.notes
    kept = [n for n in RESULTS if n not in deleted]
    assert note.code == "check_results" and note.facts["headers"] == kept
    assert f"left out columns {', '.join(kept)}: linkhealth's check results" in note


def test_a_sheet_of_its_own_with_a_state_column_keeps_it() -> None:
    """A curator's "State" (of the US) or "Reason" column is theirs, not a check result."""
    sheet = "Title,URL,State,Reason,Collection\nHotline,https://example.org/h,TX,Funded,A\n"
    (entry,) = parse_csv(sheet).entries
    assert dict(entry.fields) == {"State": "TX", "Reason": "Funded", "Collection": "A"}
    sheet = "title,url,state,reason,collection,outcome\nH,https://example.org/h,TX,F,A,won\n"
    (entry,) = parse_csv(sheet).entries
    assert set(entry.fields) == {"state", "reason", "collection", "outcome"}


def test_the_summary_notes_the_left_out_columns_and_skips_no_row(isolated_cwd: Path) -> None:
    """The columns were reported as "skipped links.csv row 1 ''", counted as a skipped row:
    no row was skipped, the check results were left out of every row."""
    (isolated_cwd / "links.csv").write_text(_export([*EXPORT_FIELDS, "description"]))
    args = ["catalog", "import-csv", "links.csv", "--into", "t.yaml"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "0 skipped" in result.stdout and "skipped" not in result.stderr
    assert "\nleft out columns collection, outcome, state," in result.stdout
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert data["skipped"] == []
    (note,) = data["notes"]
    assert note["code"] == "check_results" and note["file"] == "export"
    assert note["headers"][:2] == ["collection", "outcome"] and note["columns"][:2] == ["A", "E"]
    assert note["message"] in result.stdout


def test_a_refusal_quotes_a_skipped_row_without_an_empty_title() -> None:
    with pytest.raises(LinkhealthError) as caught:
        parse_csv("title,url\n,https://example.org/a\n", source="sheet.csv")
    assert "skipped row 2: the row has no title or no url" in str(caught.value)


def _latest_csv(tmp_path: Path) -> str:
    engine = fx.fixed_db(tmp_path / "fixed.db")
    return render_csv(build_context(report_data(engine), now=fx.NOW))


def test_the_reports_latest_csv_imported_back_brings_no_check_results(tmp_path: Path) -> None:
    """Sorted and annotated in a spreadsheet and imported, the report's CSV gave every entry
    rank, group, host, outcome, label, fix, command, ... as fields. Every column the report
    writes that is no catalog field must stay out (a column added to the report without
    adding it to the importer's list fails here)."""
    parsed = parse_csv(_latest_csv(tmp_path), source="latest.csv")
    assert all(set(e.fields) <= set(RESOURCE_FIELDS) for e in parsed.entries)
    (left_out,) = [n for n in parsed.notes if n.code == "check_results"]
    results = [n for n in CSV_COLUMNS if n not in RESOURCE_FIELDS]
    assert f"left out columns {', '.join(results)}:" in left_out
    assert left_out.facts["file"] == "report_csv" and "(a report's CSV)" in left_out
    assert all(s.origin != "row 1" for s in parsed.skipped), parsed.skipped  # the header
    target = tmp_path / "toolkit.yaml"
    import_entries(target, parsed)
    assert {r.id: dict(r.extra) for r in load_catalog(target).resources} == {
        e.preferred_id: {} for e in parsed.entries
    }


def test_the_reports_csv_with_columns_deleted_is_still_known(tmp_path: Path) -> None:
    rows = list(csv.reader(io.StringIO(_latest_csv(tmp_path))))
    keep = [i for i, name in enumerate(rows[0]) if name not in ("fix", "command", "rank", "host")]
    out = io.StringIO()
    csv.writer(out).writerows([[row[i] for i in keep] for row in rows])
    parsed = parse_csv(out.getvalue(), source="latest.csv")
    assert all(set(e.fields) <= set(RESOURCE_FIELDS) for e in parsed.entries)


def _without(text: str, deleted: set[str]) -> str:
    """`text` (a CSV) with the columns headed `deleted` taken out, as a sheet deletes them."""
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if name not in deleted]
    out = io.StringIO()
    csv.writer(out).writerows([[row[i] for i in keep] for row in rows])
    return out.getvalue()


def _no_check_results_imported(parsed: Parsed, tmp_path: Path) -> None:
    """Every entry of `parsed` brings its catalog fields alone into a catalog."""
    target = tmp_path / "toolkit.yaml"
    import_entries(target, parsed)
    assert {r.id: dict(r.extra) for r in load_catalog(target).resources} == {
        e.preferred_id: {} for e in parsed.entries
    }


#: Report columns a curator who sorts by what to fix deletes: 11 of the 23.
TRIMMED = {
    "rank",
    "group",
    "label",
    "what_we_saw",
    "command",
    "page_title",
    "archive_url",
    "suggested_url",
    "last_checked",
    "elapsed_ms",
    "stale_reasons",
}


def test_an_older_reports_csv_trimmed_to_half_its_columns_is_still_known(
    tmp_path: Path,
) -> None:
    """A latest.csv written before `held_tries` (its 22 columns that are no catalog field),
    half of them deleted: known before `held_tries` joined the importer's list, then taken
    for a sheet of the curator's own, as the 12 of 23 columns it now asks for, and its
    check results written into every entry. A column added to the report raises no bar."""
    old = _without(_latest_csv(tmp_path), {"held_tries"} | TRIMMED)
    parsed = parse_csv(old, source="latest.csv")
    (left_out,) = [n for n in parsed.notes if n.code == "check_results"]
    assert left_out.facts["file"] == "report_csv", left_out
    assert len(left_out.facts["headers"]) == 11, left_out
    _no_check_results_imported(parsed, tmp_path)


def test_a_reports_csv_trimmed_to_the_export_s_columns_and_a_few_is_the_report(
    tmp_path: Path,
) -> None:
    """The report's CSV shares 7 columns with the export (`collection`, `outcome`, `state`,
    ...): kept with 4 of its own (`host`, `fix`, `since`, `checks`), it was taken for an
    export, as half of the export's, and those 4 written into every entry. It is the report's by
    the columns only the report writes."""
    kept = _without(_latest_csv(tmp_path), TRIMMED | {"stale_since"})
    parsed = parse_csv(kept, source="latest.csv")
    (left_out,) = [n for n in parsed.notes if n.code == "check_results"]
    assert left_out.facts["file"] == "report_csv", left_out
    assert {"host", "fix", "since", "checks", "held_tries"} <= set(left_out.facts["headers"])
    _no_check_results_imported(parsed, tmp_path)


def _joined(report: str, export_columns: list[str]) -> str:
    """`report` (a report's CSV) with `export_columns` of an export added after its own, as
    a curator joins the two files in one sheet (a lookup by id), each row its export's."""
    rows = list(csv.reader(io.StringIO(report)))
    added = [n for n in export_columns if n not in rows[0]]
    values = {"http_status": "200", "checked_at": "2026-01-02T03:04:05Z", "ignored": "false"}
    out = io.StringIO()
    csv.writer(out).writerows(
        [rows[0] + added, *(row + [values.get(n, "x") for n in added] for row in rows[1:])]
    )
    return out.getvalue()


#: The export's columns that the report's CSV does not write.
EXPORT_OWN = [n for n in RESULTS if n not in CSV_COLUMNS]


@pytest.mark.parametrize(
    ("deleted", "first", "then"),
    [
        # the report's CSV and the export's columns, whole: the report's by its own columns
        (set(), "report_csv", "export"),
        # the report's CSV trimmed to the shared columns and 4 of its own, beside the
        # export's 7 own: the export's, by its own columns, and the report's 4 were imported
        (TRIMMED | {"stale_since"}, "export", "report_csv"),
    ],
)
def test_a_sheet_that_is_both_files_leaves_out_both_files_check_results(
    tmp_path: Path, deleted: set[str], first: str, then: str
) -> None:
    """A sheet heading enough of both the report CSV's and the export's columns was taken for
    one file, and the other file's own columns (`http_status`, `checked_at`, ...; or `host`,
    `fix`, ...) were written into every entry as catalog fields."""
    sheet = _joined(_without(_latest_csv(tmp_path), deleted), list(EXPORT_FIELDS))
    parsed = parse_csv(sheet, source="joined.csv")
    assert all(set(e.fields) <= set(RESOURCE_FIELDS) for e in parsed.entries)
    notes = [n for n in parsed.notes if n.code == "check_results"]
    assert [n.facts["file"] for n in notes] == [first, then], notes
    header = next(csv.reader(io.StringIO(sheet)))
    left_out = [h for n in notes for h in n.facts["headers"]]
    assert sorted(left_out) == sorted(h for h in header if h not in RESOURCE_FIELDS)
    export = next(n for n in notes if n.facts["file"] == "export")
    report = next(n for n in notes if n.facts["file"] == "report_csv")
    assert "(an export" in export and "(a report's CSV" in report
    assert set(EXPORT_OWN) <= set(export.facts["headers"])
    assert {"host", "fix", "since", "checks"} <= set(report.facts["headers"])
    _no_check_results_imported(parsed, tmp_path)


def test_an_export_with_a_column_named_as_the_reports_keeps_it(tmp_path: Path) -> None:
    """A curator's `host` column beside an export is theirs: the sheet heads too few of the
    report CSV's columns (its 7 shared with the export and `host`) to be one."""
    columns = [*EXPORT_FIELDS, "host", "fix"]
    row = {"id": "a", "title": "Guide", "url": "https://example.org/a", "outcome": "ok"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerow({**row, "host": "example.org", "fix": "Ask the owner"})
    parsed = parse_csv(out.getvalue(), source="links.csv")
    (entry,) = parsed.entries
    assert dict(entry.fields) == {"host": "example.org", "fix": "Ask the owner"}
    (note,) = parsed.notes
    assert note.facts["file"] == "export" and "host" not in note.facts["headers"]
