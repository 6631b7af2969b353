"""The one call the flow and the CLI make: database -> view model -> files on disk.

`publish_report(settings)` writes the HTML site and Markdown (the nightly default);
`formats` adds "csv" and "json". The CLI maps `linkhealth report --format F --out DIR`
onto `formats=(F,)` and `out_dir=DIR`.
"""

from __future__ import annotations

import contextlib
import gc
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from catalog.clock import Clock, utcnow
from catalog.db import Engine, engine_for, forget_connections_after_fork
from catalog.errors import CatalogError
from catalog.hygiene import Finding, lint
from catalog.queries import (
    TREND_DAYS,
    ReportData,
    history_events,
    https_suggestions,
    iter_link_history,
    iter_resources,
    latest_finished_run_id,
    report_data,
    shared_resource_ids,
)
from catalog.settings import Settings
from catalog.source import catalog_files, load_catalogs
from reports.context import (
    ReportContext,
    ResourcePage,
    Row,
    action_queue,
    build_context,
    resource_pages,
    with_findings,
)
from reports.forked import Forked
from reports.render import FORMATS, Progress, ReportFiles, write_report

#: Checks kept on each resource page (newest first).
HISTORY_PER_RESOURCE = 30


def queue_head(engine: Engine, *, now: datetime, limit: int) -> list[Row]:
    """The report's first `limit` action-queue rows, read without building the whole
    report (the flow's table artifact after every run, at any catalog size)."""
    return action_queue(
        iter_resources(engine), now=now, shared_ids=shared_resource_ids(engine), limit=limit
    )


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
    on_progress: Progress | None = None,
) -> ReportFiles:
    """Like `publish_report`, but returns every file written (for the CLI to list);
    `on_progress(done, total)` follows the resource pages."""
    with _rare_collections():
        return _publish(
            settings,
            run_id=run_id,
            formats=_ordered(formats),
            out_dir=out_dir,
            now=clock(),
            on_progress=on_progress,
        )


#: Allocations between two young-generation collections while a report is built (Python's
#: default is 700). The report allocates millions of objects that live until it is written,
#: and each collection walks them again: at 100,000 resources that was a fifth of the time.
#: Acyclic garbage is freed at once either way; cycles wait a little longer.
REPORT_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(REPORT_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _publish(
    settings: Settings,
    *,
    run_id: int | None,
    formats: tuple[str, ...],
    out_dir: Path | None,
    now: datetime,
    on_progress: Progress | None,
) -> ReportFiles:
    engine = engine_for(settings.database_url)
    paths = tuple(settings.catalogs)
    hygiene = Forked(lambda: lint_files(paths), enabled=_total_size(paths) >= BACKGROUND_LINT_BYTES)
    try:
        data = report_data(engine, run_id=run_id)
        ctx = build_context(data, now=now)
        https = https_suggestions(engine)

        def complete(ctx: ReportContext) -> ReportContext:
            # Only the summary pages show the findings: the resource pages start without.
            return with_findings(ctx, _findings(hygiene.result(), https))

        # The view model is millions of long-lived objects; each full collection would
        # walk them all again while pages are rendered. Frozen, the collector skips them.
        gc.collect()
        gc.freeze()
        try:
            pages = None
            if "html" in formats:
                pages = _HistoryPages(engine, data, ctx, now - timedelta(days=TREND_DAYS), now)
            target = Path(out_dir if out_dir is not None else settings.reports_dir)
            return write_report(
                ctx,
                target,
                run_id=ctx.run.id if ctx.run else None,
                formats=formats,
                pages=pages,
                on_progress=on_progress,
                complete=complete,
                latest=run_id is None or run_id == latest_finished_run_id(engine),
            )
        finally:
            gc.unfreeze()
    finally:
        hygiene.close()


@dataclass(frozen=True)
class _HistoryPages:
    """The resource pages with their history and events, read from the database in shards
    by link (`reports.render.PageSource`): each process reads only its own share."""

    engine: Engine
    data: ReportData
    ctx: ReportContext
    since: datetime
    now: datetime

    def pages(self, shard: int, shards: int) -> Iterator[ResourcePage]:
        part = (shard, shards)
        by_resource, by_link = history_events(self.engine, since=self.since, shard=part)
        history = iter_link_history(
            self.engine, since=self.since, per_link=HISTORY_PER_RESOURCE, shard=part
        )
        return resource_pages(
            self.data, self.ctx, history, by_resource, by_link, now=self.now, shard=part
        )

    def after_fork(self) -> None:
        forget_connections_after_fork(self.engine)


#: Catalog files at least this large (about 10,000 resources) are linted in a second
#: process while this one reads the database: at 100,000 resources loading and linting
#: the catalog takes as long as reading the database and building the view model.
BACKGROUND_LINT_BYTES = 2_000_000


def lint_files(paths: Sequence[Path]) -> list[Finding] | None:
    """Hygiene findings of the catalog files; None when one of them does not load (its
    problems belong to `linkhealth catalog validate`, and the links still report)."""
    try:
        return lint(load_catalogs(paths))
    except (CatalogError, OSError):
        return None


def _total_size(paths: Sequence[Path]) -> int:
    """Bytes of the catalog files behind `paths` (a folder counts its files)."""
    total = 0
    for file in catalog_files(paths):
        with contextlib.suppress(OSError):
            total += file.stat().st_size
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
