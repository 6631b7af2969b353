"""`linkhealth recheck dead` right after the curator removed `dead` from the catalog: the
natural command after an edit. It was refused as an unknown id, and the report kept listing
`dead` to fix. An entry the database knows as removed from its catalog is no typo: the
recheck syncs the removal, writes the report again and says there is nothing to check."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.errors import NotFoundError
from catalog.ops import plan_recheck, unknown_ids
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings, Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import copy_migrated_sqlite, days, make_observation, write_catalog

_A = {"id": "a", "title": "A", "url": "https://example.org/a"}
_DEAD = {"id": "dead", "title": "Dead", "url": "https://example.org/dead"}


def dead_link_reported(cwd: Path, key: str) -> tuple[Path, CliRunner, Path]:
    """In `cwd`, a configured catalog `key`.yaml of `_A` and `_DEAD`, `dead`'s link checked
    broken and the report written listing it: (catalog file, runner, latest report)."""
    catalog_file = write_catalog(cwd / f"{key}.yaml", [_A, _DEAD])
    (cwd / "linkhealth.toml").write_text(
        f'database_url = "sqlite:///var/lh.db"\ncatalogs = ["{catalog_file}"]\n',
        encoding="utf-8",
    )
    copy_migrated_sqlite(cwd / "var" / "lh.db")
    engine = open_engine("sqlite:///var/lh.db")
    checked = utcnow()
    sync_catalogs(engine, load_catalogs([catalog_file]), now=checked)
    gone = make_observation(_DEAD["url"], Outcome.NOT_FOUND, checked_at=checked)
    store.record_observations(engine, None, [gone], HealthSettings(), now=checked)
    engine.dispose()
    runner = CliRunner()
    assert runner.invoke(app, ["report"]).exit_code == 0
    latest = cwd / "var" / "reports" / "latest.html"
    assert _DEAD["url"] in latest.read_text()
    return catalog_file, runner, latest


def _dead_link_checked(tmp_path: Path, db_url: str) -> tuple[Path, Settings]:
    """A catalog of an entry whose link works and one whose link is gone, both checked."""
    catalog_file = write_catalog(tmp_path / "toolkit.yaml", [_A, _DEAD])
    engine = open_engine(db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
    run_id = store.start_run(engine, trigger="test", now=days(1))
    checked = [
        make_observation(_A["url"], Outcome.OK, days(1)),
        make_observation(_DEAD["url"], Outcome.NOT_FOUND, days(1)),
    ]
    store.record_observations(engine, run_id, checked, HealthSettings(), now=days(1))
    engine.dispose()
    return catalog_file, Settings(database_url=db_url, catalogs=(catalog_file,))


def test_a_recheck_naming_the_entry_just_removed_syncs_the_removal_and_says_so(
    tmp_path: Path, migrated_db_url: str
) -> None:
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    write_catalog(catalog_file, [_A])  # the curator removes the dead entry
    assert unknown_ids(settings, ["dead"]) == []  # not synced yet: the database holds it
    plan = plan_recheck(settings, ids=["dead"], clock=lambda: days(2))
    assert plan.ids == () and plan.synced == "1 removed"
    assert plan.report_only  # the report listed it to fix
    assert plan.removed_said() == (
        "toolkit/dead: removed from the catalog, so there is nothing to check "
        "(its removal is synced now).",
    )


def test_a_recheck_naming_an_entry_removed_by_an_earlier_sync_says_when(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """`linkhealth sync` after the edit, then the recheck: nothing left to sync, but `sync`
    writes no report, so the recheck writes it again; `check --id` still refuses the id."""
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    write_catalog(catalog_file, [_A])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2))
    engine.dispose()
    assert unknown_ids(settings, ["dead", "typo"], removed_known=True) == ["typo"]
    assert unknown_ids(settings, ["dead", "typo"]) == ["dead", "typo"]
    plan = plan_recheck(settings, ids=["dead"], clock=lambda: days(3))
    assert plan.ids == () and plan.synced == "" and plan.report_only
    assert plan.removed_said() == (
        "toolkit/dead: removed from the catalog on 2025-03-03, so there is nothing to check.",
    )


def test_an_entry_removed_beside_one_to_check_is_said_and_the_other_checked(
    tmp_path: Path, migrated_db_url: str
) -> None:
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    write_catalog(catalog_file, [_A])
    plan = plan_recheck(settings, ids=["a", "dead"], clock=lambda: days(2))
    assert plan.ids == ("a",) and not plan.report_only  # its run writes the report
    assert [line.split(":")[0] for line in plan.removed_said()] == ["toolkit/dead"]


def test_a_typo_beside_a_removed_entry_is_still_refused_by_name(
    tmp_path: Path, migrated_db_url: str
) -> None:
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    write_catalog(catalog_file, [_A])
    with pytest.raises(NotFoundError) as refused:
        plan_recheck(settings, ids=["dead", "daed"], clock=lambda: days(2))
    assert "'daed'" in str(refused.value) and "'dead'" not in str(refused.value)


def test_an_id_still_in_another_catalog_is_checked_there(
    tmp_path: Path, migrated_db_url: str
) -> None:
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    other = write_catalog(tmp_path / "other.yaml", [_DEAD])
    settings = Settings(database_url=migrated_db_url, catalogs=(catalog_file, other))
    write_catalog(catalog_file, [_A])
    plan = plan_recheck(settings, ids=["dead"], clock=lambda: days(2))
    assert plan.ids == ("dead",) and plan.removed_said() == ()


@pytest.mark.flow
def test_recheck_of_the_entry_just_removed_exits_0_and_writes_the_report_without_it(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """Through the command line and the recheck flow, as the curator types it."""
    catalog_file, runner, latest = dead_link_reported(isolated_cwd, "test")

    write_catalog(catalog_file, [_A])  # the curator removes the dead entry
    typo = runner.invoke(app, ["recheck", "dead", "daed"])
    assert typo.exit_code == 4, typo.output
    assert "'daed'" in typo.stderr and "'dead'" not in typo.stderr

    result = runner.invoke(app, ["recheck", "dead"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "test/dead: removed from the catalog, so there is nothing to check "
        "(its removal is synced now).",
        "Nothing to recheck; 1 catalog change synced (1 removed); "
        "report written to var/reports/latest.html.",
    ]
    assert _DEAD["url"] not in latest.read_text()
    # Again, its removal synced: still no typo, and the report is written again all the same.
    again = runner.invoke(app, ["recheck", "dead"])
    assert again.exit_code == 0, again.output
    engine = open_engine("sqlite:///var/lh.db")
    ((_, _, removed_at),) = store.removed_entries(engine, ["test"], ["dead"])
    engine.dispose()
    assert again.stdout.splitlines() == [
        f"test/dead: removed from the catalog on {removed_at:%Y-%m-%d}, so there is nothing to "
        "check.",
        "Nothing to recheck; report written to var/reports/latest.html.",
    ]
