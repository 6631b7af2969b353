"""`linkhealth resource ID` tells what the report tells of the resource: the new address
of a link that had moved for good before its old host lapsed, and since when a link
flapping all year has been flapping, or a page drifted before it began failing (the report's
row, `catalog.queries.resource_row`, worded by `reports.build.resource_report_row`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from catalog import store
from catalog.db import session_scope
from catalog.outcomes import Outcome
from catalog.queries import report_data, resource_row
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Link
from flows.cli import app
from reports import build_context
from reports.context import Priority, Row
from tests.factories import (
    database_url,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

runner = CliRunner()
OLD = "https://www.ncjrs.gov/pdffiles1/nij/grants/249672.pdf"
NEW = "https://www.ojp.gov/pdffiles1/nij/grants/249672.pdf"
FLAKY = "https://flaky.example/"


def _resource(engine: Engine, *args: str) -> str:
    result = runner.invoke(app, ["resource", *args, "--db", database_url(engine)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _check(engine: Engine, url: str, outcome: Outcome, at: datetime, **fields: object) -> None:
    obs = make_observation(url, outcome, at, **fields)
    store.record_observations(engine, None, [obs], HealthSettings(), now=at)


def _report_row(engine: Engine, rid: str) -> Row:
    now = datetime.now(UTC)
    rows = build_context(report_data(engine), now=now).rows
    (found,) = [r for r in rows if r.resource_id == rid]
    return found


def test_resource_offers_the_new_address_of_a_link_whose_old_host_lapsed(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=[make_resource("moved", OLD)])], now=days(0))
        _check(engine, OLD, Outcome.OK, days(1))
        for n in range(2, 6):
            _check(engine, OLD, Outcome.REDIRECTED_PERMANENT, days(n), final_url=NEW)
        _check(engine, OLD, Outcome.DNS_ERROR, days(6), http_status=None)
        report = _report_row(engine, "moved")
        assert report.suggested_url == NEW and report.command  # what the report offers

        lines = _resource(engine, "moved").splitlines()
        state = lines[lines.index("Current state") : lines.index("", lines.index("Current state"))]
        (fix,) = [line for line in state if line.lstrip().startswith("fix:")]
        assert f"It had moved for good to {NEW}" in fix
        (command,) = [line for line in state if line.lstrip().startswith("command:")]
        assert f"linkhealth replace-url moved {NEW}" in command

        data = json.loads(_resource(engine, "moved", "--json"))
        assert data["report"]["suggested_url"] == NEW
        assert data["report"]["fix"] == report.fix
        assert data["report"]["command"].startswith(f"linkhealth replace-url moved {NEW}")
        assert data["report"]["command_needs_input"] is False
        assert data["link"] is not None and "resource" in data  # the history's keys stay


def test_resource_says_a_link_flapping_all_year_flaps_since_a_year_ago(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(
            engine, [make_catalog(resources=[make_resource("flaky", FLAKY)])], now=days(0)
        )
        for n in range(366):  # down one night in five, last night among them
            _check(engine, FLAKY, Outcome.HTTP_ERROR if n % 5 == 0 else Outcome.OK, days(n))
        report = _report_row(engine, "flaky")
        assert report.flapping_since and report.since is not None
        assert report.checks > 300  # "Flapping since a year ago, 3xx checks"
        since = datetime.fromisoformat(report.since.iso)
        assert since < days(30)

        lines = _resource(engine, "flaky").splitlines()
        assert not any(line.lstrip().startswith("failing since") for line in lines)
        (flapping,) = [line for line in lines if line.lstrip().startswith("flapping since")]
        assert since.astimezone(UTC).strftime("%Y-%m-%d %H:%M") in flapping
        assert f"({report.checks} checks since then)" in flapping

        data = json.loads(_resource(engine, "flaky", "--json"))["report"]
        assert data["flapping_since"] is True
        assert data["since"] == report.since.iso and data["checks"] == report.checks


def test_resource_of_a_working_link_has_no_fix_and_a_removed_one_no_report(
    tmp_path: Path,
) -> None:
    kit = make_catalog(resources=[make_resource("fine", FLAKY), make_resource("gone", OLD)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        _check(engine, FLAKY, Outcome.OK, days(1))
        sync_catalogs(engine, [make_catalog(resources=[make_resource("fine", FLAKY)])], now=days(2))
        assert not any(
            line.lstrip().startswith(("fix:", "command:"))
            for line in _resource(engine, "fine").splitlines()
        )
        assert json.loads(_resource(engine, "fine", "--json"))["report"]["fix"] is None
        assert json.loads(_resource(engine, "gone", "--json"))["report"] is None


def test_the_row_of_one_resource_is_the_reports_row(tmp_path: Path) -> None:
    """`resource_row` reads the report's rules, not a copy of them: moved-to address,
    since and checks, deciders, all as `report_data` has them."""
    kit = make_catalog(resources=[make_resource("moved", OLD), make_resource("flaky", FLAKY)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(40):
            _check(engine, FLAKY, Outcome.HTTP_ERROR if n % 5 == 0 else Outcome.OK, days(n))
        _check(engine, OLD, Outcome.REDIRECTED_PERMANENT, days(1), final_url=NEW)
        _check(engine, OLD, Outcome.DNS_ERROR, days(2), http_status=None)
        for report in report_data(engine).resources:
            assert resource_row(engine, report.pk) == report


def test_resource_dates_a_drifted_page_now_failing_from_the_drift_as_the_report_does(
    tmp_path: Path,
) -> None:
    """A page that stopped matching its entry and then began failing is one problem to the
    report, dated from the drift (`PROBLEM_START`) with the checks since then; `resource`
    said "failing since" last night beside it: two dates for one problem."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(
            engine, [make_catalog(resources=[make_resource("parked", FLAKY)])], now=days(0)
        )
        for n in range(1, 6):
            _check(engine, FLAKY, Outcome.OK, days(n))
        with session_scope(engine) as s:
            link = s.scalars(select(Link).where(Link.url == FLAKY)).one()
            link.drift_reason, link.drift_since = "the domain is parked", days(3.5)
        _check(engine, FLAKY, Outcome.NOT_FOUND, days(6))
        report = _report_row(engine, "parked")
        assert report.priority is Priority.DRIFT and report.since is not None
        since = datetime.fromisoformat(report.since.iso)
        assert since == days(3.5) and report.checks == 3

        lines = _resource(engine, "parked").splitlines()
        assert not any(line.lstrip().startswith("failing since") for line in lines)
        (drifted,) = [line for line in lines if line.lstrip().startswith("drifted since")]
        assert drifted.strip() == f"drifted since {_minute(since)} (3 checks since then)"
        # The state says it fails, not yet confirmed; the drift's own line, the same date.
        assert any("Not found (404), failing, not yet confirmed" in line for line in lines)
        assert any(line.strip().endswith(f"(since {_minute(since)})") for line in lines)

        data = json.loads(_resource(engine, "parked", "--json"))["report"]
        assert data["since"] == report.since.iso and data["flapping_since"] is False


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def test_resource_of_a_flapping_link_whose_page_drifted_dates_it_from_the_drift(
    tmp_path: Path,
) -> None:
    """The report dates a drifted page's problem from the drift even while its link flaps
    (`PROBLEM_START` takes drift first): `resource` called that date "flapping since"."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(
            engine, [make_catalog(resources=[make_resource("parked", FLAKY)])], now=days(0)
        )
        for n in range(1, 9):
            _check(engine, FLAKY, Outcome.HTTP_ERROR if n % 2 else Outcome.OK, days(n))
        with session_scope(engine) as s:
            link = s.scalars(select(Link).where(Link.url == FLAKY)).one()
            assert link.flapping
            link.drift_reason, link.drift_since = "the domain is parked", days(7.5)
        _check(engine, FLAKY, Outcome.HTTP_ERROR, days(9))
        report = _report_row(engine, "parked")
        assert report.priority is Priority.DRIFT and report.since is not None
        since = datetime.fromisoformat(report.since.iso)
        assert since == days(7.5)

        lines = [line.strip() for line in _resource(engine, "parked").splitlines()]
        assert not any(line.startswith(("flapping since", "failing since")) for line in lines)
        assert f"drifted since {_minute(since)} (2 checks since then)" in lines
        data = json.loads(_resource(engine, "parked", "--json"))["report"]
        assert data["since"] == report.since.iso and data["flapping_since"] is False
