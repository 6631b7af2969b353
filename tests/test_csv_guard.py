"""CSV files linkhealth writes for spreadsheets (catalogs it creates or edits, exports) guard
formula-like text with an apostrophe (OWASP "CSV injection"), and reading them back gives the
original text exactly."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.csv_guard import guard, unguard
from catalog.export import EXPORT_FIELDS, write_export
from catalog.importer import ImportedEntry, import_entries, parse_csv
from catalog.source import load_catalog

#: Titles a spreadsheet would run as a formula, and some it would not.
TITLES = [
    '=HYPERLINK("https://evil.example/","click")',
    "-10 tips for outreach",
    "+1 helpline",
    "@handle",
    "=cmd|' /C calc'!A0",
    "\tTabbed",
    "'quoted'",
    "'=already guarded by someone",
    "''=two apostrophes",
    "'-5",
    "It's fine",
]


@pytest.mark.parametrize("text", [*TITLES, "-", "-5", "+1.5", "2016", "", "'"])
def test_unguard_gives_back_what_guard_was_given(text: str) -> None:
    assert unguard(guard(text)) == text


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("-10 tips", "'-10 tips"),
        ("@handle", "'@handle"),
        ("'=x", "''=x"),
        ("'quoted'", "'quoted'"),  # cannot run: written as it is
        ("-5", "-5"),  # a number stays a number in the sheet
        ("-1,000.50", "-1,000.50"),
        ("-12.5%", "-12.5%"),
        ("+.5", "+.5"),
        ("-5 tips", "'-5 tips"),
        ("-1+1", "'-1+1"),
        ("--", "'--"),
        ("-", "-"),  # a placeholder in a year column
        ("https://example.org/-x", "https://example.org/-x"),
    ],
)
def test_only_what_a_spreadsheet_would_run_is_guarded(text: str, written: str) -> None:
    assert guard(text) == written


def _entries() -> list[ImportedEntry]:
    return [
        ImportedEntry(title, f"https://example.org/{n}", description=f"={n}+1", origin=f"row {n}")
        for n, title in enumerate(TITLES, start=2)
    ]


def test_a_new_csv_catalog_guards_formulas_and_loads_the_original_text(tmp_path: Path) -> None:
    """Opened in Excel, `=HYPERLINK(...)` was a live link and `-10 tips` became #NAME?."""
    target = tmp_path / "toolkit.csv"
    import_entries(target, _entries())
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    by_url = {r["url"]: r for r in rows}
    assert by_url["https://example.org/2"]["title"] == "'" + TITLES[0]
    assert by_url["https://example.org/3"]["title"] == "'-10 tips for outreach"
    assert by_url["https://example.org/5"]["title"] == "'@handle"
    assert by_url["https://example.org/8"]["title"] == "'quoted'"
    assert by_url["https://example.org/2"]["description"] == "'=2+1"
    loaded = {r.url: r for r in load_catalog(target).resources}
    assert [loaded[f"https://example.org/{n}"].title for n in range(2, 2 + len(TITLES))] == TITLES
    assert loaded["https://example.org/2"].description == "=2+1"


def test_rows_appended_to_a_csv_catalog_are_guarded(tmp_path: Path) -> None:
    target = tmp_path / "toolkit.csv"
    target.write_text("id,title,url,description\nold,Old,https://example.org/old,-\n")
    import_entries(target, _entries()[:2])
    text = target.read_text()
    assert text.startswith("id,title,url,description\nold,Old,https://example.org/old,-\n")
    assert "'-10 tips for outreach" in text
    titles = [r.title for r in load_catalog(target).resources]
    assert titles == ["Old", TITLES[0], TITLES[1]]


def test_a_field_filled_in_a_csv_catalog_is_guarded(tmp_path: Path) -> None:
    """Import fills and curator decisions go through `apply_edits`."""
    target = tmp_path / "toolkit.csv"
    target.write_text("id,title,url\n'@team,Team,https://example.org/t\n")  # a guarded id
    apply_edits(target, [FieldEdit("@team", "publisher", "@Team HQ")])
    assert "'@team,Team,https://example.org/t,'@Team HQ" in target.read_text()
    apply_edits(target, [FieldEdit("@team", "notes", "-see below")])
    (entry,) = load_catalog(target).resources
    assert (entry.id, entry.publisher, entry.notes) == ("@team", "@Team HQ", "-see below")


def test_an_export_imported_back_gives_the_original_titles(tmp_path: Path) -> None:
    out = io.StringIO()
    rows = [
        {"id": f"r{n}", "title": title, "url": f"https://example.org/{n}"}
        for n, title in enumerate(TITLES)
    ]
    write_export(rows, "csv", out)
    assert "'=HYPERLINK(" in out.getvalue() and "\n'quoted'" not in out.getvalue()
    parsed = parse_csv(out.getvalue(), source="links.csv")
    assert [e.title for e in parsed.entries] == [" ".join(t.split()) for t in TITLES]


def test_setting_a_cell_to_the_value_it_holds_unguarded_changes_nothing(tmp_path: Path) -> None:
    """A curator's own file keeps its cells as written: an edit that changes no value must
    not rewrite one only to add the guard."""
    target = tmp_path / "toolkit.csv"
    text = "id,title,url,notes\na,A,https://example.org/a,=see below\n"
    target.write_text(text)
    assert apply_edits(target, [FieldEdit("a", "notes", "=see below")]).diff == ""
    assert target.read_text() == text


#: A sheet from elsewhere whose column headers would run as formulas in the catalog's header.
HOSTILE_HEADERS = (
    'title,url,=HYPERLINK("https://evil.example/"),@owner\n'
    "A,https://example.org/a,x,-me\n"
    "B,https://example.org/b,,\n"
)


def test_a_new_csv_catalog_guards_the_column_names_a_sheet_gave(tmp_path: Path) -> None:
    """The header row is a row of cells a spreadsheet runs like any other."""
    target = tmp_path / "toolkit.csv"
    import_entries(target, parse_csv(HOSTILE_HEADERS, source="sheet.csv"))
    # (a new CSV catalog starts with a byte order mark, as a spreadsheet's "CSV UTF-8")
    header, first, _ = csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")))
    assert header == ["id", "title", "url", '\'=HYPERLINK("https://evil.example/")', "'@owner"]
    assert first[3:] == ["x", "'-me"]
    again = import_entries(target, parse_csv(HOSTILE_HEADERS, source="sheet.csv"))
    assert again.diff == "" and len(again.matched) == 2  # the guarded header is the column
    yaml = tmp_path / "toolkit.yaml"  # the catalog as a sheet to import elsewhere
    import_entries(yaml, parse_csv(target.read_text(encoding="utf-8-sig"), source="toolkit.csv"))
    extra = {r.id: r.extra for r in load_catalog(yaml).resources}
    assert extra["a"] == {'=HYPERLINK("https://evil.example/")': "x", "@owner": "-me"}


def test_a_column_added_to_a_csv_catalog_by_an_import_is_guarded(tmp_path: Path) -> None:
    target = tmp_path / "toolkit.csv"
    target.write_text("id,title,url\nold,Old,https://example.org/old\n")
    import_entries(target, parse_csv(HOSTILE_HEADERS, source="sheet.csv"))
    header = next(csv.reader(io.StringIO(target.read_text())))
    assert header == ["id", "title", "url", '\'=HYPERLINK("https://evil.example/")', "'@owner"]
    more = HOSTILE_HEADERS + "C,https://example.org/c,z,\n"
    again = import_entries(target, parse_csv(more, source="sheet.csv"))
    assert len(again.added) == 1
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == header and rows[-1][3] == "z"  # into the column, not a second one


FORMULA = '=HYPERLINK("https://evil.example/")'


def test_a_csv_catalog_names_a_field_by_its_header_without_the_guard(tmp_path: Path) -> None:
    """A header guarded in the file names the field by its own text, as any cell reads back."""
    target = tmp_path / "toolkit.csv"
    import_entries(target, parse_csv(HOSTILE_HEADERS, source="sheet.csv"))
    extra = {r.id: dict(r.extra) for r in load_catalog(target).resources}
    assert extra == {"a": {FORMULA: "x", "@owner": "-me"}, "b": {FORMULA: None, "@owner": None}}


def test_an_edit_names_a_guarded_column_by_its_own_text(tmp_path: Path) -> None:
    target = tmp_path / "toolkit.csv"
    target.write_text(
        'id,title,url,"\'=HYPERLINK(""https://evil.example/"")"\n'
        "a,A,https://example.org/a,x\nb,B,https://example.org/b,\n"
    )
    apply_edits(target, [FieldEdit("b", FORMULA, "y")])
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0][3:] == ["'" + FORMULA] and rows[2][3:] == ["y"]  # the column, not a second
    assert load_catalog(target).resources[1].extra == {FORMULA: "y"}


def test_a_column_an_edit_adds_is_guarded(tmp_path: Path) -> None:
    target = tmp_path / "toolkit.csv"
    target.write_text("id,title,url\na,A,https://example.org/a\n")
    apply_edits(target, [FieldEdit("a", "@owner", "me"), FieldEdit("a", "-10 tips", "x")])
    assert target.read_text().splitlines() == [
        "id,title,url,'@owner,'-10 tips",
        "a,A,https://example.org/a,me,x",
    ]
    assert load_catalog(target).resources[0].extra == {"@owner": "me", "-10 tips": "x"}


def test_an_export_header_is_ours_alone(tmp_path: Path) -> None:
    """The export writes its own columns only: a catalog's extra field (named by whoever
    wrote the catalog) never becomes a header cell there."""
    out = io.StringIO()
    row = {"id": "a", "title": "A", "url": "https://example.org/a", "=cmd|' /C calc'!A0": "x"}
    write_export([row], "csv", out)
    header = next(csv.reader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))
    assert tuple(header) == EXPORT_FIELDS
    assert "calc" not in out.getvalue()
