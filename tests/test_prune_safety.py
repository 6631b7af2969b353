"""`db prune` never leaves the disk full, never hides a Ctrl-C, and never blocks a run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import catalog.retention
from catalog import store
from catalog.clock import utcnow
from catalog.retention import prune_observations
from catalog.runs import FULL_RUN_LEASE, LEASE_TTL
from catalog.settings import HealthSettings
from catalog.store import read_session
from catalog.sync import sync_catalogs
from catalog.tables import Link, Observation
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
                make_observation(url, outcome=catalog.retention.Outcome.NOT_FOUND,
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
    with read_session(engine) as s:
        return int(s.scalar(select(func.sum(Link.pruned_checks))) or 0)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


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
