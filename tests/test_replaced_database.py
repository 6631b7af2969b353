"""A settings file's database_url replaced by LINKHEALTH_DATABASE_URL is said, never silent.

An operator tried a trial config (its own database, `confirm_days = 0`) in a shell that
had sourced /etc/linkhealth.env: `linkhealth recheck --config trial.toml` wrote into the
production database, re-rendered its report and sent its webhook, and said nothing. The
precedence stays (services rely on it); the commands now say when it bites.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from catalog.queries import iter_resources
from catalog.settings import load_settings
from flows.cli import app
from tests.factories import write_catalog
from tests.local_site import local_site

runner = CliRunner()

WARNING = "warning: LINKHEALTH_DATABASE_URL ("
TRIAL_DB = "postgresql+psycopg://curator:s3cret@trial.invalid/trial"


def _trial(folder: Path, database_url: str = TRIAL_DB, catalog: str = "toolkit.yaml") -> Path:
    write_catalog(folder / catalog, [{"id": "r1", "title": "One", "url": "https://example.org/"}])
    config = folder / "trial.toml"
    config.write_text(
        f'database_url = "{database_url}"\ncatalogs = ["{catalog}"]\n[health]\nconfirm_days = 0\n'
    )
    return config


def test_the_settings_carry_the_file_database_the_environment_replaced(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _trial(isolated_cwd)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "postgresql+psycopg://lh:pw@db/prod")
    settings = load_settings(config)
    assert settings.database_url == "postgresql+psycopg://lh:pw@db/prod"  # as documented
    assert settings.replaced_database_url == TRIAL_DB
    warning = settings.database_warning or ""
    assert "postgresql+psycopg://lh:***@db/prod" in warning
    assert "postgresql+psycopg://curator:***@trial.invalid/trial" in warning
    assert f"of {config} (" in warning and "--db" in warning
    assert "pw@" not in warning and "s3cret" not in warning
    # --db beats both: nothing was replaced behind the user's back.
    assert settings.with_overrides(database_url="sqlite:///x.db").database_warning is None
    assert settings.with_overrides(catalogs=("a.yaml",)).database_warning == warning


def test_the_same_database_or_none_in_the_file_is_not_said(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A relative SQLite path in the variable is the current folder's: the file's, here.
    config = _trial(isolated_cwd, "sqlite:///var/trial.db")
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///var/trial.db")
    assert load_settings(config).database_warning is None
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", f"sqlite:///{isolated_cwd}/var/trial.db")
    assert load_settings(config).database_warning is None
    config.write_text('catalogs = ["toolkit.yaml"]\n')  # names no database: no surprise
    assert load_settings(config).database_warning is None


def test_the_file_naming_the_same_postgresql_database_without_its_password_is_not_warned(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scale-out keeps the password in /etc/linkhealth.env (mode 0600), as the README says;
    the checkout's linkhealth.toml names the same database without it. Every command (and
    every flow run's log) warned that LINKHEALTH_DATABASE_URL replaced it: the one
    database, told apart by its secret (or its driver's spelling, or the default port)."""
    config = _trial(isolated_cwd, "postgresql+psycopg://lh@db.example:5432/linkhealth")
    monkeypatch.setenv(
        "LINKHEALTH_DATABASE_URL", "postgresql+psycopg://lh:s3cret@db.example:5432/linkhealth"
    )
    assert load_settings(config).database_warning is None
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "postgresql://lh:s3cret@db.example/linkhealth")
    assert load_settings(config).database_warning is None
    # Another database, server or user is still said.
    for other in (
        "lh:pw@db.example/trial",
        "lh:pw@db2.example/linkhealth",
        "u:pw@db.example/linkhealth",
    ):
        monkeypatch.setenv("LINKHEALTH_DATABASE_URL", f"postgresql+psycopg://{other}")
        assert load_settings(config).database_warning is not None, other


@pytest.mark.parametrize(
    "command",
    [
        ["sync"],
        ["report", "--out", "out"],
        ["export"],
        ["status"],
        ["db", "upgrade"],
        ["catalog", "lint"],
        ["resource", "r1"],
        ["mark-reviewed", "r1", "--dry-run"],
    ],
)
def test_every_command_that_uses_the_database_says_it_replaced_the_file_s(
    isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    config = _trial(isolated_cwd)
    monkeypatch.setenv(
        "LINKHEALTH_DATABASE_URL", migrated_db_url
    )  # the shell's production database
    assert runner.invoke(app, ["sync", "--config", str(config)]).exit_code == 0
    result = runner.invoke(app, [*command, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count(WARNING) == 1, result.stderr
    assert "curator:***@trial.invalid/trial" in result.stderr
    assert "s3cret" not in result.output
    assert "unset LINKHEALTH_DATABASE_URL" in result.stderr


def test_the_environment_s_database_is_still_used_and_db_chooses_silently(
    isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial_db = isolated_cwd / "trial.db"
    config = _trial(isolated_cwd, f"sqlite:///{trial_db}")
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    said = runner.invoke(app, ["sync", "--config", str(config)])
    assert said.exit_code == 0 and said.stderr.count(WARNING) == 1, said.output
    assert not trial_db.exists()  # the documented order: the environment beats the file
    engine = open_engine(migrated_db_url)
    assert [r.resource_id for r in iter_resources(engine)] == ["r1"]
    engine.dispose()

    chosen = runner.invoke(app, ["sync", "--config", str(config), "--db", f"sqlite:///{trial_db}"])
    assert chosen.exit_code == 0, chosen.output
    assert "LINKHEALTH_DATABASE_URL" not in chosen.stderr
    assert trial_db.exists()

    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", f"sqlite:///{trial_db}")  # the same one
    same = runner.invoke(app, ["status", "--config", str(config)])
    assert same.exit_code == 0 and "LINKHEALTH_DATABASE_URL" not in same.stderr, same.output


def test_serve_says_it_as_it_starts(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator who starts `serve` is told at once; each run's log says it again."""
    from flows.serve import pin_settings

    config = _trial(isolated_cwd)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///prod.db")
    monkeypatch.setenv("LINKHEALTH_CONFIG", str(config))  # pin_settings sets them for the runs
    monkeypatch.setenv("LINKHEALTH_DEFAULTS_DIR", str(isolated_cwd))
    said = pin_settings(None, isolated_cwd)
    assert f"the database sqlite:///{isolated_cwd / 'prod.db'}" in said
    assert f"\n{WARNING}" in said and "curator:***@trial.invalid" in said


@pytest.mark.flow
def test_a_recheck_says_it_once_and_a_deployed_run_in_its_log(
    prefect_api: str,
    isolated_cwd: Path,
    migrated_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.recheck_flow import recheck

    trial_db = isolated_cwd / "trial.db"
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    flow_log = logging.getLogger("prefect.flow_runs")  # Prefect's: not propagated
    # Unless a test before, in this process, configured logging otherwise: then the root's
    # capture saw each record a second time.
    monkeypatch.setattr(flow_log, "propagate", False)
    flow_log.addHandler(caplog.handler)
    try:
        with local_site() as site, caplog.at_level(logging.WARNING, logger="prefect.flow_runs"):
            config = _trial(isolated_cwd, f"sqlite:///{trial_db}")
            write_catalog(
                isolated_cwd / "toolkit.yaml", [{"id": "r1", "title": "One", "url": site.base}]
            )
            args = ["recheck", "r1", "--config", str(config), "--allow-private", "--no-report"]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
            assert result.stderr.count(WARNING) == 1, result.stderr
            # The command said it: its flow run, in this process, does not say it again.
            assert "LINKHEALTH_DATABASE_URL" not in caplog.text
            # A run `serve` or a worker starts has no terminal: its log says it.
            recheck(
                resource_ids=["r1"],
                config=str(config),
                overrides={"allow_private": True},
                render=False,
            )
    finally:
        flow_log.removeHandler(caplog.handler)
    assert caplog.text.count("LINKHEALTH_DATABASE_URL (") == 1, caplog.text
    assert not trial_db.exists()
    engine = open_engine(migrated_db_url)
    assert [r.trigger for r in store.latest_runs(engine)] == ["recheck", "recheck"]
    engine.dispose()
