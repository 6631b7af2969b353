"""Review of a silent host asked again early, while its batch goes on (`_Run._ask_early`).

A run's batches share one pool of slots (`catalog.check.loop`): a batch stopped while its
early request, or the checks of the held links after it, are out must give back every
slot it took, or the run's later batches wait for slots no one will free; and every URL
is heard once (`on_result`), whatever it was doing. The host asked early has its held
links checked at its own concurrency, and once back and checked, a quiet run no longer
says it waits for it. On the virtual clock of the other silent-host tests
(`test_maintenance_host.VirtualLoop`): requests are counted, never timed; the flow test
runs on 127.0.0.2-4 with timeouts of a second or so.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.check.politeness import Slots
from catalog.model import Batch, Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import HostPolicy
from catalog.urls import host_of
from tests.factories import make_observation, public_resolver
from tests.local_site import PAGES as SITE_PAGES
from tests.local_site import Answer, served_at, serving_at
from tests.test_maintenance_host import PAGE, run_virtual
from tests.test_u2_quiet_progress import quiet_run
from tests.test_x1r_silent_hold_review import (
    BUSY,
    BUSY_SETTINGS,
    HOST,
    PAGES,
    SILENT_RUN,
    hang,
)

#: The silent host may have 2 requests open: held after 3 links (two waves of its slots,
#: 90 s), it is asked early at 180 s, and its 4 held links are checked from 180.5 s.
SETTINGS = replace(
    BUSY_SETTINGS,
    hosts={
        "busy.example": HostPolicy(per_host_rate=1.0),
        host_of(HOST): HostPolicy(per_host_concurrency=2),
    },
)


async def stopped_at(stop_at: float, back_at: float) -> tuple[int, Counter[str], Counter[str]]:
    """A batch of the silent host's links and `BUSY`'s, stopped at `stop_at` (loop time);
    the host answers from `back_at`. The slots in use once it stopped, the URLs heard, and
    the most requests each host had open at once."""
    slots = Slots(4)
    heard: Counter[str] = Counter()
    open_now: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def web(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        open_now[host] += 1
        peak[host] = max(peak[host], open_now[host])
        try:
            if host == host_of(HOST) and asyncio.get_running_loop().time() < back_at:
                return await hang(request)
            await asyncio.sleep(0.5)
            return httpx.Response(200, html=PAGE)
        finally:
            open_now[host] -= 1

    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in [*PAGES, *BUSY]]
    batch = asyncio.create_task(
        check_targets(
            targets,
            SETTINGS,
            transport=httpx.MockTransport(web),
            resolver=public_resolver,
            slots=slots,
            on_result=lambda o: heard.update([o.url]),
        )
    )
    await asyncio.sleep(stop_at)
    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch
    return slots.in_use, heard, peak


@pytest.mark.parametrize(
    ("stop_at", "back_at"),
    [
        (180.2, float("inf")),  # the early request out, the host silent
        (180.2, 100.0),  # the early request out, the host back
        (180.7, 100.0),  # the held links' checks out, after the host answered early
    ],
)
def test_a_batch_stopped_while_its_silent_host_is_asked_early_frees_its_slots(
    stop_at: float, back_at: float
) -> None:
    in_use, heard, peak = run_virtual(stopped_at(stop_at, back_at))
    assert in_use == 0
    assert heard and set(heard.values()) == {1}, heard.most_common(3)
    # The held links so far were heard, held: the early checks tell `on_result` nothing.
    assert set(PAGES) <= set(heard)
    assert peak[host_of(HOST)] <= 2, peak


def test_the_held_links_of_a_host_back_early_are_checked_at_its_concurrency() -> None:
    assert politeness.SILENT_LINKS == 3  # held after its first 3 links, 2 at a time
    in_use, heard, peak = run_virtual(stopped_at(260.0, 100.0))
    assert in_use == 0
    assert set(heard.values()) == {1}
    assert peak[host_of(HOST)] == 2, peak


def test_the_links_a_host_back_early_had_checked_are_heard_settled() -> None:
    """Back while its batch goes on, the host had its held links checked: `on_settled` hears
    each of them once, as checked then, and `on_result` (live progress) heard each URL once,
    its held verdict."""
    heard: Counter[str] = Counter()
    settled: dict[str, Observation] = {}
    first = 4  # two waves of its 2 slots hang (held after 3): the rest are held

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.host == host_of(HOST) and asyncio.get_running_loop().time() < 100:
            return await hang(request)
        return httpx.Response(200, html=PAGE)

    def on_settled(observation: Observation) -> None:
        assert observation.url not in settled
        settled[observation.url] = observation

    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in [*PAGES, *BUSY]]
    observations = run_virtual(
        check_targets(
            targets,
            SETTINGS,
            transport=httpx.MockTransport(web),
            resolver=public_resolver,
            on_result=lambda o: heard.update([o.url]),
            on_settled=on_settled,
        )
    )
    assert set(heard.values()) == {1} and len(heard) == len(targets)
    assert sorted(settled) == PAGES[first:]
    assert {o.outcome for o in settled.values()} == {Outcome.OK}
    assert not any(o.held for o in settled.values())
    assert [o.outcome for o in observations[: len(PAGES)]] == [Outcome.TIMEOUT] * first + [
        Outcome.OK
    ] * (len(PAGES) - first)


def test_a_quiet_run_names_no_host_whose_held_links_were_checked_since() -> None:
    """Two hosts held for their silence; a.example answered early and its held link was
    checked: the quiet run waits for b.example alone, not for a.example "which answered
    none of its last links"."""
    from flows.check_flow import _UNSTORED, _held_for_silence
    from tests.test_x1r_silent_hold_review import silent_held

    urls = ["https://a.example/1", "https://b.example/1", "https://b.example/2"]
    batch = Batch(8, tuple(Target(url=u, host=u.split("/")[2]) for u in urls))
    heard = _UNSTORED.start(-44, batch.index)
    try:
        heard.extend(silent_held(u) for u in urls)
        _UNSTORED.settled(-44, batch.index, make_observation(url=urls[0]))
        _UNSTORED.settled(-44, batch.index, silent_held(urls[1]))  # held anew
        assert _held_for_silence(-44, [batch]) == [
            ("https://b.example/1", "b.example"),
            ("https://b.example/2", "b.example"),
        ]
    finally:
        _UNSTORED.stored(-44, batch.index)


@pytest.mark.flow
def test_a_quiet_run_waits_for_the_silent_host_alone_not_the_one_back_early(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.3 and 127.0.0.4 hang for their first 3 links and are held; 127.0.0.2's 40
    links, at its rate, keep the batch going. 127.0.0.3 is back before it is asked early,
    and its held links are checked then; 127.0.0.4 never answers. Once every URL was heard,
    the batch waits to ask 127.0.0.4 again at its end: the quiet run names it alone."""
    release = threading.Event()
    started: list[float] = []

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        now = time.monotonic()
        if not started:
            started.append(now)
        ip = served_at(request)
        if ip == "127.0.0.4" or (ip == "127.0.0.3" and now < started[0] + 6.0):
            release.wait(60)  # set when the test ends
        return SITE_PAGES["/report.html"]

    with serving_at(answer, "127.0.0.2", "127.0.0.3", "127.0.0.4") as (busy, back, silent):
        urls = [f"{back}/b{i}" for i in range(6)] + [f"{silent}/s{i}" for i in range(6)]
        urls += [f"{busy}/p{i:02}" for i in range(40)]
        settings = {**SILENT_RUN, "per_host_concurrency": 1, "per_host_rate": 3.0}
        try:
            lines = quiet_run(isolated_cwd, migrated_db_url, monkeypatch, urls, settings)
        finally:
            release.set()
    waiting = [line for line in lines if line.startswith("Still waiting")]
    assert waiting, lines
    alone = "Still waiting for 127.0.0.4, which answered none of its last links"
    assert waiting[-1].startswith(alone), waiting
    # A loaded machine's progress may stall for the quiet line's second while 127.0.0.3 is
    # still held (CI's PostgreSQL pass named both then); once the run names 127.0.0.4
    # alone, 127.0.0.3 is back and never named again.
    first_alone = next(i for i, line in enumerate(waiting) if line.startswith(alone))
    assert not any("127.0.0.3" in line for line in waiting[first_alone:]), waiting
