"""A run stopped on purpose keeps what its unfinished batches had checked.

A batch used to be stored only once complete: Ctrl-C at 25 s of a 33 s check of 300 URLs
(one batch of `batch_size` 5000) kept nothing of the ~260 URLs checked. `store_unfinished`
stores them, one transaction per batch, with no network call after the stop: a batch that
cannot tell our network from its sites' without witnesses blames no site.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

import catalog.runs as runs
from catalog import store, tables
from catalog.db import open_engine, session_scope
from catalog.outcomes import Outcome
from catalog.queries import full_run_started_since
from catalog.runs import (
    FULL_RUN_LEASE,
    PreparedRun,
    abandon_run,
    prepare_run,
    store_batch,
    store_unfinished,
)
from catalog.settings import Settings
from tests.factories import (
    T0,
    Ticker,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)
from tests.local_site import Answer, served_at, serving_at
from tests.test_run_safety import pipeline_settings, wait_until

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def _urls(hosts: int, per_host: int = 1) -> list[str]:
    return [f"https://site{h}.example.org/p{i}" for h in range(hosts) for i in range(per_host)]


def _run(engine: Engine, tmp_path: Path, urls: list[str]) -> tuple[Settings, PreparedRun]:
    entries = [{"id": f"r{i}", "title": f"Resource {i}", "url": u} for i, u in enumerate(urls)]
    settings = settings_for(engine, [write_catalog(tmp_path / "catalog.yaml", entries)])
    prepared = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    return settings, prepared


def _stored(engine: Engine, run_id: int) -> dict[str, str]:
    """URL -> outcome of the observations `run_id` stored."""
    obs = tables.Observation
    with session_scope(engine) as s:
        rows = s.execute(select(obs.url, obs.outcome).where(obs.run_id == run_id)).all()
    return {url: outcome for url, outcome in rows}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Witnesses and archive lookups, which must not be asked after a stop."""
    asked: list[Any] = []

    def refuse(*args: Any, **_: Any) -> Any:
        asked.append(args)
        raise AssertionError("a stopped run reached the network")

    monkeypatch.setattr(runs, "check_canaries", refuse)
    monkeypatch.setattr(runs, "lookup_archives", refuse)
    return asked


def test_what_a_stopped_batch_checked_is_stored_and_the_run_stays_aborted(
    engine: Engine, tmp_path: Path, no_network: list[Any]
) -> None:
    urls = _urls(3, per_host=4)
    settings, prepared = _run(engine, tmp_path, urls)
    checked = [make_observation(u) for u in urls[:7]]  # 7 of the batch's 12, then Ctrl-C
    kept = store_unfinished(settings, prepared.run_id, [checked, []], lease=prepared.lease)
    assert (kept.stored, kept.batches, kept.set_aside) == (7, 1, 0)
    abandon_run(settings, prepared, reason="stopped by Ctrl-C", stopped=True, clock=Ticker())
    run = store.get_run(engine, prepared.run_id)
    assert run.status == "aborted" and run.urls_checked == 7  # `status`: 7/12 URLs
    assert set(_stored(engine, prepared.run_id)) == set(urls[:7])
    assert store.get_lease(engine, FULL_RUN_LEASE) is None
    assert no_network == []


def test_a_stopped_batch_that_cannot_tell_blames_no_site_and_asks_no_witness(
    engine: Engine, tmp_path: Path, no_network: list[Any]
) -> None:
    """Two hosts that could not be reached, nothing else heard: a whole batch would ask
    witnesses; a stopped one may not reach the network, and may be a machine shutting
    down, so their failures are our network's, not the sites'."""
    urls = _urls(2)
    settings, prepared = _run(engine, tmp_path, urls)
    canaries = ("https://canary.example.net/",)  # witnesses a whole batch would ask
    settings = replace(settings, health=replace(settings.health, canary_urls=canaries))
    checked = [make_observation(u, Outcome.DNS_ERROR) for u in urls]
    kept = store_unfinished(settings, prepared.run_id, [checked], lease=prepared.lease)
    assert kept.stored == 2
    assert set(_stored(engine, prepared.run_id).values()) == {"network_unavailable"}
    assert no_network == []
    # Stored whole, the same batch asks witnesses (what this path must not do).
    with pytest.raises(AssertionError, match="reached the network"):
        store_batch(settings, prepared.run_id, checked)
    assert len(no_network) == 1


def test_a_stopped_batch_judged_offline_is_masked_and_one_that_answered_is_kept(
    engine: Engine, tmp_path: Path, no_network: list[Any]
) -> None:
    offline = _urls(12)
    answered = [f"https://other{i}.example.net/" for i in range(3)]
    settings, prepared = _run(engine, tmp_path, offline + answered)
    down = [make_observation(u, Outcome.CONNECTION_REFUSED) for u in offline]
    heard = [
        make_observation(answered[0], Outcome.OK),
        make_observation(answered[1], Outcome.NOT_FOUND),
        make_observation(answered[2], Outcome.DNS_ERROR),
    ]
    kept = store_unfinished(settings, prepared.run_id, [down, heard], lease=prepared.lease)
    assert (kept.stored, kept.batches) == (15, 2)
    outcomes = _stored(engine, prepared.run_id)
    assert {outcomes[u] for u in offline} == {"network_unavailable"}
    # A host answered: our network worked, and the failures are the sites' own.
    assert [outcomes[u] for u in answered] == ["ok", "not_found", "dns_error"]


def test_an_http_link_whose_https_form_was_to_be_tried_is_left_for_the_next_run(
    engine: Engine, tmp_path: Path, no_network: list[Any]
) -> None:
    urls = ["http://site0.example.org/", "https://site1.example.org/"]
    settings, prepared = _run(engine, tmp_path, urls)
    settings = replace(settings, check=replace(settings.check, https_upgrades=True))
    read = [make_observation(u, fingerprint="f" * 16, title="A page") for u in urls]
    kept = store_unfinished(settings, prepared.run_id, [read], lease=prepared.lease)
    assert (kept.stored, kept.set_aside) == (1, 1)
    assert set(_stored(engine, prepared.run_id)) == {urls[1]}


def test_storing_a_stopped_run_is_bounded_in_time(
    engine: Engine, tmp_path: Path, no_network: list[Any]
) -> None:
    urls = _urls(3, per_host=2)
    settings, prepared = _run(engine, tmp_path, urls)
    batches = [[make_observation(u)] for u in urls]
    ticks = iter([0.0, 1.0, 2.0, 6.0, 7.0, 8.0, 9.0])  # the 5 s budget runs out at the third
    kept = store_unfinished(
        settings, prepared.run_id, batches, lease=prepared.lease, timer=lambda: next(ticks)
    )
    assert (kept.stored, kept.batches, kept.set_aside) == (2, 2, 4)
    assert set(_stored(engine, prepared.run_id)) == set(urls[:2])


def test_a_second_ctrl_c_while_storing_leaves_no_half_batch(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[Any]
) -> None:
    """Interrupted in its second batch, the store keeps the first whole and none of the
    second (one transaction each); the lease is given back by `abandon_run` as before."""
    import catalog.store._observations as observations

    urls = _urls(4)
    settings, prepared = _run(engine, tmp_path, urls)
    monkeypatch.setattr(observations, "STORE_CHUNK", 1)
    real = observations._record_chunk
    rounds: list[int] = []

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        rounds.append(1)
        if len(rounds) == 4:  # the second row of the second batch
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(observations, "_record_chunk", interrupted)
    batches = [[make_observation(u) for u in urls[:2]], [make_observation(u) for u in urls[2:]]]
    with pytest.raises(KeyboardInterrupt):
        try:
            store_unfinished(settings, prepared.run_id, batches, lease=prepared.lease)
        finally:
            abandon_run(settings, prepared, reason="stopped", stopped=True, clock=Ticker())
    assert set(_stored(engine, prepared.run_id)) == set(urls[:2])
    assert store.get_run(engine, prepared.run_id).status == "aborted"
    assert store.get_lease(engine, FULL_RUN_LEASE) is None


def test_a_stopped_run_that_lost_its_lease_stores_nothing(
    engine: Engine, tmp_path: Path, no_network: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    urls = _urls(2)
    settings, prepared = _run(engine, tmp_path, urls)
    assert prepared.lease is not None
    store.release_lease(engine, prepared.lease.name, prepared.lease.holder)
    taker = prepare_run(settings, trigger="schedule", lease=FULL_RUN_LEASE, clock=Ticker())
    kept = store_unfinished(
        settings, prepared.run_id, [[make_observation(u) for u in urls]], lease=prepared.lease
    )
    assert (kept.stored, kept.set_aside) == (0, 2)
    assert _stored(engine, prepared.run_id) == {}
    assert "were not stored" in caplog.text
    assert taker.lease is not None


def test_a_stored_batch_is_let_go_before_its_archive_lookups(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped during a batch's archive lookups (network calls after its commit) must
    not store the batch again as unfinished: `on_stored` comes first."""
    urls = _urls(1)
    settings, prepared = _run(engine, tmp_path, urls)
    settings = replace(settings, health=replace(settings.health, archive_lookups=True))
    order: list[str] = []

    def lookups(*_: Any, **__: Any) -> int:
        order.append("archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "lookup_archives", lookups)
    with pytest.raises(KeyboardInterrupt):
        store_batch(
            settings,
            prepared.run_id,
            [make_observation(urls[0])],
            on_stored=lambda: order.append("stored"),
        )
    assert order == ["stored", "archive"]


def test_a_stopped_run_with_a_partial_batch_does_not_cover_its_night(
    engine: Engine, tmp_path: Path, no_network: list[Any]
) -> None:
    """The catch-up and late-night logic (`full_run_started_since`) reads only completed
    runs: a night stopped part-way is checked again, though it stored some URLs."""
    urls = _urls(2)
    settings, prepared = _run(engine, tmp_path, urls)
    store_unfinished(settings, prepared.run_id, [[make_observation(urls[0])]])
    abandon_run(settings, prepared, reason="stopped", stopped=True, clock=Ticker())
    files = [str(p) for p in settings.catalogs]
    assert full_run_started_since(engine, T0 - timedelta(hours=1), files) is None


# --- the flow, over real sockets -----------------------------------------------------------


@contextmanager
def sites(release: threading.Event, asked: set[str], answered: list[str]) -> Iterator[list[str]]:
    """127.0.0.2 answers at once (its paths into `answered`); 127.0.0.3 waits for
    `release` (its paths into `asked` as each request arrives)."""
    page = b"<title>Page</title><p>Some text about the resource.</p>"

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        if served_at(request) == "127.0.0.3":
            asked.add(request.path)
            release.wait(60)  # set when the test ends, whatever happens
        else:
            answered.append(request.path)
        return 200, {"Content-Type": "text/html"}, page

    with serving_at(answer, "127.0.0.2", "127.0.0.3") as bases:
        try:
            yield bases
        finally:
            release.set()


@pytest.mark.flow
def test_a_check_stopped_part_way_stores_the_urls_it_had_checked(
    prefect_api: str, tmp_path: Path, migrated_db_url: str
) -> None:
    """`linkhealth check` of one batch (the default `batch_size` holds it whole), stopped
    with Ctrl-C or SIGTERM while its last URL waits on a slow host: the URLs the fast host
    answered are stored, the slow one is not, and the run is aborted, saying so."""
    from contextlib import ExitStack

    release, asked, answered = threading.Event(), set[str](), list[str]()
    signals = (signal.SIGINT, signal.SIGTERM)
    with ExitStack() as stack, sites(release, asked, answered) as (fast, slow):
        children: dict[signal.Signals, tuple[subprocess.Popen[str], Settings, list[str]]] = {}
        for sig in signals:
            url = migrated_db_url if sig == signal.SIGINT else f"sqlite:///{tmp_path / 'term.db'}"
            checked = [f"{fast}/{sig.name}/{i}" for i in range(3)]
            urls = [*checked, f"{slow}/{sig.name}"]
            entries = [{"id": f"r{i}", "title": f"R {i}", "url": u} for i, u in enumerate(urls)]
            catalog = write_catalog(tmp_path / f"{sig.name}.yaml", entries)
            child = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "check", "--db", url, "--catalog",
                 str(catalog), "--allow-private", "--no-report"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path,
            )  # fmt: skip
            stack.callback(child.kill)
            children[sig] = child, pipeline_settings(url, catalog), checked
        signalled: set[signal.Signals] = set()

        def signal_those_waiting_on_the_slow_host() -> bool:
            """Each child once the fast host answered its three URLs and its slow one is
            asked; a second more lets it handle those answers (politeness: 5/s)."""
            for sig, (child, _, checked) in children.items():
                done = all(u.split("/", 3)[3] in " ".join(answered) for u in checked)
                if sig not in signalled and f"/{sig.name}" in asked and done:
                    time.sleep(1.0)
                    signalled.add(sig)
                    child.send_signal(sig)
            return len(signalled) == len(children)

        wait_until(signal_those_waiting_on_the_slow_host, "every run asks the slow host")
        for sig, (child, settings, checked) in children.items():
            _, err = child.communicate(timeout=60)
            assert child.returncode != 0, err
            engine = open_engine(settings.database_url)
            try:
                (run,) = store.latest_runs(engine)
                assert run.status == "aborted", (sig, err)
                assert store.leases(engine) == [], sig
                stored = _stored(engine, run.id)
                assert sorted(stored) == sorted(checked), (sig, stored, err)
                assert "network_unavailable" not in stored.values(), stored  # all answered
                assert run.urls_checked == 3
                reason = run.summary["aborted_reason"]
                assert "the 3 URLs its unfinished batches had checked were stored, 1 not" in (
                    reason
                ), reason
            finally:
                engine.dispose()
