"""A migration never starts under a run in progress: it would lose the run's batches.

On SQLite the upgrade holds the write lock throughout; a batch migration rebuilding
`observations` took 85 s at 6 million rows, and a run's batch waiting 30 s for the lock
failed, its results lost. Every command migrates on open (`catalog.db.open_engine`), so a
`linkhealth status` after a `git pull` did it in the middle of the night's run.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from catalog import migrate, store
from catalog.clock import utcnow
from catalog.runs import FULL_RUN_LEASE, LEASE_TTL, RunLeaseError
from catalog.transfer import copy_database
from flows.cli import app
from tests.factories import days, is_sqlite, temporary_database

#: A revision before head whose upgrade changes something (0010 adds an index).
OLDER = "0009"
#: The revision before head: the database a `git pull` of one migration finds.
PREVIOUS = str(
    migrate.ScriptDirectory.from_config(migrate.alembic_config())
    .get_revision(migrate.head_revision())
    .down_revision
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def _back_to_older(engine: Engine, revision: str = OLDER) -> None:
    """The database as an older linkhealth left it: migrated by the next command."""
    with engine.begin() as conn:
        migrate.command.downgrade(migrate.alembic_config(conn), revision)
    assert migrate.current_revision(engine) == revision


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_run_in_progress_is_not_migrated_under(engine: Engine) -> None:
    run_id = store.start_run(
        engine, trigger="schedule", now=days(0), summary={"holder": store.lease_holder()}
    )
    _back_to_older(engine)

    with pytest.raises(migrate.UpgradeRefusedError) as refused:
        migrate.upgrade(engine)

    message = str(refused.value)
    assert f"run {run_id} (schedule, started " in message
    assert "Run this command again once the run has finished" in message
    assert refused.value.exit_code == 8
    assert migrate.current_revision(engine) == OLDER  # nothing changed

    with engine.begin() as conn:  # the run ends
        conn.execute(text("UPDATE runs SET status = 'completed' WHERE id = :id"), {"id": run_id})
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_a_full_run_still_syncing_holds_off_the_migration_by_its_lease(engine: Engine) -> None:
    """A full run holds its lease from before its sync; its run is recorded only after."""
    holder = store.lease_holder()
    claim = store.acquire_lease(engine, FULL_RUN_LEASE, holder, now=utcnow(), ttl=LEASE_TTL)
    assert claim.acquired
    _back_to_older(engine)

    with pytest.raises(migrate.UpgradeRefusedError, match=f"lease 'full-run' \\({holder}, "):
        migrate.upgrade(engine)
    assert migrate.current_revision(engine) == OLDER

    store.release_lease(engine, FULL_RUN_LEASE, holder)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_a_run_whose_process_is_gone_does_not_hold_off_the_migration(engine: Engine) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    holder = f"{store.lease_holder().split(':')[0]}:{gone.stdout.strip()} flow-run"
    store.start_run(engine, trigger="schedule", now=days(0), summary={"holder": holder})
    store.acquire_lease(engine, FULL_RUN_LEASE, holder, now=utcnow(), ttl=LEASE_TTL)
    _back_to_older(engine)

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()


def test_cli_upgrade_during_a_run_names_it_and_exits_8(engine: Engine) -> None:
    run_id = store.start_run(
        engine, trigger="manual", now=days(0), summary={"holder": store.lease_holder()}
    )
    _back_to_older(engine)

    prune = ["db", "prune", "--keep-days", "400"]
    for command in (["db", "upgrade"], prune):  # any command but `status` migrates on open
        result = CliRunner().invoke(app, [*command, "--db", _url(engine)])
        assert result.exit_code == 8, result.output
        assert f"run {run_id} (manual, started " in result.stderr
        assert "nothing was changed" in result.stderr
        assert "Traceback" not in result.output
    assert migrate.current_revision(engine) == OLDER


def _nightly_run(engine: Engine) -> tuple[int, str]:
    """A full run in progress in this (live) process, its lease held: the night's run."""
    holder = store.lease_holder()
    run_id = store.start_run(
        engine,
        trigger="schedule",
        now=utcnow(),
        summary={"holder": holder, "lease": FULL_RUN_LEASE},
    )
    claim = store.acquire_lease(
        engine, FULL_RUN_LEASE, holder, now=utcnow(), ttl=LEASE_TTL, run_id=run_id
    )
    assert claim.acquired
    return run_id, holder


def _status(engine: Engine) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["status", "--db", _url(engine)])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout


def test_status_during_a_run_leaves_the_migration_for_later_and_shows_the_run(
    engine: Engine,
) -> None:
    """`git pull` while the night runs, then `linkhealth status`: it was refused (exit 8),
    so the operator saw nothing of the run. Now it shows the runs and the lease from the
    old schema, and says the migration waits for the next command after the run."""
    run_id, holder = _nightly_run(engine)
    _back_to_older(engine, PREVIOUS)

    code, out = _status(engine)

    assert code == 0, out
    assert migrate.current_revision(engine) == PREVIOUS  # not migrated under the run
    (pending,) = [line for line in out.splitlines() if line.startswith("Migration pending")]
    assert f"at schema revision {PREVIOUS}, " in pending
    assert f"needs {migrate.head_revision()}" in pending
    assert f"run {run_id} (schedule, started " in pending and holder in pending
    assert "`linkhealth db upgrade`" in pending
    (line,) = [x for x in out.splitlines() if x.startswith(f"run {run_id} ")]
    assert " running " in line and "still running" in line
    assert f"Lease {FULL_RUN_LEASE}: held by {holder} (run {run_id})" in out

    store.finish_run(engine, run_id, status="completed", now=utcnow())  # the run ends
    store.release_lease(engine, FULL_RUN_LEASE, holder)
    code, out = _status(engine)
    assert code == 0, out
    assert "Migration pending" not in out
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_status_during_a_run_says_what_the_old_schema_cannot_show(engine: Engine) -> None:
    """A migration that adds a column status reads: the runs cannot be read before it,
    and status says so, naming the column, instead of failing on it."""
    run_id, _ = _nightly_run(engine)
    _back_to_older(engine, PREVIOUS)
    with engine.begin() as conn:  # as if the pending migration added it
        conn.execute(text("ALTER TABLE runs DROP COLUMN flow_run_id"))

    code, out = _status(engine)

    assert code == 0, out
    assert f"run {run_id} (schedule, started " in out  # from what the old schema holds
    (line,) = [x for x in out.splitlines() if x.startswith("Runs and lease: not shown")]
    assert "runs.flow_run_id" in line
    assert "Prefect API " in out
    assert migrate.current_revision(engine) == PREVIOUS


def test_status_whose_look_missed_a_starting_run_is_not_refused(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that starts between status's look and the migration's lock: the migration
    refuses, and status shows what it would have shown had it seen the run."""
    run_id, _ = _nightly_run(engine)
    _back_to_older(engine, PREVIOUS)
    monkeypatch.setattr(migrate, "held_off", lambda _engine: None)  # the look came first

    code, out = _status(engine)

    assert code == 0, out
    assert "Migration pending" in out and f"run {run_id} (schedule, started " in out
    assert migrate.current_revision(engine) == PREVIOUS


def test_status_during_a_run_does_not_wait_for_the_runs_write(engine: Engine) -> None:
    """On SQLite the migration's check takes the write lock: status waited for a batch
    the run was writing (30 s) and then failed on the lock (exit 3)."""
    if not is_sqlite(_url(engine)):
        pytest.skip("the file's write lock is SQLite's")
    run_id, _ = _nightly_run(engine)
    _back_to_older(engine, PREVIOUS)
    assert engine.url.database is not None
    writer = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the run storing a batch
        writer.execute("UPDATE runs SET urls_checked = 1 WHERE id = ?", (run_id,))
        started = time.monotonic()
        code, out = _status(engine)
        took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert code == 0, out
    assert took < 10, took
    assert "Migration pending" in out


def test_copy_and_migration_name_a_run_in_progress_alike(tmp_path: Path, engine: Engine) -> None:
    """One run, refused for by `db copy` and by a migration: said in the same words."""
    holder = store.lease_holder()
    run_id = store.start_run(engine, trigger="recheck", now=days(0), summary={"holder": holder})
    said = re.compile(rf"run {run_id} \(recheck[^)]*\)")

    with temporary_database(tmp_path, "target.db") as target, pytest.raises(RunLeaseError) as copy:
        copy_database(engine, target, now=utcnow())
    _back_to_older(engine, PREVIOUS)
    with pytest.raises(migrate.UpgradeRefusedError) as upgrade:
        migrate.upgrade(engine)

    by_upgrade, by_copy = said.search(str(upgrade.value)), said.search(str(copy.value))
    assert by_upgrade is not None and by_copy is not None
    assert by_upgrade.group() == by_copy.group()
    assert "started " in by_copy.group() and holder in by_copy.group()
