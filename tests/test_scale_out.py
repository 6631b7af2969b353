"""Scale-out: two Prefect workers, separate processes, share one run by host shard.

The parent flow `check-catalog-sharded` (run in this process) starts one run of the
`shard` deployment of prefect.yaml per shard; two `prefect worker start` processes on
one process work pool pick them up over loopback, each limited to one flow run at a
time. The site holds every answer until both shards have asked something, so the run
only finishes when the shards overlap, which two workers of limit 1 can do and one
cannot. Settings reach the flow processes as an operator's would: a linkhealth.toml
named by LINKHEALTH_CONFIG in the workers' environment, LINKHEALTH_HOME for the pull
step of prefect.yaml.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.harness import proc_stat
from catalog import store, tables
from catalog.clock import utcnow
from catalog.db import open_engine, session_scope
from catalog.errors import CatalogError
from catalog.ops import EVENT_RUN_REFUSED
from catalog.queries import report_data
from catalog.runs import LEASE_TTL, RunInProgressError
from catalog.shards import FULL_RUN_LEASE, shard_of
from tests.local_site import Answer, handler_class

#: Five Python processes start here (two workers, `prefect deploy`, two flow runs): allow for
#: a busy machine on top of the pytest-wide limit.
pytestmark = [pytest.mark.flow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
SHARDS = 2
PAGES_PER_HOST = 3
#: The site answers anyway after this long, so a lone worker fails the test instead of hanging.
OVERLAP_WAIT_SECONDS = 60.0


@dataclass
class ShardedSite:
    """Loopback hosts of both shards; what reached them, and whether the shards overlapped."""

    urls: dict[str, int] = field(default_factory=dict)  # url -> shard (0-based)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, url)
    asked: set[int] = field(default_factory=set)
    overlapped: threading.Event = field(default_factory=threading.Event)
    #: pid -> parent pid of every process, taken while both shard runs were waiting on us.
    parents: dict[int, int] = field(default_factory=dict)


def _process_parents() -> dict[int, int]:
    """pid -> parent pid, from /proc (Linux, like the 127.0.0.x loopback hosts here)."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = proc_stat(int(entry.name))
        if fields is not None:  # else the process ended meanwhile
            parents[int(entry.name)] = int(fields[1])  # state, then the parent's pid
    return parents


def _ancestors(pid: int, parents: dict[int, int]) -> set[int]:
    found: set[int] = set()
    while pid in parents and pid not in found and pid > 1:
        found.add(pid)
        pid = parents[pid]
    return found


def _hosts_per_shard(per_shard: int) -> list[str]:
    """Loopback addresses, `per_shard` of each shard (127.0.0.0/8 is all loopback on Linux)."""
    picked: dict[int, list[str]] = {i: [] for i in range(SHARDS)}
    for last in range(1, 255):
        ip = f"127.0.0.{last}"
        bucket = picked[shard_of(ip, SHARDS)]
        if len(bucket) < per_shard:
            bucket.append(ip)
        if all(len(b) == per_shard for b in picked.values()):
            return [ip for bucket in picked.values() for ip in bucket]
    raise AssertionError("not enough loopback hosts for every shard")


@contextmanager
def sharded_site() -> Iterator[ShardedSite]:
    site = ShardedSite()
    lock = threading.Lock()

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        address = request.server.server_address
        assert isinstance(address, tuple)  # an AF_INET server: (host, port)
        host, port = address[:2]
        url = f"http://{host}:{port}{request.path}"
        with lock:
            site.requests[(request.command, url)] += 1
            site.asked.add(shard_of(str(host), SHARDS))
            if len(site.asked) == SHARDS and not site.overlapped.is_set():
                site.parents = _process_parents()
                site.overlapped.set()
        site.overlapped.wait(OVERLAP_WAIT_SECONDS)
        page = f"<title>Page {request.path}</title><p>About {request.path}.</p>".encode()
        return (200 if url in site.urls else 404), {"Content-Type": "text/html"}, page

    Handler = handler_class(answer)

    with ExitStack() as stack:
        for ip in _hosts_per_shard(2):
            server = ThreadingHTTPServer((ip, 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            stack.callback(site.overlapped.set)  # never leave a handler waiting
            for page in range(PAGES_PER_HOST):
                site.urls[f"http://{ip}:{server.server_address[1]}/page{page}"] = shard_of(
                    ip, SHARDS
                )
        yield site


def _write_settings(tmp_path: Path, migrated_db_url: str, urls: list[str]) -> Path:
    catalog = tmp_path / "catalog.yaml"
    lines = ["collection:", "  title: Scale-out", "resources:"]
    for n, url in enumerate(urls):
        lines += [f"  - id: r{n}", f"    title: Page {n}", f"    url: {url}"]
    catalog.write_text("\n".join(lines) + "\n")
    config = tmp_path / "linkhealth.toml"
    config.write_text(
        f"database_url = {migrated_db_url!r}\n"
        f"catalogs = [{str(catalog)!r}]\n"
        f"reports_dir = {str(tmp_path / 'reports')!r}\n"
        "[check]\n"
        "allow_private = true\n"
        "soft404_probe = false\n"
        "https_upgrades = false\n"
        "max_attempts = 1\n"
        "per_host_rate = 100.0\n"
        f"read_timeout = {OVERLAP_WAIT_SECONDS + 30}\n"
        f"total_timeout = {OVERLAP_WAIT_SECONDS + 60}\n"
        "[health]\n"
        "archive_lookups = false\n"
    )
    return config


def _create_pool(name: str) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    async def create() -> None:
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                ),
                overwrite=True,
            )

    asyncio.run(create())


@contextmanager
def workers(
    pool: str, env: dict[str, str], logs: Path, count: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `prefect worker start` processes (limit one flow run each), logging to `logs`."""
    started: list[subprocess.Popen[bytes]] = []
    files = [logs / f"worker-{n}.log" for n in range(count)]
    try:
        for n, path in enumerate(files):
            with path.open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
                         "--type", "process", "--limit", "1", "--name", f"{pool}-{n}"],
                        cwd=logs, env=env, stdout=out, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        yield started
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_two_workers_split_a_run_by_host_shard_and_check_every_url_once(
    prefect_harness: None, tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.check_flow import check_catalog_sharded

    pool = f"lh-scale-{uuid.uuid4().hex[:8]}"
    _create_pool(pool)
    with sharded_site() as site:
        config = _write_settings(tmp_path, migrated_db_url, sorted(site.urls))
        env = _worker_env(config)
        with workers(pool, env, tmp_path, count=SHARDS) as started:
            _deploy("shard", pool, env)
            monkeypatch.setenv("LINKHEALTH_CONFIG", str(config))  # the parent renders the report
            states = check_catalog_sharded(shards=SHARDS, poll_seconds=0.5)
        assert site.overlapped.is_set(), "the two shard runs never ran at the same time"
    worker_logs = [path.read_text(errors="replace") for path in tmp_path.glob("worker-*.log")]

    assert states == {"1/2": "Completed", "2/2": "Completed"}, worker_logs
    # Server side: every catalog URL was asked for by exactly one check, nothing else was.
    asked = Counter(url for (_method, url) in site.requests.elements())
    assert set(asked) == set(site.urls)
    assert all(site.requests[("GET", url)] == 1 for url in site.urls), site.requests
    assert all(site.requests[("HEAD", url)] <= 1 for url in site.urls), site.requests
    # Database side: one observation per URL, each from the run of its host's shard.
    engine = open_engine(migrated_db_url)
    try:
        with session_scope(engine) as s:
            rows = s.execute(
                select(tables.Observation.url, tables.Run.summary)
                .join(tables.Run, tables.Run.id == tables.Observation.run_id)
            ).all()  # fmt: skip
            runs = s.scalars(select(tables.Run).order_by(tables.Run.id)).all()
            assert s.scalar(select(func.count()).select_from(tables.Observation)) == len(rows)
        assert store.get_lease(engine, FULL_RUN_LEASE) is None  # the parent gave it back
        night = report_data(engine).run  # the report's run is the whole night, not a shard
        assert night is not None and night.urls_checked == len(site.urls)
        assert sorted(night.run_ids) == sorted(r.id for r in runs)
    finally:
        engine.dispose()
    assert sorted(url for url, _ in rows) == sorted(site.urls)
    for url, summary in rows:
        assert summary["shard"] == f"{site.urls[url] + 1}/{SHARDS}"
    assert sorted(r.summary["shard"] for r in runs) == ["1/2", "2/2"]
    # Each shard run knew its parent from the start, so a parent that dies cannot leave
    # the night as two half runs (catalog.store.group_ended_shards).
    assert {r.summary.get("sharded_parent") for r in runs} == {runs[0].summary["sharded_run"]}
    assert all(r.status == "completed" for r in runs)
    # The parent (called here as by a schedule) passes its trigger on to its shard runs,
    # which are deployment runs the scheduler did not make (flows.triggers).
    assert [r.trigger for r in runs] == ["schedule", "schedule"]
    # Each worker ran one shard: the process holding each shard's lease descended from it.
    workers_of_shard = {
        r.summary["shard"]: {
            w.pid
            for w in started
            if w.pid in _ancestors(_holder_pid(r.summary["holder"]), site.parents)
        }
        for r in runs
    }
    assert sorted(map(len, workers_of_shard.values())) == [1, 1], (workers_of_shard, worker_logs)
    assert set().union(*workers_of_shard.values()) == {w.pid for w in started}
    assert (tmp_path / "reports" / "latest.html").is_file()


def test_a_run_of_the_nightly_deployment_started_by_hand_is_manual(
    prefect_harness: None, tmp_path: Path, migrated_db_url: str
) -> None:
    """prefect.yaml gives `nightly` the parameter `trigger: schedule`; a run someone starts
    (`prefect deployment run`, the UI's Quick run) must be recorded as manual, and fail
    rather than end Skipped on an overlap (flows.triggers)."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    pool = f"lh-manual-{uuid.uuid4().hex[:8]}"
    _create_pool(pool)
    with sharded_site() as site:
        site.overlapped.set()  # one run alone: nothing to wait for
        env = _worker_env(_write_settings(tmp_path, migrated_db_url, sorted(site.urls)))
        with workers(pool, env, tmp_path, count=1):
            _deploy("nightly", pool, env)
            run = run_deployment("check-catalog/nightly", timeout=120, poll_interval=0.5)
    assert isinstance(run, FlowRun) and run.state is not None
    assert run.state.is_completed(), [p.read_text() for p in tmp_path.glob("worker-*.log")]
    assert run.parameters["trigger"] == "schedule" and not run.auto_scheduled
    engine = open_engine(migrated_db_url)
    try:
        assert [r.trigger for r in store.latest_runs(engine)] == ["manual"]
    finally:
        engine.dispose()


def _worker_env(config: Path) -> dict[str, str]:
    """A worker's environment as an operator sets it up (see the module docstring)."""
    from prefect.settings import PREFECT_API_URL

    return {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "LINKHEALTH_HOME": str(ROOT),
        "LINKHEALTH_CONFIG": str(config),
    }


def _deploy(name: str, pool: str, env: dict[str, str]) -> None:
    deploy = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--name", name,
         "--pool", pool],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr


def test_a_sharded_run_never_starts_beside_an_unsharded_full_run(
    prefect_harness: None, tmp_path: Path, migrated_db_url: str
) -> None:
    """`nightly` and `nightly-sharded` exclude each other through the full-run lease:
    the sharded run starts no shard while an unsharded run holds it."""
    from flows.check_flow import check_catalog_sharded

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("resources:\n  - {id: a, title: A, url: 'https://example.org/a'}\n")
    overrides = {"database_url": migrated_db_url, "catalogs": [str(catalog)]}
    engine = open_engine(migrated_db_url)
    try:
        store.acquire_lease(engine, FULL_RUN_LEASE, "box:42 flow-1", now=utcnow(), ttl=LEASE_TTL)
        missing = "check-catalog/no-such-deployment"  # reaching it would raise something else
        with pytest.raises(RunInProgressError, match="box:42 flow-1"):
            check_catalog_sharded(deployment=missing, overrides=overrides, trigger="manual")
        state = check_catalog_sharded(
            deployment=missing, overrides=overrides, trigger="schedule", return_state=True
        )
        assert state.is_completed() and state.name == "Skipped"
        assert store.get_lease(engine, FULL_RUN_LEASE).holder == "box:42 flow-1"  # type: ignore[union-attr]
        assert store.latest_runs(engine) == []
    finally:
        engine.dispose()


def test_a_sharded_run_of_a_broken_catalog_is_refused_once_before_any_shard(
    prefect_harness: None,
    isolated_cwd: Path,
    tmp_path: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    # Each shard would refuse on its own: n refused runs and n alerts for one bad edit.
    from flows.check_flow import check_catalog_sharded

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("resources:\n  - {id: a, title: A, url: 'https://example.org/a'}\n  - [")
    overrides = {"database_url": migrated_db_url, "catalogs": [str(catalog)]}
    missing = "check-catalog/no-such-deployment"  # reaching it would raise something else
    with pytest.raises(CatalogError, match=r"catalog\.yaml"):
        check_catalog_sharded(deployment=missing, overrides=overrides, trigger="schedule")
    engine = open_engine(migrated_db_url)
    try:
        (refused,) = store.latest_runs(engine)
        assert (refused.status, refused.trigger) == ("refused", "schedule")
        reason = refused.summary["refused_reason"]
        assert sent_events == [(EVENT_RUN_REFUSED, {"reason": reason, "trigger": "schedule"})]
        assert store.get_lease(engine, FULL_RUN_LEASE) is None
        (report,) = isolated_cwd.glob("**/latest.html")  # headed by the refusal
        assert "refused-notice" in report.read_text()
    finally:
        engine.dispose()


def _holder_pid(holder: str) -> int:
    """ "host:pid flow-run-id" (catalog.store.lease_holder) -> pid."""
    return int(holder.split(" ", 1)[0].rpartition(":")[2])
