"""A site that moved for good, then let its old host lapse: nights as the report tells them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import iter_resources, report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context
from reports.context import Row
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

OLD = "https://www.ncjrs.gov/pdffiles1/nij/grants/249672.pdf"
NEW = "https://www.ojp.gov/pdffiles1/nij/grants/249672.pdf"
OTHER = "https://www.bja.gov/programs/policeweek.html"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(
        resources=[make_resource("after-rescue", OLD), make_resource("bja", OTHER)]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        yield engine


def night(engine: Engine, at: datetime, old: Outcome, other: Outcome = Outcome.OK) -> None:
    run_id = store.start_run(engine, trigger="schedule", now=at)
    moved = {"final_url": NEW} if old is Outcome.REDIRECTED_PERMANENT else {"http_status": None}
    observations = [make_observation(OLD, old, at, **moved), make_observation(OTHER, other, at)]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))


def row(engine: Engine, rid: str, now: datetime) -> Row:
    (found,) = [r for r in build_context(report_data(engine), now=now).rows if r.resource_id == rid]
    return found


def test_a_moved_link_whose_old_host_lapsed_keeps_its_new_address(engine: Engine) -> None:
    """ncjrs.gov answered 301 to ojp.gov for a week ("switch to the new address"), then
    its name stopped resolving: the report said "Wait: it may recover by itself", then
    offered an archived copy of the dead ncjrs.gov address, as if the new one were
    unknown."""
    night(engine, days(1), Outcome.OK)
    for n in range(2, 6):
        night(engine, days(n), Outcome.REDIRECTED_PERMANENT)
    assert row(engine, "after-rescue", days(5.1)).suggested_url == NEW

    night(engine, days(6), Outcome.DNS_ERROR, Outcome.NOT_FOUND)
    failing = row(engine, "after-rescue", days(6.1))
    assert failing.state == "suspect"
    assert failing.fix is not None and NEW in failing.fix
    assert failing.command is not None and f"replace-url after-rescue {NEW}" in failing.command
    # A link that never moved still waits for its break to be confirmed.
    assert row(engine, "bja", days(6.1)).suggested_url is None

    night(engine, days(7), Outcome.DNS_ERROR)
    night(engine, days(8), Outcome.DNS_ERROR)
    broken = row(engine, "after-rescue", days(8.1))
    assert broken.state == "broken"
    assert broken.fix == f"Use the new address {NEW}."
    assert broken.command is not None and f"replace-url after-rescue {NEW}" in broken.command


def test_a_link_that_worked_at_its_own_address_after_the_redirect_suggests_nothing(
    engine: Engine,
) -> None:
    """The redirect was withdrawn (the page answered at its old address again) before the
    link failed: the old redirect is no news about where the page lives now."""
    night(engine, days(1), Outcome.REDIRECTED_PERMANENT)
    night(engine, days(2), Outcome.OK)
    night(engine, days(3), Outcome.DNS_ERROR)

    assert row(engine, "after-rescue", days(3.1)).suggested_url is None


def test_the_flows_action_queue_rows_know_the_new_address_too(engine: Engine) -> None:
    """`iter_resources` (the flow's action-queue artifact) streams the rows without
    `report_data`: it must tell the same fix."""
    night(engine, days(1), Outcome.REDIRECTED_PERMANENT)
    night(engine, days(2), Outcome.DNS_ERROR)

    (streamed,) = [r for r in iter_resources(engine) if r.resource_id == "after-rescue"]
    assert streamed.suggested_url == NEW


def test_a_new_address_that_is_itself_where_the_link_fails_is_not_offered(
    engine: Engine,
) -> None:
    """The common move: http:// answered 301 to https://, and later the https:// page
    answered 404. The failure is at the new address: "use the new address" named the
    broken page itself (review)."""
    night(engine, days(1), Outcome.REDIRECTED_PERMANENT)
    for n in (2, 3, 4):
        run_id = store.start_run(engine, trigger="schedule", now=days(n))
        failed_there = make_observation(OLD, Outcome.NOT_FOUND, days(n), final_url=NEW)
        store.record_observations(engine, run_id, [failed_there], HealthSettings(), now=days(n))
        store.finish_run(engine, run_id, status="completed", now=days(n) + timedelta(minutes=5))

    broken = row(engine, "after-rescue", days(4.1))
    assert broken.state == "broken"
    assert broken.suggested_url is None
    assert broken.fix is not None and "Use the new address" not in broken.fix
    (streamed,) = [r for r in iter_resources(engine) if r.resource_id == "after-rescue"]
    assert streamed.suggested_url is None
