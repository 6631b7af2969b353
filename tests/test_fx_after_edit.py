"""What happens right after a curator edits the catalog (README "After editing the catalog",
"Curator decisions"), below the review's tests (tests/test_rv_after_edit.py):

- a decision's re-sync of the file it edits (`sync_catalogs(edits_only=True)`) leaves an
  entry added to or removed from the file by hand for the next sync, which sees a move
  between two files; the decision says so;
- `recheck --changed` that picks nothing writes the report again when an earlier sync
  changed the catalogs after the report was written (`plan_recheck(report_written=...)`).
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import days
from tests.test_ops import _A, _dead_link_checked, _write
from tests.test_rv_after_edit import _move_to_dhs, two_catalogs

runner = CliRunner()

__all__ = ["two_catalogs"]  # the fixture, for pytest


def test_an_edits_only_sync_leaves_entries_added_or_removed_by_hand(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The entries the collection holds are synced (an edited title); one added and one
    removed are left, counted, and the next plain sync records them."""
    catalog_file, _ = _dead_link_checked(tmp_path, migrated_db_url)
    new = {"id": "new", "title": "New", "url": "https://example.org/new"}
    _write(catalog_file, [{**_A, "title": "A, edited"}, new])
    engine = open_engine(migrated_db_url)
    partial = sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2), edits_only=True)
    assert (partial.added, partial.edited, partial.removed, partial.left) == (0, 1, 0, 2)
    assert store.active_rids(engine, ["dead", "new"]) == {"dead"}
    full = sync_catalogs(engine, load_catalogs([catalog_file]), now=days(3))
    assert (full.added, full.edited, full.removed, full.left) == (1, 0, 1, 0)
    engine.dispose()


def test_a_decision_says_what_its_resync_left_for_sync(two_catalogs: Path) -> None:
    """The entry moved by hand is not recorded removed by the decision's re-sync: the
    decision says it left it for `linkhealth sync`, whose count line then says nothing
    removed but the move."""
    _move_to_dhs(two_catalogs, "dhs-blue-campaign")
    made = runner.invoke(app, ["mark-reviewed", "demandforum"])
    assert made.exit_code == 0, made.output
    assert "0 removed" in made.stdout, made.stdout
    left = f"1 entry added to or removed from {two_catalogs / 'toolkit.yaml'} by hand was left"
    assert f"{left} for `linkhealth sync`" in made.stdout, made.stdout
    synced = runner.invoke(app, ["sync"])
    assert "dhs/dhs-blue-campaign: moved from toolkit" in synced.stdout, synced.stdout
    assert "0 removed" in synced.stdout, synced.stdout
