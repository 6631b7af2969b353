"""Held tries (`Observation.held`: not sent, the host had said it was away) as the report's
JSON, the export and `linkhealth resource` count them, after what a database goes through.
"""

from __future__ import annotations

from pathlib import Path

from catalog import store
from catalog.decisions import history_lines
from catalog.export import export_rows
from catalog.retention import prune_observations
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database
from tests.test_u4_held_rotation import held_at

HEALTH = HealthSettings()
HELD = "https://agency.example/held"
ASKED = "https://agency.example/asked"
KIT = make_catalog("toolkit", [make_resource("held", HELD), make_resource("asked", ASKED)])


def test_a_prune_keeps_the_count_of_tries_not_sent_since_the_last_check(
    tmp_path: Path,
) -> None:
    """Checked, then held 40 nights (a big host in maintenance asks each link once in
    ⌈links ÷ 2⌉ nights), then `db prune --keep-days 30`: the tries not sent are still 40,
    not the 30 the prune left (its last check, kept, is 41 days old)."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        first = [make_observation(u, checked_at=days(0)) for u in (HELD, ASKED)]
        store.record_observations(engine, None, first, HEALTH, now=days(0))
        for n in range(1, 41):
            night = [held_at(HELD, n), make_observation(ASKED, checked_at=days(n))]
            store.record_observations(engine, None, night, HEALTH, now=days(n))
        before = {r["id"]: r["held_tries"] for r in export_rows(engine, now=days(40.5))}
        prune_observations(engine, 30, now=days(40.5))
        after = {r["id"]: r["held_tries"] for r in export_rows(engine, now=days(40.5))}
        lines = history_lines(store.resource_history(engine, "held", limit=500), now=days(40.5))
    assert before == {"held": 40, "asked": 0}
    assert after == before
    assert (
        f"  not sent:  the last 40 tries, since {days(1):%Y-%m-%d %H:%M}: its host said it was"
        " away; the state is its last check's"
    ) in lines, lines
