"""A check stored after a newer check of its link: kept, but not the link's state.

Rechecks take no lease, so a curator's `recheck` can run during the nightly run and store
its answer first; the nightly batch that fetched the same URL earlier is stored after it.
Applied in the order they were stored, the night's 404 of before the curator's fix
overwrote the recheck's 200 of after it: the report and `export` called the fixed link
failing, and a "Started failing" change was recorded (found by an operator walkthrough).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from catalog import store
from catalog.health import OK
from catalog.outcomes import Outcome
from catalog.problem_checks import recount
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Event, Link, Observation
from tests.factories import days, make_catalog, make_observation, make_resource
from tests.factories import temporary_database as database

URL = "https://example.org/guide"
HEALTH = HealthSettings(archive_lookups=False)


def _link(engine: Engine) -> Link:
    with store.read_session(engine) as s:
        return s.scalars(select(Link).where(Link.url == URL)).one()


def _events(engine: Engine) -> list[str]:
    with store.read_session(engine) as s:
        return list(s.scalars(select(Event.kind).where(Event.link_id.is_not(None))))


def test_a_nightly_check_stored_after_a_recheck_does_not_undo_it(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("g", URL)])], now=days(0))
        store.record_observations(engine, None, [make_observation(URL)], HEALTH, now=days(1))
        # Night 2: the run fetched the page at 2.00 (404) ...
        night = make_observation(URL, Outcome.NOT_FOUND, checked_at=days(2))
        # ... the curator fixed the page and rechecked it at 2.01 (200), stored first.
        recheck = make_observation(URL, checked_at=days(2.01), reason="after the fix")
        store.record_observations(engine, None, [recheck], HEALTH, now=days(2.01))
        before = _events(engine)
        store.record_observations(engine, None, [night], HEALTH, now=days(2.02))

        link = _link(engine)
        assert (link.outcome, link.state, link.consecutive_failures) == ("ok", OK, 0)
        assert link.last_checked_at == days(2.01) and link.first_failure_at is None
        assert _events(engine) == before  # no "Started failing" of a fixed link
        with store.read_session(engine) as s:
            kept = s.scalars(select(Observation.outcome).order_by(Observation.id)).all()
            newest = s.get(Observation, link.last_observation_id)
        assert kept == ["ok", "ok", "not_found"]  # every check is on record
        assert newest is not None and newest.reason == "after the fix"
        (row,) = report_data(engine).resources
        assert (row.outcome, row.state) == ("ok", OK)


def test_a_late_failure_counts_as_a_check_of_a_problem_it_came_after(tmp_path: Path) -> None:
    """Not applied, but a check of the link all the same: the report's "N checks" since
    its problem began (kept by the store) is what a scan of the observations gives."""
    with database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("g", URL)])], now=days(0))
        for n in (1, 2, 3):
            failing = make_observation(URL, Outcome.NOT_FOUND, checked_at=days(n))
            store.record_observations(engine, None, [failing], HEALTH, now=days(n))
        late = make_observation(URL, Outcome.NOT_FOUND, checked_at=days(2.5))
        store.record_observations(engine, None, [late], HEALTH, now=days(3.1))
        link = _link(engine)
        assert link.last_checked_at == days(3)
        with store.read_session(engine) as s:
            assert recount(s, [link.id]) == {link.id: 4}
        assert link.problem_checks == 4


def test_checks_after_a_clock_set_back_still_set_the_state(tmp_path: Path) -> None:
    """A newest check stamped ahead of the store's clock came from a clock since set back:
    later checks, stamped earlier, must still move the link, or it would be frozen until
    the clock passed that stamp."""
    with database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("g", URL)])], now=days(0))
        ahead = make_observation(URL, checked_at=days(30))  # a clock a month fast
        store.record_observations(engine, None, [ahead], HEALTH, now=days(30))
        failing = make_observation(URL, Outcome.NOT_FOUND, checked_at=days(2))
        store.record_observations(engine, None, [failing], HEALTH, now=days(2))
        link = _link(engine)
        assert (link.outcome, link.last_checked_at) == ("not_found", days(2))


def test_a_check_after_an_unreachable_network_is_not_late_for_a_link_never_checked(
    tmp_path: Path,
) -> None:
    """A `network_unavailable` observation is no check of the link (the store keeps no
    link's state by it, nor its `last_observation_id`), so it cannot make an answer made
    before it late: a new link's first answer, fetched by the night's run at 2.00 and
    stored after a recheck whose network was down at 2.01, must set the link's state."""
    with database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("g", URL)])], now=days(0))
        night = make_observation(URL, Outcome.NOT_FOUND, checked_at=days(2))
        offline = make_observation(URL, Outcome.NETWORK_UNAVAILABLE, checked_at=days(2.01))
        store.record_observations(engine, None, [offline], HEALTH, now=days(2.01))
        store.record_observations(engine, None, [night], HEALTH, now=days(2.02))

        link = _link(engine)
        assert link.last_observation_id is not None  # the night's 404 is its newest check
        assert (link.outcome, link.first_failure_at) == ("not_found", days(2))
        (row,) = report_data(engine).resources
        assert row.outcome is Outcome.NOT_FOUND
