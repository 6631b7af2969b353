"""The report read as a curator reads it: counts that agree between pages, each fact said
once, and links between pages that lead somewhere."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine

from catalog.hygiene import Finding, Level
from catalog.outcomes import Outcome
from catalog.queries import ReportData, report_data, shared_resource_ids
from reports import ReportContext, build_context, render_html, render_markdown, write_report
from reports.build import DRIFT_TOTAL, action_queue, with_findings
from reports.context import Priority, ResourcePage, Row
from reports.render import render_resource_page
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("curator") / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    return report_data(engine)


def _text(node: Any) -> str:
    return " ".join(node.text(separator=" ").split())


def _facts(tree: LexborHTMLParser) -> dict[str, str]:
    terms = tree.css("#facts dt")
    values = tree.css("#facts dd")
    return {_text(t): _text(v) for t, v in zip(terms, values, strict=True)}


# --- publisher and host pages agree with the index -------------------------------------


def _set_aside_two(data: ReportData) -> ReportContext:
    """a-broken snoozed and a-suspect ignored: both of Example Publisher, both queued
    before."""
    later = fx.NOW + timedelta(days=7)
    changed = fx.with_resource(
        data, "a-broken", snoozed_until=later, snooze_reason="asked the site"
    )
    changed = fx.with_resource(changed, "a-suspect", ignored_reason="login wall")
    return build_context(changed, now=fx.NOW)


def test_need_attention_of_a_publisher_leaves_out_snoozed_and_ignored(
    data: ReportData, tmp_path: Path
) -> None:
    ctx = _set_aside_two(data)
    queued = [r for r in ctx.rows if r.publisher == "Example Publisher"]
    aside = [r for r in ctx.set_aside if r.publisher == "Example Publisher"]
    assert len(aside) == 2
    stats = next(s for s in ctx.publishers if s.name == "Example Publisher")
    assert stats.attention == len(queued)
    write_report(ctx, tmp_path, run_id=None)
    page = LexborHTMLParser((tmp_path / stats.page).read_text(encoding="utf-8"))
    facts = _facts(page)
    assert facts["Need attention"].startswith(f"{len(queued)} ")
    assert "2 snoozed or ignored" in facts["Need attention"]
    # The index's table says the same.
    index = LexborHTMLParser(render_html(ctx))
    row = '#publishers tr[data-name="Example Publisher"]'
    cell = index.css_first(f'{row} td[data-label="Need attention"]')
    assert cell is not None and _text(cell).startswith(str(len(queued)))


def test_need_attention_of_a_host_leaves_out_snoozed_and_ignored(data: ReportData) -> None:
    ctx = _set_aside_two(data)
    host = fx.row_of(ctx, "a-broken").host
    assert host
    stats = next(s for s in ctx.hosts if s.name == host)
    assert stats.attention == sum(r.host == host for r in ctx.rows)
    assert stats.set_aside == 1


def test_a_publishers_page_lists_the_queue_then_set_aside_then_the_rest(
    data: ReportData, tmp_path: Path
) -> None:
    ctx = _set_aside_two(data)
    write_report(ctx, tmp_path, run_id=None)
    stats = next(s for s in ctx.publishers if s.name == "Example Publisher")
    page = LexborHTMLParser((tmp_path / stats.page).read_text(encoding="utf-8"))
    listed = [tr.attributes.get("data-resource-id") for tr in page.css("#resources tbody tr")]
    queued = [r.resource_id for r in ctx.rows if r.publisher == "Example Publisher"]
    assert listed[: len(queued)] == queued
    assert set(listed[len(queued) : len(queued) + 2]) == {"a-broken", "a-suspect"}
    snoozed = page.css_first('#resources tr[data-resource-id="a-broken"]')
    assert snoozed is not None and "Snoozed until" in _text(snoozed)
    ignored = page.css_first('#resources tr[data-resource-id="a-suspect"]')
    assert ignored is not None and "Ignored" in _text(ignored)


# --- each fact said once ---------------------------------------------------------------


def _resource_page(ctx: ReportContext, rid: str) -> LexborHTMLParser:
    return LexborHTMLParser(render_resource_page(ctx, ResourcePage(fx.row_of(ctx, rid), ())))


def test_a_drifted_resources_page_gives_the_drift_reason_once(data: ReportData) -> None:
    reason = "The page now reads like a parked domain: 'this domain is for sale'"
    ctx = build_context(fx.with_resource(data, "a-ok-1", drift_reason=reason), now=fx.NOW)
    assert fx.row_of(ctx, "a-ok-1").priority is Priority.DRIFT
    main = _text(_resource_page(ctx, "a-ok-1").css_first("main"))
    assert main.count("this domain is for sale") == 1


def test_an_out_of_date_entrys_page_gives_its_reasons_once(data: ReportData) -> None:
    reasons = ("review overdue: last reviewed 2020-01-01",)
    ctx = build_context(fx.with_resource(data, "a-ok-1", stale_reasons=reasons), now=fx.NOW)
    assert fx.row_of(ctx, "a-ok-1").priority is Priority.STALE
    main = _text(_resource_page(ctx, "a-ok-1").css_first("main"))
    assert main.count("last reviewed 2020-01-01") == 1


@pytest.mark.parametrize("db", ["empty", "never checked"])
def test_a_report_with_nothing_checked_says_so_once(db: str, tmp_path: Path) -> None:
    engine = (
        fx.empty_db(tmp_path / "e.db")
        if db == "empty"
        else fx.never_checked_db(tmp_path / "n.db", 2)
    )
    ctx = build_context(report_data(engine), now=fx.NOW)
    assert ctx.nothing_checked and ctx.empty_notice
    main = _text(LexborHTMLParser(render_html(ctx)).css_first("main"))
    assert main.count("Nothing has been checked yet") == 1, main
    assert render_markdown(ctx).count("Nothing has been checked yet") == 1
    # Nothing was ever checked: no entry was "added since the last check".
    assert "since the last check" not in main


# --- links between pages ---------------------------------------------------------------


def _without(data: ReportData, *rids: str) -> ReportData:
    """`data` after `rids` were removed from the catalog."""
    rows = tuple(r for r in data.resources if r.resource_id not in rids)
    return dataclasses.replace(data, resources=rows)


def test_an_old_run_page_links_no_page_that_is_gone(data: ReportData, tmp_path: Path) -> None:
    # a-broken is queued on run 1's page; b-blocked is the only resource of its publisher.
    write_report(build_context(data, now=fx.NOW), tmp_path, run_id=1)
    before = (tmp_path / "run-1.html").read_text(encoding="utf-8")
    gone = fx.row_of(build_context(data, now=fx.NOW), "a-broken")
    assert f'href="{gone.page}"' in before
    later = build_context(_without(data, "a-broken", "b-blocked"), now=fx.NOW)
    write_report(later, tmp_path, run_id=2)
    assert not (tmp_path / gone.page).exists()  # its page is gone with it
    assert fx.dead_links(tmp_path / "run-1.html") == []
    assert fx.dead_links(tmp_path / "run-2.html") == []
    # Run 1's page still names it, as it stood then, but no longer as a link.
    old = LexborHTMLParser((tmp_path / "run-1.html").read_text(encoding="utf-8"))
    row = old.css_first('#attention tr[data-resource-id="a-broken"]')
    assert row is not None and gone.title in _text(row)
    assert row.css_first("a.title") is None
    # It says why it is not a link, in words a keyboard or a touch screen shows too: a
    # `title` (shown on hover alone) said it before.
    assert row.css_first("[title]") is None
    assert f"{gone.title} (no longer in the catalog)" in _text(row)
    # b-blocked's publisher had no other resource: its page went too.
    blocked = old.css_first('#attention tr[data-resource-id="b-blocked"]')
    assert blocked is not None
    assert "(its page is no longer part of the report)" in _text(blocked)
    assert old.css_first("body [title]") is None
    # Pages still there keep their links.
    kept = old.css_first('#attention tr[data-resource-id="a-moved"] a.title')
    assert kept is not None and kept.attributes["href"] == fx.row_of(later, "a-moved").page


def test_an_old_run_page_is_left_alone_when_no_page_went(data: ReportData, tmp_path: Path) -> None:
    ctx = build_context(data, now=fx.NOW)
    write_report(ctx, tmp_path, run_id=1)
    old = tmp_path / "run-1.html"
    os.utime(old, (1_000_000_000, 1_000_000_000))
    write_report(ctx, tmp_path, run_id=2)
    assert old.stat().st_mtime == 1_000_000_000


# --- one fix per entry -----------------------------------------------------------------


def _http_finding(rid: str) -> Finding:
    return Finding(
        code="http_url",
        level=Level.WARNING,
        collection="toolkit-a",
        resource_id=rid,
        file="toolkit-a.yaml",
        line=3,
        message="the URL uses http://",
        fix="switch to https://x.example/ if it serves the same page",
        command=f"linkhealth replace-url {rid} https://x.example/",
    )


def test_a_url_finding_defers_to_the_fix_of_a_link_in_the_queue(data: ReportData) -> None:
    # a-moved is to switch to where it moved (accept-redirect); a hygiene row saying
    # "replace-url with the https form" would contradict it, and undo it if run after.
    ctx = build_context(data, now=fx.NOW)
    assert fx.row_of(ctx, "a-moved").command and fx.row_of(ctx, "a-ok-1").priority is None
    found = with_findings(ctx, [_http_finding("a-moved"), _http_finding("a-ok-1")])
    rows = {f.resource_id: f for f in found.hygiene}
    assert rows["a-moved"].command is None
    assert "What to fix first" in rows["a-moved"].fix
    assert rows["a-ok-1"].command == _http_finding("a-ok-1").command  # nothing to defer to
    markdown = render_markdown(found)
    assert "replace-url a-moved https://x.example/" not in markdown
    # A fix a run has confirmed (the https form serves the same page) stays.
    kept = with_findings(ctx, [_http_finding("a-moved")], confirmed={("toolkit-a", "a-moved")})
    assert kept.hygiene[0].command == _http_finding("a-moved").command


def test_the_ok_total_does_not_say_nothing_to_do_of_links_in_the_queue(data: ReportData) -> None:
    # The headline counts an entry due a review "to review"; its link answers, so the
    # totals count it as OK, which must not say "nothing to do" of it. A drifted page is
    # counted as the queue files it, under "Page no longer matches its entry".
    changed = fx.with_resource(
        data, "a-ok-1", drift_reason="The page now looks like a parked domain"
    )
    changed = fx.with_resource(changed, "a-ok-2", stale_reasons=("review overdue",))
    ctx = build_context(changed, now=fx.NOW)
    ok = [r for r in ctx.resources if r.outcome == "ok"]
    queued = [r for r in ok if r.priority is not None and not r.set_aside]
    assert {r.priority for r in queued} == {Priority.DRIFT, Priority.STALE}
    (total,) = [t for t in ctx.totals if t.key == "ok"]
    assert total.count == len(ok) - 1
    assert "1 of them" in total.explanation
    assert Priority.DRIFT.heading not in total.explanation
    assert Priority.STALE.heading in total.explanation
    (drift,) = [t for t in ctx.totals if t.key == DRIFT_TOTAL]
    assert (drift.label, drift.count) == (Priority.DRIFT.heading, 1)


def test_a_drifted_page_is_not_ok_for_its_publisher_and_host(data: ReportData) -> None:
    # Its badge says "Page no longer matches" on the publisher's and host's page; their
    # "OK" share must not count it as working.
    before = build_context(data, now=fx.NOW)
    changed = fx.with_resource(
        data, "a-ok-1", drift_reason="The page now looks like a parked domain"
    )
    ctx = build_context(changed, now=fx.NOW)
    row = fx.row_of(ctx, "a-ok-1")
    assert row.status_badge[1] == "Page no longer matches"
    for kind in ("publishers", "hosts"):
        name = row.publisher if kind == "publishers" else row.host
        old = next(s for s in getattr(before, kind) if s.name == name)
        new = next(s for s in getattr(ctx, kind) if s.name == name)
        assert (new.checked, new.ok) == (old.checked, old.ok - 1)


def test_markdown_lists_only_publishers_with_problems_under_most_problems(
    data: ReportData,
) -> None:
    ctx = build_context(fx.with_resource(data, "b-ok-1", publisher="Quiet Publisher"), now=fx.NOW)
    quiet = next(s for s in ctx.publishers if s.name == "Quiet Publisher")
    assert (quiet.broken, quiet.attention) == (0, 0)
    markdown = render_markdown(ctx)
    section = markdown.split("## Publishers with the most problems", 1)[1].split("\n## ", 1)[0]
    assert "Quiet Publisher" not in section
    assert "Example Publisher" in section
    header = next(line for line in section.splitlines() if line.startswith("| Publisher"))
    assert "Need attention" in header  # as the HTML table: broken alone misses the rest


def _rate_limited(data: ReportData, checks: int) -> Row:
    changed = fx.with_resource(
        data,
        "a-ok-1",
        outcome=Outcome.RATE_LIMITED,
        outcome_value=Outcome.RATE_LIMITED.value,
        state="check_by_hand",
        since=fx.NOW - timedelta(days=checks),
        checks_since=checks,
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-ok-1")
    assert row.priority is Priority.LOOK and row.checks == checks
    return row


def test_a_link_rate_limited_check_after_check_is_not_told_to_wait_for_it_to_repeat(
    data: ReportData,
) -> None:
    # Once: it may be a busy night. Four checks in a row: "unless it keeps happening" has
    # happened; the curator is to look, and may stop the flagging for good.
    once = _rate_limited(data, 1)
    assert once.fix and "unless it keeps happening" in once.fix
    again = _rate_limited(data, 4)
    assert again.fix and "unless it keeps happening" not in again.fix
    assert "browser" in again.fix
    assert again.command and again.command.startswith("linkhealth ignore a-ok-1 --reason")


def test_an_ignored_link_is_not_told_to_be_ignored(data: ReportData, tmp_path: Path) -> None:
    # b-blocked's fix is `linkhealth ignore`; once ignored, every format must stop asking.
    before = fx.row_of(build_context(data, now=fx.NOW), "b-blocked")
    assert before.command and " ignore " in before.command
    ctx = build_context(
        fx.with_resource(data, "b-blocked", ignored_reason="login wall"), now=fx.NOW
    )
    row = fx.row_of(ctx, "b-blocked")
    assert row.set_aside
    assert not (row.command or "").startswith("linkhealth ignore")
    assert row.fix and "unignore" in row.fix
    page = _text(_resource_page(ctx, "b-blocked").css_first("main"))
    assert "stop flagging it" not in page
    # A snoozed one keeps its fix: the snooze only puts it off.
    later = fx.NOW + timedelta(days=3)
    snoozed = fx.row_of(
        build_context(fx.with_resource(data, "b-blocked", snoozed_until=later), now=fx.NOW),
        "b-blocked",
    )
    assert snoozed.command == before.command


def test_a_move_to_the_address_of_another_entry_says_so(engine: Engine, data: ReportData) -> None:
    # Switching a-moved to where it redirects would give toolkit-a two entries for one
    # page (a duplicate_url error at the next lint): the curator must know first.
    taken = fx.with_resource(data, "a-ok-1", url=fx.MOVED_TO)
    row = fx.row_of(build_context(taken, now=fx.NOW), "a-moved")
    assert row.fix and "a-ok-1" in row.fix
    assert "a-ok-1" in render_markdown(build_context(taken, now=fx.NOW))
    # The streamed queue head (the flow's artifact) says the same.
    shared = shared_resource_ids(engine)
    head = action_queue(iter(taken.resources), now=fx.NOW, shared_ids=shared, limit=99)
    assert head == list(build_context(taken, now=fx.NOW).rows)
    # Another catalog's entry at that address is no duplicate of this one.
    other = fx.with_resource(data, "b-ok-1", url=fx.MOVED_TO)
    assert "b-ok-1" not in (fx.row_of(build_context(other, now=fx.NOW), "a-moved").fix or "")


def test_a_publishers_page_says_why_a_working_link_needs_attention(
    data: ReportData, tmp_path: Path
) -> None:
    # "Need attention" counts an entry due a review; its badge says OK (the link works),
    # so its row must say what the attention is for.
    ctx = build_context(
        fx.with_resource(data, "a-ok-1", stale_reasons=("review overdue",)), now=fx.NOW
    )
    write_report(ctx, tmp_path, run_id=None)
    stats = next(s for s in ctx.publishers if s.name == "Example Publisher")
    page = LexborHTMLParser((tmp_path / stats.page).read_text(encoding="utf-8"))
    row = page.css_first('#resources tr[data-resource-id="a-ok-1"]')
    assert row is not None and Priority.STALE.heading in _text(row)
    plain = page.css_first('#resources tr[data-resource-id="a-ok-2"]')
    assert plain is not None and Priority.STALE.heading not in _text(plain)


def test_the_ok_total_does_not_say_nothing_to_do_of_a_snoozed_page_that_drifted(
    data: ReportData,
) -> None:
    # A snoozed page that no longer matches its entry is put off, not done with: the
    # headline counts it "set aside", not OK. The totals count it with the other page
    # that no longer matches its entry, saying it is snoozed, and the OK total, which
    # counts neither, says "nothing to do" of its rest only.
    changed = fx.with_resource(
        data, "a-ok-1", drift_reason="The page now looks like a parked domain"
    )
    changed = fx.with_resource(
        changed,
        "a-ok-2",
        drift_reason="The page now looks like a parked domain",
        snoozed_until=fx.NOW + timedelta(days=30),
        snooze_reason="waiting for the publisher",
    )
    ctx = build_context(changed, now=fx.NOW)
    assert (
        fx.row_of(ctx, "a-ok-2").set_aside and fx.row_of(ctx, "a-ok-2").priority is Priority.DRIFT
    )
    (total,) = [t for t in ctx.totals if t.key == "ok"]
    ok = [r for r in ctx.resources if r.outcome == "ok"]
    rest = [r for r in ok if r.priority is None]
    assert total.count == len(ok) - 2 and len(rest) == len(ok) - 2
    assert "in the queue all the same" not in total.explanation
    (drift,) = [t for t in ctx.totals if t.key == DRIFT_TOTAL]
    assert drift.count == 2
    assert "1 of them is snoozed or ignored" in drift.explanation


def test_a_url_finding_defers_to_the_fix_of_a_snoozed_link_too(data: ReportData) -> None:
    # A snooze only puts a broken link's fix off: its page still says to replace the URL,
    # so a hygiene row offering `replace-url` with the https form (of a dead domain, say)
    # contradicts it as it would for a queued link; it points to the link's own page.
    snoozed = fx.with_resource(
        data, "a-broken", snoozed_until=fx.NOW + timedelta(days=30), snooze_reason="rebuild"
    )
    ctx = build_context(snoozed, now=fx.NOW)
    row = fx.row_of(ctx, "a-broken")
    assert row.set_aside and row.priority is Priority.BROKEN and row.command
    (finding,) = with_findings(ctx, [_http_finding("a-broken")]).hygiene
    assert finding.command is None
    assert "snoozed" in finding.fix and "its page" in finding.fix
    # An ignored link was judged fine by a person: its tidying stands.
    ignored = fx.with_resource(data, "a-broken", ignored_reason="works in a browser")
    ctx = build_context(ignored, now=fx.NOW)
    (finding,) = with_findings(ctx, [_http_finding("a-broken")]).hygiene
    assert finding.command == _http_finding("a-broken").command


# --- out of date: the reasons read as sentences, and the fix answers them ---------------

_NEVER_REVIEWED = (
    "Never reviewed since it was added on 2023-01-01; re-read the resource, check its title "
    "and description still fit, and mark it reviewed."
)
_OLD_EDITION = (
    "The newest year the entry names is 2012 (in its title), more than 5 years ago; look for "
    "a newer edition and link it, or, if this one is kept on purpose, mark the entry reviewed."
)
_UNVERIFIED = (
    "No check has succeeded since the link was added on 2025-02-01; open the link by hand "
    "and, if it is gone, find the resource's new address."
)


def test_an_entry_out_of_date_for_two_reasons_reads_as_two_sentences(
    data: ReportData, tmp_path: Path
) -> None:
    """Each reason is a sentence of its own: joined with "; " they read "... mark it
    reviewed.; The newest year ..." in every format."""
    stale = fx.with_resource(
        data,
        "a-ok-1",
        stale_reasons=(_NEVER_REVIEWED, _OLD_EDITION),
        stale_codes=("review_overdue", "dated"),
    )
    ctx = build_context(stale, now=fx.NOW)
    row = fx.row_of(ctx, "a-ok-1")
    both = f"{_NEVER_REVIEWED} {_OLD_EDITION}"
    assert row.seen == both
    markdown = render_markdown(ctx)
    assert ".;" not in markdown and both in markdown
    write_report(ctx, tmp_path, run_id=None, formats=("html", "csv"))
    assert ".;" not in (tmp_path / "latest.csv").read_text(encoding="utf-8")
    index = LexborHTMLParser((tmp_path / "index.html").read_text(encoding="utf-8"))
    assert both in _text(index.css_first("main"))
    # On the page of a resource queued for something else, under "Possibly out of date".
    broken = build_context(
        fx.with_resource(data, "a-broken", stale_reasons=(_NEVER_REVIEWED, _OLD_EDITION)),
        now=fx.NOW,
    )
    assert _facts(_resource_page(broken, "a-broken"))["Possibly out of date"] == both


def test_a_link_no_check_has_reached_is_not_told_that_a_review_answers_it(
    data: ReportData,
) -> None:
    """`mark-reviewed` answers a review that is due or an old edition, never "no check has
    succeeded": that one only a check reaching the link clears. Told to record a review,
    the curator would run the command and find the entry in the queue the next night."""
    unverified = fx.with_resource(
        data, "b-new", stale_reasons=(_UNVERIFIED,), stale_codes=("unverified",)
    )
    row = fx.row_of(build_context(unverified, now=fx.NOW), "b-new")
    assert row.priority is Priority.STALE
    assert row.fix and "review" not in row.fix and "browser" in row.fix
    assert row.command == "linkhealth replace-url b-new NEW_URL" and row.command_needs_input
    # Due a review as well: the review is recorded, and the link opened by hand all the same.
    both = fx.with_resource(
        data,
        "b-new",
        stale_reasons=(_UNVERIFIED, _NEVER_REVIEWED),
        stale_codes=("unverified", "review_overdue"),
    )
    row = fx.row_of(build_context(both, now=fx.NOW), "b-new")
    assert row.command == "linkhealth mark-reviewed b-new"
    assert row.fix and "browser" in row.fix and "review" in row.fix
    # Only a review due: as before.
    due = fx.with_resource(
        data, "a-ok-1", stale_reasons=(_NEVER_REVIEWED,), stale_codes=("review_overdue",)
    )
    row = fx.row_of(build_context(due, now=fx.NOW), "a-ok-1")
    assert row.command == "linkhealth mark-reviewed a-ok-1" and "browser" not in (row.fix or "")


def test_the_page_of_an_entry_out_of_date_whose_link_works_says_whose_since_it_is(
    data: ReportData,
) -> None:
    """The index leaves "since" and checks blank for an entry queued for itself alone (the
    exports keep the link's): its page said "What we saw: Never reviewed ...", then "Since
    a month ago, 30 checks", as if the entry had been out of date since the link's last
    change. It is the link's: working since then."""
    stale = fx.with_resource(
        data,
        "a-ok-1",
        stale_reasons=(_NEVER_REVIEWED,),
        stale_codes=("review_overdue",),
        since=fx.days_ago(30),  # OK since its first check
        checks_since=30,
    )
    ctx = build_context(stale, now=fx.NOW)
    assert fx.row_of(ctx, "a-ok-1").entry_only
    facts = _facts(_resource_page(ctx, "a-ok-1"))
    assert "Since" not in facts
    working = facts["Link working since"]
    assert working.startswith("a month ago") and "2025-02-08" in working
    assert working.endswith("30 checks")
    # A link in trouble keeps its "Since".
    assert "Since" in _facts(_resource_page(ctx, "a-broken"))


def test_out_of_date_entries_whose_link_may_be_gone_come_first(data: ReportData) -> None:
    """Within "Possibly out of date", a link no check has succeeded on for weeks may be
    dead, and visitors find out before the curator does; an entry due a review whose link
    works can wait. The first came last, behind every working link (it has no "since")."""
    changed = fx.with_resource(
        data,
        "a-ok-1",
        stale_reasons=(_NEVER_REVIEWED,),
        stale_codes=("review_overdue",),
        since=fx.days_ago(30),
    )
    changed = fx.with_resource(
        changed, "b-new", stale_reasons=(_UNVERIFIED,), stale_codes=("unverified",)
    )
    ctx = build_context(changed, now=fx.NOW)
    (group,) = [g for g in ctx.groups if g.priority is Priority.STALE]
    assert [r.resource_id for r in group.rows] == ["b-new", "a-ok-1"]
    assert "no check has succeeded" in group.description  # the order, said
    assert [r.resource_id for r in ctx.rows][-2:] == ["b-new", "a-ok-1"]


def test_a_private_address_is_not_told_to_be_ignored_if_it_opens_in_a_browser(
    data: ReportData,
) -> None:
    """A catalog entry pointing into a private network (a file share's address pasted in)
    opens in the curator's browser at the office, and in no visitor's. "Open it in a
    browser; if it works, tell linkhealth to stop flagging it" hid it for good."""
    changed = fx.with_resource(
        data,
        "a-ok-1",
        outcome=Outcome.PRIVATE_ADDRESS,
        outcome_value=Outcome.PRIVATE_ADDRESS.value,
        state="check_by_hand",
        since=fx.days_ago(2),
        checks_since=2,
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-ok-1")
    assert row.priority is Priority.LOOK
    assert row.fix and "if it works" not in row.fix
    assert "Visitors" in row.fix and "private_allowlist" in row.fix
    assert row.command == "linkhealth replace-url a-ok-1 NEW_URL" and row.command_needs_input


def test_two_resources_of_the_same_title_have_pages_told_apart_by_their_tab(
    data: ReportData,
) -> None:
    # Two entries titled alike (a hotline listed in both toolkits, a report and its
    # translation) had resource pages of one <title>: a curator with both open in tabs,
    # or finding one in the browser's history, could not tell which was which. The tab
    # still starts with the title; the resource's id and its collection follow.
    twin = fx.row_of(build_context(data, now=fx.NOW), "a-broken").title
    ctx = build_context(fx.with_resource(data, "b-ok-1", title=twin), now=fx.NOW)
    titles = {}
    for rid in ("a-broken", "b-ok-1"):
        node = _resource_page(ctx, rid).css_first("title")
        assert node is not None
        titles[rid] = node.text()
    assert titles == {
        "a-broken": f"{twin} · a-broken · Anti-Trafficking Toolkit · Link health report",
        "b-ok-1": f"{twin} · b-ok-1 · Second Toolkit · Link health report",
    }


def test_a_site_unavailable_check_after_check_is_not_said_to_work_in_a_browser(
    data: ReportData,
) -> None:
    """A site left in maintenance answers 503 to browsers too: its fix said "works in a
    browser; rate-limits automated checks" as a 429's does (r6)."""
    changed = fx.with_resource(
        data,
        "a-ok-1",
        outcome=Outcome.RATE_LIMITED,
        outcome_value=Outcome.RATE_LIMITED.value,
        http_status=503,
        state="check_by_hand",
        since=fx.NOW - timedelta(days=4),
        checks_since=4,
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-ok-1")
    # Nor to answer automated checks alone (f4): no `ignore` at all, nothing to do
    # unless it lasts.
    assert row.fix and "unavailable for now" in row.fix and "unless it lasts" in row.fix
    assert row.command is None
    limited = _rate_limited(data, 4)  # a 429: the site turns the checker away
    assert limited.command and "rate-limits" in limited.command
    assert limited.fix and "unavailable for now" not in limited.fix
