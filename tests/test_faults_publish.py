"""A report that cannot be written part-way (a full disk, its folder made read-only):
one line naming the folder and what to do, and the report already there left readable."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import reports.publish
import reports.site
from catalog import store
from catalog.db import open_engine
from catalog.ops import EVENT_BROKEN_INCREASED
from catalog.settings import Settings
from flows.cli import app
from reports import publish_report
from reports.publish import ReportWriteError
from tests import report_fixtures as fx
from tests.factories import copy_migrated_sqlite
from tests.local_site import local_site
from tests.test_flow import _fail_twice_before, _write_catalog


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


def test_report_into_a_folder_that_is_a_file_is_bad_usage_exit_2(
    db_url: str, isolated_cwd: Path
) -> None:
    """`report --out` naming a file is the command's usage (exit 2); `check` exits 1 for it
    (below), its run being stored."""
    (isolated_cwd / "afile").write_text("x\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", "--db", db_url, "--out", "afile"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: cannot write the report into afile: is a file")


@pytest.mark.flow
def test_a_run_whose_report_cannot_be_written_is_stored_announced_and_told_in_one_line(
    prefect_harness: None,
    isolated_cwd: Path,
    sent_events: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run is stored whole before its report: a full disk under the reports must not
    hold back its summary and its events (a rise in broken links), nor bury its one
    sentence under Prefect's traceback of the report task."""
    from flows.check_flow import check_catalog

    url = f"sqlite:///{isolated_cwd / 'run.db'}"
    copy_migrated_sqlite(isolated_cwd / "run.db")  # checked into, not migrated, here
    monkeypatch.setattr(reports.site, "_write_plain", _disk_full)
    with local_site() as site, _prefect_log() as records:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        _fail_twice_before(url, catalog_file, f"{site.base}/missing")
        state = check_catalog(
            overrides={
                "database_url": url,
                "catalogs": [str(catalog_file)],
                "allow_private": True,
                "reports_dir": str(isolated_cwd / "reports"),
            },
            return_state=True,
        )
    assert state.is_failed()
    with pytest.raises(ReportWriteError, match="cannot write the report into"):
        state.result()
    assert [e for e, _ in sent_events] == [EVENT_BROKEN_INCREASED]
    said = [r.getMessage() for r in records]
    assert any(m.startswith("Outcomes: ") for m in said), said
    assert not [m for r, m in zip(records, said, strict=True) if r.exc_info], "a traceback"
    engine = open_engine(url)
    try:
        run = store.latest_runs(engine)[0]
        assert run.trigger == "manual" and run.status == "completed"
    finally:
        engine.dispose()


@pytest.mark.flow
@pytest.mark.parametrize("unusable", ["read-only", "a file"])
def test_check_whose_report_folder_cannot_be_used_exits_1_as_a_failed_report_not_2(
    prefect_api: str,
    isolated_cwd: Path,
    sent_events: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    unusable: str,
) -> None:
    """A reports folder unusable from the start (a read-only mount, a file) made `check`
    exit 2, which for `check` means a run refused for its settings; the run was checked
    and stored whole. Exit 1, as a report that fails part-way, saying the run is kept."""
    folder = isolated_cwd / "reports"
    if unusable == "a file":
        folder.write_text("not a folder\n", encoding="utf-8")
    else:  # root writes anywhere: a read-only mount says so when the claim file is made
        folder.mkdir()
        mkstemp = reports.publish.tempfile.mkstemp

        def read_only(*args: Any, **kwargs: Any) -> tuple[int, str]:
            if Path(kwargs.get("dir") or ".") == folder:
                raise OSError(errno.EROFS, "Read-only file system")
            return mkstemp(*args, **kwargs)

        monkeypatch.setattr(reports.publish.tempfile, "mkstemp", read_only)
    db = isolated_cwd / "run.db"
    copy_migrated_sqlite(db)  # checked into, not migrated, here
    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        (isolated_cwd / "linkhealth.toml").write_text(
            f'database_url = "sqlite:///{db}"\nreports_dir = "{folder}"\n'
            f'catalogs = ["{catalog_file}"]\n[check]\nallow_private = true\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1, result.output
    said = result.stderr.splitlines()[-1]  # under Prefect's own lines of the report task
    assert said.startswith(f"error: cannot write the report into {folder}: "), result.stderr
    assert "is checked and stored all the same: `linkhealth report`" in said
    engine = open_engine(f"sqlite:///{db}")
    try:
        run = store.latest_runs(engine)[0]
        assert run.trigger == "manual" and run.status == "completed"
    finally:
        engine.dispose()


@contextmanager
def _prefect_log() -> Iterator[list[logging.LogRecord]]:
    """What the flow and task runs log at INFO and above (Prefect's loggers do not
    propagate)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    loggers = [logging.getLogger(f"prefect.{name}") for name in ("flow_runs", "task_runs")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_export_on_a_full_disk_is_one_line_and_keeps_the_last_export(
    db_url: str, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export was written in place: a full disk part-way left a truncated file where
    the last one was, and a traceback (Python names no file for ENOSPC on write)."""
    import catalog.export

    out = isolated_cwd / "links.csv"
    first = CliRunner().invoke(
        app, ["export", "--db", db_url, "--format", "csv", "--out", str(out)]
    )
    assert first.exit_code == 0, first.output
    before = out.read_bytes()

    def full(rows: Any, format: str, fh: Any) -> None:
        fh.write("collection,id\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(catalog.export, "write_export", full)
    result = CliRunner().invoke(
        app, ["export", "--db", db_url, "--format", "csv", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"error: cannot write {out}: No space left on device;")
    assert "\n" not in result.stderr.strip()
    assert out.read_bytes() == before
    assert [p.name for p in isolated_cwd.iterdir()] == ["links.csv"]
