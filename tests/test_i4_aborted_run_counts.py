"""A run killed outright (SIGKILL, a power cut) and aborted by the next run shows what it
stored, as it did while it was still `running`: its checks by outcome, the tries among
them that were never sent (their host held), and its drift count for the trend.

The run that aborts it counts them from its observations (`store.close_run`), but the
abort then wrote the summary it had read before counting back over them: "6/30 URLs: 4
ok, 2 rate_limited (2 not sent)" while it ran became "6/30 URLs: 4 ok, 2 rate_limited"
once aborted, and the report called all six "checked".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.ops import run_lines
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.runs import FULL_RUN_LEASE, prepare_run, store_batch
from reports import build_context
from tests.factories import (
    T0,
    Ticker,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)
from tests.test_report_run_counts import said_in

URLS = [f"https://site{i % 5}.example.org/page{i}" for i in range(30)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def test_a_killed_run_aborted_by_the_next_keeps_its_counts_everywhere(
    engine: Engine, tmp_path: Path
) -> None:
    entries = [{"id": f"r{i}", "title": f"Resource {i}", "url": u} for i, u in enumerate(URLS)]
    settings = settings_for(engine, [write_catalog(tmp_path / "catalog.yaml", entries)])
    clock = Ticker()
    killed = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    clock.now = T0 + timedelta(minutes=2)
    obs = [make_observation(u, checked_at=clock.now) for u in URLS[:4]]
    obs += [
        make_observation(u, Outcome.RATE_LIMITED, checked_at=clock.now, held=True)
        for u in URLS[4:6]
    ]
    store_batch(settings, killed.run_id, obs, clock=clock, lease=killed.lease)
    (running,) = run_lines(store.latest_runs(engine))
    assert "6/30 URLs: 4 ok, 2 rate_limited (2 not sent)" in running

    # SIGKILL: no finally ran, no heartbeat since. The next night's run finds its lease
    # expired (as on another machine, or after a power cut; a process seen gone is alike).
    clock.now = T0 + timedelta(days=1)
    later = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    assert later.aborted == (killed.run_id,)

    aborted = store.get_run(engine, killed.run_id)
    assert aborted.status == "aborted" and aborted.urls_checked == 6
    assert aborted.counts == {"ok": 4, "rate_limited": 2}
    assert aborted.summary.get(store.UNSENT_LINKS) == {"rate_limited": 2}
    assert aborted.summary.get(store.DRIFTED_LINKS) == 0  # known, for the trend
    assert aborted.summary.get(store.FOUND_DEAD) and aborted.summary.get("aborted_reason")
    line = next(li for li in run_lines(store.latest_runs(engine)) if li.startswith("run 1 "))
    assert "6/30 URLs: 4 ok, 2 rate_limited (2 not sent)" in line, line

    # The report shows that aborted run (the last finished): 4 checked, 2 not sent.
    fact, md = said_in(build_context(report_data(engine, run_id=killed.run_id), now=clock.now))
    assert fact.startswith("4 of 30") and "2 not sent" in fact, fact
    assert "4 of 30 URLs checked (2 not sent" in md, md
