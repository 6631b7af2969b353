"""Export: the current state of every active catalog resource, as JSON Lines or CSV.

Input: the database (one streamed query, `export_rows`). Output: one flat record per
resource, `EXPORT_FIELDS` in order, written to a text stream as it is read. Resources
never checked (or only tried while our network was down) export with an empty outcome
and no `checked_at`. A working link whose page no longer holds the resource (a parked or
hijacked site) says so in `drift_reason`; `stale` (with `contact_gone` for an entry whose
phone number or email left its page), `snoozed_until`, `ignored` and `ignored_reason` carry
the curator-facing rest, so a site built from the export can leave such links out; who set
an entry aside, when and why, as its latest snooze or ignore decision says, are
`snooze_reason`, `snoozed_by`, `snoozed_at`, `ignored_by` and `ignored_at` (last, after
`held_tries`).
`held_tries` counts the tries since the link's last check not sent, the host held (it had
said it was away, or answered none of its last links: `links.held_tries`): the check the
rest is of came before them. CSV
cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP "CSV
injection", `catalog.csv_guard`); `import-csv` takes it off again.
A CSV export starts with a UTF-8 byte order mark, as Excel's own "CSV UTF-8" does.
A file's format is the one its ending says (`export_format`); a file already there is
replaced only when it is an earlier export of that format (`refuse_export_target`). A
FIFO, a terminal or /dev/null (`/dev/stdout`, a named pipe) is written to as it is, as
stdout is (`is_stream_target`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from sqlalchemy import Engine, Select, case, select

from catalog import groups, store
from catalog import tables as t
from catalog.clock import as_utc, utcnow
from catalog.collation import byte_order
from catalog.csv_guard import FORMULA_STARTS, UTF8_BOM, guard
from catalog.errors import ConfigError
from catalog.files import same_file
from catalog.health import CONTACT_GONE, UNCHECKED, entry_contact_reason
from catalog.source import CATALOG_SUFFIXES

EXPORT_FIELDS = (
    "collection",
    "id",
    "title",
    "url",
    "outcome",
    "state",
    "http_status",
    "final_url",
    "checked_at",
    "reason",
    "content_changed",
    "drift_reason",
    "stale",
    "snoozed_until",
    "ignored",
    "ignored_reason",
    # Added after the rest, so a reader of the columns by place reads them as before.
    "held_tries",
    # Who set the entry aside, when and why (the latest snooze or ignore decision): a
    # curator reviewing decisions in a spreadsheet had only the snooze's date.
    "snooze_reason",
    "snoozed_by",
    "snoozed_at",
    "ignored_by",
    "ignored_at",
)

ExportFormat = Literal["jsonl", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
#: File endings (lower case) and the format each says; the first of a format is its own.
EXPORT_ENDINGS: Mapping[str, ExportFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_NAMES: Mapping[ExportFormat, str] = {"jsonl": "JSON Lines", "csv": "CSV"}


class ExportFormatError(ConfigError):
    """The format of an export cannot be told, or --format and the file's ending disagree.
    `option` is the command-line option at fault."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


def export_format(given: str | None, out: Path | None) -> ExportFormat:
    """The format to write: `given` (--format), else the one `out`'s ending says, else JSON
    Lines on stdout and on a stream named without an ending (`is_stream_target`:
    /dev/stdout). A file whose ending says one format is never written in the other
    (`links.csv` holding JSON Lines opened in a spreadsheet as one column of text), and
    one whose ending says none needs `given`: the export would guess."""
    if given is not None and given not in EXPORT_FORMATS:
        raise ExportFormatError(f"must be {' or '.join(EXPORT_FORMATS)}", "--format")
    chosen = next((fmt for fmt in EXPORT_FORMATS if fmt == given), None)
    ending = out.suffix.lower() if out is not None else ""
    said = EXPORT_ENDINGS.get(ending)
    if out is None or (
        said is None and (is_stream_target(out) or _closed_descriptor(out) is not None)
    ):
        # stdout, or a stream as it ("/dev/stdout", a named pipe); a closed descriptor is
        # refused by `refuse_export_target` for what it is, not for its name.
        return chosen or "jsonl"
    endings = ", ".join(
        f"{' or '.join(e for e, f in EXPORT_ENDINGS.items() if f == fmt)} for {_NAMES[fmt]}"
        for fmt in EXPORT_FORMATS
    )
    if said is None:
        if chosen is not None:
            return chosen
        note = (
            " (a .json file is one JSON document; an export is JSON Lines, one record a line)"
            if ending == ".json"
            else ""
        )
        raise ExportFormatError(
            f"cannot tell the format from the name {out.name!r}{note}: end it in {endings}; "
            "or give --format jsonl or --format csv",
            "--out",
        )
    if chosen is not None and chosen != said:
        own = next(e for e, f in EXPORT_ENDINGS.items() if f == chosen)
        raise ExportFormatError(
            f"{chosen} ({_NAMES[chosen]}) disagrees with the ending of {out.name!r}, which "
            f"says {_NAMES[said]}: name the file {out.stem}{own}, or leave --format out",
            "--format",
        )
    return said


#: The fields of every export since the first: an existing file whose first record (JSON
#: Lines) or header row (CSV) has them all is an earlier export, which a new one replaces.
EXPORT_MARK_FIELDS = frozenset({"collection", "id", "url", "outcome"})
#: How much of a file's first line `is_export_file` reads: a record is a few hundred bytes.
_FIRST_LINE_LIMIT = 1 << 20


def is_export_file(path: Path, fmt: ExportFormat) -> bool:
    """Whether the existing file `path` holds an earlier export in `fmt`: empty (no
    resources, JSON Lines), or its first line a JSON object (`fmt` jsonl) or a CSV header
    row (csv, after Excel's byte order mark) with `EXPORT_MARK_FIELDS`. Anything else (a
    database, a catalog, someone's notes) is no export, whose loss nobody would expect."""
    with path.open("rb") as fh:
        first = fh.readline(_FIRST_LINE_LIMIT)
    if not first:
        return True
    try:
        line = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError:  # a binary file: a SQLite database, a spreadsheet
        return False
    if fmt == "jsonl":
        try:
            record = json.loads(line)
        except ValueError:
            return False
        return isinstance(record, dict) and set(record) >= EXPORT_MARK_FIELDS
    return set(next(csv.reader([line]), [])) >= EXPORT_MARK_FIELDS


def refuse_export_target(
    out: Path,
    fmt: ExportFormat,
    kept: Mapping[Path, str],
    catalog_folders: Iterable[Path] = (),
) -> None:
    """Refuse (`ConfigError`, exit 2) to write the export to `out` when it is one of the
    files `kept` (each with what it is: "the database sqlite:///var/linkhealth.db"), or an
    existing file that is no earlier export in `fmt` (`is_export_file`): `--out
    var/linkhealth.db` replaced the whole history with an export of it, and `--out
    toolkit.yaml` the catalog. Paths are compared as files (symlinks, hard links).
    A .csv file in one of `catalog_folders` (the configured folders of catalog files)
    is refused too: the next check would read the export as a catalog. So is an existing
    `out` that is no regular file and no stream (`_refuse_special`: a block device, a
    character device that is no terminal nor /dev/null, a socket, a folder, a closed
    descriptor)."""
    for path, what in kept.items():
        if same_file(out, path):
            raise ConfigError(
                f"cannot write {out}: it is {what}, which an export never replaces; "
                "choose another file with --out"
            )
    if out.suffix.lower() in CATALOG_SUFFIXES and not out.name.startswith("."):
        for folder in catalog_folders:
            if same_file(out.parent, folder):
                raise ConfigError(
                    f"cannot write {out}: {folder} is a folder of catalog files, which "
                    "would read the export as a catalog; choose another file with --out"
                )
    _refuse_special(out)
    if out.is_file() and not is_export_file(out, fmt):
        first = "record" if fmt == "jsonl" else "header row"
        raise ConfigError(
            f"cannot write {out}: the file is there and is no earlier {_NAMES[fmt]} export "
            f"(its first line is not an export's {first}), so an export does not replace "
            "it; remove it, or choose another file with --out"
        )


#: What an existing `--out` that is no regular file is, by `stat.S_IFMT`.
_SPECIAL = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def is_stream_target(out: Path) -> bool:
    """Whether `out` (through symlinks) is a stream the export is written to as it comes,
    as to stdout: a FIFO (a named pipe a reader waits on, `/dev/stdout` into a pipe), a
    terminal, or /dev/null; never written beside and moved over it, which as root replaced
    the machine's /dev/null with a file, and made a FIFO a file nobody reads. Any other
    character device is no stream (`_refuse_special`): as root `/dev/watchdog`, a disk's
    `/dev/sg*` or `/dev/nvme0` would have been opened and written to. A terminal is known
    without opening it: one of this process's descriptors it names (`/dev/stdout`,
    `/dev/fd/N`) or has open (`--out $(tty)`), or the controlling one (`/dev/tty`)."""
    if _closed_descriptor(out) is not None:
        return False
    descriptor = _named_descriptor(out)
    try:
        found = os.fstat(descriptor) if descriptor is not None else out.stat()
    except OSError:  # not there (a file written anew), or not reachable
        return False
    if stat.S_ISFIFO(found.st_mode):
        return True
    if not stat.S_ISCHR(found.st_mode):
        return False
    if descriptor is not None and os.isatty(descriptor):
        return True
    return found.st_rdev in _stream_devices()


def _stream_devices() -> set[int]:
    """The device numbers of the character devices written to without a descriptor of
    this process naming them: /dev/null, the controlling terminal (/dev/tty), and the
    terminals this process's stdin, stdout and stderr are on."""
    devices: set[int] = set()
    for name in (os.devnull, "/dev/tty"):
        with suppress(OSError):
            devices.add(os.stat(name).st_rdev)
    for descriptor in (0, 1, 2):
        with suppress(OSError):
            if os.isatty(descriptor):
                devices.add(os.fstat(descriptor).st_rdev)
    return devices


#: A path that names one of this process's descriptors by number.
_DESCRIPTOR_PATH = re.compile(r"/(?:dev/fd|proc/self/fd|proc/(\d+)/fd)/(\d+)")
#: What a process's first three descriptors are.
_STANDARD = ("standard input", "standard output", "standard error")


def _named_descriptor(out: Path) -> int | None:
    """The descriptor of this process that `out` names (`/dev/stdout`, `/dev/stderr`,
    `/dev/fd/N`, `/proc/self/fd/N`, or a symlink to one), else None. Followed link by link:
    resolved at once, it would name the file the descriptor is open on."""
    path = os.path.abspath(out)
    for _ in range(40):  # as the kernel's limit on symlinks followed
        named = _DESCRIPTOR_PATH.fullmatch(path)
        if named is not None:
            pid = named.group(1)
            return int(named.group(2)) if pid is None or int(pid) == os.getpid() else None
        try:
            target = os.readlink(path)
        except OSError:  # no symlink (or not there): no descriptor it names
            return None
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return None


def _closed_descriptor(out: Path) -> str | None:
    """Why `out`, naming a descriptor of this process, names none the command was given:
    closed (`>&-`), or stdin, stdout or stderr closed when the process started, whose
    number a file the command opens then takes (SQLite puts /dev/null there): the export
    went there, and exited 0. None otherwise."""
    descriptor = _named_descriptor(out)
    if descriptor is None:
        return None
    if descriptor < len(_STANDARD):
        given = (sys.__stdin__, sys.__stdout__, sys.__stderr__)[descriptor]
        if given is None:  # Python leaves it None when the descriptor was not open
            return f"the command's {_STANDARD[descriptor]} was closed when it started"
    try:
        os.fstat(descriptor)
    except OSError:
        return f"descriptor {descriptor} is not open in this process"
    return None


def _refuse_special(out: Path) -> None:
    """Refuse an `out` (through symlinks) that exists and is neither a regular file, which
    the export replaces, nor a stream (`is_stream_target`), which it writes to: a character
    device other than a terminal or /dev/null, a block device (a disk), a socket, a folder;
    and a descriptor of this process that is closed (`_closed_descriptor`)."""
    closed = _closed_descriptor(out)
    if closed is not None:
        raise ConfigError(
            f"cannot write {out}: {closed}, so the export would be lost; give --out a "
            "file, or run the command with its output open"
        )
    if is_stream_target(out):
        return
    descriptor = _named_descriptor(out)
    try:
        mode = (os.fstat(descriptor) if descriptor is not None else out.stat()).st_mode
    except OSError:  # not there (written anew), or not reachable: said when written
        return
    what = _SPECIAL.get(stat.S_IFMT(mode))
    if what is None:
        return
    if stat.S_ISDIR(mode):
        raise ConfigError(f"cannot write {out}: it is a folder; name a file with --out")
    if stat.S_ISCHR(mode):
        raise ConfigError(
            f"cannot write {out}: it is a character device that is no terminal nor "
            "/dev/null, which an export is not written to; for stdout give --out - or no "
            "--out, else choose a file, a terminal, /dev/null or a FIFO with --out"
        )
    raise ConfigError(
        f"cannot write {out}: it is {what}, not a regular file, which an export (written "
        "beside it, then moved over it) would replace; for stdout give --out - or no "
        "--out, else choose a file, a terminal, /dev/null or a FIFO with --out"
    )


#: Rows fetched from the database per round: the export streams, holding one round of rows
#: (not every resource's ORM object and link record: 930 MB at 100,000 resources).
EXPORT_CHUNK = 2000


def _export_query(collections: Collection[str] | None) -> Select[*tuple[Any, ...]]:
    """Every active resource with the columns of its link the export shows, by collection
    then id, and for `content_changed` the fingerprints of its link's latest observation
    and of the one before it that had one (two look-ups on the (link, time) index)."""
    res, link, col = t.Resource, t.Link, t.Collection
    latest, before = store.fingerprints_to_compare(res.link_id, res)
    query = (
        select(
            col.key,
            res.rid,
            res.title,
            res.url,
            link.id,
            link.outcome,
            link.state,
            link.http_status,
            link.final_url,
            link.last_checked_at,
            link.reason,
            # Only of the entries the page drifted from (a page can hold its others).
            groups.entry_drift(link.drift_reason, link.drift_entries, res.id),
            res.stale_reasons,
            link.contact_reason,
            link.contacts_gone,
            # Only of the few entries whose link has lost a contact (`entry_contact_reason`).
            case(
                (link.contact_reason.is_not(None), res.fields["description"].as_string()),
                else_=None,
            ),
            res.snoozed_until,
            res.ignored_at,
            res.ignored_reason,
            res.snooze_reason,
            # Who decided, and when the snooze was: only of the few entries set aside.
            case((res.snoozed_until.is_not(None), _decided("snooze", by=True)), else_=None),
            case((res.snoozed_until.is_not(None), _decided("snooze", by=False)), else_=None),
            case((res.ignored_at.is_not(None), _decided("ignore", by=True)), else_=None),
            latest,
            before,
            store.held_tries(),
        )
        .join(col, col.id == res.collection_id)
        .outerjoin(link, link.id == res.link_id)
        .where(res.removed_at.is_(None))
        .order_by(byte_order(col.key), byte_order(res.rid))
    )
    if collections is not None:
        query = query.where(col.key.in_(sorted(collections)))
    return query


def _decided(kind: str, *, by: bool) -> Any:
    """Of the export's query: who made (`by`) or when was made the resource's latest
    `kind` decision (snooze, ignore); NULL when none is recorded (an older database)."""
    d = t.Decision
    return (
        select(d.decided_by if by else d.at)
        .where(d.resource_id == t.Resource.id, d.kind == kind)
        .order_by(d.at.desc(), d.id.desc())
        .limit(1)
        .correlate(t.Resource)
        .scalar_subquery()
    )


def export_rows(
    engine: Engine,
    *,
    now: datetime | None = None,
    collections: Collection[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """One record per active resource, by collection then id; only those of `collections`
    (keys) when given. `snoozed_until` only while the snooze lasts (after `now`), as the
    report counts it.

    Streamed: one Core query read `EXPORT_CHUNK` rows at a time, no ORM objects."""
    now = now or utcnow()
    query = _export_query(collections).execution_options(yield_per=EXPORT_CHUNK)
    with store.read_session(engine) as s:
        for (
            key,
            rid,
            title,
            url,
            link_id,
            outcome,
            state,
            http_status,
            final_url,
            last_checked_at,
            reason,
            drift_reason,
            stale_reasons,
            contact_reason,
            contacts_gone,
            description,
            snoozed_until,
            ignored_at,
            ignored_reason,
            snooze_reason,
            snoozed_by,
            snoozed_at,
            ignored_by,
            fingerprint,
            earlier,
            held_tries,
        ) in s.connection().execute(query):
            # A link tried only while our network was down has a last attempt, not a check.
            checked = bool(outcome)
            ignored = ignored_at is not None
            snoozed = _while_it_lasts(snoozed_until, now)
            yield {
                "collection": key,
                "id": rid,
                "title": title,
                "url": url,
                "outcome": outcome if checked else "",
                "state": (state or UNCHECKED) if link_id is not None else UNCHECKED,
                "http_status": http_status if checked else None,
                "final_url": final_url if checked else None,
                "checked_at": iso_utc(last_checked_at) if checked else None,
                "reason": reason if checked else None,
                "content_changed": store.content_changed(fingerprint, earlier),
                # A working link can still be a hijacked or parked site: `outcome` says "ok".
                "drift_reason": drift_reason if checked else None,
                "stale": _stale(stale_reasons, contact_reason, contacts_gone, title, description),
                "snoozed_until": snoozed,
                "ignored": ignored,
                "ignored_reason": ignored_reason if ignored else None,
                # Its latest tries not sent, its host away: `checked_at`, `outcome` and
                # `state` are of its last check, from before them; `reason` is of the last.
                "held_tries": held_tries or 0,
                "snooze_reason": snooze_reason if snoozed else None,
                "snoozed_by": snoozed_by if snoozed else None,
                "snoozed_at": iso_utc(as_utc(snoozed_at)) if snoozed and snoozed_at else None,
                "ignored_by": ignored_by if ignored else None,
                "ignored_at": iso_utc(ignored_at) if ignored else None,
            }


#: `json.dumps(row, ensure_ascii=False)` without building an encoder per row.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def write_export(rows: Iterable[dict[str, Any]], fmt: ExportFormat, out: TextIO) -> int:
    """Write `rows` to `out` as they come; returns how many were written."""
    count = 0
    if fmt == "jsonl":
        write = out.write
        for row in rows:
            write(_encode_json(row) + "\n")
            count += 1
    elif fmt == "csv":
        # Excel reads a CSV without a byte order mark in the computer's own code page: "–"
        # and "é" would show as "â€“" and "Ã©". Its own "CSV UTF-8" starts with one too.
        out.write(UTF8_BOM)
        writer = csv.writer(out)  # DictWriter's dialect: excel, "\r\n" line ends
        writer.writerow(EXPORT_FIELDS)
        writerow = writer.writerow
        for row in rows:
            # A field a row lacks is an empty cell; one the export does not name is left out.
            writerow([csv_cell(row.get(name)) for name in EXPORT_FIELDS])
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}; use {' or '.join(EXPORT_FORMATS)}")
    return count


def _stale(
    stale_reasons: Any,
    contact_reason: str | None,
    contacts_gone: Any,
    title: str,
    description: str | None,
) -> list[str]:
    """The entry's "possibly out of date" codes, as the report's queue has them: a phone
    number or email it names gone from its page (`contact_gone`) first, then staleness's."""
    codes = list(store.stale_codes(stale_reasons))
    if entry_contact_reason(contact_reason, contacts_gone, title, description) is not None:
        codes.insert(0, CONTACT_GONE)
    return codes


def _while_it_lasts(snoozed_until: datetime | None, now: datetime) -> str | None:
    return iso_utc(snoozed_until) if snoozed_until and snoozed_until > now else None


#: What text `guard` may change starts with: a formula start, or apostrophes before one.
_MAY_NEED_GUARD = (*FORMULA_STARTS, "'")


def csv_cell(value: Any) -> str:
    """A safe CSV cell: text a spreadsheet would evaluate gets a leading apostrophe."""
    if value is None:
        return ""
    if type(value) is str and not value.startswith(_MAY_NEED_GUARD):
        return value  # most cells: `guard` leaves them as they are (1.6 M calls at 100k)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # staleness codes: "dated;review_overdue"
        value = ";".join(map(str, value))
    return guard(str(value))


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, e.g. 2025-03-01T02:00:00Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
