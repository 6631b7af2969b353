"""Nights Prefect starts late. After the machine was off for three nights, `serve`'s runner
picked up all three missed nightly runs and checked the whole catalog three times back to
back: every site loaded three times, and the report's news left with the last hour's. The
first late night checks; a night whose scheduled time a full run has started since ends
Skipped, saying which run checked."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from catalog.queries import full_run_started_since
from catalog.runs import FULL_RUN_LEASE, finish_run, prepare_run
from catalog.settings import Settings
from catalog.shards import Shard, lease_name
from flows import check_flow
from tests.factories import Ticker, days, settings_for, temporary_database, write_catalog

ENTRIES = [{"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"}]


def _run(settings: Settings, at: float, *, lease: str | None, status: str = "completed") -> int:
    """A run started `at` days after T0 that checked nothing (its batches are not needed)."""
    run = prepare_run(
        settings, trigger="schedule", lease=lease, clock=Ticker(days(at)), resource_ids=None
    )
    finish_run(
        settings, run.run_id, stored=[], status=status, lease=run.lease, clock=Ticker(days(at))
    )
    return run.run_id


def test_a_full_run_started_after_the_scheduled_time_covers_the_night(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog])
        assert full_run_started_since(engine, days(1)) is None  # nothing ran yet
        _run(settings, 0.5, lease=FULL_RUN_LEASE)  # before the night's time: no cover
        assert full_run_started_since(engine, days(1)) is None
        _run(settings, 1.2, lease=None)  # a recheck of a few entries is no night's check
        _run(settings, 1.3, lease=FULL_RUN_LEASE, status="failed")  # nor a run that failed
        assert full_run_started_since(engine, days(1)) is None
        late = _run(settings, 3.1, lease=FULL_RUN_LEASE)
        found = full_run_started_since(engine, days(1))
        assert found is not None and found.id == late
        assert full_run_started_since(engine, days(3.2)) is None
        # Still running (or dead without anyone knowing yet): the lease judges that one.
        prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker(days(3.3)))
        assert full_run_started_since(engine, days(3.2)) is None


@pytest.mark.parametrize("trigger", ["schedule", "manual"])
def test_a_late_scheduled_night_is_skipped_naming_the_run_that_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trigger: str
) -> None:
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog])
        late = _run(settings, 3.1, lease=FULL_RUN_LEASE)  # the first missed night, run late
        for night, covered in ((1, True), (2, True), (4, False)):
            monkeypatch.setattr(
                check_flow, "flow_run", SimpleNamespace(scheduled_start_time=days(night))
            )
            why = check_flow.checked_since_scheduled(settings, trigger)
            if covered and trigger == "schedule":
                assert why is not None and f"run {late} started at 2025-03-04 04:24" in why
            else:  # a later night, or someone asking for a check now, checks
                assert why is None


def test_a_run_of_part_of_the_catalog_covers_no_night(tmp_path: Path) -> None:
    """A curator's `check --catalog trial.yaml` holds the full-run lease but checks one
    file; a shard of a sharded night checks some hosts until its parent groups the night's
    shards. Neither may stand for a night the schedule missed."""
    toolkit = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    trial = write_catalog(tmp_path / "trial.yaml", ENTRIES)
    with temporary_database(tmp_path) as engine:
        night = settings_for(engine, [toolkit, trial])
        files = [str(toolkit), str(trial)]
        _run(settings_for(engine, [trial]), 1.5, lease=FULL_RUN_LEASE)
        assert full_run_started_since(engine, days(1), files) is None
        shard = Shard.parse("1/2")
        part = prepare_run(
            night, trigger="schedule", lease=lease_name(shard), shard=shard, clock=Ticker(days(2))
        )
        finish_run(night, part.run_id, stored=[], lease=part.lease, clock=Ticker(days(2)))
        assert full_run_started_since(engine, days(1), files) is None
        whole = _run(night, 2.5, lease=FULL_RUN_LEASE)
        found = full_run_started_since(engine, days(1), files)
        assert found is not None and found.id == whole
