"""What lint's cost at catalog scale rests on: near-duplicate title candidates that the
letter-count bound rejects never reach `_similar` (a `SequenceMatcher` each), and a URL
that no other entry shares is not split again to compare its section."""

from __future__ import annotations

import difflib
from collections import Counter
from pathlib import Path

import pytest

from catalog import hygiene, urls
from catalog.model import Catalog, Resource
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


def test_a_url_no_other_entry_shares_is_not_split_for_its_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    split: list[str] = []
    fragment_of = urls.fragment_of

    def counting(url: str) -> str:
        split.append(url)
        return fragment_of(url)

    monkeypatch.setattr(urls, "fragment_of", counting)
    alone = [Resource(id=f"r{n}", title=f"Page {n}", url=f"https://e.org/{n}") for n in range(50)]
    shared = [
        Resource(id=f"s{n}", title=f"Part {n}", url=f"https://e.org/s#part-{n}") for n in range(2)
    ]
    catalog = Catalog(Path("/catalogs/one.yaml"), {}, (*alone, *shared))
    assert not [f for f in hygiene.lint([catalog]) if f.code == "duplicate_url"]
    assert sorted(split) == sorted(r.url for r in shared)
