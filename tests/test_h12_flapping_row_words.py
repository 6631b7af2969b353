"""A link filed as flapping says so, and only so: its state's "Failing, not yet confirmed"
beside "Check by hand (5)" read as more failing links than the group of two the queue's
button counts. Its fix says plainly that there is no command to run, and `linkhealth
resource` and a recheck's verdict say the row's words."""

from __future__ import annotations

from pathlib import Path

from selectolax.lexbor import LexborHTMLParser
from typer.testing import CliRunner

from catalog import store
from catalog.health import BROKEN, FLAPPING_WORDS, SUSPECT, state_line
from catalog.ops import verdict_lines
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from flows.cli import app
from reports import Priority, build_context, render_html
from tests import report_fixtures as fx
from tests.factories import (
    database_url,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

FAILING = "Failing, not yet confirmed"
FLAKY = "https://flaky.example/"


def test_state_line_of_a_flapping_link_says_flapping_in_place_of_its_state() -> None:
    line = state_line(Outcome.TIMEOUT, SUSPECT, flapping=FLAPPING_WORDS)
    assert line == f"Timed out, {FLAPPING_WORDS}"
    # A confirmed break keeps its state: the report files it under "Confirmed broken".
    broken = state_line(Outcome.TIMEOUT, BROKEN, flapping=FLAPPING_WORDS)
    assert broken == "Timed out, confirmed broken"


def test_a_failing_flapping_row_under_check_by_hand_does_not_say_failing(
    tmp_path: Path,
) -> None:
    engine = fx.fixed_db(tmp_path / "flap.db")
    data = fx.with_resource(report_data(engine), "a-suspect", flapping=True)
    ctx = build_context(data, now=fx.NOW)
    row = fx.row_of(ctx, "a-suspect")
    assert (row.priority, row.state) == (Priority.LOOK, SUSPECT)
    assert row.state_note == "Flapping: keeps switching between working and failing"
    assert row.command is None
    assert row.fix is not None and "There is nothing to run" in row.fix

    page = LexborHTMLParser(render_html(ctx))
    (queued,) = page.css('#queue-look tr[data-resource-id="a-suspect"]')
    assert FAILING not in queued.text() and "flapping" in queued.text()
    # No more rows say "Failing, not yet confirmed" than its group (and its button) count.
    said = [
        tr for tr in page.css('tbody[id^="queue-"] tr[data-resource-id]') if FAILING in tr.text()
    ]
    assert len(said) == sum(len(g.rows) for g in ctx.groups if g.priority is Priority.FAILING)


def test_resource_says_the_rows_flapping_words_and_no_command(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(
            engine, [make_catalog(resources=[make_resource("flaky", FLAKY)])], now=days(0)
        )
        for n in range(41):  # down one night in five, last night among them
            outcome = Outcome.TIMEOUT if n % 5 == 0 else Outcome.OK
            obs = make_observation(FLAKY, outcome, days(n))
            store.record_observations(engine, None, [obs], HealthSettings(), now=days(n))
        # Written just after the last night checked (days(40)): the clock's own day drifts.
        rows = build_context(report_data(engine), now=days(40.1)).rows
        (row,) = [r for r in rows if r.resource_id == "flaky"]
        assert (row.priority, row.state) == (Priority.LOOK, SUSPECT)

        result = CliRunner().invoke(app, ["resource", "flaky", "--db", database_url(engine)])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        state = lines[lines.index("Current state") + 1]
        assert state.lstrip().startswith(f"Timed out, {FLAPPING_WORDS} (last checked")
        assert "not yet confirmed" not in result.stdout
        (fix,) = [line for line in lines if line.lstrip().startswith("fix:")]
        assert "There is nothing to run" in fix
        assert not any(line.lstrip().startswith("command:") for line in lines)

        # A recheck's verdict says it in the row's words too: "failing, not yet confirmed"
        # beside a row under "Check by hand".
        (verdict,) = verdict_lines(store.recheck_statuses(engine, None, rids=["flaky"]), ["flaky"])
        assert verdict.startswith(f"toolkit/flaky: Timed out, {FLAPPING_WORDS}"), verdict
        assert "not yet confirmed" not in verdict
