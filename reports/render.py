"""Turning a `ReportContext` into text: one template or serializer per format.

Stage: report (output). Input: `reports.context.ReportContext` (and a `ResourcePage`
per resource). Output: the text of each page and format; `reports.site` writes them.

Escaping is on in every format: HTML templates are autoescaped by Jinja2 (and the rows
`reports.html_rows` formats in Python escape every value), every value losing its
explicit bidirectional controls (`catalog.text.without_bidi_overrides`, via `finalize`);
every `{{ ... }}` in a Markdown template passes through `md_escape` (via `finalize`)
unless a filter produced `MarkdownSafe` text; CSV cells that a spreadsheet would read as a
formula get a leading `'`; JSON escapes `<`, `>` and `&` so it can sit inside HTML.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import html
import io
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TextIO
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from catalog.csv_guard import guard
from catalog.queries import TREND_DAYS
from catalog.text import code_span, without_bidi_overrides
from reports.chart import SERIES, trend_svg
from reports.context import (
    CHECKS_NOTE,
    MEDIAN_NOTE,
    Group,
    GroupStats,
    HygieneRow,
    ReportContext,
    ResourcePage,
    Row,
    sentences,
)
from reports.html_rows import (
    badge,
    before_after,
    change_summary,
    ext,
    facts,
    finding_rows,
    fix_cell,
    history_rows,
    moment,
    newest_checks,
    queue_rows,
    resource_cell,
    status_rows,
)

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
#: Rows per queue group in Markdown (artifacts and e-mail stay readable).
MARKDOWN_QUEUE_LIMIT = 50
#: Hygiene findings listed on the index and in Markdown, errors first, under the counts by
#: kind. The whole list has pages of its own (hygiene/); 300 rows of it pushed the changes,
#: trends, publishers and hosts tens of thousands of pixels down the index.
SUMMARY_HYGIENE_ROWS = 10


def summary_hygiene_rows(limit: int | None) -> int | None:
    """The hygiene rows a summary under `limit` (rows per queue group; None: every row)
    lists; the index cuts the list, and the site gives it pages, past this many."""
    return None if limit is None else min(limit, SUMMARY_HYGIENE_ROWS)


JSON_SCHEMA = "linkhealth-report/1"
SITE_FOLDERS = ("resources", "publishers", "hosts", "queue", "hygiene")


class MarkdownSafe(str):
    """Markdown built by a filter from escaped parts; `finalize` passes it through as is."""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
# Characters kept as they are in link destinations; everything else is percent-encoded.
_URL_SAFE = ":/?#@!$&'()*+,;=%~-._[]"


#: What opens a block where it starts a list item's text ("- {{ item.title }}"): a
#: heading, a list, a thematic break, a code fence. A title "# All links work" was a heading
#: inside the list of changes, "1. Fine" a list within it, "~~~" a code block. ("3.5 s",
#: "-5" or "#tag" open none, and keep their look.)
_MD_BLOCK_START = re.compile(r"(?:#{1,6}|[-+]|\d{1,9}[.)])(?= |$)|~{3,}|-{3,}")


def md_escape(value: Any) -> str:
    """Plain text safe inside Markdown (tables included): no markup, HTML or line breaks,
    no block opened by its first characters, and no explicit bidirectional controls
    (`without_bidi_overrides`: Markdown has no element to isolate a title in)."""
    if value is None:
        return ""
    if isinstance(value, MarkdownSafe):
        return value
    text = " ".join(without_bidi_overrides(str(value)).split())
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    start = _MD_BLOCK_START.match(text)
    if start is None:
        return text
    mark = start.end() - 1 if text[0].isdigit() else 0  # the "." of "1.", else the first
    return f"{text[:mark]}\\{text[mark:]}"


def md_link(text: Any, href: str | None) -> MarkdownSafe:
    """`[text](<href>)`, or just the escaped text when there is no safe href."""
    if not href:
        return MarkdownSafe(md_escape(text))
    return MarkdownSafe(f"[{md_escape(text)}](<{quote(href, safe=_URL_SAFE)}>)")


def md_code(text: Any) -> MarkdownSafe:
    """Inline code that no backtick in `text` can close early, without explicit
    bidirectional controls (`without_bidi_overrides`): a code span shows its text as it
    is, and an override in an id or address turned the command and the cell after it
    around. The HTML's command (`<code class="cmd">`) leaves them out too."""
    value = " ".join(without_bidi_overrides(str(text)).split())
    # No entities: a code span shows them as typed (`&amp;` stays `&amp;`), and markup in
    # it is text anyway. GFM tables split on any |, so that one is escaped (no backtick
    # comes or goes with it: the fence and padding are the text's own).
    return MarkdownSafe(code_span(value.replace("|", "\\|")))


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, by the rule every CSV linkhealth writes follows
    (`catalog.csv_guard`): a formula gets a leading `'`, and so does a title that already
    starts with `'=`, which would otherwise read back as `=...`. Numbers stay numbers."""
    if value is None:
        return ""
    return guard(value) if isinstance(value, str) else value


def _html_finalize(value: Any) -> Any:
    """Each `{{ ... }}` of an HTML template: text without explicit bidirectional controls
    (`without_bidi_overrides`), as `html_rows` escapes it; markup made in Python as it is."""
    return without_bidi_overrides(value) if type(value) is str else value


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
        finalize=_html_finalize,
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
    env.globals["change_summary"] = change_summary
    env.globals["before_after"] = before_after
    env.globals["fix_cell"] = fix_cell
    env.globals["facts"] = facts
    env.globals["newest_checks"] = newest_checks
    env.globals["trend_svg"] = trend_svg
    env.globals["series"] = SERIES
    env.globals["median_note"] = MEDIAN_NOTE
    env.globals["checks_note"] = CHECKS_NOTE
    env.globals["history_days"] = TREND_DAYS  # a resource page's events (`reports.publish`)
    return env


_HTML_ENV = _environment()
# Same loader and filters; only Markdown templates are ever loaded through it.
_MD_ENV = _HTML_ENV.overlay(finalize=_md_finalize)


def render_html(
    ctx: ReportContext,
    *,
    limit: int | None = INDEX_QUEUE_LIMIT,
    beside: Sequence[str] = (),
    hygiene_pages: bool = True,
    site_pages: Collection[str] | None = None,
    latest_command: str | None = None,
) -> str:
    """The index page: summary, action queue, changes, trends; standalone (inline CSS).

    `beside`: the other formats written with it, which its footer links. Only those: a
    latest.csv left by an earlier run is not this report. `hygiene_pages`: the site's
    hygiene pages are written with it (a latest report), which its cut hygiene list then
    links; a `run-<id>.html` written alone linked a hygiene/index.html never written.
    `site_pages`: the site's pages there are beside it (paths as `reports.site` lists
    them), for a `run-<id>.html` written alone: a queue group cut on it links its own
    page only when there is one (None: the site is written with it), else names
    `latest_command`, which writes the latest report, with that page, into the folder.
    Such a page holds `UNLINKED_SLOT` where the notice of the names it could not link
    goes (`reports.site` knows those once the page is rendered).
    """
    others = [(f"latest.{f}", _FORMAT_NAMES[f]) for f in FORMATS if f in beside and f != "html"]
    return _HTML_ENV.get_template(INDEX_TEMPLATE).render(
        ctx=ctx,
        root="",
        inline_css=stylesheet(),
        limit=limit,
        hygiene_limit=summary_hygiene_rows(limit),
        hygiene_pages=hygiene_pages,
        site_pages=site_pages,
        latest_command=latest_command,
        unlinked_slot=Markup(UNLINKED_SLOT),
        beside=others,
    )


#: Where a run-<id>.html written alone says, once, why some names are no links
#: (`reports.site._alone` puts the notice there, or nothing).
UNLINKED_SLOT = "<!-- linkhealth: unlinked names -->"

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


def render_groups_index(
    ctx: ReportContext, stats: Sequence[GroupStats], *, heading: str, noun: str
) -> str:
    """The page listing every publisher, or every host, with their numbers."""
    return _HTML_ENV.get_template("groups.html.j2").render(
        ctx=ctx, stats=stats, heading=heading, noun=noun, root="../", inline_css=None
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
    return _MD_ENV.get_template(MARKDOWN_TEMPLATE).render(
        ctx=ctx, limit=limit, hygiene_limit=summary_hygiene_rows(limit)
    )


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
    # Last, so the columns before keep their place: what "Possibly out of date" is ranked by.
    "stale_since",
    # Then the latest tries since its last check not sent, its host away (the JSON's and the
    # export's `held_tries`): `outcome` and `last_checked` are that check's.
    "held_tries",
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
        row.filed_as[1],  # as the HTML and Markdown badge it: a drifted page is no "OK"
        row.state,
        row.seen,
        row.since.iso if row.since else None,
        row.checks_shown,
        row.fix,
        row.suggested_url,
        row.archive_url,
        row.command,
        row.page_title,
        row.last_checked.iso if row.last_checked else None,
        row.elapsed_ms,
        row.drift_reason,
        sentences(row.stale_reasons),
        row.snoozed_until.iso if row.snoozed_until else None,
        row.ignored_reason,
        row.stale_since.iso if row.stale_since else None,
        row.held_tries,
    ]


def render_json(ctx: ReportContext, *, pretty: bool = False) -> str:
    """The whole view model (resource histories aside) as JSON, safe to inline in HTML
    (`write_json` into a string)."""
    buf = io.StringIO()
    write_json(ctx, buf, pretty=pretty)
    return buf.getvalue()


def write_json(ctx: ReportContext, fh: TextIO, *, pretty: bool = False) -> None:
    """`render_json`'s text written to `fh` a record at a time: at 100,000 resources the
    document is ~370 MB, and built whole (its dicts, the text, and the text with `<`, `>`
    and `&` escaped) it took 2 GB.

    Compact by default: the C encoder only runs without indentation, and that matters
    at 100,000 resources. The text is what `json.dumps` makes of the whole document: the
    lists of records are written an item at a time, each item by `json.dumps`, with the
    encoder's own separators and (pretty) indentation around them.
    """
    plain = _Plain()
    items: list[tuple[str, Any]] = [("schema", JSON_SCHEMA)]
    items.extend(
        (name, getattr(ctx, name))
        for name in _field_names(type(ctx))
        # how its commands are spelt: already in each command
        if name not in ("groups", "command_options")
    )
    items.append(("queue", ctx.groups))
    for chunk in _json_chunks(items, plain, pretty, 0):
        fh.write(chunk.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    fh.write("\n")


def _json_chunks(
    items: Sequence[tuple[str, Any]], plain: _Plain, pretty: bool, depth: int
) -> Iterator[str]:
    """The object of `items` (name, value) at nesting `depth`, as `json.dumps` writes it:
    lists of records item by item, and a queue group field by field (its rows)."""
    if not items:
        yield "{}"
        return
    inner = "\n" + " " * (depth + 1) if pretty else ""
    key_sep = ": " if pretty else ":"
    yield "{"
    for n, (name, value) in enumerate(items):
        yield ("," if n else "") + inner + _dumps(name, pretty, 0) + key_sep
        yield from _json_value(value, plain, pretty, depth + 1)
    yield ("\n" + " " * depth if pretty else "") + "}"


def _json_value(value: Any, plain: _Plain, pretty: bool, depth: int) -> Iterator[str]:
    if isinstance(value, tuple | list) and value:
        inner = "\n" + " " * (depth + 1) if pretty else ""
        yield "["
        for n, item in enumerate(value):
            yield ("," if n else "") + inner
            yield from _json_value(item, plain, pretty, depth + 1)
        yield ("\n" + " " * depth if pretty else "") + "]"
    elif isinstance(value, Group):
        names = _field_names(Group)
        yield from _json_chunks([(n, getattr(value, n)) for n in names], plain, pretty, depth)
    else:
        # A row's dict is converted, written and dropped (`_Plain` keeps no `_STREAMED`).
        yield _dumps(plain(value), pretty, depth)


def _dumps(value: Any, pretty: bool, depth: int) -> str:
    text = json.dumps(
        value, ensure_ascii=False, indent=1 if pretty else None, separators=_SEPARATORS[pretty]
    )
    # The encoder puts a line break only between tokens (never in a string): indenting
    # every line by `depth` nests it.
    return text.replace("\n", "\n" + " " * depth) if pretty and depth else text


_FIELDS: dict[type, tuple[str, ...]] = {}
_SEPARATORS = {True: (",", ": "), False: (",", ":")}


class _Plain:
    """Hand-rolled `dataclasses.asdict` (which deep-copies: too slow for 100k rows).

    Records other than the rows (`_STREAMED`) are converted once per render: one `When`
    is shared by thousands of rows.
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
            names = _field_names(type(value))
            out = {}
            for name in names:
                item = getattr(value, name)
                out[name] = item if item is None or type(item) in _SCALARS else self(item)
            if isinstance(value, Row):
                # As the HTML, Markdown and CSV say it (`Row.filed_as`), not the outcome's
                # "OK" of a page that no longer matches its entry: `outcome` says that.
                out["severity"], out["label"] = value.filed_as
                out["checks"] = value.checks_shown
            if type(value) not in _STREAMED:
                self._done[id(value)] = out
            return out
        if isinstance(value, tuple | list):
            return [self(v) for v in value]
        return value


_SCALARS = frozenset({str, int, float, bool})
#: Records `write_json` writes one at a time and `_Plain` does not keep: a row's dict
#: lives only while it is written (a queue row is converted again under "queue").
_STREAMED = frozenset({Row, HygieneRow, GroupStats})


def _field_names(kind: type) -> tuple[str, ...]:
    """The fields of a record type that JSON shows."""
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(
            f.name for f in dataclasses.fields(kind) if f.metadata.get("json", True)
        )
    return names


@functools.cache
def stylesheet() -> str:
    loader = _HTML_ENV.loader
    assert loader is not None
    source, _, _ = loader.get_source(_HTML_ENV, "style.css")
    return source
