"""Turning a `ReportContext` into files: one template or serializer per format.

Stage: report (output). Input: `reports.context.ReportContext` (and, streamed, the
`ResourcePage`s). Output: text per format, and `write_report`, which lays out

    index.html, latest.html, run-<id>.html   summary + action queue (inline CSS, standalone)
    style.css                                 shared by the pages below
    resources/*.html                          one per resource, with its history
    publishers/*.html, hosts/*.html           one per publisher and per host
    queue/<group>.html, <group>-2.html ...    a queue group too long for the index, in pages
    hygiene/index.html, page-2.html ...       every hygiene finding, when too many for the index
    latest.md, latest.csv, latest.json

Top-level files are replaced atomically; the page folders are built aside and swapped
in, so a reader never sees half a site and pages of removed resources disappear.

Escaping is on in every format: HTML templates are autoescaped by Jinja2; every
`{{ ... }}` in a Markdown template passes through `md_escape` (via `finalize`) unless
a filter produced `MarkdownSafe` text; CSV cells that a spreadsheet would read as a
formula get a leading `'`; JSON escapes `<`, `>` and `&` so it can sit inside HTML.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import html
import io
import json
import multiprocessing
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reports.chart import SERIES, trend_svg
from reports.context import (
    Group,
    GroupStats,
    HistoryItem,
    HygieneRow,
    ReportContext,
    ResourcePage,
    Row,
    When,
    worst_first,
)
from reports.forked import Forked, can_fork

INDEX_TEMPLATE = "index.html.j2"
HTML_TEMPLATE = INDEX_TEMPLATE
MARKDOWN_TEMPLATE = "report.md.j2"
FORMATS = ("html", "md", "csv", "json")
#: Rows per queue group (and hygiene findings) shown on the index; longer lists get a page
#: of their own, so the index of a big catalog stays small enough to open on a phone.
INDEX_QUEUE_LIMIT = 300
#: Rows on one page of a long queue group or of the hygiene list. A group can hold most of
#: a big catalog (70 MB as one page at 100,000 resources, too much for a browser, let
#: alone a phone); pages of 1,000 rows are ~1.5 MB and open at once.
LONG_LIST_PAGE_ROWS = 1000
#: Rows per queue group and hygiene findings in Markdown (artifacts and e-mail stay readable).
MARKDOWN_QUEUE_LIMIT = 50
JSON_SCHEMA = "linkhealth-report/1"
SITE_FOLDERS = ("resources", "publishers", "hosts", "queue", "hygiene")


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


def _escape_str(text: str) -> str:
    """`markupsafe.escape` for a str, byte for byte, without building a `Markup` per value."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


_escape: Callable[[str], str]
try:
    # What `markupsafe.escape` itself calls on a str (C, a fifth of the time of the
    # replace chain above); the report escapes millions of values. Private: fall back.
    from markupsafe._speedups import _escape_inner as _escape
except ImportError:  # pragma: no cover - markupsafe without its C extension
    _escape = _escape_str


def history_rows(items: Iterable[HistoryItem]) -> Markup:
    """The `<tr>`s of a resource page's history table (one a line), every value escaped.

    Formatted here rather than in a template loop: it is the report's innermost loop
    (a page per resource, up to `HISTORY_PER_RESOURCE` checks plus events each), and a
    Jinja loop costs about 20 µs a row: a minute for 100,000 pages of 30 rows.
    """
    return Markup(
        "\n".join(
            f'<tr data-kind="{_escape(i.kind)}"><td class="first" data-label="When">'
            f'<time datetime="{_escape(i.at.iso)}">{_escape(i.at.text)}</time></td>'
            f'<td data-label="What"><span class="badge sev-{_escape(i.severity)}">'
            f"{_escape(i.label)}</span></td>"
            f'<td data-label="Details">{_escape(i.detail or "")}</td>'
            '<td data-label="HTTP" class="num">'
            f"{'' if i.http_status is None else i.http_status}</td>"
            '<td data-label="Response" class="num">'
            f"{'' if i.elapsed_ms is None else f'{int(i.elapsed_ms)} ms'}</td></tr>"
            for i in items
        )
    )


# --- rows formatted in Python ------------------------------------------------------------------
# The action-queue and status-table rows are formatted here rather than by Jinja macros
# for the same reason as `history_rows`: the summary pages of 100,000 resources hold
# tens of thousands of queue rows (a nest of macro calls cost ~100 µs a row), and the
# publisher and host pages list every resource twice. The pieces the templates share
# with them (`ext`, `moment`, `badge`, `resource_cell`, `fix_cell`) are globals of the
# template environment, so each piece of markup has a single definition. Every value
# is escaped (`_escape`).


def _ext(url: str, href: str | None, cls: str) -> str:
    if href:
        return (
            f'<a class="{_escape(cls)}" href="{_escape(href)}" '
            f'rel="noopener noreferrer nofollow">{_escape(url)}</a>'
        )
    return f'<span class="{_escape(cls)}">{_escape(url)}</span>'


def _moment(w: When | None) -> str:
    if not w:
        return "—"
    return f'<time datetime="{_escape(w.iso)}" title="{_escape(w.text)}">{_escape(w.date)}</time>'


def _badge(severity: str, label: str) -> str:
    return f'<span class="badge sev-{_escape(severity)}">{_escape(label)}</span>'


def ext(url: str, href: str | None, cls: str = "url") -> Markup:
    """An outside address: a link when `href` is safe (`context.safe_href`), else text."""
    return Markup(_ext(url, href, cls))


def moment(w: When | None) -> Markup:
    """A date with its full time on hover, or a dash."""
    return Markup(_moment(w))


def badge(severity: str, label: str) -> Markup:
    return Markup(_badge(severity, label))


def _site_link(root: str, page: str | None, text: str, cls: str = "") -> str:
    """A link to another page of the report; `root` is escaped already."""
    attr = f' class="{cls}"' if cls else ""
    return f'<a{attr} href="{root}{_escape(page or "")}">{_escape(text)}</a>'


def _state(row: Row) -> str:
    """A row's badge and, when it adds to it, its state."""
    text = _badge(*row.status_badge)
    if row.state_note:
        text += f' <span class="small">({_escape(row.state_note)})</span>'
    return text


def _resource_cell(row: Row, root: str) -> str:
    publisher = f" · {_site_link(root, row.publisher_page, row.publisher)}" if row.publisher else ""
    return (
        f"{_site_link(root, row.page, row.title, 'title')}\n"
        f'<div class="small"><span class="id">{_escape(row.resource_id)}</span> · '
        f"{_escape(row.collection)}{publisher}</div>\n{_ext(row.url, row.href, 'url')}"
    )


def _seen_cell(row: Row) -> str:
    parts = [_state(row)]
    if row.seen != row.label:
        parts.append(f'<div class="small">{_escape(row.seen)}</div>')
    if row.page_title:
        label = row.page_title_label
        parts.append(f'<div class="small">{label}: “{_escape(row.page_title)}”</div>')
    if row.final_url:
        parts.append(
            f'<div class="small">Ended at: {_ext(row.final_url, row.final_href, "")}</div>'
        )
    return "".join(parts)


def _fix_cell(row: Row) -> str:
    parts = [f'<p class="step">{_escape(row.fix or row.next_step)}</p>']
    if row.suggested_url:
        parts.append(
            '<p class="step small">New address: '
            f"{_ext(row.suggested_url, row.suggested_href, 'suggested')}</p>"
        )
    if row.archive_url:
        parts.append(
            '<p class="step small">Archived copy: '
            f"{_ext(row.archive_url, row.archive_href, 'archive')}</p>"
        )
    if row.command:
        parts.append(f'<code class="cmd">{_escape(row.command)}</code>')
        if row.command_needs_input:
            parts.append('<span class="needs-input">Replace NEW_URL first.</span>')
    return "".join(parts)


def _facts(row: Row, root: str) -> str:
    """A resource page's "Where it stands" list (`<dt>`/`<dd>` pairs), one fact a line.

    Formatted here for the reason the rows are: 100,000 resource pages, and in Jinja
    this list was half of each page's time.
    """
    facts = [
        (
            "Catalog",
            f'{_escape(row.collection)} · <span class="id">{_escape(row.resource_id)}</span>',
        ),
        ("URL", _ext(row.url, row.href, "url")),
    ]
    if row.publisher:
        facts.append(("Publisher", _site_link(root, row.publisher_page, row.publisher)))
    if row.host:
        facts.append(("Host", _site_link(root, row.host_page, row.host)))
    facts.append(("What we saw", _escape(row.seen)))
    if row.page_title:
        facts.append((row.page_title_label, f"“{_escape(row.page_title)}”"))
    if row.final_url:
        facts.append(("Ended at", _ext(row.final_url, row.final_href, "url")))
    if row.since:
        since, plural = row.since, "" if row.checks == 1 else "s"
        facts.append(
            (
                "Since",
                f'{_escape(since.ago)} (<time datetime="{_escape(since.iso)}">'
                f"{_escape(since.date)}</time>), {row.checks} check{plural}",
            )
        )
    last, tried = row.last_checked, row.last_tried
    if last:
        checked = f'<time datetime="{_escape(last.iso)}">{_escape(last.text)}</time>'
    elif tried:  # a try that found our own network down is no check
        checked = (
            f'never (last tried <time datetime="{_escape(tried.iso)}">{_escape(tried.text)}'
            "</time>, while our network was unavailable)"
        )
    else:
        checked = "never"
    if row.elapsed_ms is not None:
        checked += f", answered in {row.elapsed_ms} ms"
    facts.append(("Last checked", checked))
    if row.drift_reason:
        facts.append(("Content drift", _escape(row.drift_reason)))
    if row.stale_reasons:
        facts.append(("Possibly out of date", _escape("; ".join(row.stale_reasons))))
    if row.ignored_reason:
        facts.append(("Ignored", _escape(row.ignored_reason)))
    if row.snoozed_until:
        snooze = _moment(row.snoozed_until)
        if row.snooze_reason:
            snooze += f": {_escape(row.snooze_reason)}"
        facts.append(("Snoozed until", snooze))
    return "\n".join(f"<dt>{term}</dt><dd>{value}</dd>" for term, value in facts)


def facts(row: Row, root: str) -> Markup:
    return Markup(_facts(row, _escape(root)))


def resource_cell(row: Row, root: str) -> Markup:
    """A resource's title (linked to its page), id, catalog, publisher and address."""
    return Markup(_resource_cell(row, _escape(root)))


def fix_cell(row: Row) -> Markup:
    """The suggested fix of a row: the step, the new or archived address, the command."""
    return Markup(_fix_cell(row))


def _queue_row(row: Row, root: str) -> str:
    about_link = not row.entry_only
    since = (
        f'{_escape(row.since.ago)}<div class="small">{_moment(row.since)}</div>'
        if row.since and about_link
        else "—"
    )
    return (
        f'<tr data-resource-id="{_escape(row.resource_id)}" '
        f'data-collection="{_escape(row.collection_key)}" '
        f'data-outcome="{_escape(row.outcome or "")}" data-state="{_escape(row.state)}">\n'
        f'<td class="first" data-label="Resource">{_resource_cell(row, root)}</td>\n'
        f'<td data-label="What we saw">{_seen_cell(row)}</td>\n'
        f'<td data-label="Since">{since}</td>\n'
        f'<td data-label="Checks" class="num">{row.checks if about_link else ""}</td>\n'
        f'<td data-label="Suggested fix" class="fix">{_fix_cell(row)}</td>\n'
        "</tr>\n"
    )


def queue_rows(rows: Iterable[Row], root: str) -> Markup:
    """The `<tr>`s of action-queue rows, each ending a line."""
    root = _escape(root)
    return Markup("".join([_queue_row(row, root) for row in rows]))


def _status_row(row: Row, root: str) -> str:
    checked = _escape(row.last_checked.date) if row.last_checked else "—"
    ms = "—" if row.elapsed_ms is None else f"{int(row.elapsed_ms)} ms"
    return (
        f'<tr data-resource-id="{_escape(row.resource_id)}" '
        f'data-outcome="{_escape(row.outcome or "")}"><td class="first" data-label="Resource">'
        f"{_site_link(root, row.page, row.title, 'title')}"
        f'<span class="url">{_escape(row.url)}</span></td>'
        f'<td data-label="Status">{_state(row)}</td>'
        f'<td data-label="Last checked">{checked}</td>'
        f'<td data-label="Response" class="num">{ms}</td></tr>\n'
    )


def status_rows(rows: Iterable[Row], root: str) -> Markup:
    """The `<tr>`s of a publisher's or host's resource table, each ending a line."""
    root = _escape(root)
    return Markup("".join([_status_row(row, root) for row in rows]))


def _finding_row(f: HygieneRow) -> str:
    command = f"<br><code>{_escape(f.command)}</code>" if f.command else ""
    return (
        f'<tr data-resource-id="{_escape(f.resource_id)}" data-code="{_escape(f.code)}">\n'
        f'<td class="first" data-label="Entry"><code>{_escape(f.resource_id)}</code><br>'
        f"<small>{_escape(f.where)}</small></td>\n"
        f'<td data-label="Level">{_escape(f.level.capitalize())}</td>\n'
        f'<td data-label="What is wrong">{_escape(f.message)}</td>\n'
        f'<td data-label="Suggested fix">{_escape(f.fix)}{command}</td>\n'
        "</tr>\n"
    )


def finding_rows(rows: Iterable[HygieneRow]) -> Markup:
    """The `<tr>`s of the hygiene table (a catalog of 100,000 may have as many findings)."""
    return Markup("".join([_finding_row(f) for f in rows]))


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
    env.filters["history_rows"] = history_rows
    env.filters["queue_rows"] = queue_rows
    env.filters["status_rows"] = status_rows
    env.filters["finding_rows"] = finding_rows
    env.globals["ext"] = ext
    env.globals["moment"] = moment
    env.globals["badge"] = badge
    env.globals["resource_cell"] = resource_cell
    env.globals["fix_cell"] = fix_cell
    env.globals["facts"] = facts
    env.globals["trend_svg"] = trend_svg
    env.globals["series"] = SERIES
    return env


_HTML_ENV = _environment()
# Same loader and filters; only Markdown templates are ever loaded through it.
_MD_ENV = _HTML_ENV.overlay(finalize=_md_finalize)


def render_html(
    ctx: ReportContext, *, limit: int | None = INDEX_QUEUE_LIMIT, beside: Sequence[str] = ()
) -> str:
    """The index page: summary, action queue, changes, trends; standalone (inline CSS).

    `beside`: the other formats written with it, which its footer links. Only those: a
    latest.csv left by an earlier run is not this report.
    """
    others = [(f"latest.{f}", _FORMAT_NAMES[f]) for f in FORMATS if f in beside and f != "html"]
    return _HTML_ENV.get_template(INDEX_TEMPLATE).render(
        ctx=ctx, root="", inline_css=_css(), limit=limit, beside=others
    )


_FORMAT_NAMES = {"md": "Markdown", "csv": "CSV", "json": "JSON"}


def render_resource_page(ctx: ReportContext, page: ResourcePage) -> str:
    return _HTML_ENV.get_template("resource.html.j2").render(
        ctx=ctx, page=page, row=page.row, root="../", inline_css=None
    )


def render_group_page(ctx: ReportContext, stats: GroupStats, rows: Sequence[Row]) -> str:
    """The page of one publisher or one host: its numbers and every resource."""
    return _HTML_ENV.get_template("group.html.j2").render(
        ctx=ctx, stats=stats, rows=rows, root="../", inline_css=None
    )


@dataclass(frozen=True)
class Pager:
    """One page of a long list among its pages; the hrefs are relative to its folder."""

    number: int
    count: int
    #: This page's own file name.
    href: str
    first_row: int  # 1-based, as shown
    last_row: int
    total: int
    first_href: str
    prev_href: str | None
    next_href: str | None
    last_href: str


def pagers(total: int, file_name: Callable[[int], str]) -> list[Pager]:
    """The pages of a list of `total` rows, `LONG_LIST_PAGE_ROWS` each (at least one page);
    `file_name(n)` names page n (1-based) within the list's folder."""
    size = LONG_LIST_PAGE_ROWS
    count = max(1, -(-total // size))
    return [
        Pager(
            number=n,
            count=count,
            href=file_name(n),
            first_row=min(total, (n - 1) * size + 1),
            last_row=min(total, n * size),
            total=total,
            first_href=file_name(1),
            prev_href=file_name(n - 1) if n > 1 else None,
            next_href=file_name(n + 1) if n < count else None,
            last_href=file_name(count),
        )
        for n in range(1, count + 1)
    ]


def queue_page_name(key: str, number: int) -> str:
    """Page 1 keeps the name the index links to; the others follow it."""
    return f"{key}.html" if number == 1 else f"{key}-{number}.html"


def hygiene_page_name(number: int) -> str:
    return "index.html" if number == 1 else f"page-{number}.html"


def render_hygiene_page(ctx: ReportContext, pager: Pager) -> str:
    """One page of the hygiene findings, for a catalog with more than the index shows."""
    rows = ctx.hygiene[pager.first_row - 1 : pager.last_row]
    return _HTML_ENV.get_template("hygiene.html.j2").render(
        ctx=ctx, rows=rows, pager=pager, root="../", inline_css=None
    )


def render_queue_page(ctx: ReportContext, group: Group, pager: Pager) -> str:
    """One page of a queue group too long for the index."""
    rows = group.rows[pager.first_row - 1 : pager.last_row]
    return _HTML_ENV.get_template("queue.html.j2").render(
        ctx=ctx, group=group, rows=rows, pager=pager, root="../", inline_css=None
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
    plain = _Plain()
    doc = {"schema": JSON_SCHEMA, **plain(ctx), "queue": plain(ctx.groups)}
    doc.pop("groups", None)
    text = json.dumps(
        doc, ensure_ascii=False, indent=1 if pretty else None, separators=_SEPARATORS[pretty]
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


_FIELDS: dict[type, tuple[str, ...]] = {}
_SEPARATORS = {True: (",", ": "), False: (",", ":")}


class _Plain:
    """Hand-rolled `dataclasses.asdict` (which deep-copies: too slow for 100k rows).

    Records are converted once per render: a queue row is also a resource row, and
    one `When` is shared by thousands of rows.
    """

    def __init__(self) -> None:
        # id() is stable: every record converted stays referenced by the context.
        self._done: dict[int, dict[str, Any]] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Enum):
            return value.name.lower()
        if value is None or isinstance(value, str | int | float):
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            found = self._done.get(id(value))
            if found is not None:
                return found
            names = _FIELDS.get(type(value))
            if names is None:
                names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
            out = {}
            for name in names:
                item = getattr(value, name)
                out[name] = item if item is None or type(item) in _SCALARS else self(item)
            self._done[id(value)] = out
            return out
        if isinstance(value, tuple | list):
            return [self(v) for v in value]
        return value


_SCALARS = frozenset({str, int, float, bool})


@dataclass(frozen=True)
class ReportFiles:
    """The top-level files written. `latest_*` are the `latest.*` files, or for a report
    on an earlier run its `run-<id>.*` ones."""

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
            self.run_html,  # the main file of a report on an earlier run
            self.latest_markdown,
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
    pages: Iterable[ResourcePage] | PageSource | None = None,
    on_progress: Progress | None = None,
    complete: Complete | None = None,
    latest: bool = True,
) -> ReportFiles:
    """Write the report in `formats` into `out_dir` (created if missing).

    `latest=False` (a report on an earlier run) writes `run-<id>.*` files only: the
    index, the `latest.*` files and the site's pages stay those of the latest report
    (which a nightly run may be writing meanwhile).

    `pages` streams the per-resource pages with their history; without it each
    resource still gets a page, with its current state only. `complete(ctx)` adds what
    arrives late (the catalog's hygiene findings, linted in a second process) once the
    resource, publisher and host pages, which do not show it, are under way.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {FORMATS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path | None] = {}
    count = 0
    before = ctx  # completed at most once, when a summary page first needs it
    done = functools.cache(lambda: complete(before) if complete is not None else before)
    stem = "latest" if latest or run_id is None else f"run-{run_id}"
    if "html" in formats and stem == "latest":
        count = _write_site(ctx, out_dir, pages, on_progress, done)
    ctx = done()
    if "html" in formats:
        if stem == "latest":
            page = render_html(ctx, beside=formats)
            files["index_html"] = _write_atomic(out_dir / "index.html", page)
            files["latest_html"] = _write_atomic(out_dir / "latest.html", page)
        if run_id is not None:
            # Kept for history: its footer must not link latest.* files, which the next
            # run replaces with another report.
            run_page = render_html(ctx)
            files["run_html"] = _write_atomic(out_dir / f"run-{run_id}.html", run_page)
    if "md" in formats:
        files["latest_markdown"] = _write_atomic(out_dir / f"{stem}.md", render_markdown(ctx))
    if "csv" in formats:
        files["latest_csv"] = _write_atomic(out_dir / f"{stem}.csv", render_csv(ctx))
    if "json" in formats:
        files["latest_json"] = _write_atomic(out_dir / f"{stem}.json", render_json(ctx))
    return ReportFiles(
        latest_html=files.get("latest_html"),
        latest_markdown=files.get("latest_markdown"),
        run_html=files.get("run_html"),
        latest_csv=files.get("latest_csv"),
        latest_json=files.get("latest_json"),
        index_html=files.get("index_html"),
        pages=count,
    )


@runtime_checkable
class PageSource(Protocol):
    """Resource pages that can be read in shards, one per process (`reports.forked`)."""

    def pages(self, shard: int, shards: int) -> Iterable[ResourcePage]:
        """The pages of shard `shard` of `shards`; together the shards hold every page."""
        ...

    def after_fork(self) -> None:
        """Drop what must not cross a fork (database connections) in the child."""
        ...


#: The folder a site is built in before it is swapped in.
STAGE_PREFIX = ".site-"

#: Resources from which a site is rendered by two processes when the machine allows it.
PARALLEL_PAGES_MIN = 20_000


#: Hands a page (its path as text: 100,000 `Path` joins cost a second) to `_PageWriter`.
Write = Callable[[str, str], None]

#: `on_progress(resource pages written, resource pages in all)`, now and then.
Progress = Callable[[int, int], None]

#: The view model made whole for the summary pages (`write_report`'s `complete`).
Complete = Callable[[ReportContext], ReportContext]


#: Resource pages between two progress reports.
PROGRESS_EVERY = 500


class _PageCounter:
    """Resource pages written by this process and a forked child together (a counter in
    shared memory when there is a child); this process reports the sum."""

    def __init__(self, total: int, on_progress: Progress | None, shared: bool) -> None:
        self.total = total
        self._on_progress = on_progress
        self._shared = multiprocessing.get_context("fork").Value("q", 0) if shared else None
        self._local = 0

    def add(self, pages: int, *, report: bool = True) -> None:
        if self._shared is not None:
            with self._shared.get_lock():
                self._shared.value += pages
                done = int(self._shared.value)
        else:
            self._local += pages
            done = self._local
        if report and self._on_progress is not None:
            self._on_progress(done, self.total)


def _write_site(
    ctx: ReportContext,
    out_dir: Path,
    pages: Iterable[ResourcePage] | PageSource | None,
    on_progress: Progress | None,
    summary: Callable[[], ReportContext],
) -> int:
    """Build the page folders aside, then swap them in; returns the number of pages.

    With a `PageSource` and a big catalog, a forked child renders half of the resource
    pages and the publisher and host pages while this process renders the rest. The
    summary pages (long queue groups, hygiene list) come last, from `summary()`.
    """
    stage = Path(tempfile.mkdtemp(dir=out_dir, prefix=STAGE_PREFIX))
    try:
        for folder in SITE_FOLDERS:
            (stage / folder).mkdir()
        split = isinstance(pages, PageSource) and len(ctx.resources) >= PARALLEL_PAGES_MIN
        counter = _PageCounter(len(ctx.resources), on_progress, shared=split and can_fork())
        if split:
            assert isinstance(pages, PageSource)
            source = pages

            def second_half() -> int:
                return _render_part(
                    ctx, stage, source.pages(1, 2), counter, child=True, groups=True
                )

            child = Forked(second_half, child_setup=source.after_fork)
            try:
                count = _render_part(
                    ctx, stage, source.pages(0, 2), counter, groups=False, summary=summary
                )
                count += child.result()
                counter.add(0)  # the child's last pages
            finally:
                child.close()
        else:
            if isinstance(pages, PageSource):
                pages = pages.pages(0, 1)
            count = _render_part(ctx, stage, pages, counter, groups=True, summary=summary)
        _write_plain(stage / "style.css", _css())
        _swap(stage, out_dir, background=len(ctx.resources) >= BACKGROUND_DELETE_MIN)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return count


def _render_part(
    ctx: ReportContext,
    stage: Path,
    pages: Iterable[ResourcePage] | None,
    counter: _PageCounter,
    *,
    child: bool = False,
    groups: bool,
    summary: Callable[[], ReportContext] | None = None,
) -> int:
    written = 0
    resources = f"{stage}/resources/"

    def write(path: str, text: str) -> None:
        nonlocal written
        writer.write(path, text)
        if path.startswith(resources):
            written += 1
            if written % PROGRESS_EVERY == 0:
                counter.add(PROGRESS_EVERY, report=not child)

    with _PageWriter() as writer:
        count = _render_pages(ctx, stage, pages, write, groups=groups)
        counter.add(written % PROGRESS_EVERY, report=not child)
        if summary is not None:
            count += _render_summary_pages(summary(), stage, write)
    return count


def _render_pages(
    ctx: ReportContext,
    stage: Path,
    pages: Iterable[ResourcePage] | None,
    write: Write,
    *,
    groups: bool = True,
) -> int:
    """Render the resource pages and hand each to `write`; returns the count.

    `pages` are the resource pages (None: every resource, without history); `groups`
    adds the publisher and host pages.
    """
    count = 0
    if pages is None:
        pages = (ResourcePage(row, ()) for row in ctx.resources)
    for page in pages:
        write(f"{stage}/{page.row.page}", render_resource_page(ctx, page))
        count += 1
    if groups:
        count += _render_groups(ctx, stage, write)
    return count


def _render_summary_pages(ctx: ReportContext, stage: Path, write: Write) -> int:
    """The queue groups and the hygiene list too long for the index, a page each."""
    count = 0
    for group in ctx.groups:
        if len(group.rows) > INDEX_QUEUE_LIMIT:
            for pager in pagers(len(group.rows), functools.partial(queue_page_name, group.key)):
                write(f"{stage}/queue/{pager.href}", render_queue_page(ctx, group, pager))
                count += 1
    if len(ctx.hygiene) > INDEX_QUEUE_LIMIT:
        for pager in pagers(len(ctx.hygiene), hygiene_page_name):
            write(f"{stage}/hygiene/{pager.href}", render_hygiene_page(ctx, pager))
            count += 1
    return count


def _render_groups(ctx: ReportContext, stage: Path, write: Write) -> int:
    count = 0
    members: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in ctx.resources:
        if row.publisher:
            members["publisher", row.publisher].append(row)
        if row.host:
            members["host", row.host].append(row)
    for stats in (*ctx.publishers, *ctx.hosts):
        rows = sorted(members[stats.kind, stats.name], key=worst_first)
        write(f"{stage}/{stats.page}", render_group_page(ctx, stats, rows))
        count += 1
    for kind, heading, noun, stats_list in (
        ("publishers", "Publishers", "Publisher", ctx.publishers),
        ("hosts", "Hosts", "Host", ctx.hosts),
    ):
        text = _HTML_ENV.get_template("groups.html.j2").render(
            ctx=ctx, stats=stats_list, heading=heading, noun=noun, root="../", inline_css=None
        )
        write(f"{stage}/{kind}/index.html", text)
        count += 1
    return count


class _PageWriter:
    """Writes pages from worker threads while the caller renders the next ones.

    Creating 100,000 files is mostly waiting on the file system (a fraction of a
    millisecond each on ext4, more when other processes fsync); `open` and `write`
    release the GIL, so the waits overlap with rendering instead of adding to it.
    Pages go to the workers in batches: a future per page cost the rendering thread
    ~30 µs a page in locks and callbacks (1.5 s of CPU per 50,000 pages), a batch one
    queue put. At most `pending` batches wait in memory. The first error stops the
    writing; it is raised by the next `write` or on exit.
    """

    def __init__(self, workers: int = 2, batch: int = 64, pending: int = 8) -> None:
        self._queue: queue.Queue[list[tuple[str, str]] | None] = queue.Queue(pending)
        self._batch: list[tuple[str, str]] = []
        self._size = batch
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"report-write-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def write(self, path: str, text: str) -> None:
        if self._errors:
            raise self._errors[0]
        self._batch.append((path, text))
        if len(self._batch) >= self._size:
            self._queue.put(self._batch)
            self._batch = []

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            for path, text in batch:
                if self._errors:
                    break  # the site fails anyway; just drain the queue
                try:
                    _write_plain(path, text)
                except BaseException as error:
                    self._errors.append(error)

    def __enter__(self) -> _PageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._batch:
            self._queue.put(self._batch)
            self._batch = []
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        if self._errors and exc[0] is None:
            raise self._errors[0]


def _swap(stage: Path, out_dir: Path, *, background: bool = False) -> None:
    """Move the new folders in place of the old ones, then delete the old ones (in a
    process of their own with `background`)."""
    trash = Path(tempfile.mkdtemp(dir=out_dir, prefix=TRASH_PREFIX))
    try:
        for name in (*SITE_FOLDERS, "style.css"):
            current = out_dir / name
            if current.exists():
                os.replace(current, trash / name)
            os.replace(stage / name, current)
    finally:
        _discard(trash, background=background)


#: Resource pages from which the replaced site is deleted in the background: removing
#: 100,000 old pages costs ~10 s of one core that the report need not wait for.
BACKGROUND_DELETE_MIN = 10_000
TRASH_PREFIX = ".old-"
#: Left-over folders (of a killed render or deleter) older than this are deleted too.
LEFTOVER_AGE_S = 24 * 3600

# Run by a fresh interpreter: deletes the folders named on its command line.
_DELETER = "import shutil, sys\nfor path in sys.argv[1:]: shutil.rmtree(path, ignore_errors=True)"


def _discard(trash: Path, *, background: bool) -> None:
    """Delete `trash` and the site's left-overs; with `background`, in a detached process
    that outlives this one (a new interpreter: no fork of a process holding threads)."""
    folders = [trash, *_leftovers(trash.parent, keep=trash)]
    if background:
        try:
            subprocess.Popen(
                [sys.executable, "-c", _DELETER, *map(str, folders)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            return
        except OSError:  # no process to spare: delete here
            pass
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _leftovers(out_dir: Path, *, keep: Path) -> list[Path]:
    """Stage and trash folders that a killed report left behind (old enough that no
    report still running can own them)."""
    limit = time.time() - LEFTOVER_AGE_S
    found = []
    for prefix in (TRASH_PREFIX, STAGE_PREFIX):
        for path in out_dir.glob(f"{prefix}*"):
            with contextlib.suppress(OSError):
                if path != keep and path.is_dir() and path.stat().st_mtime < limit:
                    found.append(path)
    return found


def _write_plain(path: str | Path, text: str) -> None:
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
