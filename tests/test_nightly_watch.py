"""`linkhealth status` says when the nightly schedule is not going to run.

Found by an operator walkthrough: a `serve` started and stopped once left
`check-catalog/nightly` paused, and `status` still ended "Prefect API ...: up"; no night ran
after that, silently. A night due while the Prefect server restarted crashed in Prefect and
left no trace in `status` either.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.db import open_engine
from catalog.store import RunRecord
from flows.nightly_watch import (
    NIGHTLY,
    NIGHTLY_SHARDED,
    Deployment,
    EndedRun,
    Nights,
    Schedule,
    UncheckedNight,
    catch_up_lines,
    last_due,
    last_night_seen,
    night_lines,
    unchecked_night,
)

UI = "http://127.0.0.1:4200"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)
#: prefect.yaml's: 02:00 in New York is 07:00 UTC in December.
NIGHTLY_CRON = Schedule(True, "0 2 * * *", "America/New_York")
#: Last night's run, done: nothing is missing.
LAST_NIGHT_DONE = datetime(2026, 12, 5, 7, 40, tzinfo=UTC)


def deployment(
    name: str = NIGHTLY,
    *,
    paused: bool = False,
    ready: bool = True,
    schedules: tuple[Schedule, ...] = (NIGHTLY_CRON,),
    by_workers: bool = False,
) -> Deployment:
    return Deployment(
        name=name,
        id="d-" + name.rpartition("/")[2],
        created=CREATED,
        paused=paused,
        ready=ready,
        schedules=schedules,
        by_workers=by_workers,
    )


def run(
    run_id: int, trigger: str, status: str, started: datetime, finished: datetime | None = None
) -> RunRecord:
    return RunRecord(
        id=run_id,
        trigger=trigger,
        flow_run_id=None,
        started_at=started,
        finished_at=finished,
        status=status,
        urls_planned=1,
        urls_checked=1,
        counts={},
        network_unavailable=False,
        summary={},
        duration_s=None,
    )


def test_a_working_night_says_nothing() -> None:
    assert night_lines(Nights(deployment(), None), LAST_NIGHT_DONE, NOW, UI) == []


def test_a_paused_nightly_says_so_and_how_to_run_it_again() -> None:
    (line,) = night_lines(Nights(deployment(paused=True), None), LAST_NIGHT_DONE, NOW, UI)
    assert line.startswith(f"Deployment {NIGHTLY} is paused")
    assert "start `linkhealth serve` again" in line
    assert f"`PREFECT_API_URL={UI}/api prefect --no-prompt deploy --all`" in line


def test_a_night_due_since_the_last_recorded_run_is_missing() -> None:
    before = datetime(2026, 12, 4, 7, 40, tzinfo=UTC)  # the night before last's run
    (line,) = night_lines(Nights(deployment(), None), before, NOW, UI)
    assert line == (
        f"The night {NIGHTLY} scheduled for 2026-12-05 07:00 UTC is missing: no run was "
        "recorded since (last seen: 2026-12-04 07:40 UTC); see its flow runs in the Prefect "
        f"UI: {UI}/deployments/deployment/d-nightly"
    )
    # Not before its run had time to start, nor for nights before the deployment existed.
    assert night_lines(Nights(deployment(), None), before, NOW.replace(hour=7, minute=10), UI) == []
    new = Deployment(NIGHTLY, "d", NOW - timedelta(hours=1), False, True, (NIGHTLY_CRON,))
    assert night_lines(Nights(new, None), None, NOW, UI) == []


def test_a_paused_nightly_also_says_the_night_it_missed() -> None:
    before = datetime(2026, 12, 4, 7, 40, tzinfo=UTC)
    paused, missing = night_lines(Nights(deployment(paused=True), None), before, NOW, UI)
    assert "is paused" in paused and "2026-12-05 07:00 UTC is missing" in missing


def test_crashed_and_failed_runs_since_the_last_recorded_are_listed_with_their_page() -> None:
    crashed = EndedRun(
        name="sly-fox",
        id="f1",
        deployment=NIGHTLY,
        state="Crashed",
        expected=datetime(2026, 12, 5, 7, 0, tzinfo=UTC),
        message="Flow run could not be loaded: ConnectError(...)\nTraceback ...",
    )
    before = datetime(2026, 12, 4, 7, 40, tzinfo=UTC)
    missing, listed, advice = night_lines(Nights(deployment(), None, (crashed,)), before, NOW, UI)
    assert "is missing" in missing
    assert listed == (
        f"Prefect flow run sly-fox of {NIGHTLY}, due 2026-12-05 07:00 UTC, ended Crashed: "
        "Flow run could not be loaded: ConnectError(...); linkhealth recorded nothing of it: "
        f"{UI}/runs/flow-run/f1"
    )
    # What happens to that night (`serve` runs it: no pull step), and how to check it now,
    # from a shell without PREFECT_API_URL too.
    assert "catch-up run that `linkhealth serve` starts" in advice
    assert advice.endswith(
        f"to check it now: `PREFECT_API_URL={UI}/api prefect deployment run {NIGHTLY}`."
    )


#: Prefect's state message of a run whose process exited 1, as a worker reports it.
EXITED = "Process exited with status code: 1. Process exited with a general error."
#: The error log of a run a worker without LINKHEALTH_HOME started (r1's walkthrough).
NO_HOME_LOG = (
    "Unexpected exception encountered when trying to load flow\n"
    "Traceback (most recent call last):\n"
    '  File "<frozen importlib._bootstrap_external>", line 1130, in get_data\n'
    "FileNotFoundError: [Errno 2] No such file or directory: "
    "'/tmp/tmpqgbo97c3prefect/flows/check_flow.py'\n"
    "prefect.exceptions.ScriptError: Script at 'flows/check_flow.py' encountered an "
    "exception: FileNotFoundError(2, 'No such file or directory')"
)


def crashed_run(*, manual: bool, log: str = NO_HOME_LOG) -> EndedRun:
    return EndedRun(
        name="aquamarine-pelican",
        id="f2",
        deployment=NIGHTLY,
        state="Crashed",
        expected=datetime(2026, 12, 5, 7, 0, tzinfo=UTC),
        message=EXITED,
        manual=manual,
        log=log,
    )


def test_a_run_started_by_hand_that_a_worker_without_the_checkout_crashed_names_the_cause() -> None:
    """r1's finding 4: `prefect deployment run` with a worker started without
    LINKHEALTH_HOME. `status` promised a catch-up `serve` starts (no serve here), called the
    run a night, gave the same command that crashes again, and no cause."""
    nights = Nights(deployment(by_workers=True), None, (crashed_run(manual=True),))
    (line,) = night_lines(nights, LAST_NIGHT_DONE, NOW, UI)  # no catch-up: it is no night
    assert line.startswith(
        f"Prefect flow run aquamarine-pelican of {NIGHTLY}, started by hand 2026-12-05 07:00 "
        "UTC, ended Crashed: Process exited with status code: 1. Process exited with a "
        "general error. Its log says why: the worker that ran it found no linkhealth code "
        "(/tmp/tmpqgbo97c3prefect/flows/check_flow.py does not exist: LINKHEALTH_HOME was set "
        "neither"
    )
    assert (
        f"`PREFECT_API_URL={UI}/api LINKHEALTH_HOME=$PWD prefect worker start --pool linkhealth`"
        in line
    )
    assert line.endswith(f"linkhealth recorded nothing of it: {UI}/runs/flow-run/f2")
    assert ".;" not in line


@pytest.mark.parametrize(("paused", "ready"), [(True, True), (False, False)])
def test_a_night_crashed_with_no_serve_polling_is_promised_no_catch_up_within_minutes(
    paused: bool, ready: bool
) -> None:
    """A serve that stopped (its schedule paused) or none polling: `status` said "one
    catch-up run that `linkhealth serve` starts within minutes" while no serve ran."""
    crashed = (crashed_run(manual=False, log=""),)
    served = catch_up_lines(Nights(deployment(), None, crashed), UI)
    idle = catch_up_lines(Nights(deployment(paused=paused, ready=ready), None, crashed), UI)
    assert "`linkhealth serve` starts within minutes" in served[0]
    (line,) = idle
    assert "starts within minutes" not in line
    assert line.startswith(
        "A night whose run crashed before linkhealth's flow started is checked by one "
        "catch-up run once `linkhealth serve` runs again"
    )


def test_a_night_crashed_under_workers_is_promised_no_catch_up() -> None:
    nights = Nights(deployment(by_workers=True), None, (crashed_run(manual=False),))
    listed, advice = night_lines(nights, LAST_NIGHT_DONE, NOW, UI)
    assert ", due 2026-12-05 07:00 UTC, ended Crashed" in listed
    assert "is not caught up by workers" in advice
    assert "`linkhealth serve` starts within" not in advice
    assert advice.endswith(
        f"`PREFECT_API_URL={UI}/api prefect deployment run {NIGHTLY}` once the cause its log "
        "names is fixed (until then it crashes the same way)."
    )
    # A crash whose log names nothing known: Prefect's reason, without ".;".
    (listed, _) = night_lines(
        Nights(deployment(by_workers=True), None, (crashed_run(manual=False, log=""),)),
        LAST_NIGHT_DONE,
        NOW,
        UI,
    )
    assert "a general error; linkhealth recorded nothing of it" in listed


def test_the_pull_steps_refusal_in_a_runs_log_is_the_cause_status_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.nightly_watch import crash_cause
    from flows.pull_steps import NoCheckoutError, enter_checkout

    monkeypatch.delenv("LINKHEALTH_HOME", raising=False)
    with pytest.raises(NoCheckoutError) as refused:
        enter_checkout("")
    log = f"Traceback (most recent call last):\nflows.pull_steps.NoCheckoutError: {refused.value}"
    assert crash_cause(f"{EXITED}\n{log}") == str(refused.value).rstrip(".")
    assert crash_cause(EXITED) is None


def test_no_deployment_no_schedule_and_nothing_polling_each_say_what_to_do() -> None:
    (gone,) = night_lines(Nights(None, None), LAST_NIGHT_DONE, NOW, UI)
    assert f"Prefect has no deployment {NIGHTLY}" in gone and "deploy --all" in gone
    off = deployment(schedules=(Schedule(False, "0 2 * * *", "America/New_York"),))
    (unscheduled,) = night_lines(Nights(off, None), LAST_NIGHT_DONE, NOW, UI)
    assert "has no active schedule" in unscheduled
    assert f"prefect deployment schedule resume {NIGHTLY} ID" in unscheduled
    (idle,) = night_lines(Nights(deployment(ready=False), None), LAST_NIGHT_DONE, NOW, UI)
    assert "Nothing picks up the runs" in idle
    # The command that works: without LINKHEALTH_HOME a worker gets every run refused, and
    # without PREFECT_API_URL it does not start ("must be set to start a Worker").
    assert (
        f"`PREFECT_API_URL={UI}/api LINKHEALTH_HOME=$PWD prefect worker start --pool linkhealth`"
        in idle
    )
    assert "(`prefect worker start" not in idle


def test_the_sharded_night_stands_for_the_nightly_one_but_not_beside_it() -> None:
    """prefect.yaml's scale-out switch: `nightly` off, `nightly-sharded` on."""
    off = deployment(schedules=(Schedule(False, "0 2 * * *", "America/New_York"),))
    sharded = deployment(NIGHTLY_SHARDED)
    assert night_lines(Nights(off, sharded), LAST_NIGHT_DONE, NOW, UI) == []
    (paused,) = night_lines(
        Nights(off, deployment(NIGHTLY_SHARDED, paused=True)), LAST_NIGHT_DONE, NOW, UI
    )
    assert paused.startswith(f"Deployment {NIGHTLY_SHARDED} is paused")
    (both,) = night_lines(Nights(deployment(), sharded), LAST_NIGHT_DONE, NOW, UI)
    assert "two full runs a night" in both


def test_which_night_runs_is_switched_in_prefect_yaml_where_a_redeploy_keeps_it() -> None:
    """Pausing or resuming a schedule by hand, as `status` advised, lasts until the next
    `prefect --no-prompt deploy --all`, which sets each schedule back to its `active:` in
    prefect.yaml: a switch to the sharded night came undone without a word."""
    sharded = deployment(NIGHTLY_SHARDED)
    (both,) = night_lines(Nights(deployment(), sharded), LAST_NIGHT_DONE, NOW, UI)
    assert "Set `active: false` on one of their schedules in prefect.yaml" in both
    assert f"`PREFECT_API_URL={UI}/api prefect --no-prompt deploy --all` again" in both
    assert "schedule pause" not in both
    assert "one paused by hand or in the Prefect UI is set back to it by the next deploy" in both
    off = deployment(schedules=(Schedule(False, "0 2 * * *", "America/New_York"),))
    (neither,) = night_lines(Nights(off, None), LAST_NIGHT_DONE, NOW, UI)
    assert neither.index("set `active: true` on its schedule in prefect.yaml") < neither.index(
        "schedule resume"
    )
    assert "is set back to it by the next deploy" in neither


def test_every_prefect_command_status_gives_names_the_api_it_found() -> None:
    """README walkthrough (u4): `status` found the local server from a shell without
    PREFECT_API_URL and said to run `prefect --no-prompt deploy --all`; pasted there, that
    deployed into a throw-away server of Prefect's own, said it succeeded, and `status`
    went on saying there was no deployment. Each `prefect` command it gives carries it, as
    the command that checks a night now does: `prefect worker start` too, which pasted
    without it refused to start ("`PREFECT_API_URL` must be set to start a Worker")."""
    off = deployment(schedules=(Schedule(False, "0 2 * * *", "America/New_York"),))
    lines = [
        *night_lines(Nights(None, None), LAST_NIGHT_DONE, NOW, UI),
        *night_lines(Nights(off, None), LAST_NIGHT_DONE, NOW, UI),
        *night_lines(Nights(deployment(paused=True), None), LAST_NIGHT_DONE, NOW, UI),
        *night_lines(Nights(deployment(), deployment(NIGHTLY_SHARDED)), LAST_NIGHT_DONE, NOW, UI),
        *night_lines(Nights(deployment(ready=False), None), LAST_NIGHT_DONE, NOW, UI),
    ]
    commands = [c for line in lines for c in line.split("`")[1::2] if "prefect " in c]
    # deploy; deploy, schedule ls, resume; deploy; deploy; worker start
    assert len(commands) == 7, commands
    assert all(c.startswith(f"PREFECT_API_URL={UI}/api ") for c in commands), commands


def test_the_last_night_seen_skips_rechecks_and_counts_a_live_run_as_now() -> None:
    night = run(
        1, "schedule", "completed", datetime(2026, 12, 4, 7, 0, tzinfo=UTC), LAST_NIGHT_DONE
    )
    recheck = run(3, "recheck", "completed", NOW - timedelta(hours=1), NOW)
    assert last_night_seen([recheck, night], {}, NOW) == LAST_NIGHT_DONE
    live = run(4, "manual", "running", NOW - timedelta(hours=2))
    assert last_night_seen([live, night], {}, NOW) == NOW  # the night skipped by its lease
    assert last_night_seen([live, night], {4: "its process is gone"}, NOW) == (
        NOW - timedelta(hours=2)
    )
    assert last_night_seen([recheck], {}, NOW) is None


#: A night's run killed while it checked, as `status` reads it from the database.
KILLED_AT = datetime(2026, 12, 5, 7, 0, 5, tzinfo=UTC)


def killed_run(run_id: int, status: str, **summary: str) -> RunRecord:
    return RunRecord(
        id=run_id,
        trigger="schedule",
        flow_run_id="f9",
        started_at=KILLED_AT,
        finished_at=KILLED_AT + timedelta(seconds=30) if status != "running" else None,
        status=status,
        urls_planned=600,
        urls_checked=59,
        counts={},
        network_unavailable=False,
        summary=summary,
        duration_s=None,
    )


def test_a_night_whose_run_was_killed_while_it_checked_is_said_unchecked_with_the_command() -> None:
    """r5's F1: a scheduled run SIGKILLed (out of memory) while it checked. No catch-up
    follows, as designed, but `status` said nothing of the night: the run's own row counted
    as the night seen, and Prefect's Crashed flow run was due before it."""
    night = run(1, "schedule", "completed", KILLED_AT - timedelta(days=1), LAST_NIGHT_DONE)
    gone = "its process (vm:6457 f9) is gone"
    dead = killed_run(2, "running", holder="vm:6457 f9")
    # Before the next run marks it aborted (`abandoned` in status), and after.
    for runs, abandoned, why in (
        ([dead, night], {2: gone}, f"abandoned: {gone}"),
        ([killed_run(2, "aborted", aborted_reason=gone), night], {}, f"aborted: {gone}"),
    ):
        unchecked = unchecked_night(runs, abandoned)
        assert unchecked == UncheckedNight(2, KILLED_AT, why, NIGHTLY, "f9", 59, 600)
        seen = last_night_seen(runs, abandoned, NOW)
        (line,) = night_lines(Nights(deployment(), None), seen, NOW, UI, unchecked)
        assert line == (
            "The night's run 2 (started 2026-12-05 07:00 UTC) stopped while it checked, after "
            f"59 of 600 URLs ({why}), "
            "so that night went unchecked: no catch-up run follows a run killed or stopped "
            "while it checked (it may be killed again); to check it now: "
            f"`PREFECT_API_URL={UI}/api prefect deployment run {NIGHTLY}`; its flow run: "
            f"{UI}/runs/flow-run/f9"
        )
    # Said only while that run is the latest: not once a later run checks or runs, not
    # for a run alive now, a recheck in between changes nothing, and a run started by
    # hand stands for no night.
    later = run(3, "manual", "completed", NOW - timedelta(hours=1), NOW)
    assert unchecked_night([later, dead], {2: gone}) is None
    assert unchecked_night([dead], {}) is None
    recheck = run(3, "recheck", "completed", NOW - timedelta(hours=1), NOW)
    assert unchecked_night([recheck, dead], {2: gone}) is not None
    by_hand = killed_run(2, "aborted", aborted_reason=gone)
    assert unchecked_night([replace(by_hand, trigger="manual")], {}) is None
    # A shard of a sharded night: that night's command.
    shard = killed_run(2, "aborted", aborted_reason=gone, shard="1/3")
    assert unchecked_night([shard], {}) == UncheckedNight(
        2, KILLED_AT, f"aborted: {gone}", NIGHTLY_SHARDED, "f9", 59, 600
    )


def test_status_says_a_night_killed_while_it_checked_went_unchecked(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.nightly_watch
    import flows.prefect_server
    from flows.cli import app

    monkeypatch.setenv("PREFECT_API_URL", f"{UI}/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: True)
    monkeypatch.setattr(flows.nightly_watch, "read_nights", lambda seen: Nights(deployment(), None))
    engine = open_engine(migrated_db_url)
    night = store.start_run(engine, trigger="schedule", now=KILLED_AT, flow_run_id="f9")
    store.finish_run(
        engine,
        night,
        status="aborted",
        now=KILLED_AT + timedelta(seconds=30),
        summary={"aborted_reason": "its process (vm:6457 f9) is gone"},
    )
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url])
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"The night's run {night} (started 2026-12-05 07:00 UTC) stopped")
    assert f"`PREFECT_API_URL={UI}/api prefect deployment run {NIGHTLY}`" in last


#: Days of daylight-saving changes (r5's dst_last_due.py found croniter's previous night
#: wrong on the Berlin and 01:00 New York ones).
DST_DAYS = [
    ("30 2 * * *", "Europe/Berlin", datetime(2027, 3, 27, 12, tzinfo=UTC)),  # 02:30 skipped
    ("30 2 * * *", "Europe/Berlin", datetime(2027, 10, 30, 12, tzinfo=UTC)),  # 02:30 twice
    ("0 2 * * *", "America/New_York", datetime(2027, 3, 13, 12, tzinfo=UTC)),
    ("0 1 * * *", "America/New_York", datetime(2027, 11, 6, 12, tzinfo=UTC)),  # 01:00 twice
]


@pytest.mark.parametrize(("cron", "timezone", "start"), DST_DAYS)
def test_the_latest_night_due_is_the_one_prefects_scheduler_makes_across_dst(
    cron: str, timezone: str, start: datetime
) -> None:
    """A night is missing only when Prefect made one that ran not: on spring-forward days
    croniter's previous night came an hour after Prefect's (a false "missing" for an hour),
    and on fall-back days status waited for a night Prefect had already made."""
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule

    from flows.nightly_watch import GRACE

    made = asyncio.run(
        CronSchedule(cron=cron, timezone=timezone).get_dates(n=5, start=start - timedelta(days=2))
    )
    nights = [night.astimezone(UTC) for night in made]
    night = deployment(schedules=(Schedule(True, cron, timezone),))
    moment = start
    while moment < start + timedelta(hours=36):
        due = max(n for n in nights if n <= moment - GRACE)
        assert last_due(night, moment) == due, moment
        moment += timedelta(minutes=5)


def test_status_ends_with_what_stops_the_nights(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import catalog.clock
    import flows.nightly_watch
    import flows.prefect_server
    from flows.cli import app

    monkeypatch.setenv("PREFECT_API_URL", f"{UI}/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: True)
    asked: list[datetime | None] = []

    def read_nights(seen: datetime | None) -> Nights:
        asked.append(seen)
        return Nights(deployment(paused=True), None)

    monkeypatch.setattr(flows.nightly_watch, "read_nights", read_nights)
    # The status of a moment before the next night is due: read at the real time, from
    # 2026-12-06 07:00 on it also said that night was missing (a line more at the end).
    monkeypatch.setattr(catalog.clock, "utcnow", lambda: NOW)
    engine = open_engine(migrated_db_url)
    night = store.start_run(engine, trigger="schedule", now=datetime(2026, 12, 4, 7, 0, tzinfo=UTC))
    store.finish_run(engine, night, status="completed", now=LAST_NIGHT_DONE)
    store.start_run(engine, trigger="recheck", now=LAST_NIGHT_DONE + timedelta(hours=1))
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url])
    assert result.exit_code == 0, result.output
    up, paused = result.stdout.splitlines()[-2:]
    assert up == f"Prefect API {UI}/api: up"
    assert paused.startswith(f"Deployment {NIGHTLY} is paused")
    assert asked == [LAST_NIGHT_DONE]  # the recheck is no night


def test_an_api_that_cannot_be_asked_is_one_line_and_never_fails_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    import flows.nightly_watch

    def read_nights(seen: datetime | None) -> Nights:
        raise httpx.ReadTimeout("timed out")

    monkeypatch.setattr(flows.nightly_watch, "read_nights", read_nights)
    assert flows.nightly_watch.status_lines(f"{UI}/api", None, NOW) == [
        f"Prefect API {UI}/api: could not read the nightly deployments (ReadTimeout: timed "
        "out), so whether a night runs is not known"
    ]


@pytest.mark.flow
def test_a_paused_nightly_and_its_crashed_run_read_from_a_real_api(
    prefect_api: str, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import LogCreate
    from prefect.states import Crashed

    from flows.nightly_watch import status_lines
    from flows.serve import read_deployments, runner_deployments

    root = Path(__file__).resolve().parent.parent
    (spec,) = [s for s in read_deployments(root / "prefect.yaml") if s.name == "nightly"]
    (nightly,) = runner_deployments([spec])
    nightly.paused = True  # as a stopped `serve` leaves it
    deployment_id = nightly.apply()
    try:
        with get_client(sync_client=True) as client:
            crashed = client.create_flow_run_from_deployment(  # as `prefect deployment run`
                deployment_id, state=Crashed(message=EXITED)
            )
            client.create_logs(  # what the worker's process logged as it crashed
                [
                    LogCreate(
                        name="prefect.flow_runs",
                        level=level,
                        message=message,
                        timestamp=datetime.now(UTC),  # type: ignore[arg-type]  # pydantic takes it
                        flow_run_id=crashed.id,
                    )
                    for level, message in (
                        (logging.INFO, "Running 1 deployment pull step(s)"),
                        (logging.ERROR, NO_HOME_LOG),
                    )
                ]
            )
        lines = status_lines(prefect_api, None, datetime.now(UTC))
        ui = prefect_api.removesuffix("/api")
        assert lines[0].startswith(f"Deployment {NIGHTLY} is paused"), lines
        # (Among any of nightly-sharded that other tests of this harness left Failed.)
        (line,) = [line for line in lines[1:] if crashed.name in line]
        assert line.startswith(
            f"Prefect flow run {crashed.name} of {NIGHTLY}, started by hand "
            f"{crashed.expected_start_time:%Y-%m-%d %H:%M} UTC, ended Crashed: {EXITED} Its "
            "log says why: the worker that ran it found no linkhealth code "
            "(/tmp/tmpqgbo97c3prefect/flows/check_flow.py does not exist"
        ), line
        assert line.endswith(f"linkhealth recorded nothing of it: {ui}/runs/flow-run/{crashed.id}")
        # A run started by hand stands for no night: no catch-up said for it.
        assert not any("catch-up" in line for line in lines), lines
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
