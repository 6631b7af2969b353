"""The report's latest.csv guards its cells by the one rule of every CSV linkhealth writes
(`catalog.csv_guard`), so a curator opening it in a spreadsheet never runs a catalog title
as a formula, and a title that already starts with `'=` reads back as itself."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from sqlalchemy import Engine

from catalog.csv_guard import FORMULA_STARTS, guard, unguard
from catalog.queries import report_data
from reports import build_context
from reports.render import CSV_COLUMNS, csv_cell
from reports.site import write_report
from tests import report_fixtures as fx

#: Titles given to the fixture's resources, by id, as a catalog could hold them.
TITLES = {
    "a-ok-1": "'=1+1",
    "a-ok-2": '=HYPERLINK("http://evil")',
    "a-broken": "''@two apostrophes",
    "b-invalid": "-10 tips",
    "a-moved": "-5",
    "a-suspect": "'quoted'",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("report-csv") / "fixed.db")


@pytest.fixture(scope="module")
def sheet(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """latest.csv as a spreadsheet reads the file: rows of text cells, by resource id."""
    data = report_data(engine)
    for rid, title in TITLES.items():
        data = fx.with_resource(data, rid, title=title)
    out = tmp_path_factory.mktemp("reports")
    files = write_report(build_context(data, now=fx.NOW), out, run_id=None, formats=("csv",))
    assert files.latest_csv == out / "latest.csv"
    data_bytes = (out / "latest.csv").read_bytes()
    # A byte order mark, as Excel's "CSV UTF-8" has: without it Excel reads the code page.
    assert data_bytes.startswith(codecs.BOM_UTF8)
    text = data_bytes.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows and tuple(rows[0]) == CSV_COLUMNS
    return {row["id"]: row for row in rows}


@pytest.mark.parametrize("rid", sorted(TITLES))
def test_a_title_is_written_by_the_catalog_csv_rule(
    sheet: dict[str, dict[str, str]], rid: str
) -> None:
    assert sheet[rid]["title"] == guard(TITLES[rid])


def test_a_title_already_starting_with_an_apostrophe_and_a_formula_reads_back_as_itself(
    sheet: dict[str, dict[str, str]],
) -> None:
    """Written as `'=1+1`, it read back (import-csv, a catalog) as `=1+1`, another title."""
    assert sheet["a-ok-1"]["title"] == "''=1+1"
    assert sheet["a-ok-2"]["title"] == '\'=HYPERLINK("http://evil")'
    assert {rid: unguard(sheet[rid]["title"]) for rid in TITLES} == TITLES


def test_no_cell_of_latest_csv_starts_a_formula(sheet: dict[str, dict[str, str]]) -> None:
    """What a spreadsheet opening the file sees first in each cell; only a number (the
    `-5` title) may start with a minus."""
    for row in sheet.values():
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS) or cell == "-5", (column, cell)


def test_a_number_stays_a_number_as_in_every_csv_we_write(
    sheet: dict[str, dict[str, str]],
) -> None:
    """A spreadsheet reads `-5` as the number it is; an apostrophe would only show."""
    assert sheet["a-moved"]["title"] == "-5"
    assert sheet["b-invalid"]["title"] == "'-10 tips"


def test_the_report_and_the_catalog_guard_are_one_rule() -> None:
    for text in [*TITLES.values(), "", "=x", "'", "@", "\tx"]:
        assert csv_cell(text) == guard(text)
    assert csv_cell(None) == "" and csv_cell(3) == 3
