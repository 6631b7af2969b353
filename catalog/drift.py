"""Drift: does the page at a link still hold the resource its catalog entry describes?

Stage: health (pure judging, no I/O). Inputs: the entry's title and description, and the
page title and text sample (`Observation.title`, `Observation.text_sample`) of one
successful check, plus the link's earlier relevance scores. Outputs: a `Relevance` (score,
spam markers, evidence) per check, and a `DriftVerdict` when the page has stopped matching.

Why: a clearinghouse for law-enforcement and victim-services material must not keep
linking a lapsed domain's new owner (a parked domain, a casino, an adult or spam site).
Two independent signals, each cheap (well under a millisecond per page):

* markers: phrases typical of parked, for-sale, gambling, adult, pharmacy-spam and
  crypto-scam pages. Each category needs several weak phrases or one strong one, and a
  phrase the entry itself uses never counts. The catalog is about sex trafficking, so
  words such as "sex", "prostitution", "escort" or "pornography" are never markers; and
  on a page that still matches its entry, phrases a report on trafficking uses about its
  subject (scam compounds' "online casino" and "usdt", sextortion's "nude") do not count
  either: there only spam's own phrases ("free spins", "slot gacor") mean a takeover.
* relevance: overlap of content words (lower-cased, accents folded, stop words removed,
  lightly stemmed so "traffickers"/"trafficking" and "victims"/"víctimas" meet) between
  entry and page, weighted toward the entry's title. A sharp fall from the link's own
  history, or a very low score on a first look, means drift; pages with little text
  (PDFs without a text sample, script-only shells) are judged by markers alone.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from catalog.text import strip_accents

__all__ = [
    "MARKED_REASON",
    "MARKER_LABELS",
    "MIN_PAGE_WORDS",
    "DriftVerdict",
    "Relevance",
    "find_markers",
    "judge_drift",
    "names_markers",
    "relevance",
]

#: Content words a page needs before a low score alone may call it drift.
MIN_PAGE_WORDS = 25
#: A fall from the history counts only when the score also ends below this.
LOW_SCORE = 0.3

#: A page with markers keeps only this share of its word-overlap score.
MARKED_PAGE_FACTOR = 0.2
#: A substantial page scoring at least this still holds its resource (the bundled
#: catalog's own pages score 0.5-0.9, unrelated pages below 0.15 with markers and all):
#: there, only phrases no report uses of its subject count as markers.
STILL_MATCHES = 0.4

#: How the reason for a page with markers begins (`judge_drift`, `names_markers`).
MARKED_REASON = "The page now looks like a "


def names_markers(reason: str) -> bool:
    """Whether a drift reason was given for markers (a parked, casino or spam page): a
    domain that changed hands, not a publisher's redesign."""
    return reason.startswith(MARKED_REASON)


#: Marker code -> what the page looks like, for curators.
MARKER_LABELS: dict[str, str] = {
    "parking": "parked or domain-for-sale",
    "gambling": "gambling",
    "adult": "adult-content",
    "pharma": "pharmacy-spam",
    "crypto": "crypto-scam",
}


@dataclass(frozen=True)
class Relevance:
    """How well one page matches its catalog entry."""

    #: 0 (nothing in common) .. 1 (the entry's words are all over the page).
    score: float
    #: Marker codes found (keys of `MARKER_LABELS`), e.g. ("parking",).
    markers: tuple[str, ...] = ()
    #: Short strings a curator can read: marker phrases as found, the page title.
    evidence: tuple[str, ...] = ()
    #: Content words on the page; below `MIN_PAGE_WORDS` only markers can mean drift.
    words: int = 0

    @property
    def substantial(self) -> bool:
        """Enough text for the score to mean something; store only these in the history."""
        return self.words >= MIN_PAGE_WORDS


@dataclass(frozen=True)
class DriftVerdict:
    #: One sentence for curators naming the evidence and the next step.
    reason: str
    score: float
    #: Median of the link's earlier scores, or None without history.
    baseline: float | None
    markers: tuple[str, ...] = ()


# --- words ------------------------------------------------------------------------------


def _run_finder(
    pattern: re.Pattern[str], keep: Callable[[str], bool]
) -> Callable[[str], list[str]]:
    """`pattern.findall` for a pattern matching runs of the characters `keep` accepts.

    ASCII text (nearly every page) takes two C-level passes instead: every other
    character becomes a space, then `split()`; about four times faster than `re`, which
    spends ~40 ns per character on such a class.
    """
    table = str.maketrans({chr(i): chr(i) if keep(chr(i)) else " " for i in range(128)})

    def findall(text: str) -> list[str]:
        return text.translate(table).split() if text.isascii() else pattern.findall(text)

    return findall


_WORD = re.compile(r"[^\W\d_]+")
_words = _run_finder(_WORD, str.isalpha)


#: English, Spanish and French function words, and words every web page has.
_STOP_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just may me might more most must my myself no nor not
    now of off on once only or other our ours ourselves out over own same shall she should
    so some such than that the their theirs them themselves then there these they this
    those through to too under until up upon very via was we were what when where which
    while who whom why will with within without would you your yours yourself yourselves
    us one two three four five many much every well like per etc amp nbsp
    el la los las un una unos unas de del al y o u e en con por para sin sobre entre
    que se su sus es son fue ser como mas pero le les lo ya este esta estos estas ese esa
    nos nuestro nuestra usted ustedes muy tambien
    le la les des du et ou dans sur pour par avec sans est sont ce cette ces qui au aux
    une pas plus
    home page pages click here read menu search skip content main navigation site website
    login sign share print email contact privacy policy terms cookies cookie copyright
    rights reserved toggle back top link links www http https com org gov html
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    """Crude but consistent suffix stripping; both sides go through it, so it need not be
    linguistically right, only the same for "trafficking", "traffickers", "trafficked"."""
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 5 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 6 and word.endswith("er"):
        word = word[:-2]
    if len(word) > 4 and word[-1] in "aeo":  # victima/victim, existe/exists, guide/guides
        word = word[:-1]
    return word


def _fold(text: str) -> str:
    """Lower-cased, accents removed: "Víctimas" and "victimas" are one word."""
    return strip_accents(text.lower())


#: ASCII bytes that are not letters, each mapped to a space; other bytes kept.
_NOT_LETTER = bytes(i for i in range(128) if not chr(i).isalpha())
_SPACE_OUT = bytes.maketrans(_NOT_LETTER, b" " * len(_NOT_LETTER))


def _folded_word_counts(text: str) -> Counter[str]:
    """`Counter(_words(_fold(text)))`, with accents folded once per distinct piece.

    On text with any non-ASCII character (most real pages: a curly quote, a ©), folding the
    whole text costs a decomposition and a regular-expression pass of ~40 ns per character.
    A word never spans an ASCII non-letter or a space, before or after folding, so the text
    is cut there with one byte-table pass and one `split`; ASCII pieces are words as they
    stand, and only the few distinct pieces holding other characters are folded and split
    precisely, each once (a loop over every distinct piece was half of judging a page).
    """
    lowered = text.lower()
    if lowered.isascii():
        return Counter(_words(lowered))
    counts = Counter(_spaced(lowered, _SPACE_OUT).split())
    for piece in [piece for piece in counts if not piece.isascii()]:
        n = counts.pop(piece)
        for word in _folded_words(piece):
            counts[word] += n
    return counts


def _spaced(text: str, table: bytes) -> str:
    """`text` with the ASCII characters `table` maps to a space made spaces: a byte-table
    pass over its UTF-8 (`str.translate` looks each character up in a dict when the text
    is not ASCII); the other characters' bytes are never touched."""
    return text.encode("utf-8", "surrogatepass").translate(table).decode("utf-8", "surrogatepass")


@lru_cache(maxsize=8192)
def _folded_words(piece: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(_fold(piece)))


def _terms(text: str | None) -> set[str]:
    return _terms_and_count(text)[0]


def _terms_and_count(text: str | None) -> tuple[set[str], int]:
    """The stemmed terms of `text`, and how many of its words are terms (repeats counted).
    Each distinct word is judged and stemmed once, not every time it recurs."""
    if not text:
        return set(), 0
    counts = _folded_word_counts(text)
    kept = [(w, n) for w, n in counts.items() if len(w) > 2 and w not in _STOP_WORDS]
    return {_stem(w) for w, _ in kept}, sum(n for _, n in kept)


# --- markers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Markers:
    """One category: a strong phrase fires alone, weak ones need `weak_needed` distinct."""

    strong: tuple[str, ...]
    weak: tuple[str, ...]
    weak_needed: int


_CATEGORIES: dict[str, _Markers] = {
    "parking": _Markers(
        strong=(
            "this domain may be for sale",
            "this domain is for sale",
            "this domain name is for sale",
            "domain is for sale",
            "domain for sale",
            "domain name for sale",
            "buy this domain",
            "get this domain",
            "inquire about this domain",
            "domain parking",
            "parked free",
            "parked domain",
            "this domain has expired",
            "hugedomains",
            "sedo",
            "sedoparking",
            "dan.com",
            "afternic",
            "bodis",
            "parkingcrew",
        ),
        # "parked by" is weak: indicator guides say "a van parked by the side entrance".
        weak=("godaddy", "make an offer", "related searches", "domain owner", "parked by"),
        weak_needed=2,
    ),
    "gambling": _Markers(
        strong=(
            "online casino",
            "casino online",
            "live casino",
            "casino bonus",
            "free spins",
            "bonus spins",
            "welcome bonus",
            "deposit bonus",
            "sportsbook",
            "sports betting",
            "online betting",
            "betting odds",
            "bet now",
            "play slots",
            "slot online",
            "online slots",
            "slot gacor",
            "situs judi",
            "judi online",
            "togel",
        ),
        weak=(
            "casino",
            "casinos",
            "slots",
            "betting",
            "poker",
            "jackpot",
            "roulette",
            "blackjack",
            "baccarat",
            "bookmaker",
            "wager",
            "wagering",
            "gacor",
            "maxwin",
        ),
        weak_needed=2,
    ),
    # Never "sex", "escort", "prostitution", "pornography", "explicit": trafficking
    # pages use them. Weak phrases need three, since a sextortion page may say "nude",
    # and a cybersex-trafficking report "forced to perform on live sex cams".
    "adult": _Markers(
        strong=(
            "free porn",
            "porn videos",
            "porn video",
            "xxx videos",
            "xxx video",
            "free sex videos",
            "pornhub",
            "xvideos",
            "xhamster",
        ),
        weak=(
            "porn",
            "porno",
            "xxx",
            "milf",
            "milfs",
            "horny",
            "nude",
            "hardcore",
            "camgirls",
            "cam girls",
            "webcam girls",
            "hot singles",
            "local singles",
            "adult videos",
            "you must be 18",
            "sex cams",
            "live sex cams",
        ),
        weak_needed=3,
    ),
    "pharma": _Markers(
        strong=("viagra", "cialis", "levitra", "kamagra", "buy tramadol"),
        weak=("online pharmacy", "no prescription", "without prescription", "cheap pills"),
        weak_needed=2,
    ),
    # Trafficking reports discuss cryptocurrency payments: weak phrases need three.
    "crypto": _Markers(
        strong=(
            "double your bitcoin",
            "bitcoin doubler",
            "crypto giveaway",
            "claim your airdrop",
            "guaranteed daily profit",
        ),
        weak=(
            "bitcoin",
            "crypto",
            "ethereum",
            "usdt",
            "airdrop",
            "connect wallet",
            "connect your wallet",
            "trading bot",
            "investment plan",
            "guaranteed returns",
            "daily profit",
        ),
        weak_needed=3,
    ),
}


#: Phrases that reports on trafficking use of their subject: forced labour in scam
#: compounds and gambling dens, online sexual exploitation, crypto payments and fraud
#: (singular spellings: `_key` folds plurals first). On a page that still matches its entry
#: they are the subject, not a takeover; what no such report says ("free spins", "slot
#: gacor", "free porn", "double your bitcoin") counts everywhere, so a hacked page that
#: keeps its text beside injected spam is still caught.
_SUBJECT_MATTER = frozenset(
    (
        *("online casino", "casino online", "live casino", "sportsbook", "sports betting"),
        *("online betting", "casino", "betting", "poker", "jackpot", "roulette"),
        *("blackjack", "baccarat", "bookmaker", "wager", "wagering", "slots"),
        *("porn video", "pornhub", "xvideos", "xhamster", "porn", "porno"),
        *("nude", "hardcore", "adult videos", "you must be 18", "sex cams", "live sex cams"),
        *("webcam girls", "bitcoin", "crypto", "ethereum", "usdt", "airdrop", "trading bot"),
        *("investment plan", "guaranteed returns", "daily profit"),
    )
)

#: Phrases kept as evidence per marker: enough to convince, short enough to read.
_EVIDENCE_PER_MARKER = 3

_ALL_PHRASES = frozenset(p for m in _CATEGORIES.values() for p in (*m.strong, *m.weak))
#: A phrase listed in both numbers ("casino", "casinos") -> its singular: one word is one
#: marker, or a report saying "casinos" and "a casino" would count two gambling words.
_SINGULAR = {p: p[:-1] for p in _ALL_PHRASES if p.endswith("s") and p[:-1] in _ALL_PHRASES}
#: Singular -> every spelling of it in the lists, for matching the entry's own words.
_SPELLINGS = {
    one: (one, *(p for p, o in _SINGULAR.items() if o == one)) for one in _SINGULAR.values()
}


@lru_cache(maxsize=512)
def _pattern(*phrases: str) -> re.Pattern[str]:
    alternatives = sorted(phrases, key=len, reverse=True)  # longest first: one match each
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


#: A phrase can only match where each of its words stands as a whole word of the page.
_ANY_WORD = re.compile(r"\w+")
_any_words = _run_finder(_ANY_WORD, lambda ch: ch.isalnum() or ch == "_")
#: ASCII bytes that are no `\w` character, each mapped to a space; other bytes kept.
_NOT_WORD_CHAR = bytes(i for i in range(128) if not (chr(i).isalnum() or chr(i) == "_"))
_WORD_SPACE_OUT = bytes.maketrans(_NOT_WORD_CHAR, b" " * len(_NOT_WORD_CHAR))


def _any_word_set(text: str) -> set[str]:
    """`set(_ANY_WORD.findall(text))`. A page with any non-ASCII character is cut at ASCII
    non-word characters and spaces first (`_spaced`), which no word-character run spans, and only
    its pieces holding other characters go through the expression (over the whole text it
    cost ~40 ns per character)."""
    if text.isascii():
        return set(_any_words(text))
    words = set(_spaced(text, _WORD_SPACE_OUT).split())
    for piece in [piece for piece in words if not piece.isascii()]:
        words.discard(piece)
        words.update(_ANY_WORD.findall(piece))
    return words


@lru_cache(maxsize=len(_CATEGORIES))
def _phrase_words(markers: _Markers) -> tuple[tuple[frozenset[str], bool], ...]:
    """Per phrase of the category: the words it needs on the page, and whether it is strong.
    Worked out once per category (a cache per phrase was smaller than the phrase list, so
    it missed on every page)."""
    return tuple(
        (frozenset(_ANY_WORD.findall(p.casefold())), p in markers.strong)
        for p in (*markers.strong, *markers.weak)
    )


def _may_fire(markers: _Markers, words: set[str]) -> bool:
    """False when no phrase of the category can match: a set test per phrase spares the
    big case-insensitive pattern on the great majority of pages, which carry no marker."""
    possible = 0
    for needed, strong in _phrase_words(markers):
        if needed <= words:
            if strong:
                return True
            possible += 1
    return possible >= markers.weak_needed


def _key(found: str) -> str:
    # casefold, not lower: "SLOTS" and "ſlots" are one phrase, not two weak markers.
    key = " ".join(found.casefold().split())
    return _SINGULAR.get(key, key)


def _entry_uses(key: str, ignore: str) -> bool:
    """Whether the entry's own text holds the phrase `key`, in either number."""
    return bool(ignore) and _pattern(*_SPELLINGS.get(key, (key,))).search(ignore) is not None


def find_markers(
    text: str, *, ignore: str = "", subject_too: bool = False
) -> dict[str, tuple[str, ...]]:
    """Marker code -> the phrases that made it fire, as written on the page (strong first,
    at most a few).

    Phrases that also occur in `ignore` (the entry's own words) do not count: an entry
    about trafficking in casinos may well link a page saying "casino". With `subject_too`
    (the page still matches its entry), neither do `_SUBJECT_MATTER` phrases.
    """
    fired: dict[str, tuple[str, ...]] = {}
    words = _any_word_set(text.casefold())
    for code, markers in _CATEGORIES.items():
        if not _may_fire(markers, words):
            continue
        found: dict[str, str] = {}
        for match in _pattern(*markers.strong, *markers.weak).finditer(text):
            key = _key(match.group(0))
            if subject_too and key in _SUBJECT_MATTER:
                continue
            if key not in found and not _entry_uses(key, ignore):
                found[key] = " ".join(match.group(0).split())
        strong = [found[k] for k in found if k in markers.strong]
        if strong or len(found) >= markers.weak_needed:
            weak = [found[k] for k in found if k not in markers.strong]
            fired[code] = tuple([*strong, *weak][:_EVIDENCE_PER_MARKER])
    return fired


# --- relevance --------------------------------------------------------------------------


def relevance(
    entry_title: str,
    entry_description: str | None,
    page_title: str | None,
    page_text: str | None,
) -> Relevance:
    """How well a page matches the catalog entry; see the module docstring for the parts.

    Score = 0.45 * share of the entry's title words found on the page
          + 0.15 * share of them in the page's title
          + 0.15 * share of the page title's words the entry uses
          + 0.25 * share of the entry's other description words found on the page,
    parts that cannot be measured (no page title, no description) left out and the rest
    re-weighted, times `MARKED_PAGE_FACTOR` when markers fire.
    """
    title_terms = _terms(entry_title)
    desc_terms = _terms(entry_description) - title_terms
    page_title_terms = _terms(page_title)
    text_terms, text_words = _terms_and_count(page_text)
    page_terms = page_title_terms | text_terms
    words = text_words + len(page_title_terms)

    parts: list[tuple[float, float | None]] = []
    if title_terms:
        parts.append((0.45, len(title_terms & page_terms) / len(title_terms)))
        parts.append((0.15, _share(title_terms, page_title_terms)))
    if page_title_terms:
        entry_terms = title_terms | desc_terms
        parts.append((0.15, len(page_title_terms & entry_terms) / len(page_title_terms)))
    else:
        parts.append((0.15, None))
    parts.append((0.25, len(desc_terms & page_terms) / len(desc_terms) if desc_terms else None))
    known = [(w, s) for w, s in parts if s is not None]
    total = sum(w for w, _ in known)
    score = sum(w * s for w, s in known) / total if total else 0.0

    page = f"{page_title or ''}\n{page_text or ''}"
    found = find_markers(
        page,
        ignore=f"{entry_title}\n{entry_description or ''}",
        subject_too=words >= MIN_PAGE_WORDS and score >= STILL_MATCHES,
    )
    if found:
        # Parking pages echo the domain's words ("Related searches: Hotline Services") and
        # spam pages stuff keywords: their overlap says nothing about the resource.
        score *= MARKED_PAGE_FACTOR
    evidence = [f"'{p}'" for phrases in found.values() for p in phrases]
    if page_title:
        evidence.append(f"page title '{_clip(page_title)}'")
    return Relevance(round(score, 3), tuple(found), tuple(evidence), words)


def _share(wanted: set[str], found: set[str]) -> float | None:
    return len(wanted & found) / len(wanted) if found else None


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- verdict ----------------------------------------------------------------------------


def judge_drift(
    current: Relevance,
    history: Sequence[float],
    *,
    drop: float = 0.5,
    floor: float = 0.15,
) -> DriftVerdict | None:
    """Whether the page has drifted from its entry, given the link's earlier scores.

    Markers always mean drift. Otherwise, on a page with substantial text: a score below
    `drop` times the median of `history` (and below `LOW_SCORE`), or, with no history, a
    score below `floor`. `history` should hold scores of substantial pages only.
    """
    baseline = round(statistics.median(history), 3) if history else None
    # In words a curator reads: "relevance 0.77 → 0.01" was the checker's jargon.
    change = (
        f"match with the entry {baseline:.0%} → {current.score:.0%}"
        if baseline is not None
        else f"match with the entry {current.score:.0%}"
    )
    title = next((e for e in current.evidence if e.startswith("page title ")), None)
    if current.markers:
        labels = " and ".join(MARKER_LABELS.get(m, m) for m in current.markers)
        phrases = ", ".join(e for e in current.evidence if e is not title)
        reason = (
            f"{MARKED_REASON}{labels} page ({phrases}) ({change}); check it by hand "
            "and remove or replace the link if the domain changed hands."
        )
        return DriftVerdict(reason, current.score, baseline, current.markers)
    if not current.substantial:
        return None
    seen = f", {title}" if title else ""
    if baseline is not None:
        if current.score < baseline * drop and current.score < LOW_SCORE:
            reason = (
                f"The page no longer matches the entry ({change}{seen}); check that it "
                "still holds this resource and update the link or the entry."
            )
            return DriftVerdict(reason, current.score, baseline, ())
        return None
    if current.score < floor:
        reason = (
            f"The page shares almost nothing with the entry ({change}{seen}); check that "
            "the link leads to this resource."
        )
        return DriftVerdict(reason, current.score, None, ())
    return None
