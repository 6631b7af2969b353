"""Every edit a catalog refuses is told at once, and nothing is written: an import whose
sheet fills entries that YAML merge keys tie to others lists each refused row (where it is
in the sheet, the line of the catalog at fault, why), instead of stopping at the first, so
that the curator fixes them all and imports once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.catalog_edit import EditsRefused, FieldEdit, apply_edits
from catalog.errors import CatalogError
from catalog.importer import FillsRefused, import_entries, parse_csv
from flows.cli import app

CATALOG = """\
collection:
  title: T
resources:
- &course
  id: course-2023
  title: Course, 2023 edition
  url: https://a.example/2023
  type: training course
- <<: *course
  id: course-2024
  title: Course, 2024 edition
  url: https://a.example/2024
- id: plain
  title: Plain
  url: https://c.example/
- &guide
  id: guide-2023
  title: Guide, 2023 edition
  url: https://b.example/2023
- <<: *guide
  id: guide-2024
  title: Guide, 2024 edition
  url: https://b.example/2024
"""
#: The lines of the entries that build on the others (what a refusal points at).
COURSE_2024, GUIDE_2024 = 9, 20
SHEET = """\
title,url,description,publisher
"Course, 2023 edition",https://a.example/2023,About the course,Acme
Plain,https://c.example/,About plain,
"Guide, 2023 edition",https://b.example/2023,About the guide,
"""


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "cat.yaml"
    path.write_text(CATALOG)
    return path


def test_an_import_lists_every_row_whose_fill_is_refused_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = _catalog(tmp_path)

    with pytest.raises(FillsRefused) as caught:
        import_entries(path, parse_csv(SHEET, source="sheet.csv"))

    refused = caught.value
    assert [(r.origin, r.resource_id, r.field) for r in refused.refused] == [
        ("row 2", "course-2023", "description"),
        ("row 2", "course-2023", "publisher"),
        ("row 4", "guide-2023", "description"),
    ]
    assert [(p.file, p.line, p.field) for p in refused.problems] == [
        (str(path), COURSE_2024, "description"),
        (str(path), COURSE_2024, "publisher"),
        (str(path), GUIDE_2024, "description"),
    ]
    assert isinstance(refused, CatalogError) and refused.exit_code == 5
    assert path.read_text() == CATALOG  # row 3's fill, which the catalog takes, waits too


def test_the_import_command_names_each_refused_row_of_the_sheet(tmp_path: Path) -> None:
    path = _catalog(tmp_path)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(SHEET)

    result = CliRunner().invoke(app, ["catalog", "import-csv", str(sheet), "--into", str(path)])

    assert result.exit_code == 5, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {sheet}: ") and "nothing was written" in lines[0]
    assert [line.split(": ")[:3] for line in lines[1:]] == [
        ["  row 2 'Course, 2023 edition' (course-2023)", f"{path}:{COURSE_2024}", "description"],
        ["  row 2 'Course, 2023 edition' (course-2023)", f"{path}:{COURSE_2024}", "publisher"],
        ["  row 4 'Guide, 2023 edition' (guide-2023)", f"{path}:{GUIDE_2024}", "description"],
    ]
    assert path.read_text() == CATALOG


PLAIN = {
    ".yaml": "collection:\n  title: T\nresources:\n"
    + "".join(f"- id: {i}\n  title: {i.upper()}\n  url: https://{i}.example/\n" for i in "abc"),
    ".csv": "id,title,url\n" + "".join(f"{i},{i.upper()},https://{i}.example/\n" for i in "abc"),
}


@pytest.mark.parametrize(
    ("suffix", "text"),
    [(".yaml", PLAIN[".yaml"]), (".yaml", CATALOG), (".csv", PLAIN[".csv"])],
    ids=["yaml-entries-alone", "yaml-whole-file", "csv"],
)
def test_an_edit_refused_does_not_hide_the_next_one_refused(
    tmp_path: Path, suffix: str, text: str
) -> None:
    """The edits go on past a refused one, whichever way the file is edited (each entry in
    an excerpt of its own, the YAML file whole, a CSV file), and none is written."""
    path = tmp_path / f"cat{suffix}"
    path.write_text(text)
    first = "plain" if text is CATALOG else "a"
    edits = [
        FieldEdit(first, "", "a field without a name"),
        FieldEdit(first, "notes", "taken"),
        FieldEdit(first, "notes", object()),  # a value no catalog can hold
    ]

    with pytest.raises(EditsRefused) as caught:
        apply_edits(path, edits)

    assert [r.edit for r in caught.value.refusals] == [edits[0], edits[2]]
    assert [(p.code, p.field) for p in caught.value.problems] == [
        ("bad_structure", None),
        ("wrong_type", "notes"),
    ]
    assert path.read_text() == text
