"""What the Prefect UI shows a curator after a run: the action-queue table in the report's
words, with what to do."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from catalog.health import STATE_LABELS
from catalog.ops import queue_table
from catalog.queries import report_data
from reports import ReportContext, build_context, render_markdown
from reports.publish import queue_head
from reports.render import md_code, md_escape
from tests import report_fixtures as fx


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return fx.fixed_db(tmp_path_factory.mktemp("artifacts") / "fixed.db")


@pytest.fixture(scope="module")
def ctx(engine: Engine) -> ReportContext:
    return build_context(report_data(engine), now=fx.NOW)


def _markdown_line(markdown: str, rid: str) -> str:
    (line,) = (line for line in markdown.splitlines() if f"({rid}, " in line)
    return line


def test_the_queue_table_says_what_each_report_row_says(ctx: ReportContext) -> None:
    table = queue_table(ctx.rows)
    markdown = render_markdown(ctx)
    assert [t["resource"].split("/")[1] for t in table] == list(fx.EXPECTED_ATTENTION)
    for cells in table:
        line = _markdown_line(markdown, cells["resource"].split("/")[1])
        verdict, state = md_escape(cells["verdict"]), md_escape(cells["state"])
        assert f"**{verdict}** ({state})" in line if state else f"**{verdict}**" in line
        # The report's "What to do" cell: the fix, and the command that applies it.
        assert cells["fix"] and md_escape(cells["fix"]) in line
        if cells["command"]:
            assert md_code(cells["command"]) in line
    assert {t["group"] for t in table} == {r.priority.heading for r in ctx.rows if r.priority}


def test_the_queue_table_shows_no_stored_state_name(ctx: ReportContext) -> None:
    by_id = {t["resource"].split("/")[1]: t for t in queue_table(ctx.rows)}
    # Stored as "suspect" and "check_by_hand": the report says these words.
    assert by_id["a-suspect"]["state"] == "Failing, not yet confirmed"
    assert by_id["b-blocked"]["state"] == "Check by hand"
    assert all(
        t["state"] in ("", *STATE_LABELS.values()) or "lapping" in t["state"]
        for t in by_id.values()
    )
    # A link that works needs no state beside "Moved permanently" (the report gives none).
    assert by_id["a-moved"]["state"] == ""


def test_the_queue_tables_fix_names_the_command_and_the_step(ctx: ReportContext) -> None:
    by_id = {t["resource"].split("/")[1]: t for t in queue_table(ctx.rows)}
    assert by_id["a-moved"]["command"] == "linkhealth accept-redirect a-moved"
    assert fx.MOVED_TO in by_id["a-moved"]["fix"]
    assert by_id["a-broken"]["command"] == "linkhealth replace-url a-broken NEW_URL"
    assert "NEW_URL" in by_id["a-broken"]["fix"]
    # No command to run: the step is still said.
    assert by_id["a-suspect"]["command"] == "" and by_id["a-suspect"]["fix"]


def test_the_queue_tables_commands_reach_the_runs_database(engine: Engine) -> None:
    # A run on another database than ./linkhealth.toml names: pasted, the command must
    # decide there, as the report's commands do.
    options = ("--db", "sqlite:////srv/trial.db")
    rows = queue_head(engine, now=fx.NOW, limit=10, options=options)
    commands = [t["command"] for t in queue_table(rows) if t["command"]]
    assert commands and all("--db sqlite:////srv/trial.db" in c for c in commands)
