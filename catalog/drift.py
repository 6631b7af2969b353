"""Drift: does the page at a link still hold the resource its catalog entry describes?

Stage: health (pure judging, no I/O). Inputs: the entry's title and description, and the
page title and text sample (`Observation.title`, `Observation.text_sample`) of one
successful check, the end of a long page's text (`Observation.text_tail`, read for markers
only: spam injected into a footer sits there), plus the link's earlier relevance scores.
Outputs: a `Relevance` (score, spam markers, evidence) per check, and a `DriftVerdict`
when the page has stopped matching.

Why: a clearinghouse for law-enforcement and victim-services material must not keep
linking a lapsed domain's new owner (a parked domain, a casino, an adult or spam site).
Two independent signals, each cheap (well under a millisecond per page):

* markers: phrases typical of parked, for-sale, gambling, adult, pharmacy-spam and
  crypto-scam pages. Each category needs several weak phrases or one strong one, and a
  phrase the entry itself uses never counts. The catalog is about sex trafficking, so
  words such as "sex", "prostitution", "escort" or "pornography" are never markers; and
  on a page that still matches its entry, phrases a report on trafficking uses about its
  subject (scam compounds' "online casino" and "usdt", sextortion's "nude") do not count
  either: there only spam's own phrases ("free spins", "slot gacor") mean a takeover. In
  a long page's tail (a report's closing words, a news site's "related news" aside) only
  phrases no news of the crime uses count, or several packed as a list of links is.
* relevance: overlap of content words (lower-cased, accents folded, stop words removed,
  lightly stemmed so "traffickers"/"trafficking" and "victims"/"víctimas" meet) between
  entry and page, weighted toward the entry's title. A sharp fall from the link's own
  history, or a very low score on a first look, means drift; pages with little text
  (PDFs without a text sample, script-only shells) are judged by markers alone, as are
  reads cut short before the text's sample (a slow night's menu: `known_score`).
* text: the share of the entry's words beyond the page's title found in the page's text.
  The score counts the title's words as the page's, so a page emptied, or left with "This
  resource is no longer available" under its old title, still scored ~0.8 and stayed OK
  (`judge_emptied`).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import filterfalse
from urllib.parse import unquote, urlsplit

from catalog.text import media_type, strip_accents
from catalog.urls import site_host

__all__ = [
    "EMPTIED_REASON",
    "MARKED_REASON",
    "MARKER_LABELS",
    "MIN_PAGE_WORDS",
    "REPLACED_REASON",
    "DriftVerdict",
    "Relevance",
    "document_kind",
    "find_markers",
    "judge_drift",
    "judge_emptied",
    "judge_replaced_document",
    "known_score",
    "known_text_share",
    "names_emptied",
    "names_markers",
    "names_replaced",
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


#: How the reason for a document that a web page replaced begins (`judge_replaced_document`).
REPLACED_REASON = "The link no longer serves its document: "


def names_replaced(reason: str) -> bool:
    """Whether a drift reason was given for a document (a report's PDF) that a web page not
    naming the entry replaced: its site's error or home page, say."""
    return reason.startswith(REPLACED_REASON)


#: Marker code -> what the page looks like, for curators.
MARKER_LABELS: dict[str, str] = {
    "parking": "parked or domain-for-sale",
    "gambling": "gambling",
    "adult": "adult-content",
    "pharma": "pharmacy-spam",
    "crypto": "crypto-scam",
    "placeholder": "web host's placeholder",
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
    #: Share of the entry's words (title and description) that the page's title lacks
    #: found in its text; None when the page's title holds them all (nothing to look for).
    text: float | None = None

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
    for piece in list(filterfalse(str.isascii, counts)):
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
    # Set difference and `map` in C: a Python step per distinct word was a fifth of a page's
    # judging.
    kept = [w for w in counts.keys() - _STOP_WORDS if len(w) > 2]
    return set(map(_stem, kept)), sum(map(counts.__getitem__, kept))


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
            "situs slot",
            "daftar slot",
            "rtp live",
            "rtp slot",
            "maxwin",
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
    # A lapsed hosting account or a reinstalled server: the host's page, not the resource.
    # Most are a title and a sentence (under `MIN_PAGE_WORDS`), so relevance cannot tell;
    # titles and whole short texts are matched by `_PLACEHOLDER` (`placeholder_page`).
    "placeholder": _Markers(
        strong=(
            "this account has been suspended",
            "nginx web server is successfully installed",
            "default welcome page used to test the correct operation of the apache",
            "this page is used to test the proper operation of the apache",
            "this page is used to test the proper operation of the nginx",
            "future home of something quite cool",
        ),
        weak=(),
        weak_needed=1,
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
        # Indonesian news of the crime ("Satgas Pemberantasan Judi Online", "blokir 2.000
        # situs judi", "judi slot online") and reports of what compound workers were forced
        # to promote ("online slots", "a fake welcome bonus").
        *("judi online", "situs judi", "slot online", "online slots", "welcome bonus"),
    )
)

#: Phrases only spam pages use, never news or reports of the crime: in a long page's tail
#: (`relevance(tail=)`) one of them is enough, where a phrase news also uses is not.
_SPAM_ONLY = frozenset(
    (
        *("slot gacor", "situs slot", "daftar slot", "rtp live", "rtp slot", "maxwin"),
        *("viagra", "cialis", "levitra", "kamagra", "buy tramadol"),
        *("free porn", "xxx video", "xxx videos", "free sex videos"),
    )
)
#: ... or this many distinct phrases of one category, packed as a list of links is: at
#: most `_LIST_GAP_WORDS` words from one to the next, and no sentence's end between.
_LIST_PHRASES = 3
_LIST_GAP_WORDS = 3
_SENTENCE_END = re.compile(r"[.!?;](?:\s|$)")

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
    for piece in list(filterfalse(str.isascii, words)):
        words.discard(piece)
        words.update(_ANY_WORD.findall(piece))
    return words


def _phrase_words(markers: _Markers) -> tuple[tuple[frozenset[str], bool], ...]:
    """Per phrase of the category: the words it needs on the page, and whether it is strong."""
    return tuple(
        (frozenset(_ANY_WORD.findall(p.casefold())), p in markers.strong)
        for p in (*markers.strong, *markers.weak)
    )


#: A phrase, as `_may_fire` tests it: the words it needs on the page, and whether it is strong.
_Needs = tuple[frozenset[str], bool]


@dataclass(frozen=True)
class _PhraseIndex:
    """A category's phrases, each filed under one word it needs (its longest: the rarest,
    most often), so that a page is tested only against the phrases one of its words files.
    A set test per phrase, six categories and two texts a page, was ~20 µs of a judged
    page, almost always to find nothing."""

    #: The words phrases are filed under.
    keys: frozenset[str]
    by_key: dict[str, tuple[_Needs, ...]]
    #: Phrases that need no word at all (none today): possible on every page.
    anywhere: tuple[_Needs, ...]


def _phrase_index(markers: _Markers) -> _PhraseIndex:
    by_key: dict[str, list[_Needs]] = {}
    anywhere: list[_Needs] = []
    for needed, strong in _phrase_words(markers):
        if not needed:
            anywhere.append((needed, strong))
            continue
        key = max(sorted(needed), key=len)  # sorted first: the same key on every run
        by_key.setdefault(key, []).append((needed, strong))
    return _PhraseIndex(
        frozenset(by_key), {k: tuple(v) for k, v in by_key.items()}, tuple(anywhere)
    )


#: Per category (keyed by the `_Markers` object itself: hashing its phrase tuples on every
#: call cost as much as the test), its phrase index, made once at import.
_PHRASE_INDEX = {id(m): (m, _phrase_index(m)) for m in _CATEGORIES.values()}


def _may_fire(markers: _Markers, words: set[str]) -> bool:
    """False when no phrase of the category can match: a set test per phrase spares the
    big case-insensitive pattern on the great majority of pages, which carry no marker.
    Only the phrases filed under a word of the page are tested (`_PhraseIndex`): each
    phrase once, so the count of possible weak phrases is the one a test of every phrase
    gives."""
    known = _PHRASE_INDEX.get(id(markers))
    index = known[1] if known is not None and known[0] is markers else _phrase_index(markers)
    phrases = index.anywhere
    for key in index.keys.intersection(words):  # none, on nearly every page
        phrases += index.by_key[key]
    possible = 0
    for needed, strong in phrases:
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


#: A hosting placeholder's whole title, or the whole text of a page that has no more
#: (lower case, spaces collapsed, end punctuation removed): "Account Suspended", "Welcome to
#: nginx!", "IIS Windows Server", "It works!", "Index of /", "Default Web Site Page". Whole
#: only: "How it works" or a guide to nginx is a page, not the placeholder.
_PLACEHOLDER = re.compile(
    r"(?:(?:this )?(?:hosting )?(?:account|website|web site|site|domain)(?: has been| is)?"
    r" (?:suspended|disabled|deactivated))"
    r"|welcome to nginx(?: on [a-z]+(?: linux)?)?"
    r"|test page for (?:the )?(?:nginx|apache)(?: http)? server(?: on [a-z ]{1,40})?"
    r"|apache2? (?:[a-z]+ )?default page(?:: it works)?"
    r"|iis(?: ?\d{1,2}(?:\.\d)?)?(?: windows(?: server)?)?"
    r"|(?:microsoft )?internet information services(?: \d{1,2}(?:\.\d)?)?"
    r"|default web site page|web server'?s default page|domain default page"
    r"|future home of something quite cool"
)
#: Placeholders whose words a real page may bear as its title ("It works!" over a story of
#: a program that works): only on a page with too little text to be such a story.
_BARE_PLACEHOLDER = re.compile(r"it works|index of /")
#: Only a text this short can be a placeholder as a whole; also bounds the work per page.
_PLACEHOLDER_CHARS = 80


def placeholder_page(
    page_title: str | None, page_text: str | None, *, ignore: str = "", thin: bool = True
) -> str | None:
    """The title (or whole short text) that makes the page a web host's placeholder, or
    None. Not when the entry (`ignore`) is titled so itself; "It works!" and "Index of /"
    only on a `thin` page (fewer than `MIN_PAGE_WORDS`)."""
    for said in (page_title, page_text):
        if not said or len(said) > _PLACEHOLDER_CHARS:
            continue
        plain = " ".join(said.casefold().split()).rstrip("!.: ")
        known = _PLACEHOLDER.fullmatch(plain) or (thin and _BARE_PLACEHOLDER.fullmatch(plain))
        if known and plain not in ignore.casefold():
            return " ".join(said.split())
    return None


#: "<domain> is for sale", as marketplaces word their page ("The domain name
#: ovcttac.gov is for sale"). Only a domain name before it: "children are for sale" is
#: what a report on trafficking may say.
_DOMAIN_FOR_SALE = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
    r"\s+(?:is|may\s+be)\s+for\s+sale(?!\w)",
    re.IGNORECASE,
)
_FOR_SALE = re.compile(r"for\s+sale", re.IGNORECASE)
#: Domain marketplaces: a link sent there by a redirect leads to its domain's sale page.
_MARKETPLACES = frozenset(
    ("dan.com", "afternic.com", "sedo.com", "hugedomains.com", "buydomains.com")
)
_MARKETPLACE_PATH = re.compile(r"forsale|domainsearch|domaintocheck", re.IGNORECASE)


def marketplace(url: str | None, final_url: str | None) -> str | None:
    """The domain marketplace a redirect led the link to (`url` to `final_url`), or None.
    GoDaddy's own pages count only on its for-sale and domain-search addresses."""
    host, there = site_host(url), site_host(final_url)
    if not there or there == host:
        return None
    if there in _MARKETPLACES:
        return there
    if there == "godaddy.com" and _MARKETPLACE_PATH.search(final_url or ""):
        return there
    return None


def _parking_beyond_phrases(
    page: str, url: str | None, final_url: str | None, ignore: str
) -> str | None:
    """What shows a for-sale page that no fixed phrase of the parking markers names: the
    marketplace a redirect led to, or "<domain> is for sale" on the page."""
    market = marketplace(url, final_url)
    if market is not None and market not in ignore.casefold():
        return f"redirected to {market}, a domain marketplace"
    if _FOR_SALE.search(page):  # the plain phrase first: the pattern costs more per page
        found = _DOMAIN_FOR_SALE.search(page)
        if found is not None:
            return " ".join(found.group(0).split())
    return None


# --- relevance --------------------------------------------------------------------------


def relevance(
    entry_title: str,
    entry_description: str | None,
    page_title: str | None,
    page_text: str | None,
    *,
    url: str | None = None,
    final_url: str | None = None,
    tail: str | None = None,
) -> Relevance:
    """How well a page matches the catalog entry; see the module docstring for the parts.
    `url` and `final_url` (where redirects led the link) tell a domain marketplace.
    `tail` is the end of a long page's text past `page_text`: read for spam's own markers
    only (spam injected into a footer), so that its words do not move the score and a
    footer naming its subject ("casino", "sports betting") does not fire.

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
    ignore = f"{entry_title}\n{entry_description or ''}"
    found = find_markers(
        page, ignore=ignore, subject_too=words >= MIN_PAGE_WORDS and score >= STILL_MATCHES
    )
    if tail:
        for code, phrases in _tail_markers(tail, ignore).items():
            found.setdefault(code, phrases)
    _add_marker(found, "parking", lambda: _parking_beyond_phrases(page, url, final_url, ignore))
    _add_marker(
        found,
        "placeholder",
        lambda: placeholder_page(page_title, page_text, ignore=ignore, thin=words < MIN_PAGE_WORDS),
    )
    wanted = (title_terms | desc_terms) - page_title_terms
    text_share = round(len(wanted & text_terms) / len(wanted), 3) if wanted else None
    if found:
        # Parking pages echo the domain's words ("Related searches: Hotline Services") and
        # spam pages stuff keywords: their overlap says nothing about the resource.
        score *= MARKED_PAGE_FACTOR
    evidence = [f"'{p}'" for phrases in found.values() for p in phrases]
    if page_title:
        evidence.append(f"page title '{_clip(page_title)}'")
    return Relevance(round(score, 3), tuple(found), tuple(evidence), words, text_share)


def _tail_markers(tail: str, ignore: str) -> dict[str, tuple[str, ...]]:
    """`find_markers` of a long page's end, where only what spam pages show counts: a
    phrase of `_SPAM_ONLY` ("slot gacor", "RTP live"), or `_LIST_PHRASES` distinct phrases
    of one category packed as a list of links (`_listed`). A report's closing paragraph
    or a news site's "related news" aside names the crime in its own words ("Satgas
    Pemberantasan Judi Online", "blokir 2.000 situs judi", "forced to promote online slots
    and sportsbook apps"), whatever the head scored; `_SUBJECT_MATTER` never counts here."""
    fired: dict[str, tuple[str, ...]] = {}
    # Most tails fire nothing at all: the cheap test first, the positions only then.
    for code in find_markers(tail, ignore=ignore, subject_too=True):
        markers = _CATEGORIES[code]
        hits = [
            (match, key)
            for match in _pattern(*markers.strong, *markers.weak).finditer(tail)
            if (key := _key(match.group(0))) not in _SUBJECT_MATTER and not _entry_uses(key, ignore)
        ]
        shown = {key: " ".join(m.group(0).split()) for m, key in hits if key in _SPAM_ONLY}
        for key, phrase in _listed(tail, hits).items():
            shown.setdefault(key, phrase)
        if shown:
            fired[code] = tuple(list(shown.values())[:_EVIDENCE_PER_MARKER])
    return fired


def _listed(text: str, hits: Sequence[tuple[re.Match[str], str]]) -> dict[str, str]:
    """The distinct phrases (key -> as written) of the longest run of `hits` that reads as
    a list of links ("slot gacor judi online situs judi | togel"), when it has at least
    `_LIST_PHRASES`; else nothing. Sentences keep their phrases apart: "forced to promote
    online slots and sportsbook apps to strangers, offering a fake welcome bonus"."""
    best: dict[str, str] = {}
    run: dict[str, str] = {}
    end: int | None = None
    for match, key in hits:
        if end is not None:
            gap = text[end : match.start()]
            if len(_any_words(gap)) > _LIST_GAP_WORDS or _SENTENCE_END.search(gap):
                run = {}
        run.setdefault(key, " ".join(match.group(0).split()))
        end = match.end()
        if len(run) > len(best):
            best = dict(run)
    return best if len(best) >= _LIST_PHRASES else {}


def _add_marker(
    found: dict[str, tuple[str, ...]], code: str, evidence: Callable[[], str | None]
) -> None:
    """Fire marker `code` with `evidence` unless a phrase fired it already (then its
    evidence is the phrase's, and the extra test is spared)."""
    if code not in found:
        shown = evidence()
        if shown is not None:
            found[code] = (shown,)


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
    short_of_sample: bool = False,
) -> DriftVerdict | None:
    """Whether the page has drifted from its entry, given the link's earlier scores.

    Markers always mean drift. Otherwise, on a page with substantial text: a score below
    `drop` times the median of `history` (and below `LOW_SCORE`), or, with no history, a
    score below `floor`. `history` should hold scores of substantial pages only (and of
    a read cut short, only its `known_score`).

    A read cut short whose text ended before the sample a full read takes
    (`short_of_sample`, as in `known_text_share`) is judged by its markers alone: its score
    is a floor of the full read's. A slow night's read of a page builder's menu (its 300 KB
    of CSS after it) under a title naming none of the entry's words ("Home | Office of
    Justice Programs") scored 0: "no longer matches (it shared 68%, now 0%)", and the next
    fast night "matches again", on every slow night."""
    baseline = round(statistics.median(history), 3) if history else None
    # In words a curator reads: "relevance 0.77 → 0.01" was the checker's jargon, and
    # "match with the entry 0%" a form's.
    change = (
        f"it shared {baseline:.0%} of the entry's words, now {current.score:.0%}"
        if baseline is not None
        else f"it shares {current.score:.0%} of the entry's words"
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
    if not current.substantial or short_of_sample:
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


#: How the reason for a page whose text lost the entry's words begins (`judge_emptied`).
EMPTIED_REASON = "The page no longer matches the entry: its text lost the entry's words"


def names_emptied(reason: str) -> bool:
    """Whether a drift reason was given for a page's text that lost the entry's words
    (`judge_emptied`), which only a read to the page's end can tell."""
    return reason.startswith(EMPTIED_REASON)


#: The text held at least this share of the entry's words (median of the link's history)...
TEXT_HAD = 0.4
#: ... and now holds at most this share, and less than half as much: it lost them.
TEXT_GONE = 0.15
#: Earlier reads of the text `judge_emptied` needs: one read is no pattern.
TEXT_READS = 2
#: What a page says when its resource went, under the heading it kept.
_GONE_NOTICE = re.compile(
    r"no\s+longer\s+(?:available|maintained|supported|online|accessible|updated)"
    r"|(?:has|have)\s+been\s+(?:removed|archived|retired|discontinued|taken\s+down|deleted)",
    re.IGNORECASE,
)


#: Slow nights' reads in a row after which a read short of its sample is judged by its
#: score as a full read is (`known_score`): a host slow on every night sends nothing better,
#: and a page replaced there is flagged late rather than never.
SHORT_READS = 3


def known_score(score: float, *, short_of_sample: bool) -> float | None:
    """The score a read adds to its link's history for `judge_drift`, or None: what the
    read can know of the score a full read shows.

    A read cut short before the sample a full read takes (`short_of_sample`) saw only the
    text's start, and more text only adds the entry's words: its score is a floor. One of
    at least `STILL_MATCHES` tells the page holds its resource and counts; a lower one
    tells nothing (the menu of a slow night's read: 0), and slow nights of them would drag
    the median down, so that a page later replaced is measured against too low a bar.
    After `SHORT_READS` slow nights in a row, the read counts as a full one
    (`health.slow_run`)."""
    if short_of_sample and score < STILL_MATCHES:
        return None
    return score


def known_text_share(text: float | None, *, short_of_sample: bool) -> float | None:
    """The text share (`Relevance.text`) a read adds to its link's history for
    `judge_emptied`, or None: what the read can know of the share a full read shows.

    The history holds shares of the checker's sample, the text's first 2,000 characters. A
    slow night's read (its first 256 KiB) whose text ended before the sample would
    (`short_of_sample`, `health.short_of_sample`) saw only its start: its share is a
    floor. One of at least `TEXT_HAD` tells the text had the words and counts; a lower one
    tells nothing (a page builder's menu before its 300 KB of CSS: 0), and a few slow nights
    of them made the median 0, so the page emptied under its old title later stayed OK. A
    cut read whose text ran past the sample shows the sample a full read shows, and one cut
    at the byte or tag cap the text every night's read shows."""
    if text is None or (short_of_sample and text < TEXT_HAD):
        return None
    return text


def judge_emptied(
    current: Relevance,
    history: Sequence[float],
    *,
    whole: bool,
    entry_title: str = "",
    page_text: str | None = None,
    content_type: str | None = None,
    was_title: str | None = None,
    drift_reason: str | None = None,
    cut: bool = False,
    kept_text: float | None = None,
) -> DriftVerdict | None:
    """Whether the page's text lost the entry's words it had, under a title that kept them:
    the page emptied, or its content replaced by "This resource is no longer available" or
    "archived and no longer maintained". `history` holds the link's earlier `text` shares
    (of substantial pages that did not drift); `whole` says the text sample is the page's
    whole text. `was_title` is the page's title before this read: the reason says the
    title was kept only when it is the same. `drift_reason` is the entry's drift flag: one
    set by this rule keeps holding on a read `cut` short whose text still lacks the entry's
    words (`kept_text`: their share in all the text it kept, sample and tail), as on a HEAD
    night: that read never reached the page's end, so it cannot say the words are back (it
    cleared the flag, and the next whole read dated the drift afresh). A full read of a
    page longer than the sample holds no flag: it read the page to its end, whose words
    may lie between the sample and tail the checker kept (a guide restored between a long
    menu and footer was held "no longer matches" at every read). A read cut short
    adds to `history` only the share it can know (`known_text_share`).

    Only an HTML page (`content_type`, or none given) with text is judged: a landing page
    replaced by the resource's own PDF has no text sample, only the document's title, and
    its text share of 0 said nothing went (the resource is right there).

    The rule is the one with the fewest false alarms: it compares the page with itself,
    not with a fixed bar, so a landing page whose text never named the entry (a download
    link under the entry's title) or a thin page has nothing to lose and stays quiet; and
    it needs the whole text read (a long page's sample may be its menu) and two earlier
    reads whose text held at least `TEXT_HAD` of the words, now at most `TEXT_GONE`. A text
    that still names the entry (a word of `entry_title` in `page_text`: a heading kept, or
    "Download the e-Guide" left of a page trimmed to its link) counts only beside a notice
    that the resource went ("no longer available", "has been archived"). A phrase list
    alone would miss a page simply emptied and fire on pages that quote such notices. A
    site rebuilt to draw its text by script looks the same to the checker, and deserves
    the same look by hand.
    """
    if current.markers or current.text is None:
        return None
    web_page = content_type is None or media_type(content_type) in _WEB_PAGES
    if not whole:
        if not cut or drift_reason is None or not names_emptied(drift_reason) or not web_page:
            return None
        if max(current.text, kept_text or 0.0) > TEXT_GONE:
            return None  # the words it holds are back, whatever lies past the cut
        held = round(statistics.median(history), 3) if history else None
        return DriftVerdict(drift_reason, current.score, held, ())
    if len(history) < TEXT_READS or not page_text or not web_page:
        return None
    baseline = round(statistics.median(history), 3)
    if baseline < TEXT_HAD or current.text > TEXT_GONE or current.text >= baseline / 2:
        return None
    names = bool(_terms(entry_title) & _terms(page_text))
    if names and not _GONE_NOTICE.search(page_text or ""):
        return None
    title = next((e for e in current.evidence if e.startswith("page title ")), None)
    seen = f", {title}" if title else ""
    if title and _same_title(was_title, title):
        seen += " kept"
    reason = (
        f"{EMPTIED_REASON} (its text shared {baseline:.0%} of them, now {current.text:.0%}"
        f"{seen}); the resource may have been removed or archived: check the page and "
        "update the link or the entry."
    )
    return DriftVerdict(reason, current.score, baseline, ())


def _same_title(was: str | None, evidence: str) -> bool:
    """Whether the page title `evidence` shows ("page title '...'", clipped) is `was`."""
    return was is not None and evidence == f"page title '{_clip(was)}'"


# --- a document replaced by a web page ------------------------------------------------------

#: Media types of the documents a catalog links (reports, guides, fact sheets) -> their name.
_DOCUMENT_KINDS = {
    "application/pdf": "PDF",
    "application/x-pdf": "PDF",
    "application/msword": "Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.oasis.opendocument.text": "document",
    "application/rtf": "document",
    "application/vnd.ms-excel": "spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "spreadsheet",
    "application/vnd.ms-powerpoint": "presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "presentation",
    "application/epub+zip": "e-book",
}
_WEB_PAGES = frozenset(("text/html", "application/xhtml+xml"))
#: Share of the entry's title words a page's title needs to name it ("2019 Annual Report |
#: Agency" for "Annual Report 2019"), as a landing page for the document does.
_NAMES_TITLE = 0.75
#: Where a title's main part ends: "Annual Report: Human Trafficking Task Forces".
_SUBTITLE = re.compile(r"\s*(?::|\s[-–—|]\s)\s*")


def document_kind(content_type: str | None) -> str | None:
    """ "PDF", "Word document", ... for a document's media type; None for a web page or
    anything else."""
    return _DOCUMENT_KINDS.get(media_type(content_type) or "")


def _names_entry(
    entry_title: str, page_title: str | None, page_text: str | None, url: str | None
) -> bool:
    """Whether a page names the entry as a landing page for its document does: most of
    the entry's title words in the page's title, or the title (or its main part, before a
    subtitle) word for word in the page's text ("Download the 2019 Annual Report on Human
    Trafficking Task Forces (PDF)"), or the file name of the link (`url`) as a viewer
    shows it ("annual-report-2019.pdf"). A site's home page or error page does none."""
    wanted = _terms(entry_title)
    if not wanted:
        return True  # nothing to look for: no grounds to call the page another
    if page_title and len(wanted & _terms(page_title)) >= _NAMES_TITLE * len(wanted):
        return True
    said = " ".join((page_title or "", page_text or ""))
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url else ""
    if "." in name.strip(".") and name.casefold() in said.casefold():
        return True
    page = " " + " ".join(_words(_fold(said))) + " "
    for run in (entry_title, _SUBTITLE.split(entry_title, maxsplit=1)[0]):
        words = " ".join(_words(_fold(run)))
        if len(_terms(run)) >= min(3, len(wanted)) and f" {words} " in page:
            return True
    return False


def judge_replaced_document(
    current: Relevance,
    entry_title: str,
    page_title: str | None,
    page_text: str | None,
    *,
    was_type: str | None,
    now_type: str | None,
    drift_reason: str | None = None,
    url: str | None = None,
) -> DriftVerdict | None:
    """Whether a link that served a document (`was_type`: the report's PDF) now answers
    with a web page (`now_type`) that is not the document's landing page, e.g. the site's
    "An error occurred" page or its home page, answered with 200: the document is gone.

    `url` is the link's address. `drift_reason` is the link's drift flag: one set by this
    rule keeps holding on later checks (by then the link's last type is the web page's)
    until the page names the entry or the document is back. A page that names the entry
    (`_names_entry`) is the publisher's own page for the document and no drift.

    A web page is what was read, not its label: a server that keeps the missing file's
    type serves its error page as `application/pdf`, read as the HTML page it is
    (`content.analyse_body`), so a document's label over a page's text is a web page (a
    document's own bytes give no text).
    """
    now = media_type(now_type)
    if now not in _WEB_PAGES and not (document_kind(now) is not None and page_text):
        return None
    kind = document_kind(was_type)
    still = drift_reason is not None and names_replaced(drift_reason)
    if kind is None and not still:
        return None
    if _names_entry(entry_title, page_title, page_text, url):
        return None
    if kind is None and drift_reason is not None:
        return DriftVerdict(drift_reason, current.score, None, ())
    seen = f"page title '{_clip(page_title)}'" if page_title else "a page without a title"
    served = now if now in _WEB_PAGES else f"served as {now}"
    reason = (
        f"{REPLACED_REASON}it served a {kind} ({media_type(was_type)}) and now answers with "
        f"a web page ({served}) that does not name the entry ({seen}); find "
        f"where the {kind} is now, or remove the entry if it is gone."
    )
    return DriftVerdict(reason, current.score, None, ())
