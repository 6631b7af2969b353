"""Fill-down of merged grouping cells only where the column shows groups.

A sheet whose Category column held "Training" in its first row alone gave "Training" to
every later row (the National Hotline too): one value with only empty cells below it is a
value given once as often as a merged cell, and a wrong fill puts a false category on every
resource. A group shows where the next starts, so a column needs two values to be filled.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.importer import parse_csv
from catalog.source import load_catalog
from flows.cli import app

runner = CliRunner()

#: A curator's sheet: only the first resource has a category.
ONE_CATEGORY = (
    "Name,Link,Summary,Category\n"
    "Trafficking 101,https://example.org/t101,Course.,Training\n"
    "National Hotline,https://example.org/hotline,Call 24/7.,\n"
    "Shelter map,https://example.org/map,Beds.,\n"
)


def test_one_value_followed_only_by_empty_cells_is_not_filled_down(isolated_cwd: Path) -> None:
    (isolated_cwd / "sheet.csv").write_text(ONE_CATEGORY)
    result = runner.invoke(app, ["catalog", "import-csv", "sheet.csv", "--into", "out.yaml"])
    assert result.exit_code == 0, result.output
    assert "filled down" not in result.output
    said = " ".join(result.output.split())
    assert "added 3, filled 0 fields in 0 existing entries, 0 matched, 0 skipped, " in said
    assert "0 differences left for a person." in said  # counts read, not "entr(ies)"
    assert "left 2 empty 'Category' cells empty (rows 3-4, column D)" in said
    assert "fill the column in the sheet" in said
    categories = {r.title: r.extra.get("Category") for r in load_catalog("out.yaml").resources}
    assert categories == {
        "Trafficking 101": "Training",
        "National Hotline": None,
        "Shelter map": None,
    }


@pytest.mark.parametrize(
    ("cells", "filled"),
    [
        # The next group starts with another value, even on the last row.
        (["Training", "", "", "Hotlines"], ["Training"] * 3 + ["Hotlines"]),
        # The same value heading two groups is two merged cells.
        (["Training", "", "Training", ""], ["Training"] * 4),
        # Groups set apart by a blank row.
        (["Training", "", None, "Hotlines", ""], ["Training"] * 2 + ["Hotlines"] * 2),
    ],
)
def test_a_column_of_two_groups_is_filled_down(cells: list[str | None], filled: list[str]) -> None:
    rows = "".join(
        "\n" if cell is None else f"T{n},https://example.org/{n},{cell}\n"
        for n, cell in enumerate(cells)
    )
    parsed = parse_csv("Title,URL,Section\n" + rows)
    assert [e.fields.get("Section") for e in parsed.entries] == filled
    assert [n.code for n in parsed.notes] == ["filled_down"]


@pytest.mark.parametrize(
    "cells",
    [
        ["Training", "", ""],
        ["Training", "", "", None, "", ""],  # a second group of no value of its own
        ["Training", ""],
    ],
)
def test_a_single_value_is_never_a_group(cells: list[str | None]) -> None:
    rows = "".join(
        "\n" if cell is None else f"T{n},https://example.org/{n},{cell}\n"
        for n, cell in enumerate(cells)
    )
    parsed = parse_csv("Title,URL,Publisher\n" + rows)
    assert [e.fields.get("publisher") for e in parsed.entries] == [
        c or None for c in cells if c is not None
    ]
    # Left as it is, and said: the curator whose sheet is one merged group fills it there.
    (note,) = parsed.notes
    assert note.code == "not_filled_down"
    assert note.facts["rows"] == [n + 2 for n, cell in enumerate(cells) if cell == ""]


def test_a_grouping_column_keeps_its_header_as_any_other_column_does() -> None:
    """A column of no catalog field's name is a field under its header as written ("State",
    "Category"); one named like a catalog field is that field ("Publisher": publisher)."""
    sheet = (
        "Title,URL,Category,Publisher,State\n"
        "A,https://example.org/a,Housing,DOJ,TX\n"
        "B,https://example.org/b,,,\n"
        "C,https://example.org/c,Food,HHS,\n"
    )
    entries = parse_csv(sheet).entries
    assert [dict(e.fields) for e in entries] == [
        {"Category": "Housing", "publisher": "DOJ", "State": "TX"},
        {"Category": "Housing", "publisher": "DOJ"},
        {"Category": "Food", "publisher": "HHS"},
    ]
