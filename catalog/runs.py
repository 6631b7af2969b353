"""The steps of one check run, shared by the Prefect flow and the CLI.

    prepare_run   catalog files -> sync -> start run -> plan      (PreparedRun)
    check batch   catalog.check.check_batch, one coarse task per Batch
    store_batch   outage guard -> observations, link state, events (one transaction)
    finish_run    counts, status, RunSummary

The flow in `flows/` only wires these together; everything that decides
anything lives here or below, so it is tested without Prefect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog import store
from catalog.clock import Clock, utcnow
from catalog.db import engine_for
from catalog.model import Batch, Observation
from catalog.outage import judge, mask
from catalog.outcomes import Outcome, Severity
from catalog.plan import plan_batches
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import SyncResult, sync_catalogs


@dataclass(frozen=True)
class PreparedRun:
    run_id: int
    sync: SyncResult
    batches: tuple[Batch, ...]

    @property
    def url_count(self) -> int:
        return sum(len(b.targets) for b in self.batches)


@dataclass(frozen=True)
class BatchStored:
    observations: int
    counts: Mapping[str, int]
    events: int
    network_down: bool


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    urls_checked: int
    counts: Mapping[str, int]
    network_unavailable: bool
    sync_changes: int = 0
    report_path: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def broken(self) -> int:
        return sum(n for o, n in self.counts.items() if _severity(o) is Severity.BROKEN)

    @property
    def needs_look(self) -> int:
        return sum(
            n for o, n in self.counts.items() if _severity(o) in (Severity.LOOK, Severity.UPDATE)
        )

    def lines(self) -> list[str]:
        """The summary a person reads at the end of `linkhealth check`."""
        took = (
            f" in {(self.finished_at - self.started_at).total_seconds():.1f} s"
            if self.finished_at
            else ""
        )
        out = [f"Run {self.run_id} ({self.trigger}) {self.status}: {self.urls_checked} URLs{took}."]
        if self.network_unavailable:
            out.append(
                "The network was unreachable: no site could be contacted, so this run says "
                "nothing about the links. Nothing was marked broken. Check the machine's "
                "connection and run again."
            )
        parts = [f"{n} {Outcome(o).label.lower()}" for o, n in sorted(self.counts.items()) if n]
        if parts:
            out.append("Outcomes: " + ", ".join(parts) + ".")
        if self.report_path:
            out.append(f"Report: {self.report_path}")
        return out


def _severity(outcome: str) -> Severity:
    try:
        return Outcome(outcome).severity
    except ValueError:
        return Severity.UNKNOWN


def prepare_run(
    settings: Settings,
    *,
    trigger: str,
    flow_run_id: str | None = None,
    resource_ids: Sequence[str] | None = None,
    clock: Clock = utcnow,
) -> PreparedRun:
    catalogs = load_catalogs(settings.catalogs)
    engine = engine_for(settings.database_url)
    now = clock()
    sync = sync_catalogs(engine, catalogs, now=now)
    run_id = store.start_run(
        engine,
        trigger=trigger,
        now=now,
        flow_run_id=flow_run_id,
        catalogs=[str(c.path) for c in catalogs],
    )
    targets = store.targets_for_check(
        engine,
        now=now,
        fingerprint_max_age_days=settings.check.fingerprint_max_age_days,
        resource_ids=resource_ids,
        collection_keys=[c.key for c in catalogs],
    )
    batches = plan_batches(targets, settings.check.batch_size)
    store.set_run_planned(engine, run_id, len(targets))
    return PreparedRun(run_id=run_id, sync=sync, batches=tuple(batches))


def store_batch(
    settings: Settings,
    run_id: int,
    observations: Sequence[Observation],
    *,
    clock: Clock = utcnow,
) -> BatchStored:
    verdict = judge(observations, settings.health.outage_host_share)
    kept = mask(observations, verdict)
    events = store.record_observations(
        engine_for(settings.database_url), run_id, kept, settings.health, now=clock()
    )
    counts: dict[str, int] = {}
    for obs in kept:
        counts[obs.outcome.value] = counts.get(obs.outcome.value, 0) + 1
    return BatchStored(
        observations=len(kept),
        counts=counts,
        events=len(events),
        network_down=verdict.network_down,
    )


def finish_run(
    settings: Settings,
    run_id: int,
    *,
    stored: Sequence[BatchStored],
    sync: SyncResult | None = None,
    status: str = "completed",
    clock: Clock = utcnow,
) -> RunSummary:
    network_down = any(b.network_down for b in stored)
    record = store.finish_run(
        engine_for(settings.database_url),
        run_id,
        status=status,
        now=clock(),
        network_unavailable=network_down,
        summary={"batches": len(stored)},
    )
    return RunSummary(
        run_id=record.id,
        status=record.status,
        trigger=record.trigger,
        started_at=record.started_at,
        finished_at=record.finished_at,
        urls_checked=record.urls_checked,
        counts=dict(record.counts),
        network_unavailable=record.network_unavailable,
        sync_changes=len(sync.changes) if sync is not None else 0,
    )
