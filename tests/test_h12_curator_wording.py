"""A curator's read of the report's words: no quoted placeholder for a title a page did
not have, an outcome's acronym kept in a fix, a drift's figures in plain words, and the
"Check by hand" group told in two short sentences."""

from __future__ import annotations

import dataclasses
import re

import pytest

from catalog.drift import Relevance, judge_drift
from catalog.outcomes import WATCHED, Outcome
from catalog.queries import ReportData, report_data
from reports import Priority, build_context, render_html
from reports.changes import arrow
from reports.history import history_items
from tests import report_fixtures as fx

REPORT = "Report 34: Evaluation funding and trauma"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    return report_data(fx.fixed_db(tmp_path_factory.mktemp("h12") / "fixed.db"))


def _without_old_title(data: ReportData) -> ReportData:
    changes = tuple(
        dataclasses.replace(e, details={**e.details, "old_title": None, "new_title": REPORT})
        if e.kind == "content_changed"
        else e
        for e in data.changes
    )
    return dataclasses.replace(data, changes=changes)


def test_a_title_a_page_did_not_have_is_no_quoted_dash(data: ReportData) -> None:
    assert arrow(None, REPORT) == f"set: “{REPORT}”"
    assert arrow(REPORT, None) == f"removed (was “{REPORT}”)"
    assert arrow("A", "B") == "“A” → “B”"
    ctx = build_context(_without_old_title(data), now=fx.NOW)
    assert ctx.changes is not None
    (item,) = [i for s in ctx.changes.sections for i in s.items if i.kind == "content_changed"]
    assert item.summary.startswith(f"Content changed: title set: “{REPORT}”;")
    assert item.quoted == (REPORT,)
    html = render_html(ctx)
    assert f"title set: “<bdi>{REPORT}</bdi>”" in html and "“<bdi>—</bdi>”" not in html
    # The resource page's history says it alike.
    (event,) = [e for e in _without_old_title(data).changes if e.kind == "content_changed"]
    (said,) = [i.detail for i in history_items((), [event], fx.NOW)]
    assert said is not None and said.startswith(f"title set: “{REPORT}”")


@pytest.mark.parametrize(
    ("outcome", "label"),
    [(Outcome.HTTP_ERROR, "HTTP error"), (Outcome.DNS_ERROR, "Domain not found")],
)
def test_a_confirmed_break_s_fix_names_its_latest_check_as_its_badge_does(
    data: ReportData, outcome: Outcome, label: str
) -> None:
    changed = fx.with_resource(
        data, "a-broken", outcome=outcome, outcome_value=outcome.value, http_status=500
    )
    row = fx.row_of(build_context(changed, now=fx.NOW), "a-broken")
    assert (row.priority, row.label) == (Priority.BROKEN, label)
    assert row.fix is not None and f"; the latest: {label})" in row.fix


def test_a_parked_page_s_figures_read_as_plain_words() -> None:
    parked = Relevance(0.0, ("parking",), ("Buy this domain",), words=40)
    first = judge_drift(parked, [])
    assert first is not None and "(it shares 0% of the entry's words)" in first.reason
    fallen = judge_drift(parked, [0.8, 0.8, 0.8])
    assert fallen is not None and "(it shared 80% of the entry's words, now 0%)" in fallen.reason
    for verdict in (first, fallen):
        assert "match with the entry" not in verdict.reason


def test_check_by_hand_is_told_in_two_short_sentences() -> None:
    text = Priority.LOOK.description
    sentences = [s for s in re.split(r"(?<=\.)\s+", text) if s]
    assert len(sentences) == 2
    assert all(len(s.split()) <= 25 for s in sentences), sentences
    assert "open them in a browser" in sentences[0]
    # The rows it means say "Watched: nothing to do ...".
    assert f"“{WATCHED.split(':')[0]}”" in sentences[1]
