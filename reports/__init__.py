"""Curator reports: the database -> one view model -> HTML site, Markdown, CSV and JSON.

data = catalog.queries.report_data(engine)
ctx = build_context(data, now=utcnow())
write_report(ctx, settings.reports_dir, run_id=..., formats=("html", "md", "csv", "json"))

or, as the flow and the CLI do, `publish_report(settings, formats=..., out_dir=...)`,
which writes beside `out_dir` when that folder holds another database's report and
returns the paths written.
"""

from reports.build import build_context, resource_pages
from reports.context import Priority, ReportContext
from reports.publish import publish_report, publish_report_files
from reports.render import FORMATS, render_csv, render_html, render_json, render_markdown
from reports.site import ReportFiles, write_report

__all__ = [
    "FORMATS",
    "Priority",
    "ReportContext",
    "ReportFiles",
    "build_context",
    "publish_report",
    "publish_report_files",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
    "resource_pages",
    "write_report",
]
