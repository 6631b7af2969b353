"""A catalog broken before the nightly run: the run is refused (nothing is checked, exit 5),
and the refusal is recorded, so the operator reading `linkhealth status` in the morning
sees that night's run refused, and why, instead of the night before's run looking like the
latest news."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.errors import CatalogError
from catalog.queries import latest_finished_run_id
from catalog.runs import FULL_RUN_LEASE, finish_run, prepare_run
from catalog.settings import Settings
from tests.factories import Ticker, settings_for, write_catalog

ENTRIES = [
    {"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"},
    {"id": "r2", "title": "Resource 2", "url": "https://example.org/r2"},
]


def _settings(migrated_db_url: str, catalog: Path) -> Settings:
    engine = open_engine(migrated_db_url)
    try:
        return settings_for(engine, [catalog])
    finally:
        engine.dispose()


def _break(catalog: Path) -> None:
    """A duplicate id on line 9 of the file (as a curator's bad merge leaves it)."""
    write_catalog(catalog, [*ENTRIES, {"id": "r1", "title": "Again", "url": "https://x.org/a"}])


def test_a_run_refused_for_a_broken_catalog_is_recorded_with_its_file_and_line(
    tmp_path: Path, migrated_db_url: str
) -> None:
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    settings = _settings(migrated_db_url, catalog)
    night = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    finish_run(settings, night.run_id, stored=[], lease=night.lease, clock=Ticker())
    _break(catalog)

    with pytest.raises(CatalogError):
        prepare_run(settings, trigger="schedule", flow_run_id="f-2", lease=FULL_RUN_LEASE)

    engine = open_engine(migrated_db_url)
    refused, last = store.latest_runs(engine)
    assert last.id == night.run_id
    assert refused.status == "refused" and refused.trigger == "schedule"
    assert refused.flow_run_id == "f-2"
    reason = refused.summary["refused_reason"]
    assert f"{catalog}:" in reason and "r1" in reason and "\n" not in reason
    # Nothing was started: no lease is held, nothing checked; and the report keeps showing
    # the last night that checked something (a refused night has no findings to show).
    assert store.leases(engine) == []
    assert refused.urls_planned == 0 and refused.counts == {}
    assert latest_finished_run_id(engine) == night.run_id
    engine.dispose()


def test_status_shows_the_refused_run_and_why(tmp_path: Path, migrated_db_url: str) -> None:
    from flows.cli import app

    catalog = tmp_path / "toolkit.yaml"
    _break(catalog)
    with pytest.raises(CatalogError):
        prepare_run(_settings(migrated_db_url, catalog), trigger="schedule", lease=FULL_RUN_LEASE)
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("run ")]
    assert " schedule " in line and " refused " in line and "still running" not in line
    assert f"{catalog}:" in line and "catalog validate" in line


def test_check_refusing_a_missing_configured_catalog_records_the_refusal(
    tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`linkhealth check` (from cron) refuses a configured catalog that is gone before it
    starts a flow run: exit 5 as before, and the refusal in `status`. A file a curator
    names with --catalog to try it is only refused, as before: nothing is recorded."""
    from flows.cli import app

    monkeypatch.chdir(tmp_path)
    kept = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    engine = open_engine(migrated_db_url)  # the database of earlier nights
    store.start_run(engine, trigger="schedule", now=utcnow())
    gone = tmp_path / "moved.yaml"
    (tmp_path / "linkhealth.toml").write_text(
        f'database_url = "{migrated_db_url}"\ncatalogs = ["{gone}"]\n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 5, result.output
    refused = store.latest_runs(engine)[0]
    assert refused.status == "refused" and str(gone) in refused.summary["refused_reason"]

    _break(kept)
    tried = CliRunner().invoke(app, ["check", "--catalog", str(kept)])
    assert tried.exit_code == 5, tried.output
    assert store.latest_runs(engine)[0].id == refused.id
    engine.dispose()
