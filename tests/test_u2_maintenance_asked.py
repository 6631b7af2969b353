"""The links of a host in maintenance that were asked before it was held read as what the
host said (503, come back later), as their held siblings do, not as broken pages.

A site whose HEAD answers 503 "come back in 2 hours" and whose GET hangs: the first two
links asked heard the HEAD's word and then timed out on GET; the host was held from the
second one on, and its other links were "HEAD not sent: host unavailable". The two asked
read `timeout` (or `http_error` for a bare 503 to GET): a maintenance night read as two
broken links. MockTransport on a virtual clock, as in `test_maintenance_host`.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from catalog.outcomes import Outcome
from tests.test_maintenance_host import DOWN, PAGE, SETTINGS, down_urls, head_503_web, run


@pytest.mark.parametrize("get", ["timeout", "503"])
def test_the_links_asked_before_the_hold_read_as_the_hosts_503(get: str) -> None:
    asked: list[str] = []
    observations = run(down_urls(6), head_503_web(get, asked))
    told, held = observations[:2], observations[2:]
    assert all(o.held for o in held)
    for obs in told:
        assert not obs.held, "asked: its night counts (an unavailable night)"
        assert (obs.outcome, obs.http_status) == (Outcome.RATE_LIMITED, 503), obs.reason
        assert "unavailable" in obs.reason and "7200 s" in obs.reason, obs.reason


def test_one_path_saying_it_alone_keeps_its_own_timeout() -> None:
    """One path's HEAD 503 and GET timeout, the host's other pages served: the host was
    never held, and that page's timeout is its own."""

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/search":
            if request.method == "HEAD":
                return httpx.Response(503, headers={"Retry-After": "7200"})
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, html=PAGE)

    urls = [f"https://{DOWN}/search", *(f"https://{DOWN}/doc{i}" for i in range(3))]
    search, *pages = run(urls, web)
    assert search.outcome is Outcome.TIMEOUT, search.reason
    assert [o.outcome for o in pages] == [Outcome.OK] * 3


def test_a_page_served_after_the_word_leaves_a_timeout_its_own() -> None:
    """Two at once: /a says "come back in 2 hours" to HEAD and its GET times out; /page is
    served after /a's HEAD spoke. The host serves pages: /a's timeout is its own, even if
    two later paths hold the host."""

    async def web(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/page":
            return httpx.Response(200, html=PAGE)
        if request.method == "HEAD":
            return httpx.Response(503, headers={"Retry-After": "7200"})
        raise httpx.ReadTimeout("no answer", request=request)

    settings = replace(SETTINGS, per_host_concurrency=1)
    paths = ["/a", "/page", "/b", "/c", "/d"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    assert by_path["/a"].outcome is Outcome.TIMEOUT, by_path["/a"].reason
    assert by_path["/page"].outcome is Outcome.OK
    assert by_path["/d"].held
    for path in ("/b", "/c"):
        assert (by_path[path].outcome, by_path[path].http_status) == (Outcome.RATE_LIMITED, 503)
