"""Text scraped from pages, made safe and comparable: accent folding shared by title
matching (`catalog.hygiene`) and drift scoring (`catalog.drift`), which compare words written
by people with words scraped from pages; and control characters taken out of what is shown."""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

__all__ = ["invisible_characters", "strip_accents", "without_controls"]


#: C0 and C1 control characters (whitespace among them becomes a space anyway).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """`text` with every control character a space. Titles scraped from anyone's page end up
    in terminals and the database, where an escape sequence would act and a NUL is refused
    (PostgreSQL); no reader sees either on a page."""
    return _CONTROLS.sub(" ", text)


_ASCII_CONTROLS = re.compile("[\x00-\x1f\x7f]")


def invisible_characters(text: str, *, controls: bool = True) -> list[str]:
    """The characters of `text` that show as nothing, in order, once each: Unicode format
    characters (a zero-width space, a soft hyphen, a byte order mark) and, with
    `controls`, control characters. Pasted from a web page into an id or a URL, they make
    it another id or a page that does not exist while the file looks right."""
    if text.isascii():  # nearly every id and URL: no need to look up each character
        return list(dict.fromkeys(_ASCII_CONTROLS.findall(text))) if controls else []
    kinds = ("Cf", "Cc") if controls else ("Cf",)
    return list(dict.fromkeys(c for c in text if unicodedata.category(c) in kinds))


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
    """Every code point `unicodedata.combining` flags, as one character class (built on
    first use: ~0.1 s)."""
    ranges: list[str] = []
    start = previous = -2
    for code in range(sys.maxunicode + 1):
        if unicodedata.combining(chr(code)):
            if code != previous + 1:
                if start >= 0:
                    ranges.append(_char_range(start, previous))
                start = code
            previous = code
    ranges.append(_char_range(start, previous))
    return re.compile("[" + "".join(ranges) + "]")


def _char_range(first: int, last: int) -> str:
    return re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first else "")
