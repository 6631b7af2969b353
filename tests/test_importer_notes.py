"""`import-csv --json` states what the summary tells a person: the notes (columns read under
another name, cells filled down from a merged cell) and what was skipped, each with a code
and its facts apart, so a script need not read the sentences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog.importer import Note, parse_csv
from flows.cli import app

runner = CliRunner()

#: A sheet as a curator's Excel saves it: a title row, columns headed for people, a merged
#: "Category" cell, a resource listed twice and a phone number for a link.
SHEET = (
    "Anti-trafficking toolkit,,,\r\n"
    "\r\n"
    "Category,Name,Link,Summary\r\n"
    "Housing,Shelter guide,https://example.org/a,Beds.\r\n"
    ",Hotline,https://example.org/b,\r\n"
    "Food,Pantry list,www.example.org/c,\r\n"
    ",Pantry list,www.example.org/c,Food banks.\r\n"
    ",Call us,+1 555 123 4567,\r\n"
)


def _import(folder: Path, *extra: str) -> tuple[dict[str, Any], str]:
    (folder / "sheet.csv").write_text(SHEET, newline="")
    args = ["catalog", "import-csv", "sheet.csv", "--into", "out.yaml", *extra]
    as_json = runner.invoke(app, [*args, "--dry-run", "--json"])
    assert as_json.exit_code == 0, as_json.output
    for_people = runner.invoke(app, args)
    assert for_people.exit_code == 0, for_people.output
    return json.loads(as_json.stdout), for_people.output


def test_import_csv_json_has_the_notes_the_summary_prints(isolated_cwd: Path) -> None:
    data, summary = _import(isolated_cwd)
    assert data["source"] == "sheet.csv"
    assert [(n["code"], n["column"], n["field"]) for n in data["notes"]] == [
        ("column_read_as", "B", "title"),
        ("column_read_as", "C", "url"),
        ("column_read_as", "D", "description"),
        ("filled_down", "A", "Category"),
    ]
    assert data["notes"][1]["header"] == "Link"
    assert data["notes"][3]["rows"] == [5, 7, 8]
    for note in data["notes"]:
        assert note["message"] in summary


def test_import_csv_json_tells_a_merged_duplicate_from_a_refused_row(isolated_cwd: Path) -> None:
    """A row merged into its first row loses nothing; a row refused is not imported."""
    data, summary = _import(isolated_cwd)
    codes = [(s["origin"], s["code"]) for s in data["skipped"]]
    assert codes == [
        ("row 1", "above_header"),
        ("row 7", "merged_duplicate"),
        ("row 8", "unusable_url"),
    ]
    for skipped in data["skipped"]:
        assert skipped["reason"] in summary
    assert len(data["added"]) == 3


def test_without_fill_down_there_is_no_fill_note(isolated_cwd: Path) -> None:
    data, summary = _import(isolated_cwd, "--no-fill-down")
    assert [n["code"] for n in data["notes"]] == ["column_read_as"] * 3
    assert "filled down" not in summary


def test_a_sheet_headed_with_the_fields_own_names_has_no_notes(isolated_cwd: Path) -> None:
    (isolated_cwd / "plain.csv").write_text("title,url\nHotline,https://example.org/h\n")
    result = runner.invoke(
        app, ["catalog", "import-csv", "plain.csv", "--into", "out.yaml", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["notes"] == [] and data["skipped"] == []


@pytest.mark.parametrize("header", ["Website", "Web address:"])
def test_a_note_is_its_sentence_with_its_facts(header: str) -> None:
    (note,) = parse_csv(f"Title,{header}\nHotline,https://example.org/h\n").notes
    assert isinstance(note, Note) and note == f"read column B ({header!r}) as the url"
    assert note.to_dict() == {
        "code": "column_read_as",
        "column": "B",
        "header": header,
        "field": "url",
        "message": str(note),
    }


def test_import_html_json_has_the_same_shape(isolated_cwd: Path) -> None:
    page = Path(__file__).parent / "data" / "import" / "odd-markup.html"
    args = ["catalog", "import-html", str(page), "--into", "odd.yaml", "--dry-run", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["notes"] == [] and data["source"] == str(page)
    assert data["skipped"] and all(s["code"] == "unusable_url" for s in data["skipped"])
