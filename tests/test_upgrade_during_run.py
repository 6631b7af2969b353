"""A migration never starts under a run in progress: it would lose the run's batches.

On SQLite the upgrade holds the write lock throughout; a batch migration rebuilding
`observations` took 85 s at 6 million rows, and a run's batch waiting 30 s for the lock
failed, its results lost. Every command migrates on open (`catalog.db.open_engine`), so a
`linkhealth status` after a `git pull` did it in the middle of the night's run.
"""

from __future__ import annotations

import re
import subprocess
import sys
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
from tests.factories import days, temporary_database

#: A revision before head whose upgrade changes something (0010 adds an index).
OLDER = "0009"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def _back_to_older(engine: Engine) -> None:
    """The database as an older linkhealth left it: migrated by the next command."""
    with engine.begin() as conn:
        migrate.command.downgrade(migrate.alembic_config(conn), OLDER)
    assert migrate.current_revision(engine) == OLDER


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

    for command in (["db", "upgrade"], ["status"]):  # any command migrates on open
        result = CliRunner().invoke(app, [*command, "--db", _url(engine)])
        assert result.exit_code == 8, result.output
        assert f"run {run_id} (manual, started " in result.stderr
        assert "nothing was changed" in result.stderr
        assert "Traceback" not in result.output
    assert migrate.current_revision(engine) == OLDER


def test_copy_and_migration_name_a_run_in_progress_alike(tmp_path: Path, engine: Engine) -> None:
    """One run, refused for by `db copy` and by a migration: said in the same words."""
    holder = store.lease_holder()
    run_id = store.start_run(engine, trigger="recheck", now=days(0), summary={"holder": holder})
    said = re.compile(rf"run {run_id} \(recheck[^)]*\)")

    with temporary_database(tmp_path, "target.db") as target, pytest.raises(RunLeaseError) as copy:
        copy_database(engine, target, now=utcnow())
    _back_to_older(engine)
    with pytest.raises(migrate.UpgradeRefusedError) as upgrade:
        migrate.upgrade(engine)

    by_upgrade, by_copy = said.search(str(upgrade.value)), said.search(str(copy.value))
    assert by_upgrade is not None and by_copy is not None
    assert by_upgrade.group() == by_copy.group()
    assert "started " in by_copy.group() and holder in by_copy.group()
