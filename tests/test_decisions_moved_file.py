"""A decision about an entry whose catalog file was moved (`git mv`) since the last sync:
refused, nothing recorded, with the sync that makes it work; not "recorded in the
database only", while the file the curator keeps goes without it."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import decisions, store
from catalog.errors import CatalogError
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


@pytest.fixture
def moved(tmp_path: Path) -> Iterator[tuple[Engine, Path, Path]]:
    """(database synced from the file at its old path, old path, new path)."""
    old = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "a", "title": "Guide", "url": "https://example.org/a"}]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([old]), now=T0)
        new = tmp_path / "toolkits" / "toolkit.yaml"
        new.parent.mkdir()
        old.rename(new)
        yield engine, old, new


def test_marking_reviewed_in_a_moved_file_is_refused_with_the_sync_that_fixes_it(
    moved: tuple[Engine, Path, Path],
) -> None:
    engine, old, new = moved
    settings = settings_for(engine, [new.parent])
    text = new.read_text()

    for dry_run in (True, False):
        with pytest.raises(CatalogError) as refused:
            decisions.mark_reviewed(settings, "a", dry_run=dry_run, clock=Ticker(days(1)))
        (problem,) = refused.value.problems
        assert (problem.file, problem.code) == (str(old), "file_not_found")
        assert "nothing was recorded" in problem.message
        assert f"--catalog {shlex.quote(str(new))}`" in problem.message

    assert new.read_text() == text
    resource = store.find_resource(engine, "a")
    assert resource.reviewed_at is None
    assert store.resource_history(engine, "a").decisions == ()
    with pytest.raises(CatalogError):  # a URL change alike
        decisions.replace_url(settings, "a", "https://example.org/b", clock=Ticker(days(1)))

    # Synced from where it is now, the file is edited.
    sync_catalogs(engine, load_catalogs([new.parent]), now=days(1))
    result = decisions.mark_reviewed(settings, "a", clock=Ticker(days(2)))
    assert f"reviewed_at: {days(2).date()}\n" in new.read_text()
    assert result.decision is not None


def test_the_command_exits_non_zero_and_says_so_on_stderr(
    moved: tuple[Engine, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, old, new = moved
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # nothing answers an announcement

    result = CliRunner().invoke(
        app, ["mark-reviewed", "a", "--db", database_url(engine), "--catalog", str(new.parent)]
    )

    assert result.exit_code == CatalogError.exit_code, result.output
    assert "database only" not in result.output
    assert f"{old}: " in result.stderr and "linkhealth sync" in result.stderr
    assert "reviewed_at" not in new.read_text()


def test_a_renamed_file_is_refused_with_the_sync_that_hands_its_entries_over(
    tmp_path: Path,
) -> None:
    """A file's name is its collection: `sync --catalog NEW-PATH` of a renamed file adds its
    entries anew and leaves the refused one behind. A sync of every configured catalog
    retires the old collection and moves its entries, decisions and all."""
    old = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "a", "title": "Guide", "url": "https://example.org/a"}]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([old]), now=T0)
        new = old.rename(tmp_path / "psp-toolkit.yaml")
        settings = settings_for(engine, [tmp_path])

        with pytest.raises(CatalogError) as refused:
            decisions.mark_reviewed(settings, "a", clock=Ticker(days(1)))
        (problem,) = refused.value.problems
        assert "--catalog NEW-PATH` syncs it from where it is now if it kept its name" in (
            problem.message
        )
        assert "renamed, it is another catalog: once the settings file names it, `linkhealth" in (
            problem.message
        )
        assert "(without --catalog) moves the entries there" in problem.message

        # As it says: every configured catalog synced, the entry is edited in the new file.
        sync_catalogs(engine, load_catalogs([tmp_path]), now=days(1), retire_unlisted=True)
        result = decisions.mark_reviewed(settings, "a", clock=Ticker(days(2)))
        assert f"reviewed_at: {days(2).date()}\n" in new.read_text()
        assert result.decision is not None
