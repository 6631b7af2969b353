"""`check` with a reports folder it cannot write (a file, a read-only folder) says so as
the run starts: README keeps the run (its results are stored, its summary and events
sent, exit 1 at the end), but the operator learnt only after the whole check that no
report would come of it."""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

import reports.publish
from catalog.db import open_engine
from catalog.settings import Settings
from flows.cli import app
from reports.publish import OWNER_FILE, unusable_report_folder
from tests.local_site import local_site
from tests.test_flow import _write_catalog


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    made = open_engine(f"sqlite:///{tmp_path / 'lh.db'}")
    yield made
    made.dispose()


def _settings(engine: Engine, folder: Path) -> Settings:
    return Settings().with_overrides(database_url=str(engine.url), reports_dir=folder)


def _read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """`folder` on a read-only mount (root writes anywhere else)."""
    mkstemp = reports.publish.tempfile.mkstemp

    def refused(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if Path(kwargs.get("dir") or ".") == folder:
            raise OSError(errno.EROFS, "Read-only file system")
        return mkstemp(*args, **kwargs)

    monkeypatch.setattr(reports.publish.tempfile, "mkstemp", refused)


def test_a_reports_folder_that_is_a_file_is_named(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.write_text("not a folder\n", encoding="utf-8")
    said = unusable_report_folder(_settings(engine, folder), engine)
    assert said == f"{folder} is a file, not a folder"


def test_a_read_only_reports_folder_is_named(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    _read_only(monkeypatch, folder)
    assert unusable_report_folder(_settings(engine, folder), engine) == (
        f"{folder} Read-only file system"
    )


def test_a_missing_reports_folder_is_made_and_left_empty(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "var" / "reports"
    assert unusable_report_folder(_settings(engine, folder), engine) is None
    assert folder.is_dir() and list(folder.iterdir()) == []  # no probe, no claim left


def test_a_folder_of_another_databases_reports_is_not_the_one_tried(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report would go beside it (`report_folder`): that one is what must be writable."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / OWNER_FILE).write_text("sqlite:////elsewhere/other.db\n", encoding="utf-8")
    _read_only(monkeypatch, folder)
    assert unusable_report_folder(_settings(engine, folder), engine) is None
    assert (tmp_path / "reports-lh").is_dir()


@pytest.mark.flow
def test_check_with_an_unusable_reports_folder_warns_before_it_checks(
    prefect_api: str,
    isolated_cwd: Path,
    sent_events: list[tuple[str, dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = isolated_cwd / "reports"
    folder.write_text("not a folder\n", encoding="utf-8")
    db = isolated_cwd / "run.db"
    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        (isolated_cwd / "linkhealth.toml").write_text(
            f'database_url = "sqlite:///{db}"\nreports_dir = "{folder}"\n'
            f'catalogs = ["{catalog_file}"]\n[check]\nallow_private = true\n',
            encoding="utf-8",
        )
        with caplog.at_level(logging.INFO):
            result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1, result.output  # README: the run is kept, exit 1 at its end
    # Prefect's log records, not the console: its handler writes to the stderr it found
    # when first set up, which is CliRunner's only when no earlier test set it up.
    lines = [r.getMessage() for r in caplog.records]
    warned = [i for i, line in enumerate(lines) if "the reports folder cannot be written" in line]
    assert warned, lines
    assert (
        f"({folder} is a file, not a folder): run 1 will be checked and stored"
        in (lines[warned[0]])
    )
    # Before the run is checked: the render task, run after it, fails on the folder.
    rendered = [i for i, line in enumerate(lines) if "ReportFolderError" in line]
    assert rendered and warned[0] < rendered[0], lines
