"""`linkhealth status`'s line about a night whose run stopped while it checked says how far
the run got: "after N of M URLs", from the run record. A run still stored as running (its
process gone, `abandoned`) has the live count it last noted; once the next run aborts it
(`store.abort_stale_runs`), the URLs its observations cover (`close_run`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from catalog.settings import HealthSettings
from catalog.shards import FULL_RUN_LEASE
from catalog.store import RunRecord
from catalog.sync import sync_catalogs
from flows.nightly_watch import (
    NIGHTLY,
    Deployment,
    Nights,
    Schedule,
    unchecked_line,
    unchecked_night,
)
from tests.factories import make_catalog, make_observation, make_resource

UI = "http://127.0.0.1:4200"
KILLED_AT = datetime(2026, 12, 5, 7, 0, 5, tzinfo=UTC)
URLS = [f"https://h{i}.example.org/page" for i in range(5)]


def _night(status: str, planned: int, checked: int) -> RunRecord:
    return RunRecord(
        id=2,
        trigger="schedule",
        flow_run_id=None,
        started_at=KILLED_AT,
        finished_at=None,
        status=status,
        urls_planned=planned,
        urls_checked=checked,
        counts={},
        network_unavailable=False,
        summary={"aborted_reason": "its process (vm:1) is gone"},
        duration_s=None,
    )


@pytest.mark.parametrize(
    ("planned", "checked", "said"),
    [
        (600, 59, ", after 59 of 600 URLs (aborted"),
        (1, 0, ", after 0 of 1 URL (aborted"),
        # Checks stored without a plan (`known_plan`): no "of 0".
        (0, 3, ", after 3 URLs (aborted"),
        (0, 1, ", after 1 URL (aborted"),
        # Stopped before it planned: nothing to count.
        (0, 0, " (aborted"),
    ],
)
def test_the_line_says_how_far_the_run_got(planned: int, checked: int, said: str) -> None:
    night = unchecked_night([_night("aborted", planned, checked)], {})
    assert night is not None
    line = unchecked_line(night, UI)
    assert f"stopped while it checked{said}" in line
    assert "of 0" not in line


def _deployment() -> Deployment:
    return Deployment(
        name=NIGHTLY,
        id="d-nightly",
        created=datetime(2026, 11, 1, tzinfo=UTC),
        paused=False,
        ready=True,
        schedules=(Schedule(True, "0 2 * * *", "America/New_York"),),
        by_workers=False,
    )


def _unchecked_line(db_url: str) -> str:
    from flows.cli import app

    result = CliRunner().invoke(app, ["status", "--db", db_url])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("The night's run")]
    return line


def test_status_says_how_far_a_killed_night_got_before_and_after_it_is_aborted(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A night's run that planned 5 URLs, noted 3 checked, stored the observations of 2 and
    died: "after 3 of 5 URLs" while it is stored as running, "after 2 of 5 URLs" once the
    next run aborted it and counted its observations."""
    import flows.nightly_watch
    import flows.prefect_server

    monkeypatch.setenv("PREFECT_API_URL", f"{UI}/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: True)
    monkeypatch.setattr(
        flows.nightly_watch, "read_nights", lambda seen: Nights(_deployment(), None)
    )
    engine = open_engine(migrated_db_url)
    sync_catalogs(
        engine,
        [make_catalog("toolkit", [make_resource(f"r{i}", url=url) for i, url in enumerate(URLS)])],
        now=KILLED_AT - timedelta(days=1),
    )
    # Another host's process, its lease gone: dead, whatever this host runs.
    summary = {"holder": "elsewhere:4242 f9", "lease": FULL_RUN_LEASE}
    night = store.start_run(engine, trigger="schedule", now=KILLED_AT, summary=summary)
    store.set_run_planned(engine, night, len(URLS))
    checked = [
        make_observation(url, checked_at=KILLED_AT + timedelta(seconds=10)) for url in URLS[:2]
    ]
    store.record_observations(
        engine, night, checked, HealthSettings(), now=KILLED_AT + timedelta(seconds=10)
    )
    store.note_run_progress(engine, night, 3, now=KILLED_AT + timedelta(seconds=20))
    engine.dispose()

    line = _unchecked_line(migrated_db_url)
    assert line.startswith(
        f"The night's run {night} (started 2026-12-05 07:00 UTC) stopped while it checked, "
        "after 3 of 5 URLs (abandoned: its lease"
    ), line

    engine = open_engine(migrated_db_url)
    assert store.abort_stale_runs(engine, now=KILLED_AT + timedelta(hours=1)) == [night]
    engine.dispose()

    line = _unchecked_line(migrated_db_url)
    assert line.startswith(
        f"The night's run {night} (started 2026-12-05 07:00 UTC) stopped while it checked, "
        "after 2 of 5 URLs (aborted: its lease"
    ), line
