"""News that repeated every night, night by night as the Markdown report tells it: a
permanent redirect that comes and goes, a page whose content changes at every read.

A curator who reads the same item in "Since the last run" every night learns to skip the
section: such news is told a couple of times, then once as unsteady, then not again while
it lasts (`catalog.unsteady`). A page steady for weeks that changes is news as ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.model import Hop, Observation, pack_text
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.unsteady import CONTENT, changed_reads, entry_flips, judge_reads
from reports.build import build_context
from reports.context import Row
from reports.render import render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

FLAP = "https://guides.example/old"
NEW = "https://guides.example/new"
TICKER = "https://news.example/partners"
STEADY = "https://reports.example/annual"
GUIDE = "https://guide.example/eguide"
GUIDE_TITLE = "Human Trafficking Task Force e-Guide"
GUIDE_TEXT = (
    "The Human Trafficking Task Force e-Guide helps task forces build collaborative "
    "investigations of human trafficking, support victims and survivors, and prosecute "
    "traffickers. Sections cover forming a task force, victim services, investigations, "
    "prosecution, and training resources for law enforcement and service providers nationwide."
)
HOME = (
    "Office for Victims of Crime | Home",
    "Welcome to the Office. News Programs Grants Careers About us Contact. Our agency funds "
    "community programs, research grants and technical assistance across the state. Apply "
    "for funding, read the latest news releases, find upcoming events, meetings and public "
    "notices, and sign up for our newsletter. Accessibility FOIA Privacy Policy.",
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(
        resources=[
            make_resource("guide", FLAP),
            make_resource("partners", TICKER),
            make_resource("annual", STEADY),
        ]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        yield engine


def night(engine: Engine, n: int, observations: list[Observation], report: bool = True) -> str:
    """Store night `n`'s checks as a run does, and return the news of its Markdown report."""
    at = days(n)
    run_id = store.start_run(engine, trigger="schedule", now=at)
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    if not report:
        return ""
    ctx = build_context(report_data(engine), now=at + timedelta(minutes=10))
    markdown = render_markdown(ctx, limit=None)
    news = markdown.partition("## Since the last run")[2]
    return news.partition("\n## ")[0]


def row(engine: Engine, rid: str, n: int) -> Row:
    ctx = build_context(report_data(engine), now=days(n) + timedelta(minutes=10))
    (found,) = [r for r in ctx.resources if r.resource_id == rid]
    return found


def page(url: str, at: datetime, version: int, title: str = "Guide") -> Observation:
    """A read of `url` whose content is its `version`."""
    return make_observation(
        url,
        Outcome.OK,
        at,
        chain=(Hop(url, 200),),
        final_url=url,  # as the checker records a direct answer: its own address
        fingerprint=f"sha256:{url}#{version}",
        content_length=400 + 60 * (version % 4),
        title=title,
    )


def moved(at: datetime) -> Observation:
    return make_observation(
        FLAP,
        Outcome.REDIRECTED_PERMANENT,
        at,
        chain=(Hop(FLAP, 301), Hop(NEW, 200)),
        final_url=NEW,
        reason=f"Redirected permanently (301) to {NEW}; the new page answers 200.",
        methods=("HEAD",),
    )


def items_of(news: str, rid: str) -> list[str]:
    return [line for line in news.splitlines() if f"({rid})" in line]


def test_a_permanent_redirect_that_went_is_not_counted_as_a_new_one(engine: Engine) -> None:
    """ "No longer redirects permanently" was filed under "New redirects" and counted as
    "1 new redirect"."""
    night(engine, 1, [page(FLAP, days(1), 1)], report=False)
    night(engine, 2, [moved(days(2))], report=False)
    went = night(engine, 3, [page(FLAP, days(3), 1)])
    assert "### No longer redirecting (1)" in went
    assert "1 no longer redirecting" in went
    assert "new redirect" not in went.lower()
    (gone,) = items_of(went, "guide")
    assert "No longer redirects permanently." in gone


def test_a_permanent_redirect_that_comes_and_goes_is_told_once_as_unsteady(
    engine: Engine,
) -> None:
    """301 to /new on odd nights from night 3, 200 on even nights: news every night for
    weeks, and the queue told the curator to accept a redirect the site undid the next
    night. It came, it went (news), it came again: said once as unsteady, then quiet."""
    for n in (1, 2):
        night(engine, n, [page(FLAP, days(n), 1)], report=False)
    came = night(engine, 3, [moved(days(3))])
    (item,) = items_of(came, "guide")
    assert item.endswith(f"(guide): Now redirects permanently to {NEW}.")
    (gone,) = items_of(night(engine, 4, [page(FLAP, days(4), 1)]), "guide")
    assert "No longer redirects permanently." in gone

    third = night(engine, 5, [moved(days(5))])
    (unsteady,) = items_of(third, "guide")
    assert "### Unsteady links (1)" in third and "1 unsteady link" in third
    assert "on some nights and not others" in unsteady
    # The queue does not offer to accept a redirect the site keeps undoing.
    redirecting = row(engine, "guide", 5)
    assert redirecting.command is None or "accept-redirect" not in redirecting.command
    assert redirecting.fix is not None and "until the redirect stays" in redirecting.fix

    # Quiet while it lasts, past the night its first change left the window (night 17).
    for n in range(6, 20):
        observed = moved(days(n)) if n % 2 else page(FLAP, days(n), 1)
        assert items_of(night(engine, n, [observed]), "guide") == [], n


def test_a_page_that_changes_at_every_read_is_said_once(engine: Engine) -> None:
    """A rotating news block, read every night: "Content changed: size ..." every night.
    Its first changes are news, the third in a row says it changes at every read, the later
    ones are not listed; a change of its title beyond that still is."""
    said, reports = [], []
    for n in range(1, 9):
        news = night(engine, n, [page(TICKER, days(n), n, title="Partners")])
        said.append(items_of(news, "partners"))
        reports.append(news)
    assert [len(items) for items in said[:3]] == [0, 1, 1]
    assert "Content changed" in said[1][0]
    (once,) = said[3]
    assert "changed at each of its last 3 reads" in once
    assert "### Unsteady links (1)" in reports[3]
    assert all(items == [] for items in said[4:]), said[4:]

    retitled = night(engine, 9, [page(TICKER, days(9), 9, title="Regional partners")])
    (title,) = items_of(retitled, "partners")
    assert "Page title changed." in title
    assert "“Partners” → “Regional partners”" in title or "Partners → Regional partners" in title


def test_a_page_steady_for_weeks_that_changes_is_news(engine: Engine) -> None:
    """Only a page that changed at each of its last reads is quieted: one replaced after
    weeks of the same content is news as before, and so is its next change."""
    for n in range(1, 16):
        night(engine, n, [page(STEADY, days(n), 1, title="Annual report")], report=False)
    for n, version in ((16, 2), (17, 3)):
        news = night(engine, n, [page(STEADY, days(n), version, title="Annual report")])
        (item,) = items_of(news, "annual")
        assert "Content changed" in item


def test_a_weekly_read_of_a_page_dated_in_its_title_is_said_once(engine: Engine) -> None:
    """A daily brief read once a week ("Daily Brief for day 61 of the year"): a title and
    content change at every read, news each week for ever. Told twice, said once to change
    at every read, then quiet."""
    said = []
    for week in range(6):
        n = 1 + 7 * week
        title = f"Daily Brief for day {60 + n} of the year"
        said.append(items_of(night(engine, n, [page(STEADY, days(n), n, title=title)]), "annual"))
    assert [len(items) for items in said] == [0, 1, 1, 1, 0, 0]
    assert "Content changed" in said[1][0] and "Daily Brief for day 68" in said[1][0]
    assert "Its content and title changed at each of its last 3 reads" in said[3][0]


def test_changes_far_apart_whose_reads_were_pruned_are_no_unsteady_page() -> None:
    """A page replaced three times in a year, its weekly reads between pruned (`db prune`
    keeps each link's latest check): its change events alone read as three changes in a
    row, and its third replacement went unlisted."""
    changed = {days(0), days(120), days(240)}
    assert judge_reads(CONTENT, [days(240)], changed, days(240)) is None
    # With its reads kept, the same: steady reads lie between the changes.
    weekly = [days(n) for n in range(0, 241, 7)] + [days(240)]
    assert changed_reads(weekly, changed, days(240))[-2:] == [False, True]
    assert judge_reads(CONTENT, weekly, changed, days(240)) is None


def test_a_rotating_block_that_keeps_its_items_one_night_is_not_said_anew(
    engine: Engine,
) -> None:
    """A news block that kept its items for one night among nights of new ones: the night
    after, its changes started over, told twice and said unsteady again, every few nights.
    Two steady reads of three make it steady again: its next change is news."""
    versions = [1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 8, 9]  # steady on nights 5, 10 and 11
    said = [
        items_of(night(engine, n, [page(TICKER, days(n), v, title="Partners")]), "partners")
        for n, v in enumerate(versions, start=1)
    ]
    assert [len(items) for items in said] == [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert "changed at each of its last 3 reads" in said[3][0]
    assert "Content changed" in said[-1][0]


def test_a_page_whose_title_alone_changes_at_every_read_is_not_said_to_change_its_content(
    engine: Engine,
) -> None:
    """A title under A/B test, the same content every night: its item said "Its content
    and title changed at each of its last 3 reads", though the content never changed."""
    titles = ("Report on Trafficking | Agency", "Report on trafficking - Agency")
    said = [
        items_of(night(engine, n, [page(TICKER, days(n), 1, title=titles[n % 2])]), "partners")
        for n in range(1, 6)
    ]
    assert [len(items) for items in said] == [0, 1, 1, 1, 0]
    summary = said[3][0].partition("(partners): ")[2]
    assert summary.startswith("Its title changed at each of its last 3 reads"), summary
    assert "content" not in summary.lower(), summary


def moved_to(at: datetime, target: str) -> Observation:
    """A permanent redirect of the guide to `target`."""
    return make_observation(
        FLAP,
        Outcome.REDIRECTED_PERMANENT,
        at,
        http_status=200,
        chain=(Hop(FLAP, 301), Hop(target, 200)),
        final_url=target,
        fingerprint=f"sha256:{FLAP}#1",  # the page it read before it moved (`page`)
        content_length=460,
        title="Guide",
    )


def test_a_permanent_redirect_alternating_between_two_targets_is_not_news_every_night(
    engine: Engine,
) -> None:
    """Two servers behind a balancer send the old address to /new-a and /new-b by turns:
    "Now leads somewhere else" every night for weeks, and the queue offered to accept
    each night's target. It came, it led elsewhere (news), and elsewhere again: said once
    as unsteady, then quiet; the queue keeps the address until the redirect stays."""
    targets = (f"{NEW}-a", f"{NEW}-b")
    night(engine, 1, [page(FLAP, days(1), 1)], report=False)
    said = {
        n: items_of(night(engine, n, [moved_to(days(n), targets[n % 2])]), "guide")
        for n in range(2, 17)
    }
    assert "Now redirects permanently" in said[2][0]
    assert "Now leads somewhere else" in said[3][0]
    (unsteady,) = said[4]
    # Named as the queue's row names them (`test_fx_accept_unsteady`).
    assert "to 2 addresses by turns" in unsteady, unsteady
    assert f"to {targets[0]} on some nights and to {targets[1]} on others" in unsteady, unsteady
    assert {n: items for n, items in said.items() if n > 4 and items} == {}
    assert "accept-redirect" not in (row(engine, "guide", 16).command or "")


def read(n: int, title: str, text: str) -> Observation:
    """Night `n`'s read of the guide, showing `title` and `text`."""
    return make_observation(
        GUIDE,
        checked_at=days(n),
        title=title,
        text_sample_packed=pack_text(text),
        fingerprint=f"sha256:{title}",
        content_type="text/html",
        content_length=3000,
    )


GUIDE_ENTRY = dict(
    title=GUIDE_TITLE,
    description="A guide for task forces on trafficking investigations and victim services.",
)
HOME_ENTRY = dict(
    title="Office for Victims of Crime",
    description="The office's home page: community programs, grants, news releases and events.",
)


@pytest.fixture
def guide(tmp_path: Path) -> Iterator[Engine]:
    """A database whose one entry, the guide, was read fine on nights 0 to 2."""
    entry = make_resource("guide", GUIDE, **GUIDE_ENTRY)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[entry])], now=days(0))
        for n in range(3):
            night(engine, n, [read(n, GUIDE_TITLE, GUIDE_TEXT)], report=False)
        yield engine


def by_turns(n: int) -> Observation:
    """The home page on odd nights, the guide on even ones."""
    return read(n, *HOME) if n % 2 else read(n, GUIDE_TITLE, GUIDE_TEXT)


def test_a_page_that_drifts_every_other_night_is_not_news_every_night(guide: Engine) -> None:
    """One server of two behind a balancer lost the page and answers the site's home page:
    the guide on even nights, the home page on odd ones, for weeks. Each odd night was "No
    longer matching their entry" news, each even night "Its page matches the entry again".
    It drifted, matched again (news), drifted again: said once as unsteady, then quiet."""
    said = {n: items_of(night(guide, n, [by_turns(n)]), "guide") for n in range(3, 17)}
    assert "no longer matches the entry" in said[3][0]
    assert "matches the entry again" in said[4][0]
    # One item: its content and title changed at each read with it, which it explains.
    (unsteady,) = said[5]
    assert "matches the entry on some nights and not on others" in unsteady, unsteady
    assert {n: items for n, items in said.items() if n > 5 and items} == {}


def test_a_page_that_matched_for_a_few_nights_and_drifts_is_news(guide: Engine) -> None:
    """Quiet while it flips; once the balancer is fixed and the guide read on three nights,
    a drift is news again, however it flipped a week before: that one is a fix to make."""
    for n in range(3, 11):
        night(guide, n, [by_turns(n)], report=False)
    for n in (11, 12, 13):
        assert items_of(night(guide, n, [read(n, GUIDE_TITLE, GUIDE_TEXT)]), "guide") == []
    (drifted,) = items_of(night(guide, 14, [read(14, *HOME)]), "guide")
    assert "no longer matches the entry" in drifted


def test_drifts_of_two_entries_sharing_a_page_are_not_one_unsteady_page(guide: Engine) -> None:
    """Three drift events of one link within 14 days, but of two entries, each a real
    change a curator made or must make: the guide's page was replaced by the home page
    (drift), the curator corrected the entry to the home page (cleared), then added a
    second, wrong entry on that address (drift of that entry alone). The page never
    flipped: the new entry's drift was told as "matches the entry on some nights and not
    on others", and that entry's later drift news would have been quiet for 14 days."""
    drifted = items_of(night(guide, 3, [read(3, *HOME)]), "guide")
    assert any("no longer matches the entry" in item for item in drifted), drifted
    corrected = make_resource("guide", GUIDE, **HOME_ENTRY)
    sync_catalogs(guide, [make_catalog(resources=[corrected])], now=days(3.5))
    night(guide, 4, [read(4, *HOME)], report=False)
    wrong = make_resource("eguide", GUIDE, **GUIDE_ENTRY)
    sync_catalogs(guide, [make_catalog(resources=[corrected, wrong])], now=days(4.5))
    news = night(guide, 5, [read(5, *HOME)])
    said = items_of(news, "eguide")
    assert said, news
    assert not any("on some nights and not on others" in item for item in said), said
    assert "### No longer matching their entry (1)" in news
    # The curator fixes that entry too: the page matches it again, news of its own.
    fixed = make_resource("eguide", GUIDE, **HOME_ENTRY)
    sync_catalogs(guide, [make_catalog(resources=[corrected, fixed])], now=days(5.5))
    said = items_of(night(guide, 6, [read(6, *HOME)]), "eguide")
    assert any("Its page matches the entry again" in item for item in said), said
    assert not any("on some nights and not on others" in item for item in said), said


def test_a_permanent_move_after_a_temporary_detour_is_news_not_unsteady(engine: Engine) -> None:
    """The guide's link worked, was sent by a 302 to another site's maintenance page for
    one night, worked again, and two nights later moved for good (301). Only one permanent
    redirect ever came: the move is "Now redirects permanently to ..." with
    `accept-redirect` in the queue. The detour's changes of final address (from the link's
    own, as the checker records a direct answer, and back) counted as a permanent
    redirect's comings and goings: the move was "the site keeps changing it", no accept."""
    other = "https://status.other.example/maintenance"
    detour = make_observation(
        FLAP,
        Outcome.OK,
        days(2),
        chain=(Hop(FLAP, 302), Hop(other, 200)),
        final_url=other,
        fingerprint="sha256:maintenance",
        content_length=300,
        title="Maintenance",
    )
    for n in (0, 1):
        night(engine, n, [page(FLAP, days(n), 1)], report=False)
    night(engine, 2, [detour], report=False)
    for n in (3, 4):
        night(engine, n, [page(FLAP, days(n), 1)], report=False)
    said = items_of(night(engine, 6, [moved(days(6))]), "guide")
    assert any(f"Now redirects permanently to {NEW}" in item for item in said), said
    assert "accept-redirect" in (row(engine, "guide", 6).command or "")


def test_a_link_wide_clear_is_a_flip_of_the_entries_it_cleared() -> None:
    """One entry's page by turns (its drifts name it, its clears the link): all its own.
    A clear before another entry came is none of that entry's flips."""
    guide_entry, added = 1, 2
    by_turns_events = [
        (days(n), "drift_detected" if n % 2 else "drift_cleared", guide_entry if n % 2 else None)
        for n in range(1, 6)
    ]
    assert entry_flips(by_turns_events) == {guide_entry: {days(n) for n in range(1, 6)}}
    fixed_then_added = [
        (days(3), "drift_detected", guide_entry),
        (days(4), "drift_cleared", None),
        (days(5), "drift_detected", added),
        (days(6), "drift_cleared", added),
    ]
    flips = entry_flips(fixed_then_added)
    assert flips == {guide_entry: {days(3), days(4)}, added: {days(5), days(6)}}
