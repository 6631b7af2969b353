"""The pages of entries whose URL was changed read their histories together: each read
alone (`linkhealth resource`'s reading per entry) made the report of a catalog switched
to https take minutes longer every night the edit stayed in the pages' window."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from catalog import store
from catalog.clock import utcnow
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from reports.context import resource_page_path
from reports.publish import publish_report_files
from tests.factories import (
    Ticker,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)

ENTRIES = 6


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """The SQL statements every engine of this process executes meanwhile."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def check(engine: Engine, urls: list[str], at: datetime, outcome: Outcome) -> None:
    observations = [make_observation(url, outcome, at) for url in urls]
    store.record_observations(engine, None, observations, HealthSettings(), now=at)


def report_of_moved(tmp_path: Path, moved: int) -> tuple[int, list[str]]:
    """The SQL statements of the HTML report of `ENTRIES` entries after the URLs of the
    first `moved` were edited by hand (as a switch to https), and their pages."""
    now = utcnow()
    old = [
        {"id": f"e{i}", "title": f"Guide {i}", "url": f"http://example.org/{i}"}
        for i in range(ENTRIES)
    ]
    new = [
        {**entry, "url": entry["url"].replace("http:", "https:")} if i < moved else entry
        for i, entry in enumerate(old)
    ]
    tmp_path.mkdir()
    catalog = tmp_path / "toolkit.yaml"
    with temporary_database(tmp_path) as engine:
        write_catalog(catalog, old)
        sync_catalogs(engine, load_catalogs([catalog]), now=now - timedelta(days=4))
        check(engine, [e["url"] for e in old], now - timedelta(days=3), Outcome.NOT_FOUND)
        check(engine, [e["url"] for e in old], now - timedelta(days=2), Outcome.OK)
        write_catalog(catalog, new)
        sync_catalogs(engine, load_catalogs([catalog]), now=now - timedelta(days=1))
        check(engine, [e["url"] for e in new], now - timedelta(hours=12), Outcome.OK)
        with counted_statements() as statements:
            files = publish_report_files(
                settings_for(engine),
                formats=("html",),
                out_dir=tmp_path / "r",
                clock=Ticker(now),
            )
        folder = files.main.parent
        pages = [
            (folder / resource_page_path("toolkit", f"e{i}")).read_text("utf-8")
            for i in range(ENTRIES)
        ]
        return len(statements), pages


def test_pages_of_many_moved_entries_take_no_more_queries_than_one(tmp_path: Path) -> None:
    """Each page of an entry whose URL changed read `linkhealth resource`'s history alone,
    a set of queries per entry: 10,000 entries switched to https added 100 s to a report
    that takes 20 s, every night for 90 days."""
    one, one_pages = report_of_moved(tmp_path / "one", moved=1)
    five, five_pages = report_of_moved(tmp_path / "five", moved=5)
    # The pages are those of moved entries: their old URL's checks, marked as such.
    assert "then at http://example.org/0" in one_pages[0]
    assert "then at" not in one_pages[1]
    assert all(f"then at http://example.org/{i}" in five_pages[i] for i in range(5))
    assert "then at" not in five_pages[5]
    assert five == one


@pytest.fixture
def histories(tmp_path: Path) -> Iterator[tuple[Engine, datetime]]:
    """Entries with every kind of URL change: `a` edited twice, the second time onto `b`'s
    URL (checked before `a` took it); `c` removed and put back with another URL; `d`
    never moved; a decision about `a`."""
    now = utcnow()
    catalog = tmp_path / "toolkit.yaml"

    def entry(rid: str, url: str) -> dict[str, str]:
        return {"id": rid, "title": f"Guide {rid}", "url": url}

    def sync(day: float, *entries: dict[str, str]) -> None:
        write_catalog(catalog, entries)
        sync_catalogs(engine, load_catalogs([catalog]), now=now + timedelta(days=day))

    def checks(day: float, outcome: Outcome, *urls: str) -> None:
        check(
            engine, [f"https://example.org/{u}" for u in urls], now + timedelta(days=day), outcome
        )

    a1, a2, b, c1, c2, d = (f"https://example.org/{u}" for u in ("a1", "a2", "b", "c1", "c2", "d"))
    with temporary_database(tmp_path) as engine:
        sync(-10, entry("a", a1), entry("b", b), entry("c", c1), entry("d", d))
        checks(-9, Outcome.OK, "a1", "b", "c1", "d")
        checks(-8, Outcome.NOT_FOUND, "a1", "b", "c1", "d")
        sync(-7, entry("a", a2), entry("b", b), entry("d", d))
        checks(-6, Outcome.OK, "a1", "a2", "b", "c1", "d")
        sync(-5, entry("a", a2), entry("b", b), entry("c", c2), entry("d", d))
        checks(-4, Outcome.NOT_FOUND, "a2", "b", "c1", "c2", "d")
        sync(-3, entry("a", b), entry("b", b), entry("c", c2), entry("d", d))
        checks(-2, Outcome.OK, "a2", "b", "c1", "c2", "d")
        a = store.find_resource(engine, "a")
        store.record_decision(engine, a.id, "mark_reviewed", by="ana", at=now - timedelta(days=1))
        checks(-1, Outcome.NOT_FOUND, "b", "c2")
        yield engine, now


@pytest.mark.parametrize("days_back", [None, 5.5, 2.5])
@pytest.mark.parametrize("limit", [100, 2])
def test_histories_read_together_are_those_read_one_by_one(
    histories: tuple[Engine, datetime], days_back: float | None, limit: int
) -> None:
    """What the pages read in bulk is what `linkhealth resource` reads of each entry, from
    the pages' window on: the same checks, link events and decisions, newest first."""
    engine, now = histories
    since = None if days_back is None else now - timedelta(days=days_back)
    rids = ["a", "b", "c", "d"]
    pks = [store.find_resource(engine, rid).id for rid in rids]
    together = store.resource_histories(engine, pks, since=since, limit=limit)
    assert sorted(together) == sorted(pks)
    for rid, pk in zip(rids, pks, strict=True):
        alone = store.resource_history(engine, rid, limit=limit)
        if since is not None:
            alone = replace(
                alone,
                observations=tuple(o for o in alone.observations if o.checked_at >= since),
                events=tuple(e for e in alone.events if e.at >= since),
                decisions=tuple(d for d in alone.decisions if d.at >= since),
            )
        assert together[pk] == alone, rid
    # The history holds what the fixture is about (not an empty match).
    a = together[pks[0]]
    if days_back is None and limit == 100:
        assert {o.url for o in a.observations} == {
            "https://example.org/a1",
            "https://example.org/a2",
            "https://example.org/b",
        }
        assert [d.kind for d in a.decisions] == ["mark_reviewed"]
        assert {o.url for o in together[pks[2]].observations} == {
            "https://example.org/c1",
            "https://example.org/c2",
        }
