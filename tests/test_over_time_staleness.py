"""Staleness over weeks of nightly runs, through storage and `refresh_staleness`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, update

from catalog import store
from catalog.drift import MARKED_REASON, names_markers
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Link, Resource
from reports import build_context
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

HEALTH = HealthSettings(unverified_days=14)
WORKS, DIES, NEW = "https://works.example/", "https://dies.example/", "https://new.example/"


def test_three_weeks_of_our_own_outage_make_no_link_unverified(tmp_path: Path) -> None:
    """Our network was down from night 10 to night 30: every try stored as
    network_unavailable. No check reached any site, so a link that worked until then may
    not be called unverified ("open the link by hand ...") for it, nor one tried only
    while we were offline; a link whose real checks failed still is."""
    kit = make_catalog(
        "toolkit",
        [make_resource("works", WORKS), make_resource("dies", DIES), make_resource("new", NEW)],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(31):
            offline = 10 <= night <= 30
            if offline:
                batch = [
                    make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(night))
                    for u in (WORKS, DIES, NEW)
                ]
            else:
                batch = [
                    make_observation(WORKS, checked_at=days(night)),
                    make_observation(
                        DIES, Outcome.NOT_FOUND if night >= 2 else Outcome.OK, days(night)
                    ),
                ]  # NEW is left out of the first runs' plans (never tried)
            store.record_observations(engine, None, batch, HEALTH, now=days(night))
            store.refresh_staleness(engine, HEALTH, now=days(night))

        stale = _codes(engine)
        # The first check that reaches its site and fails: unverified since it was given.
        batch = [make_observation(NEW, Outcome.NOT_FOUND, days(31))]
        store.record_observations(engine, None, batch, HEALTH, now=days(31))
        store.refresh_staleness(engine, HEALTH, now=days(31))
        reached = _codes(engine)
    assert "unverified" not in stale["works"]
    assert "unverified" in stale["dies"]  # its real checks failed from night 2 to 9
    # Tried only while we were offline (left out of the plans before): nothing reached its
    # site, so it is not blamed either (the 2026-12-06 README walkthrough: a catalog added
    # on a machine offline for weeks had every entry "unverified since it was added").
    assert "unverified" not in stale["new"]
    assert "unverified" in reached["new"]


def _codes(engine: Any) -> dict[str, list[str]]:
    """Each resource's stale reason codes."""
    with store.read_session(engine) as s:
        rows = s.execute(select(Resource.rid, Resource.stale_reasons)).all()
    return {rid: [reason["code"] for reason in reasons or []] for rid, reasons in rows}


def _resource_updates(engine: Any, act: Callable[[], int]) -> tuple[int, int]:
    """`act()`'s result and how many `resources` rows its UPDATE statements wrote."""
    written = 0

    def count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        nonlocal written
        if statement.lstrip().upper().startswith("UPDATE RESOURCES"):
            written += len(params) if many else 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = act()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return result, written


def test_a_night_where_nothing_changed_writes_no_stale_reasons(tmp_path: Path) -> None:
    """Every entry stale for a reason that only ages (unverified, never reviewed, unchanged
    for years, an old edition): the nights after the first write nothing, since the facts
    are those of the night before. A real change (a check succeeds) is still written."""
    health = HealthSettings(unverified_days=14, review_days=30, unchanged_days=60)
    kit = make_catalog(
        "toolkit",
        [
            make_resource("works", WORKS, description="The 2009 edition"),
            make_resource("dies", DIES),
            make_resource("new", NEW),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        store.record_observations(
            engine,
            None,
            [make_observation(WORKS, checked_at=days(1), fingerprint="f1")],
            health,
            now=days(1),
        )
        for night in range(2, 400, 7):
            store.record_observations(
                engine,
                None,
                [make_observation(DIES, Outcome.NOT_FOUND, days(night))],
                health,
                now=days(night),
            )
            store.refresh_staleness(engine, health, now=days(night))
        for night in (400, 401, 440):  # a week, a day and forty days after the last write
            refresh = partial(store.refresh_staleness, engine, health, now=days(night))
            assert _resource_updates(engine, refresh) == (0, 0), night
        codes = {
            note.code
            for rid in ("works", "dies", "new")
            for note in store.find_resource(engine, rid).stale
        }
        assert codes == {"unverified", "review_overdue", "unchanged_long", "dated"}

        store.record_observations(
            engine, None, [make_observation(DIES, checked_at=days(441))], health, now=days(441)
        )
        changed = _resource_updates(
            engine, lambda: store.refresh_staleness(engine, health, now=days(441))
        )
        assert changed == (1, 1)  # "dies" works again: no longer unverified
        assert "unverified" not in {n.code for n in store.find_resource(engine, "dies").stale}


def test_a_report_replaced_by_a_newer_edition_leads_the_out_of_date_list(tmp_path: Path) -> None:
    """The TIP page turned to the next year's edition. The 2018 one of the bundled catalog
    was the last of a dozen "possibly out of date" rows with the generic age advice, and
    the review that advice asked for hid it although the entry still named 2018."""
    tip, old = "https://www.state.gov/tip-report/", "https://old.example/"
    kit = make_catalog(
        "toolkit",
        [
            make_resource("tip", tip, title="2024 Trafficking in Persons Report", year=2024),
            make_resource("old", old, title="2012 Annual Report", year=2012),
        ],
    )
    pages = {1: "2024 Trafficking in Persons Report", 2: "2025 Trafficking in Persons Report"}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night, fingerprint in ((1, 1), (2, 2), (3, 2)):
            batch = [
                make_observation(
                    tip,
                    checked_at=days(night),
                    title=pages[fingerprint],
                    fingerprint=f"f{fingerprint}",
                ),
                make_observation(old, checked_at=days(night), title="2012 Annual Report"),
            ]
            store.record_observations(engine, None, batch, HEALTH, now=days(night))
            store.refresh_staleness(engine, HEALTH, now=days(night))
            ctx = build_context(report_data(engine), now=days(night))
            rows = [r for r in ctx.rows if r.stale_codes]
            if night == 1:
                assert [r.resource_id for r in rows] == ["old"]  # dated: it names 2012
        tip_row = rows[0]
        assert [r.resource_id for r in rows] == ["tip", "old"]
        assert tip_row.stale_codes == ("new_edition",)
        assert "names 2025" in tip_row.seen and "newer edition" in (tip_row.fix or "")
        assert (tip_row.command or "").startswith("linkhealth mark-reviewed tip")


def test_a_parked_page_s_year_is_no_newer_edition_at_the_source(tmp_path: Path) -> None:
    """A domain taken over by a casino ("Best Online Casino 2026") named a later year than
    the entry's 2013: `new_edition` was stored, and `linkhealth export` told the curator to
    update the entry's title and year to the new owner's. A page the drift judge found
    markers on gives no edition; the same title on a page without them still does."""
    url = "https://kit.example/"
    kit = make_catalog("toolkit", [make_resource("kit", url, title="2013 Toolkit", year=2013)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        seen = make_observation(url, checked_at=days(1), title="Best Online Casino 2026")
        store.record_observations(engine, None, [seen], HEALTH, now=days(1))

        def codes(drift_reason: str | None) -> list[str]:
            with engine.begin() as conn:
                conn.execute(update(Link).values(drift_reason=drift_reason))
            store.refresh_staleness(engine, HEALTH, now=days(1))
            (row,) = report_data(engine).resources
            return list(row.stale_codes)

        assert "new_edition" in codes(None)
        marked = f"{MARKED_REASON}casino page (“online casino”) (match with the entry 80% → 2%)"
        assert names_markers(marked)
        assert "new_edition" not in codes(marked)


def test_a_dead_report_pdf_answered_by_an_error_page_is_drift_not_a_review_to_record(
    tmp_path: Path,
) -> None:
    """The site now answers the 2012 report's PDF link with 200 and its "An error occurred"
    page. The report said "0 to fix" and, the entry being old, offered mark-reviewed: a
    curator following it recorded a dead link as reviewed."""
    pdf = "https://agency.example/docs/annual-report-2012.pdf"
    kit = make_catalog(
        "toolkit", [make_resource("report", pdf, title="2012 Annual Report", year=2012)]
    )
    error = "text/html; charset=utf-8"
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in (1, 2, 3):
            shown: dict[str, Any] = (
                {"content_type": "application/pdf", "fingerprint": "pdf"}
                if night == 1
                else {"content_type": error, "title": "Error", "fingerprint": "error"}
            )
            obs = make_observation(pdf, checked_at=days(night * 200), **shown)
            store.record_observations(engine, None, [obs], HEALTH, now=days(night * 200))
            store.refresh_staleness(engine, HEALTH, now=days(night * 200))
        ctx = build_context(report_data(engine), now=days(600))
        (row,) = [r for r in ctx.rows if r.resource_id == "report"]
        assert row.drift_reason is not None and "'Error'" in row.drift_reason
        assert "mark-reviewed" not in (row.command or "")


def test_a_failing_link_is_not_also_unchanged_for_long(tmp_path: Path) -> None:
    """A quiet site (the same fingerprint for more than `unchanged_days`) that breaks:
    "Confirmed broken" and "the content has not changed since ..." side by side, while no
    check read the page at all. Its fingerprint stands still because it fails. While it
    fails or meets a wall, no `unchanged_long`; working again with the same page, the
    reason is back with its first date (the page did not change across the outage as far
    as anyone can tell); working again with another page, the clock starts anew."""
    health = HealthSettings(unverified_days=14, unchanged_days=60, review_days=3650)
    same, moved = "https://same.example/", "https://moved.example/"
    kit = make_catalog("toolkit", [make_resource("same", same), make_resource("moved", moved)])
    plan: dict[int, tuple[Outcome, str | None]] = {
        0: (Outcome.OK, "f1"),
        30: (Outcome.OK, "f1"),
        61: (Outcome.OK, "f1"),
        62: (Outcome.NOT_FOUND, None),
        63: (Outcome.NOT_FOUND, None),
        64: (Outcome.NOT_FOUND, None),  # confirmed broken
        65: (Outcome.BLOCKED, None),  # a wall: still broken, still not read
    }
    codes: dict[tuple[int, str], set[str]] = {}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in [*plan, 66]:
            outcome, fingerprint = plan.get(night, (Outcome.OK, None))
            batch = [
                make_observation(same, outcome, days(night), fingerprint=fingerprint or "f1"),
                make_observation(moved, outcome, days(night), fingerprint=fingerprint or "f2"),
            ]
            store.record_observations(engine, None, batch, health, now=days(night))
            store.refresh_staleness(engine, health, now=days(night))
            for rid in ("same", "moved"):
                notes = store.find_resource(engine, rid).stale
                codes[night, rid] = {n.code for n in notes}
                if night == 66 and rid == "same":
                    (unchanged,) = [n for n in notes if n.code == "unchanged_long"]
                    assert unchanged.since == days(0)
        (state,) = {row.state for row in report_data(engine).resources if row.resource_id == "same"}
    assert "unchanged_long" in codes[61, "same"]  # quiet for 61 days, working
    for night in (62, 63, 64, 65):
        assert "unchanged_long" not in codes[night, "same"], night
    assert "unchanged_long" in codes[66, "same"]
    assert "unchanged_long" not in codes[66, "moved"]
    assert state == "recovered"


def test_a_new_edition_dated_by_month_in_its_title_is_not_hidden_by_an_earlier_review(
    tmp_path: Path,
) -> None:
    """Review rv6: the entry was reviewed on 2025-03-05 (the 2023 edition); on night 10
    (2025-03-11) its address serves the 2024 edition, titled "... - June 2024". A title
    whose only change was "June 2023" -> "June 2024" made no `title_changed` (a date is
    noise in a title), so the page's form was dated from when the entry was added and the
    earlier review hid `new_edition` for up to a year. "Report 2023" -> "Report 2024"
    always was a title change (control). Either way the reason counts from night 10."""
    tip = "https://www.state.gov/tip-report/"
    for old, new in (
        ("Trafficking in Persons Report 2023", "Trafficking in Persons Report 2024"),
        ("Trafficking in Persons Report - June 2023", "Trafficking in Persons Report - June 2024"),
    ):
        for reviewed in ({"reviewed_at": "2025-03-05"}, {}):
            entry = make_resource("tip", tip, title=old, year=2023, extra=reviewed)
            with temporary_database(tmp_path, f"{len(new)}{len(reviewed)}.db") as engine:
                sync_catalogs(engine, [make_catalog("toolkit", [entry])], now=days(0))
                for night in (*range(4), 10, 11):
                    title, fingerprint = (old, "f1") if night < 10 else (new, "f2")
                    seen = make_observation(
                        tip, checked_at=days(night), fingerprint=fingerprint, title=title
                    )
                    store.record_observations(engine, None, [seen], HEALTH, now=days(night))
                    store.refresh_staleness(engine, HEALTH, now=days(night))
                stale = store.find_resource(engine, "tip").stale
            found = [(note.code, note.since) for note in stale]
            assert found == [("new_edition", days(10))], (new, reviewed)
