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

import flows.check_flow
import reports.publish
from catalog.settings import Settings
from flows.cli import app
from reports.publish import OWNER_FILE, unusable_report_folder
from tests.factories import copy_migrated_sqlite, migrated_sqlite
from tests.local_site import local_site
from tests.test_flow import _write_catalog


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    made = migrated_sqlite(tmp_path / "lh.db")
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = isolated_cwd / "reports"
    folder.write_text("not a folder\n", encoding="utf-8")
    db = isolated_cwd / "run.db"
    copy_migrated_sqlite(db)  # checked into, not migrated, here
    # What happened in which order: the folder looked at, each warning, each batch checked.
    said: list[str] = []
    looked, checked = (
        flows.check_flow.unusable_report_folder,
        flows.check_flow.check_batch_with_upgrades,
    )

    def looking(*args: Any, **kwargs: Any) -> Any:
        said.append("looked")
        return looked(*args, **kwargs)

    def checking(*args: Any, **kwargs: Any) -> Any:
        said.append("checked")
        return checked(*args, **kwargs)

    monkeypatch.setattr(flows.check_flow, "unusable_report_folder", looking)
    monkeypatch.setattr(flows.check_flow, "check_batch_with_upgrades", checking)
    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        (isolated_cwd / "linkhealth.toml").write_text(
            f'database_url = "sqlite:///{db}"\nreports_dir = "{folder}"\n'
            f'catalogs = ["{catalog_file}"]\n[check]\nallow_private = true\n',
            encoding="utf-8",
        )
        records = _Records()
        prefect_log = logging.getLogger("prefect")
        prefect_log.addHandler(records)
        try:
            result = CliRunner().invoke(app, ["check"])
        finally:
            prefect_log.removeHandler(records)
    assert result.exit_code == 1, result.output  # README: the run is kept, exit 1 at its end
    # Said on the console (CliRunner's stderr when this process set Prefect's logging up
    # itself, the real one when an earlier test did) or seen by Prefect's loggers.
    lines = [*result.stderr.splitlines(), *(r.getMessage() for r in records.seen)]
    warning = f"the reports folder cannot be written ({folder} is a file, not a folder): run 1"
    assert any(warning in line for line in lines), lines
    assert "will be checked and stored but no report written" in "\n".join(lines)
    # Before the run is checked: its first batch came after the folder was looked at.
    assert said and said[0] == "looked" and "checked" in said, said


class _Records(logging.Handler):
    """Every record Prefect's loggers handle, in order."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)
