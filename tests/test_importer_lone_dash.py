"""`catalog import-csv` / `import-html` into a YAML catalog whose entries start with a dash
alone on its line: ruamel's indentation guess crashed on it with an IndexError traceback
(the importer guessed the indent itself instead of through `catalog_edit.guess_indent`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.importer import ImportedEntry, import_entries
from catalog.source import load_catalog
from flows.cli import app
from tests.test_catalog_edit_lone_dash import LONE_DASH

runner = CliRunner()


def test_import_csv_into_a_catalog_whose_first_entry_is_a_lone_dash(isolated_cwd: Path) -> None:
    (isolated_cwd / "cat.yaml").write_text(
        "resources:\n-\n  id: a\n  title: A\n  url: http://a.example/\n"
    )
    (isolated_cwd / "new.csv").write_text("title,url\nB,http://b.example/\n")
    result = runner.invoke(app, ["catalog", "import-csv", "new.csv", "--into", "cat.yaml"])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.stdout
    assert (isolated_cwd / "cat.yaml").read_text() == (
        "resources:\n-\n  id: a\n  title: A\n  url: http://a.example/\n"
        "- id: b\n  title: B\n  url: http://b.example/\n"
    )


@pytest.mark.parametrize("text", LONE_DASH.values(), ids=LONE_DASH.keys())
def test_entries_are_appended_after_lone_dash_entries(tmp_path: Path, text: str) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_bytes(text.encode())
    before = {r.id for r in load_catalog(path).resources}
    result = import_entries(path, [ImportedEntry("New one", "https://example.org/new")])
    assert result.added == ("new-one",)
    assert [r.id for r in load_catalog(path).resources] == [*sorted(before), "new-one"]
    assert path.read_bytes().startswith(text.encode())  # the entries above kept byte for byte


def test_a_comment_indented_into_a_lone_dash_entry_stays_with_it(tmp_path: Path) -> None:
    """The dash, not the entry's first key, is the entry's column: a comment indented
    deeper than the dash belongs to the entry above and stays above the new one."""
    path = tmp_path / "toolkit.yaml"
    path.write_text(
        "resources:\n  -\n    id: a\n    title: A\n    url: http://a.example/\n"
        "    # about a\n# after the list\nnotes: x\n"
    )
    import_entries(path, [ImportedEntry("B", "http://b.example/")])
    assert path.read_text() == (
        "resources:\n  -\n    id: a\n    title: A\n    url: http://a.example/\n"
        "    # about a\n  - id: b\n    title: B\n    url: http://b.example/\n"
        "# after the list\nnotes: x\n"
    )
