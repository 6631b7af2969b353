"""Hosts on our own network never witness that the Internet is up: with the Internet down,
a public link's failure is our outage, however well the intranet server answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from catalog import runs, store
from catalog.health import OK, UNCHECKED
from catalog.model import Observation
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

PUBLIC = [f"https://{h}.example/page" for h in "abcd"]
LOOPBACK = "http://127.0.0.1:8080/intranet"
#: A name that looks public but resolves into our own network.
NAS = "https://nas.example.org/files"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate([*PUBLIC, LOOPBACK, NAS])]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        yield engine


def answered_yesterday(engine: Engine, settings: Settings, *urls: str) -> None:
    """Every URL answered, the last one checked most recently (the first witness asked)."""
    for n, u in enumerate(urls):
        at = days(n / 10)
        store.record_observations(
            engine, None, [make_observation(u, checked_at=at)], settings.health, now=at
        )


async def internet_down(host: str, port: int) -> list[str]:
    """No public name resolves; the NAS's name does, in our own network."""
    if host == "nas.example.org":
        return ["10.0.0.5"]
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def only_our_network_answers(asked: list[str]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        if request.url.host in ("127.0.0.1", "nas.example.org"):
            return httpx.Response(200, text="<title>Intranet</title>")
        raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)

    return httpx.MockTransport(answer)


def offline_settings(engine: Engine) -> Settings:
    check = CheckSettings(
        max_attempts=1, total_timeout=5, private_allowlist=("127.0.0.1", "10.0.0.0/8")
    )
    return replace(settings_for(engine), check=check)


def dns_failure(u: str) -> Observation:
    return make_observation(u, Outcome.DNS_ERROR, days(1), http_status=None)


def link_of(engine: Engine, u: str) -> store.LinkStateRecord:
    (found,) = [s for s in store.link_states(engine) if s.url == u]
    return found


@pytest.mark.parametrize("intranet", [LOOPBACK, NAS])
def test_a_recheck_offline_is_not_witnessed_by_a_host_on_our_own_network(
    engine: Engine, intranet: str
) -> None:
    """The intranet host answered last, so it was the first witness asked; it answered
    again, and the public link's DNS failure counted against its site."""
    settings = offline_settings(engine)
    answered_yesterday(engine, settings, *PUBLIC, intranet)
    asked: list[str] = []
    run_id = store.start_run(engine, trigger="manual", now=days(1))

    stored = runs.store_batch(
        settings,
        run_id,
        [dns_failure(PUBLIC[0])],
        clock=Ticker(days(1)),
        transport=only_our_network_answers(asked),
        resolver=internet_down,
    )

    assert stored.network_down
    assert asked == []  # no public witness resolved; the intranet hosts were not fetched
    state = link_of(engine, PUBLIC[0])
    assert (state.state, state.consecutive_failures, state.outcome) == (OK, 0, Outcome.OK)
    (latest, *_) = store.resource_history(engine, "r0").observations
    assert latest.outcome is Outcome.NETWORK_UNAVAILABLE
    assert "127.0.0.1" not in latest.reason and "nas.example.org" not in latest.reason
    # 127.0.0.1 took no witness's place; the NAS, known to be ours only once its name was
    # looked up, was heard as no witness at all.
    heard = (
        ["b.example", "c.example", "d.example"]
        if intranet == LOOPBACK
        else ["c.example", "d.example"]
    )
    assert f"nor could {len(heard)} other host(s)" in latest.reason
    assert all(host in latest.reason for host in heard)


@pytest.mark.parametrize(
    "ours",
    [
        LOOPBACK,
        # This machine as the check's own address rule reads it (`safety.refused_as_written`),
        # allowed here: an answer from them proved the Internet up as a public host's did.
        "http://0x7f.1:8080/intranet",
        "http://localhost.localdomain:8080/intranet",
    ],
)
def test_a_batch_whose_only_answer_came_from_our_own_network_is_our_outage(
    tmp_path: Path, ours: str
) -> None:
    """A night's batch: a dozen public hosts unreachable, the intranet page on 127.0.0.1
    answering. That answer proved our network up, and every public link failed."""
    public = [f"https://site{n}.example/" for n in range(12)]
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate([*public, ours])]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        settings = offline_settings(engine)
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        batch = [*(dns_failure(u) for u in public), make_observation(ours, checked_at=days(1))]

        stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(1)))

        assert stored.network_down
        assert stored.counts == {"network_unavailable": 12, "ok": 1}
        for u in public:
            state = link_of(engine, u)
            assert (state.state, state.consecutive_failures) == (UNCHECKED, 0)
        assert link_of(engine, ours).state == OK


def test_a_batch_of_public_hosts_that_answer_is_no_outage_beside_an_intranet_host(
    tmp_path: Path,
) -> None:
    """Leaving our own network's hosts out of the judgement leaves the public ones to it:
    one that answered still shows the failing ones are the sites'."""
    public = [f"https://site{n}.example/" for n in range(12)]
    entries = [make_resource(f"r{n}", url=u) for n, u in enumerate([*public, LOOPBACK])]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        settings = offline_settings(engine)
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        batch = [
            *(dns_failure(u) for u in public[1:]),
            make_observation(public[0], checked_at=days(1)),
            make_observation(LOOPBACK, Outcome.CONNECTION_REFUSED, days(1), http_status=None),
        ]

        stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(1)))

        assert not stored.network_down
        assert link_of(engine, public[1]).consecutive_failures == 1
        assert link_of(engine, LOOPBACK).consecutive_failures == 1
