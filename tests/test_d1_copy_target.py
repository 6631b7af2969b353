"""`linkhealth db copy` never harms a target that is not linkhealth's, and a refused or
failed copy leaves nothing behind; `db upgrade` never migrates under a run in progress.

Another application's SQLite file named with --to got linkhealth's tables beside its own
(exit 0); a copy refused for a run in progress left its target file behind, made and
migrated, because the target was migrated before the lease was looked at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, make_url, text
from typer.testing import CliRunner

from catalog import migrate, store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.outcomes import Outcome
from catalog.runs import FULL_RUN_LEASE, LEASE_TTL
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.transfer import copy_database
from flows.cli import app
from tests.factories import (
    T0,
    days,
    is_sqlite,
    make_catalog,
    make_observation,
    make_resource,
    migrated_sqlite,
)

KIT = make_catalog("toolkit", [make_resource("a", "https://example.org/a")])


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database with a run and its observation: something to copy (started from a
    migrated copy: the targets are what these tests migrate)."""
    engine = migrated_sqlite(tmp_path / "old.db")
    sync_catalogs(engine, [KIT], now=T0)
    run_id = store.start_run(engine, trigger="schedule", now=T0)
    observations = [make_observation("https://example.org/a", Outcome.OK)]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=T0)
    store.finish_run(engine, run_id, status="completed", now=T0 + timedelta(minutes=1))
    yield engine
    engine.dispose()


def _copy(source: Engine, to: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["db", "copy", "--db", source.url.render_as_string(), "--to", to]
    )
    return result.exit_code, " ".join(result.output.split())


def _tables(url: str) -> list[str]:
    """The tables at `url`, looked at without creating or changing anything."""
    file = make_url(url).database
    if is_sqlite(url):
        assert file is not None
        if not Path(file).exists():
            return []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_another_application_s_database_is_refused_and_left_as_it_was(
    source: Engine, db_url: str
) -> None:
    other = create_engine(db_url)  # not open_engine: that would make a linkhealth database
    with other.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'Ada')"))
    other.dispose()

    code, said = _copy(source, db_url)

    assert code == 3, said
    assert "holds tables that are not linkhealth's (customers)" in said
    assert "nothing was written into it" in said
    assert _tables(db_url) == ["customers"]
    if is_sqlite(db_url):  # not even switched to WAL, as linkhealth's own files are
        with sqlite3.connect(str(make_url(db_url).database)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_an_empty_file_or_database_is_copied_into(source: Engine, db_url: str) -> None:
    if is_sqlite(db_url):  # an empty file made beforehand (touch): no table of anyone's
        Path(str(make_url(db_url).database)).touch()

    code, said = _copy(source, db_url)

    assert code == 0, said
    assert "Copied" in said and "1 observations" in said


@pytest.mark.parametrize("refusal", ["a run in progress", "nothing to copy"])
def test_a_refused_copy_creates_nothing_in_its_target(
    source: Engine, db_url: str, refusal: str
) -> None:
    if refusal == "a run in progress":
        lease = store.acquire_lease(
            source, FULL_RUN_LEASE, "host:1 flow", now=utcnow(), ttl=LEASE_TTL
        )
        assert lease.acquired
        expected = 8
    else:
        with source.begin() as conn:  # a database made, never synced or checked
            for table in ("observations", "runs", "events", "resources", "links", "collections"):
                conn.execute(text(f"DELETE FROM {table}"))
        expected = 2

    code, said = _copy(source, db_url)

    assert code == expected, said
    assert _tables(db_url) == []
    if is_sqlite(db_url):
        assert not Path(str(make_url(db_url).database)).exists()


def test_a_copy_failing_part_way_removes_the_sqlite_file_it_made_not_one_that_was_there(
    source: Engine, tmp_path: Path
) -> None:
    def interrupted(table: str, done: int, total: int) -> None:
        if table == "observations":
            raise KeyboardInterrupt

    made = tmp_path / "new.db"
    target = open_engine(f"sqlite:///{made}", migrate=False)
    with pytest.raises(KeyboardInterrupt):
        copy_database(source, target, now=days(4), on_progress=interrupted)
    target.dispose()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("new.db")) == []

    there = tmp_path / "there.db"
    there.touch()  # made beforehand: the operator's, kept
    target = open_engine(f"sqlite:///{there}", migrate=False)
    with pytest.raises(KeyboardInterrupt):
        copy_database(source, target, now=days(4), on_progress=interrupted)
    target.dispose()
    assert there.exists()
    kept = open_engine(f"sqlite:///{there}")
    try:
        assert store.latest_runs(kept, limit=1) == []  # as empty as it was
    finally:
        kept.dispose()


#: The revision before the newest (0016), whose upgrade adds columns to links and observations.
OLDER = "0015"


@pytest.mark.parametrize("work", ["a full run's lease", "a recheck"])
def test_db_upgrade_with_a_migration_pending_is_refused_during_a_run(
    db_url: str, work: str
) -> None:
    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), OLDER)
    holder = store.lease_holder()  # this process: alive
    if work == "a full run's lease":
        claim = store.acquire_lease(engine, FULL_RUN_LEASE, holder, now=utcnow(), ttl=LEASE_TTL)
        assert claim.acquired
        named = f"a full run holding lease 'full-run' ({holder}"
    else:  # rechecks take no lease: their running run tells
        run_id = store.start_run(
            engine, trigger="recheck", now=utcnow(), summary={"holder": holder}
        )
        named = f"run {run_id} (recheck, started "
    try:
        refused = CliRunner().invoke(app, ["db", "upgrade", "--db", db_url])
        assert refused.exit_code == 8, refused.output
        said = " ".join(refused.output.split())
        assert f"is at schema revision {OLDER}" in said and named in said
        assert "nothing was changed" in said
        assert migrate.current_revision(engine) == OLDER

        if work == "a full run's lease":  # the run ends
            store.release_lease(engine, FULL_RUN_LEASE, holder)
        else:  # as the older process that started it ends it: this code's `finish_run`
            # reads columns of later revisions (a run's held tries, 0021)
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE runs SET status = 'completed', finished_at = :now WHERE id = :id"),
                    {"now": utcnow(), "id": run_id},
                )
        upgraded = CliRunner().invoke(app, ["db", "upgrade", "--db", db_url])
        assert upgraded.exit_code == 0, upgraded.output
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
