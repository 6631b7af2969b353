"""An entry removed from the catalog and put back (same collection key and id) is back,
not new: `linkhealth sync` said "toolkit/a: added" and "1 added" of it, as of an entry
never seen, though it kept its history and decisions. It says it is re-added, with when
it had been removed, as `linkhealth resource` and the report's news ("Put back in the
catalog") do, in its listed changes and its headline alike."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import (
    days,
    edit,
    make_catalog,
    make_resource,
    migrated_database_url,
    temporary_database,
    without,
    write_catalog,
)

TOOLKIT = make_catalog("toolkit", [make_resource("a"), make_resource("b")])


def test_an_entry_put_back_is_said_re_added_in_its_change_and_the_headline(
    tmp_path: Path,
) -> None:
    with temporary_database(tmp_path) as engine:
        first = sync_catalogs(engine, [TOOLKIT], now=days(0))
        assert (first.added, first.readded) == (2, 0)
        assert first.headline() == (
            "Synced 1 catalog(s): 2 added, 0 edited, 0 removed, 0 unchanged."
        )
        sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))
        new = make_resource("c")
        back = sync_catalogs(
            engine, [make_catalog("toolkit", [*TOOLKIT.resources, new])], now=days(2)
        )

        assert [c.describe() for c in back.changes] == [
            "toolkit/a: re-added (removed on 2025-03-02)",
            "toolkit/c: added",
        ]
        assert (back.added, back.readded, back.change_count) == (2, 1, 2)
        assert back.headline() == (
            "Synced 1 catalog(s): 1 added, 1 re-added, 0 edited, 0 removed, 1 unchanged."
        )

        # Put back with another URL: said so already; counted re-added too.
        sync_catalogs(engine, [without(TOOLKIT, "b")], now=days(3))
        moved = sync_catalogs(
            engine, [edit(TOOLKIT, "b", url="https://example.org/b-new")], now=days(4)
        )
        (change,) = [c for c in moved.changes if c.id == "b"]
        assert change.describe().startswith("toolkit/b: re-added with another URL")
        assert "1 re-added" in moved.headline() and "0 added" in moved.headline()


def test_linkhealth_sync_says_an_entry_put_back_is_re_added(tmp_path: Path) -> None:
    entries = [
        {"id": "a", "title": "Resource a", "url": "https://example.org/a"},
        {"id": "b", "title": "Resource b", "url": "https://example.org/b"},
    ]
    runner = CliRunner()
    with migrated_database_url(tmp_path) as url:
        catalog = tmp_path / "toolkit.yaml"

        def sync() -> str:
            result = runner.invoke(app, ["sync", "--db", url, "--catalog", str(catalog)])
            assert result.exit_code == 0, result.output
            return result.stdout

        write_catalog(catalog, entries)
        sync()
        write_catalog(catalog, entries[1:])
        assert "toolkit/a: removed" in sync()
        write_catalog(catalog, entries)
        said = sync()

    assert "toolkit/a: re-added (removed on " in said, said
    assert "toolkit/a: added" not in said
    assert "0 added, 1 re-added, 0 edited, 0 removed, 1 unchanged." in said, said
