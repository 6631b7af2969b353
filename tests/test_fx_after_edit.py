"""What happens right after a curator edits the catalog (README "After editing the catalog",
"Curator decisions"), below the review's tests (tests/test_rv_after_edit.py):

- a partial sync (a decision's re-sync of the file it edits, `sync_catalogs(partial=True)`)
  marks its removals `partial`, so the next sync that finds the entry in another file
  with its id and URL sees a move (the row kept); it leaves an entry new to its file that
  an active row of another collection has (id and URL) for that sync;
- `recheck --changed` that picks nothing writes the report again when an earlier sync
  changed the catalogs after the report was written (`plan_recheck(report_written=...)`).
"""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from catalog import store
from catalog import tables as t
from catalog.db import open_engine
from catalog.ops import plan_recheck
from catalog.source import load_catalogs
from catalog.sync import SyncResult, sync_catalogs
from flows.cli import app
from tests.factories import copy_migrated_sqlite, days
from tests.test_ops import _A, _DEAD, _dead_link_checked, _write

runner = CliRunner()
_B = {"id": "b", "title": "B", "url": "https://example.org/b"}


def _said(result: SyncResult) -> list[str]:
    return [change.describe() for change in result.changes]


def _rows(db_url: str, rid: str) -> int:
    engine = open_engine(db_url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).where(t.Resource.rid == rid))
    engine.dispose()
    return int(n or 0)


def test_a_removal_by_a_partial_sync_is_half_of_the_move_the_next_sync_sees(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """dead moved by hand from toolkit to other; a partial sync of toolkit removes it
    (`partial` in the event); the sync of both files then moves that row, as it would
    have had it been active. A removal by a full sync is no half of a move."""
    toolkit, _ = _dead_link_checked(tmp_path, migrated_db_url)
    other = _write(tmp_path / "other.yaml", [_B])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(1))
    _write(toolkit, [_A])
    _write(other, [_B, _DEAD])
    partial = sync_catalogs(engine, load_catalogs([toolkit]), now=days(2), partial=True)
    assert _said(partial) == ["toolkit/dead: removed"]
    full = sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(3))
    assert _said(full) == ["other/dead: moved from toolkit"], _said(full)
    assert store.active_rids(engine, ["dead"]) == {"dead"}
    engine.dispose()
    assert _rows(migrated_db_url, "dead") == 1


def test_a_removal_by_a_full_sync_is_no_half_of_a_move(
    tmp_path: Path, migrated_db_url: str
) -> None:
    toolkit, _ = _dead_link_checked(tmp_path, migrated_db_url)
    other = _write(tmp_path / "other.yaml", [_B])
    engine = open_engine(migrated_db_url)
    _write(toolkit, [_A])
    sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(2))
    _write(other, [_B, _DEAD])
    full = sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(3))
    assert _said(full) == ["other/dead: added"], _said(full)
    engine.dispose()
    assert _rows(migrated_db_url, "dead") == 2


def test_a_partial_sync_leaves_an_entry_another_collection_has_for_the_next_sync(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """dead moved by hand to other, other synced alone (partial): dead, active in toolkit
    with that URL, is not added there (b, new to both, is); the next sync moves it."""
    toolkit, _ = _dead_link_checked(tmp_path, migrated_db_url)
    other = _write(tmp_path / "other.yaml", [_A | {"id": "x"}])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(1))
    _write(toolkit, [_A])
    _write(other, [_A | {"id": "x"}, _DEAD, _B])
    partial = sync_catalogs(engine, load_catalogs([other]), now=days(2), partial=True)
    assert _said(partial) == ["other/b: added"], _said(partial)
    full = sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(3))
    assert _said(full) == ["other/dead: moved from toolkit"], _said(full)
    engine.dispose()
    assert _rows(migrated_db_url, "dead") == 1


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


def test_a_decision_on_an_id_renamed_in_a_trial_file_offers_the_sync_of_that_file(
    isolated_cwd: Path, no_prefect_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No settings file: a trial database (--db) and the curator's file (--catalog); a
    renamed by hand to a2, then `mark-reviewed a` with the same options: refused, the file
    changed since the last sync, and the offered sync, run as printed, records the rename."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    copy_migrated_sqlite(isolated_cwd / "var" / "trial.db")
    mine = _write(isolated_cwd / "mine.yaml", [_A, _B])
    options = ["--db", "sqlite:///var/trial.db", "--catalog", str(mine)]
    assert runner.invoke(app, ["sync", *options]).exit_code == 0
    _write(mine, [_A | {"id": "a2"}, _B])

    refused = runner.invoke(app, ["mark-reviewed", "a", *options])
    assert refused.exit_code != 0, refused.output
    assert "changed in the file since the last sync" in refused.output, refused.output
    offered = re.search(r"`(linkhealth sync[^`]*)`", refused.output)
    assert offered is not None, refused.output
    synced = runner.invoke(app, shlex.split(offered.group(1))[1:])
    assert synced.exit_code == 0, offered.group(1) + "\n" + synced.output
    assert "mine/a2: renamed from a" in synced.stdout, synced.stdout
