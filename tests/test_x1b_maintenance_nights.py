"""A site in maintenance (503 "come back later") on a night or two, or weekly at our check
time, is not flapping: its 503 nights count toward flapping only once they are
`flap_changes` within `flap_window_days`. A site confirmed broken after nights of 503 is
said to have been unavailable for those nights only, and a wall after such nights keeps
the link failing past the window (no flip the link never made)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from catalog.health import LinkState, apply_observation
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days, make_observation, unavailable_observation

HEALTH = HealthSettings()  # flaps 4 in 14 days, unavailable_days 7, confirm 3 over 2 days
URL = "https://site.example/resources"


def unavailable(at: datetime, wait: int = 120) -> Observation:
    return unavailable_observation(URL, at, wait)


def ok(n: float) -> Observation:
    return make_observation(URL, Outcome.OK, days(n))


def nights(plan: Callable[[int], Observation], last: int) -> list[tuple[LinkState, list[str]]]:
    """Each night's state and event kinds, checking the link every night up to `last`."""
    state, seen = LinkState(), []
    for n in range(last + 1):
        state, changes = apply_observation(state, plan(n), HEALTH, now=days(n))
        seen.append((state, [c.kind for c in changes]))
    return seen


def flap_events(seen: list[tuple[LinkState, list[str]]]) -> list[tuple[int, str]]:
    return [(n, k) for n, (_, kinds) in enumerate(seen) for k in kinds if k.startswith("flap")]


@pytest.mark.parametrize("apart", [2, 5, 12])
def test_two_single_nights_of_maintenance_are_no_flapping(apart: int) -> None:
    seen = nights(lambda n: unavailable(days(n)) if n in (10, 10 + apart) else ok(n), last=40)

    assert flap_events(seen) == []
    assert not any(state.flapping for state, _ in seen)


def test_weekly_maintenance_at_our_check_time_is_never_flagged() -> None:
    seen = nights(lambda n: unavailable(days(n)) if n % 7 == 3 else ok(n), last=70)

    assert flap_events(seen) == []


def test_a_real_failure_on_a_site_in_weekly_maintenance_is_a_failure_not_flapping() -> None:
    def plan(n: int) -> Observation:
        if n >= 20:
            return make_observation(URL, Outcome.NOT_FOUND, days(n), http_status=404)
        return unavailable(days(n)) if n % 7 == 3 else ok(n)

    seen = nights(plan, last=24)

    assert flap_events(seen) == []
    assert "state_changed" in seen[20][1] and seen[20][0].state == "suspect"


def test_a_break_after_nights_of_503_counts_only_the_nights_of_503() -> None:
    """404 on nights 1-2, a bot wall on night 3, 503 from night 4: the wall kept the link's
    `last_change_at` (a stretch of walls on a suspect link), which is no night of 503."""

    def plan(n: int) -> Observation:
        if n == 0:
            return ok(n)
        if n < 3:
            return make_observation(URL, Outcome.NOT_FOUND, days(n), http_status=404)
        if n == 3:
            return make_observation(URL, Outcome.BLOCKED, days(n), http_status=403)
        return unavailable(days(n), 3600)

    state = LinkState()
    broken = []
    for n in range(15):
        state, changes = apply_observation(state, plan(n), HEALTH, now=days(n))
        broken += [(n, c.details) for c in changes if c.details.get("new") == "broken"]

    ((night, details),) = broken
    assert details["unavailable_nights"] == night - 4 + 1  # nights 4 to `night`, both counted
    assert night - 4 >= HEALTH.unavailable_days  # failing from 7 nights of 503, not of walls


def test_503_and_429_on_alternate_nights_flip_once_not_every_two_weeks() -> None:
    """A site down for weeks, answering 503 on some nights and 429 on others: one flip, when
    its nights of 503 became a real share; its flip leaving the window did not make the
    next 503 a flip again (it read as working behind the 429s)."""

    def plan(n: int) -> Observation:
        if n == 0:
            return ok(n)
        if n % 2:
            return unavailable(days(n))
        return make_observation(URL, Outcome.RATE_LIMITED, days(n), http_status=429)

    seen = nights(plan, last=90)

    added = [n for n in range(1, 91) if seen[n][0].flips[-1:] != seen[n - 1][0].flips[-1:]]
    assert added == [7]
    assert flap_events(seen) == []


def test_a_wall_after_nights_of_503_stays_failing_past_the_window() -> None:
    """503 on nights 1-5, then a bot wall for three weeks, then the page again: the flip back
    to working is made (the link never worked behind the wall)."""

    def plan(n: int) -> Observation:
        if 1 <= n <= 5:
            return unavailable(days(n))
        if 5 < n < 27:
            return make_observation(URL, Outcome.BLOCKED, days(n), http_status=403)
        return ok(n)

    seen = nights(plan, last=27)

    assert seen[26][0].flips == (days(4),)  # its 4th night of 503
    assert seen[27][0].flips == (days(27),)
