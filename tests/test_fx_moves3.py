"""Fixes after test_rv_moves3: what marks a reports folder for `report --out` (README's
`linkhealth report` row: a `.linkhealth-database` file), and a partial removal said in
words by `linkhealth resource`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from reports.publish import LOCK_FILE, OWNER_FILE, SHOWN_FILE

runner = CliRunner()


@pytest.mark.parametrize("marker", [SHOWN_FILE, LOCK_FILE, ".linkhealth-notes"])
def test_a_dot_file_other_than_the_database_file_makes_no_reports_folder(
    toolkit_synced: Path, marker: str
) -> None:
    """Someone's site with a `.linkhealth-shown.json` copied into it (or another
    `.linkhealth-*` file) is still someone's site: README names `.linkhealth-database`."""
    site = toolkit_synced / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>Our site</h1>\n", encoding="utf-8")
    (site / marker).write_text("{}\n", encoding="utf-8")

    result = runner.invoke(app, ["report", "--out", "site"])

    assert result.exit_code == 2, result.output
    assert (site / "index.html").read_text(encoding="utf-8") == "<h1>Our site</h1>\n"


def test_a_folder_with_the_database_file_is_a_reports_folder(toolkit_synced: Path) -> None:
    """A report's folder with a file of the curators' beside it is still the report's."""
    site = toolkit_synced / "site"
    assert runner.invoke(app, ["report", "--out", "site"]).exit_code == 0
    (site / "notes.txt").write_text("kept\n", encoding="utf-8")
    assert (site / OWNER_FILE).is_file()

    result = runner.invoke(app, ["report", "--out", "site"])

    assert result.exit_code == 0, result.output
