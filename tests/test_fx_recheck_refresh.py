"""`recheck --changed` that picks nothing writes the report again for the changes synced
since the latest report (README "After editing the catalog"), below the review's tests
(tests/test_rv_after_edit2.py): what the report shows is the newest event it read, not the
time of its files, its main file counts, and the artifacts say what they follow."""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from pathlib import Path

from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.ops import RecheckPlan, plan_recheck
from catalog.outcomes import Outcome
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from reports.publish import SHOWN_FILE, latest_report_written, publish_report
from tests.factories import days
from tests.test_ops import _A, _DEAD, _checked, _dead_link_checked, _write


def _checked_catalog(tmp_path: Path, db_url: str) -> tuple[Path, Settings]:
    catalog_file = _write(tmp_path / "toolkit.yaml", [_A, _DEAD])
    engine = open_engine(db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
    _checked(engine, days(1), {_A["url"]: Outcome.OK, _DEAD["url"]: Outcome.NOT_FOUND})
    engine.dispose()
    settings = Settings(
        database_url=db_url, catalogs=(catalog_file,), reports_dir=tmp_path / "reports"
    )
    return catalog_file, settings


def _remove_dead(catalog_file: Path, db_url: str, *, ahead: timedelta = timedelta()) -> None:
    """`linkhealth sync` of the dead entry's removal, by a clock `ahead` of this one."""
    _write(catalog_file, [_A])
    engine = open_engine(db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=utcnow() + ahead)
    engine.dispose()


def _plan(settings: Settings) -> RecheckPlan:
    engine = open_engine(settings.database_url)
    try:
        return plan_recheck(
            settings,
            changed_only=True,
            report_written=lambda: latest_report_written(settings, engine),
        )
    finally:
        engine.dispose()


def test_a_report_written_after_a_sync_stamped_ahead_shows_it(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The removal synced by a clock an hour ahead, then the report written: it shows the
    removal, though its files are older than the removal's time."""
    catalog_file, settings = _checked_catalog(tmp_path, migrated_db_url)
    _remove_dead(catalog_file, migrated_db_url, ahead=timedelta(hours=1))
    publish_report(settings)
    plan = _plan(settings)
    assert plan.ids == () and not plan.report_only and plan.unshown_changes == 0, plan


def test_the_main_file_written_after_a_sync_counts_as_showing_it(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """html and md written, then the removal synced: `report --format md` leaves the HTML,
    the main file, listing the entry (written again); `report --format html` shows it, the
    latest.md it leaves is the night's."""
    catalog_file, settings = _checked_catalog(tmp_path, migrated_db_url)
    publish_report(settings)
    _remove_dead(catalog_file, migrated_db_url)
    publish_report(settings, formats=("md",))
    assert _plan(settings).report_only
    publish_report(settings, formats=("html",))
    assert not _plan(settings).report_only


def test_a_report_written_before_reports_recorded_what_they_show_goes_by_its_time(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """No `SHOWN_FILE` (a report of an earlier version): latest.html's time counts."""
    catalog_file, settings = _checked_catalog(tmp_path, migrated_db_url)
    main = publish_report(settings)
    (main.parent / SHOWN_FILE).unlink()
    _remove_dead(catalog_file, migrated_db_url)
    before = (utcnow() - timedelta(minutes=5)).timestamp()
    os.utime(main, (before, before))
    assert _plan(settings).report_only
    os.utime(main)  # now: after the removal
    assert not _plan(settings).report_only


def test_a_recheck_that_picks_nothing_sees_a_catalog_file_deleted_from_its_folder(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """dhs.yaml deleted from the configured folder and `linkhealth sync` run (day 2): its
    collection's entry is removed, counted though dhs is no longer a catalog loaded."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    _write(folder / "toolkit.yaml", [_A])
    dhs = _write(folder / "dhs.yaml", [_DEAD])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([folder]), now=days(0), folders=[folder])
    _checked(engine, days(1), {_A["url"]: Outcome.OK, _DEAD["url"]: Outcome.NOT_FOUND})
    dhs.unlink()
    gone = sync_catalogs(engine, load_catalogs([folder]), now=days(2), folders=[folder])
    engine.dispose()
    assert gone.removed == 1, gone
    plan = plan_recheck(
        Settings(database_url=migrated_db_url, catalogs=(folder,)),
        changed_only=True,
        clock=lambda: days(3),
        report_written=lambda: days(1.5),
    )
    assert plan.report_only and plan.unshown_changes == 1, plan


def test_the_artifacts_of_a_report_written_again_say_what_they_follow(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The artifacts' "Action queue after {after_words}": "after syncing 1 catalog change
    (1 removed)" for the recheck's own sync, "after 1 catalog change synced since the last
    report (1 removed)" for an earlier one, not "after syncing ... synced since"."""
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    _write(catalog_file, [_A])
    own = plan_recheck(settings, changed_only=True, clock=lambda: days(2))
    assert own.after_words == "syncing 1 catalog change (1 removed)", own
    earlier = plan_recheck(
        settings,
        changed_only=True,
        clock=lambda: days(3),
        report_written=functools.partial(lambda at: at, days(1.5)),
    )
    said = "1 catalog change synced since the last report (1 removed)"
    assert earlier.after_words == said, earlier
    assert f"after {earlier.after_words}".count("sync") == 1


def test_the_action_queue_written_again_for_an_earlier_sync_reads_right(
    prefect_harness: None, tmp_path: Path, migrated_db_url: str
) -> None:
    """The recheck flow's artifacts after a removal `linkhealth sync` synced since the
    report: "Action queue after 1 catalog change synced since the last report (1
    removed)", not "after syncing 1 catalog change synced since the last report"."""
    from typing import cast

    from prefect.artifacts import Artifact
    from prefect.client.schemas.objects import Artifact as ArtifactResponse

    from flows.check_flow import QUEUE_KEY, REPORT_KEY
    from flows.recheck_flow import recheck

    catalog_file, settings = _checked_catalog(tmp_path, migrated_db_url)
    publish_report(settings)
    _remove_dead(catalog_file, migrated_db_url)
    overrides = {
        "database_url": migrated_db_url,
        "catalogs": [str(catalog_file)],
        "reports_dir": str(settings.reports_dir),
    }
    result = recheck(changed_only=True, overrides=overrides)
    assert result.report_path is not None, result
    after = "after 1 catalog change synced since the last report (1 removed)"
    queue = cast("ArtifactResponse | None", Artifact.get(QUEUE_KEY))
    assert queue is not None and queue.description == f"Action queue {after}, most urgent first"
    report = cast("ArtifactResponse | None", Artifact.get(REPORT_KEY))
    assert report is not None and report.description == f"Report written again {after}"
