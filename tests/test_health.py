"""Link health rules: pure functions from (previous state, observation) to new state + events."""

from __future__ import annotations

from collections.abc import Sequence

from catalog.health import (
    BROKEN,
    CHECK_BY_HAND,
    OK,
    RECOVERED,
    SUSPECT,
    UNCHECKED,
    LinkState,
    apply_observation,
)
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from tests.factories import days, make_observation

HEALTH = HealthSettings(confirm_failures=3, confirm_days=2.0)


def run(observations: Sequence[Observation], state: LinkState | None = None) -> LinkState:
    state = state or LinkState()
    for obs in observations:
        state, _ = apply_observation(state, obs, HEALTH, now=obs.checked_at)
    return state


def kinds(state: LinkState, obs: Observation) -> list[str]:
    _, changes = apply_observation(state, obs, HEALTH, now=obs.checked_at)
    return [c.kind for c in changes]


def failing(day: float, outcome: Outcome = Outcome.NOT_FOUND) -> Observation:
    return make_observation(outcome=outcome, checked_at=days(day))


def test_first_ok_observation_makes_the_link_ok_without_events() -> None:
    state, changes = apply_observation(LinkState(), make_observation(), HEALTH, now=days(0))
    assert state.state == OK
    assert state.outcome is Outcome.OK
    assert state.last_success_at == days(0)
    assert changes == []


def test_first_failing_observation_is_an_outcome_change_from_nothing() -> None:
    state, changes = apply_observation(LinkState(), failing(0), HEALTH, now=days(0))
    assert state.state == SUSPECT
    assert [(c.kind, c.details["old"], c.details["new"]) for c in changes] == [
        ("outcome_changed", None, "not_found"),
        ("state_changed", UNCHECKED, SUSPECT),
    ]


def test_enough_failures_in_too_short_a_time_stay_suspect() -> None:
    state = run([failing(0), failing(0.5), failing(1), failing(1.5)])
    assert state.state == SUSPECT
    assert state.consecutive_failures == 4
    assert state.first_failure_at == days(0)


def test_long_failing_time_with_too_few_failures_stays_suspect() -> None:
    assert run([failing(0), failing(5)]).state == SUSPECT


def test_failures_confirmed_by_count_and_days_make_the_link_broken() -> None:
    before = run([failing(0), failing(1)])
    obs = failing(2)
    state, changes = apply_observation(before, obs, HEALTH, now=days(2))
    assert state.state == BROKEN
    assert [c.kind for c in changes] == ["state_changed"]
    assert changes[0].details["new"] == BROKEN


def test_blocked_never_counts_as_a_failure_nor_resets_the_count() -> None:
    blocked = make_observation(outcome=Outcome.BLOCKED, checked_at=days(1))
    state = run([failing(0), blocked])
    assert state.state == CHECK_BY_HAND
    assert state.consecutive_failures == 1
    assert state.first_failure_at == days(0)
    assert run([blocked, blocked, blocked]).consecutive_failures == 0
    assert run([failing(0), blocked, failing(1), failing(2)]).state == BROKEN


def test_rate_limited_and_private_addresses_need_a_person() -> None:
    for outcome in (Outcome.RATE_LIMITED, Outcome.PRIVATE_ADDRESS):
        assert run([make_observation(outcome=outcome)]).state == CHECK_BY_HAND


def test_success_after_failures_is_a_recovery_then_plain_ok() -> None:
    broken = run([failing(0), failing(1), failing(2)])
    ok = make_observation(checked_at=days(3))
    state, changes = apply_observation(broken, ok, HEALTH, now=days(3))
    assert state.state == RECOVERED
    assert state.consecutive_failures == 0
    assert state.first_failure_at is None
    assert state.last_success_at == days(3)
    assert {c.kind for c in changes} == {"outcome_changed", "state_changed"}

    again, changes = apply_observation(
        state, make_observation(checked_at=days(4)), HEALTH, now=days(4)
    )
    assert again.state == OK
    assert changes == []


def test_permanent_redirect_counts_as_working() -> None:
    state = run([failing(0), make_observation(outcome=Outcome.REDIRECTED_PERMANENT)])
    assert state.state == RECOVERED
    assert state.consecutive_failures == 0


def test_network_unavailable_changes_nothing_but_the_check_time() -> None:
    before = run([failing(0)])
    obs = make_observation(outcome=Outcome.NETWORK_UNAVAILABLE, checked_at=days(1))
    state, changes = apply_observation(before, obs, HEALTH, now=days(1))
    assert changes == []
    assert state == LinkState(**{**before.__dict__, "last_checked_at": days(1)})


def test_content_change_needs_two_known_fingerprints() -> None:
    first = make_observation(fingerprint=None, title="Guide")
    state = run([first])
    assert "content_changed" not in kinds(state, make_observation(fingerprint="aaa"))

    state = run([first, make_observation(fingerprint="aaa", content_length=10)])
    same = make_observation(fingerprint="aaa")
    assert "content_changed" not in kinds(state, same)
    _, changes = apply_observation(
        state, make_observation(fingerprint="bbb", content_length=20), HEALTH, now=days(0)
    )
    (change,) = [c for c in changes if c.kind == "content_changed"]
    assert change.details["old"] == "aaa" and change.details["new"] == "bbb"
    assert change.details["old_content_length"] == 10
    assert change.details["new_content_length"] == 20


def test_not_modified_keeps_the_old_fingerprint_and_title() -> None:
    state = run([make_observation(fingerprint="aaa", title="Guide", etag='"v1"')])
    obs = make_observation(not_modified=True, http_status=304, checked_at=days(8))
    new, changes = apply_observation(state, obs, HEALTH, now=days(8))
    assert (new.fingerprint, new.title, new.etag) == ("aaa", "Guide", '"v1"')
    assert new.fingerprinted_at == days(8)
    assert changes == []


def test_error_pages_do_not_replace_the_content_facts() -> None:
    state = run([make_observation(fingerprint="aaa", title="Guide")])
    state = run([failing(1)], state)
    assert (state.fingerprint, state.title) == ("aaa", "Guide")


def test_title_redirect_and_content_type_changes_are_events() -> None:
    state = run(
        [
            make_observation(
                title="Guide", final_url="https://example.org/r1", content_type="text/html"
            )
        ]
    )
    obs = make_observation(
        title="Guide (2nd ed.)",
        final_url="https://example.org/new/r1",
        content_type="application/pdf",
    )
    assert set(kinds(state, obs)) == {"title_changed", "redirect_changed", "content_type_changed"}


def test_charset_spelling_is_not_a_content_type_change() -> None:
    state = run([make_observation(content_type="text/html; charset=utf-8")])
    assert kinds(state, make_observation(content_type="text/html; charset=UTF-8")) == []


def test_changing_failure_kind_is_an_outcome_change_without_a_state_change() -> None:
    state = run([failing(0), failing(1), failing(2)])
    assert kinds(state, failing(3, Outcome.GONE)) == ["outcome_changed"]
