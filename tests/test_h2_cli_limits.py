"""Numbers on the command line past what the database or a polite check can take: refused
as usage (exit 2, naming the option), never a traceback or a check with politeness off."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.settings import MAX_RUN_ID, MAX_SHOWN
from flows.cli import app

runner = CliRunner()

HUGE = "99999999999999999999"  # past SQLite's INTEGER: an OverflowError traceback before

CATALOG = """\
resources:
  - id: a
    title: First
    url: https://example.org/a
"""


@pytest.fixture
def synced(isolated_cwd: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database that holds one resource, so each command would reach it."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", db_url)
    (isolated_cwd / "one.yaml").write_text(CATALOG)
    assert runner.invoke(app, ["sync", "--catalog", "one.yaml"]).exit_code == 0
    return isolated_cwd


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["status", "--limit", HUGE], "--limit"),
        (["resource", "a", "--limit", HUGE], "--limit"),
        (["report", "--run", HUGE, "--out", "out"], "--run"),
        (["status", "--limit", str(MAX_SHOWN + 1)], "--limit"),
        (["report", "--run", str(MAX_RUN_ID + 1), "--out", "out"], "--run"),
    ],
)
def test_a_number_too_large_is_a_usage_error(synced: Path, args: list[str], option: str) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == 2, result.output
    assert option in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_largest_numbers_allowed_still_work(synced: Path) -> None:
    assert runner.invoke(app, ["status", "--limit", str(MAX_SHOWN)]).exit_code == 0
    assert runner.invoke(app, ["resource", "a", "--limit", str(MAX_SHOWN)]).exit_code == 0
    missing = runner.invoke(app, ["report", "--run", str(MAX_RUN_ID), "--out", "out"])
    assert missing.exit_code == 4 and f"run {MAX_RUN_ID} does not exist" in missing.stderr
