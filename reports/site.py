"""Writing a report into its folder: the top-level files and the site of pages.

Input: a `ReportContext`, the resource pages streamed, the formats. Output, by
`write_report`:

    index.html, latest.html, run-<id>.html   summary + action queue (inline CSS, standalone)
    style.css                                 shared by the pages below
    resources/*.html                          one per resource, with its history
    publishers/*.html, hosts/*.html           one per publisher and per host
    queue/<group>.html, <group>-2.html ...    a queue group too long for the index, in pages
    hygiene/index.html, page-2.html ...       every hygiene finding, when too many for the index
    latest.md, latest.csv, latest.json

Top-level files are replaced atomically; the page folders are built aside and swapped
in, so a reader never sees half a site and pages of removed resources disappear (the
kept run-<id>.html pages then lose their links to them: `_unlink_gone_pages`; a
run-<id>.html written alone links only the pages there: `_alone`). A large
site's pages are rendered in forked processes (`reports.forked`), and the old folders are
deleted in the background.
"""

from __future__ import annotations

import contextlib
import functools
import html
import multiprocessing
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from catalog.csv_guard import UTF8_BOM
from reports.build import worst_first
from reports.context import ReportContext, ResourcePage, Row
from reports.forked import Forked, can_fork
from reports.render import (
    FORMATS,
    INDEX_QUEUE_LIMIT,
    SITE_FOLDERS,
    UNLINKED_SLOT,
    hygiene_page_name,
    pagers,
    queue_page_name,
    render_group_page,
    render_groups_index,
    render_html,
    render_hygiene_page,
    render_markdown,
    render_queue_page,
    render_resource_page,
    stylesheet,
    summary_hygiene_rows,
    write_csv,
    write_json,
)


@dataclass(frozen=True)
class ReportFiles:
    """The top-level files written. `latest_*` are the `latest.*` files, or for a report
    on an earlier run its `run-<id>.*` ones."""

    latest_html: Path | None
    latest_markdown: Path | None
    #: `run-<id>.html`, kept for history; None when no run id was given or the one there
    #: was kept (`write_report`'s `keep_archive`).
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
    archive_only: bool = False,
    keep_archive: bool = False,
    hygiene_unknown: Callable[[], bool] | None = None,
) -> ReportFiles:
    """Write the report in `formats` into `out_dir` (created if missing).

    `latest=False` (a report on an earlier run) writes `run-<id>.*` files only: the
    index, the `latest.*` files and the site's pages stay those of the latest report
    (which a nightly run may be writing meanwhile). With `archive_only` as well (a run's
    own report, overtaken by a later run) only `run-<id>.html`: what that run's report
    keeps beside the latest.* files it no longer writes.

    `keep_archive` leaves an existing `run-<id>.html` as it is: the record of its night,
    which the latest report written again (`linkhealth report`, a refused run) would
    replace with the curator's decisions since, or without its hygiene.

    `pages` streams the per-resource pages with their history; without it each
    resource still gets a page, with its current state only. `complete(ctx)` adds what
    arrives late (the catalog's hygiene findings, linted in a second process) once the
    resource, publisher and host pages, which do not show it, are under way.

    `hygiene_unknown()`, asked once the summary pages are rendered, says the findings
    could not be read (the catalog does not load): the site keeps the hygiene pages it
    had, which the kept run-<id>.html pages link, instead of losing them until the
    catalog loads again and, with them, those pages' links (`_unlink_gone_pages`).
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
    if archive_only and stem != "latest":
        formats = [f for f in formats if f == "html"]
    if "html" in formats and stem == "latest":
        count, site = _write_site(ctx, out_dir, pages, on_progress, done, hygiene_unknown)
        if site.gone:
            _unlink_gone_pages(out_dir, site.now)
    ctx = done()
    if "html" in formats:
        if stem == "latest":
            page = render_html(ctx, beside=formats)
            files["index_html"] = write_atomic(out_dir / "index.html", page)
            files["latest_html"] = write_atomic(out_dir / "latest.html", page)
        if run_id is not None:
            # Kept for history: its footer must not link latest.* files, which the next
            # run replaces with another report; nor say runs after it are refused, which
            # a later run ends (a refusal during its run heads its night's report).
            archive = out_dir / f"run-{run_id}.html"
            if not (keep_archive and archive.is_file()):
                # Written alone, it links only the pages of the site there (`_alone`).
                there = None if stem == "latest" else _site_pages(out_dir)
                command = _latest_command(ctx, out_dir)
                run_page = render_html(
                    replace(ctx, refused_notice=None),
                    hygiene_pages=stem == "latest",
                    site_pages=there,
                    latest_command=command,
                )
                if there is not None:
                    run_page = _alone(run_page, there, command)
                files["run_html"] = write_atomic(archive, run_page)
    if "md" in formats:
        files["latest_markdown"] = write_atomic(out_dir / f"{stem}.md", render_markdown(ctx))
    if "csv" in formats:
        # With a byte order mark, as `export --format csv` writes: curators open this file in
        # Excel, which reads a CSV without one in the computer's code page ("–" as "â€“").
        # Both written a row at a time: whole, the JSON alone was 2 GB at 100,000 resources.
        files["latest_csv"] = write_atomic(out_dir / f"{stem}.csv", _csv_with_bom(ctx))
    if "json" in formats:
        files["latest_json"] = write_atomic(
            out_dir / f"{stem}.json", functools.partial(write_json, ctx)
        )
    return ReportFiles(
        latest_html=files.get("latest_html"),
        latest_markdown=files.get("latest_markdown"),
        run_html=files.get("run_html"),
        latest_csv=files.get("latest_csv"),
        latest_json=files.get("latest_json"),
        index_html=files.get("index_html"),
        pages=count,
    )


def with_earlier_nights_written(ctx: ReportContext, out_dir: Path) -> ReportContext:
    """`ctx` linking only the earlier nights whose report is in `out_dir` (a run whose
    report was never written, one written elsewhere, or a folder cleaned by hand).
    Applied where a report is published, not by `write_report`, which writes the
    context it is given."""
    changes = ctx.changes
    if changes is None or not changes.earlier:
        return ctx
    kept = tuple(n for n in changes.earlier if (out_dir / f"run-{n.run_id}.html").is_file())
    return replace(ctx, changes=replace(changes, earlier=kept))


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
    hygiene_unknown: Callable[[], bool] | None = None,
) -> tuple[int, _Pages]:
    """Build the page folders aside, then swap them in; returns the number of pages and
    the pages of the site before and after.

    With a `PageSource` and a big catalog, a forked child renders half of the resource
    pages and the publisher and host pages while this process renders the rest. The
    summary pages (long queue groups, hygiene list) come last, from `summary()`; when
    `hygiene_unknown()` then, the hygiene pages it had are carried into the new site.
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
        _write_plain(stage / "style.css", stylesheet())
        if hygiene_unknown is not None and hygiene_unknown():
            _carry(out_dir / "hygiene", stage / "hygiene")
        site = _Pages(before=_site_pages(out_dir), now=_site_pages(stage))
        _swap(stage, out_dir, background=len(ctx.resources) >= BACKGROUND_DELETE_MIN)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return count, site


def _carry(old: Path, new: Path) -> None:
    """The pages of the folder `old` into `new`: hard links (the old folder is deleted
    after the swap, and pages are never written in place), copies where links fail."""
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(old):
            try:
                os.link(old / name, new / name)
            except FileExistsError:
                continue  # rendered anew: the new one stands
            except OSError:
                shutil.copy2(old / name, new / name)


@dataclass(frozen=True)
class _Pages:
    """The site's pages (paths relative to the reports folder) before and after a write."""

    before: frozenset[str]
    now: frozenset[str]

    @property
    def gone(self) -> frozenset[str]:
        return self.before - self.now


def _site_pages(folder: Path) -> frozenset[str]:
    """Every page under the site folders of `folder` (one `listdir` per folder: cheap even
    for 100,000 resource pages)."""
    found: list[str] = []
    for name in SITE_FOLDERS:
        with contextlib.suppress(OSError):
            found.extend(f"{name}/{page}" for page in os.listdir(folder / name))
    return frozenset(found)


#: A link from a summary page (`root` "") to a page of the site, and its text.
_SITE_LINK = re.compile(
    r'<a(?P<before>[^>]*?) href="(?P<href>(?:'
    + "|".join(SITE_FOLDERS)
    + r')/[^"#]*)"(?P<after>[^>]*)>(?P<text>.*?)</a>',
    re.DOTALL,
)

#: Why a name in a kept run page is no longer a link, said after it. Not a `title`, shown
#: on hover alone: a keyboard or a touch screen cannot show it.
_GONE_RESOURCE = "no longer in the catalog"
_GONE_PAGE = "its page is no longer part of the report"


def _unlinked(text: str, pages: frozenset[str], why: Callable[[str], str] | None) -> str:
    """`text` (a summary page) with its links to pages of the site not among `pages` made
    plain text, the name kept and `why(href)` said after it (None: nothing said)."""

    def unlink(match: re.Match[str]) -> str:
        href = match["href"]
        if href in pages:
            return match[0]
        name = f"<span{match['before']}{match['after']}>{match['text']}</span>"
        return name if why is None else f'{name} <span class="muted">({why(href)})</span>'

    return _SITE_LINK.sub(unlink, text)


def _latest_command(ctx: ReportContext, out_dir: Path) -> str:
    """The command that writes the latest report, with its site, into `out_dir`: with the
    `--config` and `--db` of this report, the `--catalog` of files that would not be read
    without it, and `--out` (a plain `linkhealth report` writes into `reports_dir`, not
    necessarily this folder)."""
    options = (*ctx.command_options, *ctx.catalog_options)
    return shlex.join(["linkhealth", "report", *options, "--out", str(out_dir)])


def _alone(text: str, pages: frozenset[str], command: str) -> str:
    """A `run-<id>.html` written alone (a report on an earlier run, a recheck a later run
    overtook), whose site is the latest report's, or none (a new folder): its links to
    pages not there (a resource added since that report, every page in a new folder) are
    made plain text, and a notice near its top says once why (a note after each name was
    said 833 times on a page of 320 rows), where the page left `UNLINKED_SLOT`."""
    fixed = _unlinked(text, pages, None)
    notice = ""
    if fixed != text:
        names = "The names" if not pages else "Some names"
        where = (
            "this folder holds no pages of the site"
            if not pages
            else "the latest report in this folder has no page for them"
        )
        notice = (
            f'<p class="notice" id="unlinked-notice" role="note">{names} of resources, '
            "publishers and hosts on this page are not links: it was written alone, for "
            f"one run, and {where}. <code>{html.escape(command)}</code> writes the latest "
            "report into this folder, with their pages.</p>"
        )
    return fixed.replace(UNLINKED_SLOT, notice, 1)


def _gone_why(href: str) -> str:
    return _GONE_RESOURCE if href.startswith("resources/") else _GONE_PAGE


def _unlink_gone_pages(out_dir: Path, pages: frozenset[str]) -> None:
    """Turn the links of the kept `run-<id>.html` pages to pages no longer in the site
    (`pages`) into plain text.

    A run page is kept for history, but the pages it links are the site's, rebuilt on
    every write: a resource removed from the catalog loses its page (as does a publisher
    or host left without resources, or a queue group's page once the index holds it
    whole), and the old run page's link to it would 404. A curator reading an old run
    expects its rows as they were, so the name stays and only the dead link goes, with
    a note after it saying why. Keeping the removed resources' pages instead would show
    them as if they were still in the catalog, and they would never go away. The
    snapshot's other links, and its text, are left as written.

    Only called when pages went: reading every kept run page costs time.
    """

    for path in sorted(out_dir.glob("run-*.html")):
        try:
            seen = path.stat()
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        fixed = _unlinked(text, pages, _gone_why)
        if fixed == text:
            continue
        with contextlib.suppress(OSError):
            now = path.stat()
            if (now.st_mtime_ns, now.st_size) != (seen.st_mtime_ns, seen.st_size):
                continue  # rewritten meanwhile (a report on that run): it links today's pages
            write_atomic(path, fixed)


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
    shown = summary_hygiene_rows(INDEX_QUEUE_LIMIT)  # the index's handful
    if shown is not None and len(ctx.hygiene) > shown:
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
        text = render_groups_index(ctx, stats_list, heading=heading, noun=noun)
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
    queue put. A batch goes at `batch` pages or `batch_chars` characters, whichever comes
    first: 64 pages of a long queue group or of the hygiene list are 100 MB. At most
    `pending` batches wait in memory. The first error stops the writing; it is raised by
    the next `write` or on exit.
    """

    def __init__(
        self, workers: int = 2, batch: int = 64, pending: int = 8, batch_chars: int = 2_000_000
    ) -> None:
        self._queue: queue.Queue[list[tuple[str, str]] | None] = queue.Queue(pending)
        self._batch: list[tuple[str, str]] = []
        self._chars = 0
        self._size = batch
        self._max_chars = batch_chars
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
        self._chars += len(text)
        if len(self._batch) >= self._size or self._chars >= self._max_chars:
            self._queue.put(self._batch)
            self._batch, self._chars = [], 0

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


def _csv_with_bom(ctx: ReportContext) -> Callable[[TextIO], None]:
    def write(fh: TextIO) -> None:
        fh.write(UTF8_BOM)
        write_csv(ctx, fh)

    return write


def write_atomic(path: Path, text: str | Callable[[TextIO], None]) -> Path:
    """Write via a temporary file in the same directory, then `os.replace` it into place.
    `text`: the text, or what writes it into the file (a large one, as it is made)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                text(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
