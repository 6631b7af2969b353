"""What lint's cost at catalog scale rests on: near-duplicate title candidates that the
letter-count bound rejects never reach `_similar` (a `SequenceMatcher` each)."""

from __future__ import annotations

import difflib
from collections import Counter

import pytest

from catalog import hygiene
from tests.test_hygiene_scale import _catalogs, _near_pairs


def test_only_likely_near_duplicates_are_compared_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalogs = _catalogs(3000, 6)
    compared = 0
    similar = hygiene._similar

    def counting(a: str, b: str) -> bool:
        nonlocal compared
        compared += 1
        return similar(a, b)

    monkeypatch.setattr(hygiene, "_similar", counting)
    pairs = _near_pairs(catalogs)
    assert len(pairs) > 100
    # Blocking alone hands it 5 candidates per near-duplicate found (1,414 for 278).
    assert compared < 3 * len(pairs)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("annual report on victim services", "anual reports of victims service"),
        ("guide to the state hotline", "zzz"),
        ("état des lieux 2019", "etat des lieux 2019 résumé"),
    ],
)
def test_the_letter_bound_is_quick_ratios(a: str, b: str) -> None:
    """Never rejects a pair whose full ratio would pass: it is difflib's own bound."""
    matches = hygiene._common_letters(dict(Counter(a)), dict(Counter(b)))
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    assert 2.0 * matches / (len(a) + len(b)) == matcher.quick_ratio()
