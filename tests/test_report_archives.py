"""A reports folder keeps `run-<id>.html`, the record of each run's night, beside the
latest.* files and the site of the latest run. A refused run (its catalog does not load)
writes the latest report again to head it with the refusal, but leaves the night before's
record as that night wrote it; and two runs ending close together (a recheck during a
nightly) leave the files a run writes alone, whichever of them ends last."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from catalog.clock import Clock, utcnow
from catalog.db import open_engine
from catalog.errors import CatalogError
from catalog.runs import FULL_RUN_LEASE, finish_run, prepare_run
from catalog.settings import Settings
from reports import publish_report, publish_report_files
from reports.publish import LOCK_FILE, ReportWriteError
from reports.render import INDEX_QUEUE_LIMIT
from tests.factories import Ticker, settings_for, write_catalog

ENTRIES = [
    {"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"},
    # Plain http: a hygiene finding, shown only while the catalog loads.
    {"id": "r2", "title": "Resource 2", "url": "http://example.org/r2"},
]


def _settings(migrated_db_url: str, catalog: Path, reports: Path) -> Settings:
    engine = open_engine(migrated_db_url)
    try:
        return settings_for(engine, [catalog]).with_overrides(reports_dir=reports)
    finally:
        engine.dispose()


def _run(settings: Settings, clock: Clock, *, ids: list[str] | None = None) -> int:
    """A run that checked nothing, started and ended at the clock's time."""
    full = ids is None
    run = prepare_run(
        settings,
        trigger="schedule" if full else "recheck",
        resource_ids=ids,
        lease=FULL_RUN_LEASE if full else None,
        clock=clock,
    )
    finish_run(settings, run.run_id, stored=[], lease=run.lease, clock=clock)
    return run.run_id


def _names(paths: tuple[Path, ...]) -> list[str]:
    return [p.name for p in paths]


def test_a_refused_run_leaves_the_archive_of_the_night_before_as_it_was(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """Night 13's archive lost its hygiene section when night 14 was refused for a broken
    catalog: the refused run wrote the latest report again, archive included."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    clock = Ticker()
    night = _run(settings, clock)
    publish_report_files(settings, run_id=night)
    archive = reports / f"run-{night}.html"
    written = archive.read_bytes()
    assert b"http://example.org/r2" in written  # its hygiene finding

    write_catalog(catalog, [*ENTRIES, ENTRIES[0]])  # r1 twice: the next night is refused
    clock.at(1)
    with pytest.raises(CatalogError):
        prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    files = publish_report_files(settings)  # as the refused run writes it again

    assert archive.read_bytes() == written
    assert files.run_html is None and archive not in files.paths  # not listed as written
    assert files.main == reports / "latest.html"
    notice = LexborHTMLParser(files.main.read_text()).css_first("#refused-notice")
    assert notice is not None and "refused" in notice.text()

    # A night whose report was never written (`--no-report`) still gets its archive.
    archive.unlink()
    assert archive in publish_report_files(settings).paths
    assert archive.is_file()


def test_linkhealth_report_leaves_a_finished_nights_page_as_that_night_wrote_it(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The curator fixed entries after night 17, then ran `linkhealth report`: run-24.html
    no longer listed what that night found, the edits showing in a night that had not
    seen them. The latest report shows the catalog now; the night's page stays."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    clock = Ticker()
    night = _run(settings, clock)
    publish_report_files(settings, run_id=night, after_run=True)  # the night's own report
    archive = reports / f"run-{night}.html"
    written = archive.read_bytes()
    finding = b'data-code="http_url"'  # r2's plain http, which the curator then fixes
    assert finding in written

    write_catalog(catalog, [ENTRIES[0], {**ENTRIES[1], "url": "https://example.org/r2"}])
    files = publish_report_files(settings)  # `linkhealth report`

    assert archive.read_bytes() == written and archive not in files.paths
    assert finding not in (reports / "latest.html").read_bytes()
    # A folder without the night's page gets it: a new --out, or a run whose report failed.
    fresh = publish_report_files(settings, out_dir=tmp_path / "new")
    assert tmp_path / "new" / f"run-{night}.html" in fresh.paths
    # `linkhealth report --run N` asks for that page: written again, with the links as now.
    again = publish_report_files(settings, run_id=night)
    assert archive in again.paths and finding not in archive.read_bytes()


def test_a_run_overtaken_by_a_later_one_writes_only_its_archive_and_names_it(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """A recheck ended during the nightly, whose run ended before the recheck's report was
    written: the recheck wrote run-<id>.html and a stray run-<id>.md."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    clock = Ticker()
    recheck = _run(settings, clock, ids=["r1"])
    clock.at(0.01)
    nightly = _run(settings, clock)

    main = publish_report(settings, run_id=recheck, after_run=True)

    assert main == reports / f"run-{recheck}.html"  # what its `Report:` line names
    written = sorted(p.name for p in reports.iterdir() if not p.name.startswith("."))
    assert written == [f"run-{recheck}.html"]  # no run-<id>.md, no latest.*, no site

    files = publish_report_files(settings, run_id=nightly, after_run=True)
    assert _names(files.paths) == [
        "latest.html",
        f"run-{nightly}.html",
        "latest.md",
        "index.html",
    ]
    # `linkhealth report --run` of an earlier run still writes every format asked for.
    earlier = publish_report_files(settings, run_id=recheck, formats=("html", "md"))
    assert _names(earlier.paths) == [f"run-{recheck}.html", f"run-{recheck}.md"]


def test_the_latest_report_overtaken_while_it_is_built_is_built_again_of_the_later_run(
    tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`linkhealth report` (or a refused run writing the report again) while a run ended:
    the files it asked for are the latest report's, so they must be the later run's."""
    import reports.publish

    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports_dir = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports_dir)
    clock = Ticker()
    first = _run(settings, clock)
    read = reports.publish.report_data
    later: list[int] = []

    def a_run_ends_meanwhile(*args: object, **kwargs: object) -> object:
        data = read(*args, **kwargs)  # type: ignore[arg-type]
        if not later:
            clock.at(1)
            later.append(_run(settings, clock))
        return data

    monkeypatch.setattr(reports.publish, "report_data", a_run_ends_meanwhile)
    files = publish_report_files(settings)

    assert later and later[0] != first
    assert _names(files.paths) == ["latest.html", f"run-{later[0]}.html", "latest.md", "index.html"]
    assert not (reports_dir / f"run-{first}.html").exists()


def test_a_report_decides_it_is_the_latest_only_while_no_other_report_is_written(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """Without it a recheck that ended first but wrote its latest.* files last replaced the
    nightly's with its own: the folder then showed a run that was not the latest."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    run_id = _run(settings, Ticker())
    free: list[bool] = []

    def another_report_starts(done: int, total: int) -> None:
        with open(reports / LOCK_FILE, "a", encoding="utf-8") as other:
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                free.append(False)
            else:
                free.append(True)

    files = publish_report_files(
        settings, run_id=run_id, after_run=True, on_progress=another_report_starts
    )

    assert free and not any(free)  # the site was written while the other one waited
    assert files.main == reports / "latest.html"
    with open(reports / LOCK_FILE, "a", encoding="utf-8") as after:
        fcntl.flock(after.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # and let go when done


@pytest.mark.flow
def test_a_checked_run_overtaken_while_its_report_is_built_names_the_file_it_wrote(
    prefect_harness: None, tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the flow: the nightly ended while the recheck's report was being built. The
    recheck's `Report:` line must name the file it wrote, and it writes its archive only."""
    import reports.publish
    from catalog import store
    from catalog.clock import utcnow
    from flows.check_flow import check_catalog

    catalog = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": "typo", "title": "Bad link", "url": "htp://x.org"}]
    )
    reports_dir = tmp_path / "reports"
    read = reports.publish.report_data
    later: list[int] = []

    def another_run_ends_meanwhile(*args: object, **kwargs: object) -> object:
        data = read(*args, **kwargs)  # type: ignore[arg-type]
        engine = open_engine(migrated_db_url)
        later.append(store.start_run(engine, trigger="schedule", now=utcnow()))
        store.finish_run(engine, later[0], status="completed", now=utcnow())
        engine.dispose()
        return data

    monkeypatch.setattr(reports.publish, "report_data", another_run_ends_meanwhile)
    summary = check_catalog(
        overrides={
            "database_url": migrated_db_url,
            "catalogs": [str(catalog)],
            "reports_dir": str(reports_dir),
        }
    )

    assert later and summary.run_id != later[0]
    written = reports_dir / f"run-{summary.run_id}.html"
    assert summary.report_path == str(written)
    assert f"Report: {written}" in summary.lines()
    assert sorted(p.name for p in reports_dir.iterdir() if not p.name.startswith(".")) == [
        written.name
    ]


@pytest.mark.flow
def test_a_sharded_night_overtaken_by_a_recheck_still_writes_its_archive(
    prefect_harness: None, tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check-catalog-sharded wrote the latest report, not its night's: a recheck that ended
    after the last shard made it the recheck's, and the night had no run-<id>.html (an
    unsharded night writes it alone then), so no later report linked it as an earlier
    night. The shard runs are made here as the shard deployment's would be."""
    import prefect
    import prefect.deployments
    from prefect.runtime import flow_run
    from prefect.states import Completed

    from catalog.shards import Shard
    from flows.check_flow import check_catalog_sharded

    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    shard_runs: list[int] = []
    recheck: list[int] = []

    def run_deployment(name: str, *, parameters: dict[str, Any], timeout: float) -> Any:
        shard = Shard.parse(parameters["shard"])
        run = prepare_run(
            settings,
            trigger=parameters["trigger"],
            flow_run_id=str(flow_id := uuid.uuid4()),
            lease=shard.lease_name,
            shard=shard,
            sharded_run=str(flow_run.id),
        )
        finish_run(settings, run.run_id, stored=[], lease=run.lease)
        shard_runs.append(run.run_id)
        return SimpleNamespace(id=flow_id)

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def read_flow_run(self, flow_id: uuid.UUID) -> Any:
            if not recheck:  # every shard has ended: a recheck ends after them
                recheck.append(_run(settings, utcnow, ids=["r1"]))
                publish_report_files(settings, run_id=recheck[0], after_run=True)
            return SimpleNamespace(state=Completed())

    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setattr(prefect, "get_client", lambda sync_client: Client())
    latest = reports / "latest.html"
    states = check_catalog_sharded(
        overrides={
            "database_url": migrated_db_url,
            "catalogs": [str(catalog)],
            "reports_dir": str(reports),
        },
        trigger="manual",
        poll_seconds=0,
    )

    assert states == {"1/2": "Completed", "2/2": "Completed"} and len(shard_runs) == 2
    night = max(shard_runs)  # the id a sharded night is known by (its last shard's)
    assert (reports / f"run-{night}.html").is_file(), "the night has no archive"
    assert not (reports / f"run-{min(shard_runs)}.html").exists()
    assert recheck and (reports / f"run-{recheck[0]}.html").is_file()
    assert f"run {recheck[0]}" in latest.read_text(encoding="utf-8").lower()


#: Plain http entries, a hygiene finding each: more than the index lists, so the findings
#: get pages of their own (hygiene/index.html), which each night's archive links.
MANY_FINDINGS = [
    {"id": f"h{i}", "title": f"Resource {i}", "url": f"http://example.org/h{i}"}
    for i in range(INDEX_QUEUE_LIMIT + 20)
]


def _paged_night(tmp_path: Path, migrated_db_url: str) -> tuple[Settings, Ticker, Path, Path, int]:
    """A night whose archive links the hygiene pages: settings, clock, catalog, reports,
    the night's run id."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", MANY_FINDINGS)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    clock = Ticker()
    night = _run(settings, clock)
    publish_report_files(settings, run_id=night, after_run=True)
    assert b'href="hygiene/index.html"' in (reports / f"run-{night}.html").read_bytes()
    return settings, clock, catalog, reports, night


@pytest.mark.parametrize("refused", [True, False], ids=["refused-run", "catalog-broken"])
def test_a_report_without_hygiene_leaves_the_hygiene_pages_archives_link(
    tmp_path: Path, migrated_db_url: str, refused: bool
) -> None:
    """With more findings than the index lists, a refused run's report (or any report while
    the catalog does not load) dropped hygiene/ from the site, and every run-<id>.html
    linking it was rewritten: "see all 320" became "its page is no longer part of the
    report", for good."""
    settings, clock, catalog, reports, first = _paged_night(tmp_path, migrated_db_url)
    clock.at(0.5)  # a second night: every archive was rewritten, not only the latest's
    publish_report_files(settings, run_id=_run(settings, clock), after_run=True)
    # The latest night's own archive is written again by a report of it while the catalog
    # does not load (the refused run keeps it); the nights before are records only.
    kept = reports.glob("run-*.html") if refused else [reports / f"run-{first}.html"]
    archives = {p: p.read_bytes() for p in kept}
    pages = sorted(p.name for p in (reports / "hygiene").iterdir())
    assert len(archives) == (2 if refused else 1) and "index.html" in pages

    if refused:
        write_catalog(catalog, [*MANY_FINDINGS, MANY_FINDINGS[0]])  # an id twice: refused
        clock.at(1)
        with pytest.raises(CatalogError):
            prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=clock)
    else:  # `linkhealth report` between a bad edit and the next run
        catalog.write_text(catalog.read_text(encoding="utf-8") + "  - [\n", encoding="utf-8")
    publish_report_files(settings)

    assert {p: p.read_bytes() for p in archives} == archives
    assert sorted(p.name for p in (reports / "hygiene").iterdir()) == pages


def test_hygiene_pages_still_go_when_the_findings_are_known_and_fewer(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The pages kept while the findings are unknown are not kept once they are known: a
    fixed catalog's report lists its few findings on the index, and the archives' links
    to the hygiene pages become plain text."""
    settings, clock, catalog, reports, night = _paged_night(tmp_path, migrated_db_url)
    write_catalog(catalog, MANY_FINDINGS[:1])  # 4 findings: fewer than the index lists
    clock.at(1)
    publish_report_files(settings, run_id=_run(settings, clock), after_run=True)

    assert not any((reports / "hygiene").iterdir())
    archive = (reports / f"run-{night}.html").read_text(encoding="utf-8")
    assert 'href="hygiene/index.html"' not in archive
    assert "its page is no longer part of the report" in archive


@pytest.mark.parametrize(
    "code",
    [errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL],
    ids=errno.errorcode.get,
)
def test_a_folder_whose_file_system_refuses_locks_gets_its_report_with_one_warning(
    tmp_path: Path,
    migrated_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
) -> None:
    """NFSv3 without lockd: every report there failed ("Free space or fix the folder"), and
    the nightly `check` exited 1 every night."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    run_id = _run(settings, Ticker())

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        files = publish_report_files(settings, run_id=run_id, after_run=True)

    assert files.main == reports / "latest.html" and files.main.is_file()
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert str(reports / LOCK_FILE) in warning and os.strerror(code) in warning


def test_a_lock_that_fails_otherwise_still_fails_the_report(
    tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    settings = _settings(migrated_db_url, catalog, tmp_path / "reports")
    run_id = _run(settings, Ticker())

    def broken(fd: int, operation: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(fcntl, "flock", broken)
    with pytest.raises(ReportWriteError, match="Input/output error"):
        publish_report_files(settings, run_id=run_id, after_run=True)


def test_a_lock_file_the_user_may_only_read_does_not_stop_the_report(
    tmp_path: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's report created the lock file (0644): a user who may write the folder
    but not that file could write no report there at all. Opening it for writing is
    refused here as the system refuses it to a user other than its owner (root is never
    refused, so a real chmod tells nothing when the tests run as root)."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    clock = Ticker()
    first = _run(settings, clock)
    publish_report_files(settings, run_id=first, after_run=True)  # creates the lock file
    lock = reports / LOCK_FILE
    assert lock.is_file()
    lock.chmod(0o444)

    real_open, real_os_open = open, os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC

    def denied(path: object) -> bool:
        return isinstance(path, (str, Path)) and Path(path) == lock

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if denied(path) and flags & writing:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_os_open(path, flags, *args, **kwargs)

    def builtin_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if denied(file) and set(mode) & set("wax+"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr("builtins.open", builtin_open)
    clock.at(1)
    files = publish_report_files(settings, run_id=_run(settings, clock), after_run=True)

    assert files.main == reports / "latest.html"
    monkeypatch.undo()
    lock.unlink()  # a folder without one: the report creates it
    publish_report_files(settings)
    assert lock.is_file()


def test_a_report_waiting_for_another_says_so_once(
    tmp_path: Path, migrated_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A report blocked on the lock waited without a word: a `linkhealth report` seemed to
    hang while a nightly's report was being written into the same folder."""
    catalog = write_catalog(tmp_path / "toolkit.yaml", ENTRIES)
    reports = tmp_path / "reports"
    settings = _settings(migrated_db_url, catalog, reports)
    run_id = _run(settings, Ticker())
    reports.mkdir()
    said = f"waiting for another report being written into {reports}"
    done: list[object] = []

    with caplog.at_level(logging.WARNING, logger="reports.publish"):
        with open(reports / LOCK_FILE, "a", encoding="utf-8") as other:
            fcntl.flock(other.fileno(), fcntl.LOCK_EX)  # another report is being written

            def report() -> None:
                done.append(publish_report_files(settings, run_id=run_id, after_run=True))

            waiting = threading.Thread(target=report)
            waiting.start()
            deadline = time.monotonic() + 30
            while not any(r.getMessage() == said for r in caplog.records):
                assert time.monotonic() < deadline, "nothing said while it waited"
                assert waiting.is_alive() and not done
                time.sleep(0.02)
            time.sleep(0.2)
            assert not done  # still waiting for the lock
        waiting.join(timeout=60)

    assert done and done[0].main == reports / "latest.html"  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [said]
