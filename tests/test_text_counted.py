"""Counts a person reads: "1 entry", "2 entries", never "2 entr(ies)"."""

from __future__ import annotations

import pytest

from catalog.text import counted


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
