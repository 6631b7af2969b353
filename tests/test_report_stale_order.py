"""The order of "Possibly out of date", as stored and in every format: links that may be
gone first, then the entries longest out of date, whatever their link's "since"."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select

from catalog.db import session_scope
from catalog.queries import report_data
from catalog.tables import Link, Resource
from reports import ReportContext, build_context, render_html, render_markdown
from reports.context import Priority
from reports.render import render_csv, render_json
from tests import report_fixtures as fx

#: (resource id, code, since) stored as `catalog.store` stores staleness.
_REASONS: dict[str, tuple[str, str | None]] = {
    "b-new": ("unverified", "2025-02-01T00:00:00+00:00"),
    "b-nolink": ("unverified", "2025-01-15T00:00:00+00:00"),
    "a-ok-2": ("review_overdue", "2024-06-01T00:00:00+00:00"),
    "a-recovered": ("dated", "2012-01-01T00:00:00+00:00"),
    "a-ok-1": ("unchanged_long", "2022-05-01T00:00:00+00:00"),
    "b-ok-1": ("review_overdue", None),  # stored before reasons had dates
}
#: No check has succeeded on the first two (oldest first); then the longest out of date.
EXPECTED = ["b-nolink", "b-new", "a-recovered", "a-ok-1", "a-ok-2", "b-ok-1"]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    engine = fx.fixed_db(tmp_path_factory.mktemp("stale") / "stale.db")
    with session_scope(engine) as s:
        for row in s.scalars(select(Resource).where(Resource.rid.in_(list(_REASONS)))):
            code, since = _REASONS[row.rid]
            row.stale_reasons = [{"code": code, "reason": f"{row.rid} is {code}", "since": since}]
        # The link of the entry out of date the shortest has worked the longest: ranked by
        # its "since", it came first.
        a_ok_2 = s.scalars(select(Link).where(Link.url == "https://ok.example.org/2")).one()
        a_ok_2.last_change_at = fx.days_ago(400)
        recovered = s.scalars(select(Link).where(Link.url == "https://ok.example.org/3")).one()
        recovered.last_change_at = fx.days_ago(1)
    return build_context(report_data(engine), now=fx.NOW)


def _stale_ids(rows: Any) -> list[str]:
    return [r.resource_id for r in rows if r.priority is Priority.STALE]


def test_out_of_date_entries_come_longest_out_of_date_first(ctx: ReportContext) -> None:
    (group,) = [g for g in ctx.groups if g.priority is Priority.STALE]
    assert [r.resource_id for r in group.rows] == EXPECTED
    assert "longest out of date" in group.description
    first = group.rows[2]
    assert first.stale_since is not None and first.stale_since.date == "2012-01-01"
    assert group.rows[-1].stale_since is None
    # a-ok-2's link has worked for 400 days, a-recovered's for one: neither says how long
    # the entry has been out of date.
    rows = {r.resource_id: r for r in group.rows}
    assert rows["a-ok-2"].since and rows["a-recovered"].since
    assert rows["a-ok-2"].since.iso < rows["a-recovered"].since.iso


def test_every_format_lists_them_in_the_same_order(ctx: ReportContext) -> None:
    tree = LexborHTMLParser(render_html(ctx))
    html = [
        str(tr.attributes["data-resource-id"])
        for tr in tree.css('tbody[data-priority="stale"] tr[data-resource-id]')
    ]
    assert html == EXPECTED

    markdown = render_markdown(ctx).split("### Possibly out of date", 1)[1].split("\n## ", 1)[0]
    ids = "|".join(map(re.escape, EXPECTED))
    assert re.findall(rf"\(({ids}), ", markdown) == EXPECTED

    lines = list(csv.DictReader(io.StringIO(render_csv(ctx))))
    stale = [line for line in lines if line["group"] == "stale"]
    assert [line["id"] for line in stale] == EXPECTED
    assert [int(line["rank"]) for line in stale] == sorted(int(line["rank"]) for line in stale)
    assert stale[2]["stale_since"].startswith("2012-01-01") and stale[-1]["stale_since"] == ""

    doc = json.loads(render_json(ctx))
    (queued,) = [g for g in doc["queue"] if g["key"] == "stale"]
    assert [r["resource_id"] for r in queued["rows"]] == EXPECTED
    assert queued["rows"][2]["stale_since"]["date"] == "2012-01-01"
