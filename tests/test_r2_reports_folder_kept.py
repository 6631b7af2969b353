"""The configured reports folder kept for the settings' database when --db chose another
(a8ba370), as operators run the commands: a trial checked first leaves `var/reports` to the
real database, and a --db naming the real one, however spelt, takes it as before."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from flows.cli import app
from reports.publish import OWNER_FILE
from tests.factories import copy_migrated_sqlite, is_sqlite, write_catalog
from tests.local_site import local_site

runner = CliRunner()

ENTRIES = [{"id": "a", "title": "First", "url": "https://example.org/a"}]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The warnings a report logs (the command's stderr: `report_folder` warns by logging)."""
    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        yield caplog


def _report(logged: pytest.LogCaptureFixture, *args: str) -> tuple[Path, str]:
    """`linkhealth report ARGS`: the latest.html it wrote, and the warnings it gave."""
    logged.clear()
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    (html,) = [Path(p) for p in result.stdout.split() if p.endswith("latest.html")]
    return html, "\n".join(r.getMessage() for r in logged.records if r.levelno >= logging.WARNING)


@pytest.fixture
def folder(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder a service runs in: its catalog, var/, and no LINKHEALTH_* in the shell."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL", "LINKHEALTH_DEFAULTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "var").mkdir()
    return isolated_cwd


def _synced(db: str) -> None:
    """The catalog synced into `db`, a SQLite file (relative to the folder) started as a
    migrated copy: these tests are of report folders, not of migrating."""
    if is_sqlite(db):
        copy_migrated_sqlite(Path(str(make_url(db).database)))
    result = runner.invoke(app, ["sync", "--catalog", "toolkit.yaml", "--db", db])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("settings_file", ["none", "catalogs only"])
def test_a_production_that_names_its_database_with_db_reports_into_var_reports(
    folder: Path, logged: pytest.LogCaptureFixture, settings_file: str
) -> None:
    if settings_file == "catalogs only":
        (folder / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    db = "sqlite:///var/prod.db"
    _synced(db)
    nights = [_report(logged, "--db", db) for _ in range(10)]
    assert {html for html, _ in nights} == {Path("var/reports/latest.html")}
    assert [warned for _, warned in nights[1:] if warned] == []  # not one warning a night


def test_db_naming_the_settings_database_however_spelt_takes_the_configured_folder(
    folder: Path, logged: pytest.LogCaptureFixture
) -> None:
    """Relative from the settings' folder, absolute, with `..`, and through a symlink: one
    database, and no warning."""
    (folder / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/linkhealth.db"\ncatalogs = ["toolkit.yaml"]\n'
    )
    _synced("sqlite:///var/linkhealth.db")
    (folder / "link").symlink_to(folder / "var")
    for db in (
        "sqlite:///var/linkhealth.db",
        f"sqlite:///{folder / 'var' / 'linkhealth.db'}",
        "sqlite:///var/../var/linkhealth.db",
        "sqlite:///link/linkhealth.db",
    ):
        html, warned = _report(logged, "--db", db)
        assert html == Path("var/reports/latest.html"), db
        assert warned == "", db
    assert not list(folder.glob("var/reports-*"))


def test_the_environments_database_named_again_with_db_takes_the_configured_folder(
    folder: Path, logged: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LINKHEALTH_DATABASE_URL relative (as a unit file may set it), --db absolute: a trial
    first still leaves var/reports to it."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///var/lh.db")
    _synced("sqlite:///var/lh.db")
    _synced("sqlite:///var/trial.db")
    html, warned = _report(logged, "--db", "sqlite:///var/trial.db")
    assert html == Path("var/reports-trial/latest.html")
    assert "var/reports is kept for the report of sqlite:///" in warned
    html, warned = _report(logged, "--db", f"sqlite:///{folder / 'var' / 'lh.db'}")
    assert html == Path("var/reports/latest.html") and warned == ""
    html, warned = _report(logged)
    assert html == Path("var/reports/latest.html") and warned == ""


def test_a_postgresql_database_named_again_with_db_spelt_otherwise_takes_the_folder(
    folder: Path, logged: pytest.LogCaptureFixture, migrated_db_url: str
) -> None:
    """The settings' PostgreSQL URL and a --db of the same database with a password, another
    name of this machine and the default port written out: one folder, no warning."""
    url = make_url(migrated_db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only (LINKHEALTH_TEST_DATABASE_URL)")
    (folder / "linkhealth.toml").write_text(
        f'database_url = "{migrated_db_url}"\ncatalogs = ["toolkit.yaml"]\n'
    )
    _synced(migrated_db_url)
    other_host = "localhost" if url.host in ("127.0.0.1", "::1") else "127.0.0.1"
    spelt = url.set(password="not-used", host=other_host, port=5432, drivername="postgresql")
    html, warned = _report(logged, "--db", spelt.render_as_string(hide_password=False))
    assert html == Path("var/reports/latest.html") and warned == ""
    assert (folder / "var" / "reports" / OWNER_FILE).is_file()


def _site_catalog(path: Path, url: str) -> None:
    path.write_text(f"resources:\n  - {{id: ok, title: Report, url: '{url}'}}\n")


def _report_line(result: Any) -> Path:
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("Report: ")]
    return Path(line.removeprefix("Report: ")).resolve()


@pytest.mark.flow
def test_the_readme_trial_then_the_real_check_and_recheck_each_report_where_it_says(
    prefect_api: str, folder: Path
) -> None:
    """README order: the trial (`check --catalog ... --db sqlite:///var/trial.db`) first,
    then the real check: each run's `Report:` line, a recheck of each and `report` agree."""
    (folder / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/linkhealth.db"\ncatalogs = ["site.yaml"]\n'
    )
    trial, real = folder / "var" / "reports-trial", folder / "var" / "reports"
    for name in ("trial.db", "linkhealth.db"):  # checked into, not migrated, here
        copy_migrated_sqlite(folder / "var" / name)
    with local_site() as site:
        _site_catalog(folder / "site.yaml", site.url("/report.html"))
        _site_catalog(folder / "my-toolkit.yaml", site.url("/report.html"))
        trial_db = ["--db", "sqlite:///var/trial.db", "--allow-private"]
        tried = runner.invoke(app, ["check", "--catalog", "my-toolkit.yaml", *trial_db])
        assert _report_line(tried) == trial / "latest.html"
        checked = runner.invoke(app, ["check", "--allow-private"])
        assert _report_line(checked) == real / "latest.html"
        again = runner.invoke(app, ["recheck", "ok", "--catalog", "my-toolkit.yaml", *trial_db])
        assert again.exit_code == 0, again.output
        assert runner.invoke(app, ["recheck", "ok", "--allow-private"]).exit_code == 0
    assert (trial / OWNER_FILE).read_text().splitlines()[0].endswith("/var/trial.db")
    assert (real / OWNER_FILE).read_text().splitlines()[0].endswith("/var/linkhealth.db")
    assert not list(folder.glob("var/reports-linkhealth*"))


@pytest.mark.flow
def test_a_nightly_check_naming_its_database_with_db_reports_into_var_reports(
    prefect_api: str, folder: Path
) -> None:
    copy_migrated_sqlite(folder / "var" / "prod.db")  # checked into, not migrated, here
    with local_site() as site:
        _site_catalog(folder / "site.yaml", site.url("/report.html"))
        nights = [
            runner.invoke(
                app,
                ["check", "--catalog", "site.yaml", "--db", "sqlite:///var/prod.db",
                 "--allow-private"],
            )
            for _ in range(2)
        ]  # fmt: skip
    assert {_report_line(n) for n in nights} == {folder / "var" / "reports" / "latest.html"}
