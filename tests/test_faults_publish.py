"""A report that cannot be written part-way (a full disk, its folder made read-only):
one line naming the folder and what to do, and the report already there left readable."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reports.site
from catalog.settings import Settings
from flows.cli import app
from reports import publish_report
from reports.publish import ReportWriteError
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("faults-publish") / "linkhealth.db"
    fx.fixed_db(path).dispose()
    return f"sqlite:///{path}"


def _disk_full(path: object, text: str) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")  # as write() or close() raise it


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_full_disk_while_the_report_is_written_names_the_folder_and_keeps_the_last_one(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "reports"
    settings = Settings().with_overrides(database_url=db_url, reports_dir=folder)
    publish_report(settings, clock=lambda: fx.NOW)
    before = _files(folder)

    monkeypatch.setattr(reports.site, "_write_plain", _disk_full)
    with pytest.raises(ReportWriteError) as caught:
        publish_report(settings, clock=lambda: fx.NOW)
    said = str(caught.value)
    assert said.startswith(f"cannot write the report into {folder}: No space left on device")
    assert "linkhealth report" in said and "\n" not in said
    assert _files(folder) == before  # the last report, whole; no half-built site left
    assert not list(folder.glob(".site-*"))


def test_report_on_a_full_disk_exits_1_with_one_line(
    db_url: str, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports.site, "_write_plain", _disk_full)
    result = CliRunner().invoke(app, ["report", "--db", db_url, "--out", str(isolated_cwd / "r")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"error: cannot write the report into {isolated_cwd / 'r'}")
