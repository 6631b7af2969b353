"""`linkhealth resource`'s events say a flag by its name: "while flapping: False" was
Python's word in a curator's terminal."""

from __future__ import annotations

from pathlib import Path

from catalog import store
from catalog.decisions import history_lines
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

URL = "https://agency.example/gone"
KIT = make_catalog("toolkit", [make_resource("gone", URL)])


def test_a_state_change_says_while_flapping_only_when_it_was() -> None:
    from catalog.decisions import _details

    assert _details({"old": "suspect", "new": "broken", "while_flapping": True}) == (
        "suspect → broken; while flapping"
    )
    assert _details({"old": "suspect", "new": "broken", "consecutive_failures": 0}) == (
        "suspect → broken; consecutive failures: 0"  # a count of 0 is no unset flag
    )


def test_a_link_broken_night_after_night_has_no_python_words_in_its_history(
    tmp_path: Path,
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        store.record_observations(
            engine, None, [make_observation(URL, checked_at=days(0))], HealthSettings(), now=days(0)
        )
        for night in range(1, 6):
            failed = make_observation(URL, Outcome.NOT_FOUND, days(night), http_status=404)
            store.record_observations(engine, None, [failed], HealthSettings(), now=days(night))
        lines = history_lines(store.resource_history(engine, "gone"), now=days(6))
    changes = [line for line in lines if "→ broken" in line]
    assert changes, lines
    assert not any("False" in line or "True" in line for line in lines), lines
