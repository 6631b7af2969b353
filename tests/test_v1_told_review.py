"""Review of the links a host in maintenance was asked for before it was held (u2): which
of them read as the host's 503, and which keep a verdict of their own.

A link whose GET left the host (a redirect to another site that does not answer) was
broken by that other site, whatever the host's HEAD said: it read "host unavailable", and
a curator was never told it leads nowhere. An http:// link whose port 80 does not answer,
checked over https on the host in maintenance, is the host's 503 as its https siblings
are: it read `timeout`. MockTransport on a virtual clock, as in `test_maintenance_host`.
"""

from __future__ import annotations

import httpx

from catalog.check import check_targets
from catalog.model import Observation
from catalog.outcomes import Outcome
from tests.factories import RecordingSleep, public_resolver
from tests.test_maintenance_host import (
    DOWN,
    NOW,
    PAGE,
    SETTINGS,
    down_urls,
    head_503_web,
    run,
    run_virtual,
    targets,
)

LATER = {"Retry-After": "7200"}
GONE = "gone.example"


def test_a_get_sent_to_another_site_that_does_not_answer_is_no_word_of_the_host() -> None:
    """HEAD says "come back in 2 hours"; GET redirects to another site, which times out:
    each link leads nowhere (`timeout`), and the host, which routes requests, is not held."""

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.host == GONE:
            raise httpx.ConnectTimeout("no answer", request=request)
        if request.method == "HEAD":
            return httpx.Response(503, headers=LATER)
        return httpx.Response(301, headers={"Location": f"https://{GONE}{request.url.path}"})

    urls = [f"https://{DOWN}/{p}" for p in ("a", "b", "c")]
    observations = run(urls, web)
    for obs in observations:
        assert not obs.held, "the host sent GET on: it is up"
        assert obs.outcome is not Outcome.RATE_LIMITED, obs.reason
        assert "host unavailable" not in obs.reason, obs.reason


def test_an_http_link_checked_over_https_reads_as_the_hosts_503_as_its_siblings() -> None:
    """Port 80 refuses; over https the host says "come back in 2 hours" to HEAD and its
    GET answers a bare 503, as for its https:// links asked beside it."""

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            refused = httpx.ConnectError("connection refused", request=request)
            raise refused from ConnectionRefusedError(111, "Connection refused")
        if request.method == "HEAD":
            return httpx.Response(503, headers=LATER)
        return httpx.Response(503, text="Down for maintenance")

    urls = [f"http://{DOWN}/old", f"https://{DOWN}/a", f"https://{DOWN}/b", f"https://{DOWN}/c"]
    plain, *others = run(urls, web)
    assert any(o.held for o in others)
    assert not plain.held
    assert (plain.outcome, plain.http_status) == (Outcome.RATE_LIMITED, 503), plain.reason
    assert plain.url == f"http://{DOWN}/old"
    assert "unavailable" in plain.reason, plain.reason


def test_a_host_refusing_head_alone_is_never_held_by_its_broken_pages() -> None:
    """A host answers every HEAD 503 "come back in 2 hours" and serves its pages to GET; its
    last three links asked are broken (their GET times out). Its HEAD's 503 is no word of
    the host's: each broken link is its own `timeout`, none "host unavailable", and the
    last is asked, not "not sent" (README: such a server "is never held")."""

    async def web(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(503, headers=LATER)
        if request.url.path.startswith("/gone"):
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, html=PAGE)

    paths = ["/p0", "/p1", "/p2", "/gone1", "/gone2", "/gone3"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    assert [by_path[p].outcome for p in paths[:3]] == [Outcome.OK] * 3
    for path in paths[3:]:
        obs = by_path[path]
        assert not obs.held, obs.reason
        assert obs.outcome is Outcome.TIMEOUT, obs.reason


def test_a_link_done_once_its_host_is_held_is_heard_as_the_hosts_503_at_once() -> None:
    """What `on_result` hears is what a run stopped mid-batch stores (`_Unstored`): the
    second link asked, whose word held the host, is the host's 503 as soon as it is done,
    not a `timeout` put right only when the whole batch ends. (The first, done before the
    host was held, still hears its `timeout` first.)"""
    heard: list[Observation] = []
    urls = down_urls(6)
    returned = run_virtual(
        check_targets(
            targets(urls),
            SETTINGS,
            transport=httpx.MockTransport(head_503_web("timeout", [])),
            resolver=public_resolver,
            sleep=RecordingSleep(),
            clock=lambda: NOW,
            on_result=heard.append,
        )
    )
    first = {o.url: o for o in heard}
    second = returned[1]
    assert (second.outcome, second.http_status) == (Outcome.RATE_LIMITED, 503), second.reason
    assert first[second.url] == second
    assert [first[o.url] for o in returned[2:]] == returned[2:]
