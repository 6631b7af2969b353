"""`import-csv` of sheets laid out for people: columns headed as a curator would ("Link",
"Web address", "Summary"), and groups of rows under one merged "Category" cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import LinkhealthError
from catalog.importer import parse_csv
from catalog.source import load_catalog
from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "header",
    [
        "Link",
        "Links",
        "Web address",
        "Website",
        "Web link",
        "Hyperlink",
        "URL address",
        "Resource link",
        "  WEB   ADDRESS ",
        "web_address:",
        "Web-site",
    ],
)
def test_a_url_column_headed_as_a_person_would_is_the_url(header: str) -> None:
    (entry,) = parse_csv(f"Title,{header}\nHotline,https://example.org/h\n").entries
    assert (entry.title, entry.url, dict(entry.fields)) == (
        "Hotline",
        "https://example.org/h",
        {},
    )


@pytest.mark.parametrize("title", ["Resource", "Resource name", "Name", "resource title"])
@pytest.mark.parametrize("description", ["Summary", "Abstract", "Description"])
def test_title_and_description_columns_headed_otherwise_are_read(
    title: str, description: str
) -> None:
    (entry,) = parse_csv(
        f"{title},Link,{description}\nHotline,https://example.org/h,Call 24/7.\n"
    ).entries
    assert (entry.title, entry.description, dict(entry.fields)) == ("Hotline", "Call 24/7.", {})


def test_a_column_headed_with_the_fields_own_name_wins_over_another_name() -> None:
    """ "URL" is the resource's address; "Website" beside it is kept as a field."""
    (entry,) = parse_csv(
        "Name,Title,URL,Website\nAna,Hotline,https://example.org/h,https://org.example/\n"
    ).entries
    assert (entry.title, entry.url) == ("Hotline", "https://example.org/h")
    assert dict(entry.fields) == {"Name": "Ana", "Website": "https://org.example/"}


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("Title,Link,Website", "columns B ('Link') and C ('Website') could each be the url"),
        ("Resource,Name,Link", "columns A ('Resource') and B ('Name') could each be the title"),
        ("Title,Link,Summary,Abstract", "C ('Summary') and D ('Abstract') could each be"),
    ],
)
def test_two_columns_that_could_each_be_a_field_are_refused_by_name(header: str, says: str) -> None:
    row = ",".join(["x", "https://example.org/a", "y", "z"][: header.count(",") + 1])
    with pytest.raises(LinkhealthError) as caught:
        parse_csv(f"{header}\n{row}\n", source="sheet.csv")
    message = str(caught.value)
    assert message.startswith("sheet.csv: row 1: "), message
    assert says in message and "nothing was imported" in message


def test_cli_refuses_a_sheet_with_two_possible_url_columns_and_writes_nothing(
    isolated_cwd: Path,
) -> None:
    (isolated_cwd / "sheet.csv").write_text(
        "Resource name,Web link,Hyperlink\nHotline,https://a.example/,https://b.example/\n"
    )
    result = runner.invoke(app, ["catalog", "import-csv", "sheet.csv", "--into", "out.yaml"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: sheet.csv: row 1: columns B ('Web link') and C "), (
        result.stderr
    )
    assert not (isolated_cwd / "out.yaml").exists()


#: Rows grouped under merged "Category" cells, as a spreadsheet exports them: the value in
#: each group's first row only.
MERGED = (
    "Category,Title,URL,Description,Year\n"
    "Prevention,A,https://example.org/a,About A.,2019\n"
    ",B,https://example.org/b,,\n"
    ",C,https://example.org/c,,\n"
    "Protection,D,https://example.org/d,,2020\n"
    ",E,https://example.org/e,,\n"
)


def test_merged_grouping_cells_are_filled_down_and_the_import_says_so() -> None:
    parsed = parse_csv(MERGED, source="sheet.csv")
    assert [(e.title, e.fields.get("Category")) for e in parsed.entries] == [
        ("A", "Prevention"),
        ("B", "Prevention"),
        ("C", "Prevention"),
        ("D", "Protection"),
        ("E", "Protection"),
    ]
    # A row's own fields are never taken from the row above.
    assert [(e.description, e.fields.get("year")) for e in parsed.entries] == [
        ("About A.", 2019),
        (None, None),
        (None, None),
        (None, 2020),
        (None, None),
    ]
    (note,) = parsed.notes
    assert note.startswith(
        "filled down 3 empty 'Category' cells from the row above (rows 3-4, 6, column A)"
    ), note
    assert "--no-fill-down" in note


def test_fill_down_can_be_turned_off() -> None:
    parsed = parse_csv(MERGED, fill_down=False)
    assert [e.fields.get("Category") for e in parsed.entries] == [
        "Prevention",
        None,
        None,
        "Protection",
        None,
    ]
    assert parsed.notes == ()


def test_a_blank_row_ends_a_group() -> None:
    sheet = MERGED + "\n,F,https://example.org/f,,\n"
    parsed = parse_csv(sheet)
    assert parsed.entries[-1].fields.get("Category") is None
    assert "filled down 3 empty" in parsed.notes[0]


@pytest.mark.parametrize(
    ("publishers", "why"),
    [
        (["DOJ", "DOJ", "", "HHS"], "a value written out on each row"),
        (["DOJ", "HHS", "", "UNODC", "IOM"], "one empty cell among distinct values"),
        (["", "DOJ", "", "HHS", ""], "the first row has none"),
    ],
)
def test_a_column_not_laid_out_as_merged_cells_keeps_its_empty_cells(
    publishers: list[str], why: str
) -> None:
    """A publisher left empty because it is unknown must not be taken from another row."""
    rows = "".join(f"T{n},https://example.org/{n},{p}\n" for n, p in enumerate(publishers))
    parsed = parse_csv("Title,URL,Publisher\n" + rows)
    assert [e.fields.get("publisher") for e in parsed.entries] == [p or None for p in publishers]
    assert parsed.notes == (), why


def test_cli_import_fills_merged_cells_says_where_and_can_be_told_not_to(
    isolated_cwd: Path,
) -> None:
    (isolated_cwd / "sheet.csv").write_text(MERGED)
    result = runner.invoke(app, ["catalog", "import-csv", "sheet.csv", "--into", "out.yaml"])
    assert result.exit_code == 0, result.output
    assert "filled down 3 empty 'Category' cells from the row above" in result.stdout
    entries = {r.title: r.extra.get("Category") for r in load_catalog("out.yaml").resources}
    assert entries == dict(zip("ABCDE", ["Prevention"] * 3 + ["Protection"] * 2, strict=True))

    off = runner.invoke(
        app, ["catalog", "import-csv", "sheet.csv", "--into", "off.yaml", "--no-fill-down"]
    )
    assert off.exit_code == 0, off.output
    assert "filled down" not in off.output
    entries = {r.title: r.extra.get("Category") for r in load_catalog("off.yaml").resources}
    assert entries == {"A": "Prevention", "B": None, "C": None, "D": "Protection", "E": None}
