"""What "Since the last run" says of a link that stops flapping, in every way it can stop:
while it works, while it fails, on the check that fails or recovers it anew, and with a
same-day recheck after the night that stopped it. Each sentence must be true of the link
as the report leaves it, and the link listed once, under the heading that says so."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import EventRow, report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import ReportContext
from reports.history import history_items
from reports.render import render_html, render_json, render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

HEALTH = HealthSettings()  # flap_changes=4 within flap_window_days=14: unflagged below 2
FLAKY = "https://flaky.example/"
OK, DOWN, OFFLINE = Outcome.OK, Outcome.HTTP_ERROR, Outcome.NETWORK_UNAVAILABLE

#: A check: (day, outcome, a night's full run or else a curator's recheck).
Check = tuple[float, Outcome, bool]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    kit = make_catalog("toolkit", [make_resource("flaky", FLAKY, title="Flaky hotline")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        yield engine


def nights(first: int, last: int, down: Sequence[int] = ()) -> list[Check]:
    return [(n, DOWN if n in down else OK, True) for n in range(first, last + 1)]


def check(engine: Engine, checks: Sequence[Check]) -> ReportContext:
    """Run the checks in turn (a night holds the full-run lease, a recheck does not); the
    report of the last."""
    for day, outcome, whole in checks:
        at = days(day)
        summary = {"holder": "box:1", **({"lease": "full-run"} if whole else {})}
        run_id = store.start_run(
            engine, trigger="schedule" if whole else "manual", now=at, summary=summary
        )
        obs = make_observation(FLAKY, outcome, at)
        store.record_observations(engine, run_id, [obs], HEALTH, now=at)
        store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    return build_context(report_data(engine), now=days(checks[-1][0]) + timedelta(minutes=10))


def news(ctx: ReportContext) -> dict[str, list[tuple[str, str]]]:
    """Section key -> (kind, summary) of each item about the flaky entry."""
    assert ctx.changes is not None
    return {
        s.key: [(i.kind, i.summary) for i in s.items if i.resource_id == "flaky"]
        for s in ctx.changes.sections
    }


#: Down on night 1 and up, down and up again in three rechecks the same day: four switches
#: within hours, so flagged, and all four out of the window on the same night two weeks on.
FLAPS_IN_A_DAY: list[Check] = [
    (0, OK, True),
    (1, DOWN, True),
    (1.2, OK, False),
    (1.4, DOWN, False),
    (1.6, OK, False),
]


def test_a_link_that_stops_flapping_while_it_works_works_steadily(engine: Engine) -> None:
    """Down on nights 1 and 3 (flagged on night 4), working since: its last switch leaves
    the window on night 17, a working night."""
    checks = nights(0, 16, down=(1, 3))
    assert "flapping_stopped" not in news(check(engine, checks))

    ctx = check(engine, [(17, OK, True)])

    assert news(ctx) == {
        "flapping_stopped": [
            ("flapping_stopped", "Works steadily again; no longer listed as flapping.")
        ]
    }


def test_a_link_that_stops_flapping_on_the_check_that_fails_it_anew_is_not_called_steady(
    engine: Engine,
) -> None:
    """Its four switches of night 1 leave the window together on night 16, which fails it
    after two weeks of working: "Stopped flapping: it has failed every check lately"
    beside "Started failing: Failed its last check" was wrong once and said it twice."""
    ctx = check(engine, [*FLAPS_IN_A_DAY, *nights(2, 15), (16, DOWN, True)])

    summary = "Failed its last check; not confirmed yet. No longer listed as flapping."
    assert news(ctx) == {"started_failing": [("flapping_stopped", summary)]}
    markdown = render_markdown(ctx)
    assert "1 started failing" in markdown and "Stopped flapping" not in markdown
    assert "every check lately" not in markdown and "steadily" not in markdown


def test_a_same_day_recheck_that_fails_a_link_that_stopped_flapping_overnight(
    engine: Engine,
) -> None:
    """The night stopped it while it worked ("Works steadily again", true then); the
    morning's recheck failed it. The report after the recheck covers both checks: it said
    "Works steadily again" beside "Started failing", of a link failing now."""
    night = check(engine, nights(0, 17, down=(1, 3)))
    assert news(night) == {
        "flapping_stopped": [
            ("flapping_stopped", "Works steadily again; no longer listed as flapping.")
        ]
    }

    ctx = check(engine, [(17.3, DOWN, False)])

    summary = "Failed its last check; not confirmed yet. No longer listed as flapping."
    assert news(ctx) == {"started_failing": [("flapping_stopped", summary)]}
    html, markdown = render_html(ctx), render_markdown(ctx)
    for page in (html, markdown):
        assert "steadily" not in page and "Stopped flapping" not in page
    assert '<h3 id="changes-started_failing">Started failing (1)</h3>' in html
    as_json = json.loads(render_json(ctx))
    sections = {s["key"]: s for s in as_json["changes"]["sections"]}
    (item,) = sections["started_failing"]["items"]
    assert (item["kind"], item["resource_id"], item["summary"]) == (
        "flapping_stopped",
        "flaky",
        summary,
    )


def test_a_link_that_stops_flapping_on_its_recovery_works_again_not_steadily(
    engine: Engine,
) -> None:
    """Flagged on night 4, down on night 5, then our own network was down for two weeks:
    the check of night 20 both recovers it and finds its switches out of the window. It
    had been failing until then: "Recovered: Works again" and "Works steadily again"
    beside it said it twice, the second time wrongly."""
    offline = [(n, OFFLINE, True) for n in range(6, 20)]

    ctx = check(engine, [*nights(0, 5, down=(1, 3, 5)), *offline, (20, OK, True)])

    summary = "Works again. No longer listed as flapping."
    assert news(ctx) == {"recovered": [("flapping_stopped", summary)]}


def test_a_link_that_stops_flapping_while_failing_stays_under_its_failure(engine: Engine) -> None:
    """Night 15 fails it while it still flaps (no news: it is under Check by hand); night
    16, failing again, finds its switches out of the window. It worked for two weeks until
    the night before: not "it has failed every check lately"."""
    ctx = check(engine, [*FLAPS_IN_A_DAY, *nights(2, 16, down=(15, 16))])

    (only,) = news(ctx)["flapping_stopped"]
    assert only == (
        "flapping_stopped",
        "No longer switching: it has failed its last checks, not confirmed broken yet.",
    )
    assert set(news(ctx)) == {"flapping_stopped"}


def test_a_link_confirmed_broken_as_it_stops_flapping_is_news_under_both(
    engine: Engine,
) -> None:
    """Down from night 14: its third failure (night 16) confirms it and finds its switches
    out of the window. The break is the graver news, and the stop beside it agrees."""
    ctx = check(engine, [*FLAPS_IN_A_DAY, *nights(2, 16, down=(14, 15, 16))])

    assert news(ctx) == {
        "newly_broken": [("state_changed", "Confirmed broken after 3 failed checks.")],
        "flapping_stopped": [
            (
                "flapping_stopped",
                "No longer switching: it has failed check after check, confirmed broken.",
            )
        ],
    }


def test_a_soft_404_confirmed_as_it_stops_flapping_is_not_said_to_be_broken(
    engine: Engine,
) -> None:
    """As above, but its page answers "not found" with a 200 from night 14: the report
    files it under "Page missing (soft 404)", never "Confirmed broken", and neither
    sentence may say it is confirmed broken."""
    missing = [(n, Outcome.SOFT_404 if n >= 14 else OK, True) for n in range(2, 17)]
    ctx = check(engine, [*FLAPS_IN_A_DAY, *missing])

    assert [r.resource_id for g in ctx.groups if g.key == "soft_404" for r in g.rows] == ["flaky"]
    assert news(ctx) == {
        "newly_missing": [("state_changed", "Confirmed missing after 3 failed checks.")],
        "flapping_stopped": [
            (
                "flapping_stopped",
                "No longer switching: it has failed check after check, confirmed missing "
                "(soft 404).",
            )
        ],
    }


def test_a_same_day_recheck_that_recovers_a_broken_link_that_stopped_flapping(
    engine: Engine,
) -> None:
    """Flaky, then down every night from night 20: confirmed broken, and its switches
    leave the window on a failing night ("confirmed broken", true then). A recheck the
    same day finds it working: "Recovered" beside "has failed check after check" was a
    contradiction."""
    down = [n for n in range(20) if n % 5 == 0] + list(range(20, 40))
    stop = None
    for night, outcome, whole in nights(0, 39, down=down):
        ctx = check(engine, [(night, outcome, whole)])
        if "flapping_stopped" in news(ctx):
            stop = night
            break
    assert stop is not None
    (said,) = news(ctx)["flapping_stopped"]
    assert "confirmed broken" in said[1]

    ctx = check(engine, [(stop + 0.3, OK, False)])

    summary = "Works again. No longer listed as flapping."
    assert news(ctx) == {"recovered": [("flapping_stopped", summary)]}


def test_a_recheck_that_keeps_a_stopped_link_failing_changes_nothing_said(
    engine: Engine,
) -> None:
    """A recheck that fails the link as the night did is no state change: the night's
    sentence stands."""
    night = check(engine, [*FLAPS_IN_A_DAY, *nights(2, 16, down=(15, 16))])
    ctx = check(engine, [(16.3, DOWN, False)])

    assert news(ctx) == news(night)


def test_a_same_day_recheck_that_is_blocked_sends_a_stopped_link_to_a_person(
    engine: Engine,
) -> None:
    """Stopped while working overnight, blocked at the morning's recheck: no longer
    "Works steadily again" but waiting for a person."""
    check(engine, nights(0, 17, down=(1, 3)))

    ctx = check(engine, [(17.3, Outcome.BLOCKED, False)])

    assert news(ctx) == {
        "flapping_stopped": [
            (
                "flapping_stopped",
                "No longer switching; its last check needs a person (see Check by hand).",
            )
        ]
    }


def test_a_resource_page_says_a_stopped_flag_without_calling_it_steady() -> None:
    """The resource page lists the stop beside the check's health change: it says the
    switches and that the flag is gone, never a state a later recheck may contradict."""
    at = days(16)
    events = [
        EventRow(1, at, "state_changed", 1, None, 1, {"old": "ok", "new": "suspect"}),
        EventRow(2, at, "flapping_stopped", 1, None, 1, {"flips": 1, "state": "suspect"}),
        EventRow(3, at, "flapping_stopped", 1, None, 1, {"flips": 0, "state": "ok"}),
        EventRow(4, at, "flapping_stopped", 1, None, 1, {"state": "ok"}),
    ]
    details = [i.detail for i in history_items((), events, at) if i.kind == "flapping_stopped"]

    assert sorted(map(str, details)) == [
        "1 switch between working and failing lately; no longer listed as flapping",
        "no longer listed as flapping",
        "no switch between working and failing lately; no longer listed as flapping",
    ]


def test_a_link_that_stops_flapping_on_a_soft_404_is_news_under_pages_now_missing(
    engine: Engine,
) -> None:
    """As a failure anew (above), but its page answers "not found" with a 200: filed under
    "Page missing (soft 404)", its news is told there, not under "Started failing"."""
    ctx = check(engine, [*FLAPS_IN_A_DAY, *nights(2, 15), (16, Outcome.SOFT_404, True)])

    summary = (
        "The site answers, but the page is missing (soft 404); not confirmed yet. "
        "No longer listed as flapping."
    )
    assert news(ctx) == {"newly_missing": [("flapping_stopped", summary)]}
    assert "Started failing" not in render_markdown(ctx)


def test_a_soft_404_that_stops_flapping_while_failing_is_not_said_to_await_a_break(
    engine: Engine,
) -> None:
    """As a link that stops flapping while failing (above), but a soft 404: it is never
    confirmed broken (filed under "Page missing (soft 404)"), so "not confirmed broken
    yet" promised what will not come."""
    missing = [(n, Outcome.SOFT_404 if n >= 15 else OK, True) for n in range(2, 17)]
    ctx = check(engine, [*FLAPS_IN_A_DAY, *missing])

    assert [r.resource_id for g in ctx.groups if g.key == "soft_404" for r in g.rows] == ["flaky"]
    assert news(ctx) == {
        "flapping_stopped": [
            (
                "flapping_stopped",
                "No longer switching: its page was missing (soft 404) at its last checks.",
            )
        ]
    }
