"""The systemd unit for workers (deploy/systemd/linkhealth-worker@.service): it starts a worker
on the pool prefect.yaml's deployments use, and its stop lets the flow runs in progress end
as aborted runs before the worker, which would kill them outright, is stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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
