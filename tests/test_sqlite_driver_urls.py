"""A relative SQLite file is pinned to its folder in every spelling SQLAlchemy takes for a
SQLite URL (`sqlite+<driver>:///`), not only `sqlite:///`: `sqlite+pysqlite:///rel.db` in
LINKHEALTH_DATABASE_URL was offered as is by an edit's recheck command, which pasted in
another folder found no database there (exit 3), and in a settings file it named a file
of the current folder, not of the settings file's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog.db import absolute_sqlite_url
from catalog.settings import load_settings
from flows.cli import app
from tests.factories import write_catalog

runner = CliRunner()


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+pysqlite", "sqlite+pysqlcipher"])
def test_a_relative_sqlite_file_is_made_absolute_in_every_driver_spelling(
    isolated_cwd: Path, scheme: str
) -> None:
    here = isolated_cwd.resolve()
    assert absolute_sqlite_url(f"{scheme}:///var/x.db") == f"{scheme}:///{here / 'var/x.db'}"
    for kept in ("/abs/x.db", ":memory:", "file:x.db?mode=ro&uri=true", ""):
        assert absolute_sqlite_url(f"{scheme}:///{kept}") == f"{scheme}:///{kept}"


def test_other_databases_are_left_as_they_are() -> None:
    for url in ("postgresql+psycopg:///lh", "mysql+pysqlite:///x.db", "sqlite://", "x.db"):
        assert absolute_sqlite_url(url) == url


def test_a_settings_files_relative_sqlite_file_is_its_folders_in_any_spelling(
    isolated_cwd: Path,
) -> None:
    folder = isolated_cwd / "service"
    folder.mkdir()
    (folder / "linkhealth.toml").write_text('database_url = "sqlite+pysqlite:///var/lh.db"\n')
    settings = load_settings(folder / "linkhealth.toml", use_env=False)
    assert settings.database_url == f"sqlite+pysqlite:///{(folder / 'var/lh.db').resolve()}"


def test_the_offered_recheck_names_a_pysqlite_file_by_its_absolute_path(
    isolated_cwd: Path,
    flow_calls: list[dict[str, Any]],
    no_prefect_api: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LINKHEALTH_DATABASE_URL=sqlite+pysqlite:///rel.db: the recheck an edit offers reaches
    this folder's rel.db when pasted in another folder, in a shell without the variable."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    catalog = write_catalog(
        isolated_cwd / "toolkit.yaml", [{"id": "a", "title": "A", "url": "https://example.org/a"}]
    )
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite+pysqlite:///rel.db")
    assert runner.invoke(app, ["sync", "--catalog", str(catalog)]).exit_code == 0
    edit = runner.invoke(app, ["mark-reviewed", "a", "--catalog", str(catalog)])
    assert edit.exit_code == 0, edit.output
    (command,) = re.findall(r"`(linkhealth recheck [^`]*)` checks the edit", edit.stdout)
    words = shlex.split(command)[1:]
    absolute = f"sqlite+pysqlite:///{(isolated_cwd / 'rel.db').resolve()}"
    assert words[words.index("--db") + 1] == absolute, words
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL")
    (isolated_cwd / "elsewhere").mkdir()
    monkeypatch.chdir(isolated_cwd / "elsewhere")
    pasted = runner.invoke(app, words)
    assert pasted.exit_code == 0, (words, pasted.output)
    (call,) = flow_calls
    assert call["overrides"]["database_url"] == absolute
