"""A queue row says one thing in every format, and its fix offers what the row's problem
asks for (r8's reading of the toolkit's Monday report)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalog.queries import ReportData, report_data
from reports import build_context, render_json, render_markdown
from reports.context import Priority
from tests import report_fixtures as fx

DRIFT = "The page no longer matches the entry (match with the entry 100% \u2192 14%)."
TIP_TITLE = "2025 Trafficking in Persons Report - United States Department of State"
NEW_EDITION = (
    f"The page's title names 2025 (\u201c{TIP_TITLE}\u201d), later than any year the entry "
    "names (2018); if the link now leads to a newer edition, update the entry's title and "
    "year, or link the edition the entry describes, and mark the entry reviewed."
)
DATED = (
    "The newest year the entry names is 2010 (in its year field), more than 5 years ago; "
    "look for a newer edition and link it, or, if this one is kept on purpose, mark the "
    "entry reviewed."
)
ARCHIVED = "https://web.archive.org/web/2019/https://ok.example.org/2"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    return report_data(fx.fixed_db(tmp_path_factory.mktemp("filing") / "fixed.db"))


def _json_rows(ctx: Any, rid: str) -> list[dict[str, Any]]:
    doc = json.loads(render_json(ctx))
    queued = [r for g in doc["queue"] for r in g["rows"] if r["resource_id"] == rid]
    return queued + [r for r in doc["resources"] if r["resource_id"] == rid]


def test_the_json_files_a_drifted_page_as_the_markdown_does(data: ReportData) -> None:
    """A PDF that became an error page (the link answers 200) was `label` "OK" and
    `severity` "ok" in the JSON while the HTML and Markdown said "Page no longer matches":
    a script keeping the rows whose severity is not "ok" dropped it. `outcome` keeps the
    checker's verdict."""
    ctx = build_context(fx.with_resource(data, "a-ok-2", drift_reason=DRIFT), now=fx.NOW)
    row = fx.row_of(ctx, "a-ok-2")
    assert row.priority is Priority.DRIFT
    assert f"**{row.status_badge[1]}**" in render_markdown(ctx)
    rows = _json_rows(ctx, "a-ok-2")
    assert len(rows) == 2  # under "queue" and under "resources"
    for found in rows:
        assert (found["label"], found["severity"], found["outcome"]) == (
            "Page no longer matches",
            "broken",
            "ok",
        )
    # Rows filed under their outcome's group keep its words.
    (broken, _) = _json_rows(ctx, "a-broken")
    assert (broken["label"], broken["severity"]) == ("Not found (404)", "broken")


def test_confirmed_broken_in_another_group_is_not_tagged_with_that_group_s_name(
    data: ReportData,
) -> None:
    """A soft 404 confirmed broken was tagged "(Confirmed broken)" under "Page missing
    (soft 404)", beside "Confirmed broken (1)" above it, which the headline and the
    webhook count: curators read more broken links than the group held."""
    ctx = build_context(data, now=fx.NOW)
    hostile = fx.row_of(ctx, "a-hostile")
    assert hostile.priority is Priority.SOFT_404 and hostile.state == "broken"
    assert hostile.state_note == "Confirmed"
    md = render_markdown(ctx)
    (group,) = [g for g in ctx.groups if g.priority is Priority.BROKEN]
    tagged = [r for r in group.rows if r.state_note == "Confirmed broken"]
    assert md.count("(Confirmed broken)") == len(tagged)
    assert "**Page missing (soft 404)** (Confirmed)" in md
    (found, _) = _json_rows(ctx, "a-hostile")
    assert (found["state"], found["state_label"]) == ("broken", "Confirmed")


@pytest.mark.parametrize("archive", [None, ARCHIVED])
def test_a_newer_edition_row_offers_both_decisions(data: ReportData, archive: str | None) -> None:
    """The 2018 report's page now serving the 2025 one: the row's only command was
    `mark-reviewed`, which cleared the flag and left the entry saying 2018 while it linked
    2025. Now: keep the 2018 edition (an archived copy) or list the 2025 one (edit the
    entry, then the review, whose reason says what it decided)."""
    changed = fx.with_resource(
        data,
        "a-ok-2",
        page_title=TIP_TITLE,
        stale_reasons=(NEW_EDITION,),
        stale_codes=("new_edition",),
        stale_since=fx.days_ago(5),
        archive_url=archive,
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-ok-2")
    assert row.priority is Priority.STALE and row.fix is not None and row.command is not None
    keep = "replace-url a-ok-2 --archive" if archive else "replace-url a-ok-2 NEW_URL"
    assert "To keep the 2018 edition" in row.fix and keep in row.fix
    assert "To list the 2025 edition, edit the entry's title and year" in row.fix
    assert "clears the flag and changes nothing else" in row.fix
    assert row.command.startswith("linkhealth mark-reviewed a-ok-2 --reason")
    assert "lists the 2025 edition" in row.command


@pytest.mark.parametrize(
    ("kind", "editions"),
    [("web portal", False), ("hotline", False), ("report", True), (None, True)],
)
def test_a_dated_site_is_not_asked_for_a_newer_edition(
    data: ReportData, kind: str | None, editions: bool
) -> None:
    """DHS's Blue Campaign, a web portal whose entry names 2010, was told to "look for a
    newer edition": a site has none. A report still is."""
    changed = fx.with_resource(
        data,
        "a-ok-2",
        resource_type=kind,
        stale_reasons=(DATED,),
        stale_codes=("dated",),
        stale_since=fx.days_ago(400),
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-ok-2")
    assert row.priority is Priority.STALE
    assert ("newer edition" in row.seen) is editions
    assert row.seen.startswith("The newest year the entry names is 2010")
    assert "mark the entry reviewed" in row.seen


def test_out_of_date_entries_of_one_page_name_each_other(data: ReportData) -> None:
    """Three DHS infographic entries of one page were three identical rows; each now
    names the others, to be reviewed together (or kept as one entry)."""
    stale = {
        "stale_reasons": (DATED,),
        "stale_codes": ("dated",),
        "stale_since": fx.days_ago(400),
    }
    url = fx.row_of(build_context(data, now=fx.NOW), "a-ok-2").url
    changed = fx.with_resource(data, "a-ok-2", **stale)
    changed = fx.with_resource(changed, "a-recovered", url=url, state="ok", **stale)
    ctx = build_context(changed, now=fx.NOW)
    first, second = fx.row_of(ctx, "a-ok-2"), fx.row_of(ctx, "a-recovered")
    assert first.entry_only and second.entry_only
    assert "Entry a-recovered of this catalog links the same page" in (first.fix or "")
    assert "Entry a-ok-2 of this catalog links the same page" in (second.fix or "")
    # An entry alone at its address names no other.
    alone = fx.row_of(
        build_context(fx.with_resource(data, "a-ok-2", **stale), now=fx.NOW), "a-ok-2"
    )
    assert "same page" not in (alone.fix or "")
