"""`linkhealth recheck toolkit/dead` after removing `dead` from toolkit.yaml: the entry named
as the verdicts (and the removal's own words) name it. It was refused as a typo (exit 4)
where `recheck dead` said the removal and wrote the report again."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.db import open_engine
from catalog.ops import plan_recheck, unheld_entries
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import days, write_catalog
from tests.test_fx_recheck_removed import _A, _DEAD, dead_link_reported


def test_key_slash_id_of_an_entry_removed_from_one_catalog_but_kept_in_another(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """`toolkit/dead` names toolkit's entry alone: other.yaml's `dead` is not checked for
    it, and the removal is said."""
    toolkit = write_catalog(tmp_path / "toolkit.yaml", [_A, _DEAD])
    other = write_catalog(tmp_path / "other.yaml", [_DEAD])
    settings = Settings(database_url=migrated_db_url, catalogs=(toolkit, other))
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([toolkit, other]), now=days(0))
    write_catalog(toolkit, [_A])
    only = {"dead": {"toolkit"}}
    plan = plan_recheck(settings, ids=["dead"], only=only, clock=lambda: days(2))
    assert plan.ids == () and plan.report_only
    assert plan.removed_said() == (
        "toolkit/dead: removed from the catalog, so there is nothing to check "
        "(its removal is synced now).",
    )
    assert unheld_entries(engine, plan.collections, only) == []
    assert unheld_entries(engine, plan.collections, {"dead": {"nowhere"}}) == ["nowhere/dead"]


@pytest.mark.flow
def test_recheck_key_slash_id_of_the_entry_just_removed_says_so_and_writes_the_report(
    prefect_api: str, isolated_cwd: Path
) -> None:
    catalog_file, runner, latest = dead_link_reported(isolated_cwd, "toolkit")

    write_catalog(catalog_file, [_A])  # the curator removes the dead entry
    typo = runner.invoke(app, ["recheck", "toolkit/daed"])
    assert typo.exit_code == 4, typo.output
    assert "'toolkit/daed'" in typo.stderr
    result = runner.invoke(app, ["recheck", "toolkit/dead"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "toolkit/dead: removed from the catalog, so there is nothing to check "
        "(its removal is synced now).",
        "Nothing to recheck; 1 catalog change synced (1 removed); "
        "report written to var/reports/latest.html.",
    ]
    assert _DEAD["url"] not in latest.read_text()
    # `check --id` checks entries the catalogs hold: a removed one is still refused.
    refused = runner.invoke(app, ["check", "--id", "toolkit/dead"])
    assert refused.exit_code == 4, refused.output
