"""An ignore or snooze is about the problem the curator saw: a problem of another kind ends
it (back in the queue, with a note), the same problem again or a recovery does not."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog import decisions, runs, store
from catalog.model import pack_text
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


def _night(
    settings: Settings, engine: Engine, night: int, outcome: Outcome, **hotline: Any
) -> ReportContext:
    """A run of `night`: the hotline's try (`outcome`, its other fields `hotline`), the
    other link working; the report after it."""
    run_id = store.start_run(engine, trigger="schedule", now=days(night))
    batch = [
        make_observation(HOTLINE, outcome, days(night), **hotline),
        make_observation(FINE, checked_at=days(night)),
    ]
    stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(night)))
    runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(night + 0.01)))
    return build_context(report_data(engine), now=days(night + 0.01))


def _queued(ctx: ReportContext) -> set[str]:
    return {r.resource_id for g in ctx.groups for r in g.rows}


#: A night's try of the hotline: its outcome, or the outcome and its other fields.
Try = Outcome | tuple[Outcome, dict[str, Any]]


@contextmanager
def toolkit(tmp_path: Path, **health: Any) -> Iterator[tuple[Settings, Engine]]:
    """The hotline and a link that works, synced on day 0: their settings (`health`: the
    `[health]` settings) and database."""
    kit = make_catalog("toolkit", [make_resource("hotline", HOTLINE), make_resource("fine", FINE)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        yield settings_for(engine, **health), engine


def _tried(settings: Settings, engine: Engine, night: int, hotline: Try) -> ReportContext:
    outcome, fields = hotline if isinstance(hotline, tuple) else (hotline, {})
    return _night(settings, engine, night, outcome, **fields)


def _nights(
    tmp_path: Path,
    before: Sequence[Try],
    after: Sequence[Try],
    decide: Callable[[Settings, Ticker], object],
) -> list[ReportContext]:
    """`before` nights, the decision, then `after` nights: the reports after each of those."""
    with toolkit(tmp_path) as (settings, engine):
        for night, outcome in enumerate(before):
            _tried(settings, engine, night, outcome)
        decide(settings, Ticker(days(len(before) - 0.5)))
        return [
            _tried(settings, engine, len(before) + n, outcome) for n, outcome in enumerate(after)
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
    lapses: once the soft 404 is confirmed the entry is back in its group, its row says
    what was decided and when it ended, and the news says so the night it happened."""
    blocked, missing = Outcome.BLOCKED, Outcome.SOFT_404
    reports = _nights(tmp_path, [blocked] * 3, [blocked, *[missing] * 4], _ignore)
    # The same bot wall, then soft 404s not yet confirmed: still ignored.
    assert [("hotline" in _queued(ctx)) for ctx in reports] == [False, False, False, True, True]
    row = next(r for g in reports[3].groups for r in g.rows if r.resource_id == "hotline")
    assert row.ignored_reason is None
    assert row.state_note is not None
    assert f"ignored on {days(2.5).date()} by ana for '{BOT_WALL}'" in row.state_note
    assert "(then: blocked or check by hand); back in the queue on" in row.state_note
    assert "when it became: page missing (soft 404)" in row.state_note
    news = render_markdown(reports[3]).split("## Since the last run")[1]
    assert "Back in the queue: the problem changed (1)" in news
    assert "Back in the queue" not in render_markdown(reports[4]).split("## Since the last run")[1]
    assert not reports[4].set_aside


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
    assert row.state_note and "when it became: confirmed broken" in row.state_note


def test_a_new_kind_of_problem_ends_a_snooze_early(tmp_path: Path) -> None:
    """Snoozed until day 30 for a bot wall: a soft 404 from day 4, confirmed on day 6,
    ends it then."""
    after = [Outcome.BLOCKED, *[Outcome.SOFT_404] * 3]
    reports = _nights(tmp_path, [Outcome.BLOCKED] * 3, after, _snooze)
    assert [("hotline" in _queued(ctx)) for ctx in reports] == [False, False, False, True]
    row = next(r for g in reports[3].groups for r in g.rows if r.resource_id == "hotline")
    assert row.snoozed_until is None
    assert row.state_note and f"snoozed on {days(2.5).date()} by ana until" in (row.state_note)


def test_a_new_ignore_after_a_lapse_holds_for_the_new_problem(tmp_path: Path) -> None:
    """Ignored again for the soft 404 (say, kept on purpose): it holds, without the note."""

    with toolkit(tmp_path) as (settings, engine):
        for night in range(3):
            _night(settings, engine, night, Outcome.BLOCKED)
        _ignore(settings, Ticker(days(2.5)))
        for night in (3, 4):
            _night(settings, engine, night, Outcome.SOFT_404)
        assert "hotline" in _queued(_night(settings, engine, 5, Outcome.SOFT_404))
        decisions.ignore(settings, "hotline", reason="kept on purpose", clock=Ticker(days(5.5)))
        ctx = _night(settings, engine, 6, Outcome.SOFT_404)
        assert "hotline" not in _queued(ctx)
        assert [r.resource_id for r in ctx.set_aside] == ["hotline"]
        assert "back in the queue" not in (ctx.set_aside[0].state_note or "")


def test_problem_kinds() -> None:
    assert problem_kind("blocked", "check_by_hand", None) == "blocked"
    assert problem_kind("ok", "ok", "a parked page") == "drift"
    assert problem_kind("not_found", "suspect", None) == "failing_gone"
    assert problem_kind("not_found", "broken", None) == "gone"
    assert problem_kind("http_error", "broken", None, 500) == "broken"
    assert problem_kind("http_error", "broken", None, 403) == "refused"
    assert problem_kind("redirect_to_error", "broken", None, 410) == "gone"
    assert problem_kind("http_error", "suspect", None, 403) == "failing_refused"
    assert problem_kind("ok", "ok", None) is None
    assert not lapses("blocked", "failing")
    assert not lapses("blocked", None)
    assert lapses("blocked", "drift")
    assert lapses(None, "broken")
    assert not lapses("failing", "broken")  # ignored before it was confirmed
    assert lapses("failing", "drift")
    # A bot wall that times out: blocked and timing out are one problem, either way.
    assert problem_kind("timeout", "broken", None) == "timed_out"
    assert not lapses("failing", "blocked")
    assert not lapses("blocked", "timed_out")
    assert not lapses("timed_out", "blocked")
    assert not lapses("broken", "timed_out")
    assert lapses("broken", "blocked")
    # A page turning us away and a page gone: two problems, each another than a block
    # (gone) or the same (refused); either is a break as a 500 is.
    assert lapses("refused", "gone") and lapses("gone", "refused")
    assert not lapses("refused", "blocked") and not lapses("blocked", "refused")
    assert lapses("gone", "blocked") and lapses("blocked", "gone")
    assert not lapses("soft_404", "gone") and not lapses("gone", "soft_404")
    assert lapses("refused", "soft_404")
    for kind in ("refused", "gone"):
        assert not lapses("broken", kind) and not lapses(kind, "broken")
        assert not lapses(kind, "timed_out") and not lapses("failing", kind)


def test_an_ignore_recorded_before_its_problem_was_stored_lapses_by_the_check_then(
    tmp_path: Path,
) -> None:
    """Ignores recorded by an earlier version have no problem kind in their details: the
    link's check at the time of the ignore tells it (blocked), so a soft 404 ends it."""
    with toolkit(tmp_path) as (settings, engine):
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
        for night in (4, 5):  # a soft 404 not yet confirmed
            assert "hotline" not in _queued(_night(settings, engine, night, Outcome.SOFT_404))
        assert "hotline" in _queued(_night(settings, engine, 6, Outcome.SOFT_404))
        lines = decisions.history_lines(store.resource_history(engine, "hotline"))
        lapsed = [line for line in lines if "set_aside_lapsed" in line]
        assert len(lapsed) == 1
        assert f"ignored on {days(2.5).date()} by ana for '{BOT_WALL}'" in lapsed[0]
        assert "(then: blocked or check by hand); back in the queue on" in lapsed[0]
        assert "when it became: page missing (soft 404)" in lapsed[0]


_B, _T, _R, _OK = Outcome.BLOCKED, Outcome.TIMEOUT, Outcome.RATE_LIMITED, Outcome.OK


@pytest.mark.parametrize(
    ("before", "after", "decide"),
    [
        # Snoozed for a site rebuild while it worked: one night of 429 (come back later).
        ([_OK, _OK], [_OK, _R, _OK, _R, _R], _snooze),
        # Ignored while it worked: one night of 403.
        ([_OK, _OK], [_B, _OK], _ignore),
        # A confirmed 404 ignored on purpose: the site shows a 403 one night.
        ([Outcome.NOT_FOUND] * 4, [_B, Outcome.NOT_FOUND], _ignore),
        # A bot wall ignored: one night's soft 404, not confirmed, then the wall again.
        ([_B] * 3, [Outcome.SOFT_404, _B, _B], _ignore),
        # Ignored on a night the bot wall timed out: the wall again, night after night.
        ([_B, _B, _T], [_B, _B, _B], _ignore),
        # A bot wall ignored, blocking some nights and timing out others (confirmed).
        ([_B] * 3, [_T, _B, _T, _B, _T, _T, _T, _B], _ignore),
    ],
)
def test_a_passing_problem_or_the_same_wall_ends_no_set_aside(
    tmp_path: Path,
    before: list[Outcome],
    after: list[Outcome],
    decide: Callable[[Settings, Ticker], object],
) -> None:
    """One night of a problem that passes, a 429, or a bot wall timing out is no reason to
    put a decided entry back in the queue."""
    for ctx in _nights(tmp_path, before, after, decide):
        assert "hotline" not in _queued(ctx)
        assert [r.resource_id for r in ctx.set_aside] == ["hotline"]


def test_a_block_seen_two_nights_ends_an_ignore_made_while_it_worked(tmp_path: Path) -> None:
    reports = _nights(tmp_path, [_OK, _OK], [_B, _B, _B], _ignore)
    assert [("hotline" in _queued(ctx)) for ctx in reports] == [False, True, True]


def test_an_ignore_recorded_before_its_problem_was_stored_on_a_wall_timeout_holds(
    tmp_path: Path,
) -> None:
    """An earlier version's ignore, made the night the bot wall timed out (not confirmed):
    read as the wall, not as a confirmed break that a block would end."""
    with toolkit(tmp_path) as (settings, engine):
        for night, outcome in enumerate([_B, _B, _T]):
            _night(settings, engine, night, outcome)
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
        for night in (3, 4, 5):
            assert "hotline" not in _queued(_night(settings, engine, night, _B))


#: The hotline's try on a night it was not sent (its host answered 503 to other links and
#: said to come back in two hours), and on a night our own network was down: neither is
#: the link's own answer.
_HELD = (_R, {"http_status": 503, "held": True, "reason": "HEAD not sent: host unavailable"})
_OFFLINE = (Outcome.NETWORK_UNAVAILABLE, {"http_status": None})


@pytest.mark.parametrize("untried", [_HELD, _OFFLINE], ids=["held", "network_down"])
@pytest.mark.parametrize(
    ("before", "after", "queued"),
    [
        # A confirmed 404 ignored on purpose the morning after a night it was not tried:
        # the same 404s after it keep it out (read as the host's 503, "blocked", or as
        # working, the 404s were another problem and put it back).
        ([Outcome.NOT_FOUND] * 4, [Outcome.NOT_FOUND] * 3, [False, False, False]),
        # Ignored while it worked, the morning after a night it was not tried: a block seen
        # two nights puts it back (read as the host's 503, "blocked", it stayed out).
        ([_OK, _OK], [_B, _B, _B], [False, True, True]),
    ],
)
def test_an_ignore_recorded_before_its_problem_was_stored_reads_the_last_real_check(
    tmp_path: Path,
    untried: tuple[Outcome, dict[str, Any]],
    before: list[Outcome],
    after: list[Outcome],
    queued: list[bool],
) -> None:
    """An earlier version's ignore, made after a night the link was held or our network
    was down: its problem then is the link's last check before it, as its kept state
    says, not that night's try, which asked the link nothing."""
    with toolkit(tmp_path) as (settings, engine):
        for night, outcome in enumerate(before):
            _night(settings, engine, night, outcome)
        untried_night = len(before)
        outcome, fields = untried
        _night(settings, engine, untried_night, outcome, **fields)
        hotline = store.find_resource(engine, "hotline")
        at = days(untried_night + 0.5)
        store.record_decision(
            engine,
            hotline.id,
            "ignore",
            by="ana",
            at=at,
            reason="kept on purpose",
            resource_changes={"ignored_at": at, "ignored_reason": "kept on purpose"},
        )
        reports = [
            _night(settings, engine, untried_night + 1 + n, outcome)
            for n, outcome in enumerate(after)
        ]
    assert [("hotline" in _queued(ctx)) for ctx in reports] == queued


def test_an_entry_snoozed_and_ignored_is_back_once_with_its_note(tmp_path: Path) -> None:
    """One news item for one entry, and the row says both decisions ended."""

    def both(settings: Settings, clock: Ticker) -> object:
        _snooze(settings, Ticker(days(2.4)))
        return _ignore(settings, clock)

    missing = Outcome.SOFT_404
    reports = _nights(tmp_path, [_B] * 3, [missing] * 3, both)
    ctx = reports[-1]
    news = render_markdown(ctx).split("## Since the last run")[1]
    assert "Back in the queue: the problem changed (1)" in news
    row = next(r for g in ctx.groups for r in g.rows if r.resource_id == "hotline")
    assert row.snoozed_until is None and row.ignored_reason is None
    assert row.state_note is not None
    assert f"ignored on {days(2.5).date()} by ana" in row.state_note
    assert f"snoozed on {days(2.4).date()} by ana" in row.state_note


def test_the_lapse_note_stays_true_on_later_nights(tmp_path: Path) -> None:
    """The row tells what was decided and when it ended, not a "now" that goes stale."""
    missing = Outcome.SOFT_404
    reports = _nights(tmp_path, [_B] * 3, [missing] * 3 + [Outcome.NOT_FOUND] * 2, _ignore)
    for ctx in reports[2:]:
        row = next(r for g in ctx.groups for r in g.rows if r.resource_id == "hotline")
        assert row.state_note is not None
        assert "now:" not in row.state_note
        assert (
            f"back in the queue on {days(5.01).date()} when it became: page missing (soft 404)"
            in row.state_note
        )


def test_a_drift_seen_two_nights_ends_the_ignore_of_a_bot_wall(tmp_path: Path) -> None:
    """The domain lapsed and a casino holds it: not on the first night (a hacked page is
    sometimes cleaned by the next), on the second."""
    casino = {
        "title": "Best Online Casino",
        "text_sample_packed": pack_text(
            "Online casino with free spins and a welcome bonus. Play slots, poker, roulette "
            "and blackjack. Sports betting and live casino games with the best odds tonight."
        ),
    }
    with toolkit(tmp_path) as (settings, engine):
        for night in range(3):
            _night(settings, engine, night, _B)
        _ignore(settings, Ticker(days(2.5)))
        queued = []
        for night in (3, 4, 5):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            batch = [
                make_observation(HOTLINE, _OK, days(night), **casino),
                make_observation(FINE, checked_at=days(night)),
            ]
            stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(night)))
            runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(night + 0.01)))
            ctx = build_context(report_data(engine), now=days(night + 0.01))
            queued.append("hotline" in _queued(ctx))
        assert queued == [False, True, True]
        row = next(r for g in ctx.groups for r in g.rows if r.resource_id == "hotline")
        assert row.state_note and "when it became: page no longer matches its entry" in (
            row.state_note
        )


#: A bare 403 (no wall's page: `http_error`), a page gone, a server error, a soft 404.
_403 = (Outcome.HTTP_ERROR, {"http_status": 403})
_404, _410, _500 = Outcome.NOT_FOUND, Outcome.GONE, Outcome.HTTP_ERROR
_SOFT = Outcome.SOFT_404


def _row_note(ctx: ReportContext) -> str:
    row = next(r for g in ctx.groups for r in g.rows if r.resource_id == "hotline")
    assert row.state_note is not None
    return row.state_note


def test_an_ignored_403_that_starts_answering_404_is_back_in_the_queue(tmp_path: Path) -> None:
    """`ignore --help`'s example: a page that turned us away (a bare 403, confirmed
    broken), ignored as working in a browser, then gone. Not on the first 404 (the link was
    confirmed broken already: one night says little), on the second."""
    reports = _nights(tmp_path, [_403] * 3, [_404] * 3, _ignore)
    assert [("hotline" in _queued(ctx)) for ctx in reports] == [False, True, True]
    note = _row_note(reports[1])
    assert "(then: confirmed broken (access refused)); back in the queue on" in note
    assert "when it became: confirmed broken (page not found or gone)" in note


def test_an_ignored_404_that_starts_turning_us_away_is_back_in_the_queue(
    tmp_path: Path,
) -> None:
    reports = _nights(tmp_path, [_404] * 4, [_403] * 3, _ignore)
    assert [("hotline" in _queued(ctx)) for ctx in reports] == [False, True, True]
    assert "when it became: confirmed broken (access refused)" in _row_note(reports[1])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # A 403 ignored: a wall's own page, a timeout, a server error are no gone page.
        ([_403] * 3, [_B, _403, _T, _T, _B, _500, _500, _500]),
        # A 404 ignored: a 410, a 500, a soft 404 (the page is gone whichever it says).
        ([_404] * 4, [_410, _410, _500, _500, _404, _SOFT, _SOFT, _404]),
    ],
    ids=["refused", "gone"],
)
def test_a_refusal_or_a_gone_page_holds_through_its_own_kinds(
    tmp_path: Path, before: list[Try], after: list[Try]
) -> None:
    for ctx in _nights(tmp_path, before, after, _ignore):
        assert "hotline" not in _queued(ctx)


def test_a_site_rebuild_snoozed_on_a_soft_404_holds_through_404s(tmp_path: Path) -> None:
    """A soft 404 and a 404 are one problem to a curator (the page is gone): the rebuild
    snooze made on the one holds when the site starts saying the other."""
    reports = _nights(tmp_path, [_SOFT] * 4, [_404, _404, _410, _404], _snooze)
    for ctx in reports:
        assert "hotline" not in _queued(ctx)
        assert [r.resource_id for r in ctx.set_aside] == ["hotline"]


def _stored_ignore(engine: Engine, at: datetime, problem: str) -> None:
    """The hotline ignored as an earlier version stored it, with its `problem` then."""
    hotline = store.find_resource(engine, "hotline")
    store.record_decision(
        engine,
        hotline.id,
        "ignore",
        by="ana",
        at=at,
        reason=BOT_WALL,
        details={"problem": problem},
        resource_changes={"ignored_at": at, "ignored_reason": BOT_WALL},
    )


def test_an_ignore_stored_as_broken_for_a_403_ends_when_it_is_gone(tmp_path: Path) -> None:
    """An ignore recorded before a 403 and a 404 were told apart stores "broken": its
    check then tells which it was, so a 404 ends it as it ends one stored now."""
    with toolkit(tmp_path) as (settings, engine):
        for night in range(3):
            _tried(settings, engine, night, _403)
        _stored_ignore(engine, days(2.5), "broken")
        queued = ["hotline" in _queued(_tried(settings, engine, n, _404)) for n in (3, 4, 5)]
        assert queued == [False, True, True]
        # One stored as "broken" for a server error stays one: a 404 is the same break.
        for night in range(6, 10):
            _tried(settings, engine, night, _500)
        decisions.ignore(settings, "hotline", reason="reported", clock=Ticker(days(9.5)))
        assert store.find_resource(engine, "hotline").ignored
        for night in range(10, 13):
            assert "hotline" not in _queued(_tried(settings, engine, night, _404))


@pytest.mark.parametrize(
    ("before", "after", "queued"),
    [
        # A bare 403 seen one night, ignored as working in a browser before it was
        # confirmed: the page gone ends it, once 404s are seen two nights.
        ([_403], [_404] * 4, [False, True, True, True]),
        # A 404 seen one night, ignored (the publisher says it comes back): a refusal
        # confirmed ends it likewise.
        ([_404], [_403] * 4, [False, True, True, True]),
    ],
    ids=["refused_then_gone", "gone_then_refused"],
)
def test_an_ignore_made_on_an_unconfirmed_failure_ends_on_another_family(
    tmp_path: Path, before: list[Try], after: list[Try], queued: list[bool]
) -> None:
    """`ignore forum --reason 'works in a browser'` is most often made on a fresh 403, not
    yet confirmed: stored as a plain failure, a 404 confirmed since never ended it."""
    reports = _nights(tmp_path, before, after, _ignore)
    assert [("hotline" in _queued(ctx)) for ctx in reports] == queued
    assert "(then: failing, not yet confirmed (" in _row_note(reports[1])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The 403 confirmed, a wall's own page, a timeout, a server error: no gone page.
        ([_403], [_403, _403, _403, _B, _T, _T, _500, _500]),
        # The 404 confirmed, a 410, a server error, a soft 404: the page gone all along.
        ([_404], [_404, _404, _404, _410, _500, _500, _SOFT, _SOFT, _SOFT]),
    ],
    ids=["refused", "gone"],
)
def test_an_ignore_made_on_an_unconfirmed_failure_holds_once_it_is_confirmed(
    tmp_path: Path, before: list[Try], after: list[Try]
) -> None:
    """One night's failure is no new problem: the same failure confirmed keeps the
    decision made on it, and so do the kinds of its own family."""
    for ctx in _nights(tmp_path, before, after, _ignore):
        assert "hotline" not in _queued(ctx)


def test_an_ignore_stored_as_failing_keeps_its_meaning(tmp_path: Path) -> None:
    """An ignore an earlier version stored as a plain unconfirmed failure ("failing") for a
    403 is read as before: no confirmed break ends it, a 404 included."""
    with toolkit(tmp_path) as (settings, engine):
        _tried(settings, engine, 0, _403)
        _stored_ignore(engine, days(0.5), "failing")
        for night in range(1, 6):
            assert "hotline" not in _queued(_tried(settings, engine, night, _404))


def test_unconfirmed_failures_keep_their_family() -> None:
    assert problem_kind("http_error", "suspect", None, 403) == "failing_refused"
    assert problem_kind("not_found", "suspect", None) == "failing_gone"
    assert problem_kind("redirect_to_error", "suspect", None, 410) == "failing_gone"
    assert problem_kind("http_error", "suspect", None, 500) == "failing"
    assert problem_kind("timeout", "suspect", None) == "failing"
    for unconfirmed, confirmed, other in (
        ("failing_refused", "refused", "gone"),
        ("failing_gone", "gone", "refused"),
    ):
        assert lapses(unconfirmed, other) and lapses(unconfirmed, "drift")
        assert not lapses(unconfirmed, confirmed) and not lapses(unconfirmed, "broken")
        assert not lapses(unconfirmed, "timed_out")
        for now in ("failing", "failing_refused", "failing_gone"):
            assert not lapses(unconfirmed, now) and not lapses(confirmed, now)
    assert not lapses("failing_refused", "blocked") and lapses("failing_gone", "blocked")
    assert not lapses("failing_gone", "soft_404") and lapses("failing_refused", "soft_404")
    # A plain unconfirmed failure, as stored before: no confirmed break ends it.
    assert not any(lapses("failing", now) for now in ("refused", "gone", "broken", "blocked"))
