"""A sheet's rows matched to catalog entries that share a title ("Fact Sheet"): each row
fills the entry at its own URL, whatever order the sheet lists them in."""

from __future__ import annotations

from pathlib import Path

from catalog.importer import import_entries, parse_csv
from catalog.source import load_catalog

CATALOG = (
    "collection:\n  title: T\nresources:\n"
    "- id: dhs-fact-sheet\n  title: Fact Sheet\n  url: https://www.dhs.gov/fact-sheet\n"
    "- id: hhs-fact-sheet\n  title: Fact Sheet\n  url: https://www.acf.hhs.gov/fact-sheet\n"
    "- id: doj-fact-sheet\n  title: Fact Sheet\n  url: https://www.justice.gov/fact-sheet\n"
)


def test_rows_with_one_title_fill_the_entries_at_their_urls(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_text(CATALOG)
    sheet = (
        "title,url,publisher\n"
        "Fact Sheet,https://www.acf.hhs.gov/fact-sheet,HHS\n"
        "Fact Sheet,https://WWW.JUSTICE.gov/fact-sheet,DOJ\n"  # the same page, spelt otherwise
        "Fact Sheet,https://www.dhs.gov/fact-sheet,DHS\n"
    )

    result = import_entries(path, parse_csv(sheet, source="sheet.csv"))

    got = {r.id: r.fields_dict()["publisher"] for r in load_catalog(path).resources}
    assert got == {"dhs-fact-sheet": "DHS", "hhs-fact-sheet": "HHS", "doj-fact-sheet": "DOJ"}
    assert result.differences == ()  # no row's URL is another entry's
