"""`import-csv` of spreadsheets as Excel, Google Sheets and LibreOffice export them: what a
curator sees in the sheet is imported, and what cannot be is refused by file, row and column."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from catalog.errors import LinkhealthError
from catalog.export import EXPORT_FIELDS
from catalog.importer import ImportedEntry, Parsed, import_entries, parse_csv, read_spreadsheet
from catalog.source import load_catalog
from flows.cli import app

runner = CliRunner()

SHEET = (
    "Title,URL,Description\r\n"
    "Human Trafficking \u2013 A Guide,https://example.org/guide,\u201cSmart\u201d caf\u00e9\r\n"
)


def test_an_excel_csv_in_windows_1252_is_refused_at_its_first_accent(tmp_path: Path) -> None:
    """Read with replacement marks, it imported "Human Trafficking \ufffd A Guide"."""
    sheet = tmp_path / "export.csv"
    sheet.write_bytes(SHEET.encode("cp1252"))
    with pytest.raises(LinkhealthError) as caught:
        read_spreadsheet(str(sheet))
    message = str(caught.value)
    assert message.startswith(f"{sheet}: line 2, column 19: the file is not UTF-8 text")
    assert "byte 0x96" in message
    assert "'CSV UTF-8 (Comma delimited)'" in message


def test_cli_import_of_a_windows_1252_csv_writes_nothing(tmp_path: Path) -> None:
    sheet = tmp_path / "export.csv"
    sheet.write_bytes(SHEET.encode("cp1252"))
    into = tmp_path / "out.yaml"
    result = runner.invoke(app, ["catalog", "import-csv", str(sheet), "--into", str(into)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {sheet}: line 2, column 19: "), result.stderr
    assert not into.exists()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (codecs.BOM_UTF8 + SHEET.encode(), "Excel 'CSV UTF-8'"),
        (SHEET.replace(",", "\t").encode("utf-16"), "Excel 'Unicode Text' (UTF-16, tabs)"),
        (codecs.BOM_UTF16_BE + SHEET.encode("utf-16-be"), "UTF-16, big-endian"),
        (SHEET.replace(",", ";").replace("\r\n", "\r").encode(), "';' and lone CR (old Mac)"),
    ],
)
def test_unicode_exports_read_as_the_sheet_shows_them(
    tmp_path: Path, data: bytes, kind: str
) -> None:
    sheet = tmp_path / "export.csv"
    sheet.write_bytes(data)
    (entry,) = parse_csv(read_spreadsheet(str(sheet)), source=kind).entries
    assert (entry.title, entry.description) == (
        "Human Trafficking \u2013 A Guide",
        "\u201cSmart\u201d caf\u00e9",
    ), kind


def test_utf16_without_a_byte_order_mark_is_named(tmp_path: Path) -> None:
    sheet = tmp_path / "export.txt"
    sheet.write_bytes(SHEET.encode("utf-16-le"))
    with pytest.raises(LinkhealthError, match="looks like UTF-16 without a byte order mark"):
        read_spreadsheet(str(sheet))


def test_a_title_row_above_the_header_is_reported_not_refused() -> None:
    parsed = parse_csv(
        "Human Trafficking Resources (exported 2024-05-01),,\n"
        ",,\n"
        "Title,URL,Type\n"
        "A guide,https://example.org/a,guide\n"
        ",,\n"
        "B report,https://example.org/b,\n",
        source="sheet.csv",
    )
    assert [(e.title, e.origin) for e in parsed.entries] == [
        ("A guide", "row 4"),
        ("B report", "row 6"),
    ]
    (above,) = parsed.skipped
    assert above.origin == "row 1"
    assert "above the header row (row 3)" in above.reason


def test_a_header_naming_a_column_twice_is_refused_by_column() -> None:
    """The second 'URL' silently replaced the first: the row got the other column's URL."""
    text = "title,url,notes,URL\nA,https://example.org/a,n,https://example.org/other\n"
    with pytest.raises(LinkhealthError) as caught:
        parse_csv(text, source="sheet.csv")
    assert str(caught.value).startswith(
        "sheet.csv: row 1: the header names 'url' twice (columns B and D)"
    )


def test_a_value_in_a_column_without_a_header_is_refused_by_row_and_column() -> None:
    """Trailing empty columns of a formatted sheet are fine; a value in one was dropped."""
    text = (
        "title,url,type,,\nA,https://example.org/a,guide,,\nB,https://example.org/b,,,call first\n"
    )
    with pytest.raises(LinkhealthError) as caught:
        parse_csv(text, source="sheet.csv")
    assert str(caught.value).startswith("sheet.csv: row 3, column E ('call first'): ")
    assert "the header (row 1) does not name" in str(caught.value)


def test_every_kind_of_refused_cell_is_named_at_once() -> None:
    """Row 7's stray cell was named, row 6's year only on the next import."""
    year_only = "title,url,year\nA,https://example.org/a,around 2019\n"
    assert parse_csv(year_only, source="sheet.csv").refusal == (
        "sheet.csv: row 2, column C ('around 2019'): a year that is not a whole number; "
        "write the year alone (2016), or put the rest in notes, and import again; nothing "
        "was written"
    )
    both = year_only + "B,https://example.org/b,2020,call first\n"
    with pytest.raises(LinkhealthError) as caught:
        parse_csv(both, source="sheet.csv")
    message = str(caught.value)
    assert message.startswith("sheet.csv: row 3, column D ('call first'): ")
    assert "; and row 2, column C ('around 2019'): a year that is not a whole number" in message
    assert message.endswith("; nothing was imported")


def test_line_breaks_typed_into_one_line_fields_are_spaces() -> None:
    (entry,) = parse_csv(
        'title,url,publisher,description\n"Two\nlines ","https://example.org/a","U.S.\nDOJ",'
        '"First.\nSecond."\n'
    ).entries
    assert (entry.title, entry.fields["publisher"]) == ("Two lines", "U.S. DOJ")
    assert entry.description == "First.\nSecond."


@pytest.mark.parametrize(
    "catalog",
    [
        "id,title,url,description\r\nguide-one,Guide One,https://example.org/one,\r\n",
        "id,title,url\r\nguide-one,Guide One,https://example.org/one\r\n",
    ],
    ids=["empty-cell-filled", "column-added"],
)
def test_a_description_typed_on_two_lines_imports_into_a_csv_catalog(
    tmp_path: Path, catalog: str
) -> None:
    """A cell typed with Alt+Enter was written into the CSV catalog unquoted, so its second
    line became a row of its own: the import was refused (exit 5), blaming the catalog for
    a "resource 'Also in Spanish.'" whose "id has spaces"."""
    target = tmp_path / "toolkit.csv"
    target.write_bytes(catalog.encode())
    sheet = (
        "Title;URL;Description\r\n"
        'Guide One;https://example.org/one;"For parents.\nAlso in Spanish."\r\n'
    )

    import_entries(target, parse_csv(sheet, source="sheet.csv"))

    (entry,) = load_catalog(target).resources
    assert entry.description == "For parents.\nAlso in Spanish."


@pytest.mark.parametrize(
    "catalog", [None, "id,title,url,description\nguide-one,Guide One,https://example.org/one,\n"]
)
def test_a_bare_carriage_return_in_a_cell_is_quoted_in_a_new_or_lf_csv_catalog(
    tmp_path: Path, catalog: str | None
) -> None:
    """A writer ending its lines in LF quotes no bare CR: the row written for the entry
    ended at it, and the import was refused for a resource named by its second line."""
    target = tmp_path / "toolkit.csv"
    if catalog is not None:
        target.write_text(catalog)
    sheet = 'Title,URL,Description\r\nGuide Two,https://example.org/two,"For parents.\rAlso."\r\n'

    import_entries(target, parse_csv(sheet, source="sheet.csv"))

    assert load_catalog(target).resources[-1].description == "For parents.\rAlso."


@pytest.mark.parametrize(
    ("cell", "url"),
    [
        ("<https://example.org/a>", "https://example.org/a"),
        ("[The guide](https://example.org/a)", "https://example.org/a"),
        ('=HYPERLINK("https://example.org/a","The guide")', "https://example.org/a"),
        ('=hyperlink("https://example.org/a"; "The guide")', "https://example.org/a"),
        ("\u201chttps://example.org/a\u201d", "https://example.org/a"),
        ("'https://example.org/a'", "https://example.org/a"),
        ("https://example.org/a\u200b", "https://example.org/a"),
        ("www.example.org/a", "https://www.example.org/a"),
    ],
)
def test_an_address_written_the_ways_sheets_hold_them_is_imported(cell: str, url: str) -> None:
    text = 'title,url\nA guide,"' + cell.replace('"', '""') + '"\n'
    (entry,) = parse_csv(text).entries
    assert entry.url == url


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ("tel:+1-888-373-7888", "is a phone number, which cannot be checked as a link"),
        ("1-888-373-7888", "is a phone number"),
        ("mailto:help@example.org", "is an e-mail address"),
        ("help@example.org", "is an e-mail address"),
        ("Click here", "is text, not an address"),
        ("example.org", "has no scheme"),
        ("hxxp://example.org/a", "'hxxp' is not a web address"),
        ("https://exa mple.org/a", "is not a valid domain name"),
        ("https://example.org/a https://example.org/b", "holds 2 addresses; give each"),
    ],
)
def test_a_row_whose_url_cannot_be_checked_is_skipped_saying_why(cell: str, says: str) -> None:
    parsed = parse_csv(f"title,url\nHotline,{cell}\nGuide,https://example.org/g\n")
    (skipped,) = parsed.skipped
    assert (skipped.origin, skipped.title) == ("row 2", "Hotline")
    assert says in skipped.reason


def test_a_row_whose_url_holds_a_space_is_imported_as_browsers_send_it() -> None:
    """A sheet's "Annual Report 2019.pdf" was skipped as unusable, though browsers open it
    (they send %20); it comes in written so."""
    cell = "https://example.org/files/Annual Report 2019.pdf?q=a|b"
    parsed = parse_csv(f"title,url\nAnnual report,{cell}\n")
    assert parsed.skipped == ()
    (entry,) = parsed.entries
    assert entry.url == "https://example.org/files/Annual%20Report%202019.pdf?q=a%7Cb"


def test_a_sheet_reimported_after_edits_keeps_ids_and_reports_what_it_did_not_take(
    tmp_path: Path,
) -> None:
    """A row of an id column whose title and URL were both edited was added again under
    another id; a title edited alone was dropped without a word."""
    target = tmp_path / "mine.yaml"
    first = "id,title,url\nguide-a,Guide A,https://example.org/a\nreport-b,Report B,https://example.org/b\n"
    import_entries(target, parse_csv(first, source="sheet.csv"))
    edited = (
        "id,title,url,publisher\n"
        "guide-a,Guide A (2nd edition),https://example.org/a2,DOJ\n"
        "report-b,Report B revised,https://example.org/b,\n"
    )
    result = import_entries(target, parse_csv(edited, source="sheet.csv"))
    assert result.added == ()
    assert result.matched == ("guide-a", "report-b")
    assert [(d.resource_id, d.field, d.source) for d in result.differences] == [
        ("guide-a", "title", "Guide A (2nd edition)"),
        ("guide-a", "url", "https://example.org/a2"),
        ("report-b", "title", "Report B revised"),
    ]
    by_id = {r.id: r for r in load_catalog(target).resources}
    assert set(by_id) == {"guide-a", "report-b"}
    assert (by_id["guide-a"].title, by_id["guide-a"].publisher) == ("Guide A", "DOJ")
    again = import_entries(target, parse_csv(edited, source="sheet.csv"))
    assert not again.changed  # importing the same sheet twice changes nothing more


def test_a_hotline_listed_by_its_web_page_imports_beside_its_number(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    result = import_entries(
        target,
        parse_csv(
            "title,url,notes\n"
            "National Human Trafficking Hotline,humantraffickinghotline.org,\n"
            "National Human Trafficking Hotline,https://humantraffickinghotline.org/,"
            "Phone 1-888-373-7888\n",
            source="sheet.csv",
        ),
    )
    assert result.added == ("national-human-trafficking-hotline",)
    assert "has no scheme" in result.skipped[0].reason
    assert load_catalog(target).resources[0].notes == "Phone 1-888-373-7888"


def test_a_resource_listed_twice_in_a_sheet_is_one_entry(tmp_path: Path) -> None:
    """Listed under two sections, it was added twice (a-guide, a-guide-2): a duplicate_url
    error in lint, and two entries to keep apart ever after."""
    parsed = parse_csv(
        "title,url,tags,publisher,type\n"
        "A guide,https://example.org/a,law enforcement,,guide\n"
        "Other,https://example.org/o,,,\n"
        "A Guide,HTTPS://EXAMPLE.ORG/a#top,victims; law enforcement,DOJ,toolkit\n",
        source="sheet.csv",
    )
    first, other = parsed.entries
    assert (first.origin, other.title) == ("row 2", "Other")
    assert first.fields == {
        "tags": ["law enforcement", "victims"],
        "type": "guide",
        "publisher": "DOJ",
    }
    (again,) = parsed.skipped
    assert again.origin == "row 4"
    assert "the same title and address as row 2" in again.reason
    assert "its type differs; kept row 2's" in again.reason
    result = import_entries(tmp_path / "mine.yaml", parsed)
    assert result.added == ("a-guide", "other")


def test_rows_of_one_title_and_address_with_two_ids_stay_two_entries() -> None:
    parsed = parse_csv(
        "id,title,url\nen,Fact sheet,https://example.org/f\nes,Fact sheet,https://example.org/f\n"
    )
    assert [e.preferred_id for e in parsed.entries] == ["en", "es"]


def test_entries_a_catalog_would_refuse_are_still_refused_before_writing(tmp_path: Path) -> None:
    """The catalog's own validation stays the last guard, for entries from any source."""
    entry = ImportedEntry("A", "https://example.org/a", fields={"year": "circa 2019"})
    with pytest.raises(LinkhealthError, match="nothing was written") as caught:
        import_entries(tmp_path / "new.yaml", Parsed((entry,), source="page.html"))
    assert str(caught.value).startswith("page.html: its entries would make")
    assert not (tmp_path / "new.yaml").exists()


def test_a_year_as_a_sheet_formats_numbers_is_the_year() -> None:
    parsed = parse_csv(
        'title,url,year\nA,https://example.org/a,2019.0\nB,https://example.org/b,"2,019"\n'
        "C,https://example.org/c,2019\n"
    )
    assert [e.fields["year"] for e in parsed.entries] == [2019, 2019, 2019]


@pytest.mark.parametrize("cell", ["c. 2015", "2015\u00b2"])
def test_a_year_cell_holding_more_than_a_year_is_refused_by_row_and_column(
    tmp_path: Path, cell: str
) -> None:
    """It was refused naming lines of the YAML the import would have written (or, for a
    superscript digit, crashed), not the sheet's row."""
    parsed = parse_csv(
        f"title,url,year\nA,https://example.org/a,2019\nB,https://example.org/b,{cell}\n",
        source="sheet.csv",
    )
    with pytest.raises(LinkhealthError) as caught:
        import_entries(tmp_path / "new.yaml", parsed)
    assert str(caught.value).startswith(f"sheet.csv: row 3, column C ({cell!r}): a year that")
    assert not (tmp_path / "new.yaml").exists()


@pytest.mark.parametrize("magic", [b"PK\x03\x04\x14\x00\x06\x00", b"\xd0\xcf\x11\xe0\xa1\xb1"])
def test_a_workbook_given_for_a_csv_is_named_as_one(tmp_path: Path, magic: bytes) -> None:
    """It was refused as 'not UTF-8 text' at some byte of the zip."""
    book = tmp_path / "toolkit.xlsx"
    book.write_bytes(magic + bytes(range(256)))
    with pytest.raises(LinkhealthError, match=r"toolkit\.xlsx: this is a workbook"):
        read_spreadsheet(str(book))


def test_a_sheet_address_answering_with_a_web_page_is_named(tmp_path: Path) -> None:
    """A sheet not shared publicly answers with its sign-in page, which was read as a CSV
    whose header was '<!DOCTYPE html>'."""
    url = "https://sheets.example.org/d/1/export?format=csv"
    with respx.mock:
        respx.get(url).mock(
            return_value=httpx.Response(200, html="<!DOCTYPE html><title>Sign in</title>")
        )
        with pytest.raises(LinkhealthError, match="answered with a web page, not a CSV"):
            read_spreadsheet(url)


def test_a_csv_address_is_read_in_the_charset_it_declares() -> None:
    url = "https://sheets.example.org/d/1/export?format=csv"
    with respx.mock:
        respx.get(url).mock(
            return_value=httpx.Response(
                200,
                content=SHEET.encode("cp1252"),
                headers={"content-type": "text/csv; charset=windows-1252"},
            )
        )
        (entry,) = parse_csv(read_spreadsheet(url)).entries
    assert entry.title == "Human Trafficking \u2013 A Guide"


def test_an_edited_export_imported_back_brings_no_check_results_into_the_catalog(
    tmp_path: Path,
) -> None:
    """`linkhealth export --format csv`, given descriptions in a sheet and imported back,
    wrote outcome, state, http_status, checked_at, ... into every entry as fields."""
    target = tmp_path / "toolkit.yaml"
    target.write_text(
        "resources:\n- id: a\n  title: -30 days guide\n  url: https://example.org/a\n"
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*EXPORT_FIELDS, "description"])
    writer.writeheader()
    row = dict.fromkeys(EXPORT_FIELDS, "")
    row.update(
        collection="toolkit",
        id="a",
        title="'-30 days guide",  # the export's guard against a formula
        url="https://example.org/a",
        outcome="ok",
        state="working",
        http_status="200",
        checked_at="2026-01-02T03:04:05Z",
        stale="false",
        ignored="false",
        description="Written in the sheet.",
    )
    writer.writerow(row)
    parsed = parse_csv(out.getvalue(), source="links.csv")
    result = import_entries(target, parsed)
    assert [(e.resource_id, e.field) for e in result.filled] == [("a", "description")]
    assert result.differences == ()
    (entry,) = load_catalog(target).resources
    assert entry.description == "Written in the sheet."
    assert entry.extra == {}
    assert parsed.skipped == ()  # the check results are columns left out, not a row
    (note,) = parsed.notes
    assert "check results (an export)" in note and "outcome, state" in note
