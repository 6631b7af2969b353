"""A migration made on first use is said (operator walkthrough h17): with a database at
revision 0022, `linkhealth status` printed nothing and left it at 0023, while `db upgrade`
says "upgraded from revision 0022 to 0023". With no downgrade, an operator who ran `status`
first after a `git pull` had migrated before taking the backup, unaware. Now the first
command that migrates says so on stderr, once, in `db upgrade`'s words."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from catalog import migrate
from catalog.db import open_engine, shown_url
from flows.cli import app

OLDER = "0022"


def _database_at(url: str, revision: str) -> str:
    """`url`'s database made at schema `revision`; the URL as messages name it."""
    engine = open_engine(url, migrate=False)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), revision)
        return shown_url(engine.url)
    finally:
        engine.dispose()


@pytest.fixture
def no_api(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # the discard port: nothing answers


def test_status_says_it_migrated_the_database_once_in_db_upgrades_words(
    isolated_cwd: Path, db_url: str, no_api: None
) -> None:
    shown = _database_at(db_url, OLDER)
    head = migrate.head_revision()
    assert head != OLDER

    first = CliRunner().invoke(app, ["status", "--db", db_url])

    assert first.exit_code == 0, first.output
    said = [line for line in first.stderr.splitlines() if "upgraded" in line]
    assert said == [
        f"{migrate.upgraded(shown, OLDER, head)}, on first use by this linkhealth (as "
        "`linkhealth db upgrade` does); there is no downgrade: an older linkhealth now "
        'refuses this database (README, "Storage")'
    ]
    assert said[0].startswith(f"database {shown}: upgraded from revision {OLDER} to {head},")
    assert "upgraded" not in first.stdout  # stdout stays what scripts read
    engine = open_engine(db_url, migrate=False)
    assert migrate.current_revision(engine) == head
    engine.dispose()

    again = CliRunner().invoke(app, ["status", "--db", db_url])
    assert again.exit_code == 0, again.output
    assert "upgraded" not in again.output  # nothing left to migrate: said once


def test_db_upgrade_says_it_once_on_stdout_as_before(
    isolated_cwd: Path, db_url: str, no_api: None
) -> None:
    shown = _database_at(db_url, OLDER)
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", db_url])
    assert result.exit_code == 0, result.output
    head = migrate.head_revision()
    assert result.stdout == f"database {shown}: upgraded from revision {OLDER} to {head}\n"
    assert "upgraded" not in result.stderr


def test_a_new_databases_tables_are_made_without_a_word(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    open_engine(db_url).dispose()
    assert capsys.readouterr().err == ""


def test_the_notice_hides_the_password() -> None:
    url = make_url("postgresql+psycopg://lh:s3cret@db.example.org/linkhealth")
    said = migrate.upgraded_on_first_use(url, OLDER)
    assert said.startswith(
        f"database postgresql+psycopg://lh:***@db.example.org/linkhealth: upgraded from "
        f"revision {OLDER} to {migrate.head_revision()}"
    )
    assert "s3cret" not in said
