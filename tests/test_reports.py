"""Curator reports: queries over a fixed database, the view model, the action queue, the site."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine, select

from catalog.csv_guard import UTF8_BOM
from catalog.db import session_scope
from catalog.drift import MARKED_REASON, MARKER_LABELS
from catalog.errors import NotFoundError
from catalog.hygiene import Finding, Level
from catalog.ops import Tally, tally
from catalog.outcomes import Outcome
from catalog.queries import (
    EventRow,
    ReportData,
    RunInfo,
    history_events,
    report_data,
    shared_resource_ids,
)
from catalog.settings import Settings
from catalog.tables import Event, Link, Resource, Run
from reports import (
    Priority,
    ReportContext,
    build_context,
    publish_report,
    publish_report_files,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    site,
    write_report,
)
from reports import render as render_module
from reports.build import action_queue, with_findings
from reports.context import Changes
from reports.publish import queue_head
from reports.render import md_code, md_escape, md_link
from reports.trends import health_trend
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def engine(db_dir: Path) -> Engine:
    return fx.fixed_db(db_dir / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    return report_data(engine)


def test_sql_tally_counts_what_the_report_rows_count(tmp_path: Path) -> None:
    # The flow's before/after notices use the SQL count; it must agree with the report's
    # groups: removed resources and unchecked links do not count, drift does.
    engine = fx.fixed_db(tmp_path / "tally.db")
    with session_scope(engine) as s:
        links = {r.rid: r.link_id for r in s.scalars(select(Resource)) if r.link_id}
        s.get_one(Link, links[fx.REMOVED_ID]).drift_reason = "parked"  # removed: never counted
        active = next(rid for rid in links if rid != fx.REMOVED_ID)
        s.get_one(Link, links[active]).drift_reason = "casino"
    data = report_data(engine)
    rows = data.resources
    groups = {g.key: len(g.rows) for g in build_context(data, now=fx.NOW).groups}
    expected = Tally(broken=groups.get("broken", 0), drift=groups.get("drift", 0))
    assert tally(engine, now=fx.NOW) == expected
    assert expected.drift == sum(r.link_id == links[active] for r in rows) > 0
    assert expected.broken > 0


def test_queue_head_names_the_catalog_of_an_id_two_catalogs_use(tmp_path: Path) -> None:
    engine = fx.fixed_db(tmp_path / "shared.db")
    with session_scope(engine) as s:
        s.scalars(select(Resource).where(Resource.rid == "b-blocked")).one().rid = "a-broken"
    assert shared_resource_ids(engine) == {"a-broken"}
    rows = build_context(report_data(engine), now=fx.NOW).rows
    head = queue_head(engine, now=fx.NOW, limit=len(rows))
    assert head == list(rows)
    commands = [r.command for r in head if r.resource_id == "a-broken" and r.command]
    assert commands and all("toolkit-" in c for c in commands)


def test_queue_head_finds_the_entry_at_the_address_a_fix_switches_to(tmp_path: Path) -> None:
    # The flow's artifact looks the addresses up in the database instead of remembering
    # every entry's as it streams them: it must name the same entries the report does,
    # and only in the same catalog.
    engine = fx.fixed_db(tmp_path / "taken.db")
    with session_scope(engine) as s:
        taken = s.scalars(select(Resource).where(Resource.rid == "a-ok-1")).one()
        taken.url = fx.MOVED_TO
        s.scalars(select(Resource).where(Resource.rid == "b-ok-1")).one().url = fx.MOVED_TO
    rows = build_context(report_data(engine), now=fx.NOW).rows
    (moved,) = (r for r in rows if r.resource_id == "a-moved")
    assert moved.fix and "Entry a-ok-1 of this catalog" in moved.fix
    assert "b-ok-1" not in moved.fix
    assert queue_head(engine, now=fx.NOW, limit=len(rows)) == list(rows)


@pytest.fixture(scope="module")
def ctx(data: ReportData) -> ReportContext:
    return build_context(data, now=fx.NOW)


@pytest.mark.parametrize("limit", [1, 4, 1000])
def test_queue_head_is_the_start_of_the_reports_action_queue(
    engine: Engine, ctx: ReportContext, limit: int
) -> None:
    # The flow's table artifact reads the queue's head without the whole report: it must
    # list the same rows in the same order, set-aside resources and shared ids included.
    assert len(ctx.rows) > 4
    assert queue_head(engine, now=fx.NOW, limit=limit) == list(ctx.rows[:limit])


def test_the_streamed_queue_leaves_out_set_aside_resources_as_the_report_does(
    engine: Engine, data: ReportData
) -> None:
    later = fx.NOW + timedelta(days=7)
    changed = fx.with_resource(fx.with_resource(data, "a-broken", snoozed_until=later), "b-blocked")
    changed = fx.with_resource(changed, "b-blocked", ignored_reason="login wall")
    ctx = build_context(changed, now=fx.NOW)
    assert len(ctx.set_aside) == 2
    shared = shared_resource_ids(engine)
    assert shared == {r for r, n in Counter(r.resource_id for r in data.resources).items() if n > 1}
    streamed = action_queue(iter(changed.resources), now=fx.NOW, shared_ids=shared, limit=99)
    assert streamed == list(ctx.rows)


def test_the_streamed_queue_keeps_no_moment_of_the_rows_it_drops(data: ReportData) -> None:
    # The flow streams 100,000 resources to keep 100: the report's cache of moments must
    # not keep the dropped rows' alive (its peak memory is set there), as a report's does.
    from reports import context

    now = fx.NOW + timedelta(minutes=7)  # moments no other test cached
    cached = len(context._WHEN_CACHE)
    head = action_queue(iter(data.resources), now=now, shared_ids=frozenset(), limit=1)
    assert len(head) == 1 and head[0].since is not None
    assert len(context._WHEN_CACHE) == cached
    build_context(data, now=now)
    assert len(context._WHEN_CACHE) > cached


@pytest.fixture(scope="module")
def page(ctx: ReportContext) -> LexborHTMLParser:
    return LexborHTMLParser(render_html(ctx))


def attention_ids(tree: LexborHTMLParser) -> list[str]:
    return [
        tr.attributes["data-resource-id"] or ""
        for tr in tree.css("#attention tr[data-resource-id]")
    ]


# --- queries -------------------------------------------------------------------------


def test_totals_count_active_resources_by_outcome(data: ReportData) -> None:
    assert dict(data.totals) == fx.EXPECTED_TOTALS


def test_latest_finished_run_is_shown_by_default(data: ReportData) -> None:
    assert data.run is not None
    assert data.run.id == fx.LATEST_FINISHED_RUN
    assert not data.network_unavailable


def test_a_named_run_is_shown_and_an_unknown_one_is_an_error(engine: Engine) -> None:
    assert report_data(engine, run_id=1).run.id == 1  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        report_data(engine, run_id=999)


def test_attention_rows_cover_every_resource_needing_a_curator(data: ReportData) -> None:
    assert {r.resource_id for r in data.attention} == set(fx.EXPECTED_ATTENTION)


def test_removed_resources_never_show(data: ReportData, page: LexborHTMLParser) -> None:
    assert fx.REMOVED_ID not in {r.resource_id for r in data.attention}
    assert fx.REMOVED_ID not in attention_ids(page)


def test_catalogs_included_are_listed_with_their_active_resources(data: ReportData) -> None:
    assert {(c.key, c.resources) for c in data.collections} == {
        ("toolkit-a", 7),
        ("toolkit-b", 5),
    }


def test_permanent_redirect_suggests_new_url(data: ReportData, ctx: ReportContext) -> None:
    moved = next(r for r in data.attention if r.resource_id == "a-moved")
    assert moved.outcome is Outcome.REDIRECTED_PERMANENT
    assert moved.suggested_url == fx.MOVED_TO
    row = next(r for r in ctx.rows if r.resource_id == "a-moved")
    assert row.priority is Priority.UPDATE
    assert row.suggested_href == fx.MOVED_TO


# --- view model ----------------------------------------------------------------------


def test_rows_are_ordered_by_what_to_fix_first(ctx: ReportContext) -> None:
    assert tuple(r.resource_id for r in ctx.rows) == fx.EXPECTED_ATTENTION
    assert tuple(g.key for g in ctx.groups) == fx.EXPECTED_GROUPS
    assert [g.priority for g in ctx.groups] == sorted(g.priority for g in ctx.groups)


def test_row_wording_comes_from_the_outcome(ctx: ReportContext) -> None:
    for row in ctx.rows:
        outcome = Outcome(row.outcome or "")
        assert row.label == outcome.label
        assert row.next_step == outcome.explanation


def test_since_is_relative_and_dated(ctx: ReportContext) -> None:
    broken = ctx.rows[0]
    assert broken.since is not None
    assert broken.since.date == fx.days_ago(9).date().isoformat()
    assert "9 days" in broken.since.ago


def test_headline_counts_fixes_looks_and_ok(ctx: ReportContext) -> None:
    # 3 confirmed broken + 1 redirect to fix, 1 suspect + 1 blocked to look at, 4 OK, 2 new.
    assert ctx.headline == "12 resources: 4 to fix, 2 to check or watch, 4 OK, 2 not checked yet."


def test_headline_counts_every_resource_once(data: ReportData) -> None:
    """Entries to review whose links work, and set-aside ones, have their own parts; the
    parts add up to the resources."""
    later = fx.NOW + timedelta(days=30)
    changed = fx.with_resource(data, "a-ok-1", stale_reasons=("dated 2009",))
    changed = fx.with_resource(
        fx.with_resource(changed, "a-broken", snoozed_until=later), "b-blocked"
    )
    ctx = build_context(
        fx.with_resource(changed, "b-blocked", ignored_reason="login wall"), now=fx.NOW
    )
    assert ctx.headline == (
        "12 resources: 3 to fix, 1 to check or watch, 1 to review (the link works), 3 OK, "
        "2 set aside, 2 not checked yet."
    )


def _no_year(resource_id: str, line: int) -> Finding:
    """A hygiene finding of toolkit-a, at `line`."""
    return Finding(
        code="missing_year",
        level=Level.WARNING,
        collection="toolkit-a",
        resource_id=resource_id,
        file="toolkit-a.yaml",
        line=line,
        message=f"Entry {line} has no year.",
        fix="Add a year.",
    )


def test_sections_come_in_the_order_a_curator_works(data: ReportData) -> None:
    """Fix the queue, see what was set aside and what changed; tidying the entries comes
    after, the overviews last. The table of contents lists them in the same order."""
    snoozed = fx.with_resource(data, "a-suspect", snoozed_until=fx.NOW + timedelta(days=30))
    ctx = with_findings(build_context(snoozed, now=fx.NOW), [_no_year("a-ok-1", 3)])
    page = LexborHTMLParser(render_html(ctx))
    sections = [h.attributes.get("id") for h in page.css("main section > h2")]
    expected = [
        "attention-heading", "set-aside-heading", "changes-heading", "hygiene-heading",
        "trend-heading", "publishers-heading", "hosts-heading", "totals-heading",
    ]  # fmt: skip
    assert [s for s in sections if s in expected] == expected
    toc = [a.attributes.get("href") for a in page.css("nav.toc a")]
    assert toc == [f"#{h}" for h in expected]
    markdown = [line for line in render_markdown(ctx).splitlines() if line.startswith("## ")]
    assert [h.split(" (")[0] for h in markdown][:4] == [
        "## What to fix first", "## Snoozed and ignored", "## Since the last run",
        "## Catalog hygiene",
    ]  # fmt: skip


def test_non_web_urls_are_never_linked(ctx: ReportContext, page: LexborHTMLParser) -> None:
    invalid = next(r for r in ctx.rows if r.resource_id == "b-invalid")
    assert invalid.href is None
    hrefs = [a.attributes.get("href") or "" for a in page.css("a")]
    # Web links, or the report's own pages (relative, no scheme at all).
    assert hrefs and all(h.startswith(("http://", "https://")) or ":" not in h for h in hrefs)
    assert not any("javascript" in h.lower() for h in hrefs)


# --- HTML ----------------------------------------------------------------------------


def test_html_is_semantic_and_self_contained(page: LexborHTMLParser) -> None:
    assert page.css_first("html[lang]") is not None
    assert page.css_first('meta[name="viewport"]') is not None
    assert page.css_first("main") is not None
    assert page.css("script") == []
    assert page.css('link[rel="stylesheet"]') == []
    assert page.css_first("head style") is not None
    for table in page.css("main table"):
        assert table.css_first("caption") is not None
        assert all(th.attributes.get("scope") for th in table.css("th"))


def test_html_attention_table_follows_fix_first_order(page: LexborHTMLParser) -> None:
    assert tuple(attention_ids(page)) == fx.EXPECTED_ATTENTION
    groups = [tb.attributes["data-priority"] for tb in page.css("#attention tbody")]
    assert tuple(groups) == fx.EXPECTED_GROUPS


def test_html_outcome_is_shown_as_text_not_only_colour(page: LexborHTMLParser) -> None:
    for tr in page.css("#attention tr[data-outcome]"):
        badge = tr.css_first(".badge")
        assert badge is not None
        assert badge.text(strip=True) == Outcome(tr.attributes["data-outcome"] or "").label


def test_html_resource_links_do_not_leak_the_opener(page: LexborHTMLParser) -> None:
    links = [a for a in page.css("a") if (a.attributes.get("href") or "").startswith("http")]
    assert links
    for a in links:
        assert set((a.attributes.get("rel") or "").split()) >= {"noopener", "noreferrer"}


def test_html_totals_match_the_database(page: LexborHTMLParser) -> None:
    shown = {
        tr.attributes["data-outcome"]: int(cell.text(strip=True))
        for tr in page.css("#totals tbody tr")
        if (cell := tr.css_first("td")) is not None
    }
    assert shown == fx.EXPECTED_TOTALS


def test_hostile_web_text_is_escaped_in_html(ctx: ReportContext, page: LexborHTMLParser) -> None:
    assert page.css("script") == []
    row = page.css_first('#attention tr[data-resource-id="a-hostile"]')
    assert row is not None
    assert fx.HOSTILE in row.text()  # shown as text, not run as markup
    assert fx.HOSTILE not in render_html(ctx)


def test_hostile_web_text_is_escaped_in_markdown(ctx: ReportContext) -> None:
    md = render_markdown(ctx)
    assert "<script" not in md
    assert "&lt;script&gt;" in md
    line = next(line for line in md.splitlines() if "Hostile" in line and "|" in line)
    # Every cell separator in the row is the table's own, never the data's.
    assert line.replace("\\|", "").count("|") == 6
    # The only code span is the command we generated; the data's backticks are escaped.
    data_text = re.sub(r"`linkhealth [^`]*`", "", line)
    assert "`" not in data_text.replace("\\`", "")


def test_markdown_escaping_of_text_and_links() -> None:
    assert md_escape("a|b `c` <i>&") == r"a\|b \`c\` &lt;i&gt;&amp;"
    assert md_escape("two\nlines") == "two lines"
    for plain in ("3.5 seconds", "-5", "#tag", "a - b", "2025-03-06"):  # open no block
        assert md_escape(plain) == plain
    assert md_link("x", None) == "x"
    assert md_link("x", "https://e.org/a b|c>") == "[x](<https://e.org/a%20b%7Cc%3E>)"


def test_a_command_in_markdown_reads_as_typed_when_rendered() -> None:
    """A code span shows its text as is (CommonMark decodes no entities in it): an
    archived copy's or a cleaned URL's `&` written as `&amp;` was pasted as `&amp;`."""
    from markdown_it import MarkdownIt

    typed = "linkhealth replace-url r1 'https://e.org/p?id=1&lang=en|x<y>'"
    table = f"| Fix |\n| --- |\n| {md_code(typed)} |\n"
    rendered = LexborHTMLParser(MarkdownIt("commonmark").enable("table").render(table))
    code = rendered.css_first("td code")
    assert code is not None and code.text() == typed


def test_markdown_lists_every_attention_row(ctx: ReportContext) -> None:
    md = render_markdown(ctx)
    for rid in fx.EXPECTED_ATTENTION:
        assert f"({rid}," in md
    queue = md.split("## Since the last run")[0]
    assert fx.REMOVED_ID not in queue


# --- network down, empty database, files ---------------------------------------------


def test_network_unavailable_run_says_nothing_was_learned(tmp_path: Path) -> None:
    engine = fx.fixed_db(tmp_path / "down.db")
    run_id = fx.add_run(engine, network_unavailable=True)
    data = report_data(engine)
    assert data.run is not None and data.run.id == run_id
    assert data.network_unavailable
    ctx = build_context(data, now=fx.NOW)
    assert ctx.network_notice
    page = LexborHTMLParser(render_html(ctx))
    notice = page.css_first("main #network-notice")
    assert notice is not None and notice.text(strip=True)
    # The notice comes before the details, not buried under them.
    assert render_html(ctx).index('id="network-notice"') < render_html(ctx).index('id="attention"')
    assert ctx.network_notice.split(";")[0] in render_markdown(ctx).replace("\\", "")


def test_a_run_offline_for_some_links_only_says_for_which(tmp_path: Path) -> None:
    """A run that judged our network down for its public links but reached an intranet's
    (public links are witnessed by public hosts only) learned something: the notice counts
    the links it learned nothing about, not "nothing about the links"."""
    engine = fx.fixed_db(tmp_path / "partly.db")
    run_id = fx.add_run(engine, network_unavailable=True)
    with session_scope(engine) as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.urls_checked, run.counts = 11, {"network_unavailable": 8, "ok": 3}
    ctx = build_context(report_data(engine), now=fx.NOW)
    assert ctx.network_notice is not None
    assert ctx.network_notice.startswith(
        f"Our own network was unreachable during run {run_id} for 8 of its 11 URLs, so it "
        "learned nothing about their links."
    )
    notice = LexborHTMLParser(render_html(ctx)).css_first("main #network-notice")
    assert notice is not None and "8 of its 11 URLs" in notice.text()


def test_a_run_that_checked_nothing_has_no_shares_in_the_trend_table(tmp_path: Path) -> None:
    """Its row said "0 (network down) | 0% | 0% | 0%": read as no link OK. It has no
    shares at all, like its absence from the chart."""
    engine = fx.fixed_db(tmp_path / "down.db")
    run_id = fx.add_run(engine, network_unavailable=True)
    ctx = build_context(report_data(engine), now=fx.NOW)
    rows = LexborHTMLParser(render_html(ctx)).css("#trend-table tbody tr")
    (row,) = [r for r in rows if f"Run {run_id}" in r.text()]
    cells = [td.text(strip=True) for td in row.css("td")]
    assert cells[1:] == ["0 (network down)", "—", "—", "—"]
    md = render_markdown(ctx).splitlines()
    (md_row,) = [line for line in md if line.startswith(f"| {run_id} |")]
    assert md_row.endswith("| 0 (network down) | — | — | — |")


def test_healthy_run_has_no_network_notice(page: LexborHTMLParser) -> None:
    assert page.css_first("#network-notice") is None


def test_empty_database_says_nothing_has_been_checked_yet(tmp_path: Path) -> None:
    data = report_data(fx.empty_db(tmp_path / "empty.db"))
    assert data.run is None and not data.attention and not data.totals
    ctx = build_context(data, now=fx.NOW)
    assert ctx.nothing_checked and ctx.empty_notice
    page = LexborHTMLParser(render_html(ctx))
    assert page.css_first("#empty-notice") is not None
    assert page.css_first("#attention") is None
    assert render_markdown(ctx)


def test_synced_but_never_checked_says_nothing_has_been_checked_yet(tmp_path: Path) -> None:
    engine = fx.never_checked_db(tmp_path / "synced.db")
    ctx = build_context(report_data(engine), now=fx.NOW)
    assert ctx.nothing_checked
    assert LexborHTMLParser(render_html(ctx)).css_first("#empty-notice") is not None


def test_first_run_without_network_does_not_claim_nothing_was_run(tmp_path: Path) -> None:
    engine = fx.never_checked_db(tmp_path / "offline.db")
    fx.add_run(engine, network_unavailable=True)
    ctx = build_context(report_data(engine), now=fx.NOW)
    page = LexborHTMLParser(render_html(ctx))
    assert page.css_first("#network-notice") is not None
    assert page.css_first("#empty-notice") is None
    assert "network" in ctx.headline


def test_a_link_tried_only_while_our_network_was_down_was_never_checked(tmp_path: Path) -> None:
    # catalog.health moves `last_checked_at` on a try that found our own network down, but
    # learns no outcome: `linkhealth export` and `linkhealth resource` call such a link
    # never checked, and so must the report's rows, whatever their format.
    engine = fx.fixed_db(tmp_path / "offline-only.db")
    tried = fx.tried_offline(engine)
    (res,) = [r for r in report_data(engine).resources if r.resource_id == "b-new"]
    assert (res.outcome_value, res.state) == (None, "unchecked")
    assert res.last_checked_at is None and res.last_tried_at == tried
    ctx = build_context(report_data(engine), now=fx.NOW)
    row = fx.row_of(ctx, "b-new")
    assert row.label == "Not checked yet" and row.priority is None
    assert (row.last_checked, row.since, row.checks) == (None, None, 0)
    assert row.last_tried is not None and row.last_tried.iso == tried.isoformat()
    checked = fx.row_of(ctx, "a-ok-1")  # a link with an outcome keeps its time, and no "tried"
    assert checked.last_checked is not None and checked.last_tried is None


def test_no_format_gives_a_check_time_to_a_link_tried_only_while_offline(tmp_path: Path) -> None:
    engine = fx.fixed_db(tmp_path / "offline-only.db")
    tried = fx.tried_offline(engine)
    row = fx.row_of(build_context(report_data(engine), now=fx.NOW), "b-new")
    engine.dispose()
    settings = Settings().with_overrides(
        database_url=f"sqlite:///{tmp_path / 'offline-only.db'}", reports_dir=tmp_path / "default"
    )
    out = tmp_path / "out"
    publish_report(
        settings, formats=("html", "md", "csv", "json"), out_dir=out, clock=lambda: fx.NOW
    )
    iso, text = tried.isoformat(), tried.strftime("%Y-%m-%d %H:%M")

    doc = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    (item,) = [r for r in doc["resources"] if r["resource_id"] == "b-new"]
    assert (item["last_checked"], item["checks"], item["since"]) == (None, 0, None)
    assert item["last_tried"]["iso"] == iso

    with (out / "latest.csv").open(encoding="utf-8", newline="") as fh:
        (record,) = [r for r in csv.DictReader(fh) if r["id"] == "b-new"]
    assert (record["last_checked"], record["checks"], record["since"]) == ("", "0", "")

    assert text not in (out / "latest.md").read_text(encoding="utf-8")

    page = LexborHTMLParser((out / row.page).read_text(encoding="utf-8"))
    facts = dict(
        zip(
            (dt.text() for dt in page.css("#facts dt")),
            page.css("#facts dd"),
            strict=True,
        )
    )
    last = facts["Last checked"]
    assert last.text().startswith("never")
    assert "while our network was unavailable" in last.text()
    stamps = [t.attributes["datetime"] for t in last.css("time")]
    assert stamps == [iso]  # the try's time, said to be a try and not a check
    assert row.publisher_page is not None
    group = LexborHTMLParser((out / row.publisher_page).read_text(encoding="utf-8"))
    status = group.css_first('tr[data-resource-id="b-new"] td[data-label="Last checked"]')
    assert status is not None and status.text() == "—"


def test_stale_entries_suggest_recording_a_review(data: ReportData) -> None:
    ctx = build_context(fx.with_resource(data, "a-ok-1", stale_reasons=("dated 2009",)), now=fx.NOW)
    (row,) = [r for r in ctx.rows if r.resource_id == "a-ok-1"]
    assert row.command is not None and row.command.startswith("linkhealth mark-reviewed a-ok-1")


def test_the_index_links_only_the_formats_written_with_it(
    ctx: ReportContext, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    write_report(ctx, out, run_id=None, formats=("json",))  # an earlier export
    write_report(ctx, out, run_id=None, formats=("html", "csv"))
    footer = LexborHTMLParser((out / "index.html").read_text(encoding="utf-8")).css_first("footer")
    assert footer is not None
    linked = [a.attributes.get("href") for a in footer.css("a")]
    assert linked == ["latest.csv"]  # not the stale latest.json, not a missing latest.md
    assert all((out / str(href)).is_file() for href in linked)


def test_report_files_are_written_for_latest_and_the_run(
    ctx: ReportContext, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    files = write_report(ctx, out, run_id=fx.LATEST_FINISHED_RUN)
    assert files.latest_html == out / "latest.html"
    assert files.latest_markdown == out / "latest.md"
    assert files.run_html == out / f"run-{fx.LATEST_FINISHED_RUN}.html"
    assert files.main == files.latest_html
    assert all(p.is_file() for p in files.paths)
    assert files.latest_html.read_text(encoding="utf-8") == render_html(ctx, beside=("md",))
    top = {p.name for p in out.iterdir() if p.is_file()}
    assert top == {p.name for p in files.paths} | {"style.css"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_rewriting_replaces_latest_and_keeps_older_runs(ctx: ReportContext, tmp_path: Path) -> None:
    write_report(ctx, tmp_path, run_id=1)
    files = write_report(ctx, tmp_path, run_id=2)
    assert (tmp_path / "run-1.html").is_file()
    assert files.run_html == tmp_path / "run-2.html"
    assert not list(tmp_path.glob(".*"))


def test_no_run_id_writes_no_run_page(ctx: ReportContext, tmp_path: Path) -> None:
    files = write_report(ctx, tmp_path, run_id=None)
    assert files.run_html is None
    assert not list(tmp_path.glob("run-*.html"))


def test_a_resource_history_says_what_drift_and_flapping_events_were() -> None:
    """They were shown by their raw kind ("drift detected") and the drift without its
    reason, the one event of a possible hijack."""
    from reports.history import history_items

    reason = "The page now looks like a parked domain-for-sale page"
    events = [
        EventRow(1, fx.NOW, "drift_detected", 1, 1, 1, {"reason": reason, "score": 0.0}),
        EventRow(2, fx.NOW, "drift_cleared", 2, None, 1, {"old": reason, "score": 0.9}),
        EventRow(3, fx.NOW, "flapping_started", 3, None, 1, {"flips": 4, "state": "suspect"}),
        EventRow(4, fx.NOW, "flapping_stopped", 4, None, 1, {"flips": 1, "state": "ok"}),
    ]
    items = {i.kind: i for i in history_items((), events, fx.NOW)}
    assert items["drift_detected"].label == "Page no longer matches the entry"
    assert items["drift_detected"].detail == reason
    assert items["drift_cleared"].label == "Page matches the entry again"
    assert items["drift_cleared"].detail is None
    assert items["flapping_started"].label == "Started flapping"
    assert items["flapping_started"].detail == "4 switches between working and failing lately"
    assert items["flapping_stopped"].label == "Stopped flapping"


def test_history_events_of_a_shard_follow_each_resources_current_link(tmp_path: Path) -> None:
    engine = fx.fixed_db(tmp_path / "shards.db")
    with session_scope(engine) as s:
        resources = {r.rid: r for r in s.scalars(select(Resource)).all()}
        linked = [r for r in resources.values() if r.link_id is not None]
        edited = linked[0]
        other = next(r for r in linked if (r.link_id or 0) % 2 != (edited.link_id or 0) % 2)
        # A URL edit recorded on the old link: the page now follows the resource's new link.
        s.add(Event(at=fx.NOW, kind="url_edited", resource_id=edited.id, link_id=other.link_id))
        s.add(Event(at=fx.NOW, kind="redirect_changed", link_id=other.link_id))
        link_of = {r.id: r.link_id or 0 for r in resources.values()}
    whole_by_resource, whole_by_link = history_events(engine)
    merged_by_resource: dict[int, list[EventRow]] = {}
    merged_by_link: dict[int, list[EventRow]] = {}
    for part in (0, 1):
        by_resource, by_link = history_events(engine, shard=(part, 2))
        assert all(link_of[pk] % 2 == part for pk in by_resource)
        assert all(link_id % 2 == part for link_id in by_link)
        merged_by_resource.update(by_resource)
        merged_by_link.update(by_link)
    assert merged_by_resource == whole_by_resource and merged_by_link == whole_by_link
    assert any(e.kind == "url_edited" for e in whole_by_resource[edited.id])


# --- action queue: fixes, commands, set-aside ------------------------------------------


def test_permanent_redirect_command_accepts_the_redirect(ctx: ReportContext) -> None:
    assert shlex.split(fx.row_of(ctx, "a-moved").command or "") == [
        "linkhealth",
        "accept-redirect",
        "a-moved",
    ]


def test_broken_link_without_a_replacement_asks_for_one(ctx: ReportContext) -> None:
    row = fx.row_of(ctx, "a-broken")
    assert row.command_needs_input
    assert shlex.split(row.command or "")[:3] == ["linkhealth", "replace-url", "a-broken"]


def test_archive_snapshot_becomes_the_suggested_replacement(data: ReportData) -> None:
    archive = "https://web.archive.org/web/2024/https://gone.example.org/old"
    ctx = build_context(fx.with_resource(data, "a-broken", archive_url=archive), now=fx.NOW)
    row = fx.row_of(ctx, "a-broken")
    assert row.archive_href == archive and not row.command_needs_input
    assert shlex.split(row.command or "") == ["linkhealth", "replace-url", "a-broken", archive]


def test_blocked_link_command_ignores_it_with_a_reason(ctx: ReportContext) -> None:
    words = shlex.split(fx.row_of(ctx, "b-blocked").command or "")
    assert words[:3] == ["linkhealth", "ignore", "b-blocked"]
    assert words[3] == "--reason" and words[4]


def test_commands_are_shell_safe_for_hostile_urls(data: ReportData) -> None:
    evil = "https://x.example/$(rm -rf ~);`id`"
    ctx = build_context(fx.with_resource(data, "a-broken", archive_url=evil), now=fx.NOW)
    assert shlex.split(fx.row_of(ctx, "a-broken").command or "")[-1] == evil


def test_an_id_used_in_two_catalogs_names_the_catalog(data: ReportData) -> None:
    twin = dataclasses.replace(
        next(r for r in data.resources if r.resource_id == "a-moved"),
        pk=9999,
        collection_key="toolkit-b",
        collection_title="Second Toolkit",
    )
    ctx = build_context(dataclasses.replace(data, resources=(*data.resources, twin)), now=fx.NOW)
    commands = [r.command for r in ctx.rows if r.resource_id == "a-moved"]
    assert sorted(shlex.split(c or "")[-1] for c in commands) == ["toolkit-a", "toolkit-b"]


def test_drift_comes_right_after_confirmed_broken(data: ReportData) -> None:
    ctx = build_context(fx.with_resource(data, "a-ok-2", drift_reason="now a casino"), now=fx.NOW)
    assert [g.priority for g in ctx.groups][:2] == [Priority.BROKEN, Priority.DRIFT]
    assert fx.row_of(ctx, "a-ok-2").seen == "now a casino"


def test_a_page_that_no_longer_matches_is_never_badged_ok(data: ReportData) -> None:
    ctx = build_context(fx.with_resource(data, "a-ok-2", drift_reason="now a casino"), now=fx.NOW)
    drifted = fx.row_of(ctx, "a-ok-2")
    assert drifted.label == "OK"  # the outcome, as exports give it
    assert drifted.status_badge == ("broken", "Page no longer matches")
    assert "remove the entry if it is gone" in (drifted.fix or "")
    html = render_html(ctx)
    assert 'class="badge sev-broken">Page no longer matches<' in html
    assert "**Page no longer matches**" in render_markdown(ctx)


def test_only_a_parked_or_spam_page_is_told_to_be_unlinked_now(data: ReportData) -> None:
    """Every drift said "perhaps a domain that changed hands: unlink it soon", a redesign
    too; then none did, the casino page too. The markers tell them apart."""
    casino = "The page now looks like a gambling page ('Free Spins') (match 70% → 2%); ..."
    for reason, urgent in ((casino, True), ("The page no longer matches the entry", False)):
        ctx = build_context(fx.with_resource(data, "a-ok-2", drift_reason=reason), now=fx.NOW)
        fix = fx.row_of(ctx, "a-ok-2").fix or ""
        assert ("unlink it now" in fix) is urgent
        assert ("find where the resource is now" in fix) is not urgent


@pytest.mark.parametrize(
    ("marker", "page"),
    [
        ("placeholder", "a web host's placeholder"),
        ("parking", "a parked, for-sale or spam page"),
        ("gambling", "a parked, for-sale or spam page"),
    ],
)
def test_an_urgent_drift_fix_names_the_kind_of_page_it_saw(
    data: ReportData, marker: str, page: str
) -> None:
    """cPanel's "Account Suspended" or "Welcome to nginx!" was "a parked, for-sale or spam
    page" in the fix, as every page with markers was."""
    reason = (
        f"{MARKED_REASON}{MARKER_LABELS[marker]} page ('Account Suspended') "
        "(match with the entry 80% → 0%); check it by hand and remove or replace the link."
    )
    ctx = build_context(fx.with_resource(data, "a-ok-2", drift_reason=reason), now=fx.NOW)
    fix = fx.row_of(ctx, "a-ok-2").fix or ""
    assert fix.startswith(f"The page now looks like {page}: ") and "unlink it now" in fix


def test_a_drifted_redirect_target_is_not_offered_as_the_new_address(data: ReportData) -> None:
    # The page a permanent redirect leads to is the page the drift was seen on.
    ctx = build_context(
        fx.with_resource(
            data,
            "a-moved",
            drift_reason="The page no longer matches the entry (page title 'Video unavailable')",
        ),
        now=fx.NOW,
    )
    row = fx.row_of(ctx, "a-moved")
    assert row.priority is Priority.DRIFT
    assert row.suggested_url is None and fx.MOVED_TO not in (row.fix or "")
    assert shlex.split(row.command or "")[-1] == "NEW_URL" and row.command_needs_input
    assert row.final_url == fx.MOVED_TO  # still shown: where the link ends now
    assert "New address:" not in render_html(ctx)


def test_one_failed_check_is_badged_as_a_warning_not_as_broken(ctx: ReportContext) -> None:
    suspect, broken = fx.row_of(ctx, "a-suspect"), fx.row_of(ctx, "a-broken")
    assert (suspect.severity, broken.severity) == ("broken", "broken")  # both outcomes fail
    assert suspect.status_badge[0] == "suspect" and broken.status_badge[0] == "broken"


def test_an_invalid_address_is_to_fix_at_once_not_to_wait_for(data: ReportData) -> None:
    ctx = build_context(fx.with_resource(data, "b-invalid", state="suspect"), now=fx.NOW)
    invalid = fx.row_of(ctx, "b-invalid")
    assert invalid.priority is Priority.BROKEN
    assert invalid.fix == "Correct the address in the entry."
    assert invalid.status_badge[0] == "broken"


def test_each_failure_gets_the_fix_its_outcome_asks_for(ctx: ReportContext) -> None:
    fixes = {rid: fx.row_of(ctx, rid).fix or "" for rid in ("a-broken", "b-invalid", "a-hostile")}
    assert fixes["b-invalid"] == "Correct the address in the entry."
    assert fixes["a-broken"].startswith(Outcome.NOT_FOUND.explanation)
    assert fixes["a-hostile"].startswith(Outcome.SOFT_404.explanation)


def test_an_entry_to_review_shows_no_link_since_or_checks(data: ReportData) -> None:
    link_ok = {"since": fx.days_ago(40), "checks_since": 6}
    ctx = build_context(
        fx.with_resource(data, "a-ok-1", stale_reasons=("dated 2009",), **link_ok), now=fx.NOW
    )
    stale = fx.row_of(ctx, "a-ok-1")
    assert stale.since is not None and stale.checks == 6  # the link's, kept in exports
    tree = LexborHTMLParser(render_html(ctx))
    row = tree.css_first('#attention tr[data-resource-id="a-ok-1"]')
    assert row is not None
    cells = {td.attributes.get("data-label"): td.text(strip=True) for td in row.css("td")}
    assert cells["Since"] == "—" and cells["Checks"].startswith("—")  # and why, unseen
    md = next(line for line in render_markdown(ctx).splitlines() if "(a-ok-1," in line)
    assert "| — | — |" in md


def test_an_entry_whose_link_never_worked_is_not_said_to_work(data: ReportData) -> None:
    """ "unverified" is a staleness reason about the link: no success for weeks."""
    unverified = fx.with_resource(
        data, "b-new", stale_reasons=("unverified",), since=fx.days_ago(20)
    )
    ctx = build_context(unverified, now=fx.NOW)
    row = fx.row_of(ctx, "b-new")
    assert row.priority is Priority.STALE and not row.entry_only
    assert "to review (the link works)" not in ctx.headline
    assert row.since is not None


def test_the_database_flag_of_a_flapping_link_reaches_the_report(tmp_path: Path) -> None:
    engine = fx.fixed_db(tmp_path / "flapping.db")
    with session_scope(engine) as s:
        res = s.scalars(select(Resource).where(Resource.rid == "a-suspect")).one()
        s.get_one(Link, res.link_id).flapping = True
    flags = {r.resource_id: r.flapping for r in report_data(engine).resources}
    assert flags["a-suspect"] and not flags["a-ok-1"]


@pytest.mark.parametrize("rid", ["a-ok-1", "a-suspect"])
def test_a_flapping_link_is_flagged_for_a_look_not_left_to_recover(
    data: ReportData, rid: str
) -> None:
    """README, Health over time: a link that keeps flipping between working and failing
    is flagged *flapping*. It never failed long enough in a row to be confirmed, so as a
    plain failure it was told "Wait: it may recover by itself", and while it worked it
    was in no queue at all."""
    ctx = build_context(fx.with_resource(data, rid, flapping=True), now=fx.NOW)
    row = fx.row_of(ctx, rid)
    assert row.priority is Priority.LOOK and row in ctx.rows
    assert row.state_note is not None and "flapping" in row.state_note.lower()
    assert row.fix is not None and "flapping" in row.fix.lower() and "Wait" not in row.fix
    assert row.status_badge[0] != "broken"  # not the red of a confirmed break
    page = LexborHTMLParser(render_html(ctx))
    queued = page.css_first(f'#queue-look tr[data-resource-id="{rid}"]')
    assert queued is not None and "flapping" in queued.text().lower()


def test_stale_entries_come_last(data: ReportData) -> None:
    ctx = build_context(fx.with_resource(data, "a-ok-1", stale_reasons=("dated 2009",)), now=fx.NOW)
    assert ctx.groups[-1].priority is Priority.STALE


def test_snoozed_and_ignored_resources_leave_the_queue_with_their_reasons(
    data: ReportData,
) -> None:
    later = fx.NOW + timedelta(days=7)
    changed = fx.with_resource(fx.with_resource(data, "a-broken", snoozed_until=later), "b-blocked")
    changed = fx.with_resource(changed, "b-blocked", ignored_reason="login wall")
    ctx = build_context(changed, now=fx.NOW)
    assert {"a-broken", "b-blocked"}.isdisjoint(r.resource_id for r in ctx.rows)
    aside = {r.resource_id: r for r in ctx.set_aside}
    assert aside["b-blocked"].ignored_reason == "login wall"
    assert aside["a-broken"].snoozed_until is not None
    page = LexborHTMLParser(render_html(ctx))
    assert {tr.attributes["data-resource-id"] for tr in page.css("#set-aside tbody tr")} == {
        "a-broken",
        "b-blocked",
    }


def test_set_aside_resources_whose_link_fails_are_listed_first(data: ReportData) -> None:
    later = fx.NOW + timedelta(days=7)
    changed = data
    for rid in ("a-ok-1", "a-broken", "a-suspect"):  # by title, a-ok-1 comes before a-suspect
        changed = fx.with_resource(changed, rid, snoozed_until=later)
    ctx = build_context(changed, now=fx.NOW)
    assert [r.resource_id for r in ctx.set_aside] == ["a-broken", "a-suspect", "a-ok-1"]
    markdown = render_markdown(ctx)
    assert "(a-broken), **Not found (404)**: snoozed until" in markdown  # visible there too


def test_an_expired_snooze_puts_the_resource_back_in_the_queue(data: ReportData) -> None:
    ctx = build_context(
        fx.with_resource(data, "a-broken", snoozed_until=fx.NOW - timedelta(days=1)), now=fx.NOW
    )
    assert "a-broken" in {r.resource_id for r in ctx.rows}


# --- since the last run, trends, publishers and hosts ----------------------------------


def test_since_last_run_lists_each_kind_of_change(ctx: ReportContext) -> None:
    assert ctx.changes is not None
    assert ctx.changes.previous_run_id == 1
    shown = {s.key: [i.resource_id for i in s.items] for s in ctx.changes.sections}
    assert shown == fx.EXPECTED_CHANGES


def _with_link_events(data: ReportData, rid: str, *events: tuple[str, dict[str, Any]]) -> Changes:
    """The "since the last run" section of `data` plus `events` on resource `rid`'s link."""
    row = next(r for r in data.resources if r.resource_id == rid)
    last = max(e.id for e in data.changes)
    extra = tuple(
        EventRow(last + n, fx.NOW, kind, None, None, row.link_id, details)
        for n, (kind, details) in enumerate(events, 1)
    )
    more = dataclasses.replace(data, changes=data.changes + extra)
    changes = build_context(more, now=fx.NOW).changes
    assert changes is not None
    return changes


def test_a_link_broken_at_its_first_check_says_so_in_one_sentence(data: ReportData) -> None:
    changes = _with_link_events(
        data,
        "b-invalid",
        ("state_changed", {"old": "unchecked", "new": "broken", "consecutive_failures": 1}),
    )
    (section,) = [s for s in changes.sections if s.key == "newly_broken"]
    summaries = {i.summary for i in section.items if i.resource_id == "b-invalid"}
    assert summaries == {"Confirmed broken after its first failed check."}


def test_a_link_that_ends_elsewhere_is_a_new_redirect_with_both_addresses(
    data: ReportData,
) -> None:
    changes = _with_link_events(
        data,
        "a-ok-1",
        ("final_url_changed", {"old": None, "new": "https://ok.example.org/new-home"}),
    )
    section = next(s for s in changes.sections if s.key == "new_redirects")
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert item.summary == "Now ends at another address."
    assert item.after == "https://ok.example.org/new-home"


def test_a_moved_first_hop_and_its_new_end_are_listed_once(data: ReportData) -> None:
    changes = _with_link_events(
        data,
        "a-ok-1",
        ("outcome_changed", {"old": "ok", "new": "redirected_permanent"}),
        ("redirect_changed", {"old": None, "new": "https://ok.example.org/b"}),
        ("final_url_changed", {"old": None, "new": "https://ok.example.org/c"}),
    )
    section = next(s for s in changes.sections if s.key == "new_redirects")
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert item.after == "https://ok.example.org/b"


@pytest.mark.parametrize(
    ("old", "new", "summary"),
    [
        (None, "https://ok.example.org/b", "Now redirects."),
        ("https://ok.example.org/b", None, "No longer redirects."),
        ("https://ok.example.org/b", "https://ok.example.org/c", "Now leads somewhere else."),
    ],
)
def test_a_redirect_that_appeared_or_went_away_says_so(
    data: ReportData, old: str | None, new: str | None, summary: str
) -> None:
    """ "Now leads somewhere else. — → B" of a link that did not redirect before reads as
    if it had led to somewhere else than B."""
    changes = _with_link_events(data, "a-ok-1", ("redirect_changed", {"old": old, "new": new}))
    # One that went is no new redirect: it has a heading of its own.
    key = "redirects_gone" if new is None else "new_redirects"
    section = next(s for s in changes.sections if s.key == key)
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert (item.summary, item.before, item.after) == (summary, old, new)


def test_a_permanent_redirect_that_went_away_is_listed_once(data: ReportData) -> None:
    changes = _with_link_events(
        data,
        "a-ok-1",
        ("outcome_changed", {"old": "redirected_permanent", "new": "ok"}),
        ("redirect_changed", {"old": "https://ok.example.org/b", "new": None}),
    )
    section = next(s for s in changes.sections if s.key == "redirects_gone")
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert item.summary == "No longer redirects permanently."


def test_a_renamed_or_moved_entry_says_what_it_was(data: ReportData) -> None:
    row = next(r for r in data.resources if r.resource_id == "a-ok-1")
    last = max(e.id for e in data.changes)
    details = {
        "id": "a-ok-1",
        "fields": ["id", "title"],
        "old": {"id": "a-first", "title": "Old"},
        "new": {"id": "a-ok-1", "title": "New"},
    }
    renamed = EventRow(
        last + 1, fx.NOW, "fields_edited", None, row.pk, row.link_id, details, "a-ok-1"
    )
    changes = build_context(
        dataclasses.replace(data, changes=(*data.changes, renamed)), now=fx.NOW
    ).changes
    assert changes is not None
    section = next(s for s in changes.sections if s.key == "catalog_edits")
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert item.summary == "Renamed from a-first; edited: title."

    moved = dict(details, fields=["collection"], old={"collection": "extra"}, new={})
    changes = build_context(
        dataclasses.replace(
            data, changes=(*data.changes, dataclasses.replace(renamed, details=moved))
        ),
        now=fx.NOW,
    ).changes
    assert changes is not None
    section = next(s for s in changes.sections if s.key == "catalog_edits")
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert item.summary == "Moved from extra."

    # `mark-reviewed` writes `reviewed_at`: "Edited: reviewed_at." named a raw field.
    for fields, said in (
        (["reviewed_at"], "Marked reviewed."),
        (["title", "reviewed_at"], "Edited: title, review date."),
    ):
        edit = dict(details, fields=fields, old={}, new={})
        events = (*data.changes, dataclasses.replace(renamed, details=edit))
        changes = build_context(dataclasses.replace(data, changes=events), now=fx.NOW).changes
        assert changes is not None
        section = next(s for s in changes.sections if s.key == "catalog_edits")
        (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
        assert item.summary == said


def test_content_change_shows_title_and_size_before_and_after(ctx: ReportContext) -> None:
    assert ctx.changes is not None
    section = next(s for s in ctx.changes.sections if s.key == "content_changed")
    (item,) = section.items
    assert "Annual report" in item.summary and fx.HOSTILE in item.summary
    assert "2.0 KiB" in item.summary and "1.0 KiB" in item.summary


def test_trend_covers_the_last_90_days_of_runs(ctx: ReportContext) -> None:
    assert ctx.trend is not None
    assert tuple(p.run_id for p in ctx.trend.points) == fx.EXPECTED_TREND_RUNS
    latest = ctx.trend.points[-1]
    assert (latest.checked, latest.ok, latest.broken) == (5, 4, 1)


_TREND_START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _runs_of(*counts: dict[str, int]) -> list[RunInfo]:
    """Runs 1, 2, ... on consecutive days with these outcome counts."""
    start = _TREND_START
    return [
        RunInfo(
            id=n,
            trigger="schedule",
            status="completed",
            started_at=start + timedelta(days=n),
            finished_at=start + timedelta(days=n, minutes=5),
            urls_planned=sum(c.values()),
            urls_checked=sum(c.values()),
            network_unavailable="network_unavailable" in c,
            duration_s=300.0,
            counts=c,
        )
        for n, c in enumerate(counts, start=1)
    ]


def _trend_of(*counts: dict[str, int]) -> str:
    """The trend sentence for `_runs_of(*counts)`."""
    trend = health_trend(_runs_of(*counts), _TREND_START + timedelta(days=len(counts), hours=1))
    assert trend is not None
    return trend.description


def test_trend_sentence_claims_a_change_only_between_two_runs_that_checked() -> None:
    offline = {"network_unavailable": 4}
    assert _trend_of({"ok": 3, "not_found": 1}, {"ok": 4}) == (
        "2 runs from 2026-12-02 to 2026-12-03: links OK went from 75% to 100%, "
        "failing went from 25% to 0%."
    )
    assert _trend_of(offline, {"ok": 1, "dns_error": 1}) == (
        "2 runs from 2026-12-02 to 2026-12-03; only run 2 could check links: "
        "50% of links OK, 50% failing."
    )
    assert (
        _trend_of({"ok": 3, "not_found": 1})
        == "1 run, on 2026-12-02: 75% of links OK, 25% failing."
    )
    assert _trend_of(offline) == "1 run, on 2026-12-02, which could not check any link."
    assert _trend_of(offline, offline) == "2 runs, none of which could check any link."
    # "failing from 21% to 21%" read as a slip
    assert _trend_of({"ok": 3, "not_found": 1}, {"ok": 6, "not_found": 2}) == (
        "2 runs from 2026-12-02 to 2026-12-03: links OK stayed at 75%, failing stayed at 25%."
    )


def test_the_markdown_trend_table_says_it_shows_only_the_last_ten_runs(
    ctx: ReportContext,
) -> None:
    """ "11 runs ... went from 64%" above a table of 10 rows without run 1, the 64% one."""
    infos = _runs_of(*[{"ok": 4}] * 11)
    for runs, said in ((infos, True), (infos[:10], False)):
        trend = health_trend(runs, _TREND_START + timedelta(days=12))
        md = render_markdown(dataclasses.replace(ctx, trend=trend))
        assert ("The last 10 of them (the HTML report charts them all):" in md) is said
        rows = [line for line in md.splitlines() if re.match(r"\| \d+ \| 2026-", line)]
        assert len(rows) == 10


def test_a_night_without_network_is_no_point_of_the_trend_even_with_an_invalid_url() -> None:
    """An invalid URL gets its verdict without a request, so an offline run stores it
    beside the network_unavailable tries; that one verdict is no check of the links. As
    a point it drew the night as "OK 0%, failing 100%": the outage blamed on the sites."""
    offline = {"network_unavailable": 206, "invalid_url": 1}
    assert _trend_of({"ok": 3, "invalid_url": 1}, offline) == (
        "2 runs from 2026-12-02 to 2026-12-03; only run 1 could check links: "
        "75% of links OK, 25% failing."
    )
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    info = RunInfo(
        id=1,
        trigger="schedule",
        status="completed",
        started_at=start,
        finished_at=start + timedelta(minutes=5),
        urls_planned=207,
        urls_checked=207,
        network_unavailable=True,
        duration_s=300.0,
        counts=offline,
    )
    trend = health_trend([info], start + timedelta(hours=1))
    assert trend is not None and trend.points[0].checked == 0


def test_trend_chart_is_accessible_svg_with_a_table(page: LexborHTMLParser) -> None:
    svg = page.css_first("svg.trend-chart")
    assert svg is not None and svg.attributes.get("role") == "img"
    assert svg.css_first("title") is not None and svg.css_first("desc") is not None
    assert len(page.css("#trend-table tbody tr")) == len(fx.EXPECTED_TREND_RUNS)


def test_publisher_table_counts_and_median_response(ctx: ReportContext) -> None:
    stats = {s.name: s for s in ctx.publishers}
    example = stats["Example Publisher"]
    assert example.broken == 2  # a-broken, b-invalid
    assert example.median_ms == 100  # ok.example.org/1 answered in 100 ms, the rest unknown
    assert stats[fx.HOSTILE].resources == 1


def test_a_confirmed_soft_404_is_not_broken_for_its_publisher_and_host(
    ctx: ReportContext,
) -> None:
    """a-hostile is a soft 404 confirmed broken, filed under "Page missing" and badged
    "(Confirmed)", not "(Confirmed broken)": its publisher's and host's "Broken" count the
    queue's "Confirmed broken" group, as the summary, the run's tally and the
    broken_increased notice do (tests/test_counts_agree.py), or the hosts' column summed
    to more than the summary's "Confirmed broken" (tests/test_h10_counts_agree.py)."""
    (row,) = [r for r in ctx.resources if r.resource_id == "a-hostile"]
    assert (row.priority, row.state, row.state_note) == (Priority.SOFT_404, "broken", "Confirmed")
    assert {s.name: s for s in ctx.publishers}[fx.HOSTILE].broken == 0
    assert {s.name: s for s in ctx.hosts}["soft.example.org"].broken == 0


def test_host_table_groups_resources_by_host(ctx: ReportContext) -> None:
    hosts = {s.name: s for s in ctx.hosts}
    assert hosts["ok.example.org"].resources == 4
    assert hosts["ok.example.org"].ok_pct == 100.0


# --- the site and publish_report -------------------------------------------------------


def test_a_publishers_page_lists_its_worst_resources_first(
    ctx: ReportContext, tmp_path: Path
) -> None:
    write_report(ctx, tmp_path, run_id=None)
    example = next(s for s in ctx.publishers if s.name == "Example Publisher")
    page = LexborHTMLParser((tmp_path / example.page).read_text(encoding="utf-8"))
    listed = [tr.attributes.get("data-resource-id") for tr in page.css("tr[data-resource-id]")]
    queued = [r.resource_id for r in ctx.rows if r.publisher == "Example Publisher"]
    assert queued and listed[: len(queued)] == queued  # the queue's order, then the rest
    rest = [r for r in ctx.resources if r.publisher == "Example Publisher" and r.priority is None]
    rest.sort(key=lambda r: (r.collection.casefold(), r.title.casefold()))
    assert listed[len(queued) :] == [r.resource_id for r in rest]
    crumb = page.css_first("nav.crumbs a[href='../publishers/index.html']")
    assert crumb is not None and (tmp_path / "publishers" / "index.html").is_file()


def test_every_resource_publisher_and_host_gets_a_page(ctx: ReportContext, tmp_path: Path) -> None:
    files = write_report(ctx, tmp_path, run_id=2)
    for row in ctx.resources:
        assert (tmp_path / row.page).is_file()
    for stats in (*ctx.publishers, *ctx.hosts):
        assert (tmp_path / stats.page).is_file()
    assert files.pages == len(ctx.resources) + len(ctx.publishers) + len(ctx.hosts) + 2


def test_pages_of_removed_resources_disappear_on_the_next_write(
    ctx: ReportContext, tmp_path: Path
) -> None:
    write_report(ctx, tmp_path, run_id=2)
    stray = tmp_path / "resources" / "gone.html"
    stray.write_text("old", encoding="utf-8")
    write_report(ctx, tmp_path, run_id=2)
    assert not stray.exists()


def test_a_long_hygiene_list_is_cut_on_the_index_and_complete_on_its_own_page(
    ctx: ReportContext, tmp_path: Path
) -> None:
    """300 rows of it on the index pushed the trends, publishers and hosts tens of
    thousands of pixels down: the index sums it up by kind and lists a handful, errors
    first, as Markdown does; its pages list every finding."""
    cap = render_module.SUMMARY_HYGIENE_ROWS
    assert cap <= 10 < render_module.INDEX_QUEUE_LIMIT
    findings = [_no_year(f"r{n:04d}", n) for n in range(cap + 30)]
    error = dataclasses.replace(findings[-1], code="duplicate_url", level=Level.ERROR)
    findings[-1] = error  # the most serious, last in the file
    big = with_findings(ctx, findings)
    files = write_report(big, tmp_path, run_id=None)
    index = LexborHTMLParser(files.main.read_text(encoding="utf-8"))
    shown = [tr.attributes["data-resource-id"] for tr in index.css("#hygiene tbody tr")]
    assert shown == [error.resource_id] + [f"r{n:04d}" for n in range(cap - 1)]
    assert index.css_first("#hygiene-kinds") is not None
    link = index.css_first("#hygiene-all")
    assert link is not None and str(len(findings)) in link.text()
    full = tmp_path / (link.attributes["href"] or "")
    every = LexborHTMLParser(full.read_text(encoding="utf-8")).css("#hygiene tbody tr")
    assert [tr.attributes["data-resource-id"] for tr in every] == [
        error.resource_id,
        *(f.resource_id for f in findings[:-1]),
    ]
    markdown = render_markdown(big)
    section = markdown[markdown.index("## Catalog hygiene") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    assert f"r{cap - 2:04d}" in section and f"r{cap - 1:04d}" not in section
    assert f"- {len(findings) - 1} No year (warning, `missing_year`)" in section
    assert f"… and {len(findings) - cap} more" in section
    # A run writes HTML and Markdown: the JSON report is named as written on request only.
    assert "more in the HTML report (and the JSON report where one is written" in section
    short = write_report(with_findings(ctx, findings[:3]), tmp_path / "short", run_id=None)
    short_index = LexborHTMLParser(short.main.read_text(encoding="utf-8"))
    assert short_index.css_first("#hygiene-all") is None
    assert not (tmp_path / "short" / "hygiene" / "index.html").exists()


@pytest.mark.parametrize("archive_only", [False, True], ids=["report-run", "overtaken"])
def test_a_run_page_written_alone_links_no_hygiene_pages(
    ctx: ReportContext, tmp_path: Path, archive_only: bool
) -> None:
    """Only a latest report writes the hygiene pages: `report --run N`, or a recheck
    overtaken by the nightly, wrote a run-N.html whose "see all" led to a missing page."""
    findings = [_no_year(f"r{n:04d}", n) for n in range(render_module.SUMMARY_HYGIENE_ROWS + 5)]
    files = write_report(
        with_findings(ctx, findings),
        tmp_path,
        run_id=2,
        latest=False,
        archive_only=archive_only,
    )
    assert files.run_html is not None and not (tmp_path / "hygiene").exists()
    html = files.run_html.read_text(encoding="utf-8")
    assert LexborHTMLParser(html).css_first("#hygiene-all") is None
    assert 'href="hygiene/' not in html
    assert f"<code>linkhealth catalog lint</code> lists all {len(findings)}.</p>" in html


def test_a_cut_hygiene_list_is_summed_up_by_kind_most_frequent_first(ctx: ReportContext) -> None:
    many = [_no_year(f"r{n:04d}", n) for n in range(render_module.INDEX_QUEUE_LIMIT + 5)]
    assert render_module.SUMMARY_HYGIENE_ROWS > 3  # `few` below is not cut
    http = dataclasses.replace(many[0], code="http_url", resource_id="h1", line=1)
    index = LexborHTMLParser(render_html(with_findings(ctx, [http, *many])))
    kinds = [li.text() for li in index.css("#hygiene-kinds li")]
    assert kinds == [  # a curator's words first; the code after, for a search
        f"{render_module.INDEX_QUEUE_LIMIT + 5} No year (warning, missing_year)",
        "1 Plain http:// address (warning, http_url)",
    ]
    codes = [c.text() for c in index.css("#hygiene-kinds li code")]
    assert codes == ["missing_year", "http_url"]
    few = LexborHTMLParser(render_html(with_findings(ctx, many[:3])))
    assert few.css_first("#hygiene-kinds") is None  # every row is shown: no summary needed


def test_a_big_replaced_site_is_deleted_in_the_background_with_old_leftovers(
    ctx: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(ctx, tmp_path, run_id=2)
    killed = tmp_path / ".site-killed"  # a render killed a while ago left its stage behind
    (killed / "resources").mkdir(parents=True)
    (killed / "resources" / "x.html").write_text("half", encoding="utf-8")
    week_ago = time.time() - 7 * 86400
    os.utime(killed, (week_ago, week_ago))
    running = tmp_path / ".site-running"  # another report's stage, fresh: never touched
    running.mkdir()
    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def popen(args: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        started.append(args)
        return real_popen(args, **kw)

    monkeypatch.setattr(site, "BACKGROUND_DELETE_MIN", 0)
    monkeypatch.setattr(site.subprocess, "Popen", popen)
    write_report(ctx, tmp_path, run_id=2)
    assert len(started) == 1  # the deletion ran in a process of its own
    deadline = time.monotonic() + 20
    while (list(tmp_path.glob(".old-*")) or killed.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(tmp_path.glob(".old-*")) and not killed.exists()
    assert running.is_dir()
    for row in ctx.resources:
        assert (tmp_path / row.page).is_file()


def test_publish_report_writes_resource_history_newest_first(
    engine: Engine, db_dir: Path, tmp_path: Path
) -> None:
    settings = Settings().with_overrides(
        database_url=f"sqlite:///{db_dir / 'fixed.db'}", reports_dir=tmp_path / "default"
    )
    main = publish_report(
        settings, formats=("html", "md", "csv", "json"), out_dir=tmp_path, clock=lambda: fx.NOW
    )
    assert main == tmp_path / "latest.html"
    for name in ("latest.md", "latest.csv", "latest.json", "index.html"):
        assert (tmp_path / name).is_file()
    assert not (tmp_path / "default").exists()
    row = fx.row_of(build_context(report_data(engine), now=fx.NOW), "a-broken")
    resource = LexborHTMLParser((tmp_path / row.page).read_text(encoding="utf-8"))
    checks = resource.css('#history tr[data-kind="check"]')
    times = []
    for tr in checks:
        time_tag = tr.css_first("time")
        assert time_tag is not None
        times.append(time_tag.attributes["datetime"] or "")
    assert len(checks) == len(fx.BROKEN_HISTORY) + 1 and times == sorted(times, reverse=True)
    kinds = {tr.attributes["data-kind"] for tr in resource.css("#history tbody tr")}
    assert {"state_changed", "outcome_changed"} <= kinds


def _site(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_site_rendered_by_two_processes_equals_one_rendered_by_one(
    engine: Engine, db_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reports.forked
    import reports.site

    settings = Settings().with_overrides(database_url=f"sqlite:///{db_dir / 'fixed.db'}")
    seen: dict[str, list[tuple[int, int]]] = {"one": [], "two": []}

    def publish(name: str) -> Path:
        files = publish_report_files(
            settings,
            out_dir=tmp_path / name,
            clock=lambda: fx.NOW,
            on_progress=lambda done, total: seen[name].append((done, total)),
        )
        return files.main.parent

    monkeypatch.setattr(reports.site, "PROGRESS_EVERY", 2)
    one = publish("one")
    forks: list[object] = []
    real_forked = reports.forked.Forked

    def counting(job: Callable[[], object], **kw: Any) -> reports.forked.Forked[object]:
        forked = real_forked(job, **kw)
        forks.append(forked.in_child)
        return forked

    monkeypatch.setattr(reports.site, "PARALLEL_PAGES_MIN", 0)  # as for 20,000+ resources
    monkeypatch.setattr(reports.site, "Forked", counting)
    two = publish("two")
    assert forks == [True]
    assert _site(two) == _site(one)
    pages = len(list((two / "resources").iterdir()))
    assert pages > 5
    for name, calls in seen.items():  # progress counts both processes' pages, up to all
        done = [d for d, _ in calls]
        assert done == sorted(done) and done[-1] == pages and calls[-1][1] == pages, name


def test_publish_report_main_file_follows_the_formats(db_dir: Path, tmp_path: Path) -> None:
    settings = Settings().with_overrides(database_url=f"sqlite:///{db_dir / 'fixed.db'}")
    assert publish_report(settings, formats=("csv",), out_dir=tmp_path) == tmp_path / "latest.csv"
    assert not (tmp_path / "latest.html").exists()
    with pytest.raises(ValueError):
        publish_report(settings, formats=("pdf",), out_dir=tmp_path)


def test_a_report_on_an_earlier_run_leaves_the_latest_report_alone(
    engine: Engine, db_dir: Path, tmp_path: Path
) -> None:
    settings = Settings().with_overrides(database_url=f"sqlite:///{db_dir / 'fixed.db'}")
    formats = ("html", "md")
    latest = publish_report_files(settings, formats=formats, out_dir=tmp_path)
    before = {p.name: p.read_bytes() for p in latest.paths}
    assert {"index.html", "latest.html", "latest.md"} <= set(before)

    site = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.parent != tmp_path}

    earlier = publish_report_files(settings, run_id=1, formats=formats, out_dir=tmp_path)

    assert [p.name for p in earlier.paths] == ["run-1.html", "run-1.md"]  # main file first
    assert earlier.pages == 0
    assert {p.name: p.read_bytes() for p in latest.paths} == before
    assert {p: p.stat().st_mtime_ns for p in site} == site  # the site's pages untouched
    page = LexborHTMLParser((tmp_path / "run-1.html").read_text(encoding="utf-8"))
    assert "run 1" in page.text() and not page.css("footer a")  # no latest.* links
    again = publish_report_files(
        settings, run_id=fx.LATEST_FINISHED_RUN, formats=formats, out_dir=tmp_path
    )
    assert {"index.html", "latest.html", "latest.md"} <= {p.name for p in again.paths}


def test_a_page_that_cannot_be_written_fails_the_site_and_keeps_the_old_one(
    ctx: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(ctx, tmp_path, run_id=2)
    before = (tmp_path / ctx.resources[0].page).read_text(encoding="utf-8")
    real = site._write_plain

    def failing(path: str | Path, text: str) -> None:
        if Path(path).name == Path(ctx.resources[-1].page).name:
            raise OSError("disk full")
        real(path, text)

    monkeypatch.setattr(site, "_write_plain", failing)
    with pytest.raises(OSError, match="disk full"):
        write_report(ctx, tmp_path, run_id=2)
    assert (tmp_path / ctx.resources[0].page).read_text(encoding="utf-8") == before
    assert not list(tmp_path.glob(".site-*"))


def test_an_invalid_url_is_newly_broken_since_the_last_run_and_its_confirmation_no_news(
    data: ReportData,
) -> None:
    # Stored as suspect at first (catalog.health), shown as broken from its first check.
    suspect = fx.with_resource(data, "b-invalid", state="suspect")
    started = _with_link_events(
        suspect,
        "b-invalid",
        ("state_changed", {"old": "unchecked", "new": "suspect", "consecutive_failures": 1}),
    )
    shown = {s.key: [i.resource_id for i in s.items] for s in started.sections}
    assert "b-invalid" in shown["newly_broken"]
    assert "b-invalid" not in shown["started_failing"]
    confirmed = _with_link_events(
        data,
        "b-invalid",
        ("state_changed", {"old": "suspect", "new": "broken", "consecutive_failures": 3}),
    )
    shown = {s.key: [i.resource_id for i in s.items] for s in confirmed.sections}
    assert shown == fx.EXPECTED_CHANGES


def test_a_drift_row_dates_and_counts_from_the_drift_and_says_to_act(tmp_path: Path) -> None:
    """Drift is the problem of a link that works: its row's "since" and "checks" are the
    drift's, not the link's last change of outcome, and its next step is not "nothing to
    do"."""
    from catalog import store
    from catalog.settings import HealthSettings
    from catalog.sync import sync_catalogs
    from tests.factories import (
        days,
        make_catalog,
        make_observation,
        make_resource,
        temporary_database,
    )

    url = "https://drifted.example/guide"
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("g", url)])], now=days(0))
        for day in range(1, 8):
            obs = make_observation(url, checked_at=days(day))
            store.record_observations(engine, None, [obs], HealthSettings(), now=days(day))
        with session_scope(engine) as s:
            link = s.scalars(select(Link).where(Link.url == url)).one()
            link.drift_reason, link.drift_since = "the page now sells the domain", days(5)
        row = fx.row_of(build_context(report_data(engine), now=days(8)), "g")

        # It then fails once: still filed as drift, dated from it, and not said to answer.
        failed = make_observation(url, Outcome.NOT_FOUND, days(8))
        store.record_observations(engine, None, [failed], HealthSettings(), now=days(8))
        failing = fx.row_of(build_context(report_data(engine), now=days(9)), "g")
        # Confirmed broken: filed as broken, dated from the failure.
        for day in (9, 10, 11):
            failed = make_observation(url, Outcome.NOT_FOUND, days(day))
            store.record_observations(engine, None, [failed], HealthSettings(), now=days(day))
        broken = fx.row_of(build_context(report_data(engine), now=days(12)), "g")

    assert row.priority is Priority.DRIFT
    assert row.since is not None and row.since.iso == days(5).isoformat()
    assert row.checks == 3  # days 5, 6 and 7
    assert "nothing to do" not in row.next_step and "no longer holds" in row.next_step
    assert failing.priority is Priority.DRIFT and failing.state == "suspect"
    assert failing.since is not None and failing.since.iso == days(5).isoformat()
    assert failing.checks == 4
    assert "answers" not in failing.next_step
    assert broken.priority is Priority.BROKEN
    assert broken.since is not None and broken.since.iso == days(8).isoformat()
    assert broken.checks == 4  # days 8 to 11


def test_a_page_that_drifted_or_came_back_is_news_since_the_last_run(data: ReportData) -> None:
    row = next(r for r in data.resources if r.resource_id == "a-ok-1")
    last = max(e.id for e in data.changes)
    detected = EventRow(
        last + 1,
        fx.NOW,
        "drift_detected",
        None,
        row.pk,  # drift is judged per entry: the event names the resource
        row.link_id,
        {"entry": str(row.pk), "reason": "the page now offers the domain for sale"},
        resource_id=row.resource_id,
    )
    more = dataclasses.replace(data, changes=(*data.changes, detected))
    changes = build_context(more, now=fx.NOW).changes
    assert changes is not None
    (section,) = [s for s in changes.sections if s.key == "newly_drifted"]
    (item,) = section.items
    assert (item.resource_id, item.summary) == (
        "a-ok-1",
        "The page now offers the domain for sale.",
    )
    assert section.tally == "1 no longer matching its entry"

    cleared = _with_link_events(data, "a-ok-1", ("drift_cleared", {"old": "parked"}))
    (back,) = [s for s in cleared.sections if s.key == "recovered"]
    assert "Its page matches the entry again." in {i.summary for i in back.items}


def test_two_entries_of_one_link_that_drift_on_one_check_are_both_news(
    data: ReportData,
) -> None:
    """A drift is judged per entry, its clearing per link: the entries a-ok-1 and b-ok-1
    share a link, and a drift of one does not make the other's drift of that check old news
    (`changes._drift_superseded` keeps an entry's last drift)."""
    last = max(e.id for e in data.changes)
    drifted = [
        EventRow(
            last + n,
            fx.NOW,
            "drift_detected",
            None,
            row.pk,
            row.link_id,
            {"entry": str(row.pk), "reason": "the page now offers the domain for sale"},
            resource_id=row.resource_id,
        )
        for n, row in enumerate(
            (r for r in data.resources if r.resource_id in ("a-ok-1", "b-ok-1")), start=1
        )
    ]
    assert len({e.link_id for e in drifted}) == 1 and len(drifted) == 2
    more = dataclasses.replace(data, changes=(*data.changes, *drifted))
    changes = build_context(more, now=fx.NOW).changes
    assert changes is not None
    (section,) = [s for s in changes.sections if s.key == "newly_drifted"]
    assert sorted(i.resource_id or "" for i in section.items) == ["a-ok-1", "b-ok-1"]


def test_a_permanent_redirect_that_went_away_is_listed(data: ReportData) -> None:
    changes = _with_link_events(
        data, "a-ok-1", ("outcome_changed", {"old": "redirected_permanent", "new": "ok"})
    )
    section = next(s for s in changes.sections if s.key == "redirects_gone")
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert (item.summary, item.before, item.after) == (
        "No longer redirects permanently.",
        "Moved permanently",
        "OK",
    )


def test_a_failing_links_page_title_is_said_to_be_from_when_it_worked(data: ReportData) -> None:
    titled = data
    for rid in ("a-ok-1", "a-moved", "a-broken", "b-blocked"):
        titled = fx.with_resource(titled, rid, page_title="Guide")
    ctx = build_context(titled, now=fx.NOW)
    assert fx.row_of(ctx, "a-ok-1").page_title_label == "Page title"
    assert fx.row_of(ctx, "a-moved").page_title_label == "Page title"  # a redirect answers
    assert fx.row_of(ctx, "a-broken").page_title_label == "Page title when it last worked"
    assert fx.row_of(ctx, "b-blocked").page_title_label == "Page title when it last worked"


def test_a_newly_drifted_page_is_not_listed_again_as_content_changed(
    data: ReportData,
) -> None:
    # a-ok-2's content changed in the fixture; its page now also drifted. The drift reason
    # quotes what the page says, so one entry under the graver heading is enough.
    row = next(r for r in data.resources if r.resource_id == "a-ok-2")
    detected = EventRow(
        max(e.id for e in data.changes) + 1,
        fx.NOW,
        "drift_detected",
        None,
        row.pk,
        row.link_id,
        {"entry": str(row.pk), "reason": "the page now offers the domain for sale"},
        resource_id=row.resource_id,
    )
    changes = build_context(
        dataclasses.replace(data, changes=(*data.changes, detected)), now=fx.NOW
    ).changes
    assert changes is not None
    listed = {s.key: [i.resource_id for i in s.items] for s in changes.sections}
    assert listed["newly_drifted"] == ["a-ok-2"]
    assert "a-ok-2" not in listed.get("content_changed", [])


def test_written_csv_and_json_are_the_rendered_text(ctx: ReportContext, tmp_path: Path) -> None:
    """latest.csv and latest.json are written into the file a row at a time: the same
    bytes as the text `render_csv` (after a byte order mark) and `render_json` make."""
    files = write_report(ctx, tmp_path, run_id=None, formats=("csv", "json"))
    assert files.latest_csv and files.latest_json
    csv_bytes = files.latest_csv.read_bytes()
    assert csv_bytes == (UTF8_BOM + render_csv(ctx)).encode("utf-8")
    assert files.latest_json.read_bytes() == render_json(ctx).encode("utf-8")


def test_the_page_writer_writes_every_page_of_batches_cut_by_size(tmp_path: Path) -> None:
    """A batch goes to the writers at its page count or its characters: pages bigger than
    a batch, and many small ones, are all written, in full."""
    pages = {f"{tmp_path}/p{n}.html": ("é" * (n * 7 % 50)) + str(n) for n in range(300)}
    pages[f"{tmp_path}/big.html"] = "x" * 5000
    with site._PageWriter(batch=64, batch_chars=100) as writer:
        for path, text in pages.items():
            writer.write(path, text)
    assert {p: Path(p).read_text(encoding="utf-8") for p in pages} == pages
