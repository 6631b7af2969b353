"""A host's soft-404 probe, once answered, serves its other pages at once: no deadline
timer per page for a result already there (the checker's per-page cost)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from catalog.check import check_targets
from catalog.model import Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of

SETTINGS = replace(CheckSettings(), per_host_rate=1000.0, per_host_concurrency=1)
PAGE = "<html><head><title>Toolkit {n}</title></head><body><h1>Toolkit</h1>{words}</body></html>"


async def _resolve(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


async def _no_sleep(seconds: float) -> None:
    return None


def _site(request: httpx.Request) -> httpx.Response:
    if "linkhealth-probe" in request.url.path:
        return httpx.Response(404, text="no such page")
    words = " ".join(f"<p>Guide section {request.url.path} word {i}.</p>" for i in range(40))
    body = PAGE.format(n=request.url.path, words=words)
    return httpx.Response(200, headers={"Content-Type": "text/html"}, text=body)


def test_pages_after_the_probe_answered_wait_on_no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    timers: list[float | None] = []
    real = asyncio.timeout_at

    @contextlib.asynccontextmanager
    async def counted(when: float | None) -> AsyncIterator[None]:
        timers.append(when)
        async with real(when):
            yield

    monkeypatch.setattr(asyncio, "timeout_at", counted)
    urls = [f"https://guides.example.org/toolkit/{n}" for n in range(4)]
    observations = asyncio.run(
        check_targets(
            [Target(url=url, host=host_of(url)) for url in urls],
            SETTINGS,
            transport=httpx.MockTransport(_site),
            resolver=_resolve,
            sleep=_no_sleep,
        )
    )
    assert [o.outcome for o in observations] == [Outcome.OK] * 4
    assert len(timers) == 1  # the first page's, while the probe was in flight
