"""Near-duplicate titles at catalog scale: few comparisons, and the pairwise findings.

The pairwise scan compared every two titles (a 100,000-entry catalog never finished);
blocking must keep the comparisons near-linear without losing realistic near-duplicates.
"""

from __future__ import annotations

import difflib
import random
from collections import Counter
from pathlib import Path

import pytest

from catalog import hygiene
from catalog.hygiene import NEAR_DUPLICATE_RATIO, lint, normalise_title
from catalog.model import Catalog, Resource
from catalog.urls import canonical_url

_SYLLABLES = str.split(
    "ad ban cor del fen gal hor in jus kel lam mor nat or pol quen res sta tor ul ven wal "
    "xen yor zal ber cam dor ex fil gra"
)
_COMMON = str.split(
    "the of and a to for in on guide report toolkit victims services state national"
)


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _title(rng: random.Random, words: list[str]) -> str:
    chosen = [
        rng.choice(_COMMON) if rng.random() < 0.35 else rng.choice(words)
        for _ in range(rng.randint(3, 10))
    ]
    year = f"{rng.randint(1995, 2025)} " if rng.random() < 0.15 else ""
    return year + " ".join(chosen).capitalize()


def _typo(rng: random.Random, title: str) -> str:
    at = rng.randrange(len(title))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    replaced, inserted, dropped = (
        title[:at] + letter + title[at + 1 :],
        title[:at] + letter + title[at:],
        title[:at] + title[at + 1 :],
    )
    return rng.choice((replaced, inserted, dropped))


def _variant(rng: random.Random, title: str) -> str:
    """What a second copy of a title looks like: a typo or two, a plural, punctuation,
    capitals, a small word added or dropped, two words swapped, a suffix."""
    words = title.split()
    at = rng.randrange(len(words))
    kind = rng.randrange(8)
    if kind == 0:
        return _typo(rng, title)
    if kind == 1:
        return _typo(rng, _typo(rng, title))
    if kind == 2:
        return " ".join([*words[:at], words[at] + "s", *words[at + 1 :]])
    if kind == 3:
        return title.replace(" ", ": ", 1).upper() + "."
    if kind == 4:
        return " ".join([*words[:at], rng.choice(("the", "a", "new")), *words[at:]])
    if kind == 5 and len(words) > 3:
        return " ".join(words[:at] + words[at + 1 :])
    if kind == 6 and at + 1 < len(words):
        return " ".join([*words[:at], words[at + 1], words[at], *words[at + 2 :]])
    return title + " " + rng.choice(("overview", "summary", "(PDF)", "update"))


def _catalogs(size: int, seed: int, share: float = 0.1) -> list[Catalog]:
    """Two collections of generated titles, `share` of them variants of earlier ones; a few
    entries share a URL or name their original with `duplicate_of`."""
    rng = random.Random(seed)
    words = _vocabulary(rng, max(200, size // 3))
    originals: list[str] = []
    resources: list[Resource] = []
    for n in range(size):
        if originals and rng.random() < share:
            title = _variant(rng, rng.choice(originals))
        else:
            title = _title(rng, words)
            originals.append(title)
        extra = {"duplicate_of": f"r{n - 1}"} if rng.random() < 0.01 else {}
        url = "https://example.org/shared" if rng.random() < 0.01 else f"https://e.org/{n}"
        resources.append(Resource(id=f"r{n}", title=title, url=url, line=n + 1, extra=extra))
    half = size // 2
    return [
        Catalog(Path("/catalogs/one.yaml"), {}, tuple(resources[:half])),
        Catalog(Path("/catalogs/two.yaml"), {}, tuple(resources[half:])),
    ]


def _pairwise(catalogs: list[Catalog]) -> set[tuple[str, str]]:
    """The near-duplicate pairs by the definition: every two entries compared.

    Each pair's ratio is bounded first by the two bounds difflib's own `real_quick_ratio`
    and `quick_ratio` compute (lengths, then letter counts, here counted once per title
    instead of once per pair): neither rejects a pair whose full ratio would pass, so the
    pairs found are the definition's, in a fraction of the time."""
    entries = [
        (r, words, canonical_url(r.url), hygiene._digits(words), Counter(words))
        for c in catalogs
        for r in c.resources
        for words in (normalise_title(r.title),)
    ]
    found: set[tuple[str, str]] = set()
    for i, (a, a_words, a_url, a_digits, a_letters) in enumerate(entries):
        for b, b_words, b_url, b_digits, b_letters in entries[i + 1 :]:
            if not a_words or a_url == b_url:
                continue
            if a.extra.get("duplicate_of") == b.id or b.extra.get("duplicate_of") == a.id:
                continue
            if a_digits != b_digits:
                continue
            if a_words != b_words:
                shorter, both = min(len(a_words), len(b_words)), len(a_words) + len(b_words)
                if shorter < 20:
                    continue
                if 2.0 * shorter / both < NEAR_DUPLICATE_RATIO:  # real_quick_ratio()
                    continue
                same_letters = sum((a_letters & b_letters).values())
                if 2.0 * same_letters / both < NEAR_DUPLICATE_RATIO:  # quick_ratio()
                    continue
                matcher = difflib.SequenceMatcher(None, a_words, b_words, autojunk=False)
                if matcher.ratio() < NEAR_DUPLICATE_RATIO:
                    continue
            found.add((a.id, b.id))
    return found


def _near_pairs(catalogs: list[Catalog]) -> set[tuple[str, str]]:
    order = {r.id: n for n, r in enumerate(r for c in catalogs for r in c.resources)}
    pairs = set()
    for f in lint(catalogs):
        if f.code == "near_duplicate_title":
            a, b = f.resource_id, f.related[0].rsplit("/", 1)[-1]
            pairs.add((a, b) if order[a] < order[b] else (b, a))
    return pairs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_blocking_finds_what_comparing_every_pair_finds(seed: int) -> None:
    catalogs = _catalogs(600, seed)
    expected = _pairwise(catalogs)
    assert len(expected) > 20  # the generated variants do make near-duplicates
    assert _near_pairs(catalogs) == expected


def test_findings_keep_the_pairwise_order() -> None:
    catalogs = _catalogs(300, 4, share=0.3)
    near = [f for f in lint(catalogs) if f.code == "near_duplicate_title"]
    for rid in {f.resource_id for f in near}:
        mine = [f.related[0].rsplit("/", 1)[-1] for f in near if f.resource_id == rid]
        assert mine == sorted(mine, key=lambda r: int(r[1:]))


def test_a_large_catalog_needs_few_title_comparisons(monkeypatch: pytest.MonkeyPatch) -> None:
    size = 20_000
    catalogs = _catalogs(size, 5)
    compared = 0
    similar = hygiene._similar

    def counting(a: str, b: str) -> bool:
        nonlocal compared
        compared += 1
        return similar(a, b)

    monkeypatch.setattr(hygiene, "_similar", counting)
    pairs = _near_pairs(catalogs)
    assert len(pairs) > size * 0.05  # most injected variants are there
    assert compared < size * 20  # every pair would be 200 million comparisons
