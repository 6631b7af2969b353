"""rv-cut2: failing tests for fx-cut-score's second round (slow runs, short reads' clearing).

A slow night's read whose text ends before the 2,000-char sample ("short") judges nothing
by its score until `drift.SHORT_READS` judged reads in a row were slow (`health.slow_run`,
told by their stored `bytes_read`). Three ways that leaves a curator with a wrong verdict:

* the count reads reads that `db prune` does not keep (a short read below STILL_MATCHES
  stores no `relevance_scores`, and only scored reads are kept as drift history): on a host
  slow every night whose page changes rarely, the run never reaches three after a prune,
  and the page replaced by an unrelated one stays OK for good, the defect round 2 fixed;
* a short read settles the full read owed to an entry the curator edited
  (`links.text_upto`), though it judged nothing of that entry: the nights after are HEADs
  and 304s, and the edited entry is never judged against its page;
* a short read clears a takeover flag (spam markers in a long page's footer, read from its
  tail) by the entries' scores, though it never read the text's end where the markers
  lie: on a shared page the takeover is cleared for one entry on every slow night and
  flagged again on the next full read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import respx
from sqlalchemy import Engine

from catalog import store
from catalog.check.fetch import SLOW_BODY_BYTES
from catalog.model import pack_text
from catalog.retention import prune_observations
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests import test_d1_drift_per_entry as d1
from tests.factories import days, edit, make_observation, temporary_database, write_catalog
from tests.test_e1_missed_rot import drift_reason
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_cut_score import BUDGET_START, HEADED, HOME, full, slow_read
from tests.test_fx_cut_share import MENU
from tests.test_fx_drift_since import store_night
from tests.test_x3_edited_entry_read import GUIDE, HANDBOOK, URL, Site, drift_of, kit, night

__all__ = ["engine"]


# --- a prune between the slow reads ----------------------------------------------------------


def test_a_prune_does_not_reset_the_count_of_slow_reads(engine: Engine) -> None:
    """A host slow on every night, whose page changes rarely (an ETag: the nights between
    are 304s, judged by nothing), is read in full a few times a year, each read stopping at
    the menu and heading. `db prune --keep-days 60` keeps the full reads (scored drift
    history) but not the short reads between, which stored no score: after the prune the
    count sees one slow read and two fast ones, and the guide replaced by the budget page
    stays OK. Without the prune the same reads flag it ("no longer matches")."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    for day in (100, 200, 300):
        assert store_night(engine, slow_read(day, HEADED)) == [], day
    prune_observations(engine, 60, now=days(301), vacuum=False)
    assert store_night(engine, slow_read(302, BUDGET_START)) == ["drift_detected"]
    reason = drift_reason(engine)
    assert reason is not None and "no longer matches" in reason, reason


# --- an entry edited, its read made on a slow night -----------------------------------------


#: A page builder's home page holding the guide below its menu: its title names nothing.
BUILDER = (HOME, f"{MENU} {GUIDE[0]}. {GUIDE[1]}")


def test_a_short_read_does_not_settle_the_read_an_edit_is_owed(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """The curator points the entry at another resource (renamed to the courtroom handbook,
    its URL left as it was by mistake). The read that judges the edit comes on a slow night
    and stops at the menu (a floor: it judges nothing by its score); counted as the edit's
    read, the nights after were HEADs and 304s and the entry, whose page holds nothing of
    it, stayed OK. The read is owed until one judges the entry: the next night reads the
    page in full and flags it, as a wall's answer leaves it owed (x3c)."""
    site = Site()
    site.version = BUILDER
    respx_mock.route(host="example.org").mock(side_effect=site)
    before = kit(("edition", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2, 3):
            night(engine, n, site)
        assert drift_of(engine) is None
        renamed = edit(before, "edition", title=HANDBOOK[0], description=HANDBOOK[1])
        sync_catalogs(engine, [renamed], now=days(3.5))
        # Night 4 is slow: its read (the one the edit is owed) stops at the menu.
        (target,) = store.targets_for_check(engine, now=days(4), fingerprint_max_age_days=7)
        assert target.fingerprint_due  # the plan asks for the read in full
        short = make_observation(
            URL,
            checked_at=days(4),
            title=HOME,
            text_sample_packed=pack_text(MENU),
            content_type="text/html",
            etag=f'"v{len(HOME)}"',
            text_cut=True,
            bytes_read=SLOW_BODY_BYTES,
        )
        store.record_observations(engine, None, [short], HealthSettings(), now=days(4))
        assert drift_of(engine) is None  # a floor: it tells nothing
        asked = night(engine, 5, site)
        assert asked[-1:] == [("GET", None)], asked
        assert drift_of(engine) is not None


# --- a takeover seen in a long page's footer ------------------------------------------------


#: A restored lapsed domain's page: the old content, and spam links in its footer.
SPAM_FOOTER = "Slot gacor maxwin hari ini. Daftar slot online RTP live tertinggi."


def footer_read(
    engine: Engine, day: float, *, cut: bool, short: str = f"{d1.TITLE}. {d1.GUIDE}"
) -> list[str]:
    """Night `day`'s read of the shared page (`test_d1_drift_per_entry`) with spam in its
    footer: in full (its tail read), or `cut` on a slow night after its text `short` (its
    first 256 KiB); its drift events, as "kind rid", sorted."""
    obs = make_observation(
        d1.URL,
        checked_at=days(day),
        title=d1.TITLE,
        text_sample_packed=pack_text(short if cut else d1.ALL),
        text_tail_packed=None if cut else pack_text(f"{d1.MORE} {SPAM_FOOTER}"),
        content_type="text/html",
        text_cut=cut,
        bytes_read=SLOW_BODY_BYTES if cut else 400_000,
    )
    events = store.record_observations(engine, None, [obs], d1.HEALTH, now=days(day))
    return sorted(
        f"{e.kind} {d1.rid_of(engine, e.resource_id)}" for e in events if e.kind.startswith("drift")
    )


@contextmanager
def shared_page_taken_over(tmp_path: Path) -> Iterator[Engine]:
    """The shared page (`test_d1_drift_per_entry`) checked two nights, then read in full on
    night 2 with spam in its footer (`footer_read`): a takeover, flagged on every entry."""
    catalog_file = write_catalog(tmp_path / "toolkit.yaml", d1.ENTRIES)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
        for day in (0, 1):
            d1.night(engine, day, d1.ALL)
        assert footer_read(engine, 2, cut=False) == [
            "drift_detected directory",
            "drift_detected guide",
            "drift_detected poster",
        ]
        yield engine


def test_a_short_read_keeps_a_takeover_seen_in_the_footer(tmp_path: Path) -> None:
    """The shared page was read in full with spam in its footer (its tail): a takeover,
    flagged on every entry. A slow night's read stops after the guide's paragraph, the
    footer unread: the guide's score (a floor of the page's) cannot tell the spam went. It
    cleared the guide's flag alone ("matches again" for a page still taken over), and the
    next full read flagged the guide again: news each time, and the takeover no longer one
    flag on every entry in between."""
    with shared_page_taken_over(tmp_path) as engine:
        assert d1.drifted_entries(engine) is None  # a takeover: every entry
        assert footer_read(engine, 3, cut=True) == []
        assert d1.drifted_entries(engine) is None
        assert d1.flagged(engine) == ["directory", "guide", "poster"]
        assert footer_read(engine, 4, cut=False) == []
