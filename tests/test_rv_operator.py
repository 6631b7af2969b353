"""Reviewer rv-operator: the operator's side of the README (Command line, Exit codes,
Configuration, Storage) checked against the commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.factories import write_catalog

runner = CliRunner()
URL = "https://example.org/page"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # the discard port: nothing answers


def test_recheck_refuses_an_empty_catalog_as_the_other_commands_do(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README, Command line: "An empty `--catalog` ... (`--catalog "$UNSET"`) is refused
    (exit 2), not taken for the current folder." `recheck` declares its own --catalog
    without the check the others have: `recheck s --catalog ""` took the current folder,
    synced every *.yaml and *.csv in it as a catalog and went on to check them (starting
    a local Prefect server to do so)."""
    import flows.cli

    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///lh.db")
    write_catalog(isolated_cwd / "stray.yaml", [{"id": "s", "title": "Stray", "url": URL}])

    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("recheck went on to run with the current folder as its catalog")

    monkeypatch.setattr(flows.cli, "flow_run_here", no_run)

    result = runner.invoke(app, ["recheck", "s", "--catalog", ""])

    assert result.exit_code == 2, result.output
    assert "'--catalog'" in result.stderr and "is empty" in result.stderr
    assert not (isolated_cwd / "lh.db").exists()


@pytest.mark.parametrize(
    ("setting", "name"),
    [('catalogs = [""]', "catalogs[0]"), ('reports_dir = ""', "reports_dir")],
)
def test_an_empty_path_in_the_settings_file_is_refused_naming_file_and_line(
    isolated_cwd: Path, setting: str, name: str
) -> None:
    """An empty path in linkhealth.toml (`catalogs = ["${CATALOG}"]` templated with an
    unset variable) is taken for the settings file's own folder: `catalogs = [""]` syncs
    every *.yaml and *.csv beside linkhealth.toml as a catalog, and `reports_dir = ""`
    writes index.html, style.css, run-N.html and the report's folders into the folder of
    the settings file (a checkout's root), which `report --out` would refuse. The README
    refuses the same empty value on the command line (exit 2, "not taken for the current
    folder") and has a value of the wrong shape named with file, line and setting."""
    write_catalog(isolated_cwd / "toolkit.yaml", [{"id": "a", "title": "First", "url": URL}])
    write_catalog(isolated_cwd / "stray.yaml", [{"id": "s", "title": "Stray", "url": URL}])
    config = isolated_cwd / "linkhealth.toml"
    lines = ['database_url = "sqlite:///lh.db"', 'catalogs = ["toolkit.yaml"]']
    lines = [*[line for line in lines if not line.startswith(setting.split()[0])], setting]
    config.write_text("\n".join(lines) + "\n")

    result = runner.invoke(app, ["sync"])

    assert result.exit_code == 2, result.output
    assert f"{config}:{len(lines)}: {name}" in result.stderr
    assert "stray" not in result.output
    assert not (isolated_cwd / "lh.db").exists()


def test_the_library_run_refuses_the_demo_catalog_into_a_database_of_other_collections(
    toolkit_synced: Path,
) -> None:
    """README, Configuration: with no settings file naming `catalogs`, "`sync`, `check` and
    `recheck` refuse (exit 2) to put [the bundled demo toolkit] into a database named with
    `--db`, `LINKHEALTH_DATABASE_URL` ... that already holds other collections". That guard
    lives in the command line only (`flows.cli.refuse_demo_catalog`). The README's "Library
    use" example (`load_settings()`, "as the CLI reads them", then `prepare_run`), run
    from a folder without linkhealth.toml with production's LINKHEALTH_DATABASE_URL
    exported, adds the demo's 26 entries to that database and plans their checks: the very
    accident the guard was written for (flow runs reach `prepare_run` the same way)."""
    from catalog.db import engine_for
    from catalog.errors import ConfigError
    from catalog.runs import prepare_run
    from catalog.settings import load_settings
    from catalog.store import stored_collections

    settings = load_settings()  # LINKHEALTH_DATABASE_URL=sqlite:///var/lh.db, no toml here
    with pytest.raises(ConfigError, match="demo"):
        prepare_run(settings, trigger="script")
    assert stored_collections(engine_for(settings.database_url)) == {"toolkit"}
