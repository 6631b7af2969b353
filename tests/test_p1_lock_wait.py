"""A command waiting for a SQLite database another process is writing says so on stderr
once the wait is long (`catalog.db.SQLITE_WAIT_NOTICE_MS`), instead of sitting silent for
up to 30 s, and still gives up after `SQLITE_BUSY_TIMEOUT_MS` in all."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

import catalog.db
from catalog import store
from catalog.clock import utcnow
from catalog.errors import StoreError
from tests.factories import migrated_sqlite


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notice after 0.1 s instead of 2 s, given up after 5 s instead of 30 s."""
    monkeypatch.setattr(catalog.db, "SQLITE_WAIT_NOTICE_MS", 100)
    monkeypatch.setattr(catalog.db, "SQLITE_BUSY_TIMEOUT_MS", 5_000)


@pytest.fixture
def engine(tmp_path: Path, short_waits: None) -> Iterator[Engine]:
    made = migrated_sqlite(tmp_path / "lh.db")
    yield made
    made.dispose()


def _held_for(file: Path, seconds: float | None) -> sqlite3.Connection:
    """Another writer: a connection holding the database's write lock, let go after
    `seconds` (None: never, until closed)."""
    holder = sqlite3.connect(file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    if seconds is not None:
        threading.Timer(seconds, holder.execute, ("COMMIT",)).start()
    return holder


def _write(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS p1_probe (x INTEGER)"))
        conn.execute(text("INSERT INTO p1_probe VALUES (1)"))


def _waiting(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for")]


def test_a_write_behind_another_writer_says_once_what_it_waits_for_then_writes(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "lh.db"
    holder = _held_for(file, 0.8)
    caplog.set_level(logging.WARNING, logger="catalog.db")
    started = time.monotonic()
    try:
        _write(engine)
    finally:
        holder.close()
    assert time.monotonic() - started >= 0.7  # it did wait for the other writer
    said = _waiting(caplog)
    assert len(said) == 1, said
    assert said[0].startswith(f"waiting for the database {file}: another process is writing")
    assert "no other run is recorded in progress" in said[0]  # nothing claimed that is not so
    assert "up to 5 s" in said[0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM p1_probe")).scalar() == 1


def test_the_wait_names_the_run_recorded_in_progress(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = store.start_run(engine, trigger="scheduled", now=utcnow())
    holder = _held_for(tmp_path / "lh.db", 0.5)
    caplog.set_level(logging.WARNING, logger="catalog.db")
    try:
        _write(engine)
    finally:
        holder.close()
    (said,) = _waiting(caplog)
    assert f"(run {run_id} in progress, see `linkhealth status`)" in said


def test_a_write_that_is_not_kept_waiting_says_nothing(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="catalog.db")
    _write(engine)
    assert _waiting(caplog) == []


def test_a_lock_held_past_the_busy_timeout_still_fails_as_locked_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(catalog.db, "SQLITE_WAIT_NOTICE_MS", 100)
    monkeypatch.setattr(catalog.db, "SQLITE_BUSY_TIMEOUT_MS", 600)
    engine = migrated_sqlite(tmp_path / "lh.db")
    holder = _held_for(tmp_path / "lh.db", None)
    caplog.set_level(logging.WARNING, logger="catalog.db")
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match="is locked"):
            _write(engine)
        waited = time.monotonic() - started
    finally:
        holder.close()
        engine.dispose()
    assert 0.5 <= waited < 3.0  # the whole timeout, not twice it nor only the notice's
    assert len(_waiting(caplog)) == 1


def test_a_write_after_a_read_in_its_transaction_is_refused_at_once_without_a_word(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite cannot wait there (the reader would deadlock the writer): busy at once, as
    before, and not said to be waited for."""
    _write(engine)
    raw = engine.raw_connection()
    holder = None
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        cur.execute("SELECT count(*) FROM p1_probe").fetchall()
        holder = _held_for(tmp_path / "lh.db", None)
        caplog.set_level(logging.WARNING, logger="catalog.db")
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cur.execute("INSERT INTO p1_probe VALUES (2)")
        assert time.monotonic() - started < 1.0
        assert _waiting(caplog) == []
    finally:
        if holder is not None:
            holder.close()
        raw.close()


def test_the_run_of_the_waiting_process_itself_is_not_named(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The nightly run's own writer, kept waiting by a `sqlite3` shell, is no other writer."""
    own = f"{socket.gethostname()}:{os.getpid()} local-test"
    store.start_run(engine, trigger="scheduled", now=utcnow(), summary={"holder": own})
    holder = _held_for(tmp_path / "lh.db", 0.5)
    caplog.set_level(logging.WARNING, logger="catalog.db")
    try:
        _write(engine)
    finally:
        holder.close()
    (said,) = _waiting(caplog)
    assert "no other run is recorded in progress" in said


def test_a_checkpoint_waits_out_a_reader_past_the_notice(engine: Engine, tmp_path: Path) -> None:
    """`db prune` truncates the -wal file (a whole copy of the database after VACUUM) with a
    checkpoint, which reports a reader in its result instead of failing as busy: cut to the
    first wait, it gave up behind a report being rendered and left the file on the disk."""
    _write(engine)
    reader = sqlite3.connect(tmp_path / "lh.db", check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM p1_probe").fetchall()  # holds the WAL's frames
    threading.Timer(0.5, reader.rollback).start()  # past the 0.1 s notice
    try:
        with engine.connect() as conn:
            busy, _, _ = catalog.db.wal_checkpoint(conn)
    finally:
        time.sleep(0.6)
        reader.close()
    assert busy == 0
    assert (tmp_path / "lh.db-wal").stat().st_size == 0


def test_an_autocommit_executemany_is_not_run_again_when_busy(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In autocommit each row commits alone: run again after a busy row, the rows before it
    went in twice. Only a single statement (or one transaction's rows) is run again."""
    _write(engine)
    waited: list[str] = []
    original = catalog.db._WaitingConnection._waiting

    def recording(self: Any, statement: Any) -> Any:
        waited.append("waited")
        return original(self, statement)

    monkeypatch.setattr(catalog.db._WaitingConnection, "_waiting", recording)
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        assert dbapi is not None
        dbapi.isolation_level = None
        dbapi.cursor().executemany("INSERT INTO p1_probe VALUES (?)", [(2,), (3,)])
        assert waited == []
        dbapi.isolation_level = ""
        dbapi.cursor().executemany("INSERT INTO p1_probe VALUES (?)", [(4,), (5,)])
        dbapi.commit()
        assert waited  # in a transaction: run again as the class says
    finally:
        raw.close()
