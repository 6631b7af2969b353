"""`linkhealth db prune`: old observations go, what curators and health checks need stays."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from typer.testing import CliRunner

import catalog.db
import catalog.retention
from catalog import store
from catalog.model import pack_text
from catalog.outcomes import Outcome
from catalog.queries import iter_resources, report_data
from catalog.retention import prune_observations
from catalog.settings import HealthSettings, Settings
from catalog.store import DRIFT_HISTORY, read_session
from catalog.sync import sync_catalogs
from catalog.tables import Event, Link, Observation, Run
from flows.cli import app
from reports.publish import OWNER_FILE, database_name, prune_run_reports, report_folder
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)
from tests.test_drift import HOTLINE

HOTLINE_URL = "https://humantraffickinghotline.org/"
GONE_URL = "https://example.org/gone"
KIT = make_catalog(
    "toolkit",
    [
        make_resource(
            "hotline",
            HOTLINE_URL,
            title="National Human Trafficking Hotline",
            description="24/7 confidential hotline for victims and survivors of human "
            "trafficking; report a tip by phone, text or online chat.",
        ),
        make_resource("gone", GONE_URL, title="Removed guide"),
    ],
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """30 nightly runs: the hotline checked every night with its page text, the other link
    only until night 10 (its entry was then checked no more, e.g. a broken host)."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        title, text = HOTLINE
        for night in range(30):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            batch = [
                make_observation(
                    HOTLINE_URL,
                    checked_at=days(night),
                    title=title,
                    text_sample_packed=pack_text(text),
                )
            ]
            if night <= 10:
                batch.append(make_observation(GONE_URL, checked_at=days(night)))
            store.record_observations(engine, run_id, batch, HealthSettings(), now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night))
        yield engine


def _checked_days(engine: Engine, url: str) -> list[float]:
    with read_session(engine) as s:
        times = s.scalars(
            select(Observation.checked_at)
            .join(Link, Link.id == Observation.link_id)
            .where(Link.url == url)
            .order_by(Observation.checked_at)
        )
        return [round((t - days(0)).total_seconds() / 86400, 3) for t in times]


def _count(engine: Engine, table: type) -> int:
    with read_session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _drift_baseline(engine: Engine) -> dict[str, list[float]]:
    with read_session(engine) as s:
        link_id = s.scalar(select(Link.id).where(Link.url == HOTLINE_URL))
        assert link_id is not None
        return store._observations._relevance_history(s, link_id)


def test_prune_keeps_recent_history_each_links_latest_and_everything_else(
    engine: Engine,
) -> None:
    events, runs = _count(engine, Event), _count(engine, Run)
    baseline = _drift_baseline(engine)
    assert baseline and all(len(scores) == DRIFT_HISTORY for scores in baseline.values())

    result = prune_observations(engine, keep_days=7, now=days(29))

    # The last 7 days of the hotline (nights 22..29), plus the two nights before them
    # that complete its 10-observation drift baseline.
    assert _checked_days(engine, HOTLINE_URL) == [float(n) for n in range(20, 30)]
    # The other link was last checked on night 10: that observation is its state's source.
    assert _checked_days(engine, GONE_URL) == [10.0]
    assert result.deleted == (30 + 11) - (10 + 1)
    assert result.kept_old == 2 + 1
    with read_session(engine) as s:
        dangling = s.scalar(
            select(func.count())
            .select_from(Link)
            .outerjoin(Observation, Observation.id == Link.last_observation_id)
            .where(Link.last_observation_id.is_not(None), Observation.id.is_(None))
        )
    assert dangling == 0
    assert (_count(engine, Event), _count(engine, Run)) == (events, runs)
    assert _drift_baseline(engine) == baseline


def test_prune_is_idempotent_and_a_long_window_deletes_nothing(engine: Engine) -> None:
    assert prune_observations(engine, keep_days=60, now=days(29)).deleted == 0
    first = prune_observations(engine, keep_days=7, now=days(29), chunk=4)
    assert first.deleted == 30
    assert prune_observations(engine, keep_days=7, now=days(29)).deleted == 0


def test_progress_is_reported_per_chunk(engine: Engine) -> None:
    seen: list[tuple[int, int]] = []
    prune_observations(
        engine, keep_days=7, now=days(29), chunk=8, on_progress=lambda *a: seen.append(a)
    )
    assert seen == [(8, 30), (16, 30), (24, 30), (30, 30)]


def test_keep_days_below_one_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        prune_observations(engine, keep_days=0.5, now=days(29))


def test_cli_prune_reports_what_it_deleted(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "prune", "--keep-days", "3650", "--db", url])
    assert result.exit_code == 0, result.output
    assert "Deleted 0 observation(s)" in result.stdout

    refused = CliRunner().invoke(app, ["db", "prune", "--keep-days", "0", "--db", url])
    assert refused.exit_code == 2
    assert "--keep-days" in refused.stderr


def test_prune_leaves_the_checks_each_queue_row_counts(tmp_path: Path) -> None:
    """A login wall, a redirect nobody accepted and a drifted page stay in the queue for
    months, their rows counting the checks that saw the problem: pruning the old checks
    must not make those counts drop (the README promises the report unchanged)."""
    redirect, login = "https://example.org/moved", "https://example.org/portal"
    kit = make_catalog(
        "toolkit",
        [make_resource("moved", redirect), make_resource("portal", login)],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(30):
            batch = [
                make_observation(redirect, Outcome.REDIRECTED_PERMANENT, days(night)),
                make_observation(login, Outcome.BLOCKED, days(night)),
            ]
            if night in (12, 20):  # our network was down: no check of either
                batch = [replace(o, outcome=Outcome.NETWORK_UNAVAILABLE) for o in batch]
            store.record_observations(engine, None, batch, HealthSettings(), now=days(night))

        def checks() -> dict[str, int]:
            counted = {r.resource_id: r.checks_since for r in report_data(engine).resources}
            # The flow's queue head streams them, each chunk counting its own links' checks.
            streamed = {r.resource_id: r.checks_since for r in iter_resources(engine, chunk=1)}
            assert streamed == counted
            return counted

        before = checks()
        assert before == {"moved": 28, "portal": 28}
        prune_observations(engine, keep_days=7, now=days(29))
        assert checks() == before
        # A second prune, and the checks of the nights after it, add up the same way.
        for night in range(30, 45):
            batch = [
                make_observation(redirect, Outcome.REDIRECTED_PERMANENT, days(night)),
                make_observation(login, Outcome.BLOCKED, days(night)),
            ]
            store.record_observations(engine, None, batch, HealthSettings(), now=days(night))
        prune_observations(engine, keep_days=7, now=days(44))
        assert checks() == {"moved": 43, "portal": 43}

        # A new problem starts the count again: the checks pruned belonged to the old one.
        store.record_observations(
            engine,
            None,
            [make_observation(redirect, checked_at=days(45))],
            HealthSettings(),
            now=days(45),
        )
        store.record_observations(
            engine,
            None,
            [make_observation(redirect, Outcome.REDIRECTED_PERMANENT, days(46))],
            HealthSettings(),
            now=days(46),
        )
        assert checks()["moved"] == 1


class _CountingCursor(sqlite3.Cursor):
    """Counts the rows each statement hands to Python (`_CountingConnection.most`)."""

    def execute(self, *args: Any, **kwargs: Any) -> _CountingCursor:
        self._fetched = 0
        return super().execute(*args, **kwargs)  # type: ignore[return-value]

    def _count(self, rows: list[Any]) -> list[Any]:
        self._fetched += len(rows)
        _CountingConnection.most = max(_CountingConnection.most, self._fetched)
        return rows

    def fetchone(self) -> Any:
        row = super().fetchone()
        self._count([] if row is None else [row])
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._count(super().fetchmany(size) if size is not None else super().fetchmany())

    def fetchall(self) -> list[Any]:
        return self._count(super().fetchall())


class _CountingConnection(sqlite3.Connection):
    #: The most rows one statement handed over, on any connection.
    most = 0

    def cursor(self, factory: Any = _CountingCursor) -> Any:
        return super().cursor(factory)


def test_no_query_of_a_prune_hands_python_more_than_a_chunk_of_rows(
    engine: Engine, tmp_path: Path
) -> None:
    """Memory independent of the database's size, pinned structurally: the prune held every
    old id and every kept one in Python (~155 bytes a row: 5-6 GB for a year of a 100,000
    URL catalog). Now no statement returns more than `chunk` rows, whatever is deleted."""
    if engine.dialect.name != "sqlite":
        pytest.skip("counts the rows the SQLite driver hands over")
    counting = create_engine(engine.url, connect_args={"factory": _CountingConnection})
    _CountingConnection.most = 0
    try:
        result = prune_observations(counting, keep_days=7, now=days(29), chunk=4)
    finally:
        counting.dispose()
    assert result.deleted == 30 and result.kept_old == 3
    assert 0 < _CountingConnection.most <= 4


def test_the_scan_and_the_vacuum_are_said(engine: Engine) -> None:
    scanned: list[tuple[int, int]] = []
    vacuumed: list[bool] = []
    prune_observations(
        engine,
        keep_days=7,
        now=days(29),
        chunk=1,
        on_scan=lambda *a: scanned.append(a),
        on_vacuum=lambda: vacuumed.append(True),
    )
    assert scanned == [(1, 2), (2, 2)]
    assert vacuumed == ([True] if engine.dialect.name == "sqlite" else [])


def test_a_vacuum_that_fails_keeps_the_deletions_and_the_next_prune_compacts(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VACUUM writes a copy of the file: on a nearly full disk (or a file a shell locks
    meanwhile) it fails after the deletions were committed. The prune ended in the store's
    "the write was rolled back, run the command again", but the deletions stood, and the
    prune run again deleted nothing and so never compacted."""
    if engine.dialect.name != "sqlite":
        pytest.skip("VACUUM is SQLite's")
    monkeypatch.setattr(catalog.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine.dispose()  # connections opened from here on wait 0.2 s for a lock
    path = engine.url.database
    assert path is not None
    shell = sqlite3.connect(path, isolation_level=None)

    def a_shell_takes_the_lock() -> None:
        shell.execute("BEGIN IMMEDIATE")

    try:
        first = prune_observations(
            engine, keep_days=7, now=days(29), on_vacuum=a_shell_takes_the_lock
        )
    finally:
        shell.execute("ROLLBACK")
        shell.close()
    assert first.deleted > 0
    assert first.not_compacted is not None and "is locked" in first.not_compacted
    assert _count(engine, Observation) == 41 - first.deleted

    # A year's pruning frees far more than this fixture's 30 small rows do.
    monkeypatch.setattr(catalog.retention, "COMPACT_FREE_SHARE", 0.05)
    again = prune_observations(engine, keep_days=7, now=days(29))
    assert again.deleted == 0 and again.not_compacted is None
    assert again.bytes_after is not None and first.bytes_after is not None
    assert again.bytes_after < first.bytes_after


def test_cli_prune_whose_vacuum_failed_says_the_deletions_stand_and_exits_3(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def vacuum_failed(*args: Any, **kwargs: Any) -> Any:
        return replace(prune_observations(*args, **kwargs), not_compacted="the disk is full")

    monkeypatch.setattr(catalog.retention, "prune_observations", vacuum_failed)
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "prune", "--keep-days", "7", "--db", url])
    assert result.exit_code == 3, result.output
    assert "Deleted " in result.stdout
    assert result.stderr.strip().endswith(
        "the deletions are kept, but the file was not compacted (VACUUM writes a copy of "
        "it first, so it needs about its size free): the disk is full"
    )


def test_a_keep_days_past_a_hundred_years_is_refused_not_an_overflow(engine: Engine) -> None:
    """`--keep-days 800000` ended in an OverflowError traceback computing the cutoff."""
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["db", "prune", "--keep-days", "800000", "--db", url])
    assert result.exit_code == 2, result.output
    assert "--keep-days" in result.stderr and "36500" in result.stderr
    assert "Traceback" not in result.output and "Overflow" not in result.output
    with pytest.raises(ValueError, match="at most 36500"):
        prune_observations(engine, keep_days=800_000, now=days(29))


def test_a_run_in_progress_puts_the_vacuum_off_to_the_next_prune(engine: Engine) -> None:
    """VACUUM holds the write lock while it copies the file, minutes for years of a large
    catalog: a run's next batch waited 30 s for it, failed, and the run was abandoned with
    everything it had checked. The deletions (short transactions) go ahead."""
    if engine.dialect.name != "sqlite":
        pytest.skip("VACUUM is SQLite's")
    now = days(29)
    here = store.lease_holder()  # this process: alive
    run_id = store.start_run(engine, trigger="manual", now=now, summary={"holder": here})
    vacuumed: list[bool] = []
    result = prune_observations(
        engine, keep_days=7, now=now, on_vacuum=lambda: vacuumed.append(True)
    )
    assert result.deleted > 0 and vacuumed == []
    assert result.compact_later is not None
    assert f"run {run_id} (manual, started " in result.compact_later
    assert result.not_compacted is None


def _reports_folder(tmp_path: Path, engine: Engine, runs: Sequence[int]) -> Path:
    """A reports folder of `engine`'s database with the run reports of `runs`."""
    folder = report_folder(tmp_path / "reports", database_name(engine))
    for name in ("index.html", "latest.html", "latest.md", "style.css"):
        (folder / name).write_text("latest", encoding="utf-8")
    for run in runs:
        for suffix in ("html", "md", "csv", "json"):
            (folder / f"run-{run}.{suffix}").write_text(f"run {run}", encoding="utf-8")
    return folder


def test_prune_deletes_old_run_reports_but_the_earlier_nights_the_latest_links(
    engine: Engine, tmp_path: Path
) -> None:
    """A year of nights left a `run-N.html` each, never deleted: the folder only grew."""
    folder = _reports_folder(tmp_path, engine, range(1, 31))
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    settings = replace(settings, reports_dir=tmp_path / "reports")
    result = prune_run_reports(settings, engine, days(22))
    # Runs 1-14 started more than EARLIER_NIGHTS_DAYS (15) days before the latest one:
    # their files go.
    assert (result.folder, result.files) == (folder, 14 * 4)
    left = sorted(p.name for p in folder.iterdir())
    assert [n for n in left if n.startswith("run-")] == sorted(
        f"run-{run}.{s}" for run in range(15, 31) for s in ("html", "md", "csv", "json")
    )
    assert {"index.html", "latest.html", "latest.md", "style.css", OWNER_FILE} <= set(left)


def test_prune_counts_the_linked_nights_back_from_the_run_the_report_shows(
    engine: Engine, tmp_path: Path
) -> None:
    """A run started since and not finished (running, or died unrecorded) is not the one the
    latest report shows: counted back from its start, the shown run's own page and the
    nights its report links were deleted (review)."""
    folder = _reports_folder(tmp_path, engine, range(1, 31))
    store.start_run(engine, trigger="schedule", now=days(45))  # never finished
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    settings = replace(settings, reports_dir=tmp_path / "reports")

    result = prune_run_reports(settings, engine, days(44))

    assert result.files == 14 * 4  # as without the unfinished run
    assert sorted(p.name for p in folder.glob("run-*.html")) == sorted(
        f"run-{run}.html" for run in range(15, 31)
    )


def test_cli_prune_deletes_old_run_reports_of_its_own_database_only(
    engine: Engine, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    folder = _reports_folder(tmp_path, engine, (1, 29, 30))
    other = tmp_path / "other"
    report_folder(other, "sqlite:////elsewhere/other.db")
    (other / "run-1.html").write_text("another database's", encoding="utf-8")
    config = tmp_path / "linkhealth.toml"
    config.write_text(f'reports_dir = "{folder}"\n', encoding="utf-8")
    result = CliRunner().invoke(
        app, ["db", "prune", "--keep-days", "7", "--db", url, "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "Deleted 4 report file(s) of earlier runs" in result.stdout
    # The latest run's report stays, however old, and the night before it, which its
    # report links, though both are older than --keep-days.
    assert sorted(p.name for p in folder.glob("run-*")) == [
        f"run-{run}.{s}" for run in (29, 30) for s in ("csv", "html", "json", "md")
    ]
    config.write_text(f'reports_dir = "{other}"\n', encoding="utf-8")
    again = CliRunner().invoke(
        app, ["db", "prune", "--keep-days", "7", "--db", url, "--config", str(config)]
    )
    assert again.exit_code == 0, again.output
    assert (other / "run-1.html").is_file()


def test_cli_prune_with_an_unusable_reports_folder_keeps_its_deletions_and_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    """`reports_dir` naming a file: the prune deleted the observations, then failed on the
    run reports with `error: Not a directory: .../.linkhealth-database` and exit 1, its
    file-size line lost: a weekly prune timer read as failed though it pruned."""
    url = engine.url.render_as_string(hide_password=False)
    not_a_folder = tmp_path / "reports.txt"
    not_a_folder.write_text("a file\n", encoding="utf-8")
    config = tmp_path / "linkhealth.toml"
    config.write_text(f'reports_dir = "{not_a_folder}"\n', encoding="utf-8")
    with read_session(engine) as s:
        before = s.scalar(select(func.count()).select_from(Observation)) or 0

    result = CliRunner().invoke(
        app, ["db", "prune", "--keep-days", "7", "--db", url, "--config", str(config)]
    )

    assert result.exit_code == 0, result.output
    assert "Deleted " in result.stdout
    if engine.dialect.name == "sqlite":  # compacted: its sizes said (PostgreSQL's autovacuum)
        assert "Database file:" in result.stdout
    assert result.stderr.strip().endswith(
        f"note: the reports of earlier runs were not all deleted: {not_a_folder} is a file, "
        "not a folder"
    ), result.stderr
    with read_session(engine) as s:
        assert (s.scalar(select(func.count()).select_from(Observation)) or 0) < before


def test_prune_keeps_the_new_address_of_a_link_whose_host_lapsed_after_it_moved(
    tmp_path: Path,
) -> None:
    """A site moved (a permanent redirect for months), then its old host lapsed: the report
    offered the new address as the fix, until a prune deleted the redirect it came from."""
    old, new = "https://moved.example/guide", "https://new.example/guide"
    kit = make_catalog("toolkit", [make_resource("moved", old)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(30):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            if night < 10:
                obs = make_observation(
                    old,
                    Outcome.REDIRECTED_PERMANENT,
                    checked_at=days(night),
                    final_url=new,
                    suggested_url=new,
                )
            else:
                obs = make_observation(old, Outcome.DNS_ERROR, checked_at=days(night))
            store.record_observations(engine, run_id, [obs], HealthSettings(), now=days(night))
            store.finish_run(engine, run_id, status="completed", now=days(night))

        def suggested() -> str | None:
            (row,) = report_data(engine).resources
            return row.suggested_url

        assert suggested() == new
        prune_observations(engine, keep_days=7, now=days(29))
        assert suggested() == new
        # Only that one check was kept of the old ones, besides the latest.
        assert _checked_days(engine, old) == [9.0, *range(22, 30)]
