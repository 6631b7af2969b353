"""A flapping link's 503 nights ("unavailable (503, maintenance) on 5 of the last 14
nights") as reports read them: from the nights the link keeps (`links.unavailable_nights`,
kept by `catalog.health` as its checks are stored), not from its observations.

The report looked them up in the observations at every read, which reports never do
(`tests.test_problem_checks`), and found none once `db prune` had deleted their rows: a
site flagged flapping for its maintenance nights read "keeps switching between working and
failing" again after a prune kept a day.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from catalog import queries, store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import ResourceRow, report_data
from catalog.retention import prune_observations
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context, resource_report_row
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database
from tests.test_x1_unavailable_nights import HEALTH, URL, unavailable

KIT = make_catalog("toolkit", [make_resource("site", URL, title="Survivor resources")])


def every_other_night(n: int) -> Observation:
    """503 "unavailable" on odd nights, 200 on even ones: flagged flapping on night 10."""
    return unavailable(days(n)) if n % 2 else make_observation(URL, Outcome.OK, days(n))


def _nights(
    engine: Engine,
    last: int,
    answer: Callable[[int], Observation] = every_other_night,
    health: HealthSettings = HEALTH,
    rechecked: float | None = None,
) -> None:
    """A run a night up to `last`, and a curator's recheck (503 again) at `rechecked`."""
    sync_catalogs(engine, [KIT], now=days(0))
    for n in range(last + 1):
        if rechecked is not None and n - 1 < rechecked < n:
            again = unavailable(days(rechecked))
            store.record_observations(engine, None, [again], health, now=days(rechecked))
        run_id = store.start_run(engine, trigger="schedule", now=days(n))
        store.record_observations(engine, run_id, [answer(n)], health, now=days(n))
        store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))


def _rows(engine: Engine, now: Any) -> tuple[ResourceRow, str | None, str | None]:
    """The link's row, and its fix as the report and `linkhealth resource` say it."""
    (row,) = report_data(engine).resources
    (shown,) = build_context(report_data(engine), now=now).resources
    single = queries.resource_row(engine, row.pk)
    assert single is not None
    return row, shown.fix, resource_report_row(single, now=now).fix


def test_a_pruned_database_still_says_a_flapping_links_503_nights(tmp_path: Path) -> None:
    """Flagged on night 10 for its 503 nights; `db prune` keeping a day deletes the rows
    of nights 1 to 9: its row still says the five nights it was flagged for."""
    words = "The site said it was unavailable (503, maintenance) on 5 of the last 14 nights"
    with temporary_database(tmp_path) as engine:
        _nights(engine, last=10)
        prune_observations(engine, 1, now=days(10.02), vacuum=False)
        row, fix, shown = _rows(engine, days(10.02))
    assert row.flapping and row.unavailable_nights == 5, row
    assert fix is not None and fix.startswith(words), fix
    assert shown == fix


def test_a_recheck_the_same_day_is_no_other_night_of_503(tmp_path: Path) -> None:
    """The site answered 503 at night 9's run and again at a curator's recheck that
    afternoon: one night, as the link keeps it (one a night, however often it is
    rechecked). Counted by days back from the next night's check, the recheck was a
    night of its own: "on 6 of the last 14 nights" of five."""
    with temporary_database(tmp_path) as engine:
        _nights(engine, last=10, rechecked=9.6)
        row, fix, shown = _rows(engine, days(10.02))
    assert row.flapping and row.unavailable_nights == 5, row
    assert fix is not None and "on 5 of the last 14 nights" in fix, fix
    assert shown == fix


def test_the_report_reads_a_flapping_links_503_nights_without_its_observations(
    tmp_path: Path,
) -> None:
    """No statement of the report looks for 503 answers among the observations."""
    looked: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM observations" in statement and "http_status" in statement.split("WHERE")[-1]:
            looked.append(statement)

    with temporary_database(tmp_path) as engine:
        _nights(engine, last=11)
        event.listen(engine, "before_cursor_execute", seen)
        try:
            row, fix, shown = _rows(engine, days(11.02))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert not looked, looked
    assert row.unavailable_nights == 6, row
    assert fix is not None and "on 6 of the last 14 nights" in fix, fix
    assert shown == fix


def test_a_longer_flap_window_still_counts_the_last_14_nights(tmp_path: Path) -> None:
    """A link keeps its 503 nights over its flap window (`flap_window_days`): of a 28-night
    window, the words still count the last 14 nights' (7 of 14), not 14 "of the last 14"."""
    health = HealthSettings(flap_window_days=28)
    with temporary_database(tmp_path) as engine:
        _nights(engine, last=30, health=health)
        (link,) = store.link_states(engine)
        row, fix, _ = _rows(engine, days(30.02))
    assert len(link.unavailable_nights) == 14  # nights 3 to 29, kept over the window
    assert row.flapping and row.unavailable_nights == 7, row
    assert fix is not None and "on 7 of the last 14 nights" in fix, fix


def test_a_shorter_flap_window_still_counts_the_last_14_nights(tmp_path: Path) -> None:
    """A flap window of 8 nights (`flap_window_days`) judges flapping over 8, but the words
    say "of the last 14 nights": the link keeps those 14 (7 of them, every other night),
    not the 4 of its window, which read as a site down half as often as it was."""
    health = HealthSettings(flap_window_days=8)
    with temporary_database(tmp_path) as engine:
        _nights(engine, last=20, health=health)
        row, fix, shown = _rows(engine, days(20.02))
    assert row.flapping and row.unavailable_nights == 7, row
    assert fix is not None and "on 7 of the last 14 nights" in fix, fix
    assert shown == fix
