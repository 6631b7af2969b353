"""Database URLs that would keep nothing, or are no URL at all, refused as usage (exit 2)
wherever one is taken, naming where it came from: `sqlite:///$UNSET` is `sqlite:///`,
an in-memory database that took a whole sync and said "1 added"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

CATALOG = """\
collection:
  title: Good
resources:
  - id: a
    title: Page A
    url: https://example.org/a
"""

MEMORY = ["sqlite://", "sqlite:///", "sqlite:///:memory:"]


@pytest.fixture
def catalog_file(isolated_cwd: Path) -> Path:
    path = isolated_cwd / "good.yaml"
    path.write_text(CATALOG)
    return path


@pytest.mark.parametrize("url", MEMORY)
def test_an_in_memory_db_option_is_refused(catalog_file: Path, url: str) -> None:
    result = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file), "--db", url])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --db {url!r} names no database file")
    assert "added" not in result.stdout


def test_an_in_memory_database_from_the_environment_is_refused(
    catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///")
    result = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file)])
    assert result.exit_code == 2, result.output
    assert "LINKHEALTH_DATABASE_URL 'sqlite:///' names no database file" in result.stderr


def test_an_in_memory_database_in_the_settings_file_is_refused(catalog_file: Path) -> None:
    config = catalog_file.parent / "mem.toml"
    config.write_text('catalogs = ["good.yaml"]\ndatabase_url = "sqlite://"\n')
    result = CliRunner().invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert f"{config}:2: database_url 'sqlite://' names no database file" in result.stderr


def test_a_copy_into_no_database_file_is_refused(catalog_file: Path) -> None:
    source = f"sqlite:///{catalog_file.parent / 'lh.db'}"
    synced = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file), "--db", source])
    assert synced.exit_code == 0, synced.output
    result = CliRunner().invoke(app, ["db", "copy", "--db", source, "--to", "sqlite:///"])
    assert result.exit_code == 2, result.output
    assert "--to 'sqlite:///' names no database file" in result.stderr
    assert "Copied" not in result.stdout


def test_a_db_option_that_is_no_url_is_a_usage_error(catalog_file: Path) -> None:
    result = CliRunner().invoke(app, ["status", "--db", "foo"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --db 'foo' is not a database URL")


def test_a_file_that_is_not_a_database_is_not_called_damaged(catalog_file: Path) -> None:
    result = CliRunner().invoke(app, ["status", "--db", f"sqlite:///{catalog_file}"])
    assert result.exit_code == 3, result.output
    said = result.stderr
    assert f"{catalog_file} is not a SQLite database (" in said and " is damaged (" not in said
    assert catalog_file.read_text() == CATALOG  # untouched
