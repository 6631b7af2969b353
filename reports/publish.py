"""The one call the flow and the CLI make: database -> view model -> files on disk.

`publish_report(settings)` writes the HTML site and Markdown (the nightly default);
`formats` adds "csv" and "json". The CLI maps `linkhealth report --format F --out DIR`
onto `formats=(F,)` and `out_dir=DIR`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import shlex
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from catalog.clock import Clock, utcnow
from catalog.db import engine_for
from catalog.errors import CatalogError
from catalog.hygiene import Finding, lint
from catalog.queries import (
    TREND_DAYS,
    history_events,
    https_suggestions,
    iter_link_history,
    report_data,
)
from catalog.settings import Settings
from catalog.source import load_catalogs
from reports.context import build_context, resource_pages, with_findings
from reports.render import FORMATS, ReportFiles, write_report

log = logging.getLogger(__name__)

#: Checks kept on each resource page (newest first).
HISTORY_PER_RESOURCE = 30


def publish_report(
    settings: Settings,
    *,
    run_id: int | None = None,
    formats: Sequence[str] = ("html", "md"),
    out_dir: Path | None = None,
    clock: Clock = utcnow,
) -> Path:
    """Write the report into `out_dir` (default `settings.reports_dir`); returns the main file.

    The main file is latest.html when "html" is among `formats`, else the first format's.
    """
    return publish_report_files(
        settings, run_id=run_id, formats=formats, out_dir=out_dir, clock=clock
    ).main


def publish_report_files(
    settings: Settings,
    *,
    run_id: int | None = None,
    formats: Sequence[str] = ("html", "md"),
    out_dir: Path | None = None,
    clock: Clock = utcnow,
) -> ReportFiles:
    """Like `publish_report`, but returns every file written (for the CLI to list)."""
    formats = _ordered(formats)
    engine = engine_for(settings.database_url)
    now = clock()
    with _hygiene_of(settings.catalogs) as hygiene:
        data = report_data(engine, run_id=run_id)
        ctx = build_context(data, now=now)
        since = now - timedelta(days=TREND_DAYS)
        by_resource, by_link = (
            history_events(engine, since=since) if "html" in formats else ({}, {})
        )
        ctx = with_findings(ctx, _findings(hygiene.result(), https_suggestions(engine)))
    # The view model is millions of long-lived objects; each full collection would walk
    # them all again while pages are rendered. Frozen, the collector skips them.
    gc.collect()
    gc.freeze()
    try:
        pages = None
        if "html" in formats:
            history = iter_link_history(engine, since=since, per_link=HISTORY_PER_RESOURCE)
            pages = resource_pages(data, ctx, history, by_resource, by_link, now=now)
        target = Path(out_dir if out_dir is not None else settings.reports_dir)
        return write_report(
            ctx, target, run_id=ctx.run.id if ctx.run else None, formats=formats, pages=pages
        )
    finally:
        gc.unfreeze()


#: Catalog files at least this large (about 10,000 resources) are linted in a second
#: process while this one reads the database: at 100,000 resources loading and linting
#: the catalog takes as long as reading the database and building the view model.
BACKGROUND_LINT_BYTES = 2_000_000


class _Hygiene:
    """Catalog hygiene findings, computed here or in a forked child; `None` when a
    configured catalog no longer loads (its problems belong to `linkhealth catalog
    validate`, and the links still report)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = tuple(paths)
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future[list[Finding] | None] | None = None
        if _fork_available() and _total_size(self._paths) >= BACKGROUND_LINT_BYTES:
            # fork, not spawn: a spawned child would first re-import the caller's main
            # module (the CLI imports Prefect), costing more than the lint saves. The child
            # only reads the catalog files and computes; nothing it touches is shared.
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            with warnings.catch_warnings():  # Python 3.12+ warns about fork with threads
                warnings.simplefilter("ignore", DeprecationWarning)
                self._future = self._pool.submit(lint_files, self._paths)

    def result(self) -> list[Finding] | None:
        if self._future is not None:
            try:
                return self._future.result()
            except BrokenProcessPool:
                log.warning("catalog hygiene in a second process failed; linting here")
        return lint_files(self._paths)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _hygiene_of(paths: Sequence[Path]) -> Iterator[_Hygiene]:
    hygiene = _Hygiene(paths)
    try:
        yield hygiene
    finally:
        hygiene.close()


def lint_files(paths: Sequence[Path]) -> list[Finding] | None:
    """Hygiene findings of the catalog files; None when one of them does not load."""
    try:
        return lint(load_catalogs(paths))
    except (CatalogError, OSError):
        return None


def _fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def _total_size(paths: Sequence[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += Path(path).stat().st_size
    return total


def _findings(
    findings: Sequence[Finding] | None, https: Mapping[tuple[str, str], str]
) -> list[Finding]:
    """An `http_url` finding whose https form a run has shown to serve the same page
    becomes a confirmed fix with the command that applies it."""
    out = []
    for f in findings or ():
        url = https.get((f.collection, f.resource_id)) if f.code == "http_url" else None
        if url:
            f = replace(
                f,
                fix=f"The https form {url} serves the same page; switch to it.",
                command=shlex.join(["linkhealth", "replace-url", f.resource_id, url]),
            )
        out.append(f)
    return out


def _ordered(formats: Sequence[str]) -> tuple[str, ...]:
    """`formats` deduplicated in the canonical order, so the main file is predictable."""
    if isinstance(formats, str):
        formats = (formats,)
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {FORMATS}")
    return tuple(f for f in FORMATS if f in formats)
