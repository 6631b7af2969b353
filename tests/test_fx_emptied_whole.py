"""A page-emptied drift flag is held only by a read cut short, on the text it kept.

`drift.judge_emptied` sets the flag on a page read whole (its text within the checker's
2,000-character sample) and, since 417d8cf, keeps it on a read that stopped short of the
page's end while that read's text lacks the entry's words. What was wrong: every read of a
page longer than the sample counted as "cut" (it has a tail), so a guide restored in a
longer layout (a mega-menu, the guide, a long footer: the guide between the sample and the
tail) kept "The page no longer matches the entry" at every full read, for ever; and a read
cut short looked for the words in its sample alone, not in the text's end it kept.
"""

from __future__ import annotations

from sqlalchemy import Engine

from catalog.model import Observation, pack_text
from tests.factories import days, make_observation
from tests.test_e1_missed_rot import GUIDE, TITLE, URL, drift_reason
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_drift_since import drifted_since, emptied_on_day_4, store_night

__all__ = ["engine"]

#: A long layout's menu and footer: each fills the checker's sample or tail on its own.
MENU = " ".join(f"Menu item {i} programs grants news" for i in range(70))[:2000]
FOOT = " ".join(f"Footer link {i} privacy policy" for i in range(70))[-2000:]


def long_read(day: float, tail: str, *, cut: bool) -> Observation:
    """A GET of the page in a long layout: its sample the menu, `tail` its text's end."""
    return make_observation(
        URL,
        checked_at=days(day),
        title=TITLE,
        text_sample_packed=pack_text(MENU),
        text_tail_packed=pack_text(tail),
        content_type="text/html; charset=utf-8",
        text_cut=cut,
    )


def test_a_full_read_of_a_long_page_ends_the_emptied_drift(engine: Engine) -> None:
    """Read to its end, the page's words may lie between its sample and tail: no hold."""
    emptied_on_day_4(engine)
    assert store_night(engine, long_read(5, FOOT, cut=False)) == ["drift_cleared"]
    assert drift_reason(engine) is None
    assert drifted_since(engine, 5) is None


def test_a_read_cut_short_with_the_guide_in_its_tail_ends_the_emptied_drift(
    engine: Engine,
) -> None:
    """A slow night's read past a long menu kept the guide in its text's end: it is back."""
    emptied_on_day_4(engine)
    assert store_night(engine, long_read(5, f"{GUIDE} {FOOT}"[:2000], cut=True)) == [
        "drift_cleared"
    ]
    assert drift_reason(engine) is None


def test_a_read_cut_short_without_the_guide_in_its_text_keeps_the_since(engine: Engine) -> None:
    emptied_on_day_4(engine)
    assert store_night(engine, long_read(5, FOOT, cut=True)) == []
    assert drifted_since(engine, 5) == days(4).date().isoformat()
