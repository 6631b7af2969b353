"""The pieces of `bench/run`: simulated web, catalog, runs, and the figures they yield.

Stage: benchmark (never imported by the product). Inputs: catalog size, host count and
latency. Outputs: `RunFigures` per run (wall time, CPU, RSS, bytes, per-host concurrency
the server saw, accuracy against the ground truth) and the `Floor` politeness allows.

Every process started here is a child of the caller and is stopped by the context
manager that started it. Only loopback addresses are ever targets.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import os
import platform
import resource
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from bench.gencatalog import generate, summarize, truth_path, write_catalog, write_truth
from catalog.settings import CheckSettings

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

#: Requests a correct first check needs per URL of each kind under the default settings
#: (GET first, 3 attempts for retried failures, redirects followed), and seconds of
#: Retry-After that pause the whole host.
REQUESTS_PER_KIND: dict[str, int] = {
    "temp": 2,
    "perm": 2,
    "home-redirect": 2,
    "loop": 2,
    "flaky503": 2,
    "ratelimit": 2,
    "reset": 3,
    "500": 3,
}
PAUSE_PER_KIND: dict[str, float] = {"ratelimit": 1.0}


# --- the machine ---------------------------------------------------------------------------------


def machine_speed() -> dict[str, float]:
    """Seconds this Python takes for ten million additions (best of three): the same
    machine kind has been seen twice as slow on one day as on another, so results of
    different days compare only through this figure."""
    best = float("inf")
    for _ in range(3):  # 2 million at a time, scaled: a second or less in all
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return {"python_10M_additions_s": round(best * 5, 3), "cpus": float(os.cpu_count() or 1)}


def interpreter() -> dict[str, str]:
    """The Python the runs use, and how it was built: on this machine Debian's python3.11
    (PGO and LTO, libpython linked into the executable) spent 10 % less CPU on a first 10k
    run than the pyenv build the venv had (no PGO or LTO, libpython a shared library; six
    alternated pairs): figures of two builds compare no better than figures of two days."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        linked = "unknown"
    else:
        linked = "shared library" if "/libpython" in maps else "in the executable"
    return {
        "version": platform.python_version(),
        "executable": os.path.realpath(sys.executable),
        "libpython": linked,
    }


def compile_bytecode(root: Path = ROOT) -> None:
    """Write the bytecode of linkhealth's own modules, as installing a wheel does.

    An editable checkout has none until a process writes it, and under
    `PYTHONDONTWRITEBYTECODE` (set on some machines, this one included) no process ever
    does: every `linkhealth check` would compile its ~100 modules from source again, a
    quarter to half a CPU-second that an installed linkhealth never spends. `compileall`
    writes it whatever that variable says and skips modules whose bytecode is current; a
    module edited later no longer matches its bytecode's timestamp and is compiled afresh
    by the importer, so nothing stale is ever run."""
    for package in ("catalog", "flows", "reports"):
        if not compileall.compile_dir(root / package, quiet=1):
            raise RuntimeError(f"could not compile {root / package}")


# --- the simulated web -------------------------------------------------------------------------


@dataclass
class Web:
    """A running `bench.simweb` process."""

    port: int
    control: str
    process: subprocess.Popen[str]

    def reset(self) -> None:
        httpx.get(f"{self.control}/__reset", trust_env=False).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.control}/__stats", trust_env=False, timeout=30)
        return dict(response.json())


@contextlib.contextmanager
def simweb(hosts: int, latency_ms: float, jitter_ms: float = 0.0) -> Iterator[Web]:
    """Start the simulated web on a free port; stop it however the block ends."""
    command = [sys.executable, "-m", "bench.simweb", "--hosts", str(hosts), "--port", "0"]
    command += ["--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 60)
            line = process.stdout.readline() if ready else ""
            if not line:
                errors.seek(0)
                raise RuntimeError(f"simweb did not start: {errors.read()}")
            info = json.loads(line)
            yield Web(port=int(info["port"]), control=str(info["control"]), process=process)
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[Any], group: bool = False) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
            process.wait(timeout=15)
    if process.stdout is not None:
        process.stdout.close()


# --- catalog, ground truth, floor --------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    catalog: Path
    truth: Path
    summary: Mapping[str, Any]
    #: url -> (host, kind), in catalog order.
    rows: Mapping[str, tuple[str, str]]


def make_catalog(
    out: Path, *, urls: int, hosts: int, seed: int, port: int, max_host_share: float = 0.05
) -> Generated:
    entries = generate(urls, hosts, seed, port, cap_share=max_host_share)
    title = f"Benchmark: {urls} URLs over {hosts} simulated hosts (seed {seed})"
    catalog = write_catalog(entries, out, title)
    truth = write_truth(entries, truth_path(out))
    rows = {e.url: (e.host, e.kind) for e in entries}
    return Generated(catalog, truth, summarize(entries), rows)


@dataclass(frozen=True)
class Floor:
    """The soonest a run may end under per-host politeness, set by its busiest host."""

    #: The issue's definition: max over hosts of URLs / rate (or URLs x latency / conc).
    by_urls_s: float
    #: Counting every request a correct check must send (redirect hops, the retries the
    #: settings prescribe, one soft-404 probe per host) and Retry-After pauses.
    by_requests_s: float
    busiest_host: str
    busiest_urls: int
    busiest_requests: int


def politeness_floor(
    rows: Mapping[str, tuple[str, str]], settings: CheckSettings, latency_s: float
) -> Floor:
    urls: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    pauses: defaultdict[str, float] = defaultdict(float)
    for host, kind in rows.values():
        urls[host] += 1
        requests[host] += REQUESTS_PER_KIND.get(kind, 1)
        pauses[host] += PAUSE_PER_KIND.get(kind, 0.0)
    if settings.soft404_probe:
        for host in urls:
            requests[host] += 1

    def seconds(host: str, count: int, pause: float) -> float:
        concurrency, rate = settings.policy_for(host)
        by_rate = count / rate if rate > 0 else 0.0
        return max(by_rate, count * latency_s / max(1, concurrency)) + pause

    by_urls = {h: seconds(h, n, 0.0) for h, n in urls.items()}
    by_requests = {h: seconds(h, requests[h], pauses[h]) for h in urls}
    busiest = max(by_requests, key=lambda h: by_requests[h])
    return Floor(
        by_urls_s=max(by_urls.values()),
        by_requests_s=by_requests[busiest],
        busiest_host=busiest,
        busiest_urls=urls[busiest],
        busiest_requests=requests[busiest],
    )


# --- accuracy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accuracy:
    checked: int
    correct: int
    #: "expected -> got" -> count
    mismatches: Mapping[str, int]
    missing: int

    @property
    def share(self) -> float:
        return self.correct / max(1, self.checked + self.missing)


def accuracy(truth: Path, got: Mapping[str, str]) -> Accuracy:
    """Compare outcomes by URL (canonical form) with the `-truth.jsonl` file."""
    from catalog.urls import canonical_url

    correct = missing = 0
    wrong: Counter[str] = Counter()
    for line in truth.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        outcome = got.get(canonical_url(row["url"]))
        if outcome is None:
            missing += 1
        elif outcome == row["expected"]:
            correct += 1
        else:
            wrong[f"{row['kind']}: {row['expected']} -> {outcome}"] += 1
    return Accuracy(len(got), correct, dict(wrong.most_common()), missing)


def latest_outcomes(db_file: Path) -> dict[str, str]:
    """The latest observation's outcome per URL, read straight from the SQLite file."""
    query = (
        "SELECT url, outcome FROM observations WHERE id IN "
        "(SELECT max(id) FROM observations GROUP BY link_id)"
    )
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        return {str(url): str(outcome) for url, outcome in db.execute(query)}


def observation_count(db_file: Path) -> int:
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        return int(db.execute("SELECT count(*) FROM observations").fetchone()[0])


def observation_bytes(db_file: Path) -> int | None:
    """Bytes the observations table and its indexes take, or None when this SQLite has no
    `dbstat`. Resources and links grow with the catalog, observations with every run:
    only these say what a year of nightly runs costs."""
    query = """
        SELECT sum(pgsize) FROM dbstat WHERE name IN (
            SELECT name FROM sqlite_schema WHERE tbl_name = 'observations'
        )"""
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute(query).fetchone()[0] or 0)
        except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
            return None


# --- one run's figures --------------------------------------------------------------------------


@dataclass
class RunFigures:
    label: str
    urls: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    requests: int = 0
    bytes_sent: int = 0
    max_open_per_host: int = 0
    max_per_second: int = 0
    busiest_requests: int = 0
    busiest_first_s: float = 0.0
    busiest_last_s: float = 0.0
    accuracy: Accuracy | None = None
    #: seconds of the checker core alone, when measured separately
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def urls_per_s(self) -> float:
        return self.urls / max(self.wall_s, 1e-9)

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / max(1, self.urls) * 1000

    def with_web(self, stats: Mapping[str, Any], busiest: str) -> RunFigures:
        total = stats["total"]
        hosts = stats["hosts"]
        return replace(
            self,
            requests=int(total["requests"]),
            bytes_sent=int(total["bytes_sent"]),
            max_open_per_host=max((int(h["max_open"]) for h in hosts.values()), default=0),
            max_per_second=max((int(h["max_per_second"]) for h in hosts.values()), default=0),
            busiest_requests=int(hosts.get(busiest, {}).get("requests", 0)),
            # When the busiest host saw its first and last request (seconds after the
            # reset): the gap to its floor is the checker's, the rest of the wall time is not.
            busiest_first_s=float(hosts.get(busiest, {}).get("first_s") or 0.0),
            busiest_last_s=float(hosts.get(busiest, {}).get("last_s") or 0.0),
        )


class PeakRss:
    """Samples VmHWM of a child and its descendants from /proc.

    `ru_maxrss` of a child counts the parent's pages at fork, so for a child forked from
    this (large) process it says more about us than about the child.
    """

    def __init__(self, pid: int, every_s: float = 0.25) -> None:
        self.pid = pid
        self.peak_kb = 0
        #: CPU seconds of each thread of `pid` (by thread id) at the last sample: a thread
        #: that ends between samples loses at most one interval's worth.
        self.thread_cpu: dict[int, float] = {}
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            total = sum(_hwm_kb(pid) for pid in process_family(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self.thread_cpu.update(thread_cpu_s(self.pid))

    def threads(self) -> dict[str, float]:
        """The main thread's CPU seconds, the busiest other thread's (the checking loop's
        in a flow), and the rest of the threads' together."""
        others = sorted((s for tid, s in self.thread_cpu.items() if tid != self.pid), reverse=True)
        return {
            "main": round(self.thread_cpu.get(self.pid, 0.0), 2),
            "busiest_other": round(others[0] if others else 0.0, 2),
            "rest": round(sum(others[1:]), 2),
        }


def thread_cpu_s(pid: int) -> dict[int, float]:
    """Thread id -> user + system CPU seconds of each thread of `pid`, from /proc (Linux)."""
    found: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            fields = task.joinpath("stat").read_text().rpartition(")")[2].split()
            found[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def process_family(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc (Linux)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return found


def _hwm_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


# --- the checker core, in this process ---------------------------------------------------------


def check_settings(**changes: Any) -> CheckSettings:
    """The default check settings, plus loopback allowed (the simulated web lives there)."""
    return replace(CheckSettings(private_allowlist=("127.0.0.0/8",)), **changes)


def run_core(
    label: str, targets: Sequence[Any], settings: CheckSettings
) -> tuple[RunFigures, list[Any]]:
    """`check_targets` on `targets` in this process: wall time, CPU and RSS of this process."""
    from catalog.check import check_targets
    from catalog.check.loop import run_gathering
    from catalog.check.politeness import wake_tick

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    observations = run_gathering(check_targets(targets, settings), wake_tick(settings))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures = RunFigures(
        label=label,
        urls=len(targets),
        wall_s=wall,
        cpu_s=_cpu(after) - _cpu(before),
        peak_rss_mb=after.ru_maxrss / 1024,
    )
    return figures, observations


def targets_from_catalog(catalog: Path) -> list[Any]:
    """First-run targets of a catalog file, as the plan makes them (one per distinct URL)."""
    from catalog.model import Target
    from catalog.source import load_catalog
    from catalog.urls import canonical_url, host_of

    seen: dict[str, Target] = {}
    for resource_ in load_catalog(catalog).resources:
        url = canonical_url(resource_.url)
        if url not in seen:
            seen[url] = Target(url=url, host=host_of(url), resource_ids=(resource_.id,))
    return list(seen.values())


# --- linkhealth through its own entry points ---------------------------------------------------


def write_config(
    workdir: Path,
    catalog: Path,
    *,
    batch_size: int | None = None,
    check: Mapping[str, int | float] | None = None,
) -> Path:
    """A linkhealth.toml for the bench: fresh SQLite file, loopback allowed, no archive;
    `check`: more `[check]` settings (the per-host politeness of a comparison run)."""
    db = database_in(workdir)
    lines = [
        f'database_url = "sqlite:///{db}"',
        f"catalogs = [{json.dumps(str(catalog))}]",
        f"reports_dir = {json.dumps(str(workdir / 'reports'))}",
        "",
        "[check]",
        'private_allowlist = ["127.0.0.0/8"]',
    ]
    if batch_size is not None:
        lines.append(f"batch_size = {batch_size}")
    lines += [f"{name} = {value}" for name, value in (check or {}).items()]
    lines += ["", "[health]", "archive_lookups = false  # the bench never leaves loopback"]
    config = workdir / "linkhealth.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def run_direct(label: str, config: Path) -> RunFigures:
    """The flow's library calls without Prefect, in this process: sync and plan, one
    `check_targets` over every target (timed alone as `extra["core_s"]`), store, finish."""
    from catalog.check import check_targets
    from catalog.check.loop import run_gathering
    from catalog.check.politeness import wake_tick
    from catalog.runs import finish_run, prepare_run, store_batch
    from catalog.settings import load_settings

    settings = load_settings(config)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    prepared = prepare_run(settings, trigger="bench")
    targets = [t for batch in prepared.batches for t in batch.targets]
    planned = time.perf_counter()
    core_before = resource.getrusage(resource.RUSAGE_SELF)
    observations = run_gathering(check_targets(targets, settings.check), wake_tick(settings.check))
    checked = time.perf_counter()
    core_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(core_before)
    stored = store_batch(settings, prepared.run_id, observations)
    finish_run(settings, prepared.run_id, stored=[stored], sync=prepared.sync)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return RunFigures(
        label=label,
        urls=len(targets),
        wall_s=wall,
        cpu_s=_cpu(after) - _cpu(before),
        peak_rss_mb=after.ru_maxrss / 1024,
        extra={
            "prepare_s": round(planned - started, 3),
            "core_s": round(checked - planned, 3),
            "core_cpu_s": round(core_cpu, 3),
            "store_s": round(time.perf_counter() - checked, 3),
        },
    )


def db_file(config: Path) -> Path:
    return database_in(config.parent)


def database_in(workdir: Path) -> Path:
    """The SQLite file of the run set up in `workdir` (`write_config`)."""
    return workdir / "linkhealth.db"


def run_flow(label: str, config: Path, urls: int, api: PrefectApi) -> RunFigures:
    """`linkhealth check --no-report` in a child process; CPU and RSS of it and its children,
    and (`extra["server_cpu_s"]`) the CPU the Prefect server spent meanwhile."""
    command = [str(VENV_BIN / "linkhealth"), "check", "--config", str(config), "--no-report"]
    log = config.parent / f"{label}.log"
    server_before = api.server_cpu_s()
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=config.parent, stdout=out, stderr=subprocess.STDOUT, env=dict(api.env)
        )
        threads: dict[str, float] = {}
        wall, cpu, peak = wait_measured(process, started, threads)
    server_after = api.server_cpu_s()
    if process.returncode not in (0, 6):
        raise RuntimeError(f"linkhealth check failed ({process.returncode}); see {log}")
    figures = RunFigures(label=label, urls=urls, wall_s=wall, cpu_s=cpu, peak_rss_mb=peak)
    figures.extra["thread_cpu_s"] = threads
    if server_before is not None and server_after is not None:
        figures.extra["server_cpu_s"] = round(server_after - server_before, 2)
    return figures


def wait_measured(
    process: subprocess.Popen[Any], started: float, threads: dict[str, float] | None = None
) -> tuple[float, float, float]:
    """Wait for a child started at `started` (`time.perf_counter`): its wall time, the CPU
    seconds of it and its children, and its family's peak RSS in MB; sets its returncode.
    `threads`, when given, gets the child's CPU by thread (`PeakRss.threads`).

    Interrupted (Ctrl-C, SIGTERM), it stops the child first: a flow or lychee left running
    on its own would keep loading the machine.
    """
    sampler = PeakRss(process.pid)
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        sampler.stop()
        _stop(process)
        raise
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    peak = sampler.stop()
    if threads is not None:
        threads.update(sampler.threads())
    return wall, _cpu(usage), peak


@dataclass(frozen=True)
class PrefectApi:
    """Where flows report to: the environment to run them in, and the server's process."""

    env: dict[str, str]
    #: The server started here; None for one PREFECT_API_URL named (maybe on another machine).
    server_pid: int | None = None

    def server_cpu_s(self) -> float | None:
        """CPU seconds the server has used so far. A flow's own CPU is not all a run costs:
        the server spends its own on every state change and event the flow sends."""
        if self.server_pid is None:
            return None
        return sum(_proc_cpu_s(pid) for pid in process_family(self.server_pid))


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU of `pid` and its waited-for children, from /proc (Linux)."""
    fields = proc_stat(pid)
    if fields is None:
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None when
    the process is gone. The name is cut at the last ")": it may hold spaces and ")"."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


@contextlib.contextmanager
def prefect_api(home: Path) -> Iterator[PrefectApi]:
    """PREFECT_API_URL if given, else a server started here (and stopped at the end)."""
    env = dict(os.environ)
    given = env.get("PREFECT_API_URL")
    if given:
        yield PrefectApi(env)
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=url, PREFECT_SERVER_ANALYTICS_ENABLED="0")
    env["PREFECT_SERVER_UI_ENABLED"] = "0"
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "server.log").open("w")
    command = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start; see {home / 'server.log'}")
            time.sleep(0.5)
        yield PrefectApi(env, process.pid)
    finally:
        _stop(process, group=True)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
