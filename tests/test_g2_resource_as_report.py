"""`linkhealth resource ID` says what the report says of the entry: the advice of an old
entry of a site (no newer edition to look for), and an accepted redirect's new address
reached by the last check (not "never checked")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from flows.cli import app
from reports import build_context
from reports.context import Row
from tests.factories import (
    database_url,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

runner = CliRunner()
PORTAL = "https://demand-forum.example/"
OLD, NEW = "https://agency.example/old-guide", "https://agency.example/guides/new"


def _resource(engine: Engine, *args: str) -> str:
    result = runner.invoke(app, ["resource", *args, "--db", database_url(engine)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _report_row(engine: Engine, rid: str, now: datetime) -> Row:
    (found,) = [
        r for r in build_context(report_data(engine), now=now).resources if r.resource_id == rid
    ]
    return found


def _state(lines: list[str]) -> list[str]:
    start = lines.index("Current state")
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return [line.strip() for line in lines[start + 1 : end]]


def test_resource_gives_an_old_site_entry_the_reports_advice(tmp_path: Path) -> None:
    """DemandForum, a web portal whose entry names 2010: the report said "open the site and
    check that the entry still describes it", `resource` "look for a newer edition and
    link it", which a site does not have."""
    kinds = {"portal": "web portal", "guide": "report"}
    kit = [
        make_resource(rid, f"{PORTAL}{rid}", type=kind, year=2010) for rid, kind in kinds.items()
    ]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=kit)], now=days(0))
        for rid in kinds:
            obs = make_observation(f"{PORTAL}{rid}", Outcome.OK, days(1))
            store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
        for rid, kind in kinds.items():
            row = _report_row(engine, rid, days(1.1))
            assert row.stale_codes == ("dated",)
            (stale,) = [
                line
                for line in _state(_resource(engine, rid).splitlines())
                if line.startswith("stale (dated):")
            ]
            assert stale == f"stale (dated): {row.stale_reasons[0]}"
            editions = kind == "report"
            assert ("look for a newer edition" in stale) is editions
            assert ("open the site and check" in stale) is not editions
            (note,) = json.loads(_resource(engine, rid, "--json"))["resource"]["stale"]
            assert note["reason"] == row.stale_reasons[0]


def test_resource_after_accept_redirect_says_the_new_address_was_reached(
    tmp_path: Path,
) -> None:
    """Right after `accept-redirect` the report said "Not checked at its new address yet;
    reached as the redirect target on DATE: OK (200)", and `resource` "never checked"."""
    with temporary_database(tmp_path) as engine:
        kit = [make_resource("moved", OLD, title="Guide")]
        sync_catalogs(engine, [make_catalog(resources=kit)], now=days(0))
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), final_url=NEW)
        store.record_observations(engine, run_id, [obs], HealthSettings(), now=days(1))
        store.finish_run(engine, run_id, status="completed", now=days(1.01))
        kit = [make_resource("moved", NEW, title="Guide")]
        sync_catalogs(engine, [make_catalog(resources=kit)], now=days(1.2))
        row = _report_row(engine, "moved", days(1.3))
        assert row.seen.startswith("Not checked at its new address yet")

        state = _state(_resource(engine, "moved").splitlines())
        assert "never checked" not in state
        assert state[0] == (
            "not checked at its new address yet; reached as the redirect target on "
            f"{days(1).astimezone(UTC):%Y-%m-%d %H:%M}: OK (200)"
        )


def test_resource_of_an_address_not_reached_is_never_checked(tmp_path: Path) -> None:
    """A URL edited to an address the last check did not reach has not been fetched."""
    with temporary_database(tmp_path) as engine:
        kit = [make_resource("moved", OLD, title="Guide")]
        sync_catalogs(engine, [make_catalog(resources=kit)], now=days(0))
        obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), final_url=NEW)
        store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
        kit = [make_resource("moved", f"{NEW}-elsewhere", title="Guide")]
        sync_catalogs(engine, [make_catalog(resources=kit)], now=days(1.2))
        assert _state(_resource(engine, "moved").splitlines())[0] == "never checked"
