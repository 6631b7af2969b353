"""A host held for its silence and asked again at the end of the run.

The nights run on a virtual clock (`test_maintenance_host.VirtualLoop`): a server that
never answers costs no real time. The tests count requests and states, never time taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.check.fetch import Progress
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.urls import host_of
from tests.factories import days, public_resolver
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual

HOST = "https://agency.example"
PAGES = [f"{HOST}/guide{i:02}" for i in range(13)]

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


async def hang(request: httpx.Request) -> httpx.Response:
    """No answer ever: the link's deadline ends the request."""
    await asyncio.sleep(3600)
    raise AssertionError("the deadline ends it")


def check(
    urls: Sequence[str],
    web: Handler,
    *,
    at: int = 0,
    heard: list[Observation] | None = None,
    targets: Sequence[Target] | None = None,
) -> list[Observation]:
    """One batch of `urls` (or `targets`) against `web`, on the virtual clock, at night `at`."""
    if targets is None:
        targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    return run_virtual(
        check_targets(
            targets,
            SETTINGS,
            transport=httpx.MockTransport(web),
            resolver=public_resolver,
            clock=lambda: days(at),
            on_result=None if heard is None else heard.append,
        )
    )


def test_a_host_gate_keeps_no_check_of_a_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate of a host asked again keeps a token of the link that asked, not its
    check's progress: kept until the batch ends, that held the page read, one for each
    silent host of the batch."""
    gates: list[politeness.HostGate] = []
    gate = politeness.Politeness.gate

    def kept(self: politeness.Politeness, host: str) -> politeness.HostGate:
        made = gate(self, host)
        gates.append(made)
        return made

    monkeypatch.setattr(politeness.Politeness, "gate", kept)
    hung = set(PAGES[: politeness.SILENT_LINKS])

    async def web(request: httpx.Request) -> httpx.Response:
        if str(request.url) in hung:
            return await hang(request)
        return httpx.Response(200, html=PAGE * 1000)

    observations = check(PAGES, web)
    assert observations[-1].outcome is Outcome.OK  # asked again, answered, checked
    assert gates and not any(
        isinstance(value, Progress) for held in gates for value in vars(held).values()
    ), [vars(held) for held in set(gates)]
