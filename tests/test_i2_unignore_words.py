"""`linkhealth unignore` says where the entry is now: back in the action queue only when
the queue lists it (its link fails, drifted, moved, or the entry is out of date); an entry
whose link works is watched again, listed once it fails; one never checked, once a check
finds a problem. "It is back in the action queue" of a working link sent curators looking
for a row that was not there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from catalog import decisions, store
from catalog.check.soft404 import LAPSED_SHELL
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
WATCHED = "its link works, so no queue lists it now: it is watched again"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = write_catalog(tmp_path / "toolkit.yaml", [{"id": "b", "title": "Portal", "url": URL}])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        yield engine


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return settings_for(engine, [tmp_path / "toolkit.yaml"])


def _checked(engine: Engine, outcome: Outcome, *nights: float, **fields: object) -> None:
    for night in nights:
        obs = make_observation(URL, outcome, days(night), **fields)
        store.record_observations(engine, None, [obs], Settings().health, now=days(night))


def _listed(engine: Engine, now: float) -> bool:
    ctx = build_context(report_data(engine), now=days(now))
    return any(row.resource_id == "b" for group in ctx.groups for row in group.rows)


def _listed_under(engine: Engine, now: float) -> Priority | None:
    ctx = build_context(report_data(engine), now=days(now))
    found = [row.priority for g in ctx.groups for row in g.rows if row.resource_id == "b"]
    return found[0] if found else None


def _unignored(settings: Settings, day: float) -> str:
    decisions.ignore(settings, "b", reason="login wall", clock=Ticker(days(day)))
    return decisions.unignore(settings, "b", clock=Ticker(days(day + 0.1))).message


def test_unignore_of_a_working_link_says_it_is_watched_not_queued(
    engine: Engine, settings: Settings
) -> None:
    _checked(engine, Outcome.OK, 1)
    message = _unignored(settings, 1.5)
    assert message.endswith(
        ": no longer ignored (login wall); its link works, so no queue lists it now: it is "
        "watched again, and listed as soon as it fails or otherwise needs attention"
    )
    assert QUEUED not in message
    assert not _listed(engine, 1.7)  # the words agree with the report


def test_unignore_of_a_snooze_on_a_working_link_says_so_too(
    engine: Engine, settings: Settings
) -> None:
    _checked(engine, Outcome.OK, 1)
    decisions.snooze(settings, "b", until=days(20).date(), reason="rebuild", clock=Ticker(days(1)))
    message = decisions.unignore(settings, "b", clock=Ticker(days(2))).message
    assert f"its snooze until {days(20):%Y-%m-%d} 00:00 ended; {WATCHED}" in message


@pytest.mark.parametrize(
    ("outcome", "nights", "fields"),
    [
        (Outcome.NOT_FOUND, (1,), {}),  # failing, not yet confirmed
        (Outcome.NOT_FOUND, (1, 2, 3, 4), {}),  # confirmed broken
        (Outcome.SOFT_404, (1,), {}),
        (Outcome.BLOCKED, (1,), {}),  # check by hand
        (Outcome.REDIRECTED_PERMANENT, (1,), {"final_url": "https://example.org/new"}),
        (Outcome.OK, (1,), {"reason": LAPSED_SHELL}),  # works, yet may be a parked domain
    ],
    ids=["failing", "broken", "soft_404", "blocked", "moved", "lapsed_shell"],
)
def test_unignore_of_a_link_the_queue_lists_says_it_is_back_in_the_queue(
    engine: Engine,
    settings: Settings,
    outcome: Outcome,
    nights: tuple[float, ...],
    fields: dict[str, object],
) -> None:
    _checked(engine, outcome, *nights, **fields)
    message = _unignored(settings, nights[-1] + 0.5)
    assert message.endswith(f"; {QUEUED}")
    assert _listed(engine, nights[-1] + 0.7)


def test_unignore_of_a_link_never_checked_says_a_check_will_tell(
    engine: Engine, settings: Settings
) -> None:
    message = _unignored(settings, 0.5)
    assert message.endswith(
        "; its link is not checked yet: it is watched again, and listed if a check finds a problem"
    )
    assert not _listed(engine, 0.7)


# The queue lists an entry whose last check worked, too: what unignore says comes from
# `ResourceRow.queued`, the report's own rule, whose halves besides `needs_attention` no
# test held from unignore's side (with `or self.flapping` dropped from it, every other test
# passed while unignore said "its link works, so no queue lists it now").


def test_unignore_of_a_flapping_link_that_works_tonight_says_it_is_queued(
    engine: Engine, settings: Settings
) -> None:
    for night in range(9):
        _checked(engine, Outcome.OK if night % 2 == 0 else Outcome.NOT_FOUND, night)
    assert _listed_under(engine, 8.2) is Priority.LOOK  # "Check by hand"
    message = _unignored(settings, 8.3)
    assert message.endswith(f"; {QUEUED}"), message
    assert "no queue lists it now" not in message


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
    assert "no queue lists it now" not in message
