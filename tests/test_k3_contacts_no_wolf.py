"""The contact watch must not cry wolf: a contact is gone only when two whole reads of
its page, on different nights in a row, did not show it.

A read cut short (byte cap, tag cap, a slow night's first bytes) may confirm a contact,
never lose it; a number spelled with other dashes and spaces is the same number; a run
for one entry looks for every entry's contacts on the page, and judges only those it
looked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from catalog import store
from catalog.check import contacts
from catalog.check.content import MAX_PARSED_TAGS, analyse_body
from catalog.check.facts import Answer, Cut
from catalog.health import Entry, LinkState, apply_contacts
from catalog.model import Observation
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import (
    check_night,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

KEY = "tel:8883737888"
OTHER = "tel:2025550143"
EMAIL = "mailto:help@hotline.example"
SITE = "https://hotline.example/"
ENTRY = Entry("1", "National Hotline", "Call 1-888-373-7888 or write to help@hotline.example.")


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


# --- reads cut short ------------------------------------------------------------------------


def _answer(body: bytes, **fields: Any) -> Answer:
    return Answer(SITE, 200, httpx.Headers({"content-type": "text/html"}), body, **fields)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param(b"<p>Call us</p>", {"truncated": True}, id="byte-cap"),
        pytest.param(b"<p>Call us</p>", {"cut": Cut.SLOW}, id="slow-first-bytes"),
        pytest.param(
            b"<p>Welcome</p>" + b"<b></b>" * MAX_PARSED_TAGS + b"<footer>Call us</footer>",
            {},
            id="tag-cap",
        ),
    ],
)
def test_a_read_cut_short_judges_nothing_missing(body: bytes, fields: dict[str, Any]) -> None:
    answer = _answer(body, **fields)
    page = analyse_body(body, "text/html", truncated=answer.truncated)
    found = contacts.read_answer([KEY], page, answer)
    assert found is not None and found.judged == ()
    whole = contacts.read_answer([KEY], page, _answer(b"<p>Call us</p>"))
    assert whole is not None and whole.judged == (KEY,)


def _read(shown: tuple[str, ...], at: float, **fields: Any) -> Observation:
    return make_observation(SITE, checked_at=days(at), contacts=shown, **fields)


def test_reads_cut_short_never_lose_a_contact_but_confirm_it() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL), 1), [ENTRY])
    for n in (2, 3, 4):
        state, changes = apply_contacts(state, _read((), n, contacts_judged=()), [ENTRY])
        assert changes == [] and state.contacts_gone == ()
    # One whole read without it, then a cut read that shows it: it starts over.
    state, _ = apply_contacts(state, _read((EMAIL,), 5), [ENTRY])
    state, _ = apply_contacts(state, _read((KEY,), 6, contacts_judged=()), [ENTRY])
    state, changes = apply_contacts(state, _read((EMAIL,), 7), [ENTRY])
    assert changes == [] and state.contacts_gone == ()


def test_a_page_cut_at_the_byte_cap_before_its_footer_loses_no_number(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    article = "<p>" + "The hotline connects survivors with services. " * 200 + "</p>"
    html = f"<html><body><main>{article}</main><footer>Call 1-888-373-7888</footer></body></html>"
    kit = make_catalog("kit", [make_resource("hotline", SITE, description="Call 1-888-373-7888.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        respx_mock.get(SITE).respond(200, html=html)
        for n, cap in ((1, 2 * 1024 * 1024), (2, 4096), (3, 4096), (4, 4096)):
            check = CheckSettings(max_attempts=1, soft404_probe=False, max_body_bytes=cap)
            events = check_night(engine, n, check, HealthSettings(), fingerprint_max_age_days=0)
            assert "contact_gone" not in [e.kind for e in events]
        (state,) = store.link_states(engine)
        assert (state.contacts_seen, state.contacts_gone) == ((KEY,), ())


# --- two reads ------------------------------------------------------------------------------


def test_a_number_on_alternate_nights_is_never_news() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL), 1), [ENTRY])
    for n in range(2, 10):
        shown = (KEY, EMAIL) if n % 2 else (EMAIL,)
        state, changes = apply_contacts(state, _read(shown, n), [ENTRY])
        assert changes == [] and state.contacts_gone == ()


def test_a_maintenance_page_for_a_night_is_no_news() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL), 1), [ENTRY])
    state, changes = apply_contacts(state, _read((), 2), [ENTRY])
    assert changes == [] and state.contact_reason is None
    state, changes = apply_contacts(state, _read((KEY, EMAIL), 3), [ENTRY])
    assert changes == []  # no "back" of a contact never reported gone
    assert state.contacts_seen == (KEY, EMAIL)


def test_the_second_read_without_it_must_be_another_night() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL), 1), [ENTRY])
    state, _ = apply_contacts(state, _read((EMAIL,), 2), [ENTRY])
    state, changes = apply_contacts(state, _read((EMAIL,), 2.1), [ENTRY])  # a recheck
    assert changes == [] and state.contacts_gone == ()
    state, changes = apply_contacts(state, _read((EMAIL,), 3), [ENTRY])
    assert [(c.kind, c.details["contact"]) for c in changes] == [("contact_gone", "1-888-373-7888")]
    # Gone, it keeps the first read that missed it (the recheck's did not move it).
    missed = f"{KEY} missing {days(2).isoformat()}"
    assert state.contacts_gone == (KEY,) and state.contacts_seen == (missed, EMAIL)
    state, changes = apply_contacts(state, _read((KEY, EMAIL), 4), [ENTRY])
    assert [c.kind for c in changes] == ["contact_back"]


def test_now_shows_says_the_number_as_the_page_writes_it() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY,), 1), [ENTRY])
    read: dict[str, Any] = {"contacts_written": ("(888) 555-0100",)}
    state, _ = apply_contacts(state, _read(("tel:8885550100",), 2, **read), [ENTRY])
    state, changes = apply_contacts(state, _read(("tel:8885550100",), 3, **read), [ENTRY])
    assert changes[0].details["shown"] == ["(888) 555-0100"]
    assert state.contact_reason is not None
    assert state.contact_reason.endswith("it now shows (888) 555-0100.")


# --- filtered runs --------------------------------------------------------------------------


def test_only_the_contacts_a_read_looked_for_can_go_missing() -> None:
    both = [ENTRY, Entry("2", "Support line", "Call (202) 555-0143.")]
    state, _ = apply_contacts(LinkState(), _read((KEY, OTHER), 1), both)
    for n in (2, 3):  # a run for entry 1 only, which did not look for entry 2's number
        state, changes = apply_contacts(state, _read((KEY,), n, contacts_judged=(KEY,)), both)
        assert changes == [] and state.contacts_gone == ()


def test_a_filtered_run_looks_for_every_entry_s_contacts_in_the_store_s_order(
    tmp_path: Path,
) -> None:
    # "b" (its row first) names the support line, "a" the hotline: byte order of their
    # ids is not the rows' order.
    kit = make_catalog(
        "kit",
        [
            make_resource("b", SITE, description="Call (202) 555-0143."),
            make_resource("a", SITE, description="Call 1-888-373-7888."),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        (whole,) = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=0)
        assert whole.contacts == (OTHER, KEY)
        for only in (
            {"entries": [("kit", "a")]},
            {"resource_ids": ["a"]},
            {"collection_keys": ["kit"], "resource_ids": ["b"]},
        ):
            (target,) = store.targets_for_check(
                engine, now=days(1), fingerprint_max_age_days=0, **only
            )
            assert target.contacts == (OTHER, KEY), only


# --- cost -----------------------------------------------------------------------------------


def test_a_link_whose_entries_name_no_contact_costs_no_reading_of_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most links: nothing looked for on the page, nothing seen or gone before."""

    def named(*texts: str | None) -> dict[str, str]:
        raise AssertionError("read the entries")

    monkeypatch.setattr(contacts, "named", named)
    obs = make_observation(SITE, checked_at=days(1), title="A page")
    assert apply_contacts(LinkState(), obs, [ENTRY]) == (LinkState(), [])
