""" "Since the last run" as a curator reads it: each link under the one heading that says
what is true of it, once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from catalog import store
from catalog.ops import EVENT_BROKEN_INCREASED, notices, tally
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import ReportContext
from reports.render import render_html, render_json, render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

HEALTH = HealthSettings()  # flap_changes=4 within flap_window_days=14
FLAKY = "https://flaky.example/"


def _nightly_news(tmp_path: Path, down: set[int], last: int) -> dict[int, dict[str, list[str]]]:
    """Check the flaky link every night until `last`, failing on `down` nights; per night,
    the ids "Since the last run" lists under each section key."""
    kit = make_catalog("toolkit", [make_resource("flaky", FLAKY, title="Flaky hotline")])
    news: dict[int, dict[str, list[str]]] = {}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(last + 1):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            outcome = Outcome.HTTP_ERROR if night in down else Outcome.OK
            obs = make_observation(FLAKY, outcome, days(night))
            store.record_observations(engine, run_id, [obs], HEALTH, now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
            ctx = build_context(report_data(engine), now=days(night + 0.01))
            assert ctx.changes is not None
            news[night] = {
                s.key: [str(i.resource_id) for i in s.items] for s in ctx.changes.sections
            }
            if night == last:
                markdown = render_markdown(ctx)
                news[night]["markdown"] = [markdown]
    return news


def test_a_link_that_starts_flapping_on_a_failure_is_listed_as_flapping_only(
    tmp_path: Path,
) -> None:
    """Its fourth flip (night 10) is a failure: "Started failing" beside "Started
    flapping" told the curator to wait for it to recover, and listed it twice."""
    news = _nightly_news(tmp_path, down={0, 5, 10}, last=10)

    assert news[5] == {"started_failing": ["flaky"]}  # before it flaps: news as ever
    assert news[10]["flapping_started"] == ["flaky"]
    assert "started_failing" not in news[10]
    (markdown,) = news[10]["markdown"]
    assert "Started flapping (1)" in markdown and "Started failing" not in markdown
    assert "1 started flapping" in markdown and "started failing" not in markdown


def test_a_link_that_starts_flapping_on_a_recovery_is_listed_as_flapping_only(
    tmp_path: Path,
) -> None:
    """Its fourth flip is a recovery: "Recovered: Works again." beside "Started flapping
    ... listed under Check by hand" contradicted it."""
    news = _nightly_news(tmp_path, down={1, 3}, last=4)

    assert news[4]["flapping_started"] == ["flaky"]
    assert "recovered" not in news[4]


def test_a_confirmed_break_that_ends_as_flapping_starts_is_still_news(tmp_path: Path) -> None:
    """Down on night 1, then from night 3 (confirmed broken on night 5), working on night
    7: its fourth flip ends the break, which is news whatever else that check started."""
    news = _nightly_news(tmp_path, down={1, 3, 4, 5, 6}, last=7)

    assert news[5].get("newly_broken") == ["flaky"]
    assert news[7].get("flapping_started") == ["flaky"]
    assert news[7].get("recovered") == ["flaky"]


def test_news_of_an_ignored_link_says_why_the_queue_does_not_list_it(tmp_path: Path) -> None:
    """A curator reading "Started failing" looks for the entry in the queue: an ignored
    one is not there, and the news says so instead of sending them looking."""
    kit = make_catalog("toolkit", [make_resource("flaky", FLAKY, title="Flaky hotline")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        flaky = store.find_resource(engine, "flaky")
        store.record_decision(
            engine,
            flaky.id,
            "ignore",
            by="curator",
            at=days(0),
            reason="works in a browser",
            resource_changes={"ignored_at": days(0), "ignored_reason": "works in a browser"},
        )
        for night, outcome in enumerate((Outcome.OK, Outcome.HTTP_ERROR)):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            obs = make_observation(FLAKY, outcome, days(night))
            store.record_observations(engine, run_id, [obs], HEALTH, now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
        ctx = build_context(report_data(engine), now=days(1.01))
    assert ctx.changes is not None
    (section,) = ctx.changes.sections
    (item,) = section.items
    assert section.key == "started_failing" and item.resource_id == "flaky"
    assert item.summary.endswith(" Ignored, so not in the queue.")
    assert not any(r.resource_id == "flaky" for g in ctx.groups for r in g.rows)


def test_a_soft_404_confirmed_missing_is_news_as_the_group_it_is_filed_under(
    tmp_path: Path,
) -> None:
    """A soft 404 is filed under "Page missing (soft 404)", never "Confirmed broken": its
    confirmation listed under "Newly broken" as "Confirmed broken after 3 failed checks"
    contradicted the group the same report files it under, in every format."""
    gone = "https://gone.example/"
    kit = make_catalog(
        "toolkit",
        [make_resource("flaky", FLAKY, title="Flaky hotline"), make_resource("moved", gone)],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        before = tally(engine, now=days(0))
        for night in range(3):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            observations = [
                make_observation(FLAKY, Outcome.HTTP_ERROR, days(night)),
                make_observation(gone, Outcome.SOFT_404, days(night), http_status=200),
            ]
            store.record_observations(engine, run_id, observations, HEALTH, now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
        after = tally(engine, now=days(2.01))
        ctx = build_context(report_data(engine), now=days(2.01))
    assert {r.resource_id: g.key for g in ctx.groups for r in g.rows} == {
        "flaky": "broken",
        "moved": "soft_404",
    }
    assert ctx.changes is not None
    news = {s.key: s for s in ctx.changes.sections}
    assert [i.resource_id for i in news["newly_broken"].items] == ["flaky"]
    (missing,) = news["newly_missing"].items
    assert missing.resource_id == "moved" and missing.kind == "state_changed"
    assert "broken" not in missing.summary.lower()
    assert missing.summary == "Confirmed missing after 3 failed checks."
    assert news["newly_missing"].heading == "Pages now missing (soft 404)"
    assert news["newly_missing"].tally == "1 page now missing (soft 404)"

    html = LexborHTMLParser(render_html(ctx))
    shown = {
        span.text(): ul.attributes.get("data-section")
        for ul in html.css("ul.changes")
        for span in ul.css("li span.id")
    }
    assert shown == {"flaky": "newly_broken", "moved": "newly_missing"}
    heading = html.css_first("#changes-newly_missing")
    assert heading is not None and heading.text() == "Pages now missing (soft 404) (1)"
    markdown = render_markdown(ctx)
    section = markdown.split("### Pages now missing (soft 404) (1)")[1].split("###")[0]
    assert "(moved): Confirmed missing after 3 failed checks." in section
    assert "1 newly broken, 1 page now missing (soft 404)" in markdown
    sections = json.loads(render_json(ctx))["changes"]["sections"]
    assert {s["key"]: [i["resource_id"] for i in s["items"]] for s in sections} == {
        "newly_broken": ["flaky"],
        "newly_missing": ["moved"],
    }
    # The webhook's broken_increased counts the "Confirmed broken" group: flaky alone.
    assert (before.broken, after.broken) == (0, 1)
    (sent,) = [n for n in notices(before, after, network_unavailable=False)]
    assert sent.event == EVENT_BROKEN_INCREASED and sent.payload["current"] == 1


def test_a_page_that_became_a_soft_404_is_news_under_pages_now_missing_only(
    tmp_path: Path,
) -> None:
    """Its first soft 404 files it under "Page missing (soft 404)" at once: "Started
    failing" sent the curator to "Failing, not yet confirmed", where it is not, and the
    news of the same page was told in the wrong group."""
    gone = "https://gone.example/"
    kit = make_catalog("toolkit", [make_resource("moved", gone)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night, outcome in enumerate((Outcome.OK, Outcome.SOFT_404)):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            obs = make_observation(gone, outcome, days(night), http_status=200)
            store.record_observations(engine, run_id, [obs], HEALTH, now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
        ctx = build_context(report_data(engine), now=days(1.01))
    assert {r.resource_id: g.key for g in ctx.groups for r in g.rows} == {"moved": "soft_404"}
    assert ctx.changes is not None
    (section,) = ctx.changes.sections
    (item,) = section.items
    assert (section.key, item.resource_id) == ("newly_missing", "moved")
    assert item.summary == (
        "The site answers, but the page is missing (soft 404); not confirmed yet."
    )
    markdown = render_markdown(ctx)
    assert "Started failing" not in markdown and "started failing" not in markdown
    assert "1 page now missing (soft 404)" in markdown


def _news_of_nights(
    tmp_path: Path, outcomes: Sequence[Outcome | tuple[Outcome, ...]]
) -> ReportContext:
    """The report after checking one link (`moved`) on consecutive nights, with these
    outcomes (a tuple: the night's check, then rechecks an hour apart in its run); a soft
    404 answers 200."""
    gone = "https://gone.example/"
    kit = make_catalog("toolkit", [make_resource("moved", gone, title="Moved page")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night, checks in enumerate(outcomes):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            for hour, outcome in enumerate(checks if isinstance(checks, tuple) else (checks,)):
                at = days(night + hour / 24)
                fields = {"http_status": 200} if outcome is Outcome.SOFT_404 else {}
                obs = make_observation(gone, outcome, at, **fields)
                store.record_observations(engine, run_id, [obs], HEALTH, now=at)
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.5))
        return build_context(report_data(engine), now=days(len(outcomes) - 0.49))


@pytest.mark.parametrize(
    "failing", [Outcome.NOT_FOUND, Outcome.HTTP_ERROR, Outcome.TIMEOUT], ids=lambda o: o.value
)
def test_a_failing_link_that_now_answers_with_a_soft_404_is_news_under_pages_now_missing(
    tmp_path: Path, failing: Outcome
) -> None:
    """Failing (a 404, a 500, a timeout), not confirmed yet, and now the site answers with
    a "not found" page: the row left "Failing, not yet confirmed" for "Page missing (soft
    404)", and the news said nothing of it. It is neither fixed nor failing anew."""
    ctx = _news_of_nights(tmp_path, [Outcome.OK, failing, Outcome.SOFT_404])

    assert {r.resource_id: g.key for g in ctx.groups for r in g.rows} == {"moved": "soft_404"}
    assert ctx.changes is not None
    (section,) = ctx.changes.sections
    (item,) = section.items
    assert (section.key, item.resource_id, item.kind) == (
        "newly_missing",
        "moved",
        "outcome_changed",
    )
    assert item.summary == (
        "The site answers now, but the page is still missing (soft 404); not confirmed yet."
    )
    assert (item.before, item.after) == (failing.label, Outcome.SOFT_404.label)

    markdown = render_markdown(ctx)
    section_md = markdown.split("### Pages now missing (soft 404) (1)")[1].split("###")[0]
    assert "(moved): The site answers now" in section_md
    assert f"{failing.label} → Page missing (soft 404)" in section_md
    for elsewhere in ("Started failing", "Recovered", "Newly broken"):
        assert elsewhere not in markdown
    html = LexborHTMLParser(render_html(ctx))
    shown = {
        span.text(): ul.attributes.get("data-section")
        for ul in html.css("ul.changes")
        for span in ul.css("li span.id")
    }
    assert shown == {"moved": "newly_missing"}
    (li,) = html.css("ul.changes li")
    assert failing.label in li.text() and "Page missing (soft 404)" in li.text()


def test_a_confirmed_break_that_now_answers_with_a_soft_404_is_news_under_pages_now_missing(
    tmp_path: Path,
) -> None:
    """Confirmed broken with a 404, then a "not found" page: the row moved from "Confirmed
    broken" to "Page missing (soft 404)", confirmed still; not "Fixed"/"Recovered"."""
    ctx = _news_of_nights(tmp_path, [Outcome.NOT_FOUND] * 3 + [Outcome.SOFT_404])

    assert {r.resource_id: g.key for g in ctx.groups for r in g.rows} == {"moved": "soft_404"}
    assert ctx.changes is not None
    (section,) = ctx.changes.sections
    (item,) = section.items
    assert (section.key, item.resource_id) == ("newly_missing", "moved")
    assert item.summary == (
        "The site answers now, but the page is still missing (soft 404); confirmed missing."
    )
    assert item.before_after == "Not found (404) → Page missing (soft 404)"
    markdown = render_markdown(ctx)
    assert "1 page now missing (soft 404)" in markdown
    assert "Recovered" not in markdown and "Newly broken" not in markdown


def test_a_soft_404_confirmed_on_its_first_such_check_is_told_once_with_how_it_failed(
    tmp_path: Path,
) -> None:
    """Two 404s, then a soft 404 whose check confirms it: its confirmation and its new
    way of failing are one item, which says how it failed before."""
    ctx = _news_of_nights(tmp_path, [Outcome.NOT_FOUND] * 2 + [Outcome.SOFT_404])

    assert ctx.changes is not None
    (section,) = ctx.changes.sections
    (item,) = section.items
    assert (section.key, item.kind) == ("newly_missing", "state_changed")
    assert item.summary == "Confirmed missing after 3 failed checks."
    assert item.before_after == "Not found (404) → Page missing (soft 404)"


def _news(ctx: ReportContext) -> dict[str, list[tuple[str | None, str, str | None]]]:
    """Per section key, (resource id, summary, before → after) of each item."""
    assert ctx.changes is not None
    return {
        s.key: [(i.resource_id, i.summary, i.before_after) for i in s.items]
        for s in ctx.changes.sections
    }


@pytest.mark.parametrize(
    "failing", [Outcome.NOT_FOUND, Outcome.TIMEOUT, Outcome.DNS_ERROR], ids=lambda o: o.value
)
def test_a_soft_404_whose_site_now_fails_otherwise_is_news_under_started_failing(
    tmp_path: Path, failing: Outcome
) -> None:
    """A "not found" page, not confirmed yet, and now a 404, a timeout or no domain: the row
    left "Page missing (soft 404)" for "Failing, not yet confirmed", and the news said
    nothing of it. It is told there once, as failing still (not as a first failure), with
    how it fails now."""
    ctx = _news_of_nights(tmp_path, [Outcome.OK, Outcome.SOFT_404, failing])

    assert {r.resource_id: g.key for g in ctx.groups for r in g.rows} == {"moved": "failing"}
    assert _news(ctx) == {
        "started_failing": [
            (
                "moved",
                "Still failing, but no longer as a soft 404; not confirmed yet.",
                f"Page missing (soft 404) → {failing.label}",
            )
        ]
    }
    markdown = render_markdown(ctx)
    section_md = markdown.split("### Started failing (1)")[1].split("###")[0]
    assert "(moved): Still failing, but no longer as a soft 404; not confirmed yet. " in section_md
    assert f"Page missing (soft 404) → {failing.label}" in section_md
    html = LexborHTMLParser(render_html(ctx))
    (li,) = html.css("ul.changes li")
    assert li.parent is not None and li.parent.attributes.get("data-section") == "started_failing"
    assert failing.label in li.text() and "no longer as a soft 404" in li.text()


def test_a_confirmed_soft_404_whose_site_now_fails_otherwise_is_news_under_newly_broken(
    tmp_path: Path,
) -> None:
    """Confirmed missing (soft 404), then a 404: the row moved from "Page missing (soft
    404)" to "Confirmed broken" with no news. It is told under "Newly broken", confirmed
    still: not "Failed its last check" nor "Confirmed broken after 1 failed check"."""
    ctx = _news_of_nights(tmp_path, [Outcome.SOFT_404] * 3 + [Outcome.NOT_FOUND])

    assert {r.resource_id: g.key for g in ctx.groups for r in g.rows} == {"moved": "broken"}
    assert _news(ctx) == {
        "newly_broken": [
            (
                "moved",
                "Still failing, but no longer as a soft 404; confirmed broken.",
                "Page missing (soft 404) → Not found (404)",
            )
        ]
    }
    sections = json.loads(render_json(ctx))["changes"]["sections"]
    assert [(s["key"], [i["resource_id"] for i in s["items"]]) for s in sections] == [
        ("newly_broken", ["moved"])
    ]


def test_a_soft_404_confirmed_broken_by_its_first_other_failure_is_told_once_with_how(
    tmp_path: Path,
) -> None:
    """Two "not found" pages, then a timeout whose check confirms the break: the
    confirmation is the entry's one item, and says how it failed before."""
    ctx = _news_of_nights(tmp_path, [Outcome.SOFT_404] * 2 + [Outcome.TIMEOUT])

    assert _news(ctx) == {
        "newly_broken": [
            (
                "moved",
                "Confirmed broken after 3 failed checks.",
                "Page missing (soft 404) → Timed out",
            )
        ]
    }


@pytest.mark.parametrize(
    ("was", "then"),
    [(Outcome.SOFT_404, Outcome.NOT_FOUND), (Outcome.NOT_FOUND, Outcome.SOFT_404)],
    ids=["soft-404-and-back", "404-and-back"],
)
def test_a_failure_that_changes_kind_and_back_before_the_report_is_no_news(
    tmp_path: Path, was: Outcome, then: Outcome
) -> None:
    """Failing one way at the last report, then the other way, then the first again on a
    recheck: the row is where it was. "The site answers now, but the page is still
    missing" of a page that was a soft 404 at the last report told the curator of a
    change that was not there."""
    ctx = _news_of_nights(tmp_path, [Outcome.OK, was, (then, was)])

    assert ctx.changes is not None and ctx.changes.sections == ()


def test_a_soft_404_that_worked_again_before_failing_otherwise_failed_anew(
    tmp_path: Path,
) -> None:
    """Confirmed missing, then working and failing with a 404 on a recheck: its failure
    began anew, which its state news says, not a soft 404 that now fails otherwise."""
    ctx = _news_of_nights(tmp_path, [Outcome.SOFT_404] * 3 + [(Outcome.OK, Outcome.NOT_FOUND)])

    assert _news(ctx) == {
        "started_failing": [("moved", "Failed its last check; not confirmed yet.", None)]
    }
