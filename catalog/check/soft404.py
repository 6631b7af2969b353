"""Soft-404 heuristics: a 200 answer that means "not here".

Stage: check (pure judging, no I/O). Inputs: the requested and final URLs, the
`PageFacts` of the page and, optionally, of a probe URL that cannot exist on the same
site. Outputs: one sentence for curators saying why the page looks missing, or None.

Three independent signals, each conservative (a false "missing" costs a curator more
than a missed one, which the next signals or a person may still catch):

* `redirect_soft404`: a deep link was sent to a home page, the site's search
  (`landing`) or an error-looking URL; by the server or, read by `classify`, by the page
  (a prompt refresh; a slower one or a script run on load, from a short page that only
  says it moved: `forwarding_notice`, `script_redirect`).
* `page_soft404`: the title, main heading or whole (short) text *is* an error message.
* `probe_soft404`: the site answers 200 for a path that cannot exist, and this page
  looks the same as that answer: its text, and its title and heading (`_labels_agree`)
  unless its text has no words of its own (`_says_more`).

A page that works but that only a person can judge gets a note instead: the shell of a
script-built site (`unverified_shell`), or a page that showed text and now shows only
scripts under its domain's name, as parked domains do (`lapsed_shell`).
"""

from __future__ import annotations

import html
import json
import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from catalog.check import not_found_words
from catalog.check.content import (
    PageFacts,
    Words,
    analyse_body,
    similar_enough,
    stable_text,
    title_parts,
    words_up_to,
)
from catalog.check.not_found_words import plain
from catalog.check.script_load import runs_on_load
from catalog.model import Previous
from catalog.settings import CheckSettings
from catalog.text import clipped, strip_accents
from catalog.urls import site_host

__all__ = [
    "CHALLENGE_PLATFORM",
    "LAPSED_SHELL",
    "PROBE_PREFIX",
    "PROBE_TRIES",
    "Landing",
    "forwarding_notice",
    "is_error_url",
    "is_home_path",
    "landing",
    "lapsed_shell",
    "may_name_a_message",
    "page_soft404",
    "probe_cut_short",
    "probe_soft404",
    "probe_time",
    "probe_url_for",
    "redirect_soft404",
    "script_redirect",
    "unverified_shell",
    "video_status",
]

#: Start of the last path segment of every probe URL, so site owners can tell what it was.
PROBE_PREFIX = "linkhealth-probe-"
#: Page and probe at least this similar (0..1) mean the page is the site's "missing" page.
PROBE_SIMILARITY = 0.9

# --- (a) redirects ----------------------------------------------------------------------

#: A site's front page: "/", "/index.html", "/home", "/default.aspx", optionally behind a
#: language prefix ("/en/", "/es-mx/inicio").
#: ISO 639-1 codes that sites use as language roots ("/en/", "/es-mx/"). Only real codes:
#: any two letters would make "/go" or "/ok" a home page and every redirect there a soft 404.
_LANGUAGES = [
    "ar",
    "bg",
    "bn",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fa",
    "fi",
    "fr",
    "ga",
    "he",
    "hi",
    "hr",
    "ht",
    "hu",
    "hy",
    "id",
    "it",
    "ja",
    "ka",
    "km",
    "ko",
    "lo",
    "lt",
    "lv",
    "mn",
    "ms",
    "my",
    "ne",
    "nl",
    "no",
    "pl",
    "ps",
    "pt",
    "ro",
    "ru",
    "sk",
    "sl",
    "so",
    "sq",
    "sr",
    "sv",
    "sw",
    "ta",
    "th",
    "tl",
    "tr",
    "uk",
    "ur",
    "uz",
    "vi",
    "yi",
    "zh",
]
_HOME_PATH = re.compile(
    rf"(?:/(?:{'|'.join(_LANGUAGES)})(?:[-_][a-z]{{2}})?)?"
    # SharePoint keeps a site's front page in its Pages library: "/Pages/default.aspx",
    # "/SitePages/Home.aspx"; Europa's are "/index_en.htm".
    r"(?:(?:/(?:pages|sitepages))?/(?:index|default|home|homepage|inicio|portada|accueil|start"
    rf"|welcome)(?:[-_](?:{'|'.join(_LANGUAGES)}))?(?:\.[a-z]{{2,5}})?)?/*",
    re.IGNORECASE,
)
#: One path segment (extension removed) that names an error page.
_ERROR_SEGMENT = re.compile(
    r"(?:custom|http)?(?:error|errors|err|oops)?[-_]?"
    r"(?:(?:page|pagina)?[-_]?(?:not[-_]?found|no[-_]?encontrad[ao]|introuvable)"
    r"[-_]?(?:page|error)?"  # SharePoint's "PageNotFoundError.aspx"
    r"|error(?:[-_]?(?:page|\d{3}))?|errors|(?:404|410)(?:[-_]?(?:error|page))?|fehler|erreur)",
    re.IGNORECASE,
)
_ERROR_QUERY = re.compile(r"(?:^|&)(?:aspxerrorpath|errorpath|error|err)=", re.IGNORECASE)


def redirect_soft404(requested: str, final: str) -> str | None:
    """Why a redirect from `requested` to `final` means the resource is gone, or None: it
    ends on an error page, or on a page that stands for no resource (`landing`: the home
    page, with or without a query that only tags the visit, or the site's search)."""
    req, fin = urlsplit(requested), urlsplit(final)
    req_path, fin_path = req.path or "/", fin.path or "/"
    if is_error_url(final) and not is_error_url(requested):
        return f"the link was redirected to an error page ({final})"
    if _same_place(req_path, fin_path) and (req.query == fin.query or not req.query):
        return None  # http -> https, a trailing slash, another host for the same path
    lands = landing(final)
    # The home page or a search is never missing itself: "/" -> "/?lang=en" is the site.
    if lands is None or landing(requested) is not None:
        return None
    # "/?p=123" -> "/" dropped the content ("/?p=123" -> "/en/" may be the way to a language).
    if is_home_path(req_path) and not _same_place(req_path, fin_path):
        return None
    same_site = site_host(requested) == site_host(final)
    if lands is Landing.SEARCH:
        where = "the site's search" if same_site else f"the search of {fin.netloc}"
    else:
        where = "the site's home page" if same_site else f"the home page of {fin.netloc}"
    return f"the link was redirected to {where} ({final}) instead of the resource"


class Landing(Enum):
    """A page that stands for no resource: where a site sends what it no longer has."""

    HOME = "home"
    SEARCH = "search"


#: Query keys (lower-cased) that name no content: campaign tags and click ids, the language
#: to show the page in, a note that a redirect happened. The home page with these is the
#: home page ("/?utm_source=old-site", "/?lang=en"); any other key may name a page
#: ("/?p=123" on WordPress, "/index.php?title=X" on MediaWiki). "ref", "src" and "source"
#: name no content whatever they hold: a few scripts name pages with them, but far more
#: sites tag a dead link's redirect home with them ("/?ref=404", "/?source=legacy").
_NO_CONTENT_KEYS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ref",
        "src",
        "source",
        "referer",
        "referrer",
        "from",
        "origin",
        "campaign",
        "lang",
        "language",
        "locale",
        "hl",
        "lng",
        "culture",
        "moved",
        "notfound",
        "404",
    }
)
#: Keys that note a redirect: with a path ("/?redirect=/reports/2019") they are how a
#: static host hands the page to the app that shows it (single-page apps), so content;
#: with a full address ("/?redirect=https://old.example.org/reports/2019.pdf") they say
#: where the visit came from, so none.
_REDIRECT_NOTE_KEYS = frozenset({"redirect", "redirected", "redir"})
#: Query keys (lower-cased) that hold a search's words.
_SEARCH_KEYS = frozenset(
    {
        "s",
        "q",
        "k",
        "kw",
        "query",
        "search",
        "searchtext",
        "search_text",
        "searchterm",
        "search_term",
        "search_query",
        "keyword",
        "keywords",
        "keys",
        "term",
        "terms",
        "search_api_fulltext",
    }
)
#: Further keys of a search from the home page ("/?s=report&post_type=page", WordPress).
_SEARCH_OPTIONS = frozenset({"post_type", "page", "paged", "sort", "order", "orderby", "submit"})
#: The last path segment (extension removed) of a site's search page: "/search",
#: "/search/Pages/results.aspx" (SharePoint), "/_layouts/15/osssearchresults.aspx".
_SEARCH_SEGMENT = re.compile(
    r"(?:oss)?search(?:[-_]?results?)?|results|suche|buscar|busqueda|buscador|busca|recherche"
    r"|ricerca|zoeken|pesquisa",
    re.IGNORECASE,
)


def landing(url: str) -> Landing | None:
    """What `url` is when it stands for no resource (a site's home page, its search), or
    None for a page of its own.

    Conservative: a query key that may name content keeps a home page's address a page
    ("/?p=123", Drupal's "/?q=publications", "/?redirect=/reports/2019"), a search needs
    its words ("/search" alone may be a catalog's own entry). A search narrowed by more
    keys ("/search?q=trafficking&type=dataset") is still the site's results for words,
    which change with the site and stand for no one resource."""
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return None
    pairs = [(key.lower(), value) for key, value in pairs]
    path = parts.path or "/"
    home = is_home_path(path)
    if home and all(_no_content(key, value) for key, value in pairs):
        return Landing.HOME
    if home:
        # On the home page only WordPress's "s" holds words: "q" there is Drupal's path
        # without clean URLs ("/?q=publications", "/index.php?q=about"), a page.
        if not any(key == "s" for key, _ in pairs):
            return None
        known = {"s"} | _SEARCH_OPTIONS
        return Landing.SEARCH if all(_no_content(k, v) or k in known for k, v in pairs) else None
    if not any(key in _SEARCH_KEYS and "/" not in value for key, value in pairs):
        return None
    last = path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return Landing.SEARCH if _SEARCH_SEGMENT.fullmatch(last) else None


def _no_content(key: str, value: str) -> bool:
    if key in _REDIRECT_NOTE_KEYS:  # "/?redirected=1", "/?redirect=https://old.example.org/x"
        return "/" not in value or _path_of(value) in ("", "/") or _has_host(value)
    return key in _NO_CONTENT_KEYS or key.startswith("utm_")


def _path_of(value: str) -> str | None:
    try:
        return urlsplit(value).path
    except ValueError:  # "http://[oops/": no address, no path it names
        return None


def _has_host(value: str) -> bool:
    try:
        return urlsplit(value).netloc != ""
    except ValueError:  # "http://[oops/": no address
        return False


def is_home_path(path: str) -> bool:
    """True for paths that name a site's (or a language's) front page."""
    return _HOME_PATH.fullmatch(path or "/") is not None


def is_error_url(url: str) -> bool:
    """True when a URL names an error page ("/404.html", "/PageNotFound", "?aspxerrorpath=")."""
    parts = urlsplit(url)
    if _ERROR_QUERY.search(parts.query):
        return True
    for segment in parts.path.split("/"):
        stem = segment.rsplit(".", 1)[0]  # "404.html" -> "404"; "404" as it is
        if stem and _ERROR_SEGMENT.fullmatch(stem):
            return True
    return False


def _same_place(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


# --- (b) the page says so ---------------------------------------------------------------

#: What is missing. "file or directory": IIS's "404 - File or directory not found.", which
#: misconfigured sites serve at 200, under a missing PDF's type too.
_THING = (
    r"(?:page|pages|file or directory|file|document|resource|content|article|item|url|link"
    r"|post|publication|report|web ?page|site)"
)
_YOU_WANTED = (
    r"(?: (?:that )?(?:you(?: (?:are|were|re|have|had))?|youre|youve)"
    r" (?:requested|request|looking for|searching for|trying to (?:reach|access|find|view)"
    r"|tried to (?:reach|access|find|view)|wanted|want))?"
)
_ES_THING = r"(?:(?:la |esta |el |este )?(?:pagina|documento|archivo|contenido|recurso|enlace))"
_ES_WANTED = (
    r"(?: (?:que )?(?:busca|buscas|buscaba|buscabas|esta buscando|estas buscando|solicito"
    r"|solicitaste|solicitada|solicitado|ha solicitado|has solicitado"
    r"|intentas? (?:ver|abrir)))?"
)
_FR_THING = r"(?:(?:la |cette |le )?(?:page|document|fichier|contenu|ressource))"
#: Whole-message patterns, matched against the entire normalized title part, heading or
#: short text (lower case, accents and punctuation removed).
_MESSAGES = [
    # English
    r"(?:http )?(?:error )?(?:404|410)(?: error)?(?: (?:page )?(?:not found|gone))?",
    rf"(?:(?:the|this|that) )?(?:requested )?(?:{_THING} )?not found",
    rf"(?:we )?(?:cant|cannot|can not|could not|couldnt|were unable to|are unable to)"
    rf"(?: seem to)? find (?:the|that|this|your|what you were looking for)(?: {_THING})?"
    rf"{_YOU_WANTED}",
    rf"(?:(?:the|this|that) )?(?:requested )?{_THING}{_YOU_WANTED}"
    r" (?:could not|cannot|can not|couldnt|cant|was not|wasnt|is not|isnt) be(?:en)? found",
    rf"(?:(?:the|this|that) )?(?:requested )?{_THING}{_YOU_WANTED}"
    r" (?:was|has been|have been|is)? ?not found(?: on this server)?",
    rf"(?:(?:the|this|that) )?{_THING}{_YOU_WANTED}"
    r" (?:does not|doesnt|did not|no longer|do not|dont) exists?(?: anymore)?",
    rf"(?:(?:the|this|that) )?(?:{_THING}{_YOU_WANTED} )?(?:(?:is|was|are) )?no longer available",
    rf"(?:(?:the|this|that) )?{_THING}{_YOU_WANTED}"
    r" (?:(?:is|was|are) not|isnt|wasnt|arent|not) available(?: anymore)?",
    rf"(?:(?:the|this|that) )?{_THING}{_YOU_WANTED}"
    r" (?:has been|have been|was|is|were) (?:removed|deleted|taken down|retired|unpublished)",
    rf"{_THING} (?:removed|deleted|gone|missing)",
    r"(?:there is )?nothing (?:here|found)",
    # Spanish (accents removed: "página no encontrada", "no se encontró", "ya no está")
    rf"(?:error )?(?:404 )?{_ES_THING}{_ES_WANTED} no (?:se )?(?:ha )?(?:encontrad[ao]|encontro"
    r"|existe|esta disponible|se encuentra disponible|se encuentra)",
    r"(?:lo sentimos )?no se (?:ha )?(?:encontro|encontraron|ha encontrado|pudo encontrar"
    rf"|puede encontrar|encuentra)(?: {_ES_THING}{_ES_WANTED})?",
    rf"(?:{_ES_THING}{_ES_WANTED} )?(?:ya )?no (?:existe|esta disponible)(?: mas)?",
    rf"(?:{_ES_THING} )?(?:no encontrad[ao]|inexistente|eliminad[ao]|retirad[ao])",
    # French ("page introuvable", "la page n'existe pas")
    rf"(?:erreur )?(?:404 )?{_FR_THING}(?: demandee| que vous recherchez)?"
    r" (?:est )?(?:introuvable|non trouvee|nexiste pas|nexiste plus|na pas ete trouvee)",
    r"(?:erreur )?(?:404 )?(?:page )?(?:introuvable|non trouvee)",
]
_FILLERS = (
    r"oops|ooops|whoops|sorry|uh oh|oh no|hmm|hmmm|error|ups|vaya|lo sentimos|disculpe"
    r"|desole|oups|erreur|http|\d{3}"
)
_TRAILERS = r"error|page|erreur|\d{3}"
_MESSAGE = re.compile(rf"(?:(?:{_FILLERS}) )*(?:{'|'.join(_MESSAGES)})(?: (?:{_TRAILERS}))*")
#: Pieces of words of which every message of `_MESSAGES` (English, Spanish, French) holds
#: one ("not found", "exist", "available", "introuvable" ...; a test generates messages from
#: each pattern to keep this list whole). A text with none of them is no message: substring
#: tests say so in about a microsecond, where `_MESSAGE.search` tries its alternatives at
#: every character (~80 µs a catalog title, ~0.8 CPU-s in the plan of every 10,000-entry run).
_MESSAGE_WORDS = (
    "404",
    "410",
    "found",
    "find",
    "exist",
    "available",
    "removed",
    "deleted",
    "taken",  # "taken down"
    "retired",
    "unpublished",
    "gone",
    "missing",
    "nothing",
    "encontr",
    "encuentra",
    "disponible",
    "eliminad",
    "retirad",
    "introuvable",
    "trouvee",
)


def _may_be_message(normal: str) -> bool:
    """False when the normalized `normal` holds no message of `_MESSAGES` anywhere."""
    return any(word in normal for word in _MESSAGE_WORDS)


#: `_MESSAGE` with the other languages' messages, fillers and trailers (`not_found_words`:
#: German, Portuguese, Italian, Dutch, Russian, Chinese, Japanese, Korean, Vietnamese,
#: Arabic). One alternation as long again costs twice as much on every title that is no
#: message (most of them), so it is tried only on text that can hold one (`_may_be_local`):
#: issue #7's budget per page stays what it was for English titles.
_LOCAL_FILLERS = "|".join(plain(f) for f in not_found_words.FILLERS)
_LOCAL_TRAILERS = "|".join(plain(f) for f in not_found_words.TRAILERS)
_LOCAL_MESSAGES = [plain(m) for m in not_found_words.MESSAGES]
_ANY_MESSAGE = re.compile(
    rf"(?:(?:{_FILLERS}|{_LOCAL_FILLERS}) )*(?:{'|'.join([*_MESSAGES, *_LOCAL_MESSAGES])})"
    rf"(?: (?:{_TRAILERS}|{_LOCAL_TRAILERS}))*"
)
#: Words of which a message in another language holds one at least (its fillers' and
#: trailers' words too), and the characters of which a Chinese or Japanese one holds one.
_LOCAL_CUES = frozenset(
    word
    for phrase in (*not_found_words.CUES, *not_found_words.FILLERS, *not_found_words.TRAILERS)
    for word in plain(phrase).split()
)
_LOCAL_CHARACTERS = frozenset(plain(not_found_words.CUE_CHARACTERS))


def _may_be_local(normal: str) -> bool:
    """Whether `normal` may be a message in another language than English, Spanish, French."""
    if not _LOCAL_CUES.isdisjoint(normal.split()):
        return True
    return not normal.isascii() and not _LOCAL_CHARACTERS.isdisjoint(normal)


def _message_in(normal: str, *, whole: bool) -> bool:
    """Whether normalized `normal` is (`whole`) or holds a message in any language."""
    if _may_be_message(normal) and (_MESSAGE.fullmatch if whole else _MESSAGE.search)(normal):
        return True
    if not _may_be_local(normal):
        return False
    return (_ANY_MESSAGE.fullmatch if whole else _ANY_MESSAGE.search)(normal) is not None


_APOSTROPHES = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[^\w]+")
#: Whole visible texts longer than this are pages, not error messages.
_SHORT_TEXT_WORDS = 30


def page_soft404(
    facts: PageFacts, url: str | None = None, entry_titles: Sequence[str] = ()
) -> str | None:
    """Why the page itself says it is missing, or None.

    The rule, to keep false positives out: the *whole* title, the whole first <h1>, or
    the whole visible text of a very short page must be an error message, give or take
    "Oops", "Sorry", "Error" or a status code. "Not Found: A Report on Missing Persons"
    or an article about children who went missing never matches, because the message is
    only part of it. A part of the title split at " | ", " - " and the like counts only
    when it plausibly is the whole message: the other parts are messages too or look
    like the site's name (`_site_like`; `url` is the page's address), or the heading or
    short text says so as well ("Not Found - Missing Children in Foster Care" is a title).
    Nothing counts that an entry's own title (`entry_titles`) contains while the page bears
    that entry's title (`_bears`): a catalog that lists "Nothing Here | Stories of
    Survivors" means that page, but "Not Found | OJJDP" for the entry "Not Found - Missing
    Children in Foster Care" is the site's error page.

    A file that is no page is judged by its whole short text alone: a text file that only
    says "File not found." is the server's message; a PDF's title is its author's.
    """
    title, heading = (facts.title, facts.heading) if facts.is_html else (None, None)
    normal = [f" {_normalize(t)} " for t in entry_titles]
    entries = [e for e in normal if _bears(title, e) or _bears(heading, e)]

    def says(text: str) -> bool:
        return _is_message(text) and not any(f" {_normalize(text)} " in e for e in entries)

    headed = bool(heading) and says(heading or "")
    # Never every word of a long page: counting them costs more than all of these tests.
    short = 0 < words_up_to(facts.text, _SHORT_TEXT_WORDS) <= _SHORT_TEXT_WORDS and says(facts.text)
    if title and _title_says(title, says, url, headed or short):
        return f"the page's title says {_quote(title)}"
    if headed:
        return f"the page's main heading says {_quote(heading or '')}"
    if short:
        return f"the page only says {_quote(facts.text)}"
    return None


def _bears(text: str | None, entry: str) -> bool:
    """Whether a page's title or heading bears the entry's title (`entry` normalized and
    padded): whole, or every part of it split at " | " and the like found in the entry
    ("Nothing Here | Stories of Survivors" for "Nothing Here: Stories of Survivors of
    Labour Trafficking")."""
    if not text:
        return False
    if entry in f" {_normalize(text)} ":
        return True
    parts = title_parts(text)
    # One part at least must be the entry's own words, not a message or a one-word site
    # name: "Not Found - UNODC" bears nothing of "Not Found: A Report … - UNODC".
    own = [p for p in parts if not _is_message(p) and len(p.split()) > 1]
    return (
        len(parts) > 1
        and bool(own)
        and all(f" {_normalize(p)} " in entry for p in parts if _normalize(p).strip())
    )


def may_name_a_message(entry_title: str) -> bool:
    """Whether an entry's title holds a message `page_soft404` reads ("Nothing Here |
    Stories of Survivors"): only such a title can spare a page, so a target carries no
    other (`catalog.model.Target.titles`)."""
    return _message_in(_normalize(entry_title), whole=False)


def _title_says(title: str, says: Callable[[str], bool], url: str | None, confirmed: bool) -> bool:
    if says(title):
        return True
    parts = title_parts(title)
    if len(parts) < 2:
        return False
    for index, part in enumerate(parts):
        if says(part) and (
            confirmed
            or all(
                _is_message(other) or _site_like(other, url)
                for other in parts[:index] + parts[index + 1 :]
            )
        ):
            return True
    return False


#: A title part of at most this many words may be a site's name ("UNICEF", "Gobierno de
#: México"); a longer one names the site only when it matches the address (`_site_like`).
_SITE_NAME_WORDS = 4
_CAPITALS = re.compile(r"\b([A-Z])")


def _site_like(part: str, url: str | None) -> bool:
    """Whether a title part can be the name of the site at `url` (of any site without
    one): short, or its letters or initials match a label of the host ("Office for
    Victims of Crime" on ovc.ojp.gov)."""
    if len(part.split()) <= _SITE_NAME_WORDS:
        return True
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [label for label in host.lower().split(".")[:-1] if len(label) >= 3]
    if not labels or len(part) > _MAX_MESSAGE:
        return False
    squashed = _NON_WORD.sub("", _normalize(part))
    initials = "".join(_CAPITALS.findall(strip_accents(part))).lower()
    return any(label in squashed or label in initials for label in labels)


#: Longer than this (in characters) is never just an error message; also bounds regex work.
_MAX_MESSAGE = 200


def _is_message(text: str) -> bool:
    if len(text) > _MAX_MESSAGE * 2:
        return False
    normal = _normalize(text)
    if not 0 < len(normal) <= _MAX_MESSAGE:
        return False
    return _message_in(normal, whole=True)


#: ASCII letters and digits lower-cased, apostrophes dropped, everything else a space: what
#: `_normalize` does to ASCII text, in one C-level pass (`str.translate`).
_ASCII_NORMAL = str.maketrans(
    {
        chr(i): chr(i).lower() if chr(i).isalnum() else "" if chr(i) in "'`" else " "
        for i in range(128)
    }
)


def _normalize(text: str) -> str:
    """Lower case, no accents, no apostrophes ("can't" -> "cant"), punctuation as spaces.

    ASCII text (most titles) takes one translation instead of four passes, which pays for
    the other languages' cue test (`_may_be_local`) on every title that is no message."""
    if text.isascii():
        return " ".join(text.translate(_ASCII_NORMAL).split())
    plain = _APOSTROPHES.sub("", strip_accents(text.lower()))
    return " ".join(_NON_WORD.sub(" ", plain).replace("_", " ").split())


def _quote(text: str, limit: int = 120) -> str:
    return f"“{clipped(' '.join(text.split()), limit)}”"


# --- (c) the site never says 404 ---------------------------------------------------------


def probe_url_for(url: str, token: str) -> str:
    """A URL on the same site that cannot exist, as deep as `url` where that makes sense.

    https://h/a/b/report.pdf -> https://h/a/b/linkhealth-probe-<token>; a directory URL
    (https://h/a/b/) keeps its trailing slash: https://h/a/linkhealth-probe-<token>/.
    Queries and fragments are dropped: the probe asks whether *paths* can be missing.
    """
    parts = urlsplit(url)
    safe = re.sub(r"[^a-z0-9]", "", token.lower()) or "x"
    name = PROBE_PREFIX + safe
    segments = [s for s in parts.path.split("/") if s]
    directory = parts.path.endswith("/") and bool(segments)
    parent = segments[:-1]
    path = "/" + "/".join([*parent, name]) + ("/" if directory else "")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


#: Probes sent to one host in one run at most. One cut short by the deadline of the URL
#: that sent it (`probe_cut_short`) is sent again by the host's next URL, but a host that
#: always answers it just too late must not be asked once per URL.
PROBE_TRIES = 3


def probe_time(left: float | None, settings: CheckSettings) -> float | None:
    """Seconds the host's probe may take, sent for a URL with `left` seconds before its
    deadline; None: that URL sends none of this kind (`checker._Run._send_probe` may send
    one that outlives it).

    The URL waits for the probe, in its host's slot: the probe gets what is left of the
    URL's deadline, no more (a host stalling on it held a live page's verdict, and the
    slot, up to 45 s past the deadline). It is sent only with as long left as a request
    waits for its answer to begin (`read_timeout`; half the URL's `total_timeout` when
    that is shorter, or a short deadline would never leave enough): one sent with less is
    likely cut short by this URL's lateness, a request to the host for nothing. With no
    deadline in scope, the probe gets `read_timeout` in all."""
    if left is None:
        return settings.read_timeout
    return left if left >= min(settings.read_timeout, settings.total_timeout / 2) else None


def probe_cut_short(within: float, settings: CheckSettings) -> bool:
    """Whether a probe that ran out of its `within` seconds was cut short by the URL that
    sent it rather than left unanswered by the host.

    With less than `read_timeout` (a `total_timeout` under twice that leaves a probe half
    of it), a host that answers the made-up address in 1.8 s was "no answer" to a probe
    with 1.6 s, and that stood for the whole run: the catch-all site's later pages, fast
    ones too, were judged without a probe and passed. Cut short, the probe is no answer
    of the host's: the host's next URL sends it again (`PROBE_TRIES`). With `read_timeout`
    or more, the host had as long as any request waits for its answer to begin: a host
    stalling or trickling on the made-up address has given its "no answer", which stands
    for the run as a refused connection's does."""
    return within < settings.read_timeout


#: Tokens that echo the requested address on an error page ("/a/b/report.pdf was not
#: found"): they differ between page and probe by construction, so they are ignored.
_URLISH = re.compile(r"/|\.[a-z0-9]{2,5}\b|" + PROBE_PREFIX, re.IGNORECASE)


def _without_urlish(text: str) -> str:
    """`text` without its words that look like a path, a file name or the probe's name.

    Word by word: one pattern `\\S*(?:...)\\S*` over the whole text backtracked through
    each long word from every one of its characters, time quadratic in its length (a page
    holding one word of 40,000 letters took 30 s of the event loop, 2 MiB would take a day).
    The search runs over the words joined by single spaces, where no match can cross a
    space, and drops the word around each match: one pass in C, not a search per word
    (~1 ms on a 20 KB page), with the words and their order as before.
    """
    joined = " ".join(text.split())
    found = _URLISH.search(joined)
    if found is None:
        return joined
    kept: list[str] = []
    start = 0  # where the next word to keep or drop begins
    while found is not None:
        begins = joined.rfind(" ", start, found.start()) + 1 or start
        if begins > start:
            kept.append(joined[start : begins - 1])
        ends = joined.find(" ", found.end())
        if ends < 0:
            return " ".join(kept)
        start = ends + 1
        found = _URLISH.search(joined, start)
    kept.append(joined[start:])
    return " ".join(kept)


#: The probe's name written out as words ("Linkhealth Probe X1y2"), as a site echoes a
#: slug of the address it was asked for; `_URLISH` drops it as one hyphenated word.
_PROBE_WORDS = re.compile(r"[\s_-]*".join(PROBE_PREFIX.strip("-").split("-")) + r"[\s_-]*[a-z0-9]*")


def _label_words(label: str | None) -> frozenset[str]:
    """The words of a title or heading, without noise and without the words that echo
    the address asked for (its path, or the probe's name written out)."""
    stable = _PROBE_WORDS.sub(" ", stable_text(label)) if label else ""
    return frozenset(Words(_without_urlish(stable)).words)


class _Comparable:
    """A page's text as the probe comparison reads it: without noise or path-like words,
    counted, and split into words when it is compared; and, when its text is alike, the
    words of its title and heading."""

    __slots__ = ("_heading", "_labels", "_title", "_words", "count", "text")

    def __init__(self, facts: PageFacts) -> None:
        self.text = _without_urlish(facts.stable_text())
        self.count = self.text.count(" ") + 1 if self.text else 0  # single spaces only
        self._words: Words | None = None
        # Not `facts`: the probe's, a weak key of `_PROBES`, would never be let go.
        self._title, self._heading = facts.title, facts.heading
        self._labels: tuple[frozenset[str], frozenset[str]] | None = None

    def words(self) -> Words:
        if self._words is None:
            self._words = Words(self.text)
        return self._words

    def labels(self) -> tuple[frozenset[str], frozenset[str]]:
        """The words of the title and of the heading (`_label_words`)."""
        if self._labels is None:
            self._labels = (_label_words(self._title), _label_words(self._heading))
        return self._labels


#: The probe's `_Comparable`, made once per probe: one probe answers for a whole host, and
#: on a site that answers 200 for anything each of its pages is compared with it.
_PROBES: weakref.WeakKeyDictionary[PageFacts, _Comparable] = weakref.WeakKeyDictionary()


def _probe_comparable(probe: PageFacts) -> _Comparable:
    found = _PROBES.get(probe)
    if found is None:
        found = _PROBES[probe] = _Comparable(probe)
    return found


#: Pages with fewer words say nothing we can compare (e.g. the shell of a JavaScript app,
#: which is the same for every address on the site).
_MIN_WORDS = 5


def probe_soft404(page: PageFacts, probe: PageFacts | None, probe_status: int | None) -> str | None:
    """Why the page looks like the answer to a URL that cannot exist, or None.

    Only when the probe was answered 200 (the site never says 404); a real 404/410, an
    error or no probe at all says nothing about the page. The shell of a script-built
    site (`PageFacts.script_shell`) is the same for every address, missing or not, so it
    says nothing either (`unverified_shell` words that).
    """
    if page.script_shell:
        return None
    score = _probe_score(page, probe, probe_status, min_words=_MIN_WORDS)
    if score is None:
        return None
    return (
        "the page is the same as what the site answers for an address that cannot exist "
        f"({score:.0%} alike), so the site shows this instead of saying 'not found'"
    )


def unverified_shell(
    page: PageFacts, probe: PageFacts | None, probe_status: int | None
) -> str | None:
    """Why a script-built page could not be verified (it is what the site answers for an
    address that cannot exist too), or None. Not a failure: a browser runs the script and
    may well show the resource; only a person can tell."""
    if not page.script_shell or _probe_score(page, probe, probe_status, min_words=0) is None:
        return None
    return (
        "the page is built by script in the browser, and its server part is the same as "
        "what the site answers for an address that cannot exist, so whether the resource "
        "is there could not be verified"
    )


#: What a check says of a page that showed text at its last read and now shows nothing but
#: scripts under a title that is its host name (`lapsed_shell`); the report's queue files an
#: OK result that says it under "Check by hand" (`reports.build`).
LAPSED_SHELL = (
    "the page now shows no text, only scripts, and its title is just the domain name: a "
    "parked or lapsed domain looks like this; open it in a browser"
)
#: Signs, in a lower-cased body, of a bot check's page, by vendor: tokens of the vendor's
#: own challenge scripts and addresses (a script that proves a browser and reloads the
#: page), never words of prose: a page that names Cloudflare or says "just a moment" holds
#: none of them. Not the scripts vendors add to every page they serve (Cloudflare's
#: `challenge-platform/scripts/jsd`, AWS WAF's `challenge.js` in a site's own app): only
#: those of the challenge page itself. `classify.blocked_reason` calls a small page that
#: bears one and shows no words but the wall's (`bot_check`) a wall in the page's place;
#: `lapsed_shell` keeps a page that bears one out of "parked".
CHALLENGE_SIGNS: tuple[tuple[bytes, str], ...] = (
    (b"_cf_chl_opt", "a Cloudflare bot check"),
    (b"/orchestrate/chl_page/", "a Cloudflare bot check"),
    (b"cf-browser-verification", "a Cloudflare bot check"),
    (b"/cdn-cgi/l/chk_jschl", "a Cloudflare bot check"),
    (b"/cdn-cgi/l/chk_captcha", "a Cloudflare bot check"),
    (b"window.gokuprops", "an AWS WAF bot check"),
    (b"awswafintegration.checkforcerefresh", "an AWS WAF bot check"),
    (b"/.well-known/ddos-guard/", "a DDoS-Guard bot check"),
    (b"sucuri_cloudproxy_js", "a Sucuri bot check"),
    (b"/_incapsula_resource?", "an Imperva (Incapsula) bot check"),
)
#: A script that sets a cookie and reloads the page when it opens: the plainest bot check.
_COOKIE_RELOAD = (b"document.cookie", b"location.reload")
COOKIE_RELOAD_CHECK = "a bot check (a script that sets a cookie and reloads the page)"
#: Cloudflare's challenge platform in a lower-cased body, but not the passive scripts it
#: adds to every HTML page of a site with bot detection on, loaded by
#: `window.__CF$cv$params`: JavaScript Detections
#: (`/cdn-cgi/challenge-platform/h/b/scripts/jsd/<version>/main.js`) and Bot Management's
#: earlier `/cdn-cgi/challenge-platform/h/b/scripts/alpha/invisible.js` (or
#: `scripts/invisible.js`), whose parameters name the folder alone
#: (`u:'/cdn-cgi/challenge-platform/h/b'`). A page of text and a parked domain's page bear
#: them as much as a challenge does, so only the platform's other paths (a challenge's
#: `/orchestrate/`) count.
CHALLENGE_PLATFORM = re.compile(
    rb"challenge-platform(?!"
    rb"/(?:h/[a-z0-9]+/)?scripts/(?:jsd/|(?:alpha/)?invisible\.js\b)"
    rb"""|/h/[a-z0-9]+\\?['"])"""
)
#: Words bot checks use that pages use too, in scripts or prose: enough to keep a page
#: without text out of "parked" (`lapsed_shell`), never to call a page a wall. Cloudflare's
#: challenge platform is `CHALLENGE_PLATFORM`'s.
_CHALLENGE_WORDS = (
    b"cf-chl",
    b"just a moment",
    b"checking your browser",
    b"awswaf",
    b"challenge.js",
    b"ddos-guard",
    b"ddos_guard",
    b"sucuri",
    b"captcha",
    b"verify you are human",
    b"are you a robot",
)
#: What bot checks show, by vendor (Cloudflare's, old and new; AWS WAF's challenge and
#: CAPTCHA; DDoS-Guard's; Sucuri's; Imperva's): a page with any other word in its title or
#: text has text of its own, and is judged as a page. Host names and words with digits
#: (ray ids, "5 seconds") are the wall's too.
_WALL_PHRASES = (
    "Just a moment... Verifying you are human. This may take a few seconds.",
    "Verify you are human by completing the action below. Verification successful.",
    "Checking if the site connection is secure.",
    "needs to review the security of your connection before proceeding.",
    "Waiting for ... to respond. Performance & security by Cloudflare. Ray ID:",
    "Why am I seeing this page? Requests from malicious bots can pose as legitimate "
    "traffic. Occasionally, you may see this page while the site ensures that the "
    "connection is secure.",
    "Verification is taking longer than expected. Check your Internet connection and "
    "refresh the page if the issue persists. Please unblock ... to proceed.",
    "Enable JavaScript and cookies to continue. Please turn JavaScript on and reload the "
    "page. Please enable Cookies and reload the page.",
    "Checking your browser before accessing ... This process is automatic. Your browser "
    "will redirect to your requested content shortly. Please allow up to 5 seconds... "
    "Please stand by, while we are checking your browser... Redirecting...",
    "DDoS protection by Cloudflare. Attention Required! One more step: please complete "
    "the security check to access the website. Captcha challenge.",
    "JavaScript is disabled. In order to continue, we need to verify that you're not a "
    "robot. This requires JavaScript. Enable JavaScript and then reload the page.",
    "Let's confirm you are human. Complete the security check before continuing. This "
    "step verifies that you are not a bot, which helps to protect ... and prevent ... Begin.",
    "DDoS-Guard. DDoS protection by DDoS-Guard. Please wait.",
    "You are being redirected... Javascript is required. Please enable javascript before "
    "you are allowed to see this page. Sucuri Website Firewall.",
    "Request unsuccessful. Incapsula incident ID: ... Imperva.",
)
_WALL_TOKEN = re.compile(r"\w+")
_WALL_WORDS = frozenset(
    word for phrase in _WALL_PHRASES for word in _WALL_TOKEN.findall(phrase.lower())
)
_WALL_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def bot_check(body: bytes, page: PageFacts | None, content_type: str | None = None) -> str | None:
    """Which bot check (`CHALLENGE_SIGNS`, or a cookie set and the page reloaded on load)
    answered with `body` in the page's place, or None: one whose page shows no word of its
    own (`_WALL_WORDS`) and is no script-built app's shell (whose scripts may be a
    vendor's too). `page` is `body`'s analysis, made here when None and a sign is found."""
    sniffed = body[:_SCRIPT_SNIFF].lower()
    vendor = next((name for sign, name in CHALLENGE_SIGNS if sign in sniffed), None)
    if vendor is None and _reloads_with_cookie(body):
        vendor = COOKIE_RELOAD_CHECK
    if vendor is None:
        return None
    if page is None:
        page = analyse_body(body, content_type, truncated=False)
    if not page.is_html or page.script_shell:
        return None
    if vendor == COOKIE_RELOAD_CHECK and page.text.strip():
        return None  # a page's own script (a consent banner's "accept") may do as much
    return vendor if _walls_words_only(f"{page.title or ''} {page.text}") else None


def _walls_words_only(text: str) -> bool:
    words = _WALL_TOKEN.findall(_WALL_HOST.sub(" ", text.lower()))
    return all(word in _WALL_WORDS or any(c.isdigit() for c in word) for word in words)


def _reloads_with_cookie(body: bytes) -> bool:
    """Whether an inline script sets a cookie and reloads the page when it opens
    (`script_load.runs_on_load`), not only when a button is clicked."""
    head = body[:_SCRIPT_SNIFF]
    lowered = head.lower()
    if not all(part in lowered for part in _COOKIE_RELOAD):
        return False
    for begin, end in _inline_scripts(lowered):
        script = lowered[begin:end]
        reload = script.find(b"location.reload")
        if (
            reload >= 0
            and b"document.cookie" in script
            and runs_on_load(script.decode("latin-1"), [reload])[0]
        ):
            return True
    return False


def _inline_scripts(lowered: bytes) -> Iterator[tuple[int, int]]:
    """Where each `<script>`'s text begins and ends in a lower-cased page head: to the end
    of `lowered` for one left open; none from a `<script` tag left unclosed on."""
    at = 0
    while (start := lowered.find(b"<script", at)) >= 0:
        opened = lowered.find(b">", start)
        if opened < 0:
            return
        end = lowered.find(b"</script", opened)
        at = end = len(lowered) if end < 0 else end
        yield opened + 1, end


def lapsed_shell(
    page: PageFacts, body: bytes, before: Previous | None, *urls: str | None
) -> str | None:
    """`LAPSED_SHELL` when the page shows no text, only scripts, under a title that is the
    host name of one of `urls` (the link's, where it ended: "parked-js.test"), where the
    last read (`before`) showed text; else None.

    A lapsed domain's parking service often answers with such a page and draws its ads by
    script: no text to judge for drift, the same for every address (so the probe matched
    it: "could not be verified"), and "OK" for as long as the domain stayed parked. The
    page of a script-built site that was a shell at its last read already (its fingerprint
    is that of a page without text) stays as it was, with `unverified_shell`'s note. So do
    a page without a title (a site rebuilt as a client-side app names nothing, nor do most
    bot checks) and a bot check's page (`CHALLENGE_SIGNS`, `_CHALLENGE_WORDS`,
    `CHALLENGE_PLATFORM`; not Cloudflare's script on every page of a site): each said
    "parked" and was queued every night, since the note keeps the read from being stored
    (`checker`). A small bot check's page with no words of its own is BLOCKED before this
    (`bot_check`)."""
    if not page.is_html or page.text.strip() or not _bare_title(page.title, urls):
        return None
    if before is None or not (before.fingerprint or "").startswith("sha256:"):
        return None  # no read to compare with, or one by another rule than today's
    sniffed = body[:_SCRIPT_SNIFF].lower()
    if b"<script" not in sniffed:
        return None  # nothing runs on it: a blank page (`classify._empty`), not a parking
    if (
        any(sign in sniffed for sign, _ in CHALLENGE_SIGNS)
        or any(word in sniffed for word in _CHALLENGE_WORDS)
        or CHALLENGE_PLATFORM.search(sniffed) is not None
        or all(part in sniffed for part in _COOKIE_RELOAD)
    ):
        return None  # a bot check in the page's place: a wall, not a lapsed domain
    return None if before.fingerprint in _textless(before.title) else LAPSED_SHELL


def _textless(title: str | None) -> set[str]:
    """The fingerprints of a page without text under `title` or none: what the last read
    had if it showed no text either (stored titles stay when a read has none)."""
    pages = (f"<title>{html.escape(t)}</title><body></body>" for t in {title or "", ""})
    return {analyse_body(p.encode(), "text/html", truncated=False).fingerprint for p in pages}


def _bare_title(title: str | None, urls: Sequence[str | None]) -> bool:
    """Whether `title` says nothing but where the page is: a host's name. An empty title
    says nothing at all, the domain's name least of all."""
    named = (title or "").strip().lower().removeprefix("www.").rstrip(".")
    return bool(named) and any(named == site_host(url) for url in urls)


def _probe_score(
    page: PageFacts, probe: PageFacts | None, probe_status: int | None, *, min_words: int
) -> float | None:
    """How alike page and probe are, when that is at least `PROBE_SIMILARITY`; else None."""
    if probe is None or probe_status is None or not 200 <= probe_status < 300:
        return None
    if not page.is_html or not probe.is_html:
        return None
    mine, theirs = _Comparable(page), _probe_comparable(probe)
    if mine.count < min_words or theirs.count < min_words:
        return None
    same = page.fingerprint == probe.fingerprint
    score = 1.0 if same else similar_enough(mine.words(), theirs.words(), PROBE_SIMILARITY)
    if score is None or score < PROBE_SIMILARITY:
        return None
    if same or _labels_agree(mine, theirs) or not _says_more(mine, theirs):
        return score
    return None


def _labels_agree(page: _Comparable, probe: _Comparable) -> bool:
    """Whether the page bears the probe's title and heading: each holds every word of the
    probe's (the page's may add the words of its address, which the site echoes).

    The whole text's likeness is mostly the site's frame when the page says little of its
    own: a hotline's 25 words under a 480-word menu were "92% alike" the site's answer to
    a made-up address. The site's answer at the page's address bears that answer's title
    and heading; a page titled or headed otherwise is a page of the site, if it says
    something of its own (`_says_more`)."""
    return all(theirs <= mine for mine, theirs in zip(page.labels(), probe.labels(), strict=True))


def _says_more(page: _Comparable, probe: _Comparable) -> bool:
    """Whether the page's text holds a word that is neither the probe's text's nor its own
    title's or heading's: the hotline's 25 words of its own.

    A site may answer any unknown address with one template headed by the section the
    address is in, and one probe answers for the host: a dead link under /resources/,
    compared with a probe sent under /publications/, differs from it by its heading, and
    in its text by that heading only. Its title and heading then say where it is, not
    that it is a page of the site."""
    probed = probe.words().shingles(1)  # the probe's words, a set kept with its shingles
    title, heading = page.labels()
    return any(
        word not in probed and word not in title and word not in heading
        for word in page.words().words
    )


# --- (d) pages that send their visitors on ----------------------------------------------

#: A title part or main heading that only announces a move: "Page Moved", "Redirecting…",
#: "Redirect notice", "Página trasladada", "Redirection en cours".
_NOTICE_LABEL = re.compile(
    r"(?:(?:this |the )?(?:page|site|website|document|resource|content) )?(?:has |have )?"
    r"(?:been )?(?:moved|relocated)(?: permanently)?"
    r"|redirecting(?: (?:now|you))?(?: please wait)?|redirect(?:ion)? (?:notice|page)"
    r"|(?:pagina|documento) (?:movida|trasladada|movido|trasladado)|redirigiendo|redireccionando"
    r"|page deplacee|redirection en cours|weiterleitung"
)
#: A sentence that says the page has moved or that its visitor is being sent on, anywhere
#: in the visible text: "This page has moved.", "You will be redirected to our home page
#: in 10 seconds.", "Redirecting you to the home page", "Será redirigido", "Vous allez être
#: redirigé". Only such whole phrases: "the office has moved" or "redirecting funds to
#: victims" are news, not notices.
_NOTICE_SENTENCE = re.compile(
    r"\b(?:(?:this|the|our) (?:page|web ?page|site|website|resource|document|content|article"
    r"|file|report|publication|link|url)(?: you (?:requested|are looking for|were looking for))?"
    r" (?:has|have|was|is) (?:been )?(?:moved|relocated)"
    r"|you(?:ll| will| are| re| shall| should)?(?: (?:now|soon|shortly|automatically|be|being))+"
    r" (?:redirected|forwarded|transferred|taken to)"
    r"|redirecting you|(?:sera|seras|esta siendo|estas siendo) redirigid[oa]"
    r"|(?:vous allez etre|vous serez|vous etes) redirige"
    r"|(?:esta|la) pagina (?:ha sido|se ha) (?:movida|movido|trasladada|trasladado)"
    r"|cette page a ete deplacee)\b"
)
#: Characters of a page's visible text searched for a notice: it stands near the top.
_NOTICE_TEXT_CHARS = 4000
#: A forwarding notice says little more than that: IIS's "Object moved to here." is 4
#: words, GitHub Pages' "Redirecting… Click here if you are not redirected." 7, an agency's
#: "The page you requested has moved … You will be redirected to the new site in 5
#: seconds. If you are not redirected, click here … update your bookmarks." about 45. A
#: page with more to say is the resource, though it tells visitors where a button or a
#: session timeout sends them (a hotline's "Quick Exit … you will be redirected to
#: Google", about 90 words with its help text; a tip form, about 60).
_NOTICE_WORDS = 50


def forwarding_notice(facts: PageFacts) -> bool:
    """Whether the page is a forwarding notice and nothing else: it says it has moved or
    that its visitor is being sent on, in a short text (`_NOTICE_WORDS`). Only then is
    its slow refresh or its script redirect where the resource went (`script_redirect`)."""
    if not facts.is_html or words_up_to(facts.text, _NOTICE_WORDS) > _NOTICE_WORDS:
        return False
    for label in (facts.title, facts.heading):
        if label and any(_NOTICE_LABEL.fullmatch(_normalize(p)) for p in title_parts(label)):
            return True
    texts = (facts.title or "", facts.heading or "", facts.text[:_NOTICE_TEXT_CHARS])
    return any(_NOTICE_SENTENCE.search(_normalize(text)) for text in texts)


#: Bytes of a body searched for a script redirect: a page announcing one is short.
_SCRIPT_SNIFF = 64 * 1024
#: Characters of a page's scripts that hold a `location` assignment read to tell whether
#: it runs on load (`runs_on_load`), together. A notice's script is a timer and an
#: assignment, a few hundred characters (its analytics snippets hold no `location`
#: assignment, so they are not read); a longer one is an application, not a notice. The
#: scan is linear but not cheap (about 40 microseconds a bracket), so this also bounds
#: what a hostile page costs the event loop: about 0.2 s.
_SCRIPT_SCAN_CHARS = 4 * 1024
#: A script sending the browser to a literal address: `window.location.replace("/")`,
#: `location.href = "/"`, `document.location = '/home'`. Not a comparison
#: (`location.href == "/"`), a property of another object (`map.location = "/"`), a method
#: of the address's text (`location.href.replace("http:", "https:")`) or an address built
#: of parts (`location.href = "/" + lang`).
_LOCATION = re.compile(
    rb"(?<![\w$.])(?:(?:window|document|top|self|parent)\s*\.\s*)?location"
    rb"(?:\s*\.\s*href\s*=(?!=)|\s*=(?!=)|\s*\.\s*(?:replace|assign)\s*\()"
    rb"\s*([\"'])([^\"'\\<>\s]{1,2048})\1(?!\s*\+)"
)


#: The functions `<body onload="go()">` calls when the page opens.
_BODY_ONLOAD = re.compile(rb"<body\b[^<>]*?\sonload\s*=\s*([\"']?)([^\"'<>]*)")
_CALLED_NAME = re.compile(r"(?<![\w$.])([\w$]+)\s*\(")


def script_redirect(body: bytes) -> str | None:
    """The address, as written, that a `<script>` of the page sends its visitors to when
    the page opens, or None.

    Only inline scripts are read, and only as far as a literal assignment that runs on
    load (`script_load.runs_on_load`: not in a click handler such as a hotline's "Quick
    Exit" button, nor in a function nothing is seen to call on load: `<body onload>`, a
    timer, a load handler or the script itself). The caller counts it only
    on a forwarding notice (`forwarding_notice`). Linear in the body: each script is
    searched once, and scanned once while they fit in `_SCRIPT_SCAN_CHARS`.
    """
    head = body[:_SCRIPT_SNIFF]
    lowered = head.lower()
    budget = _SCRIPT_SCAN_CHARS
    onload = _BODY_ONLOAD.search(lowered) if b"onload" in lowered else None
    called = (
        {
            name.group(1)
            for name in _CALLED_NAME.finditer(
                head[onload.start(2) : onload.end(2)].decode("latin-1")
            )
        }
        if onload
        else set()
    )
    for begin, end in _inline_scripts(lowered):
        found = list(_LOCATION.finditer(head, begin, end))
        if found and end - begin > budget:
            return None
        if found:
            budget -= end - begin
            script = head[begin:end].decode("latin-1")
            starts = [match.start() - begin for match in found]
            for match, on_load in zip(found, runs_on_load(script, starts, called), strict=True):
                if on_load:
                    return match.group(2).decode("latin-1")
    return None


# --- (e) video pages ---------------------------------------------------------------------

_YOUTUBE_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "www.youtube-nocookie.com"}
)
#: The player's verdict in a watch page's `ytInitialPlayerResponse` (a script, so never in
#: the visible text): "ERROR" for a removed video, "LOGIN_REQUIRED" for a private one and
#: for YouTube's own bot check, "OK" for a video that plays.
_PLAYABILITY = re.compile(rb'"playabilityStatus":\{"status":"([A-Z_]+)"')
_REASON = re.compile(rb'"reason":("(?:[^"\\]|\\.){1,300}")')


def video_status(final_url: str, body: bytes) -> tuple[bool, str] | None:
    """What a video site's 200 page says about its video: (gone, why), or None when it
    plays or the page is no video page.

    YouTube answers a removed or private video with 200 and the site's full page; only the
    player's data says "Video unavailable". gone=True: no visitor can watch it (soft 404);
    gone=False: YouTube asks us to sign in to prove we are no bot (blocked).
    """
    # Every page asks; parsing its address costs more than this test (the host is part
    # of the address, lower-cased).
    if "youtube" not in final_url.lower() or (urlsplit(final_url).hostname or "") not in (
        _YOUTUBE_HOSTS
    ):
        return None
    start = body.find(b"ytInitialPlayerResponse")  # the page's own player, not a related one
    found = _PLAYABILITY.search(body, start, start + 64 * 1024) if start >= 0 else None
    if found is None or found.group(1) not in (b"ERROR", b"LOGIN_REQUIRED"):
        return None
    reason = _REASON.search(body, found.end(), found.end() + 4096)
    said = _json_text(reason.group(1)) if reason else ""
    quoted = f" ({_quote(said)})" if said else ""
    if found.group(1) == b"ERROR":
        return True, f"YouTube says the video is unavailable{quoted}"
    lowered = said.lower()
    if "private" in lowered:
        return True, f"YouTube says the video is private{quoted}, so visitors cannot watch it"
    if "bot" in lowered:
        return False, f"YouTube asks the automated check to sign in{quoted}"
    return None  # age or other sign-in checks: the video is there for people who sign in


def _json_text(raw: bytes) -> str:
    try:
        text = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return ""
    return text if isinstance(text, str) else ""
