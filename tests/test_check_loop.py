"""The shared checking loop: batches from several worker threads run side by side on it,
drawing on one pool of concurrency."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import gc
import itertools
import selectors
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from catalog.check.loop import GatheringSelector, SharedLoop, shared_loop
from catalog.check.politeness import LATE_SLACK, HostGate, wake_tick
from catalog.model import Batch, Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.upgrades import check_batch_with_upgrades
from tests.fixture_web import FixtureWeb, fixture_web, fresh_web  # noqa: F401 - pytest fixtures


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


def test_cancel_all_stops_every_check_before_it_returns(loop: SharedLoop) -> None:
    """An abandoned run (its process told to stop) gives its lease up only after its
    batches, which other threads wait for, have stopped checking."""
    started, stopped = threading.Event(), threading.Event()
    outcomes: list[str] = []

    async def endless_batch() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.set()

    def worker() -> None:
        try:
            loop.run(endless_batch())
        except concurrent.futures.CancelledError:  # what a waiting caller sees
            outcomes.append("cancelled")

    with ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(worker) for _ in range(2)]
        assert started.wait(5)
        time.sleep(0.05)  # both batches on the loop
        assert loop.cancel_all() == 2
        assert stopped.is_set()  # already over when cancel_all returned
        for future in waiting:
            future.result(timeout=5)
    assert outcomes == ["cancelled", "cancelled"]
    assert loop.run(asyncio.sleep(0, result="still serving")) == "still serving"


def test_a_batch_its_run_abandoned_before_the_loop_got_to_it_never_starts(
    loop: SharedLoop,
) -> None:
    """A batch's thread checks that its run goes on, then hands its work to the loop. A
    run abandoned in between had `cancel_all` sweep a loop the work was not on yet: it then
    ran a whole batch after the run gave its lease up (a test of an abandoned run waited
    out its batch's 30 s on a loaded machine). Asked where the loop starts it, it never
    starts."""
    blocked, gate, abandoned = threading.Event(), threading.Event(), threading.Event()
    ran: list[str] = []

    async def busy_loop() -> None:
        blocked.set()
        gate.wait(5)  # the loop's thread is elsewhere, as when another batch's work runs

    async def batch(name: str) -> str:
        ran.append(name)
        return name

    with ThreadPoolExecutor(3) as pool:
        busy = pool.submit(loop.run, busy_loop())
        assert blocked.wait(5)
        handed = pool.submit(loop.run, batch("abandoned run"), unless=abandoned.is_set)
        other = pool.submit(loop.run, batch("another run"), unless=lambda: False)
        time.sleep(0.05)  # both handed to the loop, neither started
        abandoned.set()
        gate.set()
        busy.result(timeout=5)
        with pytest.raises(concurrent.futures.CancelledError):
            handed.result(timeout=5)
        assert other.result(timeout=5) == "another run"
    assert ran == ["another run"]


def test_a_batch_cancelled_before_it_started_is_not_reported_never_awaited(
    loop: SharedLoop,
) -> None:
    """`cancel_all` also cancels tasks the loop has made but not yet started: a batch
    handed over with `unless` then never started its work either, and Python wrote
    "RuntimeWarning: coroutine ... was never awaited" to the log of an abandoned run."""
    handed_over = threading.Event()

    async def cancel_the_next_task() -> None:
        me = asyncio.current_task()
        handed_over.set()
        for _ in range(10_000):  # each pass lets the loop make tasks handed to it
            others = [t for t in asyncio.all_tasks() if t is not me]
            if others:  # made, and its first step still waits behind this one
                for task in others:
                    task.cancel()
                return
            await asyncio.sleep(0)
        raise AssertionError("no task was handed to the loop")

    async def batch() -> None:
        raise AssertionError("a cancelled batch started")

    with ThreadPoolExecutor(2) as pool, warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        canceller = pool.submit(loop.run, cancel_the_next_task())
        assert handed_over.wait(5)
        handed = pool.submit(loop.run, batch(), unless=lambda: False)
        canceller.result(timeout=5)
        try:
            handed.result(timeout=5)
        except concurrent.futures.CancelledError:
            pass
        else:
            raise AssertionError("the batch was not cancelled")
        del handed
        gc.collect()
    assert not [w for w in said if "never awaited" in str(w.message)]


def test_an_interrupted_caller_leaves_its_coroutine_to_the_loop(
    loop: SharedLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller interrupted while it waits (Ctrl-C) cancels its task, which the loop ends
    later on its own thread. Closing the coroutine in the caller's thread then, as the
    never-awaited mend first did, ran its clean-up there, beside the loop."""
    started, ended_on = threading.Event(), []

    async def batch() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            ended_on.append(threading.current_thread().name)

    handed = asyncio.run_coroutine_threadsafe

    class Interrupted:
        """The caller's wait for `future`, interrupted once the batch runs."""

        def __init__(self, future: concurrent.futures.Future[None]) -> None:
            self.future = future

        def result(self) -> None:
            assert started.wait(5)
            raise KeyboardInterrupt

        def cancel(self) -> bool:
            return self.future.cancel()

        def done(self) -> bool:
            return self.future.done()

    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", lambda *a: Interrupted(handed(*a)))
    with pytest.raises(KeyboardInterrupt):
        loop.run(batch(), unless=lambda: False)
    monkeypatch.undo()
    for _ in range(500):
        if ended_on:
            break
        time.sleep(0.01)
    assert ended_on == ["test-loop"]


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


# --- a run's batches share its concurrency (real sockets, tests.fixture_web) -------------------

#: Each host may have 6 requests open, so only the shared slots limit what is in flight.
WIDE = replace(
    CheckSettings(),
    allow_private=True,
    per_host_concurrency=6,
    per_host_rate=200.0,
    total_timeout=5.0,
    contact="links@fixture.example",
)


def _slow_batch(web: FixtureWeb, first: int, count: int) -> Batch:
    targets = [
        Target(url=web.url(f"/slow/{i}"), host="127.0.0.1", resource_ids=(f"r{i}",))
        for i in range(first, first + count)
    ]
    return Batch(index=first, targets=tuple(targets))


def _run_batches(loop: SharedLoop, batches: list[Batch], size: int) -> list[list[Observation]]:
    """Each batch from its own worker thread, as the flow's task runner does."""

    def one(batch: Batch) -> list[Observation]:
        slots = loop.slots(("check-run", 1), size)
        return check_batch_with_upgrades(batch, WIDE, loop=loop, slots=slots)

    with ThreadPoolExecutor(len(batches)) as workers:
        return list(workers.map(one, batches))


def test_batches_of_one_run_never_exceed_its_concurrency_together(
    loop: SharedLoop, web: FixtureWeb
) -> None:
    batches = [_slow_batch(web, 0, 6), _slow_batch(web, 100, 6)]
    results = _run_batches(loop, batches, size=3)
    assert [o.outcome for obs in results for o in obs] == [Outcome.OK] * 12
    # Each batch alone could have 6 open (its host allows it); together they hold 3.
    assert web.max_open_total == 3


def test_a_batch_uses_the_slots_another_batch_leaves(loop: SharedLoop, web: FixtureWeb) -> None:
    # One URL in the first batch, six in the second, 4 slots: with a fixed half each the
    # second batch could have only 2 open (3 in all); sharing lets it take the other 3.
    batches = [_slow_batch(web, 0, 1), _slow_batch(web, 100, 6)]
    results = _run_batches(loop, batches, size=4)
    assert [len(obs) for obs in results] == [1, 6]
    assert web.max_open_total == 4


@pytest.fixture
def readable() -> Iterator[tuple[GatheringSelector, socket.socket]]:
    """A selector watching the read end of a socket pair; the write end is yielded."""
    reader, writer = socket.socketpair()
    selector = GatheringSelector()
    selector.register(reader, selectors.EVENT_READ)
    yield selector, writer
    selector.close()
    reader.close()
    writer.close()


def _run_queue_wait(thread: int | None = None) -> float:
    """Seconds this process's threads (or the one whose native id is `thread`) have been
    ready to run while the machine's CPUs ran something else (Linux's schedstat; 0 where
    there is none): how long a loaded machine held them back, which no code of theirs can
    cause."""
    total = 0
    tasks = Path("/proc/self/task")
    for stat in tasks.glob("*/schedstat") if thread is None else [tasks / f"{thread}/schedstat"]:
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that just ended
            total += int(stat.read_text().split()[1])
    return total / 1e9


class _Selected(NamedTuple):
    """What `_timed_select` saw: seconds `select` took (`waited`), those of them this thread
    did not spend waiting for a CPU (`own`: what the selector waited, whatever the load),
    and how many sockets it found readable."""

    waited: float
    own: float
    ready: int


def _timed_select(selector: GatheringSelector, timeout: float | None) -> _Selected:
    """`select` timed (`_Selected`); what it found readable is then read empty."""
    me = threading.get_native_id()
    started, held = time.monotonic(), _run_queue_wait(me)
    ready = selector.select(timeout)
    waited, held = time.monotonic() - started, _run_queue_wait(me) - held
    for key, _ in ready:
        key.fileobj.recv(1024)  # type: ignore[union-attr]
    return _Selected(waited, waited - held, len(ready))


def _send_later(writer: socket.socket, seconds: float) -> list[float]:
    """Send an answer to the selector in `seconds` from another thread; the list then holds
    the `time.monotonic()` it was sent at (late on a loaded machine)."""
    sent: list[float] = []

    def send() -> None:
        sent.append(time.monotonic())
        writer.send(b"y")

    threading.Timer(seconds, send).start()
    return sent


def _just_woken(
    readable: tuple[GatheringSelector, socket.socket], tick: float
) -> tuple[GatheringSelector, socket.socket]:
    """The selector with `tick`, right after a wake-up for an answer (read, so none is
    left); its first wake-up is not held back."""
    selector, writer = readable
    selector.tick = tick
    writer.send(b"x")
    selected = _timed_select(selector, None)
    assert selected.ready == 1 and selected.own < 0.1
    return selector, writer


def test_the_selector_lets_answers_gather_for_a_tick_after_each_wake_up(
    readable: tuple[GatheringSelector, socket.socket],
) -> None:
    selector, writer = _just_woken(readable, 0.3)
    woke = selector._woke  # the wake-up the tick counts from
    # Just woken, nothing ready: an answer arriving 50 ms later waits out the tick, counted
    # from that wake-up (a loaded machine may start this select late, never end it early).
    _send_later(writer, 0.05)
    selected = _timed_select(selector, None)
    assert selected.ready == 1 and selector._woke - woke >= 0.3 and selected.own < 1.5


def test_the_selector_never_idles_while_work_waits(
    readable: tuple[GatheringSelector, socket.socket],
) -> None:
    selector, writer = _just_woken(readable, 5.0)
    writer.send(b"y")
    # Just woken, but an answer is there already (a busy loop): handled at once.
    selected = _timed_select(selector, None)
    assert selected.ready == 1 and selected.own < 0.1


def test_the_selector_never_holds_back_ready_work_or_a_due_timer(
    readable: tuple[GatheringSelector, socket.socket],
) -> None:
    selector, _ = _just_woken(readable, 5.0)
    assert _timed_select(selector, 0).own < 0.1  # callbacks are ready: poll, never sleep
    selected = _timed_select(selector, 0.05)  # a timer due in 50 ms
    assert selected.waited >= 0.04 and selected.own < 1.0


def test_without_a_tick_the_selector_wakes_for_each_event(
    readable: tuple[GatheringSelector, socket.socket],
) -> None:
    selector, writer = _just_woken(readable, 0.0)
    sent = _send_later(writer, 0.05)
    selected = _timed_select(selector, None)
    # At the answer, not a tick later: within 0.1 s of its sending, less what this thread
    # then waited for a CPU (a loaded machine sent it late, or woke this thread late).
    assert selected.ready == 1
    assert selector._woke - sent[0] - (selected.waited - selected.own) < 0.1


@dataclass(frozen=True)
class _Gated:
    """A request's way through its host's gate, in loop time: when the host's next slot was
    due (`HostGate.next_at`), when the request asked for it, the slot the gate gave it
    (`HostGate.reserve`), and when the gate let it go (`HostGate.before_request`)."""

    due: float
    asked: float
    slot: float
    went: float


def _gate_log(monkeypatch: pytest.MonkeyPatch) -> list[_Gated]:
    """Each request's way through a host gate while the test runs (`_Gated`), as it goes."""
    log: list[_Gated] = []
    asked: dict[object, tuple[float, float, float]] = {}
    reserve, before_request = HostGate.reserve, HostGate.before_request

    def reserving(gate: HostGate, now: float) -> float:
        due = gate.next_at
        slot = reserve(gate, now)
        asked[asyncio.current_task()] = (due, now, slot)
        return slot

    async def gated(gate: HostGate, *args: Any, **kwargs: Any) -> None:
        await before_request(gate, *args, **kwargs)
        due, now, slot = asked.pop(asyncio.current_task())
        log.append(_Gated(due, now, slot, asyncio.get_running_loop().time()))

    monkeypatch.setattr(HostGate, "reserve", reserving)
    monkeypatch.setattr(HostGate, "before_request", gated)
    return log


def test_gathered_wake_ups_keep_a_hosts_rate_and_its_pace(
    loop: SharedLoop, web: FixtureWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop lets answers gather for a tick, as a run sets it: the host's requests still
    # go at least 3/4 interval apart (never a burst) and at its full rate.
    settings = replace(WIDE, per_host_concurrency=2, per_host_rate=10.0, soft404_probe=False)
    loop.set_wake_tick(wake_tick(settings))
    targets = tuple(
        Target(url=web.url(f"/ok?n={i}"), host="127.0.0.1", resource_ids=(f"r{i}",))
        for i in range(10)
    )
    log = _gate_log(monkeypatch)
    held = _run_queue_wait()
    observations = check_batch_with_upgrades(Batch(index=0, targets=targets), settings, loop=loop)
    held = _run_queue_wait() - held
    assert [o.outcome for o in observations] == [Outcome.OK] * 10
    assert len(log) == 10  # one request each, each through the host's gate
    # Judged on the loop times the gate gave and let the requests go at, not on when the
    # server saw them: a loaded machine delays the server's thread, or the loop's between
    # the gate and the socket, so that requests given slots an interval apart reached it
    # closer than 3/4 interval (or one went 100 ms late), which says nothing of the gate.
    interval = 1 / settings.per_host_rate
    slots = sorted(g.slot for g in log)
    # Never faster than its rate: the gate's slots are at least 3/4 interval apart
    # (`LATE_SLACK`), and no request goes before its slot. Load only makes a request late.
    assert min(b - a for a, b in itertools.pairwise(slots)) >= interval * (1 - LATE_SLACK) - 1e-9
    assert all(g.went >= g.slot - 1e-6 for g in log), "a request went before its slot"
    # At its full rate: the last request goes within 9 intervals of the first slot, give or
    # take one gathered wake-up, or later only by the time this process's threads waited
    # for a CPU meanwhile (`_run_queue_wait`). A late loop is the schedule's slip it causes
    # (`on_schedule` keeps a slot only for a request at most `LATE_SLACK` late); what
    # holds the loop's thread back is either its own wait for a CPU or another thread
    # holding the GIL while it waits for one. Any other slip is the code's: a needless
    # 30 ms wait before the gate slips the schedule 0.3 s and fails here unless the
    # machine held the process back as long. (A late request's slot no longer kept slips
    # it only by the few ms each is late on an idle machine: too little to tell.)
    slip = max(g.went for g in log) - slots[0] - (len(log) - 1) * interval
    late = [round(g.asked - g.due, 4) for g in log[1:]]
    assert slip <= wake_tick(settings) + 0.05 + held, f"slots slipped; late by {late}"
