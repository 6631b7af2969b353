"""Two entries that become unsteady on the same night are each told so, once.

`catalog.unsteady` tells the change that shows a link unsteady once (`Unsteady.first`) and
quiets the later ones: one item per check of a link, not one per night or per kind. Two
links found unsteady the same night are two items; so are two entries of one address (a
link's change is told for each entry using it, a drift for the entry it concerns).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.model import Hop, Observation, pack_text
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.source import Resource
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.render import render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

ONE = "https://guides.example/old"
TWO = "https://manuals.example/old"
LINKS = (("guide", ONE), ("manual", TWO))
RIDS = ("guide", "directory", "poster")
SHARED = "https://resources.example/trafficking"

GUIDE = (
    "Task Force e-Guide: a guide for human trafficking task forces, forming a task force, "
    "investigations and prosecution."
)
DIRECTORY = (
    "Victim Services Directory: a directory of victim service providers, shelters, legal "
    "aid and counseling for survivors."
)
POSTER = (
    "Labor Trafficking Hotline Poster: a printable poster with the labor trafficking "
    "hotline number for workplaces and farms."
)
MORE = (
    "Contact us for training and technical assistance across the state, news and events, "
    "upcoming meetings and public notices for our partners and grantees."
)
PAGE_TITLE = "Anti-Trafficking Resources"
#: The shared page holding its three entries; the page holding the guide alone.
ALL = f"{PAGE_TITLE}. {GUIDE} {DIRECTORY} {POSTER} {MORE}"
GUIDE_ONLY = f"{PAGE_TITLE}. {GUIDE} {MORE} Our office hours, staff directory and careers."
HOME = (
    "Office for Victims of Crime | Home",
    "Welcome to the Office. News Programs Grants Careers About us Contact. Our agency funds "
    "community programs, research grants and technical assistance across the state. Apply "
    "for funding, read the latest news releases, find upcoming events, meetings and public "
    "notices, and sign up for our newsletter. Accessibility FOIA Privacy Policy.",
)

GUIDE_ENTRY = dict(
    title="Task Force e-Guide",
    description="A guide for human trafficking task forces, forming a task force, "
    "investigations and prosecution",
)
DIRECTORY_ENTRY = dict(
    title="Victim Services Directory",
    description="A directory of victim service providers, shelters, legal aid and counseling "
    "for survivors",
)
POSTER_ENTRY = dict(
    title="Labor Trafficking Hotline Poster",
    description="A printable poster with the labor trafficking hotline number for workplaces "
    "and farms",
)


@pytest.fixture
def two_links(tmp_path: Path) -> Iterator[Engine]:
    """Two entries on two addresses, each its own."""
    yield from database(tmp_path, [make_resource(rid, url, **GUIDE_ENTRY) for rid, url in LINKS])


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Engine]:
    """Three entries on one address, as the DHS infographic's three share theirs."""
    entries = (GUIDE_ENTRY, DIRECTORY_ENTRY, POSTER_ENTRY)
    yield from database(
        tmp_path, [make_resource(rid, SHARED, **e) for rid, e in zip(RIDS, entries, strict=True)]
    )


def database(tmp_path: Path, resources: Sequence[Resource]) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=resources)], now=days(0))
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
    news = render_markdown(ctx, limit=None).partition("## Since the last run")[2]
    return news.partition("\n## ")[0]


def items_of(news: str, rid: str) -> list[str]:
    return [line for line in news.splitlines() if f"({rid})" in line]


def unsteady_heading(news: str) -> str:
    return next((line for line in news.splitlines() if line.startswith("### Unsteady")), "")


def page(url: str, n: int, version: int) -> Observation:
    """A read of `url` whose content is its `version`."""
    return make_observation(
        url,
        Outcome.OK,
        days(n),
        chain=(Hop(url, 200),),
        final_url=url,
        fingerprint=f"sha256:{url}#{version}",
        content_length=400 + 60 * (version % 4),
        title="Guide",
    )


def moved(url: str, n: int) -> Observation:
    target = f"{url}-new"
    return make_observation(
        url,
        Outcome.REDIRECTED_PERMANENT,
        days(n),
        chain=(Hop(url, 301), Hop(target, 200)),
        final_url=target,
        reason=f"Redirected permanently (301) to {target}; the new page answers 200.",
        methods=("HEAD",),
    )


def read(url: str, n: int, title: str, text: str) -> Observation:
    return make_observation(
        url,
        checked_at=days(n),
        title=title,
        text_sample_packed=pack_text(text),
        fingerprint=f"sha256:{title}:{len(text)}",
        content_type="text/html",
        content_length=3000,
    )


def told_once_each(said: dict[int, dict[str, list[str]]], night_of: int, words: str) -> None:
    """Each entry's items: one unsteady item on `night_of`, none of its kind after."""
    for rid, items in said[night_of].items():
        assert len(items) == 1, (rid, items)
        assert words in items[0], (rid, items)
    for n, by_rid in said.items():
        if n > night_of:
            assert all(items == [] for items in by_rid.values()), (n, by_rid)


def drifted_twice(said: dict[int, dict[str, list[str]]]) -> None:
    """Nights 3 and 4: each entry's drift, then its match again, news of its own."""
    for n in (3, 4):
        for rid, items in said[n].items():
            assert len(items) == 1 and "on some nights" not in items[0], (n, rid, items)


# Two links


def test_two_links_changing_at_every_read_the_same_night_are_each_told(
    two_links: Engine,
) -> None:
    said = {}
    for n in range(1, 8):
        news = night(two_links, n, [page(ONE, n, n), page(TWO, n, n)])
        said[n] = {rid: items_of(news, rid) for rid in ("guide", "manual")}
        if n == 4:
            assert unsteady_heading(news) == "### Unsteady links (2)", news
    told_once_each(said, 4, "changed at each of its last 3 reads")


def test_two_permanent_redirects_coming_and_going_the_same_night_are_each_told(
    two_links: Engine,
) -> None:
    for n in (1, 2):
        night(two_links, n, [page(ONE, n, 1), page(TWO, n, 1)], report=False)
    said = {}
    for n in range(3, 12):
        observed = [moved(u, n) if n % 2 else page(u, n, 1) for u in (ONE, TWO)]
        news = night(two_links, n, observed)
        said[n] = {rid: items_of(news, rid) for rid in ("guide", "manual")}
        if n == 5:
            assert unsteady_heading(news) == "### Unsteady links (2)", news
    told_once_each(said, 5, "on some nights and not others")


def test_two_pages_matching_their_entries_by_turns_the_same_night_are_each_told(
    two_links: Engine,
) -> None:
    for n in range(3):
        night(two_links, n, [read(u, n, GUIDE_ENTRY["title"], GUIDE) for u in (ONE, TWO)], False)
    said = {}
    for n in range(3, 12):
        observed = [
            read(u, n, *HOME) if n % 2 else read(u, n, GUIDE_ENTRY["title"], GUIDE)
            for u in (ONE, TWO)
        ]
        news = night(two_links, n, observed)
        said[n] = {rid: items_of(news, rid) for rid in ("guide", "manual")}
        if n == 5:
            assert unsteady_heading(news) == "### Unsteady links (2)", news
    drifted_twice(said)
    told_once_each(said, 5, "matches the entry on some nights and not on others")


# Two entries of one address


def test_a_shared_page_changing_at_every_read_is_told_for_each_entry(shared: Engine) -> None:
    said = {}
    for n in range(1, 8):
        news = night(shared, n, [page(SHARED, n, n)])
        said[n] = {rid: items_of(news, rid) for rid in RIDS}
        if n == 4:
            assert unsteady_heading(news) == "### Unsteady links (3)", news
    told_once_each(said, 4, "changed at each of its last 3 reads")


def test_a_shared_permanent_redirect_coming_and_going_is_told_for_each_entry(
    shared: Engine,
) -> None:
    for n in (1, 2):
        night(shared, n, [page(SHARED, n, 1)], report=False)
    said = {}
    for n in range(3, 12):
        news = night(shared, n, [moved(SHARED, n) if n % 2 else page(SHARED, n, 1)])
        said[n] = {rid: items_of(news, rid) for rid in RIDS}
        if n == 5:
            assert unsteady_heading(news) == "### Unsteady links (3)", news
    told_once_each(said, 5, "on some nights and not others")


def test_a_shared_page_drifting_from_two_entries_by_turns_tells_each_once(
    shared: Engine,
) -> None:
    """The page holds its three entries on even nights, the guide alone on odd ones (one
    server of two serves an older page): it drifts from the directory and the poster, and
    matches them again, by turns. Both were "No longer matching their entry" news; on the
    night it shows unsteady, only the entry whose event came first was told so, and the
    other's flips went quiet without a word. The guide, which the page holds every night,
    was told "Content changed" twice, then nothing: its content's unsteadiness was taken
    as told with the drift of the others."""
    for n in range(3):
        night(shared, n, [read(SHARED, n, PAGE_TITLE, ALL)], report=False)
    said = {}
    for n in range(3, 12):
        news = night(shared, n, [read(SHARED, n, PAGE_TITLE, GUIDE_ONLY if n % 2 else ALL)])
        said[n] = {rid: items_of(news, rid) for rid in RIDS}
        if n == 5:
            assert unsteady_heading(news) == "### Unsteady links (3)", news
    guide = {n: said[n].pop("guide") for n in said}
    drifted_twice(said)
    told_once_each(said, 5, "matches the entry on some nights and not on others")
    assert all("Content changed" in guide[n][0] and len(guide[n]) == 1 for n in (3, 4)), guide
    told_once_each({n: {"guide": items} for n, items in guide.items()}, 5, "changed at each")
