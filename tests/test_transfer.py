"""`linkhealth db copy`: a SQLite file's whole history into another (empty) database, so a
catalog that moves to PostgreSQL keeps its confirmation counters, decisions and trend."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, make_url, select, text
from typer.testing import CliRunner

from catalog import decisions, store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.errors import ConfigError, CopyInProgressError, StoreError
from catalog.ops import plan_recheck
from catalog.outcomes import Outcome
from catalog.runs import RunInProgressError, RunLeaseError, prepare_run
from catalog.settings import HealthSettings
from catalog.store import PG_WRITE_LOCK
from catalog.sync import sync_catalogs
from catalog.tables import Base, Event, Observation, Run
from catalog.transfer import copy_database
from flows.cli import app
from tests.factories import (
    T0,
    days,
    make_catalog,
    make_observation,
    make_resource,
    migrated_sqlite,
    settings_for,
    write_catalog,
)

HEALTH = HealthSettings(confirm_failures=3, confirm_days=2.0)
URL_A = "https://example.org/a"
URL_B = "https://example.org/b"
KIT = make_catalog("toolkit", [make_resource("a", URL_A), make_resource("b", URL_B)])


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database with three nightly runs, a confirmed broken link and a snooze
    (started from a migrated copy: it is the copy's source, not a test of migrating)."""
    engine = migrated_sqlite(tmp_path / "old.db")
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
def target(migrated_db_url: str) -> Iterator[Engine]:
    engine = open_engine(migrated_db_url)
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
    with pytest.raises(RunLeaseError, match="holds the lease 'full-run'"):  # exit 8
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


def test_a_copy_into_postgresql_leaves_planner_statistics(source: Engine, target: Engine) -> None:
    """A database just filled had no statistics until autovacuum got to it (never, where it
    is off, and not for tables under its threshold of rows): PostgreSQL then planned blind,
    and a report's https suggestions at 100,000 resources took 10 s instead of 0.1 s."""
    if target.dialect.name != "postgresql":
        pytest.skip("planner statistics: PostgreSQL")
    copy_database(source, target, now=days(4))

    with target.connect() as conn:
        analyzed = set(
            conn.scalars(
                text("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()")
            )
        )
    assert {"links", "observations", "resources", "events"} <= analyzed


def test_two_copies_into_one_postgresql_database_at_once_leave_one_copy(
    source: Engine, target: Engine, tmp_path: Path
) -> None:
    """Started twice (two terminals, a retry), the second waits for the first and is then
    refused as any copy into a database that holds data, instead of a duplicate-key
    traceback. (Two copies of one source: the second is refused by the first's lease,
    `test_a_copy_holds_the_source_s_lease_while_it_copies`; here two copies of the file.)"""
    if target.dialect.name != "postgresql":
        pytest.skip("concurrent writers to one database: PostgreSQL")
    outcomes: list[str] = []
    with source.connect() as conn:
        conn.exec_driver_sql(f"VACUUM INTO '{tmp_path / 'old-again.db'}'")
    sources = iter([source, open_engine(f"sqlite:///{tmp_path / 'old-again.db'}")])

    def copy() -> None:
        try:
            copy_database(next(sources), target, now=days(4))
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


def _running_run(engine: Engine, holder: str, *, trigger: str, now: datetime) -> int:
    """A run stored as running under `holder`, as `prepare_run` starts a recheck (no lease)."""
    return store.start_run(engine, trigger=trigger, now=now, summary={"holder": holder})


def test_a_recheck_in_progress_refuses_the_copy_a_dead_one_does_not(
    source: Engine, target: Engine
) -> None:
    """Rechecks take no lease: a copy taken while one stored its results left it running
    in the new database forever, its outcomes behind. A live one (this host's process
    running, or elsewhere a recent sign of life) refuses the copy, exit 8, naming it."""
    now = days(4)
    here = store.lease_holder()  # this process: alive
    run_id = _running_run(source, here, trigger="recheck", now=now - timedelta(hours=2))
    with pytest.raises(RunLeaseError, match=rf"run {run_id} \(recheck, started .* by {here}"):
        copy_database(source, target, now=now)
    assert not any(_counts(target).values())

    with source.begin() as conn:  # ended: the copy goes ahead
        conn.execute(text("UPDATE runs SET status = 'completed' WHERE id = :i"), {"i": run_id})
    elsewhere = "another-host:4242 flow-run"  # cannot be probed: its last sign of life tells
    recent = _running_run(source, elsewhere, trigger="recheck", now=now - timedelta(minutes=3))
    with pytest.raises(RunLeaseError, match=f"run {recent} "):
        copy_database(source, target, now=now)
    with source.begin() as conn:  # quiet for longer than a lease lives: dead
        old = {"t": now - timedelta(hours=1), "i": recent}
        conn.execute(text("UPDATE runs SET started_at = :t WHERE id = :i"), old)
    copy_database(source, target, now=now)
    assert _counts(target) == _counts(source)


def test_a_copy_holds_the_source_s_lease_while_it_copies(source: Engine, target: Engine) -> None:
    """Checked once and not held, the lease let a `check` start mid-copy; now the check is
    refused (exit 8) naming the copy, and the lease is given back afterwards."""
    refusals: list[str] = []

    def meanwhile(table: str, done: int, total: int) -> None:
        if refusals:
            return
        claim = store.acquire_lease(
            source, "full-run", "host:2 flow", now=days(4), ttl=timedelta(minutes=15)
        )
        assert not claim.acquired
        refusals.append(str(RunInProgressError(claim.lease)))
        with pytest.raises(RunLeaseError, match="holds the lease 'full-run'"):
            copy_database(source, target, now=days(4))  # a second copy of the same source

    copy_database(source, target, now=days(4), on_progress=meanwhile)
    assert refusals and "`linkhealth db copy` is copying this database" in refusals[0]
    assert store.leases(source) == []
    assert _counts(target) == _counts(source)


def test_rechecks_and_decisions_wait_for_the_copy(
    source: Engine, target: Engine, tmp_path: Path
) -> None:
    """They take no lease: a snooze or a recheck's results written mid-copy were missing
    from the new database, and the copy still said it had copied everything."""
    entries = [{"id": r.id, "title": r.title, "url": r.url} for r in KIT.resources]
    settings = settings_for(source, [write_catalog(tmp_path / "toolkit.yaml", entries)])
    refused: list[str] = []

    def meanwhile(table: str, done: int, total: int) -> None:
        if refused:
            return
        with pytest.raises(CopyInProgressError) as decision:
            decisions.ignore(settings, "a", reason="login wall", clock=lambda: days(4))
        with pytest.raises(CopyInProgressError) as recheck:
            prepare_run(settings, trigger="recheck", resource_ids=["a"], clock=lambda: days(4))
        with pytest.raises(CopyInProgressError):  # before its sync writes anything
            plan_recheck(settings, ids=["a"], clock=lambda: days(4))
        refused.extend([str(decision.value), str(recheck.value)])

    copy_database(source, target, now=days(4), on_progress=meanwhile)
    assert "to record a decision now would leave it out of the copy" in refused[0]
    assert "to check now would leave it out of the copy" in refused[1]
    assert _counts(target) == _counts(source)  # nothing was written meanwhile
    assert CopyInProgressError.exit_code == 8
    decisions.ignore(settings, "a", reason="login wall", clock=lambda: days(4))  # after: fine


def test_rows_written_mid_copy_are_not_half_copied(source: Engine, target: Engine) -> None:
    """Paging a SQLite source outside one transaction picked up the observations of a run
    started after `runs` was copied: a foreign-key traceback. One snapshot: the copy is
    the database as it was when the copy began."""
    before = _counts(source)

    def meanwhile(table: str, done: int, total: int) -> None:
        if table != "observations" or done != 1:
            return
        run_id = store.start_run(source, trigger="recheck", now=days(5))
        store.record_observations(source, run_id, [make_observation(URL_A)], HEALTH, now=days(5))

    copy_database(source, target, now=days(4), chunk=1, on_progress=meanwhile)
    assert _counts(target) == before != _counts(source)


def test_a_database_error_mid_copy_is_one_line_and_leaves_the_target_empty(
    source: Engine, db_url: str
) -> None:
    """A source whose rows the target refuses (here an observation of a run it lacks, as a
    file written without foreign keys can hold) ended in ~90 lines of traceback."""
    with source.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("UPDATE observations SET run_id = 501 WHERE id = 6")
        conn.commit()
    result = CliRunner().invoke(
        app, ["db", "copy", "--db", source.url.render_as_string(), "--to", db_url]
    )
    assert result.exit_code == 3, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert "nothing was written" in result.stderr
    with open_engine(db_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Run)).scalar_one() == 0


def test_a_copy_into_its_own_source_or_from_an_empty_database_is_refused(
    source: Engine, migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Following Scale-out in order, LINKHEALTH_DATABASE_URL already named the new database:
    `db copy --to` it copied nothing into itself and said "Copied 0 ...", exit 0."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="are the same"):  # a relative path to it
        copy_database(source, open_engine("sqlite:///old.db"), now=days(4))
    open_engine(migrated_db_url).dispose()  # the new database, created (and migrated) empty
    same = make_url(migrated_db_url)
    if same.get_backend_name() == "postgresql":  # written another way: still the same one
        same = same.set(drivername="postgresql", host="localhost")
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    runner = CliRunner()
    itself = runner.invoke(app, ["db", "copy", "--to", same.render_as_string(False)])
    assert itself.exit_code == 2, itself.output
    assert "are the same" in itself.stderr and "(from LINKHEALTH_DATABASE_URL)" in itself.stderr

    other = f"sqlite:///{tmp_path / 'other.db'}"
    empty = runner.invoke(app, ["db", "copy", "--to", other])
    assert empty.exit_code == 2, empty.output
    shown = make_url(migrated_db_url).render_as_string(hide_password=True)
    said = " ".join(empty.stderr.split())
    assert f"copy from, {shown} (from LINKHEALTH_DATABASE_URL), holds nothing" in said
    assert "--db sqlite:///var/linkhealth.db" in said

    copied = runner.invoke(
        app, ["db", "copy", "--db", source.url.render_as_string(), "--to", other]
    )
    assert copied.exit_code == 0, copied.output
    assert f"from {source.url.render_as_string()} into {other}." in copied.stdout


def test_db_copy_exit_codes_and_help(source: Engine, db_url: str, tmp_path: Path) -> None:
    """As the README's table has them: bad usage 2 (was 3), a run holding the lease 8 (was 3)."""
    runner = CliRunner()
    bad = runner.invoke(app, ["db", "copy", "--db", source.url.render_as_string(), "--to", "x"])
    assert bad.exit_code == 2 and "is not a database URL" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    store.acquire_lease(source, "full-run", "host:1 flow", now=utcnow(), ttl=timedelta(hours=1))
    held = runner.invoke(app, ["db", "copy", "--db", source.url.render_as_string(), "--to", db_url])
    assert held.exit_code == 8 and "holds the lease 'full-run'" in held.stderr
    helped = " ".join(runner.invoke(app, ["db", "copy", "--help"]).output.split())
    assert "--db URL SQLAlchemy URL of the database to copy FROM" in helped


def test_a_read_only_source_is_copied_without_its_lease_and_says_so(
    source: Engine, db_url: str, tmp_path: Path
) -> None:
    """A backup on read-only media, or the service user's file read by an operator: the
    copy cannot take its lease, which only keeps runs that write it away; it was refused
    as a read-only database (exit 3) although nothing of it needed writing."""
    read_only = f"sqlite:///file:{tmp_path / 'old.db'}?mode=ro&uri=true"
    result = CliRunner().invoke(app, ["db", "copy", "--db", read_only, "--to", db_url])
    assert result.exit_code == 0, result.output
    assert "6 observations" in result.stdout
    assert "is read-only here, so the copy held no lease on it" in result.stderr
    target = open_engine(db_url)
    try:
        assert _counts(target) == _counts(source)
    finally:
        target.dispose()
    assert store.get_lease(source, "full-run") is None


def test_a_read_only_source_a_run_holds_is_still_refused(
    source: Engine, target: Engine, tmp_path: Path
) -> None:
    now = days(4)
    store.acquire_lease(source, "full-run", "host:1 flow", now=now, ttl=timedelta(minutes=15))
    read_only = open_engine(f"sqlite:///file:{tmp_path / 'old.db'}?mode=ro&uri=true")
    try:
        with pytest.raises(RunLeaseError, match="holds the lease 'full-run'"):
            copy_database(read_only, target, now=now)
        assert copy_database(read_only, target, now=now + timedelta(hours=1)).leased is False
    finally:
        read_only.dispose()


def test_the_lease_of_a_copy_killed_outright_holds_back_no_recheck_decision_or_copy(
    source: Engine, target: Engine, tmp_path: Path
) -> None:
    """A copy killed with SIGKILL (or its machine gone) cannot give its lease back: for
    the 15 minutes until it expired, every recheck and decision was refused (exit 8) as
    "db copy is copying this database", though `status` said its process was gone."""
    entries = [{"id": r.id, "title": r.title, "url": r.url} for r in KIT.resources]
    settings = settings_for(source, [write_catalog(tmp_path / "toolkit.yaml", entries)])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = f"{socket.gethostname()}:{dead.pid} {store.COPY_TOKEN}-0123456789ab"
    store.acquire_lease(source, "full-run", holder, now=days(4), ttl=timedelta(minutes=15))
    decisions.ignore(settings, "a", reason="login wall", clock=lambda: days(4))
    prepare_run(settings, trigger="recheck", resource_ids=["a"], clock=lambda: days(4))
    with source.begin() as conn:  # that recheck ended: a copy may go ahead
        conn.execute(text("UPDATE runs SET status = 'completed' WHERE status = 'running'"))
    store.release_lease(source, "full-run", holder)
    store.acquire_lease(source, "full-run", holder, now=days(4), ttl=timedelta(minutes=15))
    assert copy_database(source, target, now=days(4)).leased  # nor another copy


#: Values the SQLite source stored (syncs before validation refused them) and PostgreSQL
#: refuses: (what to set in the resources row of `a`, the column the error names).
REFUSED = {
    "an id over 200 characters": ("rid = '" + "a" * 250 + "'", "column rid: 250 characters"),
    "a NUL in a title": ("title = 'T' || char(0)", "column title: a NUL character"),
    "NaN in a field": (
        """fields = '{"title": "T", "rating": NaN}'""",
        "column fields: not-a-number or infinity",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_value_postgresql_refuses_is_named_with_its_table_and_row(
    source: Engine, db_url: str, case: str
) -> None:
    """The copy failed whole with the driver's words and "make sure no run or recheck uses
    the source, then copy again": it failed again, and nothing said where the value was."""
    if not db_url.startswith("postgresql"):
        pytest.skip("values SQLite stores and PostgreSQL refuses")
    change, named = REFUSED[case]
    with source.begin() as conn:
        conn.exec_driver_sql(f"UPDATE resources SET {change} WHERE rid = 'a'")
        row_id = conn.exec_driver_sql("SELECT min(id) FROM resources").scalar_one()
    result = CliRunner().invoke(
        app, ["db", "copy", "--db", source.url.render_as_string(), "--to", db_url]
    )
    assert result.exit_code == 3, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"resources row id {row_id} (id " in line and named in line
    assert "nothing was written" in line and "`linkhealth catalog validate`" in line
    assert "no run" not in line
    with open_engine(db_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Run)).scalar_one() == 0


def test_a_nan_corrected_in_the_catalog_can_be_copied(source: Engine, target: Engine) -> None:
    """The repair the copy's error gives: fix the entry, sync, copy again. The sync's event
    quotes the old value, which must not carry the NaN along."""
    if target.dialect.name != "postgresql":
        pytest.skip("values SQLite stores and PostgreSQL refuses")
    nan = make_resource("c", "https://example.org/c", extra={"rating": float("nan")})
    sync_catalogs(source, [make_catalog("extra", [nan])], now=days(4))  # unvalidated
    fixed = make_resource("c", "https://example.org/c", extra={"rating": 3})
    sync_catalogs(source, [make_catalog("extra", [fixed])], now=days(5))

    copy_database(source, target, now=days(6))

    with store.read_session(target) as s:
        (details,) = s.scalars(
            select(Event.details).where(Event.kind == "fields_edited").order_by(Event.id)
        ).all()[-1:]
    assert details["old"]["rating"] == "nan" and details["new"]["rating"] == 3
