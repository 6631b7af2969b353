"""Held tries (`Observation.held`: not sent, the host had said it was away) as the report's
JSON, the export and `linkhealth resource` count them, after what a database goes through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from catalog import store
from catalog.decisions import history_lines
from catalog.export import export_rows
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.retention import prune_observations
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context, html_rows, render_json
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database
from tests.test_u4_held_rotation import held_at

HEALTH = HealthSettings()
HELD = "https://agency.example/held"
ASKED = "https://agency.example/asked"
KIT_URLS = (HELD, ASKED)
KIT = make_catalog("toolkit", [make_resource("held", HELD), make_resource("asked", ASKED)])


def test_a_prune_keeps_the_count_of_tries_not_sent_since_the_last_check(
    tmp_path: Path,
) -> None:
    """Checked, then held 40 nights but one our network was down (a big host in maintenance
    asks each link once in ⌈links ÷ 2⌉ nights), then `db prune --keep-days 30`: the tries
    not sent are still 39, not the 30 the prune left (its last check, kept, is 41 days
    old)."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        first = [make_observation(u, checked_at=days(0)) for u in (HELD, ASKED)]
        store.record_observations(engine, None, first, HEALTH, now=days(0))
        for n in range(1, 41):
            night = [held_at(HELD, n), make_observation(ASKED, checked_at=days(n))]
            if n == 5:
                night = [
                    make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(n)) for u in KIT_URLS
                ]
            store.record_observations(engine, None, night, HEALTH, now=days(n))
        before = {r["id"]: r["held_tries"] for r in export_rows(engine, now=days(40.5))}
        prune_observations(engine, 30, now=days(40.5))
        after = {r["id"]: r["held_tries"] for r in export_rows(engine, now=days(40.5))}
        lines = history_lines(store.resource_history(engine, "held", limit=500), now=days(40.5))
    assert before == {"held": 39, "asked": 0}
    assert after == before
    assert (
        f"  not sent:  the last 39 tries, since {days(1):%Y-%m-%d %H:%M}: its host said it was"
        " away; the state is its last check's"
    ) in lines, lines


def test_a_night_our_network_was_down_ends_no_count_of_tries_not_sent(tmp_path: Path) -> None:
    """Checked, held two nights, then a night our network was down: the link is still
    unasked since its check, its host away, as the report's headline counts it ("OK when
    last checked, not asked since"); its record said `held_tries` 0 beside it, and its page
    and `linkhealth resource` said nothing of the two tries not sent. A night our network
    was down moves no link's health (`health.is_check`): it ends no hold's count either."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        first = [make_observation(u, checked_at=days(0)) for u in (HELD, ASKED)]
        store.record_observations(engine, None, first, HEALTH, now=days(0))
        for n in (1, 2):
            night = [held_at(HELD, n), make_observation(ASKED, checked_at=days(n))]
            store.record_observations(engine, None, night, HEALTH, now=days(n))
        down = [make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(3)) for u in (HELD, ASKED)]
        store.record_observations(engine, None, down, HEALTH, now=days(3))
        context = build_context(report_data(engine), now=days(3.1))
        exported = {r["id"]: r["held_tries"] for r in export_rows(engine, now=days(3.1))}
        lines = history_lines(store.resource_history(engine, "held"), now=days(3.1))
    document = json.loads(render_json(context))
    assert "1 OK when last checked, not asked since" in document["headline"]
    rows = {r.resource_id: r for r in context.resources}
    assert {rid: r["held_tries"] for rid, r in _records(document).items()} == {
        "held": 2,
        "asked": 0,
    }
    assert exported == {"held": 2, "asked": 0}
    facts = LexborHTMLParser(f"<dl>{html_rows.facts(rows['held'], '../')}</dl>").text()
    assert "the last 2 tries were not sent: its host said it was away" in facts, facts
    assert (
        f"  not sent:  the last 2 tries, since {days(1):%Y-%m-%d %H:%M}: its host said it was"
        " away; the state is its last check's"
    ) in lines, lines


def _records(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["resource_id"]: r for r in document["resources"]}
