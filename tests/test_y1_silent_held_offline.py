"""A try held for its host's silence in a batch stored as our network's: no try not sent.

A host that answers none of its last links is held (`HostGate.unanswered_link`): its other
links' tries are not sent, `timeout` with `held` set. A batch our network was down for
(`outage.mask`), or a run stopped before it could tell (`runs._unknown`: the batch of a
silent host alone, when the run is stopped before its end asks the host again), stores its
network failures as `network_unavailable`, those held tries with them. They kept `held`:
`linkhealth resource` read the row "not sent" and said "not sent: the last try: its host
had not answered its last links" where the report, the export and `resource --json` count
no try not sent (`links.held_tries`: a try that found our network down neither counts nor
ends the count), and the resource page listed it "Not sent" beside a "Last checked" that
said nothing of it. The try found our network down, as its asked siblings' did.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import Engine

from catalog import runs, store
from catalog.model import Observation
from catalog.outcomes import HELD_REASON_END, SILENT_HOLD, Outcome
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
from tests.test_held_history_pages import page
from tests.test_held_tries_kept import told

HOST = "https://agency.example"
#: Resource id -> its address: three links asked (they hung), the rest held.
URLS = {rid: f"{HOST}/{rid}" for rid in ("a", "b", "c")}
ASKED = ("a", "b")
HELD = "c"
#: Public hosts unreachable beside it: enough for a batch to be judged offline on its own.
OTHERS = [f"https://site{n}.example/" for n in range(12)]


def silent_held(url: str, n: float) -> Observation:
    """A try of `url` on night `n` not sent: its host had answered none of its last links."""
    return make_observation(
        url,
        Outcome.TIMEOUT,
        days(n),
        http_status=None,
        reason=f"HEAD not sent: {SILENT_HOLD} it answered none of the requests for its last "
        f"3 links within their deadlines ({HOST}/a was one), {HELD_REASON_END}",
        held=True,
    )


def hung(url: str, n: float) -> Observation:
    return make_observation(url, Outcome.TIMEOUT, days(n), http_status=None)


def worked_yesterday(engine: Engine, settings: Settings, urls: list[str]) -> None:
    store.record_observations(
        engine,
        None,
        [make_observation(u, checked_at=days(0)) for u in urls],
        settings.health,
        now=days(0),
    )


def said_alike(engine: Engine, tmp_path: Path) -> None:
    """The held link's try is our network's, as its asked siblings' are, wherever it is read."""
    history = store.resource_history(engine, HELD)
    latest = history.observations[0]
    assert latest.outcome is Outcome.NETWORK_UNAVAILABLE, latest
    assert not latest.held, "a try that found our network down is no try not sent"
    # The report's row, the export, `linkhealth resource`: no try not sent since its check.
    assert told(engine, days(1.1))[HELD] == (0, 0, 0)
    shown = page(engine, tmp_path / "r", HELD, 1.1)
    assert shown.checks[0][0] != "Not sent", shown.checks
    assert "not sent" not in shown.facts["Last checked"], shown.facts


def test_a_stopped_run_stores_a_silent_hosts_held_try_as_its_asked_links_tries(
    tmp_path: Path,
) -> None:
    """The run stopped after the silent host was held, before its end asked it again: its
    batch (that host alone) cannot tell our network from the site's, and its network
    failures are stored as our network's, the held try among them."""
    kit = make_catalog("toolkit", [make_resource(rid, u) for rid, u in URLS.items()])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=T0)
        settings = settings_for(engine)
        worked_yesterday(engine, settings, list(URLS.values()))
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        batch = [*(hung(URLS[rid], 1) for rid in ASKED), silent_held(URLS[HELD], 1)]

        stored = runs.store_unfinished(settings, run_id, [batch], clock=Ticker(days(1)))

        assert stored.stored == len(batch)
        asked = store.resource_history(engine, ASKED[0]).observations[0]
        assert asked.outcome is Outcome.NETWORK_UNAVAILABLE  # as before
        said_alike(engine, tmp_path)


async def internet_down(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def test_a_batch_our_network_was_down_for_masks_a_silent_hosts_held_try(
    tmp_path: Path,
) -> None:
    """A night's batch: a dozen public hosts unreachable, and the silent host's links hung
    or held. The batch is judged offline: every network failure is our network's."""
    entries = [make_resource(rid, u) for rid, u in URLS.items()]
    entries += [make_resource(f"o{n}", u) for n, u in enumerate(OTHERS)]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=T0)
        settings = replace(settings_for(engine), check=CheckSettings(max_attempts=1))
        worked_yesterday(engine, settings, list(URLS.values()))
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        unreachable = [
            make_observation(u, Outcome.DNS_ERROR, days(1), http_status=None) for u in OTHERS
        ]
        batch = [
            *unreachable,
            *(hung(URLS[rid], 1) for rid in ASKED),
            silent_held(URLS[HELD], 1),
        ]

        stored = runs.store_batch(
            settings,
            run_id,
            batch,
            clock=Ticker(days(1)),
            transport=httpx.MockTransport(lambda r: httpx.Response(500)),
            resolver=internet_down,
        )

        assert stored.network_down
        assert stored.counts == {"network_unavailable": len(batch)}
        said_alike(engine, tmp_path)
