"""A run's notices and summary counts say what the run found: a link it saw break or drift.

"A checker that cries wolf is worse than none." The run's before and after were two counts
of the report's groups, at its start and at its end: an entry back in the queue meanwhile
(its snooze ended, it was unignored, it was added with a link already known broken) raised
the count and sent `broken_increased` though no link changed, and an entry removed hid a
link the run did see break. Flow runs end to end, against a real local site.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, cast

import pytest
from sqlalchemy import update

from catalog import store, tables
from catalog.clock import utcnow
from catalog.db import open_engine, session_scope
from catalog.ops import EVENT_BROKEN_INCREASED
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import make_observation
from tests.local_site import PAGES, Answer, handler_class

pytestmark = pytest.mark.flow

#: What the site does while the run checks it: a curator's act, or time passing.
Meanwhile = Callable[[str], None]


@contextmanager
def _site(meanwhile: Meanwhile | None, migrated_db_url: str) -> Iterator[str]:
    """The local site's pages; the first request runs `meanwhile(migrated_db_url)` first, so it
    happens after the run started and before it ends."""
    pending = [meanwhile] if meanwhile else []

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        while pending:
            pending.pop()(migrated_db_url)
        return PAGES.get(request.path, PAGES["/missing"])

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(answer))
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _catalog(path: Path, base: str, *ids: str) -> Path:
    """`gone` and `gone-too` share the dead /missing, `flaky` is /removed (410), `report`
    works."""
    urls = {
        "report": "/report.html",
        "gone": "/missing",
        "gone-too": "/missing",
        "flaky": "/removed",
    }
    resources = [{"id": i, "title": f"Title of {i}", "url": f"{base}{urls[i]}"} for i in ids]
    path.write_text(json.dumps({"collection": {"title": "Test"}, "resources": resources}))
    return path


def _history(migrated_db_url: str, catalog_file: Path, base: str, **aside: Any) -> None:
    """Three nights before the run: /missing confirmed broken, /removed failed twice (its
    next failure confirms it); `gone` set aside with `aside` (snooze or ignore columns)."""
    engine = open_engine(migrated_db_url)
    now = utcnow()
    try:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=now - timedelta(days=4))
        run_id = store.start_run(engine, trigger="test", now=now - timedelta(days=3))
        for age, urls in ((3, ("/missing",)), (2, ("/missing", "/removed"))):
            at = now - timedelta(days=age)
            observations = [make_observation(base + u, Outcome.NOT_FOUND, at) for u in urls]
            store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
        at = now - timedelta(days=1)
        obs = [make_observation(base + u, Outcome.NOT_FOUND, at) for u in ("/missing", "/removed")]
        store.record_observations(engine, run_id, obs, HealthSettings(), now=at)
        store.finish_run(engine, run_id, status="completed", now=at)
        if aside:
            _set(migrated_db_url, **aside)
    finally:
        engine.dispose()


def _set(migrated_db_url: str, **columns: Any) -> None:
    """`gone`'s resource row given `columns` (what `snooze`, `ignore` and their ends write)."""
    engine = open_engine(migrated_db_url)
    try:
        with session_scope(engine) as s:
            s.execute(
                update(tables.Resource).where(tables.Resource.rid == "gone").values(**columns)
            )
    finally:
        engine.dispose()


def _run(migrated_db_url: str, catalog_file: Path, folder: Path) -> str:
    """A check-catalog flow run; its summary artifact's text."""
    from prefect.artifacts import Artifact
    from prefect.client.schemas.objects import Artifact as ArtifactResponse

    from flows.check_flow import SUMMARY_KEY, check_catalog

    summary = check_catalog(
        overrides={
            "database_url": migrated_db_url,
            "catalogs": [str(catalog_file)],
            "allow_private": True,
            "reports_dir": str(folder / "reports"),
        },
        render=False,
    )
    assert summary.status == "completed"
    artifact = cast("ArtifactResponse | None", Artifact.get(SUMMARY_KEY))
    assert artifact is not None
    return str(artifact.data)


def _snooze_ends(migrated_db_url: str) -> None:
    _set(migrated_db_url, snoozed_until=utcnow() - timedelta(seconds=1))


def _unignored(migrated_db_url: str) -> None:
    _set(migrated_db_url, ignored_reason=None, ignored_at=None)


@pytest.mark.parametrize(
    ("aside", "meanwhile"),
    [
        pytest.param(
            {"snoozed_until": utcnow() + timedelta(days=30), "snooze_reason": "back soon"},
            _snooze_ends,
            id="a snooze that ends during the run",
        ),
        pytest.param(
            {"ignored_reason": "known", "ignored_at": utcnow()},
            _unignored,
            id="an entry unignored during the run",
        ),
    ],
)
def test_an_entry_back_in_the_queue_during_a_run_is_no_new_break(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
    aside: dict[str, Any],
    meanwhile: Meanwhile,
) -> None:
    """`gone`, confirmed broken nights ago, was set aside when the run started and is
    back in the queue when it ends; its link failed again, as before: nothing broke."""
    with _site(meanwhile, migrated_db_url) as base:
        catalog_file = _catalog(isolated_cwd / "test.yaml", base, "report", "gone")
        _history(migrated_db_url, catalog_file, base, **aside)
        text = _run(migrated_db_url, catalog_file, isolated_cwd)
    assert sent_events == []
    # Both columns count it: the report's "Confirmed broken" lists it now.
    assert "| resources confirmed broken | 1 | 1 |" in text


def test_an_entry_added_with_a_link_known_broken_is_no_new_break(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    """`gone-too` is added to the catalog with the address of `gone`, confirmed broken
    nights ago; the run syncs it. Two resources are in the group, but no link broke."""
    with _site(None, migrated_db_url) as base:
        catalog_file = _catalog(isolated_cwd / "test.yaml", base, "report", "gone")
        _history(migrated_db_url, catalog_file, base)
        _catalog(catalog_file, base, "report", "gone", "gone-too")
        text = _run(migrated_db_url, catalog_file, isolated_cwd)
    assert sent_events == []
    assert "| resources confirmed broken | 2 | 2 |" in text


def test_an_entry_removed_from_the_catalog_hides_no_break_the_run_found(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    """`gone` (confirmed broken) is removed from the catalog as `flaky` breaks for good
    in the same run: one broken out, one in, and the count stayed at one; the break the
    run found went unannounced."""
    with _site(None, migrated_db_url) as base:
        catalog_file = _catalog(isolated_cwd / "test.yaml", base, "report", "gone", "flaky")
        _history(migrated_db_url, catalog_file, base)
        _catalog(catalog_file, base, "report", "flaky")
        text = _run(migrated_db_url, catalog_file, isolated_cwd)
    said = [(event, {k: v for k, v in p.items() if k != "run_id"}) for event, p in sent_events]
    assert said == [(EVENT_BROKEN_INCREASED, {"previous": 0, "current": 1, "delta": 1})]
    assert "| resources confirmed broken | 0 | 1 |" in text
