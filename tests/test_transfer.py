"""`linkhealth db copy`: a SQLite file's whole history into another (empty) database, so a
catalog that moves to PostgreSQL keeps its confirmation counters, decisions and trend."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, make_url, select, text
from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from catalog.errors import StoreError
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.store import PG_WRITE_LOCK
from catalog.sync import sync_catalogs
from catalog.tables import Base, Observation, Run
from catalog.transfer import copy_database
from flows.cli import app
from tests.factories import T0, days, make_catalog, make_observation, make_resource

HEALTH = HealthSettings(confirm_failures=3, confirm_days=2.0)
URL_A = "https://example.org/a"
URL_B = "https://example.org/b"
KIT = make_catalog("toolkit", [make_resource("a", URL_A), make_resource("b", URL_B)])


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database with three nightly runs, a confirmed broken link and a snooze."""
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    sync_catalogs(engine, [KIT], now=T0)
    for night in range(3):
        now = days(night)
        run_id = store.start_run(engine, trigger="schedule", now=now)
        observations = [make_observation(URL_A), make_observation(URL_B, Outcome.NOT_FOUND)]
        store.record_observations(engine, run_id, observations, HEALTH, now=now)
        store.finish_run(engine, run_id, status="completed", now=now + timedelta(minutes=1))
    b = store.find_resource(engine, "b")
    store.record_decision(
        engine,
        b.id,
        "snooze",
        by="curator",
        at=days(3),
        reason="the publisher is moving it",
        resource_changes={"snoozed_until": days(30)},
    )
    yield engine
    engine.dispose()


@pytest.fixture
def target(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def test_the_copy_continues_every_link_s_history_where_the_old_database_stopped(
    source: Engine, target: Engine
) -> None:
    result = copy_database(source, target, now=days(4))

    assert _counts(target) == _counts(source)
    assert result.rows["observations"] == 6 and result.rows["decisions"] == 1
    old, new = store.resource_history(source, "b"), store.resource_history(target, "b")
    assert new.link == old.link and new.link is not None and new.link.state == "broken"
    assert [o.checked_at for o in new.observations] == [o.checked_at for o in old.observations]
    assert new.events == old.events and new.decisions == old.decisions
    # The next run gets the next id, not one the copied runs already have.
    assert store.start_run(target, trigger="schedule", now=days(4)) == 4
    with target.connect() as conn:
        assert conn.execute(select(func.max(Run.id))).scalar_one() == 4


def test_an_observation_never_judged_for_drift_stays_unjudged_in_the_copy(
    source: Engine, target: Engine
) -> None:
    """SQL NULL `relevance_scores` (a page not judged) came out of the copy as JSON `null`,
    which `db prune` kept as drift history and drift baselines took for a judged page:
    the copy must hold each JSON value as the source did, SQL NULL and JSON alike."""
    judged = {"toolkit/a": 0.9}
    with source.begin() as conn:
        conn.execute(text("UPDATE observations SET relevance_scores = NULL"))
        conn.execute(
            text("UPDATE observations SET relevance_scores = :s WHERE id = 1"),
            {"s": json.dumps(judged)},
        )
    copy_database(source, target, now=days(4))

    def scores(engine: Engine) -> list[tuple[int, bool]]:
        query = "SELECT id, relevance_scores IS NULL FROM observations ORDER BY id"
        with engine.connect() as conn:
            return [(i, bool(n)) for i, n in conn.execute(text(query))]

    assert scores(target) == scores(source) == [(1, False)] + [(i, True) for i in range(2, 7)]
    with target.connect() as conn:
        first = select(Observation.relevance_scores).where(Observation.id == 1)
        assert conn.execute(first).scalar_one() == judged
    assert _counts(target) == _counts(source)


def test_the_target_must_be_empty_and_no_run_may_hold_the_source(
    source: Engine, target: Engine
) -> None:
    now = days(4)
    store.acquire_lease(source, "full-run", "host:1 flow", now=now, ttl=timedelta(minutes=15))
    with pytest.raises(StoreError, match="holds the lease 'full-run'"):
        copy_database(source, target, now=now)
    assert not any(_counts(target).values())

    copy_database(source, target, now=now + timedelta(hours=1))  # the lease has expired
    with pytest.raises(StoreError, match="already holds linkhealth data"):
        copy_database(source, target, now=now + timedelta(hours=1))


def test_db_copy_command(source: Engine, db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["db", "copy", "--db", source.url.render_as_string(), "--to", db_url]
    )
    assert result.exit_code == 0, result.output
    assert "Copied" in result.stdout and "6 observations" in result.stdout
    again = CliRunner().invoke(
        app, ["db", "copy", "--db", source.url.render_as_string(), "--to", db_url]
    )
    assert again.exit_code == 3 and "already holds linkhealth data" in again.stderr
    # Named, so an operator with several databases knows which one (its password hidden).
    shown = make_url(db_url).render_as_string(hide_password=True)
    assert f"target database {shown} already" in " ".join(again.stderr.split())


def test_two_copies_into_one_postgresql_database_at_once_leave_one_copy(
    source: Engine, target: Engine
) -> None:
    """Started twice (two terminals, a retry), the second waits for the first and is then
    refused as any copy into a database that holds data, instead of a duplicate-key
    traceback."""
    if target.dialect.name != "postgresql":
        pytest.skip("concurrent writers to one database: PostgreSQL")
    outcomes: list[str] = []

    def copy() -> None:
        try:
            copy_database(source, target, now=days(4))
            outcomes.append("copied")
        except StoreError as exc:
            outcomes.append(str(exc))

    with target.connect() as writer:  # a writer holds the lock while both copies start
        writer.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_WRITE_LOCK})
        threads = [threading.Thread(target=copy) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        writer.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_WRITE_LOCK})
        writer.commit()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and outcomes.count("copied") == 1, outcomes
    assert any("already holds linkhealth data" in o for o in outcomes)
    assert _counts(target) == _counts(source)
