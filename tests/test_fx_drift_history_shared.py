"""An entry flagged drifted on a shared page stays flagged while the page stays as it is.

Several entries can share one address (one page holds a guide, a directory and a poster).
A page that drops the poster but still holds the others flags the poster alone, judged
against its own earlier scores (`store.DRIFT_HISTORY` of them). What was wrong: the
link's history is its newest scored checks, and each night's check scored the guide and
the directory only (a drifted score never joins the baseline), so after ten such nights
the poster had no score left; judged without a history, the same page no longer counted
as drift, and the report said "matches the entry again" (`drift_cleared`) of a page that
had not changed: a false all-clear. A page of one entry, or a takeover, stores no scored
check while it drifts, so its baseline stayed; shared pages now keep the baseline each
flagged entry drifted from until a read shows the page matching it again, `db prune` too.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from catalog.retention import prune_observations
from catalog.store import DRIFT_HISTORY
from tests.factories import days
from tests.test_d1_drift_per_entry import (
    ALL,
    CASINO,
    ONE,
    TWO,
    drifted_entries,
    flagged,
    night,
    rows,
)
from tests.test_d1_drift_per_entry import catalog_file as catalog_file  # the fixtures
from tests.test_d1_drift_per_entry import engine as engine

#: Nights the page stays without the poster: well past the history's length.
LONG = 3 * DRIFT_HISTORY


def nights(engine: Engine, first: int, body: str, count: int, *, prune: bool) -> list[str]:
    """`count` nights of `body` from night `first` (each pruned to two days' checks when
    `prune`); the drift events of the shared page, in order."""
    told: list[str] = []
    for day in range(first, first + count):
        told += night(engine, day, body)
        if prune:
            prune_observations(engine, 2, now=days(day + 0.5), vacuum=False)
    return told


@pytest.mark.parametrize("prune", [False, True], ids=["kept", "pruned"])
def test_a_page_that_stays_without_the_poster_keeps_it_flagged(engine: Engine, prune: bool) -> None:
    assert nights(engine, 2, TWO, LONG, prune=prune) == ["drift_detected poster"]
    assert flagged(engine) == ["poster"]
    assert rows(engine)["poster"].since == days(2)
    # Only the page holding the poster again says it matches again.
    assert nights(engine, 2 + LONG, ALL, 1, prune=prune) == ["drift_cleared poster"]
    assert flagged(engine) == []


@pytest.mark.parametrize("prune", [False, True], ids=["kept", "pruned"])
def test_the_other_entries_keep_their_own_history(engine: Engine, prune: bool) -> None:
    nights(engine, 2, TWO, LONG, prune=prune)
    # The page then drops the directory too: judged by its own scores, it drifts; the
    # poster stays flagged from its own night, the guide is held still.
    assert nights(engine, 2 + LONG, ONE, LONG, prune=prune) == ["drift_detected directory"]
    assert flagged(engine) == ["directory", "poster"]
    found = rows(engine)
    assert (found["poster"].since, found["directory"].since) == (days(2), days(2 + LONG))
    assert sorted(nights(engine, 2 + 2 * LONG, ALL, 1, prune=prune)) == [
        "drift_cleared directory",
        "drift_cleared poster",
    ]
    assert flagged(engine) == []


def test_a_takeover_then_a_page_without_the_poster_keeps_it_flagged(engine: Engine) -> None:
    assert len(nights(engine, 2, CASINO, LONG, prune=False)) == 3  # each entry, once
    assert drifted_entries(engine) is None  # every entry, as before
    assert sorted(nights(engine, 2 + LONG, TWO, LONG, prune=False)) == [
        "drift_cleared directory",
        "drift_cleared guide",
    ]
    assert flagged(engine) == ["poster"]
    assert rows(engine)["poster"].since == days(2)
    assert nights(engine, 2 + 2 * LONG, ALL, 1, prune=False) == ["drift_cleared poster"]
