"""The shared checking loop: batches from several worker threads run side by side on it."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from catalog.check.loop import SharedLoop, shared_loop


@pytest.fixture
def loop() -> Iterator[SharedLoop]:
    shared = SharedLoop(name="test-loop")
    yield shared
    shared.close()


def test_results_and_exceptions_reach_the_caller(loop: SharedLoop) -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def fail() -> None:
        raise ValueError("bad batch")

    assert loop.run(double(21)) == 42
    with pytest.raises(ValueError, match="bad batch"):
        loop.run(fail())
    assert loop.run(double(1)) == 2  # a failed coroutine leaves the loop running


def test_callers_run_side_by_side_on_one_thread(loop: SharedLoop) -> None:
    # Each of two callers waits for the other's coroutine to start: if their coroutines
    # ran one after the other (or the first blocked the loop), this would time out.
    started = {"a": asyncio.Event(), "b": asyncio.Event()}
    threads: set[str] = set()

    async def meet(me: str, other: str) -> str:
        threads.add(threading.current_thread().name)
        started[me].set()
        await asyncio.wait_for(started[other].wait(), timeout=5)
        return me

    with ThreadPoolExecutor(2) as workers:
        got = list(workers.map(lambda pair: loop.run(meet(*pair)), [("a", "b"), ("b", "a")]))
    assert got == ["a", "b"]
    assert threads == {"test-loop"}


def test_the_callers_context_variables_hold_inside(loop: SharedLoop) -> None:
    # Prefect's task-run context (logging, run ids) lives in context variables.
    current = contextvars.ContextVar("current", default="none")

    async def read() -> str:
        return current.get()

    def worker(name: str) -> str:
        current.set(name)
        return loop.run(read())

    with ThreadPoolExecutor(2) as workers:
        assert list(workers.map(worker, ["task-1", "task-2"])) == ["task-1", "task-2"]


def test_running_from_the_loop_itself_is_refused(loop: SharedLoop) -> None:
    async def inner() -> int:
        return 1

    async def outer() -> int:
        return loop.run(inner())

    with pytest.raises(RuntimeError, match="await instead"):
        loop.run(outer())


def test_the_process_keeps_one_loop_until_it_dies() -> None:
    first = shared_loop()
    assert shared_loop() is first
    first.close()
    second = shared_loop()
    assert second is not first and second.alive

    async def answer() -> int:
        return 7

    assert second.run(answer()) == 7
