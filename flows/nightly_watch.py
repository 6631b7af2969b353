"""Whether the nightly schedule is going to run: what `linkhealth status` says of it.

A `linkhealth serve` that stops pauses the deployments it served (Prefect's runner does), a
schedule can be switched off in the UI, and a run due while the Prefect server restarted
crashes in Prefect before our flow starts: each time no night runs, nothing is recorded,
and `status` said only that the API was up. So, when an API answers, `status` asks it
about the night's deployments (`read_nights`: a few calls, a short timeout) and says what
stops them, one line each with what to do (`night_lines`, pure, tested directly).

The night is `nightly`, or `nightly-sharded` when an operator switched to it (prefect.yaml
says how): whichever has an active schedule.

A night Prefect lost is caught up by `linkhealth serve` (`catch_up_lost_night`, decided by
`lost_night`, pure): a night's run that the runner had started a few seconds before it was due
(its prefetch) dies when the server goes away for a restart at that moment; Prefect ends it
`Crashed` once the server answers again (back within about a minute of the run's process
giving up), or shows it `Pending` for good (back later: the runner's report of the crash was
lost), with nothing left to run that night. (A server away across the due time but back before
the runner took the run is harmless: Prefect marks that run `Late` and the runner starts it when
the server is back.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from flows.pull_steps import LOGGED_AS, README_SECTION

if TYPE_CHECKING:
    from catalog.store import RunRecord

#: The deployments a night runs as (prefect.yaml: flow name/deployment name).
NIGHTLY = "check-catalog/nightly"
NIGHTLY_SHARDED = "check-catalog-sharded/nightly-sharded"
#: A night is called missing only this long after it was due: its run waits for a worker's
#: or `serve`'s next poll, then for its process to start.
GRACE = timedelta(minutes=15)
#: How long `status` waits for each answer of the API (which just answered its health check).
TIMEOUT_S = 3.0
#: How many of the latest Crashed or Failed flow runs are listed.
ENDED_SHOWN = 5
#: The tag of the catch-up run `linkhealth serve` starts for a night Prefect lost: the run
#: stands for that night (`flows.triggers`), and a night has at most one.
CATCH_UP_TAG = "linkhealth-catch-up"
#: Prefect's state type of a run that died without our flow's word (StateType.CRASHED).
CRASHED = "CRASHED"
PENDING = "PENDING"
#: A run `Pending` this long is lost: our flow starts seconds after a run turns Pending (one
#: waiting for its concurrency slot stays Scheduled), but when the server was away for more
#: than a minute after the run's process gave up, the runner could not record its crash, and
#: Prefect shows it Pending for good.
STUCK_PENDING = timedelta(minutes=10)


@dataclass(frozen=True)
class Schedule:
    active: bool
    #: None for a schedule that is no cron (an interval or RRule one added in the UI).
    cron: str | None = None
    timezone: str | None = None
    day_or: bool = True


@dataclass(frozen=True)
class Deployment:
    """What the API says of one night deployment."""

    name: str
    id: str
    created: datetime
    paused: bool
    #: Prefect's NOT_READY is False: nothing (a worker, `serve`) polled for its runs lately.
    ready: bool
    schedules: tuple[Schedule, ...] = ()
    #: Last made by `prefect deploy`, for a work pool's workers: it has prefect.yaml's pull
    #: step, which a `linkhealth serve` that serves it clears. Only `serve` catches up a night.
    by_workers: bool = False

    @property
    def scheduled(self) -> bool:
        return any(s.active for s in self.schedules)


@dataclass(frozen=True)
class EndedRun:
    """A flow run of a night deployment that ended Crashed or Failed."""

    name: str
    id: str
    deployment: str
    state: str
    expected: datetime
    message: str = ""
    #: Started by hand (`prefect deployment run`, the UI): no night's run, so no catch-up.
    manual: bool = False
    #: The error lines of its log, read for a crash: Prefect's state then says only
    #: "Process exited with status code: 1", the log why (`crash_cause`).
    log: str = ""


@dataclass(frozen=True)
class Nights:
    """The API's answer: each night deployment (None when it does not exist) and the flow
    runs of theirs that ended Crashed or Failed since the last night recorded."""

    nightly: Deployment | None
    sharded: Deployment | None
    ended: tuple[EndedRun, ...] = ()


def last_night_seen(
    runs: Sequence[RunRecord], dead: Mapping[int, str], now: datetime
) -> datetime | None:
    """The latest moment a run other than a recheck was seen: one in progress now (alive)
    counts as now, an ended one at its end. A night due while a `check` ran was skipped by
    the lease, not missed; a recheck checks no night. None when no such run is stored."""
    from catalog.clock import as_utc

    seen: list[datetime] = []
    for run in runs:
        if run.trigger == "recheck":
            continue
        if run.status == "running" and run.id not in dead:
            seen.append(now)
        else:
            seen.append(as_utc(run.finished_at or run.started_at))
    return max(seen, default=None)


@dataclass(frozen=True)
class UncheckedNight:
    """The latest run of a night, recorded by linkhealth, that stopped while it checked:
    killed (out of memory, `kill -9`, its `serve` or worker gone), found dead, or stopped.
    Nothing checks that night again by itself: a catch-up run is only for a night whose
    run crashed before linkhealth's flow started (`lost_night`)."""

    run_id: int
    started: datetime
    #: How it ended, as `linkhealth status` lists it: "aborted: ..." or "abandoned: ...".
    why: str
    deployment: str = NIGHTLY
    flow_run_id: str | None = None
    #: How far it got, from its run record: the URLs it checked (the live count of a run
    #: still stored as running, those with observations once the next run aborted it:
    #: `close_run`), of the URLs it planned (None when it recorded no plan: `known_plan`).
    urls_checked: int = 0
    urls_planned: int | None = None

    def progress(self) -> str:
        """ ", after 59 of 600 URLs" (", after 59 URLs" without a plan); "" before the run
        planned any URL."""
        from catalog.text import counted

        if self.urls_planned is None:
            return f", after {counted(self.urls_checked, 'URL')}"
        if not self.urls_planned:
            return ""
        return f", after {self.urls_checked} of {counted(self.urls_planned, 'URL')}"


def unchecked_night(runs: Sequence[RunRecord], dead: Mapping[int, str]) -> UncheckedNight | None:
    """The night left unchecked when the latest run other than a recheck is a night's
    (trigger `schedule`) that ended `aborted`, or is stored running though its process is
    gone (`dead`); None otherwise (a later run, finished or running, tells of the nights)."""
    from catalog.clock import as_utc
    from catalog.queries import known_plan

    nights = [run for run in runs if run.trigger != "recheck"]
    latest = max(nights, key=lambda run: run.id, default=None)
    if latest is None or latest.trigger != "schedule":
        return None
    if latest.status == "running" and latest.id in dead:
        why = f"abandoned: {dead[latest.id]}"
    elif latest.status == "aborted":
        why = f"aborted: {latest.summary.get('aborted_reason') or 'stopped'}"
    else:
        return None
    return UncheckedNight(
        run_id=latest.id,
        started=as_utc(latest.started_at),
        why=why,
        deployment=NIGHTLY_SHARDED if latest.summary.get("shard") else NIGHTLY,
        flow_run_id=latest.flow_run_id,
        urls_checked=latest.urls_checked,
        urls_planned=known_plan(latest.urls_planned, latest.urls_checked),
    )


def unchecked_line(night: UncheckedNight, ui: str) -> str:
    """What `status` says of a night whose run stopped while it checked, and the command
    that checks it now (with the PREFECT_API_URL a shell needs for it)."""
    line = (
        f"The night's run {night.run_id} (started {night.started:%Y-%m-%d %H:%M} UTC) stopped "
        f"while it checked{night.progress()} ({night.why.rstrip(' .')}), so that night went "
        "unchecked: no catch-up run follows a run killed or stopped while it checked (it may "
        f"be killed again); to check it now: `PREFECT_API_URL={ui}/api prefect deployment run "
        f"{night.deployment}`"
    )
    if night.flow_run_id:
        line += f"; its flow run: {ui}/runs/flow-run/{night.flow_run_id}"
    return line


def last_due(deployment: Deployment, now: datetime, grace: timedelta = GRACE) -> datetime | None:
    """When the latest night of its active cron schedules was due, at least `grace` ago and
    after the deployment was created (UTC); None when none was."""
    before = now - grace
    dues = [
        due
        for schedule in deployment.schedules
        if schedule.active and schedule.cron is not None
        for due in [latest_date(schedule, before)]
        if due is not None
    ]
    due = max(dues, default=None)
    return due if due is not None and due > deployment.created else None


#: How far back `latest_date` looks, widening while it finds no date: a cron's nights are
#: at most 8 years apart (29 February, skipping 2100).
_LOOK_BACK = tuple(timedelta(days=d) for d in (1 / 24, 1, 8, 32, 366, 8 * 366 + 2))


def latest_date(schedule: Schedule, before: datetime) -> datetime | None:
    """The latest date of cron `schedule` at or before `before` (UTC), as Prefect's scheduler
    makes its runs. croniter's `get_prev` disagrees with it around daylight-saving changes
    (a night an hour off, or one Prefect never made), which made `status` call a night
    missing that was not due, and miss one that was; asking Prefect's own computation
    agrees by construction. It gives dates forward from a start, at most `MAX_ITERATIONS` a
    call, so the window is widened until it holds one, and moved up while it is full."""
    from prefect.server.schemas.schedules import MAX_ITERATIONS, CronSchedule

    assert schedule.cron is not None
    cron = CronSchedule(
        cron=schedule.cron, timezone=schedule.timezone or "UTC", day_or=schedule.day_or
    )
    for span in _LOOK_BACK:
        found = _dates(cron, before - span, before)
        while len(found) >= MAX_ITERATIONS:  # a minute cron over a day: the latest are later
            found = _dates(cron, found[-1], before)
        if found:
            return found[-1]
    return None


def _dates(cron: Any, start: datetime, end: datetime) -> list[datetime]:
    """Prefect's dates of `cron` from `start` to `end`, in UTC, in order."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    # Its own thread: `get_dates` is a coroutine, and a caller may run in an event loop.
    with ThreadPoolExecutor(1) as thread:
        found = thread.submit(asyncio.run, cron.get_dates(start=start, end=end)).result()
    return sorted(d.astimezone(UTC) for d in found if start <= d <= end)


def night_lines(
    nights: Nights,
    seen: datetime | None,
    now: datetime,
    ui: str,
    unchecked: UncheckedNight | None = None,
    no_database: str | None = None,
) -> list[str]:
    """What stops the nights, one line each with what to do: no deployment, no active
    schedule, both nights on, paused, nothing polling for its runs, the last night missing
    from the database, the night whose run stopped while it checked (`unchecked`), and the
    flow runs Prefect ended Crashed or Failed since. `no_database` names the database that
    is not there (nothing seen): the nights may record in another one, which status was
    not pointed at (another folder, LINKHEALTH_DATABASE_URL), so both are said.

    The `prefect` commands said carry `PREFECT_API_URL={ui}/api`, as the command that checks
    a night now does: pasted in a shell without it (`status` finds the local server all the
    same), `prefect deploy` deployed into a throw-away server of its own, said it succeeded,
    and `status` still said there was no deployment; `prefect worker start` refused to
    start. Which night runs is switched in prefect.yaml (its `active:` flags), not by
    pausing or resuming a schedule: each deploy sets them back to the file's."""
    api = f"PREFECT_API_URL={ui}/api"
    deploy = f"`{api} prefect --no-prompt deploy --all` (workers) or start `linkhealth serve`"
    worker = f"{worker_command(ui, 'a worker')}, or `linkhealth serve`"
    on = [d for d in (nights.nightly, nights.sharded) if d is not None and d.scheduled]
    lines = []
    if nights.nightly is None and not on:
        lines.append(f"Prefect has no deployment {NIGHTLY}, so no night runs: run {deploy}.")
    elif not on:
        lines.append(
            f"Deployment {NIGHTLY} has no active schedule, so no night runs: set `active: "
            f"true` on its schedule in prefect.yaml (or on {NIGHTLY_SHARDED}'s, with workers) "
            f"and run {deploy}, which sets each schedule to its `active` there; one resumed "
            f"by hand (`{api} prefect deployment schedule ls {NIGHTLY}` gives its id, then "
            f"`{api} prefect deployment schedule resume {NIGHTLY} ID`) is set back to it by "
            "the next deploy."
        )
    if len(on) > 1:
        lines.append(
            f"Both {NIGHTLY} and {NIGHTLY_SHARDED} have an active schedule: two full runs a "
            "night. Set `active: false` on one of their schedules in prefect.yaml (the "
            f"sharded one's, as shipped, or {NIGHTLY}'s when workers run the sharded night) "
            f"and run `{api} prefect --no-prompt deploy --all` again, which sets each "
            "schedule to its `active` there: one paused by hand or in the Prefect UI is set "
            "back to it by the next deploy."
        )
    for deployment in on:
        if deployment.paused:
            lines.append(
                f"Deployment {deployment.name} is paused (a `linkhealth serve` that stops "
                "pauses what it served), so no night runs: start `linkhealth serve` again, "
                f"or with workers run `{api} prefect --no-prompt deploy --all` again (or "
                "resume it in the Prefect UI)."
            )
        elif not deployment.ready:
            lines.append(
                f"Nothing picks up the runs of {deployment.name} (Prefect says it is not "
                f"ready: no worker or `linkhealth serve` polls for them): {worker}."
            )
        due = last_due(deployment, now)
        if due is not None and no_database is not None:
            lines.append(
                f"The night {deployment.name} scheduled for {due:%Y-%m-%d %H:%M} UTC is in no "
                f"database here: there is none at {no_database}, which a night run with these "
                "settings would have made. Either the nights record in another database (run "
                "status with their settings: in the folder of their linkhealth.toml, with "
                "their LINKHEALTH_DATABASE_URL or --db) or none ran: see its flow runs in the "
                f"Prefect UI: {ui}/deployments/deployment/{deployment.id}"
            )
        elif due is not None and (seen is None or seen < due):
            last = f"{seen:%Y-%m-%d %H:%M} UTC" if seen is not None else "never"
            lines.append(
                f"The night {deployment.name} scheduled for {due:%Y-%m-%d %H:%M} UTC is "
                f"missing: no run was recorded since (last seen: {last}); see its flow runs "
                f"in the Prefect UI: {ui}/deployments/deployment/{deployment.id}"
            )
    if unchecked is not None:
        lines.append(unchecked_line(unchecked, ui))
    lines.extend(ended_run_line(run, ui) for run in nights.ended)
    lines.extend(catch_up_lines(nights, ui))
    return lines


def ended_run_line(run: EndedRun, ui: str) -> str:
    """One flow run Prefect ended Crashed or Failed: which, started how, Prefect's reason,
    the cause its log names when Prefect's says none (`crash_cause`), and its page."""
    when = f"{run.expected:%Y-%m-%d %H:%M} UTC"
    started = f"started by hand {when}" if run.manual else f"due {when}"
    # Prefect's messages end in "."; ours joins with ";" (it read "general error.;").
    why = _first_line(run.message).rstrip(" .")
    line = f"Prefect flow run {run.name} of {run.deployment}, {started}, ended {run.state}"
    line += f": {why}" if why else ""
    cause = crash_cause(f"{run.message}\n{run.log}", ui)
    if cause is not None:
        line += f". Its log says why: {cause}. linkhealth recorded nothing of it"
    else:
        line += "; linkhealth recorded nothing of it"
    return f"{line}: {ui}/runs/flow-run/{run.id}"


def catch_up_lines(nights: Nights, ui: str) -> list[str]:
    """What becomes of the nights whose run crashed before our flow started, and the
    command that checks one now (with the PREFECT_API_URL a shell needs for it). Only
    `linkhealth serve` starts a catch-up run: not for a night run by workers, nor for a
    run started by hand, which stands for no night."""
    crashed = [run for run in nights.ended if run.state == "Crashed" and not run.manual]
    if not crashed:
        return []
    known = {d.name: d for d in (nights.nightly, nights.sharded) if d is not None}
    named = sorted({run.deployment for run in crashed if run.deployment != "?"}) or [NIGHTLY]
    now = " or ".join(f"`PREFECT_API_URL={ui}/api prefect deployment run {n}`" for n in named)
    if any(crash_cause(f"{run.message}\n{run.log}") for run in crashed):
        now += " once the cause its log names is fixed (until then it crashes the same way)"
    served = [n == NIGHTLY and n in known and not known[n].by_workers for n in named]
    crash = "A night whose run crashed before linkhealth's flow started"
    if all(served):
        # Only a serve that polls: said of a paused or unpolled nightly, "starts within
        # minutes" promised a catch-up no process would start.
        nightly = known[NIGHTLY]
        if nightly.paused or not nightly.ready:
            return [
                f"{crash} is checked by one catch-up run once `linkhealth serve` runs again "
                f"(the latest night only, for `nightly` only); to check it now: {now}."
            ]
        return [
            f"{crash} is checked by one catch-up run that `linkhealth serve` starts within "
            f"minutes (the latest night only, for `nightly` only); to check it now: {now}."
        ]
    if all(n in known for n in named) and not any(served):
        return [
            f"{crash} is not caught up by workers (only `linkhealth serve` starts a catch-up "
            f"run, for `nightly`); to check it now: {now}."
        ]
    return [
        f"{crash} is checked by one catch-up run when `linkhealth serve` runs `nightly`, "
        f"not when workers do; to check it now: {now}."
    ]


def worker_command(ui: str | None, worker: str = "the worker") -> str:
    """How to start a worker with the project's code (as `flows.pull_steps` says it): one
    started without LINKHEALTH_HOME gets every run refused. With the API `status` found
    (`ui`), the command carries its PREFECT_API_URL as the other `prefect` commands do:
    pasted in a fresh shell without it, `prefect worker start` refused to start ("
    `PREFECT_API_URL` must be set to start a Worker")."""
    api = f"PREFECT_API_URL={ui}/api " if ui is not None else ""
    return (
        f"start {worker} in the checkout as `{api}LINKHEALTH_HOME=$PWD prefect worker start "
        f"--pool linkhealth` ({README_SECTION})"
    )


#: Prefect's crash of a run whose worker found no linkhealth code in its working folder
#: (its temporary one: LINKHEALTH_HOME unset, before `flows.pull_steps` refused that).
_NO_FLOW_FILE = re.compile(r"No such file or directory: '([^']*flows/\w+\.py)'")


def crash_cause(text: str, ui: str | None = None) -> str | None:
    """The cause of a crash, told from its state message and log (`text`), when it is one
    an operator can fix from here: a worker without the project's code, with the command
    that starts one (`worker_command`). None otherwise."""
    start = f"{worker_command(ui)}, then run it again"
    for line in text.splitlines():
        if f"{LOGGED_AS}: " in line:  # flows.pull_steps' refusal says it all
            return line.partition(f"{LOGGED_AS}: ")[2].strip().rstrip(".")
    missing = _NO_FLOW_FILE.search(text)
    if missing is not None:
        return (
            f"the worker that ran it found no linkhealth code ({missing[1]} does not exist: "
            "LINKHEALTH_HOME was set neither where `prefect deploy` ran nor for the worker, "
            f"so the run started in the worker's temporary folder); {start}"
        )
    if "No module named 'flows'" in text:
        return (
            "the worker that ran it has no linkhealth in its Python (No module named "
            f"'flows'): use the checkout's .venv/bin/prefect; {start}"
        )
    return None


def read_deployment(client: Any, name: str) -> Deployment | None:
    """What Prefect's (sync) `client` says of deployment `name`; None when it has none."""
    from prefect.client.schemas.objects import DeploymentStatus
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.exceptions import ObjectNotFound

    try:
        d = client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None
    schedules = tuple(
        Schedule(s.active, s.schedule.cron, s.schedule.timezone, s.schedule.day_or)
        if isinstance(s.schedule, CronSchedule)
        else Schedule(s.active)
        for s in d.schedules
    )
    return Deployment(
        name=name,
        id=str(d.id),
        created=(d.created or datetime.min.replace(tzinfo=UTC)).astimezone(UTC),
        paused=bool(d.paused),
        ready=d.status != DeploymentStatus.NOT_READY,
        schedules=schedules,
        by_workers=bool(d.pull_steps),
    )


def read_nights(seen: datetime | None) -> Nights:
    """Ask the Prefect API (PREFECT_API_URL, which must be set) about the night
    deployments, and their flow runs that ended Crashed or Failed after `seen` (or after
    they were created). Raises what the client raises."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    found: dict[str, Deployment | None] = {}
    # No retries: `status` says what it could not read rather than wait a minute for it.
    with (
        temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}),
        get_client(sync_client=True, httpx_settings={"timeout": TIMEOUT_S}) as client,
    ):
        for name in (NIGHTLY, NIGHTLY_SHARDED):
            found[name] = read_deployment(client, name)
        ids = {UUID(d.id): d.name for d in found.values() if d is not None}
        ended: list[EndedRun] = []
        if ids:
            after = seen or min(d.created for d in found.values() if d is not None)
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=list(ids)),
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.CRASHED, StateType.FAILED])
                    ),
                    # pydantic takes a plain datetime for Prefect's own DateTime type.
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=after),  # type: ignore[arg-type]
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=ENDED_SHOWN,
            )
            for run in runs:
                state = run.state
                crashed = state is not None and state.type == StateType.CRASHED
                ended.append(
                    EndedRun(
                        name=run.name,
                        id=str(run.id),
                        deployment=ids.get(run.deployment_id, "?") if run.deployment_id else "?",
                        state=(state.name or state.type.value) if state is not None else "?",
                        expected=(run.expected_start_time or after).astimezone(UTC),
                        message=(state.message or "") if state is not None else "",
                        manual=not run.auto_scheduled and CATCH_UP_TAG not in (run.tags or ()),
                        log=error_log(client, run.id) if crashed else "",
                    )
                )
    return Nights(found[NIGHTLY], found[NIGHTLY_SHARDED], tuple(ended))


#: How many error lines of a crashed run's log `status` reads for its cause.
ERROR_LOGS_READ = 10


def error_log(client: Any, flow_run_id: UUID) -> str:
    """The ERROR lines of a flow run's log (with their tracebacks), for `crash_cause`."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel
    from prefect.client.schemas.sorting import LogSort

    logs = client.read_logs(
        log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]),
            level=LogFilterLevel(ge_=logging.ERROR),
        ),
        limit=ERROR_LOGS_READ,
        sort=LogSort.TIMESTAMP_ASC,
    )
    return "\n".join(log.message for log in logs)


def status_lines(
    url: str,
    seen: datetime | None,
    now: datetime,
    unchecked: UncheckedNight | None = None,
    no_database: str | None = None,
) -> list[str]:
    """`night_lines` for the Prefect API at `url` (which answered its health check); one
    line saying what failed when it cannot be asked: `status` never fails on it."""
    from flows.prefect_server import use_api

    use_api(url)  # else Prefect's client would start a throw-away server of its own
    try:
        nights = read_nights(seen)
    except Exception as exc:  # an API of another version, a timeout: only advice hangs on it
        return [
            f"Prefect API {url}: could not read the nightly deployments "
            f"({type(exc).__name__}: {exc}), so whether a night runs is not known"
        ]
    ui = url.removesuffix("/").removesuffix("/api")
    return night_lines(nights, seen, now, ui, unchecked, no_database)


# --- A night Prefect lost: one catch-up run, started by `linkhealth serve` -----------------
#
# Why `serve`, and not a Prefect automation that reruns the deployment when its run crashes:
# whether the night needs a run at all is in linkhealth's database (did a full run check the
# catalog since the night was due? did the crashed run's flow start, and die checking, as an
# out-of-memory kill does?), which an automation cannot ask before it starts a run; and an
# automation fires on every crash, its own rerun's too, so a run that dies checking would be
# started again and again. `serve` is also what is there when the server comes back: it asks
# every `CATCH_UP_EVERY_S` (`flows.serve`), so a catch-up follows within a minute or two.


@dataclass(frozen=True)
class NightRun:
    """A flow run of the night deployment expected at the night's due time or after."""

    name: str
    id: str
    #: Prefect's state type ("SCHEDULED" for a Late run too, "CRASHED", "COMPLETED", ...).
    state: str
    expected: datetime
    tags: tuple[str, ...] = ()
    message: str = ""
    #: When it entered its state.
    since: datetime | None = None

    @property
    def catch_up(self) -> bool:
        return CATCH_UP_TAG in self.tags

    def stuck(self, now: datetime) -> bool:
        """Pending for good: its process is gone (`STUCK_PENDING`)."""
        return (
            self.state == PENDING and self.since is not None and self.since <= now - STUCK_PENDING
        )

    def lost(self, now: datetime) -> bool:
        return self.state == CRASHED or self.stuck(now)


def lost_night(
    runs: Sequence[NightRun], recorded: Collection[str], covered: bool, now: datetime
) -> tuple[NightRun, ...]:
    """The runs of the latest due night Prefect lost, when one catch-up run is to be started
    for it; empty when none is.

    Lost: every run of the night ended `Crashed`, or is stuck `Pending` (`STUCK_PENDING`),
    and linkhealth recorded none of them (`recorded`: the flow run ids its database holds),
    so our flow never started. Nothing is
    started when a full run checked the catalog since the night was due (`covered`), when a
    catch-up of the night exists already (whatever its end: one a night, never a loop), when
    a run of it is still to run or running (a `Late` one: the runner starts it), ran
    (Completed, Skipped), failed with our flow's own word (a broken catalog fails the same
    way again) or was cancelled by someone, nor when one crashed after our flow started (a
    run killed while it checked, which may be killed again). A night with no run at all
    (paused, nothing served it) is only reported by `status`."""
    if covered or not runs or any(run.catch_up for run in runs):
        return ()
    if any(not run.lost(now) or run.id in recorded for run in runs):
        return ()
    return tuple(runs)


def night_runs(client: Any, deployment: Deployment, due: datetime, now: datetime) -> list[NightRun]:
    """The flow runs of `deployment` expected from the night's `due` time to `now` (later
    nights' runs, scheduled ahead, are not this night's)."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterExpectedStartTime,
    )

    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[UUID(deployment.id)]),
            # pydantic takes a plain datetime for Prefect's own DateTime type.
            expected_start_time=FlowRunFilterExpectedStartTime(after_=due, before_=now),  # type: ignore[arg-type]
        ),
        limit=50,
    )
    return [
        NightRun(
            name=run.name,
            id=str(run.id),
            state=run.state.type.value if run.state is not None else "?",
            expected=(run.expected_start_time or due).astimezone(UTC),
            tags=tuple(run.tags or ()),
            message=(run.state.message or "") if run.state is not None else "",
            since=run.state.timestamp.astimezone(UTC) if run.state is not None else None,
        )
        for run in runs
    ]


def night_covered(database_url: str, catalogs: Sequence[str], due: datetime) -> bool:
    """Whether a full run of all `catalogs` started at `due` or later and completed: the
    check-catalog flow's own rule (`checked_since_scheduled`) for a night run late."""
    from catalog.db import engine_for
    from catalog.queries import full_run_started_since

    return full_run_started_since(engine_for(database_url), due, catalogs) is not None


def catch_up_lost_night(
    client: Any,
    database_url: str,
    catalogs: Sequence[str],
    now: datetime,
    name: str = NIGHTLY,
) -> str | None:
    """Start one catch-up run of deployment `name` (scheduled, active, not paused) when
    Prefect lost its latest due night (`lost_night`), and say so; None when nothing was
    started. `client` is Prefect's sync client.

    The catch-up is created `Scheduled` at the night's due time, so it is that night's run:
    Prefect shows it as Late and the runner starts it at once; the flow measures "a full
    run checked since" from that time, so it checks unless a run covered the night
    meanwhile, and takes the trigger `schedule` from its tag, so a run holding the lease
    makes it end Skipped, never a second check at once. Its idempotency key is the night:
    two processes asking at once still make one run."""
    from prefect.states import Crashed, Scheduled

    from catalog.db import engine_for
    from catalog.queries import recorded_flow_runs

    deployment = read_deployment(client, name)
    if deployment is None or deployment.paused or not deployment.scheduled:
        return None
    due = last_due(deployment, now, grace=timedelta(0))
    if due is None:
        return None
    runs = night_runs(client, deployment, due, now)
    if not any(run.lost(now) for run in runs):
        return None  # the usual answer, without opening the database
    lost = lost_night(
        runs,
        recorded_flow_runs(engine_for(database_url), [run.id for run in runs]),
        night_covered(database_url, catalogs, due),
        now,
    )
    if not lost:
        return None
    for run in lost:
        if run.stuck(now):  # so the UI and `status` show it ended, and its slot is free
            client.set_flow_run_state(
                UUID(run.id),
                Crashed(
                    message=f"lost while the Prefect server was away: Pending since "
                    f"{run.since:%Y-%m-%d %H:%M} UTC, and linkhealth's flow never started "
                    "(marked by linkhealth serve, which started a catch-up run)"
                ),
                force=True,
            )
    created = client.create_flow_run_from_deployment(
        UUID(deployment.id),
        state=Scheduled(
            scheduled_time=due,
            message=f"catch-up of the night due {due:%Y-%m-%d %H:%M} UTC, which Prefect lost",
        ),
        tags=[CATCH_UP_TAG],
        idempotency_key=f"{CATCH_UP_TAG}:{deployment.id}:{due.isoformat()}",
    )
    ends = "; ".join(
        f"{run.name}: Pending since {run.since:%H:%M} UTC, now marked Crashed"
        if run.stuck(now)
        else f"{run.name}: {_first_line(run.message) or 'Crashed'}"
        for run in lost
    )
    return (
        f"The night {name} due {due:%Y-%m-%d %H:%M} UTC was lost in Prefect before "
        f"linkhealth's flow started (flow run {ends}); started one catch-up run of it, "
        f"{created.name}, which checks the catalog unless a full run has since."
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""
