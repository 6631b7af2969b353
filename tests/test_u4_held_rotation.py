"""A host held night after night has every one of its links asked in turn.

A site in maintenance (every path 503, Retry-After two hours) is asked twice a night:
the first path's 503 is its own, the second path's holds the host (`HostGate.strike`),
and its other links are "not sent". The links of a host went out in URL order every
night, so the same two were asked each night and their held siblings were never asked
again: nothing was learnt of them, and a dead host behind a 503 page never counted
against them. The plan now puts the links of a host whose last check is a night older
than the host's latest first (`store.targets_for_check`): over the nights every link of
a held host is asked, two a night. A host checked in full every night keeps URL order.
What a curator reads of a link held night after night (`linkhealth resource`, the report's
"Last checked") says so, and that it was its host, not our network.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from catalog import store
from catalog.check import check_targets
from catalog.decisions import history_lines
from catalog.health import OK
from catalog.model import Observation
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import html_rows
from reports.build import build_context
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    public_resolver,
    temporary_database,
)
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual

HOST = "https://agency.example"
PAGES = [f"{HOST}/guide{i:02}" for i in range(10)]
OTHER = [f"https://fine.example/doc{i}" for i in range(4)]
HEALTH = HealthSettings()
#: Links of a held host asked a night: a 503's, the path it first says so for and a second
#: one (`HostGate.strike`); a 429's, the first (it speaks for the host at once).
ASKED_A_NIGHT = {503: 2, 429: 1}


def web_for(
    night: int, away_from: int, asked: Counter[str], status: int = 503
) -> httpx.MockTransport:
    """Every page served before night `away_from`, then every path of HOST answers `status`
    "come back in two hours"; `asked` counts the URLs of HOST that were sent a request."""

    async def web(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith(HOST) and night >= away_from:
            asked[url] += 1
            return httpx.Response(status, text="Come back later", headers={"Retry-After": "7200"})
        return httpx.Response(200, html=PAGE)

    return httpx.MockTransport(web)


def nights(tmp_path: Path, away_from: int, count: int, status: int = 503) -> list[set[str]]:
    """Run `count` nights over HOST's pages and OTHER; the URLs of HOST asked each night."""
    kit = make_catalog(
        "toolkit", [make_resource(f"r{i}", u) for i, u in enumerate([*PAGES, *OTHER])]
    )
    asked_by_night: list[set[str]] = []
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(count):
            at = days(n)
            targets = store.targets_for_check(engine, now=at, fingerprint_max_age_days=7)
            asked: Counter[str] = Counter()
            obs = run_virtual(
                check_targets(
                    targets,
                    SETTINGS,
                    transport=web_for(n, away_from, asked, status),
                    resolver=public_resolver,
                    clock=lambda: at,  # noqa: B023 (run at once)
                )
            )
            held = {o.url for o in obs if o.held}
            assert held.isdisjoint(asked), "a held link sends nothing"
            # How the report tells a link held since its last check (`_HELD_OK`).
            assert all(o.reason.endswith(HELD_REASON_END) for o in obs if o.held)
            if n >= away_from:
                assert len(asked) == ASKED_A_NIGHT[status]
                assert len(held) == len(PAGES) - ASKED_A_NIGHT[status]
            asked_by_night.append(set(asked))
            store.record_observations(engine, None, obs, HEALTH, now=at)
    return asked_by_night


@pytest.mark.parametrize(
    ("away_from", "status"),
    [(1, 503), (0, 503), (1, 429)],
    ids=["checked-before", "away-from-the-first", "429"],
)
def test_every_link_of_a_host_held_every_night_is_asked_in_turn(
    tmp_path: Path, away_from: int, status: int
) -> None:
    """Held twelve nights: every page is asked within ceil(10 / 2) nights of the hold (ten,
    one a night, for a 429), and then again in turn (never the same ones every night),
    each as often as the others, give or take one."""
    count = 12
    turn = math.ceil(len(PAGES) / ASKED_A_NIGHT[status])
    asked = nights(tmp_path, away_from, away_from + count, status)[away_from:]
    first_turn = set().union(*asked[:turn])
    assert first_turn == set(PAGES), sorted(set(PAGES) - first_turn)
    times = Counter(url for night in asked for url in night)
    fewest = count * ASKED_A_NIGHT[status] // len(PAGES)
    assert set(times.values()) <= {fewest, fewest + 1}, times
    assert all(asked[n] != asked[n + 1] for n in range(len(asked) - 1))


def test_a_host_checked_every_night_keeps_url_order(tmp_path: Path) -> None:
    """A host never held: its targets stay in URL order night after night, even with one
    link rechecked by hand in the day (a later last check, less than a night apart)."""
    kit = make_catalog(
        "toolkit", [make_resource(f"r{i}", u) for i, u in enumerate([*OTHER, *PAGES])]
    )
    every = sorted([*OTHER, *PAGES])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(4):
            at = days(n)
            targets = store.targets_for_check(engine, now=at, fingerprint_max_age_days=7)
            assert [target.url for target in targets] == every
            obs = run_virtual(
                check_targets(
                    targets,
                    SETTINGS,
                    transport=web_for(n, 99, Counter()),
                    resolver=public_resolver,
                    clock=lambda: at,  # noqa: B023 (run at once)
                )
            )
            store.record_observations(engine, None, obs, HEALTH, now=at)
            recheck = [o for o in obs if o.url == PAGES[3]]
            later = days(n + 0.5)
            store.record_observations(
                engine, None, [replace(recheck[0], checked_at=later)], HEALTH, now=later
            )
        assert {s.state for s in store.link_states(engine)} == {OK}


def test_a_link_a_night_behind_its_host_goes_first_in_the_hosts_places(
    tmp_path: Path,
) -> None:
    """One link of a host last checked a night before the others: it alone moves, to the
    first of its host's places; the other host's links keep theirs."""
    kit = make_catalog(
        "toolkit", [make_resource(f"r{i}", u) for i, u in enumerate([*OTHER, *PAGES])]
    )
    late = PAGES[5]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(2):
            urls = [u for u in [*OTHER, *PAGES] if n == 0 or u != late]
            night = [make_observation(u, checked_at=days(n)) for u in urls]
            store.record_observations(engine, None, night, HEALTH, now=days(n))
        targets = store.targets_for_check(engine, now=days(2), fingerprint_max_age_days=7)
    order = [target.url for target in targets]
    assert order == [late, *(u for u in PAGES if u != late), *OTHER]


def test_links_tried_but_never_checked_go_first_after_new_ones(
    tmp_path: Path,
) -> None:
    """Our network down the first night: every link tried, none checked ("last tried"), so
    none is behind another and URL order stands. Then the host's first two checked and
    the rest held: the held ones (tried, never checked) go first, in URL order, after a
    link added since (never tried: it followed them, with the two checked, and was held
    its first night too: `test_held_new_link_turn`); the two checked keep URL order."""
    urls = PAGES[:6]
    added = f"{HOST}/guide00a"
    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(urls)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        offline = [make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(0)) for u in urls]
        store.record_observations(engine, None, offline, HEALTH, now=days(0))
        plan = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
        assert [target.url for target in plan] == urls
        night = [
            make_observation(u, Outcome.RATE_LIMITED, days(1), http_status=503, held=i >= 2)
            for i, u in enumerate(urls)
        ]
        store.record_observations(engine, None, night, HEALTH, now=days(1))
        more = make_catalog("toolkit", [*kit.resources, make_resource(f"r{len(urls)}", added)])
        sync_catalogs(engine, [more], now=days(1.05))
        plan = store.targets_for_check(engine, now=days(1.1), fingerprint_max_age_days=7)
    assert [target.url for target in plan] == [added, *urls[2:], urls[0], urls[1]]


def held_at(url: str, n: float) -> Observation:
    """A check of `url` on night `n` not sent: its host had said it was away."""
    return make_observation(
        url,
        Outcome.RATE_LIMITED,
        days(n),
        http_status=503,
        reason="HEAD not sent: host unavailable: it answered 503 to /a and to /b and said to "
        "retry after 2 hours (Retry-After), longer than the check can wait for one link, "
        f"{HELD_REASON_END}",
        held=True,
    )


def test_resource_says_how_many_checks_in_a_row_were_not_sent(tmp_path: Path) -> None:
    """`linkhealth resource` of a link held three nights after a check that worked: its
    state is that check's, and a line says the last three were not sent, since when, and
    why (before, only the reason spoke, of the last night alone). A link held at every try
    was "last tried ..., while our network was unavailable" there and in the report's
    "Last checked": it was its host."""
    kit = make_catalog("toolkit", [make_resource("a", PAGES[0]), make_resource("b", PAGES[1])])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        checked = make_observation(PAGES[0], checked_at=days(0))
        store.record_observations(engine, None, [checked], HEALTH, now=days(0))
        for n in (1, 2, 3):
            held = [held_at(PAGES[0], n), held_at(PAGES[1], n)]
            store.record_observations(engine, None, held, HEALTH, now=days(n))
        a = history_lines(store.resource_history(engine, "a"), now=days(3.1))
        short = history_lines(store.resource_history(engine, "a", limit=2), now=days(3.1))
        b = history_lines(store.resource_history(engine, "b"), now=days(3.1))
        rows = {
            r.resource_id: r for r in build_context(report_data(engine), now=days(3.1)).resources
        }
    assert f"  OK (last checked {days(0):%Y-%m-%d %H:%M})" in a, a
    assert (
        f"  not sent:  the last 3 tries, since {days(1):%Y-%m-%d %H:%M}: its host said it was"
        " away; the state is its last check's"
    ) in a, a
    assert any(line.startswith("  not sent:  at least the last 2 tries, since") for line in short)
    assert f"  never checked: last tried {days(3):%Y-%m-%d %H:%M}, while its host said it" in (
        "\n".join(b)
    ), b
    assert not any("network" in line for line in b), b
    # The report's resource page: "Last checked" of b says the same.
    assert rows["b"].tried_held and not rows["a"].tried_held
    last = LexborHTMLParser(f"<dl>{html_rows.facts(rows['b'], '../')}</dl>").text()
    assert "never (last tried" in last and "while its host said it was away" in last, last
    assert "network" not in last, last


def test_a_check_stamped_ahead_of_a_clock_since_set_back_is_asked_in_its_turn(
    tmp_path: Path,
) -> None:
    """A host held from the night its two asked links were stamped by a clock a year fast
    (then set right): those two read as its latest checks, so every other link was "a
    night behind" them and went first night after night, and the two were never asked
    again while the hold lasted. A stamp after the plan's `now` tells nothing of when the
    link was checked: the two are asked in their turn, as the rest are."""
    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(PAGES)])
    ahead = PAGES[:2]
    asked: set[str] = set()
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        checked = [make_observation(u, checked_at=days(0)) for u in PAGES]
        store.record_observations(engine, None, checked, HEALTH, now=days(0))
        plan = PAGES
        for n in range(1, 1 + math.ceil(len(PAGES) / 2) + 1):
            at = days(366) if n == 1 else days(n)  # the first night's clock a year fast
            night = [
                make_observation(u, Outcome.RATE_LIMITED, at, http_status=503) for u in plan[:2]
            ]
            night += [held_at(u, n) for u in plan[2:]]
            store.record_observations(engine, None, night, HEALTH, now=at)
            if n > 1:
                asked.update(plan[:2])
            targets = store.targets_for_check(engine, now=days(n + 1), fingerprint_max_age_days=7)
            plan = [target.url for target in targets]
    assert asked >= set(ahead), sorted(set(PAGES) - asked)


def test_the_headline_does_not_count_a_link_held_since_its_last_check_as_ok(
    tmp_path: Path,
) -> None:
    """A link that worked a week ago and whose host has been away since (held every night,
    its turn not come yet) was counted "OK" in the headline beside last night's OKs: a
    host of 200 links in maintenance asks two a night, so its others read "OK" for up to
    100 nights. The headline counts it apart, saying it was not asked since, and the OK
    total says "nothing to do" only of the rest."""
    kit = make_catalog("toolkit", [make_resource("a", PAGES[0]), make_resource("b", OTHER[0])])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        checked = [make_observation(u, checked_at=days(0)) for u in (PAGES[0], OTHER[0])]
        store.record_observations(engine, None, checked, HEALTH, now=days(0))
        for n in (1, 2, 3, 4):
            fine = make_observation(OTHER[0], checked_at=days(n))
            store.record_observations(
                engine, None, [held_at(PAGES[0], n), fine], HEALTH, now=days(n)
            )
        context = build_context(report_data(engine), now=days(4.1))
    assert context.headline == (
        "2 resources: 0 to fix, 1 OK, "
        "1 OK when last checked, not asked since (its host said it was away)."
    ), context.headline
    ok = next(total for total in context.totals if total.key == Outcome.OK.value)
    assert ok.count == 2
    assert ok.explanation == (
        "The link works. 1 of them was not asked since: its host said it was away (asked in "
        "turn); nothing to do for the rest."
    ), ok.explanation
