"""An ignore or snooze is about the problem the curator saw: a problem of another kind ends
it (back in the queue, with a note), the same problem again or a recovery does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from catalog import decisions, runs, store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.set_aside import lapses, problem_kind
from catalog.settings import Settings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import ReportContext
from reports.render import render_markdown
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)

HOTLINE, FINE = "https://hotline.example/", "https://fine.example/"
BOT_WALL = "works in a browser; blocks automated checks"


def _night(settings: Settings, engine: Engine, night: int, outcome: Outcome) -> ReportContext:
    run_id = store.start_run(engine, trigger="schedule", now=days(night))
    batch = [
        make_observation(HOTLINE, outcome, days(night)),
        make_observation(FINE, checked_at=days(night)),
    ]
    stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(night)))
    runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(night + 0.01)))
    return build_context(report_data(engine), now=days(night + 0.01))


def _queued(ctx: ReportContext) -> set[str]:
    return {r.resource_id for g in ctx.groups for r in g.rows}


def _nights(
    tmp_path: Path,
    before: list[Outcome],
    after: list[Outcome],
    decide: Callable[[Settings, Ticker], object],
) -> list[ReportContext]:
    """`before` nights, the decision, then `after` nights: the reports after each of those."""
    kit = make_catalog("toolkit", [make_resource("hotline", HOTLINE), make_resource("fine", FINE)])
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        for night, outcome in enumerate(before):
            _night(settings, engine, night, outcome)
        decide(settings, Ticker(days(len(before) - 0.5)))
        return [
            _night(settings, engine, len(before) + n, outcome) for n, outcome in enumerate(after)
        ]


def _ignore(settings: Settings, clock: Ticker) -> object:
    return decisions.ignore(settings, "hotline", reason=BOT_WALL, by="ana", clock=clock)


def _snooze(settings: Settings, clock: Ticker) -> object:
    until = days(30)
    return decisions.snooze(
        settings, "hotline", until=until, reason=BOT_WALL, by="ana", clock=clock
    )


def test_an_ignored_bot_wall_that_starts_answering_soft_404s_is_back_in_the_queue(
    tmp_path: Path,
) -> None:
    """The report's own advice (ignore a bot wall that works in a browser), then the domain
    lapses: the entry is back in its group, its row says what was decided and why it no
    longer holds, and the news says so the night it happened."""
    blocked, missing = Outcome.BLOCKED, Outcome.SOFT_404
    reports = _nights(tmp_path, [blocked] * 3, [blocked, missing, missing], _ignore)
    assert "hotline" not in _queued(reports[0])  # the same bot wall: still ignored
    assert [("hotline" in _queued(ctx)) for ctx in reports[1:]] == [True, True]
    row = next(r for g in reports[1].groups for r in g.rows if r.resource_id == "hotline")
    assert row.ignored_reason is None
    assert row.state_note is not None
    assert f"no longer ignored on {days(2.5).date()} by ana for '{BOT_WALL}'" in row.state_note
    assert "(then: blocked or check by hand); now: page missing (soft 404)" in row.state_note
    news = render_markdown(reports[1]).split("## Since the last run")[1]
    assert "Back in the queue: the problem changed (1)" in news
    assert "Back in the queue" not in render_markdown(reports[2]).split("## Since the last run")[1]
    assert not reports[2].set_aside


def test_an_ignore_holds_through_a_recovery_the_same_block_and_an_unconfirmed_failure(
    tmp_path: Path,
) -> None:
    """A cry of wolf is worse than none: one night's timeout at a bot wall, the wall again,
    or the link working for a while, is no new problem."""
    after = [Outcome.TIMEOUT, Outcome.BLOCKED, Outcome.OK, Outcome.RATE_LIMITED]
    reports = _nights(tmp_path, [Outcome.BLOCKED] * 3, after, _ignore)
    for ctx in reports:
        assert "hotline" not in _queued(ctx)
        assert [r.resource_id for r in ctx.set_aside] == ["hotline"]


def test_a_confirmed_break_ends_the_ignore_of_a_bot_wall(tmp_path: Path) -> None:
    """404s from a blocked link: not at the first (not yet confirmed), at the confirmation."""
    after = [Outcome.NOT_FOUND] * 4
    reports = _nights(tmp_path, [Outcome.BLOCKED] * 3, after, _ignore)
    queued = ["hotline" in _queued(ctx) for ctx in reports]
    assert queued[0] is False and queued[-1] is True
    first = queued.index(True)
    assert all(queued[first:])
    row = next(r for g in reports[first].groups for r in g.rows if r.resource_id == "hotline")
    assert row.state_note and "now: confirmed broken" in row.state_note


def test_a_new_kind_of_problem_ends_a_snooze_early(tmp_path: Path) -> None:
    """Snoozed until day 30 for a bot wall: a soft 404 on day 4 ends it then."""
    reports = _nights(tmp_path, [Outcome.BLOCKED] * 3, [Outcome.BLOCKED, Outcome.SOFT_404], _snooze)
    assert "hotline" not in _queued(reports[0])
    assert "hotline" in _queued(reports[1])
    row = next(r for g in reports[1].groups for r in g.rows if r.resource_id == "hotline")
    assert row.snoozed_until is None
    assert row.state_note and f"no longer snoozed on {days(2.5).date()} by ana until" in (
        row.state_note
    )


def test_a_new_ignore_after_a_lapse_holds_for_the_new_problem(tmp_path: Path) -> None:
    """Ignored again for the soft 404 (say, kept on purpose): it holds, without the note."""

    kit = make_catalog("toolkit", [make_resource("hotline", HOTLINE), make_resource("fine", FINE)])
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(3):
            _night(settings, engine, night, Outcome.BLOCKED)
        _ignore(settings, Ticker(days(2.5)))
        assert "hotline" in _queued(_night(settings, engine, 3, Outcome.SOFT_404))
        decisions.ignore(settings, "hotline", reason="kept on purpose", clock=Ticker(days(3.5)))
        ctx = _night(settings, engine, 4, Outcome.SOFT_404)
        assert "hotline" not in _queued(ctx)
        assert [r.resource_id for r in ctx.set_aside] == ["hotline"]
        assert "no longer" not in (ctx.set_aside[0].state_note or "")


def test_problem_kinds() -> None:
    assert problem_kind("blocked", "check_by_hand", None) == "blocked"
    assert problem_kind("ok", "ok", "a parked page") == "drift"
    assert problem_kind("not_found", "suspect", None) == "failing"
    assert problem_kind("not_found", "broken", None) == "broken"
    assert problem_kind("ok", "ok", None) is None
    assert not lapses("blocked", "failing")
    assert not lapses("blocked", None)
    assert lapses("blocked", "drift")
    assert lapses(None, "broken")
    assert not lapses("failing", "broken")  # ignored before it was confirmed
    assert lapses("failing", "drift")


def test_an_ignore_recorded_before_its_problem_was_stored_lapses_by_the_check_then(
    tmp_path: Path,
) -> None:
    """Ignores recorded by an earlier version have no problem kind in their details: the
    link's check at the time of the ignore tells it (blocked), so a soft 404 ends it."""
    kit = make_catalog("toolkit", [make_resource("hotline", HOTLINE), make_resource("fine", FINE)])
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(3):
            _night(settings, engine, night, Outcome.BLOCKED)
        hotline = store.find_resource(engine, "hotline")
        changes = {"ignored_at": days(2.5), "ignored_reason": BOT_WALL}
        store.record_decision(
            engine,
            hotline.id,
            "ignore",
            by="ana",
            at=days(2.5),
            reason=BOT_WALL,
            resource_changes=changes,
        )
        assert "hotline" not in _queued(_night(settings, engine, 3, Outcome.BLOCKED))
        assert "hotline" in _queued(_night(settings, engine, 4, Outcome.SOFT_404))
        lines = decisions.history_lines(store.resource_history(engine, "hotline"))
        lapsed = [line for line in lines if "set_aside_lapsed" in line]
        assert len(lapsed) == 1
        assert f"ignored on {days(2.5).date()} by ana for '{BOT_WALL}'" in lapsed[0]
        assert "(then: blocked or check by hand); now: page missing (soft 404)" in lapsed[0]
