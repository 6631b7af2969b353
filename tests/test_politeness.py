"""Politeness: per-host concurrency and rate, a global cap, pauses, and fair interleaving."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from catalog.check import check_targets
from catalog.check.politeness import (
    LATE_SLACK,
    MAX_WAKE_TICK,
    HostScheduler,
    Politeness,
    Slots,
    on_schedule,
    wake_tick,
)
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HostPolicy
from catalog.urls import host_of
from tests.factories import public_resolver

BASE = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0, total_timeout=10.0)


def targets(*urls: str) -> list[Target]:
    return [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]


class InFlight:
    """A MockTransport handler that counts requests open at once, per host and overall."""

    def __init__(self, delay: float = 0.01, delays: dict[str, float] | None = None) -> None:
        self.delay = delay
        self.delays = delays or {}
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total_now = 0
        self.total_peak = 0
        self.started: dict[str, list[float]] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.started.setdefault(host, []).append(time.monotonic())
        self.now[host] += 1
        self.total_now += 1
        self.peak[host] = max(self.peak[host], self.now[host])
        self.total_peak = max(self.total_peak, self.total_now)
        try:
            await asyncio.sleep(self.delays.get(host, self.delay))
        finally:
            self.now[host] -= 1
            self.total_now -= 1
        return httpx.Response(200, text="ok")


def run(urls: list[str], settings: CheckSettings, handler, **kwargs) -> list[Observation]:
    return asyncio.run(
        check_targets(
            targets(*urls),
            settings,
            transport=httpx.MockTransport(handler),
            resolver=public_resolver,
            **kwargs,
        )
    )


def test_requests_per_host_never_exceed_the_host_concurrency() -> None:
    handler = InFlight(delay=0.02)
    urls = [f"https://a.example/{i}" for i in range(12)] + [
        f"https://b.example/{i}" for i in range(12)
    ]
    observations = run(urls, replace(BASE, concurrency=8, per_host_concurrency=2), handler)
    assert [o.outcome for o in observations] == [Outcome.OK] * 24
    assert handler.peak["a.example"] == 2 and handler.peak["b.example"] == 2
    assert handler.total_peak == 4, "both hosts are worked on at the same time"


def test_host_override_lowers_its_concurrency() -> None:
    handler = InFlight(delay=0.02)
    settings = replace(
        BASE, per_host_concurrency=3, hosts={"slow.example": HostPolicy(per_host_concurrency=1)}
    )
    run([f"https://slow.example/{i}" for i in range(6)], settings, handler)
    assert handler.peak["slow.example"] == 1


def test_global_concurrency_caps_requests_across_hosts() -> None:
    handler = InFlight(delay=0.02)
    urls = [f"https://h{i}.example/" for i in range(20)]
    observations = run(urls, replace(BASE, concurrency=4), handler)
    assert len(observations) == 20
    assert handler.total_peak == 4


def test_requests_to_one_host_are_spaced_by_its_rate() -> None:
    handler = InFlight(delay=0)
    settings = replace(BASE, per_host_concurrency=4, per_host_rate=50.0)
    run([f"https://a.example/{i}" for i in range(8)], settings, handler)
    starts = sorted(handler.started["a.example"])
    assert starts[-1] - starts[0] >= 7 / 50 * 0.9
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 50 * 0.5, "no bursts"


def test_slow_host_does_not_stall_other_hosts() -> None:
    handler = InFlight(delay=0.005, delays={"slow.example": 0.5})
    finished: dict[str, float] = {}
    start = time.monotonic()

    def record(obs: Observation) -> None:
        finished[obs.url] = time.monotonic() - start

    urls = [f"https://slow.example/{i}" for i in range(6)] + [
        f"https://fast{i}.example/" for i in range(10)
    ]
    run(urls, replace(BASE, concurrency=4, per_host_concurrency=2), handler, on_result=record)
    fast = [t for url, t in finished.items() if "fast" in url]
    assert max(fast) < 0.4, "fast hosts finished while the slow host was still answering"


def test_results_come_back_in_target_order() -> None:
    handler = InFlight(delay=0, delays={"slow.example": 0.05})
    urls = ["https://slow.example/1", "https://fast.example/1", "https://slow.example/2"]
    assert [o.url for o in run(urls, BASE, handler)] == urls


def test_retry_after_pauses_the_host_but_not_other_hosts() -> None:
    first_429: dict[str, bool] = {}
    seen: list[tuple[str, float]] = []
    start = time.monotonic()

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), time.monotonic() - start))
        if request.url.path == "/a1" and not first_429:
            first_429["sent"] = True
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200)

    settings = replace(BASE, per_host_concurrency=2, per_host_rate=10.0)
    urls = ["https://a.example/a1", "https://a.example/a2", "https://b.example/b1"]
    observations = run(urls, settings, handler, sleep=lambda s: asyncio.sleep(s / 4))
    assert [o.outcome for o in observations] == [Outcome.OK] * 3
    times = dict(seen)
    assert times["https://b.example/b1"] < 0.1, "another host is not paused"
    assert times["https://a.example/a2"] >= 0.2, "the host's other URL waited for the pause"
    assert times["https://a.example/a1"] >= 0.2, "GET after the HEAD's 429 waited too"


def test_scheduler_interleaves_hosts() -> None:
    async def order() -> list[str]:
        settings = replace(BASE, per_host_concurrency=1)
        work = [("big", i) for i in range(5)] + [("small", 5)]
        scheduler = HostScheduler(work, Politeness(settings))
        taken = []
        while scheduler.pending:
            job = scheduler.poll()
            if job is None:
                await scheduler.wait()
                continue
            taken.append(job[0])
            await scheduler.done(job[0])
        return taken

    taken = asyncio.run(order())
    assert taken.index("small") == 1
    assert sorted(taken) == ["big"] * 5 + ["small"]


def test_ten_thousand_targets_in_one_call() -> None:
    async def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    urls = [f"https://h{i % 500}.example/p{i}" for i in range(10_000)]
    start = time.monotonic()
    observations = run(urls, replace(BASE, concurrency=64), ok)
    assert len(observations) == 10_000
    assert all(o.outcome is Outcome.OK for o in observations)
    assert [o.url for o in observations[:3]] == urls[:3]
    assert time.monotonic() - start < 60


def _starts(lateness: list[float], interval: float) -> list[float]:
    """Start times of back-to-back requests, each `lateness[i]` after its slot is due."""
    due, starts = 0.0, []
    for late in lateness:
        start = due + late
        starts.append(start)
        due = on_schedule(start, due, interval) + interval
    return starts


def test_small_lateness_does_not_add_up_over_a_hosts_requests() -> None:
    # A busy event loop starts each request a few ms late; with exact spacing from the
    # actual start, 500 requests at 5/s would drift 500 * 30 ms = 15 s behind.
    interval = 0.2
    starts = _starts([0.03] * 500, interval)
    assert starts[-1] <= 499 * interval + 0.03 + 1e-9
    assert _starts([0.0] * 5, interval) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8]
    # Lateness beyond the slack (an idle host) is not made up for: spacing counts from it.
    assert _starts([0.0, 1.0, 0.0], interval)[2] - _starts([0.0, 1.0, 0.0], interval)[1] == (
        pytest.approx(interval)
    )


def test_catching_up_never_beats_the_rate_in_any_second() -> None:
    interval = 0.2  # 5 per second: exact spacing allows 6 starts in a closed 1-s window
    rng = random.Random(3)
    for _ in range(200):
        starts = _starts([rng.choice([0.0, 0.01, 0.05, 0.049, 0.3]) for _ in range(60)], interval)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= interval * (1 - LATE_SLACK) - 1e-9, "no bursts"
        for i, first in enumerate(starts):
            in_window = sum(1 for s in starts[i:] if s <= first + 1.0 + 1e-9)
            assert in_window <= 6


def test_a_url_asleep_in_back_off_lends_its_global_slot_to_another_host() -> None:
    # One global slot. a.example answers its first request with 503, so that URL sleeps in
    # back-off; b.example's URL must be sent during the sleep, not after it. The injected
    # sleep ends as soon as b has been asked (or after a generous bound, so a checker that
    # keeps the slot while sleeping fails on the order, not on a timing).
    asked_b = asyncio.Event()
    order: list[str] = []
    handler_open = Counter[str]()

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        order.append(host)
        handler_open["now"] += 1
        handler_open["peak"] = max(handler_open["peak"], handler_open["now"])
        try:
            await asyncio.sleep(0.005)
        finally:
            handler_open["now"] -= 1
        if host == "b.example":
            asked_b.set()
        if host == "a.example" and order.count(host) == 1:
            return httpx.Response(503)
        return httpx.Response(200)

    async def sleep(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asked_b.wait()

    urls = ["https://a.example/x", "https://b.example/y"]
    observations = run(urls, replace(BASE, concurrency=1), handler, sleep=sleep)
    assert [o.outcome for o in observations] == [Outcome.OK, Outcome.OK]
    assert observations[0].retries == 1
    assert order == ["a.example", "b.example", "a.example"], "b went while a slept"
    assert handler_open["peak"] == 1, "still one request at a time"


def test_sleeping_urls_keep_global_and_per_host_limits() -> None:
    # Every URL's first request gets a 503, so at any time many URLs are asleep in back-off
    # while others are sent: the global cap (3) and each host's concurrency (1) still hold.
    handler = InFlight(delay=0.005)
    failed: set[str] = set()

    async def flaky(request: httpx.Request) -> httpx.Response:
        await handler(request)
        url = str(request.url)
        if url not in failed:
            failed.add(url)
            return httpx.Response(503)
        return httpx.Response(200)

    urls = [f"https://h{i % 6}.example/{i}" for i in range(24)]
    settings = replace(BASE, concurrency=3, per_host_concurrency=1)
    observations = run(urls, settings, flaky, sleep=lambda s: asyncio.sleep(0.01))
    assert [o.outcome for o in observations] == [Outcome.OK] * 24
    assert all(o.retries == 1 for o in observations)
    assert handler.total_peak == 3
    assert max(handler.peak.values()) == 1


def test_slots_serve_a_resuming_url_before_a_new_one() -> None:
    async def scenario() -> list[str]:
        slots = Slots(1)
        got: list[str] = []
        await slots.acquire()

        async def take(name: str, resume: bool) -> None:
            await slots.acquire(resume=resume)
            got.append(name)
            slots.release()

        fresh = asyncio.create_task(take("new", False))
        await asyncio.sleep(0)
        back = asyncio.create_task(take("resumed", True))
        await asyncio.sleep(0)
        slots.release()
        await asyncio.gather(fresh, back)
        assert slots.in_use == 0
        return got

    assert asyncio.run(scenario()) == ["resumed", "new"]


def test_only_a_slot_holder_gives_its_slot_up_while_sleeping() -> None:
    async def scenario() -> tuple[int, dict[str, int], int]:
        slots = Slots(2)
        sleep = slots.sleeper(asyncio.sleep)
        # By who looked, not in which order: on a stalled machine the outsider's shorter
        # sleep may end after the holder's.
        during: dict[str, int] = {}

        async def holder() -> None:
            await slots.acquire()
            slots.hold()
            await asyncio.sleep(0)
            await sleep(0.01)
            during["holder"] = slots.in_use  # back in its slot after the sleep
            slots.drop()

        async def outsider() -> None:  # e.g. a shared soft-404 probe: holds no slot
            await sleep(0.005)
            during["outsider"] = slots.in_use  # took none: the holder's is not in use

        task = asyncio.create_task(holder())
        await asyncio.sleep(0.002)
        asleep = slots.in_use  # the holder sleeps without its slot
        await asyncio.gather(task, outsider())
        slots.drop()  # holds nothing here: no effect
        return asleep, during, slots.in_use

    assert asyncio.run(scenario()) == (0, {"holder": 1, "outsider": 0}, 0)


def test_the_wake_tick_is_the_lateness_every_rate_limited_host_forgives() -> None:
    default = CheckSettings()
    assert wake_tick(default) == pytest.approx(LATE_SLACK / 5.0) == MAX_WAKE_TICK
    assert wake_tick(replace(default, per_host_rate=20.0)) == pytest.approx(LATE_SLACK / 20)
    assert wake_tick(replace(default, per_host_rate=0.5)) == MAX_WAKE_TICK
    fast_host = {"intranet.example": HostPolicy(per_host_rate=50.0)}
    assert wake_tick(replace(default, hosts=fast_host)) == pytest.approx(LATE_SLACK / 50)
    slow_host = {"fragile.example": HostPolicy(per_host_rate=0.2)}
    assert wake_tick(replace(default, hosts=slow_host)) == MAX_WAKE_TICK
    # A host under no rate limit is bound by latency alone: every wait would slow it.
    assert wake_tick(replace(default, per_host_rate=0.0)) == 0.0
    assert wake_tick(replace(default, hosts={"x.example": HostPolicy(per_host_rate=0)})) == 0.0
