"""The contact watch must not cry wolf: a contact is gone only when two whole reads of
its page, on different nights in a row, did not show it.

A read cut short (byte cap, tag cap, a slow night's first bytes) may confirm a contact,
never lose it; a number spelled with other dashes and spaces is the same number; a run
for one entry looks for every entry's contacts on the page, and judges only those it
looked for.
"""

from __future__ import annotations

import pytest

from catalog.check import contacts
from catalog.check.content import analyse_body

KEY = "tel:8883737888"
EMAIL = "mailto:help@hotline.example"


# --- spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "Call 1-888- 373 -7888",  # "1-888-<span>373</span>-7888"
        "Call 1\u2011888\u2011373\u20117888",  # non-breaking hyphens
        "Call 1\u2013888\u2014373\u22127888",  # en dash, em dash, minus sign
        "Call 888\u00a0373\u20097888",  # NBSP, thin space
        "Call \uff18\uff18\uff18-\uff13\uff17\uff13-\uff17\uff18\uff18\uff18",  # full-width
        "Tel.888-373-7888",
        "Voice 888-373-7888/711",
        "Call 888-373-7888x12",
        "Call 888-373-7888 ext. 12",
        "Call (888)\u00a0373-7888",
    ],
)
def test_a_number_spelled_otherwise_is_the_same_number(written: str) -> None:
    assert list(contacts.named(written)) == [KEY]
    assert contacts.on_page([KEY], written, b"") == (KEY,)


@pytest.mark.parametrize("text", ["Case 123-456-7890", "Version 1.202.555.0100", "1-088-373-7888"])
def test_area_codes_and_exchanges_begin_with_2_to_9(text: str) -> None:
    assert contacts.named(text) == {}


def test_a_number_in_its_own_span_is_read_from_the_page() -> None:
    body = b"<html><body><p>Call 1-888-<span>373</span>-7888</p></body></html>"
    page = analyse_body(body, "text/html", truncated=False)
    assert contacts.on_page([KEY], page.text, body) == (KEY,)


@pytest.mark.parametrize("target", [b"tel:+1-888-373-7888;ext=2", b"tel:18883737888,2"])
def test_a_tel_link_ends_at_its_extension(target: bytes) -> None:
    assert contacts.on_page([KEY], "Call us", b'<a href="' + target + b'">Call us</a>') == (KEY,)


def _cfemail(address: str, key: int = 0x5A) -> bytes:
    return (bytes([key]) + bytes(b ^ key for b in address.encode())).hex().encode()


def test_an_address_cloudflare_hides_is_decoded() -> None:
    body = b'<a class="__cf_email__" data-cfemail="' + _cfemail("help@hotline.example") + b'">'
    found = contacts.read_page([EMAIL], "Write to [email\u00a0protected]", body)
    assert found is not None
    assert (found.shown, found.judged) == ((EMAIL,), (EMAIL,))


def test_an_address_hidden_beyond_decoding_makes_no_judgement_of_emails() -> None:
    found = contacts.read_page([KEY, EMAIL], "Call 888-373-7888, write [email protected]", b"")
    assert found is not None
    assert (found.shown, found.judged) == ((KEY,), (KEY,))
