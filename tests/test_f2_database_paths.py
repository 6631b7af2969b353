"""Where a database is: a SQLite path whose folder does not exist is a mistyped path, refused
(exit 2) naming the folder, by the commands that would make the database as by those that
read it; and one PostgreSQL database keeps one reports folder however the URL reaches it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.db import database_identity
from flows.cli import app
from reports.publish import report_folder

CATALOG = """\
collection:
  title: Good
resources:
  - id: a
    title: Page A
    url: https://example.org/a
"""


@pytest.fixture
def catalog_file(isolated_cwd: Path) -> Path:
    path = isolated_cwd / "good.yaml"
    path.write_text(CATALOG)
    return path


def test_a_sync_into_a_folder_that_does_not_exist_is_refused_and_makes_none(
    catalog_file: Path,
) -> None:
    """`sync` made typo/dir/ and a database in it, while `status` said "no database at"."""
    result = CliRunner().invoke(
        app, ["sync", "--catalog", str(catalog_file), "--db", "sqlite:///typo/dir/t.db"]
    )
    assert result.exit_code == 2, result.output
    folder = catalog_file.parent / "typo" / "dir"
    assert f"its folder {folder} does not exist" in result.stderr
    assert "added" not in result.stdout
    assert not (catalog_file.parent / "typo").exists()


def test_a_missing_folder_from_the_environment_is_refused_too(
    catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = catalog_file.parent / "srv" / "lh.db"
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", f"sqlite:///{missing}")
    result = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file)])
    assert result.exit_code == 2, result.output
    assert f"its folder {missing.parent} does not exist" in result.stderr
    assert not missing.parent.exists()


def test_a_file_where_the_folder_should_be_is_named_as_such(catalog_file: Path) -> None:
    result = CliRunner().invoke(
        app, ["sync", "--catalog", str(catalog_file), "--db", f"sqlite:///{catalog_file}/x.db"]
    )
    assert result.exit_code == 2, result.output
    assert f"its folder {catalog_file} is a file, not a folder" in result.stderr
    assert catalog_file.read_text() == CATALOG


def test_the_readmes_trial_database_still_makes_its_var_folder(catalog_file: Path) -> None:
    """`--db sqlite:///var/trial.db` (README: try a catalog out) in a folder without var/
    yet: var/ is linkhealth's own, made as for the default database."""
    result = CliRunner().invoke(
        app, ["sync", "--catalog", str(catalog_file), "--db", "sqlite:///var/trial.db"]
    )
    assert result.exit_code == 0, result.output
    assert (catalog_file.parent / "var" / "trial.db").is_file()


def test_a_var_folder_in_a_folder_that_does_not_exist_is_refused(catalog_file: Path) -> None:
    result = CliRunner().invoke(
        app, ["sync", "--catalog", str(catalog_file), "--db", "sqlite:///typo/var/t.db"]
    )
    assert result.exit_code == 2, result.output
    assert not (catalog_file.parent / "typo").exists()


def test_a_copy_into_a_folder_that_does_not_exist_is_refused_and_makes_none(
    catalog_file: Path,
) -> None:
    source = f"sqlite:///{catalog_file.parent / 'lh.db'}"
    synced = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file), "--db", source])
    assert synced.exit_code == 0, synced.output
    target = catalog_file.parent / "typo" / "dir" / "copy.db"
    result = CliRunner().invoke(app, ["db", "copy", "--db", source, "--to", f"sqlite:///{target}"])
    assert result.exit_code == 2, result.output
    assert f"its folder {target.parent} does not exist" in result.stderr
    assert "Copied" not in result.stdout
    assert not (catalog_file.parent / "typo").exists()


# --- one PostgreSQL database, one identity ---------------------------------------------------

LOCAL = "postgresql+psycopg://postgres@127.0.0.1:5432/lh"


@pytest.mark.parametrize(
    "spelling",
    [
        "postgresql+psycopg://postgres@/lh?host=/var/run/postgresql",  # its Unix socket
        "postgresql+psycopg:///lh?user=postgres&host=%2Ftmp",
        "postgresql://postgres@localhost/lh?host=/var/run/postgresql&port=5432",
        "postgresql+psycopg://postgres@[::1]/lh",
    ],
)
def test_this_machines_server_by_its_socket_is_one_database_with_localhost(
    tmp_path: Path, spelling: str
) -> None:
    """`?host=/var/run/postgresql` (peer authentication's usual URL) was a database of its
    own, its reports in var/reports-postgresql-... beside those of 127.0.0.1's."""
    assert database_identity(spelling) == database_identity(LOCAL)
    reports = tmp_path / "reports"
    assert report_folder(reports, database_identity(LOCAL), readable="lh") == reports
    assert report_folder(reports, database_identity(spelling), readable="again") == reports


def test_a_port_given_as_a_query_parameter_is_the_ports() -> None:
    """libpq takes `?port=` too: a socket URL on 5433 was the database on 5432."""
    on_5433 = "postgresql+psycopg:///lh?user=postgres&host=/var/run/postgresql&port=5433"
    assert database_identity(on_5433) != database_identity(LOCAL)
    assert database_identity(on_5433) == database_identity(LOCAL.replace("5432", "5433"))


def test_a_remote_server_by_name_and_by_address_stays_two_databases() -> None:
    """Left alone on purpose: the text says what was written, without asking DNS."""
    by_name = database_identity("postgresql+psycopg://lh@db.example.org/lh")
    assert by_name != database_identity("postgresql+psycopg://lh@192.0.2.10/lh")


# --- URLs that ended in a traceback ------------------------------------------------------------


def test_a_nul_character_in_a_sqlite_path_is_a_usage_error_not_a_traceback(
    catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in (["sync", "--catalog", str(catalog_file)], ["status"]):
        result = CliRunner().invoke(app, [*command, "--db", "sqlite:///%00x.db"])
        assert result.exit_code == 2, result.output
        assert "--db 'sqlite:///%00x.db' names a file with a NUL character" in result.stderr
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///x%00.db")
    from_env = CliRunner().invoke(app, ["status"])
    assert from_env.exit_code == 2, from_env.output
    assert "LINKHEALTH_DATABASE_URL 'sqlite:///x%00.db' names a file with a NUL" in from_env.stderr


# --- a settings file whose database_url is the problem ---------------------------------------


@pytest.mark.parametrize("url", ["sqlite://", "nosuchscheme://x"])
def test_status_does_not_read_the_database_url_its_settings_file_was_refused_for(
    isolated_cwd: Path, url: str
) -> None:
    """The refused entry was taken for sound: `sqlite://` showed an in-memory database's
    "no runs yet" (exit 0), `nosuchscheme://x` a "cannot open database" (exit 3)."""
    config = isolated_cwd / "bad.toml"
    config.write_text(f'database_url = "{url}"\n')
    result = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {config}:1: database_url")
    assert "no runs yet" not in result.stdout and "cannot open" not in result.stderr


def test_a_run_refused_for_its_database_url_says_it_is_recorded_nowhere(
    isolated_cwd: Path,
) -> None:
    config = isolated_cwd / "linkhealth.toml"  # the configured file: its refusals are recorded
    config.write_text('database_url = "sqlite://"\n')
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2, result.output
    assert "This refused run is recorded nowhere" in result.stderr
    assert f"the database to record it in would come from {config}" in result.stderr


def test_a_tilde_in_a_sqlite_path_is_said_to_be_no_home_folder(catalog_file: Path) -> None:
    """No shell expands `~` inside a URL: a sync made ./~/x.db."""
    result = CliRunner().invoke(
        app, ["sync", "--catalog", str(catalog_file), "--db", "sqlite:///~/lh.db"]
    )
    assert result.exit_code == 2, result.output
    assert "a URL's ~ is no home folder: write the whole path" in result.stderr
    assert not (catalog_file.parent / "~").exists()


@pytest.mark.parametrize("path", ["lh.db ", "lh.db\r", " lh.db"])
def test_white_space_around_a_sqlite_path_is_refused_not_made_a_new_file(
    catalog_file: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """`LINKHEALTH_DATABASE_URL=sqlite:///var/lh.db` in an environment file saved with
    Windows line ends made a new, empty `lh.db\\r` beside the real database."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", f"sqlite:///{path}")
    result = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file)])
    assert result.exit_code == 2, result.output
    assert f"starts or ends with white space ({path!r})" in result.stderr
    assert [p.name for p in catalog_file.parent.iterdir()] == [catalog_file.name]


def test_a_reading_command_does_not_promise_that_check_makes_a_database_it_refuses(
    isolated_cwd: Path,
) -> None:
    """`status` said "`linkhealth check` creates it" of a path `check` refuses (exit 3 as
    for any database that does not exist yet, README's exit codes)."""
    result = CliRunner().invoke(app, ["status", "--db", "sqlite:///typo/dir/t.db"])
    assert result.exit_code == 3, result.output
    folder = isolated_cwd / "typo" / "dir"
    assert f"no database at {folder / 't.db'}: its folder {folder} does not exist" in (
        result.stderr
    )
    assert "`linkhealth check` creates it" not in result.stderr
    trial = CliRunner().invoke(app, ["status", "--db", "sqlite:///var/trial.db"])
    assert trial.exit_code == 3, trial.output
    assert "`linkhealth check` creates it" in trial.stderr  # var/ is made for it
