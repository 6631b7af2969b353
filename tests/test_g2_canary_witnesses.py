"""A catalog of two hosts, both unreachable: with `canary_urls` set, the canaries are the
witnesses. Its two lapsed domains passed for our network being down every night, canaries
answering or not, so their links were never confirmed broken."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from catalog import runs, store
from catalog.health import SUSPECT, UNCHECKED
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    public_resolver,
    settings_for,
    temporary_database,
)

URLS = ("https://lapsed-one.example/guide", "https://lapsed-two.example/")
CANARY = "https://canary.example/"


@pytest.mark.parametrize("network_works", [True, False])
def test_two_unreachable_hosts_ask_the_canaries(tmp_path: Path, network_works: bool) -> None:
    kit = make_catalog("kit", [make_resource(f"r{i}", url=u) for i, u in enumerate(URLS)])
    asked: list[str] = []

    def canary(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if not network_works:
            raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)
        return httpx.Response(200)

    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=T0)
        settings = settings_for(engine, canary_urls=(CANARY,))
        settings = replace(settings, check=CheckSettings(max_attempts=1, total_timeout=5))
        run_id = store.start_run(engine, trigger="manual", now=days(1))
        failing = [make_observation(u, Outcome.DNS_ERROR, days(1), http_status=None) for u in URLS]
        stored = runs.store_batch(
            settings,
            run_id,
            failing,
            clock=Ticker(days(1)),
            transport=httpx.MockTransport(canary),
            resolver=public_resolver,
        )

        assert set(asked) == {CANARY}  # no other host of the catalog to ask
        assert stored.network_down is not network_works
        # Failing, to be confirmed; or nothing learned of them while our network was down.
        states = {s.url: (s.state, s.consecutive_failures) for s in store.link_states(engine)}
        assert {states[u] for u in URLS} == {(SUSPECT, 1) if network_works else (UNCHECKED, 0)}
