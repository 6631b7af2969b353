"""Unsteady links (`catalog.unsteady`), bounded in time and never hiding a real change.

A year of history made the reads' query rank every observation of a link (14 s a report
at 100,000 links); the redirects' query read every `outcome_changed` ever. A rotating page
replaced by another page was never told, and a redirect that came for good stayed
"on some nights and not others" for two weeks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from catalog import unsteady
from catalog.queries import report_data
from tests.factories import days
from tests.test_x2_unsteady_news import (
    FLAP,
    NEW,
    TICKER,
    engine,
    items_of,
    moved,
    night,
    page,
    row,
)

__all__ = ["engine"]


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """The SQL the code under test runs on `engine`, with its parameters."""
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    yield seen
    event.remove(engine, "before_cursor_execute", grab)


def plans(engine: Engine, seen: list[tuple[str, object]], table: str) -> list[str]:
    """SQLite's query plans of the statements in `seen` that read `table`."""
    found = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            if (f"FROM {table}" in statement and "row_number" in statement) or (
                table == "events" and "outcome_changed" in str(parameters)
            ):
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()  # type: ignore[arg-type]
                found.append(" | ".join(str(r[-1]) for r in rows))
    return found


def test_the_reads_are_fetched_through_the_index_from_a_bound(
    engine: Engine,
    statements: list[tuple[str, object]],
) -> None:
    """The reads of a page that changes at every read: only since a bound before the
    window (12 weekly reads), through `ix_observations_link_checked`, not ranked whole."""
    for n in range(1, 5):
        night(engine, n, [page(TICKER, days(n), n, title="Partners")], report=False)
    statements.clear()
    data = report_data(engine)
    assert data.unsteady, "the page is unsteady"
    ranked = [(s, p) for s, p in statements if "row_number" in s]
    assert ranked and all("checked_at >=" in s for s, _ in ranked)
    if engine.dialect.name == "sqlite":
        (plan,) = plans(engine, ranked, "observations")
        assert "ix_observations_link_checked (link_id=? AND checked_at>?)" in plan


def test_the_redirects_are_read_by_link_through_the_index(
    engine: Engine,
    statements: list[tuple[str, object]],
) -> None:
    """The queue's unsteady redirects: their events by link, kind and time, no scan of
    the events (every `outcome_changed` ever) or of the links."""
    for n in range(1, 6):
        observed = moved(days(n)) if n % 2 else page(FLAP, days(n), 1)
        night(engine, n, [observed], report=False)
    statements.clear()
    assert "accept-redirect" not in (row(engine, "guide", 5).command or "")
    mine = [(s, p) for s, p in statements if "outcome_changed" in str(p) and "events" in s]
    assert mine
    if engine.dialect.name == "sqlite":
        for plan in plans(engine, mine, "events"):
            assert "ix_events_link_kind_at (link_id=? AND kind=? AND at>?)" in plan, plan
            assert "SCAN links" not in plan and "SCAN events" not in plan, plan


def test_a_rotating_page_replaced_by_another_is_news(engine: Engine) -> None:
    """Told unsteady on night 4, replaced on night 6 by another page with the same title
    (460 B -> 87.9 KiB): base said "Content changed: size ...", x2 said nothing."""
    for n in range(1, 6):
        night(engine, n, [page(TICKER, days(n), n, title="Partners")])
    other = page(TICKER, days(6), 99, title="Partners")
    other = dataclasses.replace(other, content_length=90_000)
    (item,) = items_of(night(engine, 6, [other]), "partners")
    assert "Content changed" in item


def test_replaced_is_a_size_far_beyond_a_rotating_blocks_churn() -> None:
    assert unsteady.replaced({"old_content_length": 460, "new_content_length": 90_000})
    assert unsteady.replaced({"old_content_length": 90_000, "new_content_length": 460})
    assert not unsteady.replaced({"old_content_length": 460, "new_content_length": 580})
    assert not unsteady.replaced({"old_content_length": None, "new_content_length": 580})


def test_an_unsteady_redirect_that_stays_is_told_once_and_can_be_accepted(engine: Engine) -> None:
    """Unsteady on night 5, then redirected at nights 5, 6, 7: it stays, the queue offers
    `accept-redirect` again (it kept "on some nights and not others" for 14 days)."""
    for n in range(1, 6):
        observed = moved(days(n)) if n % 2 else page(FLAP, days(n), 1)
        night(engine, n, [observed], report=False)
    assert "accept-redirect" not in (row(engine, "guide", 5).command or "")
    assert items_of(night(engine, 6, [moved(days(6))]), "guide") == []
    (stays,) = items_of(night(engine, 7, [moved(days(7))]), "guide")
    assert f"Now stays redirected to {NEW}" in stays and "accept it" in stays
    assert "accept-redirect" in (row(engine, "guide", 7).command or "")
    # Said once: the next nights it still stays, no news.
    for n in (8, 9):
        assert items_of(night(engine, n, [moved(days(n))]), "guide") == [], n
