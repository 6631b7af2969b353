"""Weeks offline make no link "unverified", not even one no check has ever reached: our
outage is not the sites'. A link its site never answered, while others did, still is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from catalog import runs, store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)

#: Enough hosts for a batch to be judged offline on its own (`outage.MIN_HOSTS`).
URLS = [f"https://site{n}.example/guide" for n in range(12)]


def nightly_runs(engine: Engine, nights: Sequence[int], batch_of) -> None:
    """One run a night through the run steps, the clock moved to that night."""
    settings = settings_for(engine, unverified_days=14)
    for night in nights:
        clock = Ticker(days(night))
        run_id = store.start_run(engine, trigger="schedule", now=days(night))
        stored = runs.store_batch(settings, run_id, batch_of(days(night)), clock=clock)
        runs.finish_run(settings, run_id, stored=[stored], clock=clock)


def unreachable(u: str, at) -> Observation:
    return make_observation(u, Outcome.DNS_ERROR, at, http_status=None)


def stale_codes(engine: Engine, rid: str) -> set[str]:
    return {note.code for note in store.find_resource(engine, rid).stale}


def test_weeks_offline_since_the_catalog_was_added_make_no_link_unverified(
    tmp_path: Path,
) -> None:
    """A machine offline for three weeks from the day its catalog was added: every link
    was filed under "Possibly out of date: no check has succeeded since the link was
    added; open the link by hand"."""
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate(URLS)]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        nightly_runs(engine, range(1, 22), lambda at: [unreachable(u, at) for u in URLS])

        assert all(store.get_run(engine, n).network_unavailable for n in range(1, 22))
        for n in range(len(URLS)):
            assert "unverified" not in stale_codes(engine, f"r{n}")


def test_a_link_its_site_never_answered_while_others_did_is_still_unverified(
    tmp_path: Path,
) -> None:
    lapsed = "https://lapsed.example/"
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate(URLS)]
    entries.append(make_resource("lapsed", url=lapsed))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        nightly_runs(
            engine,
            range(1, 16),
            lambda at: [
                *(make_observation(u, checked_at=at) for u in URLS),
                unreachable(lapsed, at),
            ],
        )

        (note,) = [s for s in store.find_resource(engine, "lapsed").stale if s.code == "unverified"]
        assert note.reason.startswith("No check has succeeded since the link was added on ")
        assert note.since == T0


def test_a_link_that_failed_before_weeks_offline_stays_unverified(tmp_path: Path) -> None:
    """The checks that reached it before the outage failed: the outage hides nothing of
    that (as for a link that worked once, whose failures since count)."""
    lapsed = "https://lapsed.example/"
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate(URLS)]
    entries.append(make_resource("lapsed", url=lapsed))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        nightly_runs(
            engine,
            range(1, 3),
            lambda at: [
                *(make_observation(u, checked_at=at) for u in URLS),
                unreachable(lapsed, at),
            ],
        )
        nightly_runs(engine, range(3, 22), lambda at: [unreachable(u, at) for u in [*URLS, lapsed]])

        assert "unverified" in stale_codes(engine, "lapsed")
        assert "unverified" not in stale_codes(engine, "r0")
