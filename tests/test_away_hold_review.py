"""Review of the 503 hold that waits for answers already asked for (merge ec50293): what
a user would meet when a page ends the hold, a HEAD's 503 is taken for the host's word,
or a 429 is said while a 503 holds the host.

The real checker on a virtual clock (`tests.test_maintenance_host.run`): a 25 s page
takes no real time, and the tests read outcomes and the requests the host saw.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from catalog.outcomes import Outcome
from tests.test_maintenance_host import DOWN, PAGE, SETTINGS, UP, run

COME_BACK = {"Retry-After": "7200"}


def test_urls_waiting_for_a_held_hosts_answers_leave_other_hosts_checked() -> None:
    """Two requests at once for the whole run. /slow (a 30 s page) is out when /a and /b
    say "come back in 2 hours": the host's next URL waits for /slow's answer. Another
    host's pages need no such wait, and are asked while it lasts, as a URL sleeping out a
    pause lets them be."""
    up_asked: list[float] = []
    slow_answered: list[float] = []

    async def web(request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        if request.url.host == UP:
            up_asked.append(loop.time())
            return httpx.Response(200, html=PAGE)
        path = request.url.path
        if path in ("/a", "/b"):
            return httpx.Response(503, text="Down", headers=COME_BACK)
        if path == "/slow":
            await asyncio.sleep(30)
            slow_answered.append(loop.time())
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, concurrency=2, per_host_concurrency=2)
    urls = [f"https://{DOWN}{p}" for p in ("/slow", "/a", "/b", "/c", "/d")]
    urls += [f"https://{UP}/page{i}" for i in range(3)]
    observations = run(urls, web, settings, fingerprint_due=True)
    assert [o.outcome for o in observations[-3:]] == [Outcome.OK] * 3
    assert len(up_asked) == 3 and max(up_asked) < slow_answered[0], (up_asked, slow_answered)


def test_a_head_503_whose_get_is_redirected_to_a_page_elsewhere_holds_no_host() -> None:
    """HEAD answers 503 "come back in 2 hours" (a server refusing only HEAD so) and GET
    redirects to the file on a download host, which serves it: the GET brought a page,
    so the HEAD's 503 is not the host's word. Every link is asked and OK."""
    asked: list[str] = []

    async def web(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.host}{request.url.path}")
        if request.url.host == UP:
            return httpx.Response(200, html=PAGE)
        if request.method == "HEAD":
            return httpx.Response(503, headers=COME_BACK)
        return httpx.Response(302, headers={"Location": f"https://{UP}{request.url.path}"})

    urls = [f"https://{DOWN}/file{i}" for i in range(4)]
    observations = run(urls, web)
    assert [o.outcome for o in observations] == [Outcome.OK] * 4, [o.reason for o in observations]
    assert not any(o.held for o in observations)
    assert sum(a.startswith(f"GET {DOWN}") for a in asked) == 4, asked


def test_a_429_said_while_503s_come_is_not_ended_by_a_page() -> None:
    """Four at once. /a and /c say "come back in 2 hours" (503 from two paths: the host is
    away, and the URLs after them wait for the answers still out), /b then says 429 "you
    ask too often, come back in an hour", and /d, asked before any of it, brings a page.
    The page ends the 503's hold, but a 429's stands whatever page comes after it
    (README): no URL of the host is sent after the 429 was heard."""
    sent: list[tuple[float, str]] = []
    heard_429: list[float] = []
    delays = {"/a": 0.5, "/c": 1.0, "/b": 2.0, "/d": 3.0, "/e": 10.0}

    async def web(request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        path = request.url.path
        sent.append((loop.time(), path))
        await asyncio.sleep(delays.get(path, 0.0))
        if path == "/b":
            heard_429.append(loop.time())
            return httpx.Response(429, headers={"Retry-After": "3600"})
        if path in ("/a", "/c"):
            return httpx.Response(503, headers=COME_BACK)
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=4)
    paths = ["/b", "/c", "/d", "/a", "/e", "/f", "/g", "/h"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings, fingerprint_due=True)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    assert (by_path["/b"].outcome, by_path["/b"].http_status) == (Outcome.RATE_LIMITED, 429)
    after = [path for at, path in sent if at > heard_429[0]]
    assert after == [], f"sent after the 429: {after}"
    assert all(by_path[p].held for p in ("/f", "/g", "/h")), [o.reason for o in observations]


def test_a_url_that_waited_for_the_hold_to_end_keeps_its_own_time() -> None:
    """A slow site (pages take 25 s, well within a URL's 45 s) with two paths down for
    hours: /c waits for /slow's answer, whose page ends the hold, and /c is then asked as
    ever. Its check must not be judged a timeout (a failing night for a working link)
    because 25 s of its time went on waiting for another URL's answer; held at once, as
    before the change, it would at least have kept its state."""
    seen: list[str] = []

    async def web(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(path)
        if path in ("/a", "/b"):
            return httpx.Response(503, text="Down", headers=COME_BACK)
        await asyncio.sleep(25)  # loop time: a slow site, in the URL's time
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=3)
    paths = ["/slow", "/a", "/b", "/c"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings, fingerprint_due=True)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    assert by_path["/slow"].outcome is Outcome.OK
    assert "/c" in seen, "the hold ended: /c is asked"
    assert by_path["/c"].outcome is Outcome.OK, by_path["/c"].reason


def test_urls_waiting_for_answers_are_sent_once_the_hold_has_passed() -> None:
    """/a and /b say "come back in 40 s" (longer than a check waits, 30 s): the host is
    away for 40 s, while /slow's answer is still out and never comes. /c waits for it, but
    no longer than the host asked: at 40 s the hold has passed and /c is sent, not at the
    end of its own deadline."""
    sent: dict[str, float] = {}

    async def web(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        sent[path] = asyncio.get_running_loop().time()
        if path in ("/a", "/b"):
            return httpx.Response(503, text="Down", headers={"Retry-After": "40"})
        if path == "/slow":
            await asyncio.sleep(1000)  # never answers: the URL's deadline ends it
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=3)
    paths = ["/slow", "/a", "/b", "/c"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings, fingerprint_due=True)
    assert observations[-1].outcome is Outcome.OK, observations[-1].reason
    assert sent["/c"] < sent["/b"] + 41, sent
