"""Flapping over months of nightly checks: flagged once, kept while the site stays flaky,
dropped once it has steadied, without the flag (and the queue row) blinking in between."""

from __future__ import annotations

import json
from pathlib import Path

from catalog import store
from catalog.health import LinkState, apply_observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.changes import flapping_summary
from reports.render import render_html, render_json, render_markdown
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

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


def test_the_nightly_changes_do_not_repeat_a_flapping_links_ups_and_downs(
    tmp_path: Path,
) -> None:
    """Once a link is flagged flapping (and listed under Check by hand as such), its
    failure every fifth night and recovery the night after are no news: "Since the last
    run" must not say "started failing" and "recovered" about it all year."""
    flaky, steady = "https://flaky.example/", "https://steady.example/"
    kit = make_catalog("toolkit", [make_resource("flaky", flaky), make_resource("steady", steady)])
    news: dict[int, set[tuple[str, str | None]]] = {}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(31):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            batch = [
                make_observation(
                    flaky,
                    Outcome.HTTP_ERROR if night % 5 == 0 or 20 <= night <= 23 else Outcome.OK,
                    days(night),
                ),
                make_observation(
                    steady, Outcome.NOT_FOUND if night == 26 else Outcome.OK, days(night)
                ),
            ]
            store.record_observations(engine, run_id, batch, HEALTH, now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
            ctx = build_context(report_data(engine), now=days(night + 0.01))
            assert ctx.changes is not None
            news[night] = {
                (section.key, item.resource_id)
                for section in ctx.changes.sections
                for item in section.items
            }
    # Until it is flagged (night 10), each change is news; so is the steady link's failure.
    assert ("started_failing", "flaky") in news[5]
    assert ("recovered", "flaky") in news[6]
    # The failure that flags it (night 10) is told as "Started flapping", not twice.
    assert ("flapping_started", "flaky") in news[10]
    assert ("started_failing", "flaky") not in news[10]
    assert ("started_failing", "steady") in news[26]
    assert ("recovered", "steady") in news[27]
    # Down four nights running, it is confirmed broken (news), and working again (news).
    assert ("newly_broken", "flaky") in news[22]
    assert ("recovered", "flaky") in news[24]
    for night in set(range(11, 31)) - {22, 24}:
        assert {item for item in news[night] if item[1] == "flaky"} == set(), night


def test_a_flapping_rows_since_and_checks_count_from_when_it_started_flapping(
    tmp_path: Path,
) -> None:
    """Flapping since night 10 and still at it on night 38: its Check by hand row said
    "since 2 days ago, 3 checks" (its last failure or recovery), as if the trouble were
    new; it is five weeks old, whatever the last flip."""
    flaky = "https://flaky.example/"
    kit = make_catalog("toolkit", [make_resource("flaky", flaky)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(39):
            outcome = Outcome.HTTP_ERROR if night % 5 == 0 else Outcome.OK
            obs = make_observation(flaky, outcome, days(night))
            store.record_observations(engine, None, [obs], HEALTH, now=days(night))
            if night in (11, 38):  # an OK night after a recovery, then much later
                (row,) = report_data(engine).resources
                assert row.flapping and row.since == days(10), night
                assert row.checks_since == night - 10 + 1


def test_since_the_last_run_lists_a_link_that_started_and_one_that_stopped_flapping(
    tmp_path: Path,
) -> None:
    """A link that began flapping moves into Check by hand: news for the curator, in every
    format, as is the night it steadied and left the queue (as a snooze ending is)."""
    flaky = "https://flaky.example/"
    kit = make_catalog("toolkit", [make_resource("flaky", flaky, title="Flaky hotline")])
    news: dict[int, dict[str, list[str]]] = {}
    pages: dict[int, tuple[str, str, dict[str, object]]] = {}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(61):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            down = night <= 40 and night % 5 == 0  # flaky until night 40, steady after
            obs = make_observation(flaky, Outcome.HTTP_ERROR if down else Outcome.OK, days(night))
            store.record_observations(engine, run_id, [obs], HEALTH, now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night + 0.01))
            ctx = build_context(report_data(engine), now=days(night + 0.01))
            assert ctx.changes is not None
            news[night] = {
                s.key: [f"{i.resource_id}: {i.summary}" for i in s.items]
                for s in ctx.changes.sections
            }
            if any(k.startswith("flapping") for k in news[night]):
                pages[night] = (
                    render_html(ctx),
                    render_markdown(ctx),
                    json.loads(render_json(ctx)),
                )
    started = [n for n in news if "flapping_started" in news[n]]
    stopped = [n for n in news if "flapping_stopped" in news[n]]
    assert started == [10]
    assert len(stopped) == 1 and 41 < stopped[0] <= 54
    (began,) = news[10]["flapping_started"]
    assert began.startswith("flaky: ") and "Check by hand" in began
    (ended,) = news[stopped[0]]["flapping_stopped"]
    assert ended.startswith("flaky: ") and "works steadily" in ended.lower()

    shown = (
        (10, "flapping_started", "Started flapping"),
        (stopped[0], "flapping_stopped", "Stopped flapping"),
    )
    for night, key, heading in shown:
        html, markdown, as_json = pages[night]
        assert f'<h3 id="changes-{key}">{heading} (1)</h3>' in html
        assert f"### {heading} (1)" in markdown
        assert f"1 {heading.lower()}" in markdown  # the tally sentence
        changes = as_json["changes"]
        assert isinstance(changes, dict)
        sections = {s["key"]: s for s in changes["sections"]}
        (item,) = sections[key]["items"]
        assert (item["kind"], item["resource_id"]) == (key, "flaky")


def test_a_link_that_stops_flapping_because_it_now_always_fails_is_not_called_steady() -> None:
    """Flaky until night 20, then down every night: its flips fall below the threshold, so
    it stops flapping, but "Works steadily again" would be wrong news; it is broken."""
    down = {n for n in range(20) if n % 5 == 0} | set(range(20, 60))
    state, stop = LinkState(), None
    for night in range(60):
        outcome = Outcome.HTTP_ERROR if night in down else Outcome.OK
        obs = make_observation("https://flaky.example/", outcome, days(night))
        state, found = apply_observation(state, obs, HEALTH, now=days(night))
        stop = next((c for c in found if c.kind == "flapping_stopped"), stop)
    assert stop is not None and stop.details["state"] == "broken"
    summary = flapping_summary(stop.details, started=False)
    assert "confirmed broken" in summary and "steadily" not in summary
