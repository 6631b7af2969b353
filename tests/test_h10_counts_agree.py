"""Counts a curator found to disagree between the report's sections, and a column that
said nothing of what it counts.

On a 150-resource night: the headline said "26 OK, 20 set aside" while the OK row of "All
resources by outcome" left 30 to "nothing to do for the rest" (4 snoozed links with
nothing wrong were set aside in the one, "the rest" in the other); the hosts' "Broken"
summed to 21 beside "13 Confirmed broken" (soft 404s and snoozed or ignored breaks in
it); and "Checks" (since the problem began) had no word of explanation.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from catalog.queries import ReportData, report_data
from reports import build_context, render_json, render_markdown
from tests import report_fixtures as fx

LATER = fx.NOW + timedelta(days=7)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    return report_data(fx.fixed_db(tmp_path_factory.mktemp("h10") / "fixed.db"))


# --- 1. the OK row counts set aside what the headline counts set aside -----------------


def test_snoozed_and_ignored_working_links_are_set_aside_in_the_ok_row_too(
    data: ReportData,
) -> None:
    """Two of the four working links set aside, with nothing wrong: the headline's "2 OK"
    are the OK row's "rest", not four."""
    aside = fx.with_resource(data, "a-ok-1", snoozed_until=LATER, snooze_reason="redesign due")
    aside = fx.with_resource(aside, "b-ok-1", ignored_reason="kept as it is")
    ctx = build_context(aside, now=fx.NOW)
    assert "2 OK" in ctx.headline and "2 set aside" in ctx.headline
    (ok,) = [t for t in ctx.totals if t.key == "ok"]
    assert ok.count == 4
    said = "The link works. 2 of them are snoozed or ignored; nothing to do for the rest."
    assert ok.explanation == said
    # The Markdown and the JSON carry the same row (the CSV has no totals).
    totals = render_markdown(ctx).split("## All resources by outcome\n", 1)[1]
    assert f"| OK | 4 | {said} |" in totals.splitlines()
    (record,) = [t for t in json.loads(render_json(ctx))["totals"] if t["key"] == "ok"]
    assert record["explanation"] == said


def test_every_working_link_set_aside_leaves_no_rest(data: ReportData) -> None:
    aside = data
    for rid in ("a-ok-1", "a-ok-2", "b-ok-1", "a-recovered"):
        aside = fx.with_resource(aside, rid, ignored_reason="kept")
    ctx = build_context(aside, now=fx.NOW)
    assert " OK" not in ctx.headline and "4 set aside" in ctx.headline
    (ok,) = [t for t in ctx.totals if t.key == "ok"]
    assert ok.explanation == "The link works. 4 of them are snoozed or ignored."
