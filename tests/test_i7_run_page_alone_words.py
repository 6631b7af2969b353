"""The words of a run-<id>.html written alone (`report --run N`, a recheck a later run
overtook) about what its folder lacks.

A long queue group's page it cannot link: it said "the latest report lists all 320
(`linkhealth report` writes it)", though the latest report beside it (index.html, another
run's) showed the group with another count, and a plain `linkhealth report` writes into
reports_dir, not necessarily this folder. It names the command that writes the latest
report into this very folder instead.

Names it cannot link (every one, in a new folder) it said "(its page comes with the latest
report)" after, 833 times on a page of 320 rows: a notice near its top says why, once."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from reports import ReportContext
from reports.render import UNLINKED_SLOT
from reports.site import with_earlier_nights_written, write_report
from tests.test_i3_run_page_links_resolve import _long, ctx  # noqa: F401 - fixture

#: The words the run page used to say after every name it could not link.
OLD_NOTE = "its page comes with the latest report"


def _alone(report: ReportContext, out: Path) -> str:
    files = write_report(with_earlier_nights_written(report, out), out, run_id=2, latest=False)
    assert files.run_html is not None
    return files.run_html.read_text(encoding="utf-8")


def test_the_run_page_does_not_claim_the_latest_report_lists_what_it_does_not(
    ctx: ReportContext,  # noqa: F811
    tmp_path: Path,
) -> None:
    big = _long(ctx)
    out = tmp_path / "reports"
    write_report(ctx, out, run_id=3)  # the folder's latest report: its group short
    run_page = _alone(big, out)
    index = (out / "index.html").read_text(encoding="utf-8")
    key, heading = big.groups[0].key, big.groups[0].heading
    shown = re.search(rf'id="queue-{key}".*?\((\d+)\)</div>', index, re.S)
    assert shown is not None
    claimed = re.search(r"the latest report lists all (\d+)", run_page)
    assert claimed is None or claimed[1] == shown[1], (
        f"run-2.html: 'the latest report lists all {claimed[1]}'; "
        f"index.html beside it: {heading} ({shown[1]})"
    )


def test_the_command_it_names_writes_into_this_folder_of_this_database(
    ctx: ReportContext,  # noqa: F811
    tmp_path: Path,
) -> None:
    trial = ("--db", "sqlite:////srv/lh/var/trial.db")
    out = tmp_path / "reports-trial"
    run_page = _alone(dataclasses.replace(_long(ctx), command_options=trial), out)
    command = f"linkhealth report --db sqlite:////srv/lh/var/trial.db --out {out}"
    head = LexborHTMLParser(run_page).css_first(f"#queue-{ctx.groups[0].key} th")
    assert head is not None
    assert f"{command} writes the latest report into this folder" in head.text(), head.text()


def test_a_run_page_in_a_new_folder_says_once_why_no_name_is_a_link(
    ctx: ReportContext,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "reports"
    run_page = _alone(_long(ctx), out)
    tree = LexborHTMLParser(run_page)
    assert tree.css('a[href^="resources/"], a[href^="publishers/"], a[href^="hosts/"]') == []
    assert OLD_NOTE not in run_page
    (notice,) = tree.css("#unlinked-notice")
    words = notice.text()
    assert words.startswith("The names of resources, publishers and hosts on this page are not")
    assert "this folder holds no pages of the site" in words
    assert f"linkhealth report --out {out}" in words
    # Near the top: before the queue.
    assert run_page.index('id="unlinked-notice"') < run_page.index('id="attention"')
    # The names are still there, as text.
    row = tree.css_first(f'#attention tr[data-resource-id="{ctx.groups[0].rows[0].resource_id}"]')
    assert row is not None and ctx.groups[0].rows[0].title in row.text()


def test_beside_a_latest_report_only_the_names_it_lacks_are_said_once(
    ctx: ReportContext,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "reports"
    write_report(ctx, out, run_id=3)  # without the resources `_long` adds
    run_page = _alone(_long(ctx), out)
    assert OLD_NOTE not in run_page
    assert run_page.count('id="unlinked-notice"') == 1
    assert "Some names of resources" in run_page
    assert 'href="resources/' in run_page  # those it has keep their link


def test_a_run_page_that_links_every_name_has_no_notice(
    ctx: ReportContext,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "reports"
    write_report(ctx, out, run_id=3)
    run_page = _alone(ctx, out)
    assert 'id="unlinked-notice"' not in run_page
    assert UNLINKED_SLOT not in run_page
