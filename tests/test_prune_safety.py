"""`db prune` never leaves the disk full, never hides a Ctrl-C, and never blocks a run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from typer.testing import CliRunner

import catalog.retention
from catalog import store
from catalog.clock import utcnow
from catalog.outcomes import Outcome
from catalog.problem_checks import PROBLEM_START, pruned_since
from catalog.retention import PruneInterrupted, prune_observations
from catalog.runs import FULL_RUN_LEASE, LEASE_TTL
from catalog.settings import HealthSettings
from catalog.store import read_session
from catalog.sync import sync_catalogs
from catalog.tables import Link, Observation
from flows.cli import app
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

URLS = [f"https://example.org/{n}" for n in range(3)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Ten nightly runs over three links that never worked: 30 observations, of which a
    prune keeping 2 days at night 9 deletes the 21 of nights 0-6 (none is a link's latest,
    last working check or drift history)."""
    with temporary_database(tmp_path) as engine:
        kit = make_catalog("kit", [make_resource(f"r{n}", url) for n, url in enumerate(URLS)])
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(10):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            batch = [
                make_observation(url, outcome=Outcome.NOT_FOUND,
                                 checked_at=days(night))
                for url in URLS
            ]  # fmt: skip
            store.record_observations(engine, run_id, batch, HealthSettings(), now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night))
        yield engine


def _observations(engine: Engine) -> int:
    with read_session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Observation)) or 0)


def _pruned_checks(engine: Engine) -> int:
    """The checks pruned since each link's problem start, summed over the links."""
    with read_session(engine) as s:
        rows = s.execute(select(Link.pruned_by_start, PROBLEM_START))
        return sum(pruned_since(kept, start) for kept, start in rows)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def ctrl_c_on_delete() -> Iterator[list[int]]:
    """Ctrl-C arriving while the DELETE of chunk N (the list's one number) runs, in any
    engine: SQLAlchemy invalidates a connection interrupted in a statement."""
    when = [2]
    seen = [0]

    def interrupt(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM OBSERVATIONS"):
            seen[0] += 1
            if seen[0] == when[0]:
                raise KeyboardInterrupt

    event.listen(Engine, "before_cursor_execute", interrupt)
    try:
        yield when
    finally:
        event.remove(Engine, "before_cursor_execute", interrupt)


def test_ctrl_c_in_the_deleting_keeps_the_chunks_deleted_and_says_how_many(
    engine: Engine, ctrl_c_on_delete: list[int]
) -> None:
    """The `finally` dropped the keep table on the connection Ctrl-C had invalidated (so on
    a new one, without it): "no such table: linkhealth_prune_keep" replaced the interrupt."""
    with pytest.raises(PruneInterrupted) as interrupted:
        prune_observations(engine, keep_days=2, now=days(9), chunk=4)
    assert interrupted.value.deleted == 4
    assert _observations(engine) == 30 - 4

    ctrl_c_on_delete[0] = 0  # no more
    again = prune_observations(engine, keep_days=2, now=days(9), chunk=4)
    assert again.deleted == 21 - 4
    assert _observations(engine) == 9
    assert _pruned_checks(engine) == 21  # each deleted check counted once


def test_ctrl_c_as_a_chunk_commits_counts_that_chunk(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C just as the second chunk's COMMIT returns: deleted, though never counted."""
    deletes = [0]

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        deletes[0] += statement.lstrip().upper().startswith("DELETE FROM OBSERVATIONS")

    do_commit = engine.dialect.do_commit

    def commit_then_ctrl_c(dbapi_connection: Any) -> None:
        do_commit(dbapi_connection)
        if deletes[0] == 2:
            deletes[0] += 1
            raise KeyboardInterrupt

    event.listen(engine, "before_cursor_execute", count)
    monkeypatch.setattr(engine.dialect, "do_commit", commit_then_ctrl_c)
    with pytest.raises(PruneInterrupted) as interrupted:
        prune_observations(engine, keep_days=2, now=days(9), chunk=4)
    event.remove(engine, "before_cursor_execute", count)
    assert interrupted.value.deleted == 8 == 30 - _observations(engine)


def test_cli_prune_interrupted_says_the_deletions_are_kept_and_exits_130(
    engine: Engine, ctrl_c_on_delete: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        catalog.retention, "prune_observations", partial(prune_observations, chunk=4)
    )
    result = CliRunner().invoke(app, ["db", "prune", "--keep-days", "2", "--db", _url(engine)])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().endswith(
        "interrupted; the 4 deletion(s) so far are kept (run `linkhealth db prune` again to finish)"
    )
    assert "Traceback" not in result.output and "linkhealth_prune_keep" not in result.output


def test_vacuum_is_not_started_without_the_space_for_its_copy(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In WAL mode VACUUM writes the compacted file into the -wal: on a nearly full disk it
    grew the -wal into all the free space, failed, and left the disk full (the WAL could
    not even be checkpointed), so the next run stored a fraction of its checks."""
    if engine.dialect.name != "sqlite":
        pytest.skip("VACUUM is SQLite's")
    real = shutil.disk_usage

    def nearly_full(path: Any) -> Any:
        return real(path)._replace(free=10_000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    vacuumed: list[bool] = []
    result = prune_observations(
        engine, keep_days=2, now=days(9), on_vacuum=lambda: vacuumed.append(True)
    )

    assert result.deleted == 21 and vacuumed == []
    assert result.not_compacted is not None
    assert "VACUUM needs about " in result.not_compacted
    assert "and it has 0.0 MiB; it was not started" in result.not_compacted
    assert f"free in {tmp_path.resolve()}" in result.not_compacted

    monkeypatch.undo()  # room again: the next prune compacts (a tenth of the file is free)
    monkeypatch.setattr(catalog.retention, "COMPACT_FREE_SHARE", 0.01)
    again = prune_observations(
        engine, keep_days=2, now=days(9), on_vacuum=lambda: vacuumed.append(True)
    )
    assert again.deleted == 0 and again.not_compacted is None and vacuumed == [True]


def test_vacuum_counts_its_temporary_copy_on_the_same_disk(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """VACUUM first copies the file into a temporary database in SQLite's temporary folder;
    on the database's own disk that copy needs the space too."""
    if engine.dialect.name != "sqlite":
        pytest.skip("VACUUM is SQLite's")
    temp = tmp_path / "sqlite-tmp"
    temp.mkdir()
    monkeypatch.setenv("SQLITE_TMPDIR", str(temp))
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=10_000))
    result = prune_observations(engine, keep_days=2, now=days(9))
    assert result.not_compacted is not None
    assert f"and its temporary one in {temp.resolve()}" in result.not_compacted


def test_a_full_run_holding_its_lease_before_its_run_is_recorded_puts_the_vacuum_off(
    engine: Engine,
) -> None:
    """A full run takes its lease, then syncs the catalogs (minutes for a large one) before
    its run is recorded: VACUUM started then held the lock its first writes waited for."""
    if engine.dialect.name != "sqlite":
        pytest.skip("VACUUM is SQLite's")
    holder = store.lease_holder()
    assert store.acquire_lease(engine, FULL_RUN_LEASE, holder, now=utcnow(), ttl=LEASE_TTL)
    vacuumed: list[bool] = []
    result = prune_observations(
        engine, keep_days=2, now=days(9), on_vacuum=lambda: vacuumed.append(True)
    )
    assert result.deleted == 21 and vacuumed == []
    assert result.compact_later is not None
    assert f"a full run holding lease 'full-run' ({holder}, until " in result.compact_later
    assert result.not_compacted is None


def test_cli_prune_says_every_kind_of_older_observation_it_kept(engine: Engine) -> None:
    """Its closing line names what the older observations it kept are, as `--keep-days`'s
    help and the README do: it left out each link's last three judged reads (2ce07b7,
    `drift.SHORT_READS`), its tries not sent and an edited entry's first check."""
    result = CliRunner().invoke(
        app, ["db", "prune", "--keep-days", "2", "--no-vacuum", "--db", _url(engine)]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "Deleted 27 observation(s)" in said and "kept 3 older one(s)" in said, said
    for kept in (
        "latest",
        "last working check",
        "drift history",
        "last three judged reads",
        "tries not sent",
        "first check of its new URL",
    ):
        assert kept in said, (kept, said)
