"""Witnesses refused for resolving into our own network are passed over, not the last word.

Intranet names (`nas0.corp.example.org`) count as public by name unless the operator
allow-listed the name itself; a CIDR such as 10.0.0.0/8 does not exclude them. Three of them
that answered last were the three witnesses asked for two lapsed domains; each was refused
(it resolves to 10.0.0.5), nothing was heard, and the two unreachable hosts passed for our
network being down every night, the catalog's public hosts and the canaries never asked."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from catalog import runs, store
from catalog.check.safety import Resolver
from catalog.health import OK, SUSPECT, UNCHECKED
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, Settings
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)

LAPSED = ("https://lapsed-a.example/guide", "https://lapsed-b.example/")
NAS = tuple(f"https://nas{n}.corp.example.org/files" for n in range(3))
SITES = tuple(f"https://site-{c}.example/page" for c in "abc")
CANARY = "https://canary.example/"
LOOPBACK = "http://127.0.0.1:8080/intranet"

#: The operator's two ways of letting the checker reach the intranet: neither names a host.
INTRANET_ALLOWED = {
    "cidr": CheckSettings(max_attempts=1, total_timeout=5, private_allowlist=("10.0.0.0/8",)),
    "allow_private": CheckSettings(max_attempts=1, total_timeout=5, allow_private=True),
}


def resolver(internet: bool) -> Resolver:
    """The intranet's names resolve into 10.0.0.0/8 (our own DNS answers them even with the
    Internet down); the lapsed domains never resolve; other names are public when up."""

    async def resolve(host: str, port: int) -> list[str]:
        if host.endswith(".corp.example.org"):
            return ["10.0.0.5"]
        if internet and not host.startswith("lapsed-"):
            return ["93.184.216.34"]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolve


def transport(asked: list[str], internet: bool) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        host = request.url.host
        if host.endswith(".corp.example.org") or host == "127.0.0.1":
            return httpx.Response(200, text="<title>Intranet</title>")
        if internet and not host.startswith("lapsed-"):
            return httpx.Response(200, text="<title>Up</title>")
        raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)

    return httpx.MockTransport(answer)


def catalog_of(engine: Engine, urls: Sequence[str]) -> None:
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate(urls)]
    sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)


def answered_yesterday(engine: Engine, settings: Settings, *urls: str) -> None:
    """Every URL answered, the last one checked most recently (the first witness picked)."""
    for n, u in enumerate(urls):
        at = days(n / 10)
        store.record_observations(
            engine, None, [make_observation(u, checked_at=at)], settings.health, now=at
        )


def lapsed_tonight(
    engine: Engine, settings: Settings, asked: list[str], *, internet: bool = True
) -> runs.BatchStored:
    """The two lapsed domains fail at DNS in a batch of their own (a recheck, or a night's
    batch of a catalog whose other hosts are checked in other batches)."""
    run_id = store.start_run(engine, trigger="manual", now=days(1))
    failing = [make_observation(u, Outcome.DNS_ERROR, days(1), http_status=None) for u in LAPSED]
    return runs.store_batch(
        settings,
        run_id,
        failing,
        clock=Ticker(days(1)),
        transport=transport(asked, internet),
        resolver=resolver(internet),
    )


def lapsed_states(engine: Engine) -> set[tuple[str, int]]:
    states = {s.url: (s.state, s.consecutive_failures) for s in store.link_states(engine)}
    return {states[u] for u in LAPSED}


@pytest.mark.parametrize("intranet", INTRANET_ALLOWED)
def test_public_hosts_are_asked_past_the_intranet_ones_refused(
    tmp_path: Path, intranet: str
) -> None:
    """The reproduction: three intranet hosts answered last, the public sites before them."""
    with temporary_database(tmp_path) as engine:
        catalog_of(engine, [*LAPSED, *NAS, *SITES])
        settings = replace(settings_for(engine), check=INTRANET_ALLOWED[intranet])
        answered_yesterday(engine, settings, *SITES, *NAS)
        asked: list[str] = []

        stored = lapsed_tonight(engine, settings, asked)

        assert not stored.network_down
        assert lapsed_states(engine) == {(SUSPECT, 1)}  # the sites' failures, to be confirmed
        # The intranet hosts were refused before any request; the three public ones answered.
        assert sorted(asked) == ["site-a.example", "site-b.example", "site-c.example"]


def test_public_witnesses_that_cannot_be_reached_past_the_intranet_ones_are_our_outage(
    tmp_path: Path,
) -> None:
    """The same catalog with the Internet down: the public witnesses are heard failing, so
    nothing is learned about the lapsed links, and the sentence names them, not the NAS."""
    with temporary_database(tmp_path) as engine:
        catalog_of(engine, [*LAPSED, *NAS, *SITES])
        settings = replace(settings_for(engine), check=INTRANET_ALLOWED["cidr"])
        answered_yesterday(engine, settings, *SITES, *NAS)

        stored = lapsed_tonight(engine, settings, [], internet=False)

        assert stored.network_down
        assert lapsed_states(engine) == {(UNCHECKED, 0)}
        (latest, *_) = store.resource_history(engine, "r0").observations
        assert latest.outcome is Outcome.NETWORK_UNAVAILABLE
        assert "nor could 3 other host(s)" in latest.reason
        assert "site-a.example" in latest.reason and "nas0" not in latest.reason


@pytest.mark.parametrize("internet", [True, False])
def test_the_canaries_are_asked_when_every_witness_was_refused(
    tmp_path: Path, internet: bool
) -> None:
    """No public host of the catalog to ask past the intranet ones: the canaries decide."""
    with temporary_database(tmp_path) as engine:
        catalog_of(engine, [*LAPSED, *NAS])
        settings = settings_for(engine, canary_urls=(CANARY,))
        settings = replace(settings, check=INTRANET_ALLOWED["cidr"])
        answered_yesterday(engine, settings, *NAS)
        asked: list[str] = []

        stored = lapsed_tonight(engine, settings, asked, internet=internet)

        assert asked == (["canary.example"] if internet else [])  # no DNS, no request
        assert stored.network_down is not internet
        assert lapsed_states(engine) == {(SUSPECT, 1) if internet else (UNCHECKED, 0)}


def test_hosts_that_never_answered_are_asked_when_every_witness_was_refused(
    tmp_path: Path,
) -> None:
    """No canary either: the catalog's other public hosts, though none has answered yet
    (added since the last run), are still witnesses before concluding nothing was heard."""
    with temporary_database(tmp_path) as engine:
        catalog_of(engine, [*LAPSED, *NAS, *SITES])
        settings = replace(settings_for(engine), check=INTRANET_ALLOWED["cidr"])
        answered_yesterday(engine, settings, *NAS)
        asked: list[str] = []

        stored = lapsed_tonight(engine, settings, asked)

        assert not stored.network_down
        assert lapsed_states(engine) == {(SUSPECT, 1)}
        assert sorted(asked) == ["site-a.example", "site-b.example", "site-c.example"]


def test_public_witnesses_heard_blame_the_sites_as_before(tmp_path: Path) -> None:
    """A catalog with no intranet host: three public witnesses asked, no more, the lapsed
    domains' failures are theirs."""
    with temporary_database(tmp_path) as engine:
        more = [f"https://site-{c}.example/page" for c in "defg"]
        catalog_of(engine, [*LAPSED, *SITES, *more])
        settings = settings_for(engine, canary_urls=(CANARY,))
        settings = replace(settings, check=INTRANET_ALLOWED["cidr"])
        answered_yesterday(engine, settings, *more, *SITES)
        asked: list[str] = []

        stored = lapsed_tonight(engine, settings, asked)

        assert not stored.network_down
        assert lapsed_states(engine) == {(SUSPECT, 1)}
        assert sorted(asked) == ["site-a.example", "site-b.example", "site-c.example"]


@pytest.mark.parametrize("lapsed", [1, 2])
def test_no_public_host_and_no_canary_is_as_before(tmp_path: Path, lapsed: int) -> None:
    """The catalog's other hosts are all our own (one by address, the others resolving into
    10.0.0.0/8) and no canary is set: nothing is heard, and two unreachable hosts judge
    themselves our outage, one alone does not, as before."""
    with temporary_database(tmp_path) as engine:
        catalog_of(engine, [*LAPSED[:lapsed], *NAS, LOOPBACK])
        check = replace(INTRANET_ALLOWED["cidr"], private_allowlist=("127.0.0.1", "10.0.0.0/8"))
        settings = replace(settings_for(engine), check=check)
        answered_yesterday(engine, settings, *NAS, LOOPBACK)
        asked: list[str] = []
        run_id = store.start_run(engine, trigger="manual", now=days(1))
        failing = [
            make_observation(u, Outcome.DNS_ERROR, days(1), http_status=None)
            for u in LAPSED[:lapsed]
        ]

        stored = runs.store_batch(
            settings,
            run_id,
            failing,
            clock=Ticker(days(1)),
            transport=transport(asked, True),
            resolver=resolver(True),
        )

        assert asked == []  # none fetched: no request reaches our own network as a witness
        assert stored.network_down is (lapsed == 2)
        states = {s.url: (s.state, s.consecutive_failures) for s in store.link_states(engine)}
        expected = (UNCHECKED, 0) if lapsed == 2 else (SUSPECT, 1)
        assert {states[u] for u in LAPSED[:lapsed]} == {expected}
        assert states[NAS[0]][0] == OK
