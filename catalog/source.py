"""Stage "source": curator catalog files in, frozen `Catalog` records out.

Inputs:  paths of `.yaml`/`.yml`/`.csv` catalog files, or folders holding them.
Outputs: `Catalog`/`Resource` records (`catalog.model`), or one `CatalogError` carrying every
         `Problem` found, each located by file, line and field; `validate_catalog` returns a
         `ValidationReport` instead of raising.

Reading never writes anything. A URL that cannot be fetched is not a problem of the file: the
resource loads as written, the checker records it as `invalid_url`, and validation lists it
as a warning so the curator can fix it before the next run.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import difflib
import hashlib
import io
import itertools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.tokens import ScalarToken

from catalog.csv_guard import unguard
from catalog.errors import CatalogError, Problem
from catalog.model import RESOURCE_FIELDS, Catalog, Resource
from catalog.progress import still_working
from catalog.text import clipped, invisible_characters
from catalog.urls import UrlProblem, canonical_url, parse_url

if TYPE_CHECKING:
    from catalog.settings import CheckSettings

__all__ = [
    "CATALOG_SUFFIXES",
    "PROBLEM_CODES",
    "EntryFields",
    "ValidationReport",
    "catalog_files",
    "field_lines",
    "load_catalog",
    "load_catalogs",
    "meant_url",
    "plain_id",
    "read_once",
    "skip_node",
    "validate_catalog",
    "validate_catalogs",
]

#: File endings read as catalogs; a folder contributes every file with one of them.
CATALOG_SUFFIXES = (".yaml", ".yml", ".csv")

#: Every `Problem.code` this stage produces, with its meaning (the README and docs tests use it).
PROBLEM_CODES: dict[str, str] = {
    "file_not_found": "The catalog file or folder does not exist.",
    "unreadable": "The file cannot be read (permissions, a folder, or not UTF-8 text).",
    "parse_error": "The file is not valid YAML or CSV; the line is where the parser gave up.",
    "unknown_format": "The file name does not end in .yaml, .yml or .csv.",
    "bad_structure": (
        "The file's shape is wrong: top level not a mapping, `resources` missing or not a list, "
        "an entry not a mapping, or a CSV without id/title/url columns."
    ),
    "missing_field": "A required field (id, title or url) is missing or empty.",
    "wrong_type": (
        "A field holds the wrong kind of value (e.g. year '2016a', title a list, "
        "an id with spaces)."
    ),
    "duplicate_id": "Two resources in one catalog share an id.",
    "empty_catalog": "The catalog lists no resources.",
    "duplicate_collection": "Two catalog files share a file name stem, i.e. a collection key.",
    "unstorable_value": (
        "A value the database cannot store: a NUL character or half a character (a lone "
        "surrogate) in text, .nan or .inf as a number, an id over 200 characters, an address "
        "over 2,000 characters, or a file name (the collection key) over 200 characters."
    ),
    "invalid_url": (
        "Warning only: the URL cannot be fetched as written; the resource still loads and "
        "is reported with the outcome invalid_url."
    ),
    "private_address": (
        "Warning only: the URL's host is a loopback, private or link-local address (or "
        "a name of this machine: localhost, *.localhost, localhost.localdomain) that "
        "linkhealth.toml does not allow, so `check` will not fetch it and reports it as "
        "private_address; allow it there for an intranet catalog."
    ),
    "changed_meanwhile": (
        "An edit or import was not written: the file was saved (by an editor, git, ...) "
        "while linkhealth was changing it; run the command again."
    ),
    "not_writable": (
        "An edit or import was not written: this account may not create files in the "
        "catalog's folder (its lock file, or the new file written beside it), replace the "
        "file there (another user's, in a shared sticky folder), or open its lock file."
    ),
    "no_room": (
        "An edit or import was not written: the new file, written beside the catalog before "
        "it replaces it, did not fit (a full disk, a quota); the catalog is as it was."
    ),
}

_REQUIRED = ("id", "title", "url")
_TEXT_FIELDS = ("description", "publisher", "type", "notes")
_LIST_FIELDS = ("languages", "tags")
#: What each list field holds, for the fix a wrong value's message suggests.
_LIST_EXAMPLES = {"languages": ("en", "es"), "tags": ("training", "hotline")}
_CSV_LIST_SEPARATORS = re.compile(r"[;|]")
_DIGITS = re.compile(r"[0-9]+")
_NEXT_STEP = {
    "id": "add a short unique id such as 'child-trafficking-toolkit'",
    "title": "add the resource's title as shown on its page",
    "url": "add the resource's web address",
}


#: The longest id and collection key the database stores (`catalog.tables`: String(200)).
MAX_ID_LENGTH = 200
#: The longest address stored, in UTF-8 bytes of its canonical form: PostgreSQL's unique
#: index on `links.url` refuses keys over about 2,700 bytes; browsers and servers that
#: take longer addresses are few.
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class ValidationReport:
    """What validation found: problems reject the file, warnings do not."""

    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    #: The files read, once each, as the problems name them.
    files: tuple[Path, ...] = ()
    #: URLs whose host is an IP address or localhost, which the check may refuse as
    #: private: whether it does is the settings', which a file's reading does not know.
    addresses: tuple[NamedAddress, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class NamedAddress:
    """An entry's URL whose host is written as an address (or `localhost`)."""

    file: str
    line: int | None
    label: str
    url: str
    host: str

    def refused(self, check: CheckSettings) -> Problem | None:
        """The warning that `check` will not fetch it under these settings, or None."""
        if check.allow_private:
            return None
        from catalog.check.safety import allow_private_words, allowlist_entry, refused_as_written

        allowlist = check.private_allowlist
        reason = refused_as_written(self.host, allowlist)
        if reason is None:
            return None
        # An allow-list entry names no IPv6 zone, and "127.1" is no entry it takes.
        listed = allowlist_entry(self.host)
        return Problem(
            self.file,
            self.line,
            "url",
            "private_address",
            f"{self.label}{self.url}: {reason}, so `linkhealth check` will not fetch it "
            f"(reported as private_address); {allow_private_words([listed])}",
        )


@contextlib.contextmanager
def read_once() -> Iterator[None]:
    """Within it, a file that `validate_catalogs` read is not parsed again by the next
    read of it, as long as its bytes are the same: `linkhealth check` validates the
    catalogs before it starts the flow run that loads them (seconds for 100,000 entries).

    Each validated file is kept for that one read only and given up by it (or on leaving),
    so a run that drops its catalogs once synced does not hold a second copy.
    """
    with _kept.lock:
        _kept.scopes += 1
    try:
        yield
    finally:
        with _kept.lock:
            _kept.scopes -= 1
            if not _kept.scopes:
                _kept.files.clear()


class _Kept:
    """The hand-over of `read_once`: path -> (digest of its bytes, what reading it gave)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scopes = 0
        self.files: dict[str, tuple[bytes, tuple[Catalog | None, ValidationReport]]] = {}

    def take(self, path: Path, data: bytes) -> tuple[Catalog | None, ValidationReport] | None:
        with self.lock:
            kept = self.files.pop(str(path), None) if self.scopes else None
        if kept is not None and kept[0] == _digest(data):
            return kept[1]
        return None

    def keep(
        self, path: Path, data: bytes, result: tuple[Catalog | None, ValidationReport]
    ) -> None:
        with self.lock:
            if not self.scopes:
                return
        digest = _digest(data)
        with self.lock:
            if self.scopes:
                self.files[str(path)] = (digest, result)


_kept = _Kept()


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def load_catalog(path: str | Path) -> Catalog:
    """Read one catalog file; raise `CatalogError` with every problem if it cannot be used."""
    catalog, report = _read_file(Path(path))
    if catalog is None:
        raise CatalogError(report.problems)
    return catalog


def validate_catalog(path: str | Path) -> ValidationReport:
    """Check one catalog file without raising for anything about the file or its content."""
    return _read_file(Path(path))[1]


def load_catalogs(paths: Iterable[str | Path]) -> list[Catalog]:
    """Read many files (a folder means its catalog files, sorted); one error for all problems."""
    catalogs, report = _read_many(paths)
    if report.problems:
        raise CatalogError(report.problems)
    return catalogs


def validate_catalogs(
    paths: Iterable[str | Path], *, check: CheckSettings | None = None
) -> ValidationReport:
    """`validate_catalog` for many files and folders, including clashes between files.
    Inside `read_once`, the next read of each file takes what this one found.

    With `check`, the warnings include the URLs those settings will not let the check
    fetch as private, as far as the file shows it (an address or localhost: no DNS)."""
    report = _read_many(paths, keep=True)[1]
    if check is None or not report.addresses:
        return report
    refused = [w for a in report.addresses if (w := a.refused(check)) is not None]
    if not refused:
        return report
    order = {str(file): n for n, file in enumerate(report.files)}  # each file's, by line
    warnings = sorted(
        (*report.warnings, *refused), key=lambda w: (order.get(w.file, -1), w.line or 0)
    )
    return replace(report, warnings=tuple(warnings))


# --- several files -----------------------------------------------------------------------------


def _read_many(
    paths: Iterable[str | Path], *, keep: bool = False
) -> tuple[list[Catalog], ValidationReport]:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    addresses: list[NamedAddress] = []
    catalogs: list[Catalog] = []
    stems: dict[str, Path] = {}
    seen: set[Path] = set()
    read: list[Path] = []
    # A file of 20,000 entries takes 1 to 4 s; 25 s when it needs the round-trip parser.
    with still_working("Reading the catalog files") as working:
        for file in _expand(paths, problems):
            resolved = file.resolve()
            if resolved in seen:  # named twice, e.g. a folder and one of its files
                continue
            seen.add(resolved)
            read.append(file)
            working.what = f"Reading the catalog {file}"
            catalog, report = _read_file(file, keep=keep)
            problems.extend(report.problems)
            warnings.extend(report.warnings)
            addresses.extend(report.addresses)
            if file.stem in stems:
                problems.append(
                    Problem(
                        str(file),
                        None,
                        None,
                        "duplicate_collection",
                        f"the collection key {file.stem!r} is also used by "
                        f"{stems[file.stem]}; rename one of the files (the file name is the "
                        "collection's key)",
                    )
                )
            else:
                stems[file.stem] = file
            if catalog is not None:
                catalogs.append(catalog)
    return catalogs, ValidationReport(
        tuple(problems), tuple(warnings), tuple(read), tuple(addresses)
    )


def catalog_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files `load_catalogs` would read for `paths` (folders expanded), as far as they
    exist; for sizing work before loading."""
    return [p for p in _expand(paths, []) if p.is_file()]


def _expand(paths: Iterable[str | Path], problems: list[Problem]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path
            continue
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in CATALOG_SUFFIXES and not p.name.startswith(".")
        )
        if not files:
            problems.append(
                Problem(
                    str(path),
                    None,
                    None,
                    "file_not_found",
                    "the folder holds no catalog files; add *.yaml, *.yml or *.csv files "
                    "or name the files directly",
                )
            )
        yield from files


# --- one file ----------------------------------------------------------------------------------


class _Findings:
    """Problems and warnings of one file, located for the person fixing it."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.addresses: list[NamedAddress] = []

    def problem(self, code: str, line: int | None, field: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, line, field, code, message))

    def warning(self, code: str, line: int | None, field: str | None, message: str) -> None:
        self.warnings.append(Problem(self.file, line, field, code, message))

    def report(self) -> ValidationReport:
        def by_line(p: Problem) -> int:
            return p.line or 0

        return ValidationReport(
            tuple(sorted(self.problems, key=by_line)),
            tuple(sorted(self.warnings, key=by_line)),
            (Path(self.file),),
            tuple(self.addresses),
        )


def _read_file(path: Path, *, keep: bool = False) -> tuple[Catalog | None, ValidationReport]:
    found = _Findings(str(path))
    suffix = path.suffix.lower()
    if not path.exists():
        found.problem(
            "file_not_found",
            None,
            None,
            "the file does not exist; check the path (relative paths in linkhealth.toml start at "
            "that file's folder, on the command line at the current folder)",
        )
        return None, found.report()
    if path.is_dir():
        found.problem(
            "unreadable", None, None, "this is a folder; name a catalog file or load the folder"
        )
        return None, found.report()
    if suffix not in CATALOG_SUFFIXES:
        found.problem(
            "unknown_format",
            None,
            None,
            f"{suffix or 'a name without an ending'!r} is not a catalog format; "
            "save the catalog as .yaml, .yml or .csv",
        )
        return None, found.report()
    try:
        data = path.read_bytes()
    except OSError as exc:
        found.problem(
            "unreadable",
            None,
            None,
            f"the file cannot be read ({exc.strerror or exc}); check its permissions",
        )
        return None, found.report()
    result = _kept.take(path, data)
    if result is None:
        result = _parse(path, suffix, data, found)
        if keep:
            _kept.keep(path, data, result)
    return result


def _parse(
    path: Path, suffix: str, data: bytes, found: _Findings
) -> tuple[Catalog | None, ValidationReport]:
    text = _decode(data, found, suffix)
    if text is None:
        return None, found.report()
    if (what := _unstorable(path.stem)) is None and len(path.stem) > MAX_ID_LENGTH:
        what = f"{len(path.stem)} characters (collection keys are kept to {MAX_ID_LENGTH})"
    if what is not None:
        found.problem(
            "unstorable_value",
            None,
            None,
            f"the file name without its ending, the collection key, holds {what}, which the "
            "database cannot store; rename the file",
        )
        return None, found.report()
    if suffix == ".csv":
        collection, entries = _csv_entries(text, path, found)
    else:
        # libyaml reads the UTF-8 bytes as they are (and skips a BOM): given the text, it
        # would hold them twice more while it reads, as text and as its own UTF-8 copy
        # (~40 MB of a 100,000-entry catalog, at the memory peak of a run's start).
        del text
        fast = _fast_catalog(path, data, found)
        if fast is not None:
            return fast, found.report()
        collection, entries = _yaml_entries(data.decode("utf-8-sig"), found)
    resources = _resources(entries, found)
    if found.problems:
        return None, found.report()
    return Catalog(path=path, collection=collection, resources=tuple(resources)), found.report()


def _decode(data: bytes, found: _Findings, suffix: str) -> str | None:
    """The file's text; UTF-8 only, as every tool that edits a catalog writes it back."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        found.problem(
            "unreadable",
            None,
            None,
            "the file is UTF-16 text (Excel's 'Unicode Text'), not UTF-8; save it as UTF-8"
            + (" ('CSV UTF-8 (Comma delimited)')" if suffix == ".csv" else ""),
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lines = data[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        column = len(lines[-1].decode("utf-8-sig")) + 1
        how = (
            "save it as 'CSV UTF-8 (Comma delimited)' (Excel's plain 'CSV' writes the "
            "computer's own code page; in LibreOffice pick the character set 'Unicode (UTF-8)')"
            if suffix == ".csv"
            else "save it as UTF-8"
        )
        found.problem(
            "unreadable",
            len(lines),
            None,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} in column {column}); " + how,
        )
        return None


# --- YAML --------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One resource as written: each field's value and 1-based line, before checking."""

    line: int | None
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)
    #: Lines of the items of list fields, when the format knows them.
    item_lines: dict[str, list[int | None]] = field(default_factory=dict)
    #: Keys the entry has through a merge (`<<: *base`), not written in it.
    merged: set[str] = field(default_factory=set)


#: Characters libyaml counts as line breaks and ruamel does not: with one of them in the
#: file the two parsers' lines disagree, so no line libyaml gives can be trusted.
OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
_OTHER_BREAKS_UTF8 = tuple(brk.encode() for brk in OTHER_BREAKS)


def has_other_breaks(text: str | bytes) -> bool:
    """Whether `text` (or its UTF-8 bytes) holds one of `OTHER_BREAKS`: plain substring
    searches, tens of milliseconds for 100,000 entries (libyaml reads them in a second or
    two), none at all for ASCII."""
    if text.isascii():
        return False
    if isinstance(text, bytes):
        return any(brk in text for brk in _OTHER_BREAKS_UTF8)
    return any(brk in text for brk in OTHER_BREAKS)


def _fast_catalog(path: Path, text: str | bytes, found: _Findings | None = None) -> Catalog | None:
    """The catalog via libyaml when the file is plain and flawless, else None.

    The round-trip parser needs a minute for 100,000 entries; libyaml a second or two. Its
    answer is used only when nothing could differ: every scalar is quoted text, plain
    text, a plain whole or decimal number or a `YYYY-MM-DD` date (`reviewed_at`, as
    `mark-reviewed` writes it), each read as ruamel reads it (YAML 1.1 and 1.2 agree on
    those), there are no
    repeated keys, anchors, aliases, merge keys or tags, and validation finds neither
    problem nor warning. Anything else goes the precise way, which words every message.
    Entries are composed and checked one at a time from libyaml's events, so memory
    holds the resources, never the whole document's node tree. A catalog read adds its
    URLs written as addresses to `found`, as the precise way does. A line break only
    libyaml counts (`OTHER_BREAKS`, e.g. a Windows "…" read as Latin-1) would put every
    later entry's line too low: such a file goes the precise way too.
    """
    if has_other_breaks(text):
        return None
    stream = _FastStream(text)
    scratch = _Findings(str(path))
    try:
        resources = _resources(stream.entries(), scratch)
    except (yaml.YAMLError, _NotPlain, ValueError, RecursionError):
        return None
    if not stream.count or scratch.problems or scratch.warnings:
        return None
    if found is not None:
        found.addresses.extend(scratch.addresses)
    return Catalog(path=path, collection=stream.collection, resources=tuple(resources))


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_UNTYPED = "!plain"
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)")
#: A plain fraction both YAML versions read as a float (a version `1.10` is 1.1 to both),
#: without the exponents, underscores and bare points on which readers differ.
_FRACTION = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+")
#: A plain date, which ruamel reads as a `date`: `2024-1-2` is one to YAML 1.1 only.
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
#: Plain text on which YAML 1.1 and 1.2 agree: it starts with a letter.
_PLAIN_TEXT = re.compile(r"[^\W\d_]")


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml, leaving plain scalars untyped: `_FastEntries` types them, YAML-1.2-safely."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _UNTYPED if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


class _NotPlain(Exception):
    """The document uses something only the precise parser may judge."""


class _FastStream:
    """Read a catalog document from libyaml's events, one resource entry at a time,
    refusing anything unusual (`_NotPlain`)."""

    def __init__(self, text: str | bytes) -> None:
        self._events = _FastLoader(text)
        self.collection: dict[str, Any] = {}
        #: Entries read so far.
        self.count = 0

    def entries(self) -> Iterator[_Entry]:
        events = self._events
        self._expect(yaml.StreamStartEvent)
        self._expect(yaml.DocumentStartEvent)
        if self._tag(self._expect(yaml.MappingStartEvent), yaml.MappingNode) != _MAP:
            raise _NotPlain
        names: set[str] = set()
        while not events.check_event(yaml.MappingEndEvent):
            name = _scalar(self._node())
            if not isinstance(name, str) or name in names or name == "<<":
                raise _NotPlain
            names.add(name)
            if name == "resources":
                yield from self._resources()
            elif name == "collection":
                self.collection = self._collection(_value(self._node()))
            else:
                self._node()
        events.get_event()
        self._expect(yaml.DocumentEndEvent)
        self._expect(yaml.StreamEndEvent)  # a second document goes the precise way

    def _resources(self) -> Iterator[_Entry]:
        if self._tag(self._expect(yaml.SequenceStartEvent), yaml.SequenceNode) != _SEQ:
            raise _NotPlain
        while not self._events.check_event(yaml.SequenceEndEvent):
            item = self._node()
            if not isinstance(item, yaml.MappingNode):
                raise _NotPlain
            entry = _Entry(line=item.start_mark.line + 1)
            for name, (key, node) in _pairs(item).items():
                entry.values[name] = _value(node)
                entry.lines[name] = key.start_mark.line + 1
                if isinstance(node, yaml.SequenceNode):
                    entry.item_lines[name] = [n.start_mark.line + 1 for n in node.value]
            self.count += 1
            yield entry
        self._events.get_event()

    @staticmethod
    def _collection(value: Any) -> dict[str, Any]:
        if (
            not isinstance(value, dict)
            or any(
                value.get(name) is not None and not isinstance(value.get(name), str)
                for name in ("title", "description")
            )
            or _unstorable(value)
        ):
            raise _NotPlain
        return _plain(value)  # dates as text, as `_yaml_collection` gives them

    def _expect(self, kind: type[Any]) -> Any:
        event = self._events.get_event()
        if not isinstance(event, kind) or getattr(event, "anchor", None):
            raise _NotPlain
        return event

    def _tag(self, event: Any, kind: type[Any]) -> str:
        """The node's tag as `yaml.compose` would set it (`_FastLoader.resolve`)."""
        if event.tag is not None and event.tag != "!":
            return str(event.tag)
        value = event.value if kind is yaml.ScalarNode else None
        return str(self._events.resolve(kind, value, event.implicit))

    def _node(self) -> Any:
        """The next node, composed from events (what `yaml.compose` builds), no aliases."""
        events = self._events
        event = events.get_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _NotPlain
        if isinstance(event, yaml.ScalarEvent):
            tag = self._tag(event, yaml.ScalarNode)
            return yaml.ScalarNode(
                tag, event.value, event.start_mark, event.end_mark, style=event.style
            )
        if isinstance(event, yaml.SequenceStartEvent):
            items = []
            while not events.check_event(yaml.SequenceEndEvent):
                items.append(self._node())
            end = events.get_event()
            tag = self._tag(event, yaml.SequenceNode)
            return yaml.SequenceNode(tag, items, event.start_mark, end.end_mark)
        if isinstance(event, yaml.MappingStartEvent):
            pairs = []
            while not events.check_event(yaml.MappingEndEvent):
                pairs.append((self._node(), self._node()))
            end = events.get_event()
            tag = self._tag(event, yaml.MappingNode)
            return yaml.MappingNode(tag, pairs, event.start_mark, end.end_mark)
        raise _NotPlain


def _pairs(node: Any) -> dict[str, tuple[Any, Any]]:
    if node.tag != _MAP:
        raise _NotPlain
    pairs: dict[str, tuple[Any, Any]] = {}
    for key, value in node.value:
        name = _scalar(key)
        if not isinstance(name, str) or name in pairs or name == "<<":
            raise _NotPlain
        pairs[name] = (key, value)
    return pairs


def _value(node: Any) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _NotPlain
        return [_value(child) for child in node.value]
    if isinstance(node, yaml.MappingNode):
        return {name: _value(value) for name, (_, value) in _pairs(node).items()}
    raise _NotPlain


def _scalar(node: Any) -> str | int | float | date | None:
    if not isinstance(node, yaml.ScalarNode):
        raise _NotPlain
    text: str = node.value
    if node.tag == _STR and node.style in ('"', "'", "|", ">"):
        return text
    if node.tag != _UNTYPED or node.style not in (None, ""):
        raise _NotPlain
    if text in _NULLS:
        return None
    if _DECIMAL.fullmatch(text):
        return int(text)
    if reads_as_plain_text(text):
        return text
    if _FRACTION.fullmatch(text):
        return float(text)
    if day := _DATE.fullmatch(text):
        try:
            return date(int(day[1]), int(day[2]), int(day[3]))
        except ValueError:  # no such day: the precise way says where
            raise _NotPlain from None
    raise _NotPlain


def reads_as_plain_text(text: str) -> bool:
    """Whether `text`, written unquoted, is text to every YAML reader (1.1 and 1.2) and to
    the fast loader: a `yes`, `1:20` or `2024-1-2` is not, and is written quoted."""
    return bool(_PLAIN_TEXT.match(text)) and text.lower() not in _WORDS_12


#: Plain nulls both YAML versions read alike.
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
#: Plain words with a meaning in some YAML version (1.1 booleans, 1.2 null and booleans).
_WORDS_12 = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})


def _last_line(text: str) -> int:
    return max(len(text.splitlines()), 1)


def _at_end(problem: str) -> bool:
    return "end of stream" in problem or "<stream end>" in problem


#: The parser's names for what was left open, in a curator's words.
_OPENED = {
    "quoted scalar": "a quoted value (\" or ')",
    "flow sequence": "a [ list",
    "flow mapping": "a { mapping",
}


def _opened(context: str) -> str:
    for term, words in _OPENED.items():
        if term in context:
            return words
    return context.removeprefix("while ")


def _runaway_quote(text: str, problem: Any) -> tuple[Any, Any] | None:
    """(start, end) marks of the quoted value spanning lines that ends right where the
    parser gave up, if any: most likely a quote left open, closed by the next quote
    in the file (an apostrophe, say), and the text after that one cannot be read."""
    last = None
    at = (problem.line, problem.column)
    try:
        for token in YAML(typ="rt").scan(text):
            if (token.end_mark.line, token.end_mark.column) > at:
                break
            last = token
    except (YAMLError, ValueError, RecursionError):
        pass
    if (
        isinstance(last, ScalarToken)
        and last.style in ('"', "'")
        and last.start_mark.line < last.end_mark.line == problem.line
    ):
        return last.start_mark, last.end_mark
    return None


def spaced_tabs(text: str, hold: str | None = None) -> str:
    """`text` with each tab that is only spacing made a space, for ruamel to read it as
    YAML and libyaml do: before a comment (`url: x<TAB># checked`), after a colon, at a
    line's end, or folded away inside a plain value written over several lines. A tab
    inside a plain value (`Tom<TAB>Jerry`), which ruamel's scanner refuses too, stays,
    or becomes `hold` (a character the text does not use) for a caller that puts it back.
    Same length, so lines and columns stay."""
    if "\t" not in text:
        return text
    try:
        spans = [
            (t.start_mark.index, t.end_mark.index, t.plain)
            for t in yaml.scan(text, Loader=_FastLoader)
            if isinstance(t, yaml.ScalarToken)
        ]
    except (yaml.YAMLError, RecursionError):
        return text  # ruamel's own error words it
    starts = [start for start, _, _ in spans]
    chars = list(text)
    for tab in re.finditer("\t", text):
        at = tab.start()
        index = bisect.bisect_right(starts, at) - 1
        if index < 0 or at >= spans[index][1]:
            chars[at] = " "  # spacing between tokens
        elif spans[index][2]:  # in a plain value: its text, or spacing folded away
            start = max(spans[index][0], text.rfind("\n", 0, at) + 1)
            end = text.find("\n", at)
            end = spans[index][1] if end < 0 else min(end, spans[index][1])
            if not (text[start:at].strip(" \t") and text[at:end].strip(" \t")):
                chars[at] = " "
            elif hold is not None:
                chars[at] = hold
    return "".join(chars)


#: Characters that may stand in for a tab in a plain value (Unicode's private use area).
_HOLDERS = range(0xE000, 0xF900)


def held_tabs(text: str) -> tuple[str, str | None]:
    """`text` as ruamel can read it (`spaced_tabs`), and the character standing in for the
    tabs inside its plain values (`title: Tom<TAB>Jerry`), which ruamel's scanner refuses
    but YAML and libyaml read as text, if any: the caller puts them back."""
    if "\t" not in text:
        return text, None
    hold = next((chr(c) for c in _HOLDERS if chr(c) not in text), None)
    return spaced_tabs(text, hold), hold


def _put_tabs_back(node: Any, hold: str, _seen: set[int] | None = None) -> None:
    """The tabs `held_tabs` held, back in the loaded document's strings (keys too); each
    list or mapping once, as `_untagged_text` does."""
    seen = set() if _seen is None else _seen
    if isinstance(node, CommentedMap | CommentedSeq):
        if id(node) in seen:
            return
        seen.add(id(node))
    if isinstance(node, CommentedMap):
        for key in list(node):
            value = node[key]
            if isinstance(value, str) and hold in value:
                node[key] = type(value)(value.replace(hold, "\t"))
            else:
                _put_tabs_back(value, hold, seen)
            if isinstance(key, str) and hold in key:
                node.insert(list(node).index(key), key.replace(hold, "\t"), node.pop(key))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            if isinstance(value, str) and hold in value:
                node[index] = type(value)(value.replace(hold, "\t"))
            else:
                _put_tabs_back(value, hold, seen)


#: YAML's own tag for text: `!!str 2019` is the text '2019'.
_TEXT_TAG = "tag:yaml.org,2002:str"


def _untagged_text(node: Any, _seen: set[int] | None = None) -> Any:
    """`node` with each scalar tagged `!!str` (`id: !!str 2019`, `notes: !!str yes`) as
    its text: the tag says "this is text", but ruamel keeps it as a `TaggedScalar`, which
    validation would refuse as no text. Scalars with other tags stay as they are (refused,
    `_kind` names the tag). Each list or mapping is changed once (`_seen`, by id): a YAML
    alias is the same object wherever it appears, and walking it again at each place took
    hours for aliases of aliases nine levels deep."""
    if isinstance(node, TaggedScalar):
        return str(node.value) if str(node.tag) == _TEXT_TAG else node
    seen = set() if _seen is None else _seen
    if isinstance(node, CommentedMap | CommentedSeq):
        if id(node) in seen:
            return node
        seen.add(id(node))
    if isinstance(node, CommentedMap):
        for key in list(node):
            value = node[key]
            text = _untagged_text(value, seen)
            if text is not value:
                node[key] = text
            name = _untagged_text(key, seen)
            if name is not key:
                node.insert(list(node).index(key), name, node.pop(key))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            text = _untagged_text(value, seen)
            if text is not value:
                node[index] = text
    return node


class _RepeatedKey(DuplicateKeyError):
    """A key written twice in one mapping, in a curator's words."""


class _KeyNamingConstructor(RoundTripConstructor):
    """ruamel's round-trip constructor, naming a key written twice and the line it was
    first written on. ruamel's own message quotes both values whole: a second `resources:`
    (two halves of a catalog pasted into one file) put every entry, twice, on one line of
    the error, in stderr, the report's warning and a refused run's reason."""

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        if key in mapping and not self.allow_duplicate_keys:
            try:  # keys read so far know their lines; the repeated one is not yet added
                first: int | None = mapping.lc.key(key)[0] + 1
            except (AttributeError, KeyError, TypeError):
                first = None
            raise _RepeatedKey(None, None, _written_twice(key, first), key_node.start_mark)
        return bool(super().check_mapping_key(node, key_node, mapping, key, value))

    def check_set_key(self, node: Any, key_node: Any, setting: Any, key: Any) -> None:
        if key in setting and not self.allow_duplicate_keys:
            raise _RepeatedKey(None, None, _written_twice(key, None), key_node.start_mark)
        super().check_set_key(node, key_node, setting, key)


def _written_twice(key: Any, first: int | None) -> str:
    """The key, shortened if long (it may be a whole line of text), never its values."""
    name = clipped(key if isinstance(key, str) else str(key), 60)
    return f"the key {name!r} is written twice" + (f" (first at line {first})" if first else "")


#: The most of a parser's own message quoted: some quote values, which may be long.
_MOST_QUOTED = 300


def _yaml_entries(text: str, found: _Findings) -> tuple[dict[str, Any], list[_Entry]]:
    readable, hold = held_tabs(text)
    reader = YAML(typ="rt")
    reader.Constructor = _KeyNamingConstructor
    try:
        doc = reader.load(readable)
        if hold is not None:
            _put_tabs_back(doc, hold)
        doc = _untagged_text(doc)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = clipped(exc.problem or exc.context or "invalid YAML", _MOST_QUOTED)
        if exc.problem and exc.context and exc.context_mark is not None:
            what = f"{what} ({exc.context} at line {exc.context_mark.line + 1})"
            if _at_end(exc.problem):
                # An unclosed quote or bracket: the parser gives up at the end of the file,
                # but the mistake is where the quote or bracket opened.
                # (Its mark is past the final line break: the file's last line is the last
                # one a curator sees.)
                what = (
                    f"{_opened(exc.context)} opened on this line is never closed "
                    f"(the parser reached the end of the file, line {_last_line(readable)})"
                )
                mark = exc.context_mark
        runaway = None if mark is not exc.problem_mark else _runaway_quote(readable, mark)
        if runaway is not None:
            # An unclosed quote that a later quote closed: the parser stumbles over the text
            # after that later quote, lines below the mistake.
            mark, closed = runaway
            quote = text[mark.index]  # the token starts with its quote
            what = (
                f"a quoted value ({quote}) opened on this line is not closed on it; it runs "
                f"on to the next {quote} on line {closed.line + 1}, where the parser gave up "
                f"({what})"
            )
        fix = (
            "fix the YAML near this line (often indentation, quotes, a stray ':' or a repeated key)"
        )
        if runaway is not None:
            fix = (
                'close it on this line (a quote inside "..." is written \\", '
                "one inside '...' as '')"
            )
        elif isinstance(exc, _RepeatedKey):
            fix = "remove one, or join the two into one"
        elif "'\\t'" in str(exc.problem) or "tab character" in str(exc.problem):
            fix = "indent with spaces, not tabs (an editor may show a tab as spaces)"
        found.problem(
            "parse_error",
            mark.line + 1 if mark is not None else None,
            None,
            f"the YAML cannot be read: {what}; {fix}",
        )
        return {}, []
    except ReaderError as exc:  # a character YAML refuses anywhere: no line, a position
        line = readable[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = ord(exc.character) if isinstance(exc.character, str) else exc.character
        what = "a NUL character (\\0)" if char == 0 else f"the control character U+{char:04X}"
        found.problem(
            "parse_error",
            line,
            None,
            f"the YAML cannot be read: {what} is not allowed in YAML text; remove it",
        )
        return {}, []
    except (YAMLError, ValueError, RecursionError) as exc:
        bad = _unbuildable_date(text) if isinstance(exc, ValueError) else None
        if bad is not None:
            line, value = bad
            found.problem(
                "parse_error",
                line,
                None,
                f"the YAML cannot be read: {value!r} is written like a date but is none "
                f"({exc}); correct it, or put it in quotes to keep it as text",
            )
        else:
            found.problem("parse_error", None, None, f"the YAML cannot be read: {exc}")
        return {}, []
    if doc is None:
        what = "holds only comments" if text.strip() else "is empty"
        found.problem(
            "empty_catalog", None, None, f"the file {what}; add a 'resources:' list of entries"
        )
        return {}, []
    if not isinstance(doc, CommentedMap):
        found.problem(
            "bad_structure",
            _node_line(doc, 1),
            None,
            f"the top level is {_kind(doc)}, not a mapping; "
            "start the file with 'collection:' and 'resources:'",
        )
        return {}, []
    collection = _yaml_collection(doc, found)
    for key in doc:
        odd = next(
            (c for c in str(key) if c != " " and (c.isspace() or invisible_characters(c))), None
        )
        if odd is not None:
            found.problem(
                "bad_structure",
                _key_line(doc, key, None),
                str(key),
                f"{str(key)!r} holds a character that looks like a space or like nothing "
                f"(U+{ord(odd):04X}), so YAML reads this line as a key of the file, outside "
                "every entry; retype it, indented with ordinary spaces",
            )
    if "resources" not in doc:
        meant = _misspelt("resources", doc)
        found.problem(
            "bad_structure",
            None if meant is None else _key_line(doc, meant, None),
            "resources",
            "there is no 'resources:' list; add one with an entry per resource"
            if meant is None
            else f"there is no 'resources:' list; rename {meant!r} to 'resources'",
        )
        return collection, []
    items = doc["resources"]
    items_line = _key_line(doc, "resources", None)
    if items is None or (isinstance(items, list) and not items):
        found.problem(
            "empty_catalog",
            items_line,
            "resources",
            "the catalog lists no resources; add at least one entry under 'resources:'",
        )
        return collection, []
    if not isinstance(items, CommentedSeq):
        found.problem(
            "bad_structure",
            items_line,
            "resources",
            f"'resources' is {_kind(items)}, not a list; start each entry with '- id: ...'",
        )
        return collection, []
    entries: list[_Entry] = []
    for index, item in enumerate(items):
        item_line = _item_line(items, index, items_line)
        if not isinstance(item, CommentedMap):
            found.problem(
                "bad_structure",
                item_line,
                None,
                f"entry {index + 1} of 'resources' is {_kind(item)}, not a mapping; "
                "write it as 'key: value' lines (id, title, url, ...)",
            )
            continue
        entry = _Entry(line=_node_line(item, item_line))
        if item.merge:
            entry.merged = {str(key) for key in item} - {str(k) for k, _ in item.non_merged_items()}
        for key, value in item.items():
            name = str(key)
            entry.values[name] = value
            entry.lines[name] = _key_line(item, key, entry.line)
            if isinstance(value, CommentedSeq):
                entry.item_lines[name] = [
                    _item_line(value, i, entry.lines[name]) for i in range(len(value))
                ]
        entries.append(entry)
    return collection, entries


def _unbuildable_date(text: str) -> tuple[int, str] | None:
    """Line and text of the first unquoted value YAML reads as a date but cannot build
    (`2025-13-45`): the loader raises a bare ValueError for it, without a position."""
    try:
        nodes = [YAML(typ="rt").compose(text)]
    except (YAMLError, ValueError, RecursionError):
        return None
    single = YAML(typ="safe", pure=True)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ScalarNode):
            if str(node.tag).endswith(":timestamp"):
                try:
                    single.load(node.value)
                except (YAMLError, ValueError):
                    return node.start_mark.line + 1, str(node.value)
        elif isinstance(node, SequenceNode):
            nodes.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            nodes.extend(n for pair in reversed(node.value) for n in reversed(pair))
    return None


def _yaml_collection(doc: CommentedMap, found: _Findings) -> dict[str, Any]:
    raw = doc.get("collection")
    if raw is None:
        return {}
    line = _key_line(doc, "collection", None)
    if not isinstance(raw, CommentedMap):
        found.problem(
            "bad_structure",
            line,
            "collection",
            f"'collection' is {_kind(raw)}, not a mapping; give it 'title:' and 'description:'",
        )
        return {}
    for name in ("title", "description"):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            found.problem(
                "wrong_type",
                _key_line(raw, name, line),
                f"collection.{name}",
                f"the collection's {name} is {_kind(value)}, not text; put it in quotes",
            )
    for name, value in raw.items():
        if what := _unstorable(value) or _unstorable(name):
            found.problem(
                "unstorable_value",
                _key_line(raw, name, line),
                f"collection.{name}",
                f"the collection's {str(name)!r} holds {what}, which the database cannot store; "
                "correct or remove it",
            )
    return _plain(raw)


# --- field lines, on demand --------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFields:
    """Where one YAML entry's top-level fields are written, read again for a message that
    names a field (`catalog lint`): loading keeps only the entry's line, as 100,000 entries
    with a line per field would cost every nightly run memory for the rare finding."""

    #: 1-based line of the entry, as the loader gives it (`Resource.line`).
    line: int
    #: The entry's id as written, so a caller can tell it is the entry it means (the file
    #: may have changed since it was loaded, and entries in a [ list ] share a line).
    id: str | None
    #: Field name -> 1-based line of its key. A key written twice is left out.
    lines: dict[str, int]


def field_lines(path: str | Path) -> Iterator[EntryFields]:
    """Each entry of a YAML catalog with the lines of its top-level fields, in file order.

    Reads the file once, as a stream of parser events (a second or two for 100,000
    entries), holding one entry at a time. Best effort, never raising: a CSV file (a row
    is one line), a file that cannot be read or parsed, or what follows the place where
    parsing fails, yields nothing, and the caller keeps the entry's line.
    """
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        return
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return
    if has_other_breaks(text):
        return
    parsers = (
        lambda: yaml.parse(text, Loader=_FastLoader),
        # what libyaml cannot read, the loader read with ruamel (tabs as `_yaml_entries`)
        lambda: YAML(typ="rt").parse(spaced_tabs(text)),
    )
    given = 0
    for parse in parsers:
        try:
            for n, entry in enumerate(_fields_by_entry(parse())):
                if n >= given:  # not given before the first parser failed
                    given += 1
                    yield entry
            return
        except (yaml.YAMLError, YAMLError, ValueError, RecursionError):
            continue


def _fields_by_entry(events: Iterable[Any]) -> Iterator[EntryFields]:
    """Walk the events of `resources:` (libyaml's or ruamel's: the same names and marks)."""
    stream = iter(events)
    kinds = [_kind_of(_take(stream)) for _ in range(3)]
    if kinds != ["StreamStartEvent", "DocumentStartEvent", "MappingStartEvent"]:
        return
    while _kind_of(key := _take(stream)) != "MappingEndEvent":
        value = _take(stream)
        if (
            _kind_of(key) != "ScalarEvent"
            or key.value != "resources"
            or _kind_of(value) != "SequenceStartEvent"
        ):
            skip_node(stream, key)  # a complex key, or a key other than `resources`
            skip_node(stream, value)
            continue
        while _kind_of(item := _take(stream)) != "SequenceEndEvent":
            if _kind_of(item) == "MappingStartEvent":
                yield _entry_fields(stream, item.start_mark.line + 1)
            else:
                skip_node(stream, item)


def _entry_fields(stream: Iterator[Any], line: int) -> EntryFields:
    """The keys of one entry's mapping, its start event (on `line`) just taken."""
    rid: str | None = None
    lines: dict[str, int] = {}
    twice: set[str] = set()
    while _kind_of(key := _take(stream)) != "MappingEndEvent":
        value = _take(stream)
        if _kind_of(key) != "ScalarEvent":
            skip_node(stream, key)
            skip_node(stream, value)
            continue
        name = str(key.value)
        if name in lines or name in twice:
            twice.add(name)
            lines.pop(name, None)
        else:
            lines[name] = key.start_mark.line + 1
        if name == "id" and _kind_of(value) == "ScalarEvent":
            rid = str(value.value)
        else:
            skip_node(stream, value)
    return EntryFields(line=line, id=None if "id" in twice else rid, lines=lines)


def _kind_of(event: Any) -> str:
    return type(event).__name__


def _take(stream: Iterator[Any]) -> Any:
    event = next(stream, None)
    if event is None:
        raise ValueError("the events end inside a node")
    return event


def skip_node(stream: Iterator[Any], event: Any) -> None:
    """Pass the rest of the node `event` starts (nothing more for a scalar or an alias), in
    libyaml's or ruamel's parser events; ValueError when they end inside it."""
    depth = 1 if _kind_of(event) in ("MappingStartEvent", "SequenceStartEvent") else 0
    while depth:
        kind = _kind_of(_take(stream))
        if kind in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1


# --- CSV ---------------------------------------------------------------------------------------


def _csv_entries(text: str, path: Path, found: _Findings) -> tuple[dict[str, Any], list[_Entry]]:
    collection: dict[str, Any] = {"title": path.stem}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries: list[_Entry] = []
    columns: list[tuple[int, str]] = []  # (cell index, field or column name)
    header_seen = False
    last_line = 0
    try:
        for row in reader:
            line, last_line = last_line + 1, reader.line_num  # a record may span lines
            if not any(cell.strip() for cell in row):
                continue
            if not header_seen:
                header_seen = True
                before = len(found.problems)
                columns = _csv_header(row, line, found)
                if not columns:
                    _header_further_down(reader, last_line, line, found, before)
                    return collection, []
                continue
            entries.append(_csv_entry(row, columns, line, found))
    except csv.Error as exc:
        # A quote left open reads on to the end of the file: the line to look at is where
        # the record began, not where the reader gave up.
        start = last_line + 1
        upto = f" (read on to line {reader.line_num})" if reader.line_num > start else ""
        found.problem(
            "parse_error",
            start,
            None,
            f"the CSV cannot be read: {exc}{upto}; check the quotes on this line "
            '(a quote inside a cell is written twice: "")',
        )
        return collection, []
    if not header_seen:
        found.problem(
            "empty_catalog", None, None, "the file is empty; add a header row 'id,title,url'"
        )
    elif not entries:
        found.problem(
            "empty_catalog", None, None, "the catalog lists no resources; add a row per resource"
        )
    return collection, entries


def _header_further_down(
    reader: Any, last_line: int, first_line: int, found: _Findings, before: int
) -> None:
    """When a row below the first (a spreadsheet's title above its table) names id, title
    and url, say that instead of three missing columns in the title row."""
    for row in itertools.islice(reader, 10):
        line, last_line = last_line + 1, reader.line_num
        if {"id", "title", "url"} <= {c.strip().lower() for c in row}:
            del found.problems[before:]
            found.problem(
                "bad_structure",
                line,
                None,
                f"the header row is line {line}, not line {first_line}: a catalog CSV starts "
                f"with its header row; delete the line(s) above it (a title row, say)",
            )
            return


def _csv_header(row: list[str], line: int, found: _Findings) -> list[tuple[int, str]]:
    """Map cells to field names; an empty list means the header is unusable."""
    named = [cell.strip() for cell in row if cell.strip()]
    for sep in (";", "\t"):
        if len(named) == 1 and {"id", "title", "url"} <= {
            part.strip().lower() for part in named[0].split(sep)
        }:
            found.problem(
                "bad_structure",
                line,
                None,
                f"the header {named[0]!r} is one column: the file is separated by {sep!r}; "
                "a catalog CSV separates its columns with commas (save it as 'CSV UTF-8 "
                "(Comma delimited)', or merge it with `linkhealth catalog import-csv`)",
            )
            return []
    columns: list[tuple[int, str]] = []
    names: set[str] = set()
    usable = True
    for index, cell in enumerate(row):
        # `unguard`: a header linkhealth wrote as "'=..." names the field "=...".
        name = unguard(cell.strip())
        if not name:
            continue  # unnamed column, e.g. a trailing comma; its cells must stay empty
        if name.lower() in RESOURCE_FIELDS:
            name = name.lower()
        if name in names:
            found.problem(
                "bad_structure",
                line,
                name,
                f"the column {name!r} appears twice in the header; remove or rename one",
            )
            usable = False
        names.add(name)
        columns.append((index, name))
    for name in _REQUIRED:
        if name not in names:
            typo = _misspelt(name, names)
            hint = f" (is {typo!r} meant to be {name!r}?)" if typo else ""
            if name == "id" and not typo:
                # A spreadsheet of titles and links put where catalogs are read.
                hint = (
                    " (a spreadsheet without ids is merged into a catalog by "
                    "`linkhealth catalog import-csv FILE --into CATALOG.yaml`, which makes them)"
                )
            found.problem(
                "bad_structure",
                line,
                name,
                f"the header has no {name!r} column{hint}; the first row must name at least "
                "id, title and url",
            )
            usable = False
    return columns if usable else []


def _csv_entry(
    row: list[str], columns: list[tuple[int, str]], line: int, found: _Findings
) -> _Entry:
    entry = _Entry(line=line)
    named = {index for index, _ in columns}
    stray = [i for i, cell in enumerate(row) if i not in named and cell.strip()]
    if stray:
        found.problem(
            "bad_structure",
            line,
            None,
            f"the row has a value in column {stray[0] + 1}, which has no header; "
            "quote cells that contain commas or name the column",
        )
    for index, name in columns:
        # `unguard`: a cell linkhealth wrote as "'=..." so a spreadsheet does not run it.
        cell = unguard(row[index].strip()) if index < len(row) else ""
        value: Any = cell or None
        if value is not None and name in _LIST_FIELDS:
            value = [part.strip() for part in _CSV_LIST_SEPARATORS.split(cell) if part.strip()]
        elif value is not None and name == "year" and _DIGITS.fullmatch(cell):
            value = int(cell)  # anything else stays text and is reported as wrong_type
        entry.values[name] = value
        entry.lines[name] = line
    return entry


# --- checking entries (both formats) -----------------------------------------------------------


def _resources(entries: Iterable[_Entry], found: _Findings) -> list[Resource]:
    resources: list[Resource] = []
    first_line: dict[str, int | None] = {}
    for entry in entries:
        before = len(found.problems)
        resource = _resource(entry, found)
        rid = entry.values.get("id")
        if isinstance(rid, str) and rid.strip():
            # Two spellings of one text (é composed, or e and a combining accent, as
            # editors and file systems write it) look the same to whoever types the id.
            same = unicodedata.normalize("NFC", rid)
            if same in first_line:
                spelt = "" if same == rid else " (written with other Unicode code points)"
                found.problem(
                    "duplicate_id",
                    entry.lines.get("id", entry.line),
                    "id",
                    f"the id {rid!r} is used twice{spelt} (also at line {first_line[same]}); "
                    "give each resource its own id",
                )
            else:
                first_line[same] = entry.lines.get("id", entry.line)
        if resource is not None and len(found.problems) == before:
            resources.append(resource)
    return resources


def _resource(entry: _Entry, found: _Findings) -> Resource | None:
    ok = True
    label = _label(entry)

    reported: set[str] = set()

    def bad(code: str, name: str, message: str, line: int | None = None) -> None:
        nonlocal ok
        ok = False
        reported.add(name)
        found.problem(code, line or entry.lines.get(name, entry.line), name, f"{label}{message}")

    required: dict[str, str] = {}
    for name in _REQUIRED:
        value = entry.values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            what = "is empty" if name in entry.values else "is missing"
            meant = None if name in entry.values else _misspelt(name, entry.values)
            if meant is not None:
                bad(
                    "missing_field",
                    name,
                    f"required field {name!r} is missing, but the entry has {meant!r}; "
                    f"rename {meant!r} to {name!r}"
                    + (" (field names are lower case)" if meant.lower() == name else ""),
                    entry.lines.get(meant),
                )
            elif name == "url" and (held := _address_field(entry.values)) is not None:
                bad(
                    "missing_field",
                    name,
                    f"required field 'url' is missing, but {held!r} holds a web address; "
                    f"rename {held!r} to 'url' (the one field that is checked)",
                    entry.lines.get(held),
                )
            else:
                bad("missing_field", name, f"required field {name!r} {what}; {_NEXT_STEP[name]}")
        elif name == "url" and isinstance(value, list) and len(value) > 1:
            # Quoting `[a, b]` would only make one address with a space in it.
            bad(
                "wrong_type",
                name,
                f"'url' is a list of {len(value)} addresses; an entry links one page, so keep "
                "the one to check and give each other page its own entry",
            )
        elif not isinstance(value, str):
            bad("wrong_type", name, f"{name!r} is {_kind(value)}, not text; put it in quotes")
        elif name == "id" and (_SPACE.search(value) or invisible_characters(value)):
            bad("wrong_type", name, _spaced_id(value))
        elif name == "id" and "/" in value:
            # Commands take KEY/ID (`resource toolkit/a`): an id `toolkit/a` in another
            # collection took that address over, acting on the wrong entry.
            bad(
                "wrong_type",
                name,
                f"the id {value!r} contains '/', which commands read as KEY/ID (a "
                f"collection's key, then an id): write {value.replace('/', '-')!r} instead",
            )
        elif name == "id" and len(value) > MAX_ID_LENGTH:
            bad(
                "unstorable_value",
                name,
                f"the id is too long; the database keeps ids of up to {MAX_ID_LENGTH} "
                "characters: shorten it",
            )
        else:
            required[name] = str(value)

    texts: dict[str, str | None] = {}
    for name in _TEXT_FIELDS:
        value = entry.values.get(name)
        if value is not None and not isinstance(value, str):
            bad("wrong_type", name, f"{name!r} is {_kind(value)}, not text; put it in quotes")
        texts[name] = None if value is None else str(value)

    lists: dict[str, tuple[str, ...]] = {}
    for name in _LIST_FIELDS:
        value = entry.values.get(name)
        if value is None:
            lists[name] = ()
        elif isinstance(value, str):
            lists[name] = (value.strip(),) if value.strip() else ()
        elif isinstance(value, list):
            lines = entry.item_lines.get(name, [])
            items: list[str] = []
            for i, item in enumerate(value):
                if isinstance(item, str):
                    if item.strip():
                        items.append(item.strip())
                else:
                    bad(
                        "wrong_type",
                        name,
                        f"item {i + 1} of {name!r} is {_kind(item)}, not text; "
                        f"write each item as a word such as {_LIST_EXAMPLES[name][0]!r}",
                        lines[i] if i < len(lines) else None,
                    )
            lists[name] = tuple(items)
        else:
            bad(
                "wrong_type",
                name,
                f"{name!r} is {_kind(value)}; write a list of words "
                f"(for example [{', '.join(_LIST_EXAMPLES[name])}])",
            )

    for name, value in entry.values.items():
        pasted = _PASTED_ENTRY.search(value) if isinstance(value, str) and "\n" in value else None
        if pasted is not None:
            bad(
                "bad_structure",
                name,
                f"the {name!r} text holds what looks like another entry "
                f"('- {pasted.group(1)}: {pasted.group(2)}'), which is read as text and "
                "never checked; lines indented as deep as a block's text ('|' or '>') "
                "belong to it, so line the entry's '- ' up with the other entries' '- '",
            )

    for name, held in _unstorable_fields(entry.values):
        if name not in reported:
            bad(
                "unstorable_value",
                str(name),
                f"{str(name)!r} holds {held}, which the database cannot store; correct or "
                "remove it",
            )

    year = entry.values.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        if isinstance(year, str) and _DIGITS.fullmatch(year.strip()):
            fix = f"remove the quotes: year: {year.strip()}"
        else:
            fix = "write a whole number such as 2016"
        bad("wrong_type", "year", f"'year' is {_kind(year)}; {fix}")

    url = required.get("url")
    if url is not None and "url" not in reported:
        parsed = parse_url(url)
        stored = len(
            (canonical_url(url) if isinstance(parsed, UrlProblem) else parsed.canonical).encode()
        )
        if stored > MAX_URL_LENGTH:
            bad(
                "unstorable_value",
                "url",
                f"the address is {stored:,} characters long"
                + (" once encoded" if stored != len(url) else "")
                + f"; the database keeps addresses of up to {MAX_URL_LENGTH:,}: link a shorter "
                "address of the page",
            )
        elif isinstance(parsed, UrlProblem):
            meant = meant_url(url)
            reason = parsed.reason
            if meant != url and not isinstance(parse_url(meant), UrlProblem):
                reason = f"the address is wrapped or incomplete as written; write it as {meant}"
            found.warning(
                "invalid_url",
                entry.lines.get("url", entry.line),
                "url",
                f"{label}{reason}; it will be reported as invalid_url until corrected",
            )
        elif _written_as_address(parsed.host):
            found.addresses.append(
                NamedAddress(
                    found.file, entry.lines.get("url", entry.line), label, url, parsed.host
                )
            )

    if not ok:
        return None
    extra = {
        name: _plain(value) for name, value in entry.values.items() if name not in RESOURCE_FIELDS
    }
    return Resource(
        id=required["id"],
        title=required["title"],
        url=required["url"],
        description=texts["description"],
        publisher=texts["publisher"],
        type=texts["type"],
        languages=lists["languages"],
        year=None if year is None else int(year),
        tags=lists["tags"],
        notes=texts["notes"],
        extra=extra,
        line=entry.line,
        written_empty=_written_empty(entry),
    )


def _written_empty(entry: _Entry) -> frozenset[str]:
    """The fields of `RESOURCE_FIELDS` the entry writes itself, without a value."""
    names = [name for name, value in entry.values.items() if value is None]
    if not names:
        return _NOTHING
    return _one_set(frozenset(names).intersection(RESOURCE_FIELDS).difference(entry.merged))


_NOTHING: frozenset[str] = frozenset()


@cache
def _one_set(names: frozenset[str]) -> frozenset[str]:
    """One set per combination of fields (a handful), not one per entry: a catalog may
    write `year: null` in each of 100,000 entries."""
    return names


# --- small helpers -----------------------------------------------------------------------------


#: An entry pasted inside a block of text (`notes: |`): `- id: x` (joined to the line before
#: it when the block is folded), then a line naming another required field.
_PASTED_ENTRY = re.compile(
    r"(?:^|[ \t])-[ \t]+(id|title|url)[ \t]*:[ \t]*(\S[^\n]*)\n"
    r"(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*(?!\1[ \t]*:)(?:id|title|url)[ \t]*:",
    re.MULTILINE,
)

#: Any white space, the no-break space pasted from web pages included.
_SPACE = re.compile(r"\s")


def plain_id(rid: str) -> str:
    """`rid` as it should be written: invisible characters dropped, spaces as hyphens
    (" ht guide " -> "ht-guide"); what errors suggest and importers use."""
    return "-".join("".join(c for c in rid if not invisible_characters(c)).split())


#: `=HYPERLINK("url", "text")` (Excel, Google Sheets, LibreOffice; ';' in some locales).
_HYPERLINK = re.compile(r'=?\s*HYPERLINK\(\s*"([^"]+)"\s*(?:[,;][^)]*)?\)', re.IGNORECASE)
#: `[text](url)`: a link written in Markdown.
_MARKDOWN = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s<>]+)>?\s*\)")
#: Pairs that wrap a pasted address: angle brackets, straight and curly quotes, guillemets.
_WRAPPERS = (
    ("<", ">"),
    ('"', '"'),
    ("'", "'"),
    ("\u201c", "\u201d"),
    ("\u2018", "\u2019"),
    ("\u00ab", "\u00bb"),
)
_WWW = re.compile(r"www\.[a-z0-9-]+(\.[a-z0-9-]+)+([:/?#]\S*)?", re.IGNORECASE)


def meant_url(text: str) -> str:
    """The address `text` means as a person reads it: unwrapped from a HYPERLINK formula,
    Markdown, <angle brackets> or quotes, without invisible characters, https:// before a
    bare `www.` address; anything else as written. Importers take it; validation suggests
    it, as the catalog keeps what its curator wrote."""
    hidden = invisible_characters(text)
    url = "".join(c for c in text if c not in hidden).strip() if hidden else text.strip()
    for _ in range(3):  # wrappers may nest: "<https://...>" in quotes
        before = url
        match = _HYPERLINK.fullmatch(url) or _MARKDOWN.fullmatch(url)
        if match:
            url = match.group(1).strip()
        elif len(url) > 2 and (url[0], url[-1]) in _WRAPPERS:
            url = url[1:-1].strip()
        if url == before:
            break
    return f"https://{url}" if _WWW.fullmatch(url) else url


def _spaced_id(rid: str) -> str:
    """Why an id with spaces or invisible characters is refused, and how to write it.

    Quotes keep spaces that a plain YAML value (or a CSV cell) loses, and text pasted from
    a web page may hold a zero-width space, so `" ht-guide "` would be an id other than
    `ht-guide` in the database, in decisions and on the command line, without anything
    looking wrong in the file.
    """
    hidden = invisible_characters(rid)
    meant = plain_id(rid)
    if hidden:
        return (
            f"the id {rid!r} holds an invisible character (U+{ord(hidden[0]):04X}), so it is "
            f"not the id it looks like; retype it as {meant!r}"
        )
    # In the words of neither format: "id: x" read as YAML in a CSV cell's error.
    where = "at its start or end" if rid.strip() == meant else "in it"
    return f"the id {rid!r} has spaces {where}; write ids without spaces, e.g. {meant!r}"


def _misspelt(name: str, keys: Iterable[Any]) -> str | None:
    """The key of `keys` that is most likely `name` mistyped (`URL`, `tittle`), if any;
    the schema's own field names are never taken for another's."""
    others = [str(k) for k in keys if str(k) not in RESOURCE_FIELDS and str(k) != name]
    # a no-break space or a zero-width one pasted with the key is part of it
    bare = {
        k: "".join(c for c in "".join(k.split()) if not invisible_characters(c)).lower()
        for k in others
    }
    close = difflib.get_close_matches(name, list(bare.values()), n=1, cutoff=0.8)
    return next((k for k in others if bare[k] == close[0]), None) if close else None


def _address_field(values: Mapping[Any, Any]) -> str | None:
    """The field (not a schema field) of an entry without `url` that holds a web address,
    as a catalog from elsewhere names it (`link`, `href`, `website`); None if none does."""
    for key, value in values.items():
        if str(key) in RESOURCE_FIELDS:
            continue
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str) and _WEB_ADDRESS.match(first.strip()):
            return str(key)
    return None


#: The start of a web address, as a field holding one begins.
_WEB_ADDRESS = re.compile(r"(?i)https?://\S")


def _written_as_address(host: str) -> bool:
    """Whether `host` is an IP address (however written: "127.1" too) or a name of this
    machine (localhost, sub.localhost), which the file itself shows may be private (a name
    only DNS can tell, and validation looks nothing up): the check's own rule
    (`catalog.check.safety.refused_as_written`) then says whether it is refused."""
    key = host.rstrip(".").lower()
    if not (key[:1].isdigit() or ":" in key or key.endswith(("localhost", "localdomain"))):
        return False  # a name: no address parse per entry
    from catalog.check.safety import is_loopback_name, written_address

    return written_address(host) is not None or is_loopback_name(host)


def _label(entry: _Entry) -> str:
    rid = entry.values.get("id")
    if isinstance(rid, str) and len(rid) > MAX_ID_LENGTH:  # an id too long to store
        return f"resource {rid[:40]!r}... ({len(rid)} characters): "
    return f"resource {rid!r}: " if isinstance(rid, str) and rid.strip() else ""


def _unstorable(value: Any, _seen: set[int] | None = None) -> str | None:
    """What in `value` (text, a number, or lists and mappings of them) no database stores
    as it is, said for a curator; None when nothing. SQLite keeps a NUL, NaN or infinity
    that PostgreSQL refuses, and neither encodes half a character (a lone surrogate).

    Each list or mapping is read once (`_seen`, by id): a YAML alias shared at every level
    ("billion laughs", nine levels of nine) was walked again wherever it appeared, and
    `catalog validate` ran for hours; one that contains itself ends there too."""
    if isinstance(value, str):
        if "\0" in value:
            return "a NUL character (\\0)"
        if not value.isascii() and not _encodes(value):
            half = next(c for c in value if "\ud800" <= c <= "\udfff")
            return f"half a character ({half!r}, a lone surrogate)"
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return "not-a-number (.nan)"
        return "infinity (.inf)" if math.isinf(value) else None
    if isinstance(value, bytes):
        return "a NUL character (\\0)" if b"\0" in value else None
    if isinstance(value, Mapping):
        items: Iterable[Any] = itertools.chain.from_iterable(value.items())
    elif isinstance(value, list | tuple):
        items = value
    else:
        return None
    seen = set() if _seen is None else _seen
    if id(value) in seen:  # read already and found clean (a finding ends the walk), or an
        return None  # alias inside itself
    seen.add(id(value))
    found = next((what for item in items if (what := _unstorable(item, seen))), None)
    if found is None and _seen is None and _expanded_size(value, {}) > MAX_EXPANDED_VALUES:
        return (
            f"YAML aliases that repeat into over {MAX_EXPANDED_VALUES:,} values "
            "(aliases of aliases)"
        )
    return found


#: The most values one field may hold once its YAML aliases are written out: the database
#: keeps them written out, and nine levels of nine aliases are 387 million.
MAX_EXPANDED_VALUES = 100_000


def _expanded_size(value: Any, sizes: dict[int, int]) -> int:
    """How many values `value` holds with every alias written out, each list or mapping
    counted once (`sizes`, by id); one that contains itself counts as one value."""
    if isinstance(value, Mapping):
        items: Iterable[Any] = itertools.chain.from_iterable(value.items())
    elif isinstance(value, list | tuple):
        items = value
    else:
        return 1
    if id(value) in sizes:
        return sizes[id(value)]
    sizes[id(value)] = 1  # (while inside it)
    total = 1 + sum(_expanded_size(item, sizes) for item in items)
    sizes[id(value)] = total
    return total


def _unstorable_fields(values: Mapping[Any, Any]) -> Iterator[tuple[Any, str]]:
    """(field name, what) of each field `_unstorable` finds a value in (its name included);
    plain text and whole numbers, nearly every value, are passed over without a call."""
    for name, value in values.items():
        plain_name = type(name) is str and name.isascii() and "\0" not in name
        if plain_name and (
            type(value) is int
            or (type(value) is str and "\0" not in value and (value.isascii() or _encodes(value)))
        ):
            continue
        if what := _unstorable(value) or _unstorable(name):
            yield name, what


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: Any) -> str:
    """Name a YAML value the way a curator would."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {str(value)!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, TaggedScalar):
        # `!!str` is read as text (`_untagged_text`); other tags name no type a catalog has
        return f"{str(value.value)!r} with the YAML tag {value.tag} (remove the tag)"
    return f"a {type(value).__name__}"


def _node_line(node: Any, default: int | None) -> int | None:
    try:
        return int(node.lc.line) + 1
    except (AttributeError, TypeError):
        return default


def _key_line(mapping: Any, key: Any, default: int | None) -> int | None:
    # Keys that came in through a merge (`<<: *base`) have no position of their own.
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return default


def _item_line(seq: Any, index: int, default: int | None) -> int | None:
    try:
        return int(seq.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return default


def _plain(value: Any, _active: frozenset[int] = frozenset()) -> Any:
    """ruamel's round-trip types as plain JSON-friendly Python (dates become ISO text)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if id(value) in _active:  # a YAML alias that contains itself
        return None
    active = _active | {id(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v, active) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, active) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "value"):  # a scalar with an unknown tag (`!foo bar`)
        return _plain(value.value, active)
    return str(value)
