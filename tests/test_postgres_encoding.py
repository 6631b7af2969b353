"""A PostgreSQL database not encoded UTF8 is refused with one line naming its encoding and
how to make a UTF8 one (exit 3), before anything is written: a SQL_ASCII database (what
`createdb` makes on a cluster initialised under the C/POSIX locale) crashed every command in
SQLAlchemy's setup, and a LATIN1 one took the schema and ASCII entries, then failed the
first title with an em dash with UnicodeEncodeError. PostgreSQL only
(LINKHEALTH_TEST_DATABASE_URL); skipped on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner, Result

from catalog.db import open_engine
from catalog.errors import StoreError
from flows import prefect_server
from flows.cli import app
from tests.factories import migrated_sqlite, scratch_postgresql_database, write_catalog

runner = CliRunner()


@contextmanager
def database_encoded(encoding: str) -> Iterator[str]:
    """The URL of a new, empty database of `encoding`; dropped afterwards."""
    with scratch_postgresql_database(
        f"ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
        on_sqlite="PostgreSQL only: a SQLite file's text is always UTF-8",
    ) as url:
        yield url


def _refused(result: Result, encoding: str) -> None:
    assert result.exit_code == 3, (result.exception, result.output)
    assert f"is encoded {encoding}, not UTF8" in result.output
    assert "createdb -E UTF8 -T template0 NAME" in result.output
    assert "Traceback" not in result.output


def _tables(url: str) -> list[str]:
    """The database's tables, read as UTF-8 (SQLAlchemy's setup cannot read SQL_ASCII)."""
    engine = create_engine(url, connect_args={"client_encoding": "utf8"})
    try:
        with engine.connect() as conn:
            return inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_a_sql_ascii_postgresql_database_gets_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `check` is refused before it starts a Prefect server: it started one (seconds) and
    # left it running, then failed on its first write.
    monkeypatch.setattr(prefect_server, "ensure_server", _no_server)
    with database_encoded("SQL_ASCII") as url:
        for command in (["db", "upgrade"], ["status"], ["check"]):
            _refused(runner.invoke(app, [*command, "--db", url]), "SQL_ASCII")
        assert _tables(url) == []


def _no_server(**_: object) -> None:
    raise AssertionError("a Prefect server was made sure of for a database that is refused")


def test_a_latin1_postgresql_database_gets_an_error_not_a_traceback(tmp_path: Path) -> None:
    catalog = write_catalog(
        tmp_path / "kit.yaml",
        [{"id": "r1", "title": "'Hotline — help'", "url": "https://example.org/r1"}],
    )
    with database_encoded("LATIN1") as url:
        _refused(runner.invoke(app, ["sync", "--catalog", str(catalog), "--db", url]), "LATIN1")
        assert _tables(url) == []


def test_a_copy_into_a_latin1_database_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "lh.db"
    migrated_sqlite(source).dispose()
    with database_encoded("LATIN1") as url:
        result = runner.invoke(app, ["db", "copy", "--db", f"sqlite:///{source}", "--to", url])
        _refused(result, "LATIN1")
        assert _tables(url) == []


def test_open_engine_refuses_it_on_the_first_connection() -> None:
    with database_encoded("LATIN1") as url:
        engine = open_engine(url, migrate=False)
        try:
            with pytest.raises(StoreError, match="is encoded LATIN1, not UTF8"):
                engine.connect()
        finally:
            engine.dispose()
