"""The Markdown report's Hosts table: README says `--format md` carries the HTML's view,
and a curator who reads the Markdown (no site to browse) looks there for the host that
takes most of the queue. It stopped at Publishers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from catalog.queries import report_data
from reports import build_context, render_html, render_markdown
from reports.context import ReportContext
from tests import report_fixtures as fx

HEADER = "| Host | Resources | Checked | OK | Broken | Need attention | Median response |"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    engine = fx.fixed_db(tmp_path_factory.mktemp("hosts") / "fixed.db")
    return build_context(report_data(engine), now=fx.NOW)


def md_hosts(ctx: ReportContext) -> list[str]:
    """The Hosts section of the Markdown, up to the next heading."""
    text = render_markdown(ctx)
    assert "\n## Hosts\n" in text
    return text.split("\n## Hosts\n", 1)[1].split("\n## ", 1)[0].strip().splitlines()


def md_rows(lines: list[str]) -> list[list[str]]:
    start = lines.index(HEADER) + 2  # past the header and its alignment row
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def html_rows(ctx: ReportContext) -> list[list[str]]:
    table = LexborHTMLParser(render_html(ctx)).css_first("table#hosts")
    assert table is not None
    return [[cell.text(strip=True) for cell in tr.css("th, td")] for tr in table.css("tbody tr")]


def test_the_markdown_lists_the_hosts_as_the_html_does(ctx: ReportContext) -> None:
    lines = md_hosts(ctx)
    rows = md_rows(lines)

    assert len(ctx.hosts) > 1 and lines[0] == "Hosts, most broken first:"
    assert rows == html_rows(ctx)  # same hosts, order and columns
    assert [r[0] for r in rows] == [s.name for s in ctx.hosts]
    text = render_markdown(ctx)
    assert text.index("## Publishers") < text.index("## Hosts") < text.index("## All resources")


def test_many_hosts_show_the_first_25_and_say_how_many(ctx: ReportContext) -> None:
    host = ctx.hosts[0]
    many = tuple(dataclasses.replace(host, name=f"h{n:02}.example") for n in range(30))
    wide = dataclasses.replace(ctx, hosts=many)

    lines = md_hosts(wide)

    assert lines[0] == "Hosts, most broken first (first 25 of 30; the HTML report lists them all):"
    assert [r[0] for r in md_rows(lines)] == [f"h{n:02}.example" for n in range(25)]
    assert md_rows(lines) == html_rows(wide)


def test_no_hosts_no_section(ctx: ReportContext) -> None:
    assert "## Hosts" not in render_markdown(dataclasses.replace(ctx, hosts=()))


def test_the_readme_still_says_markdown_carries_the_same_view() -> None:
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert "`--format md`, `csv` and `json` carry the same view" in readme
