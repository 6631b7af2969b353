"""A field written without a value is found at its key, and its fix is to fill it in.

The toolkit writes `year: null` in each entry without a year. `missing_year` pointed at
the entry's first line saying "add a 'year:'"; a curator who did got "the key 'year' is
written twice" and a catalog that no longer loaded. Every `missing_*` kind is about one
field: written empty (`year:`, `year: null`, `description: ""`, an empty CSV cell), the
finding names its line and `field`; absent (or only merged in with `<<`), the entry's
line, no field, and "add".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import source
from catalog.hygiene import Finding, lint
from catalog.source import load_catalog

MISSING = ("missing_description", "missing_publisher", "missing_type", "missing_year")


def _missing(path: Path) -> dict[tuple[str, str], Finding]:
    return {(f.resource_id, f.code): f for f in lint([load_catalog(path)]) if f.code in MISSING}


@pytest.mark.parametrize(
    "empty",
    ["", " null", " ~", ' ""', " ''"],
    ids=["bare", "null", "tilde", "double-quoted", "single-quoted"],
)
@pytest.mark.parametrize("tag", ["", "!!str "], ids=["libyaml", "ruamel"])
def test_each_field_written_empty_is_found_at_its_key(tmp_path: Path, empty: str, tag: str) -> None:
    year = empty if empty in ("", " null", " ~") else " null"  # a year is no text
    path = tmp_path / "kit.yaml"
    path.write_text(
        "resources:\n"
        "- id: a\n"
        f"  title: {tag}A guide for officers\n"
        "  url: https://example.org/a\n"
        f"  description:{empty}\n"
        f"  publisher:{empty}\n"
        f"  type:{empty}\n"
        f"  year:{year}\n"
    )
    written = path.read_text().splitlines()
    # a tag is for the precise (ruamel) reader: both readers must note the empty fields
    assert (source._fast_catalog(path, path.read_bytes()) is None) == bool(tag)
    found = _missing(path)
    assert set(found) == {("a", code) for code in MISSING}
    for code in MISSING:
        name = code.removeprefix("missing_")
        f = found["a", code]
        assert f.field == name and f.line is not None
        assert written[f.line - 1].lstrip().startswith(f"{name}:"), (code, f.line)
        assert f.fix.startswith("fill in the entry's empty"), f.fix
        assert "add" not in f.fix


def test_fields_left_out_stay_at_the_entry_saying_add(tmp_path: Path) -> None:
    path = tmp_path / "kit.yaml"
    path.write_text("resources:\n- id: a\n  title: A guide\n  url: https://example.org/a\n")
    for f in _missing(path).values():
        assert (f.line, f.field) == (2, None)
        assert f.fix.startswith("add "), f.fix


def test_following_the_fix_of_a_null_year_keeps_the_catalog_loading(tmp_path: Path) -> None:
    path = tmp_path / "kit.yaml"
    path.write_text(
        "resources:\n- id: a\n  title: Report 2018\n  url: https://example.org/a\n  year: null\n"
    )
    f = _missing(path)["a", "missing_year"]
    assert (f.line, f.field) == (5, "year")
    assert f.fix == "fill in the entry's empty 'year:' with 2018 if that is when it was published"
    lines = path.read_text().splitlines()
    lines[5 - 1] = "  year: 2018"
    path.write_text("\n".join(lines) + "\n")
    assert ("a", "missing_year") not in _missing(path)


def test_a_null_merged_in_is_not_the_entrys_to_fill(tmp_path: Path) -> None:
    """`<<: *base` gives the entry a `year: null` it does not write: a `year:` added to
    the entry is the fix (it overrides the merged one), at the entry's line."""
    path = tmp_path / "kit.yaml"
    path.write_text(
        "defaults: &base\n  year: null\n  type: guide\n"
        "resources:\n- <<: *base\n  id: a\n  title: A guide\n  url: https://example.org/a\n"
        "  publisher: null\n"
    )
    found = _missing(path)
    year, publisher = found["a", "missing_year"], found["a", "missing_publisher"]
    assert (year.line, year.field, year.fix) == (5, None, "add a 'year:' if it is known")
    assert (publisher.line, publisher.field) == (9, "publisher")


def test_entries_on_one_line_each_name_their_own_key(tmp_path: Path) -> None:
    path = tmp_path / "kit.yaml"
    path.write_text(
        "resources:\n"
        "- {id: a, title: A guide, url: 'https://example.org/a', year: null}\n"
        "- {id: b, title: B guide, url: 'https://example.org/b'}\n"
    )
    found = _missing(path)
    assert (found["a", "missing_year"].line, found["a", "missing_year"].field) == (2, "year")
    assert (found["b", "missing_year"].line, found["b", "missing_year"].field) == (3, None)
    assert found["b", "missing_year"].fix.startswith("add ")


def test_an_empty_csv_cell_is_the_rows_field_to_fill(tmp_path: Path) -> None:
    path = tmp_path / "kit.csv"
    path.write_text("id,title,url,year\na,A guide,https://example.org/a,\n")
    found = _missing(path)
    year, publisher = found["a", "missing_year"], found["a", "missing_publisher"]
    assert (year.line, year.field) == (2, "year")
    assert year.fix.startswith("fill in")
    assert (publisher.line, publisher.field) == (2, None)


def test_a_csv_catalogs_fix_speaks_of_its_cells_and_columns(tmp_path: Path) -> None:
    """A CSV has no `description:` to fill in, nor an entry to add one to: its fix names
    the row's empty cell, or the column the file lacks (review rv-hygiene2)."""
    path = tmp_path / "kit.csv"
    path.write_text(
        "id,title,url,description,year\n"
        "a,FY 2015 Annual Report,https://example.org/a,,\n"
        "b,A guide,https://example.org/b,,\n"
    )
    found = _missing(path)
    fixes = {key: f.fix for key, f in found.items()}
    assert fixes["a", "missing_description"] == "fill in the row's empty 'description' cell"
    assert fixes["a", "missing_publisher"] == (
        "add a 'publisher' column to the file, and fill in the row's cell"
    )
    assert fixes["a", "missing_year"] == (
        "fill in the row's empty 'year' cell with 2015 if that is when it was published"
    )
    assert fixes["b", "missing_year"] == "fill in the row's empty 'year' cell if it is known"
    assert not any(":'" in fix or "entry" in fix for fix in fixes.values()), fixes
    no_year = tmp_path / "other.csv"
    no_year.write_text("id,title,url\nc,FY 2015 Annual Report,https://example.org/c\n")
    assert _missing(no_year)["c", "missing_year"].fix == (
        "add a 'year' column to the file, and write 2015 in the row's cell if that is when "
        "it was published"
    )


def test_a_csv_rows_other_field_fixes_speak_of_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "kit.csv"
    path.write_text(
        "id,title,url,description,publisher,type,year,tags\n"
        'a,2015 Annual Report,https://example.org/a,D,P,report,2017,"training, hotline"\n'
    )
    fixes = {f.code: f.fix for f in lint([load_catalog(path)])}
    assert fixes["year_mismatch"] == "correct the row's 'year' cell (or the title) so they agree"
    assert fixes["comma_in_list"] == "separate them with ';' in the cell: 'training; hotline'"
