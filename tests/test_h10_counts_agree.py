"""Counts a curator found to disagree between the report's sections, and a column that
said nothing of what it counts.

On a 150-resource night: the headline said "26 OK, 20 set aside" while the OK row of "All
resources by outcome" left 30 to "nothing to do for the rest" (4 snoozed links with
nothing wrong were set aside in the one, "the rest" in the other); the hosts' "Broken"
summed to 21 beside "13 Confirmed broken" (soft 404s and snoozed or ignored breaks in
it); and "Checks" (since the problem began) had no word of explanation.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from catalog.queries import ReportData, report_data
from reports import build_context, render_html, render_json, render_markdown, write_report
from reports.context import (
    CHECKS_NOT_COUNTED,
    CHECKS_NOTE,
    CONTACT_CHECKS_NOT_COUNTED,
    Priority,
    ReportContext,
)
from reports.render import pagers, queue_page_name, render_queue_page
from tests import report_fixtures as fx

LATER = fx.NOW + timedelta(days=7)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    return report_data(fx.fixed_db(tmp_path_factory.mktemp("h10") / "fixed.db"))


def _text(node: LexborNode) -> str:
    return " ".join(node.text(separator=" ").split())


# --- 1. the OK row counts set aside what the headline counts set aside -----------------


def test_snoozed_and_ignored_working_links_are_set_aside_in_the_ok_row_too(
    data: ReportData,
) -> None:
    """Two of the four working links set aside, with nothing wrong: the headline's "2 OK"
    are the OK row's "rest", not four."""
    aside = fx.with_resource(data, "a-ok-1", snoozed_until=LATER, snooze_reason="redesign due")
    aside = fx.with_resource(aside, "b-ok-1", ignored_reason="kept as it is")
    ctx = build_context(aside, now=fx.NOW)
    assert "2 OK" in ctx.headline and "2 set aside" in ctx.headline
    (ok,) = [t for t in ctx.totals if t.key == "ok"]
    assert ok.count == 4
    said = "The link works. 2 of them are snoozed or ignored; nothing to do for the rest."
    assert ok.explanation == said
    # The Markdown and the JSON carry the same row (the CSV has no totals).
    totals = render_markdown(ctx).split("## All resources by outcome\n", 1)[1]
    assert f"| OK | 4 | {said} |" in totals.splitlines()
    (record,) = [t for t in json.loads(render_json(ctx))["totals"] if t["key"] == "ok"]
    assert record["explanation"] == said


def test_every_working_link_set_aside_leaves_no_rest(data: ReportData) -> None:
    aside = data
    for rid in ("a-ok-1", "a-ok-2", "b-ok-1", "a-recovered"):
        aside = fx.with_resource(aside, rid, ignored_reason="kept")
    ctx = build_context(aside, now=fx.NOW)
    assert " OK" not in ctx.headline and "4 set aside" in ctx.headline
    (ok,) = [t for t in ctx.totals if t.key == "ok"]
    assert ok.explanation == "The link works. 4 of them are snoozed or ignored."


# --- 2. "Broken" per host and publisher is the queue's "Confirmed broken" ---------------


@pytest.fixture(scope="module")
def snoozed_break(data: ReportData) -> ReportContext:
    """a-broken (a 404, the only resource of gone.example.org) snoozed; a-hostile is a
    confirmed soft 404 (state broken), filed under "Page missing (soft 404)"."""
    snoozed = fx.with_resource(data, "a-broken", snoozed_until=LATER, snooze_reason="asked")
    return build_context(snoozed, now=fx.NOW)


def test_broken_per_host_and_publisher_counts_the_queue_s_confirmed_broken(
    snoozed_break: ReportContext,
) -> None:
    ctx = snoozed_break
    (broken,) = [g for g in ctx.groups if g.key == Priority.BROKEN.key]
    assert [r.resource_id for r in broken.rows] == ["b-invalid"]  # no host: no address
    hosts = {s.name: s for s in ctx.hosts}
    assert hosts["gone.example.org"].broken == 0 and hosts["gone.example.org"].set_aside == 1
    assert fx.row_of(ctx, "a-hostile").state == "broken"
    assert hosts["soft.example.org"].broken == 0 and hosts["soft.example.org"].attention == 1
    assert sum(s.broken for s in ctx.hosts) == 0
    publishers = {s.name: s for s in ctx.publishers}
    assert publishers["Example Publisher"].broken == 1  # b-invalid
    assert sum(s.broken for s in ctx.publishers) == len(broken.rows)


def test_every_format_and_page_gives_the_same_broken(
    snoozed_break: ReportContext, tmp_path: Path
) -> None:
    ctx = snoozed_break
    index = LexborHTMLParser(render_html(ctx))
    markdown = render_markdown(ctx)
    document = json.loads(render_json(ctx))
    write_report(ctx, tmp_path, run_id=None, formats=("html",))
    for kind, stats in (("publishers", ctx.publishers), ("hosts", ctx.hosts)):
        records = {s["name"]: s["broken"] for s in document[kind]}
        for s in stats:
            cell = index.css_first(f'#{kind} tr[data-name="{s.name}"] td[data-label="Broken"]')
            assert cell is not None and _text(cell) == str(s.broken)
            assert records[s.name] == s.broken
            page = LexborHTMLParser((tmp_path / s.page).read_text(encoding="utf-8"))
            terms = [_text(dt) for dt in page.css("#facts dt")]
            values = [_text(dd) for dd in page.css("#facts dd")]
            assert dict(zip(terms, values, strict=True))["Confirmed broken"] == str(s.broken)
    hosts = markdown.split("\n## Hosts\n", 1)[1].split("\n## ", 1)[0]
    soft = next(line for line in hosts.splitlines() if line.startswith("| soft.example.org |"))
    assert soft.split("|")[5].strip() == "0"  # Host, Resources, Checked, OK, Broken


# --- 3. "Checks" says what it counts, and why a cell has none ---------------------------


@pytest.fixture(scope="module")
def stale(data: ReportData) -> ReportContext:
    """a-ok-1 out of date, its link working: queued, its checks not counted."""
    stale = fx.with_resource(
        data, "a-ok-1", stale_reasons=("dated 2009",), since=fx.days_ago(40), checks_since=6
    )
    return build_context(stale, now=fx.NOW)


def test_the_checks_column_is_explained_under_the_queue(stale: ReportContext) -> None:
    tree = LexborHTMLParser(render_html(stale))
    (header,) = [th for th in tree.css("#attention thead th") if _text(th) == "Checks"]
    assert header.attributes.get("aria-describedby") == "checks-note"
    note = tree.css_first("#checks-note")
    assert note is not None and _text(note) == CHECKS_NOTE
    assert CHECKS_NOTE.startswith("Checks: how many times the link was checked since its")
    markdown = render_markdown(stale)
    assert f"## What to fix first\n\n{CHECKS_NOTE}\n\n###" in markdown
    # A queue group's own page (a group longer than the index shows) says it too.
    group = stale.groups[0]
    (pager,) = pagers(len(group.rows), lambda n: queue_page_name(group.key, n))
    page = LexborHTMLParser(render_queue_page(stale, group, pager))
    note = page.css_first("#checks-note")
    assert note is not None and _text(note) == CHECKS_NOTE


def test_an_uncounted_checks_cell_says_why(stale: ReportContext) -> None:
    tree = LexborHTMLParser(render_html(stale))
    row = tree.css_first('#attention tr[data-resource-id="a-ok-1"]')
    assert row is not None
    cell = row.css_first('td[data-label="Checks"]')
    assert cell is not None
    shown = cell.css_first('span[aria-hidden="true"]')
    heard = cell.css_first("span.skip")
    assert shown is not None and shown.text() == "—"
    assert heard is not None and heard.text() == CHECKS_NOT_COUNTED
    broken = tree.css_first('#attention tr[data-resource-id="a-broken"] td[data-label="Checks"]')
    assert broken is not None and broken.text().strip().isdigit()
    line = next(line for line in render_markdown(stale).splitlines() if "(a-ok-1," in line)
    assert "| — | — |" in line


def test_a_contact_rows_uncounted_checks_cell_says_what_it_is(data: ReportData) -> None:
    """A contact gone from its working page was heard as "the entry is what to review",
    though the headline counts it to fix: its cell says what it is, and CHECKS_NOTE covers
    both."""
    gone = fx.with_resource(
        data, "a-ok-1", contact_reason="1-888-373-7888 is no longer on the page"
    )
    ctx = build_context(gone, now=fx.NOW)
    assert fx.row_of(ctx, "a-ok-1").priority is Priority.CONTACT
    assert ctx.headline.startswith("12 resources: 5 to fix, ")  # 4 without it
    row = LexborHTMLParser(render_html(ctx)).css_first('#attention tr[data-resource-id="a-ok-1"]')
    assert row is not None
    heard = row.css_first('td[data-label="Checks"] span.skip')
    assert heard is not None and heard.text() == CONTACT_CHECKS_NOT_COUNTED
    assert "contact gone from its page" in CHECKS_NOTE and "fix or review" in CHECKS_NOTE
