""" "Since the last run" of a link that goes from one way of failing or working to another
(a soft 404, another failure, a page that drifts, a redirect, working): one item, under
the heading of the group the queue files it under."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog import store
from catalog.model import Hop, Observation, pack_text
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.changes import STARTED_FAILING, STARTED_MISSING, WORKS_AGAIN
from reports.render import render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

URL = "https://guide.example/task-force"
HOME = "https://guide.example/"
NEW_URL = "https://guides.example/task-force"
TITLE = "Human Trafficking Task Force e-Guide"
GUIDE = (
    "The Human Trafficking Task Force e-Guide helps task forces build collaborative "
    "investigations of human trafficking, support victims and survivors, and prosecute "
    "traffickers. Sections cover forming a task force, victim services, investigations, "
    "prosecution, labor trafficking, sex trafficking and community partnerships."
)
CASINO = (
    "Online casino with free spins and a welcome bonus. Play slots, poker, roulette and "
    "blackjack. Sports betting and live casino games with the best betting odds tonight."
)

#: What one check found: the guide, a casino page (drift) answering 200 or as a "not found"
#: page, a plain soft 404, one reached by a redirect to the home page, the guide moved for
#: good, or (an `Outcome`) a failure without a page.
GUIDE_PAGE, CASINO_PAGE, CASINO_MISSING, MISSING = "guide", "casino", "casino-404", "soft-404"
SENT_HOME, MOVED = "sent-home", "moved"
Check = str | Outcome


@dataclass(frozen=True)
class Recheck:
    """A check by a recheck (a run holding no full-run lease), the morning after a night:
    its news joins that night's, in one report window."""

    check: Check


def _observation(check: Check, night: int) -> Observation:
    at = days(night)
    if check == GUIDE_PAGE:
        return make_observation(
            URL, Outcome.OK, at, title=TITLE, text_sample_packed=pack_text(GUIDE)
        )
    if check in (CASINO_PAGE, CASINO_MISSING):
        outcome = Outcome.OK if check == CASINO_PAGE else Outcome.SOFT_404
        casino = pack_text(CASINO)
        return make_observation(
            URL, outcome, at, http_status=200, title="Best Online Casino", text_sample_packed=casino
        )
    if check == MISSING:
        return make_observation(URL, Outcome.SOFT_404, at, http_status=200, title="Not found")
    if check == SENT_HOME:
        chain = (Hop(URL, 302), Hop(HOME, 200))
        return make_observation(
            URL, Outcome.SOFT_404, at, http_status=200, title="Guides", final_url=HOME, chain=chain
        )
    if check == MOVED:
        chain = (Hop(URL, 301), Hop(NEW_URL, 200))
        guide = pack_text(GUIDE)
        return make_observation(
            URL,
            Outcome.REDIRECTED_PERMANENT,
            at,
            title=TITLE,
            text_sample_packed=guide,
            final_url=NEW_URL,
            chain=chain,
        )
    assert isinstance(check, Outcome)
    return make_observation(URL, check, at)


def _news(tmp_path: Path, checks: Sequence[Check | Recheck]) -> dict[str, list[str]]:
    """Per section key, the summaries of the report after one check a night; its queue
    group too (under "group")."""
    kit = make_catalog("toolkit", [make_resource("guide", URL, title=TITLE)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night, check in enumerate(checks):
            if isinstance(check, Recheck):
                held = {"holder": "recheck"}
                run_id = store.start_run(engine, trigger="recheck", now=days(night), summary=held)
                check = check.check
            else:
                run_id = store.start_run(engine, trigger="schedule", now=days(night))
            obs = _observation(check, night)
            store.record_observations(engine, run_id, [obs], HealthSettings(), now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
        ctx = build_context(report_data(engine), now=days(len(checks) - 0.99))
    assert ctx.changes is not None
    news = {s.key: [i.summary for i in s.items] for s in ctx.changes.sections}
    news["group"] = [g.key for g in ctx.groups for _ in g.rows]
    news["markdown"] = [render_markdown(ctx)]
    return news


@pytest.mark.parametrize(
    "failing",
    [[Outcome.NOT_FOUND], [Outcome.NOT_FOUND] * 3, [MISSING], [MISSING] * 3],
    ids=["404", "404-confirmed", "soft-404", "soft-404-confirmed"],
)
def test_a_failing_link_whose_page_now_shows_something_else_is_news_as_drifted_only(
    tmp_path: Path, failing: list[Check]
) -> None:
    """A dead link whose domain now answers with a casino: "Recovered: Works again" beside
    "No longer matching their entry" told the curator it was fixed, and listed it twice."""
    news = _news(tmp_path, [GUIDE_PAGE, *failing, CASINO_PAGE])

    assert news.pop("group") == ["drift"]
    markdown = news.pop("markdown")[0]
    assert list(news) == ["newly_drifted"] and len(news["newly_drifted"]) == 1
    assert "Recovered" not in markdown and "Works again" not in markdown


def test_a_page_that_first_answers_with_a_casino_as_missing_is_news_as_drifted_only(
    tmp_path: Path,
) -> None:
    """The casino its new owner shows is a soft 404 to the checker and drift to the report:
    "Started failing" beside it sent the curator to "Failing, not yet confirmed", where the
    entry is not."""
    news = _news(tmp_path, [GUIDE_PAGE, CASINO_MISSING])

    assert news.pop("group") == ["drift"]
    markdown = news.pop("markdown")[0]
    assert list(news) == ["newly_drifted"] and len(news["newly_drifted"]) == 1
    assert "Started failing" not in markdown and "started failing" not in markdown


@pytest.mark.parametrize(
    ("checks", "first"),
    [
        ([GUIDE_PAGE, *[CASINO_MISSING] * 3], "Confirmed broken after 3 failed checks."),
        ([GUIDE_PAGE, CASINO_PAGE, Outcome.NOT_FOUND], STARTED_FAILING),
        ([GUIDE_PAGE, CASINO_MISSING, CASINO_PAGE], WORKS_AGAIN),
    ],
    ids=["confirmed", "started-failing", "works-again"],
)
def test_what_a_drifted_pages_link_does_later_is_news_where_its_row_is_with_the_evidence(
    tmp_path: Path, checks: list[Check], first: str
) -> None:
    """A parked domain for sale, confirmed broken nights after it drifted, was news under
    "Pages now missing (soft 404): Confirmed missing after 3 failed checks." (r2's F4), with
    not a word of the casino or the sale, while its row is under "Page no longer matches its
    entry"; so was its first failure "Started failing", and its link working again
    "Recovered" (beside "Content changed")."""
    news = _news(tmp_path, checks)

    assert news.pop("group") == ["drift"]
    markdown = news.pop("markdown")[0]
    assert list(news) == ["newly_drifted"] and len(news["newly_drifted"]) == 1
    (said,) = news["newly_drifted"]
    assert said.startswith(first) and "now looks like a gambling page ('Online Casino'" in said
    since = markdown.split("## Since the last run")[1].split("\n## ")[0]
    assert since.count("(guide)") == 1
    for heading in ("Pages now missing", "Started failing", "Recovered", "Content changed"):
        assert heading not in since


def test_a_drifted_page_that_works_and_matches_again_is_one_item(tmp_path: Path) -> None:
    """A casino "not found" page, then the guide again: "Works again." and "Its page
    matches the entry again." were two items of one entry under "Recovered"."""
    news = _news(tmp_path, [GUIDE_PAGE, CASINO_MISSING, GUIDE_PAGE])

    assert news.pop("group") == []
    markdown = news.pop("markdown")[0]
    assert news == {"recovered": ["Works again, and its page matches the entry again."]}
    assert "1 recovered." in markdown


def test_a_drifted_page_that_matches_again_is_not_also_news_as_changed(tmp_path: Path) -> None:
    """The casino, then the guide: its page changed by definition, as when it drifted; the
    title's change beside "Its page matches the entry again." listed the entry twice."""
    news = _news(tmp_path, [GUIDE_PAGE, CASINO_PAGE, GUIDE_PAGE])

    assert news.pop("group") == []
    news.pop("markdown")
    assert news == {"recovered": ["Its page matches the entry again."]}


@pytest.mark.parametrize(
    ("checks", "said"),
    [
        ([GUIDE_PAGE, SENT_HOME], {"newly_missing": ["not confirmed yet"]}),
        ([GUIDE_PAGE, SENT_HOME, GUIDE_PAGE], {"recovered": ["Works again."]}),
        ([GUIDE_PAGE, SENT_HOME, Outcome.NOT_FOUND], {"started_failing": ["no longer as a"]}),
        ([GUIDE_PAGE, MOVED, SENT_HOME], {"newly_missing": ["not confirmed yet"]}),
        ([GUIDE_PAGE, MOVED, CASINO_PAGE], {"newly_drifted": ["gambling page"]}),
    ],
    ids=["sent-home", "back-from-home", "404-after-home", "moved-then-home", "moved-then-casino"],
)
def test_where_a_failing_or_drifting_link_now_leads_is_no_redirect_news(
    tmp_path: Path, checks: list[Check], said: dict[str, list[str]]
) -> None:
    """A deep link the site now sends to its home page is a soft 404: "New redirects: Now
    redirects." beside "Pages now missing" listed it twice, and "No longer redirects" once
    it works again or fails with a 404. So did the end of a permanent redirect beside the
    page missing or drifted that it now leads to."""
    news = _news(tmp_path, checks)
    news.pop("group")
    markdown = news.pop("markdown")[0]

    assert {key: len(items) for key, items in news.items()} == dict.fromkeys(said, 1)
    for key, (words,) in said.items():
        assert words in news[key][0]
    assert "redirects" not in markdown.split("## Since the last run")[1].split("\n## ")[0]


@pytest.mark.parametrize(
    "failing",
    [[Outcome.NOT_FOUND], [Outcome.NOT_FOUND] * 3, [MISSING]],
    ids=["404", "404-confirmed", "soft-404"],
)
def test_a_failing_link_that_now_redirects_permanently_is_one_item_under_new_redirects(
    tmp_path: Path, failing: list[Check]
) -> None:
    """It works again, at a new address the queue lists under "Moved permanently": "Recovered:
    Works again." beside "New redirects: Now redirects permanently to ..." listed it twice,
    the first with nothing to do."""
    news = _news(tmp_path, [GUIDE_PAGE, *failing, MOVED])

    assert news.pop("group") == ["update"]
    news.pop("markdown")
    assert news == {
        "new_redirects": [f"Works again: now redirects permanently to {NEW_URL}."],
    }


#: A drift and its clearing in one window, as told (`_matches_again_after`).
PASSING_DRIFT = (
    "Its page matches the entry again; for a while it looked like a gambling page ('Online "
    "Casino', 'free spins', 'welcome bonus') (it shared 100% of the entry's words, now 0%)."
)


@pytest.mark.parametrize(
    ("later", "said"),
    [
        (Outcome.NOT_FOUND, {"started_failing": [STARTED_FAILING], "group": ["failing"]}),
        (Outcome.TIMEOUT, {"started_failing": [STARTED_FAILING], "group": ["failing"]}),
        (MISSING, {"newly_missing": [STARTED_MISSING], "group": ["soft_404"]}),
        (GUIDE_PAGE, {"group": []}),
    ],
    ids=["404", "timeout", "soft-404", "guide"],
)
def test_a_drift_that_cleared_in_the_window_is_one_recovered_item_and_hides_no_failure(
    tmp_path: Path, later: Check, said: dict[str, list[str]]
) -> None:
    """r4's 1: a casino one night, the guide on the morning's recheck, a 404 on a later one:
    the news was "No longer matching their entry: ... gambling page" and "Recovered: Its
    page matches the entry again", the 404 left out, of a row under "Failing, not yet
    confirmed". The 404 is told under its own heading, the stale drift not at all; the pair
    is one "Recovered" item, not no news: the night's report told the curator to remove the
    link, and this window holds that night (r7's 2)."""
    checks: list[Check | Recheck] = [GUIDE_PAGE, GUIDE_PAGE, CASINO_PAGE, Recheck(GUIDE_PAGE)]
    checks.append(Recheck(later))
    news = _news(tmp_path, checks)

    markdown = news.pop("markdown")[0]
    assert news == {"recovered": [PASSING_DRIFT], **said}
    assert "No longer matching" not in markdown.split("## Since the last run")[1]


def test_the_report_after_a_recheck_that_clears_a_drift_says_it_passed(tmp_path: Path) -> None:
    """r7's 2: the night's report said "remove or replace the link" of a casino page; the
    report after the morning's recheck, which saw the guide again, said "nothing changed"."""
    news = _news(tmp_path, [GUIDE_PAGE, GUIDE_PAGE, CASINO_PAGE, Recheck(GUIDE_PAGE)])

    news.pop("markdown")
    assert news == {"recovered": [PASSING_DRIFT], "group": []}


def test_a_link_sent_home_then_moved_in_one_window_is_one_redirect_item(tmp_path: Path) -> None:
    """r4's 2: its night's redirect to the home page and its recheck's to the new address
    were two items, "Works again: now redirects permanently to X." and "Works again: now
    leads somewhere else. [home -> X]": the window's redirect runs from none to X."""
    news = _news(tmp_path, [GUIDE_PAGE, SENT_HOME, Recheck(MOVED)])

    assert news.pop("group") == ["update"]
    news.pop("markdown")
    assert news == {"new_redirects": [f"Works again: now redirects permanently to {NEW_URL}."]}


def test_a_drifted_failing_link_that_moved_and_matches_again_is_one_item(tmp_path: Path) -> None:
    """r4's 3: "Recovered: Works again, and its page matches the entry again." beside "New
    redirects: Now redirects permanently to ..." listed it twice; under "Moved permanently",
    where its row is, the redirect's item says both."""
    news = _news(tmp_path, [GUIDE_PAGE, CASINO_PAGE, Recheck(Outcome.NOT_FOUND), MOVED])

    assert news.pop("group") == ["update"]
    news.pop("markdown")
    assert news == {
        "new_redirects": [
            "Works again, and its page matches the entry again: now redirects permanently "
            f"to {NEW_URL}."
        ]
    }


@pytest.mark.parametrize(
    ("checks", "group"),
    [
        ([GUIDE_PAGE, GUIDE_PAGE, MOVED, Recheck(GUIDE_PAGE)], []),
        ([GUIDE_PAGE, MOVED, MOVED, Recheck(GUIDE_PAGE), Recheck(MOVED)], ["update"]),
    ],
    ids=["came-and-went", "went-and-came-back"],
)
def test_a_redirect_that_ends_the_window_where_it_began_is_no_news(
    tmp_path: Path, checks: list[Check | Recheck], group: list[str]
) -> None:
    """A night's redirect and its recheck's end of it: "No longer redirects permanently"
    (or "Now ends at another address" and "No longer redirects: it ends at its own
    address") of a link that redirects as it did, its row under "Moved permanently"."""
    news = _news(tmp_path, checks)

    assert news.pop("group") == group
    markdown = news.pop("markdown")[0]
    assert news == {}
    assert "redirects" not in markdown.split("## Since the last run")[1].split("\n## ")[0]
