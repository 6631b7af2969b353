"""A read cut short adds to the text-share history only what it can know.

`drift.judge_emptied` flags a page whose text lost the entry's words: its text share now
at most `TEXT_GONE`, where the median of the link's earlier shares (`TEXT_SCORES` in each
judged observation's relevance_scores) was at least `TEXT_HAD`. Those shares are of the
checker's 2,000-character sample. A slow night's read of a page builder's page stops at its
first 256 KiB: a mega-menu, then inline CSS, and none of the guide after it. Its text is
shorter than the sample a full read takes, so its share (0, the menu's) says nothing of
what that sample holds, yet it joined the history. After a few slow nights the median was
0 and the page emptied under its old title ("This resource is no longer available") stayed
"OK": a missed removal. A cut read whose text fills the sample (it ran past it: a tail)
shows the very sample a full read shows, and one whose share already reaches `TEXT_HAD`
shows that much at least: both still count (a page always cut at the byte cap has no other).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from catalog import drift
from catalog.model import Observation, pack_text
from reports.context import Priority
from tests.factories import days, make_observation
from tests.test_e1_missed_rot import DESCRIPTION, GUIDE, TITLE, URL, drift_reason, night
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_e3_false_alarms import STYLE
from tests.test_fx_drift_since import GONE, HeavySite, drifted_since, report_row, store_night

__all__ = ["engine"]

#: A site's mega-menu: enough words to judge a page by (`MIN_PAGE_WORDS`), none the entry's.
MENU = (
    "Home About Us Leadership History Budget Careers Newsroom Press Releases Blog Podcasts "
    "Videos Newsletters Events Conferences Webinars Grants Funding Opportunities Awards "
    "Publications Library Data Statistics Research Regional Offices Partners Contact Us "
    "Accessibility Privacy Site Map"
)
FOOT = "Copyright 2025 Office of Justice Programs. Accessibility. Privacy. Site map."


def builder_page(body: str) -> bytes:
    """A page builder's page: its menu, 300 KB of inline CSS, then the page's own text."""
    return (
        f"<html><head><title>{TITLE}</title></head><body><nav>{MENU}</nav>{STYLE}"
        f"<h1>{TITLE}</h1><p>{body}</p><footer>{FOOT}</footer></body></html>"
    ).encode()


def test_the_menu_a_slow_night_reads_is_judged_and_holds_none_of_the_entrys_words() -> None:
    """The premise: a cut read of the menu alone is substantial (it used to join the history)
    and its text share is 0; the full read's is the guide's."""
    menu = drift.relevance(TITLE, DESCRIPTION, TITLE, f"{MENU} {TITLE}")
    assert menu.substantial and menu.text == 0
    full = drift.relevance(TITLE, DESCRIPTION, TITLE, f"{MENU} {TITLE} {GUIDE} {FOOT}")
    assert full.text is not None and full.text >= drift.TEXT_HAD


@pytest.mark.waits  # slow nights end at the night's deadline (5 s)
def test_slow_nights_do_not_hide_a_page_emptied_under_its_old_title(engine: Engine) -> None:
    """Two fast nights read the guide, three slow ones stop in the CSS; then the guide is
    replaced by a notice under the same title and a fast night reads it whole."""
    site = HeavySite(builder_page(GUIDE))
    for day in (1, 2):
        night(engine, site, day)
    site.slow = True
    for day in (3, 4, 5):
        night(engine, site, day)
    assert drift_reason(engine) is None
    site.slow = False
    site.body = builder_page(GONE)
    assert "drift_detected" in night(engine, site, 6)
    reason = drift_reason(engine)
    assert reason is not None and drift.names_emptied(reason)
    assert drifted_since(engine, 6) == days(6).date().isoformat()


# --- through the store: which cut reads join the history ----------------------------------


def page_read(
    day: float, text: str, *, cut: bool = False, tail: str | None = None, title: str = TITLE
) -> Observation:
    """A GET of the page under `title`: `text` its sample, `tail` its text's end."""
    return make_observation(
        URL,
        checked_at=days(day),
        title=title,
        text_sample_packed=pack_text(text),
        text_tail_packed=pack_text(tail) if tail is not None else None,
        content_type="text/html; charset=utf-8",
        text_cut=cut,
    )


def full(day: float) -> Observation:
    return page_read(day, f"{MENU} {TITLE}. {GUIDE} {FOOT}")


def emptied(day: float) -> Observation:
    return page_read(day, f"{MENU} {TITLE}. {GONE} {FOOT}")


@pytest.mark.parametrize("slow_nights", [2, 3, 8])
def test_menu_only_cut_reads_do_not_lower_the_baseline(engine: Engine, slow_nights: int) -> None:
    """However many slow nights came between the full reads and the emptying."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    for n in range(slow_nights):
        assert store_night(engine, page_read(3 + n, f"{MENU} {TITLE}", cut=True)) == []
    day = 3 + slow_nights
    assert store_night(engine, emptied(day)) == ["drift_detected"]
    row = report_row(engine, day)
    assert row is not None and row.priority is Priority.DRIFT
    assert drifted_since(engine, day) == days(day).date().isoformat()


def test_menu_only_cut_reads_are_no_earlier_reads_of_the_text(engine: Engine) -> None:
    """One full read is no pattern (`TEXT_READS`): cut reads of the menu do not make it two."""
    store_night(engine, full(1))
    for day in (2, 3):
        store_night(engine, page_read(day, f"{MENU} {TITLE}", cut=True))
    assert store_night(engine, emptied(4)) == []
    assert drift_reason(engine) is None


def test_a_cut_read_whose_text_fills_the_sample_still_counts(engine: Engine) -> None:
    """A page past the byte cap is cut at every read; its sample, the text's first 2,000
    characters, is what a full read's would be. Emptied to a short page, it drifts."""
    sample = f"{TITLE}. {GUIDE} {MENU}"
    for day in (1, 2, 3):
        store_night(engine, page_read(day, sample, cut=True, tail=FOOT))
    assert store_night(engine, emptied(4)) == ["drift_detected"]


def test_a_cut_read_that_already_holds_the_entrys_words_still_counts(engine: Engine) -> None:
    """A slow host's every read stops past the guide but short of the sample: the words it
    found are there at least, so the page emptied later drifts."""
    for day in (1, 2, 3):
        store_night(engine, page_read(day, f"{TITLE}. {GUIDE}", cut=True))
    assert store_night(engine, emptied(4)) == ["drift_detected"]
