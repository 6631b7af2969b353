"""Copying a database's whole history into another database: `linkhealth db copy`.

A catalog that outgrew one machine moves from its SQLite file to PostgreSQL (see
"Scale-out" in the README). Pointing the machines at an empty PostgreSQL database would
start every link's history again: confirmation counters, "since when", snoozes and
ignores, the trend. `copy_database` moves every row of every table instead, keys
unchanged, so the new database continues where the old one stopped.

Both databases are brought to the newest schema first (`catalog.db.open_engine`). The
target must hold no linkhealth rows yet, and all of it is written in one transaction, so
a copy that fails leaves it empty. Run leases are not copied: they belong to the runs of
the old database, and a copy taken while one is held (a run in progress) is refused.
On PostgreSQL the id sequences are moved past the copied ids afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Table,
    bindparam,
    func,
    select,
    text,
    tuple_,
)

from catalog.errors import StoreError
from catalog.store import PG_WRITE_LOCK
from catalog.tables import Base, RunLease

#: Rows read and inserted at a time.
CHUNK = 2_000


@dataclass(frozen=True)
class CopyResult:
    #: Rows copied per table, in the order they were copied.
    rows: dict[str, int]


def copy_database(
    source: Engine,
    target: Engine,
    *,
    now: datetime,
    chunk: int = CHUNK,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> CopyResult:
    """Copy every row of `source` into the empty `target` (both at the newest schema).

    `on_progress(table, copied, total)` is called after every chunk.
    """
    tables = [t for t in Base.metadata.sorted_tables if t.name != RunLease.__tablename__]
    with source.connect() as src:
        held = src.execute(select(RunLease.name).where(RunLease.expires_at > now)).scalars()
        if names := list(held):
            raise StoreError(
                f"a run holds the lease {', '.join(map(repr, names))} of the database to copy; "
                "wait for it to finish (`linkhealth status`), then copy"
            )
        totals = {
            t.name: src.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
        }
        copied: dict[str, int] = {}
        with target.begin() as dst:
            if dst.dialect.name == "postgresql":
                # The writers' lock (`store.write_session`): a second copy, or a run pointed
                # at the new database too early, waits for this one instead of colliding.
                dst.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK})
            if filled := [t.name for t in tables if _has_rows(dst, t)]:
                raise StoreError(
                    f"the target database {target.url.render_as_string(hide_password=True)} "
                    f"already holds linkhealth data (in {', '.join(filled)}); "
                    "copy into an empty database"
                )
            for table in tables:
                copied[table.name] = _copy_table(
                    src, dst, table, chunk, totals[table.name], on_progress
                )
            if dst.dialect.name == "postgresql":
                _move_sequences(dst, tables)
    return CopyResult(rows=copied)


def _has_rows(conn: Connection, table: Table) -> bool:
    return conn.execute(select(1).select_from(table).limit(1)).first() is not None


def _copy_table(
    src: Connection,
    dst: Connection,
    table: Table,
    chunk: int,
    total: int,
    on_progress: Callable[[str, int, int], None] | None,
) -> int:
    """Keyset pages in primary-key order; the table's own types convert each value
    (SQLite's ISO text to aware datetimes, JSON text to objects).

    A JSON column reads SQL NULL and JSON `null` alike as None, and the column's type
    writes None as JSON `null`: an observation's `relevance_scores` (SQL NULL: not judged)
    came out as `null`, which drift baselines and `db prune` take for a judged page. Each
    JSON column is read with whether it IS NULL, and written so that each stays what it was.
    """
    key = list(table.primary_key.columns)
    json_columns = [c for c in table.columns if isinstance(c.type, JSON)]
    is_null = [c.is_(None).label(f"{c.name}{_IS_NULL}") for c in json_columns]
    insert = table.insert().values(
        {
            c.name: bindparam(c.name, type_=_SQL_NULL_FOR_NONE if c in json_columns else c.type)
            for c in table.columns
        }
    )
    done = 0
    last: tuple[object, ...] | None = None
    while True:
        query = select(table, *is_null).order_by(*key).limit(chunk)
        if last is not None:
            query = query.where(tuple_(*key) > tuple_(*last))
        rows = src.execute(query).mappings().all()
        if not rows:
            return done
        dst.execute(insert, [_as_stored(r, json_columns) for r in rows])
        done += len(rows)
        last = tuple(rows[-1][c.name] for c in key)
        if on_progress is not None:
            on_progress(table.name, done, total)


#: Writes None as SQL NULL; `JSON.NULL` as JSON `null`.
_SQL_NULL_FOR_NONE = JSON(none_as_null=True)
_IS_NULL = "__is_sql_null"


def _as_stored(row: Mapping[Any, Any], json_columns: list[Column[Any]]) -> dict[str, Any]:
    values = {k: v for k, v in row.items() if not k.endswith(_IS_NULL)}
    for column in json_columns:
        if values[column.name] is None and not row[f"{column.name}{_IS_NULL}"]:
            values[column.name] = JSON.NULL
    return values


def _move_sequences(dst: Connection, tables: list[Table]) -> None:
    """Make the next id of each serial column follow the copied ones."""
    for table in tables:
        for column in table.primary_key.columns:
            if not column.autoincrement or column.type.python_type is not int:
                continue
            dst.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f'COALESCE((SELECT max("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                ),
                {"table": table.name, "column": column.name},
            )
