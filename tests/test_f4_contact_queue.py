"""A contact gone from its page is a group of its own in the action queue, ahead of the
link groups, dated from the first read that missed it.

Under "Possibly out of date", the last group, with Since "—", a hotline whose number
changed waited behind every failing link and every old entry, for a finding that sends
visitors to a number that may no longer answer.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from catalog import store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Priority, ReportContext
from reports.render import render_html, render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

SITE = "https://hotline.example/"
PORTAL = "https://portal.example/guide"
HOTLINE = "1-888-373-7888"
KEY = "tel:8883737888"
NEW = "tel:8885550100"
HEALTH = HealthSettings()


def _night(engine: Engine, n: float, hotline: Observation, portal: Outcome) -> ReportContext:
    at = days(n)
    run_id = store.start_run(engine, trigger="schedule", now=at)
    observations = [hotline, make_observation(PORTAL, portal, at)]
    store.record_observations(engine, run_id, observations, HEALTH, now=at)
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return build_context(report_data(engine), now=days(n + 0.02))


def _read(n: float, *shown: str, outcome: Outcome = Outcome.OK) -> Observation:
    """A full read of the hotline's page, showing the contacts `shown`."""
    return make_observation(SITE, outcome, days(n), title="National Hotline", contacts=shown)


def test_a_gone_number_is_queued_ahead_of_failing_links_since_the_first_read_without_it(
    tmp_path: Path,
) -> None:
    kit = make_catalog(
        "toolkit",
        [
            make_resource(
                "hotline",
                SITE,
                title="National Human Trafficking Hotline",
                description=f"Call {HOTLINE}, confidential, 24/7.",
                type="hotline",
            ),
            make_resource("portal", PORTAL, title="Task force portal"),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 0, _read(0, KEY), Outcome.OK)
        _night(engine, 1, _read(1, NEW), Outcome.NOT_FOUND)  # first read without it
        ctx = _night(engine, 2, _read(2, NEW), Outcome.NOT_FOUND)

    assert [(g.priority, [r.resource_id for r in g.rows]) for g in ctx.groups] == [
        (Priority.CONTACT, ["hotline"]),
        (Priority.FAILING, ["portal"]),
    ]
    (row,) = ctx.groups[0].rows
    assert row.since is not None and row.since.date == days(1).date().isoformat()
    assert "no longer on the page" in row.seen
    assert row.command is not None and "mark-reviewed" in row.command
    # The entry's number is to fix, not an entry only to review.
    assert ctx.headline == "2 resources: 1 to fix, 1 to check or watch."
    md = render_markdown(ctx)
    assert "Contact details gone from their page" in md
    (line,) = [line for line in md.splitlines() if line.startswith("| [National Human")]
    cells = [cell.strip() for cell in line.split(" | ")]
    assert cells[2] == f"a day ago ({days(1).date().isoformat()})"
    assert cells[3] == "—"  # the link's checks say nothing of the entry's number
    assert "Contact details gone from their page" in render_html(ctx)


def test_a_gone_number_on_a_link_that_fails_is_filed_with_the_failure(tmp_path: Path) -> None:
    """The link's own problem comes first; the finding stands for after."""
    kit = make_catalog(
        "toolkit",
        [
            make_resource("hotline", SITE, description=f"Call {HOTLINE}.", type="hotline"),
            make_resource("portal", PORTAL),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 0, _read(0, KEY), Outcome.OK)
        _night(engine, 1, _read(1, NEW), Outcome.OK)
        ctx = _night(engine, 2, _read(2, NEW), Outcome.OK)
        assert [g.priority for g in ctx.groups] == [Priority.CONTACT]
        ctx = _night(engine, 3, _read(3, outcome=Outcome.NOT_FOUND), Outcome.OK)
        assert [g.priority for g in ctx.groups] == [Priority.FAILING]
        ctx = _night(engine, 4, _read(4, NEW), Outcome.OK)
        assert [g.priority for g in ctx.groups] == [Priority.CONTACT]
        (row,) = ctx.groups[0].rows
        assert row.since is not None and row.since.date == days(1).date().isoformat()
