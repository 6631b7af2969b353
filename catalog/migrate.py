"""Schema migrations (Alembic), applied programmatically.

Input: an Engine. Output: its schema at the newest revision of
`catalog/migrations/versions`. `catalog.db.open_engine` calls `upgrade` on every
open, so the already-at-head path only reads one row.

To add a revision after changing `catalog/tables.py`::

    python -m catalog.migrate revision "add links.archived_url" sqlite:///var/linkhealth.db

then review the generated file (autogenerate misses renames and server defaults).

Pending revisions are not applied while a run or recheck is in progress (`work_in_progress`):
on SQLite the upgrade holds the write lock throughout, and a batch migration rebuilding
`observations` takes minutes, far past the run's busy timeout, so its batches were lost; a
run of the older version would also go on writing into a schema it does not know.
`UpgradeRefusedError` says which run, and the command is run again after it. A migration
made on first use is said on stderr (`upgraded_on_first_use`), as `db upgrade` says it. A command
that only reads and must answer during the run (`linkhealth status`) asks `held_off`
first, without the upgrade's lock, and reads the old schema where `missing_columns` finds
nothing this version reads missing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Column, Connection, Engine, create_engine, inspect, select, text
from sqlalchemy.engine import URL

from catalog.clock import as_utc, utcnow
from catalog.collation import byte_order
from catalog.db import shown_url
from catalog.errors import LinkhealthError, StoreError
from catalog.tables import Base, RunLease

if TYPE_CHECKING:
    from catalog.store import LiveRun

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The revision whose schema the pre-Alembic `create_all` placeholder produced.
INITIAL_REVISION = "0001"
#: Arbitrary constant naming our PostgreSQL advisory lock.
_PG_LOCK_KEY = 0x6C696E6B  # "link"


@dataclass(frozen=True)
class HeldOff:
    """Revisions pending on a database while work is in progress on it (`work_in_progress`),
    so `upgrade` leaves them for later."""

    #: The database, as messages name it (`shown_url`).
    database: str
    #: The revision it is at (None: a database Alembic never touched) and the one needed.
    current: str | None
    head: str
    #: What is in progress, one phrase each.
    busy: tuple[str, ...]

    def pending(self) -> str:
        return (
            f"database {self.database} is at schema revision {self.current or 'none'} and "
            f"this linkhealth needs {self.head}"
        )

    def notice(self) -> str:
        """What a command that goes on reading the old schema tells its operator."""
        return (
            f"Migration pending: the database is at schema revision {self.current or 'none'}, "
            f"this linkhealth needs {self.head}; not applied while a run is in progress: "
            f"{'; '.join(self.busy)}. The first command that opens the database once the run "
            "has finished applies it (`linkhealth db upgrade` does only that)."
        )


class UpgradeRefusedError(LinkhealthError):
    """Revisions are pending but a run or recheck is in progress on the database: nothing
    was migrated (exit 8, as for a run refused by another's lease)."""

    exit_code = 8

    def __init__(self, held: HeldOff) -> None:
        super().__init__(
            f"{held.pending()}, but a run is in progress: {'; '.join(held.busy)}. Migrating "
            "now would lose what it stores (its writes would wait for the migration past "
            "their timeout, or meet a schema they do not know); nothing was changed. Run "
            "this command again once the run has finished."
        )
        self.held = held


def upgraded(database: str, before: str, after: str) -> str:
    """What `linkhealth db upgrade` says of the migration it made: `database` as messages
    name it (`shown_url`), the revision it was at (`upgrade`'s answer) and is at now."""
    return f"database {database}: upgraded from revision {before} to {after}"


def upgraded_on_first_use(url: URL, before: str) -> str:
    """What a command says, on stderr, of the migration its first opening of the database
    made (`catalog.db.open_engine`): `db upgrade`'s words, and that it cannot be undone.
    Silent, `linkhealth status` after a `git pull` migrated the database before the
    operator's backup, with no downgrade to go back."""
    return (
        f"{upgraded(shown_url(url), before, head_revision())}, on first use by this "
        "linkhealth (as `linkhealth db upgrade` does); there is no downgrade: an older "
        'linkhealth now refuses this database (README, "Storage")'
    )


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config without alembic.ini; `connection` is used by env.py when given."""
    cfg = Config()
    # Config values go through configparser interpolation, so a '%' in the path must be doubled.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations found in {MIGRATIONS_DIR}"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database Alembic never touched."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str | None:
    """Apply pending migrations; a cheap no-op when already at head. Returns the revision
    this call migrated from ("none" for a database Alembic never touched), read under the
    upgrade's lock, or None when it migrated nothing (another process may have, meanwhile:
    three `db upgrade` at once each said they upgraded from "none").

    Raises `UpgradeRefusedError`, having changed nothing, while a run or recheck is in
    progress (`work_in_progress`, read under the upgrade's lock, so none starts writing
    between the look and the migration)."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return None
    if current is not None and not _known(current):
        # Another machine's newer linkhealth migrated the shared database: this checkout
        # cannot read its schema, and Alembic would only fail with a traceback.
        raise StoreError(
            f"database {shown_url(engine.url)} is at schema revision "
            f"{current}, newer than this linkhealth knows (up to {head}); update this "
            "checkout to the version that migrated it"
        )
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite batch migrations copy and drop tables that others reference; with foreign
            # keys enforced the DROP fails on any populated database. The pragma only works
            # outside a transaction, and the result is checked before the transaction ends.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                _lock(conn)
                current = MigrationContext.configure(conn).get_current_revision()
                if current == head:
                    return None  # another process migrated while we waited for the lock
                held = _held_off(conn, engine.url, current, head)
                if held is not None:
                    raise UpgradeRefusedError(held)
                cfg = alembic_config(conn)
                if _has_unversioned_schema(conn):
                    # Databases made by the placeholder (`create_all`) hold the initial schema.
                    command.stamp(cfg, INITIAL_REVISION)
                command.upgrade(cfg, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            return current or "none"
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def held_off(engine: Engine) -> HeldOff | None:
    """The migration `upgrade` would refuse now, if any, read without taking its lock: a
    command that only reads (`linkhealth status`) then reads the old schema, instead of
    waiting for a run's write transaction on SQLite only to learn it may not migrate.
    None also when nothing is pending, and for a newer schema (`upgrade` says that)."""
    head = head_revision()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head or (current is not None and not _known(current)):
            return None
        return _held_off(conn, engine.url, current, head)


def _held_off(conn: Connection, url: URL, current: str | None, head: str) -> HeldOff | None:
    # Without run leases (before revision 0003) a run cannot be told alive.
    if not {"runs", "run_leases"} <= set(inspect(conn).get_table_names()):
        return None
    busy = work_in_progress(conn, utcnow())
    return HeldOff(shown_url(url), current, head, tuple(busy)) if busy else None


def missing_columns(conn: Connection, columns: Iterable[Column[Any]]) -> list[str]:
    """Those of `columns` (of this version's tables) the database lacks, as `table.column`
    or, for a table it lacks, `table`: reads of them fail until the database is migrated,
    and reads of the others are safe (a migration adding to them changes nothing read)."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    missing: list[str] = []
    found: dict[str, set[str]] = {}
    for column in columns:
        table = column.table.name
        if table not in tables:
            if table not in missing:
                missing.append(table)
            continue
        if table not in found:
            found[table] = {c["name"] for c in inspector.get_columns(table)}
        if column.name not in found[table]:
            missing.append(f"{table}.{column.name}")
    return missing


def said_run(run: LiveRun) -> str:
    """A run in progress as every refusal names it (`upgrade`, `db prune`'s VACUUM,
    `db copy`): its id, trigger, start and the process running it."""
    by = f" by {run.holder}" if run.holder else ""
    return (
        f"run {run.id} ({run.trigger}, started {as_utc(run.started_at):%Y-%m-%d %H:%M:%S} UTC{by})"
    )


def work_in_progress(conn: Connection, now: datetime) -> list[str]:
    """What is writing the database now, one phrase each, read on `conn`: the `running`
    runs still alive (`store.live_runs`; rechecks take no lease) and the live run leases
    none of them holds (a full run still syncing holds its lease before its run is
    recorded; `db copy` holds one while it reads). Needs the `runs` and `run_leases`
    tables (revision 0003 on)."""
    from catalog import store
    from catalog.runs import LEASE_TTL

    live = store.live_runs(conn, now=now, quiet_for=LEASE_TTL)
    busy = [said_run(r) for r in live]
    runs, holders = {r.id for r in live}, {r.holder for r in live}
    leases = conn.execute(
        select(RunLease.name, RunLease.holder, RunLease.run_id, RunLease.expires_at)
        .where(RunLease.expires_at > now)
        .order_by(byte_order(RunLease.name))
    )
    for name, holder, run_id, expires in leases:
        if run_id in runs or holder in holders or store.holder_gone(holder):
            continue
        until = f"until {as_utc(expires):%Y-%m-%d %H:%M:%S} UTC"
        if store.is_copy_holder(holder):
            busy.append(f"`linkhealth db copy` ({holder}, lease {name!r} {until})")
        else:
            run = f", run {run_id}" if run_id is not None else ""
            busy.append(f"a full run holding lease {name!r} ({holder}{run}, {until})")
    return busy


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _lock(conn: Connection) -> None:
    """Serialise concurrent upgrades (e.g. the nightly flow and a curator's CLI)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _has_unversioned_schema(conn: Connection) -> bool:
    if MigrationContext.configure(conn).get_current_revision() is not None:
        return False
    existing = set(inspect(conn).get_table_names())
    return set(Base.metadata.tables) <= existing


def make_revision(url: str, message: str) -> None:
    """Autogenerate a new revision from the difference between `url`'s schema and tables.py."""
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        command.revision(alembic_config(conn), message=message, autogenerate=True)
    engine.dispose()


if __name__ == "__main__":  # pragma: no cover - developer tool
    if len(sys.argv) != 4 or sys.argv[1] != "revision":
        sys.exit("usage: python -m catalog.migrate revision MESSAGE DATABASE_URL")
    make_revision(sys.argv[3], sys.argv[2])
