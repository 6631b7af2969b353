"""Which catalog file a curator edit writes, and when it writes none: the file named with
--catalog (never another copy of its collection), a file valid before anything is written
or recorded, and a URL written as `catalog import-csv` would write it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import decisions, store
from catalog.errors import CatalogError
from catalog.hygiene import lint
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import (
    T0,
    Ticker,
    database_url,
    days,
    settings_for,
    temporary_database,
    write_catalog,
)

OLD = "https://example.org/old"
NEW = "https://example.org/new"
ENTRIES = [
    {"id": "a", "title": "Guide", "url": OLD},
    {"id": "b", "title": "Portal", "url": "https://example.org/b"},
]


@pytest.fixture(autouse=True)
def no_prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit announces itself: never to a developer's own Prefect server."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # the discard port: nothing answers


@pytest.fixture
def prod(tmp_path: Path) -> Path:
    """The file the database last synced the collection from (the service's checkout)."""
    (tmp_path / "prod").mkdir()
    return write_catalog(tmp_path / "prod" / "toolkit.yaml", ENTRIES)


@pytest.fixture
def engine(tmp_path: Path, prod: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([prod]), now=T0)
        yield engine


def test_mark_reviewed_refuses_a_catalog_invalid_elsewhere_before_writing_or_recording(
    prod: Path, engine: Engine
) -> None:
    """r4 F1: the file got `reviewed_at` and the decision was recorded, then the re-sync
    failed on another entry's empty title: exit 5 without a word of the review, and each
    retry recorded another."""
    prod.write_text(prod.read_text().replace("title: Portal", "title:"))
    before = prod.read_bytes()
    settings = settings_for(engine, [prod])

    for dry_run in (True, False, False):
        with pytest.raises(CatalogError) as refused:
            decisions.mark_reviewed(settings, "a", dry_run=dry_run, clock=Ticker(days(1)))
        assert [p.code for p in refused.value.problems] == ["missing_field"]

    assert prod.read_bytes() == before
    assert store.resource_history(engine, "a").decisions == ()
    assert store.find_resource(engine, "a").reviewed_at is None

    result = CliRunner().invoke(
        app, ["mark-reviewed", "a", "--db", database_url(engine), "--catalog", str(prod)]
    )
    assert result.exit_code == CatalogError.exit_code
    assert f"{prod}:" in result.stderr and "[missing_field]" in result.stderr
    assert prod.read_bytes() == before
    assert store.resource_history(engine, "a").decisions == ()


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (NEW + "\u200b", "1 invisible character (U+200B)"),
        ("\ufeff" + NEW + "\u00ad", "2 invisible characters (U+FEFF, U+00AD)"),
        (f"  {NEW}\n", f"the URL given, '  {NEW}\\n', was read as {NEW}"),
    ],
)
def test_replace_url_writes_the_url_as_the_importer_reads_it_and_says_what_it_left_out(
    prod: Path, engine: Engine, given: str, said: str
) -> None:
    """r4 F3: a zero-width space pasted with the URL was written as given, the message
    showing it clean, and `catalog lint` called it an error the moment after."""
    settings = settings_for(engine, [prod])
    result = decisions.replace_url(settings, "a", given, clock=Ticker(days(1)))

    assert said in result.message
    assert f"  url: {NEW}\n" in prod.read_text()
    assert store.find_resource(engine, "a").url == NEW
    assert result.decision is not None and result.decision.details["new"] == NEW
    assert not [f for f in lint(load_catalogs([prod])) if f.code == "invisible_in_url"]


def test_a_clean_url_gets_no_note(prod: Path, engine: Engine) -> None:
    result = decisions.replace_url(settings_for(engine, [prod]), "a", NEW, clock=Ticker(days(1)))
    assert "; note:" not in result.message
