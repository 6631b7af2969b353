"""False alarms a review found in the rules for missed rot (tests/test_e1_missed_rot.py),
night after night through the checker and the store: a slow night read as "the page was
emptied", a landing page replaced by the resource's own PDF read so, and news of online
gambling scams at a long page's end read as a gambling page."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine

from catalog import drift
from catalog.check import check_targets
from catalog.check.content import MAX_PARSED_TAGS
from catalog.model import Observation, Target
from catalog.settings import CheckSettings
from tests.factories import days
from tests.test_e1_missed_rot import (
    DESCRIPTION,
    GUIDE,
    LONG,
    NAV,
    SPAM,
    TITLE,
    URL,
    Site,
    drift_reason,
    html,
    night,
    public,
)
from tests.test_e1_missed_rot import engine as engine  # the fixture

# --- a read cut short is no page emptied ----------------------------------------------------

#: A page builder's page: its menu, then 300 KB of inline CSS, then its text.
STYLE = "<style>" + ".c{color:red}\n" * 25000 + "</style>"
HEAVY = (
    f"<html><head><title>{TITLE}</title></head><body>{NAV}{STYLE}<h1>{TITLE}</h1>{LONG}"
    "</body></html>"
).encode()


@pytest.mark.waits  # nights over real sockets
def test_a_slow_night_cut_at_its_first_bytes_is_no_page_emptied(engine: Engine) -> None:
    """Read to its end on fast nights, the page held the guide; a slow night judges it on
    its first 256 KiB, all CSS: its text lost the guide's words, and the link drifted
    ("lost the entry's words (90% → 0%)") until a fast night came."""
    slow = [False]

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(HEAVY), 16384):
            yield HEAVY[i : i + 16384]
            if slow[0] and i > 280_000:
                await asyncio.sleep(30)  # the night's deadline (5 s) ends the read first

    def site(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html"}
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=stream())

    for day in (1, 2, 3):
        night(engine, site, day)
    assert drift_reason(engine) is None
    slow[0] = True
    assert "drift_detected" not in night(engine, site, 4)
    assert drift_reason(engine) is None


def _observe(body: bytes, max_body_bytes: int = 2 * 1024 * 1024) -> Observation:
    def site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=body)

    (obs,) = asyncio.run(
        check_targets(
            [Target(URL, "guide.example")],
            CheckSettings(
                max_attempts=1,
                total_timeout=5,
                soft404_probe=False,
                max_body_bytes=max_body_bytes,
            ),
            transport=httpx.MockTransport(site),
            resolver=public,
            clock=lambda: days(1),
        )
    )
    return obs


def test_a_read_cut_at_the_byte_cap_or_the_tag_cap_says_its_text_is_not_whole() -> None:
    whole = _observe(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>").encode())
    assert whole.text_sample and not whole.text_cut
    capped = _observe(HEAVY, max_body_bytes=100_000)
    assert capped.title == TITLE and capped.text_cut
    tags = html("<b>x</b>" * (MAX_PARSED_TAGS // 2 + 10)).encode()
    assert tags.count(b"<") > MAX_PARSED_TAGS
    assert _observe(tags).text_cut


def test_the_emptied_rule_never_judges_a_read_cut_short(engine: Engine) -> None:
    """The same reads through the store: a cut read's text is short and holds none of the
    entry's words past its title, yet it is no page emptied."""
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    site.body = html("<p>" + "menu " * 20 + "</p>" + "<i></i>" * MAX_PARSED_TAGS + GUIDE)
    night(engine, site, 4)
    assert drift_reason(engine) is None


# --- a landing page replaced by the resource's own PDF ------------------------------------

PDF = (
    b"%PDF-1.4\n1 0 obj<</Title (Task Force e-Guide 2025) /Producer (Word)>>endobj\n"
    + b"0" * 4000
    + b"\ntrailer<</Info 1 0 R>>\n%%EOF\n"
)


class PdfSite(Site):
    """The landing page, until `pdf`: then the link answers with the guide's PDF itself."""

    pdf = False
    #: The PDF's Content-Type; None: a server that names none (the body says PDF).
    pdf_type: str | None = "application/pdf"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.pdf and str(request.url) == URL:
            headers = {"Content-Type": self.pdf_type} if self.pdf_type else {}
            return httpx.Response(200, headers=headers, content=PDF)
        return super().__call__(request)


@pytest.mark.parametrize("content_type", ["application/pdf", None])
def test_a_landing_page_replaced_by_the_resources_pdf_is_no_drift(
    engine: Engine, content_type: str | None
) -> None:
    """The PDF's title named the link a page "kept" and its absent text "lost the entry's
    words": drifted, and it stayed drifted each night the PDF was there."""
    site = PdfSite(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    site.pdf = True
    site.pdf_type = content_type
    for day in (4, 5):
        assert "drift_detected" not in night(engine, site, day)
    assert drift_reason(engine) is None


def _emptied(page_title: str, was_title: str | None) -> drift.DriftVerdict | None:
    text = "Home About Programs News Contact"
    rel = drift.relevance(TITLE, DESCRIPTION, page_title, text)
    return drift.judge_emptied(
        rel,
        [0.8, 0.8],
        whole=True,
        page_text=text,
        content_type="text/html; charset=utf-8",
        was_title=was_title,
    )


def test_the_emptied_reason_says_kept_only_of_the_title_the_page_had() -> None:
    kept = _emptied(TITLE, TITLE)
    assert kept is not None and f"page title '{TITLE}' kept" in kept.reason
    retitled = _emptied(f"{TITLE} (archived)", TITLE)
    assert retitled is not None and "kept" not in retitled.reason
    assert f"page title '{TITLE} (archived)'" in retitled.reason
    unknown = _emptied(TITLE, None)
    assert unknown is not None and "kept" not in unknown.reason


def test_the_emptied_rule_judges_html_pages_with_text_only() -> None:
    rel = drift.relevance(TITLE, DESCRIPTION, "Task Force e-Guide 2025", "")
    assert rel.text == 0
    for content_type in ("application/pdf", None, "text/html"):
        assert (
            drift.judge_emptied(
                rel, [0.8, 0.8], whole=True, page_text="", content_type=content_type
            )
            is None
        )
    text = "Home About Programs News Contact"
    menu = drift.relevance(TITLE, DESCRIPTION, TITLE, text)
    plain = drift.judge_emptied(
        menu, [0.8, 0.8], whole=True, page_text=text, content_type="text/plain"
    )
    assert plain is None
    page = drift.judge_emptied(
        menu, [0.8, 0.8], whole=True, page_text=text, content_type="application/xhtml+xml"
    )
    assert page is not None


# --- news of gambling scams at a long page's end ------------------------------------------

#: An Indonesian news site's "related news" aside at the end of a page on trafficking.
RELATED_ID = (
    "<aside>Berita terkait: Satgas Pemberantasan Judi Online tangkap 12 tersangka TPPO; "
    "Kominfo blokir 2.000 situs judi; korban TPPO dipekerjakan di perusahaan judi online "
    "di Kamboja.</aside>"
)
#: A report's closing words on what scam-compound workers were forced to do.
ENDING_EN = (
    "<p>Victims in scam compounds were forced to promote online slots and sportsbook "
    "apps to strangers, offering a fake welcome bonus.</p>"
)


@pytest.mark.parametrize("ending", [RELATED_ID, ENDING_EN], ids=["id-related-news", "en-report"])
def test_news_of_gambling_scams_at_a_long_pages_end_is_no_gambling_page(
    engine: Engine, ending: str
) -> None:
    """Online gambling scam compounds are a core trafficking topic: "looks like a gambling
    page" on such a page taught curators to skip the finding."""
    site = Site(html(LONG))
    for day in (1, 2):
        night(engine, site, day)
    site.body = html(LONG + ending)
    assert "drift_detected" not in night(engine, site, 3)
    assert drift_reason(engine) is None


def _tail(tail: str, head: str = GUIDE, page_title: str = TITLE) -> drift.Relevance:
    return drift.relevance(TITLE, DESCRIPTION, page_title, head, tail=tail)


@pytest.mark.parametrize(
    "tail",
    [
        "Berita terkait: Satgas Pemberantasan Judi Online tangkap 12 tersangka TPPO",
        "Kominfo blokir 2.000 situs judi dan situs judi online.",
        "Polisi ungkap jaringan judi slot online di Kamboja; korban TPPO dipulangkan.",
        "Workers were forced to promote online slots and sportsbook apps to strangers, "
        "offering a fake welcome bonus.",
        "Scripts promised free spins. Others a casino bonus. Some a deposit bonus.",
        "Related: togel rings; betting odds fixed by traffickers.",
    ],
)
def test_phrases_news_of_the_crime_uses_fire_nothing_in_a_tail(tail: str) -> None:
    assert _tail(tail).markers == ()
    # whatever the head scored
    assert _tail(tail, head="Agency news and press releases.", page_title="News").markers == ()


@pytest.mark.parametrize(
    ("tail", "shown"),
    [
        ("Berita lain slot gacor hari ini", "slot gacor"),
        ("Daftar Slot resmi", "Daftar Slot"),
        ("RTP Live tertinggi", "RTP Live"),
        ("gampang maxwin", "maxwin"),
        ("buy viagra online", "viagra"),
        # Several spam phrases packed as a list of links, none of them spam's alone.
        ("Free Spins | Casino Bonus | Deposit Bonus | Bet Now", "Free Spins"),
        ("Togel | Casino Bonus | Betting Odds", "Togel"),
    ],
)
def test_what_spam_pages_show_still_fires_in_a_tail(tail: str, shown: str) -> None:
    rel = _tail(f"Share this page. Related reading. {tail}")
    assert rel.markers and f"'{shown}'" in rel.evidence


def test_injected_spam_in_a_long_pages_footer_still_drifts(engine: Engine) -> None:
    site = Site(html(LONG))
    for day in (1, 2):
        night(engine, site, day)
    site.body = html(LONG + RELATED_ID + SPAM)
    assert "drift_detected" in night(engine, site, 3)
    reason = drift_reason(engine)
    assert reason is not None and "gambling" in reason and "slot gacor" in reason


def test_a_matching_indonesian_page_on_online_gambling_compounds_is_no_gambling_page() -> None:
    """The head of a page that still matches its entry: Indonesian reports name the crime
    "judi online", and the scam compounds' "situs judi" and "slot online"."""
    entry = (
        "Korban TPPO di Perusahaan Judi Online",
        "Panduan bagi pendamping korban perdagangan orang yang dipekerjakan paksa di "
        "Kamboja dan Myanmar.",
    )
    text = (
        "Korban TPPO dipekerjakan paksa di perusahaan judi online di Kamboja dan Myanmar. "
        "Mereka dipaksa mempromosikan situs judi dan judi slot online kepada warga. "
        "Panduan ini membantu pendamping korban perdagangan orang mengenali tanda-tanda, "
        "mendampingi korban, dan melapor kepada Satgas TPPO. Korban dipulangkan dan "
        "mendapat layanan pemulihan dari pendamping di Indonesia."
    )
    rel = drift.relevance(*entry, "Korban TPPO di Perusahaan Judi Online", text)
    assert rel.score >= drift.STILL_MATCHES and rel.markers == ()
    hacked = drift.relevance(*entry, entry[0], text + " Slot gacor hari ini, RTP live.")
    assert hacked.markers == ("gambling",)
