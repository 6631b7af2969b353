"""A queue row says what the checks found wherever the row is filed, and says how old each
fact is: a new edition behind a redirect, a page title the latest check did not read, a
parked domain counted where the queue files it, a host that never answers (found by the
r2 review of a curator's report)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from catalog import store
from catalog.db import session_scope
from catalog.outcomes import Outcome
from catalog.queries import ReportData, report_data
from catalog.settings import HealthSettings
from catalog.staleness import staleness
from catalog.sync import sync_catalogs
from catalog.tables import Link
from reports import build_context, render_html, render_markdown
from reports.build import DRIFT_TOTAL
from reports.context import MEDIAN_NOTE, Priority, ResourcePage
from reports.render import render_resource_page
from tests import report_fixtures as fx
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

NEW_EDITION_URL = "https://new.example.org/reports/2024-report/"
PARKED = (
    "The page now looks like a parked or domain-for-sale page ('This domain is for sale', "
    "'Buy this domain') (match with the entry 100% → 0%); check it by hand and remove or "
    "replace the link if the domain changed hands."
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("evidence") / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    return report_data(engine)


def _new_edition() -> tuple[str, str]:
    """The `new_edition` reason staleness gives a 2018 entry whose page names 2024."""
    found = staleness(
        now=fx.NOW,
        settings=HealthSettings(),
        last_success_at=fx.NOW,
        first_seen_at=fx.NOW,
        reviewed_at=None,
        fingerprint_unchanged_since=None,
        last_modified=None,
        title="2018 Trafficking in Persons Report",
        description=None,
        year=2018,
        page_title="2024 Trafficking in Persons Report",
        title_since=fx.NOW,
    )
    (reason,) = [r for r in found if r.code == "new_edition"]
    return reason.reason, reason.code


def _md_line(markdown: str, rid: str) -> str:
    (line,) = [line for line in markdown.splitlines() if f"({rid}," in line]
    return line


# --- F1: a redirect to a newer edition ------------------------------------------------------


@pytest.mark.parametrize(
    ("rid", "changes", "group"),
    [
        ("a-moved", {}, Priority.UPDATE),
        ("a-broken", {"suggested_url": NEW_EDITION_URL}, Priority.BROKEN),
        ("a-suspect", {"suggested_url": NEW_EDITION_URL}, Priority.FAILING),
        ("a-hostile", {}, Priority.SOFT_404),
    ],
)
def test_a_newer_edition_is_said_in_every_group_and_switching_to_it_is_a_decision(
    data: ReportData, rid: str, changes: dict[str, str], group: Priority
) -> None:
    reason, code = _new_edition()
    changed = fx.with_resource(data, rid, stale_reasons=(reason,), stale_codes=(code,), **changes)
    ctx = build_context(changed, now=fx.NOW)
    row = fx.row_of(ctx, rid)
    assert row.priority is group
    # The evidence is in the row as the Markdown and HTML queue show it.
    assert "names 2024" in _md_line(render_markdown(ctx), rid)
    html = render_html(ctx)
    at = html.index(f'data-resource-id="{rid}"')
    assert "names 2024" in html[at : html.index("</tr>", at)]
    if row.suggested_url and row.fix and row.suggested_url in row.fix:
        # A fix switching to the new address names both years and asks for a decision.
        assert "2024" in row.fix and "2018" in row.fix
        assert "Decide before" in row.fix and "archived copy" in row.fix
        assert not row.fix.startswith(("Switch to the new address", "Use the new address"))


#: The `dated` reason of an old entry: the entry's age, a task apart from a link's fix.
DATED = (
    "The newest year the entry names is 2016, 10 years ago; look for a newer edition and "
    "link it, or, if it is still current, mark the entry reviewed"
)


@pytest.mark.parametrize(
    ("rid", "group"),
    [
        ("a-moved", Priority.UPDATE),
        ("a-broken", Priority.BROKEN),
        ("a-suspect", Priority.FAILING),
        ("a-hostile", Priority.SOFT_404),
    ],
)
def test_only_a_newer_edition_is_said_beside_the_fix_of_a_row_filed_elsewhere(
    data: ReportData, rid: str, group: Priority
) -> None:
    """r5's 5: "Moved permanently" and "Failing, not yet confirmed" rows of an old entry said
    "... look for a newer edition and link it, or ... mark the entry reviewed" beside their own
    fix (switch address, wait, replace): a dead link marked reviewed. The resource's page
    still lists it, as the "Possibly out of date" group would."""
    edition, code = _new_edition()
    reasons = {"stale_reasons": (DATED, edition), "stale_codes": ("dated", code)}
    ctx = build_context(fx.with_resource(data, rid, **reasons), now=fx.NOW)
    row = fx.row_of(ctx, rid)
    assert row.priority is group
    assert "names 2024" in row.seen_with_reasons
    line = _md_line(render_markdown(ctx), rid)
    assert "names 2024" in line
    assert "newest year the entry names" not in line and "2016" not in line
    html = render_html(ctx)
    at = html.index(f'data-resource-id="{rid}"')
    assert "2016" not in html[at : html.index("</tr>", at)]
    page = render_resource_page(ctx, ResourcePage(row, ()))
    assert "newest year the entry names is 2016" in page


def test_a_redirect_without_a_newer_edition_keeps_its_plain_fix(data: ReportData) -> None:
    row = fx.row_of(build_context(data, now=fx.NOW), "a-moved")
    assert row.fix == f"Switch to the new address {fx.MOVED_TO}."


# --- F3 and F2: a page title the latest check did not read ----------------------------------


def test_a_page_title_the_latest_check_did_not_read_says_when_it_was_read(
    data: ReportData,
) -> None:
    changed = fx.with_resource(
        data,
        "a-moved",
        page_title="The 2018 page",
        title_read_at=fx.days_ago(4),
        last_checked_at=fx.days_ago(0.1),
    )
    ctx = build_context(changed, now=fx.NOW)
    row = fx.row_of(ctx, "a-moved")
    assert row.page_title_label == "Page title, read 4 days ago (2025-03-06)"
    assert "Page title, read 4 days ago (2025-03-06): “The 2018 page”" in _md_line(
        render_markdown(ctx), "a-moved"
    )
    page = render_resource_page(ctx, ResourcePage(row, ()))
    assert "Page title, read 4 days ago (2025-03-06)" in page


def test_a_page_title_the_latest_check_read_is_undated(data: ReportData) -> None:
    checked = fx.days_ago(0.1)
    changed = fx.with_resource(
        data, "a-moved", page_title="New", title_read_at=checked, last_checked_at=checked
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-moved")
    assert row.page_title_label == "Page title"


def test_the_stored_time_a_title_was_read_reaches_the_row(tmp_path: Path) -> None:
    # A link checked last night by HEAD alone: its title was read on the last GET.
    engine = fx.fixed_db(tmp_path / "read.db")
    with session_scope(engine) as s:
        s.execute(
            update(Link)
            .where(Link.url == "https://ok.example.org/2")
            .values(
                title="Read on a GET",
                fingerprinted_at=datetime(2025, 3, 3, 3, 0, tzinfo=UTC),
                last_checked_at=datetime(2025, 3, 10, 3, 0, tzinfo=UTC),
            )
        )
    row = fx.row_of(build_context(report_data(engine), now=fx.NOW), "a-ok-2")
    assert row.page_title_label == "Page title, read 7 days ago (2025-03-03)"


def test_a_title_read_before_nights_of_head_alone_is_dated_until_the_next_get(
    tmp_path: Path,
) -> None:
    """Nights that sent HEAD only keep the title of the last GET: a page that turned into
    a "not found" page since, or a redirect's new page, showed the old title as if the
    latest check had read it."""
    url = "https://example.org/faces"
    catalog = make_catalog(resources=[make_resource("faces", url, year=2016)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))

        def night(at: datetime, **facts: Any) -> None:
            run_id = store.start_run(engine, trigger="schedule", now=at)
            seen = make_observation(url, Outcome.OK, at, **facts)
            store.record_observations(engine, run_id, [seen], HealthSettings(), now=at)
            store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))

        def label(now: datetime) -> str:
            return fx.row_of(build_context(report_data(engine), now=now), "faces").page_title_label

        read = {"title": "Faces of Human Trafficking", "fingerprint": "f1"}
        night(days(1), **read)
        assert label(days(1.1)) == "Page title"
        night(days(2), methods=("HEAD",))
        night(days(3), methods=("HEAD",))
        assert label(days(3.1)) == f"Page title, read 2 days ago ({days(1):%Y-%m-%d})"
        night(days(4), **read)
        assert label(days(4.1)) == "Page title"


# --- F4: a parked domain answering every address (a soft 404 with markers) ------------------


def test_a_parked_soft_404_is_counted_and_named_where_the_queue_files_it(
    data: ReportData,
) -> None:
    changed = fx.with_resource(data, "a-hostile", drift_reason=PARKED)
    ctx = build_context(changed, now=fx.NOW)
    row = fx.row_of(ctx, "a-hostile")
    assert row.priority is Priority.DRIFT
    assert "This domain is for sale" in row.seen_with_reasons
    groups = {g.priority: len(g.rows) for g in ctx.groups}
    totals = {t.key: t for t in ctx.totals}
    assert totals[DRIFT_TOTAL].count == groups[Priority.DRIFT] == 1
    assert totals[DRIFT_TOTAL].label == Priority.DRIFT.heading
    assert "soft 404" in totals[DRIFT_TOTAL].explanation
    # The fixture's only soft 404 is the parked page: none is left to count apart.
    assert "soft_404" not in totals and Priority.SOFT_404 not in groups
    assert sum(t.count for t in ctx.totals) == ctx.resources_total
    assert "| Page missing (soft 404) |" not in render_markdown(ctx)


# --- F6: a host that never answers ----------------------------------------------------------


def test_a_host_confirmed_broken_by_timeouts_is_opened_in_a_browser_first(
    data: ReportData,
) -> None:
    changed = fx.with_resource(data, "a-suspect", state="broken", failing_checks=3, checks_since=3)
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-suspect")
    assert row.priority is Priority.BROKEN and row.fix
    assert "browser first" in row.fix
    assert "if it keeps happening" not in row.fix
    assert row.command and "NEW_URL" in row.command


def test_the_outcome_table_does_not_call_a_timed_out_site_down_for_good(data: ReportData) -> None:
    """Its "Timed out" line said "if it keeps happening the site may be down for good" beside
    the confirmed broken row whose fix says to open it in a browser first."""
    changed = fx.with_resource(data, "a-suspect", state="broken", failing_checks=3, checks_since=3)
    ctx = build_context(changed, now=fx.NOW)
    (timed_out,) = [t for t in ctx.totals if t.key == Outcome.TIMEOUT.value]
    assert "down for good" not in timed_out.explanation
    assert "browser first" in timed_out.explanation
    assert "browser first" in (fx.row_of(ctx, "a-suspect").fix or "")


def test_the_median_response_leaves_out_checks_that_got_no_answer(data: ReportData) -> None:
    changed = fx.with_resource(data, "a-suspect", elapsed_ms=30_000, http_status=None)
    answered = {"http_status": 200, "retries": 0, "reason": "HEAD 200: OK."}
    changed = fx.with_resource(changed, "a-ok-1", elapsed_ms=100, **answered)
    # Answered only after retries: their waits are no response time either (with them,
    # the median of 100, 5,000 and 9,000 ms is 5,000 ms).
    changed = fx.with_resource(changed, "b-ok-1", elapsed_ms=5_000, **{**answered, "retries": 1})
    changed = fx.with_resource(changed, "a-ok-2", elapsed_ms=9_000, **{**answered, "retries": 2})
    # Nor is a HEAD the site let time out before it answered the GET, sent once (no retry):
    # its 3 s read timeout is in the check's time (with it, the median is 1,577 ms).
    late = {**answered, "reason": "HEAD no answer, GET 200: OK."}
    changed = fx.with_resource(changed, "a-recovered", elapsed_ms=3_054, **late)
    ctx = build_context(changed, now=fx.NOW)
    hosts = {h.name: h for h in ctx.hosts}
    assert hosts["slow.example.org"].median_text == "no answer"
    assert hosts["ok.example.org"].median_text == "100 ms"
    assert MEDIAN_NOTE in render_markdown(ctx)
    assert "no answer" in render_html(ctx)


@pytest.mark.parametrize(
    "late",
    [{"retries": 2}, {"reason": "HEAD no answer, GET 200: OK."}],
    ids=["retried", "head-timed-out"],
)
def test_a_host_that_answered_only_after_waits_is_not_said_to_give_no_answer(
    data: ReportData, late: dict[str, Any]
) -> None:
    """Its every check answered after a retry or a timed-out HEAD: "—" (or "no answer")
    said it never answered, or that nothing counted, without a word of why."""
    answered = {"http_status": 200, "retries": 0, "reason": "HEAD 200: OK.", **late}
    changed = fx.with_resource(data, "a-suspect", elapsed_ms=4_000, **answered)
    ctx = build_context(changed, now=fx.NOW)
    slow = next(h for h in ctx.hosts if h.name == "slow.example.org")
    assert (slow.median_ms, slow.median_text) == (None, "only after waits")
    assert "“only after waits”" in MEDIAN_NOTE and MEDIAN_NOTE in render_markdown(ctx)
