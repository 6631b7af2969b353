"""One `linkhealth serve` for the deployments a Prefect server holds, and a `serve` that
starts again when Prefect's runner stopped seeing `prefect flow-run cancel`.

A second checkout's `serve` on the same server took the nightly over without a word: the
runs were split between the two (each writing its own database), and stopping either
paused the other's schedules. After a Prefect server restart, a cancelled run went on and
recorded `completed` while Prefect showed it Cancelled."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.serve
from flows.serve import (
    Owner,
    claim,
    other_serve,
    owner_in,
    still_served_by,
    stopping_when_cancel_watch_lost,
    with_owner,
    without_owner,
)
from tests.test_ops import ROOT, _serve_here

NOW = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
ME = Owner(host="vm", home="/srv/b", folder="/srv/b/ops", pid=200)
OTHER = Owner(host="vm", home="/srv/a", folder="/srv/a/ops", pid=100)


def _found(
    owner: Owner | None,
    polled_s_ago: float | None,
    name: str = "nightly",
    paused: bool = False,
    pool: str | None = None,
) -> Any:
    """A deployment as Prefect returns it: its description (with `serve`'s note), last poll,
    whether it is paused and its work pool."""
    text = "Check every catalog URL."
    return SimpleNamespace(
        id=name,
        name=name,
        description=with_owner(text, owner) if owner else text,
        last_polled=None if polled_s_ago is None else NOW - timedelta(seconds=polled_s_ago),
        paused=paused,
        work_pool_name=pool,
    )


def test_a_serve_of_another_checkout_that_prefect_sees_polling_is_refused_naming_it() -> None:
    alive = {100, 300}.__contains__
    said = other_serve([_found(None, 1, "report"), _found(OTHER, 5)], ME, NOW, alive)
    assert said is not None
    assert said.startswith(
        "the deployment 'nightly' is served by another `linkhealth serve` (pid 100 on vm, "
        "from /srv/a/ops, checkout /srv/a; its runner polled Prefect 5 s ago): "
    )
    assert said.endswith("or start this one with --take-over")
    elsewhere = Owner(host="box2", home="/srv/b", folder="/srv/b/ops", pid=999)
    assert other_serve([_found(elsewhere, 5)], ME, NOW, alive) is not None  # another machine


@pytest.mark.parametrize(
    ("owner", "polled_s_ago", "why"),
    [
        (OTHER, 120, "not polled for two minutes: gone, though Prefect still shows it"),
        (OTHER, None, "never polled"),
        (replace(OTHER, pid=101), 5, "its process is gone from this machine"),
        (replace(ME, pid=150, folder="/elsewhere"), 5, "this checkout's, started again"),
        (None, 120, "no note, and not polled for two minutes"),
        (None, None, "no note, never polled"),
    ],
)
def test_serve_is_not_refused_for_a_serve_that_is_gone_or_its_own(
    owner: Owner | None, polled_s_ago: float | None, why: str
) -> None:
    assert other_serve([_found(owner, polled_s_ago)], ME, NOW, {100}.__contains__) is None, why


def test_a_runner_that_says_nothing_of_itself_serving_a_deployment_is_refused_naming_it() -> None:
    """A plain `prefect ... serve`, or a `linkhealth serve` from before the notes, serving
    the same deployments: the new `serve` took their names without a word."""
    found = [_found(None, 300, "recheck"), _found(None, 5, "nightly")]
    said = other_serve(found, ME, NOW, {100}.__contains__)
    assert said is not None
    assert said.startswith(
        "the deployment 'nightly' is served by a runner that does not say whose it is "
        "(a `prefect ... serve`, or a `linkhealth serve` of an older version): it polled "
        "Prefect 5 s ago and the deployment is not paused."
    )
    assert said.endswith("or start this one with --take-over")


@pytest.mark.parametrize(
    ("found", "why"),
    [
        (_found(None, 5, paused=True), "paused: the runner that served it stopped"),
        (_found(None, 5, pool="p"), "its pool has a worker online: the poll may be the worker's"),
    ],
)
def test_a_deployment_without_a_note_is_not_refused_when_its_poll_tells_of_no_runner(
    found: Any, why: str
) -> None:
    assert other_serve([found], ME, NOW, {100}.__contains__, worker_pools={"p"}) is None, why


def test_a_serve_that_just_claimed_its_deployments_is_refused_before_its_runner_polls() -> None:
    """Its note is written some seconds before its runner first polls: a `serve` starting
    then must not take the deployments from it."""
    claimed = replace(OTHER, host="box2", started=(NOW - timedelta(seconds=3)).timestamp())
    said = other_serve([_found(claimed, None)], ME, NOW)
    assert said is not None and "it claimed the deployments 3 s ago" in said
    stale = replace(claimed, started=(NOW - timedelta(seconds=120)).timestamp())
    assert other_serve([_found(stale, None)], ME, NOW) is None


class _Prefect:
    """The descriptions of the deployments, as two `serve`s write and read them."""

    def __init__(self, *names: str) -> None:
        self.descriptions = {name: "Check." for name in names}

    def found(self) -> list[Any]:
        return [SimpleNamespace(name=n, description=d) for n, d in self.descriptions.items()]

    def write(self, deployment: Any, description: str) -> None:
        self.descriptions[deployment.name] = description


def test_of_two_serves_that_looked_at_the_same_time_the_last_to_claim_serves() -> None:
    """Both looked before either noted itself, so both passed `other_serve`."""
    prefect = _Prefect("nightly", "recheck", "report")
    a_looked, b_looked = prefect.found(), prefect.found()
    b_said: list[str | None] = []

    def a_waits(seconds: float) -> None:  # b claims while a waits
        b_said.append(claim(b_looked, OTHER, prefect.write, prefect.found, lambda s: None))

    a_said = claim(a_looked, ME, prefect.write, prefect.found, a_waits)
    assert b_said == [None]
    assert a_said == (
        "the deployment 'nightly' was claimed by another `linkhealth serve` that started at "
        "the same time (pid 100 on vm, from /srv/a/ops, checkout /srv/a): that one serves "
        "it, this one stops"
    )
    assert claim(prefect.found(), ME, prefect.write, prefect.found, lambda s: None) is None


def test_of_two_serves_whose_claims_interleave_exactly_one_serves() -> None:
    """a notes `nightly`, b notes all three, a notes `recheck` and `report`: each holds some.
    One deployment decides, or both would stop."""
    prefect = _Prefect("nightly", "recheck", "report")
    a_looked, b_looked = prefect.found(), prefect.found()
    a_wrote = threading.Event()
    b_said: list[str | None] = []

    def b_waits(seconds: float) -> None:
        assert a_wrote.wait(5)

    b = threading.Thread(
        target=lambda: b_said.append(claim(b_looked, OTHER, prefect.write, prefect.found, b_waits))
    )

    def a_writes(deployment: Any, description: str) -> None:
        prefect.write(deployment, description)
        if deployment.name == "nightly":
            b.start()
            while owner_in(prefect.descriptions["report"]) != OTHER:
                time.sleep(0.001)

    a_said = claim(a_looked, ME, a_writes, prefect.found, lambda s: a_wrote.set())
    b.join(5)
    assert [owner_in(d) for d in prefect.descriptions.values()] == [OTHER, ME, ME]
    assert a_said is not None and "claimed by another `linkhealth serve`" in a_said
    assert b_said == [None]


def test_the_note_of_the_serving_serve_is_one_line_replaced_and_taken_off() -> None:
    noted = with_owner("Check every catalog URL.", OTHER)
    assert noted.startswith("Check every catalog URL.\n\nServed by linkhealth serve: {")
    assert owner_in(noted) == OTHER
    again = with_owner(noted, ME)
    assert owner_in(again) == ME and again.count("Served by") == 1
    assert without_owner(again) == "Check every catalog URL."
    assert owner_in(with_owner(None, ME)) == ME and without_owner(with_owner("", ME)) == ""
    assert owner_in("Check.\nServed by linkhealth serve: not json") is None
    started = replace(ME, started=1765000000.25)
    assert owner_in(with_owner("Check.", started)) == started


def test_a_stopping_serve_pauses_only_the_deployments_it_still_serves() -> None:
    """Prefect's runner paused every deployment it served as it stopped: those another
    `serve` had taken over (`--take-over`) too, while that one ran on."""
    mine, others = still_served_by(
        [_found(ME, 1, "nightly"), _found(OTHER, 1, "recheck"), _found(None, 1, "report")], ME
    )
    assert [d.name for d in mine] == ["nightly", "report"]
    assert others == [("recheck", OTHER)]


def test_serve_refuses_while_another_checkouts_serve_serves_and_takes_over_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "checkout"
    home.mkdir()
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    monkeypatch.setattr(flows.serve, "CHECKOUT", home)
    monkeypatch.chdir(tmp_path)
    polled = datetime.now(UTC) - timedelta(seconds=3)
    other = Owner(host="box2", home="/srv/a", folder="/srv/a/ops", pid=4242)
    found = [SimpleNamespace(name="nightly", description=with_owner("", other), last_polled=polled)]
    monkeypatch.setattr(flows.serve, "served_now", lambda deployments: found)
    result, seen = _serve_here(monkeypatch, [])
    # 2: the systemd unit does not restart on it (RestartPreventExitStatus=2).
    assert result.exit_code == 2 and not seen, result.output
    assert "(pid 4242 on box2, from /srv/a/ops, checkout /srv/a;" in result.stderr
    result, seen = _serve_here(monkeypatch, ["--take-over"])
    assert result.exit_code == 0, result.output
    assert seen["deployments"] == ["nightly", "recheck", "report"]


@pytest.mark.parametrize("still_polling", [False, True])
def test_serve_after_a_runner_without_a_note_waits_to_see_whether_it_still_polls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, still_polling: bool
) -> None:
    """An older `serve` (no note) killed hard during an upgrade left its deployments
    unpaused and polled seconds ago: the restarted `serve` was refused with exit 2, which
    systemd does not restart on. It looks again once a live runner would have polled."""
    home = tmp_path / "checkout"
    home.mkdir()
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    monkeypatch.setattr(flows.serve, "CHECKOUT", home)
    monkeypatch.setattr(flows.serve, "SILENT_RUNNER_WAIT_S", 0.0)
    monkeypatch.chdir(tmp_path)
    looks: list[float] = []

    def served_now(deployments: Any) -> list[Any]:
        # The real wait: by the second look, a dead runner's poll is a minute older.
        ago = 20.0 if still_polling or not looks else 20.0 + flows.serve.LIVE_POLL_S
        looks.append(ago)
        polled = datetime.now(UTC) - timedelta(seconds=ago)
        return [SimpleNamespace(name="nightly", description="Nightly", last_polled=polled)]

    monkeypatch.setattr(flows.serve, "served_now", served_now)
    result, seen = _serve_here(monkeypatch, [])
    assert len(looks) >= 2 and "to see whether it still polls" in result.stderr
    if still_polling:  # 2: the systemd unit does not restart on it
        assert result.exit_code == 2 and not seen, result.output
        assert "does not say whose it is" in result.stderr
    else:
        assert result.exit_code == 0, result.output
        assert seen["deployments"] == ["nightly", "recheck", "report"]


def _serve_losing_the_cancel_watch(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_flight: list[bool],
    real_sigterm: bool = False,
    execv: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """`linkhealth serve --config ./linkhealth.toml` started in `tmp_path`, whose Prefect
    runner says it stopped watching for cancellations: `in_flight` answers
    `runs_in_flight` in turn (then False). The runner then returns once `serve` stopped it,
    or at once on `real_sigterm` (systemd's, or Ctrl-C's). Returns the CLI's result and
    what was seen: `execv`'s call (the lock free), with the folder and `release` then."""
    import fcntl

    import prefect
    from prefect._internal.observers import FlowRunCancellingObserver

    from flows.cli import app
    from tests.factories import serve_without_prefect

    home = tmp_path / "checkout"
    home.mkdir()
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    (tmp_path / "linkhealth.toml").write_text('database_url = "sqlite:///var/x.db"\n')
    monkeypatch.setattr(flows.serve, "CHECKOUT", home)
    monkeypatch.chdir(tmp_path)
    serve_without_prefect(monkeypatch)
    monkeypatch.setattr(flows.serve, "CANCEL_WATCH_LOST_EVERY_S", 0.01)
    seen: dict[str, Any] = {"asked": [], "released": []}
    answers = iter(in_flight)

    def runs_in_flight(deployments: Any) -> bool:
        seen["asked"].append(next(answers, False))
        return bool(seen["asked"][-1])

    monkeypatch.setattr(flows.serve, "runs_in_flight", runs_in_flight)
    monkeypatch.setattr(flows.serve, "release", lambda *a: seen["released"].append(a))
    sigterm = threading.Event()
    monkeypatch.setattr(flows.serve, "_sigterm_self", sigterm.set)

    def serving(*deployments: Any, **options: Any) -> None:
        observer = FlowRunCancellingObserver(on_cancelling=lambda flow_run_id: None)
        observer._handle_unavailable(RuntimeError("Service exceeded error threshold."))
        if real_sigterm:
            return
        assert sigterm.wait(5), "serve was not stopped"  # Prefect's runner then returns

    def replaced(path: str, argv: list[str]) -> None:
        with (tmp_path / "serve.lock").open("a") as lock:  # free for the new process
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen["execv"] = (path, argv, Path.cwd(), list(seen["released"]))

    monkeypatch.setattr(prefect, "serve", serving)
    monkeypatch.setattr(os, "execv", execv or replaced)
    monkeypatch.setattr(
        sys,
        "orig_argv",
        ["/venv/bin/python", "/venv/bin/linkhealth", "serve", "--config", "./linkhealth.toml"],
    )
    return CliRunner().invoke(app, ["serve", "--config", "./linkhealth.toml"]), seen


def test_serve_starts_again_by_itself_when_prefects_runner_stops_watching_for_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's runner gives up watching for cancellations for good when the server is
    away too long with a run in progress, and says so once in its log; `serve` then waits
    for the runs in progress to end, stops its runner and starts again as it was started,
    in the folder it was started in, its schedules left on. It exited 1 (pausing them) for
    the systemd unit to start it again: from a terminal, the nights stopped for good."""
    result, seen = _serve_losing_the_cancel_watch(tmp_path, monkeypatch, [True, True])
    assert result.exit_code == 0, result.output  # (the real `os.execv` does not return)
    assert seen["asked"] == [True, True, False]  # the run in progress ended first
    path, argv, folder, released = seen["execv"]
    assert path == sys.executable
    assert argv == [
        "/venv/bin/python",
        "/venv/bin/linkhealth",
        "serve",
        "--config",
        "./linkhealth.toml",
    ]
    assert folder == tmp_path  # where ./linkhealth.toml is, not the checkout it served from
    assert released == []  # not paused: a night due meanwhile stays for the new runner
    assert "serve starts again by itself once no run is in progress or due" in result.stderr
    assert "serve starts again: after the Prefect server went away" in result.stderr


def test_serve_stopped_for_real_while_its_runner_lost_the_cancel_watch_does_not_start_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (`systemctl stop`) or Ctrl-C while a run is still in progress stops `serve`
    as ever: its schedules paused, exit 0, no new process."""
    result, seen = _serve_losing_the_cancel_watch(
        tmp_path, monkeypatch, [True] * 1000, real_sigterm=True
    )
    assert result.exit_code == 0, result.output
    assert "execv" not in seen and len(seen["released"]) == 1


def test_serve_that_cannot_start_again_exits_1_naming_the_command_that_starts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(path: str, argv: list[str]) -> None:
        raise FileNotFoundError(2, "No such file or directory")

    result, seen = _serve_losing_the_cancel_watch(tmp_path, monkeypatch, [], execv=gone)
    assert result.exit_code == 1, result.output
    assert seen["released"] == []  # its schedules are still on
    assert result.stderr.rstrip().endswith(
        f"start it again: cd {tmp_path} && /venv/bin/python /venv/bin/linkhealth serve "
        "--config ./linkhealth.toml (the systemd unit restarts it by itself)"
    )


def test_serve_is_not_stopped_while_prefects_runner_watches_for_cancels() -> None:
    said: list[str] = []
    stop = threading.Event()
    with stopping_when_cancel_watch_lost(lambda: False, said.append, 0.01, stop.set) as stopped:
        time.sleep(0.05)
    assert not stopped.is_set() and not stop.is_set() and said == []


@pytest.mark.flow
def test_serve_notes_itself_on_prefects_deployments_before_it_serves_and_stops_if_outrun(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim is written to the Prefect server, read back, and lost to a later one."""
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    from flows.serve import DeploymentSpec, _claim, runner_deployments, served_now

    spec = DeploymentSpec(
        name=f"probe-{uuid.uuid4().hex[:8]}", entrypoint="flows/check_flow.py:publish_report_flow"
    )
    (served,) = runner_deployments([spec])
    served.description = "Publish."
    served.apply()
    monkeypatch.setattr(flows.serve, "CLAIM_SETTLE_S", 0.0)
    assert _claim(served_now([served]), ME, [served]) is None
    (found,) = served_now([served])
    assert found.description == with_owner("Publish.", ME)

    real_claim = flows.serve.claim

    def outrun(*args: Any, **kwargs: Any) -> str | None:
        def then_other_claims(seconds: float) -> None:
            with get_client(sync_client=True) as client:
                client.update_deployment(
                    found.id, DeploymentUpdate(description=with_owner("Publish.", OTHER))
                )

        return real_claim(*args, **{**kwargs, "wait": then_other_claims})

    monkeypatch.setattr(flows.serve, "claim", outrun)
    said = _claim(served_now([served]), ME, [served])
    assert said is not None and said.startswith(f"the deployment {spec.name!r} was claimed by")


@pytest.mark.flow
def test_a_run_due_within_the_minute_or_late_keeps_serve_from_stopping_its_runner(
    prefect_api: str,
) -> None:
    """`serve` stops its runner to start again only when that cancels no run: Prefect's
    runner takes a run up 10 s before it is due, and one stopped then ends Cancelled, a
    night's too (not caught up). It stopped at a night's due time, the night Late."""
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import State
    from prefect.states import Pending, Scheduled

    from flows.serve import DeploymentSpec, runner_deployments, runs_in_flight

    spec = DeploymentSpec(
        name=f"probe-{uuid.uuid4().hex[:8]}", entrypoint="flows/check_flow.py:publish_report_flow"
    )
    (served,) = runner_deployments([spec])
    deployment_id = served.apply()
    now = datetime.now(UTC)
    try:
        with get_client(sync_client=True) as client:

            def run(state: Any) -> Any:
                return client.create_flow_run_from_deployment(deployment_id, state=state)

            later = run(Scheduled(scheduled_time=now + timedelta(minutes=5)))
            long_ago = run(Scheduled(scheduled_time=now - timedelta(hours=2)))
            assert not runs_in_flight([served], now)  # neither is taken up now
            soon: list[State[Any]] = [
                Scheduled(scheduled_time=now + timedelta(seconds=30)),
                Scheduled(scheduled_time=now - timedelta(minutes=5)),  # late
                Pending(),
            ]
            for state in soon:
                one = run(state)
                assert runs_in_flight([served], now), state
                client.delete_flow_run(one.id)
            assert not runs_in_flight([served], now)
            for made in (later, long_ago):
                client.delete_flow_run(made.id)
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)
