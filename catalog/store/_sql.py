"""Transactions (one writer at a time, on SQLite and PostgreSQL alike) and the SQL pieces
every part of the store uses."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, cast

from sqlalchemy import Connection, Engine, Insert, Table, text
from sqlalchemy.orm import Session

from catalog import tables as t
from catalog.db import postgresql_lock_waits_said, postgresql_write_lock


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        waits_said: AbstractContextManager[None] = nullcontext()
        if engine.dialect.name == "sqlite":
            # Take the write lock now: a deferred transaction that reads first fails with
            # "database is locked" when it tries to upgrade while another writer holds it.
            session.execute(text("BEGIN IMMEDIATE"))
        elif engine.dialect.name == "postgresql":
            # The same one-writer-at-a-time rule: link state is read, recomputed in Python and
            # written back, so two overlapping writers (a recheck during the nightly run)
            # would otherwise lose one's update. Released at commit or rollback; a long wait
            # for it is said on stderr, as SQLite's is, and so is one for a row another
            # session (a `psql` left inside a transaction) holds, which fails after 30 s.
            postgresql_write_lock(session.connection(), PG_WRITE_LOCK)
            waits_said = postgresql_lock_waits_said(session.connection())
        with waits_said:
            yield session


def ensure_writable(engine: Engine) -> None:
    """Raise `StoreError` now if a SQLite file cannot take a write: locked by another
    process past the busy timeout, or read-only. A write that changes nothing is tried
    and rolled back. Curator decisions ask first, to fail before any work; their edit of
    the catalog file and their record succeed or fail together (`recording_decision`)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
        finally:
            trans.rollback()


#: Arbitrary constant naming the PostgreSQL advisory lock of `write_session`
#: (not the migrations' lock, so a writer never waits on an upgrade it is part of).
PG_WRITE_LOCK = 0x6C68_7772  # "lhwr"


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def table_of(model: type[t.Base]) -> Table:
    """The model's Core table. SQLAlchemy types `__table__` as any FROM clause, which has
    no insert() or update(); a declarative model's is always a Table."""
    return cast(Table, model.__table__)


def insert_ids(conn: Connection, statement: Insert, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert `rows` (an executemany of `statement`, on a table with an integer `id`) and
    return their new ids in the order of `rows`.

    On SQLite, SQLAlchemy sends an INSERT whose RETURNING must follow the parameters' order
    one row at a time (it has no sentinel to sort a multi-row answer by): 10,072 statements
    to store 10,000 observations. Each row SQLite inserts without an id gets the table's
    largest id plus one, and a write transaction holds the database's one write lock, so
    the rows' ids are consecutive and ascend in the order of `rows`, whatever order
    RETURNING gives them in: sorted, they are the rows' ids in order (checked: ids that are
    not consecutive raise, and the caller's transaction rolls back). PostgreSQL's multi-row
    statements keep the order themselves (SQLAlchemy's sentinel).
    """
    if not rows:
        return []
    table = statement.table
    assert isinstance(table, Table)
    if conn.dialect.name == "sqlite":
        ids = sorted(conn.execute(statement.returning(table.c.id), list(rows)).scalars())
        if ids and ids[-1] - ids[0] != len(ids) - 1:
            raise RuntimeError(f"ids of {len(rows)} rows inserted together are not consecutive")
    else:
        returning = statement.returning(table.c.id, sort_by_parameter_order=True)
        if conn.dialect.name == "postgresql":
            # psycopg parses a statement's placeholders again on every execution once it
            # has more than 50 parameters (it caches only smaller ones): a page of 1,000
            # observations is 23,000 parameters, and parsing them cost ~0.3 s of CPU per
            # 1,000 rows, more than the database took to store them. Pages it can cache,
            # one round trip each, stored a nightly run's 100,000 observations 2-3x faster.
            page = max(1, _PG_CACHED_PARAMS // len(rows[0]))
            returning = returning.execution_options(insertmanyvalues_page_size=page)
        ids = list(conn.execute(returning, list(rows)).scalars())
    if len(ids) != len(rows):
        raise RuntimeError(f"inserted {len(rows)} rows but got {len(ids)} ids back")
    return ids


#: The most parameters of a statement psycopg keeps parsed (`psycopg._queries`).
_PG_CACHED_PARAMS = 50


#: Rows per `IN (...)` list: far below SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 2000


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
