"""The one call the flow and the CLI make: database -> view model -> files on disk.

`publish_report(settings)` writes the HTML site and Markdown (the nightly default);
`formats` adds "csv" and "json". The CLI maps `linkhealth report --format F --out DIR`
onto `formats=(F,)` and `out_dir=DIR`.

A reports folder belongs to one database (`report_folder`): the report of another
database (a trial run with `--db sqlite:///var/trial.db`) goes to a folder beside it,
so it never replaces or mixes with the pages already there. Callers use the paths
returned, never `settings.reports_dir` itself.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import logging
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeGuard

from catalog.clock import Clock, utcnow
from catalog.collector import frozen_while
from catalog.commands import CommandOptions, command_options
from catalog.db import (
    Engine,
    database_identity,
    engine_for,
    forget_connections_after_fork,
    shown_url,
)
from catalog.errors import CatalogError, ConfigError, LinkhealthError
from catalog.files import lock_exclusively, open_lock_file
from catalog.hygiene import Finding, lint
from catalog.progress import still_working
from catalog.queries import (
    TREND_DAYS,
    EventRow,
    ReportData,
    ResourceRow,
    history_events,
    https_found,
    https_suggested,
    iter_link_history,
    iter_resources,
    iter_resources_of,
    latest_finished_run_id,
    report_data,
    resource_ids_at,
    runs_before_the_latest,
    shared_resource_ids,
)
from catalog.settings import HealthSettings, Settings
from catalog.source import catalog_files, load_catalogs
from catalog.store import (
    ResourceHistory,
    decisions_by_resource,
    event_at,
    newest_event,
    resource_histories,
)
from catalog.urls import (
    canonical_url,
    https_upgrade_candidate,
    with_fragment_of,
    without_tracking,
)
from reports.build import (
    HISTORY_LISTED,
    HISTORY_PER_RESOURCE,
    action_queue,
    build_context,
    resource_pages,
    resource_report_row,
    with_findings,
)
from reports.context import ReportContext, ResourcePage, Row
from reports.forked import Forked
from reports.history import url_taken_at
from reports.render import FORMATS, SITE_FOLDERS
from reports.site import (
    Progress,
    ReportFiles,
    with_earlier_nights_written,
    write_atomic,
    write_report,
)

log = logging.getLogger(__name__)

#: Says a warning of the report (`report_folder`'s): `log.warning` by default.
Warn = Callable[[str], object]


def queue_head(
    engine: Engine,
    *,
    now: datetime,
    limit: int,
    options: Sequence[str] = (),
    unavailable_days: float = HealthSettings.unavailable_days,
) -> list[Row]:
    """The report's first `limit` action-queue rows, read without building the whole
    report (the flow's table artifact after every run, at any catalog size)."""
    return action_queue(
        iter_resources(engine),
        now=now,
        shared_ids=shared_resource_ids(engine),
        limit=limit,
        ids_at=lambda addresses: resource_ids_at(engine, addresses),
        options=options,
        unavailable_days=unavailable_days,
    )


def queue_rows_of(
    engine: Engine,
    resources: Collection[tuple[str, str]],
    *,
    now: datetime | None = None,
    narrowed: bool = False,
) -> list[Row]:
    """The report's rows of `resources` ((collection key, id) pairs), for `check --strict`
    to judge as the report does: those in the action queue, in its order (`action_queue`
    builds a row only for a resource in a group), then the snoozed and ignored ones. Read
    as `queue_head` reads, streamed: one run's resources of any catalog.

    `narrowed`: read the rows of `resources` alone (`iter_resources_of`), for a run of a
    few ids; else every active resource's row is streamed and the rest skipped, cheaper
    for a run of a whole catalog than looking each of its resources up."""
    now = utcnow() if now is None else now
    maybe_aside: list[ResourceRow] = []
    read = iter_resources_of(engine, resources) if narrowed else iter_resources(engine)

    def of_these() -> Iterator[ResourceRow]:
        for r in read:
            if (r.collection_key, r.resource_id) in resources:
                if r.snoozed_until or r.ignored_reason:
                    maybe_aside.append(r)  # few; `Row.set_aside` says which are
                yield r

    queued = action_queue(of_these(), now=now, shared_ids=frozenset(), limit=len(resources))
    rows = (resource_report_row(r, now=now) for r in maybe_aside)
    return [*queued, *(row for row in rows if row.set_aside)]


def publish_report(
    settings: Settings,
    *,
    run_id: int | None = None,
    formats: Sequence[str] = ("html", "md"),
    out_dir: Path | None = None,
    clock: Clock = utcnow,
    after_run: bool = False,
    warn: Warn | None = None,
    catalog_refused: bool = False,
) -> Path:
    """Write the report into `out_dir` (default `settings.reports_dir`), or into a folder
    beside it when that one holds another database's report (`report_folder`); returns
    the main file, in the folder actually written.

    The main file is latest.html when "html" is among `formats`, else the first format's;
    run-<id>.html when the report turns out not to be the latest (`after_run`). `warn`
    says the folder's warning (a flow run's logger, which Prefect's UI shows too).
    `catalog_refused`: written again for a run refused for its catalog, whose error says
    why the catalog does not load; the hygiene left out is then not warned of again.
    """
    return publish_report_files(
        settings,
        run_id=run_id,
        formats=formats,
        out_dir=out_dir,
        clock=clock,
        after_run=after_run,
        warn=warn,
        catalog_refused=catalog_refused,
    ).main


def publish_report_files(
    settings: Settings,
    *,
    run_id: int | None = None,
    formats: Sequence[str] = ("html", "md"),
    out_dir: Path | None = None,
    clock: Clock = utcnow,
    on_progress: Progress | None = None,
    after_run: bool = False,
    warn: Warn | None = None,
    catalog_refused: bool = False,
) -> ReportFiles:
    """Like `publish_report`, but returns every file written (for the CLI to list);
    `on_progress(done, total)` follows the resource pages.

    `after_run`: the report run `run_id` writes as it ends. When a later run has ended
    meanwhile (a recheck during a nightly), it writes only its archive run-<id>.html, as
    it would have beside its own latest.* files: those and the site are the later run's,
    and a run-<id>.md was never part of a run's report. The latest report (`run_id` None)
    overtaken by a run that ended while it was built is built again, of that run.
    """
    with _rare_collections():
        while True:
            try:
                return _publish(
                    settings,
                    run_id=run_id,
                    formats=_ordered(formats),
                    out_dir=out_dir,
                    now=clock(),
                    on_progress=on_progress,
                    after_run=after_run,
                    warn=warn,
                    catalog_refused=catalog_refused,
                )
            except _Overtaken:
                continue  # each time a later run has ended: runs are few, this ends


class _Overtaken(Exception):
    """The latest report was built of a run that another one, ended since, replaced."""


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
    after_run: bool,
    warn: Warn | None = None,
    catalog_refused: bool = False,
) -> ReportFiles:
    engine = engine_for(settings.database_url)
    paths = tuple(settings.catalogs)
    options, shared = command_options(settings), shared_resource_ids(engine)
    hygiene = Forked(
        lambda: lint_files(paths, options, shared, warn=not catalog_refused),
        enabled=_total_size(paths) >= BACKGROUND_LINT_BYTES,
    )
    try:
        # Seconds at a few hundred thousand observations, before the first page is written.
        with still_working("Reading the report's data from the database"):
            # Before the data: an event written meanwhile counts as not shown (one more
            # report written again by a recheck, not one missed: `latest_report_written`).
            shown = newest_event(engine)
            data = report_data(engine, run_id=run_id)
            ctx = build_context(
                data,
                now=now,
                options=options.words,
                unavailable_days=settings.health.unavailable_days,
            )
            ctx = replace(ctx, catalog_options=options.for_catalogs(paths))
            suggested, found = https_suggested(engine), https_found(engine)
            https = {entry: url for entry, (_, url) in suggested.items()}
            checked = {entry: link for entry, (link, _) in suggested.items()}

        linted = functools.cache(hygiene.result)  # None: the catalog does not load

        def complete(ctx: ReportContext) -> ReportContext:
            # Only the summary pages show the findings: the resource pages start without.
            confirmed = _confirmed_https(linted(), https, checked)
            findings = _findings(linted(), confirmed, found)
            return with_findings(ctx, findings, confirmed=confirmed)

        # The view model is millions of long-lived objects; each full collection would
        # walk them all again while pages are rendered (catalog.collector).
        with frozen_while():
            pages = None
            if "html" in formats:
                pages = _HistoryPages(engine, data, ctx, now - timedelta(days=TREND_DAYS), now)
            target = report_folder_of(settings, engine, out_dir, warn=warn)
            # A sharded night shows as its last shard's run; `--run` with any of its shard
            # ids names the files as asked, and is the latest report when that night is.
            night = (*ctx.run.shards, ctx.run.id) if ctx.run else ()
            try:
                # Which run is the latest is decided once no other report is being written
                # here, so the latest.* files end as the latest run's whichever ends last.
                with _writing(target):
                    latest = not night or latest_finished_run_id(engine) in night
                    if not latest and run_id is None:
                        raise _Overtaken
                    files = write_report(
                        with_earlier_nights_written(ctx, target),
                        target,
                        run_id=run_id if run_id is not None else (ctx.run.id if ctx.run else None),
                        formats=formats,
                        pages=pages,
                        on_progress=on_progress,
                        complete=complete,
                        latest=latest,
                        archive_only=after_run and "html" in formats,
                        # The latest report written again (`linkhealth report`, a refused
                        # run) is no record of the night it shows: the curator's decisions
                        # since, a catalog that no longer loads. A run writes its own page,
                        # `--run N` on purpose; one missing here (its publishing failed, a
                        # new --out folder) is written.
                        keep_archive=run_id is None,
                        hygiene_unknown=lambda: linted() is None,
                    )
                    _record_shown(target, files, shown)
                    return files
            except OSError as exc:
                raise ReportWriteError.of(target, exc) from exc
    finally:
        hygiene.close()


#: Held (`fcntl.flock`) by a report while it decides whether it is the latest and writes
#: (a dot file, as `OWNER_FILE`). Never deleted: two reports would lock two files.
LOCK_FILE = ".linkhealth-report.lock"


@contextlib.contextmanager
def _writing(folder: Path) -> Iterator[None]:
    """One report at a time into `folder`: a recheck ending during a nightly decided it was
    the latest, and its latest.* files, written after the nightly's, replaced them.

    The lock file is opened for reading (`flock` needs no more), created when missing: a
    user who may write the folder but not the lock file another user created still writes
    reports. A folder whose file system refuses locks gets its report unlocked, with a
    warning (`catalog.files.lock_exclusively`, the catalog writers' rule): failing it would
    fail every report there, every night."""
    lock = folder / LOCK_FILE
    fd = open_lock_file(lock, 0o644)
    try:
        lock_exclusively(
            fd,
            lock,
            waiting=f"waiting for another report being written into {folder}",
            unlocked="writing the report without waiting for other reports being written there",
        )
        yield
    finally:
        os.close(fd)  # lets go of the lock


class ReportWriteError(LinkhealthError):
    """The report could not be written (a full disk, a folder made read-only or removed
    while it was written); exit 1. The database is untouched by a report."""

    @classmethod
    def of(cls, folder: Path, error: OSError) -> ReportWriteError:
        # A full disk fails on write or close, where Python names no file.
        file = f" ({error.filename})" if error.filename else ""
        return cls(
            f"cannot write the report into {folder}: {error.strerror or error}{file}. "
            "Its pages are each replaced whole, so the report there stays readable; what "
            "the runs checked is stored in the database. Free space or fix the folder, then "
            "run `linkhealth report`"
        )

    @classmethod
    def after_run(cls, error: ReportFolderError, run_id: int) -> ReportWriteError:
        """The report of a stored run whose folder cannot be used: exit 1, as a report that
        fails part-way. The folder's own exit 2 would tell a `check` apart as a refused run
        (a settings file), though its run is checked, stored, summed up and announced."""
        return cls(
            f"{error}; run {run_id} is checked and stored all the same: `linkhealth report` "
            "writes its report once the folder can be written"
        )


class ReportFolderError(ConfigError):
    """A reports folder that cannot be used at all (it cannot be created or written, is a
    file, or every candidate holds another database's reports): a bad `--out` or
    `reports_dir`, exit 2 for `linkhealth report`; a `check` turns it into a
    `ReportWriteError` (`ReportWriteError.after_run`), since its run is stored."""


#: The file naming the database a reports folder belongs to (a dot file: web servers
#: commonly refuse to serve those, and it holds the database's address).
OWNER_FILE = ".linkhealth-database"


def database_name(engine: Engine) -> str:
    """The database as a reports folder records it (`catalog.db.database_identity`): the
    same however its URL is spelt, with or without the password or the port 5432, so one
    database never gets a second folder beside its own; another user is another (on
    PostgreSQL each role may have its own schema)."""
    return database_identity(engine.url)


def _is(owner: str | None, database: str) -> bool:
    """Whether the folder whose `OWNER_FILE` names `owner` is the one of `database`. An
    owner file written by an older linkhealth holds the URL as then shown (with its
    user, `***` for a password): it names the same database all the same."""
    return owner is not None and (owner == database or database_identity(owner) == database)


def _readable_name(engine: Engine) -> str:
    """A short name for the database in the name of a folder: a SQLite file's stem
    ("trial" for var/trial.db), else the server and database ("postgresql-db-example-lh")."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = Path(url.database).stem if url.database else "memory"
    else:
        name = "-".join(str(p) for p in (backend, url.host, url.database) if p)
    return _UNSAFE_NAME.sub("-", name.lower()).strip("-.")[:60] or "database"


_UNSAFE_NAME = re.compile(r"[^a-z0-9._-]+")


def report_folder_of(
    settings: Settings, engine: Engine, out_dir: Path | None = None, *, warn: Warn | None = None
) -> Path:
    """`report_folder` of `engine`'s database: in `out_dir` (`report --out`), else in the
    configured `reports_dir`. Its warning names the databases as their URLs spell them
    (`shown_url`), the folders' owner files by one name (`database_name`): a server at
    127.0.0.1 read "localhost", an address the user never wrote."""
    database = database_name(engine)
    named = _settings_database(settings, database)
    return report_folder(
        Path(out_dir if out_dir is not None else settings.reports_dir),
        database,
        readable=_readable_name(engine),
        warn=warn,
        kept_for=_kept_for(settings, database, out_dir),
        named=named,
        shown=shown_url(engine.url),
        kept_shown=(
            shown_url(settings.database_chosen_over)
            if named is not None and settings.database_chosen_over is not None
            else None
        ),
    )


def report_folder(
    configured: Path,
    database: str,
    *,
    readable: str = "database",
    warn: Warn | None = None,
    kept_for: str | None = None,
    named: str | None = None,
    shown: str | None = None,
    kept_shown: str | None = None,
) -> Path:
    """The folder the report of `database` is written to: `configured`, unless another
    database's report is there; then a folder beside it named after the database
    (var/reports-trial for sqlite:///var/trial.db), with a warning saying where and why
    (through `warn`, default `log.warning`). `kept_for`: the database the settings name,
    when --db chose `database` over it (`_kept_for`): `configured` is left to it even
    while it holds no report, so a trial reported first does not take the folder the
    README tells curators to open, pushing the real reports beside it.

    A folder belongs to the database named in its `OWNER_FILE`, written by the first
    report into it. A folder without one (empty, new, or written before reports folders
    recorded their database) belongs to whichever database's report comes first: no
    migration is needed, but when a trial database publishes first into a folder of
    such older reports, the real database's next report goes beside it instead. Claiming
    creates the file exclusively, so of two reports starting at once into an unclaimed
    folder only one gets it.

    `named`: the database the settings name, when --db chose `database` over it (default
    `kept_for`; also with `report --out`, which keeps no folder for it). A folder its
    report holds is said to be kept for it, not another database's: every night after the
    first, its nightly report holds `configured`.

    `shown`, `kept_shown`: `database` and `named` as the messages name them, as their
    URLs were given (default: as recorded, "localhost" for a server the settings call
    127.0.0.1).
    """
    named = named or kept_for
    candidates = _folders(configured, database, readable)
    owners: list[str] = []
    kept = False
    for folder in candidates:
        if _left_to(kept_for, folder, configured):
            owners.append(kept_for)
            kept = True
            continue
        owner = _claim(folder, database)
        if _is(owner, database):
            if folder != configured:
                name = shown or database
                (warn or log.warning)(
                    f"{configured} is kept for the report of {kept_shown or owners[0]}, the "
                    f"database the settings name; the report of {name}, chosen with --db, is "
                    f"written to {folder} instead"
                    if kept or (named is not None and _is(owners[0], named))
                    else f"{configured} holds the report of another database ({owners[0]}); "
                    f"the report of {name} is written to {folder} instead"
                )
            return folder
        owners.append(owner)
    raise ReportFolderError(
        f"cannot write the report of {shown or database}: {', '.join(map(str, candidates))} hold "
        "the reports of other databases; choose another folder with --out or reports_dir"
    )


def _left_to(kept_for: str | None, folder: Path, configured: Path) -> TypeGuard[str]:
    """Whether `folder` is the `configured` one, unclaimed and kept for the database the
    settings name (`_kept_for`): passed over by the report of the database --db chose, and
    by `unusable_report_folder`'s look ahead at the folder that report will take."""
    return folder == configured and kept_for is not None and _unclaimed(folder)


def _unclaimed(folder: Path) -> bool:
    """Whether `folder` holds no `OWNER_FILE` (missing, empty, or older reports); False
    when that cannot be read (a file: `_claim` names the problem)."""
    try:
        return _owner(folder / OWNER_FILE) is None
    except OSError:
        return False


def _settings_database(settings: Settings, database: str) -> str | None:
    """The database the settings name (`database_name`'s form), when --db chose `database`
    over it (`Settings.database_chosen_over`); else None."""
    named = settings.database_chosen_over
    if named is None or database_identity(named) == database:
        return None
    return database_identity(named)


def _kept_for(settings: Settings, database: str, out_dir: Path | None = None) -> str | None:
    """The database whose folder `settings.reports_dir` stays when --db chose `database`
    over the one the settings name (`Settings.database_chosen_over`), for `report_folder`;
    None when no --db chose another, or when `out_dir` (`report --out`) names the folder."""
    return None if out_dir is not None else _settings_database(settings, database)


def unusable_report_folder(settings: Settings, engine: Engine) -> str | None:
    """Why the reports folder a report of `engine`'s database would go to (`report_folder`)
    cannot be written, as "FOLDER is a file, not a folder"; None when it can. The folder
    is created when missing and a file made and removed in it, as the report would; one
    only another database's reports hold is left to `report_folder` to say. For `check`
    to warn as a run starts: it runs all the same (its results are kept), and only
    said at its end that no report could be written."""
    folder = _folder_ahead(settings, engine)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".linkhealth-probe.")
    except OSError as exc:
        return f"{folder} {_why_unwritable(folder, exc)}"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


def report_folder_ahead(settings: Settings, engine: Engine) -> Path:
    """The folder the next report of `engine`'s database goes to, as `report_folder` will
    choose it, read without claiming one: `serve` names it as it starts. It named the
    configured folder while another database's reports held it, and every night's report
    went beside it. The configured one when all are taken (`report_folder` says so)."""
    return _folder_ahead(settings, engine) or Path(settings.reports_dir)


def latest_report_written(settings: Settings, engine: Engine) -> datetime | int | None:
    """What the latest report of `engine`'s database (`report_folder_ahead`) shows: the id
    of the newest event it read (`SHOWN_FILE`), or, for one written before reports recorded
    it, when its file was written; None when none is there. A recheck that checks nothing
    writes it again when a sync changed the catalogs since (`catalog.ops.plan_recheck`):
    an entry removed was still listed to fix. An id, not a time: a sync stamped by a clock
    ahead of this folder's was otherwise after every report, written again at each recheck.
    The id counts while this database's event of that id is the one the report read (its
    time recorded with it: one look-up on the events' key); a database restored from its
    backup numbers new events below it, or gives it to another event, and its file's time
    counts then, as for a report without a record.

    Its main file counts, latest.html (latest.md when there is none), which the recheck's
    line and artifacts name: a `linkhealth report --format html` shows the changes, the
    latest.md it leaves is the night's to write again."""
    folder = report_folder_ahead(settings, engine)
    for fmt in ("html", "md"):
        try:
            written = (folder / f"latest.{fmt}").stat().st_mtime
        except OSError:
            continue
        shown = _shown(folder).get(fmt)
        if shown is not None and _still_there(engine, shown):
            return shown[0]
        return datetime.fromtimestamp(written, UTC)
    return None


#: Beside the latest.* files, the newest event each format's shows (JSON, format ->
#: {"event": id, "at": its time, ISO 8601; 0 and null for none}: `latest_report_written`),
#: written with them (`_record_shown`).
SHOWN_FILE = ".linkhealth-shown.json"


def _shown(folder: Path) -> dict[str, tuple[int, str | None]]:
    """`SHOWN_FILE`'s (event id, its time) by format; {} when it is missing or unreadable.
    A bare id (a report of 2182de4, which recorded no time) is not taken."""
    try:
        found = json.loads((folder / SHOWN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    marks: dict[str, tuple[int, str | None]] = {}
    for fmt, mark in found.items():
        if isinstance(mark, dict) and type(mark.get("event")) is int:
            at = mark.get("at")
            marks[fmt] = (mark["event"], at if isinstance(at, str) else None)
    return marks


def _still_there(engine: Engine, shown: tuple[int, str | None]) -> bool:
    """Whether the event a report read (`_shown`) is still this database's of that id."""
    event_id, at = shown
    if at is None:
        return event_id == 0  # the report read no event: every event is after it
    found = event_at(engine, event_id)
    return found is not None and found.isoformat() == at


def _record_shown(folder: Path, files: ReportFiles, shown: tuple[int, datetime] | None) -> None:
    """Record that the latest.* files written (`files`; none for a report on an earlier
    run) show the events up to `shown` (id and time; None: none yet). Under the folder's
    report lock (`_writing`)."""
    written = {
        "html": files.latest_html,
        "md": files.latest_markdown,
        "csv": files.latest_csv,
        "json": files.latest_json,
    }
    formats = [f for f, path in written.items() if path is not None and path.stem == "latest"]
    if not formats:
        return
    mark = {"event": shown[0], "at": shown[1].isoformat()} if shown else {"event": 0, "at": None}
    kept = {fmt: {"event": n, "at": at} for fmt, (n, at) in _shown(folder).items()}
    write_atomic(
        folder / SHOWN_FILE, json.dumps(kept | dict.fromkeys(formats, mark), sort_keys=True)
    )


def _folder_ahead(settings: Settings, engine: Engine) -> Path | None:
    """`report_folder`'s choice for `engine`'s database, read without claiming: None when
    other databases' reports hold every candidate. A folder whose owner cannot be read
    (a file) is the choice: writing the report there says what is wrong."""
    database = database_name(engine)
    configured, kept_for = Path(settings.reports_dir), _kept_for(settings, database)
    for folder in _folders(configured, database, _readable_name(engine)):
        try:
            owner = _owner(folder / OWNER_FILE)
        except OSError:  # NotADirectoryError (a file)
            return folder
        if _left_to(kept_for, folder, configured):
            continue
        if owner is None or _is(owner, database):
            return folder
    return None


def _folders(configured: Path, database: str, readable: str) -> tuple[Path, Path, Path]:
    """The folders `report_folder` chooses from, in order."""
    base = configured if configured.name else configured.resolve()
    return (
        configured,
        base.with_name(f"{base.name}-{readable}"),
        # Two databases with the same short name (two trial.db in different folders).
        base.with_name(f"{base.name}-{readable}-{_digest(database)}"),
    )


#: The start of the name of every file a report leaves in its folder for itself (`OWNER_FILE`,
#: `LOCK_FILE`, `SHOWN_FILE`). Of them `OWNER_FILE` marks a reports folder, as the README
#: says (`refuse_foreign_folder`): the first report into a folder claims it with one before
#: it writes any other, and a `SHOWN_FILE` copied into someone's site is no report.
MARKER_PREFIX = ".linkhealth-"


#: Files a folder holds for its host, not its pages: GitHub Pages' CNAME (beside dot files
#: such as .nojekyll and .gitkeep), which a report neither writes nor replaces.
_HOST_FILES = frozenset({"CNAME"})
#: The names of what a report writes at the top of its folder (`reports.site`).
_REPORT_NAME = re.compile(
    r"(?:index\.html|style\.css|(?:latest|run-\d+)\.(?:html|md|csv|json)|"
    + "|".join(SITE_FOLDERS)
    + ")"
)
#: What every HTML page of a report has carried in its head since the first one.
_GENERATOR = b'<meta name="generator" content="linkhealth">'


def refuse_foreign_folder(folder: Path) -> None:
    """Refuse (`ReportFolderError`, exit 2) a folder named with `--out` that holds files but
    no report: someone's site, whose index.html and style.css a report replaced, or the
    folder a command was started in. A new or empty folder is fine (dot files and a
    `CNAME`, a GitHub Pages folder's, do not count), and so is one a report was written
    into before: it holds an `OWNER_FILE` (whichever database's), or, written
    before reports recorded their database or copied without its dot files, only files a
    report writes, among them a latest.* or run-<id>.* file or an index.html that
    linkhealth made (`_GENERATOR`)."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries]
    except (FileNotFoundError, NotADirectoryError):
        return  # made by the report; a file is refused as one where it is claimed
    if OWNER_FILE in names:
        return
    shown = [name for name in names if not name.startswith(".") and name not in _HOST_FILES]
    if not shown or _holds_only_a_report(folder, shown):
        return
    raise ReportFolderError(
        f"cannot write the report into {folder}: the folder holds other files and no "
        f"linkhealth report (no {OWNER_FILE} file), and a report writes index.html, "
        "style.css and more there over any file of the same name; choose a new or empty "
        "folder with --out"
    )


def _holds_only_a_report(folder: Path, names: Sequence[str]) -> bool:
    """Whether the files `names` of `folder` are all a report's, and one shows it is: an
    index.html and style.css alone are as likely someone's site."""
    if not all(_REPORT_NAME.fullmatch(name) for name in names):
        return False
    if any(name.startswith(("latest.", "run-")) for name in names):
        return True
    try:
        with (folder / "index.html").open("rb") as fh:
            return _GENERATOR in fh.read(4096)
    except OSError:
        return False


#: A run's own report files, kept for history (`reports.site.write_report`).
_RUN_FILE = re.compile(r"run-(\d+)\.(?:html|md|csv|json)")


@dataclass(frozen=True)
class RunReportsPruned:
    #: The reports folder of the database; None when it has none yet.
    folder: Path | None
    files: int = 0
    bytes: int = 0
    #: Why the reports folder could not be pruned (a file where it should be, no
    #: permission): the observations' prune before it stands, and says so.
    problem: str | None = None


def prune_run_reports(settings: Settings, engine: Engine, cutoff: datetime) -> RunReportsPruned:
    """Delete the `run-<id>.*` reports of the runs started before `cutoff` from the reports
    folder of `engine`'s database (`report_folder`: the configured one, or the one beside
    it holding this database's reports; never one another database's report owns).

    Every night adds a `run-<id>.html` the size of the index, kept for history, which
    nothing else ever deletes. The latest run's report stays, as do those of the
    `EARLIER_NIGHTS_DAYS` days before it, which the latest report links (its earlier
    nights), however long ago it ran.
    """
    from reports.build import EARLIER_NIGHTS_DAYS

    database = database_name(engine)
    configured = Path(settings.reports_dir)
    try:
        owned = [
            folder
            for folder in _folders(configured, database, _readable_name(engine))
            if _is(_owner(folder / OWNER_FILE), database)
        ]
    except OSError as exc:  # `reports_dir` a file, or a folder we may not read
        return RunReportsPruned(
            folder=None, problem=f"{configured} {_why_unwritable(configured, exc)}"
        )
    if not owned:
        return RunReportsPruned(folder=None)
    folder = owned[0]
    old = runs_before_the_latest(engine, cutoff, timedelta(days=EARLIER_NIGHTS_DAYS))
    files = size = 0
    problem = None
    for path in folder.glob("run-*.*"):
        match = _RUN_FILE.fullmatch(path.name)
        if match is None or int(match[1]) not in old:
            continue
        try:
            gone = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            problem = problem or f"{path} {_why_unwritable(path, exc)}"
            continue
        files, size = files + 1, size + gone
    return RunReportsPruned(folder=folder, files=files, bytes=size, problem=problem)


def _why_unwritable(folder: Path, error: OSError) -> str:
    """What keeps a report out of `folder`, for `_claim`'s error and `check`'s warning."""
    return "is a file, not a folder" if folder.is_file() else (error.strerror or str(error))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _claim(folder: Path, database: str) -> str:
    """The database `folder` belongs to, claimed for `database` when it was nobody's."""
    marker = folder / OWNER_FILE
    try:
        owner = _owner(marker)
        if owner is not None:
            return owner
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{OWNER_FILE}.", suffix=".tmp")
    except OSError as exc:  # --out names a file, or a folder we may not create or write
        raise ReportFolderError(
            f"cannot write the report into {folder}: {_why_unwritable(folder, exc)}; choose "
            "another folder with --out or reports_dir"
        ) from exc
    text = (
        f"{database}\n# This folder holds the linkhealth report of the database above; "
        "reports of other databases are written beside it.\n"
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, marker)  # complete when it appears, and never over another's
        except FileExistsError:  # another report claimed it meanwhile
            return _owner(marker) or database
        except OSError:  # a file system without hard links
            os.replace(tmp, marker)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return database


def _owner(marker: Path) -> str | None:
    try:
        first = marker.read_text(encoding="utf-8").partition("\n")[0].strip()
    except FileNotFoundError:
        return None
    return first or None


@dataclass(frozen=True)
class _HistoryPages:
    """The resource pages with their history and events, read from the database in shards
    by link (`reports.site.PageSource`): each process reads only its own share."""

    engine: Engine
    data: ReportData
    ctx: ReportContext
    since: datetime
    now: datetime

    def pages(self, shard: int, shards: int) -> Iterator[ResourcePage]:
        part = (shard, shards)
        by_resource, by_link = history_events(self.engine, since=self.since, shard=part)
        history = iter_link_history(
            # One more than a page shows: whether there are older ones to point to.
            self.engine,
            since=self.since,
            per_link=HISTORY_PER_RESOURCE + 1,
            shard=part,
        )
        return resource_pages(
            self.data,
            self.ctx,
            history,
            by_resource,
            by_link,
            now=self.now,
            shard=part,
            entry_history=_EntryHistories(
                self.engine,
                _moved_in_page_order(self.data, by_resource, part, self.since),
                self.since,
            ),
            decisions=decisions_by_resource(self.engine, since=self.since, shard=part),
        )

    def after_fork(self) -> None:
        forget_connections_after_fork(self.engine)


class _EntryHistories:
    """The history `linkhealth resource` shows of each entry whose URL was changed, within
    the pages' window (`catalog.store.resource_histories`), for `resource_pages`.

    Read `ENTRY_HISTORIES_READ` entries at a time, the one asked for and those next in
    `order`: read each alone, 10,000 entries moved to https took 100 s more per report.
    The pages ask in about that order, so few histories wait in memory; one asked out of
    order is read with the next chunk, so there is still one read per chunk."""

    def __init__(self, engine: Engine, order: Sequence[int], since: datetime) -> None:
        self._engine, self._order, self._since = engine, order, since
        self._next = 0
        self._asked: set[int] = set()
        self._read: dict[int, ResourceHistory] = {}

    def __call__(self, r: ResourceRow) -> ResourceHistory:
        if r.pk not in self._read:
            wanted = [r.pk]
            while len(wanted) < ENTRY_HISTORIES_READ and self._next < len(self._order):
                pk = self._order[self._next]
                self._next += 1
                if pk not in self._asked and pk != r.pk:
                    wanted.append(pk)
            self._asked.update(wanted)
            self._read.update(
                resource_histories(self._engine, wanted, since=self._since, limit=HISTORY_LISTED)
            )
        return self._read.pop(r.pk)


#: Entries whose histories `_EntryHistories` reads at once: a few queries each time.
ENTRY_HISTORIES_READ = 500


def _moved_in_page_order(
    data: ReportData,
    events_by_resource: Mapping[int, Sequence[EventRow]],
    shard: tuple[int, int],
    since: datetime,
) -> list[int]:
    """The pks of the entries of `shard` whose URL was changed in `events_by_resource`, in
    about the order `resource_pages` writes their pages: by link id those whose link was
    checked since `since` (its checks stream by link), then the others by first row."""
    part, parts = shard
    first_row: dict[int | None, int] = {}
    moved: list[tuple[bool, int, int, int]] = []
    for i, r in enumerate(data.resources):
        if (r.link_id or 0) % parts != part:
            continue
        first = first_row.setdefault(r.link_id, i)
        if url_taken_at(events_by_resource.get(r.pk, ())) is None:
            continue
        tried = max((t for t in (r.last_checked_at, r.last_tried_at) if t), default=None)
        if r.link_id is not None and tried is not None and tried >= since:
            moved.append((False, r.link_id, i, r.pk))
        else:
            moved.append((True, first, i, r.pk))
    return [pk for *_, pk in sorted(moved)]


#: Catalog files at least this large (about 10,000 resources) are linted in a second
#: process while this one reads the database: at 100,000 resources loading and linting
#: the catalog takes as long as reading the database and building the view model.
BACKGROUND_LINT_BYTES = 2_000_000


def lint_files(
    paths: Sequence[Path],
    options: CommandOptions | None = None,
    shared_ids: Collection[str] = (),
    *,
    warn: bool = True,
) -> list[Finding] | None:
    """Hygiene findings of the catalog files; None when one of them does not load (its
    problems belong to `linkhealth catalog validate`, and the links still report).
    `warn`: say so; not where the error was said already (a run refused for it: said
    three times, the curator read it as three problems)."""
    try:
        return lint(load_catalogs(paths), options=options, shared_ids=shared_ids)
    except (CatalogError, OSError) as exc:
        if not warn:
            return None
        log.warning(
            "the report leaves out catalog hygiene: %s\n`linkhealth catalog validate` lists "
            "what to fix",
            exc,
        )
        return None


def _total_size(paths: Sequence[Path]) -> int:
    """Bytes of the catalog files behind `paths` (a folder counts its files)."""
    total = 0
    for file in catalog_files(paths):
        with contextlib.suppress(OSError):
            total += file.stat().st_size
    return total


def _confirmed_https(
    findings: Sequence[Finding] | None,
    https: Mapping[tuple[str, str], str],
    checked: Mapping[tuple[str, str], str] | None = None,
) -> dict[tuple[str, str], str]:
    """(collection, id) -> the https URL to switch to, for the entries whose https form a
    run has shown to serve the same page (`https_suggestions`).

    The URL is the finding's own, as the entry writes it: the run checked the link's
    standard form, without the entry's `#section`, which two entries of one page need to
    stay apart. A confirmation is the link's in the database, so it stands only while
    the file's URL still leads to that page: an entry edited since (no sync yet) keeps
    the unconfirmed fix of its new address, not an offer to switch back to the old one.

    Where the https form redirects permanently to another https address that serves the
    page (`catalog.upgrades`), that address, with the entry's `#section` and without
    tracking parameters, as the finding's own would be: only while the finding's https
    form is that of the link checked (`checked`: (collection, id) -> the link's URL).
    """
    out = {}
    for f in findings or ():
        entry = (f.collection, f.resource_id)
        if f.code != "http_url" or entry not in https:
            continue
        own = _replacement(f)
        if own is None:
            continue
        if _same_address(own, https[entry]):
            out[entry] = own
            continue
        link = (checked or {}).get(entry)
        form = https_upgrade_candidate(link) if link else None
        if form is not None and _same_address(own, form):
            out[entry] = with_fragment_of(without_tracking(https[entry]), own)
    return out


def _same_address(own: str, checked: str) -> bool:
    """Is the https URL a finding offers (`own`) the one a run checked? Its `#section` aside
    (`canonical_url`), and its tracking parameters, which the finding's leaves out
    (`catalog.hygiene`: the fixes of one URL build on each other) and the check kept."""
    return canonical_url(without_tracking(own)) == canonical_url(without_tracking(checked))


def _replacement(f: Finding) -> str | None:
    """The URL `f`'s `linkhealth replace-url ID URL` command puts in place, if it has one
    (the id comes after `--`, the options first, when it starts with "-": `command_words`)."""
    words = shlex.split(f.command) if f.command else []
    if words[1:2] != ["replace-url"]:
        return None
    rest = words[2:]
    if "--" in rest:
        rest = rest[rest.index("--") + 1 :]
    return rest[1] if len(rest) > 1 and rest[0] == f.resource_id else None


def _findings(
    findings: Sequence[Finding] | None,
    confirmed: Mapping[tuple[str, str], str],
    found: Mapping[tuple[str, str], tuple[str, str]] | None = None,
) -> list[Finding]:
    """The `http_url` findings of `confirmed` (`_confirmed_https`) say their fix is
    confirmed; their command, which puts that URL in place, stands as it is. Those whose
    https form the newest read found not to serve the page (`found`, from
    `catalog.queries.https_found`: the link's URL, what it served) say what it served,
    and offer no command: it would put a parked domain's page in the catalog."""
    out = []
    for f in findings or ():
        entry = (f.collection, f.resource_id)
        own = _replacement(f) if f.code == "http_url" else None
        if own is not None and (url := confirmed.get(entry)) and url != own:
            f = replace(
                f,
                fix=f"The https form {own} redirects permanently to {url}, which serves "
                "the same page; switch to that.",
                command=_with_replacement(f, url),
            )
        elif f.code == "http_url" and (url := confirmed.get(entry)):
            f = replace(f, fix=f"The https form {url} serves the same page; switch to it.")
        elif f.code == "http_url" and (other := _found_at(f, (found or {}).get(entry))):
            f = replace(f, fix=other, command=None)
        out.append(f)
    return out


def _with_replacement(f: Finding, url: str) -> str | None:
    """`f`'s `linkhealth replace-url ID URL` command with `url` put in place of its URL
    (`_replacement` reads it), its options kept."""
    words = shlex.split(f.command) if f.command else []
    at = words.index("--", 2) + 2 if "--" in words[2:] else 3
    if words[1:2] != ["replace-url"] or len(words) <= at:
        return f.command
    return shlex.join([*words[:at], url, *words[at + 1 :]])


def _found_at(f: Finding, found: tuple[str, str] | None) -> str | None:
    """The fix of an `http_url` finding whose https form the newest read of the page found
    serving something else, while the entry's URL in the file still leads to that link."""
    own = _replacement(f)
    checked = https_upgrade_candidate(found[0]) if found else None
    if found is None or own is None or checked is None or not _same_address(own, checked):
        return None
    return (
        f"keep the http:// address: the check that last read the page also fetched its "
        f"https form, {own}, and found {found[1]}, not this page"
    )


def _ordered(formats: Sequence[str]) -> tuple[str, ...]:
    """`formats` deduplicated in the canonical order, so the main file is predictable."""
    if isinstance(formats, str):
        formats = (formats,)
    unknown = set(formats) - set(FORMATS)
    if unknown or not formats:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; choose from {FORMATS}")
    return tuple(f for f in FORMATS if f in formats)
