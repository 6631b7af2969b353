"""A short read on a host slow every night raises what it sees, and clears no takeover.

After `drift.SHORT_READS` slow nights in a row (`health.slow_run`) a read short of its
sample (a slow night's first 256 KiB, its text ending before the 2,000-character sample) is
judged by its score as a full read is, so that a page replaced there is flagged late rather
than never. It was also let clear flags as a full read does: a takeover (spam markers in a
long page's footer, read from its tail by a full read) was cleared by the guide's score on
the fourth slow night ("matches again"), though the read stopped long before the footer
where the markers lie; on a shared page its low scores for the entries it never reached
turned the takeover into "no longer matches" of those, and cleared it of the guide. A
curator lost the warning that the domain changed hands. A flag the read shows back by what
it read (the entry's own words: a score, a text share, a landing page naming the entry)
clears as before.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from catalog import drift, store
from tests import test_d1_drift_per_entry as d1
from tests.factories import days
from tests.test_e1_missed_rot import DESCRIPTION, GUIDE, TITLE, drift_reason
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_cut_score import HEADED, HOME, full, other, page_read, scores, slow_read
from tests.test_fx_cut_share import FOOT, MENU
from tests.test_fx_drift_since import store_night
from tests.test_rv_cut2 import SPAM_FOOTER, footer_read, shared_page_taken_over

__all__ = ["engine"]


def taken_over(engine: Engine, day: float) -> list[str]:
    """A full read of the guide with spam in its footer (its tail): a takeover."""
    obs = page_read(day, f"{MENU} {TITLE}. {GUIDE}", tail=f"{FOOT} {SPAM_FOOTER}")
    return store_night(engine, obs)


def test_a_short_read_in_a_slow_run_keeps_a_takeover_a_full_read_saw(engine: Engine) -> None:
    """Three slow nights after the takeover hold it (their scores are floors); the fourth is
    judged by its score (it joins the history: the run is on) and holds it too, as the next
    full read that finds no spam clears it."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    assert taken_over(engine, 3) == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and drift.names_markers(reason), reason
    for day in (4, 5, 6):
        assert store_night(engine, slow_read(day, HEADED)) == [], day
    history = scores(engine)
    assert store_night(engine, slow_read(7, HEADED)) == []
    headed = drift.relevance(TITLE, DESCRIPTION, HOME, HEADED).score
    assert drift.LOW_SCORE <= headed < drift.STILL_MATCHES
    assert sorted(scores(engine)) == sorted([*history, headed])  # judged by its score
    assert drift_reason(engine) == reason
    assert store_night(engine, slow_read(8, f"{TITLE}. {GUIDE}")) == []
    assert drift_reason(engine) == reason
    assert store_night(engine, full(9)) == ["drift_cleared"]
    assert drift_reason(engine) is None


def test_a_short_read_in_a_slow_run_raises_a_takeover_it_sees(engine: Engine) -> None:
    """What such a read sees it raises: spam in the first lines it read."""
    for day in (1, 2, 3):
        store_night(engine, slow_read(day, HEADED))
    spam = slow_read(4, f"{HEADED} {SPAM_FOOTER}")
    assert store_night(engine, spam) == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and drift.names_markers(reason), reason


def test_a_short_read_in_a_slow_run_clears_a_drift_by_the_words_it_read(engine: Engine) -> None:
    """A drift by the score is cleared by a short read whose own score shows the guide back
    (a floor: the full read's is at least as high), in a slow run as before it."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    assert store_night(engine, other(3)) == ["drift_detected"]
    for day in (4, 5, 6):
        assert store_night(engine, slow_read(day, MENU)) == [], day
    assert drift_reason(engine) is not None
    assert store_night(engine, slow_read(7, f"{TITLE}. {GUIDE}")) == ["drift_cleared"]


#: What a slow night's read of the shared page holds: the guide's paragraph and a notice,
#: words enough to be judged (`drift.MIN_PAGE_WORDS`), none of the directory's or poster's.
GUIDE_AND_NOTICE = f"{d1.TITLE}. {d1.GUIDE} {d1.MORE}"


def test_a_short_read_in_a_slow_run_keeps_a_shared_pages_takeover(tmp_path: Path) -> None:
    """The shared page taken over (spam in its footer, on a full read) is one flag on every
    entry. After three slow nights the fourth, which stops after the guide's paragraph and
    a notice, scores the directory and poster low: judged as a full read's, that made them
    "no longer matches" and cleared the guide, the takeover gone from the link."""
    with shared_page_taken_over(tmp_path) as engine:
        for day in (3, 4, 5, 6, 7):
            assert footer_read(engine, day, cut=True, short=GUIDE_AND_NOTICE) == [], day
            assert d1.drifted_entries(engine) is None, day
            assert d1.flagged(engine) == ["directory", "guide", "poster"], day
        (state,) = [s for s in store.link_states(engine) if s.url == d1.URL]
        assert state.drift_reason is not None and drift.names_markers(state.drift_reason)
        assert state.drift_since == days(2)
