"""The HTML report as a browser renders it: headless Chromium, no JavaScript needed.

Needs `/usr/bin/chromium` (Debian package `chromium`); skipped with a message when it
is absent. One Chromium serves the module (per xdist worker), a new tab per page, driven
over the DevTools protocol (`tests.devtools_pipe`): a Chromium per page made it ~50 s.
Run alone with `.venv/bin/pytest -m browser tests/test_report_browser.py`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from catalog.hygiene import Finding, Level
from catalog.queries import report_data
from reports import build_context, write_report
from reports.context import HistoryItem, ResourcePage, when
from reports.render import render_html, render_resource_page, stylesheet
from tests import report_fixtures as fx
from tests.devtools_pipe import Browser, launch

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """The module's Chromium, closed after its last test (killed if it does not quit),
    whatever happened. The probes read report pages (file://) in a frame: file access."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: `make test` installs chromium as root")
        pytest.skip("headless Chromium not installed (apt-get install -y chromium)")
    flags = (*FLAGS, "--allow-file-access-from-files")
    started = launch(CHROMIUM, flags, tmp_path_factory.mktemp("chromium"))
    try:
        yield started
    finally:
        started.close()


def size(window: str) -> tuple[int, int]:
    """`--window-size`'s "390,844" as (width, height)."""
    width, height = window.split(",")
    return int(width), int(height)


def dump_dom(browser: Browser, url: str) -> str:
    """The loaded page's DOM, as `--dump-dom` printed it."""
    with browser.page(url) as tab:
        return tab.dom()


def screenshot(browser: Browser, url: str, shot: Path, window: str) -> None:
    """`--screenshot=shot --window-size=window --hide-scrollbars` of `url`."""
    with browser.page(url, size(window), scrollbars=False) as tab:
        shot.write_bytes(tab.bytes_of("Page.captureScreenshot", format="png"))


def print_to_pdf(browser: Browser, url: str, pdf: Path) -> None:
    """`--no-pdf-header-footer --print-to-pdf=pdf` of `url`: the default paper unless the
    page's `@page` sets a size, and backgrounds printed, as that command printed."""
    with browser.page(url) as tab:
        pdf.write_bytes(
            tab.bytes_of(
                "Page.printToPDF",
                displayHeaderFooter=False,
                preferCSSPageSize=True,
                printBackground=True,
            )
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    ctx = build_context(report_data(fx.fixed_db(root / "fixed.db")), now=fx.NOW)
    write_report(ctx, root / "out", run_id=fx.LATEST_FINISHED_RUN)
    return root / "out"


def test_browser_renders_summary_and_action_queue(site: Path, browser: Browser) -> None:
    dom = dump_dom(browser, (site / "index.html").as_uri())
    tree = LexborHTMLParser(dom)
    headline = tree.css_first("#headline")
    assert headline is not None and headline.text(strip=True)
    rows = tree.css("#attention tr[data-resource-id]")
    assert tuple(r.attributes["data-resource-id"] for r in rows) == fx.EXPECTED_ATTENTION
    assert tree.css_first("svg.trend-chart") is not None
    assert "alert(1)" in tree.body.text() if tree.body else False
    assert tree.css("script") == []


def test_browser_renders_a_resource_page(site: Path, browser: Browser) -> None:
    page = next((site / "resources").glob("*a-broken*.html"))
    tree = LexborHTMLParser(dump_dom(browser, page.as_uri()))
    assert tree.css_first("h1") is not None
    assert tree.css_first("#facts") is not None


def test_browser_screenshots_at_phone_and_desktop_width(
    site: Path, browser: Browser, tmp_path: Path
) -> None:
    for name, window in (("desktop", "1280,900"), ("phone", "390,844")):
        shot = tmp_path / f"{name}.png"
        screenshot(browser, (site / "index.html").as_uri(), shot, window)
        assert shot.stat().st_size > 1000


#: A page that loads the report in a frame as wide as a phone and writes down which
#: tables are wider than the space they have (they would scroll sideways or be cut off).
PHONE_PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:390px;height:800px;border:0"></iframe>
<pre id="wide"></pre>
<script>
document.getElementById("f").onload = () => {{
  const doc = document.getElementById("f").contentDocument;
  const wide = [...doc.querySelectorAll("table")]
    .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
    .map(t => t.id || t.className);
  if (doc.documentElement.scrollWidth > 391) wide.push("page");
  document.getElementById("wide").textContent = JSON.stringify(wide);
}};
</script></body></html>"""


#: How long a probe may take to write its answer: ~0.1 s on an idle machine.
PROBE_TIMEOUT_S = 30.0


def probed(browser: Browser, tmp_path: Path, html: str, window: str, out: str) -> str:
    """What the probe page `html` writes into its element `#out` once its frame has loaded,
    in a Chromium window of `window` ("390,844"): asked every 50 ms until it is there."""
    probe = tmp_path / "probe.html"
    probe.write_text(html)
    with browser.page(probe.as_uri(), size(window)) as tab:
        tab.poll(
            f"document.getElementById({json.dumps(out)})?.textContent",
            f"the probe's #{out} in {probe}",
            PROBE_TIMEOUT_S,
        )
        dom = tab.dom()
    node = LexborHTMLParser(dom).css_first(f"#{out}")
    assert node is not None, dom
    return node.text()


def too_wide_on_a_phone(browser: Browser, tmp_path: Path, page: Path) -> str:
    """`PHONE_PROBE`'s list (JSON) of what in `page` is wider than a phone's screen."""
    return probed(browser, tmp_path, PHONE_PROBE.format(src=page.as_uri()), "390,844", "wide")


def test_no_table_is_wider_than_a_phone(site: Path, browser: Browser, tmp_path: Path) -> None:
    pages = [site / "index.html", next((site / "resources").glob("*a-broken*.html"))]
    pages += [next((site / "publishers").glob("*.html"))]
    for page in pages:
        wide = too_wide_on_a_phone(browser, tmp_path, page)
        assert wide == "[]", (page.name, wide)


def test_a_long_catalog_path_in_the_hygiene_table_wraps_on_a_phone(
    browser: Browser, tmp_path: Path
) -> None:
    # A finding's entry cell is its row's header (<th scope="row">); it wraps a catalog
    # file's path like the cells beside it, else the table scrolled sideways on a phone.
    where = "catalogs/national_clearinghouse_outside_reports_and_hotlines_2024.yaml"
    finding = Finding(
        code="missing_year",
        level=Level.WARNING,
        collection="toolkit-a",
        resource_id="a-ok-2",
        file=where,
        line=1234,
        message="No year.",
        fix="Add a year.",
    )
    data = report_data(fx.fixed_db(tmp_path / "fixed.db"))
    ctx = build_context(data, now=fx.NOW, findings=(finding,))
    write_report(ctx, tmp_path / "out", run_id=fx.LATEST_FINISHED_RUN)
    page = tmp_path / "out" / "index.html"
    assert f"{where}:1234" in page.read_text()
    wide = too_wide_on_a_phone(browser, tmp_path, page)
    assert wide == "[]", wide


#: A publisher's real new address can be 130 characters without a break opportunity.
LONG_ADDRESS = (
    "https://www.example.gov/files/NCTC/documents/jcat/firstresponderstoolbox/"
    "HumanTraffickingIndicatorsAndResponsesForFirstRespondersAndPublicSafetyPartners2020.pdf"
)


def test_a_long_new_address_does_not_push_the_queue_off_a_desktop_screen(
    browser: Browser, tmp_path: Path
) -> None:
    # The fix column, with the command to paste, was cut off at 1280 px until scrolled.
    data = fx.with_resource(
        report_data(fx.fixed_db(tmp_path / "fixed.db")), "a-moved", suggested_url=LONG_ADDRESS
    )
    write_report(build_context(data, now=fx.NOW), tmp_path / "out", run_id=fx.LATEST_FINISHED_RUN)
    page = tmp_path / "out" / "index.html"
    assert LONG_ADDRESS in page.read_text()
    desktop = (
        PHONE_PROBE.format(src=page.as_uri())
        .replace("width:390px", "width:1280px")
        .replace("> 391", "> 1281")
    )
    wide = probed(browser, tmp_path, desktop, "1280,900", "wide")
    assert wide == "[]", wide


#: The same frame, listing the dates (`<time>`) laid out on more than one line: "2026-11-"
#: above "24" in a narrow "Since" column.
BROKEN_DATES_PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:{width}px;height:800px;border:0"></iframe>
<pre id="broken"></pre>
<script>
document.getElementById("f").onload = () => {{
  const doc = document.getElementById("f").contentDocument;
  const broken = [...doc.querySelectorAll("time")]
    .filter(t => t.getClientRects().length > 1)
    .map(t => t.textContent);
  document.getElementById("broken").textContent = JSON.stringify(broken);
}};
</script></body></html>"""


@pytest.mark.parametrize("width", [390, 1280])
def test_no_date_breaks_across_lines(
    site: Path, browser: Browser, tmp_path: Path, width: int
) -> None:
    html = BROKEN_DATES_PROBE.format(src=(site / "index.html").as_uri(), width=width)
    broken = probed(browser, tmp_path, html, f"{width},844", "broken")
    assert broken == "[]", broken


PDFTOTEXT = shutil.which("pdftotext")


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext not installed (poppler-utils)")
@pytest.mark.parametrize("height_in", [4, 5, 6, 8])
def test_printed_queue_never_leaves_a_group_heading_alone_at_a_page_foot(
    site: Path, browser: Browser, tmp_path: Path, height_in: int
) -> None:
    """On paper, "Check by hand (1)" and its description ended page 3 while its row began
    page 4: the heading read as an empty group. Each group's first row must share its
    heading's page, whatever the paper's height."""
    assert PDFTOTEXT is not None
    html = (site / "index.html").read_text()
    tree = LexborHTMLParser(html)
    groups = []
    for body in tree.css("#attention tbody[data-priority]"):
        cell, row = body.css_first("th[scope=rowgroup]"), body.css_first("tr[data-resource-id]")
        assert cell is not None and row is not None
        groups.append((cell.text().split(" (")[0], row.attributes["data-resource-id"] or ""))
    paper = f"<style>@page {{ size: 8.5in {height_in}in; margin: .4in }}</style></head>"
    page = site / f"print-{height_in}.html"  # beside index.html: the same links
    page.write_text(html.replace("</head>", paper, 1))
    pdf = tmp_path / "report.pdf"
    try:
        print_to_pdf(browser, page.as_uri(), pdf)
    finally:
        page.unlink()
    text = subprocess.run(
        [PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    alone = []
    for number, printed in enumerate(text.split("\f"), start=1):
        for head, first in groups:
            found = re.search(rf"^\s*{re.escape(head)} \(\d+\)", printed, re.MULTILINE)
            if found and first not in printed[found.end() :]:
                alone.append((number, head))
    assert alone == []


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext not installed (poppler-utils)")
def test_the_trend_s_numbers_are_printed(site: Path, browser: Browser, tmp_path: Path) -> None:
    """The chart's table is "for screen readers and for print" (`reports.chart`), but it
    sits in a closed `<details>`, which paper cannot open: it never printed."""
    assert PDFTOTEXT is not None
    pdf = tmp_path / "report.pdf"
    print_to_pdf(browser, (site / "index.html").as_uri(), pdf)
    text = subprocess.run(
        [PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Outcome shares per run" in text
    table = text.split("Outcome shares per run", 1)[1]
    assert re.search(r"Run 5\s+2025-01-09 12:02 UTC\s+9\s+89%", table)


#: An archived copy's address as the Wayback Machine spells it: no break opportunity.
ARCHIVED = "https://web.archive.org/web/20240105083000/https://humantraffickinghotline.org/"


def test_a_resource_page_s_fix_sentence_wraps_its_address_on_a_phone(
    browser: Browser, tmp_path: Path
) -> None:
    """ "Link the archived copy https://web.archive.org/web/2024.../https://... until ..."
    ran off a phone's screen on the resource page: the index's queue cells wrap long
    addresses, the page's own fix paragraph did not."""
    data = fx.with_resource(
        report_data(fx.fixed_db(tmp_path / "fixed.db")), "a-broken", archive_url=ARCHIVED
    )
    write_report(build_context(data, now=fx.NOW), tmp_path / "out", run_id=fx.LATEST_FINISHED_RUN)
    page = next((tmp_path / "out" / "resources").glob("*a-broken*.html"))
    assert f'Link the archived copy <a class="archive" href="{ARCHIVED}"' in page.read_text()
    wide = too_wide_on_a_phone(browser, tmp_path, page)
    assert wide == "[]", wide


def test_a_history_line_quoting_an_address_wraps_on_a_phone(
    browser: Browser, tmp_path: Path
) -> None:
    """The entry's "Added" line quotes its URL in Details: a 54-character PDF address
    pushed the history table past a phone's screen on 13 of 26 toolkit pages."""
    ctx = build_context(report_data(fx.fixed_db(tmp_path / "fixed.db")), now=fx.NOW)
    added = HistoryItem(
        at=when(fx.days_ago(30), fx.NOW),
        kind="added",
        label="Added",
        severity="event",
        detail="https://www.ncjrs.gov/pdffiles1/nij/grants/249672.pdf",
    )
    page = tmp_path / "resources" / "a-ok-1.html"
    page.parent.mkdir()
    (tmp_path / "style.css").write_text(stylesheet())
    page.write_text(render_resource_page(ctx, ResourcePage(fx.row_of(ctx, "a-ok-1"), (added,))))
    wide = too_wide_on_a_phone(browser, tmp_path, page)
    assert wide == "[]", wide


#: A page that loads a report page in a frame and writes down the ids and URLs it shows
#: right to left (the first character drawn right of the last), all of them Latin text.
BACKWARDS_PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:1280px;height:800px;border:0"></iframe>
<pre id="backwards"></pre>
<script>
document.getElementById("f").onload = () => {{
  const doc = document.getElementById("f").contentDocument;
  const at = (node, i) => {{
    const range = doc.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    return range.getBoundingClientRect().left;
  }};
  const backwards = [...doc.querySelectorAll(".id, .url")]
    .map(e => e.firstChild)
    .filter(t => t && t.length > 1 && at(t, 0) > at(t, t.length - 1))
    .map(t => t.textContent);
  document.getElementById("backwards").textContent = JSON.stringify(backwards);
}};
</script></body></html>"""


def test_a_title_s_override_never_turns_the_text_beside_it_around(
    browser: Browser, tmp_path: Path
) -> None:
    """A title ending in RIGHT-TO-LEFT OVERRIDE (U+202E) turned the rest of its line in
    the list of changes around: its id read "nekorb-a", its change "...deliaf 4 retfa"."""
    data = fx.with_resource(
        report_data(fx.fixed_db(tmp_path / "fixed.db")), "a-broken", title="Guide\u202e"
    )
    page = tmp_path / "index.html"
    page.write_text(render_html(build_context(data, now=fx.NOW)))
    assert '</a> <span class="id">a-broken</span>: Confirmed broken' in page.read_text()
    backwards = probed(
        browser, tmp_path, BACKWARDS_PROBE.format(src=page.as_uri()), "1280,900", "backwards"
    )
    assert backwards == "[]", backwards


#: A page that loads the report in a frame `width` px wide and writes down, for each trend
#: chart it shows, the smallest text in px as drawn and the texts drawn outside the chart.
CHART_PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:{width}px;height:800px;border:0"></iframe>
<pre id="charts"></pre>
<script>
document.getElementById("f").onload = () => {{
  const doc = document.getElementById("f").contentDocument;
  const shown = [...doc.querySelectorAll("svg.trend-chart")]
    .filter(svg => doc.defaultView.getComputedStyle(svg).display !== "none");
  const charts = shown.map(svg => {{
    const box = svg.viewBox.baseVal, scale = svg.getScreenCTM().a;
    const texts = [...svg.querySelectorAll("text")];
    const px = texts.map(t => parseFloat(doc.defaultView.getComputedStyle(t).fontSize) * scale);
    const out = texts.filter(t => {{
      const b = t.getBBox();
      return b.x < box.x || b.y < box.y || b.x + b.width > box.x + box.width
        || b.y + b.height > box.y + box.height;
    }}).map(t => t.textContent);
    return {{id: svg.id, smallest: Math.min(...px), outside: out}};
  }});
  document.getElementById("charts").textContent = JSON.stringify(charts);
}};
</script></body></html>"""


def test_the_trend_chart_s_text_is_legible_on_a_phone(
    site: Path, browser: Browser, tmp_path: Path
) -> None:
    # The chart's viewBox, 720 wide, scaled down to a 390 px phone drew its text at 6 px.
    # A phone now gets a chart drawn for its width, fewer ticks and the same labels; a
    # desktop the chart it had. One chart is shown at either width, none of its text cut.
    shown: dict[int, dict[str, Any]] = {}
    for width in (390, 1280):
        html = CHART_PROBE.format(src=(site / "index.html").as_uri(), width=width)
        found = probed(browser, tmp_path, html, f"{width},900", "charts")
        assert found, width
        charts = json.loads(found)
        assert len(charts) == 1, (width, charts)
        assert charts[0]["outside"] == [], (width, charts)
        shown[width] = charts[0]
    assert shown[1280]["id"] == "trend" and shown[1280]["smallest"] >= 12
    assert shown[390]["smallest"] >= 11, shown[390]


#: A page that loads a report page in a frame and writes down, for each `[selector,
#: words]` of `{wanted}`, the left edge of each word (its first time in the element) as
#: drawn: words in the order they are written read left to right when the edges increase.
ORDER_PROBE = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:1280px;height:800px;border:0"></iframe>
<pre id="order"></pre>
<script>
document.getElementById("f").onload = () => {{
  const doc = document.getElementById("f").contentDocument;
  const left = (element, word) => {{
    const walk = doc.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let t = walk.nextNode(); t; t = walk.nextNode()) {{
      const i = t.textContent.indexOf(word);
      if (i < 0) continue;
      const range = doc.createRange();
      range.setStart(t, i);
      range.setEnd(t, i + word.length);
      return Math.round(range.getBoundingClientRect().left);
    }}
    return null;
  }};
  const order = {wanted}.map(([selector, words]) => {{
    const element = doc.querySelector(selector);
    return element ? words.map(w => left(element, w)) : null;
  }});
  document.getElementById("order").textContent = JSON.stringify(order);
}};
</script></body></html>"""


def test_right_to_left_titles_and_addresses_keep_their_order(
    browser: Browser, tmp_path: Path
) -> None:
    """Hebrew page titles in a history line ("title “A” → “B”") read B before A, and an
    address's Hebrew path segments showed in reverse ("https://x.org/דף/סיבה/2024" as
    ".../2024/סיבה/דף"), `dir="ltr"` or not. Each is now isolated: the old title left of
    the new, the address's parts in the order it is written."""
    from catalog.queries import EventRow
    from reports.history import history_items

    old, new, page, why = "דף ישן", "דף חדש", "דף", "סיבה"
    url = f"https://example.org/{page}/{why}/2024"
    data = fx.with_resource(report_data(fx.fixed_db(tmp_path / "fixed.db")), "a-broken", url=url)
    ctx = build_context(data, now=fx.NOW)
    events = [
        EventRow(
            1, fx.days_ago(1), "content_changed", None, 1, 1, {"old_title": old, "new_title": new}
        ),
        EventRow(
            2, fx.days_ago(2), "url_edited", None, 1, 1, {"old": url, "new": "https://x.org/"}
        ),
    ]
    resource = ResourcePage(fx.row_of(ctx, "a-broken"), history_items((), events, fx.NOW))
    html = tmp_path / "resource.html"
    html.write_text(render_resource_page(ctx, resource))
    wanted = [
        ["#facts a.url", ["example.org", page, why, "2024"]],
        ['tr[data-kind="content_changed"] td[data-label="Details"]', [old, new]],
        ['tr[data-kind="url_edited"] td[data-label="Details"]', ["example.org", page, why, "2024"]],
    ]
    probe = ORDER_PROBE.format(src=html.as_uri(), wanted=json.dumps(wanted))
    order = json.loads(probed(browser, tmp_path, probe, "1280,900", "order"))
    for (selector, _), edges in zip(wanted, order, strict=True):
        assert edges is not None and None not in edges, selector
        assert edges == sorted(edges), (selector, edges)
