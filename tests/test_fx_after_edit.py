"""What happens right after a curator edits the catalog (README "After editing the catalog",
"Curator decisions"), below the review's tests (tests/test_rv_after_edit.py):

- a decision's re-sync of the file it edits (`sync_catalogs(edits_only=True)`) leaves an
  entry added to or removed from the file by hand for the next sync, which sees a move
  between two files; the decision says so;
- `recheck --changed` that picks nothing writes the report again when an earlier sync
  changed the catalogs after the report was written (`plan_recheck(report_written=...)`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from catalog.ops import plan_recheck
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


def test_a_recheck_that_picks_nothing_writes_again_a_report_older_than_a_sync(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The removal synced by `linkhealth sync` (days 2) after the report (day 1): the plan
    writes it again and says why; a report written after the sync, or none, is left."""
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    _write(catalog_file, [_A])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2))
    engine.dispose()
    for written, due in ((days(1.5), True), (days(2.5), False), (None, False)):
        plan = plan_recheck(
            settings,
            changed_only=True,
            clock=lambda: days(3),
            report_written=functools.partial(lambda at: at, written),
        )
        assert plan.ids == () and plan.sync_changes == 0 and plan.report_only is due, written
        words = "1 catalog change synced since the last report (1 removed)"
        assert plan.synced_words == (words if due else ""), plan
