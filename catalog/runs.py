"""The steps of one check run, shared by the Prefect flow and the CLI.

    prepare_run   catalog files -> sync -> start run -> plan -> canaries  (PreparedRun)
    check batch   catalog.check.check_batch, one coarse task per Batch
    store_batch   outage guard -> observations, link state, events (one transaction)
                  -> archive copies for newly broken or drifting links (bounded, never fails)
    finish_run    counts, status, staleness and snoozes, RunSummary

When the canaries (`HealthSettings.canary_urls`) all fail at the network level,
`prepare_run` stores a `network_unavailable` observation for every target, marks the
run network-down and returns no batches: the flow then checks nothing and goes
straight to `finish_run`, whose summary says why.

The flow in `flows/` only wires these together; everything that decides
anything lives here or below, so it is tested without Prefect.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from catalog import store
from catalog.archive import ArchiveLookup
from catalog.canary import CanaryVerdict, check_canaries
from catalog.check.safety import Resolver
from catalog.clock import Clock, utcnow
from catalog.db import engine_for
from catalog.model import Batch, Observation
from catalog.outage import judge, mask
from catalog.outcomes import Outcome, Severity
from catalog.plan import plan_batches
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import SyncResult, sync_catalogs
from catalog.urls import host_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRun:
    run_id: int
    sync: SyncResult
    batches: tuple[Batch, ...]
    #: What the canaries found; `network_down` means no batch is left to check.
    canary: CanaryVerdict = field(default_factory=CanaryVerdict)
    #: The network_unavailable observations stored for every target when the canaries failed.
    offline: BatchStored | None = None

    @property
    def url_count(self) -> int:
        return sum(len(b.targets) for b in self.batches)

    @property
    def network_down(self) -> bool:
        return self.canary.network_down


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
            why = self.extra.get("network_unavailable_reason")
            if why:
                out.append(str(why))
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
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> PreparedRun:
    """Sync, start the run, plan it, and test our network with the canaries.

    `transport` and `resolver` reach the canary checks only (tests inject them).
    """
    catalogs = load_catalogs(settings.catalogs)
    engine = engine_for(settings.database_url)
    now = clock()
    sync = sync_catalogs(engine, catalogs, now=now, health=settings.health)
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
    prepared = PreparedRun(run_id=run_id, sync=sync, batches=tuple(batches))
    if not settings.health.canary_urls or not targets:
        return prepared
    canary = check_canaries(
        settings.health.canary_urls,
        settings.check,
        transport=transport,
        resolver=resolver,
        clock=clock,
    )
    if not canary.network_down:
        return PreparedRun(run_id=run_id, sync=sync, batches=tuple(batches), canary=canary)
    offline = store_offline(settings, run_id, batches, canary, clock=clock)
    return PreparedRun(run_id=run_id, sync=sync, batches=(), canary=canary, offline=offline)


def store_offline(
    settings: Settings,
    run_id: int,
    batches: Sequence[Batch],
    canary: CanaryVerdict,
    *,
    clock: Clock = utcnow,
) -> BatchStored:
    """Every planned target gets a `network_unavailable` observation; nothing is fetched."""
    engine = engine_for(settings.database_url)
    now = clock()
    observations = [
        Observation(
            url=target.url,
            checked_at=now,
            outcome=Outcome.NETWORK_UNAVAILABLE,
            reason=canary.reason,
        )
        for batch in batches
        for target in batch.targets
    ]
    events = store.record_observations(engine, run_id, observations, settings.health, now=now)
    store.mark_run_network_unavailable(engine, run_id, canary.reason)
    return BatchStored(
        observations=len(observations),
        counts={Outcome.NETWORK_UNAVAILABLE.value: len(observations)} if observations else {},
        events=len(events),
        network_down=True,
    )


def store_batch(
    settings: Settings,
    run_id: int,
    observations: Sequence[Observation],
    *,
    clock: Clock = utcnow,
    archive: ArchiveLookup | None = None,
) -> BatchStored:
    """Store one checked batch, then look up archive copies for links that now need one.

    `archive` is the lookup to use (tests inject one with a mocked client); without it one
    is made when `HealthSettings.archive_lookups` is on and there is something to look up.
    """
    verdict = judge(observations, settings.health.outage_host_share)
    kept = mask(observations, verdict)
    engine = engine_for(settings.database_url)
    events = store.record_observations(engine, run_id, kept, settings.health, now=clock())
    if settings.health.archive_lookups:
        try:
            lookup_archives(settings, run_id, engine=engine, archive=archive, clock=clock)
        except Exception:  # a courtesy service: never let it fail the run
            log.warning("archive lookups failed; the run goes on", exc_info=True)
    counts: dict[str, int] = {}
    for obs in kept:
        counts[obs.outcome.value] = counts.get(obs.outcome.value, 0) + 1
    return BatchStored(
        observations=len(kept),
        counts=counts,
        events=len(events),
        network_down=verdict.network_down,
    )


def lookup_archives(
    settings: Settings,
    run_id: int,
    *,
    engine: Engine | None = None,
    archive: ArchiveLookup | None = None,
    clock: Clock = utcnow,
) -> int:
    """Find Wayback copies for broken or drifting links; at most
    `archive_lookups_per_run` per run (counted in the run's summary). Returns lookups made."""
    engine = engine or engine_for(settings.database_url)
    health = settings.health
    done = int(store.get_run(engine, run_id).summary.get("archive_lookups", 0))
    now = clock()
    candidates = store.archive_candidates(
        engine,
        now=now,
        recheck_days=health.archive_recheck_days,
        limit=health.archive_lookups_per_run - done,
    )
    if not candidates:
        return 0
    client: httpx.Client | None = None
    lookup = archive
    if lookup is None:
        client = httpx.Client(
            headers={"User-Agent": settings.check.effective_user_agent}, follow_redirects=True
        )
        lookup = ArchiveLookup(client=client, cache=store.ArchiveCache(engine), clock=clock)
    made = 0
    try:
        for candidate in candidates:
            snapshot = None
            if not _private_host(candidate.url):  # the archive never saw an intranet page
                snapshot = lookup.closest_before(candidate.url, candidate.before)
                made += 1
            store.set_archive(
                engine, candidate.link_id, snapshot.url if snapshot else None, at=clock()
            )
    finally:
        if client is not None:
            client.close()
        store.update_run_summary(engine, run_id, archive_lookups=done + len(candidates))
    return made


def _private_host(url: str) -> bool:
    host = host_of(url)
    if not host or host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


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
    engine = engine_for(settings.database_url)
    now = clock()
    record = store.finish_run(
        engine,
        run_id,
        status=status,
        now=now,
        network_unavailable=network_down,
        summary={"batches": len(stored)},
    )
    store.refresh_staleness(engine, settings.health, now=now, run_id=run_id)
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
        extra={
            k: record.summary[k]
            for k in ("network_unavailable_reason", "archive_lookups")
            if k in record.summary
        },
    )
