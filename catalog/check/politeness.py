"""Politeness: how many requests, how fast, and in which order, per host.

Stage: check. Parts:

- `HostGate`: one per host. A request rate limiter (`aiolimiter.AsyncLimiter`, one request
  per 1/rate seconds, no bursts) and a pause that a 429/503 with Retry-After sets, so the
  host's other URLs wait while other hosts carry on.
- `HostScheduler`: hands URLs to a fixed pool of workers, round-robin over hosts, never
  more than the host's concurrency at once. A worker only takes a URL whose host has a
  free slot, so no worker ever sits on a global slot waiting for a busy host, and one
  large host cannot serialize the run. Memory is one deque of indexes per host.
- `Politeness`: the gates of one run, created on first use.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from aiolimiter import AsyncLimiter

from catalog.settings import CheckSettings

Sleep = Callable[[float], Awaitable[None]]


class HostGate:
    """Rate and pause for one host; concurrency is the scheduler's job."""

    def __init__(self, host: str, concurrency: int, rate: float) -> None:
        self.host = host
        self.concurrency = max(1, concurrency)
        # One token per 1/rate s: "5 per second" means evenly spaced, never a burst of 5.
        self.limiter = AsyncLimiter(1, 1.0 / rate) if rate > 0 else None
        self.paused_until = 0.0
        self._pause_owner: object | None = None

    def pause(self, seconds: float, owner: object) -> None:
        """Hold the host's requests for `seconds` (except the owner's own retry)."""
        until = asyncio.get_running_loop().time() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self._pause_owner = owner

    async def before_request(self, owner: object, sleep: Sleep) -> None:
        """Wait for the rate limit, then out any pause (unless `owner` set it and waited)."""
        await self._tick()
        delay = self.paused_until - asyncio.get_running_loop().time()
        if delay > 0 and owner is not self._pause_owner:
            await sleep(delay)
            await self._tick()  # requests held by a pause leave one by one, not in a burst

    async def _tick(self) -> None:
        if self.limiter is not None:
            await self.limiter.acquire()


class Politeness:
    def __init__(self, settings: CheckSettings) -> None:
        self.settings = settings
        self._gates: dict[str, HostGate] = {}

    def gate(self, host: str) -> HostGate:
        key = host.lower()
        gate = self._gates.get(key)
        if gate is None:
            concurrency, rate = self.settings.policy_for(key)
            gate = self._gates[key] = HostGate(key, concurrency, rate)
        return gate


class HostScheduler:
    """Round-robin dispatch of (host, item index) to workers, honouring host concurrency."""

    def __init__(self, work: Iterable[tuple[str, int]], politeness: Politeness) -> None:
        self._queues: dict[str, deque[int]] = {}
        for host, index in work:
            self._queues.setdefault(host, deque()).append(index)
        self._politeness = politeness
        self._active: dict[str, int] = dict.fromkeys(self._queues, 0)
        self._ready: deque[str] = deque(self._queues)
        self._pending = sum(len(q) for q in self._queues.values())
        self._changed = asyncio.Condition()

    @property
    def pending(self) -> int:
        return self._pending

    async def take(self) -> tuple[str, int] | None:
        """The next URL whose host has a free slot; None when nothing is left to hand out."""
        async with self._changed:
            while not self._ready:
                if self._pending == 0:
                    return None
                await self._changed.wait()
            host = self._ready.popleft()
            index = self._queues[host].popleft()
            self._pending -= 1
            self._active[host] += 1
            if self._queues[host] and self._active[host] < self._limit(host):
                self._ready.append(host)
            if self._pending == 0:
                self._changed.notify_all()  # idle workers can go home
            return host, index

    async def done(self, host: str) -> None:
        async with self._changed:
            was_full = self._active[host] >= self._limit(host)
            self._active[host] -= 1
            if self._queues[host] and was_full:
                self._ready.append(host)
                self._changed.notify()

    def _limit(self, host: str) -> int:
        return self._politeness.gate(host).concurrency
