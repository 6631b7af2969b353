"""An empty path option (an unset `$CATALOG`) is a usage error naming the option, not the
current folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.factories import write_catalog

runner = CliRunner()
OLD = "https://example.org/old"


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@pytest.mark.parametrize(
    "command",
    [
        ["check", "--catalog", ""],
        ["sync", "--catalog", ""],
        ["recheck", "a", "--catalog", ""],
        ["export", "--catalog", ""],
        ["catalog", "validate", "--catalog", ""],
        ["catalog", "lint", "--catalog", ""],
        ["mark-reviewed", "a", "--catalog", ""],
        ["report", "--catalog", "x.yaml", "--catalog", ""],
    ],
)
def test_an_empty_catalog_is_refused_naming_the_option(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """`--catalog ""` read every *.yaml and *.csv file of the current folder as a catalog
    (a `sync` added them all to the database)."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///lh.db")
    write_catalog(isolated_cwd / "stray.yaml", [{"id": "s", "title": "Stray", "url": OLD}])

    result = runner.invoke(app, command)

    assert result.exit_code == 2, result.output
    assert "'--catalog'" in result.stderr and "is empty" in result.stderr
    assert "stray" not in result.output
    assert not (isolated_cwd / "lh.db").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["sync", "--config", ""],
        ["export", "--config", ""],
        ["resource", "a", "--config", ""],
        ["catalog", "lint", "--config", ""],
    ],
)
def test_an_empty_config_is_refused_naming_the_option(
    isolated_cwd: Path, command: list[str]
) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "'--config'" in result.stderr and "is empty" in result.stderr


@pytest.mark.parametrize("command", ["validate", "lint"])
def test_an_empty_file_argument_of_validate_is_refused(isolated_cwd: Path, command: str) -> None:
    write_catalog(isolated_cwd / "stray.yaml", [{"id": "s", "title": "Stray", "url": OLD}])
    result = runner.invoke(app, ["catalog", command, ""])
    assert result.exit_code == 2, result.output
    assert "is empty" in result.stderr and "stray" not in result.output


def test_export_out_empty_is_refused_naming_the_option(isolated_cwd: Path) -> None:
    result = runner.invoke(app, ["export", "--out", ""])
    assert result.exit_code == 2, result.output
    assert "'--out'" in result.stderr and "is empty" in result.stderr
