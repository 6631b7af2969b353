"""A curator decision with --catalog is about that file's collection, as `resource` is:
the same id in another collection no longer makes it ambiguous."""

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

runner = CliRunner()
OLD = "https://example.org/old"
NEW = "https://example.org/new"


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The same id `a` in two catalog files, toolkit.yaml and tk3.yaml."""
    entries = [{"id": "a", "title": "Guide", "url": OLD}]
    return {key: write_catalog(tmp_path / f"{key}.yaml", entries) for key in ("toolkit", "tk3")}


@pytest.fixture
def engine(tmp_path: Path, files: dict[str, Path]) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs(list(files.values())), now=T0)
        yield engine


def _decide(engine: Engine, file: Path, *args: str):
    return runner.invoke(app, [*args, "--db", database_url(engine), "--catalog", str(file)])


@pytest.mark.parametrize(
    "args",
    [
        ["mark-reviewed", "a", "--dry-run"],
        ["replace-url", "a", NEW, "--dry-run"],
    ],
)
def test_an_edit_with_catalog_edits_that_files_entry(
    engine: Engine, files: dict[str, Path], args: list[str]
) -> None:
    """Refused "id is in several collections (tk3, toolkit); name one with --collection",
    while `resource a --catalog toolkit.yaml` showed toolkit's entry."""
    result = _decide(engine, files["toolkit"], *args)
    assert result.exit_code == 0, result.output
    assert "toolkit/a" in result.stdout and str(files["toolkit"]) in result.stdout


def test_snooze_ignore_unignore_with_catalog_act_on_that_files_entry(
    engine: Engine, files: dict[str, Path]
) -> None:
    toolkit = files["toolkit"]

    snoozed = _decide(engine, toolkit, "snooze", "a", "--until", "2999-01-01", "--reason", "r")
    ignored = _decide(engine, files["tk3"], "ignore", "a", "--reason", "login wall")

    assert snoozed.exit_code == 0 and ignored.exit_code == 0, snoozed.output + ignored.output
    assert store.find_resource(engine, "a", collection="toolkit").snoozed_until is not None
    assert store.find_resource(engine, "a", collection="tk3").snoozed_until is None
    assert store.find_resource(engine, "a", collection="tk3").ignored
    assert not store.find_resource(engine, "a", collection="toolkit").ignored
    assert _decide(engine, files["tk3"], "unignore", "a").exit_code == 0
    assert not store.find_resource(engine, "a", collection="tk3").ignored


def test_a_decision_for_an_id_only_other_collections_hold_is_not_found_in_catalogs(
    engine: Engine, files: dict[str, Path], tmp_path: Path
) -> None:
    """`--catalog pub.yaml` never snoozes toolkit's or tk3's `a`."""
    pub = write_catalog(tmp_path / "pub.yaml", [{"id": "p", "title": "Pub", "url": NEW}])
    sync_catalogs(engine, load_catalogs([pub]), now=T0)
    result = _decide(engine, pub, "snooze", "a", "--until", "2999-01-01", "--reason", "r")
    assert result.exit_code == 4, result.output
    assert "no resource with id 'a' in collection 'pub'" in result.stderr
    assert all(store.find_resource(engine, "a", collection=k).snoozed_until is None for k in files)
