"""A hotline's phone number or email, named in its entry, that disappears from its page.

`catalog.check.contacts` finds the contacts (phone numbers by digits, emails in any
case) in an entry and on its page, chrome included; `catalog.health.apply_contacts`
tells the curator when one that a read of the page showed is gone from a later read.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.check import check_targets, contacts
from catalog.health import Entry, LinkState, apply_contacts
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Priority, ReportContext
from reports.render import render_html, render_markdown
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

HOTLINE = "1-888-373-7888"
KEY = "tel:8883737888"


# --- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "Call 1-888-373-7888 any time",
        "Call (888) 373-7888.",
        "888.373.7888",
        "+1 888 373 7888",
        "1 (888) 373-7888",
        "+18883737888",
        "888 373 7888",
    ],
)
def test_a_number_is_one_number_however_it_is_written(written: str) -> None:
    assert list(contacts.named(written)) == [KEY]


def test_a_tel_link_is_the_number_too() -> None:
    body = b'<a href="tel:+18883737888">Call us</a>'
    assert contacts.on_page([KEY], "Call us", body) == (KEY,)
    body = b'<a href="TEL:1-888-373-7888">Call us</a>'
    assert contacts.on_page([KEY], "Call us", body) == (KEY,)


def test_emails_compare_in_any_case_and_mailto_links_count() -> None:
    assert list(contacts.named("Email Help@HumanTraffickingHotline.org.")) == [
        "mailto:help@humantraffickinghotline.org"
    ]
    body = b'<a href="mailto:HELP@humantraffickinghotline.org?subject=Tip">Write to us</a>'
    found = contacts.on_page(["mailto:help@humantraffickinghotline.org"], "Write to us", body)
    assert found == ("mailto:help@humantraffickinghotline.org",)


def test_an_international_number_needs_its_plus() -> None:
    assert list(contacts.named("Call +44 20 7946 0958")) == ["tel:+442079460958"]


@pytest.mark.parametrize(
    "text",
    [
        "Published 2024-01-15, revised 12/05/2026",
        "In 1999 and again in 2014",
        "ISBN 978-0-306-40615-7",
        "ISBN 0-306-40615-2",
        "ISBN 978-1-888-373-7888",
        "Washington, DC 20530-0001",
        "Open 24/7, in 200 languages",
        "Grant 2014-VT-BX-K001, 30,000 victims, 1,888,373 calls",
        "Text 233733 (BeFree)",
        "https://example.org/888-373-7888/page",
        "Serial 12345678901234",
    ],
)
def test_dates_years_isbns_zip_codes_and_counts_are_no_phone_numbers(text: str) -> None:
    assert contacts.named(text) == {}


def test_a_page_without_text_says_nothing() -> None:
    """A PDF (no text analysed) shows no contact: it must not read as "gone"."""
    assert contacts.on_page([KEY], "", b"%PDF-1.7 tel:18883737888") is None


def test_the_named_ones_come_first_and_the_others_are_bounded() -> None:
    others = " ".join(f"Call 202-555-{n:04d}." for n in range(40))
    found = contacts.on_page([KEY], f"{others} Hotline {HOTLINE}", b"")
    assert found is not None
    assert found[0] == KEY and len(found) == contacts.MAX_FOUND


# --- over the nights ------------------------------------------------------------------------

SITE = "https://hotline.example/"
ELSEWHERE = "https://support.example/"
CHECK = CheckSettings(max_attempts=1, soft404_probe=False)
HEALTH = HealthSettings()


def page(banner: str) -> str:
    """A hotline's page: the number in the site's header banner (chrome, which the
    fingerprint leaves out), the same article every night."""
    return (
        "<html><head><title>National Hotline</title></head><body>"
        f'<header role="banner"><p>Call the hotline: {banner}</p></header>'
        "<main><h1>National Hotline</h1><p>The hotline connects victims and survivors of "
        "trafficking with services and support, confidentially, any hour.</p></main>"
        "<footer>Open 24/7 in 200 languages. &copy; 2026</footer></body></html>"
    )


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def _night(engine: Engine, n: int, banner: str, respx_mock: respx.MockRouter) -> ReportContext:
    """Night `n`: the page shows `banner`; the run is checked, stored and reported."""
    respx_mock.routes.clear()
    respx_mock.get(SITE).respond(200, html=page(banner))
    respx_mock.get(ELSEWHERE).respond(200, html=page("Write to us at team@support.example"))
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    targets = store.targets_for_check(
        engine,
        now=days(n),
        fingerprint_max_age_days=0,  # a full read every night
    )
    observations = asyncio.run(
        check_targets(targets, CHECK, resolver=public, clock=lambda: days(n))
    )
    store.record_observations(engine, run_id, observations, HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return build_context(report_data(engine), now=days(n + 0.01))


def _news(ctx: ReportContext) -> dict[str, list[tuple[str | None, str]]]:
    assert ctx.changes is not None
    return {s.key: [(i.resource_id, i.summary) for i in s.items] for s in ctx.changes.sections}


def test_a_hotline_number_gone_from_the_banner_is_news_and_queued_until_it_is_back(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    kit = make_catalog(
        "toolkit",
        [
            make_resource(
                "hotline",
                SITE,
                title="National Human Trafficking Hotline",
                description=f"Call {HOTLINE}, confidential, 24/7.",
                type="hotline",
            ),
            # Its number is on a contact page, never on the linked one: no crying wolf.
            make_resource(
                "elsewhere",
                ELSEWHERE,
                title="Support line",
                description="Call (202) 555-0143 for support.",
            ),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in (1, 2):
            ctx = _night(engine, n, f"Call {HOTLINE}", respx_mock)
            assert not [r for r in ctx.resources if r.priority is not None]
            assert "contacts_gone" not in _news(ctx)

        # One read without it is no news yet (a banner of alternate nights, a maintenance
        # page); the second in a row, the next night, is.
        ctx = _night(engine, 3, "Call (888) 555-0100 or text 233733", respx_mock)
        assert "contacts_gone" not in _news(ctx)
        assert not [r for r in ctx.resources if r.priority is not None]
        ctx = _night(engine, 4, "Call (888) 555-0100 or text 233733", respx_mock)
        said = (
            f"The phone number {HOTLINE} named in the entry is no longer on the page; "
            "it now shows (888) 555-0100."
        )
        assert _news(ctx)["contacts_gone"] == [("hotline", said)]
        (queued,) = [r for r in ctx.resources if r.priority is not None]
        # A group of its own, ahead of the link groups (was "Possibly out of date", last).
        assert (queued.resource_id, queued.priority) == ("hotline", Priority.CONTACT)
        assert queued.seen == said
        assert queued.fix is not None and "contact details" in queued.fix
        assert said in render_markdown(ctx)
        assert "is no longer on the page" in render_html(ctx)

        ctx = _night(engine, 5, "Call (888) 555-0100", respx_mock)  # still gone: no news
        assert "contacts_gone" not in _news(ctx)
        assert [r.resource_id for r in ctx.resources if r.priority is not None] == ["hotline"]

        ctx = _night(engine, 6, f"Call {HOTLINE.replace('-', '.')[2:]}", respx_mock)
        back = f"The phone number {HOTLINE} named in the entry is on the page again."
        assert ("hotline", back) in _news(ctx)["recovered"]
        assert not [r for r in ctx.resources if r.priority is not None]


def test_a_page_that_fails_leaves_the_contacts_alone(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """Only a page read fine judges: a 500 is another rule's."""
    kit = make_catalog("toolkit", [make_resource("hotline", SITE, description=f"Call {HOTLINE}.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 1, f"Call {HOTLINE}", respx_mock)
        respx_mock.routes.clear()
        respx_mock.get(SITE).respond(500, html=page("Server error"))
        targets = store.targets_for_check(engine, now=days(2), fingerprint_max_age_days=0)
        observations = asyncio.run(
            check_targets(targets, CHECK, resolver=public, clock=lambda: days(2))
        )
        assert observations[0].contacts is None
        store.record_observations(engine, None, observations, HEALTH, now=days(2))
        (state,) = store.link_states(engine)
        assert (state.contacts_seen, state.contacts_gone) == ((KEY,), ())


def test_a_pdf_shows_no_contacts_to_judge(tmp_path: Path, respx_mock: respx.MockRouter) -> None:
    """A hotline's wallet card as a PDF: no text is analysed, so nothing is "gone"."""
    kit = make_catalog("toolkit", [make_resource("card", SITE, description=f"Call {HOTLINE}.")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _night(engine, 1, f"Call {HOTLINE}", respx_mock)
        respx_mock.routes.clear()
        pdf = b"%PDF-1.7\n1 0 obj << /Title (Wallet card) >> endobj\n%%EOF"
        respx_mock.get(SITE).respond(200, content=pdf, headers={"Content-Type": "application/pdf"})
        targets = store.targets_for_check(engine, now=days(2), fingerprint_max_age_days=0)
        observations = asyncio.run(
            check_targets(targets, CHECK, resolver=public, clock=lambda: days(2))
        )
        assert observations[0].contacts is None
        store.record_observations(engine, None, observations, HEALTH, now=days(2))
        (state,) = store.link_states(engine)
        assert (state.contacts_gone, state.contact_reason) == ((), None)


# --- the rules, one read at a time ----------------------------------------------------------


def _read(shown: tuple[str, ...] | None, at: float = 1, **fields: Any) -> Observation:
    return make_observation(SITE, checked_at=days(at), contacts=shown, **fields)


ENTRY = Entry("1", "National Hotline", f"Call {HOTLINE} or write to help@hotline.example.")
EMAIL = "mailto:help@hotline.example"


def test_an_entry_edited_to_the_new_number_clears_the_finding_quietly() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL)), [ENTRY])
    state, changes = apply_contacts(state, _read(("tel:8885550100", EMAIL), 2), [ENTRY])
    assert changes == []  # missing once: the next night's read decides
    state, changes = apply_contacts(state, _read(("tel:8885550100", EMAIL), 3), [ENTRY])
    assert [c.kind for c in changes] == ["contact_gone"]
    assert changes[0].details == {
        "contact": HOTLINE,
        "kind": "phone number",
        "shown": ["1-888-555-0100"],
    }
    assert state.contact_reason is not None and state.contacts_gone == (KEY,)
    edited = Entry("1", "National Hotline", "Call 1-888-555-0100 or help@hotline.example.")
    # The next check's plan looks for the new number; the old one is forgotten, no news.
    state, changes = apply_contacts(state, _read(("tel:8885550100", EMAIL), 4), [edited])
    assert changes == []
    assert (state.contacts_gone, state.contact_reason) == ((), None)
    assert set(state.contacts_seen) == {"tel:8885550100", EMAIL}


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"outcome": Outcome.SOFT_404}, id="soft-404"),
        pytest.param({"outcome": Outcome.BLOCKED, "http_status": 403}, id="wall"),
        pytest.param({"outcome": Outcome.NOT_FOUND, "http_status": 404}, id="failure"),
        pytest.param({"not_modified": True, "http_status": 304}, id="not-modified"),
    ],
)
def test_only_a_page_read_fine_can_lose_a_contact(fields: dict[str, Any]) -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL)), [ENTRY])
    after, changes = apply_contacts(state, _read((), 2, **fields), [ENTRY])
    assert (after, changes) == (state, [])


def test_a_drifted_page_is_told_by_its_drift_not_by_its_contacts() -> None:
    state, _ = apply_contacts(LinkState(), _read((KEY, EMAIL)), [ENTRY])
    drifted = replace(state, drift_reason="The page now looks like a parked domain.")
    assert apply_contacts(drifted, _read((), 2), [ENTRY]) == (drifted, [])
