"""A reports folder belongs to one database: another database's report goes beside it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from catalog.settings import Settings
from reports import publish_report, publish_report_files
from reports.publish import OWNER_FILE, _readable_name, database_name, report_folder
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The real database and a trial one (a copy: same runs, so the same file names)."""
    folder = tmp_path_factory.mktemp("publish")
    fx.fixed_db(folder / "linkhealth.db").dispose()
    (folder / "var").mkdir()
    shutil.copy(folder / "linkhealth.db", folder / "var" / "trial.db")
    return {
        "real": f"sqlite:///{folder / 'linkhealth.db'}",
        "trial": f"sqlite:///{folder / 'var' / 'trial.db'}",
    }


def _settings(url: str, reports: Path) -> Settings:
    return Settings().with_overrides(database_url=url, reports_dir=reports)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_another_databases_report_goes_beside_and_leaves_the_first_untouched(
    databases: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reports = tmp_path / "var" / "reports"
    real, trial = _settings(databases["real"], reports), _settings(databases["trial"], reports)

    first = publish_report(real, clock=lambda: fx.NOW)
    assert first == reports / "latest.html"
    before = _snapshot(reports)
    assert "run-2.html" in before and any(name.startswith("resources/") for name in before)

    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        files = publish_report_files(trial, formats=("html", "md", "csv"), clock=lambda: fx.NOW)

    beside = tmp_path / "var" / "reports-trial"
    assert files.main == beside / "latest.html"
    assert all(p.parent == beside for p in files.paths)
    assert {"index.html", "run-2.html", "latest.md", "latest.csv"} <= {p.name for p in files.paths}
    assert (beside / "resources").is_dir() and files.pages > 0
    assert _snapshot(reports) == before  # not one file of the real report touched
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(reports) in warning and str(beside) in warning
    assert database_name_of(databases["real"]) in warning  # whose folder it is

    again = publish_report(real, clock=lambda: fx.NOW)
    assert again == reports / "latest.html"
    assert publish_report(trial, clock=lambda: fx.NOW) == beside / "latest.html"
    assert (reports / OWNER_FILE).read_text().splitlines()[0] == database_name_of(databases["real"])
    assert (beside / OWNER_FILE).read_text().splitlines()[0] == database_name_of(databases["trial"])


def database_name_of(url: str) -> str:
    return database_name(create_engine(url))


def test_a_trial_chosen_with_db_before_any_real_report_leaves_the_reports_folder_alone(
    databases: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """README's examples try a catalog first (`check --catalog my-toolkit.yaml --db
    sqlite:///var/trial.db`): that first report took var/reports, and the real database's
    went to var/reports-linkhealth, though the README says to open var/reports/latest.html
    and that a trial's report "goes to var/reports-trial/ and leaves var/reports/ alone"."""
    reports = tmp_path / "var" / "reports"
    configured = Settings(database_url=databases["real"], reports_dir=reports)
    trial = configured.with_overrides(database_url=databases["trial"])  # as --db makes it

    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        first = publish_report(trial, clock=lambda: fx.NOW)
    assert first == tmp_path / "var" / "reports-trial" / "latest.html"
    assert not (reports / OWNER_FILE).exists()
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{reports} is kept for the report of {database_name_of(databases['real'])}" in warning

    assert publish_report(configured, clock=lambda: fx.NOW) == reports / "latest.html"
    # --db naming the settings' own database, and `report --out`, claim as before.
    same = configured.with_overrides(database_url=databases["real"])
    assert publish_report(same, clock=lambda: fx.NOW) == reports / "latest.html"
    out = tmp_path / "www"
    assert publish_report(trial, out_dir=out, clock=lambda: fx.NOW) == out / "latest.html"


def test_an_explicit_out_folder_of_another_database_is_not_written_either(
    databases: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "www"
    publish_report(_settings(databases["real"], tmp_path / "unused"), out_dir=out)
    before = _snapshot(out)
    main = publish_report(
        _settings(databases["trial"], tmp_path / "unused"), formats=("json",), out_dir=out
    )
    assert main == tmp_path / "www-trial" / "latest.json"
    assert _snapshot(out) == before
    assert not (tmp_path / "unused").exists()


def test_a_folder_of_reports_from_before_belongs_to_the_first_database_to_publish(
    databases: dict[str, str], tmp_path: Path
) -> None:
    # Written before folders recorded their database: no owner file, no migration.
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "latest.html").write_text("an older report", encoding="utf-8")
    assert publish_report(_settings(databases["real"], reports)) == reports / "latest.html"
    assert "older" not in (reports / "latest.html").read_text(encoding="utf-8")
    assert (reports / OWNER_FILE).is_file()
    trial = publish_report(_settings(databases["trial"], reports), formats=("md",))
    assert trial == tmp_path / "reports-trial" / "latest.md"


def test_two_databases_of_one_name_get_folders_of_their_own(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    names = [f"sqlite:////data/{site}/trial.db" for site in ("a", "b")]
    assert report_folder(reports, "sqlite:////data/real.db", readable="real") == reports
    first = report_folder(reports, names[0], readable="trial")
    second = report_folder(reports, names[1], readable="trial")
    assert first == tmp_path / "reports-trial"
    assert second.parent == tmp_path and second.name.startswith("reports-trial-")
    assert second != first
    # Each finds its own folder again.
    assert report_folder(reports, names[1], readable="trial") == second
    assert report_folder(reports, names[0], readable="trial") == first


def test_the_owner_names_the_database_without_its_password_however_it_is_spelt() -> None:
    plain = create_engine("postgresql://lh:secret@db.example.org:5432/lh_trial")
    psycopg = create_engine("postgresql+psycopg://lh:other@db.example.org:5432/lh_trial")
    name = database_name(plain)
    assert "secret" not in name and name == database_name(psycopg)
    assert name == "postgresql://lh@db.example.org:5432/lh_trial"
    assert _readable_name(plain) == "postgresql-db.example.org-lh_trial"
    assert _readable_name(create_engine("sqlite:///var/trial.db")) == "trial"
    relative = database_name(create_engine("sqlite:///var/trial.db"))
    assert relative == f"sqlite:///{Path('var/trial.db').resolve()}"


#: One PostgreSQL database, as the README, a shell and a settings file spell it.
ONE_DATABASE = [
    "postgresql+psycopg://postgres:s3cr3t@127.0.0.1:5432/lh",
    "postgresql+psycopg://postgres@127.0.0.1:5432/lh",
    "postgresql+psycopg://postgres@127.0.0.1/lh",
    "postgresql://postgres@localhost/lh",
    "postgresql+psycopg://postgres:s3cr3t@[::1]:5432/lh",
    "postgresql+psycopg:///lh?user=postgres",  # this machine's server through its socket
]


@pytest.mark.parametrize("spelling", ONE_DATABASE[1:])
def test_one_database_however_spelt_keeps_one_reports_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, spelling: str
) -> None:
    """A report with the password after one without (or without :5432, or with localhost
    for 127.0.0.1) went to var/reports-postgresql-127.0.0.1-lh, leaving var/reports stale."""
    reports = tmp_path / "reports"
    first = database_name_of(ONE_DATABASE[0])
    assert report_folder(reports, first, readable="first") == reports
    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        assert report_folder(reports, database_name_of(spelling), readable="again") == reports
    assert not caplog.records
    assert "s3cr3t" not in (reports / OWNER_FILE).read_text()


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:5433/lh", "another port"),
        ("postgresql+psycopg://postgres@127.0.0.1/lh_trial", "another database"),
        ("postgresql+psycopg://postgres@db.example.org/lh", "another server"),
        ("postgresql+psycopg://postgres@127.0.0.1/lh?options=-csearch_path%3Dt1", "a schema"),
        # PostgreSQL's search_path is "$user", public: each role may have its own schema.
        ("postgresql+psycopg://lh_test@127.0.0.1/lh", "another user"),
        ("postgresql+psycopg://lh_test:s3cr3t@localhost:5432/lh", "another user, spelt else"),
        ("postgresql+psycopg:///lh", "whoever runs the command"),
    ],
)
def test_another_postgresql_database_still_gets_a_folder_beside(
    tmp_path: Path, other: str, why: str
) -> None:
    reports = tmp_path / "reports"
    assert report_folder(reports, database_name_of(ONE_DATABASE[0])) == reports
    assert report_folder(reports, database_name_of(other)) != reports, why


def test_a_folder_an_older_linkhealth_recorded_stays_its_databases(tmp_path: Path) -> None:
    """Owner files written before hold the URL as shown then: user, `***` for a password."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / OWNER_FILE).write_text("postgresql://postgres:***@127.0.0.1:5432/lh\n# ...\n")
    for spelling in ONE_DATABASE:
        assert report_folder(reports, database_name_of(spelling)) == reports
    other = database_name_of("postgresql://postgres@127.0.0.1:5432/lh_trial")
    assert report_folder(reports, other) != reports
    another_user = database_name_of("postgresql://lh_test@127.0.0.1:5432/lh")
    assert report_folder(reports, another_user) != reports


def test_two_roles_of_one_database_keep_their_own_reports_folders(tmp_path: Path) -> None:
    """lh_prod@db/lh and lh_test@db/lh: with a schema per role ("$user" on search_path)
    two datasets, whose reports shared one folder, each overwriting the other's."""
    reports = tmp_path / "reports"
    prod = database_name_of("postgresql+psycopg://lh_prod:pw@db.example.org/lh")
    test = database_name_of("postgresql+psycopg://lh_test:pw@db.example.org/lh")
    assert report_folder(reports, prod, readable="prod") == reports
    assert report_folder(reports, test, readable="test") != reports
    assert (
        report_folder(reports, database_name_of("postgresql://lh_prod@db.example.org:5432/lh"))
        == reports
    )


def test_a_catalog_that_does_not_load_leaves_hygiene_out_with_a_warning_naming_it(
    databases: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "toolkit.yaml"
    bad.write_bytes(b"resources:\n- id: a\n  title: Caf\xe9 (Latin-1)\n  url: https://a.example/\n")
    settings = _settings(databases["real"], tmp_path / "reports").with_overrides(catalogs=(bad,))

    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        files = publish_report_files(settings, formats=("md",), clock=lambda: fx.NOW)

    assert files.main is not None and files.main.is_file()  # the links still report
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{bad}:3" in warning and "not UTF-8" in warning
    assert "catalog hygiene" in warning and "linkhealth catalog validate" in warning
