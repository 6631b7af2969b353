"""`linkhealth resource ID` of an entry removed from the catalog and put back (same id):
it says re-added, and when, as the report's pages do, not only when it was first added."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import entry_events
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from flows.cli import app
from reports.resource_text import resource_lines
from tests.factories import (
    database_url,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    without,
)

runner = CliRunner()
URL = "https://back.example/"
KIT = make_catalog("toolkit", [make_resource("back", URL), make_resource("stays")])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """ "back" added on day 0, removed on day 2, put back on day 5; checked in between."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        sync_catalogs(engine, [without(KIT, "back")], now=days(2))
        sync_catalogs(engine, [KIT], now=days(5))
        for night in range(6, 9):  # link events after it, as a busy link has many
            outcome = Outcome.OK if night % 2 else Outcome.NOT_FOUND
            obs = make_observation(URL, outcome, days(night))
            store.record_observations(engine, None, [obs], HealthSettings(), now=days(night))
        yield engine


def _resource(engine: Engine, *args: str) -> str:
    result = runner.invoke(app, ["resource", *args, "--db", database_url(engine)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_resource_says_a_put_back_entry_was_re_added_and_when(engine: Engine) -> None:
    lines = _resource(engine, "back").splitlines()

    facts = lines[: lines.index("")]
    (readded,) = [line for line in facts if line.lstrip().startswith("re-added:")]
    assert days(5).strftime("%Y-%m-%d %H:%M") in readded
    assert f"removed on {days(2).date()}" in readded
    assert f"first added {days(0).strftime('%Y-%m-%d %H:%M')}" in readded
    events = lines[lines.index("Events (newest first)") + 1 :]
    kinds = [line.split()[2] for line in events if line.startswith("  20")]
    assert kinds.count("re-added") == 1 and kinds.count("added") == 1
    assert kinds.index("re-added") < kinds.index("removed") < kinds.index("added")

    assert "re-added" not in _resource(engine, "stays")


def test_resource_json_says_when_a_put_back_entry_was_re_added(engine: Engine) -> None:
    back = json.loads(_resource(engine, "back", "--json"))["resource"]
    assert back["readded"] is True
    assert back["readded_at"].startswith(days(5).isoformat()[:16])
    assert back["last_removed_on"] == days(2).date().isoformat()
    assert back["created_at"].startswith(days(0).isoformat()[:16])  # its first addition

    stays = json.loads(_resource(engine, "stays", "--json"))["resource"]
    assert (stays["readded"], stays["readded_at"], stays["last_removed_on"]) == (
        False,
        None,
        None,
    )


def test_a_re_addition_older_than_the_history_shown_is_still_told(engine: Engine) -> None:
    """`--limit 2` shows its two newest checks and events, none of them catalog edits."""
    lines = _resource(engine, "back", "--limit", "2").splitlines()
    assert any(line.lstrip().startswith("re-added:") for line in lines)
    assert "removed " not in "\n".join(lines[lines.index("Events (newest first)") :])


def test_the_history_lines_come_from_the_entrys_own_events(engine: Engine) -> None:
    history = store.resource_history(engine, "back")
    edits = entry_events(engine, history.resource.id)
    assert [e.kind for e in edits] == ["added", "removed", "added"]
    lines = resource_lines(history, edits)
    assert sum(line.lstrip().startswith("re-added:") for line in lines) == 1
