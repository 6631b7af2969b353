"""A soft-404 probe's ordinary answer is the host's, as README's rule says of any answer
(anything but a redirect, a 429 or a 503): it ends a 503's hold and clears a first 503
"come back later", where it did neither. Its own 429 or 503 still speaks for no host.

MockTransport on a virtual clock, as in `test_maintenance_host`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from catalog.check.soft404 import PROBE_PREFIX
from catalog.outcomes import Outcome
from tests.test_maintenance_host import DOWN, PAGE, SETTINGS, run

LATER = {"Retry-After": "7200"}


def test_a_probes_404_answered_while_the_host_went_away_brings_it_back() -> None:
    """/page is served and its probe sent; /a and /b then say "come back in 2 hours". The
    probe's 404 comes after: the host routes requests (two of its paths are down), so its
    other URLs are asked, not "not sent" for the night."""
    said = asyncio.Event()
    seen: list[str] = []

    async def web(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(path)
        if PROBE_PREFIX in path:
            await said.wait()
            await asyncio.sleep(1)  # loop time: the checker has heard the host go away
            return httpx.Response(404, text="No such page")
        if path in ("/a", "/b"):
            if path == "/b":
                said.set()
            return httpx.Response(503, text="Come back later", headers=LATER)
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=2, soft404_probe=True)
    paths = ["/page", "/a", "/b", "/c", "/d"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings, fingerprint_due=True)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    for path in ("/c", "/d"):
        assert by_path[path].outcome is Outcome.OK, by_path[path].reason
    assert "/c" in seen and "/d" in seen


def test_a_probes_404_between_two_paths_down_leaves_the_host_up() -> None:
    """/page is served and its probe sent; /a says "come back in 2 hours", then the probe is
    answered 404, then /b says it too: an ordinary answer came between, so the host is not
    away and /d and /e are asked. (/c, asked meanwhile, times out: no word either way.)"""
    a_said, probed, b_said = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def web(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if PROBE_PREFIX in path:
            await a_said.wait()
            await asyncio.sleep(1)  # loop time: /a's answer has been heard
            probed.set()
            return httpx.Response(404, text="No such page")
        if path == "/a":
            a_said.set()
            return httpx.Response(503, text="Come back later", headers=LATER)
        if path == "/b":
            await probed.wait()
            await asyncio.sleep(1)  # loop time: the probe's answer has been heard
            b_said.set()
            return httpx.Response(503, text="Come back later", headers=LATER)
        if path == "/c":
            await b_said.wait()
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=2, soft404_probe=True)
    paths = ["/page", "/a", "/b", "/c", "/d", "/e"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings, fingerprint_due=True)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    assert by_path["/c"].outcome is Outcome.TIMEOUT, by_path["/c"].reason
    for path in ("/d", "/e"):
        assert by_path[path].outcome is Outcome.OK, by_path[path].reason
