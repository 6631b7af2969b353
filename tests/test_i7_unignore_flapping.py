"""`linkhealth unignore` of an entry the queue lists though its last check worked: what
it says comes from `ResourceRow.queued`, the report's own rule, whose halves besides
`needs_attention` no test held from unignore's side. A flapping link whose last check
worked is listed under "Check by hand"; with `or self.flapping` dropped from `queued`,
every other test passed while unignore said "its link works, so no queue lists it now".
An entry out of date ("Possibly out of date") whose link works is listed too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from catalog import decisions, store
from catalog.db import session_scope
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from catalog.tables import Resource
from reports.build import build_context
from reports.context import Priority
from tests.factories import (
    T0,
    Ticker,
    days,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)

URL = "https://example.org/b"
QUEUED = "it is back in the action queue"
WATCHED = "no queue lists it now"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = write_catalog(tmp_path / "toolkit.yaml", [{"id": "b", "title": "Portal", "url": URL}])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        yield engine


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return settings_for(engine, [tmp_path / "toolkit.yaml"])


def _checked(engine: Engine, outcome: Outcome, *nights: float) -> None:
    for night in nights:
        obs = make_observation(URL, outcome, days(night))
        store.record_observations(engine, None, [obs], Settings().health, now=days(night))


def _listed_under(engine: Engine, now: float) -> Priority | None:
    ctx = build_context(report_data(engine), now=days(now))
    (found,) = [row.priority for g in ctx.groups for row in g.rows if row.resource_id == "b"] or [
        None
    ]
    return found


def _unignored(settings: Settings, day: float) -> str:
    decisions.ignore(settings, "b", reason="flaky", clock=Ticker(days(day)))
    return decisions.unignore(settings, "b", clock=Ticker(days(day + 0.1))).message


def test_unignore_of_a_flapping_link_that_works_tonight_says_it_is_queued(
    engine: Engine, settings: Settings
) -> None:
    for night in range(9):
        _checked(engine, Outcome.OK if night % 2 == 0 else Outcome.NOT_FOUND, night)
    assert _listed_under(engine, 8.2) is Priority.LOOK  # "Check by hand"
    message = _unignored(settings, 8.3)
    assert message.endswith(f"; {QUEUED}"), message
    assert WATCHED not in message


def test_unignore_of_an_out_of_date_entry_whose_link_works_says_it_is_queued(
    engine: Engine, settings: Settings
) -> None:
    _checked(engine, Outcome.OK, 1)
    with session_scope(engine) as s:
        entry = s.scalars(select(Resource).where(Resource.rid == "b")).one()
        entry.stale_reasons = [
            {"code": "review_overdue", "reason": "not reviewed since 2020-01-01", "since": None}
        ]
    assert _listed_under(engine, 1.2) is Priority.STALE  # "Possibly out of date"
    message = _unignored(settings, 1.3)
    assert message.endswith(f"; {QUEUED}"), message
    assert WATCHED not in message
