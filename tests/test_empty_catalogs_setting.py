"""`catalogs = []` in linkhealth.toml names no catalog: refused naming file, line and
setting (exit 2), never taken as "retire every collection"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.db import engine_for
from catalog.errors import ConfigError
from catalog.settings import load_settings
from catalog.store import stored_collections
from flows.cli import app

runner = CliRunner()


def test_an_empty_catalogs_list_is_refused_naming_file_and_line(isolated_cwd: Path) -> None:
    config = isolated_cwd / "linkhealth.toml"
    config.write_text('database_url = "sqlite:///lh.db"\ncatalogs = []\n')
    with pytest.raises(ConfigError, match=r"catalogs is an empty list") as caught:
        load_settings()
    assert str(caught.value).startswith(f"{config}:2: catalogs")


@pytest.mark.parametrize("command", [["sync"], ["catalog", "validate"]])
def test_sync_and_validate_of_an_empty_catalogs_list_exit_2_and_retire_nothing(
    toolkit_synced: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`sync` retired every collection of the database ("Synced 1 catalog(s)"), and
    `catalog validate` said nothing and exited 0."""
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL")
    config = toolkit_synced / "linkhealth.toml"
    config.write_text('database_url = "sqlite:///var/lh.db"\n\ncatalogs = [\n]\n')

    result = runner.invoke(app, command)

    assert result.exit_code == 2, result.output
    assert f"{config}:3: catalogs is an empty list" in result.stderr
    assert "retired" not in result.output
    engine = engine_for(f"sqlite:///{toolkit_synced / 'var' / 'lh.db'}")
    assert stored_collections(engine) == {"toolkit"}
