"""Reviewer's tests of fx-cut-score / fx-cut-share (a read cut short judged only as far as
it can know).

A read is "short" when it was cut (`Observation.text_cut`) and its text ended before the
2,000-character sample (no tail). Such a read raises no drift by its score, adds to the
histories only a score of `STILL_MATCHES` or a text share of `TEXT_HAD`, and is meant to
clear a flag only at `LOW_SCORE` (its score is a floor of the full read's).

* On a page shared by several entries, a short read that matches one entry cleared the
  flag of another entry it scored nothing for: `apply_drift` clears the whole flag when
  `baseline_scores` holds anything, and the matching entry's score is there.
* A short read's text share (of `TEXT_HAD`) clears a "no longer matches" flag at a score
  below `LOW_SCORE`, which the next full read sets again, re-dated.
* `text_cut` is not only a slow night's cut: a page past the parser's tag cap (or the
  byte cap) is cut at the same place on every read, so every read is "short" and a page
  replaced by an unrelated one is never flagged (main flagged it "no longer matches").
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from catalog import drift, store
from catalog.check.content import MAX_PARSED_TAGS
from catalog.model import Observation, pack_text
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import days, make_observation, temporary_database, write_catalog
from tests.test_d1_drift_per_entry import (
    ALL,
    ENTRIES,
    GUIDE,
    MORE,
    TWO,
    flagged,
    night,
)
from tests.test_d1_drift_per_entry import TITLE as SHARED_TITLE
from tests.test_d1_drift_per_entry import URL as SHARED_URL
from tests.test_e1_missed_rot import DESCRIPTION, TITLE, drift_reason, observe
from tests.test_e1_missed_rot import GUIDE as E_GUIDE
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_cut_score import HOME, OTHER, page_read
from tests.test_fx_cut_share import FOOT, MENU
from tests.test_fx_drift_since import store_night

__all__ = ["engine"]


# --- a shared page: a short read that matches one entry clears another's flag ----------------


def test_a_short_read_matching_one_entry_keeps_anothers_flag(tmp_path: Path) -> None:
    """The page dropped the poster (flagged for the poster alone). A slow night's read stops
    after the guide's paragraph: it scores the guide as a match, the poster at 0.2 (a
    floor, which tells nothing). The curator read "matches again" for the poster, and the
    next full read "no longer matches" anew, dated from that night."""
    catalog_file = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
        for day in (0, 1):
            night(engine, day, ALL)
        assert night(engine, 2, TWO) == ["drift_detected poster"]
        cut = make_observation(
            SHARED_URL,
            checked_at=days(3),
            title=SHARED_TITLE,
            text_sample_packed=pack_text(f"{SHARED_TITLE}. {GUIDE} {MORE}"),
            text_cut=True,
        )
        events = store.record_observations(engine, None, [cut], HealthSettings(), now=days(3))
        assert [e.kind for e in events if e.kind.startswith("drift")] == []
        assert flagged(engine) == ["poster"]
        assert night(engine, 4, TWO) == []


# --- a short read's text share clears a flag its score could not --------------------------

#: A page on victim services that replaced the guide: the description's words, none of the
#: title's ("task force", "trafficking", "guide").
RELATED = (
    "Guidance on collaborative investigations, victim services and the prosecution of "
    "abusers; trauma-informed interviewing for advocates."
)


def test_the_related_page_and_its_cut_read_score_below_low_score() -> None:
    """The premise: the page that replaced the guide drifts by its score; the slow night's
    read of its start scores the same (below `LOW_SCORE`), with a text share of `TEXT_HAD`."""
    guide = drift.relevance(TITLE, DESCRIPTION, HOME, f"{MENU} {TITLE}. {E_GUIDE} {FOOT}")
    related = drift.relevance(TITLE, DESCRIPTION, HOME, f"{MENU} {RELATED} {OTHER} {FOOT}")
    start = drift.relevance(TITLE, DESCRIPTION, HOME, f"{MENU} {RELATED}")
    assert related.score < min(drift.LOW_SCORE, guide.score / 2)
    assert start.substantial and start.score < drift.LOW_SCORE
    assert start.text is not None and start.text >= drift.TEXT_HAD


def test_a_short_reads_text_share_does_not_clear_a_low_score_flag(engine: Engine) -> None:
    """The guide replaced by a victim-services page: "no longer matches". A slow night reads
    that page's start only, scoring 22% (a floor): it must not say "matches again", which
    the next full read takes back with a fresh "no longer matches"."""
    for day in (1, 2):
        store_night(engine, page_read(day, f"{MENU} {TITLE}. {E_GUIDE} {FOOT}"))
    assert store_night(engine, page_read(3, f"{MENU} {RELATED} {OTHER} {FOOT}")) == [
        "drift_detected"
    ]
    reason = drift_reason(engine)
    assert store_night(engine, page_read(4, f"{MENU} {RELATED}", cut=True)) == []
    assert drift_reason(engine) == reason
    assert store_night(engine, page_read(5, f"{MENU} {RELATED} {OTHER} {FOOT}")) == []


# --- a page cut at the same place every night -------------------------------------------------

#: Tags enough to pass the parser's cap (`MAX_PARSED_TAGS`): an inline SVG sprite's paths.
SPRITE = "<svg>" + '<path d="M0 0"/>' * (MAX_PARSED_TAGS + 1) + "</svg>"
#: A page past the byte cap within its first bytes: an inline image.
IMAGE = '<img alt="" src="data:image/png;base64,' + "A" * (2 * 1024 * 1024 + 1) + '">'


def capped_page(heading: str, body: str, heavy: str) -> str:
    """A fast page whose read stops at its heavy part (the tag or byte cap), every night:
    its heading and first paragraph only (a short read)."""
    return (
        f"<html><head><title>{HOME}</title></head><body><nav>{MENU}</nav>"
        f"<h1>{heading}</h1><p>{body}</p>{heavy}<p>{OTHER}</p><footer>{FOOT}</footer>"
        "</body></html>"
    )


class FastSite:
    def __init__(self, body: str) -> None:
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html; charset=utf-8"}
        text = "" if request.method == "HEAD" else self.body
        return httpx.Response(200, headers=headers, text=text)


def read_night(engine: Engine, site: FastSite, day: float) -> tuple[list[str], Observation]:
    (obs,) = observe(engine, site, day, fingerprint_max_age_days=0, total_timeout=20)
    events = store.record_observations(engine, None, [obs], HealthSettings(), now=days(day))
    return [e.kind for e in events if e.kind.startswith("drift")], obs


@pytest.mark.parametrize("heavy", [SPRITE, IMAGE], ids=["tag-cap", "byte-cap"])
def test_a_page_cut_at_the_same_place_every_night_still_drifts(engine: Engine, heavy: str) -> None:
    """Every read stops at the same place (no slow night: the cut is the page's own), so
    its score compares with its history as a full read's does. The guide replaced by the
    office's budget notice is "no longer matches" (it was on main); with the change it is
    never judged by its score, and stays OK."""
    site = FastSite(capped_page(TITLE, E_GUIDE, heavy))
    for day in (1, 2, 3):
        events, obs = read_night(engine, site, day)
        assert events == []
        assert obs.text_cut and obs.text_tail_packed is None  # short, every night
    site.body = capped_page("Budget hearings", OTHER, heavy)
    events, obs = read_night(engine, site, 4)
    assert obs.text_cut and obs.text_tail_packed is None
    assert events == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason
