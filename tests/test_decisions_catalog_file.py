"""Which catalog file a curator edit writes, and when it writes none: the file named with
--catalog (never another copy of its collection), a file valid before anything is written
or recorded, and a URL written as `catalog import-csv` would write it."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import decisions, store
from catalog.errors import CatalogError, ConfigError
from catalog.hygiene import lint
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import (
    T0,
    Ticker,
    database_url,
    days,
    make_observation,
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


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


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


def test_an_edit_naming_another_copy_of_the_collection_is_refused_and_writes_nothing(
    tmp_path: Path, prod: Path, engine: Engine
) -> None:
    """r4 F7: `--catalog mine/toolkit.yaml` edited prod/toolkit.yaml, and the suggested
    `recheck --changed --catalog mine/...` synced the old URL back over the recorded one."""
    (tmp_path / "mine").mkdir()
    mine = write_catalog(tmp_path / "mine" / "toolkit.yaml", ENTRIES)
    obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), suggested_url=NEW)
    store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
    settings = settings_for(engine, [mine])
    before = prod.read_bytes(), mine.read_bytes()
    edits = {
        "replace-url": lambda: decisions.replace_url(
            settings, "a", NEW, catalogs=[mine], clock=Ticker(days(2))
        ),
        "accept-redirect": lambda: decisions.accept_redirect(
            settings, "a", catalogs=[mine.parent], clock=Ticker(days(2))
        ),
        "mark-reviewed": lambda: decisions.mark_reviewed(
            settings, "a", catalogs=[mine], clock=Ticker(days(2))
        ),
    }

    for name, edit in edits.items():
        with pytest.raises(ConfigError) as refused:
            edit()
        message = str(refused.value)
        assert f"comes from {prod} " in message and f"not from {mine}," in message, name
        sync = shlex.join(["linkhealth", "sync", "--db", database_url(engine)])
        assert f"`{sync} --catalog {shlex.quote(str(mine))}`" in message, name
        assert "nothing was written or recorded" in message, name

    assert (prod.read_bytes(), mine.read_bytes()) == before
    assert store.resource_history(engine, "a").decisions == ()
    # Synced from the named file, the collection is edited there, and a sync of it agrees.
    sync_catalogs(engine, load_catalogs([mine]), now=days(2))
    decisions.replace_url(settings, "a", NEW, catalogs=[mine], clock=Ticker(days(3)))
    assert f"url: {NEW}" in mine.read_text() and prod.read_bytes() == before[0]
    again = sync_catalogs(engine, load_catalogs([mine]), now=days(4))
    assert store.find_resource(engine, "a").url == NEW and not again.changed


def test_an_edit_naming_a_file_of_another_collection_is_refused(
    tmp_path: Path, prod: Path, engine: Engine
) -> None:
    other = write_catalog(tmp_path / "other.yaml", [{"id": "x", "title": "X", "url": NEW}])
    with pytest.raises(ConfigError, match="not among the --catalog files"):
        decisions.replace_url(settings_for(engine, [other]), "a", NEW, catalogs=[other])
    assert f"url: {OLD}" in prod.read_text()
    assert store.resource_history(engine, "a").decisions == ()


def test_naming_the_synced_file_by_its_folder_or_a_link_to_it_edits_it(
    tmp_path: Path, prod: Path, engine: Engine
) -> None:
    link = tmp_path / "linked"
    link.symlink_to(prod.parent)
    for n, named in enumerate([prod.parent, link / "toolkit.yaml"], start=1):
        settings = settings_for(engine, [named])
        decisions.mark_reviewed(settings, "a", catalogs=[named], clock=Ticker(days(n)))
        assert f"reviewed_at: {days(n).date()}\n" in prod.read_text()


def test_the_command_exits_2_naming_both_files_and_edits_neither(
    tmp_path: Path, prod: Path, engine: Engine
) -> None:
    (tmp_path / "mine").mkdir()
    mine = write_catalog(tmp_path / "mine" / "toolkit.yaml", ENTRIES)
    result = CliRunner().invoke(
        app, ["replace-url", "a", NEW, "--db", database_url(engine), "--catalog", str(mine)]
    )
    assert result.exit_code == ConfigError.exit_code, result.output
    assert result.stdout == ""
    assert str(prod) in result.stderr and str(mine) in result.stderr
    assert NEW not in prod.read_text() + mine.read_text()


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
