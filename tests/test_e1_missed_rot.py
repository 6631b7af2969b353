"""Rot a false-negative review found the nightly checks missed, night after night through
the checker and the store: a page emptied or left with a "no longer available" notice
under its old title, spam injected into a long page's footer, and a redirect to a domain
marketplace seen only by a HEAD."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from catalog import drift, store
from catalog.check import check_targets, checker
from catalog.check.checker import TEXT_SAMPLE_CHARS
from catalog.model import Observation, unpack_text
from catalog.settings import CheckSettings, HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import T0, days, make_catalog, make_resource, temporary_database

URL = "https://guide.example/eguide"
TITLE = "Human Trafficking Task Force e-Guide"
DESCRIPTION = (
    "Guidance for task forces on collaborative investigations, victim services, "
    "prosecution of traffickers, labor trafficking and trauma-informed interviewing."
)
GUIDE = (
    "The Human Trafficking Task Force e-Guide helps task forces build collaborative "
    "investigations of human trafficking, support victims and survivors, and prosecute "
    "traffickers. Sections cover forming a task force, victim services, investigations, "
    "prosecution, labor trafficking, sex trafficking, trauma informed interviewing, "
    "strategic planning, and community partnerships for multidisciplinary teams."
)
NAV = "<nav>Home About Programs Grants News Contact</nav>"
FOOTER = "<footer>Accessibility Privacy Policy FOIA Site map</footer>"


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def html(body: str, title: str = TITLE) -> str:
    return f"<html><head><title>{title}</title></head><body>{NAV}{body}{FOOTER}</body></html>"


class Site:
    """guide.example/eguide answering `body` (an HTML page) to GET, 200 to HEAD; or, with
    `redirect_to`, a 302 there to both (the target answers 200)."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.redirect_to: str | None = None
        self.methods: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == URL:
            self.methods.append(request.method)
            if self.redirect_to is not None:
                return httpx.Response(302, headers={"Location": self.redirect_to})
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if request.method == "HEAD" or str(request.url) != URL:
            parked = "<title>guide.example</title><p>The domain guide.example is for sale.</p>"
            return httpx.Response(
                200, headers=headers, text="" if request.method == "HEAD" else parked
            )
        return httpx.Response(200, headers=headers, text=self.body)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(
        "toolkit", [make_resource("a", url=URL, title=TITLE, description=DESCRIPTION, year=2024)]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=T0)
        yield engine


def night(
    engine: Engine,
    site: Callable[[httpx.Request], httpx.Response],
    day: float,
    *,
    read: bool = True,
) -> list[str]:
    """One night's check of the link, stored; the kinds of the events it made. The page is
    read (GET) when `read`, else only when a week has passed (a HEAD night)."""
    observations = observe(engine, site, day, fingerprint_max_age_days=0 if read else 7)
    events = store.record_observations(engine, None, observations, HealthSettings(), now=days(day))
    return [e.kind for e in events]


def observe(
    engine: Engine,
    site: Callable[[httpx.Request], httpx.Response],
    day: float,
    *,
    fingerprint_max_age_days: float,
    total_timeout: float = 5,
) -> list[Observation]:
    """Night `day`'s checks of the links due, answered by `site`, not stored yet."""
    targets = store.targets_for_check(
        engine, now=days(day), fingerprint_max_age_days=fingerprint_max_age_days
    )
    return asyncio.run(
        check_targets(
            targets,
            CheckSettings(max_attempts=1, total_timeout=total_timeout, soft404_probe=False),
            transport=httpx.MockTransport(site),
            resolver=public,
            clock=lambda: days(day),
        )
    )


def drift_reason(engine: Engine) -> str | None:
    (state,) = [s for s in store.link_states(engine) if s.url == URL]
    return state.drift_reason


# --- a page emptied, or left with a notice, under its old title ------------------------------


@pytest.mark.parametrize(
    "left",
    [
        "",
        "<p>This resource is no longer available.</p>",
        "<h1>Human Trafficking Task Force e-Guide</h1>"
        "<p>This resource has been archived and is no longer maintained.</p>",
    ],
)
def test_a_page_whose_text_lost_the_entrys_words_drifts(engine: Engine, left: str) -> None:
    """The title stayed, the guide went: "OK" forever, the only news "Content changed"."""
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    assert drift_reason(engine) is None
    site.body = html(left)
    events = night(engine, site, 4)
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason
    assert not drift.names_markers(reason)
    assert "drift_detected" in events
    # Put back, the guide clears the flag.
    site.body = html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>")
    assert "drift_cleared" in night(engine, site, 5)
    assert drift_reason(engine) is None


def test_a_page_that_never_held_the_entrys_words_stays_quiet(engine: Engine) -> None:
    """A landing page whose text never carried the entry's words (a download link under the
    entry's title) has no words to lose: it stays OK as it always did, even when it
    changes."""
    site = Site(html("<p>Download the PDF (2 MB).</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    site.body = html("<p>Download the PDF (3 MB). Updated edition.</p>")
    night(engine, site, 4)
    assert drift_reason(engine) is None


def test_a_page_that_keeps_its_words_through_a_rewrite_stays_quiet(engine: Engine) -> None:
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    rewritten = (
        "Updated 2025. Task forces use this e-Guide to plan investigations, serve victims "
        "and survivors, prosecute traffickers and cover labor trafficking. It explains "
        "trauma-informed interviewing and collaborative partnerships."
    )
    site.body = html(f"<h1>{TITLE}</h1><p>{rewritten}</p>")
    night(engine, site, 4)
    assert drift_reason(engine) is None


# --- spam in a long page's footer --------------------------------------------------------------

#: A long guide: the first 2,000 characters (what drift read) are far from the footer.
LONG = " ".join(
    f"<p>Section {n}. {GUIDE} Chapter {n} adds case studies and checklists.</p>"
    for n in range(1, 15)
)
SPAM = (
    '<div class="links"><a href="https://x.example">slot gacor</a> '
    '<a href="https://y.example">judi online</a> <a href="https://z.example">situs judi '
    "terpercaya</a> maxwin hari ini</div>"
)


def test_spam_injected_into_a_long_pages_footer_drifts(engine: Engine) -> None:
    site = Site(html(LONG))
    for day in (1, 2):
        night(engine, site, day)
    assert drift_reason(engine) is None
    site.body = html(LONG + SPAM)
    assert "drift_detected" in night(engine, site, 3)
    reason = drift_reason(engine)
    assert reason is not None and drift.names_markers(reason) and "gambling" in reason


def test_a_long_page_that_mentions_gambling_in_its_footer_stays_quiet(engine: Engine) -> None:
    """A report on trafficking may well name casinos and betting at its end: its subject,
    not spam."""
    ending = (
        "<p>Related: forced labour in online casino scam compounds; sports betting fraud "
        "and trafficking; casino workers as victims.</p>"
    )
    site = Site(html(LONG + ending))
    for day in (1, 2, 3):
        night(engine, site, day)
    assert drift_reason(engine) is None


# --- a redirect to a domain marketplace, seen by HEAD ------------------------------------------


def test_a_head_night_that_ends_at_a_domain_marketplace_drifts(engine: Engine) -> None:
    """Until the weekly read, the link showed OK plus "New redirects"."""
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    night(engine, site, 1)
    site.redirect_to = "https://sedo.com/search/details/?domain=guide.example"
    site.methods.clear()
    assert "drift_detected" in night(engine, site, 2, read=False)
    assert site.methods == ["HEAD"]  # a HEAD night: the page was not read
    reason = drift_reason(engine)
    assert reason is not None and drift.names_markers(reason) and "sedo.com" in reason


def test_a_head_night_that_ends_elsewhere_on_its_site_is_no_drift(engine: Engine) -> None:
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    night(engine, site, 1)
    site.redirect_to = "https://guide.example/eguide/"
    night(engine, site, 2, read=False)
    assert drift_reason(engine) is None


def test_the_tail_is_the_end_past_the_sample_and_only_fires_markers() -> None:
    """Short pages (most) carry no tail; a long page's tail is its end past the sample,
    and its words never move the score (only spam markers are read there)."""
    assert checker._tail("short page " * 10) is None
    text = "a" * TEXT_SAMPLE_CHARS + " middle " + "b" * 5000 + " end"
    packed = checker._tail(text)
    assert packed is not None and unpack_text(packed) == text[-checker.TEXT_TAIL_CHARS :]
    just_past = "a" * TEXT_SAMPLE_CHARS + " footer"
    packed = checker._tail(just_past)
    assert packed is not None and unpack_text(packed) == " footer"
    plain = drift.relevance(TITLE, DESCRIPTION, TITLE, GUIDE)
    with_tail = drift.relevance(TITLE, DESCRIPTION, TITLE, GUIDE, tail="Unrelated words " * 50)
    assert with_tail.score == plain.score and not with_tail.markers
    spam = drift.relevance(TITLE, DESCRIPTION, TITLE, GUIDE, tail="slot gacor judi online")
    assert spam.markers == ("gambling",)


def test_a_page_trimmed_to_its_download_link_stays_quiet(engine: Engine) -> None:
    """The text still names the entry and says nothing went: the resource is likely one
    click away, and crying wolf would teach curators to skip the finding."""
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    site.body = html(f"<h1>{TITLE}</h1><p>Download the e-Guide (PDF, 2 MB).</p>")
    night(engine, site, 4)
    assert drift_reason(engine) is None


def test_one_earlier_read_is_no_pattern_to_have_lost(engine: Engine) -> None:
    site = Site(html(f"<h1>{TITLE}</h1><p>{GUIDE}</p>"))
    night(engine, site, 1)
    site.body = html("<p>This resource is no longer available.</p>")
    night(engine, site, 2)
    assert drift_reason(engine) is None


def test_the_emptied_rule_needs_the_whole_text_and_the_pages_own_history() -> None:
    """A long page's sample may be all menu: only a text read whole can have lost the
    entry's words. And only against the page's own history, never a fixed bar."""
    menu = "Home About Programs News Contact"
    rel = drift.relevance(TITLE, DESCRIPTION, TITLE, menu)
    assert rel.text == 0
    assert drift.judge_emptied(rel, [0.8, 0.8], whole=True, page_text=menu) is not None
    assert drift.judge_emptied(rel, [0.8, 0.8], whole=False, page_text=menu) is None
    assert drift.judge_emptied(rel, [0.8], whole=True, page_text=menu) is None
    assert drift.judge_emptied(rel, [0.1, 0.1], whole=True, page_text=menu) is None  # never had
    kept = drift.relevance(TITLE, DESCRIPTION, TITLE, GUIDE)
    assert kept.text is not None and kept.text > drift.TEXT_HAD
    assert drift.judge_emptied(kept, [0.8, 0.8], whole=True, page_text=GUIDE) is None


def test_a_footer_naming_gambling_fires_nothing_even_on_a_page_that_scores_low() -> None:
    """Only spam's own phrases count in the tail: a news page's "related" list naming
    casinos and sports betting is its subject, whatever the head scored."""
    news = "Agency news: grants announced, training calendar, and the latest press releases."
    rel = drift.relevance(
        TITLE,
        DESCRIPTION,
        "News",
        news,
        tail="Related: online casino scam compounds hold trafficking victims; sports betting "
        "fraud; a poker room raided.",
    )
    assert rel.markers == ()
