"""Queue rows and news whose words agree with each other and say what happened: a site
unavailable for a week is said to be so when it starts failing; (more below)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import queries, store
from catalog.model import Hop, Observation
from catalog.ops import verdict_lines
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.sync import sync_catalogs
from reports.build import build_context, resource_report_row
from reports.context import Priority, Row
from reports.publish import queue_head
from tests import test_x2_unsteady_news as x2
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)
from tests.test_x1_unavailable_nights import HEALTH, URL, run_nights, unavailable


def test_a_site_unavailable_for_a_week_starts_failing_said_so(tmp_path: Path) -> None:
    def answer(n: int) -> Observation:
        return make_observation(URL, Outcome.OK, days(n)) if n == 0 else unavailable(days(n), 3600)

    news, rows = run_nights(tmp_path, answer, last=8)

    assert news[8] == [
        ("started_failing", "Unavailable (503) at every check for 8 nights; not confirmed yet.")
    ]
    assert rows[8][0] is Priority.FAILING


def test_a_plain_failure_still_failed_its_last_check(tmp_path: Path) -> None:
    def answer(n: int) -> Observation:
        outcome = Outcome.OK if n == 0 else Outcome.NOT_FOUND
        return make_observation(URL, outcome, days(n), http_status=200 if n == 0 else 404)

    news, _ = run_nights(tmp_path, answer, last=1)

    assert news[1] == [("started_failing", "Failed its last check; not confirmed yet.")]


NEW = "https://www.site.example/resources/"


def report_after(tmp_path: Path, checks: list[Observation]) -> tuple[Row, Row]:
    """Store a check a night (night n: `checks[n]`) and build the report: the resource's
    row in it, and the row `linkhealth resource` shows."""
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n, obs in enumerate(checks):
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            store.record_observations(engine, run_id, [obs], HEALTH, now=days(n))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
        now = days(len(checks) - 1 + 0.01)
        (row,) = build_context(report_data(engine), now=now).resources
        (source,) = report_data(engine).resources
        single = queries.resource_row(engine, source.pk)
        assert single is not None
        return row, resource_report_row(single, now=now)


def test_a_permanent_redirect_to_a_bot_check_offers_the_new_address(tmp_path: Path) -> None:
    walled = make_observation(
        URL,
        Outcome.BLOCKED,
        days(1),
        http_status=403,
        reason="GET 403 at the new address: a bot check (Cloudflare)",
        final_url=NEW,
        chain=(Hop(URL, 301), Hop(NEW, 403)),
    )

    for row in report_after(tmp_path, [make_observation(URL, Outcome.OK, days(0)), walled]):
        assert row.priority is Priority.LOOK
        assert row.suggested_url == NEW
        assert row.command == f"linkhealth replace-url site {NEW}"
        assert row.fix is not None and f"moved it for good to {NEW}" in row.fix
        assert "linkhealth ignore site" in row.fix  # still there, if the wall stays


def test_a_bot_check_behind_a_temporary_redirect_is_no_move(tmp_path: Path) -> None:
    walled = make_observation(
        URL,
        Outcome.BLOCKED,
        days(1),
        http_status=403,
        final_url=NEW,
        chain=(Hop(URL, 302), Hop(NEW, 403)),
    )

    for row in report_after(tmp_path, [make_observation(URL, Outcome.OK, days(0)), walled]):
        assert row.suggested_url is None
        assert row.command is not None and row.command.startswith("linkhealth ignore site")


def test_every_queue_keeps_a_redirect_that_comes_and_goes(tmp_path: Path) -> None:
    """The report's queue kept an unsteady redirect (`catalog.unsteady`), but the flow's
    action-queue artifact and `linkhealth resource` still offered `accept-redirect`."""
    catalog = make_catalog(resources=[make_resource("guide", x2.FLAP)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        for n in range(1, 6):  # redirects on nights 3 and 5, not on 4
            observed = x2.moved(days(n)) if n in (3, 5) else x2.page(x2.FLAP, days(n), 1)
            x2.night(engine, n, [observed], report=False)
        now = days(5.01)
        (report,) = build_context(report_data(engine), now=now).resources
        (head,) = queue_head(engine, now=now, limit=10)
        (source,) = report_data(engine).resources
        single = queries.resource_row(engine, source.pk)
        assert single is not None
        shown = resource_report_row(single, now=now)
    for row in (report, head, shown):
        assert row.priority is Priority.UPDATE
        assert row.command is None
        assert row.fix is not None and "until the redirect stays" in row.fix


def test_a_site_flapping_on_maintenance_nights_says_so(tmp_path: Path) -> None:
    """Flagged flapping for its 503 nights (x1's rule), it read "OK (Flapping: keeps
    switching between working and failing)", and "Rate limited" on its 503 nights."""

    def answer(n: int) -> Observation:
        return unavailable(days(n)) if n % 2 else make_observation(URL, Outcome.OK, days(n))

    # 503 nights count for flips once they are 4 in the window (x1b): flagged on night 10.
    news, rows = run_nights(tmp_path, answer, last=10)
    ((section, summary),) = news[10]
    assert section == "flapping_started"
    assert summary == (
        "Keeps switching between working and unavailable (503, maintenance) on 5 of the "
        "last 14 nights; listed under Check by hand until it steadies."
    )
    assert rows[10] == (
        Priority.LOOK,
        "Flapping: unavailable (503, maintenance) on 5 of the last 14 nights",
    )

    ok_night, _ = report_after(tmp_path / "a", [answer(n) for n in range(11)])
    down_night, _ = report_after(tmp_path / "b", [answer(n) for n in range(12)])
    for row, down in ((ok_night, 5), (down_night, 6)):
        assert row.fix is not None
        assert row.fix.startswith(
            f"The site said it was unavailable (503, maintenance) on {down} of the last 14 nights"
        )
    assert ok_night.label == "OK"
    assert down_night.label == "Unavailable (503)"
    # Its group's words, not its state's "Failing, not yet confirmed" (h12).
    assert down_night.state_note == (
        "Flapping: unavailable (503, maintenance) on 6 of the last 14 nights"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (429, "asked us to slow down (429)"),
        (503, "said it was unavailable for now (503)"),
    ],
)
def test_a_single_rate_limit_on_a_working_link_is_watched_not_to_open(
    tmp_path: Path, status: int, said: str
) -> None:
    """One 429 (or 503 "come back later") on a working link: the CLI said "check by hand",
    the group "open these in a browser", the row "Nothing to do unless it keeps
    happening". All now say it is watched, nothing to do yet."""
    limited = make_observation(
        URL, Outcome.RATE_LIMITED, days(1), http_status=status, reason=f"GET {status}"
    )
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n, obs in enumerate([make_observation(URL, Outcome.OK, days(0)), limited]):
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            store.record_observations(engine, run_id, [obs], HEALTH, now=days(n))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
        ctx = build_context(report_data(engine), now=days(1.01))
        statuses = store.recheck_statuses(engine, ["toolkit"], rids=["site"])
        (line,) = verdict_lines(statuses, ["site"])
    (row,) = ctx.resources
    assert row.priority is Priority.LOOK
    assert row.fix == (
        f"Nothing to do unless it keeps happening: the site {said} at its last check only. "
        "It is watched, checked again next run."
    )
    assert row.state_note == "Watched: nothing to do unless it keeps happening"
    assert row.command is None
    (group,) = ctx.groups
    assert "“Watched” need nothing yet: the site turned us away at one check only" in (
        group.description
    )
    # The row's label: "Rate limited" for a 429, "Unavailable (503)" for a 503.
    assert row.label == ("Rate limited" if status == 429 else "Unavailable (503)")
    assert line.startswith(
        f"toolkit/site: {row.label}, watched: nothing to do unless it keeps happening"
    )
    assert "check by hand" not in line.lower()


def test_a_rate_limit_night_after_night_still_asks_to_open_it(tmp_path: Path) -> None:
    checks = [
        make_observation(URL, Outcome.OK, days(0)),
        *(make_observation(URL, Outcome.RATE_LIMITED, days(n)) for n in (1, 2)),
    ]
    row, _ = report_after(tmp_path, checks)
    assert row.state_note == "Check by hand"
    assert row.fix == "Open it in a browser; if it works, tell linkhealth to stop flagging it."
