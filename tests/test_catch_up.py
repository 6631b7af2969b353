"""A night Prefect lost is caught up once.

Found by an operator walkthrough: a Prefect server restarted at the nightly's due time (an
upgrade at 02:00) killed the run its runner had taken up a few seconds before (its
prefetch); Prefect ended it Crashed once the server answered again, our flow never started,
and nothing ran that night. `linkhealth serve` now starts one catch-up run of that night,
unless a full run checked the catalog since it was due, and never a second one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.schedules import CronSchedule
from prefect.states import Completed, Crashed, Scheduled, State

from catalog.runs import FULL_RUN_LEASE, finish_run, prepare_run
from catalog.settings import Settings
from flows import check_flow, serve
from flows.nightly_watch import (
    CATCH_UP_TAG,
    NIGHTLY,
    NightRun,
    catch_up_lost_night,
    lost_night,
)
from flows.serve import CronSpec, DeploymentSpec, catching_up
from flows.triggers import trigger_of
from tests.factories import Ticker, settings_for, temporary_database, write_catalog

#: A night due at 02:00 in New York: 07:00 UTC in December.
DUE = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
NOW = DUE + timedelta(minutes=3)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)
DEPLOYMENT_ID = uuid4()
ENTRIES = [{"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"}]


def night_run(
    state: str, *, run_id: str = "fr-1", catch_up: bool = False, since: datetime = DUE
) -> NightRun:
    tags = (CATCH_UP_TAG,) if catch_up else ()
    return NightRun(
        name=f"run-{run_id}", id=run_id, state=state, expected=DUE, tags=tags, since=since
    )


def test_a_night_whose_only_run_crashed_before_our_flow_started_is_caught_up() -> None:
    crashed = night_run("CRASHED")
    assert lost_night([crashed], recorded=set(), covered=False, now=NOW) == (crashed,)


def test_a_night_whose_run_is_stuck_pending_is_caught_up() -> None:
    """The server came back too late for the runner to report the crash: Pending for good."""
    stuck = night_run("PENDING", since=DUE)
    assert lost_night([stuck], set(), False, now=DUE + timedelta(minutes=11)) == (stuck,)
    assert lost_night([stuck], set(), False, now=DUE + timedelta(minutes=2)) == ()


@pytest.mark.parametrize(
    ("runs", "recorded", "covered", "why"),
    [
        ([night_run("CRASHED")], set(), True, "a full run checked the catalog since it was due"),
        ([night_run("CRASHED")], {"fr-1"}, False, "our flow started: killed while it checked"),
        (
            [night_run("CRASHED"), night_run("CRASHED", run_id="c", catch_up=True)],
            set(),
            False,
            "its catch-up crashed too: one a night, never a loop",
        ),
        (
            [night_run("CRASHED"), night_run("COMPLETED", run_id="c", catch_up=True)],
            set(),
            False,
            "its catch-up ran",
        ),
        ([night_run("CRASHED"), night_run("SCHEDULED", run_id="2")], set(), False, "a Late run"),
        ([night_run("CRASHED"), night_run("RUNNING", run_id="2")], set(), False, "running"),
        ([night_run("PENDING", since=NOW)], set(), False, "about to run"),
        (
            [night_run("PENDING", since=DUE - timedelta(hours=1))],
            {"fr-1"},
            False,
            "our flow started it (its record tells)",
        ),
        ([night_run("COMPLETED")], set(), False, "it ran (or was Skipped)"),
        ([night_run("FAILED")], set(), False, "our flow refused it: it would again"),
        ([night_run("CANCELLED")], set(), False, "someone cancelled it"),
        ([], set(), False, "no run at all: `status` reports it"),
    ],
)
def test_no_catch_up(runs: list[NightRun], recorded: set[str], covered: bool, why: str) -> None:
    assert lost_night(runs, recorded, covered, NOW) == (), why


class FakePrefect:
    """The calls `catch_up_lost_night` makes of Prefect's sync client, over a list of
    flow runs of the nightly deployment (filtered by expected start time as the API does)."""

    def __init__(self, runs: list[FlowRun], *, paused: bool = False, active: bool = True):
        self.runs = runs
        self.created: list[dict[str, Any]] = []
        self.set: list[tuple[UUID, State[Any], bool]] = []
        self.deployment = SimpleNamespace(
            id=DEPLOYMENT_ID,
            created=CREATED,
            paused=paused,
            status=None,
            pull_steps=None,  # served by `linkhealth serve`, as the catch-up needs
            schedules=[
                SimpleNamespace(
                    active=active,
                    schedule=CronSchedule(cron="0 2 * * *", timezone="America/New_York"),
                )
            ],
        )

    def read_deployment_by_name(self, name: str) -> Any:
        assert name == NIGHTLY
        return self.deployment

    def read_flow_runs(self, *, flow_run_filter: Any, limit: int) -> list[FlowRun]:
        window = flow_run_filter.expected_start_time
        assert flow_run_filter.deployment_id.any_ == [DEPLOYMENT_ID]
        return [
            run
            for run in self.runs
            if run.expected_start_time is not None
            and window.after_ <= run.expected_start_time <= window.before_
        ]

    def set_flow_run_state(self, run_id: UUID, state: State[Any], force: bool = False) -> None:
        self.set.append((run_id, state, force))
        for run in self.runs:
            if run.id == run_id:
                run.state = state

    def create_flow_run_from_deployment(self, deployment_id: UUID, **kwargs: Any) -> FlowRun:
        self.created.append({"deployment_id": deployment_id, **kwargs})
        run = FlowRun(
            name="catch-up-run",
            flow_id=uuid4(),
            deployment_id=deployment_id,
            tags=list(kwargs["tags"]),
            state=kwargs["state"],
            expected_start_time=kwargs["state"].state_details.scheduled_time,
        )
        self.runs.append(run)
        return run


def prefect_run(state: State[Any], expected: datetime = DUE, **fields: Any) -> FlowRun:
    return FlowRun(
        name=fields.pop("name", "crashed-night"),
        flow_id=uuid4(),
        deployment_id=DEPLOYMENT_ID,
        state=state,
        # pydantic takes a plain datetime for Prefect's own DateTime type.
        expected_start_time=expected,  # type: ignore[arg-type]
        auto_scheduled=True,
        **fields,
    )


@pytest.fixture
def night(tmp_path: Path) -> Iterator[tuple[Settings, list[str]]]:
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    with temporary_database(tmp_path) as engine:
        yield settings_for(engine, [catalog]), [str(catalog)]


def catch_up(prefect: FakePrefect, night: tuple[Settings, list[str]], now: datetime = NOW) -> Any:
    settings, files = night
    return catch_up_lost_night(prefect, settings.database_url, files, now)


def test_serve_starts_one_catch_up_run_of_the_lost_night(
    night: tuple[Settings, list[str]],
) -> None:
    message = "Process exited with status code: 1. Process exited with a general error."
    prefect = FakePrefect(
        [
            prefect_run(Crashed(message=message)),
            prefect_run(Scheduled(), DUE - timedelta(days=1), name="the night before"),
            prefect_run(Scheduled(), DUE + timedelta(days=1), name="tomorrow"),
        ]
    )
    said = catch_up(prefect, night)
    assert said is not None
    assert "due 2026-12-05 07:00 UTC was lost in Prefect" in said
    assert f"crashed-night: {message}" in said and "catch-up-run" in said
    (created,) = prefect.created
    # That night's run: Late at once, and the flow's "checked since" counts from its time.
    assert created["deployment_id"] == DEPLOYMENT_ID
    assert created["state"].is_scheduled()
    assert created["state"].state_details.scheduled_time == DUE
    assert created["tags"] == [CATCH_UP_TAG]
    assert created["idempotency_key"] == f"{CATCH_UP_TAG}:{DEPLOYMENT_ID}:{DUE.isoformat()}"
    assert prefect.set == []  # Crashed already
    # Asked again a minute later (or by a serve restarted meanwhile): nothing more.
    assert catch_up(prefect, night, NOW + timedelta(minutes=1)) is None
    assert len(prefect.created) == 1


def test_a_run_stuck_pending_is_marked_crashed_and_its_night_caught_up(
    night: tuple[Settings, list[str]],
) -> None:
    stuck = prefect_run(State(type=StateType.PENDING, name="Submitting", timestamp=DUE))
    prefect = FakePrefect([stuck])
    assert catch_up(prefect, night, DUE + timedelta(minutes=5)) is None  # may yet start
    said = catch_up(prefect, night, DUE + timedelta(minutes=12))
    assert said is not None and "crashed-night: Pending since 07:00 UTC, now marked Crashed" in said
    ((run_id, state, force),) = prefect.set
    assert run_id == stuck.id and state.is_crashed() and force
    assert "linkhealth's flow never started" in (state.message or "")
    assert len(prefect.created) == 1


def test_a_night_checked_since_it_was_due_is_not_caught_up(
    night: tuple[Settings, list[str]],
) -> None:
    """An operator ran `linkhealth check` once the server was back."""
    settings = night[0]
    run = prepare_run(
        settings, trigger="manual", lease=FULL_RUN_LEASE, clock=Ticker(DUE + timedelta(minutes=1))
    )
    finish_run(
        settings, run.run_id, stored=[], lease=run.lease, clock=Ticker(DUE + timedelta(minutes=2))
    )
    prefect = FakePrefect([prefect_run(Crashed())])
    assert catch_up(prefect, night) is None
    assert prefect.created == []


def test_a_run_killed_while_it_checked_is_not_started_again(
    night: tuple[Settings, list[str]],
) -> None:
    """Our flow started it (recorded, then aborted): it may be killed again (memory)."""
    crashed = prefect_run(Crashed())
    settings = night[0]
    prepare_run(
        settings,
        trigger="schedule",
        flow_run_id=str(crashed.id),
        lease=FULL_RUN_LEASE,
        clock=Ticker(DUE),
    )
    prefect = FakePrefect([crashed])
    assert catch_up(prefect, night) is None
    assert prefect.created == []


@pytest.mark.parametrize("deployment", [{"paused": True}, {"active": False}])
def test_a_night_that_is_not_scheduled_is_not_caught_up(
    night: tuple[Settings, list[str]], deployment: dict[str, bool]
) -> None:
    prefect = FakePrefect([prefect_run(Crashed())], **deployment)
    assert catch_up(prefect, night) is None
    assert prefect.created == []


def test_only_the_latest_night_is_caught_up(night: tuple[Settings, list[str]]) -> None:
    """Yesterday's night crashed, tonight's ran: yesterday's is stale."""
    prefect = FakePrefect(
        [prefect_run(Crashed()), prefect_run(Completed(), DUE + timedelta(days=1))]
    )
    assert catch_up(prefect, night, NOW + timedelta(days=1)) is None
    assert prefect.created == []


def test_the_catch_up_run_stands_for_the_night() -> None:
    """It is no Quick run: it ends Skipped when another full run holds the lease."""
    catch_up_run = FlowRun(
        flow_id=uuid4(), deployment_id=uuid4(), auto_scheduled=False, tags=[CATCH_UP_TAG]
    )
    assert trigger_of("schedule", catch_up_run) == "schedule"
    assert trigger_of("manual", catch_up_run) == "manual"


def test_the_catch_up_checks_unless_a_full_run_covered_its_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It starts hours after its night was due; the late rule counts from that night, so
    it checks, and is Skipped only when a full run started since that night."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog])
        before = prepare_run(
            settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker(DUE - timedelta(1))
        )
        finish_run(settings, before.run_id, stored=[], lease=before.lease, clock=Ticker(DUE))
        monkeypatch.setattr(check_flow, "flow_run", SimpleNamespace(scheduled_start_time=DUE))
        assert check_flow.checked_since_scheduled(settings, "schedule") is None
        since = prepare_run(
            settings, trigger="manual", lease=FULL_RUN_LEASE, clock=Ticker(DUE + timedelta(1))
        )
        finish_run(settings, since.run_id, stored=[], lease=since.lease, clock=Ticker(NOW))
        why = check_flow.checked_since_scheduled(settings, "schedule")
        assert why is not None and f"run {since.run_id}" in why


def test_serve_says_each_catch_up_it_started_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = threading.Event()
    answers = iter(["warning: could not tell", "warning: could not tell", "started one"])

    def once(spec: DeploymentSpec) -> str | None:
        line = next(answers, None)
        if line is None:
            asked.set()
        return line

    monkeypatch.setattr(serve, "catch_up_once", once)
    said: list[str] = []
    nightly = DeploymentSpec(
        name="nightly",
        entrypoint="flows/check_flow.py:check_catalog",
        schedules=(CronSpec("0 2 * * *"),),
    )
    with catching_up([nightly], said.append, every_s=0.01):
        assert asked.wait(5)
    assert said == ["warning: could not tell", "started one"]


def test_serve_does_not_watch_a_night_it_does_not_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serve, "catch_up_once", lambda spec: pytest.fail("asked"))
    off = DeploymentSpec(
        name="nightly",
        entrypoint="flows/check_flow.py:check_catalog",
        schedules=(CronSpec("0 2 * * *", active=False),),
    )
    with catching_up([off], print, every_s=0.01):
        threading.Event().wait(0.1)


@pytest.mark.flow
def test_a_real_prefect_api_takes_the_catch_up_as_that_nights_run_once(
    prefect_api: str, night: tuple[Settings, list[str]]
) -> None:
    """What the fake client stands for, against a Prefect server: the catch-up is created
    Scheduled at the night's time with its tag, reads back as a scheduled-night run, and a
    second look starts nothing. (A leap-day cron: Prefect's scheduler makes no run of its
    own in the test's window.)"""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterTags,
    )

    from flows.serve import runner_deployments

    due = datetime(2028, 2, 29, 7, 0, tzinfo=UTC)  # 02:00 in New York
    spec = DeploymentSpec(
        name="nightly",
        entrypoint="flows/check_flow.py:check_catalog",
        parameters={"trigger": "schedule", "render": True},
        schedules=(CronSpec("0 2 29 2 *", "America/New_York"),),
    )
    (deployment,) = runner_deployments([spec])
    deployment_id = deployment.apply()
    try:
        with get_client(sync_client=True) as client:
            lost = client.create_flow_run_from_deployment(
                deployment_id, state=Scheduled(scheduled_time=due)
            )
            client.set_flow_run_state(lost.id, Crashed(message="Process exited"), force=True)
            now = due + timedelta(hours=17)
            said = catch_up_lost_night(client, night[0].database_url, night[1], now)
            assert said is not None and f"flow run {lost.name}: Process exited" in said
            assert catch_up_lost_night(client, night[0].database_url, night[1], now) is None
            (made,) = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
                    tags=FlowRunFilterTags(all_=[CATCH_UP_TAG]),
                )
            )
        assert made.expected_start_time == due
        assert made.state is not None and made.state.is_scheduled()
        assert made.parameters == {"trigger": "schedule", "render": True}
        assert trigger_of("schedule", made) == "schedule"
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
