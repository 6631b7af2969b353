"""Loose ends of the silent-host hold (`checker._Run._ask_early`, `ask_silent_again`).

- A slot the dispatcher took for a URL's task is given back even when the task is
  cancelled before its first step (a task group cancels the tasks it has not started yet
  when one of its tasks fails, and `SharedLoop.cancel_all` cancels every task): their
  body never runs, so their `finally` never freed it, and the run's other batches waited
  for slots no one would free.

The batches run on a virtual clock (`test_maintenance_host.VirtualLoop`): the tests count
slots and requests, never time taken.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from catalog.check import check_targets
from catalog.check.politeness import Slots
from catalog.model import Observation, Target
from catalog.urls import host_of
from tests.factories import public_resolver
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual


class CallbackFailed(Exception):
    pass


def test_a_slot_taken_for_a_task_cancelled_before_it_began_is_given_back() -> None:
    """Two slots, four hosts: the first URL's `on_result` fails as the dispatcher, handed
    its slot, starts the next URLs' tasks; the task group cancels those before their first
    step. Every slot is free once the batch has failed."""
    slots = Slots(2)
    urls = [f"https://site{h}.example/page" for h in range(4)]
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]

    async def web(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return httpx.Response(200, html=PAGE)

    def on_result(observation: Observation) -> None:
        if observation.url == urls[0]:
            raise CallbackFailed(observation.url)

    async def batch() -> int:
        with pytest.raises(CallbackFailed):
            await check_targets(
                targets,
                SETTINGS,
                transport=httpx.MockTransport(web),
                resolver=public_resolver,
                slots=slots,
                on_result=on_result,
            )
        await asyncio.sleep(0)  # the done callbacks of the cancelled tasks
        return slots.in_use

    assert run_virtual(batch()) == 0
