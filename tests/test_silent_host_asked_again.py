"""A host held for its silence is asked once more before the batch ends.

A silent hold rests on a few links that hung (`HostGate.unanswered_link`), which a stall of
a minute gives too (a restart, a stalled load balancer): held for the rest of the batch,
every other link of a host that answered again a minute later was `timeout` for the night,
hundreds of them. Now, once the batch's other URLs are done, each host that held links for
its silence gets one request (`checker._Run.ask_silent_again`): answered, its held links are
checked as any; still silent, they keep their `timeout`, for one request more per host, the
hosts asked at once. `on_result` (live progress, what a stopped run stores) hears each URL
once, when it is first done: a held link's held verdict.

Real sockets on 127.0.0.1 (`tests.fixture_web`, hosts named by a resolver) with timeouts of
a second or so. The tests count requests, never the time taken.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from catalog.check import check_targets, politeness
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of
from tests import fixture_web as fixture
from tests.factories import public_resolver
from tests.fixture_web import FixtureWeb, fixture_web, fresh_web  # noqa: F401 - fixtures
from tests.test_maintenance_host import PAGE, run_virtual
from tests.test_maintenance_host import SETTINGS as VIRTUAL_SETTINGS
from tests.test_u1_silent_host import SETTINGS, loopback, target_of

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits


def asked_before_hold(concurrency: int) -> int:
    """The links of a host asked before it is held (`HostGate.silent_after`), the others
    open at once with the last of them."""
    return max(politeness.SILENT_LINKS, concurrency + 1) + concurrency - 1


ASKED_BEFORE_HOLD = asked_before_hold(SETTINGS.per_host_concurrency)


@pytest.fixture(autouse=True)
def no_reask(monkeypatch: pytest.MonkeyPatch) -> None:
    """A silent hold's pause longer than any test here: no link asks again mid-batch, so
    any request to a held link is the one asked at the end."""
    monkeypatch.setattr(politeness, "SILENT_PAUSE_DEADLINES", 1000.0)


def run(
    urls: list[str], heard: list[Observation], settings: CheckSettings = SETTINGS
) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    return asyncio.run(check_targets(targets, settings, resolver=loopback, on_result=heard.append))


def held_for_silence(obs: Observation) -> bool:
    return obs.held and "host not answering" in obs.reason


def stalling(first: int) -> fixture.Handler:
    """/stall/N: a host that answers nothing to its first `first` links, asked first (a
    restart), and serves the others. By link, not by request: a retry under load asks
    a link once more."""

    async def handler(x: fixture.Exchange) -> bool:
        if int(x.request.path.rsplit("/", 1)[1]) < first:
            return await fixture.never_answers(x)
        return await x.respond(200, fixture.OK_PAGE)

    return handler


@pytest.mark.parametrize("concurrency", [2, 4])
def test_a_host_that_stalled_then_answers_has_its_held_links_checked(
    web: FixtureWeb, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    """Its first links hang until it is held; it answers the request that asks again, so
    every held link is checked on its real answer."""
    asked = asked_before_hold(concurrency)
    monkeypatch.setitem(fixture.PREFIX_ROUTES, "/stall/", stalling(asked))
    urls = [web.url(f"/stall/{i}", host="stalled.test") for i in range(16)]
    heard: list[Observation] = []
    observations = run(urls, heard, replace(SETTINGS, per_host_concurrency=concurrency))

    assert sorted(o.url for o in heard) == sorted(urls), "on_result hears each URL once"
    held = {o.url for o in heard if held_for_silence(o)}
    assert len(held) >= len(urls) - asked, "the stall held the host"
    assert not any(o.held for o in observations), [o.reason for o in observations]
    for obs in observations:
        expected = Outcome.OK if obs.url in held else Outcome.TIMEOUT
        assert obs.outcome is expected, (obs.url, obs.reason)
    # Each link its own requests (a HEAD and a GET at most), and one to ask again.
    assert len(web.requests()) <= 2 * len(urls) + 1, web.requests()


async def _hop(x: fixture.Exchange) -> bool:
    """/hop/N: a redirect to link N of the stalled host."""
    n = x.request.path.rsplit("/", 1)[1]
    return await x.redirect(302, f"http://stalled.test:{x.server.port}/stall/{n}")


def test_links_redirected_into_a_host_that_stalled_are_checked(
    web: FixtureWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links of another host that redirect into it, held at their second hop: the request
    that asks again goes to an address held, and once it is answered the links are
    checked from their own address."""
    monkeypatch.setitem(fixture.PREFIX_ROUTES, "/stall/", stalling(ASKED_BEFORE_HOLD))
    monkeypatch.setitem(fixture.PREFIX_ROUTES, "/hop/", _hop)
    urls = [web.url(f"/hop/{i}", host="links.test") for i in range(10)]
    heard: list[Observation] = []
    observations = run(urls, heard)

    assert sum(held_for_silence(o) for o in heard) >= len(urls) - ASKED_BEFORE_HOLD
    assert not any(o.held for o in observations), [o.reason for o in observations]
    outcomes = Counter(o.outcome for o in observations)
    assert outcomes == {Outcome.TIMEOUT: ASKED_BEFORE_HOLD, Outcome.OK: 10 - ASKED_BEFORE_HOLD}


def test_a_host_hanging_on_head_alone_is_never_held(
    web: FixtureWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HEAD hangs, GET answers: every link is its page, nothing held, nothing asked again."""

    async def head_hangs(x: fixture.Exchange) -> bool:
        if x.is_head:
            return await fixture.never_answers(x)
        return await x.respond(200, fixture.OK_PAGE)

    monkeypatch.setitem(fixture.PREFIX_ROUTES, "/head-hangs/", head_hangs)
    urls = [web.url(f"/head-hangs/{i}", host="heads.test") for i in range(6)]
    heard: list[Observation] = []
    observations = run(urls, heard)
    assert [o.outcome for o in observations] == [Outcome.OK] * len(urls)
    assert Counter(method for method, _ in web.requests()) == {"HEAD": 6, "GET": 6}


def test_a_host_silent_throughout_costs_one_request_more(web: FixtureWeb) -> None:
    """Asked again, it answers nothing: the one asked again (a GET of a held link) is that
    link's own `timeout`, asked, and each link it held is the night's `timeout` of the link,
    not held, its reason saying so (`test_w1_silent_host_final`)."""
    urls = [web.url(f"/never-answers?n={i}", host="silent.test") for i in range(12)]
    heard: list[Observation] = []
    observations = run(urls, heard)

    assert sorted(o.url for o in heard) == sorted(urls), "on_result hears each URL once"
    was_held = {target_of(o.url) for o in heard if held_for_silence(o)}
    assert len(was_held) >= len(urls) - ASKED_BEFORE_HOLD
    assert [o.outcome for o in observations] == [Outcome.TIMEOUT] * len(urls)
    requests = web.requests()
    again = [(method, target) for method, target in requests if target in was_held]
    assert len(again) == 1 and again[0][0] == "GET", again  # u1: none, the same otherwise
    (asked_again,) = [o for o in observations if target_of(o.url) == again[0][1]]
    assert not asked_again.held and "not sent" not in asked_again.reason, asked_again.reason
    still = [o for o in observations if target_of(o.url) in was_held and o is not asked_again]
    assert still and not any(o.held for o in still), [o.reason for o in still]
    for obs in still:  # not sent, and why
        assert obs.reason.startswith("HEAD not sent: host not answering: "), obs.reason
        assert "nor our request again at the end of the batch" in obs.reason, obs.reason
        assert target_of(obs.reason.rsplit("(", 1)[1].split(")")[0]) == again[0][1]


def test_two_silent_hosts_are_asked_again_at_once(
    web: FixtureWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request each, both out together: a batch's silent hosts cost it one deadline at
    its end, not one each."""
    lock = threading.Lock()
    again: list[str] = []
    out = [0, 0]  # requests asking again open now, and at most

    async def quiet(x: fixture.Exchange) -> bool:
        # A link's first request is its HEAD: a GET first is one asking again.
        first = x.server.first_time(x.request.target) and not x.is_head
        if first:
            with lock:
                again.append(x.request.target)
                out[0] += 1
                out[1] = max(out)
        try:
            return await fixture.never_answers(x)
        finally:
            if first:
                with lock:
                    out[0] -= 1

    monkeypatch.setitem(fixture.PREFIX_ROUTES, "/quiet/", quiet)
    urls = [web.url(f"/quiet/{h}/{i}", host=f"{h}.test") for h in "ab" for i in range(8)]
    heard: list[Observation] = []
    observations = run(urls, heard)

    assert [o.outcome for o in observations] == [Outcome.TIMEOUT] * len(urls)
    assert sorted(t.split("/")[2] for t in again) == ["a", "b"], again
    assert out[1] == 2, "both hosts asked again at once"


def test_a_run_stopped_while_asking_again_has_every_url_heard(web: FixtureWeb) -> None:
    """Stopped while the silent host is asked again (a Ctrl-C, a lost lease), the batch's
    `on_result` has heard every URL, the held ones held: a stopped run stores them so
    (`flows.check_flow._Unstored`), and none is lost."""
    urls = [web.url(f"/never-answers?n={i}", host="silent.test") for i in range(10)]
    heard: list[Observation] = []

    async def stopped() -> bool:
        all_heard = asyncio.Event()

        def on_result(observation: Observation) -> None:
            heard.append(observation)
            if len(heard) == len(urls):
                all_heard.set()

        targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
        task = asyncio.ensure_future(
            check_targets(targets, SETTINGS, resolver=loopback, on_result=on_result)
        )
        waiting = asyncio.ensure_future(all_heard.wait())
        await asyncio.wait([task, waiting], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        asking = not task.done()  # the host is asked again: a deadline at most
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asking

    assert asyncio.run(stopped()), "stopped while asking again"
    assert sorted(o.url for o in heard) == sorted(urls)
    assert sum(held_for_silence(o) for o in heard) >= len(urls) - ASKED_BEFORE_HOLD
    assert all(o.outcome is Outcome.TIMEOUT for o in heard)


def test_the_503_hold_is_not_asked_again(web: FixtureWeb) -> None:
    """A host held on its own word (503, come back in 2 hours) is not asked again: only a
    silence is re-asked. Two paths say it, the rest are held on it, nothing more is sent."""
    settings = replace(SETTINGS, retry_after_cap=5.0)
    urls = [web.url(f"/maintenance/{i}", host="away.test") for i in range(8)]

    async def maintenance(x: fixture.Exchange) -> bool:
        return await x.respond(503, b"down", headers=[("Retry-After", "7200")])

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(fixture.PREFIX_ROUTES, "/maintenance/", maintenance)
        targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
        observations = asyncio.run(check_targets(targets, settings, resolver=loopback))
    held = [o for o in observations if o.held]
    assert held and all("host unavailable" in o.reason for o in held), [o.reason for o in held]
    sent = {target for _, target in web.requests()}
    assert {target_of(o.url) for o in held}.isdisjoint(sent)


def test_http_links_of_a_host_back_over_https_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """http:// links of a site that never takes connections on port 80 (browsers open them
    over https, `checker._Run._over_https`), whose https:// address hung for its first
    links: asked again at the http:// address alone, it would read as silent still and its
    links stay held; asked at the https:// form too, it answers, and they are checked."""
    monkeypatch.setattr(politeness, "SILENT_PAUSE_DEADLINES", 1000.0)
    host = "http://port80.example/doc/"
    requests: list[str] = []

    async def site(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url}")
        if request.url.scheme == "http":
            raise httpx.ConnectTimeout("port 80 takes no connection")
        if int(request.url.path.rsplit("/", 1)[1]) < politeness.SILENT_LINKS:
            await asyncio.sleep(3600)  # the link's deadline ends it
        return httpx.Response(200, html=PAGE)

    urls = [f"{host}{n}" for n in range(8)]
    heard: list[Observation] = []
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    observations = run_virtual(
        check_targets(
            targets,
            VIRTUAL_SETTINGS,
            transport=httpx.MockTransport(site),
            resolver=public_resolver,
            on_result=heard.append,
        )
    )
    assert sum(held_for_silence(o) for o in heard) == len(urls) - politeness.SILENT_LINKS
    assert not any(o.held for o in observations), [o.reason for o in observations]
    outcomes = [o.outcome for o in observations]
    assert outcomes[politeness.SILENT_LINKS :] == [Outcome.OK] * 5, outcomes
    assert all(o.suggested_url == o.url.replace("http:", "https:") for o in observations[3:])
