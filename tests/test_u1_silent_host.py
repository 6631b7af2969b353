"""A host that takes connections and never answers is asked a few links, then held.

A WAF's tarpit or a dead backend behind a live load balancer cost each of its links a
HEAD's `read_timeout` and a GET's whole deadline, two at a time: 1,000 links held the night
for hours, every one `timeout` all the same. Once `SILENT_LINKS` links in a row have had no
answer at all (`HostGate.unanswered_link`), its other links send nothing for a pause and
read `timeout`, not sent (`Observation.held`: no check of the link, asked first the next
night). Any answer's head ends the hold: a host answering some links, or trickling a begun
answer, is never held, and one that answers after the pause is checked as ever.

Real sockets on 127.0.0.1 (`tests.fixture_web`, hosts named by a resolver) with timeouts of
a second or so; the nights run on a virtual clock (`test_maintenance_host.VirtualLoop`).
The tests count the requests the server saw, never the time taken.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from catalog import outage, store
from catalog.check import check_targets, politeness
from catalog.decisions import history_lines
from catalog.model import Observation, Target
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.queries import report_data
from catalog.settings import CheckSettings, HealthSettings, HostPolicy
from catalog.sync import sync_catalogs
from catalog.urls import host_of
from reports.build import build_context
from tests import fixture_web as fixture
from tests.factories import days, make_catalog, make_resource, public_resolver, temporary_database
from tests.fixture_web import FixtureWeb, fixture_web, fresh_web  # noqa: F401 - fixtures
from tests.test_maintenance_host import PAGE, run_virtual
from tests.test_maintenance_host import SETTINGS as VIRTUAL_SETTINGS

#: Their time is a real clock's (sockets, deadlines): grouped as `waits` (tests/conftest.py).
pytestmark = pytest.mark.waits

SILENT_HOST = "silent.test"
LINKS_HOST = "links.test"
SETTINGS = replace(
    CheckSettings(),
    allow_private=True,
    total_timeout=1.5,
    read_timeout=0.4,
    connect_timeout=0.5,
    backoff_initial=0.01,
    backoff_max=0.05,
    per_host_rate=200.0,
    soft404_probe=False,
    contact="links@fixture.example",
)
HEALTH = HealthSettings()
#: Links of a silent host asked, at most: before the hold, the `SILENT_LINKS`th ends with
#: the others open at once still out (`per_host_concurrency`); and one asked again once the
#: other links are done (`checker._Run.ask_silent_again`).
ASKED_AT_MOST = politeness.SILENT_LINKS + SETTINGS.per_host_concurrency - 1 + 1


async def loopback(host: str, port: int) -> list[str]:
    """Every host name of these tests at the fixture server."""
    return [fixture.HOST]


def run(
    urls: list[str],
    settings: CheckSettings = SETTINGS,
    *,
    fingerprint_due: bool = False,
    on_result: Callable[[Observation], None] | None = None,
) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), fingerprint_due=fingerprint_due) for u in urls]
    return asyncio.run(check_targets(targets, settings, resolver=loopback, on_result=on_result))


def target_of(url: str) -> str:
    """The request target a check of `url` sends (path and query)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def asked(web: FixtureWeb) -> set[str]:
    return {target for _, target in web.requests()}


@pytest.fixture
def no_reask(monkeypatch: pytest.MonkeyPatch) -> None:
    """A silent hold's pause longer than any test here: no link asks again meanwhile."""
    monkeypatch.setattr(politeness, "SILENT_PAUSE_DEADLINES", 1000.0)


@pytest.mark.usefixtures("no_reask")
def test_a_host_that_never_answers_is_asked_a_few_links_then_held(web: FixtureWeb) -> None:
    """The held verdicts as `on_result` heard them (what a run stopped before the end
    stores); silent again at the end, the run's own are checks (`test_w1_silent_host_final`)."""
    urls = [web.url(f"/never-answers?n={i}", host=SILENT_HOST) for i in range(20)]
    heard: list[Observation] = []
    observations = run(urls, on_result=heard.append)
    sent = asked(web)
    # Without the hold every link was asked, HEAD and GET: 40 requests, 10 deadlines.
    assert politeness.SILENT_LINKS <= len(sent) <= ASKED_AT_MOST, sorted(sent)
    assert len(web.requests()) <= 3 * ASKED_AT_MOST, web.requests()
    assert [o.outcome for o in observations] == [Outcome.TIMEOUT] * len(urls)
    assert [o.outcome for o in heard] == [Outcome.TIMEOUT] * len(urls)
    held = [o for o in heard if o.held]
    # A held link sends nothing; one of them is asked again once the others are done.
    assert len({target_of(o.url) for o in held} & sent) == 1
    assert len(held) == len(urls) - len(sent) + 1
    assert not any(o.held for o in observations), "silent again at the end: checks"
    for obs in heard:
        if not obs.held:  # asked: its own timeout, a check that counts as any other
            assert target_of(obs.url) in sent and "not sent" not in obs.reason, obs.reason
            continue
        assert obs.reason.startswith(
            "HEAD not sent: host not answering: it answered none of the requests for its "
            f"last {politeness.SILENT_LINKS} links within their deadlines ("
        ), obs.reason
        assert obs.reason.endswith(HELD_REASON_END), obs.reason
        named = obs.reason.split("(", 1)[1].split(" was one")[0]
        assert target_of(named) in sent, obs.reason
        assert obs.http_status is None, "no answer: it must not look like a host that answered"


@pytest.mark.usefixtures("no_reask")
def test_a_silent_hold_leaves_the_outage_guard_as_it_was(web: FixtureWeb) -> None:
    """Held links read as their asked siblings do, a network failure with no status: the
    guard's verdict on the batch is the one it gave when each link timed out, and our
    network down masks them alike."""
    urls = [web.url(f"/never-answers?n={i}", host=SILENT_HOST) for i in range(8)]
    heard: list[Observation] = []
    observations = run(urls, on_result=heard.append)
    assert any(o.held for o in heard)
    # As heard (a run stopped before the end stores them so), and as the run ends.
    for judged in (heard, observations):
        every_one_asked = [replace(o, held=False) for o in judged]
        share = HEALTH.outage_host_share
        verdict = outage.judge(judged, share)
        assert verdict == outage.judge(every_one_asked, share)
        assert not verdict.answered and verdict.hosts_unreachable == verdict.hosts == 1
        masked = outage.mask(judged, replace(verdict, network_down=True))
        assert {o.outcome for o in masked} == {Outcome.NETWORK_UNAVAILABLE}


@pytest.mark.usefixtures("no_reask")
def test_a_host_answering_one_link_between_silent_ones_is_never_held(web: FixtureWeb) -> None:
    """Two links that hang, one served, over and over: a host slow on some paths. Each
    page it serves ends the row, so every link is asked."""
    paths = [
        path
        for i in range(3)
        for path in (f"/never-answers?n={2 * i}", f"/never-answers?n={2 * i + 1}", f"/ok?n={i}")
    ]
    observations = run([web.url(p, host=SILENT_HOST) for p in paths])
    assert asked(web) == set(paths)
    assert not any(o.held for o in observations)
    assert [o.outcome for o in observations] == [Outcome.TIMEOUT, Outcome.TIMEOUT, Outcome.OK] * 3


@pytest.mark.usefixtures("no_reask")
def test_a_host_trickling_its_answers_is_never_held(web: FixtureWeb) -> None:
    """Every page begun at once, then a byte now and then: slow, not silent. Each link is
    a timeout of its own, and every one is asked."""
    paths = [f"/trickle?n={i}" for i in range(5)]
    settings = replace(SETTINGS, total_timeout=1.0)
    observations = run(
        [web.url(p, host=SILENT_HOST) for p in paths], settings, fingerprint_due=True
    )
    assert asked(web) == set(paths)
    assert not any(o.held for o in observations)
    assert [o.outcome for o in observations] == [Outcome.TIMEOUT] * len(paths)


async def _go(x: fixture.Exchange) -> bool:
    """/go/N: a redirect to the silent host's link N, which hangs for the first three and
    is served after (a host back after a restart)."""
    n = int(x.request.path.rsplit("/", 1)[1])
    path = "/never-answers" if n < politeness.SILENT_LINKS else "/ok"
    return await x.redirect(302, f"http://{SILENT_HOST}:{x.server.port}{path}?n={n}")


def test_a_host_that_answers_after_the_pause_is_checked_as_ever(
    web: FixtureWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Links of a redirector (one at a time, four a second) into a silent host: three hang,
    the host is held, the links after them are not sent; once the pause has passed the
    next one asks again, is answered, and every link after it is checked as ever. The links
    held meanwhile are checked once the hold is old enough (`checker._Run._ask_early`):
    the host answered since. `on_result` heard their held verdicts."""
    monkeypatch.setitem(fixture.PREFIX_ROUTES, "/go/", _go)
    monkeypatch.setattr(politeness, "SILENT_PAUSE_DEADLINES", 1.0)  # 1 s, a deadline
    settings = replace(
        SETTINGS,
        total_timeout=1.0,
        hosts={LINKS_HOST: HostPolicy(per_host_concurrency=1, per_host_rate=4.0)},
    )
    urls = [web.url(f"/go/{n}", host=LINKS_HOST) for n in range(14)]
    heard: list[Observation] = []
    observations = run(urls, settings, on_result=heard.append)

    def kind(obs: Observation) -> str:
        if obs.held:
            assert obs.outcome is Outcome.TIMEOUT and "host not answering" in obs.reason
            return "held"
        return "ok" if obs.outcome is Outcome.OK else obs.outcome.value

    assert sorted(o.url for o in heard) == sorted(urls), "each URL heard once"
    kinds = [kind(o) for o in sorted(heard, key=lambda o: urls.index(o.url))]
    first, rest = kinds[: politeness.SILENT_LINKS], kinds[politeness.SILENT_LINKS :]
    assert first == ["timeout"] * politeness.SILENT_LINKS, kinds
    assert "ok" in rest, kinds
    back = rest.index("ok")
    assert back >= 1 and rest == ["held"] * back + ["ok"] * (len(rest) - back), kinds
    final = [kind(o) for o in observations]
    assert final == first + ["ok"] * len(rest), final
    sent = [
        parse_qs(urlsplit(t).query)["n"][0] for _, t in web.requests() if not t.startswith("/go/")
    ]
    held = {str(n) for n, k in enumerate(kinds) if k == "held"}
    assert set(sent) == {str(n) for n in range(len(urls))}
    # A held link sent nothing while it was held: it was asked once its host had answered
    # again (its batch no longer waits for every other link: `checker._Run._ask_early`).
    answered = sent.index(str(politeness.SILENT_LINKS + back))
    assert all(i > answered for i, n in enumerate(sent) if n in held), sent


# --- night after night ----------------------------------------------------------------------

HOST = "https://agency.example"
PAGES = [f"{HOST}/guide{i:02}" for i in range(13)]
OTHER = "https://fine.example/doc"
#: Links of the silent host asked a night (one at a time: `VIRTUAL_SETTINGS`), and the one
#: asked again once the night's other links are done (`checker._Run.ask_silent_again`).
ASKED_A_NIGHT = politeness.SILENT_LINKS + 1


def silent_from(night: int, from_night: int, asked: Counter[str]) -> httpx.MockTransport:
    """Every page served before night `from_night`, then HOST never answers (the link's
    deadline ends each request); `asked` counts the URLs of HOST sent a request."""

    async def web(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith(HOST) and night >= from_night:
            asked[url] += 1
            await asyncio.sleep(3600)
        return httpx.Response(200, html=PAGE)

    return httpx.MockTransport(web)


def test_a_host_silent_night_after_night_has_its_links_time_out_each_night(
    tmp_path: Path,
) -> None:
    """A few links asked a night hold it, and one asked again once the night's other links
    are done; silent to that too, every link it held is a `timeout` that counts, as each
    asked one is: none is held (it kept its state, and a dead site's links read "OK when
    last checked, not asked since" for months), and the night costs a few deadlines.
    (A link held with its host's state kept, its batch stopped before the end or the host
    asked again failing otherwise: `test_w1_silent_host_final`.)"""
    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(PAGES)])
    fine = make_catalog("other", [make_resource("fine", OTHER)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit, fine], now=days(0))
        for n in range(4):
            at = days(n)
            targets = store.targets_for_check(engine, now=at, fingerprint_max_age_days=7)
            asked: Counter[str] = Counter()
            observations: list[Observation] = run_virtual(
                check_targets(
                    targets,
                    VIRTUAL_SETTINGS,
                    transport=silent_from(n, 1, asked),
                    resolver=public_resolver,
                    clock=lambda: at,  # noqa: B023 (run at once)
                )
            )
            assert not any(o.held for o in observations), [o.reason for o in observations]
            if n >= 1:
                assert len(asked) == ASKED_A_NIGHT, asked
                for obs in observations:
                    if obs.url.startswith(HOST):
                        assert (obs.outcome, obs.held) == (Outcome.TIMEOUT, False), obs.reason
            store.record_observations(engine, None, observations, HEALTH, now=at)
        context = build_context(report_data(engine), now=days(3.1))
        waiting = next(u for u in PAGES if u not in asked)  # held: never asked
        lines = history_lines(
            store.resource_history(engine, f"r{PAGES.index(waiting)}"), now=days(3.1)
        )
    assert "not asked since" not in context.headline, context.headline
    assert not any(line.startswith("  not sent:") for line in lines), lines
