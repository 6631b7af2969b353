"""A report written after `accept-redirect`, before the next check: the entry's new
address was fetched that night as its old address's redirect target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import CHECKS_NOT_COUNTED, Priority, ReportContext
from reports.render import render_html, render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

OLD, NEW = "https://agency.example/old-guide", "https://agency.example/guides/new"


def _report_after_editing_to(tmp_path: Path, edited_to: str, **fields: Any) -> ReportContext:
    """`moved` redirects permanently to NEW (answering 200) on night 1; its URL is then
    edited to `edited_to`, and the report written before the next check. `fields`: more
    of `moved`'s."""
    kit = [
        make_resource("moved", OLD, title="Guide", **fields),
        make_resource("steady", "https://b.example/"),
    ]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", kit)], now=days(0))
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        batch = [
            make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), final_url=NEW),
            make_observation("https://b.example/", Outcome.OK, days(1)),
        ]
        store.record_observations(engine, run_id, batch, HealthSettings(), now=days(1))
        store.finish_run(engine, run_id, status="completed", now=days(1.01))
        kit[0] = make_resource("moved", edited_to, title="Guide", **fields)
        sync_catalogs(engine, [make_catalog("toolkit", kit)], now=days(1.2))
        return build_context(report_data(engine), now=days(1.3))


@pytest.mark.parametrize("edited_to", [NEW, f"{NEW}#part-2"], ids=["plain", "section"])
def test_an_accepted_redirect_is_not_counted_as_never_checked(
    tmp_path: Path, edited_to: str
) -> None:
    """It said "Not checked yet" and the headline "1 not checked yet", as of an entry just
    added, though that night's check had fetched the new address (200)."""
    ctx = _report_after_editing_to(tmp_path, edited_to)

    row = next(r for r in ctx.resources if r.resource_id == "moved")
    assert row.seen == (
        "Not checked at its new address yet; reached as the redirect target on "
        f"{days(1):%Y-%m-%d}: OK (200)."
    )
    assert "not checked yet" not in ctx.headline
    assert "2 OK" in ctx.headline


def test_an_address_the_last_check_did_not_reach_is_not_checked_yet(tmp_path: Path) -> None:
    """A URL edited to any other address has not been fetched: "Not checked yet" it is."""
    ctx = _report_after_editing_to(tmp_path, "https://agency.example/elsewhere")

    row = next(r for r in ctx.resources if r.resource_id == "moved")
    assert row.seen == "Not checked yet"
    assert "1 not checked yet" in ctx.headline


def test_an_accepted_redirect_of_a_dated_entry_is_counted_to_review_as_its_group_says(
    tmp_path: Path,
) -> None:
    """An entry of 2019, its redirect accepted: filed under "Possibly out of date", which
    the headline calls "to review (the link works)". It said "1 to check or watch", a part
    no group shown holds; undated, the same row counts OK."""
    ctx = _report_after_editing_to(tmp_path, NEW, year=2019)

    row = next(r for r in ctx.resources if r.resource_id == "moved")
    assert row.priority is Priority.STALE and row.queued
    assert [(g.heading, [r.resource_id for r in g.rows]) for g in ctx.groups] == [
        ("Possibly out of date", ["moved"])
    ]
    assert ctx.headline == "2 resources: 0 to fix, 1 to review (the link works), 1 OK."
    # The host's "need attention" counts the row the queue shows (`Row.queued`).
    (host,) = [h for h in ctx.hosts if h.name == "agency.example"]
    assert host.attention == 1


def test_a_dated_accepted_redirect_says_why_it_is_to_review(tmp_path: Path) -> None:
    """It said only "Not checked at its new address yet; reached ...", its fix "Review the
    entry": the year that files it under "Possibly out of date" was on no page of the
    report (`linkhealth resource` says it)."""
    ctx = _report_after_editing_to(tmp_path, NEW, year=2016)

    row = next(r for r in ctx.resources if r.resource_id == "moved")
    assert row.seen.startswith("The newest year the entry names is 2016"), row.seen
    assert row.seen.endswith(
        "Not checked at its new address yet; reached as the redirect target on "
        f"{days(1):%Y-%m-%d}: OK (200)."
    )
    (line,) = [li for li in render_markdown(ctx).splitlines() if "(moved, " in li]
    assert "2016" in line


def test_the_totals_count_an_accepted_redirect_where_the_headline_does(tmp_path: Path) -> None:
    """The headline said "2 OK" while "All resources by outcome" filed the entry under "Not
    checked yet", "Added since the last check" (it was not): one rule, `_headline_part`."""
    ctx = _report_after_editing_to(tmp_path, NEW)

    assert [(t.label, t.count) for t in ctx.totals] == [("OK", 2)]
    assert ctx.totals[0].explanation == (
        "The link works; nothing to do. 1 of them is not checked at its new address yet, "
        "which the last check of its old one reached as the redirect's target."
    )


def test_the_totals_queue_a_dated_accepted_redirect_as_the_headline_does(
    tmp_path: Path,
) -> None:
    """Dated, the headline counts it "to review": the OK row's "nothing to do for the rest"
    must not count it."""
    ctx = _report_after_editing_to(tmp_path, NEW, year=2019)

    assert [(t.label, t.count) for t in ctx.totals] == [("OK", 2)]
    assert ctx.totals[0].explanation == (
        "The link works. 1 of them is in the queue all the same (1 Possibly out of date); "
        "nothing to do for the rest. 1 of them is not checked at its new address yet, "
        "which the last check of its old one reached as the redirect's target."
    )


def test_a_dated_accepted_redirect_shows_no_count_of_checks(tmp_path: Path) -> None:
    """Its queue row's Checks said "0", where CHECKS_NOTE promises "—" of an entry to
    review whose link works: the headline's rule (`Row.entry_only`)."""
    ctx = _report_after_editing_to(tmp_path, NEW, year=2019)

    row = next(r for r in ctx.resources if r.resource_id == "moved")
    assert row.entry_only and not row.checks_counted
    assert f'<span class="skip">{CHECKS_NOT_COUNTED}</span>' in render_html(ctx)
    line = next(li for li in render_markdown(ctx).splitlines() if "(moved, " in li)
    assert " | — | — | " in line
