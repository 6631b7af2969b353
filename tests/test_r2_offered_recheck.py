"""The recheck an edit offers (012c51f), pasted as printed in the folder it was made in: it
must reach the flow run with the edited file and the edit's database, with and without a
settings file, relative and absolute paths, and paths with spaces."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.factories import copy_migrated_sqlite, write_catalog

runner = CliRunner()
ENTRIES = [{"id": "a", "title": "First", "url": "https://example.org/a"}]
TRIAL = "sqlite:///var/trial.db"


def _migrated(folder: Path, name: str) -> None:
    """var/`name` in `folder` made a migrated copy: what is tested is the offered recheck,
    not the sync's migrating a new file (SQLite, as these tests' databases are anyway)."""
    copy_migrated_sqlite(folder / "var" / name)


@pytest.fixture(autouse=True)
def _no_settings_from_the_shell(no_prefect_api: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Prefect API to announce to, and no settings from the shell (`flow_calls` stands
    in for the recheck flow)."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _offered(output: str) -> list[str]:
    """The `linkhealth recheck ...` an edit printed, split as a shell splits it."""
    (command,) = re.findall(r"`(linkhealth recheck [^`]*)` checks the edit", output)
    words = shlex.split(command)
    assert words[:2] == ["linkhealth", "recheck"]
    return words[1:]


def _pasted(words: list[str], calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The offered command run: its exit code is 0 and it starts one flow run."""
    calls.clear()
    result = runner.invoke(app, words)
    assert result.exit_code == 0, (words, result.output)
    (call,) = calls
    return call


@pytest.mark.parametrize("settings_file", [False, True])
@pytest.mark.parametrize("folder_name", ["lists", "my lists"])
@pytest.mark.parametrize("given", ["no --catalog", "relative --catalog", "absolute --catalog"])
def test_the_recheck_a_trial_edit_offers_runs_as_pasted(
    isolated_cwd: Path,
    flow_calls: list[dict[str, Any]],
    settings_file: bool,
    folder_name: str,
    given: str,
) -> None:
    """README's trial: the file synced into var/trial.db, then `mark-reviewed a --db ...`
    (with or without --catalog) in the folder of production's linkhealth.toml, or of none."""
    (isolated_cwd / "var").mkdir()
    if settings_file:
        write_catalog(isolated_cwd / "production.yaml", [{**ENTRIES[0], "id": "p"}])
        (isolated_cwd / "linkhealth.toml").write_text(
            'database_url = "sqlite:///var/linkhealth.db"\ncatalogs = ["production.yaml"]\n'
        )
    (isolated_cwd / folder_name).mkdir()
    relative = Path(folder_name) / "my toolkit.yaml"
    write_catalog(isolated_cwd / relative, ENTRIES)
    _migrated(isolated_cwd, "trial.db")
    synced = runner.invoke(app, ["sync", "--catalog", str(relative), "--db", TRIAL])
    assert synced.exit_code == 0, synced.output
    catalog = {
        "no --catalog": [],
        "relative --catalog": ["--catalog", str(relative)],
        "absolute --catalog": ["--catalog", str(isolated_cwd / relative)],
    }[given]
    edit = runner.invoke(app, ["mark-reviewed", "a", "--db", TRIAL, *catalog])
    assert edit.exit_code == 0, edit.output
    call = _pasted(_offered(edit.stdout), flow_calls)
    assert call["changed_only"] is True
    assert call["overrides"]["database_url"] == TRIAL
    (file,) = call["overrides"]["catalogs"]
    assert Path(file).resolve() == (isolated_cwd / relative).resolve()


def test_the_recheck_an_edit_made_with_a_trial_settings_file_offers_runs_as_pasted(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """`--config "trial settings.toml"` naming the file and the trial database: the offered
    recheck carries the --config, and needs no --catalog."""
    (isolated_cwd / "var").mkdir()
    write_catalog(isolated_cwd / "my toolkit.yaml", ENTRIES)
    (isolated_cwd / "trial settings.toml").write_text(
        f'database_url = "{TRIAL}"\ncatalogs = ["my toolkit.yaml"]\n'
    )
    config = ["--config", "trial settings.toml"]
    _migrated(isolated_cwd, "trial.db")
    assert runner.invoke(app, ["sync", *config]).exit_code == 0
    edit = runner.invoke(app, ["replace-url", "a", "https://example.org/b", *config])
    assert edit.exit_code == 0, edit.output
    words = _offered(edit.stdout)
    assert "--catalog" not in words
    call = _pasted(words, flow_calls)
    assert call["config"] == "trial settings.toml" and call["changed_only"] is True


@pytest.mark.parametrize("named_by", ["folder", "file"])
def test_the_recheck_of_an_edit_the_settings_read_runs_as_pasted(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]], named_by: str
) -> None:
    """The default database, the settings naming the edited file (or its folder): no --db
    and no --catalog, and the pasted recheck reads the configured catalogs."""
    (isolated_cwd / "lists").mkdir()
    write_catalog(isolated_cwd / "lists" / "toolkit.yaml", ENTRIES)
    named = "lists" if named_by == "folder" else "lists/toolkit.yaml"
    (isolated_cwd / "linkhealth.toml").write_text(f'catalogs = ["{named}"]\n')
    _migrated(isolated_cwd, "linkhealth.db")
    assert runner.invoke(app, ["sync"]).exit_code == 0
    edit = runner.invoke(app, ["mark-reviewed", "a"])
    assert edit.exit_code == 0, edit.output
    words = _offered(edit.stdout)
    assert words == ["recheck", "--changed"]
    call = _pasted(words, flow_calls)
    assert call["overrides"] == {} and call["config"] is None


def test_the_recheck_of_a_file_checked_into_the_default_database_runs_as_pasted(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """`check --catalog my-toolkit.yaml` with no settings file and no --db (the default
    var/linkhealth.db), then an edit: the pasted recheck reads that file, not the demo."""
    write_catalog(isolated_cwd / "my-toolkit.yaml", ENTRIES)
    _migrated(isolated_cwd, "linkhealth.db")
    assert runner.invoke(app, ["sync", "--catalog", "my-toolkit.yaml"]).exit_code == 0
    edit = runner.invoke(app, ["mark-reviewed", "a"])
    assert edit.exit_code == 0, edit.output
    call = _pasted(_offered(edit.stdout), flow_calls)
    (file,) = call["overrides"]["catalogs"]
    assert Path(file).resolve() == (isolated_cwd / "my-toolkit.yaml").resolve()
