"""A read cut short judges the entry's match score only as far as it can know it.

`drift.judge_drift` flags a page whose score (the share of the entry's words on the page
and in its title) fell below half the median of the link's earlier scores. A slow night's
read of a page builder's page stops at its first 256 KiB: its menu, then inline CSS, and
none of the page's own text. Under a title that does not name the entry ("Home | Office
of Justice Programs") that menu scores 0 and has words enough to be judged, so the
curator read "The page no longer matches the entry (it shared 68% of the entry's words,
now 0%, page title 'Home | Office of Justice Programs')", the next fast night's full read
"Its page matches the entry again", and from the third change "matches the entry on some
nights and not on others": the page flipped on every slow night. A cut read whose text is
shorter than the sample a full read takes (as `drift.known_text_share` reasons) only tells
it saw too little: it raises no drift by its score, and adds to the score history only a
score that already tells the page holds its resource (`drift.STILL_MATCHES`). Its score is
a floor of the full read's (more text only adds the entry's words), so it clears a flag
only as a full read at that score would: the menu's 0 clears none.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from catalog import drift, store, tables
from catalog.check.fetch import SLOW_BODY_BYTES
from catalog.health import TEXT_SCORES
from catalog.model import Observation, pack_text
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import Priority
from reports.render import render_markdown
from tests import test_d1_drift_per_entry as d1
from tests import test_fx_cut_share as cut_share
from tests.factories import days, make_observation, temporary_database, write_catalog
from tests.test_e1_missed_rot import DESCRIPTION, GUIDE, TITLE, drift_reason, observe
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_e3_false_alarms import STYLE
from tests.test_fx_cut_share import FOOT, MENU
from tests.test_fx_drift_since import GONE, HeavySite, report_row, store_night

__all__ = ["engine"]

#: A site's home-page title, which names none of the entry's words.
HOME = "Home | Office of Justice Programs"
#: What a page unrelated to the entry says, at length.
OTHER = (
    "The Office of Justice Programs announces its annual budget hearing schedule. Members of "
    "the public may attend the hearings in person or watch the recorded sessions online. "
    "Agendas, minutes, financial statements and procurement notices are posted here each "
    "quarter, together with the audit committee's charter and meeting calendar."
)


def builder_page(body: str, title: str = HOME) -> bytes:
    """A page builder's page: its menu, 300 KB of inline CSS, then the page's own text."""
    return (
        f"<html><head><title>{title}</title></head><body><nav>{MENU}</nav>{STYLE}"
        f"<h1>{TITLE}</h1><p>{body}</p><footer>{FOOT}</footer></body></html>"
    ).encode()


def run_night(engine: Engine, site: HeavySite, day: float) -> tuple[list[str], str]:
    """Night `day`'s check of the page as a run: its drift events and its report's news."""
    at = days(day)
    run_id = store.start_run(engine, trigger="schedule", now=at)
    observations = observe(engine, site, day, fingerprint_max_age_days=0)
    events = store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    ctx = build_context(report_data(engine), now=at + timedelta(minutes=10))
    news = render_markdown(ctx, limit=None).partition("## Since the last run")[2]
    return [e.kind for e in events if e.kind.startswith("drift")], news.partition("\n## ")[0]


def test_the_menu_under_a_home_title_scores_nothing_and_is_judged() -> None:
    """The premise: the slow night's menu is substantial and scores 0; the full read does
    not (the guide under the home page's title)."""
    menu = drift.relevance(TITLE, DESCRIPTION, HOME, MENU)
    assert menu.substantial and menu.score == 0
    full = drift.relevance(TITLE, DESCRIPTION, HOME, f"{MENU} {TITLE} {GUIDE} {FOOT}")
    assert full.score > 2 * drift.LOW_SCORE


@pytest.mark.waits  # slow nights end at the night's deadline (5 s)
def test_slow_nights_do_not_flag_a_page_whose_home_title_names_nothing(engine: Engine) -> None:
    """Fast nights read the guide, slow ones stop in the CSS: no night is news, the
    report's row stays unqueued, and the page is never flagged."""
    site = HeavySite(builder_page(GUIDE))
    for day, slow in ((1, False), (2, False), (3, True), (4, False), (5, True), (6, False)):
        site.slow = slow
        events, news = run_night(engine, site, day)
        assert events == [], (day, events, news)
        assert "match" not in news.lower(), (day, news)
        assert drift_reason(engine) is None, day
        row = report_row(engine, day)
        assert row is None or row.priority is not Priority.DRIFT, (day, row)


@pytest.mark.waits
def test_a_drift_seen_on_a_full_read_holds_through_slow_nights(engine: Engine) -> None:
    """The guide replaced by an unrelated page is flagged on the fast night that reads it,
    and the slow nights after, which see only the menu, neither clear nor re-date it."""
    site = HeavySite(builder_page(GUIDE))
    for day in (1, 2):
        run_night(engine, site, day)
    site.body = builder_page(OTHER).replace(f"<h1>{TITLE}</h1>".encode(), b"<h1>Budget</h1>")
    events, news = run_night(engine, site, 3)
    assert events == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason, reason
    site.slow = True
    for day in (4, 5):
        events, news = run_night(engine, site, day)
        assert events == [] and "match" not in news.lower(), (day, events, news)
        assert drift_reason(engine) == reason
    row = report_row(engine, 5)
    assert row is not None and row.priority is Priority.DRIFT
    assert row.since is not None and row.since.iso[:10] == days(3).date().isoformat()


# --- through the store: which cut reads judge the score --------------------------------------


def page_read(
    day: float, text: str, *, cut: bool = False, tail: str | None = None, title: str = HOME
) -> Observation:
    """A GET of the page under the site's home title (`test_fx_cut_share.page_read`)."""
    return cut_share.page_read(day, text, cut=cut, tail=tail, title=title)


def full(day: float) -> Observation:
    return page_read(day, f"{MENU} {TITLE}. {GUIDE} {FOOT}")


def menu_only(day: float) -> Observation:
    return page_read(day, MENU, cut=True)


def other(day: float) -> Observation:
    return page_read(day, f"{MENU} Budget. {OTHER} {FOOT}")


def scores(engine: Engine) -> list[float]:
    """The entry's score history: every judged read's stored score (not its text share)."""
    query = select(tables.Observation.relevance_scores).where(
        tables.Observation.relevance_scores.is_not(None)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).scalars().all()
    return [v for row in rows for k, v in row.items() if not k.startswith(TEXT_SCORES)]


def test_a_menu_only_cut_read_raises_no_drift_on_its_first_night(engine: Engine) -> None:
    """With no history, a score below the floor says "shares almost nothing": not of a read
    that saw only the menu."""
    assert store_night(engine, menu_only(1)) == []
    assert drift_reason(engine) is None


#: A slow night's read that reached the section's heading as well: it scores, but low.
HEADED = f"{MENU} Human Trafficking Task Force"
#: The task force's budget page, which replaced the guide: it names the task force, no more.
BUDGET = f"{MENU} Task Force Budget. {OTHER} Victim services grants are listed separately. {FOOT}"


def test_the_cut_reads_and_the_budget_page_score_low() -> None:
    """The premise of the history's test: the heading's read is no drift by itself (at least
    `LOW_SCORE`), and the budget page scores less than half the guide's score but more than
    half the heading's."""
    guide = drift.relevance(TITLE, DESCRIPTION, HOME, f"{MENU} {TITLE}. {GUIDE} {FOOT}").score
    headed = drift.relevance(TITLE, DESCRIPTION, HOME, HEADED).score
    budget = drift.relevance(TITLE, DESCRIPTION, HOME, BUDGET).score
    assert drift.LOW_SCORE <= headed < drift.STILL_MATCHES
    assert headed / 2 <= budget < min(guide / 2, drift.LOW_SCORE)


@pytest.mark.parametrize("cut", [MENU, HEADED], ids=["menu", "heading"])
def test_low_cut_reads_add_no_low_score_to_the_history(engine: Engine, cut: str) -> None:
    """Three slow nights leave the history the full reads', so the budget page that replaced
    the guide is judged against the guide's score (the heading's 36% made the bar 18%)."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    for day in (3, 4, 5):
        assert store_night(engine, page_read(day, cut, cut=True)) == []
    assert all(score > drift.STILL_MATCHES for score in scores(engine))
    assert store_night(engine, page_read(6, BUDGET)) == ["drift_detected"]


def test_a_cut_read_with_the_entrys_words_counts_and_clears(engine: Engine) -> None:
    """A cut read that already scores as a match (more text only adds words) is evidence
    enough: it joins the history, and it clears a drift by the score."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    assert store_night(engine, other(3)) == ["drift_detected"]
    assert store_night(engine, menu_only(4)) == []
    assert drift_reason(engine) is not None
    assert store_night(engine, page_read(5, f"{TITLE}. {GUIDE}", cut=True)) == ["drift_cleared"]
    assert drift_reason(engine) is None


def test_a_page_always_cut_past_its_sample_is_still_judged(engine: Engine) -> None:
    """A page past the byte cap is cut at every read; its sample is what a full read's
    would be, so a page replaced by an unrelated one drifts, cut or not."""
    for day in (1, 2):
        store_night(engine, page_read(day, f"{TITLE}. {GUIDE} {MENU}", cut=True, tail=FOOT))
    assert store_night(engine, page_read(3, f"{OTHER} {MENU}", cut=True, tail=FOOT)) == [
        "drift_detected"
    ]


def test_a_cut_read_keeps_the_flag_of_a_page_emptied(engine: Engine) -> None:
    """The guide went, under the home title: its score fell ("no longer matches"). The menu
    alone neither clears the flag nor re-dates it; the guide back clears it."""
    for day in (1, 2, 3):
        store_night(engine, full(day))
    assert store_night(engine, page_read(4, f"{MENU} {GONE} {FOOT}")) == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason
    assert store_night(engine, menu_only(5)) == []
    assert drift_reason(engine) == reason
    row = report_row(engine, 5)
    assert row is not None and row.priority is Priority.DRIFT
    assert row.since is not None and row.since.iso[:10] == days(4).date().isoformat()
    assert store_night(engine, full(6)) == ["drift_cleared"]


# --- a host slow on every night: after `drift.SHORT_READS` short reads in a row --------------


def slow_read(day: float, text: str) -> Observation:
    """A slow night's read: cut at its first 256 KiB (as `bytes_read` stores), `text` short."""
    return replace(page_read(day, text, cut=True), bytes_read=SLOW_BODY_BYTES)


#: What the slow read of the budget page that replaced the guide holds: its menu and heading.
BUDGET_START = f"{MENU} Budget hearings"


def test_a_page_always_read_short_is_judged_by_its_score_after_a_few_nights(
    engine: Engine,
) -> None:
    """A host slow on every night: each read stops at the menu and heading (36%, a floor,
    which tells nothing). After `SHORT_READS` such reads in a row nothing better will come:
    the next short read's score is judged as a full read's, joins the history, and the
    guide replaced by the budget page (0%) is flagged, late but not never (main flagged it
    the night it came; without the count it stayed OK for good)."""
    assert drift.SHORT_READS == 3
    for day in (1, 2, 3):
        assert store_night(engine, slow_read(day, HEADED)) == []
    assert scores(engine) == []  # floors of the full read's score: no history
    assert store_night(engine, slow_read(4, HEADED)) == []
    assert scores(engine) == [drift.relevance(TITLE, DESCRIPTION, HOME, HEADED).score]
    assert store_night(engine, slow_read(5, BUDGET_START)) == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason, reason


def test_a_full_read_breaks_the_run(engine: Engine) -> None:
    """Three short reads, then a full one: the short reads after it start a new run, and
    only the fourth in a row is judged by its score (the price of the count: a page whose
    slow reads see its menu alone is flagged after four slow nights in a row)."""
    for day in (1, 2, 3):
        store_night(engine, slow_read(day, HEADED))
    store_night(engine, full(4))
    for day in (5, 6, 7):
        assert store_night(engine, slow_read(day, MENU)) == [], day
    assert drift_reason(engine) is None
    assert store_night(engine, slow_read(8, MENU)) == ["drift_detected"]


def always_slow_page(heading: str, body: str) -> bytes:
    """A page builder's page whose slow read reaches its heading: menu, heading, 300 KB of
    inline CSS, then its text."""
    return (
        f"<html><head><title>{HOME}</title></head><body><nav>{MENU}</nav><h1>{heading}</h1>"
        f"{STYLE}<p>{body}</p><footer>{FOOT}</footer></body></html>"
    ).encode()


@pytest.mark.waits  # every night ends at its deadline (5 s)
def test_a_page_on_a_host_slow_every_night_is_flagged_when_replaced(engine: Engine) -> None:
    """Through the checker: the slow reads are stored as such (`bytes_read`), so the fifth
    night, the first to read the budget page, flags it."""
    site = HeavySite(always_slow_page("Human Trafficking Task Force", GUIDE))
    site.slow = True
    for day in (1, 2, 3, 4):
        events, news = run_night(engine, site, day)
        assert events == [], (day, events, news)
    site.body = always_slow_page("Budget hearings", OTHER)
    events, news = run_night(engine, site, 5)
    assert events == ["drift_detected"], news
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason, reason


# --- a shared page: a short read clears each entry by its own score ---------------------------


def test_a_short_read_clears_the_entries_it_shows_back_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    """The page dropped the directory and the poster (each flagged). A slow night's read
    stops after the directory's paragraph: the directory (70%) is back, as a full read at
    that score would show; the poster's 20% is a floor, which tells nothing: its flag stays,
    dated from its drift, and the next full read that lacks it is no news."""
    catalog_file = write_catalog(tmp_path / "toolkit.yaml", d1.ENTRIES)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
        for day in (0, 1):
            d1.night(engine, day, d1.ALL)
        assert d1.night(engine, 2, d1.ONE) == [
            "drift_detected directory",
            "drift_detected poster",
        ]
        cut = make_observation(
            d1.URL,
            checked_at=days(3),
            title=d1.TITLE,
            text_sample_packed=pack_text(f"{d1.TITLE}. {d1.GUIDE} {d1.DIRECTORY}"),
            text_cut=True,
        )
        events = store.record_observations(engine, None, [cut], HealthSettings(), now=days(3))
        told = [(e.kind, d1.rid_of(engine, e.resource_id)) for e in events if e.url == d1.URL]
        assert [kind for kind in told if kind[0].startswith("drift")] == [
            ("drift_cleared", "directory")
        ]
        assert d1.flagged(engine) == ["poster"]
        (state,) = [s for s in store.link_states(engine) if s.url == d1.URL]
        assert state.drift_since == days(2)
        assert d1.night(engine, 4, d1.TWO) == []
        assert d1.flagged(engine) == ["poster"]
