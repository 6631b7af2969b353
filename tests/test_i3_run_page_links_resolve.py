"""Every link a run-<id>.html written alone (`report --run N`, a recheck a later run
overtook) leads to a file: only a latest report writes the site's pages, and the run page
linked `queue/<group>.html` for a group longer than the index shows, a page never written
for it (and, in a folder without a latest report, every resource, publisher and host
page)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from catalog.queries import report_data
from reports import ReportContext, build_context
from reports.render import INDEX_QUEUE_LIMIT
from reports.site import with_earlier_nights_written, write_report
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    engine = fx.fixed_db(tmp_path_factory.mktemp("i3-run-page") / "fixed.db")
    return build_context(report_data(engine), now=fx.NOW)


def _long(ctx: ReportContext) -> ReportContext:
    """`ctx` with its first queue group longer than the index shows, each row a resource
    of its own (with its page)."""
    group = ctx.groups[0]
    extra = tuple(
        dataclasses.replace(group.rows[0], resource_id=f"many-{n}", page=f"resources/many-{n}.html")
        for n in range(INDEX_QUEUE_LIMIT + 5)
    )
    long = dataclasses.replace(group, rows=group.rows + extra)
    return dataclasses.replace(
        ctx, groups=(long, *ctx.groups[1:]), resources=(*ctx.resources, *extra)
    )


@pytest.mark.parametrize("archive_only", [False, True], ids=["report-run", "overtaken"])
@pytest.mark.parametrize("folder", ["new", "latest-short", "latest-long"])
def test_a_run_page_written_alone_links_only_pages_that_exist(
    ctx: ReportContext, tmp_path: Path, folder: str, archive_only: bool
) -> None:
    big = _long(ctx)
    out = tmp_path / "reports"
    if folder != "new":  # the latest report there, its group short or long too
        write_report(big if folder == "latest-long" else ctx, out, run_id=3)
    files = write_report(
        with_earlier_nights_written(big, out),
        out,
        run_id=2,
        latest=False,
        archive_only=archive_only,
    )
    assert files.run_html is not None
    assert fx.dead_links(files.run_html) == []
    html = files.run_html.read_text(encoding="utf-8")
    group = big.groups[0]
    assert f"The first {INDEX_QUEUE_LIMIT} are shown here" in html
    queue_page = f"queue/{group.key}.html"
    if folder == "latest-long":  # the site's page of the group is there: linked
        assert f'href="{queue_page}"' in html
    else:  # the command that writes the latest report, with that page, into this folder
        assert queue_page not in html
        assert f"<code>linkhealth report --out {out}</code> writes the latest report" in html
        # Not "the latest report lists all N": the latest report here is another run's.
        assert "the latest report lists all" not in html
    if folder == "new":  # no resource page at all: names, not links, and why said once
        assert 'href="resources/' not in html
        assert html.count('id="unlinked-notice"') == 1
        assert "its page comes with the latest report" not in html
    else:
        assert 'href="resources/' in html
    # Only its own pages are written: the latest report's site stays as it was.
    assert folder != "new" or not (out / "queue").exists()


def test_the_latest_reports_run_page_links_the_group_page_it_writes(
    ctx: ReportContext, tmp_path: Path
) -> None:
    big = _long(ctx)
    files = write_report(with_earlier_nights_written(big, tmp_path), tmp_path, run_id=2)
    assert files.run_html is not None and files.latest_html is not None
    for page in (files.run_html, files.latest_html):
        assert f'href="queue/{big.groups[0].key}.html"' in page.read_text(encoding="utf-8")
        assert fx.dead_links(page) == []
