"""Every report format, pinned by golden files, and escaped against hostile web text.

The goldens in tests/golden/ are the exact output for the fixed database of
`tests.report_fixtures` at its fixed clock. After an intended change of the report,
regenerate them and review the diff:

    LINKHEALTH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_formats.py
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import markupsafe
import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine

from catalog.hygiene import Finding, Level
from catalog.queries import ReportData, history_events, iter_link_history, report_data
from reports import (
    build_context,
    html_rows,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    site,
)
from reports import render as render_module
from reports.build import resource_pages
from reports.context import ReportContext, Row, When
from reports.render import (
    CSV_COLUMNS,
    csv_cell,
    render_group_page,
    render_resource_page,
    write_json,
)
from tests import report_fixtures as fx

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LINKHEALTH_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("formats") / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    return report_data(engine)


FINDINGS = (
    Finding(
        code="http_url",
        level=Level.WARNING,
        collection="toolkit-a",
        resource_id="a-ok-1",
        file="toolkit-a.yaml",
        line=12,
        message="The URL uses http://<script>alert(1)</script>",
        fix="Use the https form if it serves the same page.",
        command="linkhealth replace-url a-ok-1 https://a.example/ok-1",
    ),
    Finding(
        code="missing_year",
        level=Level.INFO,
        collection="toolkit-a",
        resource_id="a-ok-2",
        file="toolkit-a.yaml",
        line=20,
        message="No year.",
        fix="Add a year.",
    ),
)


@pytest.fixture(scope="module")
def ctx(data: ReportData) -> ReportContext:
    return build_context(data, now=fx.NOW, findings=FINDINGS)


def hostile_page(
    engine: Engine, data: ReportData, ctx: ReportContext, rid: str = "a-hostile"
) -> str:
    by_resource, by_link = history_events(engine)
    pages = resource_pages(data, ctx, iter_link_history(engine), by_resource, by_link, now=fx.NOW)
    page = next(p for p in pages if p.row.resource_id == rid)
    return render_resource_page(ctx, page)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    assert path.is_file(), f"missing golden {name}; run with LINKHEALTH_UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8"), (
        f"{name} differs from its golden; if intended, regenerate with LINKHEALTH_UPDATE_GOLDEN=1"
    )


# --- goldens ---------------------------------------------------------------------------------


def test_html_index_matches_golden(ctx: ReportContext) -> None:
    check_golden("index.html", render_html(ctx, beside=("md", "csv", "json")))


def test_html_resource_page_matches_golden(
    engine: Engine, data: ReportData, ctx: ReportContext
) -> None:
    check_golden("resource-a-broken.html", hostile_page(engine, data, ctx, "a-broken"))


def test_html_publisher_page_matches_golden(ctx: ReportContext) -> None:
    stats = next(s for s in ctx.publishers if s.name == "Example Publisher")
    rows = [r for r in ctx.resources if r.publisher == stats.name]
    check_golden("publisher.html", render_group_page(ctx, stats, rows))


def test_markdown_matches_golden(ctx: ReportContext) -> None:
    check_golden("latest.md", render_markdown(ctx))


def test_csv_matches_golden(ctx: ReportContext) -> None:
    check_golden("latest.csv", render_csv(ctx))


def test_json_matches_golden(ctx: ReportContext) -> None:
    check_golden("latest.json", render_json(ctx, pretty=True))


# --- hostile text, every format --------------------------------------------------------------


def test_html_shows_hostile_titles_as_text_everywhere(
    engine: Engine, data: ReportData, ctx: ReportContext
) -> None:
    for text in (render_html(ctx), hostile_page(engine, data, ctx)):
        assert fx.HOSTILE not in text
        tree = LexborHTMLParser(text)
        assert tree.css("script") == []
        assert tree.body is not None and fx.HOSTILE in tree.body.text()


#: Explicit bidirectional embeddings, overrides and isolates (and their ends).
BIDI_EXPLICIT = re.compile("[\u202a-\u202e\u2066-\u2069]")


def test_bidi_controls_in_outside_text_never_reach_the_html(
    engine: Engine, data: ReportData
) -> None:
    """An override in a title turned the rest of its line around ("Guide\u202e" in the
    list of changes: "a-broken: Confirmed broken" read "nekorb demrifnoC :nekorb-a") and
    its own words ("Guide \u202eevil\u202c" read "Guide live"). Explicit embeddings,
    overrides and isolates are invisible and never needed where the text is isolated
    (below); they are left out, the words kept."""
    changed = fx.with_resource(
        data,
        "a-broken",
        title="Guide \u202eevil\u202c to \u2067Hotlines",
        page_title="Shop\u202e 404",
        publisher="\u202dPublisher\u2069",
        drift_reason="The page says \u202enot",
    )
    ctx = build_context(changed, now=fx.NOW)
    stats = next(s for s in ctx.publishers if s.name == "\u202dPublisher\u2069")
    pages = {
        "index": render_html(ctx),
        "resource": hostile_page(engine, changed, ctx, "a-broken"),
        "publisher": render_group_page(ctx, stats, [fx.row_of(ctx, "a-broken")]),
    }
    for name, text in pages.items():
        assert not BIDI_EXPLICIT.search(text), name
        assert "Guide evil to Hotlines" in LexborHTMLParser(text).text(), name


def test_bidi_controls_in_outside_text_never_reach_the_markdown(data: ReportData) -> None:
    """The Markdown report is read as HTML too (the Prefect artifact, a repository's
    viewer), where "Guide\u202e" turned the id and the sentence after it around in the
    list of changes; Markdown has no element to isolate it in, so the controls go."""
    changed = fx.with_resource(data, "a-broken", title="Guide \u202eevil\u202c\u2067")
    text = render_markdown(build_context(changed, now=fx.NOW), limit=None)
    assert not BIDI_EXPLICIT.search(text)
    assert "Guide evil (a-broken)" in text


def test_outside_text_is_isolated_from_its_neighbours_in_the_html(
    engine: Engine, data: ReportData
) -> None:
    """A right-to-left title, page title or publisher is laid out apart (`dir="auto"`, or
    `<bdi>` inside our own quotes): its direction never moves the id, URL or status next
    to it, nor takes over the heading it is in."""
    changed = fx.with_resource(data, "a-broken", page_title="\u05d3\u05e3 404")
    ctx = build_context(changed, now=fx.NOW)
    index = LexborHTMLParser(render_html(ctx))
    row = index.css_first('#attention tr[data-resource-id="a-broken"]')
    assert row is not None
    assert row.css_first("a.title").attributes.get("dir") == "auto"  # type: ignore[union-attr]
    publisher = next(a for a in row.css("a") if a.text() == "Example Publisher")
    assert publisher.attributes.get("dir") == "auto"
    (page_title,) = [b.text() for b in row.css('td[data-label="What we saw"] bdi')]
    assert page_title == "\u05d3\u05e3 404"
    resource = LexborHTMLParser(hostile_page(engine, changed, ctx, "a-broken"))
    assert resource.css_first("h1").attributes.get("dir") == "auto"  # type: ignore[union-attr]
    facts = [b.text() for b in resource.css("#facts bdi")]
    assert facts == ["Anti-Trafficking Toolkit", "\u05d3\u05e3 404"]
    stats = next(s for s in ctx.publishers if s.name == "Example Publisher")
    group = LexborHTMLParser(render_group_page(ctx, stats, [fx.row_of(ctx, "a-broken")]))
    assert group.css_first("h1").attributes.get("dir") == "auto"  # type: ignore[union-attr]
    assert group.css_first('[aria-current="page"]').attributes.get("dir") == "auto"  # type: ignore[union-attr]
    assert group.css_first("#resources a.title").attributes.get("dir") == "auto"  # type: ignore[union-attr]


def test_quoted_titles_and_collections_are_isolated_in_the_html(
    engine: Engine, data: ReportData
) -> None:
    """Outside text our own words quote or name: the page titles of a change sentence
    (two right-to-left ones in “A” → “B” read "B" before "A"), a change's addresses, the
    collection an id is in, and the collection titles of the queue, the resource page and
    the catalog list; each in `<bdi>`. The `<title>` element can hold no markup: its text
    says the same, with no tag in it and no explicit bidirectional control. Markdown and
    JSON say the sentence as it was, with no markup."""
    old, new, kit = (
        "\u05d3\u05e3 \u05d9\u05e9\u05df",
        "\u05d3\u05e3 \u05d7\u05d3\u05e9",
        "\u05e2\u05e8\u05db\u05d4",
    )
    changed = fx.with_resource(data, "a-broken", collection_title=kit + "\u202e")
    # Another catalog's "b-blocked": its edit names the collection it is in.
    changed = fx.with_resource(changed, "a-ok-1", resource_id="b-blocked")
    events = []
    for e in changed.changes:
        if e.kind == "content_changed":
            e = dataclasses.replace(e, details={**e.details, "old_title": old, "new_title": new})
        if e.kind == "url_edited":
            e = dataclasses.replace(e, collection_title=kit)
        events.append(e)
    collections = tuple(
        dataclasses.replace(c, title=kit) if c.key == "toolkit-a" else c
        for c in changed.collections
    )
    changed = dataclasses.replace(changed, changes=tuple(events), collections=collections)
    ctx = build_context(changed, now=fx.NOW)
    index = LexborHTMLParser(render_html(ctx))
    item = index.css_first('#changes li[data-kind="content_changed"]')
    assert item is not None
    assert [b.text() for b in item.css("bdi")] == [old, new]
    assert f"title “{old}” → “{new}”; size" in item.text()
    edit = index.css_first('#changes li[data-kind="url_edited"]')
    assert edit is not None
    assert [b.text() for b in edit.css("bdi")] == [
        kit,
        "https://walled.example.org/x",
        "https://walled.example.org/",
    ]
    assert f"b-blocked in {kit}: URL edited." in edit.text()
    row = index.css_first('#attention tr[data-resource-id="a-broken"]')
    assert row is not None
    (names,) = [d for d in row.css("div.small") if d.css_first("span.id") is not None]
    assert [b.text() for b in names.css("bdi")] == [kit]
    catalogs = index.css_first('li[data-collection="toolkit-a"] bdi')
    assert catalogs is not None and catalogs.text() == kit
    page = hostile_page(engine, changed, ctx, "a-broken")
    resource = LexborHTMLParser(page)
    crumbs = [b.text() for b in resource.css("nav bdi, header bdi")]
    assert kit in crumbs
    assert resource.css("#facts bdi")[0].text() == kit
    (title,) = re.findall(r"<title>(.*?)</title>", page)
    assert title == f"Title of a-broken · a-broken · {kit} · Link health report"
    markdown = render_markdown(ctx, limit=None)
    assert f"title “{old}” → “{new}”" in markdown and "bdi" not in markdown
    json_changes = json.loads(render_json(ctx))["changes"]["sections"]
    (changed_item,) = [
        i for s in json_changes for i in s["items"] if i["kind"] == "content_changed"
    ]
    assert f"title “{old}” → “{new}”" in changed_item["summary"] and "quoted" not in changed_item


def test_markdown_never_carries_raw_html(ctx: ReportContext) -> None:
    assert "<script" not in render_markdown(ctx, limit=None)


@pytest.mark.parametrize(
    "title", ["# All links work", "### Fine", "1. Fine", "- a", "+ b", "~~~", "~~~~"]
)
def test_a_title_opens_no_block_in_the_markdown_lists(data: ReportData, title: str) -> None:
    """The list of changes starts an item with the resource's title: "# All links work" was
    a heading in it, "1. Fine" a list within it, "~~~" a code block."""
    from markdown_it import MarkdownIt

    changes = tuple(
        dataclasses.replace(e, resource_title=title) if e.resource_id == "b-blocked" else e
        for e in data.changes
    )
    ctx = build_context(dataclasses.replace(data, changes=changes), now=fx.NOW)
    md = render_markdown(ctx, limit=None)
    tree = LexborHTMLParser(MarkdownIt("commonmark").enable("table").render(md))
    (item,) = [li for li in tree.css("li") if "(b-blocked): URL edited." in li.text()]
    assert item.text().startswith(f"{title} (b-blocked)"), item.html
    assert item.css("h1, h2, hr, ol, ul, pre") == [], item.html
    assert len(tree.css("h1")) == 1 and tree.css("hr") == []


def test_csv_neutralises_formulas_and_keeps_the_text(ctx: ReportContext) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(ctx))))
    assert tuple(rows[0]) == CSV_COLUMNS
    blocked = next(r for r in rows if r["id"] == "b-blocked")
    assert blocked["title"] == "'" + fx.FORMULA_TITLE
    assert blocked["publisher"] == "'" + fx.FORMULA_PUBLISHER
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    hostile = next(r for r in rows if r["id"] == "a-hostile")
    assert hostile["page_title"] == fx.HOSTILE  # text kept as is: CSV is not markup


@pytest.mark.parametrize("value", ["=1+1", "+A1", "-A1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cell_prefixes_formula_starts(value: str) -> None:
    assert csv_cell(value) == "'" + value


def test_csv_lists_the_queue_first_in_rank_order(ctx: ReportContext) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(ctx))))
    ranked = [r["id"] for r in rows if r["rank"]]
    assert tuple(ranked) == fx.EXPECTED_ATTENTION
    assert len(rows) == sum(fx.EXPECTED_TOTALS.values())


def test_json_is_written_as_json_dumps_writes_the_whole_document(ctx: ReportContext) -> None:
    """`write_json` writes the document a record at a time: byte for byte what one
    `json.dumps` of it makes (compact and pretty), with `<`, `>` and `&` escaped."""

    def dumped(doc: object, pretty: bool) -> str:
        text = json.dumps(
            doc,
            ensure_ascii=False,
            indent=1 if pretty else None,
            separators=(",", ": ") if pretty else (",", ":"),
        )
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"

    for pretty in (False, True):
        text = render_json(ctx, pretty=pretty)
        assert text == dumped(json.loads(text), pretty)
        buf = io.StringIO()
        write_json(ctx, buf, pretty=pretty)
        assert buf.getvalue() == text
    empty = dataclasses.replace(ctx, groups=(), resources=(), hygiene=(), publishers=(), hosts=())
    assert render_json(empty, pretty=True) == dumped(json.loads(render_json(empty)), True)


def test_json_is_safe_inside_html_and_round_trips(ctx: ReportContext) -> None:
    text = render_json(ctx)
    assert "<" not in text and ">" not in text and "&" not in text
    doc = json.loads(text)
    assert doc == json.loads(render_json(ctx, pretty=True))
    assert doc["schema"] == "linkhealth-report/1"
    assert [r["resource_id"] for g in doc["queue"] for r in g["rows"]] == list(
        fx.EXPECTED_ATTENTION
    )
    hostile = next(r for r in doc["resources"] if r["resource_id"] == "a-hostile")
    assert hostile["page_title"] == fx.HOSTILE


def test_markdown_caps_long_queue_groups(ctx: ReportContext) -> None:
    text = render_markdown(ctx, limit=1)
    assert "Title of b-invalid" not in text.split("## Since the last run")[0]
    assert "1 more" in text


def test_reports_are_reproducible_with_a_fixed_clock(data: ReportData) -> None:
    first = build_context(data, now=fx.NOW)
    again = build_context(data, now=fx.NOW)
    later = build_context(data, now=fx.NOW + timedelta(days=1))
    assert render_html(first) == render_html(again)
    assert render_html(first) != render_html(later)


def test_hygiene_findings_follow_the_links_and_are_escaped(ctx: ReportContext) -> None:
    html = render_html(ctx)
    page = LexborHTMLParser(html)
    rows = page.css("#hygiene tbody tr")
    assert [r.attributes["data-code"] for r in rows] == ["http_url"]  # info is only counted
    assert html.index('id="attention"') < html.index('id="hygiene"')
    assert "<script>alert(1)</script>" not in html
    assert "<script>" not in render_markdown(ctx)


def test_every_page_of_the_site_shows_hostile_text_as_text(
    ctx: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every queue group and the hygiene list get a page of their own; their rows, like
    # the publisher and host tables, are formatted in Python (reports.html_rows).
    monkeypatch.setattr(site, "INDEX_QUEUE_LIMIT", 0)
    site.write_report(ctx, tmp_path, run_id=None, formats=("html",))
    pages = sorted(tmp_path.glob("*/*.html"))
    folders = {p.parent.name for p in pages}
    assert folders == {"resources", "publishers", "hosts", "queue", "hygiene"}
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert fx.HOSTILE not in text, path
        assert LexborHTMLParser(text).css("script") == [], path
    shown = [p for p in pages if fx.HOSTILE in LexborHTMLParser(p.read_text("utf-8")).text()]
    assert {p.parent.name for p in shown} >= {"resources", "publishers", "queue", "hygiene"}


def test_long_lists_are_paged_without_losing_or_repeating_a_row(
    ctx: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At 100,000 resources one queue group was a 70 MB page; now every queue group and
    # the hygiene list come in pages, linked first/previous/next/last, page 1 where the
    # index links.
    monkeypatch.setattr(site, "INDEX_QUEUE_LIMIT", 0)
    monkeypatch.setattr(render_module, "LONG_LIST_PAGE_ROWS", 1)
    site.write_report(ctx, tmp_path, run_id=None, formats=("html",))
    lists = [
        ([r.resource_id for r in g.rows], tmp_path / "queue" / f"{g.key}.html", "#attention")
        for g in ctx.groups
    ]
    lists.append(
        ([f.resource_id for f in ctx.hygiene], tmp_path / "hygiene/index.html", "#hygiene")
    )
    assert any(len(ids) > 1 for ids, *_ in lists), "the fixture needs a list of 2+ rows"
    for ids, first, table in lists:
        shown: list[str | None] = []
        page, seen = first, []
        while True:
            seen.append(page.name)
            tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
            rows = tree.css(f"{table} tbody tr[data-resource-id]")
            shown += [r.attributes["data-resource-id"] for r in rows]
            nav = tree.css("nav.pager")
            if len(ids) <= 1:
                assert nav == [], page
                break
            assert len(nav) == 2, page  # above and below the table
            assert f"Page {len(seen)} of {len(ids)}" in nav[0].text(), page
            following = tree.css_first("nav.pager a[rel=next]")
            if following is None:
                break
            href = following.attributes["href"]
            assert href is not None
            page = page.parent / href
        assert shown == ids, first
        assert len(seen) == len(set(seen)) == max(1, len(ids))
        if len(seen) > 1:  # the last page links back to the first
            back = tree.css("nav.pager a")[0].attributes["href"]
            assert back == first.name


def test_pagers_cover_every_row_once_and_link_their_neighbours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render_module, "LONG_LIST_PAGE_ROWS", 2)
    pages = render_module.pagers(5, lambda n: f"p{n}.html")
    assert [(p.number, p.first_row, p.last_row) for p in pages] == [(1, 1, 2), (2, 3, 4), (3, 5, 5)]
    assert [p.href for p in pages] == ["p1.html", "p2.html", "p3.html"]
    middle = pages[1]
    assert (middle.prev_href, middle.next_href) == ("p1.html", "p3.html")
    assert (middle.first_href, middle.last_href, middle.count, middle.total) == (
        "p1.html",
        "p3.html",
        3,
        5,
    )
    assert pages[0].prev_href is None and pages[-1].next_href is None
    assert [(p.count, p.first_row, p.last_row) for p in render_module.pagers(0, str)] == [(1, 0, 0)]


def test_every_fact_of_a_resource_page_is_shown_escaped(ctx: ReportContext) -> None:
    # The facts list is formatted in Python (reports.html_rows.facts): each optional fact
    # must appear under its heading, with hostile text shown as text.
    hostile = When(iso=fx.HOSTILE, date=fx.HOSTILE, text=fx.HOSTILE, ago=fx.HOSTILE)
    row = dataclasses.replace(
        ctx.resources[0],
        collection=fx.HOSTILE,
        resource_id=fx.HOSTILE,
        url=fx.HOSTILE,
        href=None,
        publisher=fx.HOSTILE,
        publisher_page="publishers/x.html",
        host=fx.HOSTILE,
        host_page="hosts/x.html",
        seen=fx.HOSTILE,
        page_title=fx.HOSTILE,
        final_url=fx.HOSTILE,
        final_href=None,
        since=hostile,
        checks=1,
        last_checked=hostile,
        elapsed_ms=12,
        drift_reason=fx.HOSTILE,
        stale_reasons=(fx.HOSTILE, "second"),
        ignored_reason=fx.HOSTILE,
        snoozed_until=hostile,
        snooze_reason=fx.HOSTILE,
    )
    tree = LexborHTMLParser(f"<dl>{html_rows.facts(row, '../')}</dl>")
    assert tree.css("script") == []
    terms = [dt.text() for dt in tree.css("dt")]
    assert terms == [
        "Catalog",
        "URL",
        "Publisher",
        "Host",
        "What we saw",
        "Page title when it last worked",  # the row's link is broken
        "Ended at",
        "Since",
        "Last checked",
        "Content drift",
        "Possibly out of date",
        "Ignored",
        "Snoozed until",
    ]
    values = dict(zip(terms, (dd.text() for dd in tree.css("dd")), strict=True))
    assert all(fx.HOSTILE in text for text in values.values()), values
    assert values["Since"].endswith("), 1 check")
    assert values["Last checked"].endswith(", answered in 12 ms")
    assert values["Possibly out of date"] == f"{fx.HOSTILE}; second"
    assert tree.css_first("dd a[href='../publishers/x.html']") is not None


def test_a_link_only_tried_while_our_network_was_down_shows_no_check_time(
    ctx: ReportContext,
) -> None:
    # Such a link has no outcome: "Not checked yet", as `linkhealth resource` says, with
    # the try's time said to be a try.
    never = next(r for r in ctx.resources if r.resource_id == "b-new")
    assert (never.label, never.last_checked, never.last_tried) == ("Not checked yet", None, None)

    def last_checked(row: Row) -> str:
        tree = LexborHTMLParser(f"<dl>{html_rows.facts(row, '../')}</dl>")
        assert tree.css("script") == []
        terms = [dt.text() for dt in tree.css("dt")]
        return dict(zip(terms, (dd.text() for dd in tree.css("dd")), strict=True))["Last checked"]

    assert last_checked(never) == "never"
    hostile = When(iso=fx.HOSTILE, date=fx.HOSTILE, text=fx.HOSTILE, ago=fx.HOSTILE)
    tried = dataclasses.replace(never, last_tried=hostile)
    assert last_checked(tried) == (
        f"never (last tried {fx.HOSTILE}, while our network was unavailable)"
    )


@pytest.mark.parametrize("text", ["", "plain", fx.HOSTILE, "a&b \"q\" 'a' <x> & é · “”"])
def test_python_escaping_matches_the_templates(text: str) -> None:
    expected = str(markupsafe.escape(text))
    assert html_rows._escape(text) == expected
    assert html_rows._escape_str(text) == expected  # without markupsafe's C speedups


# --- an invalid address ----------------------------------------------------------------------


def test_an_invalid_url_is_labelled_as_the_group_it_is_filed_under_in_every_format(
    data: ReportData,
) -> None:
    # catalog.health stores an invalid address as suspect until its failures are confirmed,
    # like any failure; the report files it under "Confirmed broken" from its first check
    # (no check can change it), so no format may call it "not yet confirmed".
    rows = tuple(
        dataclasses.replace(r, state="suspect") if r.resource_id == "b-invalid" else r
        for r in data.resources
    )
    ctx = build_context(dataclasses.replace(data, resources=rows), now=fx.NOW)
    waiting = "not yet confirmed"

    page = LexborHTMLParser(render_html(ctx))
    tr = page.css_first('tbody#queue-broken tr[data-resource-id="b-invalid"]')
    assert tr is not None and tr.attributes["data-state"] == "broken"
    assert "(Confirmed broken)" in tr.text() and waiting not in tr.text()

    md = render_markdown(ctx).split("### ")
    broken = next(part for part in md if part.startswith("Confirmed broken"))
    (line,) = [ln for ln in broken.splitlines() if "(b-invalid," in ln]
    assert "**Invalid URL** (Confirmed broken)" in line and waiting not in line

    (record,) = [r for r in csv.DictReader(io.StringIO(render_csv(ctx))) if r["id"] == "b-invalid"]
    assert (record["group"], record["state"]) == ("broken", "broken")

    queue = {g["key"]: g["rows"] for g in json.loads(render_json(ctx))["queue"]}
    (item,) = [r for r in queue["broken"] if r["resource_id"] == "b-invalid"]
    assert (item["state"], item["state_note"]) == ("broken", "Confirmed broken")

    row = next(r for r in ctx.resources if r.resource_id == "b-invalid")
    stats = next(s for s in ctx.publishers if s.name == row.publisher)
    group_page = LexborHTMLParser(render_group_page(ctx, stats, [row]))
    status = group_page.css_first('tr[data-resource-id="b-invalid"]')
    assert status is not None and "(Confirmed broken)" in status.text()
    assert waiting not in status.text()
