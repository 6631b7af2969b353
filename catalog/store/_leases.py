"""Run leases: one full run at a time; `catalog.runs` holds their rules."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from catalog import tables as t
from catalog.clock import as_utc
from catalog.collation import byte_order
from catalog.errors import CopyInProgressError, StoreError
from catalog.shards import FULL_RUN_LEASE
from catalog.store._runs import close_run, last_sign_of_life
from catalog.store._sql import read_session, table_of, write_session


@dataclass(frozen=True)
class LeaseRecord:
    """Who holds a run lease, and until when (see `catalog.runs` for the rules)."""

    name: str
    #: "host:pid flow-run-id" (see `lease_holder`).
    holder: str
    run_id: int | None
    acquired_at: datetime
    expires_at: datetime
    heartbeat_at: datetime

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass(frozen=True)
class LeaseClaim:
    """What `acquire_lease` found: whether we hold the lease now, and the row as it stands."""

    acquired: bool
    lease: LeaseRecord


def lease_holder(flow_run_id: str | None = None) -> str:
    """This process as a lease holder: host and pid (to tell a dead holder on this host),
    then the Prefect flow run id, or a random token so two holders never look alike."""
    return f"{socket.gethostname()}:{os.getpid()} {flow_run_id or 'local-' + uuid.uuid4().hex[:12]}"


#: The token `linkhealth db copy` holds the full-run lease under (`copy_holder`): a run
#: refused while a copy holds it names the copy, not "another full run".
COPY_TOKEN = "db-copy"


def copy_holder() -> str:
    """`lease_holder` of a `linkhealth db copy` of this process."""
    return lease_holder(f"{COPY_TOKEN}-{uuid.uuid4().hex[:12]}")


def is_copy_holder(holder: str) -> bool:
    return holder.partition(" ")[2].startswith(f"{COPY_TOKEN}-")


def _holder_here(holder: str) -> bool:
    """True when `holder` names a process of this host (one `holder_gone` can probe)."""
    host, _, pid_text = holder.split(" ", 1)[0].rpartition(":")
    return host == socket.gethostname() and pid_text.isdigit()


def holder_gone(holder: str) -> bool:
    """True when `holder` names a process of this host that no longer runs.

    Holders on other hosts cannot be probed: only their lease expiry tells.
    """
    where = holder.split(" ", 1)[0]
    host, _, pid_text = where.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    try:  # a killed child nobody reaped yet still answers signal 0
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return any(
        line.split()[1:2] == ["Z"] for line in status.splitlines() if line.startswith("State:")
    )


def acquire_lease(
    engine: Engine,
    name: str,
    holder: str,
    *,
    now: datetime,
    ttl: timedelta,
    run_id: int | None = None,
) -> LeaseClaim:
    """Take lease `name` in one short write transaction, atomically on every backend.

    Inserts the row, or takes it over when it expired or is already ours; a live lease
    of someone else is left alone and returned (`acquired` False). The unsharded full-run
    lease is also refused while a shard run holds its own (`FULL_RUN_LEASE:i/n`): a
    sharded run whose waiting parent was cancelled or died gave the full-run lease back
    while its shards still checked their hosts.
    """
    table = table_of(t.RunLease)
    insert = _dialect_insert(engine)(table).values(
        name=name,
        holder=holder,
        run_id=run_id,
        acquired_at=now,
        expires_at=now + ttl,
        heartbeat_at=now,
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={
            c: insert.excluded[c]
            for c in ("holder", "run_id", "acquired_at", "expires_at", "heartbeat_at")
        },
        where=or_(table.c.expires_at <= now, table.c.holder == holder),
    )
    with write_session(engine) as s:
        if name == FULL_RUN_LEASE:
            shard_lease = s.scalars(
                select(t.RunLease)
                .where(
                    t.RunLease.name.startswith(f"{FULL_RUN_LEASE}:"),
                    t.RunLease.expires_at > now,
                    t.RunLease.holder != holder,
                )
                .order_by(byte_order(t.RunLease.name))
                .limit(1)
            ).first()
            if shard_lease is not None:
                return LeaseClaim(acquired=False, lease=_lease_record(shard_lease))
        s.execute(upsert)
        row = s.get_one(t.RunLease, name, populate_existing=True)
        return LeaseClaim(acquired=row.holder == holder, lease=_lease_record(row))


def _dialect_insert(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return postgresql_insert
    if engine.dialect.name == "sqlite":
        return sqlite_insert
    raise StoreError(f"run leases need SQLite or PostgreSQL, not {engine.dialect.name}")


def renew_lease(
    engine: Engine,
    name: str,
    holder: str,
    *,
    now: datetime,
    ttl: timedelta,
    run_id: int | None = None,
) -> LeaseRecord | None:
    """Heartbeat: move the expiry to `now + ttl` if `holder` still holds the lease; None
    when it was lost (it expired and someone took it over, or it was released)."""
    with write_session(engine) as s:
        row = s.get(t.RunLease, name)
        if row is None or row.holder != holder:
            return None
        row.expires_at = now + ttl
        row.heartbeat_at = now
        if run_id is not None:
            row.run_id = run_id
        s.flush()
        return _lease_record(row)


def release_lease(engine: Engine, name: str, holder: str) -> bool:
    """Give the lease back if `holder` holds it; False when it was not ours (any more)."""
    with write_session(engine) as s:
        result = s.execute(
            delete(t.RunLease).where(t.RunLease.name == name, t.RunLease.holder == holder)
        )
        return bool(getattr(result, "rowcount", 0))


def get_lease(engine: Engine, name: str) -> LeaseRecord | None:
    with read_session(engine) as s:
        row = s.get(t.RunLease, name)
        return _lease_record(row) if row is not None else None


def leases(engine: Engine) -> list[LeaseRecord]:
    """Every lease row, expired ones included (`linkhealth status` shows them)."""
    with read_session(engine) as s:
        return [
            _lease_record(r)
            for r in s.scalars(select(t.RunLease).order_by(byte_order(t.RunLease.name)))
        ]


#: `runs.summary` key of a run `abort_stale_runs` aborted because its process was seen gone
#: (not only its lease expired: a process on another host may still be alive).
PROCESS_GONE = "process_gone"
#: `runs.summary` key of every run `abort_stale_runs` aborted: its `duration_s` runs to its
#: last sign of life (`_runs.close_run`), not to its end, which nobody saw.
FOUND_DEAD = "found_dead"


def abort_stale_runs(
    engine: Engine, *, now: datetime, gone: Callable[[str], bool] = holder_gone
) -> list[int]:
    """Mark `aborted` the running runs nobody is running any more; returns their ids.

    A run is stale when its holder process is gone (`gone`, on this host) or when the
    lease it ran under expired or belongs to someone else now. Those leases are deleted
    in the same transaction, so the next run can take them. Runs that never recorded a
    holder (made before leases existed) are left alone.
    """
    with write_session(engine) as s:
        live: set[tuple[str, str]] = set()
        for lease in s.scalars(select(t.RunLease)):
            if lease.expires_at <= now or gone(lease.holder):
                s.delete(lease)
            else:
                live.add((lease.name, lease.holder))
        aborted = []
        running = s.scalars(select(t.Run).where(t.Run.status == "running").order_by(t.Run.id))
        for run in running:
            summary = dict(run.summary or {})
            holder, lease_name = summary.get("holder"), summary.get("lease")
            if not isinstance(holder, str):
                continue
            process_gone = gone(holder)
            if process_gone:
                why = f"its process ({holder}) is gone"
            elif lease_name and (lease_name, holder) not in live:
                why = f"its lease {lease_name!r} expired without a heartbeat"
            else:
                continue
            close_run(s, run, status="aborted", now=now, found_dead=True)
            run.summary = {
                **(run.summary or {}),  # with what close_run counted (unsent, drifted)
                "aborted_reason": why,
                FOUND_DEAD: True,
                **({PROCESS_GONE: True} if process_gone else {}),
            }
            aborted.append(run.id)
        return aborted


def refuse_while_copying(engine: Engine, *, now: datetime, doing: str) -> None:
    """Raise `CopyInProgressError` while `linkhealth db copy` holds this database's lease.

    The copy reads a snapshot: a recheck's results or a curator's decision written
    meanwhile would be missing from the new database without a word. Full runs are kept
    out by the lease itself; rechecks, shard runs and decisions take none, so they ask."""
    lease = get_lease(engine, FULL_RUN_LEASE)
    if lease is None or not is_copy_holder(lease.holder) or as_utc(lease.expires_at) <= now:
        return
    if holder_gone(lease.holder):  # a copy killed outright copies nothing any more
        return
    raise CopyInProgressError(
        f"`linkhealth db copy` is copying this database ({lease.holder}, lease "
        f"{lease.name!r} until {as_utc(lease.expires_at):%Y-%m-%d %H:%M:%S} UTC): to {doing} "
        "now would leave it out of the copy. Wait for the copy to finish, then do it against "
        "the database it copies into."
    )


@dataclass(frozen=True)
class LiveRun:
    """A run stored as `running` whose process still runs (`live_runs`)."""

    id: int
    trigger: str
    started_at: datetime
    holder: str | None


def live_runs(
    conn: Connection,
    *,
    now: datetime,
    quiet_for: timedelta,
    gone: Callable[[str], bool] = holder_gone,
) -> list[LiveRun]:
    """The `running` runs still being run, read on `conn` (inside the caller's snapshot).

    Rechecks take no lease, so a lease alone does not tell (`db copy` went ahead while one
    stored its results). A run is alive when its holder is a process of this host that
    still runs; a holder elsewhere cannot be probed, so there it is alive while its lease
    is held or while its last sign of life (start, heartbeat `ALIVE_AT`, last stored
    observation) is less than `quiet_for` old, as `abort_stale_runs` would judge it.
    """
    runs, obs, lease = table_of(t.Run), table_of(t.Observation), table_of(t.RunLease)
    held = {
        (name, holder)
        for name, holder in conn.execute(
            select(lease.c.name, lease.c.holder).where(lease.c.expires_at > now)
        )
    }
    last_stored = (
        select(func.max(obs.c.checked_at)).where(obs.c.run_id == runs.c.id).scalar_subquery()
    )
    rows = conn.execute(
        select(runs.c.id, runs.c.trigger, runs.c.started_at, runs.c.summary, last_stored)
        .where(runs.c.status == "running")
        .order_by(runs.c.id)
    )
    out = []
    for run_id, trigger, started_at, summary, stored in rows:
        summary = summary or {}
        holder = summary.get("holder") if isinstance(summary.get("holder"), str) else None
        if holder is not None and gone(holder):
            continue
        if holder is None or not _holder_here(holder):
            lease_name = summary.get("lease")
            recent = last_sign_of_life(started_at, stored, summary) > now - quiet_for
            if not recent and (lease_name, holder) not in held:
                continue
        out.append(LiveRun(id=run_id, trigger=trigger, started_at=started_at, holder=holder))
    return out


def _lease_record(row: t.RunLease) -> LeaseRecord:
    return LeaseRecord(
        name=row.name,
        holder=row.holder,
        run_id=row.run_id,
        acquired_at=row.acquired_at,
        expires_at=row.expires_at,
        heartbeat_at=row.heartbeat_at,
    )
