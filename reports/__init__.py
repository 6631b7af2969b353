"""Curator reports: `catalog.queries.ReportData` -> one view model -> HTML and Markdown.

data = catalog.queries.report_data(engine)
ctx = build_context(data, now=utcnow())
write_report(ctx, settings.reports_dir, run_id=ctx.run.id if ctx.run else None)
"""

from reports.context import Priority, ReportContext, build_context
from reports.publish import publish_report
from reports.render import ReportFiles, render_html, render_markdown, write_report

__all__ = [
    "Priority",
    "ReportContext",
    "ReportFiles",
    "build_context",
    "publish_report",
    "render_html",
    "render_markdown",
    "write_report",
]
