"""`import-csv` of sheets laid out for people: columns headed as a curator would ("Link",
"Web address", "Summary"), and groups of rows under one merged "Category" cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import LinkhealthError
from catalog.importer import parse_csv
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
