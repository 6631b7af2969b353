"""The report after many nights: what a resource page says of the history it leaves out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, update

from catalog import store
from catalog.export import export_rows
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Link
from reports.build import HISTORY_PER_RESOURCE
from reports.context import resource_page_path
from reports.publish import publish_report_files
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
)
from tests.factories import temporary_database as database

OLD_URL = "https://old.example/guide"
NEW_URL = "https://new.example/guide"
KIT = make_catalog(
    "toolkit",
    [make_resource("old", OLD_URL), make_resource("new", NEW_URL)],
)


def night(engine: Engine, at: float, urls: tuple[str, ...]) -> None:
    run_id = store.start_run(engine, trigger="schedule", now=days(at))
    batch = [make_observation(url, checked_at=days(at)) for url in urls]
    store.record_observations(engine, run_id, batch, HealthSettings(), now=days(at))
    store.finish_run(engine, run_id, status="completed", now=days(at + 0.01))


def test_a_resource_page_says_its_checks_are_the_newest_only_and_how_to_list_the_rest(
    tmp_path: Path,
) -> None:
    """A link checked every night for a year showed 30 checks as if they were all: nothing
    said older ones exist, nor how to see them."""
    nights = HISTORY_PER_RESOURCE + 5
    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in range(nights):
            # The new link is in the catalog for the last few nights only.
            night(engine, n + 0.5, (OLD_URL, NEW_URL) if n >= nights - 3 else (OLD_URL,))
        files = publish_report_files(
            settings_for(engine),
            formats=("html",),
            out_dir=tmp_path / "r",
            clock=Ticker(days(nights)),
        )
        folder = files.main.parent
        old = (folder / resource_page_path("toolkit", "old")).read_text(encoding="utf-8")
        new = (folder / resource_page_path("toolkit", "new")).read_text(encoding="utf-8")

    assert f"The newest {HISTORY_PER_RESOURCE} checks" in old
    assert "linkhealth resource old --limit 500" in old
    # A page with its whole history says nothing of the kind.
    assert 'id="history-older"' not in new
    assert 'id="history-older"' in old


@pytest.mark.parametrize("checks", [HISTORY_PER_RESOURCE, HISTORY_PER_RESOURCE + 1])
def test_only_a_page_with_checks_it_leaves_out_points_to_them(tmp_path: Path, checks: int) -> None:
    """A link checked exactly as many times as a page shows was told of older checks that
    do not exist (review); one more, and the page shows as many as ever and says so."""
    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in range(checks):
            night(engine, n + 0.5, (OLD_URL,))
        files = publish_report_files(
            settings_for(engine),
            formats=("html",),
            out_dir=tmp_path / "r",
            clock=Ticker(days(checks)),
        )
        page = (files.main.parent / resource_page_path("toolkit", "old")).read_text("utf-8")

    assert ('id="history-older"' in page) == (checks > HISTORY_PER_RESOURCE)
    assert page.count('<tr data-kind="check"') == HISTORY_PER_RESOURCE


def test_the_checks_since_a_problem_began_cost_a_start_per_link_not_per_check(
    tmp_path: Path,
) -> None:
    """A row's "N checks" counted every observation since its problem began, working out
    that start (with event lookups for a flapping link) again for each observation: after
    a year of nights that was half the report's time. Links keep their counts now
    (tests/test_problem_checks.py); a count that must be made again still works out the
    start once per link, and the count is the same."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "GROUP BY observations.link_id" in statement and "count(*)" in statement:
            statements.append((statement, parameters))

    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in range(6):
            night(engine, n + 0.5, (OLD_URL, NEW_URL))
        with engine.begin() as conn:  # as a database upgraded from before the counts
            conn.execute(update(Link).values(problem_checks=None))
        event.listen(engine, "before_cursor_execute", seen)
        try:
            (old,) = [r for r in report_data(engine).resources if r.resource_id == "old"]
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert old.checks_since == 6
        if engine.dialect.name != "sqlite":
            pytest.skip("reads SQLite's query plan")
        (statement, parameters), *_ = statements
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    # No subquery evaluated for each observation the outer query scans (parent 0).
    top = [detail for _, parent, _, detail in plan if parent == 0]
    assert not [d for d in top if d.startswith("CORRELATED")], plan


def test_export_reads_each_links_newest_checks_not_every_check_ever(tmp_path: Path) -> None:
    """`export` numbered every observation of every link to find each link's newest two
    fingerprints: it slowed down every night, 4 of its 6 s after a year at 2,000
    resources. The content changes it reports are the same."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in range(4):
            run_id = store.start_run(engine, trigger="schedule", now=days(n + 0.5))
            batch = [
                make_observation(OLD_URL, checked_at=days(n + 0.5), fingerprint="same"),
                make_observation(NEW_URL, checked_at=days(n + 0.5), fingerprint=f"v{n // 3}"),
            ]
            store.record_observations(engine, run_id, batch, HealthSettings(), now=days(n + 0.5))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.51))
        event.listen(engine, "before_cursor_execute", seen)
        try:
            changed = {r["id"]: r["content_changed"] for r in export_rows(engine, now=days(4))}
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert changed == {"old": False, "new": True}
        if engine.dialect.name != "sqlite":
            pytest.skip("reads SQLite's query plan")
        with engine.connect() as conn:
            plans = [
                detail
                for statement, parameters in statements
                if "observations" in statement
                for *_, detail in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            ]
    assert not [d for d in plans if d.startswith("SCAN observations")], plans
