"""The steps of one check run, shared by the Prefect flow and the CLI.

    prepare_run   catalog files -> abort stale runs -> lease -> sync -> start run -> plan
                  (of one shard, when sharded) -> canaries  (PreparedRun)
    check batch   catalog.check.check_batch, one coarse task per Batch
    store_batch   lease heartbeat -> outage guard -> observations, link state, events
                  (one transaction) -> archive copies for newly broken or drifting links
                  (bounded, never fails)
    store_unfinished  a run stopped on purpose: what its unfinished batches had checked,
                  each batch in one transaction, judged with no network call (bounded)
    finish_run    counts, status, staleness and snoozes, lease released, RunSummary
    abandon_run   a run that raised: marked failed, lease released (the caller's finally)

Run safety. A full run (`lease=FULL_RUN_LEASE`, or one lease per shard) holds a database
lease: one row of `run_leases`, taken atomically, renewed by every stored batch and by
`keep_lease`'s heartbeat thread, released at the end. A second full run that finds it held
fails fast with `RunInProgressError`. Rechecks take no lease (they are small); their writes
queue with the full run's on the same short write transactions, so neither corrupts the
other. Every batch is committed as soon as it is stored, so a run killed with SIGKILL
keeps what it stored; the next `prepare_run` marks it `aborted` (`store.abort_stale_runs`:
its process is gone, or its lease expired) and takes over the lease.

When the canaries (`HealthSettings.canary_urls`) all fail at the network level,
`prepare_run` stores a `network_unavailable` observation for every target (but those
the check judges with no network, an `invalid_url` or a host refused as written as a
`private_address`: their verdict, as on any night), marks the run network-down and
returns no batches: the flow then checks nothing and goes straight to `finish_run`, whose
summary says why.

The flow in `flows/` only wires these together; everything that decides
anything lives here or below, so it is tested without Prefect.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from catalog import store
from catalog.archive import ArchiveLookup
from catalog.canary import CanaryVerdict, check_canaries
from catalog.check import unasked_verdict
from catalog.check.safety import (
    Resolver,
    allow_private_words,
    allowlist_entry,
    forbidden_address,
    host_allowlisted,
    is_loopback_name,
    written_address,
)
from catalog.clock import Clock, utcnow
from catalog.db import (
    engine_for,
    ensure_same_file,
    existing_database,
    fresh_engine_for,
    waiting_until,
)
from catalog.errors import CatalogError, LinkhealthError, NotFoundError, StoreError
from catalog.model import Batch, Observation
from catalog.outage import OutageVerdict, confirmed_by, judge, mask, unavailable, was_heard
from catalog.outcomes import Outcome, offline_in_part
from catalog.settings import Settings
from catalog.shards import FULL_RUN_LEASE as FULL_RUN_LEASE  # re-exported for callers
from catalog.shards import SHARDED_PARENT, Shard, plan_shard
from catalog.source import load_catalogs
from catalog.sync import SyncResult, refuse_demo_catalog, sync_catalogs
from catalog.text import counted, in_sentence
from catalog.upgrades import candidates
from catalog.urls import host_of

log = logging.getLogger(__name__)

#: How long a run lease lives without a heartbeat. Batches store (and so renew) far more
#: often; `keep_lease` renews every third of it while a long batch is being checked.
LEASE_TTL = timedelta(minutes=15)
#: Witnesses asked at a time about a small batch of unreachable hosts (`_witnessed`): a
#: few requests, enough that one witness's own outage is not taken for ours.
WITNESSES = 3


class RunLeaseError(LinkhealthError):
    """A full run could not hold its lease; the CLI exits 8."""

    exit_code = 8


class RunInProgressError(RunLeaseError):
    """Another full run holds the lease: this one did not start (nothing was written)."""

    def __init__(self, lease: store.LeaseRecord) -> None:
        self.lease = lease
        run = f" (run {lease.run_id})" if lease.run_id is not None else ""
        if store.is_copy_holder(lease.holder):  # `db copy` holds it while it reads
            super().__init__(
                f"`linkhealth db copy` is copying this database: it holds lease "
                f"{lease.name!r} ({lease.holder}) until "
                f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC. Wait for the copy to finish, "
                "then run against the database it copies into (`linkhealth status` shows "
                "the lease)."
            )
            return
        super().__init__(
            f"another full run is in progress: lease {lease.name!r} is held by "
            f"{lease.holder}{run} until {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC. "
            "Wait for it to finish (`linkhealth status` shows it); if its process died, "
            "the next run after that time takes over."
        )


class LeaseLostError(RunLeaseError):
    """The run stalled past its lease's expiry and another run took the lease over."""


@dataclass(frozen=True)
class RunLease:
    """The lease a prepared run holds: renewed by `store_batch`, released by `finish_run`."""

    name: str
    holder: str
    ttl: timedelta = LEASE_TTL


@dataclass(frozen=True)
class PreparedRun:
    run_id: int
    sync: SyncResult
    batches: tuple[Batch, ...]
    #: What the canaries found; `network_down` means no batch is left to check.
    canary: CanaryVerdict = field(default_factory=CanaryVerdict)
    #: The network_unavailable observations stored for every target when the canaries failed.
    offline: BatchStored | None = None
    #: The lease this run holds (full runs); None for rechecks and partial runs.
    lease: RunLease | None = None
    #: The shard of a sharded full run ("1/2"); None when the run covers every host.
    shard: Shard | None = None
    #: The runs this one found dead and marked aborted as it started (`abort_stale_runs`).
    aborted: tuple[int, ...] = ()
    #: The URLs and batches of `batches`, kept by `without_batches`.
    url_count: int = field(init=False)
    batch_count: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url_count", sum(len(b.targets) for b in self.batches))
        object.__setattr__(self, "batch_count", len(self.batches))

    def without_batches(self) -> PreparedRun:
        """This run without its batches, but with their counts: the flow lets each batch go
        once it is checked, so the 100,000 targets of a large run (~38 MB) are not all
        kept to its end, where the action queue is read."""
        run = replace(self, batches=())
        object.__setattr__(run, "url_count", self.url_count)
        object.__setattr__(run, "batch_count", self.batch_count)
        return run

    @property
    def network_down(self) -> bool:
        return self.canary.network_down


@dataclass(frozen=True)
class BatchStored:
    observations: int
    #: Its checks by outcome as stored: tries not sent (their host held) left out.
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
    #: Active resources this run checked that the report lists under "Page no longer
    #: matches its entry" (`store.drifted_in_run`): their outcome ("OK") is in `counts`,
    #: the drift would be nowhere in the lines.
    drifted: int = 0
    #: Of `counts`, the tries not sent, by outcome (`store.unsent_in_run`): their host held.
    unsent: Mapping[str, int] = field(default_factory=dict)
    #: The `private_allowlist` entries that would allow the hosts this run refused as
    #: private (`store.private_urls_in_run`): "3 private address" alone left a curator
    #: trying an intranet catalog with nothing to do but guess.
    private_hosts: tuple[str, ...] = ()

    @property
    def offline_in_part(self) -> int:
        """URLs judged offline in a run that reached other sites (`outcomes.offline_in_part`)."""
        return offline_in_part(self.network_unavailable, self.counts, self.unsent)

    def lines(self) -> list[str]:
        """The summary a person reads at the end of `linkhealth check`."""
        took = (
            f" in {(self.finished_at - self.started_at).total_seconds():.1f} s"
            if self.finished_at
            else ""
        )
        urls = f"{self.urls_checked} URL{'' if self.urls_checked == 1 else 's'}"
        out = [f"Run {self.run_id} ({self.trigger}) {self.status}: {urls}{took}."]
        if self.network_unavailable:
            offline = self.counts.get(Outcome.NETWORK_UNAVAILABLE.value, 0)
            again = " and run again"
            if not offline and self.counts:  # each judged as written (`store_offline`)
                said = (
                    "The network was unreachable, but none of these URLs needed it: each was "
                    "judged as written, with no request."
                )
                again = ""  # another run would judge them as this one did
            elif self.offline_in_part:  # some sites were reached
                said = (
                    f"The network was unreachable for {offline} of these URLs: their sites "
                    "could not be contacted, so this run says nothing about their links, "
                    "and none of them was marked broken."
                )
            else:
                said = (
                    "The network was unreachable: no site could be contacted, so this run "
                    "says nothing about the links. Nothing was marked broken."
                )
            out.append(f"{said} Check the machine's connection{again}.")
            why = self.extra.get("network_unavailable_reason")
            if why:
                out.append(str(why))
        counts = sorted(self.counts.items())
        parts = [f"{n} {in_sentence(Outcome(o).label)}" for o, n in counts if n]
        if parts:
            out.append("Outcomes: " + ", ".join(parts) + ".")
        if private := self.counts.get(Outcome.PRIVATE_ADDRESS.value, 0):
            allow = allow_private_words(self.private_hosts, them=private > 1)
            out.append(f"Not fetched: {counted(private, 'URL')} on a private address; {allow}.")
        if unsent := sum(self.unsent.values()):
            # As for our network down: "3 rate limited" read as three links asked, above
            # verdicts saying two were not checked.
            which = [f"{n} {in_sentence(Outcome(o).label)}" for o, n in sorted(self.unsent.items())]
            out.append(
                f"Not sent: {unsent} of these URLs ({', '.join(which)}), their host held (it "
                "had said it was away, or answered none of its last links): their links were "
                "not checked, and keep their state as it was."
            )
        if self.drifted:
            whose = "whose page no longer matches its entry"
            if self.drifted > 1:
                whose = "whose pages no longer match their entries"
            out.append(
                f"Drift: {counted(self.drifted, 'resource')} {whose} (a redesign, a page "
                "replaced or a domain that changed hands); the report says which."
            )
        if self.report_path:
            out.append(f"Report: {self.report_path}")
        return out


def prepare_run(
    settings: Settings,
    *,
    trigger: str,
    flow_run_id: str | None = None,
    resource_ids: Sequence[str] | None = None,
    clock: Clock = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    lease: str | None = None,
    lease_ttl: timedelta = LEASE_TTL,
    shard: Shard | None = None,
    sharded_run: str | None = None,
    entries: Sequence[tuple[str, str]] | None = None,
) -> PreparedRun:
    """Sync, start the run, plan it, and test our network with the canaries.

    The bundled demo catalog, read because no settings file names catalogs, is refused
    first (`ConfigError`, nothing written) for a database of other collections
    (`sync.refuse_demo_catalog`), before its ids are looked up. A catalog that cannot be
    read refuses the run (`CatalogError`, nothing checked): the refusal is recorded
    (`record_refusal`) for `linkhealth status` to show; an id no catalog holds raises
    `NotFoundError`, nothing written. Then marks aborted the runs whose process died or
    whose lease expired. With `lease` (a full run: `FULL_RUN_LEASE`, or
    `shard.lease_name`) the run holds that lease from here on, or raises
    `RunInProgressError` before writing anything when another holds it.
    `shard` keeps only the targets of that shard's hosts; `sharded_run` is the Prefect flow
    run id of the sharded run that started it, so the last of its shards to end groups them
    into one night even when that run is gone. `transport` and `resolver` reach the canary
    checks only (tests inject them). `entries`: (collection key, resource id) pairs to
    which `resource_ids` are narrowed (one catalog's entry of an id others use too).
    """
    # First, before anything is written or read of the catalogs: the demo's entries in a
    # database of other collections are a misplaced run (no settings file where it
    # started), not a night to record; nor are its named ids unknown (the demo lacks them).
    refuse_demo_catalog(settings)
    try:
        catalogs = load_catalogs(settings.catalogs)
    except CatalogError as exc:
        record_refusal(settings, exc, trigger=trigger, flow_run_id=flow_run_id, clock=clock)
        raise
    if resource_ids:
        known = {r.id for c in catalogs for r in c.resources}
        missing = [rid for rid in resource_ids if rid not in known]
        if missing:  # before anything is written: a typo must not record an empty run
            raise NotFoundError.unknown_ids(missing)
    engine = fresh_engine_for(settings.database_url)
    now = clock()
    if lease != FULL_RUN_LEASE:  # a full run is refused by the lease it cannot take
        store.refuse_while_copying(engine, now=now, doing="check")
    aborted = tuple(abort_stale_runs(engine, now=now))
    holder = store.lease_holder(flow_run_id)
    held = _take_lease(engine, lease, holder, now=now, ttl=lease_ttl) if lease else None
    try:
        sync = sync_catalogs(
            engine, catalogs, now=now, health=settings.health, folders=settings.catalogs
        )
        keys, paths = [c.key for c in catalogs], [str(c.path) for c in catalogs]
        del catalogs  # 100,000 entries are ~100 MB: let the targets reuse that memory
        run_id = store.start_run(
            engine,
            trigger=trigger,
            now=now,
            flow_run_id=flow_run_id,
            catalogs=paths,
            summary={
                "holder": holder,
                **({"lease": held.name} if held else {}),
                **({"shard": str(shard)} if shard else {}),
                **({SHARDED_PARENT: sharded_run} if shard and sharded_run else {}),
            },
        )
        if held is not None:
            _renew(engine, held, now=clock(), run_id=run_id)
        targets = store.targets_for_check(
            engine,
            now=now,
            fingerprint_max_age_days=settings.check.fingerprint_max_age_days,
            resource_ids=resource_ids,
            collection_keys=keys,
            entries=entries,
        )
        batches = plan_shard(targets, settings.check.batch_size, shard, check=settings.check)
        planned = sum(len(b.targets) for b in batches)
        store.set_run_planned(engine, run_id, planned)
        prepared = PreparedRun(
            run_id=run_id,
            sync=sync,
            batches=tuple(batches),
            lease=held,
            shard=shard,
            aborted=aborted,
        )
        if not settings.health.canary_urls or not planned:
            return prepared
        canary = check_canaries(
            settings.health.canary_urls,
            settings.check,
            transport=transport,
            resolver=resolver,
            clock=clock,
        )
        if canary.unasked:  # else said nowhere while the others answer
            log.warning("canary_urls: %s", canary.refused)
        if not canary.network_down:
            return replace(prepared, canary=canary)
        offline = store_offline(settings, run_id, batches, canary, clock=clock)
        return replace(prepared, batches=(), canary=canary, offline=offline)
    except BaseException:
        if held is not None:
            release_quietly(engine, held)
        raise


def refused_reason(exc: LinkhealthError) -> str:
    """One line for `linkhealth status`: the catalog's first problem (file, line, what),
    how many more, and where to see them all; any other refusal's own sentence (a settings
    file's names its file and line too)."""
    if not isinstance(exc, CatalogError) or not exc.problems:
        return " ".join(str(exc).split())
    first, more = exc.problems[0], len(exc.problems) - 1
    if more:
        return (
            f"the catalog has errors: {first} (and {more} more: "
            "`linkhealth catalog validate` lists them)"
        )
    return f"the catalog has an error: {first} (`linkhealth catalog validate` checks the fix)"


def record_refusal(
    settings: Settings,
    exc: LinkhealthError,
    *,
    trigger: str,
    flow_run_id: str | None = None,
    clock: Clock = utcnow,
) -> int | None:
    """Record a run refused before it started (`store.REFUSED`): for its catalog, its
    settings file or ids no catalog holds (`exc`), so the operator who looks at
    `linkhealth status` the next morning sees that night refused, not the night before as
    the latest. Never raises (the catalog's error is the one to see); a database that does
    not exist yet is not created just to say so. The run's id, or None."""
    try:
        existing_database(settings.database_url)
        return store.record_refused_run(
            engine_for(settings.database_url),
            trigger=trigger,
            now=clock(),
            reason=refused_reason(exc),
            flow_run_id=flow_run_id,
            catalogs=[str(p) for p in settings.catalogs],
            ids=isinstance(exc, NotFoundError),
        )
    except StoreError:
        return None  # no database yet, or it cannot be opened: the error says enough
    except Exception:
        log.warning("could not record the refused run", exc_info=True)
        return None


def abort_stale_runs(engine: Engine, *, now: datetime) -> list[int]:
    """Mark aborted the runs whose process died or whose lease expired (freeing their
    leases), and group the shard runs among them whose night has now ended; their ids."""
    aborted = store.abort_stale_runs(engine, now=now)
    if aborted:
        log.warning("marked run(s) %s aborted: their process or lease is gone", aborted)
        store.group_ended_shards(engine, aborted)
    return aborted


def gone_flow_runs(engine: Engine, run_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(run id, Prefect flow run id) of the runs among `run_ids` that were aborted because
    their process was seen gone (`store.PROCESS_GONE`): their flow runs can never end by
    themselves, so Prefect would show them Running forever. A run aborted only because its
    lease expired is left out: its process may still live on another machine."""
    out = []
    for run_id in run_ids:
        run = store.get_run(engine, run_id)
        if run.status == "aborted" and run.summary.get(store.PROCESS_GONE) and run.flow_run_id:
            out.append((run_id, run.flow_run_id))
    return out


def _take_lease(
    engine: Engine, name: str, holder: str, *, now: datetime, ttl: timedelta
) -> RunLease:
    claim = store.acquire_lease(engine, name, holder, now=now, ttl=ttl)
    if not claim.acquired:
        raise RunInProgressError(claim.lease)
    return RunLease(name=name, holder=holder, ttl=ttl)


def _renew(engine: Engine, lease: RunLease, *, now: datetime, run_id: int | None = None) -> None:
    if store.renew_lease(engine, lease.name, lease.holder, now=now, ttl=lease.ttl, run_id=run_id):
        return
    current = store.get_lease(engine, lease.name)
    raise LeaseLostError(
        f"this run lost its lease {lease.name!r}: it went {lease.ttl} without a heartbeat, "
        + (f"and {current.holder} holds it now" if current else "and it was released")
        + ". Nothing more is stored by this run; check why it stalled."
    )


@contextmanager
def keep_lease(
    settings: Settings,
    lease: RunLease | None,
    *,
    every: float | None = None,
    run_id: int | None = None,
) -> Iterator[None]:
    """Renew `lease` from a daemon thread while the body runs (default: every third of the
    TTL), so one batch that is slower than the TTL does not lose it. A killed process stops
    renewing, which is what lets the next run take over. A lost lease is only logged here:
    the next `store_batch` raises. Each beat is also run `run_id`'s sign of life: a run
    whose process dies is recorded as ending there (`store.close_run`)."""
    if lease is None:
        yield
        return
    engine = engine_for(settings.database_url)
    stop = threading.Event()
    period = every if every is not None else lease.ttl.total_seconds() / 3

    def beat() -> None:
        while not stop.wait(period):
            try:
                if not store.renew_lease(
                    engine, lease.name, lease.holder, now=utcnow(), ttl=lease.ttl
                ):
                    log.error("lease %r was lost; the next stored batch stops the run", lease.name)
                    return
                if run_id is not None:
                    store.note_run_alive(engine, run_id, utcnow())
            except LinkhealthError as exc:  # e.g. the database went away: one line
                log.warning("could not renew lease %r: %s", lease.name, exc)
            except Exception:  # a busy database: try again on the next beat
                log.warning("could not renew lease %r", lease.name, exc_info=True)

    thread = threading.Thread(target=beat, name=f"lease-{lease.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def store_offline(
    settings: Settings,
    run_id: int,
    batches: Sequence[Batch],
    canary: CanaryVerdict,
    *,
    clock: Clock = utcnow,
) -> BatchStored:
    """Every planned target gets a `network_unavailable` observation; nothing is fetched.

    But for one the check judges with no network (`unasked_verdict`: a URL that cannot be
    requested as written, `invalid_url`; a host refused as written, a private address or
    localhost, `private_address`): that verdict holds whatever our network does and is the
    curator's to act on, so it is stored as any night's check would store it, not as our
    outage, and the run's reason counts it not among the links nothing was learned about.
    A name is not looked up: one that resolves into our own network is only found so by a
    check."""
    engine = engine_for(settings.database_url)
    now = clock()
    observations = [
        unasked_verdict(target, settings.check, now)
        or Observation(
            url=target.url,
            checked_at=now,
            outcome=Outcome.NETWORK_UNAVAILABLE,
            reason=canary.reason,
        )
        for batch in batches
        for target in batch.targets
    ]
    counts = Counter(o.outcome.value for o in observations)
    offline = counts[Outcome.NETWORK_UNAVAILABLE.value]
    events = store.record_observations(engine, run_id, observations, settings.health, now=now)
    store.mark_run_network_unavailable(engine, run_id, canary.reason_for(offline))
    return BatchStored(
        observations=len(observations),
        counts=dict(counts),
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
    lease: RunLease | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    on_stored: Callable[[], None] | None = None,
) -> BatchStored:
    """Store one checked batch, then look up archive copies for links that now need one.

    `archive` is the lookup to use (tests inject one with a mocked client); without it one
    is made when `HealthSettings.archive_lookups` is on and there is something to look up.
    `lease` (the run's) is renewed first: a run that lost it raises `LeaseLostError`
    instead of writing next to the run that took it over. A batch of a few hosts, none of
    which could be reached, asks witnesses (`_witnessed`) whether our network was down;
    `transport` and `resolver` reach those checks only (tests inject them). `on_stored`
    is called once the batch is committed, before the archive lookups: a run stopped
    during those must not store the batch again as unfinished (`store_unfinished`).
    """
    engine = engine_for(settings.database_url)
    ensure_same_file(engine)  # not stored into a file deleted meanwhile
    verdict = judge(_judged(observations, settings), settings.health.outage_host_share)
    if verdict.undecided:
        verdict = _witnessed(settings, engine, verdict, observations, transport, resolver, clock)
    kept = mask(observations, verdict)
    if lease is not None:
        _renew(engine, lease, now=clock())
    events = store.record_observations(engine, run_id, kept, settings.health, now=clock())
    if on_stored is not None:
        on_stored()
    if settings.health.archive_lookups:
        try:
            lookup_archives(settings, run_id, engine=engine, archive=archive, clock=clock)
        except Exception:  # a courtesy service: never let it fail the run
            log.warning("archive lookups failed; the run goes on", exc_info=True)
    counts: dict[str, int] = {}
    for obs in kept:
        if not obs.held:  # no check: the batch log counts no failure of it
            counts[obs.outcome.value] = counts.get(obs.outcome.value, 0) + 1
    return BatchStored(
        observations=len(kept),
        counts=counts,
        events=len(events),
        network_down=verdict.network_down,
    )


#: Seconds a stopped run may spend storing what its unfinished batches checked
#: (`store_unfinished`): a stop must stay quick, whatever was checked.
UNFINISHED_STORE_BUDGET_S = 5.0


@dataclass(frozen=True)
class UnfinishedStored:
    """What `store_unfinished` kept of a stopped run's unfinished batches."""

    #: URLs stored, in `batches` partial batches.
    stored: int = 0
    batches: int = 0
    #: URLs checked but not stored: an https upgrade left untried, no time left, a fault.
    set_aside: int = 0


def store_unfinished(
    settings: Settings,
    run_id: int,
    unfinished: Sequence[Sequence[Observation]],
    *,
    lease: RunLease | None = None,
    clock: Clock = utcnow,
    budget_s: float = UNFINISHED_STORE_BUDGET_S,
    timer: Callable[[], float] = time.monotonic,
) -> UnfinishedStored:
    """Store what each batch of a run stopped on purpose (Ctrl-C, SIGTERM) had checked when
    it stopped, so the next run need not check those URLs again: before, a batch was stored
    only once complete, and a stop dropped up to `batch_size` checked URLs per batch.

    Each batch is stored in one transaction, as `store_batch` stores a whole one, but
    nothing reaches the network after a stop: no witness is asked (`_witnessed`) and no
    archive copy looked up. A batch that is judged offline on its own is masked as
    `store_batch` masks it; one that cannot tell our network from its sites' without
    witnesses (`OutageVerdict.undecided`) has its network failures stored as our
    network's (`network_unavailable`), never counted against the sites: a stop is when a
    machine shuts down, its network maybe with it. An http link whose https form was to
    be tried (`catalog.upgrades.candidates`) is left for the next run: stored without it,
    its page read, the suggestion would wait a week for the next read.

    Bounded: no batch is started after `budget_s`, and waits for another process's lock
    on the database only until then (`catalog.db.waiting_until`): behind a held write lock
    one batch waited the whole busy timeout (30 s), before `abandon_run` could free the
    lease. A batch not stored in time, a lost lease (another run took over) or a failing
    database stops it with a warning. Never raises but for an interrupt (a second
    Ctrl-C), which leaves the batch being stored rolled back whole.
    """
    started = timer()
    stored = batches = set_aside = 0
    engine = engine_for(settings.database_url)
    for observations in unfinished:
        if not observations:
            continue
        spent = timer() - started
        if spent > budget_s:
            set_aside += len(observations)
            continue
        untried = candidates(observations) if settings.check.https_upgrades else {}
        kept = [o for o in observations if o.url not in untried]
        set_aside += len(observations) - len(kept)
        try:
            ensure_same_file(engine)  # not stored into a file deleted meanwhile
            with waiting_until(time.monotonic() + budget_s - spent):
                if lease is not None:
                    _renew(engine, lease, now=clock())
                verdict = judge(_judged(kept, settings), settings.health.outage_host_share)
                masked = _unknown(kept) if verdict.undecided else mask(kept, verdict)
                store.record_observations(engine, run_id, masked, settings.health, now=clock())
        except Exception as exc:  # the stop's own error is the one to see
            left = sum(len(o) for o in unfinished) - stored - set_aside
            why = (
                f"the database stayed locked past the {budget_s:g} s a stop may spend "
                f"storing them ({exc})"
                if isinstance(exc, StoreError) and exc.locked
                else str(exc)
            )
            log.warning(
                "run %s: %d checked URLs of its unfinished batches were not stored: %s",
                run_id,
                left,
                why,
            )
            return UnfinishedStored(stored, batches, set_aside + left)
        stored += len(masked)
        batches += 1
    return UnfinishedStored(stored, batches, set_aside)


def _unknown(observations: Sequence[Observation]) -> list[Observation]:
    """Network failures of a stopped batch that could not tell our network from its sites'
    (`store_unfinished`) as `network_unavailable` (`outage.unavailable`): they count against
    no link. The batch of a silent host alone, stopped before its end asked the host again,
    is such a batch: its held tries too."""
    return unavailable(
        observations,
        "The run was stopped before it could tell whether our network or the site was down "
        "(no other host is asked after a stop), so nothing was learned about this link.",
    )


def _judged(observations: Sequence[Observation], settings: Settings) -> list[Observation]:
    """The observations that judge whether our network was down: those of public hosts
    when the batch has any. The intranet server on 127.0.0.1 that answered says our machine
    works, not that the Internet does: taken as proof, it had every public link's DNS
    failure of a night offline counted against its site. A batch of private hosts alone
    is judged by them, as before (our own network is the one they need)."""
    public = [o for o in observations if _public_host(host_of(o.url), settings)]
    return public or list(observations)


def _public_host(host: str, settings: Settings) -> bool:
    """Whether an answer from `host` shows the public Internet reachable: not a loopback,
    private, link-local or other non-public address (`catalog.check.safety`), not this
    machine or the local network by name, nor a host the operator allow-listed as private
    (`check.private_allowlist`). A name that resolves to a private address is refused when
    it is fetched as a witness (`_witnessed`)."""
    if not host or is_loopback_name(host) or host.endswith(".local"):
        return False
    # As the check reads it: "0x7f.1" is 127.0.0.1 (`safety.written_address`).
    address = written_address(host)
    if address is not None:
        return forbidden_address(str(address), ()) is None
    return not host_allowlisted(host, settings.check.private_allowlist)


def _witnessed(
    settings: Settings,
    engine: Engine,
    verdict: OutageVerdict,
    observations: Sequence[Observation],
    transport: httpx.AsyncBaseTransport | None,
    resolver: Resolver | None,
    clock: Clock,
) -> OutageVerdict:
    """The verdict on a few unreachable hosts (fewer than `outage.MIN_HOSTS`), settled by
    fetching up to `WITNESSES` other hosts that answered at their last check. A curator's
    recheck of one link on a laptop that lost its connection must not count as the link
    failing, and two lapsed domains in one batch must not pass for our network being
    down; without canaries configured, nothing else in such a batch can tell. Costs a few
    requests, and only then.

    When none of the catalog's other hosts that answered is heard, the `canary_urls` stand
    in (a catalog of one or two hosts has no other: its two lapsed domains passed for our
    network being down, canaries or not); failing those, any other hosts (a machine offline
    since the catalog was added): if they cannot be reached either, blaming this one link's
    site would be crying wolf, as `outage.judge` holds for a many-host run.

    Public links are witnessed by public hosts only (`_public_host`): 127.0.0.1 answering
    says nothing of the Internet, and taking it as a witness had a night offline confirm
    public links broken. They are fetched with no private address allowed, so a host name
    that resolves into our own network is no witness either: it is refused unasked, and
    while none is heard the next `WITNESSES` hosts are asked until none is left, then the
    canaries. Three intranet names (`nas0.corp.example.org`, public by name) that answered
    last were once the only witnesses asked: all refused, nothing heard, and two lapsed
    domains passed for our network being down every night. If nothing at all is heard,
    it is as when there is no witness (`outage.confirmed_by`).
    """
    elsewhere = {host_of(o.url) for o in observations}
    public = any(_public_host(host, settings) for host in elsewhere)
    kind = functools.partial(_public_host, settings=settings) if public else None
    check = replace(settings.check, max_attempts=1)
    if public:
        check = replace(check, allow_private=False, private_allowlist=())
    asked: set[str] = set()
    heard: list[Observation] = []

    def ask(urls: Sequence[str]) -> None:
        asked.update(host_of(u) for u in urls)
        fetched = check_canaries(urls, check, transport=transport, resolver=resolver, clock=clock)
        heard.extend(w for w in fetched.observations if was_heard(w))

    def ask_hosts(*, answered_only: bool) -> None:
        while not heard:
            urls = store.answering_urls(
                engine,
                not_on=elsewhere | asked,
                limit=WITNESSES,
                answered_only=answered_only,
                kind=kind,
            )
            if not urls:
                return
            ask(urls)

    ask_hosts(answered_only=True)
    if not heard and settings.health.canary_urls:
        ask(settings.health.canary_urls)
    if not heard:
        ask_hosts(answered_only=False)
    settled = confirmed_by(verdict, heard)
    if settled.network_down and heard:
        hosts = ", ".join(sorted({host_of(w.url) for w in heard}))
        log.warning("no witness host answered either (%s): our network looks down", hosts)
    elif settled.network_down and asked:
        log.warning(
            "no witness host could be asked (%s: refused or not fetched): %d unreachable "
            "hosts look like our network down",
            ", ".join(sorted(asked)),
            settled.hosts,
        )
    return settled


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
    lease: RunLease | None = None,
) -> RunSummary:
    """Close the run, refresh staleness, and give the lease back (even when closing fails)."""
    network_down = any(b.network_down for b in stored)
    engine = engine_for(settings.database_url)
    now = clock()
    try:
        ensure_same_file(engine)  # a run whose file went is no completed run
        record = store.finish_run(
            engine,
            run_id,
            status=status,
            now=now,
            network_unavailable=network_down,
            summary={"batches": len(stored)},
        )
        store.refresh_staleness(engine, settings.health, now=now, run_id=run_id)
        # An ignore or snooze decided about another problem than the link has now ends.
        store.lapse_set_asides(
            engine, now=now, run_id=run_id, unavailable_days=settings.health.unavailable_days
        )
        drifted = store.drifted_in_run(engine, run_id, now=now)
        unsent = store.unsent_in_run(engine, run_id)
        private: tuple[str, ...] = ()
        if record.counts.get(Outcome.PRIVATE_ADDRESS.value):
            urls = store.private_urls_in_run(engine, run_id)
            private = tuple(dict.fromkeys(allowlist_entry(host_of(u)) for u in urls))
    finally:
        if lease is not None:
            store.release_lease(engine, lease.name, lease.holder)
    return RunSummary(
        run_id=record.id,
        status=record.status,
        trigger=record.trigger,
        started_at=record.started_at,
        finished_at=record.finished_at,
        urls_checked=record.urls_checked,
        counts=dict(record.counts),
        network_unavailable=record.network_unavailable,
        sync_changes=sync.change_count if sync is not None else 0,
        extra={
            k: record.summary[k]
            for k in ("network_unavailable_reason", "archive_lookups")
            if k in record.summary
        },
        drifted=drifted,
        unsent=unsent,
        private_hosts=private,
    )


#: Seconds `abandon_run` waits, in all, for another process's lock on the database while
#: it marks the run ended and gives its lease back. Behind a held write lock each of those
#: two writes waited the whole busy timeout (30 s): 60 s, and with `store_unfinished`
#: before it a stop outlasted systemd's default 90 s before its SIGKILL. Past it the
#: lease is left to the next run on this machine or to its expiry, and a warning says so.
ABANDON_WAIT_S = 20.0


def abandon_run(
    settings: Settings,
    prepared: PreparedRun,
    *,
    reason: str,
    stopped: bool = False,
    clock: Clock = utcnow,
    wait_s: float = ABANDON_WAIT_S,
) -> None:
    """A run that raised: mark it failed (if still running) and release its lease.

    `stopped`: it was stopped on purpose (Ctrl-C, SIGTERM from a worker or systemd), which
    is no failure of the run: it ends `aborted`, as a run found dead does, with `reason`.
    Called from the caller's `finally`/`except`; never raises, so the original error is
    the one people see. Bounded: both writes wait for another process's lock `wait_s` in
    all (`catalog.db.waiting_until`); the lease is then still tried once, at once.
    """
    engine = engine_for(settings.database_url)
    status, key = ("aborted", "aborted_reason") if stopped else ("failed", "failed_reason")
    with waiting_until(time.monotonic() + wait_s):
        try:
            if store.get_run(engine, prepared.run_id).status == "running":
                store.finish_run(
                    engine, prepared.run_id, status=status, now=clock(), summary={key: reason}
                )
        except LinkhealthError as exc:  # e.g. the database went away: one line
            log.warning("could not mark run %s %s: %s", prepared.run_id, status, exc)
        except Exception:
            log.warning("could not mark run %s %s", prepared.run_id, status, exc_info=True)
        finally:  # also on a second Ctrl-C meanwhile: the lease is free at once, not at expiry
            if prepared.lease is not None:
                _give_back(engine, prepared.lease, prepared.run_id)


def _give_back(engine: Engine, lease: RunLease, run_id: int) -> None:
    """`release_quietly` for `abandon_run`, whose warning says when the lease frees itself:
    a stop that could not give it back must not read as if the next run were refused."""
    try:
        store.release_lease(engine, lease.name, lease.holder)
        return
    except Exception as exc:
        error: BaseException = exc
    try:  # a read: a writer's lock does not hold it up (WAL, PostgreSQL)
        held = store.get_lease(engine, lease.name)
    except Exception:
        held = None
    until = (
        f"at {held.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        if held is not None and held.holder == lease.holder
        else f"{lease.ttl} after the run's last heartbeat"
    )
    log.warning(
        "run %s could not give back its lease %r: %s. The next run on this machine takes it "
        "over once this process has ended; elsewhere it expires on its own %s",
        run_id,
        lease.name,
        error if isinstance(error, LinkhealthError) else repr(error),
        until,
    )


def lost_batches(
    exc: StoreError, prepared: PreparedRun, stored: Sequence[BatchStored]
) -> StoreError:
    """The error a run that a database fault stopped part-way ends with: the fault, how many
    URLs' results were lost with the batches not stored, and what to do. The fault's own
    "what was stored before is kept" read as if nothing was lost, though every batch
    checked after it (minutes of work when a lock was held for long) was."""
    kept = sum(b.observations for b in stored)
    lost = max(prepared.url_count - kept, 0)
    left = prepared.batch_count - len(stored)
    if lost == 0 and left <= 0:
        return exc
    if exc.locked:
        todo = (
            "`linkhealth status` shows a run or recheck in progress that may hold it; once "
            "it is free, run the check again, which checks them again"
        )
    else:
        todo = "once that is fixed, run the check again, which checks them again"
    before = f"; what it stored before ({counted(kept, 'result')}) is kept" if kept else ""
    said = (
        f"{exc.fault}; run {prepared.run_id} stopped there: the results of "
        f"{lost} of its {counted(prepared.url_count, 'URL')} were lost ({left} of its "
        f"{counted(prepared.batch_count, 'batch', 'batches')} not stored{before}): {todo}"
    )
    return type(exc)(said, fault=exc.fault, locked=exc.locked)


def release_quietly(engine: Engine, lease: RunLease) -> None:
    """Give `lease` back; a database that fails is logged (expiry frees it then), so the
    error that ended the run stays the one people see."""
    try:
        store.release_lease(engine, lease.name, lease.holder)
    except LinkhealthError as exc:
        log.warning("could not release lease %r: %s", lease.name, exc)
    except Exception:
        log.warning("could not release lease %r", lease.name, exc_info=True)
