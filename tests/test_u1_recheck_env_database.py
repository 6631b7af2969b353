"""The recheck an edit offers when LINKHEALTH_DATABASE_URL chose its database: pasted in
the same shell it inherits the variable, but pasted where it is not set (cron, another
terminal) it read the settings file's database, or the default one. It now names it as a
report's commands do (README, "Reports"): `--db`, without a password. A URL with a password
is not named (the command would fail to log in from this shell without it): the message
says which database it needs instead."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog.settings import Settings
from flows.cli import app
from flows.cli_curate import _EditedWith
from tests.factories import write_catalog

runner = CliRunner()
ENTRIES = [{"id": "a", "title": "First", "url": "https://example.org/a"}]


@pytest.fixture(autouse=True)
def _no_settings_from_the_shell(no_prefect_api: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _offered(output: str) -> list[str]:
    (command,) = re.findall(r"`(linkhealth recheck [^`]*)` checks the edit", output)
    return shlex.split(command)[1:]


def _pasted_elsewhere(
    words: list[str],
    calls: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    elsewhere: Path | None = None,
) -> dict[str, Any]:
    """The offered command run in a shell that sets no LINKHEALTH_* variable (in the folder
    `elsewhere`, when given): it exits 0 and starts one flow run."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    if elsewhere is not None:
        elsewhere.mkdir(exist_ok=True)
        monkeypatch.chdir(elsewhere)
    calls.clear()
    result = runner.invoke(app, words)
    assert result.exit_code == 0, (words, result.output)
    (call,) = calls
    return call


@pytest.mark.parametrize(
    "command", [["mark-reviewed", "a"], ["replace-url", "a", "https://example.org/b"]]
)
def test_an_edit_in_the_variables_database_offers_a_recheck_that_names_it(
    isolated_cwd: Path,
    flow_calls: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    (isolated_cwd / "var").mkdir()  # the settings' own database, var/linkhealth.db
    assert runner.invoke(app, ["sync"]).exit_code == 0
    shared = f"sqlite:///{isolated_cwd / 'shared.db'}"
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", shared)
    assert runner.invoke(app, ["sync"]).exit_code == 0
    edit = runner.invoke(app, command)
    assert edit.exit_code == 0, edit.output
    words = _offered(edit.stdout)
    assert words == ["recheck", "--changed", "--db", shared]
    call = _pasted_elsewhere(words, flow_calls, monkeypatch)
    assert call["overrides"]["database_url"] == shared


def test_a_variable_naming_the_settings_database_adds_nothing(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    (isolated_cwd / "var").mkdir()
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///var/linkhealth.db")
    assert runner.invoke(app, ["sync"]).exit_code == 0
    edit = runner.invoke(app, ["mark-reviewed", "a"])
    assert _offered(edit.stdout) == ["recheck", "--changed"]


def test_a_database_url_with_a_password_is_said_not_printed(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--db` without the password would fail to log in from this shell, whose variable
    holds it: the command stays as it was, and the message names the database."""
    url = "postgresql+psycopg://linkhealth:s3cret@db.example.org/linkhealth"
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", url)
    edited = _EditedWith.of(None, None, None, Settings(database_url=url))
    assert edited.recheck("toolkit.yaml") == ("linkhealth recheck --changed --catalog toolkit.yaml")
    assert edited.where() == (
        " (in a shell whose LINKHEALTH_DATABASE_URL names "
        "postgresql+psycopg://linkhealth:***@db.example.org/linkhealth, as here)"
    )
    without = _EditedWith.of(None, None, None, Settings(database_url=url.replace(":s3cret", "")))
    assert without.recheck("toolkit.yaml") == (
        "linkhealth recheck --changed --db "
        "postgresql+psycopg://linkhealth@db.example.org/linkhealth --catalog toolkit.yaml"
    )
    assert without.where() == ""
