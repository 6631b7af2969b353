"""What happens right after a curator edits the catalog (README "After editing the catalog",
"Curator decisions"), below the review's tests (tests/test_rv_after_edit.py):

- `recheck --changed` that picks nothing writes the report again when an earlier sync
  changed the catalogs after the report was written (`plan_recheck(report_written=...)`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from catalog.db import open_engine
from catalog.ops import plan_recheck
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import days
from tests.test_ops import _A, _dead_link_checked, _write


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
