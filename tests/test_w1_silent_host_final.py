"""A host silent at its hold and again at the end of the batch: its held links time out.

A host that answers none of its last links is held (`HostGate.unanswered_link`) and asked
once more before its batch ends (`checker._Run.ask_silent_again`). Silent to that request
too, its held links kept their held verdict, which keeps a link's state: a dead site (a
lapsed domain's parking load balancer that never answers) had three links asked a night
and the rest "OK when last checked, not asked since" for months, where every one had timed
out and been confirmed broken before any hold. Now each held link's try is that night's
`timeout` check of it (not held), with a reason that says it was not sent and why; a
request asked again that fails otherwise (refused, our network unreachable) says nothing
of the silence, and the links stay held. The request asked again waits until the hold is
`SILENT_AGAIN_DEADLINES` old, so that the silence that times links out lasted minutes,
and asks the held link least like those that hung (a site dead behind one path). The gate
of a host asked again keeps a token of the link that asked, not its check's progress. A
capped resource page says why its tries were not sent, its host away or silent.

The nights run on a virtual clock (`test_maintenance_host.VirtualLoop`): a server that
never answers costs no real time. The tests count requests and states, never time taken.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from catalog import outage, store
from catalog.check import check_targets, politeness
from catalog.check.fetch import Progress
from catalog.decisions import history_lines
from catalog.health import BROKEN, OK, SUSPECT
from catalog.model import Observation, Target
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.urls import host_of
from reports.build import HISTORY_PER_RESOURCE, build_context
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    public_resolver,
    temporary_database,
)
from tests.test_held_history_pages import checked, nights, page
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual
from tests.test_u4_held_rotation import held_at

HOST = "https://agency.example"
PAGES = [f"{HOST}/guide{i:02}" for i in range(13)]
OTHER = "https://fine.example/doc"
HEALTH = HealthSettings()
#: What the reason of a held link's try says once its host was silent again at the end.
SILENT_AGAIN = "nor our request again at the end of the batch"

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


async def hang(request: httpx.Request) -> httpx.Response:
    """No answer ever: the link's deadline ends the request."""
    await asyncio.sleep(3600)
    raise AssertionError("the deadline ends it")


def check(
    urls: Sequence[str],
    web: Handler,
    *,
    at: int = 0,
    heard: list[Observation] | None = None,
    targets: Sequence[Target] | None = None,
) -> list[Observation]:
    """One batch of `urls` (or `targets`) against `web`, on the virtual clock, at night `at`."""
    if targets is None:
        targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    return run_virtual(
        check_targets(
            targets,
            SETTINGS,
            transport=httpx.MockTransport(web),
            resolver=public_resolver,
            clock=lambda: days(at),
            on_result=None if heard is None else heard.append,
        )
    )


def silent_from(night: int, from_night: int, asked: Counter[str]) -> Handler:
    """Every page served before night `from_night`, then HOST never answers; `asked`
    counts the URLs of HOST sent a request."""

    async def web(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith(HOST) and night >= from_night:
            asked[url] += 1
            return await hang(request)
        return httpx.Response(200, html=PAGE)

    return web


def test_a_host_silent_at_the_end_too_has_its_held_links_time_out() -> None:
    """Held, then silent to the request that asks it again: each held link's try is a
    `timeout` check, not held, whose reason says it was not sent, why, and when the host
    was asked again. `on_result` heard the held verdict (what a run stopped before the end
    stores: the state kept)."""
    asked: Counter[str] = Counter()
    heard: list[Observation] = []
    observations = check(PAGES, silent_from(1, 1, asked), heard=heard)

    was_held = {o.url for o in heard if o.held}
    assert len(was_held) == len(PAGES) - politeness.SILENT_LINKS, "the host was held"
    assert all(o.reason.endswith(HELD_REASON_END) for o in heard if o.held)
    # The links that held it, and one asked again at the end: no more.
    assert len(asked) == politeness.SILENT_LINKS + 1, asked
    assert [o.outcome for o in observations] == [Outcome.TIMEOUT] * len(PAGES)
    assert not any(o.held for o in observations), [o.reason for o in observations if o.held]
    (again,) = set(asked) & was_held
    for obs in observations:
        if obs.url not in was_held or obs.url == again:
            assert "not sent" not in obs.reason, obs.reason  # asked: its own timeout
            continue
        assert obs.reason.startswith(
            "HEAD not sent: host not answering: it answered none of the requests for its "
            f"last {politeness.SILENT_LINKS} links within their deadlines ("
        ), obs.reason
        assert f", {SILENT_AGAIN}, " in obs.reason, obs.reason
        assert obs.reason.endswith(f"({again}): a timeout, as theirs were."), obs.reason
        assert not obs.reason.endswith(HELD_REASON_END)
        assert obs.http_status is None
        # Nothing was sent: no time of an answer ("took 0 ms" on its page and host table).
        assert obs.elapsed_ms is None, obs.elapsed_ms


def test_a_dead_site_is_confirmed_broken_the_night_it_was_without_a_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site that never answers from night 1: night after night its links are suspect,
    then broken, on the same nights as when every link was asked (no hold: `SILENT_LINKS`
    out of reach), for a few requests a night instead of each link's. No link of it is
    "not sent" in its history nor "not asked since" in the report."""
    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(PAGES)])
    fine = make_catalog("other", [make_resource("fine", OTHER)])
    states: dict[bool, list[dict[str, tuple[str, int]]]] = {True: [], False: []}
    requests: dict[bool, int] = {}
    for hold in (True, False):
        with temporary_database(tmp_path, f"hold-{hold}.db") as engine:
            sync_catalogs(engine, [kit, fine], now=days(0))
            with monkeypatch.context() as patch:
                if not hold:
                    patch.setattr(politeness, "SILENT_LINKS", 10_000)
                asked: Counter[str] = Counter()
                for n in range(4):
                    at = days(n)
                    targets = store.targets_for_check(engine, now=at, fingerprint_max_age_days=7)
                    observations = check((), silent_from(n, 1, asked), at=n, targets=targets)
                    assert not any(o.held for o in observations)
                    store.record_observations(engine, None, observations, HEALTH, now=at)
                    states[hold].append(
                        {
                            link.url: (link.state, link.consecutive_failures)
                            for link in store.link_states(engine)
                            if link.url.startswith(HOST)
                        }
                    )
            requests[hold] = asked.total()
            if hold:
                context = build_context(report_data(engine), now=days(3.1))
                never_asked = next(u for u in PAGES if u not in asked)
                rid = f"r{PAGES.index(never_asked)}"
                lines = history_lines(store.resource_history(engine, rid), now=days(3.1))
    assert states[True] == states[False]
    by_night = [set(night.values()) for night in states[True]]
    assert by_night == [{(OK, 0)}, {(SUSPECT, 1)}, {(SUSPECT, 2)}, {(BROKEN, 3)}], by_night
    assert requests[True] <= 3 * (politeness.SILENT_LINKS + 1), requests  # three nights
    assert requests[False] >= 3 * len(PAGES), requests
    assert "not asked since" not in context.headline, context.headline
    # No try "not sent" (`linkhealth resource`'s column and line for a held one): checks.
    assert not any(line.lstrip().startswith("not sent") for line in lines), lines
    tries = lines[lines.index("Observations (newest first)") + 1 :][:4]
    assert [" timeout " in line and SILENT_AGAIN in line for line in tries] == [True] * 3 + [
        False
    ], tries


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 101] Network is unreachable"),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=["our-network-down", "refused"],
)
def test_a_failed_request_at_the_end_says_nothing_of_the_silence(
    tmp_path: Path, failure: httpx.ConnectError
) -> None:
    """The request that asks the silent host again fails at once (our network gone at the
    end of the batch, the host refusing): no silence seen, so its held links keep their held
    verdict and their state, and say so ("not asked since (its host did not answer)")."""
    hung = set(PAGES[: politeness.SILENT_LINKS])

    async def web(request: httpx.Request) -> httpx.Response:
        if str(request.url) in hung:
            return await hang(request)
        if request.url.host == host_of(HOST):
            raise failure
        return httpx.Response(200, html=PAGE)

    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(PAGES)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        store.record_observations(
            engine, None, check(PAGES, silent_from(0, 1, Counter())), HEALTH, now=days(0)
        )
        observations = check(PAGES, web, at=1)
        store.record_observations(engine, None, observations, HEALTH, now=days(1))
        held = [o for o in observations if o.held]
        assert len(held) == len(PAGES) - politeness.SILENT_LINKS - 1, "one asked again"
        assert all(o.reason.endswith(HELD_REASON_END) for o in held)
        assert not any(SILENT_AGAIN in o.reason for o in observations)
        kept = {link.url: link.state for link in store.link_states(engine)}
        assert all(kept[o.url] == OK for o in held), kept
        context = build_context(report_data(engine), now=days(1.1))
        rid = f"r{PAGES.index(held[0].url)}"
        lines = history_lines(store.resource_history(engine, rid), now=days(1.1))
    assert f"{len(held)} OK when last checked, not asked since (its host did not answer)" in (
        context.headline
    ), context.headline
    assert any(
        line.startswith("  not sent:  the last try:")
        and line.endswith(
            ": its host had not answered its last links; the state is its last check's"
        )
        for line in lines
    ), lines


def test_our_network_down_all_batch_still_masks_the_links_timed_out(tmp_path: Path) -> None:
    """Every host of a batch silent (our network dropping every packet): each is held, then
    silent again at the end, and its links time out; the outage guard judges the batch
    offline as it did when each link was asked, and masks every one of them, which moves
    no link's state."""
    hosts = [f"https://site{h}.example" for h in range(outage.MIN_HOSTS)]
    urls = [f"{host}/page{i}" for host in hosts for i in range(6)]
    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(urls)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        store.record_observations(
            engine, None, check(urls, silent_from(0, 1, Counter())), HEALTH, now=days(0)
        )
        observations = check(urls, hang, at=1)
        assert any(SILENT_AGAIN in o.reason for o in observations), "held, then timed out"
        assert not any(o.held for o in observations)
        verdict = outage.judge(observations, HEALTH.outage_host_share)
        asked_each = [replace(o, reason="timed out") for o in observations]
        assert verdict == outage.judge(asked_each, HEALTH.outage_host_share)
        assert verdict.network_down, verdict
        masked = outage.mask(observations, verdict)
        assert {o.outcome for o in masked} == {Outcome.NETWORK_UNAVAILABLE}
        store.record_observations(engine, None, masked, HEALTH, now=days(1))
        links = store.link_states(engine)
    assert {(link.state, link.consecutive_failures) for link in links} == {(OK, 0)}


def test_a_host_dead_behind_one_path_is_asked_again_at_another() -> None:
    """/archive/ hangs (a backend that never answers), /docs/ is served; the batch asks the
    /archive/ links first, which hold the host. Asked again at a fourth /archive/ link, it
    was silent again and every /docs/ link held timed out: it is asked at the held link
    least like those that hung, answers, and its held links are checked."""
    archive = [f"{HOST}/archive/{i}" for i in range(politeness.SILENT_LINKS + 1)]
    docs = [f"{HOST}/docs/{i}" for i in range(10)]

    async def web(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/archive/"):
            return await hang(request)
        return httpx.Response(200, html=PAGE)

    heard: list[Observation] = []
    observations = check([*archive, *docs], web, heard=heard)
    assert sum(o.held for o in heard) == len(archive) + len(docs) - politeness.SILENT_LINKS
    assert not any(o.held for o in observations)
    outcomes = {o.url: o.outcome for o in observations}
    assert [outcomes[u] for u in archive] == [Outcome.TIMEOUT] * len(archive), outcomes
    assert [outcomes[u] for u in docs] == [Outcome.OK] * len(docs), outcomes


def test_a_host_back_a_minute_after_its_hold_has_its_held_links_checked() -> None:
    """A stall of a few minutes: the host answers again a minute after its hold. The batch
    has nothing else to do; asked again at once, the host was silent still and its held
    links timed out for a stall. The request waits until the hold is
    `SILENT_AGAIN_DEADLINES` old, and the host answers it."""
    stalled_until: list[float] = []

    async def web(request: httpx.Request) -> httpx.Response:
        now = asyncio.get_running_loop().time()
        if request.url.path == f"/guide{politeness.SILENT_LINKS - 1:02}" and not stalled_until:
            # The last link that holds it: held at its deadline; back a minute after that.
            stalled_until.append(now + SETTINGS.total_timeout + 60)
        if not stalled_until or now < stalled_until[0]:
            return await hang(request)
        return httpx.Response(200, html=PAGE)

    heard: list[Observation] = []
    observations = check(PAGES, web, heard=heard)
    assert sum(o.held for o in heard) == len(PAGES) - politeness.SILENT_LINKS
    outcomes = [o.outcome for o in observations]
    first = politeness.SILENT_LINKS
    assert outcomes == [Outcome.TIMEOUT] * first + [Outcome.OK] * (len(PAGES) - first), outcomes


def test_a_host_gate_keeps_no_check_of_a_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate of a host asked again keeps a token of the link that asked, not its
    check's progress: kept until the batch ends, that held the page read, one for each
    silent host of the batch."""
    gates: list[politeness.HostGate] = []
    gate = politeness.Politeness.gate

    def kept(self: politeness.Politeness, host: str) -> politeness.HostGate:
        made = gate(self, host)
        gates.append(made)
        return made

    monkeypatch.setattr(politeness.Politeness, "gate", kept)
    hung = set(PAGES[: politeness.SILENT_LINKS])

    async def web(request: httpx.Request) -> httpx.Response:
        if str(request.url) in hung:
            return await hang(request)
        return httpx.Response(200, html=PAGE * 1000)

    observations = check(PAGES, web)
    assert observations[-1].outcome is Outcome.OK  # asked again, answered, checked
    assert gates and not any(
        isinstance(value, Progress) for held in gates for value in vars(held).values()
    ), [vars(held) for held in set(gates)]


def silent_held_at(url: str, n: float) -> Observation:
    """A try of `url` on night `n` not sent: its host had answered none of its last links,
    and the run was stopped before it was asked again (the held verdict stored)."""
    return make_observation(
        url,
        Outcome.TIMEOUT,
        days(n),
        http_status=None,
        reason="HEAD not sent: host not answering: it answered none of the requests for its "
        f"last 3 links within their deadlines ({HOST}/a was one), {HELD_REASON_END}",
        held=True,
    )


@pytest.mark.parametrize(
    ("silent", "away", "said"),
    [
        (
            HISTORY_PER_RESOURCE,
            0,
            "The newest 30 tries, none of them a check (all not sent: their host had not "
            "answered its last links)",
        ),
        (
            1,
            HISTORY_PER_RESOURCE - 1,
            "The newest 30 tries, none of them a check (29 not sent: their host said it was "
            "away; 1 not sent: its host had not answered its last links)",
        ),
        (
            2,
            0,
            f"The newest {HISTORY_PER_RESOURCE - 2} checks (and 2 tries not sent: their host "
            "had not answered its last links)",
        ),
    ],
    ids=["silent", "both", "checks-and-silent"],
)
def test_a_capped_history_says_why_its_tries_were_not_sent(
    tmp_path: Path, silent: int, away: int, said: str
) -> None:
    """The note over a capped resource page's history said "not sent: their host said it
    was away" of tries held for their host's silence too (`held_why`)."""
    url = PAGES[0]
    kit = make_catalog("toolkit", [make_resource("r0", url)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        # Checks, some beyond the page, then the tries not sent.
        n = nights(engine, 0, HISTORY_PER_RESOURCE + 5 - silent - away, checked(url))
        n = nights(engine, n, away, lambda n: held_at(url, n))
        n = nights(engine, n, silent, lambda n: silent_held_at(url, n))
        shown = page(engine, tmp_path / "r", "r0", n)
    assert shown.older is not None
    assert shown.older.startswith(f"{said} and the changes"), shown.older
