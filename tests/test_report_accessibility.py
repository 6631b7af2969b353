"""The HTML report as a curator with a screen reader, a keyboard only or low vision meets
it: every page of the site, asserted on the markup (axe-core is not in the test suite;
the audit that found these ran it on a generated site at phone and desktop width)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode
from sqlalchemy import Engine

from catalog.hygiene import Finding, Level
from catalog.queries import ReportData, history_events, iter_link_history, report_data
from reports import ReportContext, build_context, render_html, site
from reports import render as render_module
from reports.build import resource_pages
from reports.render import stylesheet
from tests import report_fixtures as fx

FINDINGS = (
    Finding(
        code="http_url",
        level=Level.WARNING,
        collection="toolkit-a",
        resource_id="a-ok-1",
        file="toolkit-a.yaml",
        line=12,
        message="The URL uses http://",
        fix="Use the https form if it serves the same page.",
        command="linkhealth replace-url a-ok-1 https://a.example/ok-1",
    ),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("a11y") / "fixed.db")


@pytest.fixture(scope="module")
def data(engine: Engine) -> ReportData:
    """With a snoozed resource, so that the index has its "Snoozed and ignored" table."""
    return fx.with_resource(
        report_data(engine),
        "a-suspect",
        snoozed_until=fx.NOW + timedelta(days=7),
        snooze_reason="asked",
    )


@pytest.fixture(scope="module")
def ctx(data: ReportData) -> ReportContext:
    return build_context(data, now=fx.NOW, findings=FINDINGS)


@pytest.fixture(scope="module")
def out(
    engine: Engine, data: ReportData, ctx: ReportContext, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The whole site, every list on pages of its own too, resource pages with history."""
    root = tmp_path_factory.mktemp("a11y-site")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(site, "INDEX_QUEUE_LIMIT", 0)
        mp.setattr(render_module, "LONG_LIST_PAGE_ROWS", 1)  # a pager on the long lists
        by_resource, by_link = history_events(engine)
        pages = resource_pages(
            data, ctx, iter_link_history(engine), by_resource, by_link, now=fx.NOW
        )
        site.write_report(ctx, root / "out", run_id=None, formats=("html",), pages=pages)
    return root / "out"


def _page(path: Path) -> LexborHTMLParser:
    return LexborHTMLParser(path.read_text(encoding="utf-8"))


def _text(node: LexborNode) -> str:
    return " ".join(node.text(separator=" ").split())


def _pages(out: Path) -> list[Path]:
    return [out / "index.html", *sorted(out.glob("*/*.html"))]


#: Each list table of the site and the column that names its row.
ROW_NAMED_BY = {
    "attention": "Resource",
    "set-aside": "Resource",
    "resources": "Resource",
    "hygiene": "Entry",
    "history": "When",
    "publishers": "Publisher",
    "hosts": "Host",
    "stats": None,  # the publishers' or hosts' index: "Publisher" or "Host"
    "totals": "Outcome",
    "trend-table": "Run",
}


def test_every_row_of_every_list_is_named_by_a_row_header(out: Path) -> None:
    # A screen reader moving down the "Suggested fix" (or "Status") column reads each
    # cell with its row's header: without one, "Replace NEW_URL first" did not say of
    # which resource. The first cell of every row is a <th scope="row">.
    seen: set[str] = set()
    for path in _pages(out):
        for table in _page(path).css("table"):
            table_id = table.attributes.get("id") or ""
            assert table_id in ROW_NAMED_BY, (path, table_id)
            seen.add(table_id)
            head = table.css_first("thead th")
            assert head is not None, (path, table_id)
            column = _text(head)
            assert ROW_NAMED_BY[table_id] in (None, column), (path, table_id, column)
            rows = [tr for tr in table.css("tbody tr") if not tr.css_first('th[scope="rowgroup"]')]
            assert rows, (path, table_id)
            for tr in rows:
                first = tr.css_first("th, td")
                assert first is not None and first.tag == "th", (path, table_id, tr.html)
                assert first.attributes.get("scope") == "row", (path, table_id)
                assert _text(first), (path, table_id)
    assert seen == set(ROW_NAMED_BY), "the site lacks a table this test should see"


def test_a_queue_row_s_header_names_the_resource(out: Path) -> None:
    index = _page(out / "index.html")
    row = index.css_first('#attention tr[data-resource-id="a-broken"]')
    assert row is not None
    header = row.css_first('th[scope="row"]')
    assert header is not None
    assert _text(header).startswith("Title of a-broken")
    assert header.css_first("a.title") is not None


def test_a_badge_s_symbol_is_not_read_aloud() -> None:
    # The badge's words ("Not found (404)") say what it means; its symbol is for the eye.
    # Chromium read it into each badge's text ("✕Not found (404)"): a screen reader said
    # "multiplication x", "right arrow", "question" before every status. Each symbol has
    # the empty text alternative (`content: "✕" / ""`), after a plain `content` for a
    # browser that lacks the syntax.
    rules = re.findall(r"([^{}]*::before)\s*\{([^}]*)\}", stylesheet())
    symbols = [
        (selector.strip(), body)
        for selector, body in rules
        if ".sev-" in selector and "content:" in body
    ]
    assert len(symbols) >= 7
    for selector, body in symbols:
        contents = [c.strip() for c in re.findall(r"content:([^;]*);", body)]
        assert len(contents) == 2, selector
        plain, alt = contents
        assert re.fullmatch(r'"[^"]+"', plain), selector
        assert alt == f'{plain} / ""', selector


def _headings(tree: LexborHTMLParser) -> list[tuple[int, str]]:
    """(level, text) of the page's headings, `<hN>` and `role="heading"`, in page order."""
    found = []
    for node in tree.css('h1, h2, h3, h4, h5, h6, [role="heading"]'):
        tag = node.tag or ""
        level = node.attributes.get("aria-level") if tag == "div" else tag[1:]
        found.append((int(level or 0), _text(node)))
    return found


def test_a_screen_reader_jumps_from_queue_group_to_queue_group_by_heading(out: Path) -> None:
    # "What to fix first" was one heading over one table: the groups (Confirmed broken,
    # Moved permanently, ...) were table rows, not in the headings list a screen reader
    # user skims first. Each group's heading is a level-3 heading under it now.
    index = _page(out / "index.html")
    headings = _headings(index)
    start = headings.index((2, "What to fix first"))
    groups = headings[start + 1 : start + 1 + 4]  # a-suspect, the one failing, is snoozed
    assert [level for level, _ in groups] == [3] * 4
    assert [text for _, text in groups] == [
        "Confirmed broken (2)",
        "Page missing (soft 404) (1)",
        "Moved permanently (1)",
        "Check by hand (1)",
    ]
    assert headings[start + 5] == (2, "Snoozed and ignored")
    # A group's own page has the group as its h1 and no second heading of the same.
    page = _headings(_page(out / "queue" / "broken.html"))  # 1 row a page
    assert page == [(1, "Confirmed broken (2)")]


def test_no_two_links_of_a_page_say_the_same_and_lead_to_different_places(
    out: Path, ctx: ReportContext
) -> None:
    # A screen reader's links list shows each link's words alone: the queue groups' "see
    # all 2", "see all 1", "see all 1", ... did not say which group each opened.
    short_index = LexborHTMLParser(render_html(ctx, limit=0))
    assert len(short_index.css("#attention tbody a[href^='queue/']")) == len(ctx.groups)
    pages = [(path, _page(path)) for path in _pages(out)]
    for where, tree in [*pages, ("index, no row shown", short_index)]:
        targets: dict[str, set[str]] = {}
        for a in tree.css("a[href]"):
            targets.setdefault(_text(a), set()).add(a.attributes.get("href") or "")
        assert {text: t for text, t in targets.items() if len(t) > 1} == {}, where


def test_the_trend_chart_s_sentence_is_read_once(out: Path) -> None:
    # The chart (role="img") was named by its <title> and its <desc>, and the caption under
    # it says the <desc>'s sentence again: a screen reader read "4 runs from ...: links OK
    # went from 89% to 80% ..." twice in a row. The image is named by its title; the
    # caption, which every reader gets, says the rest.
    index = _page(out / "index.html")
    chart = index.css_first("#trends svg.trend-chart")
    caption = index.css_first("#trends figcaption")
    assert chart is not None and caption is not None
    assert chart.attributes.get("role") == "img"
    ids = (chart.attributes.get("aria-labelledby") or "").split()
    assert ids
    name = " ".join(_text(n) for i in ids if (n := index.css_first(f"#{i}")) is not None)
    assert name == "Link health over the last 90 days"
    desc = chart.css_first("desc")
    assert desc is not None and _text(desc) in _text(caption)
    assert chart.attributes.get("aria-describedby") is None


def _spoken(node: LexborNode) -> str:
    """The text of `node` a screen reader says: without its `aria-hidden` parts."""
    html = node.html or ""
    for hidden in node.css('[aria-hidden="true"]'):
        html = html.replace(hidden.html or "", "")
    return " ".join(LexborHTMLParser(html).text(separator=" ").split())


def test_breadcrumb_and_pager_arrows_are_not_read_aloud(out: Path) -> None:
    # "›" between the breadcrumbs and "« first", "next ›" on a long list's pager: a screen
    # reader said "single right-pointing angle quotation mark" between every two words.
    pagers = 0
    for path in _pages(out):
        tree = _page(path)
        navs = tree.css("nav.crumbs, nav.pager")
        pagers += len(tree.css("nav.pager"))
        for nav in navs:
            spoken = _spoken(nav)
            assert not set(spoken) & set("‹›«»"), (path, spoken)
            assert _text(nav) != spoken, path  # the arrows are still shown
    assert pagers >= 2
    crumbs = _page(next((out / "resources").glob("*a-broken*.html"))).css_first("nav.crumbs")
    assert crumbs is not None
    assert _spoken(crumbs) == "Link health report Anti-Trafficking Toolkit a-broken"


def test_the_last_breadcrumb_is_the_page_itself(out: Path) -> None:
    # The breadcrumbs ended in the page's own name as plain text (or, on a publisher's or
    # a host's page, in a link to the list of them, without the page's name at all): a
    # screen reader could not tell where in the trail the curator stood. The last crumb
    # is now the page itself, marked aria-current="page", and not a link.
    kinds: set[str] = set()
    for path in _pages(out):
        crumbs = _page(path).css_first("nav.crumbs")
        if crumbs is None:
            assert path == out / "index.html"
            continue
        kinds.add(path.parent.name)
        said = [n for n in crumbs.iter() if n.attributes.get("aria-hidden") != "true"]
        current = crumbs.css('[aria-current="page"]')
        assert len(current) == 1, path
        assert said[-1] == current[0], path
        assert current[0].tag != "a" and _text(current[0]), path
        if path.parent.name in ("publishers", "hosts") and path.name != "index.html":
            h1 = _page(path).css_first("h1")
            assert h1 is not None and _text(current[0]) == _text(h1), path
            assert crumbs.css_first(f'a[href="../{path.parent.name}/index.html"]'), path
    assert {"resources", "publishers", "hosts", "queue", "hygiene"} <= kinds


def test_no_page_tells_anything_on_hover_alone(out: Path) -> None:
    # A `title` attribute is shown when a mouse rests on it: a keyboard or a touch screen
    # never shows it, and most screen readers skip it. The "Since" dates carried their
    # time of day that way. Now no element of a page's body has one (an SVG's <title>
    # element names the chart, and its numbers are in the table under it).
    for path in _pages(out):
        assert _page(path).css("body [title]") == [], path
    # The time of day is said in words where it matters: a resource's page says when its
    # trouble began, the trend's table when each run was.
    page = _page(next((out / "resources").glob("*a-broken*.html")))
    since = next(dt.next for dt in page.css("dl.facts dt") if dt.text() == "Since")
    assert since is not None
    assert re.search(r"\(\d{4}-\d\d-\d\d \d\d:\d\d UTC\), \d+ checks?$", since.text())
    index = _page(out / "index.html")
    dates = [_text(td) for td in index.css('#trend-table td[data-label="Date"]')]
    assert dates and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", d) for d in dates)
