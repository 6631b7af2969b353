"""Review of the silent-host hold (`HostGate.unanswered_link`) as landed.

- The hold costs a night with no silent host nothing per check beyond a counter: no token
  is made for a check of a host that answers (`politeness.Asker`, made only for a check
  of a silent host).
- A run whose batch waits to ask a silent host once more (`SILENT_AGAIN_DEADLINES` after
  its hold, 90 s by default) and then checks the links it held says so, where it said
  "Still finishing the last URLs checked; none finished in the last 120 s" for as long as
  that took: every link had been counted when held, and a host of 1,000 links back at the
  end had them checked for many minutes with the count standing still.
- A host held for its silence is asked once more as soon as its hold is old enough, while
  the batch's other URLs are still checked; back, it has its own held links checked then,
  where they waited for every other URL of the batch and were checked after them all.
  Silent still, it is asked again at the end of the batch, as before.

The batches run on a virtual clock (`test_maintenance_host.VirtualLoop`): the tests count
requests, tokens and outcomes, and compare the order of requests, never time taken. The
flow test runs on 127.0.0.2-3 with timeouts of a second or so.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.model import Batch, Observation, Target
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.progress import waiting_line
from catalog.settings import HostPolicy
from catalog.urls import host_of
from tests.factories import make_observation, public_resolver
from tests.local_site import PAGES as SITE_PAGES
from tests.local_site import Answer, served_at, serving_at
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual
from tests.test_u2_quiet_progress import quiet_run

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


def silent_held(url: str) -> Observation:
    """`url`'s held verdict, as `on_result` hears it when its host is held for its silence."""
    return make_observation(
        url,
        Outcome.TIMEOUT,
        http_status=None,
        reason="HEAD not sent: host not answering: it answered none of the requests for its "
        f"last 3 links within their deadlines ({url} was one), {HELD_REASON_END}",
        held=True,
    )


def test_the_line_names_the_hosts_asked_again_once_every_url_was_heard() -> None:
    one = [(f"https://agency.example/{i}", "agency.example") for i in range(5)]
    assert waiting_line([], 40, one) == (
        "Still waiting for agency.example, which answered none of its last links: it is "
        "asked once more before its batch ends, and its 5 links held meanwhile are checked "
        "if it answers; the count has not moved for 40 s"
    )
    hosts = ["a.example"] * 4 + ["b.example"] * 3 + ["c.example"] * 2 + ["d.example"]
    several = [(f"https://{h}/{i}", h) for i, h in enumerate(hosts)]
    assert waiting_line([], 90, several) == (
        "Still waiting for 4 hosts that answered none of their last links (a.example: 4 "
        "links held, b.example: 3, c.example: 2, 1 more host): each is asked once more "
        "before its batch ends, and its links held meanwhile are checked if it answers; "
        "the count has not moved for 90 s"
    )
    # URLs not heard yet come first; with none of either, as before.
    pending = [("https://slow.example/a", "slow.example")]
    assert waiting_line(pending, 40, one) == waiting_line(pending, 40)
    assert waiting_line([], 30, []).startswith("Still finishing")


def test_the_links_held_for_silence_are_those_heard_held_of_the_batches_checking() -> None:
    from flows.check_flow import _UNSTORED, _held_for_silence

    urls = ["https://a.example/1", "https://a.example/2", "https://b.example/1"]
    batch = Batch(8, tuple(Target(url=u, host=u.split("/")[2]) for u in urls))
    heard = _UNSTORED.start(-43, batch.index)
    try:
        heard.append(make_observation(url=urls[0]))
        heard.append(silent_held(urls[1]))
        away = replace(
            silent_held(urls[2]), reason=f"HEAD not sent: host unavailable: ..., {HELD_REASON_END}"
        )
        heard.append(away)  # held on its host's word: not asked again
        assert _held_for_silence(-43, [batch]) == [("https://a.example/2", "a.example")]
    finally:
        _UNSTORED.stored(-43, batch.index)


#: A quiet run's settings (`quiet_run`) whose silent hosts hold within seconds.
SILENT_RUN: dict[str, Any] = {
    "https_upgrades": False,
    "total_timeout": 1.5,
    "read_timeout": 0.5,
    "connect_timeout": 0.5,
}


@pytest.mark.flow
def test_a_run_waiting_to_ask_a_silent_host_again_says_so(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.3 never answers its 6 links: held after 3, every link is heard; the batch then
    waits to ask it once more. The quiet run names it and what it waits for."""
    release = threading.Event()

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if served_at(request) == "127.0.0.3":
            release.wait(30)  # set when the test ends
        return SITE_PAGES["/report.html"]

    with serving_at(answer, "127.0.0.2", "127.0.0.3") as (fast, silent):
        urls = [f"{fast}/p{i}" for i in range(2)] + [f"{silent}/s{i}" for i in range(6)]
        try:
            lines = quiet_run(isolated_cwd, migrated_db_url, monkeypatch, urls, SILENT_RUN)
        finally:
            release.set()
    waiting = [line for line in lines if line.startswith("Still ")]
    assert any(
        line.startswith("Still waiting for 127.0.0.3, which answered none of its last links")
        for line in waiting
    ), waiting
    assert not any(line.startswith("Still finishing") for line in waiting), waiting


#: A host with work for the whole batch: its links answer at once, spaced by its rate.
BUSY = [f"https://busy.example/doc{i:03}" for i in range(400)]
#: Requests a second to `BUSY`: the batch's other URLs take 400 s, hours for a real host.
BUSY_SETTINGS = replace(SETTINGS, hosts={"busy.example": HostPolicy(per_host_rate=1.0)})


def timed(web: Any, log: list[tuple[float, str]]) -> Any:
    """`web`, each request's URL logged with the (virtual) loop time it came at."""

    async def logged(request: httpx.Request) -> httpx.Response:
        log.append((asyncio.get_running_loop().time(), str(request.url)))
        return await web(request)

    return logged


def check_with(urls: list[str], web: Any, settings: Any) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    return run_virtual(
        check_targets(
            targets, settings, transport=httpx.MockTransport(web), resolver=public_resolver
        )
    )


def test_a_host_back_before_its_batch_ends_has_its_held_links_checked_meanwhile() -> None:
    """The host stalls for its first links (a restart) and is held; it answers again a
    minute later. Its held links waited for the batch's other URLs (hours of a big host)
    and were then checked one host's politeness at a time, after all of them: the night
    took the batch's time and the held host's on top. Asked once more as soon as the hold
    is `SILENT_AGAIN_DEADLINES` old, it answers, and its held links are checked while the
    batch's other URLs still are."""
    stalled: list[float] = []
    log: list[tuple[float, str]] = []

    async def web(request: httpx.Request) -> httpx.Response:
        now = asyncio.get_running_loop().time()
        if request.url.host == host_of(HOST):
            if not stalled:
                stalled.append(now + 2 * SETTINGS.total_timeout + 60)  # back a minute on
            if now < stalled[0]:
                return await hang(request)
        return httpx.Response(200, html=PAGE)

    observations = check_with([*PAGES, *BUSY], timed(web, log), BUSY_SETTINGS)
    assert {o.outcome for o in observations[politeness.SILENT_LINKS :]} == {Outcome.OK}
    held_checked = max(t for t, url in log if url == PAGES[-1])
    assert held_checked < max(t for t, url in log if url.startswith("https://busy.")), log[-5:]


def test_a_host_silent_when_asked_early_is_asked_again_at_the_end_of_its_batch() -> None:
    """Silent still when asked early, the host is not judged then: the batch's other URLs
    give it until they are done, as before, and back by then its held links are checked.
    A host silent throughout is asked once more at the end, and its links time out."""
    log: list[tuple[float, str]] = []
    back_at: list[float] = []

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.host == host_of(HOST):
            now = asyncio.get_running_loop().time()
            if not back_at or now < back_at[0]:
                return await hang(request)
        return httpx.Response(200, html=PAGE)

    back_at.append(350.0)  # after the early request, before the end of the batch (400 s)
    observations = check_with([*PAGES, *BUSY], timed(web, log), BUSY_SETTINGS)
    first = politeness.SILENT_LINKS
    outcomes = [o.outcome for o in observations[: len(PAGES)]]
    assert outcomes == [Outcome.TIMEOUT] * first + [Outcome.OK] * (len(PAGES) - first)
    early = [url for t, url in log if url.startswith(HOST) and t < back_at[0]]
    assert len(early) == first + 1, early  # the links that held it, and the early request
    log.clear()
    back_at[0] = float("inf")
    observations = check_with([*PAGES, *BUSY], timed(web, log), BUSY_SETTINGS)
    assert [o.outcome for o in observations[: len(PAGES)]] == [Outcome.TIMEOUT] * len(PAGES)
    assert not any(o.held for o in observations)
    asked = [url for _, url in log if url.startswith(HOST)]
    assert len(asked) == first + 2, asked  # early, then at the end: one request more


def test_links_redirected_into_a_host_back_early_keep_their_own_hosts_concurrency() -> None:
    """Links of a redirector into a host that stalled, then is back before the batch ends:
    the redirector's links still flow when the held host is asked again early, so those
    held are checked at the end of the batch, never beside them (its concurrency of 1
    would have been 2)."""
    go = [f"https://go.example/{i:03}" for i in range(120)]
    settings = replace(
        SETTINGS,
        hosts={
            "go.example": HostPolicy(per_host_concurrency=1, per_host_rate=0.5),
            "busy.example": HostPolicy(per_host_rate=1.0),
        },
    )
    open_now: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def web(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        open_now[host] += 1
        peak[host] = max(peak[host], open_now[host])
        try:
            if host == "go.example":
                await asyncio.sleep(3.0)  # longer to answer than its spacing (2 s)
                return httpx.Response(302, headers={"Location": f"{HOST}{request.url.path}"})
            if host == host_of(HOST) and asyncio.get_running_loop().time() < 150:
                return await hang(request)
            return httpx.Response(200, html=PAGE)
        finally:
            open_now[host] -= 1

    observations = check_with([*go, *BUSY], web, settings)
    assert peak["go.example"] == 1, peak
    first = politeness.SILENT_LINKS
    outcomes = [o.outcome for o in observations[: len(go)]]
    assert outcomes == [Outcome.TIMEOUT] * first + [Outcome.OK] * (len(go) - first), outcomes
