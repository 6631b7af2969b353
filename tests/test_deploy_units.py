"""The systemd units (deploy/systemd). The one for workers (linkhealth-worker@.service) starts a
worker on the pool prefect.yaml's deployments use, and its stop lets the flow runs in progress
end as aborted runs before the worker, which would kill them outright, is stopped. No unit is
stopped or restarted with the Prefect server's, and the prune timer runs in the night's zone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "linkhealth-worker@.service"


def _settings(key: str) -> list[str]:
    """The values of `key=` in the unit, as systemd hands them over (`$$` is one `$`)."""
    prefix = f"{key}="
    return [
        line.removeprefix(prefix).replace("$$", "$")
        for line in UNIT.read_text().splitlines()
        if line.startswith(prefix)
    ]


def test_the_worker_unit_starts_a_worker_on_the_pool_of_the_deployments() -> None:
    pools = {
        d["work_pool"]["name"]
        for d in YAML(typ="safe").load((ROOT / "prefect.yaml").read_text())["deployments"]
    }
    (start,) = _settings("ExecStart")
    words = start.split()
    assert words[1:3] == ["worker", "start"]
    assert pools == {words[words.index("--pool") + 1]}
    # The waiting `nightly-sharded` run holds a slot itself (README, "Scale-out").
    assert int(words[words.index("--limit") + 1]) >= 2
    # Several instances on one machine must not share a name in the Prefect UI.
    assert "%i" in words[words.index("--name") + 1]


def _stop_command() -> str:
    (stop,) = _settings("ExecStop")
    shell, flag, script = stop.split(" ", 2)
    assert (shell, flag) == ("/bin/sh", "-c") and script[0] == script[-1] == "'"
    return script[1:-1]


#: A worker stand-in: two flow runs that take a second to tidy up after SIGTERM (noted in
#: a file), reaped as Prefect's worker reaps them.
WORKER = """
import subprocess, sys, time
run = 'trap "sleep 1; echo $$ >> {log}; exit 0" TERM; while :; do sleep 0.1; done'
runs = [subprocess.Popen(["sh", "-c", run]) for _ in range(2)]
print(" ".join(str(r.pid) for r in runs), flush=True)
for r in runs:
    r.wait()
time.sleep(60)
"""


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep (procps)")
def test_stopping_the_worker_unit_waits_for_its_runs_to_end_on_sigterm(tmp_path: Path) -> None:
    """Prefect's worker, stopped, kills its flow runs outright: they leave their lease held
    and Prefect's flow run Running. The unit's ExecStop lets them stop themselves first."""
    log = tmp_path / "stopped"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(log=log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        runs = worker.stdout.readline().split()
        time.sleep(0.3)  # the traps are set
        began = time.monotonic()
        stop = subprocess.run(
            ["/bin/sh", "-c", _stop_command()],
            env=os.environ | {"MAINPID": str(worker.pid)},
            timeout=30,
        )
        took = time.monotonic() - began
        assert stop.returncode == 0
        assert sorted(log.read_text().split()) == sorted(runs)  # each ended on its SIGTERM
        assert took >= 1.0  # and was waited for
        assert worker.poll() is None  # the worker itself is systemd's to stop, afterwards
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep (procps)")
@pytest.mark.parametrize("mainpid", ["", "idle"])
def test_stopping_an_idle_or_gone_worker_returns_at_once(mainpid: str) -> None:
    """systemd runs ExecStop even when the worker already exited (no $MAINPID then)."""
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        env = os.environ | {"MAINPID": str(idle.pid) if mainpid else ""}
        stop = subprocess.run(["/bin/sh", "-c", _stop_command()], env=env, timeout=10)
        assert stop.returncode == 0
    finally:
        idle.kill()
        idle.wait()


SYSTEMD = ROOT / "deploy" / "systemd"
SERVER_UNIT = "linkhealth-prefect.service"


def _unit(name: str) -> dict[str, list[str]]:
    """The settings of unit file `name` as "Section.Key" -> its values (systemd.syntax(7):
    comments start with # or ;, one setting a line here)."""
    section = ""
    found: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def _named(unit: dict[str, list[str]], key: str) -> set[str]:
    return {name for value in unit.get(key, []) for name in value.split()}


@pytest.mark.parametrize(
    "name", sorted(p.name for p in SYSTEMD.glob("*.service") if p.name != SERVER_UNIT)
)
def test_no_unit_is_stopped_or_restarted_with_the_prefect_server(name: str) -> None:
    """systemd.unit(5): a unit that Requires= (or BindsTo=, PartOf=) another is stopped or
    restarted when that one is explicitly stopped or restarted. With Requires= on the
    server, `systemctl restart linkhealth-prefect` (an upgrade) restarted `serve`,
    cancelling the night's run in progress, and `stop` + `start` left `serve` stopped, its
    schedules paused; the README promises a server restart leaves a run going on."""
    unit = _unit(name)
    for key in ("Requires", "Requisite", "BindsTo", "PartOf", "Upholds"):
        assert SERVER_UNIT not in _named(unit, f"Unit.{key}"), (name, key)
    if "PREFECT_API_URL=http://127.0.0.1:4200/api" in unit.get("Service.Environment", []):
        # Started after the server when both start, hence stopped before it when both stop.
        assert SERVER_UNIT in _named(unit, "Unit.After"), name


def test_the_serve_unit_starts_the_server_it_needs() -> None:
    unit = _unit("linkhealth-serve.service")
    assert SERVER_UNIT in _named(unit, "Unit.Wants")
    # Away for minutes, `serve` exits 1: the unit starts it again, which waits for the server.
    assert unit["Service.Restart"] == ["on-failure"]
    assert any("server status" in pre for pre in unit["Service.ExecStartPre"])


def _nightly_schedule() -> dict[str, Any]:
    deployments = YAML(typ="safe").load((ROOT / "prefect.yaml").read_text())["deployments"]
    (nightly,) = (d for d in deployments if d["name"] == "nightly")
    (schedule,) = nightly["schedules"]
    return dict(schedule)


def test_the_prune_timer_runs_after_the_night_in_the_nights_time_zone() -> None:
    """Its comment said "04:00 local time: after the nightly check (02:00)", but the night
    is 02:00 in prefect.yaml's time zone and OnCalendar= uses the machine's unless it
    names one: on a machine in UTC, prune ran at 23:00 New York time, before the night."""
    (when,) = _unit("linkhealth-prune.timer")["Timer.OnCalendar"]
    night = _nightly_schedule()
    *_, time_of_day, zone = when.split()
    assert zone == night["timezone"]
    assert int(time_of_day.split(":")[0]) > int(night["cron"].split()[1])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_reads_the_prune_timers_calendar() -> None:
    (when,) = _unit("linkhealth-prune.timer")["Timer.OnCalendar"]
    parsed = subprocess.run(
        ["systemd-analyze", "calendar", when], capture_output=True, text=True, timeout=30
    )
    assert parsed.returncode == 0, parsed.stderr
    assert f"Normalized form: {when}" in parsed.stdout
