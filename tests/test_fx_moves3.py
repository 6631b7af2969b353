"""Fixes after test_rv_moves3: what marks a reports folder for `report --out` (README's
`linkhealth report` row: a `.linkhealth-database` file), and a partial removal said in
words by `linkhealth resource`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.queries import report_data
from flows.cli import app
from reports import build_context, render_markdown
from reports.publish import LOCK_FILE, OWNER_FILE, SHOWN_FILE
from tests import report_fixtures as fx
from tests.test_rv_after_edit import _without_entry, two_catalogs

__all__ = ["two_catalogs"]

runner = CliRunner()

_WORDS = "re-sync of toolkit.yaml alone: the next `linkhealth sync` tells a move from a removal"


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


def test_a_partial_removal_is_said_in_words(two_catalogs: Path) -> None:
    """A decision's re-sync of toolkit.yaml alone removes an entry cut from it: `resource`
    says so in words (the next sync tells a move from a removal), not a bare "partial"."""
    _without_entry(two_catalogs / "toolkit.yaml", "dhs-blue-campaign")
    assert runner.invoke(app, ["mark-reviewed", "demandforum"]).exit_code == 0

    shown = runner.invoke(app, ["resource", "dhs-blue-campaign"])

    assert shown.exit_code == 0, shown.output
    assert _WORDS in shown.stdout and "; partial" not in shown.stdout, shown.stdout


def test_the_reports_news_says_a_partial_removal_in_words(tmp_path: Path) -> None:
    """The report's catalog edits: "Removed from the catalog by a decision's re-sync of
    toolkit.yaml alone: ...", not the plain removal's words."""
    data = report_data(fx.fixed_db(tmp_path / "fixed.db"))
    partial = {"partial": True, "file": "/srv/catalogs/toolkit.yaml"}
    changes = tuple(
        dataclasses.replace(e, details={**e.details, **partial}) if e.kind == "removed" else e
        for e in data.changes
    )
    ctx = build_context(dataclasses.replace(data, changes=changes), now=fx.NOW)

    assert ctx.changes is not None
    items = {(i.kind, i.resource_id): i for s in ctx.changes.sections for i in s.items}
    said = items["removed", fx.REMOVED_ID].summary
    assert said == f"Removed from the catalog by a decision's {_WORDS}.", said
    assert "toolkit.yaml alone: the next \\`linkhealth sync\\` tells" in render_markdown(ctx)
