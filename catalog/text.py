"""Text scraped from pages, made safe and comparable: accent folding shared by title
matching (`catalog.hygiene`) and drift scoring (`catalog.drift`), which compare words written
by people with words scraped from pages; and control characters taken out of what is shown."""

from __future__ import annotations

import codecs
import re
import sys
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "META_CHARSET",
    "charset_codec",
    "clipped",
    "for_terminal",
    "in_sentence",
    "invisible_characters",
    "isolated",
    "json_for_terminal",
    "media_type",
    "quotations_isolated",
    "strip_accents",
    "without_bidi_overrides",
    "without_controls",
]


#: DEL and the C1 control characters (CSI among them, U+009B, which a terminal acts on).
_C1 = "\x7f-\x9f"
#: Explicit bidirectional embeddings, overrides and isolates, and the characters that end them.
_BIDI_EXPLICIT = "\u202a-\u202e\u2066-\u2069"
#: Bidirectional controls (ALM, LRM, RLM, embeddings, overrides, isolates): invisible, they turn
#: the text after them around ("Watches \u202eknil\u202c Shop" shows "Watches link Shop"), in
#: a report, a terminal or a reason sentence alike. Not ZWJ or ZWNJ, which scripts need.
_BIDI_CHARS = f"\u061c\u200e\u200f{_BIDI_EXPLICIT}"
#: C0 and C1 control characters (whitespace among them becomes a space anyway).
_CONTROLS = re.compile(f"[\x00-\x1f{_C1}]")
_BIDI = re.compile(f"[{_BIDI_CHARS}]")
_EXPLICIT_BIDI = re.compile(f"[{_BIDI_EXPLICIT}]")


def clauses(parts: Iterable[str]) -> str:
    """`parts` joined with "; ", each but the last without the full stop that ended it as a
    sentence: a reason such as "...; the new page answers 200." then read ".; http status"."""
    items = list(parts)
    return "; ".join(
        p[:-1] if n < len(items) - 1 and p.endswith(".") and not p.endswith("..") else p
        for n, p in enumerate(items)
    )


def counted(n: int, one: str, many: str | None = None) -> str:
    """ "1 entry", "3 entries": a count a person reads, not "3 entr(ies)"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def in_sentence(label: str) -> str:
    """A label as a sentence goes on with it: "3 timed out", "1 invalid URL", but "2 HTTP
    error" and "20 OK", its first word kept when an acronym (`lower()` wrote "http error",
    "invalid url" and "20 ok" beside the badges' "HTTP error")."""
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first.isupper():
        return label
    return label[:1].lower() + label[1:]


def per_second(rate: float) -> str:
    """A rate as a person reads it: "18.5", and "0.04" for 2 URLs in 45 s, not "0.0", which
    read as nothing checked at all; "1.0" for 0.96, as for 1, not "1"."""
    return f"{rate:.1f}" if rate >= 0.95 or rate == 0 else f"{rate:.1g}"


_BACKTICKS = re.compile(r"`+")


def backtick_fence(text: str, at_least: int = 1) -> str:
    """A run of backticks longer than any in `text` (and `at_least` long): a Markdown code
    span or block it opens cannot be closed early by the text it holds."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(at_least, longest + 1)


def code_span(text: str) -> str:
    """`text` as Markdown inline code, shown as it is (`backtick_fence`); a space pads a
    text that starts or ends with a backtick, which the fence would otherwise take in."""
    fence = backtick_fence(text)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def clipped(text: str, limit: int) -> str:
    """`text`, or its first `limit` - 1 characters and "…": what a reason sentence or a
    terminal line quotes of something a web server or a file wrote."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def without_controls(text: str) -> str:
    """`text` with every control character a space and without bidirectional controls.
    Titles scraped from anyone's page end up in terminals and the database, where an escape
    sequence would act and a NUL is refused (PostgreSQL); no reader sees either on a page."""
    text = _CONTROLS.sub(" ", text)
    return text if text.isascii() else _BIDI.sub("", text)


def without_bidi_overrides(text: str) -> str:
    """`text` without explicit bidirectional embeddings, overrides and isolates: outside text
    (a title, a publisher) as a web page shows it, in an element that isolates it from its
    neighbours (`dir="auto"`, `<bdi>`), inside which an override would still turn its own
    words around and where nobody needs one. The marks (LRM, RLM, ALM) stay: right-to-left
    text places its punctuation with them, and they act only inside the isolated text."""
    return text if text.isascii() else _EXPLICIT_BIDI.sub("", text)


#: FIRST STRONG ISOLATE, LEFT-TO-RIGHT ISOLATE and POP DIRECTIONAL ISOLATE: plain text's
#: `<bdi>`, `<bdi dir="ltr">` and `</bdi>` (`isolated`).
FSI, LRI, PDI = "\u2068", "\u2066", "\u2069"


def isolated(text: str, *, ltr: bool = False) -> str:
    """Outside text (a title, a publisher; `ltr`: an address) quoted in a sentence of ours,
    as its own island: between FSI (LRI) and PDI, without explicit bidirectional controls
    of its own, so that only ours pair up. A right-to-left one then never moves the words
    beside it ("title “A” → “B”" with two Hebrew titles read B before A), and an address
    reads left to right. ASCII text, which cannot move anything, stays as it is."""
    if text.isascii():
        return text
    return f"{LRI if ltr else FSI}{without_bidi_overrides(text)}{PDI}"


#: A quotation in a sentence of ours: “...” (one level of “...” inside it), or '...'
#: opened after a space or bracket and closed before one or punctuation (so that the
#: apostrophe of "page's" opens nothing, and that of "Children's Fund" closes nothing).
_QUOTATION = re.compile(
    r"“((?:[^“”]|“[^“”]*”)+)”|(?<![^\s(\[])'([^'].*?)'(?![^\s)\],;:.!?])", re.DOTALL
)


def quotations_isolated(text: str) -> str:
    """A sentence of ours that quotes outside text (a soft 404's "the page's title says
    “...”", a drift reason's "page title '...'"), without explicit bidirectional controls
    and each quotation `isolated`. Stored reasons say no more of where a page's text starts
    and ends than their quotation marks."""
    if text.isascii():
        return text
    return _QUOTATION.sub(_isolated_quotation, without_bidi_overrides(text))


def _isolated_quotation(m: re.Match[str]) -> str:
    curly = m.group(1) is not None
    inside = m.group(1) if curly else m.group(2)
    marks = "“”" if curly else "''"
    return f"{marks[0]}{isolated(inside)}{marks[1]}"


def for_terminal(text: str) -> str:
    """`text` (lines of it) as a terminal is to print it: each line `without_controls`. A
    catalog's URL or title may hold "\\e]8;;http://evil.example/\\e\\" (a link the terminal
    shows as other text) or "\\e[2J", which `sync`, `recheck` and the curator commands
    print back."""
    if text.isascii() and text.isprintable():
        return text
    return "\n".join(without_controls(line) for line in text.split("\n"))


#: What a terminal acts on or turns around instead of showing, among what `json.dumps`
#: leaves as it is (it escapes C0 controls itself): DEL, C1 controls, bidirectional controls.
_JSON_UNSHOWN = re.compile(f"[{_C1}{_BIDI_CHARS}]")


def json_for_terminal(text: str) -> str:
    """JSON text (`json.dumps(..., ensure_ascii=False)`) with DEL, C1 and bidirectional
    controls written as `\\uXXXX` escapes: the same data, but a terminal it is printed to
    shows them instead of acting on a site's CSI (U+009B) or turning the line around."""
    return _JSON_UNSHOWN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_ASCII_CONTROLS = re.compile("[\x00-\x1f\x7f]")


def invisible_characters(text: str, *, controls: bool = True) -> list[str]:
    """The characters of `text` that show as nothing, in order, once each: Unicode format
    characters (a zero-width space, a soft hyphen, a byte order mark) and, with
    `controls`, control characters. Pasted from a web page into an id or a URL, they make
    it another id or a page that does not exist while the file looks right."""
    if text.isascii():  # nearly every id and URL: no need to look up each character
        return list(dict.fromkeys(_ASCII_CONTROLS.findall(text))) if controls else []
    kinds = ("Cf", "Cc") if controls else ("Cf",)
    return list(
        dict.fromkeys(
            c
            for i, c in enumerate(text)
            if unicodedata.category(c) in kinds and not _joins_letters(text, i)
        )
    )


#: Zero-width non-joiner and joiner: format characters, but in Persian, Kurdish and the
#: Indic scripts part of how a word is spelled ("کتاب‌خانه", a library): between two letters
#: they are the word's, and taking them out gives another word (and another page).
_JOINERS = frozenset("\u200c\u200d")


def _joins_letters(text: str, at: int) -> bool:
    """Whether the character at `at` is a joiner between two letters (or their marks)."""
    if text[at] not in _JOINERS or at == 0 or at == len(text) - 1:
        return False
    return all(unicodedata.category(text[i])[0] in "LM" for i in (at - 1, at + 1))


def strip_accents(text: str) -> str:
    """`text` decomposed (NFKD) without its combining marks: "Víctimas" -> "Victimas".

    Most text is ASCII and passes through untouched; otherwise the marks go in one
    C-level pass instead of a Python call per character.
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():
        return decomposed
    return _combining_marks().sub("", decomposed)


@lru_cache(maxsize=1)
def _combining_marks() -> re.Pattern[str]:
    """Every code point `unicodedata.combining` flags, as one character class: from the
    table below when this Python's Unicode version is the table's, else read from
    `unicodedata` (~0.1 CPU-s, once per process: each check run paid it)."""
    if unicodedata.unidata_version == _COMBINING_VERSION:
        ranges = [_char_range(*_span(item)) for item in _COMBINING_RANGES.split()]
    else:
        ranges = [_char_range(first, last) for first, last in _combining_spans()]
    return re.compile("[" + "".join(ranges) + "]")


#: The code points `unicodedata.combining` flags in Unicode `_COMBINING_VERSION` (Python
#: 3.11's), hexadecimal, single or first-last; a test compares it with `unicodedata`.
_COMBINING_VERSION = "14.0.0"
_COMBINING_RANGES = (
    "0300-034E 0350-036F 0483-0487 0591-05BD 05BF 05C1-05C2 05C4-05C5 05C7 0610-061A 064B-065F "
    "0670 06D6-06DC 06DF-06E4 06E7-06E8 06EA-06ED 0711 0730-074A 07EB-07F3 07FD 0816-0819 "
    "081B-0823 0825-0827 0829-082D 0859-085B 0898-089F 08CA-08E1 08E3-08FF 093C 094D 0951-0954 "
    "09BC 09CD 09FE 0A3C 0A4D 0ABC 0ACD 0B3C 0B4D 0BCD 0C3C 0C4D 0C55-0C56 0CBC 0CCD 0D3B-0D3C "
    "0D4D 0DCA 0E38-0E3A 0E48-0E4B 0EB8-0EBA 0EC8-0ECB 0F18-0F19 0F35 0F37 0F39 0F71-0F72 0F74 "
    "0F7A-0F7D 0F80 0F82-0F84 0F86-0F87 0FC6 1037 1039-103A 108D 135D-135F 1714-1715 1734 17D2 "
    "17DD 18A9 1939-193B 1A17-1A18 1A60 1A75-1A7C 1A7F 1AB0-1ABD 1ABF-1ACE 1B34 1B44 1B6B-1B73 "
    "1BAA-1BAB 1BE6 1BF2-1BF3 1C37 1CD0-1CD2 1CD4-1CE0 1CE2-1CE8 1CED 1CF4 1CF8-1CF9 1DC0-1DFF "
    "20D0-20DC 20E1 20E5-20F0 2CEF-2CF1 2D7F 2DE0-2DFF 302A-302F 3099-309A A66F A674-A67D "
    "A69E-A69F A6F0-A6F1 A806 A82C A8C4 A8E0-A8F1 A92B-A92D A953 A9B3 A9C0 AAB0 AAB2-AAB4 "
    "AAB7-AAB8 AABE-AABF AAC1 AAF6 ABED FB1E FE20-FE2F 101FD 102E0 10376-1037A 10A0D 10A0F "
    "10A38-10A3A 10A3F 10AE5-10AE6 10D24-10D27 10EAB-10EAC 10F46-10F50 10F82-10F85 11046 11070 "
    "1107F 110B9-110BA 11100-11102 11133-11134 11173 111C0 111CA 11235-11236 112E9-112EA "
    "1133B-1133C 1134D 11366-1136C 11370-11374 11442 11446 1145E 114C2-114C3 115BF-115C0 1163F "
    "116B6-116B7 1172B 11839-1183A 1193D-1193E 11943 119E0 11A34 11A47 11A99 11C3F 11D42 "
    "11D44-11D45 11D97 16AF0-16AF4 16B30-16B36 16FF0-16FF1 1BC9E 1D165-1D169 1D16D-1D172 "
    "1D17B-1D182 1D185-1D18B 1D1AA-1D1AD 1D242-1D244 1E000-1E006 1E008-1E018 1E01B-1E021 "
    "1E023-1E024 1E026-1E02A 1E130-1E136 1E2AE 1E2EC-1E2EF 1E8D0-1E8D6 1E944-1E94A"
)


def _span(item: str) -> tuple[int, int]:
    first, _, last = item.partition("-")
    return int(first, 16), int(last or first, 16)


def _combining_spans() -> list[tuple[int, int]]:
    """The runs of code points `unicodedata.combining` flags, from `unicodedata` itself."""
    spans: list[tuple[int, int]] = []
    start = previous = -2
    for code in range(sys.maxunicode + 1):
        if unicodedata.combining(chr(code)):
            if code != previous + 1:
                if start >= 0:
                    spans.append((start, previous))
                start = code
            previous = code
    spans.append((start, previous))
    return spans


def _char_range(first: int, last: int) -> str:
    return re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first else "")


# --- charsets: pages checked (`catalog.check.content`) and pages imported (`catalog.importer`)

#: A page's <meta charset> or http-equiv charset, in its first bytes.
META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE | re.DOTALL
)
#: WHATWG: browsers decode these labels as windows-1252, and so do pages that declare them.
_WINDOWS_1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii"}
#: Python codecs no browser reads a page with, which a server's Content-Type or <meta>
#: could still name: bytes-to-bytes codecs (base64, zlib, rot13 ...) are not text encodings
#: and fail, "idna" and "undefined" fail on any body, and "punycode" takes time quadratic
#: in the body (minutes for 2 MiB) on the event loop every URL of the run shares.
_NOT_CHARSETS = frozenset({"idna", "punycode", "undefined"})


def media_type(content_type: str | None) -> str | None:
    """`text/html; charset=UTF-8` -> `text/html`: the type alone, so that its parameters'
    spelling is no change (`catalog.health`, `catalog.check.fetch`) nor another type."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def charset_codec(label: str | None) -> str | None:
    """The Python codec to read a page whose header or <meta> names `label`, as browsers
    read it; None for a label no browser would decode a page with."""
    if not label:
        return None
    label = label.strip().lower()
    if label in _WINDOWS_1252:
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    name = info.name
    if not getattr(info, "_is_text_encoding", True) or name in _NOT_CHARSETS:
        return None  # a page naming one is read like a page naming an unknown charset
    # A <meta> saying UTF-16 in a byte stream we could read as ASCII is wrong by definition.
    return "utf-8" if name.startswith("utf-16") or name.startswith("utf-32") else name
