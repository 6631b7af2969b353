"""`linkhealth status` before the first run: with no database yet it said only that (exit
3), so an operator who had just installed linkhealth and deployed the nights could not
tell from it whether the nightly would run. It now also says whether the Prefect API
answers and what keeps the nights from running, as it does once runs are stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.nightly_watch import NIGHTLY, Deployment, Nights, Schedule

UI = "http://127.0.0.1:4999"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
#: Deployed an hour ago: no night was due since, so none is missing.
JUST_DEPLOYED = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


def _nightly(*, paused: bool = False, ready: bool = True) -> Deployment:
    return Deployment(
        name=NIGHTLY,
        id="d-nightly",
        created=JUST_DEPLOYED,
        paused=paused,
        ready=ready,
        schedules=(Schedule(True, "0 2 * * *", "America/New_York"),),
        by_workers=False,
    )


@pytest.fixture
def api_up(monkeypatch: pytest.MonkeyPatch) -> list[Nights]:
    """A Prefect API that answers with the nights the test puts in the list (no server)."""
    import catalog.clock
    import flows.nightly_watch
    import flows.prefect_server

    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_API_URL", f"{UI}/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: True)
    monkeypatch.setattr(catalog.clock, "utcnow", lambda: NOW)
    nights: list[Nights] = []
    monkeypatch.setattr(flows.nightly_watch, "read_nights", lambda seen: nights[-1])
    return nights


def test_no_database_yet_still_says_what_prefect_will_run(
    isolated_cwd: Path, api_up: list[Nights]
) -> None:
    api_up.append(Nights(None, None))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 3  # as before: the database is not there
    assert result.stderr.startswith(f"error: no database at {isolated_cwd}/var/linkhealth.db;")
    assert result.stdout.splitlines() == [
        f"Prefect API {UI}/api: up",
        f"Prefect has no deployment {NIGHTLY}, so no night runs: run `PREFECT_API_URL={UI}/api "
        "prefect --no-prompt deploy --all` (workers) or start `linkhealth serve`.",
    ]
    # Deployed and served, but paused: said so; when all is well, nothing more.
    api_up.append(Nights(_nightly(paused=True), None))
    paused = CliRunner().invoke(app, ["status"]).stdout.splitlines()
    assert paused[1].startswith(f"Deployment {NIGHTLY} is paused")
    api_up.append(Nights(_nightly(), None))
    assert CliRunner().invoke(app, ["status"]).stdout == f"Prefect API {UI}/api: up\n"


def test_no_database_and_no_api_says_both(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # the discard port: nothing answers
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 3
    assert "no database at" in result.stderr
    assert result.stdout == "Prefect API http://127.0.0.1:9/api: not answering\n"


def test_a_database_that_cannot_be_opened_is_not_before_the_first_run(
    isolated_cwd: Path, api_up: list[Nights]
) -> None:
    """A folder where the file should be is an error as before, with no Prefect lines:
    only a database not there yet is a fresh install."""
    api_up.append(Nights(None, None))
    (isolated_cwd / "var" / "linkhealth.db").mkdir(parents=True)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 3
    assert "is a folder" in result.stderr
    assert result.stdout == ""


def test_no_database_where_nights_were_due_is_not_a_missing_night_for_sure(
    isolated_cwd: Path, api_up: list[Nights]
) -> None:
    """Status run from the wrong folder, or in a shell without the service's
    LINKHEALTH_DATABASE_URL, finds no database: the nights, deployed a week ago, run and
    record elsewhere. It said "is missing: no run was recorded since (last seen: never)",
    which sent the operator after nights that ran; now it says both readings."""
    from dataclasses import replace

    api_up.append(Nights(replace(_nightly(), created=datetime(2026, 11, 28, tzinfo=UTC)), None))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 3
    api, night = result.stdout.splitlines()
    assert api == f"Prefect API {UI}/api: up"
    db = isolated_cwd / "var" / "linkhealth.db"
    assert night.startswith(
        f"The night {NIGHTLY} scheduled for 2026-12-05 07:00 UTC is in no database here: "
        f"there is none at {db}, which a night run with these settings would have made. "
    )
    assert "no run was recorded" not in night
    assert "LINKHEALTH_DATABASE_URL" in night and f"{UI}/deployments/deployment/d-nightly" in night
