"""`--by` longer than the database keeps (200 characters) is a usage error before anything
is written: PostgreSQL refused the decision with a traceback, SQLite kept it whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import T0, database_url, temporary_database, write_catalog

#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    url = "https://example.org/guide"
    return write_catalog(tmp_path / "toolkit.yaml", [{"id": "a", "title": "Guide", "url": url}])


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        yield engine


@pytest.mark.parametrize(
    "command",
    [
        ["ignore", "a", "--reason", "login wall"],
        ["replace-url", "a", "https://example.org/new"],
    ],
)
def test_a_by_longer_than_the_database_keeps_is_refused_before_any_write(
    engine: Engine, catalog_file: Path, command: list[str]
) -> None:
    before = catalog_file.read_bytes()
    db = ["--db", database_url(engine), "--catalog", str(catalog_file)]

    result = CliRunner().invoke(app, [*command, "--by", "x" * 201, *db])

    assert result.exit_code == 2, result.output
    assert "--by" in result.stderr and "201 characters" in result.stderr
    assert "Traceback" not in result.output
    assert catalog_file.read_bytes() == before
    row = store.find_resource(engine, "a", collection="toolkit")
    assert not row.ignored and store.resource_history(engine, "a").decisions == ()
    kept = CliRunner().invoke(app, ["ignore", "a", "--reason", "r", "--by", "x" * 200, *db])
    assert kept.exit_code == 0, kept.output
