"""Inserted rows get their ids back in the order given (`store._sql.insert_ids`), on SQLite
(multi-row statements whose ids are sorted) and PostgreSQL alike: observations and events
must point at their own rows, also after rows were deleted and across statement pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select

from catalog import store
from catalog import tables as t
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.store._observations import insert_events
from catalog.store._sql import insert_ids, table_of, write_session
from tests.factories import T0, make_observation, temporary_database


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def _events(count: int, offset: int = 0) -> list[dict[str, object]]:
    return [
        {
            "at": T0 + timedelta(seconds=i),
            "kind": "test",
            "run_id": None,
            "link_id": None,
            "resource_id": None,
            "details": {"n": offset + i},
        }
        for i in range(count)
    ]


def test_ids_come_back_in_the_order_of_the_rows_across_pages_and_after_deletes(
    engine: Engine,
) -> None:
    table = table_of(t.Event)
    with write_session(engine) as s:
        first = insert_ids(s.connection(), table.insert(), _events(5))
    assert first == sorted(first)
    with write_session(engine) as s:  # the newest rows gone: their ids may be given again
        s.connection().execute(delete(table).where(table.c.id >= first[3]))
    with write_session(engine) as s:
        # More rows than one multi-row statement takes (SQLAlchemy pages at 1,000 rows).
        records = insert_events(s.connection(), _events(2500, offset=100))
    assert [r.details["n"] for r in records] == list(range(100, 2600))
    with engine.connect() as conn:
        stored = dict(conn.execute(select(table.c.id, table.c.details)).all())
    assert all(stored[r.id] == {"n": r.details["n"]} for r in records)
    assert len({r.id for r in records}) == 2500


def test_no_rows_insert_nothing(engine: Engine) -> None:
    with write_session(engine) as s:
        assert insert_ids(s.connection(), table_of(t.Event).insert(), []) == []


def test_each_link_points_at_its_own_newest_observation(engine: Engine) -> None:
    urls = [f"https://example.org/{i}" for i in range(1500)]
    first = [make_observation(url=url, checked_at=T0) for url in urls]
    store.record_observations(engine, None, first, HealthSettings(), now=T0)
    later = T0 + timedelta(days=1)
    again = [
        make_observation(url=url, checked_at=later, outcome=Outcome.NOT_FOUND)
        for url in reversed(urls)
    ]
    store.record_observations(engine, None, again, HealthSettings(), now=later)
    obs, link = table_of(t.Observation), table_of(t.Link)
    with engine.connect() as conn:
        rows = conn.execute(
            select(link.c.url, obs.c.url, obs.c.checked_at, obs.c.outcome).join(
                obs, obs.c.id == link.c.last_observation_id
            )
        ).all()
        count = conn.execute(select(func.count()).select_from(obs)).scalar_one()
    assert count == 3000
    assert len(rows) == 1500
    for link_url, obs_url, checked_at, outcome in rows:
        assert obs_url == link_url
        assert checked_at.replace(tzinfo=None) == later.replace(tzinfo=None)
        assert outcome == Outcome.NOT_FOUND.value


def test_ids_sqlite_did_not_give_in_order_raise_instead_of_being_mismatched(
    engine: Engine,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's rowids only")
    table = table_of(t.Event)
    with write_session(engine) as s:  # at the largest rowid SQLite picks new ones at random
        s.connection().execute(table.insert(), [{**_events(1)[0], "id": 2**63 - 1}])
    with pytest.raises(RuntimeError, match="not consecutive"), write_session(engine) as s:
        insert_ids(s.connection(), table.insert(), _events(50))
    with engine.connect() as conn:  # rolled back: only the first row is there
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 1
