"""Outside text as an island: a page title, an address or a curator's reason quoted in a
sentence of ours never turns our words around, nor is turned around by them.

Right-to-left text (Hebrew below) moves the neutral characters beside it: in "title “A” →
“B”" two Hebrew titles read B before A, and an address holding Hebrew shows its parts
reordered. The HTML isolates each such piece (`<bdi>`, `dir="ltr"` for an address), a
plain-text line (the webhook's) between FSI (LRI) and PDI; explicit embeddings, overrides
and isolates of the text itself go, so that only ours pair up. ASCII text, which can move
nothing, is shown as it was, byte for byte (the goldens of test_report_formats pin that).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode
from sqlalchemy import Engine

from catalog.ops import EVENT_RUN_REFUSED
from catalog.queries import EventRow, ObservationRow, ReportData, report_data
from catalog.text import FSI, LRI, PDI, isolated, quotations_isolated
from flows.events import emit_refusal
from reports import build_context, render_html, render_markdown
from reports.context import HygieneRow, ResourcePage
from reports.history import history_items
from reports.html_rows import ext, finding_rows, history_rows
from reports.render import md_code, render_group_page, render_resource_page
from tests import report_fixtures as fx

#: Explicit bidirectional embeddings, overrides and isolates (and their ends).
BIDI_EXPLICIT = re.compile("[\u202a-\u202e\u2066-\u2069]")
#: Hebrew: "old page", "new page", "page", "reason".
OLD, NEW, PAGE, WHY = "דף ישן", "דף חדש", "דף", "סיבה"
#: An address holding right-to-left characters.
HEBREW_URL = f"https://example.org/{PAGE}/{WHY}"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("islands") / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    return report_data(engine)


def _bdi(node: LexborNode | None) -> list[tuple[str, str | None]]:
    """The text and `dir` of each `<bdi>` under `node`, but those inside another (the
    parts of an address, `test_an_address_s_parts_are_isolated_in_order`)."""
    assert node is not None
    outer = [b for b in node.css("bdi") if b.parent is None or b.parent.tag != "bdi"]
    return [(b.text(), b.attributes.get("dir")) for b in outer]


def test_plain_text_isolates_outside_text_and_leaves_ascii_alone() -> None:
    assert isolated("Annual report 2024") == "Annual report 2024"
    assert isolated(f"{OLD}\u202e") == f"{FSI}{OLD}{PDI}"
    assert isolated(HEBREW_URL, ltr=True) == f"{LRI}{HEBREW_URL}{PDI}"
    ascii_reason = "the page's title says “Not found” (page title 'Children's Fund')"
    assert quotations_isolated(ascii_reason) == ascii_reason
    # The apostrophe of "page's" opens no quotation, that of "Children's" closes none.
    said = f"the page's title says “{OLD}\u202e”; page title 'Children's {NEW}'; done"
    assert quotations_isolated(said) == (
        f"the page's title says “{FSI}{OLD}{PDI}”; page title '{FSI}Children's {NEW}{PDI}'; done"
    )
    # One level of quotation inside a quotation stays in it; an unclosed one isolates nothing.
    assert quotations_isolated(f"says “a “{OLD}” b”.") == f"says “{FSI}a “{OLD}” b{PDI}”."
    assert quotations_isolated(f"says “{OLD}") == f"says “{OLD}"


def _event(i: int, kind: str, details: dict[str, Any]) -> EventRow:
    return EventRow(i, fx.days_ago(i), kind, None, 1, 1, details)


def test_the_history_isolates_the_titles_addresses_and_reasons_its_details_quote() -> None:
    """A resource page's history said them bare: two Hebrew page titles in "title “A” →
    “B”" read B before A, an address's parts showed reordered, an override in a page's
    title quoted by a check's reason turned the rest of the line around."""
    check = ObservationRow(
        1,
        1,
        1,
        "https://example.org/",
        fx.days_ago(1),
        "soft_404",
        f"the page's title says “{PAGE}\u202e 404”",
        200,
        None,
        120,
        "text/html",
        1000,
        PAGE,
    )
    events = [
        _event(2, "content_changed", {"old_title": OLD, "new_title": NEW}),
        _event(3, "url_edited", {"old": HEBREW_URL, "new": "https://example.org/new"}),
        _event(4, "snooze_ended", {"until": "2025-03-01T00:00:00", "reason": WHY}),
        _event(5, "title_changed", {"old": OLD, "new": NEW}),
        _event(6, "added", {"url": "https://example.org/plain"}),
    ]
    html = str(history_rows(history_items((check,), events, fx.NOW)))
    assert not BIDI_EXPLICIT.search(html)
    rows = {
        r.attributes["data-kind"]: r.css_first('td[data-label="Details"]')
        for r in LexborHTMLParser(f"<table>{html}</table>").css("tr")
    }
    assert _bdi(rows["check"]) == [(f"{PAGE} 404", None)]
    assert rows["check"].text() == f"the page's title says “{PAGE} 404”"  # type: ignore[union-attr]
    assert _bdi(rows["content_changed"]) == [(OLD, None), (NEW, None)]
    assert rows["content_changed"].text() == f"title “{OLD}” → “{NEW}”"  # type: ignore[union-attr]
    assert _bdi(rows["url_edited"]) == [(HEBREW_URL, "ltr")]
    assert _bdi(rows["snooze_ended"]) == [(WHY, None)]
    assert _bdi(rows["title_changed"]) == [(OLD, None), (NEW, None)]
    # ASCII says the same as ever: no markup added.
    assert '<td data-label="Details">https://example.org/plain</td>' in html


def test_what_we_saw_isolates_the_page_text_a_reason_quotes(
    engine: Engine, data: ReportData
) -> None:
    """A reason in "What we saw" quotes a page's title or text ("the page's title says
    “...”", a drift's "page title '...'"): a right-to-left one moved our words around it
    in the queue and on the resource page, and an override in it turned the rest around."""
    reason = f"the page's title says “{PAGE}\u202e 404”"
    drift = f"The page no longer matches the entry (page title '{OLD}'); check it."
    changed = fx.with_resource(data, "a-broken", reason=reason, drift_reason=drift)
    ctx = build_context(changed, now=fx.NOW)
    index = render_html(ctx)
    assert not BIDI_EXPLICIT.search(index)
    row = LexborHTMLParser(index).css_first('#attention tr[data-resource-id="a-broken"]')
    assert row is not None
    seen = row.css_first('td[data-label="What we saw"]')
    assert (f"{PAGE} 404", None) in _bdi(seen)
    assert f"the page's title says “{PAGE} 404”" in seen.text()  # type: ignore[union-attr]
    page = render_resource_page(ctx, ResourcePage(fx.row_of(ctx, "a-broken"), ()))
    assert not BIDI_EXPLICIT.search(page)
    facts = LexborHTMLParser(page).css_first("#facts")
    assert facts is not None
    shown = {dt.text(): dt.next for dt in facts.css("dt")}
    assert _bdi(shown["What we saw"]) == [(f"{PAGE} 404", None)]
    assert _bdi(shown["Content drift"]) == [(OLD, None)]


def test_a_hygiene_finding_isolates_the_catalog_text_it_quotes() -> None:
    """A finding quotes a title or a field name ("title almost the same as ID ('...')"):
    with a right-to-left id, a right-to-left title joined its run, " ('" and all, and was
    drawn before it (Chromium: left of the id)."""
    finding = HygieneRow(
        level="warning",
        code="near_duplicate",
        collection="toolkit-a",
        resource_id="a-1",
        where="toolkit-a.yaml:3",
        message=f"title almost the same as {WHY} ('{OLD}\u202e'), with another URL",
        fix=f"rename '{PAGE}' to '{WHY}'",
        command=None,
    )
    row = LexborHTMLParser(f"<table>{finding_rows([finding])}</table>")
    assert _bdi(row.css_first('td[data-label="What is wrong"]')) == [(OLD, None)]
    assert _bdi(row.css_first('td[data-label="Suggested fix"]')) == [(PAGE, None), (WHY, None)]
    assert not BIDI_EXPLICIT.search(str(finding_rows([finding])))


def test_an_address_holding_right_to_left_text_reads_left_to_right(
    engine: Engine, data: ReportData
) -> None:
    """An address is laid out left to right and apart (`dir="ltr"`), in the queue, the
    resource page, a publisher's page and the list of changes; an ASCII one as before."""
    changed = fx.with_resource(data, "a-broken", url=HEBREW_URL, final_url=HEBREW_URL + "/x")
    ctx = build_context(changed, now=fx.NOW)
    index = LexborHTMLParser(render_html(ctx))
    row = index.css_first('#attention tr[data-resource-id="a-broken"]')
    assert row is not None
    urls = {n.text(): n.attributes.get("dir") for n in row.css(".url, td a, td span")}
    assert urls[HEBREW_URL] == "ltr" and urls[HEBREW_URL + "/x"] == "ltr"
    ascii_row = index.css_first('#attention tr[data-resource-id="a-moved"] .url')
    assert ascii_row is not None and "dir" not in ascii_row.attributes
    page = LexborHTMLParser(render_resource_page(ctx, ResourcePage(fx.row_of(ctx, "a-broken"), ())))
    assert {n.attributes.get("dir") for n in page.css("#facts .url")} == {"ltr"}
    stats = next(s for s in ctx.publishers if s.name == "Example Publisher")
    group = LexborHTMLParser(render_group_page(ctx, stats, [fx.row_of(ctx, "a-broken")]))
    (url,) = group.css("#resources .url")
    assert url.text() == HEBREW_URL and url.attributes.get("dir") == "ltr"


def test_an_address_s_parts_are_isolated_in_order() -> None:
    """Right-to-left parts of an address with only "/" (or ".", "?", "=") between them
    read as one right-to-left run, `dir="ltr"` or not: "https://x.org/דף/סיבה" showed
    ".../סיבה/דף". Each part is isolated (test_report_browser sees them drawn in order);
    an ASCII address is written as it was."""
    href = "https://example.org/x"
    assert str(ext("https://example.org/x?a=1&b=2", href)) == (
        f'<a class="url" href="{href}" rel="noopener noreferrer nofollow">'
        "https://example.org/x?a=1&amp;b=2</a>"
    )
    assert str(ext(f"https://{PAGE}.example/{PAGE}/{WHY}\u202e?q={OLD}&x=1", None)) == (
        '<span class="url" dir="ltr">'
        f"https://<bdi>{PAGE}</bdi>.example/<bdi>{PAGE}</bdi>/<bdi>{WHY}</bdi>"
        f"?q=<bdi>{OLD}</bdi>&amp;x=1</span>"
    )


def test_a_changes_addresses_read_left_to_right(data: ReportData) -> None:
    events = tuple(
        dataclasses.replace(e, details={**e.details, "old": HEBREW_URL})
        if e.kind == "url_edited"
        else e
        for e in data.changes
    )
    ctx = build_context(dataclasses.replace(data, changes=events), now=fx.NOW)
    edit = LexborHTMLParser(render_html(ctx)).css_first('#changes li[data-kind="url_edited"]')
    assert edit is not None
    assert _bdi(edit.css_first(".before-after")) == [
        (HEBREW_URL, "ltr"),
        ("https://walled.example.org/", None),
    ]


def test_markdown_code_spans_hold_no_bidi_control() -> None:
    """A code span shows its text as it is: an override in a command's id or address
    turned the command and the rest of its table row around. The HTML's command leaves
    it out too."""
    assert md_code("linkhealth snooze a\u202eb --until 2025-04-01") == (
        "`linkhealth snooze ab --until 2025-04-01`"
    )


def test_the_markdown_report_s_commands_hold_no_bidi_control(data: ReportData) -> None:
    changed = fx.with_resource(data, "a-broken", resource_id="a-bro\u202eken")
    text = render_markdown(build_context(changed, now=fx.NOW), limit=None)
    assert not BIDI_EXPLICIT.search(text)
    assert "a-broken" in text


def test_the_webhook_reason_isolates_what_it_quotes(
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    """A refusal's reason quotes the curator's file: an override in a title turned the
    chat line after it around ("(and 2 more: ...)" read backwards), and a right-to-left
    id moves our words. The payload's reason has no override, each quotation isolated."""
    reason = (
        f"the catalog has errors: toolkit.yaml:7: the id '{PAGE}\u202e' is used twice "
        "(and 2 more: `linkhealth catalog validate` lists them)"
    )
    assert emit_refusal(reason, trigger="schedule")
    ((event, payload),) = sent_events
    assert event == EVENT_RUN_REFUSED
    assert payload["reason"] == (
        f"the catalog has errors: toolkit.yaml:7: the id '{FSI}{PAGE}{PDI}' is used twice "
        "(and 2 more: `linkhealth catalog validate` lists them)"
    )
    ascii_reason = "the catalog has an error: toolkit.yaml:7: title: 'A' twice"
    assert emit_refusal(ascii_reason, trigger="schedule")
    assert sent_events[1][1]["reason"] == ascii_reason
