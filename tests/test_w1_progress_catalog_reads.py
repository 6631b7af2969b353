"""Reading a catalog says it is still working (`catalog.progress`), as the sync after it
does: a 20,000-entry catalog took 1 to 4 s to read (25 s when a single anchor sends it to
the round-trip parser), `catalog lint` 2 to 3 s more to lint it, and neither said a word.
Steps that are each done before the first line (2 s) but not together are said on one
clock: a block opened inside another is said by the outer one.
Slowed here by sleeps in the steps, with thresholds of a tenth of a second."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import catalog.hygiene
import catalog.progress
import catalog.source
import catalog.sync
from catalog.hygiene import lint
from catalog.progress import still_working
from catalog.source import load_catalogs, validate_catalogs
from flows.cli import app
from tests.factories import slowed, write_catalog


def _catalog(tmp_path: Path, n: int = 30) -> Path:
    return write_catalog(
        tmp_path / "big.yaml",
        [
            {"id": f"r{i}", "title": f"Entry {i}", "url": f"https://example.org/{i}"}
            for i in range(n)
        ],
    )


@pytest.mark.parametrize("read", [load_catalogs, validate_catalogs])
def test_a_catalog_that_takes_long_to_read_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quick_progress: None,
    read: Callable[[list[Path]], object],
) -> None:
    path = _catalog(tmp_path)
    slowed(monkeypatch, catalog.source, "_parse", 0.4)
    capfd.readouterr()
    read([path])
    said = capfd.readouterr().err.splitlines()
    assert f"Reading the catalog {path}..." in said, said


def test_a_quick_read_says_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = _catalog(tmp_path)
    capfd.readouterr()
    load_catalogs([path])
    assert capfd.readouterr().err == ""


def test_a_lint_that_takes_long_counts_the_entries_linted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quick_progress: None,
) -> None:
    catalogs = load_catalogs([_catalog(tmp_path)])
    slowed(monkeypatch, catalog.hygiene, "_fields", 0.02)
    capfd.readouterr()
    lint(catalogs)
    counts = [
        int(m[1])
        for line in capfd.readouterr().err.splitlines()
        if (m := re.fullmatch(r"Linting catalog entries: (\d+) of 30", line))
    ]
    assert counts, "no progress line"
    assert counts == sorted(counts) and counts[-1] <= 30


def test_a_block_inside_another_is_said_by_the_outer_one_on_its_clock() -> None:
    outer: list[str] = []
    inner: list[str] = []
    with still_working("Outer", after_s=0.05, every_s=0.05, say=outer.append):
        # Done before its own first line (10 s): said by the outer block all the same.
        with still_working("Inner", 10, after_s=10, say=inner.append) as working:
            working.done = 4
            time.sleep(0.3)
        said = len(outer)
        time.sleep(0.2)
    assert inner == []
    assert outer[:said] and set(outer[:said]) == {"Inner: 4 of 10"}
    assert outer[said:] and set(outer[said:]) == {"Outer..."}  # its own line once it ended


def test_sync_says_its_read_and_its_sync_on_one_clock(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step done before the first line (0.6 s), both together after it."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///lh.db")
    monkeypatch.setattr(catalog.progress, "AFTER_S", 0.6)
    _catalog(isolated_cwd, 3)
    slowed(monkeypatch, catalog.source, "_parse", 0.4)
    slowed(monkeypatch, catalog.sync, "_sync_one", 0.4)
    result = CliRunner().invoke(app, ["sync", "--catalog", "big.yaml"])
    assert result.exit_code == 0, result.output
    said = result.stderr.splitlines()
    assert said and all(
        line.startswith(("Reading the catalog", "Syncing the catalogs", "Syncing catalog entries"))
        for line in said
    ), said


def test_the_reports_forked_lint_child_says_no_progress(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    quick_progress: None,
) -> None:
    """`linkhealth report` lints a big catalog in a forked child while its rich progress
    bar shows: the child's stderr is the parent's terminal, seen through the bar's proxy and
    locks as they were at the fork. Its "Reading the catalog ..." came out through that
    stale bar (and a lock copied held would hang it): the child says nothing. The same
    lint in this process still says its read, so the child was slow enough to speak."""
    from reports.forked import Forked, can_fork
    from reports.publish import lint_files

    if not can_fork():
        pytest.skip("no forked child here (not Linux, or one core)")
    path = _catalog(tmp_path)
    slowed(monkeypatch, catalog.source, "_parse", 0.4)
    capfd.readouterr()
    hygiene = Forked(lambda: lint_files([path]), enabled=True)
    assert hygiene.in_child
    in_child = hygiene.result()
    assert capfd.readouterr().err == ""
    assert lint_files([path]) == in_child
    assert f"Reading the catalog {path}..." in capfd.readouterr().err.splitlines()
