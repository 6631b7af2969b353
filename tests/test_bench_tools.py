"""Smoke tests of the benchmark's simulated web (`bench.simweb`) and catalog generator.

The simulated web runs as the benchmark runs it: a separate process on loopback, started
once for this module and always stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.gencatalog import (
    EXPECTED,
    generate,
    host_sizes,
    main,
    truth_path,
    write_catalog,
    write_truth,
)
from bench.harness import compile_bytecode
from bench.simweb import KINDS, host_address
from catalog.outcomes import Outcome
from catalog.source import load_catalog

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = ip_network("127.0.0.0/8")
HOSTS = 3
LATENCY_MS = 20

#: The status each behaviour answers a first GET with (None: the connection is reset).
FIRST_STATUS: dict[str, int | None] = {
    "ok": 200,
    "html": 200,
    "pdf": 200,
    "404": 404,
    "410": 410,
    "500": 500,
    "flaky503": 503,
    "ratelimit": 429,
    "reset": None,
    "slow": 200,
    "perm": 301,
    "temp": 302,
    "loop": 302,
    "soft404": 200,
    "home-redirect": 302,
    "head405": 200,
    "etag": 200,
    "blocked": 403,
}


@dataclass(frozen=True)
class Web:
    port: int
    control: str

    def url(self, host: int, path: str) -> str:
        return f"http://{host_address(host)}:{self.port}{path}"

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.control}/__stats").json()


@pytest.fixture(scope="module")
def simweb_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    command = [sys.executable, "-m", "bench.simweb", "--hosts", str(HOSTS), "--port", "0"]
    command += ["--latency-ms", str(LATENCY_MS), "--jitter-ms", "2"]
    errors = tmp_path_factory.mktemp("simweb") / "stderr.txt"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline() if ready else ""
        if not line:
            pytest.fail(f"simweb did not start: {errors.read_text()}")
        info = json.loads(line)
        yield Web(port=info["port"], control=info["control"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def web(simweb_process: Web) -> Web:
    httpx.get(f"{simweb_process.control}/__reset").raise_for_status()
    return simweb_process


def test_hosts_are_distinct_loopback_addresses() -> None:
    addresses = [host_address(i) for i in range(600)]
    assert len(set(addresses)) == 600
    assert all(ip_address(a) in LOOPBACK for a in addresses)
    assert "127.0.0.1" not in addresses  # kept for the control side


def test_behaviours_answer_as_named(web: Web) -> None:
    with httpx.Client() as client:
        page = client.get(web.url(0, "/html/7"))
        assert page.status_code == 200 and "<title>" in page.text
        assert 5_000 <= len(page.content) <= 40_000
        assert client.get(web.url(0, "/html/7")).content == page.content  # stable
        assert client.get(web.url(0, "/pdf/7")).content.startswith(b"%PDF-")
        assert client.get(web.url(0, "/nothing-here")).status_code == 404
        moved = client.get(web.url(0, "/perm/7"))
        assert moved.status_code == 301 and moved.headers["location"].endswith("/html/7")
        assert [client.get(web.url(1, "/flaky503/7")).status_code for _ in "ab"] == [503, 200]
        limited = client.get(web.url(1, "/ratelimit/7"))
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
        assert client.get(web.url(1, "/ratelimit/7")).status_code == 200
        blocked = client.get(web.url(1, "/blocked/7"))
        assert (blocked.status_code, blocked.headers["cf-mitigated"]) == (403, "challenge")
        assert client.head(web.url(2, "/head405/7")).status_code == 405
        etag = client.get(web.url(2, "/etag/7")).headers["etag"]
        again = client.get(web.url(2, "/etag/7"), headers={"If-None-Match": etag})
        assert again.status_code == 304
        with pytest.raises(httpx.TransportError):
            client.get(web.url(2, "/reset/7"))
        with pytest.raises(httpx.TooManyRedirects):
            client.get(web.url(2, "/loop/7"), follow_redirects=True)


def test_server_records_requests_per_host_and_concurrency(web: Web) -> None:
    async def fetch_at_once(count: int) -> None:
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(client.get(web.url(0, f"/slow/{i}")) for i in range(count)))
            for i in range(3):
                await client.head(web.url(1, f"/ok/{i}"))

    asyncio.run(fetch_at_once(4))
    stats = web.stats()
    busy, calm, idle = (stats["hosts"][host_address(i)] for i in range(3))
    assert (busy["requests"], busy["max_open"], busy["methods"]) == (4, 4, {"GET": 4})
    assert (calm["requests"], calm["max_open"], calm["methods"]) == (3, 1, {"HEAD": 3})
    assert calm["max_connections"] == 1  # one kept-alive connection
    assert idle["requests"] == 0
    assert busy["bytes_sent"] > 4 * 5_000 and calm["bytes_sent"] > 0
    assert stats["total"]["requests"] == 7
    assert all(ip_address(h) in LOOPBACK for h in stats["hosts"])


def test_generated_catalog_loads_and_its_urls_behave_as_the_truth_says(
    web: Web, tmp_path: Path
) -> None:
    entries = generate(urls=50, hosts=HOSTS, seed=3, port=web.port)
    catalog_file = write_catalog(entries, tmp_path / "bench.yaml", "Bench")
    truth_file = write_truth(entries, truth_path(catalog_file))

    catalog = load_catalog(catalog_file)
    assert [r.url for r in catalog.resources] == [e.url for e in entries]
    rows = [json.loads(line) for line in truth_file.read_text().splitlines()]
    assert [row["url"] for row in rows] == [e.url for e in entries]
    assert {Outcome(row["expected"]) for row in rows} <= set(Outcome)
    assert all(EXPECTED[row["kind"]] == Outcome(row["expected"]) for row in rows)

    async def fetch_all() -> list[int | None]:
        per_host: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(2))

        async def one(client: httpx.AsyncClient, url: str, host: str) -> int | None:
            async with per_host[host]:
                try:
                    return (await client.get(url)).status_code
                except httpx.TransportError:
                    return None

        async with httpx.AsyncClient() as client:
            return await asyncio.gather(*(one(client, e.url, e.host) for e in entries))

    statuses = asyncio.run(fetch_all())
    assert statuses == [FIRST_STATUS[e.kind] for e in entries]
    stats = web.stats()["hosts"]
    for host, count in Counter(e.host for e in entries).items():
        assert stats[host]["requests"] == count
        assert 1 <= stats[host]["max_open"] <= 2


def test_host_sizes_follow_zipf_under_a_cap() -> None:
    sizes = host_sizes(10_000, 200, zipf=1.1, cap_share=0.05)
    assert sum(sizes) == 10_000 and len(sizes) == 200
    assert max(sizes) == 500 and min(sizes) >= 1
    assert sizes == sorted(sizes, reverse=True)


def test_command_line_writes_catalog_truth_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog-200.yaml"
    args = ["--urls", "200", "--hosts", "10", "--seed", "1", "--base-port", "9"]
    assert main([*args, "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["urls"] == 200 and summary["hosts"] == 10
    assert summary["busiest_host_urls"] <= 20
    assert set(summary["kinds"]) <= set(KINDS)
    assert len(load_catalog(out).resources) == 200
    assert len(truth_path(out).read_text().splitlines()) == 200
    # the same seed gives the same files
    first = out.read_text()
    main([*args, "--out", str(out)])
    assert out.read_text() == first


def _imported_from(root: Path, module: str) -> str:
    """Where the importer says it took `module`'s code from (its bytecode or its source),
    in a process that never writes bytecode (as on a machine with PYTHONDONTWRITEBYTECODE
    set), run in `root` without site-packages so that only `root`'s packages are seen."""
    done = subprocess.run(
        [sys.executable, "-S", "-v", "-c", f"import {module}"],
        cwd=root,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    name = module.replace(".", "/")
    said = [line for line in done.stderr.splitlines() if f"{name}.py" in line]
    return " ".join(said) if said else f"{module}: nothing said in\n{done.stderr}"


def test_bench_measures_linkhealth_from_bytecode_and_never_runs_stale_bytecode(
    tmp_path: Path,
) -> None:
    for package in ("catalog", "flows", "reports"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    module = tmp_path / "catalog" / "step.py"
    module.write_text("ANSWER = 1\n")
    assert ".pyc" not in _imported_from(tmp_path, "catalog.step")  # compiled every time

    compile_bytecode(tmp_path)
    assert "__pycache__/step.cpython" in _imported_from(tmp_path, "catalog.step")

    module.write_text("ANSWER = 2  # edited after the bench compiled it\n")
    os.utime(module, (module.stat().st_atime, module.stat().st_mtime + 10))
    assert ".pyc" not in _imported_from(tmp_path, "catalog.step")
    check = [sys.executable, "-S", "-c", "import catalog.step as s; print(s.ANSWER)"]
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    ran = subprocess.run(check, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ran.stdout == "2\n"
