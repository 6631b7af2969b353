"""A recheck's verdict on a link flapping through nights of 503 "unavailable" says what the
report's row says of it: "flapping: unavailable (503, maintenance) on 6 of the last 14
nights", not the plain "flapping: keeps switching between working and failing" the report
left for the links whose flips were not the site's maintenance (x4, h12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import store
from catalog.health import FLAPPING_WORDS, flapping_words
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from flows.recheck_flow import entry_verdicts
from reports.build import build_context
from reports.context import Priority
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    unavailable_observation,
)

HEALTH = HealthSettings()  # flaps 4 in 14 days
URL = "https://site.example/resources"


def _answer(n: int) -> Observation:
    """503 "unavailable" on odd nights, 200 on the others."""
    return (
        unavailable_observation(URL, days(n))
        if n % 2
        else make_observation(URL, Outcome.OK, days(n))
    )


def test_the_words_of_a_flapping_link_are_one_rule() -> None:
    assert flapping_words(0) == FLAPPING_WORDS
    six = "flapping: unavailable (503, maintenance) on 6 of the last 14 nights"
    assert flapping_words(6) == six


@pytest.mark.parametrize(("last", "down"), [(10, 5), (11, 6)], ids=["ok-night", "503-night"])
def test_a_recheck_says_a_503_flapping_link_in_the_reports_words(
    tmp_path: Path, last: int, down: int
) -> None:
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(last + 1):
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            store.record_observations(engine, run_id, [_answer(n)], HEALTH, now=days(n))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
        (row,) = build_context(report_data(engine), now=days(last + 0.01)).resources
        (line,) = entry_verdicts(engine, run_id, ["site"], None, None, [], {})

    words = f"flapping: unavailable (503, maintenance) on {down} of the last 14 nights"
    assert (row.priority, row.state_note) == (Priority.LOOK, words[0].upper() + words[1:])
    assert line.startswith(f"toolkit/site: {row.label}, {words}"), line
    assert FLAPPING_WORDS not in line
