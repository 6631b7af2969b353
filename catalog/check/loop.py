"""One event loop thread that runs every batch of a process, and the slots they share.

A run checks several batches at once, each from its own worker thread (Prefect's task
runner). Each worker could run its batch with `asyncio.run` in its own event loop, but one
loop running the same four batches took 10–17 % less CPU per URL than four loops (10,000 URLs
over 200 hosts, checking only; 5–10 % less for the whole flow: `bench/RESULTS.md`): every
loop wakes for its own few sockets, and the GIL is handed between the threads at each
wake-up, where one loop handles the events of all batches in one pass. So the workers
hand their batches to `SharedLoop`, whose thread runs them side by side, and wait.

On one loop the batches of a run can also draw on one pool of global concurrency
(`slots`): a batch whose few hosts are held to their per-host limits leaves the rest to the
other batches, where a fixed share per batch would leave it idle.

The caller's context variables travel with its coroutine (as with `asyncio.run`), so a
task run's logging context still applies inside the batch.

A polite run spends most of its time waiting, and the loop used to wake for every answer
on its own: each wake-up of a thread that had gone idle runs our code with cold caches.
When the loop would block, `GatheringSelector` instead lets answers gather for up to a tick
(`set_wake_tick`, from `catalog.check.politeness.wake_tick`) after its last wake-up and
handles them in one pass: 14–18 % less CPU for the checking thread of a 10k flow at the
default politeness, for 1–2 % more wall time and the same per-host spacing; a 100k run,
busy most of the time, gains little and took 5 % longer (`bench/RESULTS.md`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import selectors
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, TypeVar

from catalog.check.politeness import Slots

__all__ = ["GatheringSelector", "SharedLoop", "run_gathering", "shared_loop"]

T = TypeVar("T")

#: Threads for the loop's blocking calls (DNS lookups): what four loops had by default on
#: two cores.
LOOKUP_THREADS = 24


class GatheringSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's selector, but when nothing is ready it sleeps until `tick` seconds
    have passed since it last woke from waiting, so that answers arriving meanwhile are
    handled together.

    Only idle waits gather: what is ready already (a busy loop's next events) is returned
    at once, ready callbacks (a zero timeout) and timers (a timeout shorter than the rest
    of the tick) run on time, so the host gates keep their schedule; an answer is handled
    at most one tick after it came.
    """

    def __init__(self) -> None:
        super().__init__()
        #: Seconds answers may gather; 0 wakes for each one as it comes.
        self.tick = 0.0
        self._woke = -math.inf

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]]
        if self.tick > 0 and (timeout is None or timeout > 0):
            gather = self._woke + self.tick - time.monotonic()
            if gather > 0:
                ready = super().select(0)
                if ready:  # busy: never idle while work waits
                    return ready
                if timeout is not None:
                    gather = min(gather, timeout)
                    timeout -= gather
                time.sleep(gather)
        ready = super().select(timeout)
        self._woke = time.monotonic()
        return ready


class SharedLoop:
    """An asyncio event loop running forever in a daemon thread; `run` blocks the caller."""

    def __init__(self, name: str = "linkhealth-checks") -> None:
        self._selector = GatheringSelector()
        self._loop = asyncio.SelectorEventLoop(self._selector)
        self._loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix=f"{name}-dns")
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self._slots: weakref.WeakValueDictionary[Hashable, Slots] = weakref.WeakValueDictionary()
        self._slots_lock = threading.Lock()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], *, unless: Callable[[], bool] | None = None) -> T:
        """Run `coro` on the loop with the caller's context; its result or its exception.

        If the waiting caller is interrupted, the coroutine is cancelled. If `unless()` is
        true when the coroutine would start, it never starts: CancelledError. `unless` is
        asked on the loop's thread, where `cancel_all` runs too: a caller that checked its
        run was still going, then submitted its work just after `cancel_all` swept the loop,
        is stopped as if it had been there (what its run set before `cancel_all`, it sees).
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SharedLoop.run called from its own loop: await instead")
        # The task is created in a callback that runs in a copy of the caller's context,
        # so the caller's context variables hold inside the coroutine.
        work = coro if unless is None else _unless(coro, unless)
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()  # an interrupted caller: the loop stops the coroutine too
                raise
            # Its task over: a task `cancel_all` cancelled before its first step never
            # started `_unless`, nor so `coro`, which Python would then report as "never
            # awaited". Closing one that ran is a no-op; one still on the loop (above) is
            # the loop's to end, never this thread's.
            coro.close()
            raise

    def set_wake_tick(self, seconds: float) -> None:
        """Let events gather for up to `seconds` before the loop wakes (0: never wait)."""
        self._selector.tick = max(0.0, seconds)

    def slots(self, key: Hashable, size: int) -> Slots:
        """The `size` slots shared by every coroutine that asks for `key` (one check run)
        while any of them still runs; they live on this loop and are used only there."""
        with self._slots_lock:
            shared = self._slots.get(key)
            if shared is None:
                shared = self._slots[key] = Slots(size)
            return shared

    def cancel_all(self, timeout: float = 10.0) -> int:
        """Cancel every coroutine on the loop and wait up to `timeout` s for them to end;
        how many there were. A run being abandoned (its process told to stop) must not
        keep checking after it gave its lease up: another run may take the same hosts."""

        async def cancel() -> int:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)
            return len(tasks)

        if not self.alive or threading.current_thread() is self._thread:
            return 0
        return asyncio.run_coroutine_threadsafe(cancel(), self._loop).result(timeout + 5)

    def close(self) -> None:
        """Stop the loop and its thread; for tests and orderly shutdown."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()


async def _unless(coro: Coroutine[Any, Any, T], stopped: Callable[[], bool]) -> T:
    if stopped():
        raise asyncio.CancelledError  # `coro`, never started, is closed by `SharedLoop.run`
    return await coro


def run_gathering(coro: Coroutine[Any, Any, T], tick: float) -> T:
    """`asyncio.run(coro)` on a loop whose selector lets events gather for `tick` seconds,
    as the shared loop of a run does: for callers that check outside a flow (the bench's
    direct runs), so that their figures compare with the flow's."""
    selector = GatheringSelector()
    selector.tick = max(0.0, tick)
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selector)) as runner:
        return runner.run(coro)


_shared: SharedLoop | None = None
_shared_pid = 0
_lock = threading.Lock()


def cancel_checks() -> int:
    """`SharedLoop.cancel_all` on this process's loop, if it has one; never starts one."""
    with _lock:
        loop = _shared if _shared is not None and _shared_pid == os.getpid() else None
    return loop.cancel_all() if loop is not None else 0


def shared_loop() -> SharedLoop:
    """The process's `SharedLoop`, started on first use (again after a fork)."""
    global _shared, _shared_pid
    with _lock:
        if _shared is None or _shared_pid != os.getpid() or not _shared.alive:
            _shared, _shared_pid = SharedLoop(), os.getpid()
        return _shared
