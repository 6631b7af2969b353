"""Turning a `ReportContext` into files: one template per format.

Stage: report (output). Input: `reports.context.ReportContext`. Output: HTML and
Markdown text, and `write_report` puts `latest.html`, `latest.md` and `run-<id>.html`
in a directory, each replaced atomically so a reader never sees half a report.

Escaping is on by default in both formats: HTML templates are autoescaped by Jinja2,
and every `{{ ... }}` in a Markdown template passes through `md_escape` (via the
environment's `finalize`) unless a filter already produced `MarkdownSafe` text.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.context import ReportContext

HTML_TEMPLATE = "report.html.j2"
MARKDOWN_TEMPLATE = "report.md.j2"


class MarkdownSafe(str):
    """Markdown built by a filter from escaped parts; `finalize` passes it through as is."""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
# Characters kept as they are in link destinations; everything else is percent-encoded.
_URL_SAFE = ":/?#@!$&'()*+,;=%~-._[]"


def md_escape(value: Any) -> str:
    """Plain text safe inside Markdown (tables included): no markup, HTML or line breaks."""
    if value is None:
        return ""
    if isinstance(value, MarkdownSafe):
        return value
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def md_link(text: Any, href: str | None) -> MarkdownSafe:
    """`[text](<href>)`, or just the escaped text when there is no safe href."""
    if not href:
        return MarkdownSafe(md_escape(text))
    return MarkdownSafe(f"[{md_escape(text)}](<{quote(href, safe=_URL_SAFE)}>)")


def _md_finalize(value: Any) -> str:
    return md_escape(value)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md_link"] = md_link
    return env


_HTML_ENV = _environment()
# Same loader and filters; only Markdown templates are ever loaded through it.
_MD_ENV = _HTML_ENV.overlay(finalize=_md_finalize)


def render_html(ctx: ReportContext) -> str:
    return _HTML_ENV.get_template(HTML_TEMPLATE).render(ctx=ctx)


def render_markdown(ctx: ReportContext) -> str:
    return _MD_ENV.get_template(MARKDOWN_TEMPLATE).render(ctx=ctx)


@dataclass(frozen=True)
class ReportFiles:
    latest_html: Path
    latest_markdown: Path
    #: `run-<id>.html`, kept for history; None when no run id was given.
    run_html: Path | None

    @property
    def paths(self) -> tuple[Path, ...]:
        rest = (self.run_html,) if self.run_html else ()
        return (self.latest_html, self.latest_markdown, *rest)


def write_report(ctx: ReportContext, out_dir: Path, *, run_id: int | None) -> ReportFiles:
    """Write the report files into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = render_html(ctx)
    latest_html = _write_atomic(out_dir / "latest.html", page)
    latest_md = _write_atomic(out_dir / "latest.md", render_markdown(ctx))
    run_html = _write_atomic(out_dir / f"run-{run_id}.html", page) if run_id is not None else None
    return ReportFiles(latest_html=latest_html, latest_markdown=latest_md, run_html=run_html)


def _write_atomic(path: Path, text: str) -> Path:
    """Write via a temporary file in the same directory, then `os.replace` it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
