"""Review of the silent-host hold (`HostGate.unanswered_link`) as landed.

- The hold costs a night with no silent host nothing per check beyond a counter: no token
  is made for a check of a host that answers (`politeness.Asker`, made only for a check
  of a silent host).

The batches run on a virtual clock (`test_maintenance_host.VirtualLoop`); the tests count
requests, tokens and outcomes, never time taken.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.urls import host_of
from tests.factories import public_resolver
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual

HOST = "https://agency.example"
PAGES = [f"{HOST}/guide{i:02}" for i in range(8)]
OTHERS = [f"https://fine{h}.example/doc{i}" for h in range(3) for i in range(4)]


async def hang(request: httpx.Request) -> httpx.Response:
    """No answer ever: the link's deadline ends the request."""
    await asyncio.sleep(3600)
    raise AssertionError("the deadline ends it")


def check(urls: list[str], web: Any) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    return run_virtual(
        check_targets(
            targets, SETTINGS, transport=httpx.MockTransport(web), resolver=public_resolver
        )
    )


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many `politeness.Asker` tokens are made."""
    made: Counter[str] = Counter()

    def counted(cls: type[politeness.Asker]) -> politeness.Asker:
        made["asker"] += 1
        return object.__new__(cls)

    monkeypatch.setattr(politeness.Asker, "__new__", counted)
    return made


def test_a_night_with_no_silent_host_makes_no_token_per_check(tokens: Counter[str]) -> None:
    async def web(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html=PAGE)

    observations = check([*PAGES, *OTHERS], web)
    assert {o.outcome for o in observations} == {Outcome.OK}
    assert tokens["asker"] == 0, tokens


def test_a_silent_host_still_has_the_check_that_asks_it_again_told_apart(
    tokens: Counter[str],
) -> None:
    """Made when a silent host is asked again: the host's first links hang, it answers
    once asked again at the end, and its held links are checked."""
    hung = set(PAGES[: politeness.SILENT_LINKS])

    async def web(request: httpx.Request) -> httpx.Response:
        if str(request.url) in hung:
            return await hang(request)
        return httpx.Response(200, html=PAGE)

    observations = check(PAGES, web)
    outcomes = [o.outcome for o in observations]
    first = politeness.SILENT_LINKS
    assert outcomes == [Outcome.TIMEOUT] * first + [Outcome.OK] * (len(PAGES) - first)
    assert tokens["asker"] >= 1
