"""Operations without Prefect: recheck selection, notifications, telemetry, status, CI files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.db import Engine, absolute_sqlite_url, engine_for, open_engine
from catalog.errors import ConfigError
from catalog.ops import (
    EVENT_BROKEN_INCREASED,
    EVENT_DRIFT_INCREASED,
    EVENT_NETWORK_UNAVAILABLE,
    EVENT_RUN_REFUSED,
    CheckedBatch,
    Tally,
    batch_stats,
    notices,
    plan_recheck,
    progress_percent,
    queue_table,
    run_lines,
    select_for_recheck,
    strict_findings,
    summary_markdown,
    unknown_ids,
    verdict_lines,
)
from catalog.outcomes import Outcome
from catalog.runs import RunSummary
from catalog.settings import HealthSettings, Settings, load_settings
from catalog.source import load_catalogs
from catalog.store import FOUND_DEAD
from catalog.sync import sync_catalogs
from reports.context import Priority
from reports.publish import OWNER_FILE, report_folder
from tests.factories import (
    copy_migrated_sqlite,
    days,
    make_observation,
    serve_without_prefect,
    write_catalog,
)

ROOT = Path(__file__).resolve().parent.parent
CHECKED_AT = days(1)


@dataclass(frozen=True)
class Link:
    state: str = "ok"
    outcome: Outcome | None = Outcome.OK
    last_checked_at: datetime | None = CHECKED_AT
    reason: str | None = None
    drift_reason: str | None = None
    http_status: int | None = None  # as `store.RecheckLink`
    contact_reason: str | None = None
    flapping: bool = False


@dataclass(frozen=True)
class Status:
    rid: str
    link: Link | None = Link()
    collection: str = "toolkit"


def test_changed_selects_entries_edited_after_their_last_check() -> None:
    statuses = [Status("edited"), Status("untouched"), Status("edited-before")]
    edits = {("toolkit", "edited"): days(2), ("toolkit", "edited-before"): days(0.5)}
    chosen, missing = select_for_recheck(statuses, changed_only=True, last_edits=edits)
    assert chosen == ["edited"] and missing == []


def test_changed_selects_entries_never_checked() -> None:
    statuses = [
        Status("new", link=None),
        Status("pending", link=Link(last_checked_at=None)),
        # Tried only while our network was down: a last attempt, but no outcome yet.
        Status("offline", link=Link(state="unchecked", outcome=None)),
        Status("checked", link=Link()),
    ]
    chosen, _ = select_for_recheck(statuses, changed_only=True)
    assert chosen == ["new", "offline", "pending"]


def test_failing_selects_suspect_broken_and_failing_outcomes_only() -> None:
    statuses = [
        Status("broken", Link(state="broken", outcome=Outcome.NOT_FOUND)),
        Status("suspect", Link(state="suspect", outcome=Outcome.TIMEOUT)),
        Status("bad-url", Link(state="unchecked", outcome=Outcome.INVALID_URL)),
        Status("blocked", Link(state="check_by_hand", outcome=Outcome.BLOCKED)),
        Status("fine", Link()),
    ]
    chosen, _ = select_for_recheck(statuses, failing_only=True)
    assert chosen == ["bad-url", "broken", "suspect"]


def test_named_ids_are_checked_and_unknown_ones_reported() -> None:
    chosen, missing = select_for_recheck([Status("a"), Status("b")], ids=["b", "nope"])
    assert chosen == ["b"] and missing == ["nope"]


def _write(path: Path, resources: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps({"collection": {"title": "T"}, "resources": resources}))
    return path


def test_plan_recheck_finds_the_entry_edited_in_the_file_since_its_check(
    tmp_path: Path, migrated_db_url: str
) -> None:
    catalog_file = _write(
        tmp_path / "toolkit.yaml",
        [
            {"id": "a", "title": "A", "url": "https://example.org/a"},
            {"id": "b", "title": "B", "url": "https://example.org/b"},
        ],
    )
    settings = Settings(database_url=migrated_db_url, catalogs=(catalog_file,))
    assert plan_recheck(settings, changed_only=True, clock=lambda: days(0)).ids == ("a", "b")
    engine = open_engine(settings.database_url)
    run_id = store.start_run(engine, trigger="test", now=days(1))
    observations = [make_observation(f"https://example.org/{r}", checked_at=days(1)) for r in "ab"]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=days(1))
    assert plan_recheck(settings, changed_only=True, clock=lambda: days(1.5)).ids == ()
    _write(
        catalog_file,
        [
            {"id": "a", "title": "A", "url": "https://example.org/a"},
            {"id": "b", "title": "B, second edition", "url": "https://example.org/b"},
        ],
    )
    plan = plan_recheck(settings, changed_only=True, clock=lambda: days(2))
    assert plan.ids == ("b",) and plan.sync_changes == 1
    engine.dispose()


_A = {"id": "a", "title": "A", "url": "https://example.org/a"}
_DEAD = {"id": "dead", "title": "Dead", "url": "https://example.org/dead"}


def _dead_link_checked(tmp_path: Path, db_url: str) -> tuple[Path, Settings]:
    """A catalog of an entry whose link works and one whose link is gone, both checked."""
    catalog_file = _write(tmp_path / "toolkit.yaml", [_A, _DEAD])
    engine = open_engine(db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
    _checked(engine, days(1), {_A["url"]: Outcome.OK, _DEAD["url"]: Outcome.NOT_FOUND})
    engine.dispose()
    return catalog_file, Settings(database_url=db_url, catalogs=(catalog_file,))


@pytest.mark.parametrize("changed", [True, False], ids=["changed", "failing"])
def test_a_recheck_that_picks_nothing_after_a_removal_writes_the_report_again(
    tmp_path: Path, migrated_db_url: str, changed: bool
) -> None:
    """Nothing is left to check once the dead entry is removed (as the report advises), but
    the report still lists it: the plan says so (`report_only`), and what its sync changed,
    for the recheck to say. Once synced, nothing is to write again."""
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    _write(catalog_file, [_A])
    plan = plan_recheck(
        settings, changed_only=changed, failing_only=not changed, clock=lambda: days(2)
    )
    assert plan.ids == () and plan.report_only and plan.synced == "1 removed"
    again = plan_recheck(
        settings, changed_only=changed, failing_only=not changed, clock=lambda: days(2)
    )
    assert again.ids == () and not again.report_only and again.synced == ""


def test_a_changed_recheck_checks_an_entry_whose_id_was_renamed(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """An id renamed is an edit of its entry (`sync`): checked, its run writes the report."""
    catalog_file, settings = _dead_link_checked(tmp_path, migrated_db_url)
    _write(catalog_file, [_A, {**_DEAD, "id": "guide"}])
    plan = plan_recheck(settings, changed_only=True, clock=lambda: days(2))
    assert plan.ids == ("guide",) and not plan.report_only and plan.synced == "1 edited"


def test_plan_recheck_rejects_an_unknown_id(tmp_path: Path, migrated_db_url: str) -> None:
    from catalog.errors import NotFoundError

    catalog_file = _write(tmp_path / "t.yaml", [{"id": "a", "title": "A", "url": "https://x.org"}])
    settings = Settings(database_url=migrated_db_url, catalogs=(catalog_file,))
    with pytest.raises(NotFoundError):
        plan_recheck(settings, ids=["zzz"])


def test_a_recheck_stays_in_the_configured_catalogs(tmp_path: Path, migrated_db_url: str) -> None:
    """A collection synced once from another file stays in the database; its resources
    are neither picked nor reported by a recheck of the configured catalogs."""
    mine = _write(tmp_path / "mine.yaml", [{"id": "a", "title": "A", "url": "https://x.org/a"}])
    other = _write(tmp_path / "other.yaml", [{"id": "a", "title": "A", "url": "https://y.org/a"}])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([mine, other]), now=days(0))
    run_id = store.start_run(engine, trigger="test", now=days(1))
    failing = [make_observation(u, Outcome.NOT_FOUND, days(1)) for u in ("https://y.org/a",)]
    store.record_observations(engine, run_id, failing, HealthSettings(), now=days(1))

    settings = Settings(database_url=migrated_db_url, catalogs=(mine,))
    assert plan_recheck(settings, failing_only=True).ids == ()  # only other/a fails
    plan = plan_recheck(settings, ids=["a"])
    assert plan.collections == ("mine",)
    statuses = store.recheck_statuses(engine, plan.collections, rids=plan.ids)
    lines = verdict_lines(statuses, plan.ids, plan.collections)
    assert lines == ["mine/a: not checked"]
    engine.dispose()


def _checked(engine: Engine, at: datetime, outcomes: dict[str, Outcome]) -> None:
    """A run at `at` that stored these outcomes."""
    run_id = store.start_run(engine, trigger="test", now=at)
    observations = [make_observation(url, outcome, at) for url, outcome in outcomes.items()]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)


def test_changed_picks_each_entry_by_its_own_edits_in_every_configured_catalog(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The edits are read in SQL per entry: an edit in the second catalog counts, an edit
    to one of two entries sharing a link picks that one only, and neither a removed entry,
    a catalog not configured, nor an event that is no edit (a link's, a staleness note)
    picks anything."""
    kit = [
        {"id": "a", "title": "A", "url": "https://x.org/a"},
        {"id": "b", "title": "B", "url": "https://x.org/shared"},
        {"id": "c", "title": "C", "url": "https://x.org/c"},
        {"id": "f", "title": "F", "url": "https://x.org/f"},
    ]
    extra = [
        {"id": "a", "title": "A", "url": "https://y.org/a"},
        {"id": "d", "title": "D", "url": "https://x.org/shared"},
    ]
    files = [_write(tmp_path / "toolkit.yaml", kit), _write(tmp_path / "extra.yaml", extra)]
    other = _write(tmp_path / "other.yaml", [{"id": "e", "title": "E", "url": "https://z.org/e"}])
    settings = Settings(database_url=migrated_db_url, catalogs=tuple(files))
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([*files, other]), now=days(0))
    urls = ["https://x.org/a", "https://x.org/shared", "https://x.org/c", "https://y.org/a"]
    _checked(engine, days(1), dict.fromkeys([*urls, "https://z.org/e"], Outcome.OK))
    # Tried only while our network was down: never checked, whatever its last attempt.
    _checked(engine, days(1), {"https://x.org/f": Outcome.NETWORK_UNAVAILABLE})
    assert plan_recheck(settings, changed_only=True, clock=lambda: days(1.5)).ids == ("f",)

    _checked(engine, days(2), {"https://x.org/f": Outcome.OK})
    b = store.find_resource(engine, "b")
    with store.write_session(engine) as s:  # after every check: events, not edits
        store.add_event(s, "stale", at=days(2.5), resource_id=b.id)
        store.add_event(s, "outcome_changed", at=days(2.5), link_id=b.link_id)
    _write(files[0], [*kit[:2], {**kit[2], "title": "C, revised"}, kit[3]])
    sync_catalogs(engine, load_catalogs(files), now=days(2.5))  # c edited, then removed:
    _write(files[0], kit[:2] + kit[3:])
    _write(files[1], [{**extra[0], "title": "A, revised"}, {**extra[1], "title": "D, revised"}])
    _write(other, [{"id": "e", "title": "E, revised", "url": "https://z.org/e"}])
    sync_catalogs(engine, load_catalogs([other]), now=days(3))
    plan = plan_recheck(settings, changed_only=True, clock=lambda: days(3))
    assert plan.ids == ("a", "d") and plan.sync_changes == 3  # c removed, extra/a and d

    statuses = store.recheck_statuses(engine, plan.collections, rids=plan.ids)
    assert verdict_lines(statuses, plan.ids, plan.collections) == [
        "extra/a: OK - test observation: ok",
        "extra/d: OK - test observation: ok",
        # The same id in the other catalog: a recheck of "a" checks both.
        "toolkit/a: OK - test observation: ok",
    ]
    engine.dispose()


def test_failing_picks_every_entry_of_a_failing_link_but_no_removed_one(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """Failing links are found in SQL: both entries of a shared failing link (in two
    catalogs) are picked; an entry removed from its catalog is not, though its link
    still fails; a named id is picked beside them."""
    kit = [
        {"id": "a", "title": "A", "url": "https://x.org/a"},
        {"id": "b", "title": "B", "url": "https://x.org/shared"},
        {"id": "c", "title": "C", "url": "https://x.org/c"},
    ]
    extra = [{"id": "d", "title": "D", "url": "https://x.org/shared"}]
    files = [_write(tmp_path / "toolkit.yaml", kit), _write(tmp_path / "extra.yaml", extra)]
    settings = Settings(database_url=migrated_db_url, catalogs=tuple(files))
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs(files), now=days(0))
    failing = dict.fromkeys(["https://x.org/shared", "https://x.org/c"], Outcome.NOT_FOUND)
    _checked(engine, days(1), {"https://x.org/a": Outcome.OK, **failing})
    _write(files[0], kit[:2])  # c removed

    assert plan_recheck(settings, failing_only=True, clock=lambda: days(2)).ids == ("b", "d")
    plan = plan_recheck(settings, ids=["a"], failing_only=True, clock=lambda: days(2))
    assert plan.ids == ("a", "b", "d")
    # Removed, no longer in any catalog: no typo, but nothing to check (said, not refused).
    plan = plan_recheck(settings, ids=["a", "c"], clock=lambda: days(2))
    assert plan.ids == ("a",) and [line[:11] for line in plan.removed_said()] == ["toolkit/c: "]
    engine.dispose()


def test_the_verdicts_of_a_recheck_of_any_number_of_ids_are_read(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """A `--failing` recheck of a big catalog names its failing ids for the verdicts: one
    IN list of them passed a statement's limit on parameters (65,535 with psycopg,
    250,000 in this SQLite build)."""
    kit = [{"id": "a", "title": "A", "url": "https://x.org/a"}]
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([_write(tmp_path / "toolkit.yaml", kit)]), now=days(0))
    _checked(engine, days(1), {"https://x.org/a": Outcome.NOT_FOUND})
    ids = ["a", *(f"r{n:06d}" for n in range(250_001))]
    statuses = store.recheck_statuses(engine, ["toolkit"], rids=ids)
    assert verdict_lines(statuses, ids) == [
        "toolkit/a: Not found (404), failing, not yet confirmed - test observation: not_found"
    ]
    engine.dispose()


@dataclass(frozen=True)
class Row:
    state: str = "ok"
    drift_reason: str | None = None


def test_rising_broken_and_drift_counts_each_send_an_event() -> None:
    sent = notices(Tally(1, 0), Tally(3, 1), network_unavailable=False)
    assert [n.event for n in sent] == [EVENT_BROKEN_INCREASED, EVENT_DRIFT_INCREASED]
    assert sent[0].payload["delta"] == 2


def test_steady_or_falling_counts_send_nothing() -> None:
    assert notices(Tally(3, 1), Tally(3, 0), network_unavailable=False) == []


def test_a_run_without_network_sends_only_the_network_event() -> None:
    sent = notices(Tally(0, 0), Tally(5, 5), network_unavailable=True)
    assert [n.event for n in sent] == [EVENT_NETWORK_UNAVAILABLE]


def test_a_run_that_lost_the_network_part_way_sends_what_it_confirmed_and_how_much_it_lost() -> (
    None
):
    """A later batch judged offline does not hide the breaks the others confirmed: the
    next night would not send them (those links are broken by then)."""
    sent = notices(Tally(1, 0), Tally(2, 1), network_unavailable=True, offline=10, urls=20)
    assert [(n.event, dict(n.payload)) for n in sent] == [
        (EVENT_BROKEN_INCREASED, {"previous": 1, "current": 2, "delta": 1}),
        (EVENT_DRIFT_INCREASED, {"previous": 0, "current": 1, "delta": 1}),
        (EVENT_NETWORK_UNAVAILABLE, {"offline": 10, "urls": 20}),
    ]


def test_batch_stats_count_rate_failures_and_retries() -> None:
    observations = (
        make_observation("https://a.org/1", retries=2),
        make_observation("https://a.org/2", Outcome.NOT_FOUND),
        make_observation("https://a.org/3", Outcome.BLOCKED, retries=1),
        make_observation("https://a.org/4", Outcome.TIMEOUT),
    )
    stats = batch_stats(CheckedBatch(0, observations, seconds=2.0))
    assert (stats.urls, stats.failures, stats.retries) == (4, 2, 3)
    assert stats.urls_per_second == 2.0
    assert progress_percent(3, 4) == 75.0 and progress_percent(0, 0) == 100.0


def test_a_batch_stored_as_offline_counts_no_failure() -> None:
    """The batch log must not say "1 failure(s)" beside "NETWORK LOOKS DOWN"."""
    dns = make_observation("https://a.org/1", Outcome.DNS_ERROR, http_status=None)
    batch = CheckedBatch(0, (dns,), seconds=1.0)
    assert batch_stats(batch).failures == 1
    assert batch_stats(batch, {"network_unavailable": 1}).failures == 0


@dataclass(frozen=True)
class QueueRow:
    resource_id: str
    collection_key: str = "toolkit"
    title: str = "T"
    url: str = "https://x.org"
    label: str = "Not found"
    state: str = "broken"
    seen: str = "404"
    next_step: str = "find where it moved"
    priority: Priority | None = Priority.BROKEN
    status_badge: tuple[str, str] = ("broken", "Not found")
    state_note: str | None = "Confirmed broken"
    fix: str | None = None
    command: str | None = None


def test_queue_table_keeps_the_first_fifty_rows_in_order() -> None:
    table = queue_table([QueueRow(f"r{i}") for i in range(80)])
    assert len(table) == 50
    assert table[0]["rank"] == 1 and table[0]["resource"] == "toolkit/r0"


def test_summary_markdown_holds_the_counts_before_and_after() -> None:
    text = summary_markdown(["Run 3 completed."], Tally(1, 0), Tally(2, 0))
    assert "| resources confirmed broken | 1 | 2 |" in text


def test_status_lists_runs_with_duration_and_counts(migrated_db_url: str) -> None:
    engine = open_engine(migrated_db_url)
    run_id = store.start_run(engine, trigger="schedule", now=days(0))
    store.finish_run(engine, run_id, status="completed", now=days(0.001))
    (line,) = run_lines(store.latest_runs(engine))
    assert f"run {run_id}" in line and "schedule" in line and "completed" in line
    engine.dispose()


def test_status_command_shows_runs_and_prefect_health(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # nothing listens on the discard port
    open_engine(migrated_db_url).dispose()  # a database with no runs in it yet
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url])
    assert result.exit_code == 0
    assert "no runs yet" in result.output and "not answering" in result.output
    # Which database: after a move to PostgreSQL a shell without the variable showed the
    # old file's runs, as if nothing had run since.
    shown = open_engine(migrated_db_url).url.render_as_string(hide_password=True)
    assert result.output.splitlines()[0] == f"Database {shown}"


def test_status_prints_a_stored_reason_as_nothing_a_terminal_acts_on(
    migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused or failed run's reason quotes what others wrote (a catalog's text, an
    error's); `status` printed it back from the database as it was."""
    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # nothing listens on the discard port
    engine = open_engine(migrated_db_url)
    reason = "the catalog has an error: title \x1b]8;;http://evil.example/\x1b\\x \u202ey"
    store.record_refused_run(engine, trigger="schedule", now=days(0), reason=reason)
    engine.dispose()
    result = CliRunner().invoke(app, ["status", "--db", migrated_db_url], color=True)  # a terminal
    assert result.exit_code == 0, result.output
    assert "the catalog has an error: title" in result.stdout
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout


def test_recheck_without_a_selection_is_a_usage_error() -> None:
    from flows.cli import app

    assert CliRunner().invoke(app, ["recheck"]).exit_code == 2


def test_catalog_edited_without_a_prefect_server_never_fails(
    monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")
    (isolated_cwd / "toolkit.yaml").write_text("resources: []\n")  # the file committed
    assert CliRunner().invoke(app, ["catalog", "edited", "toolkit.yaml"]).exit_code == 0


def test_catalog_edited_without_settings_names_the_file_in_the_recheck_it_offers(
    monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    """With no settings file, `catalog edited FILE` offered `linkhealth recheck --changed`,
    which reads the bundled demo catalog, never FILE: the command names it (--catalog)
    when the settings do not."""
    import shlex

    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # nothing listens on the discard port
    (isolated_cwd / "my toolkit.yaml").write_text("resources: []\n")
    result = CliRunner().invoke(app, ["catalog", "edited", "my toolkit.yaml"])
    assert result.exit_code == 0, result.output
    offered = shlex.join(["linkhealth", "recheck", "--changed", "--catalog", "my toolkit.yaml"])
    assert f"run `{offered}` to check it" in result.stderr, result.stderr

    # Settings that name the file: their recheck reads it, no --catalog.
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["my toolkit.yaml"]\n')
    result = CliRunner().invoke(app, ["catalog", "edited", "my toolkit.yaml"])
    assert result.exit_code == 0, result.output
    assert "run `linkhealth recheck --changed` to check it" in result.stderr, result.stderr


def test_flushing_events_hides_prefects_drain_progress_but_not_its_failures(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`linkhealth catalog edited` waits for its one event; Prefect warns "Still processing
    items" whenever a drain starts with items queued (always, here), which read as a fault."""
    import logging

    from prefect.events.worker import EventsWorker

    from flows import events

    def drain_all(timeout: float | None = None, at_exit: bool = True) -> None:
        # What Prefect's QueueService logs while draining, on the logger it uses.
        worker_log = logging.getLogger("EventsWorker")
        worker_log.warning("Still processing items: 1 items remaining...")
        worker_log.warning("Service 'EventsWorker' queue is full (1 items), dropping item")

    monkeypatch.setattr(EventsWorker, "drain_all", staticmethod(drain_all))
    with caplog.at_level(logging.WARNING, logger="EventsWorker"):
        events.flush()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["Service 'EventsWorker' queue is full (1 items), dropping item"]
    logging.getLogger("EventsWorker").warning("Still processing items: later, not ours")
    assert caplog.records[-1].getMessage() == "Still processing items: later, not ours"


@pytest.mark.parametrize(
    "path", ["deploy/git-hooks/post-commit", ".ci/run"], ids=["post-commit", "ci"]
)
def test_scripts_are_executable(path: str) -> None:
    mode = (ROOT / path).stat().st_mode
    assert mode & stat.S_IXUSR


def test_ci_still_runs_the_readme_test_command_and_a_postgresql_pass() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert "make test" in text and "LINKHEALTH_TEST_DATABASE_URL" in text


def test_systemd_units_start_the_server_and_linkhealth_serve() -> None:
    units = {p.name: p.read_text() for p in (ROOT / "deploy" / "systemd").glob("*.service")}
    assert any("prefect server start" in u for u in units.values())
    assert any("linkhealth serve" in u for u in units.values())
    # A configuration error is not restarted every 10 s forever: it needs an operator.
    serve = units["linkhealth-serve.service"]
    assert "Restart=on-failure" in serve
    assert f"RestartPreventExitStatus={ConfigError.exit_code}" in serve.splitlines()


def test_webhook_automation_example_is_a_valid_automation() -> None:
    from prefect.events.schemas.automations import AutomationCore
    from ruamel.yaml import YAML

    text = (ROOT / "deploy" / "automation-webhook.yaml").read_text()
    data = YAML(typ="safe").load(text.replace("WEBHOOK_BLOCK_ID", str(uuid.uuid4())))
    automation = AutomationCore.model_validate(data)
    assert set(automation.trigger.expect) == {  # type: ignore[union-attr]
        EVENT_BROKEN_INCREASED,
        EVENT_DRIFT_INCREASED,
        EVENT_NETWORK_UNAVAILABLE,
        EVENT_RUN_REFUSED,
    }


def _webhook_text(event: str, payload: dict[str, Any]) -> str:
    """The "text" the automation's webhook posts for `event` with `payload`, its body's
    only key."""
    from prefect.server.events.schemas.events import Event
    from prefect.server.utilities.user_templates import render_user_template_sync
    from ruamel.yaml import YAML

    text = (ROOT / "deploy" / "automation-webhook.yaml").read_text()
    (action,) = YAML(typ="safe").load(text)["actions"]
    received = Event.model_validate(
        {
            "id": uuid.uuid4(),
            "occurred": datetime.now(UTC),
            "event": event,
            "resource": {"prefect.resource.id": "linkhealth.run.12"},
            "payload": payload,
        }
    ).receive()
    body = json.loads(render_user_template_sync(action["payload"], {"event": received}))
    assert set(body) == {"text"}  # no link_names or parse: Slack links no plain @channel
    return str(body["text"])


@pytest.mark.parametrize(
    ("event", "payload", "says"),
    [
        (
            EVENT_RUN_REFUSED,
            {
                "reason": 'the catalog has an error: toolkit.yaml:7: title: "A" twice',
                "trigger": "schedule",
            },
            "linkhealth: a run (schedule) was refused and checked nothing: the catalog has an "
            'error: toolkit.yaml:7: title: "A" twice',
        ),
        (
            EVENT_NETWORK_UNAVAILABLE,
            {"run_id": 12},
            "linkhealth: run 12 could reach no site (our network was down); nothing was "
            "marked broken",
        ),
        (
            EVENT_NETWORK_UNAVAILABLE,
            {"run_id": 12, "offline": 10, "urls": 20},
            "linkhealth: run 12 could not reach the sites of 10 of its 20 URLs (our network "
            "was down for them); those were not marked broken",
        ),
        (
            EVENT_BROKEN_INCREASED,
            {"run_id": 12, "previous": 2, "current": 5, "delta": 3},
            "linkhealth: linkhealth.links.broken_increased (run 12); confirmed broken or "
            "drifted now 5, before 2",
        ),
    ],
)
def test_webhook_automation_posts_json_that_says_what_happened(
    event: str, payload: dict[str, Any], says: str
) -> None:
    # The webhook gets the rendered text as its body: it must stay JSON whatever a
    # refusal's reason quotes from the curator's file.
    assert _webhook_text(event, payload) == says


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@\u2060U123&gt;"),
        ("<!subteam^S1>", "&lt;!subteam^S1&gt;"),
        ("<https://evil.example/|click>", "&lt;https://evil.example/|click&gt;"),
        ("Tom &amp; Jerry", "Tom &amp;amp; Jerry"),
        ("@channel", "@\u2060channel"),
        ("@all, @here and @everyone", "@\u2060all, @\u2060here and @\u2060everyone"),
    ],
)
def test_webhook_text_quoting_a_curators_file_pings_and_links_nothing(
    title: str, shown: str
) -> None:
    """A refusal's reason quotes the catalog (a title, an id): in Slack's text, < > and &
    are markup (a mention of everyone, a link showing other words than its address), so
    what the file wrote is escaped as Slack's formatting reference asks and reads as
    written. A plain @channel is text to Slack without `link_names`, but a mention in
    Mattermost or Rocket.Chat, which take the same body: a word joiner after the @."""
    reason = f"the catalog has an error: toolkit.yaml:7: title: {title} twice"
    text = _webhook_text(EVENT_RUN_REFUSED, {"reason": reason, "trigger": "<!everyone>"})
    assert text == (
        "linkhealth: a run (&lt;!everyone&gt;) was refused and checked nothing: the catalog "
        f"has an error: toolkit.yaml:7: title: {shown} twice"
    )
    assert "<" not in text and ">" not in text


def _summary(counts: dict[str, int]) -> RunSummary:
    return RunSummary(7, "completed", "manual", days(1), days(1), 9, counts, False)


@dataclass(frozen=True)
class StrictRow:
    """What `strict_findings` reads of a report row (`reports.context.Row`)."""

    resource_id: str
    priority: Priority | None
    label: str = "Not found (404)"
    flapping: bool = False
    entry_only: bool = False
    set_aside: bool = False
    collection_key: str = "toolkit"


def test_strict_findings_name_what_failed_and_leave_out_what_was_set_aside() -> None:
    def verdict(rid: str, outcome: str) -> store.RunVerdict:
        return store.RunVerdict("toolkit", rid, outcome)

    summary = _summary({"ok": 5, "not_found": 2, "gone": 1, "redirected_permanent": 1})
    fine = [verdict("a", "ok"), verdict("b", "network_unavailable")]
    assert strict_findings(summary, fine, [StrictRow("a", None, "OK")]) is None
    aside = StrictRow("a", Priority.BROKEN, set_aside=True)
    assert strict_findings(summary, [verdict("a", "not_found")], [aside]) is None
    # An offline try reached nothing: drift left from an earlier run is not this run's news.
    offline = StrictRow("a", Priority.DRIFT, "OK")
    assert strict_findings(summary, [verdict("a", "network_unavailable")], [offline]) is None
    found = strict_findings(
        summary,
        [verdict(rid, "ok") for rid in "abcdefg"],
        [
            StrictRow("b", Priority.BROKEN),
            StrictRow("c", Priority.DRIFT, "OK"),
            StrictRow("a", Priority.UPDATE, "Moved permanently"),
            StrictRow("f", Priority.LOOK, "OK", flapping=True),
            StrictRow("d", Priority.BROKEN, "Gone (410)", set_aside=True),
            StrictRow("e", Priority.STALE, "OK", entry_only=True),
            # Snoozed or not, an entry only out of date would not have counted.
            StrictRow("g", Priority.STALE, "OK", entry_only=True, set_aside=True),
        ],
    )
    assert found == (
        "in run 7, of 7 resources checked, 3 to fix and 1 to check or watch in the report's "
        "action queue: toolkit/b (Confirmed broken: not found (404)), "
        "toolkit/c (Page no longer matches its entry), toolkit/a (Moved permanently), "
        "toolkit/f (Check by hand: flapping); "
        "1 snoozed or ignored and 2 only to review (the link works) not counted"
    )
    many = strict_findings(
        summary,
        [verdict(f"r{n:02}", "not_found") for n in range(12)],
        [StrictRow(f"r{n:02}", Priority.FAILING) for n in range(12)],
    )
    assert many is not None
    assert many.endswith("toolkit/r09 (Failing, not yet confirmed: not found (404)) and 2 more")


def test_unknown_ids_are_the_ones_neither_the_database_nor_the_files_hold(
    tmp_path: Path,
) -> None:
    catalog = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "a", "title": "A", "url": "https://example.org/a"}]
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lh.db'}", catalogs=(catalog,))
    # Nothing synced yet: the catalog file answers (a new entry is not unknown).
    assert unknown_ids(settings, ["a", "typo"]) == ["typo"]
    sync_catalogs(engine_for(settings.database_url), load_catalogs([catalog]), now=days(0))
    catalog.write_text("this file is not read while the database knows every id: [")
    assert unknown_ids(settings, ["a"]) == []


#: A run as `store.latest_runs` gives it, to `replace` in each test: completed on day 1,
#: nothing planned, checked or said.
_RUN = store.RunRecord(
    id=1,
    trigger="schedule",
    flow_run_id=None,
    started_at=days(1),
    finished_at=days(1),
    status="completed",
    urls_planned=0,
    urls_checked=0,
    counts={},
    network_unavailable=False,
    summary={},
    duration_s=None,
)


def test_status_says_why_a_run_failed() -> None:
    base = replace(
        _RUN,
        id=22,
        status="failed",
        urls_planned=37,
        summary={"failed_reason": "TerminationSignal"},
        duration_s=0.9,
    )
    # 37 URLs were planned: "no URLs" said the run had none to check.
    (line,) = run_lines([base])
    assert line.endswith("0/37 URLs: no outcome stored; TerminationSignal")
    (done,) = run_lines([replace(base, status="completed", summary={})])
    assert done.endswith("0/37 URLs: no outcome stored")
    why = "its process (vm:28402 df856c5e) is gone"  # set by the next run's stale-run sweep
    (aborted,) = run_lines([replace(base, status="aborted", summary={"aborted_reason": why})])
    assert aborted.endswith(f"0/37 URLs: no outcome stored; {why}")
    assert "  0.9 s  0/37" in aborted  # stopped on purpose: its end was seen
    # Found dead by that sweep, its time runs to its last sign of life: "aborted 0.0 s"
    # read as a run that stopped at once.
    dead = replace(base, status="aborted", summary={"aborted_reason": why, FOUND_DEAD: True})
    (line,) = run_lines([dead])
    assert " aborted   seen for 0.9 s  0/37 URLs" in line, line
    (empty,) = run_lines([replace(base, status="completed", summary={}, urls_planned=0)])
    assert empty.endswith("0/0 URLs: no URLs")
    # Checks stored without a plan (a script through catalog.store): not "11/0".
    unplanned = replace(base, status="completed", summary={}, urls_planned=0, urls_checked=11)
    (line,) = run_lines([replace(unplanned, counts={"ok": 11})])
    assert line.endswith("  11 URLs: 11 ok")


def test_status_names_a_shard_run_and_a_running_run_s_live_count() -> None:
    """A sharded night is several runs: each says which shard it is. A running run shows
    the URLs checked so far before any batch's outcomes are stored ("319/600 URLs: no
    URLs" contradicted itself)."""
    running = replace(
        _RUN,
        id=5,
        finished_at=None,
        status="running",
        urls_planned=600,
        urls_checked=319,
        summary={"shard": "3/4", "sharded_run": "d0c75f1c"},
    )
    (line,) = run_lines([running])
    assert line.endswith("319/600 URLs: no outcomes stored yet; shard 3/4")
    done = replace(running, status="completed", urls_checked=600, counts={"ok": 600})
    assert run_lines([done])[0].endswith("600/600 URLs: 600 ok; shard 3/4")


def test_status_says_for_how_many_urls_a_run_that_reached_sites_lost_the_network() -> None:
    """A run whose later batch found none of its hosts reached the others: NETWORK
    UNAVAILABLE alone read as a night that learned nothing, beside a confirmed break."""
    lost = replace(
        _RUN,
        id=9,
        urls_planned=20,
        urls_checked=20,
        counts={"network_unavailable": 10, "not_found": 1, "ok": 9},
        network_unavailable=True,
        duration_s=3.0,
    )
    (line,) = run_lines([lost])
    assert line.endswith("9 ok; NETWORK UNAVAILABLE for 10 URLs"), line
    (down,) = run_lines([replace(lost, counts={"network_unavailable": 20})])
    assert down.endswith("20/20 URLs: 20 network_unavailable; NETWORK UNAVAILABLE"), down


def _serve_here(
    monkeypatch: pytest.MonkeyPatch, args: list[str], lock: Path | None = None
) -> tuple[Any, dict[str, Any]]:
    """`linkhealth serve ARGS` in the current folder, with no Prefect server and a stand-in
    for `prefect.serve` that notes which settings a flow run started now would read
    (`lock`: serve's lock file, if not one of the test's own)."""
    import prefect

    import flows.serve
    from catalog.settings import load_settings
    from flows.cli import app

    serve_without_prefect(monkeypatch)
    if lock is not None:
        monkeypatch.setattr(flows.serve, "SERVE_LOCK", lock)
    seen: dict[str, Any] = {}

    def fake_serve(*deployments: Any, print_starting_message: bool = True, **options: Any) -> None:
        seen["deployments"] = [d.name for d in deployments]
        seen["settings"] = load_settings()  # as a flow run in this folder would
        seen["cwd"] = Path.cwd()

    monkeypatch.setattr(prefect, "serve", fake_serve)
    return CliRunner().invoke(app, ["serve", *args]), seen


def test_serve_that_lost_its_prefect_api_says_so_in_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After minutes without its API, Prefect's runner raised a group of its services'
    errors: a traceback of a hundred lines, and the schedules paused without a word."""
    import httpx
    import prefect

    from flows.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    serve_without_prefect(monkeypatch)

    def lost(*deployments: Any, print_starting_message: bool = True, **options: Any) -> None:
        gone = httpx.ConnectError("All connection attempts failed")
        try:
            raise RuntimeError("Service exceeded error threshold.") from gone
        except RuntimeError as exc:
            raise ExceptionGroup("unhandled errors in a TaskGroup", [exc]) from None

    monkeypatch.setattr(prefect, "serve", lost)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1, result.output
    said = result.stderr.splitlines()[-1]  # after serve's line on the settings it uses
    assert said.startswith(
        "error: http://127.0.0.1:4999/api stopped answering, so Prefect stopped serving the "
        "deployments (and may have paused their schedules: serving again resumes them); "
    )
    assert "Traceback" not in result.stderr

    def broken(*deployments: Any, print_starting_message: bool = True, **options: Any) -> None:
        raise ExceptionGroup("unhandled errors in a TaskGroup", [KeyError("ours")])

    monkeypatch.setattr(prefect, "serve", broken)  # any other failure is no API loss
    result = CliRunner().invoke(app, ["serve"])
    assert isinstance(result.exception, ExceptionGroup)


def test_serve_runs_flows_with_the_settings_of_the_folder_it_was_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator serving from a catalog folder means that folder's linkhealth.toml, as
    for every other command; the flow runs start in the checkout, whose own file won."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    (folder / "linkhealth.toml").write_text('database_url = "sqlite:///here.db"\n')
    monkeypatch.chdir(folder)
    result, seen = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    assert seen["cwd"] == ROOT  # runs start in the project folder, as a worker's do
    assert seen["settings"].config_file == folder / "linkhealth.toml"
    assert seen["settings"].database_url == f"sqlite:///{folder / 'here.db'}"
    assert f"Flow runs read the settings of {folder / 'linkhealth.toml'}" in result.stderr


def test_serve_names_the_reports_folder_its_runs_write_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """var/reports held a trial database's report: serve said "the reports in var/reports"
    and every night's report went to var/reports-local beside it."""
    folder = tmp_path / "catalogs"
    (folder / "var" / "reports").mkdir(parents=True)
    (folder / "linkhealth.toml").write_text('database_url = "sqlite:///var/local.db"\n')
    trial = f"{folder / 'var' / 'trial.db'}"
    (folder / "var" / "reports" / OWNER_FILE).write_text(trial + "\n")
    monkeypatch.chdir(folder)
    result, _ = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    local = folder / "var" / "reports-local"
    said = " ".join(result.stderr.split())
    assert (
        f"the reports in {local} ({folder / 'var' / 'reports'} holds the reports of another "
        "database)." in said
    )
    assert not local.exists()  # named, not claimed
    # Where the night's report goes (`publish_report` names the folder after the file).
    written = report_folder(
        folder / "var" / "reports", f"{folder / 'var' / 'local.db'}", readable="local"
    )
    assert written == local


def test_what_the_settings_file_leaves_to_the_defaults_is_in_the_folder_serve_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A linkhealth.toml naming only the catalogs: a command run here keeps its database
    and reports in this folder's var/; the served runs, started in the checkout, kept
    theirs in the checkout's, and `linkhealth status` here never saw a served night."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    (folder / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    monkeypatch.chdir(folder)
    here = absolute_sqlite_url(load_settings().database_url)  # as a command here reads it
    result, seen = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    assert seen["cwd"] == ROOT
    assert seen["settings"].database_url == f"sqlite:///{folder / 'var' / 'linkhealth.db'}"
    assert seen["settings"].reports_dir == folder / "var" / "reports"
    assert here == seen["settings"].database_url
    said = " ".join(result.stderr.split())
    assert (
        f"the database sqlite:///{folder / 'var' / 'linkhealth.db'}, the reports in "
        f"{folder / 'var' / 'reports'}." in said  # free: no other database's reports in it
    )


def test_serve_warns_when_earlier_served_runs_kept_their_database_in_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served runs of an earlier version used the checkout's var/ for a file that names no
    database; they now use this folder's, which would seem to start history afresh."""
    import flows.serve

    home, folder = tmp_path / "checkout", tmp_path / "catalogs"
    (home / "var").mkdir(parents=True)
    (home / "var" / "linkhealth.db").write_bytes(b"")
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    folder.mkdir()
    (folder / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    monkeypatch.setattr(flows.serve, "CHECKOUT", home)
    monkeypatch.chdir(folder)
    result, _ = _serve_here(monkeypatch, [])
    said = " ".join(result.stderr.split())
    assert f"kept their database in {home / 'var' / 'linkhealth.db'}" in said
    assert "linkhealth db copy --db sqlite:///" in said
    named = tmp_path / "named"
    named.mkdir()
    (named / "linkhealth.toml").write_text('database_url = "sqlite:///mine.db"\n')
    monkeypatch.chdir(named)
    result, _ = _serve_here(monkeypatch, [])  # a file that names its database: no warning
    assert "kept their database" not in " ".join(result.stderr.split())


def test_serve_does_not_offer_a_checkout_database_of_other_catalogs_as_earlier_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator who ran `make run` in the checkout (the bundled toolkit, into the
    checkout's var/linkhealth.db) and then serves their own catalog from its folder was told
    that runs served "by an earlier version" kept their database there, and to copy it in:
    which would have put the bundled toolkit into their reports for good. Only a database
    holding one of the served catalogs' collections is their earlier history."""
    import flows.serve
    from flows.cli import app

    home, folder = tmp_path / "checkout", tmp_path / "catalogs"
    (home / "var").mkdir(parents=True)
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    earlier = home / "var" / "linkhealth.db"
    copy_migrated_sqlite(earlier)  # synced into, not migrated, here
    bundled = ROOT / "catalog" / "data" / "psp-human-trafficking-toolkit.yaml"
    synced = CliRunner().invoke(app, ["sync", "--db", f"sqlite:///{earlier}", "-c", str(bundled)])
    assert synced.exit_code == 0, synced.output
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "collection: {title: Mine}\nresources:\n"
        "  - {id: a, title: A report, url: 'https://example.org/a'}\n"
    )
    (folder / "linkhealth.toml").write_text('catalogs = ["mine.yaml"]\n')
    monkeypatch.setattr(flows.serve, "CHECKOUT", home)
    monkeypatch.chdir(folder)
    result, _ = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    assert "kept their database" not in " ".join(result.stderr.split())

    # The same file, having served this catalog before: its history, offered as before.
    mine = CliRunner().invoke(
        app, ["sync", "--db", f"sqlite:///{earlier}", "-c", str(folder / "mine.yaml")]
    )
    assert mine.exit_code == 0, mine.output
    monkeypatch.chdir(folder)  # serve went on into the checkout
    result, _ = _serve_here(monkeypatch, [])
    assert f"kept their database in {earlier}" in " ".join(result.stderr.split())


def test_serve_without_any_settings_file_says_where_the_runs_keep_their_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no linkhealth.toml anywhere, the built-in defaults' relative paths are read
    where the flow runs start, the project folder: their database and reports are there,
    not in the folder `serve` was started in, where `linkhealth status` or `report` look.
    "The built-in defaults" alone let an operator expect this folder's var/."""
    home, here = tmp_path / "checkout", tmp_path / "catalogs"
    home.mkdir()
    here.mkdir()
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    monkeypatch.chdir(here)
    import flows.serve

    monkeypatch.setattr(flows.serve, "CHECKOUT", home)  # the project folder, with no file
    result, seen = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    assert seen["cwd"] == home and seen["settings"].config_file is None
    assert seen["settings"].database_url == "sqlite:///var/linkhealth.db"  # read in home
    said = " ".join(result.stderr.split())
    assert f"{home / 'var' / 'linkhealth.db'}" in said
    assert f"{home / 'var' / 'reports'}" in said
    monkeypatch.chdir(home)  # served from the project folder: its var/ is this folder's
    result, seen = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    assert "not this folder's" not in " ".join(result.stderr.split())


def test_serve_keeps_a_relative_database_of_the_environment_in_this_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LINKHEALTH_DATABASE_URL=sqlite:///var/env.db: the flow runs, started in the project
    folder, made their database there, while `linkhealth status` here found none."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///var/env.db")
    result, seen = _serve_here(monkeypatch, [])
    assert result.exit_code == 0, result.output
    assert seen["cwd"] == ROOT
    assert seen["settings"].database_url == f"sqlite:///{tmp_path / 'var' / 'env.db'}"


def test_a_second_serve_of_one_checkout_is_refused_while_the_first_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a second `serve` stopped, Prefect's runner paused the schedules of the
    deployments both served: the first kept running with its nightly run paused."""
    import fcntl

    import flows.serve

    home = tmp_path / "checkout"
    (home / "var").mkdir(parents=True)
    shutil.copy(ROOT / "prefect.yaml", home / "prefect.yaml")
    monkeypatch.setattr(flows.serve, "CHECKOUT", home)
    monkeypatch.setattr(flows.serve, "SERVE_LOCK_WAIT_S", 0.2)
    monkeypatch.chdir(tmp_path)
    lock = home / "var" / "serve.lock"
    with lock.open("a+") as first:
        fcntl.flock(first, fcntl.LOCK_EX)  # as the first serve holds it while it runs
        first.write("pid 4242\n")
        first.flush()
        result, seen = _serve_here(monkeypatch, [], lock=lock)
    # 2: the systemd unit does not restart on it (RestartPreventExitStatus=2); on 1 a
    # duplicate unit retried every 10 s for good.
    assert result.exit_code == 2 and not seen, result.output
    assert f"`linkhealth serve` runs from {home} already (pid 4242" in result.stderr
    result, seen = _serve_here(monkeypatch, [], lock=lock)  # the first one has stopped
    assert result.exit_code == 0 and seen["cwd"] == home, result.output


def test_serve_takes_config_and_refuses_a_broken_one_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text('reports_dir = "out"\n')
    result, seen = _serve_here(monkeypatch, ["--config", "mine.toml"])
    assert result.exit_code == 0, result.output
    assert seen["settings"].config_file == tmp_path / "mine.toml"
    (tmp_path / "bad.toml").write_text("[check]\nconcurrency = 'many'\n")
    result, seen = _serve_here(monkeypatch, ["--config", "bad.toml"])
    assert result.exit_code == 2 and "bad.toml" in result.stderr and not seen


def test_ctrl_c_on_serve_stops_it_as_sigterm_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's runner answers SIGTERM by cancelling the flow runs in progress (they end
    Cancelled); a KeyboardInterrupt made it exit with the run left Running in Prefect, its
    deployment's concurrency slot held for minutes. Ctrl-C must reach it as SIGTERM."""
    import signal

    import prefect

    monkeypatch.chdir(tmp_path)
    serve_without_prefect(monkeypatch)
    heard: list[str] = []

    def serving(*deployments: Any, print_starting_message: bool = True, **options: Any) -> None:
        # As Prefect's Runner.start does; then the operator presses Ctrl-C.
        before = signal.signal(signal.SIGTERM, lambda *_: heard.append("SIGTERM"))
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs between bytecodes of this (main) thread
        except KeyboardInterrupt:
            heard.append("KeyboardInterrupt")
        finally:
            signal.signal(signal.SIGTERM, before)

    monkeypatch.setattr(prefect, "serve", serving)
    from flows.cli import app

    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 130, result.output  # as any command stopped by Ctrl-C
    assert heard == ["SIGTERM"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_the_serve_unit_says_a_stopped_run_ends_aborted_as_the_readme_does() -> None:
    """SIGTERM from systemd stops the run in progress on purpose: it ends aborted, not
    failed (`flows.check_flow.was_stopped`); the unit's comment is what an operator
    reads before `systemctl stop`."""
    unit = (ROOT / "deploy" / "systemd" / "linkhealth-serve.service").read_text()
    comments = " ".join(
        line.lstrip("# ").strip() for line in unit.splitlines() if line.startswith("#")
    )
    assert "recorded as aborted" in comments
    assert "recorded as failed" not in comments


def test_plan_recheck_finds_an_edit_made_after_the_clock_was_set_back(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The night's check was stamped day 3 by a clock a day fast; NTP set it right and the
    curator retitled b at day 2.5. The edit is stamped before the check it came after:
    `recheck --changed` must still pick it, not leave it for the next night."""
    entries = [
        {"id": "a", "title": "A", "url": "https://example.org/a"},
        {"id": "b", "title": "B", "url": "https://example.org/b"},
    ]
    catalog_file = _write(tmp_path / "toolkit.yaml", entries)
    settings = Settings(database_url=migrated_db_url, catalogs=(catalog_file,))
    plan_recheck(settings, changed_only=True, clock=lambda: days(0))
    engine = open_engine(settings.database_url)
    run_id = store.start_run(engine, trigger="test", now=days(3))
    observations = [make_observation(f"https://example.org/{r}", checked_at=days(3)) for r in "ab"]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=days(3))
    assert plan_recheck(settings, changed_only=True, clock=lambda: days(2.4)).ids == ()
    _write(catalog_file, [entries[0], {**entries[1], "title": "B, second edition"}])
    plan = plan_recheck(settings, changed_only=True, clock=lambda: days(2.5))
    assert plan.ids == ("b",) and plan.sync_changes == 1
    engine.dispose()


def test_serve_asks_no_throwaway_prefect_server_about_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect reads its API URL once, at import: with none then, its client starts a
    temporary server (15 s here, left running when the process is killed) whatever the
    environment says later. Whether a pool has a worker is only worth a warning."""
    import prefect
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.serve import pools_with_workers

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")  # after the import
    asked: list[bool] = []

    def client(*args: Any, **kwargs: Any) -> Any:
        asked.append(True)
        raise RuntimeError("a client of a temporary server")

    monkeypatch.setattr(prefect, "get_client", client)
    # As a process that imported Prefect with no API URL reads it (a test before, in this
    # process, may have given its settings one).
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert pools_with_workers([object()]) == []
    assert asked == []


def test_a_verdict_says_what_the_recheck_learned_and_labels_an_older_state_as_such() -> None:
    """Only what this recheck's run stored is news: a link it did not check, or tried
    while our network was down, keeps its old state, which is shown as the last known."""
    refused = Link(state="suspect", outcome=Outcome.CONNECTION_REFUSED, reason="no answer")
    statuses = [Status("fresh"), Status("offline", refused), Status("skipped", refused)]
    this_run = {("toolkit", "fresh"): "ok", ("toolkit", "offline"): "network_unavailable"}
    lines = verdict_lines(statuses, ["fresh", "offline", "skipped"], this_run=this_run)
    old = f"Last known state, from its check of {CHECKED_AT:%Y-%m-%d %H:%M} UTC: Connection refused"
    assert lines == [
        "toolkit/fresh: OK",
        f"toolkit/offline: not checked by this recheck: our network was down. {old}"
        ", failing, not yet confirmed - no answer",
        f"toolkit/skipped: not checked by this recheck. {old}"
        ", failing, not yet confirmed - no answer",
    ]


def test_a_verdicts_reason_that_ends_a_sentence_takes_its_drift_without_a_stray_full_stop() -> None:
    moved = Link(
        outcome=Outcome.REDIRECTED_PERMANENT,
        reason="Redirected permanently (301) to https://x.org/new; the new page answers 200.",
        drift_reason="The page now sells casino bonuses.",
    )
    (line,) = verdict_lines([Status("a", moved)], ["a"])
    assert "answers 200; the page no longer matches its entry: The page now sells" in line, line
