"""Review of today's news and queue changes (rv-news): regressions a curator would hit.

- 636f450: an unsteady permanent redirect's row names the "addresses" it led to, counted
  as distinct strings, where the checker (and its events) compare addresses as
  `same_address`.
- 417d8cf: a page-emptied drift flag is held by any read that is not `whole`; a complete
  read of a long page (text past the 2,000-character sample) is never `whole`.
- fea7dbd: a 503 confirmation counts nights, and is told as the address's only when the
  address counted more failures than the entry's own checks.
- (before these changes) "Now leads somewhere else" prints a target's password.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog.model import Hop, Observation
from catalog.outcomes import Outcome
from catalog.sync import sync_catalogs
from reports.context import Priority
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)
from tests.test_e1_missed_rot import GUIDE, TITLE, Site, drift_reason, html, night
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_reverted_url_count import late_503_report
from tests.test_x2_unsteady_news import FLAP, NEW, page, row
from tests.test_x2_unsteady_news import night as x2_night

__all__ = ["engine"]


@pytest.fixture
def guides(tmp_path: Path) -> Iterator[Engine]:
    """The guide at FLAP (as `test_x2_unsteady_news`'s engine)."""
    with temporary_database(tmp_path, "guides.db") as db:
        sync_catalogs(db, [make_catalog(resources=[make_resource("guide", FLAP)])], now=days(0))
        yield db


# --- 636f450: the targets of an unsteady redirect ----------------------------------------


def moved_with(at_night: int, target: str) -> Observation:
    """A permanent redirect of the guide to `target` (as the checker records it)."""
    return make_observation(
        FLAP,
        Outcome.REDIRECTED_PERMANENT,
        days(at_night),
        http_status=200,
        chain=(Hop(FLAP, 301), Hop(target, 200)),
        final_url=target,
        suggested_url=target,
        fingerprint=f"sha256:{FLAP}#1",
        content_length=460,
        title="Guide",
    )


def _comes_and_goes(engine: Engine, targets: dict[int, str]) -> None:
    """Read fine on nights 1, 2, 4, 6; redirected on nights 3, 5, 7 to `targets[n]`."""
    x2_night(engine, 1, [page(FLAP, days(1), 1)], report=False)
    for n in range(2, 8):
        observed = moved_with(n, targets[n]) if n % 2 else page(FLAP, days(n), 1)
        x2_night(engine, n, [observed], report=False)


def test_rv_redirect_to_one_address_with_a_fresh_session_id_is_not_several_addresses(
    guides: Engine,
) -> None:
    """A 301 that comes and goes, to /new with a fresh ;jsessionid each night: one address
    (`same_address`, no "led elsewhere" event was stored), yet the row says it redirects
    "to 3 addresses by turns" and names the session ids as three places."""
    _comes_and_goes(
        guides,
        {
            3: f"{NEW};jsessionid=A1B2C3D4E5F6",
            5: f"{NEW};jsessionid=0F9E8D7C6B5A",
            7: f"{NEW};jsessionid=1234ABCD5678",
        },
    )
    shown = row(guides, "guide", 7)
    note = shown.state_note or ""
    assert "addresses by turns" not in note, note
    assert "on some nights and not others" in note, note


def test_rv_redirect_to_one_address_in_other_letter_case_is_not_two_addresses(
    guides: Engine,
) -> None:
    """The same target, its host written in capitals by one server of two: one address."""
    _comes_and_goes(
        guides,
        {3: NEW, 5: NEW.replace("guides.example", "Guides.Example"), 7: NEW},
    )
    shown = row(guides, "guide", 7)
    note = shown.state_note or ""
    assert "addresses by turns" not in note, note
    assert "on some nights and not others" in note, note


# --- 417d8cf: a page-emptied flag and long pages ------------------------------------------

GONE = "<p>This resource is no longer available.</p>"
#: A restored page's long menu and footer: each past the checker's 2,000-character sample.
MENU = "<nav>" + " ".join(f"Menu item {i} programs grants news" for i in range(90)) + "</nav>"
FOOT = "<footer>" + " ".join(f"Footer link {i} privacy policy" for i in range(90)) + "</footer>"


def test_rv_a_full_read_of_the_restored_long_page_clears_the_emptied_flag(
    engine: Engine,
) -> None:
    """The guide emptied on night 4 ("no longer available" under its old title), then
    restored on night 5 in a longer layout: a mega-menu, the guide, a long footer. Every
    night's read is whole (no cut), yet its text is past the 2,000-character sample, so it
    is never `whole` to `judge_emptied`: the flag, set by words a read to the end
    can tell, is now held at every full read for ever ("The page no longer matches the
    entry" for weeks of a page that holds it). Before 417d8cf these reads cleared it."""
    site = Site(html(f"<p>{GUIDE}</p>"))
    for day in (1, 2, 3):
        night(engine, site, day)
    site.body = html(GONE)
    assert "drift_detected" in night(engine, site, 4)
    site.body = html(f"{MENU}<h1>{TITLE}</h1><p>{GUIDE}</p>{FOOT}")
    for day in (5, 6, 7):
        night(engine, site, day)
    assert drift_reason(engine) is None, drift_reason(engine)


# --- fea7dbd: a 503 confirmation of an entry that took its address late -------------------


def test_rv_a_503_confirmation_of_an_entry_that_took_the_address_late_is_the_address_s(
    tmp_path: Path,
) -> None:
    """The keeper's address answers 503 "unavailable" from night 1; the guide is edited to
    it before night 6 and it is confirmed broken on night 10. The guide's row says broken
    since night 6, 5 checks; its news said "Confirmed broken: unavailable (503) at every
    check for 10 nights." as the guide's own, the words fea7dbd gives as the address's
    ("its address unavailable ... (failing since ...)") only when the address counted more
    failures than the entry's checks: a 503's words count nights, not those failures."""
    ctx = late_503_report(tmp_path, taken=6, last=10)
    (guide,) = [r for r in ctx.resources if r.resource_id == "guide"]
    assert (guide.priority, guide.checks) == (Priority.BROKEN, 5)
    assert ctx.changes is not None
    (said,) = [
        i.summary
        for s in ctx.changes.sections
        for i in s.items
        if i.resource_id == "guide" and i.summary.startswith("Confirmed")
    ]
    assert "its address" in said, said


# --- passwords in an unsteady redirect's targets --------------------------------------------


def test_rv_a_redirect_that_leads_elsewhere_never_prints_its_targets_password(
    guides: Engine,
) -> None:
    """Targets carrying a user name and password (a staff mirror): the queue row hides it
    (`_without_passwords`), and so does "Now redirects permanently to https://ann:***@...";
    the night it first led elsewhere, "Now leads somewhere else" printed it whole."""
    a = "https://ann:s3cret@guides.example/new-a"
    b = "https://ann:s3cret@guides.example/new-b"
    x2_night(guides, 1, [page(FLAP, days(1), 1)], report=False)
    for n in range(2, 6):
        news = x2_night(guides, n, [moved_with(n, a if n % 2 else b)])
        assert "s3cret" not in news, (n, news)
