"""The words of a run-<id>.html written alone (`report --run N`, a recheck a later run
overtook) about what its folder lacks.

A long queue group's page it cannot link: it said "the latest report lists all 320
(`linkhealth report` writes it)", though the latest report beside it (index.html, another
run's) showed the group with another count, and a plain `linkhealth report` writes into
reports_dir, not necessarily this folder. It names the command that writes the latest
report into this very folder instead."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from reports import ReportContext
from reports.site import with_earlier_nights_written, write_report
from tests.test_i3_run_page_links_resolve import _long, ctx  # noqa: F401 - fixture


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
