"""Turning a `ReportContext` into files: one template or serializer per format.

Stage: report (output). Input: `reports.context.ReportContext` (and, streamed, the
`ResourcePage`s). Output: text per format, and `write_report`, which lays out

    index.html, latest.html, run-<id>.html   summary + action queue (inline CSS, standalone)
    style.css                                 shared by the pages below
    resources/*.html                          one per resource, with its history
    publishers/*.html, hosts/*.html           one per publisher and per host
    queue/<group>.html                        a queue group too long for the index
    latest.md, latest.csv, latest.json

Top-level files are replaced atomically; the page folders are built aside and swapped
in, so a reader never sees half a site and pages of removed resources disappear.

Escaping is on in every format: HTML templates are autoescaped by Jinja2; every
`{{ ... }}` in a Markdown template passes through `md_escape` (via `finalize`) unless
a filter produced `MarkdownSafe` text; CSV cells that a spreadsheet would read as a
formula get a leading `'`; JSON escapes `<`, `>` and `&` so it can sit inside HTML.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import html
import io
import json
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.chart import SERIES, trend_svg
from reports.context import GroupStats, ReportContext, ResourcePage, Row

INDEX_TEMPLATE = "index.html.j2"
HTML_TEMPLATE = INDEX_TEMPLATE
MARKDOWN_TEMPLATE = "report.md.j2"
FORMATS = ("html", "md", "csv", "json")
#: Rows per queue group shown on the index; longer groups get a page of their own.
INDEX_QUEUE_LIMIT = 300
#: Rows per queue group in Markdown (Prefect artifacts and e-mail stay readable).
MARKDOWN_QUEUE_LIMIT = 50
JSON_SCHEMA = "linkhealth-report/1"
SITE_FOLDERS = ("resources", "publishers", "hosts", "queue")


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


def md_code(text: Any) -> MarkdownSafe:
    """Inline code that no backtick in `text` can close early."""
    value = " ".join(str(text).split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    body = html.escape(value, quote=False).replace("|", "\\|")  # GFM tables split on any |
    return MarkdownSafe(f"{fence}{pad}{body}{pad}{fence}")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: formulas (`=`, `+`, `-`, `@`, tab, CR) neutralised."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _md_finalize(value: Any) -> str:
    return md_escape(value)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reports"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the package; no stat() per page when writing 100,000 of them.
        auto_reload=False,
    )
    env.filters["md_link"] = md_link
    env.filters["md_code"] = md_code
    env.filters["percent"] = _percent
    env.globals["trend_svg"] = trend_svg
    env.globals["series"] = SERIES
    return env


_HTML_ENV = _environment()
# Same loader and filters; only Markdown templates are ever loaded through it.
_MD_ENV = _HTML_ENV.overlay(finalize=_md_finalize)


def render_html(ctx: ReportContext, *, limit: int | None = INDEX_QUEUE_LIMIT) -> str:
    """The index page: summary, action queue, changes, trends; standalone (inline CSS)."""
    return _HTML_ENV.get_template(INDEX_TEMPLATE).render(
        ctx=ctx, root="", inline_css=_css(), limit=limit
    )


def render_resource_page(ctx: ReportContext, page: ResourcePage) -> str:
    return _HTML_ENV.get_template("resource.html.j2").render(
        ctx=ctx, page=page, row=page.row, root="../", inline_css=None
    )


def render_group_page(ctx: ReportContext, stats: GroupStats, rows: Sequence[Row]) -> str:
    """The page of one publisher or one host: its numbers and every resource."""
    return _HTML_ENV.get_template("group.html.j2").render(
        ctx=ctx, stats=stats, rows=rows, root="../", inline_css=None
    )


def render_queue_page(ctx: ReportContext, key: str) -> str:
    group = next(g for g in ctx.groups if g.key == key)
    return _HTML_ENV.get_template("queue.html.j2").render(
        ctx=ctx, group=group, root="../", inline_css=None
    )


def render_markdown(ctx: ReportContext, *, limit: int | None = MARKDOWN_QUEUE_LIMIT) -> str:
    return _MD_ENV.get_template(MARKDOWN_TEMPLATE).render(ctx=ctx, limit=limit)


CSV_COLUMNS = (
    "rank",
    "group",
    "collection",
    "id",
    "title",
    "publisher",
    "url",
    "host",
    "outcome",
    "label",
    "state",
    "what_we_saw",
    "since",
    "checks",
    "fix",
    "suggested_url",
    "archive_url",
    "command",
    "page_title",
    "last_checked",
    "elapsed_ms",
    "drift_reason",
    "stale_reasons",
    "snoozed_until",
    "ignored_reason",
)


def write_csv(ctx: ReportContext, fh: TextIO) -> None:
    """Every active resource: the action queue first (ranked), then the rest."""
    writer = csv.writer(fh, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for rank, row in _ranked(ctx):
        writer.writerow([csv_cell(v) for v in _csv_values(rank, row)])


def render_csv(ctx: ReportContext) -> str:
    buf = io.StringIO()
    write_csv(ctx, buf)
    return buf.getvalue()


def _ranked(ctx: ReportContext) -> Iterable[tuple[int | None, Row]]:
    queued = ctx.rows
    yield from enumerate(queued, start=1)
    shown = {id(r) for r in queued}
    for row in ctx.set_aside:
        shown.add(id(row))
        yield None, row
    for row in ctx.resources:
        if id(row) not in shown:
            yield None, row


def _csv_values(rank: int | None, row: Row) -> list[Any]:
    return [
        rank,
        row.priority.key if row.priority and not row.set_aside else "",
        row.collection_key,
        row.resource_id,
        row.title,
        row.publisher,
        row.url,
        row.host,
        row.outcome,
        row.label,
        row.state,
        row.seen,
        row.since.iso if row.since else None,
        row.checks,
        row.fix,
        row.suggested_url,
        row.archive_url,
        row.command,
        row.page_title,
        row.last_checked.iso if row.last_checked else None,
        row.elapsed_ms,
        row.drift_reason,
        "; ".join(row.stale_reasons),
        row.snoozed_until.iso if row.snoozed_until else None,
        row.ignored_reason,
    ]


def render_json(ctx: ReportContext, *, pretty: bool = False) -> str:
    """The whole view model (resource histories aside) as JSON, safe to inline in HTML.

    Compact by default: the C encoder only runs without indentation, and that matters
    at 100,000 resources.
    """
    doc = {"schema": JSON_SCHEMA, **_plain(ctx), "queue": _plain(ctx.groups)}
    doc.pop("groups", None)
    text = json.dumps(
        doc, ensure_ascii=False, indent=1 if pretty else None, separators=_SEPARATORS[pretty]
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


_FIELDS: dict[type, tuple[str, ...]] = {}
_SEPARATORS = {True: (",", ": "), False: (",", ":")}


def _plain(value: Any) -> Any:
    # Hand-rolled asdict: dataclasses.asdict deep-copies and is too slow for 100k rows.
    if isinstance(value, Enum):
        return value.name.lower()
    if value is None or isinstance(value, str | int | float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        out = {}
        for name in names:
            item = getattr(value, name)
            out[name] = item if item is None or type(item) in _SCALARS else _plain(item)
        return out
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool})


@dataclass(frozen=True)
class ReportFiles:
    latest_html: Path | None
    latest_markdown: Path | None
    #: `run-<id>.html`, kept for history; None when no run id was given.
    run_html: Path | None
    latest_csv: Path | None = None
    latest_json: Path | None = None
    index_html: Path | None = None
    #: Pages written under the site folders.
    pages: int = 0

    @property
    def paths(self) -> tuple[Path, ...]:
        """The top-level files written, the main one first."""
        found = (
            self.latest_html,
            self.latest_markdown,
            self.run_html,
            self.latest_csv,
            self.latest_json,
            self.index_html,
        )
        return tuple(p for p in found if p is not None)

    @property
    def main(self) -> Path:
        return self.paths[0]


def write_report(
    ctx: ReportContext,
    out_dir: Path,
    *,
    run_id: int | None,
    formats: Sequence[str] = ("html", "md"),
    pages: Iterable[ResourcePage] | None = None,
) -> ReportFiles:
    """Write the report in `formats` into `out_dir` (created if missing).

    `pages` streams the per-resource pages with their history; without it each
    resource still gets a page, with its current state only.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {FORMATS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path | None] = {}
    count = 0
    if "html" in formats:
        count = _write_site(ctx, out_dir, pages)
        page = render_html(ctx)
        files["index_html"] = _write_atomic(out_dir / "index.html", page)
        files["latest_html"] = _write_atomic(out_dir / "latest.html", page)
        if run_id is not None:
            files["run_html"] = _write_atomic(out_dir / f"run-{run_id}.html", page)
    if "md" in formats:
        files["latest_markdown"] = _write_atomic(out_dir / "latest.md", render_markdown(ctx))
    if "csv" in formats:
        files["latest_csv"] = _write_atomic(out_dir / "latest.csv", render_csv(ctx))
    if "json" in formats:
        files["latest_json"] = _write_atomic(out_dir / "latest.json", render_json(ctx))
    return ReportFiles(
        latest_html=files.get("latest_html"),
        latest_markdown=files.get("latest_markdown"),
        run_html=files.get("run_html"),
        latest_csv=files.get("latest_csv"),
        latest_json=files.get("latest_json"),
        index_html=files.get("index_html"),
        pages=count,
    )


def _write_site(ctx: ReportContext, out_dir: Path, pages: Iterable[ResourcePage] | None) -> int:
    """Build the page folders aside, then swap them in; returns the number of pages."""
    stage = Path(tempfile.mkdtemp(dir=out_dir, prefix=".site-"))
    count = 0
    try:
        for folder in SITE_FOLDERS:
            (stage / folder).mkdir()
        if pages is None:
            pages = (ResourcePage(row, ()) for row in ctx.resources)
        for page in pages:
            _write_plain(stage / page.row.page, render_resource_page(ctx, page))
            count += 1
        members: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for row in ctx.resources:
            if row.publisher:
                members["publisher", row.publisher].append(row)
            if row.host:
                members["host", row.host].append(row)
        for stats in (*ctx.publishers, *ctx.hosts):
            _write_plain(
                stage / stats.page, render_group_page(ctx, stats, members[stats.kind, stats.name])
            )
            count += 1
        for kind, heading, noun, stats_list in (
            ("publishers", "Publishers", "Publisher", ctx.publishers),
            ("hosts", "Hosts", "Host", ctx.hosts),
        ):
            text = _HTML_ENV.get_template("groups.html.j2").render(
                ctx=ctx, stats=stats_list, heading=heading, noun=noun, root="../", inline_css=None
            )
            _write_plain(stage / kind / "index.html", text)
            count += 1
        for group in ctx.groups:
            if len(group.rows) > INDEX_QUEUE_LIMIT:
                _write_plain(
                    stage / "queue" / f"{group.key}.html", render_queue_page(ctx, group.key)
                )
                count += 1
        _write_plain(stage / "style.css", _css())
        _swap(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return count


def _swap(stage: Path, out_dir: Path) -> None:
    trash = Path(tempfile.mkdtemp(dir=out_dir, prefix=".old-"))
    try:
        for name in (*SITE_FOLDERS, "style.css"):
            current = out_dir / name
            if current.exists():
                os.replace(current, trash / name)
            os.replace(stage / name, current)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _write_plain(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


@functools.cache
def _css() -> str:
    loader = _HTML_ENV.loader
    assert loader is not None
    source, _, _ = loader.get_source(_HTML_ENV, "style.css")
    return source


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
