"""Run safety: one full run at a time (the lease), rechecks beside it, SIGKILL recovery.

Every test runs on PostgreSQL too (LINKHEALTH_TEST_DATABASE_URL, the `migrated_db_url` fixture);
on SQLite the SIGKILL test also checks the file with PRAGMA integrity_check.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from catalog import store, tables
from catalog.check import check_batch
from catalog.clock import utcnow
from catalog.db import open_engine, session_scope
from catalog.errors import NotFoundError
from catalog.ops import run_lines
from catalog.outcomes import Outcome
from catalog.runs import (
    FULL_RUN_LEASE,
    LEASE_TTL,
    LeaseLostError,
    RunInProgressError,
    abandon_run,
    finish_run,
    keep_lease,
    prepare_run,
    store_batch,
)
from catalog.settings import CheckSettings, HealthSettings, Settings
from tests.factories import (
    T0,
    Ticker,
    database_url,
    is_sqlite,
    make_observation,
    migrated_database_url,
    settings_for,
    temporary_database,
    write_catalog,
)
from tests.local_site import Answer, served_at, serving_at

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def _settings(engine: Engine, tmp_path: Path, urls: list[str]) -> Settings:
    entries = [{"id": f"r{i}", "title": f"Resource {i}", "url": u} for i, u in enumerate(urls)]
    return settings_for(engine, [write_catalog(tmp_path / "catalog.yaml", entries)])


URLS = [f"https://site{i % 5}.example.org/page{i}" for i in range(30)]


# --- the lease -------------------------------------------------------------------------------


def test_a_recheck_of_an_unknown_id_fails_before_writing_a_run(
    engine: Engine, tmp_path: Path
) -> None:
    settings = _settings(engine, tmp_path, URLS[:2])
    with pytest.raises(NotFoundError, match="'r7'"):
        prepare_run(settings, trigger="manual", resource_ids=["r1", "r7"])
    assert store.latest_runs(engine) == []
    assert store.get_lease(engine, FULL_RUN_LEASE) is None
    prepared = prepare_run(settings, trigger="manual", resource_ids=["r1"])
    assert prepared.url_count == 1


def test_a_run_let_go_of_its_batches_still_counts_them(engine: Engine, tmp_path: Path) -> None:
    # The flow lets the targets go as it checks them; its log lines, progress and the
    # warning of an abandoned run still need how many there were.
    settings = _settings(engine, tmp_path, URLS)
    settings = replace(settings, check=replace(settings.check, batch_size=6))
    prepared = prepare_run(settings, trigger="manual")
    assert prepared.batch_count == len(prepared.batches) > 1
    assert prepared.url_count == len(URLS)
    emptied = prepared.without_batches()
    assert emptied.batches == () and prepared.batches  # the original keeps its own
    assert (emptied.url_count, emptied.batch_count) == (len(URLS), prepared.batch_count)
    assert replace(emptied, batches=prepared.batches[:1]).batch_count == 1


def test_second_full_run_fails_fast_naming_the_holder(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    first = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    assert first.lease is not None
    with pytest.raises(RunInProgressError) as raised:
        prepare_run(settings, trigger="manual", lease=FULL_RUN_LEASE, clock=clock)
    assert raised.value.exit_code == 8
    assert raised.value.lease.holder == first.lease.holder
    assert raised.value.lease.run_id == first.run_id
    assert raised.value.lease.expires_at == T0 + LEASE_TTL
    assert [r.id for r in store.latest_runs(engine)] == [first.run_id]  # nothing written


def test_finished_run_releases_the_lease_for_the_next(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(engine, tmp_path, URLS)
    first = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    finish_run(settings, first.run_id, stored=[], lease=first.lease, clock=Ticker())
    assert store.get_lease(engine, FULL_RUN_LEASE) is None
    second = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    assert second.lease is not None and second.lease.holder != first.lease.holder  # type: ignore[union-attr]


def test_failed_run_is_marked_failed_and_releases_the_lease(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(engine, tmp_path, URLS)
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    abandon_run(settings, prepared, reason="RuntimeError: boom", clock=Ticker())
    assert store.get_run(engine, prepared.run_id).status == "failed"
    assert store.get_lease(engine, FULL_RUN_LEASE) is None


def test_a_run_stopped_on_purpose_is_aborted_not_failed(engine: Engine, tmp_path: Path) -> None:
    # Ctrl-C on `serve`, or SIGTERM from a worker or systemd: no failure of the run, and it
    # ended when it was stopped (not at its last heartbeat, as a run found dead does).
    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    stopped_at = clock.now + timedelta(hours=1)
    reason = "stopped by Ctrl-C or a termination signal (KeyboardInterrupt)"
    abandon_run(settings, prepared, reason=reason, stopped=True, clock=lambda: stopped_at)
    run = store.get_run(engine, prepared.run_id)
    assert run.status == "aborted" and run.summary["aborted_reason"] == reason
    assert "failed_reason" not in run.summary
    assert run.finished_at is not None and run.finished_at.replace(tzinfo=UTC) == stopped_at
    assert store.get_lease(engine, FULL_RUN_LEASE) is None


def test_a_run_interrupted_again_while_it_gives_up_still_gives_its_lease_back(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second Ctrl-C (an operator who finds the first slow) while the run marks itself
    aborted skipped the release: the lease stayed until it expired, 15 minutes in which a
    run on another machine (which cannot tell the process is gone) was refused."""
    settings = _settings(engine, tmp_path, URLS)
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "finish_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        abandon_run(settings, prepared, reason="stopped by Ctrl-C", stopped=True, clock=Ticker())
    assert store.get_lease(engine, FULL_RUN_LEASE) is None


def test_rechecks_run_beside_a_full_run_without_the_lease(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(engine, tmp_path, URLS)
    full = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    recheck = prepare_run(settings, trigger="recheck", resource_ids=["r1"], clock=Ticker())
    assert recheck.lease is None and recheck.url_count == 1
    assert store.get_lease(engine, FULL_RUN_LEASE).holder == full.lease.holder  # type: ignore[union-attr]


def test_stored_batches_move_the_expiry_forward(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    clock.now = T0 + timedelta(minutes=10)
    obs = [make_observation(URLS[0], checked_at=clock.now)]
    store_batch(settings, prepared.run_id, obs, clock=clock, lease=prepared.lease)
    lease = store.get_lease(engine, FULL_RUN_LEASE)
    assert lease is not None
    assert lease.heartbeat_at == clock.now and lease.expires_at == clock.now + LEASE_TTL


def test_status_of_a_running_or_killed_run_counts_the_batches_it_stored(
    engine: Engine, tmp_path: Path
) -> None:
    """A run's row gets its outcomes when it ends: status said "no outcomes stored yet"
    beside the batches a live (or killed) run had stored, as if they were lost, and its
    live count could lag them."""
    from catalog.ops import run_lines

    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    store.note_run_progress(engine, prepared.run_id, 2)
    obs = [make_observation(u, checked_at=T0) for u in URLS[:3]]
    obs.append(make_observation(URLS[3], Outcome.NOT_FOUND, checked_at=T0))
    store_batch(settings, prepared.run_id, obs, clock=clock, lease=prepared.lease)

    (run,) = store.latest_runs(engine)
    assert run.status == "running"
    assert run.counts == {"ok": 3, "not_found": 1} and run.urls_checked == 4
    (line,) = run_lines([run])
    assert f"4/{len(URLS)} URLs: 1 not_found, 3 ok" in line


def test_expired_lease_is_taken_over_and_its_run_aborted(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    stalled = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    clock.now = T0 + LEASE_TTL + timedelta(seconds=1)
    taker = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    assert store.get_run(engine, stalled.run_id).status == "aborted"
    assert store.get_lease(engine, FULL_RUN_LEASE).holder == taker.lease.holder  # type: ignore[union-attr]
    # The stalled run wakes up: it may not write next to the run that took over.
    with pytest.raises(LeaseLostError):
        obs = [make_observation(URLS[0], checked_at=clock.now)]
        store_batch(settings, stalled.run_id, obs, clock=clock, lease=stalled.lease)
    assert _observation_count(engine, stalled.run_id) == 0


def test_an_aborted_run_ends_at_its_last_sign_of_life_not_when_found(
    engine: Engine, tmp_path: Path
) -> None:
    """A run killed two minutes in and found by the next night's run ran two minutes,
    not a day: its duration and end are its last stored batch or heartbeat."""
    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    killed = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    clock.now = T0 + timedelta(minutes=2)
    obs = [make_observation(URLS[0], checked_at=clock.now)]
    store_batch(settings, killed.run_id, obs, clock=clock, lease=killed.lease)
    clock.now = T0 + timedelta(days=1)
    prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    run = store.get_run(engine, killed.run_id)
    assert run.status == "aborted"
    assert run.finished_at == T0 + timedelta(minutes=2) and run.duration_s == 120.0


def test_a_clock_set_back_an_hour_never_gives_a_run_a_negative_duration(
    engine: Engine, tmp_path: Path
) -> None:
    """NTP or a restored VM sets the clock back an hour between a killed run and the next
    (status showed the killed run as "-3000.0 s"), or during a run ("-3540.0 s")."""
    settings = _settings(engine, tmp_path, URLS)
    clock = Ticker()
    killed = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    clock.now = T0 + timedelta(minutes=5)
    obs = [make_observation(URLS[0], checked_at=clock.now)]
    store_batch(settings, killed.run_id, obs, clock=clock, lease=killed.lease)
    clock.now = T0 - timedelta(minutes=50)  # the clock goes back; the killed run is found
    assert store.abort_stale_runs(engine, now=clock.now, gone=lambda _: True) == [killed.run_id]
    run = store.get_run(engine, killed.run_id)
    assert run.finished_at == T0 + timedelta(minutes=5) and run.duration_s == 300.0

    live = prepare_run(settings, trigger="manual", lease=FULL_RUN_LEASE, clock=clock)
    clock.now -= timedelta(hours=1)  # and back again while this one runs
    finish_run(settings, live.run_id, stored=[], clock=clock, lease=live.lease)
    run = store.get_run(engine, live.run_id)
    assert run.finished_at == run.started_at and run.duration_s == 0.0


def test_an_aborted_run_that_stored_nothing_ends_at_its_last_heartbeat(
    engine: Engine, tmp_path: Path
) -> None:
    """Most catalogs are one batch, stored at its end: the lease heartbeat (and progress
    notes) are what tell how long a run that died inside it ran."""
    settings = _settings(engine, tmp_path, URLS)
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    with keep_lease(settings, prepared.lease, every=0.01, run_id=prepared.run_id):
        deadline = time.monotonic() + 10
        while "alive_at" not in store.get_run(engine, prepared.run_id).summary:
            assert time.monotonic() < deadline, "no heartbeat was noted"
            time.sleep(0.01)
    beat = datetime.fromisoformat(store.get_run(engine, prepared.run_id).summary["alive_at"])
    assert beat > T0
    store.note_run_progress(engine, prepared.run_id, 7, now=beat + timedelta(seconds=30))
    later = beat + timedelta(days=1)
    assert store.abort_stale_runs(engine, now=later, gone=lambda _: True) == [prepared.run_id]
    run = store.get_run(engine, prepared.run_id)
    assert run.status == "aborted" and run.finished_at == beat + timedelta(seconds=30)
    assert run.duration_s == (beat + timedelta(seconds=30) - T0).total_seconds()


def test_only_one_of_many_simultaneous_claims_wins(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as first:
        url = database_url(first)
        engines = [open_engine(url) for _ in range(8)]
        start = threading.Barrier(len(engines))
        won: list[bool] = []

        def claim(engine: Engine, n: int) -> None:
            start.wait()
            claim = store.acquire_lease(
                engine, FULL_RUN_LEASE, f"host:{n} test", now=T0, ttl=LEASE_TTL
            )
            won.append(claim.acquired)

        threads = [threading.Thread(target=claim, args=(e, n)) for n, e in enumerate(engines)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for engine in engines:
            engine.dispose()
    assert sorted(won) == [False] * 7 + [True]


def test_runs_of_a_dead_process_are_aborted(engine: Engine, tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    holder = f"{store.lease_holder().split(':')[0]}:{gone.stdout.strip()} flow-run"
    run_id = store.start_run(engine, trigger="schedule", now=T0, summary={"holder": holder})
    alive = store.start_run(
        engine, trigger="recheck", now=T0, summary={"holder": store.lease_holder()}
    )
    legacy = store.start_run(engine, trigger="schedule", now=T0)
    assert store.abort_stale_runs(engine, now=T0 + timedelta(hours=1)) == [run_id]
    assert {r.id: r.status for r in store.latest_runs(engine)} == {
        run_id: "aborted",
        alive: "running",
        legacy: "running",
    }
    # Its end went unseen: `status` says how long it was seen, not how long it ran.
    aborted = store.get_run(engine, run_id)
    assert aborted.summary[store.FOUND_DEAD] and aborted.duration_s == 0.0
    (line,) = run_lines([aborted])
    assert " aborted   seen for 0.0 s " in line, line


def test_status_shows_the_lease_holder_and_expiry(migrated_db_url: str) -> None:
    from flows.cli import app

    url = migrated_db_url
    engine = open_engine(url)
    store.acquire_lease(engine, FULL_RUN_LEASE, "box:42 flow-1", now=T0, ttl=LEASE_TTL)
    result = CliRunner().invoke(app, ["status", "--db", url])
    assert result.exit_code == 0
    assert "box:42 flow-1" in result.output
    assert f"{T0 + LEASE_TTL:%Y-%m-%d %H:%M:%S}" in result.output
    engine.dispose()


def test_status_says_a_running_run_nobody_runs_any_more_is_not_running(
    migrated_db_url: str,
) -> None:
    """Until the next run marks it aborted, a run whose process died (or whose lease ran
    out) is still `running` in the database; status says so, and why."""
    from flows.cli import app

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    here = store.lease_holder().split(" ", 1)[0].rpartition(":")[0]
    engine = open_engine(migrated_db_url)
    dead = store.start_run(
        engine,
        trigger="schedule",
        now=utcnow(),
        summary={"holder": f"{here}:{gone.stdout.strip()} f"},
    )
    stalled = store.start_run(
        engine,
        trigger="schedule",
        now=utcnow(),
        summary={"holder": "box:42 flow-1", "lease": FULL_RUN_LEASE},
    )
    store.acquire_lease(engine, FULL_RUN_LEASE, "box:42 flow-1", now=T0, ttl=LEASE_TTL)
    alive = store.start_run(
        engine, trigger="recheck", now=utcnow(), summary={"holder": store.lease_holder()}
    )
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url])
    assert result.exit_code == 0, result.output
    assert f"Run {dead} is not running: its process ({here}:{gone.stdout.strip()}) is gone" in (
        result.output
    )
    assert f"Run {stalled} is not running: its lease 'full-run' expired" in result.output
    assert f"Run {alive} is not running" not in result.output
    # The runs' own lines agree: not "running ... still running" above "is not running".
    lines = {int(x.split()[1]): x for x in result.output.splitlines() if x.startswith("run ")}
    for run_id in (dead, stalled):
        assert " abandoned " in lines[run_id] and "still running" not in lines[run_id]
    assert " running " in lines[alive] and "still running" in lines[alive]


def test_status_does_not_call_the_lease_of_a_dead_process_held(migrated_db_url: str) -> None:
    """A run killed hard (kill -9, a crash) leaves its lease unexpired for up to
    `LEASE_TTL`; status says the run is not running, so the lease line must not say the
    lease is held: the next run takes it over at once (`store.abort_stale_runs`)."""
    from flows.cli import app

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    here = store.lease_holder().split(" ", 1)[0].rpartition(":")[0]
    holder = f"{here}:{gone.stdout.strip()} flow-1"
    engine = open_engine(migrated_db_url)
    run = store.start_run(
        engine, trigger="schedule", now=utcnow(), summary={"holder": holder, "lease": "full-run"}
    )
    store.acquire_lease(engine, FULL_RUN_LEASE, holder, now=utcnow(), ttl=LEASE_TTL)
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url])
    assert result.exit_code == 0, result.output
    assert f"Run {run} is not running: its process" in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith(f"Lease {FULL_RUN_LEASE}:")]
    assert ": held by" not in line
    assert "the next run takes it over" in line


# --- a recheck during a nightly run ------------------------------------------------------------


def test_recheck_during_a_full_run_neither_corrupts_nor_double_writes(
    engine: Engine, tmp_path: Path
) -> None:
    settings = _settings(engine, tmp_path, URLS)
    full = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    recheck = prepare_run(
        settings, trigger="recheck", resource_ids=["r0", "r1", "r2"], clock=Ticker()
    )
    shared = URLS[:3]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def nightly() -> None:
        start.wait()
        for n in range(10):  # ten batches of every URL, all failing
            at = T0 + timedelta(minutes=n)
            obs = [make_observation(u, Outcome.NOT_FOUND, checked_at=at) for u in URLS]
            store_batch(settings, full.run_id, obs, lease=full.lease)

    def curator() -> None:
        start.wait()
        for n in range(20):
            at = T0 + timedelta(minutes=n, seconds=30)
            obs = [make_observation(u, Outcome.NOT_FOUND, checked_at=at) for u in shared]
            store_batch(settings, recheck.run_id, obs)

    def guarded(body):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(f)) for f in (nightly, curator)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _observation_count(engine, full.run_id) == 10 * len(URLS)
    assert _observation_count(engine, recheck.run_id) == 20 * len(shared)
    with session_scope(engine) as s:
        duplicates = s.execute(
            select(tables.Observation.run_id, tables.Observation.url, tables.Observation.checked_at)
            .group_by(
                tables.Observation.run_id, tables.Observation.url, tables.Observation.checked_at
            )
            .having(func.count() > 1)
        ).all()
        assert duplicates == []
        for link in s.scalars(select(tables.Link)):
            stored = s.execute(
                select(tables.Observation.id, tables.Observation.checked_at)
                .where(tables.Observation.link_id == link.id)
                .order_by(tables.Observation.id)
            ).all()
            # A check stored after a newer one of its link is kept but not applied
            # (tests/test_late_checks.py): the applied ones are those, in the order they
            # were stored, made no earlier than every check stored before them.
            applied: list[int] = []
            newest: datetime | None = None
            for obs_id, at in stored:
                if newest is None or at >= newest:
                    applied.append(obs_id)
                    newest = at
            # Every applied failure counted once: no writer overwrote the other's link state.
            assert link.consecutive_failures == len(applied), link.url
            assert link.last_observation_id == applied[-1]


def _observation_count(engine: Engine, run_id: int) -> int:
    with session_scope(engine) as s:
        return s.scalar(
            select(func.count()).select_from(tables.Observation).where(
                tables.Observation.run_id == run_id
            )
        ) or 0  # fmt: skip


# --- SIGKILL -----------------------------------------------------------------------------------

#: The library pipeline the flow runs (prepare, check each batch, store it), in its own process.
CHILD = """
import sys
from pathlib import Path
from catalog.check import check_batch
from catalog.clock import utcnow
from catalog.runs import FULL_RUN_LEASE, prepare_run, store_batch
from tests.test_run_safety import pipeline_settings

settings = pipeline_settings(sys.argv[1], Path(sys.argv[2]))
prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE)
print("run", prepared.run_id, flush=True)
for batch in prepared.batches:
    observations = check_batch(batch, settings.check)
    store_batch(settings, prepared.run_id, observations, lease=prepared.lease)
    print("stored", len(observations), flush=True)
print("done", flush=True)
"""


def pipeline_settings(migrated_db_url: str, catalog: Path) -> Settings:
    """Quick, polite-enough settings for checking the slow site on loopback addresses."""
    return Settings(
        database_url=migrated_db_url,
        catalogs=(catalog,),
        health=HealthSettings(archive_lookups=False),
        check=CheckSettings(
            allow_private=True,
            soft404_probe=False,
            max_attempts=1,
            per_host_rate=100.0,
            read_timeout=30.0,
            total_timeout=30.0,
            batch_size=3,
        ),
    )


@contextmanager
def slow_sites(release: threading.Event, asked: set[str] | None = None) -> Iterator[list[str]]:
    """Two hosts (127.0.0.2: answers at once, 127.0.0.3: waits for `release`); the paths
    the slow one was asked for go into `asked` as each request arrives, so a test waits
    for a run to be checking it (`wait_until_asked`) rather than sleeping a guess."""

    page = b"<title>Page</title><p>Some text about the resource.</p>"

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if served_at(request) == "127.0.0.3":
            if asked is not None:
                asked.add(request.path)
            release.wait(60)  # set when the test ends, whatever happens
        return 200, {"Content-Type": "text/html"}, page

    with serving_at(answer, "127.0.0.2", "127.0.0.3") as bases:
        try:
            yield bases
        finally:
            release.set()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll `condition` until it holds (a test's wait on a subprocess, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_run_killed_mid_way_keeps_its_batches_and_the_next_run_proceeds(
    tmp_path: Path, migrated_db_url: str
) -> None:
    release = threading.Event()
    with slow_sites(release) as (fast, slow):
        urls = [f"{fast}/a", f"{fast}/b", f"{fast}/c", f"{slow}/x", f"{slow}/y"]
        entries = [{"id": f"r{i}", "title": f"Resource {i}", "url": u} for i, u in enumerate(urls)]
        catalog = write_catalog(tmp_path / "catalog.yaml", entries)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, migrated_db_url, str(catalog)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        try:
            assert child.stdout is not None
            run_line = child.stdout.readline().split()
            assert run_line[0] == "run", run_line
            killed_run = int(run_line[1])
            assert child.stdout.readline().split() == ["stored", "3"]
            os.kill(child.pid, signal.SIGKILL)  # while it waits on the slow host
        finally:
            child.kill()
            child.wait(timeout=10)
        release.set()

        engine = open_engine(migrated_db_url)
        if is_sqlite(migrated_db_url):  # a file-level check; PostgreSQL has no equivalent to ask
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert store.get_run(engine, killed_run).status == "running"
        assert _observation_count(engine, killed_run) == 3  # the committed batch is there

        settings = pipeline_settings(migrated_db_url, catalog)
        prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE)
        killed = store.get_run(engine, killed_run)
        assert killed.status == "aborted" and killed.urls_checked == 3
        stored = [
            store_batch(
                settings, prepared.run_id, check_batch(b, settings.check), lease=prepared.lease
            )
            for b in prepared.batches
        ]
        summary = finish_run(settings, prepared.run_id, stored=stored, lease=prepared.lease)
        assert summary.status == "completed" and summary.urls_checked == len(urls)
        assert store.get_lease(engine, FULL_RUN_LEASE) is None
        engine.dispose()


# --- through Prefect ---------------------------------------------------------------------------


@pytest.mark.flow
def test_scheduled_run_is_skipped_and_manual_run_refused_while_the_lease_is_held(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str
) -> None:
    from flows.check_flow import check_catalog

    entries = [{"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"}]
    overrides = {
        "database_url": migrated_db_url,
        "catalogs": [str(write_catalog(isolated_cwd / "catalog.yaml", entries))],
    }
    engine = open_engine(migrated_db_url)
    now = utcnow()
    store.acquire_lease(engine, FULL_RUN_LEASE, "box:42 flow-1", now=now, ttl=LEASE_TTL)

    state = check_catalog(overrides=overrides, trigger="schedule", render=False, return_state=True)
    # Completed, not Cancelled: Prefect's engine logs a Cancelled end as an ERROR traceback.
    assert state.is_completed() and state.name == "Skipped"
    assert "box:42 flow-1" in (state.message or "")
    with pytest.raises(RunInProgressError):
        check_catalog(overrides=overrides, trigger="manual", render=False)
    assert store.latest_runs(engine) == []
    assert store.get_lease(engine, FULL_RUN_LEASE).holder == "box:42 flow-1"  # type: ignore[union-attr]
    engine.dispose()


@pytest.mark.flow
def test_an_abandoned_run_stops_checking_before_it_gives_its_lease_up(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker or systemd stopping the flow (SIGTERM) interrupts only the flow's thread:
    the batches on the checking loop went on fetching for half a minute after the run was
    marked failed and its lease released, free for another run to take the same hosts.
    So did the batches still waiting for a worker thread, which started only then."""
    import asyncio
    import concurrent.futures
    import contextlib

    import flows.check_flow as check_flow
    from catalog.check.loop import shared_loop
    from catalog.model import Batch, Target

    started, checks_stopped = threading.Event(), threading.Event()
    at_abandon: list[tuple[bool, bool]] = []
    checked_late: list[Any] = []

    def check_late(batch: Any, *_: Any, **__: Any) -> list[Any]:
        checked_late.append(batch)
        return []

    monkeypatch.setattr(check_flow, "check_batch_with_upgrades", check_late)

    async def endless_batch() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            checks_stopped.set()

    def batch_task() -> None:  # as a Prefect task thread waits for its batch
        with contextlib.suppress(concurrent.futures.CancelledError):
            shared_loop().run(endless_batch())

    def interrupted(settings: Any, prepared: Any, *_: Any) -> list[Any]:
        threading.Thread(target=batch_task, daemon=True).start()
        assert started.wait(5)
        raise RuntimeError("stopped by the worker")

    real_abandon = check_flow.abandon_run

    def abandon(settings: Any, prepared: Any, *, reason: str, stopped: bool = False) -> None:
        engine = open_engine(migrated_db_url)
        held = store.get_lease(engine, FULL_RUN_LEASE) is not None
        engine.dispose()
        at_abandon.append((checks_stopped.is_set(), held))
        real_abandon(settings, prepared, reason=reason, stopped=stopped)
        # A batch the task runner starts now, its worker thread free at last.
        waiting = Batch(index=1, targets=(Target("https://example.org/r1", "example.org"),))
        refused: Any = check_flow.check_batch_task.fn(waiting, settings.check, prepared.run_id)
        assert refused.name == check_flow.NOT_CHECKED and "abandoned" in str(refused.message)

    monkeypatch.setattr(check_flow, "_check_and_store", interrupted)
    monkeypatch.setattr(check_flow, "abandon_run", abandon)
    entries = [{"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"}]
    overrides = {
        "database_url": migrated_db_url,
        "catalogs": [str(write_catalog(isolated_cwd / "catalog.yaml", entries))],
    }
    with pytest.raises(RuntimeError, match="stopped by the worker"):
        check_flow.check_catalog(overrides=overrides, trigger="schedule", render=False)

    assert at_abandon == [(True, True)]  # checks stopped while the lease was still held
    assert checked_late == []  # and the batch that was still waiting never started
    engine = open_engine(migrated_db_url)
    (run,) = store.latest_runs(engine)
    assert run.status == "failed" and "stopped by the worker" in run.summary["failed_reason"]
    assert store.get_lease(engine, FULL_RUN_LEASE) is None
    engine.dispose()


@pytest.mark.flow
def test_a_check_stopped_gives_its_lease_back_at_once_and_a_killed_one_at_expiry(
    prefect_api: str, tmp_path: Path, migrated_db_url: str
) -> None:
    """`linkhealth check` stopped with Ctrl-C or SIGTERM (systemd, `timeout`) frees the
    lease as it exits: a full run right after starts, wherever it runs. One killed with
    SIGKILL cannot: on this machine the next run sees its process gone; on another, which
    cannot tell, its lease frees it when it expires. The three checks run side by side,
    each on a database of its own, and each gets its signal while it waits on the slow
    host."""
    from contextlib import ExitStack

    from sqlalchemy import update

    release, asked = threading.Event(), set[str]()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
    with ExitStack() as stack, slow_sites(release, asked) as (fast, slow):
        children: dict[signal.Signals, tuple[subprocess.Popen[str], Settings]] = {}
        for sig in signals:
            url = (
                migrated_db_url
                if sig == signal.SIGINT
                else stack.enter_context(migrated_database_url(tmp_path, f"{sig.name}.db"))
            )
            entries = [
                {"id": f"r{i}", "title": f"Resource {i}", "url": u}
                for i, u in enumerate([f"{fast}/a", f"{slow}/{sig.name}"])
            ]
            catalog = write_catalog(tmp_path / f"{sig.name}.yaml", entries)
            child = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "check", "--db", url, "--catalog",
                 str(catalog), "--allow-private", "--no-report"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path,
            )  # fmt: skip
            stack.callback(child.kill)
            children[sig] = child, pipeline_settings(url, catalog)
        held: dict[signal.Signals, store.LeaseRecord] = {}

        def signal_those_checking_the_slow_host() -> bool:
            """Each child as soon as its request to the slow host is in flight (its lease
            held), in whatever order they get there."""
            for sig, (child, settings) in children.items():
                if sig not in held and f"/{sig.name}" in asked:
                    engine = open_engine(settings.database_url)
                    (held[sig],) = store.leases(engine)
                    engine.dispose()
                    child.send_signal(sig)
            return len(held) == len(children)

        wait_until(signal_those_checking_the_slow_host, "every run asks the slow host")
        for sig, (child, settings) in children.items():
            _, err = child.communicate(timeout=60)
            engine = open_engine(settings.database_url)
            run = store.get_run(engine, held[sig].run_id)  # type: ignore[arg-type]
            if sig != signal.SIGKILL:
                assert child.returncode != 0, err
                assert store.leases(engine) == [], sig  # free at once, not in 15 minutes
                assert run.status == "aborted" and "stopped by" in run.summary["aborted_reason"]
                engine.dispose()
                continue
            assert store.leases(engine) == [held[sig]] and run.status == "running"
            elsewhere = f"otherhost:{held[sig].holder.split(':', 1)[1]}"  # no process to probe
            with session_scope(engine) as s:
                s.execute(update(tables.RunLease).values(holder=elsewhere))
                s.execute(
                    update(tables.Run)
                    .where(tables.Run.id == run.id)
                    .values(summary={**run.summary, "holder": elsewhere})
                )
            with pytest.raises(RunInProgressError):
                prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE)
            taker = prepare_run(
                settings,
                trigger="schedule",
                lease=FULL_RUN_LEASE,
                clock=Ticker(held[sig].expires_at.replace(tzinfo=UTC)),
            )
            assert store.get_run(engine, run.id).status == "aborted"
            finish_run(settings, taker.run_id, stored=[], lease=taker.lease)
            engine.dispose()
