"""Beyond the review's tests (`test_rv_news`): what their fixes cover around them.

- A 503 address an entry took after it began answering "unavailable": the news of the
  night it starts failing counts the address's nights, not the entry's, as its
  confirmation does.
- A redirect's targets carrying a password: the resource page's history hides it, as the
  news and the queue do.
- An unsteady redirect to two addresses, one of them spelt two ways, is two addresses.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from catalog.queries import history_events, iter_link_history, report_data
from reports.build import build_context, resource_pages
from reports.render import render_resource_page
from tests.factories import days
from tests.test_fx_reverted_url_count import late_503_report
from tests.test_rv_news import _comes_and_goes, guides, moved_with
from tests.test_x2_unsteady_news import FLAP, NEW, page, row
from tests.test_x2_unsteady_news import night as x2_night

__all__ = ["guides"]


def test_a_503_address_taken_late_starts_failing_as_the_address_s_nights(
    tmp_path: Path,
) -> None:
    """The keeper's address answers 503 from night 1; the guide is edited to it before
    night 4. On night 8 the address counts as failing: the guide's row has 5 checks,
    its news said "Unavailable (503) at every check for 8 nights" as the guide's own."""
    said: dict[str, str] = {}
    ctx = late_503_report(tmp_path, taken=4, last=8)
    (guide,) = [r for r in ctx.resources if r.resource_id == "guide"]
    assert guide.checks == 5
    assert ctx.changes is not None
    for section in ctx.changes.sections:
        for item in section.items:
            if section.key == "started_failing" and item.resource_id:
                said[item.resource_id] = item.summary
    assert said["guide"].startswith("Its address unavailable (503) at every check for 8 nights")
    assert "(failing since 2025-03-02)" in said["guide"], said["guide"]
    # The keeper linked it all along: the nights are its own.
    assert said["keeper"] == "Unavailable (503) at every check for 8 nights; not confirmed yet."


def test_the_resource_page_never_prints_a_redirect_target_s_password(guides: Engine) -> None:
    """ "Redirect changed" on the guide's page quoted both targets whole."""
    a = "https://ann:s3cret@guides.example/new-a"
    b = "https://ann:s3cret@guides.example/new-b"
    x2_night(guides, 1, [page(FLAP, days(1), 1)], report=False)
    for n in range(2, 5):
        x2_night(guides, n, [moved_with(n, a if n % 2 else b)], report=False)
    data = report_data(guides)
    ctx = build_context(data, now=days(4) + timedelta(minutes=10))
    by_resource, by_link = history_events(guides)
    pages = resource_pages(data, ctx, iter_link_history(guides), by_resource, by_link, now=days(4))
    (shown,) = [render_resource_page(ctx, p) for p in pages if p.row.resource_id == "guide"]
    assert "ann:***@guides.example/new-a" in shown
    assert "s3cret" not in shown


def test_two_addresses_one_of_them_spelt_two_ways_are_two(guides: Engine) -> None:
    """/new-a (its host in capitals on one night) and /new-b by turns: two addresses,
    each named once, in the spelling most often seen."""
    a, b = f"{NEW}-a", f"{NEW}-b"
    shouted = a.replace("guides.example", "Guides.Example")
    _comes_and_goes(guides, {3: a, 5: b, 7: shouted})
    x2_night(guides, 8, [moved_with(8, a)], report=False)
    shown = row(guides, "guide", 8)
    assert "to 2 addresses by turns" in (shown.state_note or ""), shown.state_note
    assert shown.fix is not None and a in shown.fix and b in shown.fix, shown.fix
    assert "Guides.Example" not in shown.fix, shown.fix
    assert shown.suggested_url is None
