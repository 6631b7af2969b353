"""`check`/`recheck --config trial.toml` read the trial's catalogs before any flow run
(b01677a): one with errors is only refused (exit 5, nothing recorded); one with only
warnings still runs; an id of a broken trial catalog is refused the same way."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from flows.cli import app
from tests.factories import copy_migrated_sqlite, write_catalog

runner = CliRunner()
ENTRIES = [
    {"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"},
    {"id": "r2", "title": "Resource 2", "url": "https://example.org/r2"},
]
#: A catalog `catalog validate` accepts with a warning (invalid_url), not an error.
WARNED = [*ENTRIES, {"id": "r3", "title": "Resource 3", "url": '"not a url"'}]


@pytest.fixture
def flow_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The check and recheck flows' calls, with no Prefect server and nothing checked."""
    import flows.check_flow
    import flows.prefect_server
    import flows.recheck_flow

    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    calls: list[dict[str, Any]] = []

    def flow(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return SimpleNamespace(
            ids=(), summary=None, verdicts=(), lines=list, run_id=0, nothing_said=str
        )

    monkeypatch.setattr(flows.prefect_server, "ensure_server", lambda say: None)
    monkeypatch.setattr(flows.recheck_flow, "recheck", flow)
    monkeypatch.setattr(flows.check_flow, "check_catalog", flow)
    return calls


@pytest.fixture
def production(isolated_cwd: Path) -> Path:
    """The service's folder: linkhealth.toml, its catalog, its database with one run.
    Its database and the trial's (var/trial.db) start as migrated copies: these tests are
    of refusing a catalog, not of migrating (SQLite files, as their settings name)."""
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/linkhealth.db"\ncatalogs = ["toolkit.yaml"]\n'
    )
    (isolated_cwd / "var").mkdir()
    for name in ("linkhealth.db", "trial.db"):
        copy_migrated_sqlite(isolated_cwd / "var" / name)
    assert runner.invoke(app, ["sync"]).exit_code == 0
    return isolated_cwd


def _statuses(folder: Path, name: str = "linkhealth.db") -> list[str]:
    engine = open_engine(f"sqlite:///{folder / 'var' / name}")
    try:
        return [r.status for r in store.latest_runs(engine)]
    finally:
        engine.dispose()


COMMANDS = [["check"], ["check", "--id", "r1"], ["recheck", "--changed"], ["recheck", "r1"]]


def test_a_trial_settings_files_catalog_with_only_warnings_runs(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """A warning (an invalid URL, which is checked and reported) refuses nothing: the
    curator's try runs, into the trial's database."""
    write_catalog(production / "tried.yaml", WARNED)
    (production / "trial.toml").write_text(
        'database_url = "sqlite:///var/trial.db"\ncatalogs = ["tried.yaml"]\n'
    )
    assert runner.invoke(app, ["sync", "--config", "trial.toml"]).exit_code == 0
    for command in COMMANDS:
        flow_calls.clear()
        result = runner.invoke(app, [*command, "--config", "trial.toml"])
        assert result.exit_code == 0, (command, result.output)
        assert len(flow_calls) == 1, command


@pytest.mark.parametrize("command", [*COMMANDS, ["recheck", "tried/r1"], ["recheck", "--failing"]])
def test_a_broken_trial_catalog_is_refused_exit_5_recording_nothing_anywhere(
    production: Path, flow_calls: list[dict[str, Any]], command: list[str]
) -> None:
    """The trial names production's database (a copy of linkhealth.toml pointing at another
    catalog): exit 5 (README, Exit codes) naming file and line, no run in either database."""
    assert runner.invoke(app, ["sync", "--db", "sqlite:///var/trial.db"]).exit_code == 0
    write_catalog(production / "tried.yaml", [*ENTRIES, ENTRIES[0]])  # r1 twice
    for database in ("linkhealth.db", "trial.db"):
        (production / f"{database}.toml").write_text(
            f'database_url = "sqlite:///var/{database}"\ncatalogs = ["tried.yaml"]\n'
        )
        result = runner.invoke(app, [*command, "--config", f"{database}.toml"])
        assert result.exit_code == 5, (command, result.output)
        assert "tried.yaml:" in result.stderr and "duplicate_id" in result.stderr
        assert _statuses(production, database) == []
    assert flow_calls == []
