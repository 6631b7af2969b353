"""What `catalog import-html` and `import-csv` do with ids and existing entries, and that
their --help says so: import-html's said only "same title or same URL", and import-csv's
"same rules as import-html", while an `id` column is what a CSV's rows match first."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from catalog.importer import import_entries, parse_csv
from catalog.source import load_catalog
from flows.cli import app

runner = CliRunner()

CATALOG = """\
collection:
  title: T
resources:
  - id: hotline
    title: National Hotline
    url: https://example.org/hotline
  - id: guide
    title: Old Guide Name
    url: https://example.org/guide
  - id: national-hotline-report
    title: Something else
    url: https://example.org/other
"""

#: A block's `id` attribute is no catalog id; the third title makes an id the catalog uses.
PAGE = """\
<html><body><h1>Toolkit</h1><ul>
<li id="guide"><a href="https://example.org/hotline-new">National Hotline</a> A phone line.</li>
<li><a href="https://example.org/guide">New Guide Name</a> The guide, renamed.</li>
<li><a href="https://example.org/report">National Hotline Report</a> A yearly report.</li>
</ul></body></html>
"""


def _help(command: str) -> str:
    result = runner.invoke(app, ["catalog", command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    return " ".join(result.stdout.split())


def test_import_html_matches_by_title_then_url_never_by_id(isolated_cwd: Path) -> None:
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    (isolated_cwd / "page.html").write_text(PAGE)
    result = runner.invoke(
        app, ["catalog", "import-html", "page.html", "--into", "c.yaml", "--json"]
    )
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["matched"] == ["hotline", "guide"]  # by title, then by URL
    assert done["added"] == ["national-hotline-report-2"]
    assert {(d["resource_id"], d["field"]) for d in done["differences"]} == {
        ("hotline", "url"),
        ("guide", "title"),
    }
    kept = {r.id: r for r in load_catalog(isolated_cwd / "c.yaml").resources}
    assert kept["national-hotline-report"].title == "Something else"
    assert kept["guide"].description == "The guide, renamed."
    said = _help("import-html")
    assert "(same title, else same URL; ids are not compared: a page has none)" in said
    assert "ids made from their titles, with -2, -3, ... when the catalog already uses" in said


def test_import_csv_matches_a_row_by_its_id_first(isolated_cwd: Path) -> None:
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    (isolated_cwd / "s.csv").write_text(
        "id,title,url,description\n"
        "guide,Renamed Guide,https://example.org/guide-moved,Edited in the sheet.\n"
        "fresh,A New One,https://example.org/new,New.\n"
    )
    result = runner.invoke(app, ["catalog", "import-csv", "s.csv", "--into", "c.yaml", "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["matched"] == ["guide"]
    assert done["added"] == ["fresh"]
    said = _help("import-csv")
    assert "a row whose `id` column names an entry is that entry, title and URL edited" in said
    assert "a new row keeps its id when it is free" in said


def test_a_sheet_giving_two_resources_one_id_says_which_row_lost_it(tmp_path: Path) -> None:
    """Rows 2 and 3 both say `new-x` (a row copied and edited, its id left): row 3 was
    added under an id made from its title without a word, its id cell dropped."""
    target = tmp_path / "toolkit.yaml"
    target.write_text(CATALOG)
    sheet = (
        "id,Title,URL\r\n"
        "new-x,Alpha,https://example.org/alpha\r\n"
        "new-x,Beta,https://example.org/beta\r\n"
        "guide,Old Guide Name,https://example.org/guide\r\n"
        "guide,Guide Two,https://example.org/guide-two\r\n"
    )

    result = import_entries(target, parse_csv(sheet, source="sheet.csv"), dry_run=True)

    assert result.added == ("new-x", "beta", "guide-two")
    assert [(n.code, n.facts) for n in result.notes if n.code == "id_taken"] == [
        ("id_taken", {"id": "beta", "given": "new-x", "origin": "row 3", "of": "row 2"}),
        ("id_taken", {"id": "guide-two", "given": "guide", "origin": "row 5", "of": "row 4"}),
    ]
    told = next(n for n in result.notes if n.code == "id_taken")
    assert told.startswith("row 3 ('Beta') gives the id new-x, which row 2 ('Alpha') has: added")
