"""A trial run's report, written beside the reports folder another database owns, says so
once: `reports.publish` and the render task each said it, two warnings on every trial
command's console."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from catalog.sync import sync_catalogs
from flows import check_flow
from reports.publish import report_folder
from tests.factories import days, make_catalog, make_resource, settings_for, temporary_database


def test_a_report_beside_another_databases_folder_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reports = tmp_path / "reports"
    report_folder(reports, "sqlite:////srv/linkhealth/var/linkhealth.db")  # production's
    with temporary_database(tmp_path, "trial.db") as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("a")])], now=days(0))
        settings = replace(settings_for(engine), reports_dir=reports)
        run_log = logging.getLogger("tests.g2.flow_run")  # the flow run's logger
        monkeypatch.setattr(check_flow, "get_run_logger", lambda: run_log)
        with caplog.at_level(logging.INFO):
            path = Path(check_flow.render_report_task.fn(settings, None))

    assert path.parent != reports and path.exists()
    said = [r for r in caplog.records if "another database" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    # By the run's logger (Prefect's UI shows it), naming both folders.
    (warning,) = said
    assert warning.name == run_log.name and warning.levelno == logging.WARNING
    assert str(reports) in warning.getMessage() and str(path.parent) in warning.getMessage()
    written = [r.getMessage() for r in caplog.records if r.name == run_log.name]
    assert f"Report written to {path}" in written
