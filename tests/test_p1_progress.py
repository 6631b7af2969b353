"""Long steps say they are still working on stderr (`catalog.progress`): `sync` and
`mark-reviewed` of a 20,000-entry catalog, and a report of a large database, sat silent for
8 to 12 s. Slowed here by a sleep in the step, with thresholds of a tenth of a second."""

from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

import pytest

import catalog.catalog_edit
import catalog.progress
import catalog.sync
import reports.publish
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.progress import say_on_stderr, still_working
from catalog.settings import Settings
from catalog.sync import sync_catalogs
from reports import publish_report
from tests import report_fixtures as fx
from tests.factories import make_catalog, make_resource, migrated_sqlite, slowed, write_catalog


def _lines(capfd: pytest.CaptureFixture[str]) -> list[str]:
    return capfd.readouterr().err.splitlines()


def test_a_quick_step_says_nothing_and_a_slow_one_says_each_every_s() -> None:
    said: list[str] = []
    with still_working("Quick", after_s=0.5, say=said.append):
        pass
    assert said == []
    with still_working("Counting", 100, after_s=0.05, every_s=0.05, say=said.append) as working:
        working.done = 40
        time.sleep(0.4)
    count = len(said)
    assert count >= 3 and set(said) == {"Counting: 40 of 100"}
    time.sleep(0.15)
    assert len(said) == count  # not a word once the step has ended


def test_a_sync_that_takes_long_counts_the_entries_synced(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quick_progress: None,
) -> None:
    monkeypatch.setattr(catalog.sync, "SYNC_CHUNK", 10)
    slowed(monkeypatch, catalog.sync, "_sync_chunk", 0.1)
    engine = migrated_sqlite(tmp_path / "lh.db")
    entries = make_catalog(resources=[make_resource(f"r{i}") for i in range(50)])
    try:
        capfd.readouterr()
        sync_catalogs(engine, [entries], now=fx.NOW)
    finally:
        engine.dispose()
    counts = [
        int(m[1].replace(",", ""))
        for line in _lines(capfd)
        if (m := re.fullmatch(r"Syncing catalog entries: ([\d,]+) of 50", line))
    ]
    assert counts, "no progress line"
    assert counts == sorted(counts) and counts[-1] <= 50


def test_a_quick_sync_says_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    engine = migrated_sqlite(tmp_path / "lh.db")
    try:
        capfd.readouterr()
        sync_catalogs(engine, [make_catalog(resources=[make_resource("r1")])], now=fx.NOW)
    finally:
        engine.dispose()
    assert _lines(capfd) == []


def test_an_edit_whose_check_takes_long_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quick_progress: None,
) -> None:
    """mark-reviewed, snooze's catalog edit: the whole edited file is validated."""
    path = write_catalog(
        tmp_path / "big.yaml",
        [{"id": "r1", "title": "One", "url": "https://example.org/1"}],
    )
    slowed(monkeypatch, catalog.catalog_edit, "validate_catalog", 0.4)
    capfd.readouterr()
    apply_edits(path, [FieldEdit("r1", "title", "Uno")])
    said = _lines(capfd)
    assert f"Checking the edited catalog {path} for new problems..." in said, said


def test_a_report_whose_reads_take_long_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quick_progress: None,
) -> None:
    engine = fx.fixed_db(tmp_path / "lh.db")
    url = str(engine.url)
    engine.dispose()
    slowed(monkeypatch, reports.publish, "report_data", 0.4)
    settings = Settings().with_overrides(database_url=url, reports_dir=tmp_path / "reports")
    capfd.readouterr()
    publish_report(settings, clock=lambda: fx.NOW)
    said = _lines(capfd)
    assert "Reading the report's data from the database..." in said, said


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_line_goes_through_sys_stderr_for_a_progress_bar_to_place(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """rich's bar replaces sys.stderr while it shows; a write to the descriptor would land
    in the middle of the bar."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    say_on_stderr("Syncing catalog entries: 2,000 of 20,000")
    assert terminal.getvalue() == "Syncing catalog entries: 2,000 of 20,000\n"
    assert capfd.readouterr().err == ""


def test_in_a_log_a_line_is_one_write_to_the_descriptor_with_controls_shown(
    capfd: pytest.CaptureFixture[str],
) -> None:
    say_on_stderr("Editing the catalog /tmp/evil\x1b[2J.yaml...")
    err = capfd.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1 and "\x1b" not in err
