"""Link health rules: pure functions from (previous state, observation) to new state + events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from catalog.drift import names_markers
from catalog.health import (
    BROKEN,
    CHECK_BY_HAND,
    OK,
    RECOVERED,
    SUSPECT,
    UNCHECKED,
    Entry,
    EntryDrift,
    LinkState,
    apply_drift,
    apply_observation,
    drifted_from,
    entry_view,
    judge_page,
)
from catalog.model import LEGACY_FINGERPRINT, Hop, Observation, pack_text
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


def test_the_third_night_confirms_even_when_checked_a_little_earlier_than_the_first() -> None:
    # Night 1 reached the link at 02:10, night 3 at 02:03 (it sat earlier in the run),
    # or night 3 followed a 23-hour night at a daylight-saving change: three nights, not
    # "two days" to the minute. It used to wait for a fourth night.
    minutes = 1 / (24 * 60)
    assert run([failing(0), failing(1), failing(2 - 7 * minutes)]).state == BROKEN
    assert run([failing(0), failing(1 - 60 * minutes), failing(2 - 60 * minutes)]).state == BROKEN
    # Not a day early, though: a morning recheck after two nights is still a wait.
    assert run([failing(0), failing(1), failing(1.6)]).state == SUSPECT


def test_an_invalid_url_is_broken_at_its_first_check() -> None:
    """The catalog's own mistake: no number of checks can change it, so no waiting."""
    state, changes = apply_observation(
        LinkState(), failing(0, Outcome.INVALID_URL), HEALTH, now=days(0)
    )
    assert (state.state, state.consecutive_failures) == (BROKEN, 1)
    assert ("state_changed", UNCHECKED, BROKEN) in [
        (c.kind, c.details.get("old"), c.details.get("new")) for c in changes
    ]


def test_blocked_never_counts_as_a_failure_nor_resets_the_count() -> None:
    blocked = make_observation(outcome=Outcome.BLOCKED, checked_at=days(1))
    state = run([failing(0), blocked])
    assert state.state == SUSPECT  # failing still, not yet confirmed (no jump to by hand)
    assert state.consecutive_failures == 1
    assert state.first_failure_at == days(0)
    assert run([blocked, blocked, blocked]).consecutive_failures == 0
    assert run([failing(0), blocked, failing(1), failing(2)]).state == BROKEN


@pytest.mark.parametrize("outcome", [Outcome.RATE_LIMITED, Outcome.BLOCKED])
def test_a_night_a_person_must_look_at_leaves_a_confirmed_break_confirmed(
    outcome: Outcome,
) -> None:
    """r3: one 429 (or bot wall) night took a link dead for days from "Confirmed broken" to
    "Check by hand", with the advice to ignore it, and the next 404 made it "newly broken"
    again, alert and all."""
    broken = run([failing(0), failing(1), failing(2)])
    assert broken.state == BROKEN
    look = make_observation(outcome=outcome, checked_at=days(3))
    state, changes = apply_observation(broken, look, HEALTH, now=days(3))
    assert (state.state, state.consecutive_failures) == (BROKEN, 3)
    assert "state_changed" not in [c.kind for c in changes]
    again, changes = apply_observation(state, failing(4), HEALTH, now=days(4))
    assert again.state == BROKEN
    assert "state_changed" not in [c.kind for c in changes]


@pytest.mark.parametrize("outcome", [Outcome.RATE_LIMITED, Outcome.BLOCKED])
def test_a_night_a_person_must_look_at_leaves_a_failing_link_failing(outcome: Outcome) -> None:
    """A 404, then a 429 (or a bot wall): the link went from "Failing, not yet confirmed"
    to "Check by hand" and, at the next 404, "started failing" again. It stays suspect,
    its count and first failure kept, until walls alone have lasted `confirm_days`."""
    look = make_observation(outcome=outcome, checked_at=days(1))
    state, changes = apply_observation(run([failing(0)]), look, HEALTH, now=days(1))
    assert (state.state, state.consecutive_failures) == (SUSPECT, 1)
    assert state.first_failure_at == days(0)
    assert "state_changed" not in [c.kind for c in changes]
    assert "state_changed" not in kinds(state, failing(2))
    walls = [make_observation(outcome=outcome, checked_at=days(d)) for d in (2, 3)]
    assert [s.state for s in (run(walls[:1], state), run(walls, state))] == [SUSPECT, CHECK_BY_HAND]


def test_walls_of_changing_kinds_count_as_one_stretch_of_walls() -> None:
    """A 404, then a 429 one night and a bot wall the next, night after night: each change
    of kind restarted the count, so the link stayed "Failing, not yet confirmed" for ever.
    The walls are one stretch from the first, whatever their kind."""
    state = run([failing(0), failing(1)])
    kinds_ = [Outcome.RATE_LIMITED, Outcome.BLOCKED]
    walls = [make_observation(outcome=kinds_[d % 2], checked_at=days(d)) for d in range(2, 6)]
    states = []
    for wall in walls:
        state = run([wall], state)
        states.append(state.state)
    assert states == [SUSPECT, SUSPECT, CHECK_BY_HAND, CHECK_BY_HAND]
    assert (state.consecutive_failures, state.first_failure_at) == (2, days(0))


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


def test_network_unavailable_changes_nothing_on_a_checked_link() -> None:
    """Not even the check time: the report's "last checked" is the last check that
    reached the network, not a night our own network was down."""
    before = run([failing(0)])
    obs = make_observation(outcome=Outcome.NETWORK_UNAVAILABLE, checked_at=days(1))
    state, changes = apply_observation(before, obs, HEALTH, now=days(1))
    assert changes == []
    assert state == before


def test_network_unavailable_on_a_never_checked_link_records_only_the_try() -> None:
    obs = make_observation(outcome=Outcome.NETWORK_UNAVAILABLE, checked_at=days(1))
    state, changes = apply_observation(LinkState(), obs, HEALTH, now=days(1))
    assert changes == []
    assert state == LinkState(last_checked_at=days(1))


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


def test_a_fingerprint_of_the_earlier_rule_is_replaced_without_a_change() -> None:
    """After the upgrade that changed the fingerprint's rule (migration 0015), the first
    read of each link is its new baseline: not "content changed" across the catalog, and
    "unchanged since" kept; the read after that compares as always."""
    state = replace(
        run([make_observation(fingerprint="sha256:old")]),
        fingerprint=LEGACY_FINGERPRINT + "sha256:old",
    )
    obs = make_observation(fingerprint="sha256:new", checked_at=days(7))
    new, changes = apply_observation(state, obs, HEALTH, now=days(7))
    assert "content_changed" not in [c.kind for c in changes]
    assert new.fingerprint == "sha256:new" and new.fingerprint_since == state.fingerprint_since
    edited = make_observation(fingerprint="sha256:edited", checked_at=days(14))
    assert "content_changed" in kinds(new, edited)


def test_not_modified_keeps_the_old_fingerprint_and_title() -> None:
    state = run([make_observation(fingerprint="aaa", title="Guide", etag='"v1"')])
    obs = make_observation(not_modified=True, http_status=304, checked_at=days(8))
    new, changes = apply_observation(state, obs, HEALTH, now=days(8))
    assert (new.fingerprint, new.title, new.etag) == ("aaa", "Guide", '"v1"')
    assert new.fingerprinted_at == days(8)
    assert changes == []


def test_a_head_only_check_keeps_the_validators_of_the_fingerprinted_copy() -> None:
    state = run([make_observation(fingerprint="aaa", etag='"v1"', last_modified="Mon, 1 Jan")])
    head = make_observation(
        fingerprint=None, etag='"v2"', last_modified="Tue, 2 Jan", methods=("HEAD",)
    )
    new, _ = apply_observation(state, head, HEALTH, now=days(1))
    assert (new.fingerprint, new.etag, new.last_modified) == ("aaa", '"v1"', "Mon, 1 Jan")
    fetched = make_observation(fingerprint="bbb", etag='"v2"', last_modified="Tue, 2 Jan")
    new, _ = apply_observation(new, fetched, HEALTH, now=days(8))
    assert (new.fingerprint, new.etag, new.last_modified) == ("bbb", '"v2"', "Tue, 2 Jan")
    renewed = make_observation(not_modified=True, http_status=304, etag='"v3"', checked_at=days(9))
    new, _ = apply_observation(new, renewed, HEALTH, now=days(9))
    assert (new.fingerprint, new.etag, new.last_modified) == ("bbb", '"v3"', "Tue, 2 Jan")


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
    assert set(kinds(state, obs)) == {"title_changed", "final_url_changed", "content_type_changed"}


# Living pages name the day in their title ("Daily Briefing - 5 Dec 2026"): "Page title
# changed" each time. Compared with the noise the fingerprint ignores, only a retitling is news.
@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "Daily Briefing for Saturday, 26 December 2026",
            "Daily Briefing for Saturday, 02 January 2027",
        ),
        ("Daily Briefing - 5 Dec 2026", "Daily Briefing - 12 Dec 2026"),
        ("Directory (updated 12/01/2026)", "Directory (updated 12/08/2026)"),
    ],
)
def test_a_title_whose_date_alone_changed_is_no_title_change(old: str, new: str) -> None:
    before = make_observation(title=old, checked_at=days(0))
    state, _ = apply_observation(LinkState(), before, HEALTH, now=days(0))
    state, made = apply_observation(
        state, make_observation(title=new, checked_at=days(7)), HEALTH, now=days(7)
    )
    assert made == []
    assert state.title == new


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Trafficking in Persons Report - June 2023", "Trafficking in Persons Report - June 2024"),
        ("Annual Report, 5 May 2023", "Annual Report, 5 May 2024"),
    ],
)
def test_a_title_whose_date_names_another_year_alone_is_a_new_edition(old: str, new: str) -> None:
    """Review rv6: the next year's edition at the same address, its title dated by month,
    made no `title_changed`, so nothing dated the page's new form (`new_edition`)."""
    before = make_observation(title=old, checked_at=days(0))
    state, _ = apply_observation(LinkState(), before, HEALTH, now=days(0))
    after = make_observation(title=new, checked_at=days(7))
    _, made = apply_observation(state, after, HEALTH, now=days(7))
    assert [(c.kind, c.details) for c in made] == [("title_changed", {"old": old, "new": new})]


def test_an_update_s_year_alone_is_no_title_change() -> None:
    """ "Updated June 2024" names no edition (`staleness.edition_years`)."""
    before = make_observation(title="Directory (updated June 2023)", checked_at=days(0))
    state, _ = apply_observation(LinkState(), before, HEALTH, now=days(0))
    after = make_observation(title="Directory (updated June 2024)", checked_at=days(7))
    assert apply_observation(state, after, HEALTH, now=days(7))[1] == []


def test_a_real_retitling_beside_a_date_is_a_title_change() -> None:
    before = make_observation(title="Daily Briefing - 5 Dec 2026", checked_at=days(0))
    state, _ = apply_observation(LinkState(), before, HEALTH, now=days(0))
    after = make_observation(title="Weekly Digest - 12 Dec 2026", checked_at=days(7))
    _, made = apply_observation(state, after, HEALTH, now=days(7))
    assert [c.kind for c in made] == ["title_changed"]


def test_charset_spelling_is_not_a_content_type_change() -> None:
    state = run([make_observation(content_type="text/html; charset=utf-8")])
    assert kinds(state, make_observation(content_type="text/html; charset=UTF-8")) == []


def test_changing_failure_kind_is_an_outcome_change_without_a_state_change() -> None:
    state = run([failing(0), failing(1), failing(2)])
    assert kinds(state, failing(3, Outcome.GONE)) == ["outcome_changed"]


# --- every transition, with the clock under test control ------------------------------------


def ok(day: float, **fields: Any) -> Observation:
    return make_observation(checked_at=days(day), **fields)


def test_first_failure_records_its_time_and_count_as_suspect() -> None:
    state = run([ok(0), failing(1)])
    assert (state.state, state.consecutive_failures, state.first_failure_at) == (
        SUSPECT,
        1,
        days(1),
    )


def test_a_manual_recheck_cannot_shorten_the_day_window() -> None:
    # Three failures within one day, e.g. the nightly check and two manual rechecks.
    state = run([failing(0), failing(0.1), failing(0.2)])
    assert (state.state, state.consecutive_failures) == (SUSPECT, 3)
    # Even many more on the same day stay suspect: only time confirms a break.
    assert run([failing(0.01 * i) for i in range(10)]).state == SUSPECT
    assert run([failing(0), failing(0.1), failing(0.2), failing(2)]).state == BROKEN


def test_a_failure_stamped_by_a_clock_set_back_later_does_not_hold_off_the_verdict() -> None:
    # The first failing check ran while the clock was a year fast; once it is put right,
    # the link keeps failing every night and must be confirmed by the usual wait from the
    # first failure the corrected clock saw, not a year later.
    state = run([failing(365), failing(1), failing(2)])
    assert (state.state, state.consecutive_failures, state.first_failure_at) == (
        SUSPECT,
        3,
        days(1),
    )
    assert run([failing(365), failing(1), failing(2), failing(3)]).state == BROKEN


def test_rate_limited_never_counts_as_a_failure() -> None:
    limited = [make_observation(outcome=Outcome.RATE_LIMITED, checked_at=days(d)) for d in (1, 2)]
    state = run([failing(0), *limited])
    assert (state.consecutive_failures, state.first_failure_at) == (1, days(0))
    assert run([failing(0), *limited, failing(3)]).state == SUSPECT


def test_broken_then_passing_is_recovered_then_ok() -> None:
    state = run([failing(0), failing(1), failing(2)])
    assert state.state == BROKEN
    recovered = run([ok(3)], state)
    assert recovered.state == RECOVERED
    assert run([ok(4)], recovered).state == OK


def test_suspect_then_passing_is_recovered() -> None:
    assert run([failing(0), ok(0.5)]).state == RECOVERED


def test_failing_again_after_recovery_starts_a_new_count() -> None:
    state = run([failing(0), failing(1), failing(2), ok(3), failing(4)])
    assert (state.state, state.consecutive_failures, state.first_failure_at) == (
        SUSPECT,
        1,
        days(4),
    )


def test_network_unavailable_neither_fails_nor_confirms_a_break() -> None:
    down = [
        make_observation(outcome=Outcome.NETWORK_UNAVAILABLE, checked_at=days(d)) for d in (1, 2, 3)
    ]
    state = run([failing(0), *down])
    assert (state.state, state.consecutive_failures) == (SUSPECT, 1)


FLAPPY = HealthSettings(flap_changes=4, flap_window_days=14)


def flap_run(observations: Sequence[Observation], state: LinkState | None = None):
    state = state or LinkState()
    all_changes = []
    for obs in observations:
        state, changes = apply_observation(state, obs, FLAPPY, now=obs.checked_at)
        all_changes += [c.kind for c in changes]
    return state, all_changes


def test_a_link_that_keeps_flipping_is_flapping_and_says_so() -> None:
    state, kinds_seen = flap_run([ok(0), failing(1), ok(2), failing(3)])
    assert not state.flapping and len(state.flips) == 3
    state, changes = apply_observation(state, ok(4), FLAPPY, now=days(4))
    assert state.flapping
    assert state.state == RECOVERED  # the state keeps following the confirmation rules
    assert "flapping_started" in [c.kind for c in changes]
    assert "flapping_started" not in kinds_seen


def test_flapping_stops_once_the_flips_leave_the_window() -> None:
    state, _ = flap_run([ok(0), failing(1), ok(2), failing(3), ok(4)])
    assert state.flapping
    later, changes = apply_observation(state, ok(30), FLAPPY, now=days(30))
    assert not later.flapping and later.flips == ()
    assert [c.kind for c in changes] == ["flapping_stopped"]


def test_flips_spread_over_more_than_the_window_are_not_flapping() -> None:
    state, _ = flap_run([ok(0), failing(10), ok(20), failing(30), ok(40)])
    assert not state.flapping


def test_flips_stamped_by_a_clock_since_set_back_do_not_keep_a_link_flapping() -> None:
    # A week of flapping while the clock ran a year fast; once it is put right the link
    # works every night, and the flag must end with the window, not a year later.
    state, _ = flap_run([ok(365), failing(366), ok(367), failing(368), ok(369)])
    assert state.flapping
    state, _ = flap_run([ok(d) for d in range(10, 30)], state)
    assert not state.flapping and state.flips == ()


def test_blocked_between_working_checks_is_no_flip() -> None:
    blocked = make_observation(outcome=Outcome.BLOCKED, checked_at=days(1))
    state, _ = flap_run([ok(0), blocked, ok(2)])
    assert state.flips == ()


# --- change events ---------------------------------------------------------------------------


def _hops(*urls: str) -> tuple[Hop, ...]:
    return tuple(Hop(u, 301 if i < len(urls) - 1 else 200) for i, u in enumerate(urls))


def test_outcome_change_is_an_event_with_old_and_new() -> None:
    state = run([ok(0)])
    (change,) = [
        c
        for c in apply_observation(state, failing(1), HEALTH, now=days(1))[1]
        if c.kind == "outcome_changed"
    ]
    assert (change.details["old"], change.details["new"]) == ("ok", "not_found")


def test_new_redirect_target_is_a_redirect_change() -> None:
    url = "https://example.org/r1"
    state = run([ok(0, chain=_hops(url, "https://a.example/x", "https://c.example/end"))])
    obs = ok(1, chain=_hops(url, "https://b.example/x", "https://c.example/end"))
    _, changes = apply_observation(state, obs, HEALTH, now=days(1))
    assert [(c.kind, c.details["old"], c.details["new"]) for c in changes] == [
        ("redirect_changed", "https://a.example/x", "https://b.example/x")
    ]


def test_a_redirect_that_changed_while_the_link_went_unanswered_is_a_redirect_change() -> None:
    # The moved page's redirect led to the publisher's new site; after a night without
    # any answer it leads to a casino. That change is the evidence a curator needs.
    url = "https://example.org/r1"
    moved = ok(0, chain=_hops(url, "https://new.example/r1"), outcome=Outcome.REDIRECTED_PERMANENT)
    state = run([moved, failing(1, Outcome.TIMEOUT)])
    obs = ok(2, chain=_hops(url, "https://casino.example/"), outcome=Outcome.REDIRECTED_PERMANENT)
    _, changes = apply_observation(state, obs, HEALTH, now=days(2))
    assert ("redirect_changed", "https://new.example/r1", "https://casino.example/") in [
        (c.kind, c.details.get("old"), c.details.get("new")) for c in changes
    ]
    # Unchanged across the silent night: nothing to report.
    same = ok(2, chain=_hops(url, "https://new.example/r1"), outcome=Outcome.REDIRECTED_PERMANENT)
    assert "redirect_changed" not in kinds(state, same)


def test_final_url_change_is_distinct_from_a_redirect_change() -> None:
    url = "https://example.org/r1"
    state = run([ok(0, chain=_hops(url, "https://a.example/x"), final_url="https://a.example/x")])
    obs = ok(
        1,
        chain=_hops(url, "https://a.example/x", "https://a.example/y"),
        final_url="https://a.example/y",
    )
    assert kinds(state, obs) == ["final_url_changed"]


def test_content_change_carries_old_and_new_size_and_title() -> None:
    state = run([ok(0, fingerprint="aaa", content_length=10, title="Guide")])
    _, changes = apply_observation(
        state, ok(1, fingerprint="bbb", content_length=20, title="Guide v2"), HEALTH, now=days(1)
    )
    (change,) = [c for c in changes if c.kind == "content_changed"]
    assert change.details["old_title"] == "Guide" and change.details["new_title"] == "Guide v2"
    assert (change.details["old_content_length"], change.details["new_content_length"]) == (10, 20)
    assert "title_changed" in [c.kind for c in changes]


def test_fingerprint_since_moves_only_when_the_content_changes() -> None:
    state = run([ok(0, fingerprint="aaa"), ok(5, fingerprint="aaa")])
    assert state.fingerprint_since == days(0)
    assert run([ok(9, fingerprint="bbb")], state).fingerprint_since == days(9)


# --- drift -----------------------------------------------------------------------------------

ENTRY = Entry(
    "1",
    "Human Trafficking Task Force e-Guide",
    "Guide for task forces investigating human trafficking and supporting victims.",
)
GOOD_TEXT = (
    "The Human Trafficking Task Force e-Guide helps task forces build collaborative "
    "investigations of human trafficking, support victims and survivors, and prosecute "
    "traffickers. Sections cover forming a task force, victim services, investigations, "
    "prosecution, labor trafficking, sex trafficking, trauma informed interviewing, "
    "strategic planning, and community partnerships for multidisciplinary teams."
)
CASINO_TEXT = (
    "Online casino with free spins and a welcome bonus. Play slots, poker, roulette and "
    "blackjack. Sports betting and live casino games with the best betting odds tonight."
)


def page(day: float, title: str, text: str) -> Observation:
    return ok(day, title=title, text_sample_packed=pack_text(text))


def test_a_matching_page_does_not_drift_and_becomes_the_baseline() -> None:
    judgement = judge_page(page(0, "Task Force e-Guide", GOOD_TEXT), [ENTRY], {})
    assert judgement is not None and not judgement.drifted
    assert judgement.baseline_scores["1"] == judgement.relevance > 0.3


def test_a_casino_page_drifts_then_clears_when_the_guide_is_back() -> None:
    judgement = judge_page(page(1, "Best Online Casino", CASINO_TEXT), [ENTRY], {"1": [0.8]})
    assert judgement is not None and "1" in judgement.drifted
    assert judgement.baseline_scores == {}  # a drifted score never becomes the baseline
    state, changes = apply_drift(LinkState(), judgement, at=days(1))
    assert state.drift_reason and state.drift_since == days(1)
    (change,) = changes
    assert change.kind == "drift_detected"
    assert change.details["entry"] == "1" and "gambling" in change.details["markers"]
    assert change.details["evidence"]

    again = judge_page(page(2, "Best Online Casino", CASINO_TEXT), [ENTRY], {"1": [0.8]})
    still, changes = apply_drift(state, again, at=days(2))
    assert changes == [] and still.drift_since == days(1)

    back = judge_page(page(3, "Task Force e-Guide", GOOD_TEXT), [ENTRY], {"1": [0.8]})
    cleared, changes = apply_drift(still, back, at=days(3))
    assert cleared.drift_reason is None
    assert [c.kind for c in changes] == ["drift_cleared"]


def test_a_thin_page_cannot_clear_a_drift_it_could_not_have_found() -> None:
    # The lapsed domain now holds a software firm's site (drift by words, no marker);
    # next night it shows a title and a line of text. Too little text to tell drift by
    # words, so too little to say the guide is back.
    corporate = (
        "Acme Cloud helps enterprises move faster with secure, scalable software. Our "
        "platform unifies analytics, billing and customer relationship management in one "
        "dashboard. Trusted by more than 5,000 companies worldwide. Book a demo today and "
        "see how Acme Cloud can cut your operating costs. Start your free trial now."
    )
    judgement = judge_page(page(1, "Acme Cloud Solutions", corporate), [ENTRY], {"1": [0.8]})
    assert judgement is not None and "1" in judgement.drifted
    state, _ = apply_drift(LinkState(), judgement, at=days(1))
    thin = judge_page(page(2, "Acme Cloud", "Coming soon."), [ENTRY], {"1": [0.8]})
    kept, changes = apply_drift(state, thin, at=days(2))
    assert (kept, changes) == (state, [])
    # The guide's own short page, back under its own title, does clear it.
    back = judge_page(page(3, ENTRY.title, "Download the e-Guide."), [ENTRY], {"1": [0.8]})
    cleared, changes = apply_drift(kept, back, at=days(3))
    assert cleared.drift_reason is None and [c.kind for c in changes] == ["drift_cleared"]


def test_a_casino_answering_every_path_is_drift_not_just_a_missing_page() -> None:
    # A lapsed domain's new owner serves one casino page at every path: the soft-404 probe
    # matches it, and "find where it moved" hid the possible hijack.
    casino = page(1, "Best Online Casino", CASINO_TEXT)
    judgement = judge_page(replace(casino, outcome=Outcome.SOFT_404), [ENTRY], {"1": [0.8]})
    assert judgement is not None and "1" in judgement.drifted
    assert judgement.baseline_scores == {}
    state, changes = apply_drift(LinkState(), judgement, at=days(1))
    assert state.drift_reason and [c.kind for c in changes] == ["drift_detected"]


def test_a_link_sent_to_a_domain_marketplace_is_drift_of_a_domain_that_changed_hands() -> None:
    # Dan.com's sale page names neither "Dan.com" nor a parking phrase; the probe matches it
    # (every path goes there), and the report said "find where the resource moved".
    sale = page(1, "polaristaskforce.org", "Buy now. Fast and secure transfer.")
    sale = replace(
        sale,
        outcome=Outcome.SOFT_404,
        url="https://polaristaskforce.org/reports/annual",
        final_url="https://dan.com/domain_profile.cfm?d=polaristaskforce.org",
    )
    judgement = judge_page(sale, [ENTRY], {"1": [0.8]})
    assert judgement is not None and "1" in judgement.drifted
    verdict, _ = judgement.drifted["1"]
    assert verdict.markers == ("parking",) and names_markers(verdict.reason)


def test_an_ordinary_missing_page_neither_finds_nor_clears_drift() -> None:
    # A site's own "not found" page matches no entry: that is the soft 404's to say, not
    # drift's, and it is no evidence that an earlier takeover is over either.
    missing = page(1, "Page not found", "Sorry, the page you requested could not be found.")
    missing = replace(missing, outcome=Outcome.SOFT_404)
    assert judge_page(missing, [ENTRY], {"1": [0.8]}) is None
    wordy = replace(page(1, "Oops", GOOD_TEXT), outcome=Outcome.SOFT_404)
    assert judge_page(wordy, [ENTRY], {}) is None  # its words never become a baseline


#: Three entries sharing one address, and the page as it held all three, then two.
SHARED = (
    Entry("1", "Task Force e-Guide", "A guide for task forces, investigations and prosecution"),
    Entry("2", "Victim Services Directory", "A directory of shelters, legal aid and counseling"),
    Entry("3", "Labor Trafficking Hotline Poster", "A printable poster with the hotline number"),
)
SHARED_PAGE = {
    "all": (
        "Resources. Task Force e-Guide: a guide for task forces, investigations and "
        "prosecution. Victim Services Directory: a directory of shelters, legal aid and "
        "counseling. Labor Trafficking Hotline Poster: a printable poster with the hotline "
        "number. Contact us for training and technical assistance across the state."
    ),
    "two": (
        "Resources. Task Force e-Guide: a guide for task forces, investigations and "
        "prosecution. Victim Services Directory: a directory of shelters, legal aid and "
        "counseling. Contact us for training and technical assistance across the state, "
        "news and events, upcoming meetings and public notices for our partners."
    ),
}


def test_a_shared_page_flags_only_the_entry_it_no_longer_holds() -> None:
    """r1 F1: a page holding entries 1 and 2 but no longer 3 flagged all three."""
    history: dict[str, list[float]] = {}
    for day in (0, 1):
        judged = judge_page(page(day, "Resources", SHARED_PAGE["all"]), SHARED, history)
        assert judged is not None and not judged.drifted
        for key, score in judged.baseline_scores.items():
            history.setdefault(key, []).insert(0, score)
    two = judge_page(page(2, "Resources", SHARED_PAGE["two"]), SHARED, history)
    assert two is not None and list(two.drifted) == ["3"]
    state, changes = apply_drift(LinkState(), two, at=days(2))
    assert state.drift_reason is not None and _keys(state) == ("3",)
    assert [(c.kind, c.details["entry"]) for c in changes] == [("drift_detected", "3")]
    assert [drifted_from(state, key) for key in "123"] == [False, False, True]
    assert entry_view(state, "1").drift_reason is None
    # Its own drift (here the link's: it is the one entry drifted from), no list of others.
    assert entry_view(state, "3") == replace(state, drift_entries=None)
    # Entry 3 matched again: the flag clears with news of entry 3 alone.
    back = judge_page(page(3, "Resources", SHARED_PAGE["all"]), SHARED, history)
    cleared, changes = apply_drift(state, back, at=days(3))
    assert (cleared.drift_reason, cleared.drift_entries) == (None, None)
    assert [(c.kind, c.entry) for c in changes] == [("drift_cleared", "3")]


def test_an_entry_gone_from_a_shared_page_leaves_its_flag_without_news() -> None:
    """Entry 3 (flagged) was removed, or moved to its own address: the page is judged
    against the entries left, and its flag goes with no "matches again" of it."""
    flag = (EntryDrift("3", days(1), "gone", 0.1),)
    state = LinkState(drift_reason="gone", drift_since=days(1), drift_entries=flag)
    history = {"1": [0.8], "2": [0.8]}
    guide_only = (
        "Resources. Task Force e-Guide: a guide for task forces, investigations and "
        "prosecution. Contact us for training and technical assistance across the state, "
        "news and events, upcoming meetings and public notices for our partners and "
        "grantees. Our office hours, staff contacts of the agency, careers, accessibility, "
        "privacy policy and the annual plan of the department are listed below."
    )
    one = judge_page(page(2, "Resources", guide_only), SHARED[:2], history)
    assert one is not None and list(one.drifted) == ["2"]
    moved, changes = apply_drift(state, one, at=days(2))
    # Entry 2's drift is its own, from day 2: not dated from entry 3's (day 1), gone.
    assert _keys(moved) == ("2",) and moved.drift_since == days(2)
    assert [(c.kind, c.details.get("entry"), c.entry) for c in changes] == [
        ("drift_detected", "2", None)
    ]


def _keys(state: LinkState) -> tuple[str, ...] | None:
    """The entries a flag concerns (`LinkState.drift_entries`), None for every entry."""
    return None if state.drift_entries is None else tuple(e.key for e in state.drift_entries)


def test_a_takeover_of_a_shared_page_flags_every_entry() -> None:
    casino = judge_page(page(1, "Best Online Casino", CASINO_TEXT), SHARED, {})
    assert casino is not None and sorted(casino.drifted) == ["1", "2", "3"]
    state, changes = apply_drift(LinkState(), casino, at=days(1))
    assert state.drift_entries is None  # every entry
    assert sorted(c.details["entry"] for c in changes) == ["1", "2", "3"]


def test_pages_without_text_or_failing_leave_drift_alone() -> None:
    assert judge_page(ok(0), [ENTRY], {}) is None
    assert judge_page(failing(0), [ENTRY], {}) is None
    assert (
        judge_page(
            ok(0, not_modified=True, title="x", text_sample_packed=pack_text("y")), [ENTRY], {}
        )
        is None
    )
    state = LinkState(drift_reason="casino", drift_since=days(0))
    assert apply_drift(state, None, at=days(1)) == (state, [])


def test_an_entry_drifted_from_later_keeps_its_own_date_and_figures() -> None:
    """d1b: entry 3 drifted from on day 2, entry 2 on day 3. Each keeps its own since,
    reason and score (the entry's view of the state): entry 2 was dated from entry 3's day
    and showed entry 3's match figures. The link's columns stay the earliest and worst."""
    history: dict[str, list[float]] = {}
    for day in (0, 1):
        judged = judge_page(page(day, "Resources", SHARED_PAGE["all"]), SHARED, history)
        assert judged is not None
        for key, score in judged.baseline_scores.items():
            history.setdefault(key, []).insert(0, score)
    two = judge_page(page(2, "Resources", SHARED_PAGE["two"]), SHARED, history)
    state, _ = apply_drift(LinkState(), two, at=days(2))
    guide_only = (
        "Resources. Task Force e-Guide: a guide for task forces, investigations and "
        "prosecution. Contact us for training and technical assistance across the state, "
        "news and events, upcoming meetings and public notices for our partners and "
        "grantees. Our office hours, staff contacts of the agency, careers, accessibility."
    )
    one = judge_page(page(3, "Resources", guide_only), SHARED, history)
    assert one is not None and "2" in one.drifted
    later, changes = apply_drift(state, one, at=days(3))
    assert [(c.kind, c.details["entry"]) for c in changes] == [("drift_detected", "2")]
    assert _keys(later) == ("2", "3")
    poster, directory = entry_view(later, "3"), entry_view(later, "2")
    assert (poster.drift_since, directory.drift_since) == (days(2), days(3))
    assert directory.drift_reason == one.drifted["2"][0].reason
    assert directory.drift_score == one.drifted["2"][0].score
    assert later.drift_since == days(2)
    assert entry_view(later, "1").drift_reason is None
