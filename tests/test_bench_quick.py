"""The benchmark's smallest path keeps working: `bench/run --quick --no-prefect`.

It starts the simulated web on loopback, generates a catalog, checks it with the flow's
library calls (no Prefect server) and scores the stored outcomes against the ground truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

from bench.harness import proc_stat, process_family

ROOT = Path(__file__).resolve().parents[1]


def test_quick_bench_checks_every_url_right_and_politely(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    command = [str(ROOT / "bench" / "run"), "--quick", "--no-prefect", "--second-run"]
    command += ["--urls", "120", "--hosts", "12", "--json", str(figures)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr

    out = json.loads(figures.read_text())
    first, second = out["runs"]
    assert first["urls"] == 120
    assert first["accuracy"]["share"] == 1.0, first["accuracy"]["mismatches"]
    assert second["accuracy"]["share"] == 1.0, second["accuracy"]["mismatches"]
    assert first["max_open_per_host"] <= 2, "per-host concurrency held"
    assert first["max_per_second"] <= 6, "per-host rate held (5/s, one-second windows)"
    assert first["wall_s"] >= out["floor"]["by_urls_s"], "no run beats the politeness floor"
    assert second["bytes_sent"] < first["bytes_sent"] / 3, "the second run mostly asks HEAD"
    assert "politeness floor" in done.stdout
    # Two runs over 120 resources: the figure behind "database size per million observations".
    assert out["db"]["observations"] == 240
    assert 0 < out["db"].get("observation_bytes", 1) < out["db"]["bytes"]


def test_per_host_options_set_the_runs_politeness_and_the_floor(tmp_path: Path) -> None:
    # A comparison at other per-host settings (the lychee figure was taken at 10
    # open, 50 ms apart) must hold the checker to them and count the floor by them.
    figures = tmp_path / "figures.json"
    command = [str(ROOT / "bench" / "run"), "--quick", "--no-prefect", "--urls", "60"]
    command += ["--hosts", "3", "--per-host-concurrency", "1", "--per-host-rate", "20"]
    done = subprocess.run(
        [*command, "--json", str(figures)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(figures.read_text())
    run = out["runs"][0]
    assert run["accuracy"]["share"] == 1.0, run["accuracy"]["mismatches"]
    assert run["max_open_per_host"] == 1
    assert run["max_per_second"] > 6, "faster than the default 5/s"
    assert out["floor"]["by_urls_s"] == out["floor"]["busiest_urls"] / 20

    refused = subprocess.run([*command[:-1], "0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--per-host-rate must be above 0" in refused.stderr


def test_a_reused_workdir_starts_from_a_fresh_database(tmp_path: Path) -> None:
    # The figures of a rerun into the same --workdir are its own, not added to the last.
    # Two URLs a host: the size is not what this is about, and each run of ten a host spent
    # two seconds on the politeness floor (5/s).
    command = [str(ROOT / "bench" / "run"), "--quick", "--no-prefect", "--urls", "12"]
    command += ["--hosts", "6", "--workdir", str(tmp_path / "work")]
    for attempt in range(2):
        figures = tmp_path / f"figures-{attempt}.json"
        done = subprocess.run(
            [*command, "--json", str(figures)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(figures.read_text())
        assert out["db"]["observations"] == 12
        assert out["runs"][0]["accuracy"]["share"] == 1.0
        # Figures say which Python made them: builds of one version differ by a sixth.
        assert out["python"]["version"] == platform.python_version()
        assert out["python"]["executable"] == os.path.realpath(sys.executable)
        assert out["python"]["libpython"] in ("shared library", "in the executable")
    assert "removed" in done.stderr and "earlier bench run" in done.stderr


def test_a_terminated_bench_stops_the_simulated_web_it_started() -> None:
    # SIGTERM (a CI timeout, `kill`) used to end the bench at once, leaving the simulated
    # web (and, with Prefect, a server in its own session) running on this machine.
    command = [str(ROOT / "bench" / "run"), "--quick", "--no-prefect", "--urls", "300"]
    bench = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        assert bench.stderr is not None
        line = bench.stderr.readline()  # "catalog: ..." once the web is up and the catalog made
        assert line.startswith("catalog:"), line
        children = process_family(bench.pid)[1:]
        assert children, "the simulated web runs as a child process"
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=30) == 128 + signal.SIGTERM
        assert not [pid for pid in children if _alive(pid)], "the simulated web was stopped"
    finally:
        bench.kill()
        bench.wait()
        for pid in children:  # whatever the outcome, nothing of this test keeps running
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if b"bench.simweb" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"
