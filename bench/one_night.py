"""One more synthetic night on a database `bench.report_db` built, timing the run steps.

Stage: benchmark fixture (not part of linkhealth). Stores the night after the last one
`report_db` stored (`--runs` and `--resources` as it was built with), through the same
steps (`prepare_run` with its sync, `store_batch` per batch, `finish_run`), into any
database URL: a SQLite file or its copy in PostgreSQL (`linkhealth db copy`), so both
backends are timed on the same history. Prints one JSON line of seconds per step.

    python -m bench.one_night --db postgresql+psycopg://postgres@127.0.0.1:5432/night \\
        --catalog /tmp/lh/r100k.yaml --resources 100000 --runs 6

It writes a run into the database: time a copy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from bench.gencatalog import generate
from bench.report_db import END, RUN_SPACING, _observation
from catalog.runs import FULL_RUN_LEASE, BatchStored, finish_run, prepare_run, store_batch
from catalog.settings import HealthSettings, Settings


def one_night(
    url: str, catalog: Path, resources: int, runs: int, seed: int = 1
) -> dict[str, float]:
    """Store night number `runs` (0-based: the one after the last built) and time it."""
    entries = generate(resources, max(1, resources // 50), seed)
    by_n = {e.n: e for e in entries}
    at = END + RUN_SPACING

    def clock() -> datetime:
        return at

    settings = Settings(
        database_url=url,
        catalogs=(catalog,),
        reports_dir=catalog.with_suffix(".night-reports"),
        health=HealthSettings(archive_lookups=False),
    )
    started = time.perf_counter()
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    out = {"prepare_s": time.perf_counter() - started, "store_s": 0.0}
    stored: list[BatchStored] = []
    for batch in prepared.batches:
        observations = [
            _observation(by_n[int(t.url.rsplit("/", 1)[1])], t.url, runs, runs, at)
            for t in batch.targets
        ]
        started = time.perf_counter()
        stored.append(store_batch(settings, prepared.run_id, observations, clock=clock))
        out["store_s"] += time.perf_counter() - started
    started = time.perf_counter()
    finish_run(
        settings,
        prepared.run_id,
        stored=stored,
        sync=prepared.sync,
        clock=lambda: at + timedelta(minutes=30),
        lease=prepared.lease,
    )
    out["finish_s"] = time.perf_counter() - started
    out["total_s"] = out["prepare_s"] + out["store_s"] + out["finish_s"]
    return {k: round(v, 2) for k, v in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.one_night", description=__doc__)
    parser.add_argument("--db", required=True, help="database URL (a copy: a run is stored)")
    parser.add_argument("--catalog", type=Path, required=True, help="the .yaml beside --out")
    parser.add_argument("--resources", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True, help="nights the database holds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(one_night(args.db, args.catalog, args.resources, args.runs, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
