"""PostgreSQL: a command waiting for another linkhealth writer's lock (`write_session`'s
advisory lock) says so on stderr once the wait is long, as a SQLite one does
(`test_p1_lock_wait`), instead of sitting silent for as long as the other writes.
PostgreSQL only (LINKHEALTH_TEST_DATABASE_URL); skipped on SQLite."""

from __future__ import annotations

import logging
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
        f"waiting for the database {shown_url(engine.url)}: another linkhealth process is "
        f"writing to it (run {run_id} in progress, see `linkhealth status`); waiting until "
        "it is done..."
    )


def test_a_write_not_kept_waiting_long_says_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="catalog.db")
    _write(engine)  # nobody else writes
    monkeypatch.setattr(catalog.db, "PG_WAIT_NOTICE_MS", 60_000, raising=False)
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
