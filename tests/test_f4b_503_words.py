"""`linkhealth recheck` and `linkhealth resource` say of a 503 "come back later" what the
report's row says: "Unavailable (503)", watched until it lasts (`catalog.outcomes`), not
"Rate limited, check by hand"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import decisions, store
from catalog.model import Observation
from catalog.ops import verdict_lines
from catalog.outcomes import UNAVAILABLE_LABEL, WATCHED, WATCHED_UNAVAILABLE, Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Row
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    unavailable_observation,
)

URL = "https://site.example/resources"
HEALTH = HealthSettings()


def _night(engine: Engine, obs: Observation, n: int) -> Row:
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    store.record_observations(engine, run_id, [obs], HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    (row,) = build_context(report_data(engine), now=days(n + 0.02)).resources
    return row


@pytest.mark.parametrize(("nights", "note"), [(1, WATCHED), (3, WATCHED_UNAVAILABLE)])
def test_recheck_and_resource_say_unavailable_as_the_report_does(
    tmp_path: Path, nights: int, note: str
) -> None:
    kit = make_catalog("toolkit", [make_resource("site", URL)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, make_observation(URL, Outcome.OK, days(0)), 0)
        for n in range(1, nights + 1):
            row = _night(engine, unavailable_observation(URL, days(n), wait=7200), n)
        (line,) = verdict_lines(store.recheck_statuses(engine, None, rids={"site"}), ["site"])
        history = decisions.history_lines(store.resource_history(engine, "site"))
    assert (row.label, row.state_note) == (UNAVAILABLE_LABEL, note)
    assert line.startswith(f"toolkit/site: {UNAVAILABLE_LABEL}, {note[0].lower()}{note[1:]}")
    state = history[history.index("Current state") + 1]
    assert state.strip().startswith(UNAVAILABLE_LABEL), state
    assert "rate limited" not in (line + state).lower()


def test_a_429_is_still_rate_limited(tmp_path: Path) -> None:
    kit = make_catalog("toolkit", [make_resource("site", URL)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, make_observation(URL, Outcome.OK, days(0)), 0)
        limited = make_observation(URL, Outcome.RATE_LIMITED, days(1), http_status=429)
        _night(engine, limited, 1)
        (line,) = verdict_lines(store.recheck_statuses(engine, None, rids={"site"}), ["site"])
    assert line.startswith(f"toolkit/site: {Outcome.RATE_LIMITED.label}, watched")
