"""`HostPools`: one connection pool per host, the oldest idle ones closed past a cap.

At 100,000 URLs over 2,000 hosts the cap is reached all night long, with many requests
starting while idle pools close. A request must never fail because of another host's
pool (this once showed as false "connection failed" verdicts: a `KeyError` when two
requests closed the same idle pool), and no pool may be left open when the run ends.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
import respx

from catalog.check import checker
from catalog.check.checker import KEEPALIVE_S, HostPools
from catalog.check.transport import AiohttpPool
from catalog.settings import CheckSettings
from tests.fixture_web import FixtureWeb, fixture_web, fresh_web  # noqa: F401 - fixtures

SETTINGS = replace(CheckSettings(), allow_private=True)


class _Tracked:
    """Counts the per-host transports made and closed; closing takes a moment, as closing
    real sockets does, so other requests run meanwhile."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[AiohttpPool] = []
        self.closed: list[AiohttpPool] = []
        real_init = AiohttpPool.__init__
        real_close = AiohttpPool.aclose
        tracked = self

        def init(transport: AiohttpPool, *args: object, **kw: object) -> None:
            tracked.made.append(transport)
            real_init(transport, *args, **kw)  # type: ignore[arg-type]

        async def aclose(transport: AiohttpPool) -> None:
            await asyncio.sleep(0.002)
            tracked.closed.append(transport)
            await real_close(transport)

        monkeypatch.setattr(AiohttpPool, "__init__", init)
        monkeypatch.setattr(AiohttpPool, "aclose", aclose)


async def _fetch_all(
    client: httpx.AsyncClient, urls: list[str], at_once: int = 8
) -> list[int | str]:
    """GET every URL, `at_once` at a time as the checker's slots allow; status or error."""
    slots = asyncio.Semaphore(at_once)

    async def one(url: str) -> int | str:
        try:
            async with slots, client.stream("GET", url) as response:
                await asyncio.sleep(0.001)  # a body being read while others start
                await response.aread()
                return response.status_code
        except Exception as exc:  # the failure is the finding
            return f"{type(exc).__name__}: {exc}"

    return await asyncio.gather(*(one(u) for u in urls))


async def _fetch_with(pools: HostPools, urls: list[str]) -> list[int | str]:
    async with httpx.AsyncClient(transport=pools) as client:
        return await _fetch_all(client, urls)


def test_requests_to_many_hosts_never_fail_while_idle_pools_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracked = _Tracked(monkeypatch)
    hosts = [f"h{n}.example" for n in range(40)]
    urls = [f"http://{host}/page/{i}" for i in range(5) for host in hosts]
    pools = HostPools(SETTINGS, max_pools=3)
    with respx.mock(assert_all_called=False) as web:
        web.get().mock(return_value=httpx.Response(200, text="ok"))
        answers = asyncio.run(_fetch_with(pools, urls))
    assert answers == [200] * len(urls)
    assert len(tracked.made) > 10  # the cap was reached again and again
    # Every pool closed once by the end (HostPools closes with the client), none orphaned.
    assert sorted(map(id, tracked.closed)) == sorted(map(id, tracked.made))


def test_a_busy_pool_is_never_closed_under_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    tracked = _Tracked(monkeypatch)
    pools = HostPools(SETTINGS, max_pools=1)

    async def scenario() -> tuple[bool, list[int | str]]:
        with respx.mock(assert_all_called=False) as web:
            web.get().mock(return_value=httpx.Response(200, text="x" * 1000))
            async with (
                httpx.AsyncClient(transport=pools) as client,
                client.stream("GET", "http://slow.example/") as slow,
            ):
                # Other hosts come and go while slow.example's body is still open.
                others = await _fetch_all(client, [f"http://o{n}.example/" for n in range(5)])
                slow_pool = tracked.made[0]
                closed_under_it = any(t is slow_pool for t in tracked.closed)
                await slow.aread()
                return closed_under_it, [slow.status_code, *others]

    closed_under_it, answers = asyncio.run(scenario())
    assert answers == [200] * 6
    assert not closed_under_it
    assert len(tracked.made) == 6 and len(tracked.closed) == 6


def test_a_pool_left_half_closed_by_a_cancelled_request_is_closed_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracked = _Tracked(monkeypatch)
    pools = HostPools(SETTINGS, max_pools=1)

    async def scenario() -> None:
        with respx.mock(assert_all_called=False) as web:
            web.get().mock(return_value=httpx.Response(200))
            async with httpx.AsyncClient(transport=pools) as client:
                await client.get("http://first.example/")
                # A URL past its deadline is cancelled while first.example's pool closes.
                late = asyncio.create_task(client.get("http://second.example/"))
                await asyncio.sleep(0.0005)
                late.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await late
                assert not tracked.closed  # first.example's close was cut short

    asyncio.run(scenario())
    assert sorted(map(id, tracked.closed)) == sorted(map(id, tracked.made))


class _CountedTrustStores:
    """Counts the trust stores the checker loads (`httpx.create_ssl_context`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.loaded = 0
        real = httpx.create_ssl_context

        def counted(*args: object, **kw: object) -> object:
            self.loaded += 1
            return real(*args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(checker.httpx, "create_ssl_context", counted)


def test_http_links_load_no_trust_store_and_https_ones_load_it_once(
    monkeypatch: pytest.MonkeyPatch, web: FixtureWeb
) -> None:
    # Loading the CA bundle is ~235 M instructions: a batch of http:// links needs none.
    # Real sockets: a pool loads it on its first connection, so a mocked one never does.
    stores = _CountedTrustStores(monkeypatch)
    pools = HostPools(SETTINGS)
    plain = [web.url("/ok"), web.url("/ok", host="localhost")]
    assert asyncio.run(_fetch_with(pools, plain)) == [200, 200]
    assert stores.loaded == 0
    # Two https:// hosts (127.0.0.1 and localhost: two pools) and an http:// one. The test
    # server's certificate is signed by the tests' own CA, which the bundle does not hold:
    # each handshake is refused, after the store was loaded.
    secure = [web.url("/ok", tls="valid"), web.url("/ok", tls="valid", host="localhost")]
    answers = asyncio.run(_fetch_with(pools, [*secure, web.url("/ok")]))
    assert answers[2] == 200, answers
    assert all("CERTIFICATE_VERIFY_FAILED" in str(a) for a in answers[:2]), answers
    assert stores.loaded == 1  # one store for the run's https:// hosts, as before


def test_a_pool_that_never_connects_loads_no_trust_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test's mock answers for the pool: the ~20 ms of the bundle are not spent per run.
    stores = _CountedTrustStores(monkeypatch)
    with respx.mock(assert_all_called=False) as mocked:
        mocked.get().mock(return_value=httpx.Response(200, text="ok"))
        assert asyncio.run(_fetch_with(HostPools(SETTINGS), ["https://a.example/"])) == [200]
    assert stores.loaded == 0


def test_a_pool_made_for_http_never_connects_unverified(web: FixtureWeb) -> None:
    # Its stand-in context trusts nothing: had an https:// URL reached it, the handshake
    # fails, where an unverifying one would have read the page.
    url = web.url("/ok", tls="valid")

    async def status(tls: object) -> int | str:
        pool = AiohttpPool(tls, 2, KEEPALIVE_S)  # type: ignore[arg-type]
        try:
            async with httpx.AsyncClient(transport=pool) as client:
                return (await client.get(url)).status_code
        except httpx.ConnectError as exc:
            return "refused" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else str(exc)

    assert asyncio.run(status(web.certs.client_context())) == 200  # the server is fine
    assert asyncio.run(status(None)) == "refused"
