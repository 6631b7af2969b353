"""`named_years` takes short cuts (only pieces holding four digits are weighed, the fiscal
pass only when there is a fiscal year); it must find exactly the years the full pass it
replaced (kept below as the reference) found, on texts built from the tricky parts: years,
counts, codes, separators, fiscal years, currency signs and non-ASCII digits."""

from __future__ import annotations

import random

import pytest

from catalog.staleness import (
    _FIRST_YEAR,
    _FISCAL,
    _FOUR_DIGITS,
    _LAST_YEAR,
    _NOT_YEAR_AFTER,
    _NOT_YEAR_BEFORE,
    _PIECE,
    _full_year,
    _piece_years,
    named_years,
)
from tests.test_staleness import RESOURCES


def reference_named_years(text: str) -> tuple[int, ...]:
    """`named_years` as it was before the short cuts (2026-12-03)."""
    years: list[int] = []
    for match in _FISCAL.finditer(text):
        years += [_full_year(g) for g in match.groups() if g]
    text = _FISCAL.sub(" ", text)
    previous = ""
    # Every other form holds a run of four digits; most titles have none.
    pieces = list(_PIECE.finditer(text)) if _FOUR_DIGITS.search(text) else []
    for i, match in enumerate(pieces):
        piece = match.group(0)
        before = text[max(0, match.start() - 2) : match.start()].strip()
        after = pieces[i + 1].group(0).lower() if i + 1 < len(pieces) else ""
        counted = previous.lower().rstrip(".") in _NOT_YEAR_BEFORE or after in _NOT_YEAR_AFTER
        if not counted and not before.endswith(("$", "#", "§", "№")):
            years += _piece_years(piece)
        previous = piece
    return tuple(dict.fromkeys(y for y in years if _FIRST_YEAR <= y <= _LAST_YEAR))


_PARTS = [
    "2018",
    "1999",
    "2006-2011",
    "2015-16",
    "2016-05-16",
    "05/16/2016",
    "2016.05",
    "2,125",
    "1-888-373-7888",
    "2014-VT-BX-K00X",
    "FY 2015",
    "FY15",
    "fy2016-2017",
    "FY 15/16",
    "FY",
    "$",
    "#",
    "§",
    "№",
    "$2000",
    "#1999",
    "§ 2001",
    "U.S.C.",
    "usc",
    "no.",
    "pages",
    "victims",
    "than",
    "over",
    "Title",
    "22",
    "1990s",
    "٢٠١٨",
    "201²",
    "12345",
    "2000",
    "(2012)",
    "2nd",
    "edition",
    "report",
    "the",
    "-",
    "–",
    "/",
    ".",
    ",",
    "and",
    "Report",
    "2015–2016",
    "2099",
    "2100",
    "1899",
    "1900",
    "20",
    "3000",
]
_SEPARATORS = [" ", " ", " ", "", "-", "/", ".", ", ", "(", ")", "–", ":", "_"]


def _text(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randrange(1, 9)):
        out += [rng.choice(_PARTS), rng.choice(_SEPARATORS)]
    return "".join(out)


@pytest.mark.parametrize("seed", range(20))
def test_named_years_finds_what_the_full_pass_found(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        text = _text(rng)
        assert named_years(text) == reference_named_years(text), text


def test_named_years_of_the_bundled_catalog_are_those_of_the_full_pass() -> None:
    for resource in RESOURCES.values():
        for text in (resource.title, resource.description or ""):
            assert named_years(text) == reference_named_years(text), text
