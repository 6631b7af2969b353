"""The Prefect API going away part-way through a run (its server stopped, or restarting):
the run goes on and stores what it checks, and `linkhealth check` says what became of it
in one sentence instead of Prefect's traceback; Prefect's clients say nothing more after
it. And a run killed outright: the next run ends its flow run in Prefect."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from catalog import store, tables
from catalog.db import open_engine, session_scope
from flows.prefect_server import (
    PrefectApiLostError,
    api_loss_said,
    is_healthy,
    unquiet_prefect_clients,
)
from tests.factories import write_catalog
from tests.local_site import local_site
from tests.test_run_safety import REPO, slow_sites, wait_until

API = "http://127.0.0.1:4200/api"


@pytest.fixture(autouse=True)
def _prefect_clients_heard_again() -> Iterator[None]:
    """A test that loses the API quiets Prefect's clients for the rest of the process."""
    yield
    unquiet_prefect_clients()


def _refused(*_: Any, **__: Any) -> Any:
    """What a Prefect client call raises once its retries against a stopped server end."""
    raise httpx.ConnectError(
        "[Errno 111] Connection refused", request=httpx.Request("POST", f"{API}/artifacts/")
    )


@pytest.mark.flow
def test_a_run_whose_prefect_api_goes_away_still_stores_every_batch_and_completes(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress update after the first stored batch found the server gone: the run
    failed there, and the batches already checked (or still to check) were never stored."""
    from flows import check_flow

    calls: list[str] = []

    def counted(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return _refused()

        return call

    monkeypatch.setattr(check_flow, "update_progress_artifact", counted("progress"))
    monkeypatch.setattr(check_flow, "create_markdown_artifact", counted("summary"))
    monkeypatch.setattr(check_flow, "create_table_artifact", counted("queue"))
    with local_site() as site:
        hosts = (site.base, site.base.replace("127.0.0.1", "localhost"))
        resources = [
            {"id": f"r{i}", "title": f"Report {i}", "url": f"{hosts[i % 2]}/report.html?{i}"}
            for i in range(4)
        ]
        catalog_file = isolated_cwd / "toolkit.yaml"
        catalog_file.write_text(json.dumps({"collection": {"title": "T"}, "resources": resources}))
        summary = check_flow.check_catalog(
            overrides={
                "database_url": migrated_db_url,
                "catalogs": [str(catalog_file)],
                "allow_private": True,
                "batch_size": 1,  # a batch per host: two batches, stored one after the other
            },
            render=False,
        )
    assert summary.status == "completed" and summary.urls_checked == 4
    assert calls == ["progress"]  # the first failure is waited for once, never again
    engine = open_engine(migrated_db_url)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(tables.Observation)) == 4
        run = s.scalars(select(tables.Run)).one()
        assert run.status == "completed" and run.summary["batches"] == 2
    engine.dispose()


def test_the_prefect_api_lost_mid_run_is_one_sentence_saying_the_run_is_stored() -> None:
    with pytest.raises(PrefectApiLostError) as caught, api_loss_said():
        _refused()
    said = str(caught.value)
    assert f"the Prefect API at {API} stopped answering" in said
    assert "Connection refused" in said and "linkhealth status" in said
    assert "linkhealth server start" in said and caught.value.exit_code == 1


def test_a_ui_call_the_api_never_answers_is_given_up_on_and_the_run_goes_on() -> None:
    """A server that went away mid-run kept the run waiting on Prefect's client retries
    for about a minute: its console progress stopped and its checked batches waited to
    be stored. A call past its time is the API lost, at once."""
    import logging

    from flows.check_flow import _PrefectUi

    release = threading.Event()
    warned: list[str] = []
    log = logging.getLogger("test.ui")
    log.warning = lambda message, *args: warned.append(message % args)  # type: ignore[method-assign]
    ui = _PrefectUi(log, timeout_s=0.2)
    try:
        started = time.monotonic()
        assert ui(release.wait) is None  # hangs as a call to a gone server does
        assert time.monotonic() - started < 5
        assert isinstance(ui.lost, TimeoutError) and len(warned) == 1
        assert "no answer in 0 s" in warned[0] and "the run goes on" in warned[0]
        assert ui(lambda: "never called") is None  # lost: no more calls
    finally:
        release.set()
    assert _PrefectUi(log)(lambda x: x * 2, 21) == 42  # an answering API: the call's result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prefect_server(home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Prefect server of its own (the session's harness must not be stopped), in `home`
    (the `prefect_home` fixture's, whose database may be migrated already)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_until(lambda: is_healthy(url, timeout=1), "the Prefect server answers", 120)
        yield url, server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


@pytest.mark.flow  # a real Prefect server of its own, stopped mid-run (~20 s)
def test_a_run_whose_prefect_server_stops_ends_in_one_sentence_without_tracebacks(
    prefect_home: Path, tmp_path: Path, migrated_db_url: str
) -> None:
    release, asked = threading.Event(), set[str]()
    with prefect_server(prefect_home) as (url, server), slow_sites(release, asked) as sites:
        entries = [
            {"id": f"r{i}", "title": f"Resource {i}", "url": f"{site}/p{i}"}
            for i, site in enumerate([*sites, *sites])
        ]
        catalog = write_catalog(tmp_path / "catalog.yaml", entries)
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PREFECT_API_URL": url,
            # As an operator's machine has them: logs go to the API, INFO on the console.
            "PREFECT_LOGGING_TO_API_ENABLED": "true",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_CLIENT_MAX_RETRIES": "1",  # the client's retries, shorter
            # Log lines sent every 0.2 s (not 2 s), so batches of them are sent, and fail,
            # while the API is gone, racing the run's sentence as a long run's would.
            "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.2",
        }
        child = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "check", "--db", migrated_db_url, "--catalog",
             str(catalog), "--allow-private", "--no-report"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            engine = open_engine(migrated_db_url)
            # Mid-run: its batch waits on the slow host.
            wait_until(lambda: asked, "the run asks the slow host")
            os.killpg(server.pid, signal.SIGTERM)  # as `linkhealth server stop` does
            server.wait(timeout=30)
            release.set()
            _, err = child.communicate(timeout=300)
        finally:
            child.kill()
    print(err)
    assert child.returncode == 1, err
    (run,) = store.latest_runs(engine)
    assert run.status == "completed" and run.urls_checked == 4
    engine.dispose()
    # Said twice, each once: when the run found it gone, and what became of the run.
    assert err.count("The Prefect API did not answer (ConnectError") == 1, err
    assert err.count("stopped answering during the run") == 1, err
    assert "Traceback" not in err, err
    # Prefect's log worker wrote "--- Error logging to API ---" blocks before it, too.
    assert "Error logging to API" not in err, err
    after = err.split("The Prefect API did not answer", 1)[1]
    for repeated in ("prefect.events", "prefect._internal", "Worker"):
        assert repeated not in after, err


class _LogClient:
    """The log worker's API client, answering each request with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.requests: list[tuple[str, str, bytes]] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> None:
        self.requests.append((method, path, kwargs["content"]))
        raise self.error


def test_log_batches_the_gone_api_cannot_take_are_dropped_unsaid_other_failures_are_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect writes "--- Error logging to API ---" to stderr for each batch of log lines
    it cannot send, every couple of seconds until the run says the API is gone: inside a
    flow run here (`api_loss_said`) a transport error drops the batch without a word, and
    an error the API answers with is still Prefect's to report."""
    import asyncio

    from prefect.logging.handlers import APILogWorker

    prefects = APILogWorker._handle_batch
    gone, failing = _LogClient(_transport()), _LogClient(RuntimeError("422 Unprocessable"))
    with api_loss_said():
        for client in (gone, failing):
            worker = object.__new__(APILogWorker)
            worker._client = client  # type: ignore[assignment]
            asyncio.run(APILogWorker._handle_batch(worker, [b'{"a":1}', b'{"b":2}']))
    assert APILogWorker._handle_batch is prefects  # Prefect's again after the flow run
    err = capsys.readouterr().err
    assert err.count("--- Error logging to API ---") == 1 and "422 Unprocessable" in err, err
    assert gone.requests == [("POST", "/logs/", b'[{"a":1},{"b":2}]')]
    assert len(failing.requests) == 2  # sent again by Prefect's own handler, which said so


def test_the_log_batch_sent_in_prefects_place_is_the_one_prefect_sends() -> None:
    """`log_batches_unsaid_when_api_gone` sends the request Prefect's handler sends: if an
    upgrade of Prefect changes it, this fails rather than logs going astray."""
    import inspect

    from prefect.logging.handlers import APILogWorker

    source = inspect.getsource(APILogWorker._handle_batch)
    for sent in ('"POST"', '"/logs/"', 'b"[" + b",".join(items) + b"]"', '"application/json"'):
        assert sent in source, source


def _transport() -> httpx.TransportError:
    try:
        _refused()
    except httpx.ConnectError as exc:
        return exc
    raise AssertionError("unreachable")


def test_after_the_api_loss_is_said_prefect_clients_are_quiet_but_our_lines_are_not() -> None:
    import logging

    from flows.prefect_server import quiet_prefect_clients

    records: list[str] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    prefect = logging.getLogger("prefect")
    handler = Kept()
    prefect.addHandler(handler)
    try:
        with pytest.raises(PrefectApiLostError), api_loss_said():
            try:
                _refused()
            except httpx.ConnectError:
                # The flow engine's traceback when it cannot record the run's end.
                logging.getLogger("prefect.flow_runs").exception("Encountered exception")
                raise
        logging.getLogger("prefect._internal.concurrency").error("Service failed")
        logging.getLogger("prefect.events.clients").warning("Unable to connect")
        logging.getLogger("prefect.flow_runs").warning("Run 3 completed")
        assert not logging.raiseExceptions  # the log worker's own stderr lines
        quiet_prefect_clients()  # again: nothing doubled
    finally:
        prefect.removeHandler(handler)
        unquiet_prefect_clients()
    assert records == ["Run 3 completed"]
    assert logging.raiseExceptions


@pytest.mark.flow
def test_the_next_run_ends_in_prefect_the_flow_run_of_a_killed_one(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str
) -> None:
    """`linkhealth check` killed with SIGKILL (or its machine gone down) left its flow run
    Running in the Prefect UI forever. The next run, which finds its process gone, ends it
    Crashed; a run that only let its lease expire (its process may live on another
    machine) and flow runs of other flows are left alone."""
    from uuid import UUID

    from prefect import flow, get_client
    from prefect.states import Running

    from catalog.clock import utcnow
    from catalog.runs import FULL_RUN_LEASE, LEASE_TTL
    from flows.check_flow import check_catalog

    @flow(name="someone-elses")
    def other() -> None:
        pass

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    here = store.lease_holder().split(" ", 1)[0].rpartition(":")[0]
    engine = open_engine(migrated_db_url)
    flow_runs: dict[str, UUID] = {}
    with get_client(sync_client=True) as client:
        for name, of in (("killed", check_catalog), ("stalled", check_catalog), ("other", other)):
            flow_runs[name] = client.create_flow_run(of, state=Running()).id
    start = utcnow()
    for name, holder in (
        ("killed", f"{here}:{gone} {flow_runs['killed']}"),
        ("stalled", f"otherhost:42 {flow_runs['stalled']}"),
        ("other", f"{here}:{gone} {flow_runs['other']}"),
    ):
        store.start_run(
            engine,
            trigger="schedule",
            now=start,
            flow_run_id=str(flow_runs[name]),
            summary={"holder": holder, "lease": FULL_RUN_LEASE if name == "stalled" else None},
        )
    store.acquire_lease(engine, FULL_RUN_LEASE, "otherhost:42 x", now=start - LEASE_TTL,
                        ttl=LEASE_TTL)  # fmt: skip
    with local_site() as site:
        catalog_file = isolated_cwd / "toolkit.yaml"
        catalog_file.write_text(json.dumps({"resources": [
            {"id": "r1", "title": "Report", "url": f"{site.base}/report.html"}
        ]}))  # fmt: skip
        overrides = {
            "database_url": migrated_db_url,
            "catalogs": [str(catalog_file)],
            "allow_private": True,
        }
        summary = check_catalog(overrides=overrides, render=False)
    assert summary.status == "completed"
    with get_client(sync_client=True) as client:
        states = {name: client.read_flow_run(i).state for name, i in flow_runs.items()}
    killed = states["killed"]
    assert killed is not None and killed.is_crashed() and "process is gone" in str(killed.message)
    assert all(s is not None and s.is_running() for n, s in states.items() if n != "killed")
    assert {r.status for r in store.latest_runs(engine)[1:]} == {"aborted"}
    engine.dispose()
