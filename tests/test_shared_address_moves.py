"""Entries sharing one address (`duplicate_of`): moving one off it names the others, with
the commands that move them too, and its report and recheck know the siblings."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import decisions, store
from catalog.ops import shared_url_lines
from catalog.outcomes import Outcome
from catalog.queries import MovedSibling, report_data
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from reports import build_context, render_markdown
from reports.context import Row
from tests.factories import (
    T0,
    Ticker,
    database_url,
    days,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)

OLD = "https://example.org/blue-campaign/infographic"
NEW = "https://example.org/blue-campaign/infographic-2"
runner = CliRunner()


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "toolkit.yaml",
        [
            {"id": "main", "title": "Infographic", "url": OLD},
            {"id": "types", "title": "Types panel", "url": OLD, "duplicate_of": "main"},
            {"id": "stop", "title": "Stop panel", "url": OLD, "duplicate_of": "main"},
            {"id": "other", "title": "Other", "url": "https://example.org/other"},
        ],
    )


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        yield engine


@pytest.fixture
def settings(engine: Engine, catalog_file: Path) -> Settings:
    return settings_for(engine, [catalog_file])


# --- replace-url names the entries left on the old address -----------------------------------


def test_moving_one_entry_off_a_shared_address_names_the_others_and_how_to_move_them(
    settings: Settings, catalog_file: Path
) -> None:
    """`replace-url main NEW` said nothing of types and stop, still on the old address: the
    report went on asking "find where it moved" of them, and only `catalog lint` hinted."""
    dry = decisions.replace_url(settings, "main", NEW, dry_run=True)
    assert "toolkit/stop, toolkit/types would still use the old URL" in dry.message
    result = decisions.replace_url(settings, "main", NEW, clock=Ticker(days(1)))
    assert f"toolkit/stop, toolkit/types still use the old URL {OLD}" in result.message
    assert [shlex.split(c)[:4] for c in result.follow_up] == [
        ["linkhealth", "replace-url", "stop", NEW],
        ["linkhealth", "replace-url", "types", NEW],
    ]
    assert result.follow_up == dry.follow_up
    said = [  # as pasted: each moves its entry, the last one leaves nobody behind
        decisions.replace_url(settings, shlex.split(c)[2], NEW, clock=Ticker(days(1))).follow_up
        for c in result.follow_up
    ]
    assert [len(s) for s in said] == [1, 0]
    assert catalog_file.read_text(encoding="utf-8").count(f"url: {NEW}") == 3
    last = decisions.replace_url(settings, "other", NEW, dry_run=True)
    assert "old URL" not in last.message and last.follow_up == ()


def test_an_entry_alone_on_its_address_gets_no_follow_up(settings: Settings) -> None:
    result = decisions.replace_url(settings, "other", NEW, clock=Ticker(days(1)))
    assert "old URL" not in result.message and result.follow_up == ()


def test_the_cli_prints_each_follow_up_command_on_its_own_line(
    engine: Engine, catalog_file: Path
) -> None:
    db = ["--db", database_url(engine), "--catalog", str(catalog_file)]
    result = runner.invoke(app, ["replace-url", "main", NEW, *db])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    commands = [line for line in lines if line.startswith("linkhealth replace-url")]
    assert [shlex.split(c)[2:4] for c in commands] == [["stop", NEW], ["types", NEW]]
    assert all("--db" in shlex.split(c) for c in commands)  # paste-ready: same database


# --- recheck of a bare id names the entries sharing its URL ----------------------------------


def test_a_recheck_of_a_bare_id_names_the_entries_sharing_its_url(engine: Engine) -> None:
    """`recheck toolkit/main` said "its URL is shared with toolkit/stop, toolkit/types";
    `recheck main` said nothing, though the check was theirs too."""
    statuses = store.recheck_statuses(engine, ["toolkit"], rids=["main", "other"])
    shared = "its URL is shared with toolkit/stop, toolkit/types, whose link state this check"
    assert shared_url_lines(engine, statuses, ["main", "other"], {}) == [
        f"toolkit/main: {shared} updated too"
    ]
    assert shared_url_lines(engine, statuses, ["main"], {"main": {"toolkit"}}) == [
        f"toolkit/main: {shared} updated too"
    ]
    assert shared_url_lines(engine, statuses, ["other"], {}) == []


# --- a failing row whose sibling moved offers the sibling's working address ------------------


def _checked(engine: Engine, day: float, **outcomes: Outcome) -> None:
    """One night's checks: each URL (by name in `URLS`) with its outcome."""
    observations = [
        make_observation(URLS[name], outcome, days(day)) for name, outcome in outcomes.items()
    ]
    store.record_observations(engine, None, observations, Settings().health, now=days(day))


ELSEWHERE = "https://example.org/blue-campaign/other-panel"
URLS = {
    "old": OLD,
    "new": NEW,
    "other": "https://example.org/other",
    "elsewhere": ELSEWHERE,
    "b": "https://example.org/b",
}


def _broken_then_main_moved(engine: Engine, settings: Settings) -> None:
    """The shared address fails three nights (confirmed broken); the curator moves main."""
    for day in (1, 2, 3):
        _checked(engine, day, old=Outcome.NOT_FOUND, other=Outcome.OK)
    decisions.replace_url(settings, "main", NEW, clock=Ticker(days(4)))


def _rows(engine: Engine) -> dict[str, Row]:
    ctx = build_context(report_data(engine), now=days(6))
    return {r.resource_id: r for group in ctx.groups for r in group.rows}


def test_a_broken_entry_whose_sibling_moved_to_a_working_address_is_offered_that_address(
    engine: Engine, settings: Settings
) -> None:
    """n43: after `replace-url main NEW`, types and stop still said "find where it moved,
    or use an archived copy ... replace-url types NEW_URL", though main's new address
    worked."""
    _broken_then_main_moved(engine, settings)
    _checked(engine, 5, old=Outcome.NOT_FOUND, new=Outcome.OK, other=Outcome.OK)
    data = report_data(engine)
    siblings = {r.resource_id: r.moved_sibling for r in data.resources}
    assert siblings == {
        "main": None,
        "other": None,
        "types": MovedSibling("main", NEW),
        "stop": MovedSibling("main", NEW),
    }
    rows = _rows(engine)
    for rid in ("types", "stop"):
        row = rows[rid]
        assert row.fix is not None and row.command is not None, rid
        assert row.fix.startswith(f"Its sibling main, which shared this address, moved to {NEW}")
        assert shlex.split(row.command) == ["linkhealth", "replace-url", rid, NEW]
        assert not row.command_needs_input
    assert "NEW_URL" not in render_markdown(build_context(data, now=days(6)))


def test_a_siblings_new_address_is_offered_only_once_it_is_known_to_work(
    engine: Engine, settings: Settings
) -> None:
    _broken_then_main_moved(engine, settings)  # not checked at its new address yet
    assert all(r.moved_sibling is None for r in report_data(engine).resources)
    _checked(engine, 5, old=Outcome.NOT_FOUND, new=Outcome.NOT_FOUND)
    assert all(r.moved_sibling is None for r in report_data(engine).resources)
    assert "replace-url types NEW_URL" in (_rows(engine)["types"].command or "")


def test_an_entry_that_came_onto_the_address_after_its_sibling_left_is_not_told_of_it(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    """They never shared it: main left before `late` was added there."""
    _broken_then_main_moved(engine, settings)
    text = catalog_file.read_text(encoding="utf-8")
    catalog_file.write_text(
        text + f"- id: late\n  title: Late\n  url: {OLD}\n  shared_url: true\n", encoding="utf-8"
    )
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(4.5))
    _checked(engine, 5, old=Outcome.NOT_FOUND, new=Outcome.OK)
    siblings = {r.resource_id: r.moved_sibling for r in report_data(engine).resources}
    assert siblings["late"] is None and siblings["types"] == MovedSibling("main", NEW)


def test_siblings_moved_to_different_addresses_offer_the_one_the_entry_duplicates_or_none(
    engine: Engine, settings: Settings
) -> None:
    """types and stop both `duplicate_of: main`: main's address is theirs to take, not
    the one `other`'s curator chose when it left the shared address too."""
    for day in (1, 2, 3):
        _checked(engine, day, old=Outcome.NOT_FOUND)
    decisions.replace_url(settings, "main", NEW, clock=Ticker(days(4)))
    decisions.replace_url(settings, "stop", ELSEWHERE, clock=Ticker(days(4.1)))
    _checked(engine, 5, old=Outcome.NOT_FOUND, new=Outcome.OK, elsewhere=Outcome.OK)
    siblings = {r.resource_id: r.moved_sibling for r in report_data(engine).resources}
    assert siblings["types"] == MovedSibling("main", NEW)
    assert siblings["main"] is None and siblings["stop"] is None  # they work


def test_siblings_moved_to_different_addresses_offer_none_without_duplicate_of(
    tmp_path: Path,
) -> None:
    path = write_catalog(
        tmp_path / "toolkit.yaml",
        [
            {"id": "a", "title": "A", "url": OLD, "shared_url": "true"},
            {"id": "b", "title": "B", "url": OLD, "shared_url": "true"},
            {"id": "c", "title": "C", "url": OLD, "shared_url": "true"},
        ],
    )
    with temporary_database(tmp_path, "own.db") as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        settings = settings_for(engine, [path])
        for day in (1, 2, 3):
            _checked(engine, day, old=Outcome.NOT_FOUND)
        decisions.replace_url(settings, "a", NEW, clock=Ticker(days(4)))
        decisions.replace_url(settings, "b", URLS["b"], clock=Ticker(days(4)))
        _checked(engine, 5, old=Outcome.NOT_FOUND, new=Outcome.OK, b=Outcome.OK)
        siblings = {r.resource_id: r.moved_sibling for r in report_data(engine).resources}
        assert siblings == {"a": None, "b": None, "c": None}  # two answers: no guess
