"""Prefect flows `check-catalog` and `publish-report`: sync -> plan -> check -> store -> report.

Only wiring: each task wraps one `catalog` (or `reports`) call. Batches are
coarse (whole hosts, up to `batch_size` URLs, asyncio inside) because Prefect
costs milliseconds per task run; the flow body is the single writer to the
application database, storing each batch as soon as it finishes.

Around the run, `run_check` publishes what an operator watches in the Prefect UI:
a log line and a progress update per batch and every `PROGRESS_EVERY_S` between them
(most catalogs are one batch), then a summary (markdown), the action
queue (table), a link to the HTML report, and notification events when the links the
run checked raised the number of broken or drifted resources (decided in `catalog.ops`)
or the run was refused.

Run safety: a full run (no `resource_ids`) holds the database lease of `catalog.runs`
("full-run", or "full-run:i/n" for `shard="i/n"`), renewed by a heartbeat thread and by
each stored batch, released in a `finally`. When another run holds it, a scheduled run
(`trigger="schedule"` on a run the scheduler made: `flows.triggers`) ends `Skipped` (a
Completed state) with the holder and expiry in its message: an overlap is expected, not a
failure worth an alert, and a Cancelled state would make Prefect's engine log an ERROR
with a traceback. Any other trigger raises `RunInProgressError`, which the CLI turns
into exit code 8.

Scale-out: `check-catalog-sharded` starts one `check-catalog` deployment run per host
shard (`catalog.shards`), so several workers of one pool share a night's run while each
host stays on one machine; it waits for them and renders one report.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar, cast
from uuid import UUID

import httpx
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from catalog.check.loop import cancel_checks, shared_loop
from catalog.check.politeness import wake_tick
from catalog.clock import as_utc, utcnow
from catalog.collector import frozen_while
from catalog.commands import command_options
from catalog.db import engine_for, existing_database
from catalog.errors import CatalogError, LinkhealthError, NotFoundError, StoreError
from catalog.model import Batch, Observation
from catalog.ops import (
    QUEUE_ARTIFACT_ROWS,
    CheckedBatch,
    batch_stats,
    named_entries,
    notices,
    progress_percent,
    queue_table,
    report_artifact,
    run_mark,
    run_tally,
    summary_markdown,
)
from catalog.outcomes import held_silent
from catalog.progress import Quiet, waiting_line
from catalog.runs import (
    BatchStored,
    PreparedRun,
    RunInProgressError,
    RunSummary,
    UnfinishedStored,
    abandon_run,
    finish_run,
    gone_flow_runs,
    keep_lease,
    lost_batches,
    prepare_run,
    record_refusal,
    refused_reason,
    store_batch,
    store_unfinished,
)
from catalog.settings import CheckSettings, Settings, SettingsFileError, load_settings
from catalog.shards import Shard, all_shards, lease_name
from catalog.store import note_run_progress
from catalog.text import counted, per_second
from catalog.upgrades import check_batch_with_upgrades
from flows.events import emit_notices, emit_refusal
from flows.malloc_arenas import cap_malloc_arenas
from flows.parameters import plain_json_parameters
from flows.prefect_server import quiet_prefect_clients
from flows.triggers import run_trigger
from reports import publish_report
from reports.publish import (
    ReportFolderError,
    ReportWriteError,
    queue_head,
    unusable_report_folder,
)

#: Batches checked at once, side by side on one event loop, sharing the run's `concurrency`.
#: The plan assumes this many (`catalog.plan.PARALLEL_BATCHES`; a test keeps them equal).
BATCH_WORKERS = 4
#: Batches submitted ahead of the one being stored: enough to keep every worker busy.
SUBMIT_WINDOW = 2 * BATCH_WORKERS

#: Seconds between progress lines while no batch finishes.
PROGRESS_EVERY_S = 10.0

#: Name of the Completed state of a scheduled run that another full run made unnecessary.
SKIPPED = "Skipped"
#: Name of the Completed state of a batch its abandoned run did not check (`not_checked`).
NOT_CHECKED = "NotChecked"
#: Stable artifact keys: the Prefect UI shows each key's history across runs.
PROGRESS_KEY = "linkhealth-progress"
SUMMARY_KEY = "linkhealth-summary"
QUEUE_KEY = "linkhealth-action-queue"
REPORT_KEY = "linkhealth-report"


class _LiveCounts:
    """URLs each run of this process has checked so far, counted on the checking loop as
    each answer comes; stored counts move only when a whole batch is stored."""

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()

    def counter(self, run_id: int) -> Callable[[Observation], None]:
        counts = self._counts

        def count(_: Observation) -> None:
            counts[run_id] += 1

        return count

    def __getitem__(self, run_id: int) -> int:
        return self._counts[run_id]

    def forget(self, run_id: int) -> None:
        self._counts.pop(run_id, None)


_LIVE = _LiveCounts()


class _Unstored:
    """What each batch of a run of this process has checked and not yet stored, heard on
    the checking loop as each answer comes (`on_result`) and let go once its batch is
    stored: a run stopped on purpose stores them (`catalog.runs.store_unfinished`),
    where it dropped every URL of its unfinished batches, up to `batch_size` each."""

    def __init__(self) -> None:
        self._batches: dict[tuple[tuple[str | None, int], int], list[Observation]] = {}
        #: Batch -> its links held for their host's silence judged again since, by URL, as
        #: last judged (`check_targets`' `on_settled`): checked, held anew, or `timeout`.
        self._settled: dict[tuple[tuple[str | None, int], int], dict[str, Observation]] = {}
        self._lock = threading.Lock()

    def start(self, run_id: int, index: int) -> list[Observation]:
        """The list batch `index` appends to: a fresh one, a retry checks all again."""
        heard: list[Observation] = []
        with self._lock:
            self._batches[(_run_key(run_id), index)] = heard
            self._settled[(_run_key(run_id), index)] = {}
        return heard

    def settled(self, run_id: int, index: int, observation: Observation) -> None:
        """A link of batch `index` held for its host's silence, judged again since."""
        with self._lock:
            if (settled := self._settled.get((_run_key(run_id), index))) is not None:
                settled[observation.url] = observation

    def stored(self, run_id: int, index: int) -> None:
        with self._lock:
            self._batches.pop((_run_key(run_id), index), None)
            self._settled.pop((_run_key(run_id), index), None)

    def heard(self, run_id: int, index: int) -> set[str]:
        """The URLs batch `index` has checked so far (none once it is stored)."""
        with self._lock:
            heard = self._batches.get((_run_key(run_id), index), [])
            return {observation.url for observation in list(heard)}

    def held_silent(self, run_id: int, index: int) -> set[str]:
        """The URLs batch `index` heard held for their host's silence (`held_silent`), and
        held still: not checked again since, once their host answered (`settled`). A host
        back while its batch went on (`checker._Run._ask_early`) had its links checked;
        named still, a quiet run said it waited for it, "which answered none of its last
        links"."""
        with self._lock:
            heard = self._batches.get((_run_key(run_id), index), [])
            settled = self._settled.get((_run_key(run_id), index), {})
            held = {o.url for o in list(heard) if o.held and held_silent(o.reason)}
            again = list(settled.values())
        return held - {o.url for o in again if not (o.held and held_silent(o.reason))}

    def take(self, run_id: int) -> list[list[Observation]]:
        """What the run's batches not stored had checked, by batch; forgotten here. A link
        held for its host's silence and judged again since (`settled`) is that verdict: a
        run stopped after its host answered stored the held try, though the link had been
        checked."""
        key = _run_key(run_id)
        taken: list[list[Observation]] = []
        with self._lock:
            for k in sorted(k for k in self._batches if k[0] == key):
                settled = self._settled.pop(k, {})
                # A copy: a batch the stop did not end in time may still be appending.
                taken.append([settled.get(o.url, o) for o in list(self._batches.pop(k))])
        return taken


_UNSTORED = _Unstored()

#: Runs of this process being abandoned: their batches still waiting for a worker thread
#: must not start. `cancel_checks` stops only the batches checking at the time; the task
#: runner starts the waiting ones (up to `SUBMIT_WINDOW - BATCH_WORKERS`, each a whole
#: batch of fetching) after the run was marked failed and its lease released. Each with
#: what its log says it was (`_ended_as`).
_ABANDONED: dict[tuple[str | None, int], str] = {}


def _run_key(run_id: int) -> tuple[str | None, int]:
    """A run of this process in `_ABANDONED`: its flow run and its id. The id alone named
    the runs of every database this process checks (a `serve` given another database by a
    run's parameters; a fresh database starts again at run 1), and every batch of such a
    later run was skipped as abandoned, failing it."""
    return flow_run.get_id(), run_id


T = TypeVar("T")


#: Longest a UI call may take before the API counts as lost (`_PrefectUi`).
UI_CALL_TIMEOUT_S = 10.0


class _PrefectUi:
    """What a run shows in the Prefect UI (progress, summary, queue and report artifacts),
    which it can do without: when the Prefect API stops answering mid-run (its server
    stopped or restarting), the first call that fails is logged and the calls after it
    are skipped. The run goes on storing what it checks; before, the failed progress
    update failed the run and dropped the batches checked but not yet stored.

    A call gets `timeout_s`: Prefect's client retries a server that went away for about a
    minute, and the run waited for it, its console progress silent and its batches
    unstored meanwhile. The call goes on in its thread, and its end is not waited for.
    """

    def __init__(self, log: Any, timeout_s: float = UI_CALL_TIMEOUT_S) -> None:
        self._log = log
        self._timeout_s = timeout_s
        self.lost: Exception | None = None

    def __call__(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        if self.lost is not None:
            return None
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        context = contextvars.copy_context()  # the flow run's, which the artifacts need

        def run() -> None:
            try:
                done.set_result(context.run(call, *args, **kwargs))
            except BaseException as exc:
                done.set_exception(exc)

        threading.Thread(target=run, name="prefect-ui", daemon=True).start()
        try:
            return done.result(timeout=self._timeout_s)
        except (httpx.HTTPError, concurrent.futures.TimeoutError) as exc:
            # httpx.HTTPError: also PrefectHTTPStatusError, the API's 5xx.
            self.lost = exc
            what = (
                f"{type(exc).__name__}: {exc}"
                if str(exc)
                else f"no answer in {self._timeout_s:.0f} s"
            )
            self._log.warning(
                "The Prefect API did not answer (%s); the run goes on and stores what it "
                "checks, without progress or summary in the Prefect UI",
                what,
            )
            if not isinstance(exc, httpx.HTTPStatusError):  # gone, not only failing a call
                quiet_prefect_clients()  # said once: Prefect's clients would repeat it
            return None


def retry_unless_stopped(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Prefect retries a batch whose worker thread crashed, never one stopped on purpose:
    a run being abandoned (Ctrl-C or SIGTERM on `serve`, a lost lease) cancels its checks
    (`cancel_checks`), and a retry would only wait 5 s before failing the same way."""
    return not isinstance(state.data, (concurrent.futures.CancelledError, asyncio.CancelledError))


@task(
    name="check-batch",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=retry_unless_stopped,
)
def check_batch_task(batch: Batch, check: CheckSettings, run_id: int) -> CheckedBatch:
    # Prefect retries cover infrastructure (a crashed worker thread), never single links:
    # per-URL retries and back-off live in catalog.check.retry.
    if _run_key(run_id) in _ABANDONED:
        return not_checked(batch, run_id, _ABANDONED[_run_key(run_id)])
    started = time.perf_counter()
    # The worker thread waits while the process's one checking loop runs the batch beside
    # the run's others, all drawing on the run's `concurrency` (catalog.check.loop).
    loop = shared_loop()
    loop.set_wake_tick(wake_tick(check))
    slots = loop.slots(("check-run", run_id), check.concurrency)
    count, heard = _LIVE.counter(run_id), _UNSTORED.start(run_id, batch.index)

    def on_result(observation: Observation) -> None:
        count(observation)
        heard.append(observation)  # kept until the batch is stored (`_Unstored`)

    def on_settled(observation: Observation) -> None:
        _UNSTORED.settled(run_id, batch.index, observation)

    try:
        observations = check_batch_with_upgrades(
            batch,
            check,
            loop=loop,
            # Asked again where the loop starts it: the run may be abandoned since the
            # test above, and `cancel_checks` may have swept the loop before it got there.
            stopped=lambda: _run_key(run_id) in _ABANDONED,
            slots=slots,
            on_result=on_result,
            on_settled=on_settled,
        )
    except (concurrent.futures.CancelledError, asyncio.CancelledError):
        if _run_key(run_id) in _ABANDONED:  # stopped by `cancel_checks`: not a failure
            return not_checked(batch, run_id, _ABANDONED[_run_key(run_id)])
        raise  # not retried either: `retry_unless_stopped`
    return CheckedBatch(batch.index, tuple(observations), time.perf_counter() - started)


def not_checked(batch: Batch, run_id: int, ended_as: str = "abandoned") -> Any:
    """The end of a batch of an abandoned run that was stopped or never started: Completed,
    named `NOT_CHECKED`. Failed, each such batch logged an ERROR (Prefect logs every task
    run that does not complete at ERROR) after the run's own, flooding the Prefect UI and
    its alerts with one expected consequence; `run_check` warns once with their count.
    `ended_as`: what the run was (`_ended_as`)."""
    return Completed(
        name=NOT_CHECKED, message=f"run {run_id} was {ended_as}; batch {batch.index} not checked"
    )


@task(name="render-report", cache_policy=NO_CACHE)
def render_report_task(
    settings: Settings,
    run_id: int | None,
    *,
    after_run: bool = False,
    catalog_refused: bool = False,
) -> str:
    """The main file written (`publish_report`), which a run's `Report:` line names:
    run-<id>.html for a run (`after_run`) that a later one overtook, not latest.html.
    `catalog_refused`: the report written again after the run's refusal for its catalog."""
    log = get_run_logger()
    try:
        # Another database's reports in `reports_dir`: said once, by the run's logger, which
        # Prefect's UI shows too (`reports.publish`'s own logger it does not).
        path = publish_report(
            settings,
            run_id=run_id,
            after_run=after_run,
            warn=log.warning,
            catalog_refused=catalog_refused,
        )
    except LinkhealthError as exc:
        # A full disk or a read-only folder: its sentence says it all (`_SentenceEnough`).
        exc.said_by_state = True  # type: ignore[attr-defined]
        raise
    log.info("Report written to %s", path)
    return str(path)


def run_check(
    settings: Settings,
    *,
    trigger: str,
    resource_ids: list[str] | None = None,
    render: bool = True,
    shard: str | None = None,
    entries: list[tuple[str, str]] | None = None,
) -> RunSummary:
    """One check run inside the current flow; shared by `check-catalog` and `recheck`.

    A full run (no `resource_ids`) holds the run lease of its shard; rechecks hold none.
    `entries`: the (collection key, id) pairs `resource_ids` are narrowed to.
    """
    log = get_run_logger()
    ui = _PrefectUi(log)
    cap_malloc_arenas()  # before the checking thread starts (flows.malloc_arenas)
    # The run's events come after it: its tally counts what they changed (`run_tally`).
    mark = run_mark(engine_for(settings.database_url))
    part = Shard.parse(shard) if shard else None
    try:
        prepared = prepare_run(
            settings,
            trigger=trigger,
            flow_run_id=str(flow_run.id or ""),
            resource_ids=resource_ids,
            lease=lease_name(part) if resource_ids is None else None,
            shard=part,
            sharded_run=_parent_flow_run() if part else None,
            entries=entries,
        )
    except (CatalogError, NotFoundError) as exc:  # prepare_run records a refused catalog
        catalog = isinstance(exc, CatalogError)
        refuse(settings, exc, trigger=trigger, recorded=catalog, render=render and catalog)
        raise
    except BaseException as exc:  # a cancel in its first seconds: prepare_run freed the lease
        end_unprepared_run(settings, str(flow_run.id or ""), exc)
        raise
    # "0 catalog changes synced" right after a recheck's "after syncing 1 catalog change"
    # (its plan synced first) read as a contradiction.
    changes = prepared.sync.change_count
    log.info(
        "Run %s%s: %s; %s in %s",
        prepared.run_id,
        f" (shard {part})" if part else "",
        f"{counted(changes, 'catalog change')} synced" if changes else "catalogs as last synced",
        counted(prepared.url_count, "URL"),
        counted(prepared.batch_count, "batch", "batches"),
    )
    stored: list[BatchStored] = []
    # Each batch is let go once submitted, and its observations once stored.
    todo = deque(prepared.batches)
    prepared = prepared.without_batches()
    try:
        if render:
            _warn_if_no_report(settings, prepared.run_id, log)
        crash_dead_flow_runs(settings, prepared.aborted, log)
        # The imports and the batches waiting to be submitted, out of full collections.
        with keep_lease(settings, prepared.lease, run_id=prepared.run_id), frozen_while():
            _check_and_store(settings, prepared, todo, ui, stored)
        summary = finish_run(
            settings, prepared.run_id, stored=stored, sync=prepared.sync, lease=prepared.lease
        )
    except BaseException as exc:
        # Stop the batches still checking first (on SIGTERM from a worker or systemd only
        # this thread hears it): the lease must not be free while they run.
        _ABANDONED[_run_key(prepared.run_id)] = _ended_as(exc)
        kept, again = UnfinishedStored(), True  # again: a second Ctrl-C ends at once
        try:
            cancel_checks()
            again = False
        except Exception:
            again = False
            log.warning("could not stop the checks of run %s", prepared.run_id, exc_info=True)
        finally:  # a second Ctrl-C meanwhile must not keep the lease until it expires
            try:
                unfinished = _UNSTORED.take(prepared.run_id)
                # What a stopped run's unfinished batches checked; a failing run's database
                # or lease is not to be trusted with it.
                if was_stopped(exc) and not again:
                    kept = store_unfinished(
                        settings, prepared.run_id, unfinished, lease=prepared.lease
                    )
                del unfinished
            finally:
                abandon_run(
                    settings,
                    prepared,
                    reason=why_abandoned(exc) + _kept_words(prepared, stored, kept),
                    stopped=was_stopped(exc),
                )
        left = prepared.batch_count - len(stored)
        if left > 0:  # once per run; the cause is the run's own ERROR, Prefect logs it
            urls = prepared.url_count - sum(b.observations for b in stored)
            log.warning(
                "Run %s was %s (%s): %s",
                prepared.run_id,
                _ended_as(exc),
                why_abandoned(exc),
                _unstored_words(left, prepared.batch_count, urls, kept.stored),
            )
        if isinstance(exc, StoreError):  # the final error says what the fault cost
            lost = lost_batches(exc, prepared, stored)
            if lost is not exc:
                raise lost from exc
        raise
    unwritten: LinkhealthError | None = None
    if render:
        try:
            path = render_report_task(settings, prepared.run_id, after_run=True)
            summary = replace(summary, report_path=path)
        except ReportFolderError as exc:  # exit 1 (a report that failed), not 2 (refused)
            unwritten = ReportWriteError.after_run(exc, prepared.run_id)
        except LinkhealthError as exc:
            # The run is stored and complete: its summary and its events (a rise in broken
            # links) must still go out when only the report's disk is full.
            unwritten = exc
    for line in summary.lines():
        log.info(line)
    _publish(settings, summary, mark, ui)
    if unwritten is not None:
        raise unwritten
    return summary


def _unstored_words(left: int, batches: int, urls: int, kept: int) -> str:
    """What the warning of a stopped run says its `left` unfinished batches (of `batches`)
    cost: the `urls` they held, of which `kept` were stored (`store_unfinished`). In words
    a person reads, singular or plural (not "1 of its 1 batches were", "1 URLs were")."""
    of = f"{left} of its {counted(batches, 'batch', 'batches')}"
    verb = "was" if left == 1 else "were"
    if not kept:
        return f"{of} ({counted(max(urls, 0), 'URL')}) {verb} not stored"
    unstored = max(urls - kept, 0)
    return (
        f"{of} {verb} not stored whole: the {counted(kept, 'URL')} "
        f"{'it' if left == 1 else 'they'} had checked "
        f"{'was' if kept == 1 else 'were'} stored, {counted(unstored, 'URL')} "
        f"{'was' if unstored == 1 else 'were'} not (the next run checks them)"
    )


def _kept_words(
    prepared: PreparedRun, stored: Sequence[BatchStored], kept: UnfinishedStored
) -> str:
    """What a stopped run's reason adds, for `linkhealth status`, when it stored what its
    unfinished batches had checked (`store_unfinished`); nothing when it stored none."""
    if not kept.stored:
        return ""
    left = prepared.url_count - sum(b.observations for b in stored) - kept.stored
    return (
        f"; the {counted(kept.stored, 'URL')} its unfinished batches had checked "
        f"{'was' if kept.stored == 1 else 'were'} stored, {max(left, 0)} not"
    )


def refuse(
    settings: Settings,
    exc: CatalogError | NotFoundError,
    *,
    trigger: str,
    recorded: bool = False,
    render: bool = False,
) -> None:
    """Record this flow run as a run refused before it started (`record_refusal`, unless
    `recorded` already), so `linkhealth status` lists it, as the command line does for the
    runs it refuses; and announce it (`emit_refusal`): no one reads a scheduled run's
    error where a command line's would be read. With `render`, the report is written
    again: it heads with the refusal (`reports.build`), where curators look."""
    if not recorded:
        record_refusal(settings, exc, trigger=trigger, flow_run_id=str(flow_run.id or ""))
    emit_refusal(refused_reason(exc), trigger=trigger)
    if not render:
        return
    try:
        existing_database(settings.database_url)
    except StoreError:
        return  # no database yet: nothing was ever checked, there is no report to head
    try:
        # The refusal's error is the run's to say (its failed state, the command's `error:`),
        # not the report's hygiene warning too.
        render_report_task(settings, None, catalog_refused=isinstance(exc, CatalogError))
    except Exception as failed:  # the refusal is the error this run ends with
        get_run_logger().warning("The report was not written again: %s", failed)


#: True while a command runs a flow in its own process (`flows.cli.flow_run_here`): it
#: said its settings' warning on stderr (`flows.cli.said`), which the run's log would repeat.
_SETTINGS_SAID: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "settings_said", default=False
)


@contextmanager
def settings_said() -> Iterator[None]:
    """Around a flow run a command starts after saying its settings' warning."""
    token = _SETTINGS_SAID.set(True)
    try:
        yield
    finally:
        _SETTINGS_SAID.reset(token)


def logged(settings: Settings) -> Settings:
    """`settings`, once the run's log warns that LINKHEALTH_DATABASE_URL replaced the
    settings file's database (`Settings.database_warning`): a served or deployed run has
    no terminal, and its log is where an operator looks for why it wrote elsewhere."""
    if settings.database_warning is not None and not _SETTINGS_SAID.get():
        get_run_logger().warning(settings.database_warning)
    return settings


def flow_settings(
    config: str | None, overrides: dict[str, Any] | None, *, trigger: str
) -> Settings:
    """The settings of a run started by a flow (`linkhealth serve`, a worker). A settings
    file that cannot be used (edited since `serve` started) refuses the run: recorded in
    the database it would have used when that is known (`SettingsFileError`), else said
    in the run's log, since no `linkhealth status` will show it."""
    try:
        return logged(load_settings(config).with_overrides(**(overrides or {})))
    except SettingsFileError as exc:
        known = exc.known_settings(database_url=(overrides or {}).get("database_url"))
        if known is None:
            get_run_logger().warning(exc.not_recorded)
        else:
            record_refusal(known, exc, trigger=trigger, flow_run_id=str(flow_run.id or ""))
        emit_refusal(refused_reason(exc), trigger=trigger)
        raise


#: Our flows: `crash_dead_flow_runs` ends no other flow's runs.
OUR_FLOWS = frozenset({"check-catalog", "recheck"})


def crash_dead_flow_runs(settings: Settings, run_ids: Sequence[int], log: Any) -> int:
    """End as Crashed, in Prefect, the flow runs of the runs `run_ids` whose process was
    seen gone (`catalog.runs.gone_flow_runs`: killed with SIGKILL, or the machine went
    down): nothing else ever ends them, and the Prefect UI showed them Running forever
    (`serve` ends its own subprocesses' runs; a `linkhealth check` has no one to). Only
    runs of our flows still in a running state; never fails the run that found them.
    How many were ended."""
    if not run_ids:
        return 0
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    ended = []
    try:
        dead = gone_flow_runs(engine_for(settings.database_url), run_ids)
        if not dead:
            return 0
        with get_client(sync_client=True) as client:
            for run_id, flow_run_id in dead:
                try:
                    flow_run = client.read_flow_run(UUID(flow_run_id))
                except (ValueError, ObjectNotFound):  # not a flow run of this Prefect API
                    continue
                if flow_run.state is None or flow_run.state.is_final():
                    continue
                if client.read_flow(flow_run.flow_id).name not in OUR_FLOWS:
                    continue
                client.set_flow_run_state(
                    flow_run.id,
                    Crashed(
                        message=f"its process is gone: linkhealth run {run_id} was marked "
                        "aborted by the next run (`linkhealth status` shows it)"
                    ),
                    force=True,
                )
                ended.append(flow_run.name)
    except Exception as exc:  # Prefect's record only: never worth failing this run
        log.warning("could not end the flow runs of dead run(s) in Prefect: %s", exc)
    if ended:
        log.info("Marked Crashed the flow run(s) %s, whose process is gone", ", ".join(ended))
    return len(ended)


def _parent_flow_run() -> str | None:
    """The flow run id of the run that started this one (`check-catalog-sharded` starts its
    shards with `run_deployment`, which links them to it); None when there is none or the
    API cannot tell: the parent then still groups its shards itself when it lives."""
    try:
        parent = flow_run.parent_flow_run_id
    except Exception:
        get_run_logger().warning("could not read the parent of this shard run", exc_info=True)
        return None
    return str(parent) if parent else None


def _ended_as(exc: BaseException) -> str:
    """What a run that raised `exc` was, as its log says it: "aborted" when stopped on
    purpose, the word `linkhealth status` and README use for it ("Run 3 was abandoned" on
    Ctrl-C beside status's "aborted" read as two things); "abandoned" when it failed."""
    return "aborted" if was_stopped(exc) else "abandoned"


def was_stopped(exc: BaseException) -> bool:
    """Stopped on purpose: Ctrl-C, or SIGTERM from a worker, `serve` or systemd (Prefect
    raises `TerminationSignal` for it in the flow's thread)."""
    return isinstance(exc, KeyboardInterrupt | SystemExit | TerminationSignal)


def end_unprepared_run(settings: Settings, flow_run_id: str, exc: BaseException) -> None:
    """End the row of this flow run that `prepare_run` started before `exc` stopped it
    (a cancel or SIGTERM in the run's first seconds), as `abandon_run` ends a run's later:
    left `running`, `status` showed it abandoned until the next run marked it aborted
    ("seen for 0.0 s"). Never raises: `exc` is the error people see."""
    from catalog import store
    from catalog.db import engine_for

    if not flow_run_id:
        return
    status, key = ("aborted", "aborted_reason") if was_stopped(exc) else ("failed", "failed_reason")
    try:
        engine = engine_for(settings.database_url)
        for run in store.latest_runs(engine, limit=20):
            if run.flow_run_id == flow_run_id and run.status == "running":
                store.finish_run(
                    engine, run.id, status=status, now=utcnow(), summary={key: why_abandoned(exc)}
                )
    except Exception:
        get_run_logger().warning("could not end the run of flow run %s", flow_run_id, exc_info=True)


def _intent() -> str | None:
    """What Prefect's runner said it stops this flow run for ("cancel"), when it said."""
    try:  # Prefect's own record of it (`flow_engine` reads it so), private: best effort
        from prefect._internal.control_listener import get_intent
    except ImportError:
        return None
    return get_intent()


def why_abandoned(exc: BaseException) -> str:
    """The reason a run that raised `exc` records: only what is known of it."""
    if isinstance(exc, TerminationSignal) and _intent() == "cancel":
        return "cancelled (`prefect flow-run cancel` or the Prefect UI)"
    if isinstance(exc, SystemExit) and _caused_by(exc, BrokenPipeError):
        # Prefect's console log handler (rich) exits on a broken pipe: the process reading
        # this run's output is gone (a `serve` killed with -9 leaves its runs so).
        return (
            "its log output could no longer be written (broken pipe), so it exited "
            "(SystemExit): what read it was gone, e.g. the `linkhealth serve` or worker that "
            "started it, killed without a word (`kill -9`, out of memory); no signal reached it"
        )
    if isinstance(exc, SystemExit):
        return f"its process was made to exit (SystemExit: {exc.code!r})"
    if was_stopped(exc):
        return f"stopped by Ctrl-C or a termination signal ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether an exception of `kind` is in the chain `exc` was raised from or during."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, kind):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _check_and_store(
    settings: Settings,
    prepared: PreparedRun,
    todo: deque[Batch],
    ui: _PrefectUi,
    stored: list[BatchStored],
) -> None:
    """Check the batches of `todo` (taken from it as they are submitted) on the task runner
    and store each as soon as it finishes, into `stored` (which tells the caller how far a
    run that raised got)."""
    log = get_run_logger()
    run_id, url_count = prepared.run_id, prepared.url_count
    progress = ui(
        create_progress_artifact,
        0.0 if todo else 100.0,
        key=PROGRESS_KEY,
        description=f"URLs checked in run {run_id}",
    )
    finished: queue.SimpleQueue[PrefectFuture[CheckedBatch]] = queue.SimpleQueue()
    checking: dict[int, Batch] = {}
    quiet = Quiet()

    def submit_next() -> bool:
        # A bounded window of submitted batches: a finished batch's observations (text
        # samples included) are freed once stored, instead of living in its future until
        # the run ends (100,000 URLs held ~300 MB that way).
        if not todo:
            return False
        batch = todo.popleft()
        checking[batch.index] = batch  # for what a quiet run waits for (`_still_checking`)
        # quote(): Prefect would otherwise walk every target of the batch twice per task,
        # looking for futures to wait on (~0.1 ms of CPU per URL); the task gets the batch.
        # (Typed as the quote; Prefect hands the task what it wraps.)
        quoted = cast(Batch, quote(batch))
        future = check_batch_task.submit(quoted, settings.check, run_id)
        future.add_done_callback(finished.put)
        return True

    in_flight = sum(submit_next() for _ in range(SUBMIT_WINDOW))
    done_urls = said = 0
    started = time.perf_counter()

    def shown(done: int) -> int:
        # A retried batch counts twice live; the bar never runs past the end or backwards.
        return min(url_count, max(done, _LIVE[run_id]))

    try:
        while in_flight:
            try:
                future = finished.get(timeout=PROGRESS_EVERY_S)
            except queue.Empty:
                live = shown(done_urls)
                if live <= said:
                    # The last slow URLs: say what the run waits for, now and then.
                    if (quiet_s := quiet.due()) is not None:
                        pending = _still_checking(run_id, checking.values())
                        held = [] if pending else _held_for_silence(run_id, checking.values())
                        log.info("%s", waiting_line(pending, quiet_s, held))
                    continue
                said = live
                quiet.moved()
                rate = live / max(time.perf_counter() - started, 1e-6)
                log.info("%d/%d URLs checked (%s URLs/s)", live, url_count, per_second(rate))
                try:  # for `linkhealth status`; never worth failing the run over
                    note_run_progress(engine_for(settings.database_url), run_id, live, now=utcnow())
                except LinkhealthError as exc:  # e.g. the database went away: one line
                    # The error's own advice ("run the command again") is not for this.
                    log.warning(
                        "could not note the progress of run %s for `linkhealth status`; "
                        "the run goes on (%s)",
                        run_id,
                        str(exc).split("; ")[0],
                    )
                except Exception:
                    log.warning(
                        "could not note the progress of run %s for `linkhealth status`; "
                        "the run goes on",
                        run_id,
                        exc_info=True,
                    )
                if progress is not None:
                    ui(update_progress_artifact, progress, progress_percent(live, url_count))
                continue
            checked = future.result()
            checking.pop(checked.index, None)
            quiet.moved()
            in_flight -= 1
            in_flight += submit_next()
            done_urls = _store_one(settings, prepared, checked, stored, done_urls, started)
            del checked, future  # not kept while the next batch is awaited
            if progress is not None:
                ui(
                    update_progress_artifact,
                    progress,
                    progress_percent(shown(done_urls), url_count),
                )
    finally:
        _LIVE.forget(run_id)


def _still_checking(run_id: int, batches: Iterable[Batch]) -> list[tuple[str, str]]:
    """The (URL, host) of the URLs of `batches` not checked yet: what a quiet run waits
    for. Asked only then (`Quiet`), never per URL."""
    pending: list[tuple[str, str]] = []
    for batch in batches:
        heard = _UNSTORED.heard(run_id, batch.index)
        pending.extend((t.url, t.host) for t in batch.targets if t.url not in heard)
    return pending


def _held_for_silence(run_id: int, batches: Iterable[Batch]) -> list[tuple[str, str]]:
    """The (URL, host) of the URLs of `batches` heard held for their host's silence: what a
    quiet run waits for once every URL was heard (`waiting_line`). Asked only then."""
    held: list[tuple[str, str]] = []
    for batch in batches:
        silent = _UNSTORED.held_silent(run_id, batch.index)
        held.extend((t.url, t.host) for t in batch.targets if t.url in silent)
    return held


def _store_one(
    settings: Settings,
    prepared: PreparedRun,
    checked: CheckedBatch,
    stored: list[BatchStored],
    done: int,
    started: float,
) -> int:
    """Store one checked batch, append it to `stored` and log it with the run's totals
    (`done` URLs stored before it, checking since `started`); the URLs stored now."""
    result = store_batch(
        settings,
        prepared.run_id,
        checked.observations,
        lease=prepared.lease,
        on_stored=lambda: _UNSTORED.stored(prepared.run_id, checked.index),
    )
    stored.append(result)
    done += result.observations
    elapsed = max(time.perf_counter() - started, 1e-6)
    stats = batch_stats(checked, result.counts)
    get_run_logger().info(
        "Batch %d/%d: %s in %.1f s (%s URLs/s), %s, %s; %d/%d URLs done (%s URLs/s overall), %s%s",
        len(stored),
        prepared.batch_count,
        counted(stats.urls, "URL"),
        stats.seconds,
        per_second(stats.urls_per_second),
        counted(stats.failures, "failure"),
        counted(stats.retries, "retry", "retries"),
        done,
        prepared.url_count,
        per_second(done / elapsed),
        counted(result.events, "event"),
        "; NETWORK LOOKS DOWN" if result.network_down else "",
    )
    return done


def _warn_if_no_report(settings: Settings, run_id: int, log: Any) -> None:
    """Say as the run starts when its report cannot be written into the reports folder
    (a file, read-only): the run goes on, since its results are worth keeping all the
    same (README's exit codes), but this was only said as it ended (exit 1)."""
    try:
        unusable = unusable_report_folder(settings, engine_for(settings.database_url))
    except Exception:  # a warning's own failure must not cost the run
        log.debug("could not look at the reports folder", exc_info=True)
        return
    if unusable is not None:
        log.warning(
            "the reports folder cannot be written (%s): run %s will be checked and stored "
            "but no report written; `linkhealth report` writes it once the folder can be",
            unusable,
            run_id,
        )


def _publish(settings: Settings, summary: RunSummary, mark: int, ui: _PrefectUi) -> None:
    """Notification events and the summary, queue and report artifacts of a finished run
    (`mark`: `run_mark` as it started)."""
    engine = engine_for(settings.database_url)
    before, after = run_tally(engine, summary.run_id, mark=mark)
    sent = notices(
        before,
        after,
        network_unavailable=summary.network_unavailable,
        offline=summary.offline_in_part,
        urls=summary.urls_checked,
    )
    emit_notices(sent, run_id=summary.run_id, trigger=summary.trigger)
    ui(
        create_markdown_artifact,
        summary_markdown(summary.lines(), before, after, sent),
        key=SUMMARY_KEY,
        description=f"linkhealth run {summary.run_id}",
    )
    _queue_artifact(ui, settings, f"Action queue after run {summary.run_id}, most urgent first")
    if summary.report_path:
        _report_artifact(
            ui, settings, summary.report_path, f"Report written by run {summary.run_id}"
        )


def _queue_artifact(ui: _PrefectUi, settings: Settings, description: str) -> None:
    """The head of the action queue as a table artifact (`queue_head`)."""
    if ui.lost is not None:  # reading the queue is wasted when nothing can show it
        return
    rows = queue_head(
        engine_for(settings.database_url),
        now=utcnow(),
        limit=QUEUE_ARTIFACT_ROWS,
        options=command_options(settings).words,
        unavailable_days=settings.health.unavailable_days,
    )
    ui(create_table_artifact, queue_table(rows), key=QUEUE_KEY, description=description)


def publish_after_sync(settings: Settings, after: str) -> str:
    """Write the latest report again (`render_report_task`), with the action queue and
    report artifacts a run publishes, for a flow that checked nothing but whose sync, or
    one since the report, changed what they list: a recheck after an entry was removed.
    `after`: what they follow, in words ("syncing 1 catalog change (1 removed)",
    `RecheckPlan.after_words`)."""
    path = render_report_task(settings, None)
    ui = _PrefectUi(get_run_logger())
    _queue_artifact(ui, settings, f"Action queue after {after}, most urgent first")
    _report_artifact(ui, settings, path, f"Report written again after {after}")
    return path


def _report_artifact(ui: _PrefectUi, settings: Settings, path: str, description: str) -> None:
    """The report's link when it is published on the web (`reports_url`), else where it
    is on this machine and how to open it (`report_artifact`): not a dead file:// link."""
    report = report_artifact(path, settings)
    if report.url is not None:
        ui(
            create_link_artifact,
            report.url,
            link_text="HTML report",
            key=REPORT_KEY,
            description=description,
        )
    else:
        ui(create_markdown_artifact, report.markdown, key=REPORT_KEY, description=description)


# The ignore: Prefect 3.9 annotates `task_runner` as TaskRunner[PrefectFuture], which its
# own ThreadPoolTaskRunner (TaskRunner[PrefectConcurrentFuture]) is not to mypy.
@plain_json_parameters
@flow(name="check-catalog", task_runner=ThreadPoolTaskRunner(max_workers=BATCH_WORKERS))  # type: ignore[arg-type]
def check_catalog(
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    resource_ids: list[str] | None = None,
    trigger: str = "manual",
    render: bool = True,
    shard: str | None = None,
    entries: list[str] | None = None,
) -> RunSummary:
    """Check every URL of the configured catalogs (or of one host shard, "1/2") and record
    what was found. A scheduled run that finds another full run in progress, or one
    started after its own scheduled time (a missed night run late), is Skipped.
    `entries`: ids named `KEY/ID`, checked in catalog KEY only, as `recheck` takes them
    (`resource_ids` in every catalog using them)."""
    trigger = run_trigger(trigger)
    try:
        settings = flow_settings(config, overrides, trigger=trigger)
        if shard is None and resource_ids is None and not entries:
            late = checked_since_scheduled(settings, trigger)
            if late is not None:
                get_run_logger().warning("Skipped: %s", late)
                return skipped(late)
        pairs = None
        if entries:
            resource_ids, pairs = _named_entries(settings, resource_ids, entries, trigger, render)
        return run_check(
            settings,
            trigger=trigger,
            resource_ids=resource_ids,
            render=render,
            shard=shard,
            entries=pairs,
        )
    except RunInProgressError as exc:
        if trigger != "schedule":
            return failed_with(exc)
        get_run_logger().warning("Skipped: %s", exc)
        return skipped(exc)
    except LinkhealthError as exc:
        return failed_with(exc)


def _named_entries(
    settings: Settings,
    resource_ids: Sequence[str] | None,
    entries: Sequence[str],
    trigger: str,
    render: bool,
) -> tuple[list[str], list[tuple[str, str]] | None]:
    """The ids a run given `entries` (`KEY/ID`) checks and the pairs it is narrowed to
    (`catalog.ops.named_entries`). A `KEY/ID` no catalog file KEY holds, or a catalog that
    cannot be read, refuses the run, recorded as an unknown id's is; the bundled demo
    catalog in a database of other collections is refused first, nothing recorded there."""
    try:
        return named_entries(settings, resource_ids, entries)
    except (CatalogError, NotFoundError) as exc:  # a broken catalog, entries none holds
        refuse(settings, exc, trigger=trigger, render=render and isinstance(exc, CatalogError))
        raise


def skipped(why: LinkhealthError | str) -> Any:
    """A scheduled run's end when another full run holds the lease, or already checked its
    night: Completed, named Skipped, with the reason in its message. Prefect ends a flow
    run in the state the flow returns."""
    return Completed(name=SKIPPED, message=f"skipped: {why}")


def checked_since_scheduled(settings: Settings, trigger: str) -> str | None:
    """Why a scheduled night need not check, if a full run started after its scheduled
    time (`queries.full_run_started_since`): Prefect ran missed nights late, all at once.
    The catch-up run `linkhealth serve` starts for a night Prefect lost is scheduled at that
    night's time (`flows.nightly_watch.catch_up_lost_night`), so it checks however late it
    starts, unless a full run has since."""
    if trigger != "schedule":
        return None
    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return None
    from catalog.queries import full_run_started_since
    from catalog.source import catalog_files

    moment = as_utc(scheduled)
    files = [str(path) for path in catalog_files(settings.catalogs)]
    covering = full_run_started_since(engine_for(settings.database_url), moment, files)
    if covering is None:
        return None
    return (
        f"run {covering.id} started at {covering.started_at:%Y-%m-%d %H:%M} UTC, after this "
        f"night's scheduled {moment:%Y-%m-%d %H:%M} UTC, and checked the catalog: a night "
        "Prefect started late (the machine was off or its server away) is not checked again"
    )


def failed_with(exc: LinkhealthError) -> Any:
    """The flow run's end for one of our own errors: Failed, with the error's sentence (it
    names the file, line or URL to fix) and no traceback in the run's log, which Prefect
    writes for an exception that escapes a flow. A caller of the flow still gets `exc`:
    Prefect raises a Failed state's exception, so the CLI prints it and exits its code."""
    exc.said_by_state = True  # type: ignore[attr-defined]  # `_SaidByItsState` drops its trace
    return Failed(message=str(exc), data=exc)


#: What Prefect's engine logs, with the traceback, when a flow run it runs for a worker or
#: `serve` ends Failed: it raises the state's exception to learn the result.
ENGINE_EXIT = "Engine execution exited with unexpected exception"


class _SaidByItsState(logging.Filter):
    """Drops that record for the errors `failed_with` made the run's end: a refused run (a
    broken catalog, a held lease) wrote 40-60 lines of Prefect's internals to serve's
    journal under the one line, "Finished in state Failed('FILE:LINE: ...')", that says it
    all. Any other exception, ours included, keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (record.msg == ENGINE_EXIT and getattr(exc, "said_by_state", False))


class _SentenceEnough(logging.Filter):
    """Keeps the line but not the traceback Prefect's task engine logs for a task that
    failed with one of our sentences: a report that could not be written after the run
    was stored whole wrote 40 lines of Prefect's internals under it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if getattr(exc, "said_by_state", False):
            record.exc_info, record.exc_text = None, None
        return True


# On the logger's object, which Prefect's logging setup keeps; the engine that runs a
# deployment's flow run imports this module before it runs the flow.
logging.getLogger("prefect.flow_runs").addFilter(_SaidByItsState())
logging.getLogger("prefect.task_runs").addFilter(_SentenceEnough())


@plain_json_parameters
@flow(name="publish-report")
def publish_report_flow(
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    run_id: int | None = None,
) -> str:
    """Render the report from the database without checking anything."""
    try:
        settings = logged(load_settings(config).with_overrides(**(overrides or {})))
        path = render_report_task(settings, run_id)
    except LinkhealthError as exc:
        return failed_with(exc)
    ui = _PrefectUi(get_run_logger())
    _report_artifact(ui, settings, path, "Report written by the publish-report flow")
    return path


@plain_json_parameters
@flow(name="check-catalog-sharded")
def check_catalog_sharded(
    shards: int = 2,
    deployment: str = "check-catalog/shard",
    config: str | None = None,
    overrides: dict[str, Any] | None = None,
    trigger: str = "schedule",
    render: bool = True,
    poll_seconds: float = 5.0,
) -> dict[str, str]:
    """Split one full run into `shards` host shards: one run of `deployment` (check-catalog
    with `shard="i/n"`) per shard, picked up by any worker of its pool, then wait for all
    and render one report. Returns each shard's final state name.

    The whole sharded run holds the lease of an unsharded full run, so it and `nightly` (or
    a manual `linkhealth check`) never check the same hosts at once; each shard run holds
    its own shard lease besides. Like `check-catalog`, a scheduled run that finds the lease
    held ends Skipped; any other trigger raises `RunInProgressError`. The bundled demo
    catalog in a database of other collections is refused first (`ConfigError`, as each
    shard run would be): no lease, no shard run, no report."""
    from prefect import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from catalog import store
    from catalog.runs import LEASE_TTL, RunLease, abort_stale_runs
    from catalog.source import load_catalogs
    from catalog.sync import refuse_demo_catalog

    log = get_run_logger()
    trigger = run_trigger(trigger)
    try:
        settings = flow_settings(config, overrides, trigger=trigger)
        # Before the lease and the shards, each of which it refuses: the demo catalog read
        # where no settings file names catalogs, and its report, are not production's.
        refuse_demo_catalog(settings)
        engine = engine_for(settings.database_url)
    except LinkhealthError as exc:
        return failed_with(exc)
    late = checked_since_scheduled(settings, trigger)
    if late is not None:
        log.warning("Skipped: %s", late)
        return skipped(late)
    try:  # a broken catalog refuses the night once, not once in each shard
        load_catalogs(settings.catalogs)
    except CatalogError as exc:
        refuse(settings, exc, trigger=trigger, render=render)
        return failed_with(exc)
    abort_stale_runs(engine, now=utcnow())  # frees the lease of a dead holder here
    lease = RunLease(name=lease_name(None), holder=store.lease_holder(str(flow_run.id or "")))
    claim = store.acquire_lease(engine, lease.name, lease.holder, now=utcnow(), ttl=LEASE_TTL)
    if not claim.acquired:
        refused = RunInProgressError(claim.lease)
        if trigger != "schedule":
            return failed_with(refused)
        log.warning("Skipped: %s", refused)
        return skipped(refused)
    states: dict[str, str] = {}
    try:
        with keep_lease(settings, lease):
            started = {
                str(part): cast(
                    FlowRun,
                    run_deployment(
                        deployment,
                        parameters={
                            "shard": str(part),
                            "config": config,
                            "overrides": overrides,
                            "trigger": trigger,
                            "render": False,
                        },
                        timeout=0,
                    ),
                ).id
                for part in all_shards(shards)
            }
            log.info("Started %d shard run(s) of %s", len(started), deployment)
            with get_client(sync_client=True) as client:
                while len(states) < len(started):
                    time.sleep(poll_seconds)
                    for part, run_id in started.items():
                        state = client.read_flow_run(run_id).state
                        if part not in states and state is not None and state.is_final():
                            states[part] = state.name or state.type.value
                            log.info("Shard %s: %s", part, state.name)
            # One run to the report: its figures and outage notice cover every shard.
            ids = store.group_shard_runs(
                engine, [str(i) for i in started.values()], str(flow_run.id)
            )
            if render:
                # As an unsharded run's report: of this night (known by its last shard's
                # id), which writes its run-<id>.html alone when a recheck ended after it.
                render_report_task(settings, max(ids) if ids else None, after_run=bool(ids))
    finally:
        store.release_lease(engine, lease.name, lease.holder)
    failed = sorted(p for p, name in states.items() if name not in ("Completed", SKIPPED))
    if failed:
        raise RuntimeError(f"shard run(s) {', '.join(failed)} did not complete: {states}")
    return states
