"""Review of f78e97c/46a6277 (a decision's re-sync is partial; the next sync sees the move
it half saw) and 2182de4 (a report records the newest event it read, `SHOWN_FILE`).

- A removal a partial sync recorded stays "half of a move" for good: a full sync that
  reads every file and finds the entry in none does not settle it, and an entry with that
  id and URL added to another file weeks later is "moved from toolkit", the old ignore
  hiding it, where after a removal synced by `linkhealth sync` it is "added".
- A decision in each file between a move by hand and its sync: the second re-sync adds
  the moved entry anew (`_moved_here` asks only for active rows, and the first re-sync
  removed it), so the sync finds no move and the entry's ignore is lost.
- The id a report records is compared with the ids of whatever database is there now: a
  database restored from its backup (README "Storage": back up before updating) numbers
  its new events below it, and `recheck --changed` no longer writes the report again after
  a removal synced since (the files' times, as before 2182de4, did).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from catalog.db import _cached_engine, close_engines, open_engine
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from reports.publish import publish_report
from tests.factories import copy_migrated_sqlite, days
from tests.test_fx_recheck_refresh import _checked_catalog, _plan, _remove_dead
from tests.test_ops import _A, _DEAD, _write
from tests.test_rv_after_edit import _without_entry, two_catalogs

__all__ = ["two_catalogs"]

runner = CliRunner()


def _ok(*args: str) -> str:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.stdout


def _append(path: Path, block: list[str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(block).rstrip("\n") + "\n")


def test_a_removal_a_full_sync_confirmed_is_no_half_of_a_move_weeks_later(
    two_catalogs: Path,
) -> None:
    """The curator ignores dhs-blue-campaign, deletes it from toolkit.yaml for good and
    marks demandforum reviewed (its re-sync, partial, removes the entry). `linkhealth sync`
    then reads every file: the entry is in none, removed. Later someone adds the same page
    to dhs.yaml: a new entry ("added", back in the queue), as after a removal synced by
    `linkhealth sync` (test_fx_after_edit::test_a_removal_by_a_full_sync_is_no_half_of_a_move),
    not "moved from toolkit" with the old ignore hiding its link."""
    _ok("ignore", "dhs-blue-campaign", "--reason", "login wall")
    block = _without_entry(two_catalogs / "toolkit.yaml", "dhs-blue-campaign")
    _ok("mark-reviewed", "demandforum")
    confirmed = _ok("sync")
    assert "0 removed" in confirmed and "dhs-blue-campaign" not in confirmed, confirmed
    assert "removed:" in _ok("resource", "dhs-blue-campaign")
    _append(two_catalogs / "dhs.yaml", block)
    synced = _ok("sync")
    assert "dhs/dhs-blue-campaign: added" in synced, synced
    assert "login wall" not in _ok("resource", "dhs-blue-campaign")


def test_a_move_with_a_decision_in_each_file_before_its_sync_keeps_the_ignore(
    two_catalogs: Path,
) -> None:
    """dhs-blue-campaign ignored, moved by hand to dhs.yaml; the curator marks demandforum
    (toolkit) reviewed, then dhs-stub (dhs), then syncs: the entry should be "moved from
    toolkit" and still ignored, as with one decision in between. The first re-sync removes
    the toolkit row (partial); the second, of dhs.yaml, finds no active row with the id and
    adds the entry anew ("1 added"), so the sync moves nothing and the ignore is lost."""
    _ok("ignore", "dhs-blue-campaign", "--reason", "login wall")
    _append(
        two_catalogs / "dhs.yaml",
        _without_entry(two_catalogs / "toolkit.yaml", "dhs-blue-campaign"),
    )
    _ok("mark-reviewed", "demandforum")
    _ok("mark-reviewed", "dhs-stub")
    synced = _ok("sync")
    shown = _ok("resource", "dhs-blue-campaign")
    assert "login wall" in shown, synced + shown


def test_a_recheck_after_the_database_was_restored_from_its_backup_writes_the_report(
    tmp_path: Path,
) -> None:
    """The database backed up, then a sync adds five entries and the report is written
    (it records event 9). The update goes wrong and the backup is put back (4 events).
    The curator removes the dead entry and syncs (event 5), then `recheck --changed`: the
    report still lists the removed entry, so it should be written again, as it was when
    the files' times decided. 5 <= 9: the plan says nothing is unshown."""
    db = tmp_path / "lh.db"
    copy_migrated_sqlite(db)
    url = f"sqlite:///{db}"
    catalog_file, settings = _checked_catalog(tmp_path, url)
    engine = open_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    shutil.copyfile(db, tmp_path / "backup.db")
    extra = [{"id": f"x{i}", "title": "X", "url": f"https://example.org/x{i}"} for i in range(5)]
    _write(catalog_file, [_A, _DEAD, *extra])
    engine = open_engine(url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2))
    engine.dispose()
    main = publish_report(settings)
    assert "example.org/dead" in main.read_text(encoding="utf-8")
    # Each command is its own process: the report's engine ends with it.
    close_engines()
    _cached_engine.cache_clear()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "backup.db", db)  # the backup put back
    _remove_dead(catalog_file, url)
    plan = _plan(settings)
    assert plan.report_only and plan.unshown_changes == 1, plan
