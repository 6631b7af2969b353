"""Review of a silent host asked again early, while its batch goes on (`_Run._ask_early`).

A run's batches share one pool of slots (`catalog.check.loop`): a batch stopped while its
early request, or the checks of the held links after it, are out must give back every
slot it took, or the run's later batches wait for slots no one will free; and every URL
is heard once (`on_result`), whatever it was doing. The host asked early has its held
links checked at its own concurrency. On the virtual clock of the other silent-host tests
(`test_maintenance_host.VirtualLoop`): requests are counted, never timed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.check.politeness import Slots
from catalog.model import Target
from catalog.settings import HostPolicy
from catalog.urls import host_of
from tests.factories import public_resolver
from tests.test_maintenance_host import PAGE, run_virtual
from tests.test_x1r_silent_hold_review import BUSY, BUSY_SETTINGS, HOST, PAGES, hang

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
