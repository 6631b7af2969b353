"""Faults of the database file an operator meets part-way through a run: a curator's
`sqlite3` shell holding a write transaction, a read-only file, a full disk. Each must end
the command with one line naming the database and what to do (exit 3), and leave every
row stored before it as it was.

SQLite only: these are faults of a database file.
"""

from __future__ import annotations

import random
import re
import shlex
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import catalog.db
from catalog import decisions, store
from catalog.db import open_engine
from catalog.errors import StoreError
from flows.cli import app
from tests.factories import T0, copy_migrated_sqlite, migrated_sqlite, write_catalog


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated SQLite file holding one run; a lock is waited for 0.2 s, not 30."""
    monkeypatch.setattr(catalog.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    catalog.db._cached_engine.cache_clear()
    path = tmp_path / "lh.db"
    engine = migrated_sqlite(path)
    store.start_run(engine, trigger="manual", now=T0)
    engine.dispose()
    yield path
    catalog.db._cached_engine.cache_clear()


@pytest.fixture
def curator_shell(db_file: Path) -> Iterator[sqlite3.Connection]:
    """A `sqlite3` shell left inside BEGIN after an UPDATE: it holds the write lock."""
    shell = sqlite3.connect(db_file, isolation_level=None)
    shell.execute("BEGIN IMMEDIATE")
    shell.execute("UPDATE runs SET trigger = trigger")
    try:
        yield shell
    finally:
        shell.execute("ROLLBACK")
        shell.close()


def _runs(path: Path) -> list[tuple[int, str]]:
    engine = open_engine(f"sqlite:///{path}")
    try:
        return [(r.id, r.status) for r in store.latest_runs(engine)]
    finally:
        engine.dispose()


def test_a_write_while_a_curators_shell_holds_the_lock_names_the_file_and_the_way_out(
    db_file: Path, curator_shell: sqlite3.Connection
) -> None:
    engine = open_engine(f"sqlite:///{db_file}")
    try:
        with pytest.raises(StoreError, match=r"lh\.db is locked: .*COMMIT or ROLLBACK") as caught:
            store.start_run(engine, trigger="manual", now=T0)
    finally:
        engine.dispose()
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 3
    assert _runs(db_file) == [(1, "running")]


def test_sync_on_a_locked_database_exits_3_with_one_line_not_a_traceback(
    tmp_path: Path, db_file: Path, curator_shell: sqlite3.Connection
) -> None:
    catalog_file = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "r1", "title": "One", "url": "https://example.org/1"}]
    )
    result = CliRunner().invoke(
        app, ["sync", "--db", f"sqlite:///{db_file}", "--catalog", str(catalog_file)]
    )
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert f"error: database sqlite:///{db_file} is locked" in result.stderr


def test_a_read_only_database_says_so_and_keeps_what_it_holds(db_file: Path) -> None:
    read_only = open_engine(f"sqlite:///file:{db_file}?mode=ro&uri=true")
    try:
        assert [r.id for r in store.latest_runs(read_only)] == [1]  # reading still works
        with pytest.raises(StoreError, match=r"lh\.db.* is read-only .*writable"):
            store.start_run(read_only, trigger="manual", now=T0)
    finally:
        read_only.dispose()
    assert _runs(db_file) == [(1, "running")]


def _full_after(engine: Engine, pages: int) -> None:
    """The file may grow by `pages` pages at most, as on a disk with that much room."""

    @event.listens_for(engine, "connect")
    def cap(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        current = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count={current + pages}")


def test_a_full_disk_fails_the_write_with_one_line_and_loses_nothing_stored(
    db_file: Path,
) -> None:
    engine = open_engine(f"sqlite:///{db_file}")
    engine.dispose()  # connections opened from here on are capped
    _full_after(engine, 2)
    try:
        with pytest.raises(StoreError, match=r"lh\.db cannot be written, the disk is full"):
            for _ in range(50):
                store.start_run(engine, trigger="manual", now=T0, summary={"pad": "x" * 4000})
    finally:
        engine.dispose()
    ids = [run_id for run_id, _ in _runs(db_file)]
    assert ids[-1] == 1 and ids == sorted(ids, reverse=True)  # the runs before it all kept


def _damage_pages_after_the_schema(path: Path) -> None:
    """Random bytes over the second half of the file's pages: the schema on page 1 still
    reads, so the database opens and migrates, and only a query reading a page fails."""
    page = 4096
    pages = path.stat().st_size // page
    noise = random.Random(7)
    with path.open("r+b") as file:
        for number in range(pages // 2, pages):
            file.seek(number * page + 8)
            file.write(bytes(noise.getrandbits(8) for _ in range(page - 16)))


def test_a_damaged_file_is_one_line_saying_so_and_how_to_recover_not_a_traceback(
    db_file: Path,
) -> None:
    engine = open_engine(f"sqlite:///{db_file}")
    for _ in range(40):
        store.start_run(engine, trigger="manual", now=T0, summary={"pad": "x" * 4000})
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    _damage_pages_after_the_schema(db_file)

    result = CliRunner().invoke(app, ["status", "--db", f"sqlite:///{db_file}"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    said = result.stderr.strip()
    assert said.startswith(f"error: database sqlite:///{db_file} is damaged (")
    assert ".recover" in said and "\n" not in said


def test_a_folder_where_the_database_file_should_be_is_named_as_a_folder(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "lh.db"
    folder.mkdir()
    url = f"sqlite:///{folder}"
    catalog_file = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "r1", "title": "One", "url": "https://example.org/1"}]
    )
    for command in (["status", "--db", url], ["sync", "--db", url, "--catalog", str(catalog_file)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 3, result.output
        assert f"{folder} is a folder, not a SQLite" in result.stderr, result.stderr


def test_a_database_in_a_read_only_folder_says_the_folder_is_read_only(
    db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes anywhere, so the folder's mode cannot make the test fail to open it;
    # SQLite's own words for a read-only folder are "unable to open database file".
    monkeypatch.setattr(catalog.db.os, "access", lambda path, mode: Path(path) != db_file.parent)
    error = sqlite3.OperationalError("unable to open database file")
    said = catalog.db._cannot_open(make_url(f"sqlite:///{db_file}"), error)
    assert said.startswith(f"cannot open database sqlite:///{db_file}: unable to open")
    assert f"its folder {db_file.parent} is read-only" in said


def test_a_decision_on_a_locked_database_fails_before_it_edits_the_catalog_file(
    tmp_path: Path, db_file: Path
) -> None:
    """The file is edited before the decision is recorded: edited, then refused the
    record, an `accept-redirect` run again as told was refused (its URL no longer the one
    checked), and the decision was never recorded."""
    catalog_file = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "r1", "title": "One", "url": "https://example.org/1"}]
    )
    url = f"sqlite:///{db_file}"
    assert (
        CliRunner().invoke(app, ["sync", "--db", url, "--catalog", str(catalog_file)]).exit_code
        == 0
    )
    before = catalog_file.read_bytes()
    shell = sqlite3.connect(db_file, isolation_level=None)
    shell.execute("BEGIN IMMEDIATE")
    try:
        result = CliRunner().invoke(
            app, ["mark-reviewed", "r1", "--db", url, "--catalog", str(catalog_file)]
        )
    finally:
        shell.execute("ROLLBACK")
        shell.close()
    assert result.exit_code == 3, result.output
    assert f"error: database {url} is locked" in result.stderr
    assert catalog_file.read_bytes() == before


def _synced_catalog(tmp_path: Path, db_file: Path) -> Path:
    catalog_file = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "r1", "title": "One", "url": "https://example.org/1"}]
    )
    args = ["sync", "--db", f"sqlite:///{db_file}", "--catalog", str(catalog_file)]
    assert CliRunner().invoke(app, args).exit_code == 0
    return catalog_file


def _decisions(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM decisions").fetchone()
    return int(count)


DECISIONS = [
    ["mark-reviewed", "r1"],
    ["replace-url", "r1", "https://example.org/new"],
]


@pytest.mark.parametrize("decision", DECISIONS, ids=lambda d: d[0])
def test_a_lock_taken_after_the_check_fails_a_decision_before_it_edits_the_file(
    tmp_path: Path, db_file: Path, monkeypatch: pytest.MonkeyPatch, decision: list[str]
) -> None:
    """A curator's shell that takes the lock just after `ensure_writable` said the database
    was free: the decision cannot be recorded, and the file is as before (it edited the
    file, then failed to record, and run again it was refused)."""
    catalog_file = _synced_catalog(tmp_path, db_file)
    before = catalog_file.read_bytes()
    shell = sqlite3.connect(db_file, isolation_level=None)
    checked = store.ensure_writable

    def check_then_lock(engine: Engine) -> None:
        checked(engine)
        shell.execute("BEGIN IMMEDIATE")

    monkeypatch.setattr(store, "ensure_writable", check_then_lock)
    url = f"sqlite:///{db_file}"
    try:
        result = CliRunner().invoke(app, [*decision, "--db", url, "--catalog", str(catalog_file)])
    finally:
        shell.execute("ROLLBACK")
        shell.close()
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"error: database {url} is locked")
    assert result.stderr.count("\n") == 1
    assert catalog_file.read_bytes() == before
    assert _decisions(db_file) == 0


@pytest.mark.parametrize("decision", DECISIONS, ids=lambda d: d[0])
def test_a_decision_holds_no_write_lock_while_it_edits_the_catalog_file(
    tmp_path: Path, db_file: Path, monkeypatch: pytest.MonkeyPatch, decision: list[str]
) -> None:
    """A whole-file edit of a big catalog takes a minute; a night's batch waits 30 s for
    the write lock, then the run gives up and its checks are lost. The edit is made
    before the decision's write transaction opens."""
    catalog_file = _synced_catalog(tmp_path, db_file)
    free_while_editing: list[bool] = []
    edit = decisions.apply_edits

    def edit_and_try_a_write(path: Path, edits: Any, **options: Any) -> Any:
        night = sqlite3.connect(db_file, isolation_level=None, timeout=0)
        try:
            night.execute("BEGIN IMMEDIATE")
            night.execute("ROLLBACK")
            free_while_editing.append(True)
        except sqlite3.OperationalError:
            free_while_editing.append(False)
        finally:
            night.close()
        return edit(path, edits, **options)  # (`dry_run`, as `decisions._applied` passes it)

    monkeypatch.setattr(decisions, "apply_edits", edit_and_try_a_write)
    args = [*decision, "--db", f"sqlite:///{db_file}", "--catalog", str(catalog_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert free_while_editing == [True]
    assert _decisions(db_file) == 1


@pytest.mark.parametrize("decision", DECISIONS, ids=lambda d: d[0])
def test_a_full_disk_at_the_decisions_commit_puts_the_catalog_file_back(
    tmp_path: Path, db_file: Path, decision: list[str]
) -> None:
    """The disk fills between the file's edit and the decision's commit: the file goes
    back to its bytes before, nothing is recorded, and the command run again does it."""
    catalog_file = _synced_catalog(tmp_path, db_file)
    before = catalog_file.read_bytes()
    url = f"sqlite:///{db_file}"
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]  # SQLITE_FULL

    def note_decision(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DECISIONS"):
            conn.info["decision"] = True

    def disk_full_at_commit(conn: Any) -> None:
        if conn.info.pop("decision", False):
            raise StoreError(f"database {url} {catalog.db._sqlite_unusable(full)}")

    event.listen(Engine, "before_cursor_execute", note_decision)
    event.listen(Engine, "commit", disk_full_at_commit)
    args = [*decision, "--db", url, "--catalog", str(catalog_file)]
    try:
        result = CliRunner().invoke(app, args)
    finally:
        event.remove(Engine, "before_cursor_execute", note_decision)
        event.remove(Engine, "commit", disk_full_at_commit)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"error: database {url} cannot be written, the disk is full")
    assert result.stderr.count("\n") == 1
    assert catalog_file.read_bytes() == before
    assert _decisions(db_file) == 0
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert catalog_file.read_bytes() != before
    assert _decisions(db_file) == 1


def test_a_decision_whose_sync_fails_after_its_record_says_to_sync_not_to_run_it_again(
    tmp_path: Path, db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded and written, then the re-sync met a lock: "run the command again" was the
    advice, and an accept-redirect run again is refused (the file's URL changed). The error
    names the sync that catches the database up, and that sync does."""
    import catalog.decisions

    catalog_file = _synced_catalog(tmp_path, db_file)
    url = f"sqlite:///{db_file}"
    sync_catalogs = catalog.decisions.sync_catalogs
    locked = catalog.db._sqlite_unusable(_locked_error())
    assert locked is not None

    def sync_meets_a_lock(*args: Any, **kwargs: Any) -> Any:
        raise StoreError(f"database {url} {locked}", fault=f"database {url} is locked", locked=True)

    monkeypatch.setattr(catalog.decisions, "sync_catalogs", sync_meets_a_lock)
    new = "https://example.org/new"
    args = ["--db", url, "--catalog", str(catalog_file)]
    result = CliRunner().invoke(app, ["replace-url", "r1", new, *args])
    assert result.exit_code == 3, result.output
    said = result.stderr
    assert said.startswith(f"error: database {url} is locked; the decision is recorded and ")
    assert said.count("\n") == 1 and "run the command again" not in said
    assert new in catalog_file.read_text(encoding="utf-8") and _decisions(db_file) == 1
    monkeypatch.setattr(catalog.decisions, "sync_catalogs", sync_catalogs)
    sync = re.search(r"`(linkhealth sync [^`]+)`", said)
    assert sync, said
    assert CliRunner().invoke(app, shlex.split(sync[1])[1:]).exit_code == 0
    engine = open_engine(url)
    try:
        assert store.find_resource(engine, "r1").url == new
    finally:
        engine.dispose()


def _locked_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = 5  # type: ignore[attr-defined]  # SQLITE_BUSY
    return error


def test_a_read_only_database_is_found_out_before_a_decision_writes_anything(
    db_file: Path,
) -> None:
    read_only = open_engine(f"sqlite:///file:{db_file}?mode=ro&uri=true")
    try:
        with pytest.raises(StoreError, match=r"lh\.db.* is read-only"):
            store.ensure_writable(read_only)
    finally:
        read_only.dispose()
    writable = open_engine(f"sqlite:///{db_file}")
    try:
        store.ensure_writable(writable)  # and a writable one is left as it was
    finally:
        writable.dispose()
    assert _runs(db_file) == [(1, "running")]


def test_a_run_whose_database_file_is_deleted_meanwhile_fails_saying_so(
    tmp_path: Path,
) -> None:
    """SQLite's open connections go on writing into a deleted file: a check whose file an
    operator removed (or replaced with a backup) mid-way completed, exit 0, and nothing
    it stored could be read. The next run opens the file that is there then."""
    from catalog import runs
    from catalog.db import engine_for, fresh_engine_for
    from catalog.settings import Settings

    catalog.db._cached_engine.cache_clear()
    url = f"sqlite:///{tmp_path / 'lh.db'}"
    settings = Settings().with_overrides(database_url=url)
    copy_migrated_sqlite(tmp_path / "lh.db")  # the file made after it is deleted migrates
    engine = engine_for(url)
    run_id = store.start_run(engine, trigger="manual", now=T0)
    for file in tmp_path.glob("lh.db*"):
        file.unlink()
    try:
        for step in (
            lambda: runs.store_batch(settings, run_id, []),
            lambda: runs.finish_run(settings, run_id, stored=[]),
        ):
            with pytest.raises(StoreError, match=r"lh\.db was deleted or replaced while"):
                step()
        fresh = fresh_engine_for(url)
        assert fresh is not engine and (tmp_path / "lh.db").is_file()
        assert store.latest_runs(fresh) == []
    finally:
        catalog.db._cached_engine.cache_clear()


@pytest.mark.flow
def test_a_lock_held_mid_check_ends_the_run_saying_how_many_urls_results_were_lost(
    prefect_harness: None, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A curator's shell takes the lock after the first batch is stored: every later batch
    is lost. The run's error said only "what was stored before is kept, run the command
    again", as if nothing was lost; it says how many URLs' results were, and what to do."""
    import flows.check_flow as check_flow
    from tests.local_site import local_site
    from tests.test_flow import _write_catalog

    monkeypatch.setattr(catalog.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    catalog.db._cached_engine.cache_clear()
    db = isolated_cwd / "lh.db"
    copy_migrated_sqlite(db)
    shell: list[sqlite3.Connection] = []
    store_batch = check_flow.store_batch

    def lock_after_the_first(*args: Any, **kwargs: Any) -> Any:
        if not shell:
            shell.append(sqlite3.connect(db, isolation_level=None))
            result = store_batch(*args, **kwargs)
            shell[0].execute("BEGIN IMMEDIATE")
            return result
        return store_batch(*args, **kwargs)

    monkeypatch.setattr(check_flow, "store_batch", lock_after_the_first)
    try:
        with local_site() as site:
            catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
            state = check_flow.check_catalog(
                overrides={
                    "database_url": f"sqlite:///{db}",
                    "catalogs": [str(catalog_file)],
                    "allow_private": True,
                    "batch_size": 1,
                },
                render=False,
                return_state=True,
            )
    finally:
        for conn in shell:
            conn.execute("ROLLBACK")
            conn.close()
        catalog.db._cached_engine.cache_clear()
    assert state.is_failed()
    with pytest.raises(StoreError) as caught:
        state.result()
    said = str(caught.value)
    assert caught.value.exit_code == 3 and "\n" not in said
    assert said.startswith(f"database sqlite:///{db} is locked: another process held")
    assert "what was stored before is kept, run the command again" not in said
    lost = re.search(
        r"; run 1 stopped there: the results of (\d+) of its (\d+) URLs were lost "
        r"\((\d+) of its (\d+) batches not stored; what it stored before \((\d+) results?\) "
        r"is kept\): `linkhealth status` shows a run or recheck in progress that may hold it; "
        r"once it is free, run the check again",
        said,
    )
    assert lost, said
    urls, total, batches, all_batches, kept = map(int, lost.groups())
    assert urls + kept == total and urls > 0 and kept > 0
    assert 0 < batches < all_batches
