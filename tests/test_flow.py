"""The check-catalog and recheck flows, end to end against a real local site, through Prefect."""

from __future__ import annotations

import gc
import json
import logging
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import func, select

from catalog import store, tables
from catalog.clock import utcnow
from catalog.db import open_engine, session_scope
from catalog.errors import CatalogError
from catalog.ops import (
    EVENT_BROKEN_INCREASED,
    EVENT_NETWORK_UNAVAILABLE,
)
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import make_observation, prefect_log
from tests.local_site import PAGES, handler_class, local_site

pytestmark = pytest.mark.flow


def _fail_twice_before(migrated_db_url: str, catalog_file: Path, url: str) -> None:
    """History that makes the next failure of `url` a confirmed break (3 failures, 3 days)."""
    engine = open_engine(migrated_db_url)
    now = utcnow()
    sync_catalogs(engine, load_catalogs([catalog_file]), now=now - timedelta(days=4))
    run_id = store.start_run(engine, trigger="test", now=now - timedelta(days=3))
    for age in (3, 2):
        at = now - timedelta(days=age)
        obs = make_observation(url, Outcome.NOT_FOUND, checked_at=at)
        store.record_observations(engine, run_id, [obs], HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=now - timedelta(days=2))
    engine.dispose()


def _write_catalog(path: Path, base: str) -> Path:
    resources = [
        {"id": "report", "title": "Annual Report", "url": f"{base}/report.html"},
        {"id": "report-again", "title": "Annual Report (panel 2)", "url": f"{base}/report.html"},
        {"id": "missing", "title": "A Guide", "url": f"{base}/missing"},
        {"id": "moved", "title": "Annual Report (old link)", "url": f"{base}/moved"},
        {"id": "typo", "title": "Bad link", "url": "htp://example.org"},
    ]
    path.write_text(json.dumps({"collection": {"title": "Test"}, "resources": resources}))
    return path


def test_flow_checks_stores_reports_and_announces_new_breaks(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.artifacts import Artifact
    from prefect.client.schemas.objects import Artifact as ArtifactResponse

    from flows import check_flow
    from flows.check_flow import QUEUE_KEY, REPORT_KEY, SUMMARY_KEY, check_catalog

    # One batch in flight at a time: every later batch is submitted as one is stored.
    monkeypatch.setattr(check_flow, "SUBMIT_WINDOW", 1)
    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        _fail_twice_before(migrated_db_url, catalog_file, f"{site.base}/missing")
        summary = check_catalog(
            overrides={
                "database_url": migrated_db_url,
                "catalogs": [str(catalog_file)],
                "allow_private": True,
                "reports_dir": str(isolated_cwd / "reports"),
                "batch_size": 1,  # a batch per host: the local site's and the invalid URL's
            }
        )
    assert summary.status == "completed"
    assert summary.urls_checked == 4  # the shared URL is fetched once
    assert summary.counts == {
        "ok": 1,
        "not_found": 1,
        "redirected_permanent": 1,
        "invalid_url": 1,
    }
    assert site.hits["GET /report.html"] + site.hits["HEAD /report.html"] <= 3
    assert Path(summary.report_path or "").is_file()
    assert (isolated_cwd / "reports" / "latest.html").is_file()
    engine = open_engine(migrated_db_url)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(tables.Observation)) == 2 + 4
        assert s.scalar(select(func.count()).select_from(tables.Resource)) == 5
        run = s.scalars(select(tables.Run).where(tables.Run.trigger == "manual")).one()
        assert run.status == "completed" and run.flow_run_id
        assert run.summary["batches"] == 2
    engine.dispose()
    # The third failure of /missing confirms it; the invalid URL is broken at its first check.
    assert [(e, p["current"]) for e, p in sent_events] == [(EVENT_BROKEN_INCREASED, 2)]

    def artifact(key: str) -> ArtifactResponse | None:
        # Prefect's async_dispatch types `get` as "result or coroutine"; outside an event
        # loop (as here) it is the result. Prefect casts it the same way (artifacts.py).
        return cast("ArtifactResponse | None", Artifact.get(key))

    queue = artifact(QUEUE_KEY)
    assert queue is not None and queue.type == "table"
    cells = json.loads(str(queue.data))
    (missing,) = (row for row in cells if row["resource"] == "test/missing")
    # The report's words (not the stored state "broken") and what to do about it.
    assert (missing["verdict"], missing["state"]) == ("Not found (404)", "Confirmed broken")
    assert missing["command"].startswith("linkhealth replace-url missing NEW_URL")
    assert "NEW_URL" in missing["fix"]
    summary_artifact = artifact(SUMMARY_KEY)
    assert summary_artifact is not None and summary_artifact.type == "markdown"
    # No reports_url: a file:// link the UI cannot open became where the report is.
    report_note = artifact(REPORT_KEY)
    assert report_note is not None and report_note.type == "markdown"
    assert str(Path(summary.report_path or "").resolve()) in str(report_note.data)
    assert "file://" not in str(report_note.data)


def test_recheck_after_an_edit_checks_only_the_edited_entry(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from flows.check_flow import check_catalog
    from flows.recheck_flow import recheck

    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        overrides = {
            "database_url": migrated_db_url,
            "catalogs": [str(catalog_file)],
            "allow_private": True,
        }
        check_catalog(overrides=overrides, render=False)
        text = catalog_file.read_text().replace(f"{site.base}/moved", f"{site.base}/removed")
        catalog_file.write_text(text)
        flow_log = logging.getLogger("prefect.flow_runs")  # Prefect's: not propagated
        flow_log.addHandler(caplog.handler)
        try:
            with caplog.at_level(logging.INFO, logger="prefect.flow_runs"):
                result = recheck(changed_only=True, overrides=overrides, render=False)
        finally:
            flow_log.removeHandler(caplog.handler)
    assert result.ids == ("moved",)
    # The run's own sync finds nothing new (the plan synced): the edit is said before it.
    assert "Rechecking 1 resource after syncing 1 catalog change: moved" in caplog.text
    # Not "0 catalog changes synced", nor "1 URLs in 1 batches".
    assert "catalogs as last synced; 1 URL in 1 batch" in caplog.text
    assert "Batch 1/1: 1 URL in " in caplog.text
    assert result.summary is not None and result.summary.urls_checked == 1
    assert result.summary.counts == {"gone": 1}
    assert len(result.verdicts) == 1 and result.verdicts[0].startswith("test/moved: Gone (410)")


def _headline(report: Path) -> str:
    """The report's headline ("5 resources: 2 to fix, ...")."""
    found = re.search(r'<p class="headline" id="headline">(.*?)</p>', report.read_text())
    assert found is not None
    return found.group(1)


def test_recheck_changed_after_removing_a_broken_entry_refreshes_the_report(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The report says of a dead link "remove the entry if it is gone", and the README that
    `recheck --changed` after an edit refreshes the report. A removal alone picks nothing to
    check: the recheck said "Nothing to recheck." and latest.html listed the removed entry
    as confirmed broken, to fix, until the night."""
    from prefect.artifacts import Artifact
    from prefect.client.schemas.objects import Artifact as ArtifactResponse

    from flows.check_flow import QUEUE_KEY, REPORT_KEY, check_catalog
    from flows.recheck_flow import recheck

    latest = isolated_cwd / "reports" / "latest.html"
    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        _fail_twice_before(migrated_db_url, catalog_file, f"{site.base}/missing")
        overrides = {
            "database_url": migrated_db_url,
            "catalogs": [str(catalog_file)],
            "allow_private": True,
            "reports_dir": str(isolated_cwd / "reports"),
        }
        check_catalog(overrides=overrides)
        assert f"{site.base}/missing" in latest.read_text()
        before = _headline(latest)
        catalog = json.loads(catalog_file.read_text())
        catalog["resources"] = [r for r in catalog["resources"] if r["id"] != "missing"]
        catalog_file.write_text(json.dumps(catalog))  # the curator removes the dead entry
        flow_log = logging.getLogger("prefect.flow_runs")  # Prefect's: not propagated
        flow_log.addHandler(caplog.handler)
        try:
            with caplog.at_level(logging.INFO, logger="prefect.flow_runs"):
                result = recheck(changed_only=True, overrides=overrides)
        finally:
            flow_log.removeHandler(caplog.handler)
    assert result.ids == () and result.summary is None and result.sync_changes == 1
    assert f"{site.base}/missing" not in latest.read_text()
    assert (before, _headline(latest)) == (
        "5 resources: 3 to fix, 2 OK.",
        "4 resources: 2 to fix, 2 OK.",
    )
    assert result.report_path is not None and Path(result.report_path) == latest
    said = f"Nothing to recheck; 1 catalog change synced (1 removed); report written to {latest}."
    assert result.nothing_said() == said
    assert said in caplog.text
    # The Prefect UI's report and action queue are written again too, as a run's are.

    def artifact(key: str) -> ArtifactResponse | None:
        return cast("ArtifactResponse | None", Artifact.get(key))

    report_note = artifact(REPORT_KEY)
    assert report_note is not None
    assert (
        report_note.description == "Report written again after syncing 1 catalog change (1 removed)"
    )
    queue = artifact(QUEUE_KEY)
    assert queue is not None and queue.description is not None
    assert queue.description.startswith("Action queue after syncing 1 catalog change")
    assert "test/missing" not in [row["resource"] for row in json.loads(str(queue.data))]


def test_flow_run_without_network_says_so_and_marks_nothing_broken(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    from flows.check_flow import check_catalog

    catalog_file = isolated_cwd / "offline.yaml"
    catalog_file.write_text(
        json.dumps(
            {
                "resources": [
                    {"id": f"r{i}", "title": f"R{i}", "url": f"https://site{i}.invalid/x"}
                    for i in range(4)
                ]
            }
        )
    )
    summary = check_catalog(
        overrides={
            "database_url": migrated_db_url,
            "catalogs": [str(catalog_file)],
            "reports_dir": str(isolated_cwd / "reports"),
        }
    )
    assert summary.network_unavailable
    assert summary.counts == {"network_unavailable": 4}
    assert "network was unreachable" in " ".join(summary.lines())
    assert [e for e, _ in sent_events] == [EVENT_NETWORK_UNAVAILABLE]


def test_a_run_that_lost_the_network_part_way_still_notifies_the_breaks_it_confirmed(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    """One batch of ten hosts none of which answered (our network went while it ran) is
    stored as network_unavailable; the other batch reached its site and confirmed a break.
    Only "could reach no site" went out, and the next night, the link broken by then, would
    not send the rise either."""
    from flows.check_flow import check_catalog

    with local_site() as site:
        resources = [{"id": "missing", "title": "A Guide", "url": f"{site.base}/missing"}]
        resources += [
            {"id": f"rep{i}", "title": "Annual Report", "url": f"{site.base}/report.html?i={i}"}
            for i in range(9)
        ]
        resources += [
            {"id": f"r{i}", "title": f"R{i}", "url": f"https://site{i}.invalid/x"}
            for i in range(10)
        ]
        catalog_file = isolated_cwd / "test.yaml"
        catalog_file.write_text(json.dumps({"collection": {"title": "T"}, "resources": resources}))
        _fail_twice_before(migrated_db_url, catalog_file, f"{site.base}/missing")
        summary = check_catalog(
            overrides={
                "database_url": migrated_db_url,
                "catalogs": [str(catalog_file)],
                "allow_private": True,
                "reports_dir": str(isolated_cwd / "reports"),
                "batch_size": 10,  # the local site's 10 URLs, then the 10 unreachable hosts
            }
        )
    assert (summary.counts.get("not_found"), summary.counts.get("network_unavailable")) == (1, 10)
    assert summary.offline_in_part == 10
    assert "unreachable for 10 of these URLs" in " ".join(summary.lines())
    assert sent_events == [
        (
            EVENT_BROKEN_INCREASED,
            {"run_id": summary.run_id, "previous": 0, "current": 1, "delta": 1},
        ),
        (EVENT_NETWORK_UNAVAILABLE, {"run_id": summary.run_id, "offline": 10, "urls": 20}),
    ]


def test_a_bad_catalog_fails_the_run_with_its_problems_and_no_traceback(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str
) -> None:
    """A curator who broke the catalog file reads where, not a stack of Prefect frames; the
    caller still gets the error (the CLI's exit code 5 comes from it)."""
    from flows.check_flow import check_catalog
    from flows.recheck_flow import recheck

    bad = isolated_cwd / "bad.yaml"
    bad.write_text(
        "resources:\n  - id: a\n    title: A\n    url: https://example.org/a\n  - id: a\n"
    )
    overrides = {"database_url": migrated_db_url, "catalogs": [str(bad)]}
    for run in (
        lambda: check_catalog(overrides=overrides, render=False, return_state=True),
        lambda: recheck(resource_ids=["a"], overrides=overrides, render=False, return_state=True),
    ):
        with prefect_log("prefect.flow_runs") as records:
            state = run()
        assert state.is_failed()
        assert "bad.yaml:5" in str(state.message)
        with pytest.raises(CatalogError, match=r"bad\.yaml:5"):
            state.result()
        assert any("Finished in state Failed" in r.getMessage() for r in records)
        assert not [r.getMessage() for r in records if r.exc_info], "a traceback was logged"
    # As the engine runs a deployment's run for `serve` or a worker: it raises the state's
    # exception, ours, and logs it with Prefect's traceback, which `_SaidByItsState` drops.
    from prefect.flow_engine import run_flow

    with (
        prefect_log("prefect.flow_runs") as records,
        pytest.raises(CatalogError, match=r"bad\.yaml:5"),
    ):
        run_flow(
            check_catalog,
            parameters={"overrides": overrides, "render": False},
            error_logger=logging.getLogger("prefect.flow_runs"),
        )
    assert not [r.getMessage() for r in records if r.exc_info], "a traceback was logged"


def test_a_long_batch_shows_progress_before_it_ends(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most catalogs are one batch: a run must not sit silent until it is stored."""
    import threading
    import time
    from http.server import ThreadingHTTPServer

    import flows.check_flow
    from flows.check_flow import check_catalog

    def slow(request: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(0.15)
        return PAGES["/report.html"]

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(slow))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    catalog_file = isolated_cwd / "slow.yaml"
    resources = [{"id": f"r{i}", "title": "Annual Report", "url": f"{base}/p{i}"} for i in range(8)]
    catalog_file.write_text(json.dumps({"resources": resources}))
    monkeypatch.setattr(flows.check_flow, "PROGRESS_EVERY_S", 0.1)
    noted: list[int] = []
    alive: list[str] = []
    note = flows.check_flow.note_run_progress

    def noting(engine: Any, run_id: int, urls_checked: int, **kwargs: Any) -> None:
        note(engine, run_id, urls_checked, **kwargs)
        (run,) = store.latest_runs(engine, limit=1)
        noted.append(run.urls_checked)  # what `linkhealth status` shows meanwhile
        alive.append(run.summary.get("alive_at", ""))  # where it ends, should it die now

    monkeypatch.setattr(flows.check_flow, "note_run_progress", noting)
    overrides = {
        "database_url": migrated_db_url,
        "catalogs": [str(catalog_file)],
        "allow_private": True,
        "per_host_rate": 5.0,
        "soft404_probe": False,
    }
    try:
        with prefect_log("prefect.flow_runs") as records:
            check_catalog(overrides=overrides, render=False)
    finally:
        server.shutdown()
        server.server_close()
    lines = [r.getMessage() for r in records]
    batch = next(i for i, line in enumerate(lines) if line.startswith("Batch 1/1"))
    live = [line for line in lines[:batch] if line.endswith("URLs/s)") and "URLs checked" in line]
    assert live, lines
    counts = [int(line.split("/")[0]) for line in live]
    assert counts == sorted(counts) and 0 < counts[0] < 8
    assert noted == counts  # the run's row moves with the log, not only at the end
    assert all(alive) and alive == sorted(alive)
    engine = open_engine(migrated_db_url)
    (run,) = store.latest_runs(engine, limit=1)
    engine.dispose()
    assert (run.status, run.urls_checked) == ("completed", 8)


def test_a_batch_stopped_on_purpose_is_not_retried() -> None:
    """Ctrl-C or SIGTERM on `linkhealth serve` cancels the run's checks: a retry of the
    cancelled batch only held the shutdown up 5 s and logged a crash; a worker thread that
    really crashed is still retried."""
    import concurrent.futures

    from prefect.states import Failed

    from flows.check_flow import check_batch_task, retry_unless_stopped

    assert check_batch_task.retry_condition_fn is retry_unless_stopped
    no_run = cast(Any, None)  # the condition reads the state only
    stopped: Any = Failed(data=concurrent.futures.CancelledError())
    crashed: Any = Failed(data=RuntimeError("thread died"))
    assert not retry_unless_stopped(check_batch_task, no_run, stopped)
    assert retry_unless_stopped(check_batch_task, no_run, crashed)


def test_a_run_stopped_by_a_signal_is_told_from_one_that_failed() -> None:
    from prefect.exceptions import TerminationSignal

    from flows.check_flow import was_stopped, why_abandoned

    assert was_stopped(KeyboardInterrupt()) and was_stopped(TerminationSignal(signal=15))
    assert why_abandoned(KeyboardInterrupt()) == (
        "stopped by Ctrl-C or a termination signal (KeyboardInterrupt)"
    )
    assert not was_stopped(RuntimeError("boom"))
    assert why_abandoned(RuntimeError("boom")) == "RuntimeError: boom"


def test_a_run_whose_serve_was_killed_says_so_not_that_a_signal_stopped_it() -> None:
    """r5: `kill -9` of `linkhealth serve` ends its run's log pipe; Prefect's console log
    handler (rich) then exits (SystemExit), and the run recorded "stopped by Ctrl-C or a
    termination signal", though nobody sent one."""
    from flows.check_flow import was_stopped, why_abandoned

    def exit_on_broken_pipe() -> None:
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            raise SystemExit(1)  # noqa: B904  (as rich's `Console.on_broken_pipe` does)

    with pytest.raises(SystemExit) as exited:
        exit_on_broken_pipe()
    why = why_abandoned(exited.value)
    assert why.startswith("its log output could no longer be written (broken pipe)")
    assert "`linkhealth serve` or worker that started it, killed without a word" in why
    assert "Ctrl-C" not in why and "termination signal" not in why
    assert was_stopped(exited.value)  # aborted, as a run found dead is: no failure of its own
    assert why_abandoned(SystemExit(3)) == "its process was made to exit (SystemExit: 3)"


def test_a_cancelled_run_says_it_was_cancelled() -> None:
    """r5's F6: `prefect flow-run cancel` ended a run "stopped by Ctrl-C or a termination
    signal (TerminationSignal)". Prefect's runner says why before its SIGTERM."""
    from prefect._internal import control_listener
    from prefect.exceptions import TerminationSignal

    from flows.check_flow import was_stopped, why_abandoned

    signal = TerminationSignal(signal=15)
    assert why_abandoned(signal) == "stopped by Ctrl-C or a termination signal (TerminationSignal)"
    control_listener._set_intent("cancel")  # as the runner's control channel sets it
    try:
        assert why_abandoned(signal) == "cancelled (`prefect flow-run cancel` or the Prefect UI)"
        assert was_stopped(signal)  # aborted, not failed
    finally:
        control_listener.clear_intent()


def test_a_run_cancelled_before_it_checked_is_ended_not_left_running(migrated_db_url: str) -> None:
    """r5's F6: a cancel in a run's first seconds (inside `prepare_run`, after it stored the
    run) left its row `running`: `status` showed it abandoned until the next run marked it
    aborted, "seen for 0.0 s"."""
    from prefect.exceptions import TerminationSignal

    from flows.check_flow import end_unprepared_run
    from tests.factories import settings_for

    engine = open_engine(migrated_db_url)
    now = utcnow()
    other = store.start_run(engine, trigger="manual", now=now, flow_run_id="other")
    ours = store.start_run(engine, trigger="manual", now=now, flow_run_id="ours")
    end_unprepared_run(settings_for(engine), "ours", TerminationSignal(signal=15))
    ended = store.get_run(engine, ours)
    assert ended.status == "aborted"
    assert ended.summary["aborted_reason"] == (
        "stopped by Ctrl-C or a termination signal (TerminationSignal)"
    )
    assert store.get_run(engine, other).status == "running"  # another flow run's: alive
    end_unprepared_run(settings_for(engine), "other", RuntimeError("database locked"))
    failed = store.get_run(engine, other)
    assert failed.status == "failed" and failed.summary["failed_reason"] == (
        "RuntimeError: database locked"
    )
    engine.dispose()


def test_an_abandoned_run_warns_once_for_the_batches_it_did_not_check(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    real_collector: None,
) -> None:
    """A run that fails while batches are checking or waiting: each of them, stopped or
    never started, was logged at ERROR (with a traceback) after the cause, flooding the
    Prefect UI and its alerts with what is one expected consequence. One WARNING counts
    them; the cause stays the run's ERROR."""
    import asyncio

    import flows.check_flow as check_flow

    frozen_while_checking: list[int] = []

    def check(batch: Any, *_: Any, loop: Any, stopped: Any, **__: Any) -> list[Any]:
        frozen_while_checking.append(gc.get_freeze_count())
        if batch.index == 0:
            return []
        # Until the run is abandoned (`cancel_checks`), or never started once it is.
        loop.run(asyncio.sleep(30), unless=stopped)
        return []

    def store_fails(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(check_flow, "check_batch_with_upgrades", check)
    monkeypatch.setattr(check_flow, "store_batch", store_fails)
    resources = [
        {"id": f"r{i}", "title": f"R {i}", "url": f"https://site{i}.example.org/"}
        for i in range(10)
    ]
    catalog_file = isolated_cwd / "toolkit.yaml"
    catalog_file.write_text(json.dumps({"resources": resources}))
    overrides = {"database_url": migrated_db_url, "catalogs": [str(catalog_file)], "batch_size": 1}
    with prefect_log() as records:
        state = check_flow.check_catalog(overrides=overrides, render=False, return_state=True)
    assert state.is_failed() and "disk full" in str(state.message)
    # The imports and targets were out of full collections while the run checked
    # (catalog.collector), and are back in them once it failed. (A batch that had been
    # submitted may start after that, unfrozen: only the first is sure to be inside.)
    assert frozen_while_checking and frozen_while_checking[0] > 0
    assert gc.get_freeze_count() == 0
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert errors and all("disk full" in r.getMessage() for r in errors), [
        r.getMessage() for r in errors
    ]
    warned = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warned == [
        "Run 1 was abandoned (RuntimeError: disk full): 10 of its 10 batches (10 URLs) "
        "were not stored"
    ], warned


def test_a_later_run_with_the_id_of_an_abandoned_one_is_checked(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Abandoned runs were remembered by run id alone: a run of another database in the
    same process (`serve`, given it by a run's parameters; a fresh one starts at run 1)
    had every batch skipped as abandoned and failed with an AttributeError."""
    import flows.check_flow as check_flow
    from tests.factories import migrated_database_url

    def store_fails(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(check_flow, "check_batch_with_upgrades", lambda *_, **__: [])
    catalog_file = isolated_cwd / "toolkit.yaml"
    resources = [{"id": "r", "title": "R", "url": "https://site.example.org/"}]
    catalog_file.write_text(json.dumps({"resources": resources}))
    with monkeypatch.context() as failing:
        failing.setattr(check_flow, "store_batch", store_fails)
        overrides = {"database_url": migrated_db_url, "catalogs": [str(catalog_file)]}
        state = check_flow.check_catalog(overrides=overrides, render=False, return_state=True)
        assert state.is_failed() and "disk full" in str(state.message)
    with migrated_database_url(isolated_cwd, "other.db") as other:
        overrides = {"database_url": other, "catalogs": [str(catalog_file)]}
        summary = check_flow.check_catalog(overrides=overrides, render=False)
    assert summary.run_id == 1 and summary.status == "completed"


def test_a_recheck_that_finds_our_network_down_does_not_show_the_old_state_as_news(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str
) -> None:
    """The verdict line printed the link's stored "Connection refused" as if this recheck
    had found it, right above the summary saying nothing was learned about the link."""
    from flows.recheck_flow import recheck

    with socket.socket() as a, socket.socket() as b:  # two ports nobody listens on
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{a.getsockname()[1]}/x"
        canary = f"http://127.0.0.1:{b.getsockname()[1]}/"
    catalog_file = isolated_cwd / "test.yaml"
    catalog_file.write_text(
        json.dumps({"resources": [{"id": "dead", "title": "Dead Host Page", "url": dead}]})
    )
    config = isolated_cwd / "linkhealth.toml"
    config.write_text(
        f'catalogs = ["{catalog_file}"]\n[check]\nallow_private = true\n'
        f'[health]\ncanary_urls = ["{canary}"]\n'
    )
    engine = open_engine(migrated_db_url)
    checked = utcnow() - timedelta(days=1)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=checked)
    run_id = store.start_run(engine, trigger="test", now=checked)
    refused = make_observation(dead, Outcome.CONNECTION_REFUSED, checked_at=checked)
    store.record_observations(engine, run_id, [refused], HealthSettings(), now=checked)
    store.finish_run(engine, run_id, status="completed", now=checked)
    engine.dispose()

    result = recheck(
        resource_ids=["dead"],
        config=str(config),
        overrides={"database_url": migrated_db_url},
        render=False,
    )
    assert result.summary is not None and result.summary.network_unavailable
    (line,) = result.verdicts
    assert line.startswith("test/dead: not checked by this recheck: our network was down.")
    assert f"Last known state, from its check of {checked:%Y-%m-%d %H:%M} UTC: Connection" in line
