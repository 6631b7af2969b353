"""Copying a database's whole history into another database: `linkhealth db copy`.

A catalog that outgrew one machine moves from its SQLite file to PostgreSQL (see
"Scale-out" in the README). Pointing the machines at an empty PostgreSQL database would
start every link's history again: confirmation counters, "since when", snoozes and
ignores, the trend. `copy_database` moves every row of every table instead, keys
unchanged, so the new database continues where the old one stopped.

The source is brought to the newest schema first (`catalog.db.open_engine`); the target
only once every refusal is past, so a refused copy creates nothing there (a SQLite file
made and migrated before the lease was looked at was left behind by a copy refused for a
run in progress). The target must hold no linkhealth rows yet, and no table of anyone
else (another application's SQLite file named by mistake got linkhealth's tables beside
its own); it must not be the source itself, and all of it is written in one transaction,
so a copy that fails leaves it empty, and a SQLite file the copy made is removed. The
source must hold something to copy. Run leases are not copied: they belong to the runs
of the old database.

While it copies, the copy holds the source's full-run lease (a `check` started meanwhile is
refused, exit 8, naming the copy) and reads the source in one snapshot, so rows written
mid-copy (a recheck) never show up half. A copy is refused while a run is in progress: a
full run's lease, or any `running` run still alive (`store.live_runs`: rechecks take no
lease), since the copy would hold that run forever unfinished.
On PostgreSQL the id sequences are moved past the copied ids afterwards, and the copied
tables are analyzed once committed: a database just filled has no planner statistics
until autovacuum gets to it (never, where it is off), and without them PostgreSQL picked
plans that took a report's https suggestions from 0.1 s to 10 s at 100,000 resources.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    String,
    Table,
    bindparam,
    func,
    inspect,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError

from catalog import store
from catalog.clock import as_utc
from catalog.db import migrate_engine, shown_url
from catalog.errors import ConfigError, ReadOnlyDatabaseError, StoreError
from catalog.files import same_file
from catalog.migrate import said_run
from catalog.runs import LEASE_TTL, RunLeaseError
from catalog.shards import FULL_RUN_LEASE
from catalog.store import PG_WRITE_LOCK
from catalog.tables import Base, RunLease

#: Rows read and inserted at a time.
CHUNK = 2_000


@dataclass(frozen=True)
class CopyResult:
    #: Rows copied per table, in the order they were copied.
    rows: dict[str, int]
    #: False when the source could not be written here, so its lease was not held.
    leased: bool = True


class TargetNotEmptyError(StoreError):
    """The database to copy into already holds linkhealth rows, or tables not linkhealth's."""


class RefusedValueError(StoreError):
    """The target refuses a value the source stored (SQLite keeps what PostgreSQL won't):
    copying again cannot help, the value must change first (`fix` says where)."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


class SourceBusyError(RunLeaseError):
    """A run is in progress on the database to copy (exit 8, as for a refused full run)."""


def copy_database(
    source: Engine,
    target: Engine,
    *,
    now: datetime,
    chunk: int = CHUNK,
    on_progress: Callable[[str, int, int], None] | None = None,
    source_from: str = "",
) -> CopyResult:
    """Copy every row of `source` (at the newest schema) into the empty `target`, which is
    migrated here once every refusal is past (open it with `migrate=False`).

    `on_progress(table, copied, total)` is called after every chunk. `source_from` says
    where the source's URL came from ("from LINKHEALTH_DATABASE_URL"), for its errors.
    """
    src_name, dst_name = shown_url(source.url), shown_url(target.url)
    if same_database(source, target):
        raise ConfigError(
            f"the database to copy from, {src_name}"
            f"{f' ({source_from})' if source_from else ''}, and the one to copy into, "
            f"{dst_name}, are the same database; name the one to copy from with --db "
            "(e.g. --db sqlite:///var/linkhealth.db) and an empty one with --to"
        )
    # Looked at before the target is opened: opening a SQLite file creates it.
    made = _new_sqlite_file(target)
    if made is None:
        _refuse_foreign_tables(target, dst_name)
    holder: str | None = store.copy_holder()
    try:
        store.ensure_writable(source)
    except ReadOnlyDatabaseError:
        # A backup on read-only media, or the service user's file: no run of ours can
        # write it either, so it is copied without its lease (the run check still holds).
        holder = None
    if holder is None:
        held = store.get_lease(source, FULL_RUN_LEASE)
        if held is not None and as_utc(held.expires_at) > now:
            raise _lease_held(held, src_name)
    else:
        # As a check does: the lease of a run or copy killed outright goes, its run aborted
        # (a second copy was refused until that lease expired, 15 minutes on).
        store.abort_stale_runs(source, now=now)
        claim = store.acquire_lease(source, FULL_RUN_LEASE, holder, now=now, ttl=LEASE_TTL)
        if not claim.acquired:
            raise _lease_held(claim.lease, src_name)
    renew = _Renewal(source, holder, now)
    try:
        with _snapshot(source) as src, _removed_on_failure(target, made):
            _refuse_live_runs(src, src_name, now)
            totals = _totals(src, src_name, source_from)
            migrate_engine(target)  # nothing refused the copy: the target's tables now
            result = _copy(src, target, chunk, totals, on_progress, renew, dst_name)
            return replace(result, leased=holder is not None)
    except RefusedValueError as exc:  # not the "no run uses it" advice: that cannot help
        raise RefusedValueError(
            f"the copy from {src_name} into {dst_name} failed: {exc}; nothing was written (the "
            f"copy is one transaction); {exc.fix}, then copy again",
            fix=exc.fix,
        ) from exc
    except SQLAlchemyError as exc:  # a bug or a constraint: one line, not a traceback
        raise StoreError(
            f"the copy from {src_name} into {dst_name} failed: {_one_line(exc)}; nothing was "
            "written (the copy is one transaction); make sure no run or recheck uses "
            f"{src_name}, then copy again"
        ) from exc
    except TargetNotEmptyError:
        raise
    except StoreError as exc:  # a database gone away, a locked file: said by catalog.db
        raise StoreError(f"{exc}; nothing was written into {dst_name}") from exc
    finally:
        # A source gone away keeps the lease until it expires by itself (LEASE_TTL).
        with suppress(SQLAlchemyError, StoreError):
            if holder is not None:
                store.release_lease(source, FULL_RUN_LEASE, holder)


def _lease_held(held: store.LeaseRecord, src_name: str) -> SourceBusyError:
    run = f", run {held.run_id}" if held.run_id is not None else ""
    return SourceBusyError(
        f"a run holds the lease {held.name!r} of the database to copy, {src_name} "
        f"({held.holder}{run}, until {held.expires_at:%Y-%m-%d %H:%M:%S} UTC); "
        "wait for it to finish (`linkhealth status`), then copy"
    )


def _copied_tables() -> list[Table]:
    """The tables a copy copies, parents first (run leases belong to the old database's runs)."""
    return [t for t in Base.metadata.sorted_tables if t.name != RunLease.__tablename__]


def _totals(src: Connection, src_name: str, source_from: str) -> dict[str, int]:
    """Rows per table of the source; a source holding none is refused (a wrong --db)."""
    totals = {
        t.name: src.execute(select(func.count()).select_from(t)).scalar_one()
        for t in _copied_tables()
    }
    if not any(totals.values()):
        raise ConfigError(
            f"the database to copy from, {src_name}"
            f"{f' ({source_from})' if source_from else ''}, holds nothing to copy; name the "
            "one that holds your history with --db, e.g. --db sqlite:///var/linkhealth.db"
        )
    return totals


#: The tables of a database linkhealth made: its own and Alembic's revision.
_OURS = frozenset([*Base.metadata.tables, "alembic_version"])


def _new_sqlite_file(target: Engine) -> Path | None:
    """The target's SQLite file when it does not exist yet (the copy makes it), else None."""
    file = _sqlite_path(target) if target.dialect.name == "sqlite" else None
    return file if file is not None and not file.exists() and not file.is_symlink() else None


def _refuse_foreign_tables(target: Engine, dst_name: str) -> None:
    """Refuse a target holding tables (or views) that are not linkhealth's: another
    application's database named by mistake, which got linkhealth's tables beside its own.
    PostgreSQL: those of the schema the target's tables would go into (its search_path)."""
    found = sorted(set(_table_names(target)) - _OURS)
    if not found:
        return
    named = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    raise TargetNotEmptyError(
        f"the target database {dst_name} holds tables that are not linkhealth's ({named}): "
        "it looks like another application's database; nothing was written into it. Copy "
        "into an empty database (a new SQLite file, or an empty PostgreSQL database or schema)"
    )


def _table_names(target: Engine) -> list[str]:
    """The tables and views of `target`, read without writing anything. A SQLite file is
    read through a read-only connection of its own: the engine's first connection switches
    the file to WAL, a change to another application's file."""
    file = _sqlite_path(target) if target.dialect.name == "sqlite" else None
    if file is None:
        with target.connect() as conn:
            inspector = inspect(conn)
            return [*inspector.get_table_names(), *inspector.get_view_names()]
    try:
        raw = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:  # a folder, an unreadable file: said when it is opened
        return []
    try:
        return [
            name
            for (name,) in raw.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            )
        ]
    except sqlite3.Error:  # not a SQLite file: said when it is opened
        return []
    finally:
        raw.close()


@contextmanager
def _removed_on_failure(target: Engine, made: Path | None) -> Iterator[None]:
    """Remove the SQLite file `made` (and its -wal, -shm, -journal) when the copy that
    made it fails: a refused or failed copy leaves no database behind it (a later `check`
    pointed there would start an empty history instead of saying none is there)."""
    try:
        yield
    except BaseException:
        if made is not None:
            target.dispose()  # its pooled connections hold the file open
            for path in (made, *(made.with_name(made.name + s) for s in _SIDE_FILES)):
                with suppress(OSError):
                    path.unlink()
        raise


#: The files SQLite keeps beside a database file.
_SIDE_FILES = ("-wal", "-shm", "-journal")


def _copy(
    src: Connection,
    target: Engine,
    chunk: int,
    totals: dict[str, int],
    on_progress: Callable[[str, int, int], None] | None,
    renew: _Renewal,
    dst_name: str,
) -> CopyResult:
    tables = _copied_tables()

    def progress(table: str, done: int, total: int) -> None:
        renew()
        if on_progress is not None:
            on_progress(table, done, total)

    copied: dict[str, int] = {}
    with target.begin() as dst:
        if dst.dialect.name == "postgresql":
            # The writers' lock (`store.write_session`): a second copy, or a run pointed
            # at the new database too early, waits for this one instead of colliding.
            dst.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK})
        if filled := [t.name for t in tables if _has_rows(dst, t)]:
            raise TargetNotEmptyError(
                f"the target database {dst_name} already holds linkhealth data (in "
                f"{', '.join(filled)}); copy into an empty database"
            )
        for table in tables:
            copied[table.name] = _copy_table(src, dst, table, chunk, totals[table.name], progress)
        if dst.dialect.name == "postgresql":
            _move_sequences(dst, tables)
    if target.dialect.name == "postgresql":
        _analyze(target, tables)
    return CopyResult(rows=copied)


def _analyze(target: Engine, tables: list[Table]) -> None:
    """Planner statistics for the tables just filled (see the module's docstring). The
    copy is committed already: one that cannot be analyzed (another owner's tables) is
    left to autovacuum."""
    names = ", ".join(f'"{table.name}"' for table in tables)
    with suppress(SQLAlchemyError, StoreError), target.begin() as conn:
        conn.execute(text(f"ANALYZE {names}"))


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection reading `engine` in one snapshot, whatever is written meanwhile.

    pysqlite sends no BEGIN before a SELECT, so each page of a SQLite source was its own
    snapshot: a check writing mid-copy gave observations of a run the copied `runs` did not
    hold (a foreign-key error in the target). An explicit BEGIN makes it one read
    transaction (in WAL mode writers go on meanwhile); PostgreSQL needs REPEATABLE READ.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


class _Renewal:
    """Renews the copy's lease now and then while it runs (a large copy outlasts LEASE_TTL)."""

    def __init__(self, engine: Engine, holder: str | None, now: datetime) -> None:
        self._engine, self._holder, self._now = engine, holder, now
        self._start = self._last = time.monotonic()

    def __call__(self) -> None:
        moment = time.monotonic()
        if self._holder is None or moment - self._last < LEASE_TTL.total_seconds() / 3:
            return
        self._last = moment
        at = self._now + timedelta(seconds=moment - self._start)
        store.renew_lease(self._engine, FULL_RUN_LEASE, self._holder, now=at, ttl=LEASE_TTL)


def _refuse_live_runs(src: Connection, src_name: str, now: datetime) -> None:
    """A run still storing its results would stay `running` in the copy forever, its
    outcomes left behind (rechecks take no lease, so the lease alone does not tell)."""
    live = store.live_runs(src, now=now, quiet_for=LEASE_TTL)
    if not live:
        return
    named = "; ".join(said_run(r) for r in live)
    raise SourceBusyError(
        f"a run is in progress on the database to copy, {src_name}: {named}; wait for it to "
        "finish (`linkhealth status`), then copy"
    )


def same_database(a: Engine, b: Engine) -> bool:
    """True when `a` and `b` are one database, however their URLs are written (a relative
    and an absolute SQLite path; `localhost` and `127.0.0.1`, another driver or user)."""
    if a.dialect.name != b.dialect.name:
        return False
    if a.dialect.name == "sqlite":
        files = [_sqlite_path(e) for e in (a, b)]
        if None in files:
            return a.url == b.url
        first, second = files
        assert first is not None and second is not None
        return same_file(first, second)
    if a.dialect.name == "postgresql":
        return _pg_identity(a) == _pg_identity(b)
    return a.url.set(password=None) == b.url.set(password=None)


def _sqlite_path(engine: Engine) -> Path | None:
    db = engine.url.database
    return Path(db) if db and db != ":memory:" and not db.startswith("file:") else None


_PG_WHERE = "SELECT current_database(), current_schema(), inet_server_addr(), inet_server_port()"


def _pg_identity(engine: Engine) -> tuple[object, ...]:
    """The server (its cluster's system identifier, else address and port), the database
    and the schema tables are found in (tests give each its own schema)."""
    with engine.connect() as conn:
        database, schema, address, port = conn.execute(text(_PG_WHERE)).one()
        try:
            with conn.begin_nested():
                system = conn.execute(
                    text("SELECT system_identifier FROM pg_control_system()")
                ).scalar_one()
        except SQLAlchemyError:  # not allowed to everyone everywhere: the address tells
            system = None
        server = (system,) if system is not None else (str(address), port)
        return (*server, database, schema)


def _one_line(exc: SQLAlchemyError) -> str:
    """The driver's message, one line, without SQLAlchemy's SQL and parameters."""
    orig = getattr(exc, "orig", None) or exc
    return "; ".join(line.strip() for line in str(orig).splitlines() if line.strip())


def _has_rows(conn: Connection, table: Table) -> bool:
    return conn.execute(select(1).select_from(table).limit(1)).first() is not None


def _copy_table(
    src: Connection,
    dst: Connection,
    table: Table,
    chunk: int,
    total: int,
    on_progress: Callable[[str, int, int], None],
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
        try:
            dst.execute(insert, [_as_stored(r, json_columns) for r in rows])
        except DBAPIError as exc:
            if not _refused(exc):
                raise
            if table.name in ("resources", "collections"):
                fix = (
                    "fix it in its catalog file, which `linkhealth catalog validate` names, and "
                    "run `linkhealth sync` on the database copied from"
                )
            else:
                fix = "that row must be corrected in the database copied from"
            raise RefusedValueError(_refusal(table, rows, exc), fix=fix) from exc
        done += len(rows)
        last = tuple(rows[-1][c.name] for c in key)
        on_progress(table.name, done, total)


def _refused(exc: DBAPIError) -> bool:
    """A value the target will not store: a data exception (SQLSTATE class 22: too long, a
    NUL, NaN in JSON, ...) or a program limit (54: a key too long for its index)."""
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    return isinstance(exc, DataError) or sqlstate[:2] in ("22", "54")


def _refusal(table: Table, rows: Sequence[Mapping[Any, Any]], exc: DBAPIError) -> str:
    """Which row of the page `rows` holds the refused value, and what it is, when a look at
    the values finds it (the driver names neither); else the page's keys."""
    key = list(table.primary_key.columns)
    driver = _one_line(exc)
    for row in rows:
        for column in table.columns:
            what = _unstorable(column, row[column.name])
            if what is not None:
                return (
                    f"the target refuses a value the source stored: {table.name} row "
                    f"{_row_name(key, row)}, column {column.name}: {what} ({driver})"
                )
    first, last = _row_name(key, rows[0]), _row_name(key, rows[-1])
    return (
        f"the target refuses a value the source stored, in {table.name} rows {first} to "
        f"{last}: {driver}"
    )


def _row_name(key: list[Column[Any]], row: Mapping[Any, Any]) -> str:
    named = ", ".join(f"{c.name} {row[c.name]}" for c in key)
    rid = row.get("rid")
    return f"{named} (id {_clip(rid)!r} in the catalog)" if isinstance(rid, str) else named


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


#: The longest key PostgreSQL's btree indexes take, in bytes (less a little for the header).
_INDEX_KEY_BYTES = 2700


def _unstorable(column: Column[Any], value: Any) -> str | None:
    """What in `value` PostgreSQL refuses for `column`, in words; None when nothing is."""
    if value is None:
        return None
    if isinstance(value, str):
        length = getattr(column.type, "length", None)
        if isinstance(column.type, String) and length and len(value) > length:
            return f"{len(value)} characters, over its {length}"
        indexed = column.unique or column.index or column.primary_key
        if indexed and len(value.encode("utf-8", "replace")) > _INDEX_KEY_BYTES:
            return f"{len(value)} characters, too long for its index"
        return "a NUL character" if "\0" in value else None
    if isinstance(column.type, JSON):
        try:  # PostgreSQL's json takes a NUL (as \\u0000), not NaN or infinity
            json.dumps(value, allow_nan=False)
        except ValueError:
            return "not-a-number or infinity in its JSON"
    return None  # a float column takes NaN


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
