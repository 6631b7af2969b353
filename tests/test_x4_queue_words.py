"""Queue rows and news whose words agree with each other and say what happened: a site
unavailable for a week is said to be so when it starts failing; (more below)."""

from __future__ import annotations

from pathlib import Path

from catalog.model import Observation
from catalog.outcomes import Outcome
from reports.context import Priority
from tests.factories import days, make_observation
from tests.test_x1_unavailable_nights import URL, run_nights, unavailable


def test_a_site_unavailable_for_a_week_starts_failing_said_so(tmp_path: Path) -> None:
    def answer(n: int) -> Observation:
        return make_observation(URL, Outcome.OK, days(n)) if n == 0 else unavailable(days(n), 3600)

    news, rows = run_nights(tmp_path, answer, last=8)

    assert news[8] == [
        ("started_failing", "Unavailable (503) at every check for 8 nights; not confirmed yet.")
    ]
    assert rows[8][0] is Priority.FAILING


def test_a_plain_failure_still_failed_its_last_check(tmp_path: Path) -> None:
    def answer(n: int) -> Observation:
        outcome = Outcome.OK if n == 0 else Outcome.NOT_FOUND
        return make_observation(URL, outcome, days(n), http_status=200 if n == 0 else 404)

    news, _ = run_nights(tmp_path, answer, last=1)

    assert news[1] == [("started_failing", "Failed its last check; not confirmed yet.")]
