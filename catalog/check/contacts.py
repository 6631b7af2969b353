"""Contact details an entry names (phone numbers, email addresses), found on its page.

A hotline's entry says "Call 1-888-373-7888" or names help@humantraffickinghotline.org;
the page it links to is where a visitor checks that number. When the number changes on
the page, the entry is wrong, and for a hotline that is the most harmful rot there is:
someone in danger calls a dead or reassigned number. The fingerprint leaves the page's
chrome out on purpose (a header banner, a footer: where hotlines put their number), so
a changed number there said nothing, and in the main content only "Content changed".

Stage: check (pure, no I/O). `named` reads an entry's title and description when the
plan is made; `read_page` reads a page's whole visible text (chrome included, as
`content.PageFacts.text` keeps it), its `tel:` and `mailto:` link targets and the
addresses Cloudflare hides, only for links whose entries name a contact (most name none:
a first run of 10,000 pages pays nothing for them), and says which named ones the read
may find missing: none when it stopped short of the page's end (`read_answer`).
`catalog.health.apply_contacts` judges the results over the nights.

Contacts are compared as keys: a phone number by its digits, a North American one
without its leading +1 or 1 ("1-888-373-7888", "(888) 373-7888", "888.373.7888" and
`tel:+18883737888` are "tel:8883737888"), any other by "+" and its digits; an email
address in lower case ("mailto:help@example.org"). Only numbers written as phone numbers
are taken: a North American number needs the 3-3-4 grouping (area code and exchange
beginning with 2-9), another a leading "+" and 8 to 15 digits, so dates, years, ISBNs, ZIP
codes, "24/7" and "200 languages" are none. Short codes ("text 233733") are left out: six
digits are too often something else. Page and entry text alike are read with their
spellings made plain first (`_spelled`: full-width digits, non-breaking hyphens, en
dashes, NBSP), and a separator may have a space either side ("1-888-<span>373</span>-7888"
reads "1-888- 373 -7888"): a page that changed its typography has not lost its number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from urllib.parse import unquote

from catalog.check.content import PageFacts
from catalog.check.facts import Answer

#: Contacts an observation keeps: those named that the page shows, then others it shows
#: (a likely replacement to name), up to this many in all.
MAX_FOUND = 20
#: Contacts read from one entry: a description listing more is a directory, not a hotline.
MAX_NAMED = 10
#: Other contacts a finding names as what the page shows now.
MAX_SHOWN = 3

PHONE = "tel:"
EMAIL = "mailto:"

#: Dashes and spaces people (and editors) put in numbers, as the patterns read them:
#: non-breaking and figure dashes, en and em dashes, the minus sign; what NFKC leaves of
#: NBSP, thin and ideographic spaces is a plain space already.
_SPELLING = str.maketrans(
    dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
    | dict.fromkeys("\u00a0\u2007\u2009\u202f\u3000", " ")
)

# A separator between a number's groups: a dash or dot, with a space either side at most
# ("1-888- 373 -7888": a group in its own <span>), or one or two spaces.
_SEP = r"(?: ?[.-] ?| {1,2})"
# A North American number: optional +1 or 1, then (area) or area and a separator, then
# 3-4 digits with a separator; area code and exchange begin with 2-9 ("Case 123-456-7890"
# is none). Not inside a longer run of digits, words or dashes (an ISBN
# "978-1-888-373-7888-2", an id), nor after a slash (a URL's path, "24/7") or "1." (a
# version "2.1.202.555.0100"); "Tel.888-..." is one. May be followed by "x12" (an
# extension) or "/711" (the relay service), neither part of the number.
_NANP = re.compile(
    rf"(?<![\w/+-])(?<!\d\.)(?:\+?1{_SEP}?)?(?:\([2-9]\d\d\) ?[.-]? ?|[2-9]\d\d{_SEP})"
    rf"[2-9]\d\d{_SEP}\d{{4}}(?![^\W\dxX]|\d|[xX](?!\d)|-|\.\d|/(?!\d{{1,4}}\b))"
)
#: Words before which a dotted number is a version, not a phone ("Version 1.202.555.0100").
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|ver|v|release|build|rev)[ .:]*$")
# Any other: a "+", a country code and groups of digits (8 to 15 digits in all, E.164).
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:(?: ?[.-] ?| )?\(?\d{1,5}\)?){2,6}(?![\w-])")
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
#: Link targets in a page's bytes: `href="tel:+1-888-373-7888"`, `mailto:help@x.org?subject=`.
_TARGET = re.compile(rb"""(?i)\b(tel|mailto):([^"'<>\s?#]{1,120})""")
_TEL_END = re.compile(r"[;,pPwWxX]")
#: What Cloudflare's email protection writes in place of an address, and where it keeps
#: the address (hex, XOR-ed with its first byte): `data-cfemail="..."` or a link to
#: `/cdn-cgi/l/email-protection#...`.
CF_PLACEHOLDER = "[email protected]"
_CFEMAIL = re.compile(rb"""(?:data-cfemail=["']?|email-protection#)([0-9a-fA-F]{4,400})""")
_DIGITS = re.compile(r"\d")
#: A number's last seven digits, as `_NANP` ends: a page's years and counts seldom hold
#: them, and this search costs half of `_NANP`'s.
_LAST_SEVEN = re.compile(rf"\d{{3}}{_SEP}\d{{4}}")


def _spelled(text: str) -> str:
    """`text` with the spellings of digits, dashes and spaces the patterns read: full-width
    digits, non-breaking hyphens and spaces, en dashes become ASCII (NFKC, then `_SPELLING`).
    Most text is ASCII and left as it is."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_SPELLING)


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


def _digit_count(text: str) -> int:
    """How many digits `text` holds: ten `str.count` calls cost less than a regex scan."""
    return sum(text.count(digit) for digit in "0123456789")


def _in_text(text: str) -> Iterable[tuple[str, str]]:
    """(key, as written) of each contact in `text` (`_spelled` already), in order."""
    # Cheap tests first: most text (a description with a year or two) holds no ten
    # digits, no "+" and no "@", and is not scanned at all.
    international = "+" in text
    if international or (_digit_count(text) >= 10 and _LAST_SEVEN.search(text)):
        spans: list[tuple[int, str, str]] = []
        for match in _NANP.finditer(text):
            if match.group().count(".") >= 2 and _VERSION_BEFORE.search(text, 0, match.start()):
                continue
            key = phone_key(match.group())
            if key is not None:
                spans.append((match.start(), key, match.group().strip()))
        if international:
            for match in _INTERNATIONAL.finditer(text):
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
        if text:
            for key, written in _in_text(_spelled(text)):
                found.setdefault(key, written)
    return dict(list(found.items())[:MAX_NAMED])


def _cf_emails(body: bytes) -> list[str]:
    """The keys of the addresses Cloudflare's email protection hides in `body`."""
    keys = []
    for hexed in _CFEMAIL.findall(body):
        raw = bytes.fromhex(hexed.decode()[: len(hexed) // 2 * 2])
        address = bytes(b ^ raw[0] for b in raw[1:]).decode("utf-8", "replace")
        key = email_key(address)
        if key is not None:
            keys.append(key)
    return keys


def shown_on_page(text: str, body: bytes) -> dict[str, str]:
    """The contacts a page shows: key -> as the page writes it (a link's target only when
    its text does not write it). `text` is the page's whole visible text, `body` its bytes
    (for `tel:` and `mailto:` link targets: a "Call us" button's number is on the page too,
    and for addresses Cloudflare hides)."""
    text = _spelled(text)
    shown: dict[str, str] = {}
    for key, written in _in_text(text):
        shown.setdefault(key, written)
    if b"tel:" in body or b"mailto:" in body or b"TEL:" in body or b"MAILTO:" in body:
        for scheme, target in _TARGET.findall(body):
            value = unquote(target.decode("utf-8", "replace"))
            # A number ends at ";" or "," (`tel:+18883737888;ext=2`, a pause); a mailto
            # may list addresses, separated by ",".
            if scheme.lower() == b"tel":
                spelled = [(phone_key(_TEL_END.split(value, 1)[0]), "")]
            else:
                spelled = [(email_key(address), address.strip()) for address in value.split(",")]
            for found, said in spelled:
                if found is not None:
                    shown.setdefault(found, said or display(found))
    if CF_PLACEHOLDER in text:  # (NFKC made its NBSP a space)
        for key in _cf_emails(body):
            shown.setdefault(key, key.removeprefix(EMAIL))
    return shown


def judged_on_page(
    named_keys: Iterable[str], text: str, body: bytes, *, whole: bool
) -> tuple[str, ...]:
    """The keys of `named_keys` a read of a page may find missing: none when the read
    stopped short of the page's end (`whole` false: at the byte cap, the tag cap, a slow
    night's first bytes; hotlines put their number in the footer), and no email address
    when the page hides one from us (Cloudflare's placeholder without an address to
    decode). The others it may only confirm."""
    if not whole or not text:
        return ()
    keys = tuple(named_keys)
    hidden = _spelled(text).count(CF_PLACEHOLDER) if "protected]" in text else 0
    if hidden and hidden > len(_cf_emails(body)):
        keys = tuple(key for key in keys if not key.startswith(EMAIL))
    return keys


class PageContacts(NamedTuple):
    """What one read of a page says of contacts (`read_page`)."""

    #: The contacts it shows: the named ones first, then others, `MAX_FOUND` at most.
    shown: tuple[str, ...]
    #: Each of `shown` as the page writes it ("(888) 555-0100"), for "it now shows".
    written: tuple[str, ...]
    #: The named ones it could find missing (`judged_on_page`); the others it only confirms.
    judged: tuple[str, ...]


def read_page(
    named_keys: Iterable[str], text: str, body: bytes, *, whole: bool = True
) -> PageContacts | None:
    """The contacts a page shows and those of `named_keys` it may find missing; None for a
    page with no text to read (a PDF, an image): it says nothing. `whole`: the read got to
    the page's end (`judged_on_page`)."""
    if not text:
        return None
    named_keys = tuple(named_keys)
    shown = shown_on_page(text, body)
    wanted = [key for key in named_keys if key in shown]
    keys = tuple([*wanted, *(key for key in shown if key not in wanted)][:MAX_FOUND])
    judged = judged_on_page(named_keys, text, body, whole=whole)
    return PageContacts(keys, tuple(shown[key] for key in keys), judged)


def read_answer(
    named_keys: Sequence[str], page: PageFacts | None, answer: Answer | None
) -> PageContacts | None:
    """`read_page` of a check's page and the answer it was read from; a read is whole
    unless it stopped short of the page's end (`Answer.stopped_short`)."""
    if not named_keys or page is None or answer is None:
        return None
    return read_page(named_keys, page.text, answer.body, whole=not answer.stopped_short)


def on_page(named_keys: Iterable[str], text: str, body: bytes) -> tuple[str, ...] | None:
    """The contacts a page shows, keys of `named_keys` first, then others, `MAX_FOUND` at
    most; None for a page with no text to read (`read_page`)."""
    found = read_page(named_keys, text, body)
    return found.shown if found is not None else None


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
