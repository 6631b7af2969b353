"""Flapping over months of nightly checks: flagged once, kept while the site stays flaky,
dropped once it has steadied, without the flag (and the queue row) blinking in between."""

from __future__ import annotations

from catalog.health import LinkState, apply_observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days, make_observation

HEALTH = HealthSettings()  # flap_changes=4 within flap_window_days=14


def nights(down: set[int], offline: set[int], last: int) -> list[tuple[int, LinkState, list[str]]]:
    """Check the link every night until `last`: failing on `down` nights, not checked at all
    (our network was down) on `offline` ones. Each night's state and event kinds."""
    state, seen = LinkState(), []
    for night in range(last + 1):
        if night in offline:
            outcome = Outcome.NETWORK_UNAVAILABLE
        else:
            outcome = Outcome.HTTP_ERROR if night in down else Outcome.OK
        obs = make_observation("https://flaky.example/", outcome, days(night))
        state, changes = apply_observation(state, obs, HEALTH, now=days(night))
        seen.append((night, state, [c.kind for c in changes]))
    return seen


def flag_events(seen: list[tuple[int, LinkState, list[str]]]) -> list[tuple[int, str]]:
    return [(n, k) for n, _, kinds in seen for k in kinds if k.startswith("flapping")]


def test_a_host_down_one_night_in_five_flaps_once_through_two_offline_nights() -> None:
    # Our own network was down on nights 70 and 71, so the failure of night 70 was never
    # seen: the flips in the window dip to three for a few nights. The host is as flaky
    # as ever; the flag must not stop and start again around it.
    down = {n for n in range(0, 120) if n % 5 == 0}
    seen = nights(down, offline={70, 71}, last=119)

    assert flag_events(seen) == [(10, "flapping_started")]
    assert all(state.flapping for night, state, _ in seen if night >= 10)


def test_a_host_down_one_night_in_eight_is_not_flagged_on_and_off() -> None:
    # Four flips in the window on some nights, three or two on others: flagged and
    # unflagged every four days, all year, each time entering and leaving the queue.
    down = {n for n in range(0, 120) if n % 8 == 0}
    seen = nights(down, offline=set(), last=119)

    started = [n for n, kind in flag_events(seen) if kind == "flapping_started"]
    assert len(started) == 1
    assert "flapping_stopped" not in [kind for _, kind in flag_events(seen)]


def test_flapping_stops_once_the_host_has_steadied() -> None:
    # Flaky until night 40, then working every night: the flag goes once the window holds
    # at most one flip, i.e. two weeks after the last failure at the latest.
    down = {n for n in range(0, 41) if n % 5 == 0}
    seen = nights(down, offline=set(), last=80)

    events = flag_events(seen)
    assert events[0] == (10, "flapping_started")
    (stopped,) = [n for n, kind in events if kind == "flapping_stopped"]
    assert events == [(10, "flapping_started"), (stopped, "flapping_stopped")]
    assert 41 < stopped <= 40 + 14
    assert not seen[-1][1].flapping
