"""A host that says it is away for longer than a check waits (503 or 429 with a Retry-After
beyond `retry_after_cap`) is asked once (a 429) or twice (a 503, from two paths): its
other URLs of the run take that answer as theirs, promptly and without a request each, so
a site in maintenance no longer holds the night for `retry_after_cap` per URL (r1: 100
URLs, 50 minutes). One path's 503 is its own: the host's other pages are asked and judged
as ever. A short Retry-After is still waited out, and other hosts are not slowed.

MockTransport, a recording `sleep` and an event loop on a virtual clock (`VirtualLoop`:
the host gates' pauses and the scheduler's timers pass at once): the tests count the
requests each host saw and read the outcomes, never the time taken.
"""

from __future__ import annotations

import asyncio
import selectors
from collections import Counter
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from catalog.check import check_targets
from catalog.check.politeness import HostGate
from catalog.health import LinkState, apply_observation
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings
from catalog.urls import host_of
from tests.factories import RecordingSleep, public_resolver

NOW = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
SETTINGS = replace(
    CheckSettings(), soft404_probe=False, per_host_rate=1000.0, per_host_concurrency=1
)
DOWN = "maintenance.example"
UP = "fine.example"
PAGE = "<html><head><title>A report</title></head><body><p>The report.</p></body></html>"


T = TypeVar("T")


class _Instant(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """A selector that, with nothing ready, moves the clock on by the wait instead of
    waiting (no sockets here: the transport is a MockTransport)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout is None:
            return ready or super().select(timeout)
        self.now += max(0.0, timeout)
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is `_Instant`'s: a 30 s pause takes no real time, so a
    run that still waited `retry_after_cap` per URL ends (and fails) at once."""

    def __init__(self) -> None:
        self._instant = _Instant()
        super().__init__(self._instant)

    def time(self) -> float:
        return self._instant.now


def run_virtual(coro: Coroutine[Any, Any, T], took: list[float] | None = None) -> T:
    """`asyncio.run(coro)` on a `VirtualLoop`; `took` receives the loop seconds it took
    (virtual: exact, whatever the machine's load)."""
    with asyncio.Runner(loop_factory=VirtualLoop) as runner:
        result = runner.run(coro)
        if took is not None:
            took.append(runner.get_loop().time())
        return result


class Web:
    """`DOWN` answers `status` with `Retry-After: wait` to everything; `UP` serves a page.
    Counts the requests each host saw, and the most `DOWN` had open at once."""

    def __init__(self, status: int = 503, wait: str = "7200") -> None:
        self.status, self.wait = status, wait
        self.seen: Counter[str] = Counter()
        self.paths: list[str] = []
        self.open = self.peak = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.seen[host] += 1
        if host != DOWN:
            return httpx.Response(200, html=PAGE)
        self.paths.append(request.url.path)
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await asyncio.sleep(0.001)  # answers overlap when the host's concurrency allows
        finally:
            self.open -= 1
        return httpx.Response(
            self.status, text="Down for maintenance", headers={"Retry-After": self.wait}
        )


def targets(urls: list[str], fingerprint_due: bool = False) -> list[Target]:
    return [Target(url=u, host=host_of(u), fingerprint_due=fingerprint_due) for u in urls]


def run(
    urls: list[str],
    web: Any,
    settings: CheckSettings = SETTINGS,
    *,
    sleep: RecordingSleep | None = None,
    at: datetime = NOW,
    fingerprint_due: bool = False,
    took: list[float] | None = None,
) -> list[Observation]:
    return run_virtual(
        check_targets(
            targets(urls, fingerprint_due),
            settings,
            transport=httpx.MockTransport(web),
            resolver=public_resolver,
            sleep=sleep or RecordingSleep(),
            clock=lambda: at,
        ),
        took,
    )


def down_urls(n: int) -> list[str]:
    return [f"https://{DOWN}/doc{i}.pdf" for i in range(n)]


@pytest.mark.parametrize(
    ("status", "fingerprint_due", "asked"),
    [
        # A 503 is the host's once a second path says so: two URLs' HEAD 503 (GET may
        # still serve: it asks) and GET 503, where one URL's were taken at their word.
        (503, False, ["/doc0.pdf", "/doc0.pdf", "/doc1.pdf", "/doc1.pdf"]),
        (503, True, ["/doc0.pdf", "/doc1.pdf"]),  # GET 503 twice
        (429, False, ["/doc0.pdf"]),  # HEAD 429: GET would hear the same, nor would others
        (429, True, ["/doc0.pdf"]),
    ],
)
def test_a_host_away_for_longer_than_the_cap_is_asked_once_for_all_its_urls(
    status: int, fingerprint_due: bool, asked: list[str]
) -> None:
    """r1: 503 with Retry-After 7200 to everything made each URL wait the 30 s pause the
    last one set and then ask again (8 URLs, 211 s). Now the host's answer stands for its
    40 URLs once it is the host's (a 429 at once, a 503 from a second path): no more
    requests, no pause waited, the same outcome and status."""
    web = Web(status)
    sleep, took = RecordingSleep(), list[float]()
    urls = down_urls(40) + [f"https://{UP}/page{i}" for i in range(5)]
    observations = run(urls, web, sleep=sleep, fingerprint_due=fingerprint_due, took=took)

    assert web.seen[DOWN] == len(asked) and web.paths == asked
    assert sleep.waits == [], "nothing waited for a pause"
    assert took[0] < SETTINGS.retry_after_cap, "not one pause of the cap, in loop time"
    down, up = observations[:40], observations[40:]
    assert {(o.outcome, o.http_status) for o in down} == {(Outcome.RATE_LIMITED, status)}
    told = down[: len(set(asked))]
    for obs in told:  # their own answers
        assert "7200 s (about 2 hours) (Retry-After)" in obs.reason
        assert "not sent" not in obs.reason
    said = "host unavailable" if status == 503 else "host asked us to slow down"
    to = " and to ".join(o.url for o in told)
    for obs in down[len(told) :]:
        assert obs.bytes_read == 0 and obs.retries == 0
        assert obs.reason.startswith(f"{'GET' if fingerprint_due else 'HEAD'} not sent: {said}")
        assert f"it answered {status} to {to} and said" in obs.reason
        assert "retry after 7200 s (about 2 hours) (Retry-After)" in obs.reason
        assert obs.chain[-1].status == status and obs.final_url == obs.url
    # Another host is checked as ever, whatever the first does.
    assert [o.outcome for o in up] == [Outcome.OK] * 5 and web.seen[UP] == 5


def test_with_two_at_once_the_host_sees_no_more_than_the_urls_already_asking() -> None:
    """With the host's concurrency at 2, a second URL may be asking when the first answer
    comes; the host never sees more than its concurrency's worth of URLs (HEAD and GET
    each), whatever the number of URLs, and never more than 2 requests at once."""
    web = Web()
    settings = replace(SETTINGS, per_host_concurrency=2)
    observations = run(down_urls(60), web, settings)
    assert web.seen[DOWN] <= 2 * 2 and len(set(web.paths)) <= 2, web.paths
    assert web.peak <= 2
    assert {(o.outcome, o.http_status) for o in observations} == {(Outcome.RATE_LIMITED, 503)}


def paths_web(down: set[str], seen: list[str]) -> Any:
    """A host whose paths in `down` answer 503 "come back in 2 hours", the others a page."""

    async def web(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.raw_path.decode()}")
        if request.url.path in down:
            return httpx.Response(503, text="Search is down", headers={"Retry-After": "7200"})
        return httpx.Response(200, html=PAGE)

    return web


@pytest.mark.parametrize("fingerprint_due", [False, True])
def test_one_path_down_for_hours_leaves_the_hosts_other_pages_checked(
    fingerprint_due: bool,
) -> None:
    """An app's /search answering 503 Retry-After 7200 while /docs are served made every
    other URL of the host "rate_limited 503", unrequested, an unavailable night for each
    of its links. Now its links keep their own answer (two of them: one path, whatever the
    query) and the host's pages are asked and OK, with no pause waited."""
    seen: list[str] = []
    web = paths_web({"/search"}, seen)
    urls = [f"https://{DOWN}/search?q=a", f"https://{DOWN}/search?q=b"]
    urls += [f"https://{DOWN}/docs/{i}" for i in range(5)]
    sleep, took = RecordingSleep(), list[float]()
    observations = run(urls, web, sleep=sleep, fingerprint_due=fingerprint_due, took=took)

    search, docs = observations[:2], observations[2:]
    assert [o.outcome for o in docs] == [Outcome.OK] * 5, [o.reason for o in docs]
    method = "GET" if fingerprint_due else "HEAD"
    assert [s for s in seen if "/docs/" in s] == [f"{method} /docs/{i}" for i in range(5)]
    for obs in search:
        assert (obs.outcome, obs.http_status) == (Outcome.RATE_LIMITED, 503)
        assert "not sent" not in obs.reason and "7200 s" in obs.reason
    assert [s for s in seen if "/search" in s and s.startswith("GET")] == [
        "GET /search?q=a",
        "GET /search?q=b",
    ]
    assert sleep.waits == [] and took[0] < SETTINGS.retry_after_cap


def test_an_ordinary_answer_between_two_paths_down_leaves_the_host_up() -> None:
    """/shop and then /search down, with a page served between them: two apps of a site
    in trouble, not the site away. The pages after them are asked and OK."""
    seen: list[str] = []
    web = paths_web({"/shop", "/search"}, seen)
    paths = ["/shop", "/docs/0", "/search", "/docs/1", "/docs/2"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, fingerprint_due=True)
    assert seen == [f"GET {p}" for p in paths]
    assert [(o.outcome, o.http_status) for o in observations] == [
        (Outcome.RATE_LIMITED, 503),
        (Outcome.OK, 200),
        (Outcome.RATE_LIMITED, 503),
        (Outcome.OK, 200),
        (Outcome.OK, 200),
    ]
    assert not any("not sent" in o.reason for o in observations)


def test_a_503_from_a_second_path_after_a_redirect_marks_the_host_away() -> None:
    """A redirect is no page served: /old redirecting to /b between /a's and /b's 503
    leaves the host's first word standing, and /b's makes it the host's."""
    seen: list[str] = []
    inner = paths_web({"/a", "/b"}, seen)

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            seen.append("GET /old")
            return httpx.Response(301, headers={"Location": f"https://{DOWN}/b"})
        response: httpx.Response = await inner(request)
        return response

    paths = ["/a", "/old", "/c", "/d"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, fingerprint_due=True)
    assert seen == ["GET /a", "GET /old", "GET /b"]
    assert {(o.outcome, o.http_status) for o in observations} == {(Outcome.RATE_LIMITED, 503)}
    assert [("not sent" in o.reason) for o in observations] == [False, False, True, True]
    assert f"to https://{DOWN}/a and to https://{DOWN}/b and said" in observations[2].reason


def test_a_short_retry_after_is_still_waited_out_and_every_url_asked() -> None:
    """Within the cap the host pauses and each URL waits and retries, as before."""
    web = Web(wait="5")
    sleep = RecordingSleep()
    observations = run(down_urls(3), web, sleep=sleep, fingerprint_due=True)
    assert set(web.paths) == {"/doc0.pdf", "/doc1.pdf", "/doc2.pdf"}
    assert web.seen[DOWN] == 3 * SETTINGS.max_attempts
    assert 5.0 in sleep.waits
    # A 503 after every retry is an HTTP error (README, Retries), each URL's own.
    assert {(o.outcome, o.http_status) for o in observations} == {(Outcome.HTTP_ERROR, 503)}
    assert not any("not sent" in o.reason for o in observations)


def test_a_host_refusing_head_alone_still_serves_its_pages() -> None:
    """HEAD 503 with Retry-After 7200 and GET 200 (some servers refuse only HEAD so): the
    host is not away. Each URL's GET asks at once, and the next URLs no longer wait the
    30 s pause that HEAD's answer set (which held every URL of such a host)."""
    asked: Counter[str] = Counter()

    async def web(request: httpx.Request) -> httpx.Response:
        asked[request.method] += 1
        if request.method == "HEAD":
            return httpx.Response(503, headers={"Retry-After": "7200"})
        return httpx.Response(200, html=PAGE)

    sleep, took = RecordingSleep(), list[float]()
    observations = run(down_urls(5), web, sleep=sleep, took=took)
    assert [o.outcome for o in observations] == [Outcome.OK] * 5
    assert asked == {"HEAD": 5, "GET": 5}
    assert sleep.waits == [] and took[0] < SETTINGS.retry_after_cap


def test_a_soft_404_probes_answer_does_not_hold_the_host() -> None:
    """The probe asks for a made-up address: its 503 "come back in 2 hours" says nothing
    of the pages the host has just served."""
    pages: list[str] = []

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/doc"):
            pages.append(request.url.path)
            return httpx.Response(200, html=PAGE)
        return httpx.Response(503, headers={"Retry-After": "7200"})

    sleep, took = RecordingSleep(), list[float]()
    settings = replace(SETTINGS, soft404_probe=True)
    urls = [f"https://{DOWN}/doc{i}" for i in range(4)]
    observations = run(urls, web, settings, sleep=sleep, fingerprint_due=True, took=took)
    assert [o.outcome for o in observations] == [Outcome.OK] * 4
    assert pages == [f"/doc{i}" for i in range(4)]
    assert sleep.waits == [] and took[0] < SETTINGS.retry_after_cap


def test_an_https_try_that_finds_the_host_away_is_its_answer() -> None:
    """An http:// link whose port 80 refused while two other URLs of the host heard 503
    "come back in 2 hours" over https: its https:// try is not sent, and the host's
    answer is the link's (rate limited), not "connection refused" (a broken link)."""
    http_sent, away = asyncio.Event(), asyncio.Event()
    done_https: list[str] = []

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            http_sent.set()
            await away.wait()  # refused once the host has said it is away
            refused = httpx.ConnectError("refused", request=request)
            refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
            raise refused
        await http_sent.wait()  # the http:// request went before these answers came
        return httpx.Response(503, headers={"Retry-After": "7200"})

    settings = replace(SETTINGS, per_host_concurrency=3)

    async def check() -> list[Observation]:
        def done(obs: Observation) -> None:
            if obs.url.startswith("https:"):
                done_https.append(obs.url)
                if len(done_https) == 2:
                    away.set()

        return await check_targets(
            targets(
                [f"https://{DOWN}/a", f"https://{DOWN}/c", f"http://{DOWN}/b"],
                fingerprint_due=True,
            ),
            settings,
            transport=httpx.MockTransport(web),
            resolver=public_resolver,
            sleep=RecordingSleep(),
            clock=lambda: NOW,
            on_result=done,
        )

    first, second, link = run_virtual(check())
    for told in (first, second):
        assert told.outcome is Outcome.RATE_LIMITED and told.http_status == 503
        assert "not sent" not in told.reason
    assert link.outcome is Outcome.RATE_LIMITED, link.reason
    assert link.http_status == 503 and "host unavailable" in link.reason
    assert link.reason.startswith("The http:// address does not answer")


def test_a_night_of_maintenance_counts_for_the_links_asked_not_for_those_held() -> None:
    """The health rules read a 503 "come back later" night from the outcome and status
    (`unavailable_nights`, flapping on such nights, a first night only watched, failing
    after `unavailable_days`) of the links asked. A link not asked (`Observation.held`)
    keeps its health: it counted alike, and pages never requested were confirmed broken
    (review r4); its reason alone says its last check was not sent."""
    health = HealthSettings()
    web = Web()
    asked, held = LinkState(), LinkState()
    nights = int(health.unavailable_days) + 2
    for night in range(nights):
        at = NOW + timedelta(days=night)
        first, _, other = run(down_urls(3), web, at=at)
        assert not first.held and other.held and "not sent" in other.reason
        asked, _ = apply_observation(asked, first, health, now=at)
        held, held_changes = apply_observation(held, other, health, now=at)
        assert held_changes == []
        # "last tried", and one more try not sent (`held_tries`)
        assert held == LinkState(last_checked_at=at, reason=other.reason, held_tries=night + 1)
    assert len(asked.unavailable_nights) == nights
    assert asked.consecutive_failures > 0, "the asked one fails after `unavailable_days`"
    assert web.seen[DOWN] == 4 * nights, "two URLs asked a night (HEAD and GET)"


def test_the_host_is_away_for_the_time_it_named_and_no_shorter() -> None:
    from catalog.check.facts import Away  # here: the other tests run on a tree without it

    async def scenario() -> list[Away | None]:
        gate = HostGate("h.example", concurrency=2, rate=5.0)
        long = Away(503, 3600.0, "https://h.example/a")
        short = Away(503, 0.01, "https://h.example/b")
        seen = [gate.away()]
        gate.went_away(long)
        gate.went_away(short)  # an earlier end never shortens what the host said
        seen.append(gate.away())
        brief = HostGate("h.example", concurrency=2, rate=5.0)
        brief.went_away(short)
        seen.append(brief.away())
        await asyncio.sleep(1)  # past its 0.01 s (loop time): asked again
        seen.append(brief.away())
        return seen

    none, long, short, after = run_virtual(scenario())
    assert none is None and long is not None and long.retry_after == 3600.0
    assert short is not None and after is None


def test_a_503_is_the_hosts_once_a_second_path_says_so() -> None:
    """`HostGate.strike`: one path's word (repeated, or with another query) is its own; a
    second path's makes the host away, naming both; an ordinary answer between, or the
    first one's Retry-After running out, starts over."""
    from catalog.check.facts import Away  # here: the other tests run on a tree without it

    def said(path: str, seconds: float = 3600.0) -> Away:
        return Away(503, seconds, f"https://h.example{path}")

    async def scenario() -> list[Away | None]:
        gate = HostGate("h.example", concurrency=2, rate=5.0)
        gate.strike(said("/search?q=a"))
        gate.strike(said("/search?q=b"))
        seen = [gate.away()]  # one path
        gate.answered()
        gate.strike(said("/docs"))
        seen.append(gate.away())  # a page served between: starts over
        gate.strike(said("/pdf"))
        seen.append(gate.away())  # two paths
        brief = HostGate("h.example", concurrency=2, rate=5.0)
        brief.strike(said("/a", 0.01))
        await asyncio.sleep(1)  # past its 0.01 s (loop time)
        brief.strike(said("/b"))
        seen.append(brief.away())
        return seen

    one_path, cleared, away, expired = run_virtual(scenario())
    assert one_path is None and cleared is None and expired is None
    assert away == Away(503, 3600.0, "https://h.example/docs", again="https://h.example/pdf")


NOT_FOUND = "<html><head><title>Page not found</title></head><body><p>Sorry.</p></body></html>"


async def broken_page(kind: str, request: httpx.Request) -> httpx.Response:
    """One page broken as a curator's catalog has them: moved, removed, or failing alone."""
    if kind == "timeout":
        raise httpx.ReadTimeout("the page did not answer", request=request)
    if kind == "soft-404":
        return httpx.Response(200, html=NOT_FOUND)
    if kind == "503 short":
        return httpx.Response(503, text="Busy", headers={"Retry-After": "5"})
    return httpx.Response(int(kind), text="No such page")


@pytest.mark.parametrize("kind", ["404", "410", "503", "503 short", "soft-404", "timeout"])
def test_plain_broken_pages_in_a_row_hold_no_host(kind: str) -> None:
    """Only a 429 or a 503 asking to come back later than a check waits speaks for the
    host: a curator's catalog often has two pages of one site moved or removed next to
    each other, after a path that really is down for hours (/search). Had they held the
    host, its other links would have gone unchecked that night ("not sent"). Every URL
    is asked, and the host's pages are OK."""
    seen: list[str] = []
    search = paths_web({"/search"}, seen)

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/gone/"):
            seen.append(f"{request.method} {request.url.path}")
            return await broken_page(kind, request)
        response: httpx.Response = await search(request)
        return response

    paths = ["/search", "/gone/a", "/gone/b", "/docs/0", "/docs/1", "/docs/2"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web)
    assert {s.split()[1] for s in seen} == set(paths), seen
    assert not any("not sent" in o.reason for o in observations), [o.reason for o in observations]
    assert [o.outcome for o in observations[3:]] == [Outcome.OK] * 3
    assert (observations[0].outcome, observations[0].http_status) == (Outcome.RATE_LIMITED, 503)


@pytest.mark.parametrize("status", [503, 429])
def test_a_page_answered_while_the_host_went_away_brings_it_back(status: int) -> None:
    """Two at once: /slow is still being answered when /a and /b (or a 429 from /a alone)
    say "come back in 2 hours". The URLs after them wait for /slow's answer instead of
    being held at once, and its page says the host is serving: a 503's hold ends, and
    they are asked and OK. A 429 says we ask too often, which a page answered to a request
    sent before it does not undo: its hold stands."""
    seen: list[str] = []
    said = asyncio.Event()

    async def web(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        seen.append(path)
        if path == "/slow":
            await said.wait()
            await asyncio.sleep(1)  # loop time: the checker has heard the host go away
            return httpx.Response(200, html=PAGE)
        if path == ("/b" if status == 503 else "/a"):
            said.set()
        if path in ("/a", "/b"):
            return httpx.Response(status, text="Come back later", headers={"Retry-After": "7200"})
        return httpx.Response(200, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=2)
    paths = ["/slow", "/a", "/b", "/c", "/d"] if status == 503 else ["/slow", "/a", "/c", "/d"]
    observations = run([f"https://{DOWN}{p}" for p in paths], web, settings, fingerprint_due=True)
    by_path = {o.url.removeprefix(f"https://{DOWN}"): o for o in observations}
    assert by_path["/slow"].outcome is Outcome.OK
    assert (by_path["/a"].outcome, by_path["/a"].http_status) == (Outcome.RATE_LIMITED, status)
    after = [by_path["/c"], by_path["/d"]]
    if status == 503:
        assert seen == paths
        assert [o.outcome for o in after] == [Outcome.OK] * 2, [o.reason for o in after]
    else:
        assert sorted(seen) == ["/a", "/slow"]
        assert all(o.held and "not sent" in o.reason for o in after)


def head_503_web(get: str, asked: list[str]) -> Any:
    """HEAD answers 503 "come back in 2 hours" everywhere; GET serves the page ("page"),
    does not answer ("timeout") or answers 503 without saying for how long ("503")."""

    async def web(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        if request.method == "HEAD":
            # Loop time: an even URL's HEAD answers after the next one's (sent a rate slot
            # later), and its GET waits for a slot of its own meanwhile.
            number = int(request.url.path.removeprefix("/doc").removesuffix(".pdf"))
            await asyncio.sleep(0.25 if number % 2 == 0 else 0.1)
            return httpx.Response(503, headers={"Retry-After": "7200"})
        if get == "page":
            return httpx.Response(200, html=PAGE)
        return await broken_page(get, request)

    return web


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_a_host_refusing_head_alone_is_never_held_whatever_its_concurrency(
    concurrency: int,
) -> None:
    """A HEAD's 503 "come back in 2 hours" is the host's word only once the GET the checker
    sends after it (as after any HEAD 503) has not been answered by a page: taken at once,
    two URLs' HEADs answered before the first one's GET was sent, and a site that serves
    GET was "not sent" for the night from that GET on."""
    asked: list[str] = []
    settings = replace(SETTINGS, per_host_concurrency=concurrency, per_host_rate=5.0)
    observations = run(down_urls(8), head_503_web("page", asked), settings)
    assert [o.outcome for o in observations] == [Outcome.OK] * 8, [o.reason for o in observations]
    assert sorted(asked) == sorted(
        [f"HEAD /doc{i}.pdf" for i in range(8)] + [f"GET /doc{i}.pdf" for i in range(8)]
    )


@pytest.mark.parametrize("get", ["timeout", "503"])
def test_a_heads_503_stands_for_the_host_when_its_get_brings_no_page(get: str) -> None:
    """A site in maintenance whose HEAD says "come back in 2 hours" and whose GET hangs (or
    answers a bare 503) was asked at every URL, HEAD and three GETs each (a timeout costs
    the URL's whole deadline): its HEAD's word never counted. Now it counts as a GET's
    does: from a second path the host is away, and its other URLs are held."""
    asked: list[str] = []
    observations = run(down_urls(6), head_503_web(get, asked))
    assert {a.split()[1] for a in asked} == {"/doc0.pdf", "/doc1.pdf"}, asked
    told, held = observations[:2], observations[2:]
    assert not any(o.held for o in told)
    for obs in held:
        assert obs.held and (obs.outcome, obs.http_status) == (Outcome.RATE_LIMITED, 503)
        assert obs.reason.startswith("HEAD not sent: host unavailable"), obs.reason
        assert f"to https://{DOWN}/doc0.pdf and to https://{DOWN}/doc1.pdf" in obs.reason
        assert "7200 s" in obs.reason


def test_a_link_whose_head_heard_the_503_before_the_host_was_held_is_asked() -> None:
    """Two at once: the third URL's HEAD heard "come back in 2 hours" itself, and its GET
    was held, the host away on the first two paths' word by then. It was stored held
    ("nothing was sent": its health kept) where the two asked beside it had a night of
    maintenance. A slow second answer (or a loaded machine) gives that order; the 503 test
    of test_silent_host_asked_again failed on it now and then."""
    sent: list[str] = []

    async def web(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if (request.method, request.url.path) == ("GET", "/doc1.pdf"):
            await asyncio.sleep(1.0)  # the second path's word comes late
        if (request.method, request.url.path) == ("HEAD", "/doc2.pdf"):
            await asyncio.sleep(1.5)  # asked before the host was away, answered after
        return httpx.Response(503, text="Down", headers={"Retry-After": "7200"})

    observations = run(down_urls(5), web, replace(SETTINGS, per_host_concurrency=2))
    assert sorted(sent) == sorted(
        ["HEAD /doc0.pdf", "GET /doc0.pdf", "HEAD /doc1.pdf", "GET /doc1.pdf", "HEAD /doc2.pdf"]
    )
    asked, held = observations[:3], observations[3:]
    assert not any(o.held for o in asked), [o.reason for o in asked]
    assert all(o.held for o in held), [o.reason for o in held]
    third = asked[2]
    assert (third.outcome, third.http_status) == (Outcome.RATE_LIMITED, 503)
    assert third.reason == (
        "HEAD 503, GET not sent: host unavailable: it answered 503 to this link's HEAD, as to "
        f"https://{DOWN}/doc0.pdf and to https://{DOWN}/doc1.pdf, and said to retry after "
        "7200 s (about 2 hours) (Retry-After), longer than the check can wait for one link; "
        "its GET was not sent."
    )
    state, _ = apply_observation(LinkState(), third, HealthSettings(), now=NOW)
    assert len(state.unavailable_nights) == 1, "a night of maintenance, as the others'"


def test_a_heads_word_said_before_a_page_was_served_is_not_the_hosts() -> None:
    """`HostGate.strike`'s `since`: a HEAD's 503 counts once its GET is done, and a page the
    host served meanwhile (`answered`) says it was that path's alone."""
    from catalog.check.facts import Away

    def said(path: str) -> Away:
        return Away(503, 3600.0, f"https://h.example{path}")

    async def scenario() -> list[Away | None]:
        gate = HostGate("h.example", concurrency=2, rate=5.0)
        before = gate.answers
        gate.answered()  # a page served while /a's GET was asked
        gate.strike(said("/a"), since=before)
        gate.strike(said("/b"))
        stale = gate.away()
        gate.strike(said("/c"), since=gate.answers)
        return [stale, gate.away()]

    stale, away = run_virtual(scenario())
    assert stale is None
    assert away == Away(503, 3600.0, "https://h.example/b", again="https://h.example/c")
