"""Run rows: start, progress, finish, and the reads `status` and the report need."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from catalog import groups
from catalog import tables as t
from catalog.clock import as_utc
from catalog.errors import ConfigError, NotFoundError
from catalog.outcomes import Outcome, Severity
from catalog.shards import SHARDED_PARENT, SHARDED_RUN, Shard, all_shards
from catalog.store._records import RunRecord
from catalog.store._sql import read_session, table_of, write_session


def start_run(
    engine: Engine,
    *,
    trigger: str,
    now: datetime,
    flow_run_id: str | None = None,
    catalogs: Sequence[str] = (),
    summary: Mapping[str, Any] | None = None,
) -> int:
    """A new `running` run; `summary` adds to it (e.g. the holder and lease of `catalog.runs`)."""
    with write_session(engine) as s:
        run = t.Run(
            trigger=trigger,
            flow_run_id=flow_run_id,
            started_at=now,
            status="running",
            urls_planned=0,
            urls_checked=0,
            counts={},
            network_unavailable=False,
            summary={"catalogs": [str(c) for c in catalogs], **(summary or {})},
        )
        s.add(run)
        s.flush()
        return run.id


#: `runs.status` of a run refused before it started (its catalog could not be read):
#: nothing was checked. It has no `finished_at`: reports show the last finished run, and a
#: refused night has no findings to show in their place; `linkhealth status` shows it.
REFUSED = "refused"
#: `runs.summary` key of a run refused for the ids it was given, not for a broken file:
#: it holds up no other run (the report's refusal notice leaves it out).
REFUSED_IDS = "refused_ids"


def record_refused_run(
    engine: Engine,
    *,
    trigger: str,
    now: datetime,
    reason: str,
    flow_run_id: str | None = None,
    catalogs: Sequence[str] = (),
    ids: bool = False,
) -> int:
    """A run that was refused before it started (`REFUSED`), with `reason` in its summary
    (`refused_reason`), and `REFUSED_IDS` when it was for ids no catalog holds; its id."""
    with write_session(engine) as s:
        run = t.Run(
            trigger=trigger,
            flow_run_id=flow_run_id,
            started_at=now,
            status=REFUSED,
            urls_planned=0,
            urls_checked=0,
            counts={},
            network_unavailable=False,
            summary={
                "catalogs": [str(c) for c in catalogs],
                "refused_reason": reason,
                **({REFUSED_IDS: True} if ids else {}),
            },
        )
        s.add(run)
        s.flush()
        return run.id


def group_shard_runs(engine: Engine, flow_run_ids: Sequence[str], sharded_run: str) -> list[int]:
    """Mark the runs of `flow_run_ids` as the shards of one sharded run, so reports show
    that night as one run (`catalog.queries`); their ids. A shard whose flow failed before
    it recorded a run has no row and is simply not among them."""
    with write_session(engine) as s:
        runs = s.scalars(select(t.Run).where(t.Run.flow_run_id.in_(list(flow_run_ids)))).all()
        for run in runs:
            run.summary = {**(run.summary or {}), SHARDED_RUN: sharded_run}
        return sorted(run.id for run in runs)


def group_ended_shards(engine: Engine, run_ids: Sequence[int]) -> list[int]:
    """Group the shard runs among `run_ids` with their siblings (`close_run` does it for
    the runs it ends; this is for the runs `abort_stale_runs` ended); the ids grouped."""
    grouped: list[int] = []
    with write_session(engine) as s:
        for run_id in run_ids:
            run = s.get(t.Run, run_id)
            if run is not None:
                grouped += _group_if_all_ended(s, run)
    return sorted(set(grouped))


def _group_if_all_ended(s: Session, run: t.Run) -> list[int]:
    """When `run` is a shard run and every shard of the sharded run that started it has
    ended, mark them all as its shards (as that run itself does once they end): a sharded
    run cancelled or dead while its shards checked must not leave the night shown as parts.
    A shard that never recorded a run leaves them ungrouped: the night is not whole."""
    summary = run.summary or {}
    parent, shard = summary.get(SHARDED_PARENT), summary.get("shard")
    if not isinstance(parent, str) or not isinstance(shard, str):
        return []
    try:
        count = Shard.parse(shard).count
    except ConfigError:
        return []
    siblings = s.scalars(
        select(t.Run).where(t.Run.summary[SHARDED_PARENT].as_string() == parent)
    ).all()
    if any(r.status == "running" for r in siblings):
        return []
    seen = {str((r.summary or {}).get("shard")) for r in siblings}
    if seen != {str(part) for part in all_shards(count)}:
        return []
    for sibling in siblings:
        if (sibling.summary or {}).get(SHARDED_RUN) != parent:
            sibling.summary = {**(sibling.summary or {}), SHARDED_RUN: parent}
    return [r.id for r in siblings]


def note_run_progress(
    engine: Engine, run_id: int, urls_checked: int, *, now: datetime | None = None
) -> None:
    """The URLs a running run has checked so far, for `linkhealth status` (most runs are
    one batch, stored only at its end); the run's close counts them exactly. With `now`,
    also a sign of life (`note_run_alive`)."""
    with write_session(engine) as s:
        s.execute(
            update(t.Run)
            .where(t.Run.id == run_id, t.Run.status == "running")
            .values(urls_checked=urls_checked)
        )
        if now is not None:
            _note_alive(s, run_id, now)


#: `runs.summary` key: when a running run was last seen alive (heartbeat, progress), so a
#: run whose process died ends there, not when the next run finds it dead.
ALIVE_AT = "alive_at"


def note_run_alive(engine: Engine, run_id: int, now: datetime) -> None:
    """A running run's sign of life (its lease heartbeat)."""
    with write_session(engine) as s:
        _note_alive(s, run_id, now)


def _note_alive(s: Session, run_id: int, now: datetime) -> None:
    run = s.get(t.Run, run_id)
    if run is not None and run.status == "running":
        run.summary = {**(run.summary or {}), ALIVE_AT: now.isoformat()}


def set_run_planned(engine: Engine, run_id: int, urls_planned: int) -> None:
    with write_session(engine) as s:
        _run(s, run_id).urls_planned = urls_planned


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    now: datetime,
    network_unavailable: bool = False,
    summary: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Close a run; counts and urls_checked come from the observations it wrote. The last
    shard run of a sharded run to end groups its shards (`_group_if_all_ended`)."""
    with write_session(engine) as s:
        run = _run(s, run_id)
        close_run(s, run, status=status, now=now, network_unavailable=network_unavailable)
        if summary:
            run.summary = {**(run.summary or {}), **summary}
        _group_if_all_ended(s, run)
        s.flush()
        return _run_record(run)


def drifted_in_run(engine: Engine, run_id: int, *, now: datetime) -> int:
    """Active resources whose link `run_id` observed that are in the report's "Page no
    longer matches its entry" group at `now` (`catalog.groups`): flagged as drift, not
    confirmed broken since (listed as broken), neither snoozed nor ignored."""
    res, link, obs = table_of(t.Resource), table_of(t.Link), table_of(t.Observation)
    observed = select(obs.c.link_id).where(obs.c.run_id == run_id)
    query = (
        select(func.count())
        .select_from(res.join(link, link.c.id == res.c.link_id))
        .where(
            res.c.removed_at.is_(None),
            groups.drifted(
                link.c.outcome,
                link.c.state,
                groups.entry_drift(link.c.drift_reason, link.c.drift_entries, res.c.id),
            ),
            groups.queued(res.c.snoozed_until, res.c.ignored_reason, now),
            link.c.id.in_(observed),
        )
    )
    with read_session(engine) as s:
        return int(s.execute(query).scalar_one())


def unsent_in_run(engine: Engine, run_id: int) -> dict[str, int]:
    """How many of `run_id`'s tries were not sent (`Observation.held`: their host had said
    it was away, or answered none of its last links), by outcome: `counts` has them as
    the host's answer, and "3 rate limited" read as three links asked."""
    with read_session(engine) as s:
        return _unsent(s, run_id)


def _unsent(s: Session, run_id: int) -> dict[str, int]:
    obs = table_of(t.Observation)
    query = (
        select(obs.c.outcome, func.count())
        .where(obs.c.run_id == run_id, obs.c.held.is_(True))
        .group_by(obs.c.outcome)
    )
    return {outcome: int(n) for outcome, n in sorted(s.execute(query).all())}


def private_urls_in_run(engine: Engine, run_id: int) -> list[str]:
    """The URLs `run_id` refused as private itself, each once: not those a redirect led into
    a private network (their chain is not empty), whose own host is no address to allow."""
    obs = table_of(t.Observation)
    query = (
        select(obs.c.url, obs.c.chain)
        .where(obs.c.run_id == run_id, obs.c.outcome == Outcome.PRIVATE_ADDRESS.value)
        .order_by(obs.c.id)
    )
    with read_session(engine) as s:
        return list(dict.fromkeys(url for url, chain in s.execute(query) if not chain))


#: `runs.summary` key: how many of the run's observations answered but show a page that no
#: longer matches its entry (drift). `counts` has them as working; the trend does not.
DRIFTED_LINKS = "drifted_links"
#: `runs.summary` key: of `counts`, the tries not sent, by outcome (`unsent_in_run`): no
#: check of their link, which the report's run facts and trend leave out of its checks.
#: Kept only when there are some, as runs closed before it was counted have none.
UNSENT_LINKS = "unsent_links"
_WORKING = [o.value for o in Outcome if o.severity is Severity.OK]


def close_run(
    s: Session,
    run: t.Run,
    *,
    status: str,
    now: datetime,
    network_unavailable: bool = False,
    found_dead: bool = False,
) -> None:
    """Counts and urls_checked from the observations the run wrote; status and times.

    A run `found_dead` (its process died; found by the next run, maybe a day later) ends at
    its last sign of life: its last stored observation or `ALIVE_AT`, not at `now`: its
    duration is how long it ran, not how long until another run found it dead."""
    run_id = run.id
    rows = s.execute(
        select(t.Observation.outcome, func.count())
        .where(t.Observation.run_id == run_id)
        .group_by(t.Observation.outcome)
    ).all()
    run.counts = {outcome: n for outcome, n in sorted(rows)}
    # Counted now, as `counts` are: the drift flags change with later runs, and a trend
    # drawn from today's flags would move every past night's point.
    drifted = s.scalar(
        select(func.count())
        .select_from(t.Observation)
        .join(t.Link, t.Link.id == t.Observation.link_id)
        .where(
            t.Observation.run_id == run_id,
            t.Observation.outcome.in_(_WORKING),
            t.Link.drift_reason.is_not(None),
        )
    )
    run.summary = {**(run.summary or {}), DRIFTED_LINKS: int(drifted or 0)}
    if unsent := _unsent(s, run_id):
        run.summary = {**run.summary, UNSENT_LINKS: unsent}
    run.urls_checked = (
        s.scalar(
            select(func.count(func.distinct(t.Observation.link_id))).where(
                t.Observation.run_id == run_id
            )
        )
        or 0
    )
    # A run found dead ended at its last sign of life, not when it was found. A clock set
    # back since the run started (NTP, a restored VM) must not end it before its start:
    # status showed "-3000.0 s".
    end = max(_last_alive(s, run, now) if found_dead else now, run.started_at)
    run.status = status
    run.finished_at = end
    run.network_unavailable = bool(run.network_unavailable) or network_unavailable
    run.duration_s = (end - run.started_at).total_seconds()


def _last_alive(s: Session, run: t.Run, now: datetime) -> datetime:
    """The last time `run` was seen doing something, at most `now` (unless the clock went
    back since the run started: then `now` says nothing about when it stopped)."""
    stored = s.scalar(
        select(func.max(t.Observation.checked_at)).where(t.Observation.run_id == run.id)
    )
    seen = last_sign_of_life(run.started_at, stored, run.summary)
    return min(seen, now) if now >= run.started_at else seen


def last_sign_of_life(
    started_at: datetime, last_stored: datetime | None, summary: Mapping[str, Any] | None
) -> datetime:
    """The latest of a run's signs of life: its start, its last stored observation and its
    heartbeat note (`ALIVE_AT`), in UTC. A bad note never decides (nor keeps a run from
    closing)."""
    seen = [started_at, *([last_stored] if last_stored is not None else [])]
    alive = (summary or {}).get(ALIVE_AT)
    if isinstance(alive, str):
        with suppress(ValueError):
            seen.append(datetime.fromisoformat(alive))
    return max(as_utc(moment) for moment in seen)


def mark_run_network_unavailable(engine: Engine, run_id: int, reason: str) -> None:
    """The canaries failed: nothing this run stores says anything about the links."""
    with write_session(engine) as s:
        run = _run(s, run_id)
        run.network_unavailable = True
        run.summary = {**(run.summary or {}), "network_unavailable_reason": reason}


def update_run_summary(engine: Engine, run_id: int, **values: Any) -> Mapping[str, Any]:
    with write_session(engine) as s:
        run = _run(s, run_id)
        run.summary = {**(run.summary or {}), **values}
        return dict(run.summary)


def get_run(engine: Engine, run_id: int) -> RunRecord:
    with read_session(engine) as s:
        return _run_record(_run(s, run_id))


def latest_runs(engine: Engine, limit: int = 10) -> list[RunRecord]:
    """The last `limit` runs, newest first. A run still `running` (or whose process died
    and no run has closed yet) shows the outcomes of the batches it stored so far: its
    row gets them only when it ends, and "no outcomes stored yet" beside 80 stored URLs
    tells the operator of a killed run that they were lost."""
    with read_session(engine) as s:
        runs = s.scalars(select(t.Run).order_by(t.Run.id.desc()).limit(limit)).all()
        return [_stored_so_far(s, _run_record(r)) if r.status == "running" else _run_record(r)
                for r in runs]  # fmt: skip


def _stored_so_far(s: Session, record: RunRecord) -> RunRecord:
    rows = s.execute(
        select(t.Observation.outcome, func.count())
        .where(t.Observation.run_id == record.id)
        .group_by(t.Observation.outcome)
    ).all()
    if not rows:
        return record
    stored = s.scalar(
        select(func.count(func.distinct(t.Observation.link_id))).where(
            t.Observation.run_id == record.id
        )
    )
    # Its tries not sent among those outcomes, as `close_run` keeps them for a run ended:
    # "2 rate_limited" of a host held read as two links asked.
    unsent = _unsent(s, record.id)
    return replace(
        record,
        counts={outcome: n for outcome, n in sorted(rows)},
        # The live count noted every few seconds may lag the batches stored meanwhile.
        urls_checked=max(record.urls_checked, stored or 0),
        summary={**record.summary, UNSENT_LINKS: unsent} if unsent else record.summary,
    )


def _run(s: Session, run_id: int) -> t.Run:
    run = s.get(t.Run, run_id)
    if run is None:
        raise NotFoundError(
            f"run {run_id} does not exist; `linkhealth status --limit 50` lists the runs"
        )
    return run


def _run_record(run: t.Run) -> RunRecord:
    return RunRecord(
        id=run.id,
        trigger=run.trigger,
        flow_run_id=run.flow_run_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        urls_planned=run.urls_planned or 0,
        urls_checked=run.urls_checked or 0,
        counts=dict(run.counts or {}),
        network_unavailable=bool(run.network_unavailable),
        summary=dict(run.summary or {}),
        duration_s=run.duration_s,
    )
