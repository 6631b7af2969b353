"""A set-aside made on a soft 404 (a site rebuild snoozed, a page kept on purpose) is about
a page gone: once the link is confirmed broken, one night of a server error, a DNS error or
a timeout is no new problem (one night says little), as it is none for a decision made on a
403 or a 404. Such a break seen by checks a night apart is another problem and ends it, as a
404 ends the ignore of a confirmed 403."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from catalog.outcomes import Outcome
from catalog.settings import Settings
from tests.factories import Ticker
from tests.test_over_time_set_aside_lapse import (
    Try,
    _ignore,
    _nights,
    _queued,
    _row_note,
    _snooze,
)

_SOFT, _404, _B = Outcome.SOFT_404, Outcome.NOT_FOUND, Outcome.BLOCKED
_500: Try = (Outcome.HTTP_ERROR, {"http_status": 500})
_503: Try = (Outcome.HTTP_ERROR, {"http_status": 503})
_DNS: Try = (Outcome.DNS_ERROR, {"http_status": None})
_TIMEOUT: Try = (Outcome.TIMEOUT, {"http_status": None})
_REFUSED_CONN: Try = (Outcome.CONNECTION_REFUSED, {"http_status": None})

Decide = Callable[[Settings, Ticker], object]


def _queue(reports: Sequence[Any]) -> list[bool]:
    return [("hotline" in _queued(ctx)) for ctx in reports]


@pytest.mark.parametrize("decide", [_snooze, _ignore], ids=["snooze", "ignore"])
@pytest.mark.parametrize(
    "blip",
    [_500, _503, _DNS, _TIMEOUT, _REFUSED_CONN],
    ids=["500", "503", "dns", "timeout", "conn_refused"],
)
def test_one_night_of_a_transient_break_keeps_a_soft_404_set_aside(
    tmp_path: Path, blip: Try, decide: Decide
) -> None:
    """The soft 404 confirmed broken, set aside; one night the site errs or is not reached,
    then the soft 404 again: the decision holds every night."""
    reports = _nights(tmp_path, [_SOFT] * 4, [_SOFT, blip, _SOFT, _SOFT, blip, _404], decide)
    assert _queue(reports) == [False] * 6
    for ctx in reports:
        assert [r.resource_id for r in ctx.set_aside] == ["hotline"]


@pytest.mark.parametrize("decide", [_snooze, _ignore], ids=["snooze", "ignore"])
@pytest.mark.parametrize(
    ("after", "became"),
    [
        ([_500, _500, _500], "confirmed broken"),
        ([_DNS, _DNS, _DNS], "confirmed broken"),
        ([_TIMEOUT, _TIMEOUT, _TIMEOUT], "confirmed broken (timing out)"),
        # A dead site errs one night and is not found in the DNS the next: one break.
        ([_500, _DNS, _DNS], "confirmed broken"),
    ],
    ids=["500", "dns", "timeout", "500_then_dns"],
)
def test_a_break_seen_two_nights_ends_a_soft_404_set_aside(
    tmp_path: Path, after: list[Try], became: str, decide: Decide
) -> None:
    """Not on its first night (the link was confirmed broken already), on its second: a
    site down is another problem than a page missing, as the README says."""
    reports = _nights(tmp_path, [_SOFT] * 4, after, decide)
    assert _queue(reports) == [False, True, True]
    note = _row_note(reports[1])
    assert "(then: page missing (soft 404)); back in the queue on" in note
    assert note.endswith(f"when it became: {became}") or f"when it became: {became} (" in note


def test_a_soft_404_set_aside_made_before_it_was_confirmed_ends_at_a_confirmed_break(
    tmp_path: Path,
) -> None:
    """Set aside on the soft 404's first night: the 500s that then confirm the link broken
    are the usual confirmation, and end it the night they do (as before)."""
    reports = _nights(tmp_path, [_SOFT], [_500, _500, _500, _500], _ignore)
    queued = _queue(reports)
    assert queued[0] is False and queued[-1] is True
    assert "when it became: confirmed broken" in _row_note(reports[queued.index(True)])


def test_a_broken_link_blocked_one_night_then_a_500_keeps_a_wall_ignore(tmp_path: Path) -> None:
    """The same rule for a bot wall ignored on a link confirmed broken by its timeouts: one
    night's 500 is no new problem; a second a night later is."""
    reports = _nights(tmp_path, [_TIMEOUT] * 4 + [_B], [_B, _500, _B, _500, _500], _ignore)
    assert _queue(reports) == [False, False, False, False, True]


def test_a_snooze_made_on_a_soft_404_is_still_snoozed_in_the_entry(tmp_path: Path) -> None:
    """The snooze's own record stays after a night of a 500 (no lapse event was written)."""
    reports = _nights(tmp_path, [_SOFT] * 4, [_500, _SOFT], _snooze)
    assert all(ctx.set_aside and ctx.set_aside[0].snoozed_until for ctx in reports)


def test_a_soft_404_one_night_keeps_the_ignore_of_a_server_error(tmp_path: Path) -> None:
    """The other way round: a 500 confirmed and ignored ("reported to the publisher"), a
    soft 404 one night is no new problem yet; seen a night later, it is."""
    reports = _nights(tmp_path, [_500] * 4, [_SOFT, _500, _SOFT, _SOFT], _ignore)
    assert _queue(reports) == [False, False, False, True]
    assert "when it became: page missing (soft 404)" in _row_note(reports[3])


def test_the_404s_after_an_ignored_500_are_no_part_of_a_soft_404s_nights(tmp_path: Path) -> None:
    """A 404 is the same problem as a 500 (the ignore holds), a soft 404 another: its own
    nights count, not the 404s' before it (a 404 and a soft 404 share a page gone)."""
    reports = _nights(tmp_path, [_500] * 4, [_404, _404, _SOFT, _SOFT], _ignore)
    assert _queue(reports) == [False, False, False, True]
