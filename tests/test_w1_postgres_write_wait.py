"""PostgreSQL: a command waiting for another linkhealth writer's lock (`write_session`'s
advisory lock) says so on stderr once the wait is long, as a SQLite one does
(`test_p1_lock_wait`), instead of sitting silent for as long as the other writes. So does
one waiting for a row another session holds (a `psql` session left inside a transaction),
which fails as locked after `PG_LOCK_TIMEOUT_MS`, as SQLite's busy timeout does.
PostgreSQL only (LINKHEALTH_TEST_DATABASE_URL); skipped on SQLite."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

import catalog.db
import catalog.store._sql
from catalog import store
from catalog.clock import utcnow
from catalog.db import shown_url, waiting_until
from catalog.errors import StoreError
from catalog.store._sql import write_session
from catalog.tables import Run
from flows.cli import app
from tests.factories import database_url, temporary_database, write_catalog
from tests.test_s2_stop_locked import write_lock_held


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A PostgreSQL database whose writers say they wait after 0.2 s instead of 2 s, and
    give up waiting for another session's row after 3 s instead of 30 s."""
    monkeypatch.setattr(catalog.db, "PG_WAIT_NOTICE_MS", 200, raising=False)
    monkeypatch.setattr(catalog.db, "PG_LOCK_TIMEOUT_MS", 3_000)
    with temporary_database(tmp_path) as made:
        if made.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite's wait is test_p1_lock_wait's")
        yield made


def _write(engine: Engine) -> None:
    with write_session(engine) as session:
        session.execute(text("UPDATE runs SET trigger = trigger"))


def _waiting(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for")]


def test_a_write_behind_another_writer_says_once_what_it_waits_for_then_writes(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = store.start_run(engine, trigger="scheduled", now=utcnow())
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with write_lock_held(engine, 1.0):
        _write(engine)
    (said,) = _waiting(caplog)
    assert said == (
        f"waiting for the database {shown_url(engine.url)}: another linkhealth writer holds "
        f"its write lock (run {run_id} in progress, see `linkhealth status`); waiting until "
        "it is done..."
    )


def test_a_write_not_kept_waiting_long_says_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="catalog.db")
    # Before the first write too: the write lock is the database's, not the schema's, and
    # a test of another xdist worker holding it (its own schema, the same database) kept
    # that write waiting past the 2 s notice once in CI.
    monkeypatch.setattr(catalog.db, "PG_WAIT_NOTICE_MS", 60_000, raising=False)
    _write(engine)  # nobody else writes
    with write_lock_held(engine, 0.3):  # a batch of the nightly run's, say
        _write(engine)
    assert _waiting(caplog) == []


def test_no_other_run_in_progress_is_said_as_such(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with write_lock_held(engine, 0.6):
        _write(engine)
    (said,) = _waiting(caplog)
    assert "(no other run is recorded in progress: a curator's command" in said


def test_inside_waiting_until_it_says_the_wait_left_and_still_fails_at_the_deadline(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with (
        write_lock_held(engine, None),
        pytest.raises(StoreError, match="the time this step may wait for it ran out") as exc,
        waiting_until(time.monotonic() + 1.5),
    ):
        _write(engine)
    assert exc.value.locked
    (said,) = _waiting(caplog)
    assert said.endswith("; waiting up to 2 s in all...")


def test_past_the_deadline_it_says_nothing_and_fails_as_locked(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """No time left to wait: no word of waiting, one try, as before."""
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with (
        write_lock_held(engine, None),
        pytest.raises(StoreError) as exc,
        waiting_until(time.monotonic()),
    ):
        _write(engine)
    assert exc.value.locked
    assert _waiting(caplog) == []


def test_a_waiting_writer_gets_the_lock_at_the_holders_next_commit(tmp_path: Path) -> None:
    """Queued at once, not polled: behind a writer that commits and locks again at once
    (a run's batches, `db prune`'s chunks) each of a curator's writes comes right after
    the batch it asked during (the next one at the latest, had that one just committed).
    Polled with pg_try_advisory_xact_lock it was not in PostgreSQL's lock queue, so the
    batches got the lock back ahead of it for the whole `PG_WAIT_NOTICE_MS` (2 s)."""
    with temporary_database(tmp_path) as engine:
        if engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        order: list[str] = []
        stop, first = threading.Event(), threading.Event()

        def batches() -> None:  # back-to-back write transactions, 0.3 s each
            while not stop.is_set():
                with write_session(engine) as session:
                    order.append("batch")
                    first.set()
                    session.execute(text("UPDATE runs SET trigger = trigger"))
                    time.sleep(0.3)

        writer = threading.Thread(target=batches)
        writer.start()
        curator_at: list[int] = []
        try:
            first.wait()
            for _ in range(3):
                asked_at = len(order)
                with write_session(engine) as session:  # a curator's snooze, say
                    curator_at.append(len(order) - asked_at)
                    order.append("curator")
                    session.execute(text("UPDATE runs SET trigger = trigger"))
        finally:
            stop.set()
            writer.join()
        assert max(curator_at) <= 1, order


def test_the_notice_is_never_said_once_the_lock_is_granted(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The notice's sentence takes a query (the runs in progress): a lock granted while
    it is made leaves it unsaid, not printed after the write it was about."""
    caplog.set_level(logging.WARNING, logger="catalog.db")
    asked, go = threading.Event(), threading.Event()

    def runs_in_progress(_engine: Engine) -> list[int]:
        asked.set()
        go.wait(30)
        return []

    monkeypatch.setattr(catalog.db, "_postgresql_runs_in_progress", runs_in_progress)
    with write_lock_held(engine, None):
        writer = threading.Thread(target=_write, args=(engine,))
        writer.start()
        assert asked.wait(30), "no notice was being made"
    writer.join(30)
    assert not writer.is_alive()
    said_before_go = _waiting(caplog)
    go.set()
    for thread in threading.enumerate():  # the notice's timer thread, done
        if isinstance(thread, threading.Timer):
            thread.join(30)
    assert said_before_go == []
    assert _waiting(caplog) == []


def _row_waits(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The notices of a wait for another session's row (not for the write lock, which
    another xdist worker's test may hold: the lock is the database's, not the schema's)."""
    return [said for said in _waiting(caplog) if "another session holds a lock" in said]


@pytest.fixture
def own_write_lock(monkeypatch: pytest.MonkeyPatch) -> int:
    """`write_session`'s advisory lock under a key of this test's: the lock is the
    database's, and a write held up behind a row for seconds would hold up every other
    xdist worker's writes with it (and this test's behind theirs)."""
    key = secrets.randbits(62)
    monkeypatch.setattr(catalog.store._sql, "PG_WRITE_LOCK", key)
    return key


@contextmanager
def row_held(
    engine: Engine, seconds: float | None, update: str = "UPDATE runs SET trigger = trigger"
) -> Iterator[int]:
    """A `psql` session left inside a transaction that updated rows (`update`, the runs'
    by default; or took another lock): their row locks held by a connection of its own,
    let go after `seconds` (None: when the block ends). Yields its server process id."""
    other = create_engine(engine.url, poolclass=NullPool)
    raw = other.raw_connection()
    holder = raw.driver_connection
    assert holder is not None
    holder.execute(update)
    timer = threading.Timer(seconds, holder.rollback) if seconds is not None else None
    if timer is not None:
        timer.start()
    try:
        yield holder.info.backend_pid
    finally:
        if timer is not None:
            timer.join()
        raw.close()
        other.dispose()


def test_a_write_behind_a_row_another_session_holds_says_so_then_writes(
    engine: Engine, caplog: pytest.LogCaptureFixture, own_write_lock: int
) -> None:
    store.start_run(engine, trigger="scheduled", now=utcnow())
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with row_held(engine, 1.2) as pid:
        _write(engine)
    (said,) = _row_waits(caplog)
    # The session as pg_stat_activity shows it: the tests' URLs name an application.
    app_name = engine.url.query.get("application_name")
    named = f"{app_name}, idle in transaction" if app_name else "idle in transaction"
    assert said == (
        f"waiting for the database {shown_url(engine.url)}: another session holds a lock on "
        f"what this write changes (session {pid} ({named}): a `psql` session left inside a "
        "transaction? end it with COMMIT or ROLLBACK); waiting up to 3 s in all..."
    )


def test_a_write_behind_a_row_held_too_long_fails_as_locked_with_nothing_written(
    engine: Engine, caplog: pytest.LogCaptureFixture, own_write_lock: int
) -> None:
    """`PG_LOCK_TIMEOUT_MS` into the wait: a clear error, the transaction rolled back."""
    store.start_run(engine, trigger="scheduled", now=utcnow())
    caplog.set_level(logging.WARNING, logger="catalog.db")
    started = time.monotonic()
    with row_held(engine, None), pytest.raises(StoreError) as exc, write_session(engine) as s:
        s.add(Run(trigger="second", started_at=utcnow()))
        s.flush()  # written first, rolled back with the rest
        s.execute(text("UPDATE runs SET trigger = trigger"))
    assert 2.5 < time.monotonic() - started < 10
    assert exc.value.locked
    assert str(exc.value) == (
        f"database {shown_url(engine.url)} is locked: another session held a lock on what "
        "this write changes for over 3 s (a `psql` session left inside a transaction? end it "
        "with COMMIT or ROLLBACK); what was stored before is kept, run the command again"
    )
    assert len(_row_waits(caplog)) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 1


def test_the_wait_for_another_writers_lock_is_not_bounded_by_the_row_lock_timeout(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, own_write_lock: int
) -> None:
    """Another linkhealth writer (a long sync) is waited for as long as it writes."""
    monkeypatch.setattr(catalog.db, "PG_LOCK_TIMEOUT_MS", 200)
    with row_held(engine, 1.0, f"SELECT pg_advisory_xact_lock({own_write_lock})"):
        started = time.monotonic()
        _write(engine)
    assert time.monotonic() - started > 0.5


def test_a_write_takes_its_lock_and_its_lock_timeout_in_one_statement(
    engine: Engine, own_write_lock: int
) -> None:
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    _write(engine)  # the pool's connection made, the schema's setup done
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with write_session(engine) as session:
            assert session.execute(text("SHOW lock_timeout")).scalar_one() == "3s"
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 2, statements  # the lock and the timeout at once, then SHOW
    with engine.connect() as conn:  # outside it, the server's default
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "0"


def test_a_snooze_behind_a_psql_session_left_in_a_transaction_says_so_then_fails(
    tmp_path: Path, engine: Engine, own_write_lock: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The command as an operator meets it: a `snooze` of an entry whose row an open `psql`
    transaction updated sat silent for as long as that session stayed open. Now it says
    so, then fails as locked (exit 3) with nothing recorded and its catalog file as it
    was (`recording_decision`)."""
    url = database_url(engine)
    catalog_file = write_catalog(
        tmp_path / "kit.yaml", [{"id": "r1", "title": "One", "url": "https://example.org/r1"}]
    )
    synced = CliRunner().invoke(app, ["sync", "--catalog", str(catalog_file), "--db", url])
    assert synced.exit_code == 0, synced.output
    before = catalog_file.read_text()
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with row_held(engine, None, "UPDATE resources SET title = title WHERE rid = 'r1'"):
        result = CliRunner().invoke(
            app,
            ["snooze", "r1", "--until", "2099-01-01", "--reason", "site rebuild",
             "--catalog", str(catalog_file), "--db", url],
        )  # fmt: skip
    assert result.exit_code == 3, (result.exception, result.output)
    assert "another session held a lock on what this write changes for over 3 s" in result.output
    assert len(_row_waits(caplog)) == 1  # on stderr, where no test's handler takes it
    assert catalog_file.read_text() == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM decisions")).scalar_one() == 0
