"""Whether the nightly schedule is going to run: what `linkhealth status` says of it.

A `linkhealth serve` that stops pauses the deployments it served (Prefect's runner does), a
schedule can be switched off in the UI, and a run due while the Prefect server restarted
crashes in Prefect before our flow starts: each time no night runs, nothing is recorded,
and `status` said only that the API was up. So, when an API answers, `status` asks it
about the night's deployments (`read_nights`: a few calls, a short timeout) and says what
stops them, one line each with what to do (`night_lines`, pure, tested directly).

The night is `nightly`, or `nightly-sharded` when an operator switched to it (prefect.yaml
says how): whichever has an active schedule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

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


def last_due(deployment: Deployment, now: datetime) -> datetime | None:
    """When the latest night of its active cron schedules was due, at least `GRACE` ago and
    after the deployment was created (UTC); None when none was."""
    from zoneinfo import ZoneInfo

    # The cron reader Prefect's scheduler uses, so `day_or` and time zones mean the same.
    from prefect._vendor.croniter import croniter

    before = now - GRACE
    dues = []
    for schedule in deployment.schedules:
        if not schedule.active or schedule.cron is None:
            continue
        local = before.astimezone(ZoneInfo(schedule.timezone or "UTC"))
        due = croniter(schedule.cron, local, day_or=schedule.day_or).get_prev(datetime)
        dues.append(due.astimezone(UTC))
    due = max(dues, default=None)
    return due if due is not None and due > deployment.created else None


def night_lines(nights: Nights, seen: datetime | None, now: datetime, ui: str) -> list[str]:
    """What stops the nights, one line each with what to do: no deployment, no active
    schedule, both nights on, paused, nothing polling for its runs, the last night missing
    from the database, and the flow runs Prefect ended Crashed or Failed since."""
    deploy = "`prefect --no-prompt deploy --all` (workers) or start `linkhealth serve`"
    worker = "start a worker (`prefect worker start --pool linkhealth`) or `linkhealth serve`"
    on = [d for d in (nights.nightly, nights.sharded) if d is not None and d.scheduled]
    lines = []
    if nights.nightly is None and not on:
        lines.append(f"Prefect has no deployment {NIGHTLY}, so no night runs: run {deploy}.")
    elif not on:
        lines.append(
            f"Deployment {NIGHTLY} has no active schedule, so no night runs: resume it "
            f"(`prefect deployment schedule ls {NIGHTLY}` gives its id, then `prefect "
            f"deployment schedule resume {NIGHTLY} ID`), or run {deploy}."
        )
    if len(on) > 1:
        lines.append(
            f"Both {NIGHTLY} and {NIGHTLY_SHARDED} have an active schedule: two full runs a "
            "night. Pause one (`prefect deployment schedule pause ...`, see prefect.yaml)."
        )
    for deployment in on:
        if deployment.paused:
            lines.append(
                f"Deployment {deployment.name} is paused (a `linkhealth serve` that stops "
                "pauses what it served), so no night runs: start `linkhealth serve` again, "
                "or with workers run `prefect --no-prompt deploy --all` again (or resume it "
                "in the Prefect UI)."
            )
        elif not deployment.ready:
            lines.append(
                f"Nothing picks up the runs of {deployment.name} (Prefect says it is not "
                f"ready: no worker or `linkhealth serve` polls for them): {worker}."
            )
        due = last_due(deployment, now)
        if due is not None and (seen is None or seen < due):
            last = f"{seen:%Y-%m-%d %H:%M} UTC" if seen is not None else "never"
            lines.append(
                f"The night {deployment.name} scheduled for {due:%Y-%m-%d %H:%M} UTC is "
                f"missing: no run was recorded since (last seen: {last}); see its flow runs "
                f"in the Prefect UI: {ui}/deployments/deployment/{deployment.id}"
            )
    for run in nights.ended:
        why = run.message.strip().splitlines()[0][:200] if run.message.strip() else ""
        lines.append(
            f"Prefect flow run {run.name} of {run.deployment}, due "
            f"{run.expected:%Y-%m-%d %H:%M} UTC, ended {run.state}"
            f"{f': {why}' if why else ''}; linkhealth recorded nothing of it: "
            f"{ui}/runs/flow-run/{run.id}"
        )
    return lines


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
    from prefect.client.schemas.objects import DeploymentStatus, StateType
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    found: dict[str, Deployment | None] = {}
    # No retries: `status` says what it could not read rather than wait a minute for it.
    with (
        temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}),
        get_client(sync_client=True, httpx_settings={"timeout": TIMEOUT_S}) as client,
    ):
        for name in (NIGHTLY, NIGHTLY_SHARDED):
            try:
                d = client.read_deployment_by_name(name)
            except ObjectNotFound:
                found[name] = None
                continue
            schedules = tuple(
                Schedule(s.active, s.schedule.cron, s.schedule.timezone, s.schedule.day_or)
                if isinstance(s.schedule, CronSchedule)
                else Schedule(s.active)
                for s in d.schedules
            )
            found[name] = Deployment(
                name=name,
                id=str(d.id),
                created=(d.created or datetime.min.replace(tzinfo=UTC)).astimezone(UTC),
                paused=bool(d.paused),
                ready=d.status != DeploymentStatus.NOT_READY,
                schedules=schedules,
            )
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
                ended.append(
                    EndedRun(
                        name=run.name,
                        id=str(run.id),
                        deployment=ids.get(run.deployment_id, "?") if run.deployment_id else "?",
                        state=(state.name or state.type.value) if state is not None else "?",
                        expected=(run.expected_start_time or after).astimezone(UTC),
                        message=(state.message or "") if state is not None else "",
                    )
                )
    return Nights(found[NIGHTLY], found[NIGHTLY_SHARDED], tuple(ended))


def status_lines(url: str, seen: datetime | None, now: datetime) -> list[str]:
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
    return night_lines(nights, seen, now, url.removesuffix("/").removesuffix("/api"))
