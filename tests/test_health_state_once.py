"""`apply_observation` builds the new state once; it must judge exactly as the four
`dataclasses.replace` steps it replaced (kept below as the reference) did, on random
histories of outcomes, fingerprints, 304s, redirects and clocks set back."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from catalog.health import (
    BROKEN,
    CHECK_BY_HAND,
    OK,
    RECOVERED,
    SUSPECT,
    Change,
    LinkState,
    _changes,
    apply_observation,
)
from catalog.model import Hop, Observation
from catalog.outcomes import Outcome, Severity
from catalog.settings import NIGHT_SLACK, HealthSettings
from tests.factories import days

# --- the reference: apply_observation as it was before (2026-12-03), with the rules since --


def reference_apply(
    prev: LinkState, obs: Observation, health: HealthSettings, *, now: datetime
) -> tuple[LinkState, list[Change]]:
    """The link's state after `obs`, and the changes it revealed."""
    if obs.outcome is Outcome.NETWORK_UNAVAILABLE:
        if prev.outcome is not None:
            return prev, []
        return replace(prev, last_checked_at=obs.checked_at), []

    severity = obs.outcome.severity
    unavailable = None
    if obs.outcome is Outcome.RATE_LIMITED and obs.http_status == 503:
        unavailable = obs.checked_at
        if (
            prev.outcome is Outcome.RATE_LIMITED
            and prev.http_status == 503
            and prev.last_change_at is not None
            and prev.last_change_at <= obs.checked_at
        ):
            unavailable = prev.last_change_at
            # Since 2026-12-06: from the stretch's first 503, not a wall before it that
            # `last_change_at` kept, where the nights of 503 kept can tell.
            # Since x1c, none kept after a 503 (a row from before 0018) keeps the start.
            same_night = [n for n in prev.unavailable_nights if abs(unavailable - n) < _ref_span(1)]
            if (
                prev.unavailable_nights
                and not same_night
                and (obs.checked_at - prev.last_change_at < _ref_span(health.flap_window_days))
            ):
                later = [n for n in prev.unavailable_nights if unavailable < n <= obs.checked_at]
                unavailable = later[0] if later else obs.checked_at
    failing = obs.outcome.is_failure or (
        unavailable is not None
        and obs.checked_at - unavailable >= timedelta(days=health.unavailable_days) - NIGHT_SLACK
    )
    new = replace(
        prev,
        outcome=obs.outcome,
        reason=obs.reason,
        http_status=obs.http_status,
        final_url=obs.final_url,
        redirect_url=_ref_redirect_target(obs)
        if obs.http_status is not None
        else prev.redirect_url,
        last_checked_at=obs.checked_at,
        last_change_at=obs.checked_at if obs.outcome != prev.outcome else prev.last_change_at,
    )
    if severity in (Severity.OK, Severity.UPDATE):
        was_failing = prev.consecutive_failures > 0 or prev.state in (SUSPECT, BROKEN)
        new = replace(
            _ref_content(new, obs),
            state=RECOVERED if was_failing else OK,
            consecutive_failures=0,
            first_failure_at=None,
            last_success_at=obs.checked_at,
        )
    elif failing:
        failures = prev.consecutive_failures + 1
        first = prev.first_failure_at or unavailable or obs.checked_at
        if first > obs.checked_at:
            # Stamped by a clock since set back: waiting for it would keep a dead link
            # suspect for as long as the clock was fast. Restarting the wait here can only
            # lengthen it, never shorten it.
            first = obs.checked_at
        # An invalid URL is the catalog's own mistake: checking it again cannot change it.
        confirmed = obs.outcome is Outcome.INVALID_URL or (
            failures >= health.confirm_failures
            and now - first >= timedelta(days=health.confirm_days) - NIGHT_SLACK
        )
        new = replace(
            new,
            state=BROKEN if confirmed else SUSPECT,
            consecutive_failures=failures,
            first_failure_at=first,
        )
    else:  # Severity.LOOK: a person must look; the failure count is left as it was,
        # a confirmed break stays one, and a failing link stays suspect until walls (of any
        # kind) have lasted `confirm_days` (counted from the first).
        state = CHECK_BY_HAND
        if prev.state == BROKEN:
            state = BROKEN
        elif prev.state == SUSPECT:
            since = obs.checked_at
            if (
                prev.outcome is not None
                and prev.outcome.severity is Severity.LOOK
                and prev.last_change_at is not None
                and prev.last_change_at <= obs.checked_at
            ):
                # Walls of any kind in a row are one stretch, dated from the first.
                since = prev.last_change_at
                new = replace(new, last_change_at=since)
            if obs.checked_at - since < timedelta(days=health.confirm_days) - NIGHT_SLACK:
                state = SUSPECT
        new = replace(new, state=state)
    new = replace(new, unavailable_nights=_ref_nights(prev, obs, health))
    new, counted = _ref_flips(prev, new, obs, health)
    return new, _changes(prev, new, obs, unavailable_since=unavailable, flips=counted)


def _ref_span(days_: float) -> timedelta:
    return timedelta(days=days_) - NIGHT_SLACK


def _ref_unavailable(outcome: Outcome | None, http_status: int | None) -> bool:
    return outcome is Outcome.RATE_LIMITED and http_status == 503


def _ref_nights(prev: LinkState, obs: Observation, health: HealthSettings) -> tuple[datetime, ...]:
    """Since 2026-12-06: the nights of 503 "unavailable" within the flap window, one a night;
    since b5, within the last 14 nights too when the window is shorter (the report's)."""
    window_start = obs.checked_at - _ref_span(max(health.flap_window_days, 14))
    kept = prev.unavailable_nights
    if not kept and _ref_unavailable(prev.outcome, prev.http_status) and prev.last_change_at:
        kept = (prev.last_change_at,)  # since x1c: a row from before 0018, its stretch's start
    nights = [n for n in kept if window_start < n <= obs.checked_at]
    new_night = not nights or obs.checked_at - nights[-1] >= _ref_span(1)
    if _ref_unavailable(obs.outcome, obs.http_status) and new_night:
        nights.append(obs.checked_at)
    return tuple(nights)


def _ref_steady(nights: tuple[datetime, ...], at: datetime | None, health: HealthSettings) -> bool:
    """Whether `flap_changes` of the nights kept are within the flap window of `at`."""
    if at is not None:
        window_start = at - _ref_span(health.flap_window_days)
        nights = tuple(n for n in nights if window_start < n <= at)
    return len(nights) >= health.flap_changes


def _ref_working(state: LinkState, health: HealthSettings) -> bool | None:
    """Whether the link last worked (True), failed (False), or was never judged (None).
    Since 2026-12-06 a 503 "unavailable" fails (a flip) once the site has answered it on
    `flap_changes` nights of the window, and so does a wall after it (its flip came after
    the last success)."""
    if state.consecutive_failures > 0:
        return False
    if state.last_success_at is None:
        return None
    steady = _ref_steady(state.unavailable_nights, state.last_checked_at, health)
    if _ref_unavailable(state.outcome, state.http_status) and steady:
        return False
    return not (state.flips and state.flips[-1] > state.last_success_at)


def _ref_flips(
    prev: LinkState, new: LinkState, obs: Observation, health: HealthSettings
) -> tuple[LinkState, int]:
    # A flip leaves the window once it is `flap_window_days` old, up to `NIGHT_SLACK` short.
    window_start = obs.checked_at - _ref_span(health.flap_window_days)
    # A flip stamped after this check came from a clock since set back: it would stay
    # "within the window" for as long as that clock was fast.
    flips = [f for f in prev.flips if window_start < f <= obs.checked_at]
    before, after = _ref_working(prev, health), _ref_working(replace(new, flips=()), health)
    steady = _ref_steady(new.unavailable_nights, obs.checked_at, health)
    wall = not (_ref_unavailable(obs.outcome, obs.http_status) and steady)
    if obs.outcome.severity is Severity.LOOK and wall and new.consecutive_failures == 0:
        after = before  # a wall (or a 503 of a few nights) says nothing of the link
    if before is not None and after is not None and before != after:
        flips.append(obs.checked_at)
    counted = len(flips)
    # Hysteresis: flagged at `flap_changes` flips, unflagged below half that. A site that
    # fails about as often as the threshold (one night in eight, or one in five around a
    # night we could not check) would otherwise be flagged and unflagged every few days,
    # its row entering and leaving the queue with a pair of events each time.
    still = prev.flapping and counted >= max(1, health.flap_changes // 2)
    flapping = still or counted >= health.flap_changes
    # Since 2026-12-06 the flip that left the link failing stays past the window while it
    # is failing (a wall after a 503 is), uncounted.
    failing = before is False and after is False
    if not flips and failing and prev.flips and prev.flips[-1] <= obs.checked_at:
        flips = [prev.flips[-1]]
    return replace(new, flips=tuple(flips), flapping=flapping), counted


def _ref_redirect_target(obs: Observation) -> str | None:
    """The URL the first hop sent us to; the chain starts with the catalog URL itself."""
    return obs.chain[1].url if len(obs.chain) > 1 else None


def _ref_content(state: LinkState, obs: Observation) -> LinkState:
    fresh_fingerprint = obs.fingerprint is not None and not obs.not_modified
    vouched = obs.not_modified and state.fingerprint is not None
    moved = fresh_fingerprint and (
        obs.fingerprint != state.fingerprint or state.fingerprint_since is None
    )
    return replace(
        state,
        fingerprint_since=obs.checked_at if moved else state.fingerprint_since,
        # Validators belong to the copy we fingerprinted. A HEAD's would make the next
        # fingerprint GET conditional on a version never read: its 304 would carry the old
        # fingerprint and title over a changed page, for good.
        etag=obs.etag if fresh_fingerprint or (vouched and obs.etag) else state.etag,
        last_modified=(
            obs.last_modified
            if fresh_fingerprint or (vouched and obs.last_modified)
            else state.last_modified
        ),
        fingerprint=obs.fingerprint if fresh_fingerprint else state.fingerprint,
        fingerprinted_at=obs.checked_at if fresh_fingerprint or vouched else state.fingerprinted_at,
        title=obs.title if obs.title is not None and not obs.not_modified else state.title,
        content_type=obs.content_type if obs.content_type is not None else state.content_type,
        content_length=(
            obs.content_length if obs.content_length is not None else state.content_length
        ),
    )


# --- random histories -------------------------------------------------------------------


def _observation(rng: random.Random, at: datetime) -> Observation:
    outcome = rng.choice(list(Outcome))
    hops = rng.choice(
        [(), ("https://a.example/x",), ("https://a.example/x", "https://b.example/y")]
    )
    answered = rng.random() < 0.8
    return Observation(
        url="https://a.example/x",
        checked_at=at,
        outcome=outcome,
        reason=f"r{rng.randrange(3)}",
        http_status=rng.choice([200, 301, 304, 404, 503]) if answered else None,
        final_url=rng.choice([None, "https://a.example/x", "https://c.example/z"]),
        chain=tuple(Hop(u, 301) for u in hops),
        content_type=rng.choice([None, "text/html", "text/html; charset=utf-8", "application/pdf"]),
        content_length=rng.choice([None, 10, 20]),
        etag=rng.choice([None, '"e1"', '"e2"']),
        last_modified=rng.choice([None, "Mon, 01 Jan 2024 00:00:00 GMT"]),
        fingerprint=rng.choice([None, "f1", "f2"]),
        title=rng.choice([None, "T1", "T2"]),
        not_modified=rng.random() < 0.3,
    )


@pytest.mark.parametrize("seed", range(40))
def test_state_built_once_judges_as_the_replace_steps_did(seed: int) -> None:
    _judge_as_the_reference(seed, [-0.5, 0.01, 0.5, 1.0, 3.0])


def _judge_as_the_reference(seed: int, steps: list[float], unavailable: float = 0.0) -> None:
    """`unavailable`: the share of checks made 503 "come back later" (maintenance)."""
    rng = random.Random(seed)
    health = HealthSettings(
        confirm_failures=rng.choice([1, 2, 3]),
        confirm_days=rng.choice([0.0, 1.0, 2.0]),
        flap_changes=rng.choice([2, 4, 6]),
        flap_window_days=rng.choice([3, 14]),
        unavailable_days=rng.choice([0.0, 1.0, 7.0]),
    )
    state = reference = LinkState()
    day = 0.0
    for _ in range(60):
        day += rng.choice(steps)  # now and then a clock set back
        obs = _observation(rng, days(day))
        if unavailable and rng.random() < unavailable:
            obs = replace(obs, outcome=Outcome.RATE_LIMITED, http_status=503)
        now = obs.checked_at + timedelta(hours=rng.choice([0, 1]))
        state, changes = apply_observation(state, obs, health, now=now)
        reference, expected = reference_apply(reference, obs, health, now=now)
        assert state == reference
        assert changes == expected
