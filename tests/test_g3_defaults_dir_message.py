"""A LINKHEALTH_DEFAULTS_DIR naming a folder that does not exist is named as the cause.

`sync` exited 2 blaming "--db, --to, LINKHEALTH_DATABASE_URL or database_url", none of
which the user had set: the default database's path was built from the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("command", "exit_code"), [("sync", 2), ("status", 3)])
def test_a_missing_defaults_dir_is_named(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, command: str, exit_code: int
) -> None:
    missing = isolated_cwd / "srv" / "linkhealth"
    monkeypatch.setenv("LINKHEALTH_DEFAULTS_DIR", str(missing))

    result = runner.invoke(app, [command])

    assert result.exit_code == exit_code, result.output
    said = " ".join(result.stderr.split())  # as wrapped for the terminal or not
    assert f"folder LINKHEALTH_DEFAULTS_DIR names ({missing})" in said
    assert "correct LINKHEALTH_DEFAULTS_DIR" in said
    assert "--db, --to" not in said and "correct the path" not in said
    assert not missing.exists()  # nothing made on the way


def test_a_db_option_to_a_missing_folder_is_still_blamed_with_the_variable_set(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variable names only where the default goes: a path the user gave is theirs."""
    monkeypatch.setenv("LINKHEALTH_DEFAULTS_DIR", str(isolated_cwd / "missing"))

    result = runner.invoke(app, ["sync", "--db", f"sqlite:///{isolated_cwd}/typo/x.db"])

    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "correct the path that --db, --to, LINKHEALTH_DATABASE_URL or database_url" in said
    assert "LINKHEALTH_DEFAULTS_DIR" not in said
