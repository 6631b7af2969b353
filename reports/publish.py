"""The one call the flow and the CLI make: database -> view model -> files on disk."""

from __future__ import annotations

from pathlib import Path

from catalog.clock import Clock, utcnow
from catalog.db import engine_for
from catalog.queries import report_data
from catalog.settings import Settings
from reports.context import build_context
from reports.render import write_report


def publish_report(settings: Settings, *, run_id: int | None = None, clock: Clock = utcnow) -> Path:
    """Write latest.html (and run-N.html) into `settings.reports_dir`; returns latest.html."""
    data = report_data(engine_for(settings.database_url), run_id=run_id)
    ctx = build_context(data, now=clock())
    files = write_report(ctx, Path(settings.reports_dir), run_id=ctx.run.id if ctx.run else None)
    return files.latest_html
