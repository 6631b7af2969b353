"""A decision stored as plain "failing" (made on a failure not yet confirmed: by an earlier
version on any failure, by this one on one neither refused nor gone, a 500, a timeout, a
DNS error) keeps its meaning: no confirmed break ends it, nor a block (a bot wall's
timeout is stored so); a problem of another kind does, a soft 404 among them, seen as the
other kinds are: two nights on a link confirmed broken already."""

from __future__ import annotations

from pathlib import Path

from catalog.outcomes import Outcome
from catalog.set_aside import lapses, problem_kind
from tests.factories import days
from tests.test_over_time_set_aside_lapse import (
    Try,
    _queued,
    _row_note,
    _stored_ignore,
    _tried,
    toolkit,
)

_500: Try = (Outcome.HTTP_ERROR, {"http_status": 500})
_404, _SOFT, _B, _T = Outcome.NOT_FOUND, Outcome.SOFT_404, Outcome.BLOCKED, Outcome.TIMEOUT


def test_failing_is_still_what_an_unconfirmed_plain_break_stores() -> None:
    for outcome, status in (("http_error", 500), ("timeout", None), ("dns_error", None)):
        assert problem_kind(outcome, "suspect", None, status) == "failing"
    for now in ("broken", "timed_out", "refused", "gone", "blocked", "failing"):
        assert not lapses("failing", now)
    for now in ("soft_404", "drift", "moved"):
        assert lapses("failing", now)


def test_an_ignore_stored_as_failing_on_a_500_holds_through_breaks_and_ends_on_a_soft_404(
    tmp_path: Path,
) -> None:
    with toolkit(tmp_path) as (settings, engine):
        _tried(settings, engine, 0, _500)
        _stored_ignore(engine, days(0.5), "failing")
        held: list[Try] = [_500, _500, _500, _B, _T, _T, _404, _404, _404, _SOFT]
        for night, outcome in enumerate(held, start=1):
            assert "hotline" not in _queued(_tried(settings, engine, night, outcome)), night
        ctx = _tried(settings, engine, len(held) + 1, _SOFT)
        assert "hotline" in _queued(ctx)
        note = _row_note(ctx)
        assert "(then: failing, not yet confirmed); back in the queue on" in note
        assert "when it became: page missing (soft 404)" in note
