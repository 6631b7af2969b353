"""The recheck an edit offers when the shell's LINKHEALTH_* variables chose its settings: it
must run as pasted in another folder or shell, where they are not set. A relative SQLite
file in LINKHEALTH_DATABASE_URL (`sqlite:///rel.db`) is named by its absolute path (as
printed, it named another file in any other folder), and the settings file
LINKHEALTH_CONFIG named is carried as an absolute `--config` (pasted where the variable is
not set, the recheck read `./linkhealth.toml`, or the defaults: other catalogs, database
and rules)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from flows.cli import app
from tests.factories import write_catalog

# The same shell without LINKHEALTH_* variables (an autouse fixture), and the same reading
# of the offer.
from tests.test_u1_recheck_env_database import (
    ENTRIES,
    _no_settings_from_the_shell,  # noqa: F401
    _offered,
    _pasted_elsewhere,
    runner,
)


@pytest.mark.parametrize("named_by", ["LINKHEALTH_CONFIG", "--catalog"])
@pytest.mark.parametrize(
    "command", [["mark-reviewed", "a"], ["replace-url", "a", "https://example.org/b"]]
)
def test_a_relative_sqlite_file_in_the_variable_is_offered_by_its_absolute_path(
    isolated_cwd: Path,
    flow_calls: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    named_by: str,
) -> None:
    """LINKHEALTH_DATABASE_URL=sqlite:///rel.db, the catalog named by a settings file
    LINKHEALTH_CONFIG names (absolute), or by an absolute --catalog: the offered recheck
    pasted in another folder reaches this folder's rel.db (as printed, `--db
    sqlite:///rel.db` found no database there, exit 3)."""
    catalog = isolated_cwd / "toolkit.yaml"
    write_catalog(catalog, ENTRIES)
    options: list[str] = []
    if named_by == "LINKHEALTH_CONFIG":
        (isolated_cwd / "service.toml").write_text('catalogs = ["toolkit.yaml"]\n')
        monkeypatch.setenv("LINKHEALTH_CONFIG", str(isolated_cwd / "service.toml"))
    else:
        options = ["--catalog", str(catalog)]
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///rel.db")
    assert runner.invoke(app, ["sync", *options]).exit_code == 0
    edit = runner.invoke(app, [*command, *options])
    assert edit.exit_code == 0, edit.output
    words = _offered(edit.stdout)
    absolute = f"sqlite:///{(isolated_cwd / 'rel.db').resolve()}"
    assert words[words.index("--db") + 1] == absolute
    call = _pasted_elsewhere(words, flow_calls, monkeypatch, isolated_cwd / "elsewhere")
    assert call["overrides"]["database_url"] == absolute


def test_the_settings_file_the_variable_named_is_carried_by_its_absolute_path(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LINKHEALTH_CONFIG=trial.toml, a file naming its catalog and database: the offered
    recheck names the file, and pasted elsewhere reads it (and needs no --db or
    --catalog, which the file names)."""
    (isolated_cwd / "var").mkdir()
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "trial.toml").write_text(
        'database_url = "sqlite:///var/trial.db"\ncatalogs = ["toolkit.yaml"]\n'
    )
    monkeypatch.setenv("LINKHEALTH_CONFIG", "trial.toml")
    assert runner.invoke(app, ["sync"]).exit_code == 0
    edit = runner.invoke(app, ["mark-reviewed", "a"])
    assert edit.exit_code == 0, edit.output
    words = _offered(edit.stdout)
    config = str((isolated_cwd / "trial.toml").resolve())
    assert words == ["recheck", "--changed", "--config", config]
    call = _pasted_elsewhere(words, flow_calls, monkeypatch, isolated_cwd / "elsewhere")
    assert call["config"] == config


def _catalog_edited_offers(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str]:
    """The recheck `catalog edited` says to run (its words after `linkhealth`) for an edit of
    the catalog LINKHEALTH_CONFIG's service.toml names, and that file's absolute path."""
    (cwd / "var").mkdir()
    write_catalog(cwd / "toolkit.yaml", ENTRIES)
    (cwd / "service.toml").write_text(
        'database_url = "sqlite:///var/service.db"\ncatalogs = ["toolkit.yaml"]\n'
    )
    monkeypatch.setenv("LINKHEALTH_CONFIG", "service.toml")
    assert runner.invoke(app, ["sync"]).exit_code == 0
    edited = runner.invoke(app, ["catalog", "edited", "toolkit.yaml"])
    assert edited.exit_code == 0, edited.output
    (command,) = re.findall(r"run `(linkhealth recheck [^`]*)` to check it", edited.stderr)
    return shlex.split(command)[1:], str((cwd / "service.toml").resolve())


def test_catalog_edited_carries_the_settings_file_the_variable_named(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the git hook's log says to run when no Prefect API answers: read later, in a
    shell without the hook's LINKHEALTH_CONFIG, it checked the demo catalog instead."""
    words, config = _catalog_edited_offers(isolated_cwd, monkeypatch)
    assert words == ["recheck", "--changed", "--config", config]
    call = _pasted_elsewhere(words, flow_calls, monkeypatch, isolated_cwd / "elsewhere")
    assert call["config"] == config


def test_catalog_edited_names_the_database_the_variable_named_by_its_absolute_path(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LINKHEALTH_CONFIG's file names the catalog, LINKHEALTH_DATABASE_URL=sqlite:///rel.db
    the database, as for the curate commands above: the recheck the git hook's log says to
    run named the settings file only, and read later in a shell without the variables it
    checked the edit in the file's database (var/service.db), not the one edited in."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///rel.db")
    words, config = _catalog_edited_offers(isolated_cwd, monkeypatch)
    absolute = f"sqlite:///{(isolated_cwd / 'rel.db').resolve()}"
    assert words == ["recheck", "--changed", "--config", config, "--db", absolute], words
    call = _pasted_elsewhere(words, flow_calls, monkeypatch, isolated_cwd / "elsewhere")
    assert (call["config"], call["overrides"]["database_url"]) == (config, absolute)


def test_catalog_edited_says_where_to_run_a_recheck_of_a_database_with_a_password(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LINKHEALTH_DATABASE_URL with a password is not printed in the command (it would
    fail to log in without it): the line says which database the shell must name, as the
    curate commands' does."""
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    monkeypatch.setenv(
        "LINKHEALTH_DATABASE_URL", "postgresql+psycopg://lh:s3cret@db.example.org/linkhealth"
    )
    edited = runner.invoke(app, ["catalog", "edited", "toolkit.yaml"])
    assert edited.exit_code == 0, edited.output
    assert "s3cret" not in edited.output
    (line,) = [li for li in edited.stderr.splitlines() if "to check it" in li]
    assert "`linkhealth recheck --changed` (in a shell whose LINKHEALTH_DATABASE_URL names " in (
        line
    ), line
    assert "db.example.org" in line, line
