"""The benchmark's smallest path keeps working: `bench/run --quick --no-prefect`.

It starts the simulated web on loopback, generates a catalog, checks it with the flow's
library calls (no Prefect server) and scores the stored outcomes against the ground truth.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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
