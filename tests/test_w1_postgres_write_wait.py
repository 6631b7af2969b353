"""PostgreSQL: a command waiting for another linkhealth writer's lock (`write_session`'s
advisory lock) says so on stderr once the wait is long, as a SQLite one does
(`test_p1_lock_wait`), instead of sitting silent for as long as the other writes.
PostgreSQL only (LINKHEALTH_TEST_DATABASE_URL); skipped on SQLite."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import catalog.db
from catalog import store
from catalog.clock import utcnow
from catalog.db import shown_url, waiting_until
from catalog.errors import StoreError
from catalog.store._sql import write_session
from tests.factories import temporary_database
from tests.test_s2_stop_locked import write_lock_held


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A PostgreSQL database whose writers say they wait after 0.2 s instead of 2 s."""
    monkeypatch.setattr(catalog.db, "PG_WAIT_NOTICE_MS", 200, raising=False)
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
