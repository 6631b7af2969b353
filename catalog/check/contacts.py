"""Contact details an entry names (phone numbers, email addresses), found on its page.

A hotline's entry says "Call 1-888-373-7888" or names help@humantraffickinghotline.org;
the page it links to is where a visitor checks that number. When the number changes on
the page, the entry is wrong, and for a hotline that is the most harmful rot there is:
someone in danger calls a dead or reassigned number. The fingerprint leaves the page's
chrome out on purpose (a header banner, a footer: where hotlines put their number), so
a changed number there said nothing, and in the main content only "Content changed".

Stage: check (pure, no I/O). `named` reads an entry's title and description when the
plan is made; `on_page` reads a page's whole visible text (chrome included, as
`content.PageFacts.text` keeps it) and its `tel:` and `mailto:` link targets, only for
links whose entries name a contact (most name none: a first run of 10,000 pages pays
nothing for them). `catalog.health.apply_contacts` judges the results over the nights.

Contacts are compared as keys: a phone number by its digits, a North American one
without its leading +1 or 1 ("1-888-373-7888", "(888) 373-7888", "888.373.7888" and
`tel:+18883737888` are "tel:8883737888"), any other by "+" and its digits; an email
address in lower case ("mailto:help@example.org"). Only numbers written as phone numbers
are taken: a North American number needs the 3-3-4 grouping, another a leading "+" and
8 to 15 digits, so dates, years, ISBNs, ZIP codes, "24/7" and "200 languages" are none.
Short codes ("text 233733") are left out: six digits are too often something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

#: Contacts an observation keeps: those named that the page shows, then others it shows
#: (a likely replacement to name), up to this many in all.
MAX_FOUND = 20
#: Contacts read from one entry: a description listing more is a directory, not a hotline.
MAX_NAMED = 10
#: Other contacts a finding names as what the page shows now.
MAX_SHOWN = 3

PHONE = "tel:"
EMAIL = "mailto:"

# A North American number: optional +1 or 1, then (area) or area and a separator, then
# 3-4 digits with a separator. Not inside a longer run of digits, words or dashes (an
# ISBN "978-1-888-373-7888-2", an id), nor after a slash (a URL's path, "24/7").
_NANP = re.compile(
    r"(?<![\w/.+-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w/-]|\.\d)"
)
# Any other: a "+", a country code and groups of digits (8 to 15 digits in all, E.164).
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w-])")
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
#: Link targets in a page's bytes: `href="tel:+1-888-373-7888"`, `mailto:help@x.org?subject=`.
_TARGET = re.compile(rb"""(?i)\b(tel|mailto):([^"'<>\s?#]{1,120})""")
_DIGITS = re.compile(r"\d")


def phone_key(text: str) -> str | None:
    """`text`'s phone key ("tel:8883737888"), or None when its digits are no number."""
    digits = "".join(_DIGITS.findall(text))
    international = text.lstrip().startswith("+")
    if international and digits.startswith("1") and len(digits) == 11:
        return PHONE + digits[1:]
    if international:
        return PHONE + "+" + digits if 8 <= len(digits) <= 15 else None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return PHONE + digits if len(digits) == 10 else None


def email_key(text: str) -> str | None:
    address = text.strip().strip(".").lower()
    return EMAIL + address if _EMAIL.fullmatch(address) else None


def _in_text(text: str) -> Iterable[tuple[str, str]]:
    """(key, as written) of each contact in `text`, in order."""
    if _DIGITS.search(text):  # much text holds none of either
        spans: list[tuple[int, str, str]] = []
        for pattern in (_NANP, _INTERNATIONAL):
            for match in pattern.finditer(text):
                key = phone_key(match.group())
                if key is not None:
                    spans.append((match.start(), key, match.group().strip()))
        yield from ((key, written) for _, key, written in sorted(spans))
    if "@" in text:
        for match in _EMAIL.finditer(text):
            key = email_key(match.group())
            if key is not None:
                yield key, match.group().rstrip(".")


def named(*texts: str | None) -> dict[str, str]:
    """The contacts `texts` (an entry's title and description) name: key -> as written,
    the first spelling of each, at most `MAX_NAMED`."""
    found: dict[str, str] = {}
    for text in texts:
        for key, written in _in_text(text or ""):
            found.setdefault(key, written)
    return dict(list(found.items())[:MAX_NAMED])


def on_page(named_keys: Iterable[str], text: str, body: bytes) -> tuple[str, ...] | None:
    """The contacts a page shows, keys of `named_keys` first, then others, `MAX_FOUND` at
    most; None for a page with no text to read (a PDF, an image): it says nothing.

    `text` is the page's whole visible text, `body` its bytes (for `tel:` and `mailto:`
    link targets: a "Call us" button's number is on the page too)."""
    if not text:
        return None
    shown = dict.fromkeys(key for key, _ in _in_text(text))
    if b"tel:" in body or b"mailto:" in body or b"TEL:" in body or b"MAILTO:" in body:
        for scheme, target in _TARGET.findall(body):
            value = unquote(target.decode("utf-8", "replace"))
            key = phone_key(value) if scheme.lower() == b"tel" else email_key(value)
            if key is not None:
                shown.setdefault(key)
    wanted = [key for key in named_keys if key in shown]
    others = [key for key in shown if key not in wanted]
    return tuple([*wanted, *others][:MAX_FOUND])


def kind_of(key: str) -> str:
    """ "phone number" or "email address", as a finding names it."""
    return "phone number" if key.startswith(PHONE) else "email address"


def display(key: str) -> str:
    """A key as people read it: "1-888-373-7888", "+44 2079460958", "help@example.org"."""
    if key.startswith(EMAIL):
        return key.removeprefix(EMAIL)
    digits = key.removeprefix(PHONE)
    if len(digits) == 10 and digits.isdigit():
        return f"1-{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits
