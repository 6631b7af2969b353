"""Every reader of an entry whose contact is gone from its page says what the report says:
`linkhealth recheck`'s line gives the finding a clause, as drift has (the headline and
`check --strict` count it to fix; "OK" alone read as all well), and the link's count of
checks, which says nothing of the number, is left out beside a Since that is the first
miss (the CSV, latest.json and `resource --json`, as HTML and Markdown)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.model import Observation
from catalog.ops import verdict_lines
from catalog.outcomes import Outcome
from catalog.queries import iter_resources, report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context, resource_report_row
from reports.context import Priority, ReportContext
from reports.render import render_csv, render_json
from reports.resource_text import _report_json
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

SITE = "https://hotline.example/"
HOTLINE = "1-888-373-7888"
KEY = "tel:8883737888"
NEW = "tel:8885550100"
HEALTH = HealthSettings()


def _night(engine: Engine, n: float, obs: Observation) -> ReportContext:
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    store.record_observations(engine, run_id, [obs], HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return build_context(report_data(engine), now=days(n + 0.02))


def _read(n: float, *shown: str) -> Observation:
    return make_observation(SITE, Outcome.OK, days(n), title="National Hotline", contacts=shown)


@pytest.fixture
def gone(tmp_path: Path) -> Iterator[tuple[Engine, ReportContext]]:
    """Ten nights showing the number, then two full reads without it: gone. A second
    entry on the same page names no number."""
    kit = make_catalog(
        "toolkit",
        [
            make_resource("hotline", SITE, description=f"Call {HOTLINE}.", type="hotline"),
            make_resource("about", SITE, description="About the hotline."),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(0, 10):
            _night(engine, n, _read(n, KEY))
        _night(engine, 10, _read(10, NEW))
        yield engine, _night(engine, 11, _read(11, NEW))


def test_recheck_line_of_a_contact_gone_says_so(gone: tuple[Engine, ReportContext]) -> None:
    engine, ctx = gone
    row = next(r for r in ctx.resources if r.resource_id == "hotline")
    assert row.priority is Priority.CONTACT
    statuses = store.recheck_statuses(engine, None, rids={"hotline", "about"})
    about, hotline = verdict_lines(statuses, ["hotline", "about"])  # by id
    assert hotline.startswith("toolkit/hotline: OK")
    assert f"the phone number {HOTLINE} named in the entry is no longer on the page" in hotline
    assert about.startswith("toolkit/about: OK") and "no longer on the page" not in about


def test_checks_of_a_contact_row_are_left_out_everywhere(
    gone: tuple[Engine, ReportContext],
) -> None:
    """HTML and Markdown leave "Checks" blank for it (`Row.checks_counted`); the CSV,
    latest.json and `resource --json` gave the link's 12 checks beside the first miss."""
    engine, ctx = gone
    row = next(r for r in ctx.resources if r.resource_id == "hotline")
    assert row.priority is Priority.CONTACT and not row.checks_counted
    assert row.since is not None and row.since.iso.startswith(f"{days(10):%Y-%m-%d}")
    source = next(r for r in iter_resources(engine) if r.resource_id == "hotline")
    data = _report_json(resource_report_row(source, now=days(11.02)))
    assert data["since"] == row.since.iso and data["checks"] is None
    (record,) = (
        r for r in json.loads(render_json(ctx))["resources"] if r["resource_id"] == "hotline"
    )
    assert record["checks"] is None
    rows = list(csv.DictReader(io.StringIO(render_csv(ctx))))
    (line,) = (r for r in rows if r["id"] == "hotline")
    assert line["checks"] == "" and line["since"]
    # The entry beside it, on the same working link, keeps its count.
    (other,) = (r for r in rows if r["id"] == "about")
    assert other["checks"] != ""
