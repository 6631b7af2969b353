"""Review of the silent-host hold (`HostGate.unanswered_link`) as landed.

- The hold costs a night with no silent host nothing per check beyond a counter: no token
  is made for a check of a host that answers (`politeness.Asker`, made only for a check
  of a silent host).
- A run whose batch waits to ask a silent host once more (`SILENT_AGAIN_DEADLINES` after
  its hold, 90 s by default) and then checks the links it held says so, where it said
  "Still finishing the last URLs checked; none finished in the last 120 s" for as long as
  that took: every link had been counted when held, and a host of 1,000 links back at the
  end had them checked for many minutes with the count standing still.

The batches run on a virtual clock (`test_maintenance_host.VirtualLoop`); the tests count
requests, tokens and outcomes, never time taken.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.model import Batch, Observation, Target
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.progress import waiting_line
from catalog.urls import host_of
from tests.factories import make_observation, prefect_log, public_resolver
from tests.local_site import PAGES as SITE_PAGES
from tests.local_site import Answer, handler_class
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


def address(server: Any) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


@pytest.mark.flow
def test_a_run_waiting_to_ask_a_silent_host_again_says_so(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.3 never answers its 6 links: held after 3, every link is heard; the batch then
    waits to ask it once more. The quiet run names it and what it waits for."""
    import catalog.progress
    import flows.check_flow
    from flows.check_flow import check_catalog

    release = threading.Event()

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if address(request.server)[0] == "127.0.0.3":
            release.wait(30)  # set when the test ends
        return SITE_PAGES["/report.html"]

    servers = [
        ThreadingHTTPServer((ip, 0), handler_class(answer)) for ip in ("127.0.0.2", "127.0.0.3")
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    fast, silent = ("http://{}:{}".format(*address(s)) for s in servers)
    urls = [f"{fast}/p{i}" for i in range(2)] + [f"{silent}/s{i}" for i in range(6)]
    catalog_file = isolated_cwd / "silent.yaml"
    resources = [{"id": f"r{i}", "title": "Annual Report", "url": u} for i, u in enumerate(urls)]
    catalog_file.write_text(json.dumps({"resources": resources}))
    monkeypatch.setattr(flows.check_flow, "PROGRESS_EVERY_S", 0.05)
    monkeypatch.setattr(catalog.progress, "QUIET_AFTER_S", 0.2)
    monkeypatch.setattr(catalog.progress, "QUIET_EVERY_S", 0.2)
    overrides = {
        "database_url": migrated_db_url,
        "catalogs": [str(catalog_file)],
        "allow_private": True,
        "soft404_probe": False,
        "https_upgrades": False,
        "total_timeout": 1.5,
        "read_timeout": 0.5,
        "connect_timeout": 0.5,
    }
    try:
        with prefect_log("prefect.flow_runs") as records:
            check_catalog(overrides=overrides, render=False)
    finally:
        release.set()
        for server in servers:
            server.shutdown()
            server.server_close()
    lines = [r.getMessage() for r in records]
    waiting = [line for line in lines if line.startswith("Still ")]
    assert any(
        line.startswith("Still waiting for 127.0.0.3, which answered none of its last links")
        for line in waiting
    ), waiting
    assert not any(line.startswith("Still finishing") for line in waiting), waiting
