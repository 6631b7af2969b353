"""Counts and rates a person reads: "1 entry", "2 entries", never "2 entr(ies)"; "0.04
URLs/s", never "0.0"; "2 HTTP error", never "2 http error"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.outcomes import Outcome
from catalog.runs import RunSummary
from catalog.text import counted, in_sentence, per_second


@pytest.mark.parametrize(
    ("n", "one", "many", "said"),
    [
        (0, "field", None, "0 fields"),
        (1, "field", None, "1 field"),
        (2, "difference", None, "2 differences"),
        (1, "existing entry", "existing entries", "1 existing entry"),
        (3, "existing entry", "existing entries", "3 existing entries"),
    ],
)
def test_counted(n: int, one: str, many: str | None, said: str) -> None:
    assert counted(n, one, many) == said


@pytest.mark.parametrize(
    ("rate", "said"),
    [
        (18.46, "18.5"),
        (1.0, "1.0"),
        (2 / 44.9, "0.04"),  # "Batch 1/1: 2 URLs in 44.9 s (0.0 URLs/s)" read as none checked
        (0.26, "0.3"),
        (0.96, "1.0"),  # one significant digit rounded up to "1", unlike every other rate
        (0.94, "0.9"),
        (0.0, "0.0"),
    ],
)
def test_a_slow_rate_is_not_rounded_to_nothing(rate: float, said: str) -> None:
    assert per_second(rate) == said


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("Timed out", "timed out"),
        ("Not found (404)", "not found (404)"),
        ("Invalid URL", "invalid URL"),
        ("HTTP error", "HTTP error"),
        ("OK", "OK"),
        ("Unavailable (503)", "unavailable (503)"),
        ("", ""),
    ],
)
def test_a_label_in_a_sentence_keeps_its_acronyms(label: str, said: str) -> None:
    assert in_sentence(label) == said


def test_a_runs_outcomes_are_counted_in_the_badges_words() -> None:
    """The summary said "1 ok, 2 http error, 1 invalid url" beside badges saying "OK",
    "HTTP error" and "Invalid URL"."""
    counts = {Outcome.OK.value: 1, Outcome.HTTP_ERROR.value: 2, Outcome.INVALID_URL.value: 1}
    at = datetime(2026, 12, 7, tzinfo=UTC)
    summary = RunSummary(1, "completed", "manual", at, at, 4, counts, network_unavailable=False)
    assert "Outcomes: 2 HTTP error, 1 invalid URL, 1 OK." in summary.lines()
