"""What the Prefect UI shows a curator after a run: the action-queue table in the report's
words, with what to do, and a report artifact that opens (or says how to open it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog.errors import ConfigError
from catalog.health import STATE_LABELS
from catalog.ops import queue_table, report_artifact
from catalog.queries import report_data
from catalog.settings import Settings, load_settings
from reports import ReportContext, build_context, render_markdown
from reports.build import CONFIRMED_ELSEWHERE
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
    # Confirmed broken, filed under "Page missing (soft 404)": not "Confirmed broken".
    assert by_id["a-hostile"]["state"] == CONFIRMED_ELSEWHERE
    assert all(
        t["state"] in ("", *STATE_LABELS.values(), CONFIRMED_ELSEWHERE) or "lapping" in t["state"]
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


# --- the report artifact --------------------------------------------------------------------


def _settings(tmp_path: Path, reports_url: str = "") -> Settings:
    return Settings(reports_dir=tmp_path / "var" / "reports", reports_url=reports_url)


def test_a_published_report_is_linked_at_its_web_address(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "https://intranet.example.org/linkhealth")
    report = settings.reports_dir / "latest.html"
    assert report_artifact(report, settings).url == (
        "https://intranet.example.org/linkhealth/latest.html"
    )
    # A run overtaken by a later one writes run-<id>.html; the address follows the file.
    older = report_artifact(settings.reports_dir / "run 7.html", settings)
    assert older.url == "https://intranet.example.org/linkhealth/run%207.html"


def test_an_unpublished_report_says_where_it_is_and_how_to_open_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    report = settings.reports_dir / "latest.html"
    shown = report_artifact(report, settings, host="worker-1", platform="linux")
    assert shown.url is None
    assert "file://" not in shown.markdown
    assert "`worker-1`" in shown.markdown
    assert f"xdg-open {report.resolve()}\n" in shown.markdown
    assert f"scp -r worker-1:{settings.reports_dir.resolve()} .\n" in shown.markdown
    assert "reports_url" in shown.markdown  # how to get a link instead


def test_a_report_written_beside_the_published_folder_is_not_linked_there(
    tmp_path: Path,
) -> None:
    # reports_dir held another database's reports: this one went to reports-trial/,
    # which the web server does not publish.
    settings = _settings(tmp_path, "https://intranet.example.org/linkhealth/")
    beside = settings.reports_dir.parent / "reports-trial" / "latest.html"
    shown = report_artifact(beside, settings, host="worker-1")
    assert shown.url is None
    assert str(beside.resolve()) in shown.markdown


def test_reports_url_is_read_from_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "linkhealth.toml"
    config.write_text('reports_url = "https://intranet.example.org/linkhealth/"\n')
    assert load_settings(config).reports_url == "https://intranet.example.org/linkhealth/"
    config.write_text('reports_dir = "r"\nreports_url = "/srv/www/linkhealth"\n')
    with pytest.raises(ConfigError, match="reports_url must be an http or https address") as e:
        load_settings(config)
    assert f"{config}:2:" in str(e.value)  # the line, as every settings error says it


def test_the_report_address_keeps_a_folder_of_its_own(tmp_path: Path) -> None:
    # "https://host/linkhealth" + "latest.html" is the folder's file, not a sibling of it.
    settings = dataclasses.replace(_settings(tmp_path), reports_url="https://h.example/lh")
    shown = report_artifact(settings.reports_dir / "latest.html", settings)
    assert shown.url == "https://h.example/lh/latest.html"
