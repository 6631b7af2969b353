"""The run's "URLs checked" as the report says it: never more checked than planned ("11 of
0"), whichever way the run was recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine

from catalog import store
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context, render_html, render_markdown
from reports.context import ReportContext
from reports.render import render_json
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

URLS = [f"https://host{n}.example/page" for n in range(4)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(resources=[make_resource(f"r{n}", url) for n, url in enumerate(URLS)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        yield engine


def _run(
    engine: Engine, at: datetime, urls: list[str], *, planned: int | None, **summary: str
) -> int:
    """A finished run that checked `urls`; `planned` None records no plan, as a run
    written through `catalog.store` alone does."""
    run_id = store.start_run(engine, trigger="schedule", now=at, summary=summary)
    if planned is not None:
        store.set_run_planned(engine, run_id, planned)
    observations = [make_observation(url, checked_at=at) for url in urls]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    return run_id


def _said(engine: Engine) -> tuple[str, str]:
    """(the index's "URLs checked" fact, the Markdown run line)."""
    return said_in(build_context(report_data(engine), now=days(3)))


def said_in(ctx: ReportContext) -> tuple[str, str]:
    """The run's "URLs checked" as the HTML's run facts and the Markdown's run line say it."""
    tree = LexborHTMLParser(render_html(ctx))
    facts = {
        dt.text(strip=True): dd.text(strip=True)
        for dt, dd in zip(tree.css("dl.run dt"), tree.css("dl.run dd"), strict=True)
    }
    (line,) = [ln for ln in render_markdown(ctx).splitlines() if ln.startswith("Run ")]
    return facts["URLs checked"], line


def test_a_run_that_recorded_no_plan_says_how_many_it_checked_not_of_zero(
    engine: Engine,
) -> None:
    _run(engine, days(1), URLS, planned=None)

    data = report_data(engine)
    assert data.run is not None and (data.run.urls_checked, data.run.urls_planned) == (4, None)
    fact, line = _said(engine)
    assert fact == "4"
    assert "; 4 URLs checked." in line and " of 0" not in line
    run = json.loads(render_json(build_context(report_data(engine), now=days(3))))["run"]
    assert (run["urls_checked"], run["urls_planned"]) == (4, None)


def test_a_run_with_a_plan_says_how_many_of_it_it_checked(engine: Engine) -> None:
    _run(engine, days(1), URLS[:3], planned=4)

    fact, line = _said(engine)
    assert fact == "3 of 4"
    assert "; 3 of 4 URLs checked." in line


def test_a_run_that_planned_and_checked_nothing_says_none(engine: Engine) -> None:
    """An empty plan (a run that failed before planning, a catalog emptied): "0 of 0
    URLs checked" says nothing a curator can use."""
    _run(engine, days(1), [], planned=0)

    fact, line = _said(engine)
    assert fact == "none"
    assert "; no URLs checked." in line


def test_one_url_is_one_url(engine: Engine) -> None:
    _run(engine, days(1), URLS[:1], planned=1)

    assert "; 1 of 1 URL checked." in _said(engine)[1]


def test_a_sharded_night_with_a_shard_that_recorded_no_plan_has_no_plan(engine: Engine) -> None:
    """Summing the plans that were recorded would give "4 of 2"."""
    flow_runs = {"1/2": "flow-a", "2/2": "flow-b"}
    for n, (part, flow_run) in enumerate(flow_runs.items()):
        run_id = store.start_run(
            engine,
            trigger="schedule",
            now=days(1),
            flow_run_id=flow_run,
            summary={"holder": f"box {flow_run}", "lease": f"full-run:{part}", "shard": part},
        )
        if n == 0:
            store.set_run_planned(engine, run_id, 2)
        urls = URLS[2 * n : 2 * n + 2]
        observations = [make_observation(url, checked_at=days(1)) for url in urls]
        store.record_observations(engine, run_id, observations, HealthSettings(), now=days(1))
        store.finish_run(engine, run_id, status="completed", now=days(1.01))
    store.group_shard_runs(engine, list(flow_runs.values()), "night-1")

    data = report_data(engine)
    assert data.run is not None and len(data.run.run_ids) == 2
    assert (data.run.urls_checked, data.run.urls_planned) == (4, None)
    assert _said(engine)[0] == "4"
