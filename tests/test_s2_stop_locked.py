"""A run stopped while another process holds the database's write lock still ends in time.

Behind a held lock (a `sqlite3` shell left inside BEGIN, a long recheck), `store_unfinished`
waited the whole busy timeout (30 s) for one batch despite its 5 s budget, then
`abandon_run` waited it twice more (marking the run, releasing the lease): ~90 s, systemd's
default time before it SIGKILLs a stopping service. Each now waits only what is left of
its own bound (`catalog.db.waiting_until`), and says what it gave up.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

import catalog.db
from catalog import store
from catalog.db import waiting_until
from catalog.errors import StoreError
from catalog.runs import FULL_RUN_LEASE, abandon_run, store_unfinished
from catalog.store._sql import PG_WRITE_LOCK, write_session
from tests.factories import Ticker, make_observation, temporary_database
from tests.test_s1_unfinished import _run, _stored, _urls

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    # A busy timeout far above every bound below, yet short should a bound not hold.
    monkeypatch.setattr(catalog.db, "SQLITE_WAIT_NOTICE_MS", 100)
    monkeypatch.setattr(catalog.db, "SQLITE_BUSY_TIMEOUT_MS", 8_000)
    with temporary_database(tmp_path) as made:
        yield made


@contextmanager
def write_lock_held(engine: Engine, seconds: float | None) -> Iterator[None]:
    """Another process's writer: the database's write lock held by a connection of its own
    (SQLite: BEGIN IMMEDIATE; PostgreSQL: `write_session`'s advisory lock), let go after
    `seconds` (None: only when the block ends)."""
    other: Engine | None = None
    raw: Any = None
    if engine.dialect.name == "sqlite":
        holder: Any = sqlite3.connect(
            str(engine.url.database), isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN IMMEDIATE")
        release: Callable[[], object] = functools.partial(holder.execute, "COMMIT")
    else:
        other = create_engine(engine.url, poolclass=NullPool)
        raw = other.raw_connection()  # kept: the connection closes with it
        holder = raw.driver_connection
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (PG_WRITE_LOCK,))
        release = holder.commit
    timer = threading.Timer(seconds, release) if seconds is not None else None
    if timer is not None:
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.join()
        holder.close()
        if raw is not None:
            raw.close()
        if other is not None:
            other.dispose()


def _said(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


def test_a_stop_behind_a_lock_that_stays_stores_nothing_within_its_budget_and_says_so(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    urls = _urls(3, per_host=2)
    settings, prepared = _run(engine, tmp_path, urls)
    checked = [make_observation(u) for u in urls]
    caplog.set_level(logging.WARNING)
    with write_lock_held(engine, None):
        started = time.monotonic()
        kept = store_unfinished(
            settings,
            prepared.run_id,
            [checked[:4], checked[4:]],
            lease=prepared.lease,
            budget_s=0.6,
        )
        took = time.monotonic() - started
    assert took < 2.0, took  # its budget, not the busy timeout (8 s here, 30 s in use)
    assert (kept.stored, kept.batches, kept.set_aside) == (0, 0, 6)
    (said,) = _said(caplog, "of its unfinished batches were not stored")
    assert f"run {prepared.run_id}: 6 checked URLs" in said
    assert "stayed locked past the 0.6 s a stop may spend storing them" in said
    assert _stored(engine, prepared.run_id) == {}


def test_a_stop_behind_a_lock_let_go_in_time_stores_what_was_checked(
    engine: Engine, tmp_path: Path
) -> None:
    urls = _urls(2, per_host=2)
    settings, prepared = _run(engine, tmp_path, urls)
    checked = [make_observation(u) for u in urls]
    with write_lock_held(engine, 0.4):
        kept = store_unfinished(
            settings, prepared.run_id, [checked], lease=prepared.lease, budget_s=5.0
        )
    assert (kept.stored, kept.batches, kept.set_aside) == (4, 1, 0)
    assert set(_stored(engine, prepared.run_id)) == set(urls)


def test_abandon_behind_a_lock_that_stays_waits_its_bound_once_and_says_when_the_lease_frees(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Marking the run and releasing the lease shared one bound: two writes each waited
    the whole busy timeout (60 s in use)."""
    settings, prepared = _run(engine, tmp_path, _urls(2))
    caplog.set_level(logging.WARNING)
    with write_lock_held(engine, None):
        started = time.monotonic()
        abandon_run(settings, prepared, reason="stopped", stopped=True, clock=Ticker(), wait_s=0.6)
        took = time.monotonic() - started
    assert took < 2.0, took
    (marked,) = _said(caplog, "could not mark run")
    assert f"could not mark run {prepared.run_id} aborted" in marked
    assert "the time this step may wait for it ran out" in marked
    (lease,) = _said(caplog, "could not give back its lease")
    held = store.get_lease(engine, FULL_RUN_LEASE)
    assert held is not None  # nothing was written: the run and its lease are as they were
    assert f"expires on its own at {held.expires_at:%Y-%m-%d %H:%M:%S} UTC" in lease
    assert "The next run on this machine takes it over once this process has ended" in lease
    assert store.get_run(engine, prepared.run_id).status == "running"


def test_abandon_behind_a_lock_let_go_in_time_ends_the_run_and_frees_the_lease(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, prepared = _run(engine, tmp_path, _urls(2))
    caplog.set_level(logging.WARNING)
    with write_lock_held(engine, 0.4):
        abandon_run(settings, prepared, reason="stopped", stopped=True, clock=Ticker(), wait_s=5)
    assert store.get_run(engine, prepared.run_id).status == "aborted"
    assert store.get_lease(engine, FULL_RUN_LEASE) is None
    assert _said(caplog, "could not") == []


def test_a_whole_stop_behind_a_lock_that_stays_ends_within_its_two_bounds(
    engine: Engine, tmp_path: Path
) -> None:
    urls = _urls(2, per_host=3)
    settings, prepared = _run(engine, tmp_path, urls)
    batches = [[make_observation(u) for u in urls[:3]], [make_observation(u) for u in urls[3:]]]
    with write_lock_held(engine, None):
        started = time.monotonic()
        store_unfinished(settings, prepared.run_id, batches, lease=prepared.lease, budget_s=0.5)
        abandon_run(settings, prepared, reason="stopped", stopped=True, clock=Ticker(), wait_s=0.5)
        took = time.monotonic() - started
    assert took < 2.5, took  # 0.5 s + 0.5 s and the work, not three busy timeouts


def test_past_its_bound_each_write_still_gets_one_try(engine: Engine, tmp_path: Path) -> None:
    """A bound already spent (by `store_unfinished` before it) waits no more, but the lock
    may be free by then: the run is still marked and its lease given back."""
    settings, prepared = _run(engine, tmp_path, _urls(2))
    abandon_run(settings, prepared, reason="stopped", stopped=True, clock=Ticker(), wait_s=0)
    assert store.get_run(engine, prepared.run_id).status == "aborted"
    assert store.get_lease(engine, FULL_RUN_LEASE) is None


def test_a_write_inside_waiting_until_fails_as_locked_at_its_deadline(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="catalog.db")
    with write_lock_held(engine, None):
        started = time.monotonic()
        with (
            pytest.raises(StoreError, match="the time this step may wait for it ran out") as exc,
            waiting_until(time.monotonic() + 0.8),
            write_session(engine) as s,
        ):
            s.execute(text("UPDATE runs SET trigger = trigger"))
        took = time.monotonic() - started
    assert exc.value.locked
    assert 0.6 <= took < 2.0, took  # it did wait, up to the deadline only
    if engine.dialect.name == "sqlite":  # the notice gives the wait it will really make
        (said,) = _said(caplog, "waiting for the database")
        assert "waiting up to 1 s in all" in said
    # Outside the block the usual busy timeout is back.
    with write_lock_held(engine, 0.9):
        started = time.monotonic()
        with write_session(engine) as s:
            s.execute(text("UPDATE runs SET trigger = trigger"))
        assert time.monotonic() - started >= 0.7


def test_a_savepoint_rolled_back_inside_waiting_until_recovers_its_transaction(
    tmp_path: Path,
) -> None:
    """PostgreSQL: `waiting_until` sets `lock_timeout` before each statement; in a
    transaction a statement failed in, that call erred first, so `ROLLBACK TO SAVEPOINT`
    raised InFailedSqlTransaction and the outer transaction could not go on."""
    from sqlalchemy.exc import IntegrityError

    with temporary_database(tmp_path) as engine:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE s2_probe (x INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO s2_probe VALUES (1)"))
        with waiting_until(time.monotonic() + 5), engine.begin() as conn:
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(text("INSERT INTO s2_probe VALUES (1)"))
            conn.execute(text("INSERT INTO s2_probe VALUES (2)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM s2_probe")).scalar_one() == 2
