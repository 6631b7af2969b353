"""A site answering 503 "unavailable, come back later" night after night is a site in
maintenance, not one turning checkers away: its row says so, and offers no `ignore`.

The month's review: on its second 503 night a row advised `linkhealth ignore ... --reason
'works in a browser; answers automated checks 503'`, labelled "Rate limited", while a
flapping link's 503 night was "Unavailable (503)". Real walls (a 429 check after check, a
403 bot wall) keep their `ignore`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import WATCHED_UNAVAILABLE, build_context
from reports.context import Priority, ReportContext, Row
from reports.publish import publish_report, queue_head
from reports.render import render_markdown
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
    unavailable_observation,
)

URL = "https://site.example/resources"


def _nights(
    tmp_path: Path,
    answer: Callable[[int], Observation],
    last: int,
    health: HealthSettings = HealthSettings(),
) -> list[ReportContext]:
    """The report after each night's check, up to night `last`; night 0 works."""
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    out = []
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(last + 1):
            obs = make_observation(URL, Outcome.OK, days(n)) if n == 0 else answer(n)
            out.append(_night(engine, obs, n, health))
    return out


def _night(engine: Engine, obs: Observation, n: int, health: HealthSettings) -> ReportContext:
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    store.record_observations(engine, run_id, [obs], health, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return build_context(
        report_data(engine), now=days(n + 0.02), unavailable_days=health.unavailable_days
    )


def _row(ctx: ReportContext) -> Row:
    (row,) = ctx.resources
    return row


def _unavailable(n: int) -> Observation:
    return unavailable_observation(URL, days(n), wait=7200)


def test_a_site_in_maintenance_is_unavailable_with_nothing_to_do_until_it_lasts(
    tmp_path: Path,
) -> None:
    reports = _nights(tmp_path, _unavailable, 3)
    for n in (1, 2, 3):
        row = _row(reports[n])
        assert (row.priority, row.label) == (Priority.LOOK, "Unavailable (503)")
        assert row.command is None
        assert "ignore" not in render_markdown(reports[n])
    row = _row(reports[2])
    assert row.state_note == WATCHED_UNAVAILABLE
    assert row.fix == (
        "The site has said it is unavailable for now (503 Service Unavailable) at every check "
        "since 2025-03-02, as a site under maintenance does. Nothing to do unless it lasts: if "
        "it still does after 7 nights, it is listed as failing; open it in a browser then."
    )


def test_once_it_has_lasted_it_is_failing_and_to_open_in_a_browser(tmp_path: Path) -> None:
    """The nights named are the setting's (`unavailable_days`); then "Wait: it may recover
    by itself" after days of it is no advice: the fix is to look."""
    health = HealthSettings(unavailable_days=3)
    reports = _nights(tmp_path, _unavailable, 5, health)
    assert "after 3 nights" in (_row(reports[2]).fix or "")
    failing = next(r for r in map(_row, reports) if r.priority is Priority.FAILING)
    assert failing.label == "Unavailable (503)"
    assert failing.fix is not None and failing.fix.startswith(
        "The site has said it is unavailable (503 Service Unavailable) at every check since "
        "2025-03-02, 3 nights or more: longer than maintenance takes. Open it in a browser"
    )
    assert failing.command is None


def test_a_site_unavailable_until_confirmed_broken_says_so(tmp_path: Path) -> None:
    reports = _nights(tmp_path, _unavailable, 11)
    row = _row(reports[-1])
    assert (row.priority, row.label) == (Priority.BROKEN, "Unavailable (503)")
    assert row.fix is not None and "the latest: Unavailable (503))" in row.fix


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            lambda n: make_observation(URL, Outcome.RATE_LIMITED, days(n), http_status=429),
            "works in a browser; rate-limits automated checks",
            id="429",
        ),
        pytest.param(
            lambda n: make_observation(URL, Outcome.BLOCKED, days(n), http_status=403),
            "works in a browser; blocks automated checks",
            id="403-wall",
        ),
    ],
)
def test_walls_keep_their_ignore(
    tmp_path: Path, answer: Callable[[int], Observation], reason: str
) -> None:
    row = _row(_nights(tmp_path, answer, 3)[3])
    assert row.priority is Priority.LOOK
    assert row.command is not None and reason in row.command
    assert row.label != "Unavailable (503)"


def test_the_published_report_names_the_configured_nights(tmp_path: Path) -> None:
    """`linkhealth report` and the flow's queue read `[health] unavailable_days`."""
    kit = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, unavailable_days=3)
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(3):
            obs = make_observation(URL, Outcome.OK, days(0)) if n == 0 else _unavailable(n)
            _night(engine, obs, n, settings.health)
        main = publish_report(
            settings, formats=("md",), out_dir=tmp_path / "out", clock=lambda: days(2.02)
        )
        (head,) = queue_head(
            engine, now=days(2.02), limit=5, unavailable_days=settings.health.unavailable_days
        )
    assert "if it still does after 3 nights" in main.read_text(encoding="utf-8")
    assert head.fix is not None and "after 3 nights" in head.fix
