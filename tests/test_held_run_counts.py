"""A run's counts of its links held (tries not sent, their host away or silent:
`Observation.held`) as the report, `linkhealth status` and the batch log say them.

A held try is stored with its host's answer to other URLs (rate limited 503, or a timeout
for a silent host), and the run's `counts` hold it under that outcome: the check summary
says so ("Not sent: 3 of these URLs"). The report's run facts said "URLs checked 5" of a
run that checked two, and its trend drew the night's held links as checks: "links OK went
from 100% to 40%", a silent host's links "Failing", though every one worked when last
checked and keeps its state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine, event

from catalog import runs, store
from catalog.model import Observation
from catalog.ops import CheckedBatch, batch_stats, run_lines
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context, render_html, render_markdown
from reports.context import ReportContext
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)
from tests.test_report_run_counts import said_in
from tests.test_u4_held_rotation import held_at
from tests.test_w1_silent_host_final import silent_held_at

ASKED = [f"https://open.example/{n}" for n in range(2)]
AWAY = [f"https://away.example/{n}" for n in range(2)]  # held: said it was away (503)
SILENT = "https://silent.example/0"  # held: answered none of its last links
URLS = [*ASKED, *AWAY, SILENT]
HEALTH = HealthSettings()


def _held_night() -> list[Observation]:
    """Night 1: two links checked, three held."""
    return [
        *(make_observation(u, checked_at=days(1)) for u in ASKED),
        *(held_at(u, 1) for u in AWAY),
        silent_held_at(SILENT, 1),
    ]


def _run(engine: Engine, n: int, observations: list[Observation]) -> int:
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    store.set_run_planned(engine, run_id, len(URLS))
    store.record_observations(engine, run_id, observations, HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return run_id


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Night 0: every link checked and working; night 1: `_held_night`."""
    kit = make_catalog("toolkit", [make_resource(f"r{n}", u) for n, u in enumerate(URLS)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _run(engine, 0, [make_observation(u, checked_at=days(0)) for u in URLS])
        _run(engine, 1, _held_night())
        yield engine


def _context(engine: Engine) -> ReportContext:
    return build_context(report_data(engine), now=days(1.1))


def test_the_reports_run_facts_count_held_links_apart_from_those_checked(
    engine: Engine,
) -> None:
    fact, line = said_in(_context(engine))
    said = (
        "(2 not sent: their host said it was away; 1 not sent: its host had not answered its "
        "last links)"
    )
    assert fact == f"2 of 5 {said}", fact
    assert line.endswith(f"; 2 of 5 URLs checked {said}."), line


def test_the_trend_counts_no_held_link_as_checked_failing_or_needing_a_look(
    engine: Engine,
) -> None:
    """The night's point is of its two checks: both OK, none failing; held ones are no
    check, as the report's rows and pages say."""
    trend = _context(engine).trend
    assert trend is not None
    last = trend.points[-1]
    assert (last.checked, last.ok, last.broken, last.attention) == (2, 2, 0, 0), last
    assert "links OK stayed at 100%" in trend.description, trend.description


def test_status_says_how_many_of_a_runs_urls_were_not_sent(engine: Engine) -> None:
    newest, oldest = run_lines(store.latest_runs(engine))
    assert newest.endswith("5/5 URLs: 2 ok, 2 rate_limited, 1 timeout (3 not sent)"), newest
    assert "not sent" not in oldest, oldest


def test_a_batch_logs_no_held_link_as_a_failure(tmp_path: Path) -> None:
    """The batch log's "N failures": a silent host's held links are stored as `timeout`,
    but none of them was asked."""
    kit = make_catalog("toolkit", [make_resource(f"r{n}", u) for n, u in enumerate(URLS)])
    observations = tuple(_held_night())
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        stored = runs.store_batch(settings, run_id, list(observations), clock=Ticker(days(1)))
    batch = CheckedBatch(0, observations, seconds=1.0)
    assert batch_stats(batch).failures == 0
    assert batch_stats(batch, stored.counts).failures == 0


@pytest.mark.parametrize(
    ("tried", "said"),
    [
        ([silent_held_at(SILENT, 2)], "(1 not sent: its host had not answered its last links)"),
        ([held_at(AWAY[0], 2)], "(1 not sent: its host said it was away)"),
    ],
)
def test_the_run_facts_say_why_a_link_was_not_sent_in_the_reports_words(
    engine: Engine, tried: list[Observation], said: str
) -> None:
    """The report tells a curator why a link was not asked as its rows do ("not asked
    since: its host said it was away", "did not answer"): "their host held" was a word of
    ours, and said nothing of a host that had stopped answering."""
    asked = [make_observation(u, checked_at=days(2)) for u in ASKED]
    _run(engine, 2, [*asked, *tried])
    html, markdown = said_in(build_context(report_data(engine), now=days(2.1)))
    assert html == f"2 of 5 {said}", html
    assert markdown.endswith(f"; 2 of 5 URLs checked {said}."), markdown
    assert "held" not in html + markdown


def _trend_cells(ctx: ReportContext) -> dict[str, str]:
    """The trend table's "Checked" cell by run, in HTML, which the Markdown's table says too."""
    cells = {}
    for row in LexborHTMLParser(render_html(ctx)).css("#trend-table tbody tr"):
        run, checked = row.css_first("th"), row.css_first("td[data-label=Checked]")
        assert run is not None and checked is not None
        cells[run.text(strip=True)] = checked.text(strip=True)
    lines = render_markdown(ctx).splitlines()
    start = lines.index("| Run | Date | Checked | OK | Failing | Needs a look |") + 2
    rows = [[p.strip() for p in ln.strip("|").split("|")] for ln in lines[start:] if ln]
    rows = rows[: next((i for i, r in enumerate(rows) if len(r) != 6), len(rows))]
    assert {f"Run {r[0]}": r[2] for r in rows} == cells, rows
    return cells


def test_the_trend_table_says_how_many_of_a_nights_links_were_not_sent(engine: Engine) -> None:
    """Held tries are no checks of the night's point: its "Checked" fell from 5 to 2, and
    to 0 on a night every host was held, with no word of why (as "(network down)" says
    of an offline night)."""
    _run(engine, 2, [*(held_at(u, 2) for u in [*ASKED, *AWAY]), silent_held_at(SILENT, 2)])
    ctx = build_context(report_data(engine), now=days(2.1))
    assert _trend_cells(ctx) == {"Run 1": "5", "Run 2": "2 (3 not sent)", "Run 3": "0 (5 not sent)"}
    assert ctx.trend is not None
    assert [p.unsent for p in ctx.trend.points] == [0, 3, 5]


def test_a_sharded_nights_run_facts_and_trend_count_every_shards_unsent_links(
    tmp_path: Path,
) -> None:
    """Each shard run keeps its own tries not sent; the night, one run to a curator, adds
    them up."""
    kit = make_catalog("toolkit", [make_resource(f"r{n}", u) for n, u in enumerate(URLS)])
    parts = {"1/2": [ASKED[0], AWAY[0], SILENT], "2/2": [ASKED[1], AWAY[1]]}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _run(engine, 0, [make_observation(u, checked_at=days(0)) for u in URLS])
        tried = {o.url: o for o in _held_night()}
        flows = {}
        for part, urls in parts.items():
            flows[part] = f"flow-{part}"
            run_id = store.start_run(
                engine,
                trigger="schedule",
                now=days(1),
                flow_run_id=flows[part],
                summary={"lease": f"full-run:{part}", "shard": part},
            )
            store.set_run_planned(engine, run_id, len(urls))
            store.record_observations(engine, run_id, [tried[u] for u in urls], HEALTH, now=days(1))
            store.finish_run(engine, run_id, status="completed", now=days(1.01))
        store.group_shard_runs(engine, list(flows.values()), "night-1")
        ctx = _context(engine)
    html, _ = said_in(ctx)
    assert html.startswith("2 of 5 (2 not sent: their host said it was away; 1 not sent"), html
    assert ctx.run is not None and (ctx.run.urls_checked, ctx.run.urls_unsent) == (2, 3)
    assert ctx.trend is not None
    last = ctx.trend.points[-1]
    assert (last.checked, last.ok, last.broken, last.attention, last.unsent) == (2, 2, 0, 0, 3)


def test_status_says_how_many_of_a_running_runs_urls_were_not_sent(tmp_path: Path) -> None:
    """A run still running lists the outcomes of the batches it stored so far: its held
    tries among them ("2 rate_limited") read as links asked, as a closed run's did."""
    kit = make_catalog("toolkit", [make_resource(f"r{n}", u) for n, u in enumerate(URLS)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        store.set_run_planned(engine, run_id, len(URLS))
        store.record_observations(engine, run_id, _held_night(), HEALTH, now=days(1))
        (line,) = run_lines(store.latest_runs(engine))
    assert line.endswith("5/5 URLs: 2 ok, 2 rate_limited, 1 timeout (3 not sent)"), line


def test_the_report_reads_a_runs_unsent_links_without_counting_observations(
    engine: Engine,
) -> None:
    """The run keeps its held counts as it closes: the report counts no run's or link's
    observations to say them (`tests.test_problem_checks`), the trend's 90 nights of a
    100,000-link catalog least of all."""
    counting: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM observations" in statement and "count(" in statement.lower():
            counting.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        ctx = _context(engine)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not counting, counting
    assert ctx.run is not None and ctx.run.urls_unsent == 3
