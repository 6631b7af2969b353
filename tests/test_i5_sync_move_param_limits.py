"""A sync that moves more entries from one catalog to another than a statement takes bound
parameters (a big catalog split into two files) reads the rows they leave a chunk at a
time (`catalog.sync._moves`), as the rest of sync does.

On SQLite the limit is lowered (`sqlite3.Connection.setlimit`) on the engine's connections
once the database is filled, as in `test_i1_param_limits`; PostgreSQL's 65,535 cannot be
lowered, so there the test only shows that the moves keep their rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from catalog import tables as t
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    days,
    limit_bound_parameters,
    make_catalog,
    make_resource,
    temporary_database,
)

#: Bound parameters a statement may have once the database is filled (SQLite only): above
#: sync's chunks (`SYNC_CHUNK`, 2,000, plus a few of the statement's own), below the
#: entries moved.
LIMIT = 2100
#: Entries of the catalog that is split; all but the first `KEPT` move to another file.
SIZE = 2500
KEPT = 200


def _entries(rids: range) -> list[Any]:
    return [make_resource(f"r{i:04d}", url=f"https://h{i % 7}.example.org/p{i}") for i in rids]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("big", _entries(range(SIZE)))], now=T0)
        yield engine


def _limited(engine: Engine, most: int = LIMIT) -> None:
    limit_bound_parameters(engine, most)


def _rows(engine: Engine) -> dict[str, tuple[int, str, bool]]:
    """Entry id -> (row id, collection key, whether active)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.Resource.rid, t.Resource.id, t.Collection.key, t.Resource.removed_at)
            .join(t.Collection, t.Collection.id == t.Resource.collection_id)
            .order_by(t.Resource.id)
        ).all()
    return {rid: (pk, key, removed is None) for rid, pk, key, removed in rows}


def test_a_catalog_split_in_two_moves_more_entries_than_parameters(engine: Engine) -> None:
    """Most of a big catalog's entries moved to a new file, same ids and URLs, more of them
    than a statement takes parameters: each keeps its row, now in the new collection, as
    one edit of its `collection`; nothing is removed or added."""
    before = _rows(engine)
    moved = SIZE - KEPT
    assert moved > LIMIT
    _limited(engine)

    result = sync_catalogs(
        engine,
        [
            make_catalog("big", _entries(range(KEPT))),
            make_catalog("rest", _entries(range(KEPT, SIZE))),
        ],
        now=days(1),
    )

    assert (result.added, result.removed, result.edited) == (0, 0, moved)
    assert result.changes[0].kind == "fields_edited"
    assert "collection" in result.changes[0].fields
    after = _rows(engine)
    assert after == {
        rid: (pk, "big" if int(rid[1:]) < KEPT else "rest", True)
        for rid, (pk, _key, _active) in before.items()
    }


def test_stored_resources_binds_any_number_of_ids_in_chunks(engine: Engine) -> None:
    """The store's own read takes any number of ids (a future caller that forgets to chunk
    them no longer fails past the limit), and returns each asked row once."""
    from catalog import store
    from catalog.db import session_scope

    with engine.connect() as conn:
        collection_id = conn.execute(select(t.Collection.id)).scalar_one()
    asked = [f"r{i:04d}" for i in range(SIZE)] + ["missing"]
    _limited(engine)
    with session_scope(engine) as s:
        rows = store.stored_resources(s, collection_id, asked)
        assert store.stored_resources(s, collection_id, []) == []
    assert sorted(r.rid for r in rows) == asked[:-1]
