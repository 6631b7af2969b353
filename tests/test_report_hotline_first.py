"""A dead hotline tops its group of the action queue, however recent its break."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

PORTAL = "https://www.bja.gov/programs/policeweek.html"
HOTLINE = "https://humantraffickinghotline.org/"


def test_a_broken_hotline_comes_before_an_older_broken_portal(tmp_path: Path) -> None:
    """The month's toolkit: BJA's portal broke first, the National Human Trafficking
    Hotline three nights later; "oldest problem first" listed the hotline last of five
    confirmed breaks, below links nobody in danger needs tonight."""
    catalog = make_catalog(
        resources=[
            make_resource("bja", PORTAL, type="web portal"),
            make_resource("hotline", HOTLINE, type="Hotline"),
        ]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        for n in range(1, 7):
            at = days(n)
            hotline = Outcome.CONNECTION_REFUSED if n >= 4 else Outcome.OK
            observations = [
                make_observation(PORTAL, Outcome.NOT_FOUND, at),
                make_observation(HOTLINE, hotline, at, http_status=None),
            ]
            run_id = store.start_run(engine, trigger="schedule", now=at)
            store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
            store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))

        ctx = build_context(report_data(engine), now=days(6.1))

    (broken,) = [g for g in ctx.groups if g.key == "broken"]
    assert [r.resource_id for r in broken.rows] == ["hotline", "bja"]
    assert [r.resource_id for r in ctx.rows] == ["hotline", "bja"]
