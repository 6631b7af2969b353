"""`replace-url` given an address with a space: written percent-encoded, as the check
sends it and `catalog import-csv` writes it, and said so; never written so that `catalog
lint` flags the edit at once while `catalog validate` says OK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog.hygiene import lint
from catalog.source import load_catalogs, validate_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import T0, database_url, temporary_database, write_catalog

runner = CliRunner()


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    entry = {"id": "a", "title": "Guide", "url": "https://example.org/old"}
    return write_catalog(tmp_path / "toolkit.yaml", [entry])


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        yield engine


def _replace(engine: Engine, catalog_file: Path, url: str):
    args = ["replace-url", "a", url, "--db", database_url(engine), "--catalog", str(catalog_file)]
    return runner.invoke(app, args)


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("https://b.org/x y", "https://b.org/x%20y"),
        ("https://b.org/annual report 2020.pdf", "https://b.org/annual%20report%202020.pdf"),
        ('  "https://b.org/x y|z"  ', "https://b.org/x%20y%7Cz"),  # read as import-csv reads it
    ],
)
def test_a_space_in_the_new_url_is_written_percent_encoded_and_said(
    engine: Engine, catalog_file: Path, given: str, written: str
) -> None:
    result = _replace(engine, catalog_file, given)

    assert result.exit_code == 0, result.output
    assert f"url: {written}\n" in catalog_file.read_text()
    assert "written percent-encoded" in result.stdout and written in result.stdout
    catalog = load_catalogs([catalog_file])[0]
    assert catalog.resources[0].url == written
    assert not validate_catalogs([catalog_file]).problems
    assert "unencoded_in_url" not in {f.code for f in lint([catalog])}


def test_a_url_without_such_characters_is_written_as_given(
    engine: Engine, catalog_file: Path
) -> None:
    result = _replace(engine, catalog_file, "https://b.org/x%20y?q=1")

    assert result.exit_code == 0, result.output
    assert "url: https://b.org/x%20y?q=1\n" in catalog_file.read_text()
    assert "percent-encoded" not in result.stdout


def test_a_space_browsers_refuse_is_still_refused(engine: Engine, catalog_file: Path) -> None:
    """A space in the host name: no browser opens it, so nothing is encoded or written."""
    before = catalog_file.read_text()
    result = _replace(engine, catalog_file, "https://exa mple.org/x")

    assert result.exit_code == 2, result.output
    assert "cannot replace the URL" in result.stderr
    assert catalog_file.read_text() == before
