"""Curator reports: queries over a fixed database, the view model, HTML and Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine

from catalog.db import session_scope
from catalog.errors import NotFoundError
from catalog.outcomes import Outcome
from catalog.queries import ReportData, report_data
from catalog.tables import Collection, Resource
from reports import (
    Priority,
    ReportContext,
    build_context,
    render_html,
    render_markdown,
    write_report,
)
from reports.render import md_escape, md_link
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


@pytest.fixture(scope="module")
def ctx(data: ReportData) -> ReportContext:
    return build_context(data, now=fx.NOW)


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
    assert [g.priority for g in ctx.groups] == [
        Priority.BROKEN,
        Priority.FAILING,
        Priority.UPDATE,
        Priority.LOOK,
    ]


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
    numbers = [int(word) for word in ctx.headline.replace(",", " ").split() if word.isdigit()]
    # 3 confirmed broken + 1 redirect to fix, 1 suspect + 1 blocked to look at, 4 OK, 2 new.
    assert numbers == [4, 2, 4, 2]


def test_non_web_urls_are_never_linked(ctx: ReportContext, page: LexborHTMLParser) -> None:
    invalid = next(r for r in ctx.rows if r.resource_id == "b-invalid")
    assert invalid.href is None
    hrefs = [a.attributes.get("href") or "" for a in page.css("a")]
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)


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
    assert groups == ["broken", "failing", "update", "look"]


def test_html_outcome_is_shown_as_text_not_only_colour(page: LexborHTMLParser) -> None:
    for tr in page.css("#attention tr[data-outcome]"):
        badge = tr.css_first(".badge")
        assert badge is not None
        assert badge.text(strip=True) == Outcome(tr.attributes["data-outcome"] or "").label


def test_html_resource_links_do_not_leak_the_opener(page: LexborHTMLParser) -> None:
    links = page.css("#attention a")
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
    line = next(line for line in md.splitlines() if "Hostile" in line)
    # Every cell separator in the row is the table's own, never the data's.
    assert line.replace("\\|", "").count("|") == 6
    assert "`" not in line.replace("\\`", "")


def test_markdown_escaping_of_text_and_links() -> None:
    assert md_escape("a|b `c` <i>&") == r"a\|b \`c\` &lt;i&gt;&amp;"
    assert md_escape("two\nlines") == "two lines"
    assert md_link("x", None) == "x"
    assert md_link("x", "https://e.org/a b|c>") == "[x](<https://e.org/a%20b%7Cc%3E>)"


def test_markdown_lists_every_attention_row(ctx: ReportContext) -> None:
    md = render_markdown(ctx)
    for rid in fx.EXPECTED_ATTENTION:
        assert f"({rid}," in md
    assert fx.REMOVED_ID not in md


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
    engine = fx.empty_db(tmp_path / "synced.db")
    with session_scope(engine) as s:
        coll = Collection(key="k", path="k.yaml", title="K")
        s.add(coll)
        s.flush()
        s.add(
            Resource(
                collection_id=coll.id,
                rid="r1",
                title="T",
                url="https://e.org/",
                created_at=fx.NOW,
                updated_at=fx.NOW,
            )
        )
    ctx = build_context(report_data(engine), now=fx.NOW)
    assert ctx.nothing_checked
    assert LexborHTMLParser(render_html(ctx)).css_first("#empty-notice") is not None


def test_report_files_are_written_for_latest_and_the_run(
    ctx: ReportContext, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    files = write_report(ctx, out, run_id=fx.LATEST_FINISHED_RUN)
    assert files.latest_html == out / "latest.html"
    assert files.latest_markdown == out / "latest.md"
    assert files.run_html == out / f"run-{fx.LATEST_FINISHED_RUN}.html"
    assert all(p.is_file() for p in files.paths)
    assert files.latest_html.read_text(encoding="utf-8") == render_html(ctx)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files.paths)


def test_rewriting_replaces_latest_and_keeps_older_runs(ctx: ReportContext, tmp_path: Path) -> None:
    write_report(ctx, tmp_path, run_id=1)
    files = write_report(ctx, tmp_path, run_id=2)
    assert (tmp_path / "run-1.html").is_file()
    assert files.run_html == tmp_path / "run-2.html"
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_run_id_writes_only_latest(ctx: ReportContext, tmp_path: Path) -> None:
    files = write_report(ctx, tmp_path, run_id=None)
    assert files.run_html is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.html", "latest.md"]
