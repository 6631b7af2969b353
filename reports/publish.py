"""The one call the flow and the CLI make: database -> view model -> files on disk.

`publish_report(settings)` writes the HTML site and Markdown (the nightly default);
`formats` adds "csv" and "json". The CLI maps `linkhealth report --format F --out DIR`
onto `formats=(F,)` and `out_dir=DIR`.
"""

from __future__ import annotations

import gc
import shlex
from collections.abc import Mapping, Sequence
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
from reports.context import build_context, resource_pages
from reports.render import FORMATS, ReportFiles, write_report

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
    data = report_data(engine, run_id=run_id)
    ctx = build_context(data, now=now, findings=_findings(settings, https_suggestions(engine)))
    # The view model is millions of long-lived objects; each full collection would walk
    # them all again while pages are rendered. Frozen, the collector skips them.
    gc.collect()
    gc.freeze()
    try:
        pages = None
        if "html" in formats:
            since = now - timedelta(days=TREND_DAYS)
            by_resource, by_link = history_events(engine, since=since)
            history = iter_link_history(engine, since=since, per_link=HISTORY_PER_RESOURCE)
            pages = resource_pages(data, ctx, history, by_resource, by_link, now=now)
        target = Path(out_dir if out_dir is not None else settings.reports_dir)
        return write_report(
            ctx, target, run_id=ctx.run.id if ctx.run else None, formats=formats, pages=pages
        )
    finally:
        gc.unfreeze()


def _findings(settings: Settings, https: Mapping[tuple[str, str], str]) -> list[Finding]:
    """Hygiene of the configured catalogs; a catalog that no longer loads reports none here
    (its problems belong to `linkhealth catalog validate`, and the links still report).

    An `http_url` finding whose https form a run has shown to serve the same page becomes a
    confirmed fix with the command that applies it.
    """
    try:
        findings = lint(load_catalogs(settings.catalogs))
    except (CatalogError, OSError):
        return []
    out = []
    for f in findings:
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
