"""Counts and rates a person reads: "1 entry", "2 entries", never "2 entr(ies)"; "0.04
URLs/s", never "0.0"."""

from __future__ import annotations

import pytest

from catalog.text import counted, per_second


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
