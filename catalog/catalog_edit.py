"""Stage "catalog edit": curator decisions written back into the catalog file they came from.

Inputs:  the path of a `.yaml`/`.yml`/`.csv` catalog and `FieldEdit`s ("set `url` of resource
         `x` to ...", "remove `url_confidence`", "set `reviewed_at` to a date").
Outputs: an `EditResult` with the edits that changed something and the unified diff of the
         file; the file itself is replaced atomically unless `dry_run` is set.

Curators own these files, so an edit touches only the lines it must: YAML goes through
ruamel.yaml's round-trip mode (comments, key order, quotes and block scalars survive), and CSV
records that an edit does not touch are copied byte for byte. Only the edited YAML entries
make the round trip, each in an excerpt of the file (`yaml_splice`), as a whole 20,000-entry
file takes ruamel a minute; a file the excerpts cannot be sure to read as a whole goes whole,
and only its edited entries are taken from that round trip (`_edited_entries_only`).
A result that would no longer load (empty url, duplicate id, ...) is refused with the
loader's own `CatalogError`.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import io
import itertools
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar, merge_attrib
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.emitter import RoundTripEmitter
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.events import CollectionStartEvent, SequenceEndEvent
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from catalog import yaml_splice
from catalog.csv_guard import guard, unguard
from catalog.errors import CatalogError, NotFoundError, Problem
from catalog.files import locked, real_file, replace_file, replace_if_unchanged
from catalog.model import RESOURCE_FIELDS
from catalog.progress import still_working
from catalog.source import (
    CATALOG_SUFFIXES,
    OTHER_BREAKS,
    has_other_breaks,
    held_tabs,
    reads_as_plain_text,
    skip_node,
    validate_catalog,
)
from catalog.text import clipped

__all__ = [
    "EditResult",
    "EditsRefused",
    "FieldEdit",
    "Refusal",
    "apply_edits",
    "csv_line",
    "entry_lists_emitter",
    "guess_entry_lists",
    "guess_indent",
    "undo_edit",
]

_BOM = b"\xef\xbb\xbf"
_CSV_LIST_FIELDS = ("languages", "tags")
_CSV_LIST_JOIN = "; "  # source.py splits list cells on ';' or '|'
_BLOCK_SCALARS = (FoldedScalarString, LiteralScalarString)
_QUOTED_SCALARS = (SingleQuotedScalarString, DoubleQuotedScalarString)
_STYLED_SCALARS = (*_BLOCK_SCALARS, *_QUOTED_SCALARS)
_NULL_VALUE = re.compile(r"^[^#\n]*:[ \t]+(null|Null|NULL|~)[ \t]*(?:#.*)?$", re.MULTILINE)
#: Comment lines and a `---` line before the document: ruamel drops such comments, so they are
#: kept aside and put back verbatim.
_PREAMBLE = re.compile(r"\A(?:[ \t]*(?:#.*)?\n)*---[ \t]*(?:#.*)?\n")
#: A `...` line that ends the document, and comment lines after it: ruamel drops both.
_POSTAMBLE = re.compile(r"^\.\.\.[ \t]*(?:#.*)?(?:\n[ \t]*(?:#.*)?)*\n?\Z", re.MULTILINE)


@dataclass(frozen=True)
class FieldEdit:
    """Set `field` of resource `resource_id` to `value`; `None` removes the field."""

    resource_id: str
    field: str
    value: Any


@dataclass(frozen=True)
class Refusal:
    """An edit the file cannot take as it stands, and why (located in the file)."""

    edit: FieldEdit
    problems: tuple[Problem, ...]


class EditsRefused(CatalogError):
    """Every edit of one call that the file refused, each with its problems; nothing was
    written (exit 5, as any `CatalogError`). The edits go on past a refused one, so that
    all are told at once: an import of a sheet stopped at its first refused row, and the
    curator fixed one row per run."""

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        self.refusals = tuple(refusals)
        # One problem once, though several edits meet it (a stray CSV cell refuses
        # every edit that adds its column).
        super().__init__(list(dict.fromkeys(p for r in self.refusals for p in r.problems)))


class _Refusals:
    """The refusals of the edits of one call, gathered in the order of the edits."""

    def __init__(self, edits: Sequence[FieldEdit]) -> None:
        self._edits = edits
        self._found: list[tuple[int, Refusal]] = []

    @contextlib.contextmanager
    def kept(self, at: int) -> Iterator[None]:
        """Run the edit `edits[at]`: a `CatalogError` it raises is kept for `raise_any`. An
        edit refuses before it changes anything (`_set_yaml_field`'s `before`)."""
        try:
            yield
        except CatalogError as exc:
            self.keep(exc, at)

    def keep(self, error: CatalogError, at: int | None = None) -> None:
        """Keep `error`: the refusal of `edits[at]`, or the `EditsRefused` of a call given
        some of `edits` (an entry's excerpt)."""
        if isinstance(error, EditsRefused):
            for refusal in error.refusals:
                i = next(i for i, e in enumerate(self._edits) if e is refusal.edit)
                self._found.append((i, refusal))
        else:
            assert at is not None
            self._found.append((at, Refusal(self._edits[at], error.problems)))

    def raise_any(self) -> None:
        if self._found:
            raise EditsRefused([r for _, r in sorted(self._found, key=lambda f: f[0])])


@dataclass(frozen=True)
class EditResult:
    path: Path
    #: The edits that changed the file (setting a field to its current value changes nothing).
    changed: tuple[FieldEdit, ...]
    #: Unified diff of the file, empty when nothing changed.
    diff: str
    #: The file's bytes before and after the edit (empty when nothing was written), so
    #: that `undo_edit` can put it back when what the edit belongs with fails.
    before: bytes = field(default=b"", repr=False, compare=False)
    after: bytes = field(default=b"", repr=False, compare=False)


def apply_edits(
    path: str | Path, edits: Sequence[FieldEdit], *, dry_run: bool = False, lock: bool = True
) -> EditResult:
    """Apply `edits` in order under an exclusive lock; write atomically unless `dry_run`.

    `lock=False`: a file nobody else writes (the import's working copy in its temporary
    folder, edited under the catalog's own lock), so no `.NAME.lock` is made beside it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CATALOG_SUFFIXES:
        raise CatalogError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    "unknown_format",
                    f"{suffix or 'a name without an ending'!r} is not a catalog format; "
                    "only .yaml, .yml and .csv catalogs can be edited",
                )
            ]
        )
    # A dry run writes nothing in the catalog's folder (it validates its result in a
    # temporary folder), and writers swap the file in whole: no lock, so `--dry-run`
    # leaves no `.NAME.lock` behind, and needs no more than to read the catalog.
    with (
        contextlib.nullcontext() if dry_run or not lock else _locked(path),
        still_working(f"Editing the catalog {path}") as working,
    ):
        data = _read_bytes(path)
        bom = data.startswith(_BOM)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _unusable(path) from None
        # Classic Mac line breaks (CR alone): edited as LF, written back as CR; else an
        # edit added an LF line and dropped the final CR.
        cr_only = suffix != ".csv" and "\r" in text and "\n" not in text
        if cr_only:
            text = text.replace("\r", "\n")
        if suffix == ".csv":
            new_text, changed = _edit_csv(path, text, edits)
        else:
            new_text, changed = _edit_yaml(path, text, edits)
        if not changed or new_text == text:
            return EditResult(path, (), "")
        diff = _diff(path, text, new_text)
        if cr_only:
            new_text = new_text.replace("\n", "\r")
        new_data = (_BOM if bom else b"") + new_text.encode("utf-8")
        # Checking the whole edited file takes seconds at 20,000 entries.
        working.what = f"Checking the edited catalog {path} for new problems"
        _replace_checked(path, data, new_data, dry_run)
        if dry_run:
            return EditResult(path, tuple(changed), diff)
        return EditResult(path, tuple(changed), diff, data, new_data)


def undo_edit(result: EditResult) -> bool:
    """Put the file of `result` back as it was before that edit, atomically, unless it was
    edited again since (that later edit is kept). False when it was not put back.

    A curator decision records itself after writing the file: when the record fails (a
    full disk at commit), the file goes back, or the decision, run again, is refused
    because the entry's URL is no longer the one that was checked."""
    if not result.after:
        return False
    with _locked(result.path):
        if _read_bytes(result.path) != result.after:
            return False
        replace_file(result.path, result.before)  # unchecked: bytes the file held
    return True


#: Lines of context around each change in a diff, as `diff -u` shows.
_CONTEXT = 3
_HUNK = re.compile(r"^@@ -(\d+)((?:,\d+)? \+)(\d+)((?:,\d+)? @@)$", re.MULTILINE)


def _diff(path: Path, text: str, new_text: str) -> str:
    """The unified diff of the edit, found among the lines between the first and the last
    that differ: difflib compares all 160,000 lines of a 20,000-entry catalog in seconds
    to tens of seconds, though an edit changes a handful."""
    old, new = _lines(text), _lines(new_text)
    same = 0
    shortest = min(len(old), len(new))
    while same < shortest and old[same] == new[same]:
        same += 1
    end = 0
    while end < shortest - same and old[-1 - end] == new[-1 - end]:
        end += 1
    start = max(0, same - _CONTEXT)
    end = max(0, end - _CONTEXT)
    lines = difflib.unified_diff(
        old[start : len(old) - end], new[start : len(new) - end], str(path), str(path)
    )
    diff = "".join(lines)
    if not start:
        return diff
    return _HUNK.sub(lambda m: f"@@ -{int(m[1]) + start}{m[2]}{int(m[3]) + start}{m[4]}", diff)


#: A line as a file's lines are numbered (the loader's and an editor's): it ends at LF only,
#: not at a LINE SEPARATOR in a title (`str.splitlines` would split there).
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


# --- files, locks and validation ---------------------------------------------------------------


def _locked(path: Path) -> contextlib.AbstractContextManager[None]:
    return locked(
        path,
        lambda lock, exc: _unreadable(
            path, f"the lock file {lock} cannot be opened or created ({exc})"
        ),
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise _unusable(path) from None


def _replace_checked(path: Path, old: bytes, data: bytes, dry_run: bool) -> None:
    """Refuse `data` if it adds problems to the file that held `old`, else swap it in,
    unless the file no longer holds `old` (`replace_if_unchanged`). A dry run validates
    in a temporary folder: it may be run on a catalog in a folder it cannot write."""
    if not dry_run:
        replace_if_unchanged(
            path, old, data, check=lambda tmp: _refuse_new_problems(path, tmp, old)
        )
        return
    with tempfile.TemporaryDirectory(prefix="linkhealth-edit-") as folder:
        candidate = Path(folder) / real_file(path).name
        candidate.write_bytes(data)
        _refuse_new_problems(path, candidate, old)


def _refuse_new_problems(path: Path, candidate: Path, old: bytes) -> None:
    after = validate_catalog(candidate).problems
    if not after:
        return
    # A file that was already broken may still be edited, as long as the edit adds no
    # problem. Its problems are those of the bytes edited, not of the file read again.
    with tempfile.TemporaryDirectory(prefix="linkhealth-edit-") as folder:
        original = Path(folder) / real_file(path).name
        original.write_bytes(old)
        before = Counter((p.code, p.field) for p in validate_catalog(original).problems)
    added = Counter((p.code, p.field) for p in after) - before
    if added:
        raise CatalogError(
            [replace(p, file=str(path)) for p in after if (p.code, p.field) in added]
        )


def _unusable(path: Path) -> CatalogError:
    """The loader's own located problems, for a file that cannot be edited as it stands."""
    problems = validate_catalog(path).problems
    return CatalogError(
        problems
        or [
            Problem(
                str(path),
                None,
                None,
                "bad_structure",
                "the file cannot be edited; check it with `validate_catalog` and fix it by hand",
            )
        ]
    )


def _unreadable(path: Path, message: str) -> CatalogError:
    return CatalogError([Problem(str(path), None, None, "unreadable", message)])


def _not_found(path: Path, resource_id: str) -> NotFoundError:
    return NotFoundError(
        f"{path}: no resource has the id {resource_id!r}; check the id against the catalog's "
        "'id' fields (ids are case-sensitive)"
    )


# --- values ------------------------------------------------------------------------------------


def _normalize(path: Path, edit: FieldEdit) -> Any:
    """Turn an edit's value into what the file stores: a time becomes ISO text; a date
    stays one, which YAML writes bare (`reviewed_at: 2026-12-21`) as curators and the round
    trip write dates, whether the field is new or replaced, and CSV as ISO text."""
    if not isinstance(edit.field, str) or not edit.field.strip():
        raise CatalogError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    "bad_structure",
                    f"resource {edit.resource_id!r}: the field name {edit.field!r} is not "
                    "usable; name the field with a word such as 'reviewed_at'",
                )
            ]
        )

    def one(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, date):
            return value
        raise CatalogError(
            [
                Problem(
                    str(path),
                    None,
                    edit.field,
                    "wrong_type",
                    f"resource {edit.resource_id!r}: a {type(value).__name__} cannot be "
                    "written to a catalog; give text, a number, a date or a list of text",
                )
            ]
        )

    if isinstance(edit.value, list | tuple):
        return [one(v) for v in edit.value]
    return one(edit.value)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime | date):
        old = old.isoformat()
    if isinstance(new, date):
        new = new.isoformat()
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    return isinstance(old, bool) == isinstance(new, bool) and old == new


# --- YAML --------------------------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """Writes `null` the way the file already does (ruamel's round trip would write nothing)."""

    null_text = ""

    def represent_null_as_written(self, data: Any) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", self.null_text)


_Representer.add_representer(type(None), _Representer.represent_null_as_written)

_DEFAULT_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Constructor(RoundTripConstructor):
    """Keeps what a curator wrote on a mapping or list that ruamel's round trip drops: an
    anchor nothing refers to (`- &base` on an entry's dash line) and a tag that says what
    the node is anyway (`- !!map`)."""

    # ruamel's round-trip constructor overrides it so, with a `type: ignore` of its own
    def construct_mapping(  # type: ignore[override]
        self, node: Any, maptyp: Any, deep: bool = False
    ) -> Any:
        result = super().construct_mapping(node, maptyp, deep=deep)
        _keep_properties(node, maptyp)
        return result

    def construct_rt_sequence(self, node: Any, seqtyp: Any, deep: bool = False) -> Any:
        result = super().construct_rt_sequence(node, seqtyp, deep=deep)
        _keep_properties(node, seqtyp)
        return result


def _keep_properties(node: Node, data: CommentedMap | CommentedSeq) -> None:
    if node.anchor:
        data.yaml_set_anchor(node.anchor, always_dump=True)
    tag = node.ctag
    if tag is not None and tag.handle is not None and str(tag) in _DEFAULT_TAGS:
        data.yaml_set_ctag(tag)  # written `!!map`: `_Emitter` writes it back


class _Emitter(RoundTripEmitter):
    """Writes a mapping's or list's tag as the file wrote it (`!!map`), though it is the
    tag the node would have without it; and the block lists inside entries as the file's
    entries write theirs (`entry_lists`, `guess_entry_lists`): ruamel writes every list of
    a dump alike, and a file indented by four may write `-   id: a` for its entries and
    `    - x` for their lists."""

    #: (items, dashes): columns from a list's key; None: as the `resources` list.
    entry_lists: tuple[int, int] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outer: list[tuple[int, int]] = []

    def emit(self, event: Any) -> None:
        if isinstance(event, CollectionStartEvent) and getattr(event.ctag, "handle", None):
            event.implicit = False
        super().emit(event)

    def expect_block_sequence(self) -> None:
        self._outer.append((self.best_sequence_indent, self.sequence_dash_offset))
        if self.entry_lists is not None and self.indent:  # not the top mapping's value
            self.best_sequence_indent, self.sequence_dash_offset = self.entry_lists
        super().expect_block_sequence()

    def expect_block_sequence_item(self, first: bool = False) -> None:
        ends = not first and isinstance(self.event, SequenceEndEvent)
        super().expect_block_sequence_item(first)
        if ends:
            self.best_sequence_indent, self.sequence_dash_offset = self._outer.pop()


@functools.cache
def entry_lists_emitter(entry_lists: tuple[int, int] | None) -> type[RoundTripEmitter]:
    """A ruamel `Emitter` that writes the lists inside entries laid out as `entry_lists`
    (`guess_entry_lists`) and keeps the tags `_Constructor` keeps."""
    return type("_FileEmitter", (_Emitter,), {"entry_lists": entry_lists})


#: The entries `guess_entry_lists` reads at most, for a file none of whose first entries
#: holds a list: libyaml reads all 20,000 entries of a large catalog in a second.
_LIST_LAYOUT_ENTRIES = 100


def guess_entry_lists(text: str) -> tuple[int, int] | None:
    """How the block lists inside `text`'s `resources` entries (`tags:` and `- x` below it)
    are laid out, as columns from their key's: (items, dashes), from the first such list
    with an item on its dash's line; None when none of the first entries holds one."""
    events = pyyaml.parse(text, Loader=getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader))
    try:
        kinds = [next(events), next(events), next(events)]
        if not isinstance(kinds[2], pyyaml.MappingStartEvent):
            return None
        while True:
            key, value = next(events), next(events)
            if not isinstance(key, pyyaml.ScalarEvent):
                return None
            if key.value == "resources":
                if not isinstance(value, pyyaml.SequenceStartEvent) or value.flow_style:
                    return None
                return _first_entry_list(events)
            skip_node(events, value)
    except (pyyaml.YAMLError, StopIteration, ValueError, RecursionError):
        return None
    finally:
        events.close()


def _first_entry_list(events: Iterator[Any]) -> tuple[int, int] | None:
    """`guess_entry_lists` from the events of the `resources` list's entries."""
    depth, entries, last, in_map = 0, 0, None, False
    dash, key_column = None, 0
    for event in events:
        if dash is not None:  # the list's first item, on its dash's line or below it
            if event.start_mark.line == dash.start_mark.line:
                items = event.start_mark.column - key_column
                dashes = dash.start_mark.column - key_column
                return max(items, dashes + 2), dashes
            dash = None
        if isinstance(event, pyyaml.CollectionStartEvent):
            if not depth:
                entries += 1
                if entries > _LIST_LAYOUT_ENTRIES:
                    return None
                in_map = isinstance(event, pyyaml.MappingStartEvent)
            elif (
                depth == 1
                and in_map
                and isinstance(event, pyyaml.SequenceStartEvent)
                and not event.flow_style
                and last is not None
            ):
                dash, key_column = event, last.start_mark.column  # a value: `last` is its key
            depth += 1
        elif isinstance(event, pyyaml.CollectionEndEvent):
            depth -= 1
            if depth < 0:
                return None
        elif isinstance(event, pyyaml.ScalarEvent):
            last = event
    return None


@dataclass(frozen=True)
class _Style:
    """What the dump takes from the whole file, however little of it is loaded: the
    indentation ruamel guesses and that of the lists in entries, how empty values are
    written, the line break."""

    newline: str
    indent: int | None
    block_seq_indent: int | None
    null_text: str
    #: `guess_entry_lists`
    entry_lists: tuple[int, int] | None = None


class _GuessOnly:
    """A loader for `load_yaml_guess_indent` that loads nothing: only its guess is wanted."""

    def load(self, stream: Any) -> None:
        return None


class _NotEditable(Exception):
    """The document does not load as a catalog with a `resources` list."""


def _parts(text: str) -> tuple[str, str, str]:
    """(preamble, body, postamble) of `text` with LF line breaks."""
    preamble = _PREAMBLE.match(text)
    head = preamble.group(0) if preamble else ""
    postamble = _POSTAMBLE.search(text, len(head))
    tail = postamble.group(0) if postamble else ""
    return head, text[len(head) : len(text) - len(tail)], tail


def _style_of(text: str) -> _Style:
    crlf = text.count("\r\n")
    newline = "\r\n" if crlf * 2 > text.count("\n") else "\n"  # for new lines: the most used
    _, body, _ = _parts(text.replace("\r\n", "\n"))
    spaced, _ = held_tabs(body)
    indent, block_seq_indent = guess_indent(spaced)
    null = _NULL_VALUE.search(spaced)
    null_text = null.group(1) if null else ""
    return _Style(newline, indent, block_seq_indent, null_text, guess_entry_lists(spaced))


def guess_indent(text: str) -> tuple[int | None, int | None]:
    """ruamel's guess of `text`'s (indent, block sequence indent), for a dump that keeps the
    file's layout; also for a file whose entries start with a dash alone on its line."""
    joined = _dashes_joined(text)
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(joined, yaml=_GuessOnly())
    except IndexError:
        # Before the file's first nested key, a line ending in ':' (the prefix of a `%TAG`
        # directive) makes the guess read a line of dashes alone (`---`) past its end.
        # Such lines say nothing of the indentation: the guess goes without them.
        try:
            _, indent, block_seq_indent = load_yaml_guess_indent(
                _DASHES_ONLY.sub("", joined), yaml=_GuessOnly()
            )
        except IndexError:
            return None, None  # the dump's own indentation: `_keep_layout` puts lines back
    return indent, block_seq_indent


#: A line of dashes and spaces only, but no `- ` item, with its line break.
_DASHES_ONLY = re.compile(r"^(?! *- )[ -]*-[ -]*(?:\n|\Z)", re.MULTILINE)


#: A dash alone on its line (`-` before an entry written on the lines below), the blank and
#: comment lines after it, and the indentation of the entry's first line.
_LONE_DASH = re.compile(r"^( *)-[ \t]*\n((?:[ \t]*(?:#[^\n]*)?\n)*)( *)(?=[^ \n])", re.MULTILINE)
_LONE_DASH_AT_END = re.compile(r"^( *)-[ \t]*$", re.MULTILINE)


def _dashes_joined(text: str) -> str:
    """`text` with each entry whose dash stands alone on its line written as `- key: ...`,
    for ruamel's indentation guess only.

    The guess reads a dash as the start of an entry only when text follows it on its line,
    and on a lone dash right after a `key:` line it reads past the line's end (IndexError,
    ruamel 0.18). Joined, the dash and the entry's first key give the guess a round trip
    of the file itself makes: the entry's keys at the column they are written at.
    """

    def joined(match: re.Match[str]) -> str:
        dash, content = len(match.group(1)), len(match.group(3))
        if content > dash:
            return match.group(1) + "-" + " " * max(content - dash - 1, 1)
        return match.group(1) + "- ~\n" + match.group(2) + match.group(3)  # an empty entry

    return _LONE_DASH_AT_END.sub(r"\1- ~", _LONE_DASH.sub(joined, text))


def _yaml_for(text: str, style: _Style) -> tuple[YAML, Any]:
    """A round-trip YAML configured to reproduce the file's layout, and `text` loaded."""
    yaml = YAML(typ="rt")
    yaml.Representer = _Representer
    yaml.Constructor = _Constructor
    yaml.Emitter = entry_lists_emitter(style.entry_lists)
    yaml.preserve_quotes = True
    yaml.width = 1_000_000  # never re-wrap a long line nobody touched
    doc = yaml.load(text)
    indent = style.indent or 2
    offset = style.block_seq_indent or 0
    yaml.indent(mapping=max(indent - offset, 1), sequence=indent, offset=offset)
    yaml.representer.null_text = style.null_text
    return yaml, doc


def _edit_yaml(path: Path, text: str, edits: Sequence[FieldEdit]) -> tuple[str, list[FieldEdit]]:
    """Round-trip only the edited entries when they are sure to come out as the whole-file
    round trip writes them; else the whole file."""
    spliced = _edit_yaml_spliced(path, text, edits)
    if spliced is not None:
        return spliced
    new, changed = _edit_yaml_whole(path, text, edits)
    if changed and new != text:
        new = _edited_entries_only(text, new) or new
    return new, changed


def _edited_entries_only(old: str, new: str) -> str | None:
    """`old` with only the entries whose data `new` (the whole file's round trip) changed
    written as `new` writes them, each in its own layout (`_as_written_there`): the round
    trip writes every entry anew where it cannot put the file's layout back (an entry
    indented unlike the rest, a `- # comment` line, a dash alone on its line, a flow list
    written over several lines, which it writes on one), which the splice would have left
    alone had the file let it. None when that cannot be sure: the entries cannot be
    found, or the result would hold other data or other comments.

    A file holding a LINE or PARAGRAPH SEPARATOR or a NEL (U+2028, U+2029, U+0085; pasted
    from a PDF or Word) is read by libyaml with a private-use character in place of each
    (`_Separators`), its data as ruamel reads it."""
    separators = _Separators(old, new)
    if separators.table is None:
        return None
    if separators.table:
        narrowed = _narrowed(separators.hidden(old), separators.hidden(new), separators.data)
        return None if narrowed is None else separators.shown(narrowed)
    return _narrowed(old, new, _libyaml_data)


def _libyaml_data(text: str) -> Any:
    return pyyaml.load(text, Loader=getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader))


class _Separators:
    """LINE and PARAGRAPH SEPARATOR and NEL, which libyaml reads as line breaks and ruamel,
    inside a value, as characters of it or folded like one (the loader reads such a file
    with ruamel): in `hidden` text, each is a private-use character neither text uses,
    which libyaml reads as a character. Same length: every offset stays, and libyaml's
    places are the entries' places; their data is read from the text itself by ruamel
    (`data`), which decides what was edited and whether the result holds what the round
    trip wrote."""

    _SEPARATORS = OTHER_BREAKS
    _PRIVATE_USE = range(0xE000, 0xF900)

    def __init__(self, *texts: str) -> None:
        #: None when no stand-ins are free; empty when the texts hold no separator.
        self.table: dict[int, int] | None = {}
        self._back: dict[int, int] = {}
        if not any(has_other_breaks(text) for text in texts):
            return
        free = (c for c in self._PRIVATE_USE if not any(chr(c) in text for text in texts))
        stand_ins = list(itertools.islice(free, len(self._SEPARATORS)))
        if len(stand_ins) < len(self._SEPARATORS):
            self.table = None
            return
        self.table = {ord(c): s for c, s in zip(self._SEPARATORS, stand_ins, strict=True)}
        self._back = {s: c for c, s in self.table.items()}

    def hidden(self, text: str) -> str:
        return text.translate(self.table or {})

    def shown(self, text: str) -> str:
        return text.translate(self._back) if self._back else text

    def data(self, hidden: str) -> Any:
        """The data of the text `hidden` stands for, as ruamel reads it."""
        readable, hold = held_tabs(self.shown(hidden))
        if hold is not None:
            raise ValueError("a tab inside a plain value")  # rare enough to go whole
        return YAML(typ="safe", pure=True).load(readable)


def _narrowed(old: str, new: str, load: Callable[[str], Any]) -> str | None:
    """`_edited_entries_only`, the data of a text read by `load`."""
    before, after = yaml_splice.spans(old), yaml_splice.spans(new)
    try:
        was, now = load(old), load(new)
    except (pyyaml.YAMLError, YAMLError, ValueError, RecursionError):
        return None
    if before is None or after is None or len(before) != len(after):
        return None
    if not isinstance(was, dict) or not isinstance(now, dict):
        return None
    old_entries, new_entries = was.get("resources"), now.get("resources")
    if not isinstance(old_entries, list) or not isinstance(new_entries, list):
        return None
    if len(old_entries) != len(before) or len(new_entries) != len(after):
        return None
    newline = "\r\n" if new.count("\r\n") * 2 > new.count("\n") else "\n"
    pieces: list[str] = []
    done = 0
    for span, respan, data, new_data in zip(before, after, old_entries, new_entries, strict=True):
        if data == new_data:
            continue
        if span.flow != respan.flow:
            return None
        if span.flow:  # the entry's `{...}` alone: the list's other lines stay as written
            body: str | None = new[respan.start : respan.body_end]
        else:
            body = _as_written_there(old, span, new, respan, newline)
        if body is None or _comments(body) != _comments(old[span.start : span.body_end]):
            return None  # a comment the round trip moved in or out of the entry
        pieces += [old[done : span.start], body]
        done = span.body_end
    if not pieces:
        return None
    result = "".join(pieces) + old[done:]
    try:
        same = load(result) == now
    except (pyyaml.YAMLError, YAMLError, ValueError, RecursionError):
        return None
    return result if same else None


def _as_written_there(
    old: str, span: yaml_splice.Span, new: str, respan: yaml_splice.Span, newline: str
) -> str | None:
    """The entry `respan` of `new` (its lines of content, not the comments after them)
    laid out as the entry `span` of `old` is: its dash line as written (`-   id:`,
    `- # comment`, a dash alone), its lines indented as deep, its lines that differ only
    in spelling as they were (`_keep_layout`)."""
    if respan.first != respan.start:
        return None  # the round trip writes `- key:`; anything else is not read here
    first_end = new.find("\n", respan.content)
    first_end = respan.body_end if first_end < 0 else min(first_end + 1, respan.body_end)
    if span.first == span.start:
        head = old[span.start : span.content]
    else:
        head = old[span.start : span.first] + " " * span.column
    lines = [head + new[respan.content : first_end]]
    shift = span.column - respan.column
    for line in new[first_end : respan.body_end].splitlines(keepends=True):
        if not line.strip():
            lines.append(line)
        elif shift >= 0:
            lines.append(" " * shift + line)
        elif not line[:-shift].strip(" "):
            lines.append(line[-shift:])
        else:
            return None
    return _keep_layout(old[span.start : span.body_end], "".join(lines), newline)


def _indented_as_written(header: str, old: str, new: str) -> str:
    """The edited entry `new` indented as the entry `old` was, when the file's other
    entries are not (`-   id: a` pasted from a file indented by four): the round trip
    writes every entry with the indentation it guesses for the file."""
    before, after = yaml_splice.spans(header + old), yaml_splice.spans(header + new)
    if not before or not after or len(before) != 1 or len(after) != 1:
        return new
    (span,), (respan,) = before, after
    if span.first != span.start or span.column == respan.column:
        return new  # a dash alone is written `- key:` as the whole file's round trip does
    newline = "\r\n" if new.endswith("\r\n") else "\n"
    body = _as_written_there(header + old, span, header + new, respan, newline)
    if body is None:
        return new
    relaid = body + (header + new)[respan.body_end :]
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    try:
        same = pyyaml.load(header + relaid, Loader=loader) == pyyaml.load(
            header + new, Loader=loader
        )
    except (pyyaml.YAMLError, ValueError, RecursionError):
        return new
    return relaid if same else new


#: A comment: after the line's start or white space, outside quotes.
_COMMENT = re.compile(r"(?:^|[ \t])(#.*)$")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"")


def _comments(text: str) -> Counter[str]:
    """The comments of an entry's lines (text in a block scalar that looks like one too:
    compared between two spellings of an entry, it is in both or in neither)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        comment = _COMMENT.search(_QUOTED.sub("''", line))
        if comment is not None:
            found[comment.group(1).rstrip()] += 1
    return found


def _edit_yaml_whole(
    path: Path, text: str, edits: Sequence[FieldEdit]
) -> tuple[str, list[FieldEdit]]:
    """The whole file through ruamel's round trip: a minute and more for 20,000 entries."""
    try:
        return _edit_document(path, text, edits, _style_of(text))
    except _NotEditable:
        raise _unusable(path) from None


_TEXT_TAGS = (None, "!", "tag:yaml.org,2002:str")
#: Edited entries always spliced one by one, however few entries the file has.
_SPLICED_ENTRIES = 100


def _edit_yaml_spliced(
    path: Path, text: str, edits: Sequence[FieldEdit]
) -> tuple[str, list[FieldEdit]] | None:
    """Each edited entry round-tripped in an excerpt of the file (`yaml_splice`) and put
    back in its place; every other byte stays.

    An entry comes out as the whole-file round trip writes it when it is the one edited.
    Where the round trip would write other entries too, the splice does not: with several
    entries edited, its line alignment spans them all and may respell one for another's
    sake; and where it cannot put a layout back it writes every entry anew (the splice
    then writes only the edited entry anew). None when the excerpts cannot be trusted to
    read as the whole file does: an edit of an id (a later edit may mean the new one),
    repeated ids, anchors shared across entries, or a layout `yaml_splice.scan` refuses.
    """
    if any(edit.field == "id" or not isinstance(edit.resource_id, str) for edit in edits):
        return None
    resources = yaml_splice.scan(text)
    if resources is None:
        return None
    where: dict[str, list[int]] = {}
    for index, item in enumerate(resources.items):
        if item.id is not None:
            where.setdefault(item.id, []).append(index)
    groups: dict[int, list[int]] = {}
    refused = _Refusals(edits)
    for at, edit in enumerate(edits):
        try:
            _normalize(path, edit)  # the whole-file path's errors, in its order
        except CatalogError as exc:
            refused.keep(exc, at)
            continue
        found = where.get(edit.resource_id, [])
        if len(found) > 1:
            return None  # the first is edited, and the file fails validation as it is
        if not found or not _loads_as_text(resources.items[found[0]]):
            if resources.ids_certain:
                raise _not_found(path, edit.resource_id)
            return None
        groups.setdefault(found[0], []).append(at)
    if len(groups) > max(_SPLICED_ENTRIES, len(resources.items) // 3):
        return None  # an excerpt takes ~7 ms, the whole file ~3 ms an entry: whole is quicker
    style = _style_of(text)
    pieces: list[str] = []
    done = 0
    changed: set[int] = set()
    for index in sorted(groups):
        part = yaml_splice.excerpt(text, resources, index, style.newline)
        if part is None:
            return None
        batch = [edits[at] for at in groups[index]]
        try:
            new, took = _edit_document(path, part.text, batch, style)
        except (_NotEditable, NotFoundError, YAMLError, ValueError, RecursionError):
            return None
        except EditsRefused as exc:  # the other entries' edits are still tried
            refused.keep(exc)
            continue
        if not took:
            continue
        entry = part.entry(new, resources.header)
        if entry is None:
            return None
        entry = _indented_as_written(resources.header, text[part.start : part.end], entry)
        pieces += [text[done : part.start], entry]
        done = part.end
        left = iter(took)
        next_took = next(left, None)
        for at in groups[index]:
            if next_took is edits[at]:
                changed.add(at)
                next_took = next(left, None)
    refused.raise_any()
    if not changed:
        return text, []
    pieces.append(text[done:])
    return "".join(pieces), [edit for at, edit in enumerate(edits) if at in changed]


def _loads_as_text(item: yaml_splice.Item) -> bool:
    if item.id_tag not in _TEXT_TAGS:
        return False
    if item.id_tag is not None or not item.id_plain:
        return True
    # ruamel's reading of a plain scalar (YAML 1.2): `123` or `true` is no text id
    tag = VersionedResolver().resolve(ScalarNode, item.id, (True, False))
    return str(tag) == "tag:yaml.org,2002:str"


def _id_of(entry: CommentedMap) -> Any:
    """The entry's id as the loader reads it: `id: !!str 2019` is the text '2019'."""
    value = entry.get("id")
    if isinstance(value, TaggedScalar) and str(value.tag) == _TEXT_TAGS[2]:
        return str(value.value)
    return value


def _edit_document(
    path: Path, original: str, edits: Sequence[FieldEdit], style: _Style
) -> tuple[str, list[FieldEdit]]:
    """Apply `edits` to the catalog document `original` (a whole file, or an excerpt of one
    laid out as `style` says) through ruamel's round trip."""
    last = original[original.rfind("\n") + 1 :]
    stub = last if last and not last.strip(" \t\r") else ""  # blank, with no line break
    base = original[: len(original) - len(stub)]
    text = base.replace("\r\n", "\n")
    head, body, tail = _parts(text)
    held, hold = held_tabs(body)
    try:
        yaml, doc = _yaml_for(held, style)
    except (YAMLError, ValueError, RecursionError):
        raise _NotEditable from None
    items = doc.get("resources") if isinstance(doc, CommentedMap) else None
    if not isinstance(items, CommentedSeq):
        raise _NotEditable
    changed: list[FieldEdit] = []
    merges = _Merges(path, items, head.count("\n"))
    aliases = _Aliases(doc)
    refused = _Refusals(edits)
    for at, edit in enumerate(edits):
        with refused.kept(at):
            value = _normalize(path, edit)
            entry = next(
                (m for m in items if isinstance(m, CommentedMap) and _id_of(m) == edit.resource_id),
                None,
            )
            if entry is None:
                raise _not_found(path, edit.resource_id)
            refuse = functools.partial(merges.refuse_shared, entry, edit.field, value)
            if _set_yaml_field(entry, edit.field, value, aliases, refuse):
                changed.append(edit)
    refused.raise_any()
    if not changed:
        return original, []
    out = io.StringIO()
    yaml.dump(doc, out)
    dumped = out.getvalue() if hold is None else out.getvalue().replace(hold, "\t")
    # ruamel ends the document (`...`) after a `|+` block at its end; the body never has one
    dumped = _DOCUMENT_END.sub("", dumped)
    newline = style.newline
    new = (head + dumped + tail).replace("\n", newline)
    if not base.endswith("\n") and new.endswith(newline):  # the dump always ends a line
        new = new[: -len(newline)]
    return _keep_layout(base, new, newline) + stub, changed


#: A `...` line ending a dump.
_DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*\n?\Z", re.MULTILINE)


#: An empty value however it is spelt (`key:`, `key: ~`, `key: null`): the file may mix them,
#: the dump writes one.
_NULL_SPELLING = re.compile(r"^([^#'\"]*:)[ \t]+(?:~|null|Null|NULL)(?=[ \t]*(?:#|$))")


#: Spacing inside flow lists and mappings (`[ en,  es ]`), which the dump writes its own way.
_FLOW_SPACING = re.compile(r"\s*([\[\]{},])\s*")


#: A tag written before an anchor (`!!map &base`), which the dump writes after it.
_TAG_THEN_ANCHOR = re.compile(r"(^| )(![^ ]*) (&[^ ]+)")


def _layout_key(line: str) -> str:
    """The line without what the dump may re-space or reorder: two lines with one key may
    still differ in data (`A, B` and `A,B`), which `_keep_layout`'s final check catches."""
    key = _FLOW_SPACING.sub(r"\1", _NULL_SPELLING.sub(r"\1", " ".join(line.split())))
    return _TAG_THEN_ANCHOR.sub(r"\1\3 \2", key) if "!" in key else key


def _keep_layout(old: str, new: str, newline: str = "\n") -> str:
    """`new`, with every line that differs from its line in `old` only in spacing or its
    line ending put back as `old` has it.

    ruamel writes one indentation for every list of the file and moves comments that
    follow a re-indented item, and the edit writes one line ending; a file whose nested
    lists are indented unlike its `resources` list, or whose lines end in CRLF and LF
    alike, would otherwise change in entries nobody edited. The result is used only when
    it holds the same data as `new`.
    """
    if old == new:
        return new
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if before and not before[-1].endswith("\n"):
        before[-1] += newline  # an old last line may be followed by new ones
    keys_before = [_layout_key(line) for line in before]
    keys_after = [_layout_key(line) for line in after]
    start, shortest = 0, min(len(before), len(after))
    while start < shortest and keys_before[start] == keys_after[start]:
        start += 1
    end = 0
    while end < shortest - start and keys_before[-1 - end] == keys_after[-1 - end]:
        end += 1
    merged = before[:start]
    middle = difflib.SequenceMatcher(
        None, keys_before[start : len(before) - end], keys_after[start : len(after) - end]
    )
    for tag, i1, i2, j1, j2 in middle.get_opcodes():
        if tag == "equal":
            merged += before[start + i1 : start + i2]
        else:
            merged += _respelt(before[start + i1 : start + i2], after[start + j1 : start + j2])
    merged += before[len(before) - end :]
    text = "".join(merged)
    if not new.endswith("\n") and text.endswith(newline):  # added to `before` above
        text = text[: -len(newline)]
    if text == new:
        return new
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    try:
        same = pyyaml.load(text, Loader=loader) == pyyaml.load(new, Loader=loader)
    except (pyyaml.YAMLError, ValueError, RecursionError):
        same = False
    return text if same else new


#: What starts a line before its content: indentation and sequence dashes.
_LINE_LEAD = re.compile(r"[ \t]*(?:-[ \t]+)*")


#: The most lines one value may be written over for `_respelt` to put them back.
_WRAPPED_LINES = 50


def _respelt(old: list[str], new: list[str]) -> list[str]:
    """`new`, with each line that says what a line or a run of lines of `old` says put back
    as `old` has it, in order: the dump writes its own spelling of an entry it re-emits,
    and one line for a value a curator wrapped over several."""
    out: list[str] = []
    i = 0
    for line in new:
        key = _line_key(line)
        found = None
        for first in range(i, len(old)):
            if _line_key(old[first]) != key:
                continue
            for end in range(first + 1, _value_end(old, first) + 1):
                if _same_line("".join(old[first:end]), line):
                    found = (first, end)
                    break
            if found:
                break
        if found is None:
            out.append(_comment_spaced(old[i:], line))
        else:
            out += old[found[0] : found[1]]
            i = found[1]
    return out


def _value_end(old: list[str], first: int) -> int:
    """Where the lines a value starting at `old[first]` may be wrapped over end: at the next
    line indented no deeper than its key (another key, entry or comment), which no value
    goes on over, or after `_WRAPPED_LINES`. Joining more only costs a parse per try, for
    every line of that key the edited line is compared with."""
    lead = _LINE_LEAD.match(old[first])
    column = lead.end() if lead is not None else 0
    last = min(first + _WRAPPED_LINES, len(old))
    for at in range(first + 1, last):
        line = old[at]
        if line.strip() and len(line) - len(line.lstrip(" \t")) <= column:
            return at
    return last


#: A line's code, the white space before its comment, and the comment with the line end.
_COMMENTED = re.compile(r"(.*?\S)([ \t]+)(#.*\n?)\Z", re.DOTALL)


def _comment_spaced(old: list[str], line: str) -> str:
    """An edited `line` with the space before its comment as the line it replaces had
    it: the dump puts one space there, or pads to the column the comment had."""
    new = _COMMENTED.match(line)
    if new is None:
        return line
    key = _line_key(line)
    for candidate in old:
        was = _COMMENTED.match(candidate)
        if was is not None and _line_key(candidate) == key and was.group(3) == new.group(3):
            return new.group(1) + was.group(2) + new.group(3)
    return line


def _line_key(line: str) -> str:
    """What a line says before its first ':' (its key), without spacing."""
    return "".join(line.partition(":")[0].split())


def _same_line(old: str, new: str) -> bool:
    """Whether two lines (`old` maybe several) hold the same key and value however spelt
    (`"Caf\\u00e9"` and `"Café"`, `type : x` and `type: x`, an anchor nobody uses and
    none, a value wrapped or not). `_keep_layout` checks the whole result."""
    lead_old, lead_new = _LINE_LEAD.match(old), _LINE_LEAD.match(new)
    assert lead_old is not None and lead_new is not None  # the pattern matches ""
    if lead_old.group(0).split() != lead_new.group(0).split():
        return False
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    try:
        first = pyyaml.load(old[lead_old.end() :], Loader=loader)
        second = pyyaml.load(new[lead_new.end() :], Loader=loader)
    except (pyyaml.YAMLError, ValueError, RecursionError):
        return False
    return isinstance(first, dict) and first == second


def _set_yaml_field(
    entry: CommentedMap,
    name: str,
    value: Any,
    aliases: _Aliases | None = None,
    before: Callable[[], None] = lambda: None,
) -> bool:
    """Set `entry[name]` (None: remove it); False when that changes nothing. `before` runs
    before anything changes (it may refuse the edit); `aliases`: of the document `entry`
    is in.

    Only `entry` changes: a value it reads from another mapping through a merge key
    (`<<: *base`) is written as its own, and a list that another node holds too (an
    anchored list and its aliases, `tags: *common`) is replaced, not rewritten in place."""
    own = _owns(entry, name)
    if value is None:
        if not own:
            if name in entry:
                before()  # read through a merge key: refused, there is no line to remove
            return False
        before()
        last = _own_keys(entry)[-1] == name
        tail = _take_tail(entry, aliases) if last else ""
        del entry[name]
        _put_tail(entry, tail, aliases)
        return True
    if name not in entry:
        before()
        tail = _take_tail(entry, aliases)
        entry[name] = _quoted(value)
        _put_tail(entry, tail, aliases)
        return True
    old = entry[name]
    block = isinstance(old, _BLOCK_SCALARS) and isinstance(value, str)
    if block and old.endswith("\n") and not value.endswith("\n"):
        value += "\n"  # keep the block's chomping (`|` rather than `|-`)
    if _same(old, value):
        return False
    before()
    if not own:  # read through a merge key: the entry's own line, below the others
        tail = _take_tail(entry, aliases)
        entry[name] = _fresh_list(old, value) if isinstance(value, list) else _quoted(value)
        _put_tail(entry, tail, aliases)
        return True
    held = aliases.holders(old) if aliases is not None else []
    if isinstance(old, CommentedSeq) and isinstance(value, list) and held:
        assert aliases is not None
        if held[0][0] is entry and held[0][1] == name:
            # The list is written out here and aliased below, where it is now written out:
            # the lines after it (up to the next entry) stay here.
            after = _take_lines_after(entry, name, old)
            _drop_lines_after(old)
            entry[name] = items = _fresh_list(old, value)
            _put_lines_after(entry, name, items, after)
        else:  # an alias (`tags: *common`), one line with its comment: so is its new list
            entry[name] = items = _fresh_list(old, value)
            items.fa.set_flow_style()
        aliases.changed()
    elif isinstance(old, CommentedSeq) and isinstance(value, list):
        after = _take_lines_after(entry, name, old)
        del old[:]  # in place, so flow/block style and comments of the list stay
        old.extend(_quoted(value))
        _put_lines_after(entry, name, old, after)
    elif isinstance(old, _STYLED_SCALARS) and isinstance(value, str):
        entry[name] = type(old)(value)  # keep the curator's quotes or block style
    elif isinstance(old, _QUOTED_SCALARS) and isinstance(value, date):
        entry[name] = type(old)(value.isoformat())  # a date the curator quotes stays quoted
    elif isinstance(old, date) and not isinstance(old, datetime) and _iso_date(value):
        entry[name] = date.fromisoformat(value)  # unquoted, as the curator wrote dates
    else:
        entry[name] = _quoted(value)
    return True


def _fresh_list(old: Any, value: list[Any]) -> CommentedSeq:
    """A new list of `value`, written in the flow or block style of `old`."""
    items = CommentedSeq(_quoted(value))
    if isinstance(old, CommentedSeq) and old.fa.flow_style():
        items.fa.set_flow_style()
    return items


class _Aliases:
    """Where a document holds the lists and mappings it holds more than once (an anchored
    `&common` and its aliases `*common`), in the order it writes them: the first holder
    writes the value out, with the lines after it, the others write `*common`."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self._held: dict[int, list[tuple[Any, Any]]] | None = None

    def holders(self, value: Any) -> list[tuple[Any, Any]]:
        """(holder, key) of each place `value` is held, when it is held more than once."""
        if not isinstance(value, CommentedMap | CommentedSeq) or value.anchor.value is None:
            return []  # only an anchored node can be aliased: no need to read the document
        if self._held is None:
            self._held = _holders(self.doc)
        return self._held.get(id(value), [])

    def alias_at(self, holder: Any, key: Any) -> bool:
        """Whether `holder[key]` is written there as an alias of a value written before."""
        held = self.holders(holder[key])
        return bool(held) and not (held[0][0] is holder and held[0][1] == key)

    def changed(self) -> None:
        self._held = None


def _holders(doc: Any) -> dict[int, list[tuple[Any, Any]]]:
    """`_Aliases.holders` of every list and mapping held more than once in `doc`."""
    held: dict[int, list[tuple[Any, Any]]] = {}
    expanded: set[int] = set()
    stack: list[tuple[Any, Any, Any]] = [(None, None, doc)]
    while stack:  # depth first, in the order the file writes the nodes
        holder, key, node = stack.pop()
        if holder is not None:
            held.setdefault(id(node), []).append((holder, key))
        if id(node) in expanded:
            continue
        expanded.add(id(node))
        if isinstance(node, CommentedMap):
            children: list[tuple[Any, Any]] = list(node.non_merged_items())
        else:
            children = list(enumerate(node))
        stack += [
            (node, k, v)
            for k, v in reversed(children)
            if isinstance(v, CommentedMap | CommentedSeq)
        ]
    return {at: places for at, places in held.items() if len(places) > 1}


def _merged(entry: CommentedMap) -> list[CommentedMap]:
    """The mappings `entry` merges (`<<: *base`, `<<: [*a, *b]`), first one first."""
    return list(getattr(entry, merge_attrib, None) or ())


def _own_keys(entry: CommentedMap) -> list[Any]:
    """The keys the mapping writes itself, without those it reads through a merge key."""
    if not _merged(entry):
        return list(entry)
    return [key for key, _ in entry.non_merged_items()]


def _owns(entry: CommentedMap, name: str) -> bool:
    return name in entry and (not _merged(entry) or name in _own_keys(entry))


def _reads_through(entry: CommentedMap, source: CommentedMap, name: str) -> bool:
    """Whether `entry`'s `name` is, or would be once set there, the one `source` writes:
    `source` comes, in the order a merge key reads mappings (the entry's own keys, then
    each merged mapping with what it merges in turn), before any other mapping with `name`."""
    stack, seen = [entry], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node is source:
            return True
        if _owns(node, name):
            return False
        stack.extend(reversed(_merged(node)))
    return False


class _Merges:
    """The entries of a document that build on another mapping with a YAML merge key
    (`- <<: *course`): a field set in that mapping is a field of theirs too."""

    def __init__(self, path: Path, items: CommentedSeq, first_line: int) -> None:
        self.path, self.items, self.first_line = path, items, first_line
        self._builders: dict[int, list[CommentedMap]] | None = None

    def builders(self, entry: CommentedMap) -> list[CommentedMap]:
        """The other entries that merge `entry`, directly or through another mapping."""
        if self._builders is None:
            self._builders = {}
            for item in self.items:
                if not isinstance(item, CommentedMap) or not _merged(item):
                    continue
                stack, seen = _merged(item), set()
                while stack:
                    node = stack.pop()
                    if id(node) not in seen:
                        seen.add(id(node))
                        self._builders.setdefault(id(node), []).append(item)
                        stack += _merged(node)
        return [m for m in self._builders.get(id(entry), []) if m is not entry]

    def refuse_shared(self, entry: CommentedMap, name: str, value: Any) -> None:
        """Refuse an edit of `entry` that would not take (a removed field the entry still
        reads through its own merge key), or that another entry would read too.

        Refused rather than written into the other entry as it stood: that entry's lines
        are the curator's, and which of the two should change is theirs to say (a course's
        2024 edition builds on the 2023 one: is it reviewed too?)."""
        rid = _id_of(entry)
        if value is None and any(_provides(m, name) for m in _merged(entry)):
            raise CatalogError(
                [
                    Problem(
                        str(self.path),
                        self._line(entry),
                        name,
                        "bad_structure",
                        f"the entry {rid!r} reads {name} through its YAML merge key ('<<:'), "
                        f"so removing a line of its own cannot remove {name} from it; edit "
                        f"{rid!r} or what it merges by hand",
                    )
                ]
            )
        for other in self.builders(entry):
            if not _reads_through(other, entry, name):
                continue
            oid = _id_of(other)
            had = other.get(name) is not None
            keep = "with the value it has now" if had else "left empty, as it has none now"
            raise CatalogError(
                [
                    Problem(
                        str(self.path),
                        self._line(other),
                        name,
                        "bad_structure",
                        f"the entry {oid!r} builds on {rid!r} with a YAML merge key ('<<:') "
                        f"and reads its {name} from it, so this edit of {rid!r} would change "
                        f"{oid!r} too; give {oid!r} its own '{name}:' line ({keep}), then "
                        "run this again",
                    )
                ]
            )

    def _line(self, entry: CommentedMap) -> int | None:
        line = getattr(getattr(entry, "lc", None), "line", None)
        return None if line is None else line + 1 + self.first_line


def _provides(entry: CommentedMap, name: str) -> bool:
    """Whether the mapping has `name`, itself or through what it merges."""
    stack, seen = [entry], set()
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            if _owns(node, name):
                return True
            stack += _merged(node)
    return False


def _quoted(value: Any) -> Any:
    """`value` with each text that unquoted would not read back as text to every reader
    (`yes`, `Off`, `1:20`, `2024-1-2`: YAML 1.1 booleans, numbers, dates) single-quoted:
    ruamel reads YAML 1.2 and writes these plain, and the fast loader refuses them."""
    if isinstance(value, list):
        return [_quoted(v) for v in value]
    if isinstance(value, str) and value and not reads_as_plain_text(value):
        return SingleQuotedScalarString(value)
    return value


def _lines_after(items: CommentedSeq) -> str:
    """The comment and blank lines after a block list's last item (ruamel keeps them with
    that item), without the item's own end-of-line comment: they stay when it is replaced."""
    tokens = items.ca.items.get(len(items) - 1) if items else None
    token = tokens[0] if tokens else None
    if not isinstance(token, CommentToken):
        return ""
    return str(token.value).partition("\n")[2]


def _drop_lines_after(items: CommentedSeq) -> None:
    """Detach `_lines_after(items)` from the list, keeping its last item's own comment."""
    tokens = items.ca.items.get(len(items) - 1) if items else None
    if tokens and isinstance(tokens[0], CommentToken):
        head = str(tokens[0].value).partition("\n")[0]
        tokens[0] = CommentToken(head + "\n", tokens[0].start_mark) if head.strip() else None


#: The attribute of a block list this edit emptied: the lines after it that
#: `_put_lines_after` moved to its key, for a later edit that fills it again.
_EMPTIED = "_linkhealth_lines_after"


def _take_lines_after(entry: CommentedMap, name: str, items: CommentedSeq) -> str:
    """The lines after the list `entry[name]` (`_lines_after`), wherever they are kept."""
    if items or not hasattr(items, _EMPTIED):
        return _lines_after(items)
    after = str(getattr(items, _EMPTIED))
    delattr(items, _EMPTIED)
    items.fa.set_block_style()  # a list filled again is written as it was
    tokens = entry.ca.items.get(name)
    token = tokens[2] if tokens and len(tokens) > 2 else None
    if not isinstance(token, CommentToken) or not str(token.value).endswith(after):
        return ""  # a key added after the list took them (`_take_tail`)
    rest = str(token.value)[: -len(after)]
    tokens[2] = CommentToken(rest, token.start_mark) if rest.strip() else None
    return after


def _put_lines_after(entry: CommentedMap, name: str, items: CommentedSeq, after: str) -> None:
    """Keep `after` (comment and blank lines) after the list `entry[name]`, new items or none.

    An empty block list is written `[]`, and ruamel writes the comments of its key before a
    block list's value: an emptied list is made a flow list, whose key's comments follow
    it, with those written above its items (they would end up under the key, before `[]`).
    """
    if items:
        if after:
            items.ca.items[len(items) - 1] = [CommentToken("\n" + after, CommentMark(0)), None]
        return
    if items.fa.flow_style():
        return  # a flow list keeps the lines after it itself
    tokens = [*entry.ca.items.get(name, ()), None, None, None, None][:4]
    above = tokens[3] if isinstance(tokens[3], list) else []
    after = "".join(_comment_line(t) for t in above if isinstance(t, CommentToken)) + after
    if not after:
        return
    items.fa.set_flow_style()
    setattr(items, _EMPTIED, after)
    token = tokens[2]
    # The key's own comment (`tags:  # by hand`) first; `_keep_layout` puts back its spacing.
    head = str(token.value) if isinstance(token, CommentToken) else "\n"
    tokens[2] = CommentToken(head + after, CommentMark(0))
    tokens[3] = None  # (ruamel writes what is there, even an empty list, before the value)
    if items.ca.comment and len(items.ca.comment) > 1:
        items.ca.comment[1] = None
    entry.ca.items[name] = tokens


def _comment_line(token: CommentToken) -> str:
    """A comment token's lines as written, from the column its first line starts at."""
    value = str(token.value)
    column = getattr(token.start_mark, "column", 0) or 0
    return value if value.startswith("\n") else " " * column + value


def _iso_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


# ruamel keeps what follows an entry (blank lines, comments before the next resource) in the
# comment token of the entry's deepest last value. Appending or removing the last key would
# otherwise strand those lines above the new key, or drop them.


def _tail_slot(
    container: Any, aliases: _Aliases | None = None
) -> tuple[Any, Any, int, bool] | None:
    """(holder, key, token position, value is a block scalar) of the last value, deepest
    first; not inside an alias (`tags: *common`), whose lines are those of its anchor."""
    if not isinstance(container, CommentedMap | CommentedSeq) or not container:
        return None
    if container.fa.flow_style():
        return None
    if isinstance(container, CommentedMap):
        keys = _own_keys(container)  # a merged key's value is written elsewhere
        if not keys:
            return None
        key: Any = keys[-1]
        position = 2
    else:
        key = len(container) - 1
        position = 0
    value = container[key]
    if aliases is not None and aliases.alias_at(container, key):
        return container, key, position, False
    deeper = _tail_slot(value, aliases)
    if deeper is not None:
        return deeper
    return container, key, position, isinstance(value, _BLOCK_SCALARS)


def _take_tail(entry: CommentedMap, aliases: _Aliases | None = None) -> str:
    """Detach the lines after the entry's last value, keeping its end-of-line comment."""
    slot = _tail_slot(entry, aliases)
    if slot is None:
        return ""
    holder, key, position, block = slot
    tokens = holder.ca.items.get(key)
    token = tokens[position] if tokens and len(tokens) > position else None
    if not isinstance(token, CommentToken):
        return ""
    if block:  # a block scalar ends its own line, so the token holds only following lines
        tokens[position] = None
        value = str(token.value)
        column = getattr(token.start_mark, "column", 0) or 0
        return value if value.startswith("\n") else " " * column + value
    head, _, rest = str(token.value).partition("\n")
    tokens[position] = CommentToken(head + "\n", token.start_mark) if head.strip() else None
    return rest


def _put_tail(entry: CommentedMap, tail: str, aliases: _Aliases | None = None) -> None:
    if not tail:
        return
    slot = _tail_slot(entry, aliases)
    if slot is None:
        return
    holder, key, position, block = slot
    tokens = holder.ca.items.setdefault(key, [None, None, None, None])
    while len(tokens) <= position:
        tokens.append(None)
    token = tokens[position]
    existing = str(token.value) if isinstance(token, CommentToken) else ("" if block else "\n")
    if isinstance(token, CommentToken):
        tokens[position] = CommentToken(existing + tail, token.start_mark)
    else:
        tokens[position] = CommentToken(existing + tail, CommentMark(0))


# --- CSV ---------------------------------------------------------------------------------------


@dataclass
class _Record:
    """One CSV record: its cells, and its text as written (a record may span lines)."""

    cells: list[str]
    raw: str
    #: The line the record starts on.
    line: int = 0
    #: The columns an edit set (their cells are written anew, the others as they were).
    edited: set[int] = field(default_factory=set)

    @property
    def dirty(self) -> bool:
        return bool(self.edited)

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)

    @property
    def terminator(self) -> str:
        body = self.raw.rstrip("\r\n")
        return self.raw[len(body) :]


def _edit_csv(path: Path, text: str, edits: Sequence[FieldEdit]) -> tuple[str, list[FieldEdit]]:
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines, strict=True)
    records: list[_Record] = []
    start = 0
    try:
        for row in reader:
            records.append(_Record(row, "".join(lines[start : reader.line_num]), start + 1))
            start = reader.line_num
    except csv.Error:
        raise _unusable(path) from None
    header = next((r for r in records if not r.blank), None)
    if header is None:
        raise _unusable(path)
    names = [_column_name(cell) for cell in header.cells]
    if "id" not in names:
        raise _unusable(path)
    id_col = names.index("id")
    rows = [r for r in records if r is not header and not r.blank]
    width = len(header.cells)
    changed: list[FieldEdit] = []
    refused = _Refusals(edits)
    for at, edit in enumerate(edits):
        with refused.kept(at):
            if _edit_csv_record(path, edit, header, rows, names, id_col):
                changed.append(edit)
    refused.raise_any()
    if not changed:
        return text, []
    added = len(header.cells) - width
    out: list[str] = []
    for record in records:
        if record.dirty:
            if record is not header and added:
                record.cells.extend([""] * (len(header.cells) - len(record.cells)))
            out.append(_csv_record(record))
        elif added and not record.blank and len(record.cells) < len(header.cells):
            # keep the row as written, only give it the new (empty) columns
            end = record.terminator
            body = record.raw[: len(record.raw) - len(end)]
            out.append(body + "," * (len(header.cells) - len(record.cells)) + end)
        else:
            out.append(record.raw)
    return "".join(out) + "".join(lines[start:]), changed


def _edit_csv_record(
    path: Path,
    edit: FieldEdit,
    header: _Record,
    rows: list[_Record],
    names: list[str],
    id_col: int,
) -> bool:
    """Make `edit` in its row (a new column: in the header and `names` too); False when
    that changes nothing. Refuses (`CatalogError`) before it changes anything."""
    value = _normalize(path, edit)
    record = next(
        (
            r
            for r in rows
            if id_col < len(r.cells) and unguard(r.cells[id_col].strip()) == edit.resource_id
        ),
        None,
    )
    if record is None:
        raise _not_found(path, edit.resource_id)
    if edit.field in names:
        col = names.index(edit.field)
    elif value is None:
        return False
    else:
        _refuse_unheaded_cells(path, rows, len(header.cells), edit.field)
        col = len(header.cells)
        header.cells.append(guard(edit.field))  # a header cell runs as any cell does
        header.edited.add(col)
        names.append(edit.field)
    old = record.cells[col] if col < len(record.cells) else ""
    plain = _csv_cell(value)
    if unguard(old.strip()) == plain:
        return False  # written as it is, guarded or not
    cell = guard(plain)  # a CSV catalog is opened in spreadsheets
    record.cells.extend([""] * (col + 1 - len(record.cells)))
    record.cells[col] = cell
    record.edited.add(col)
    return True


def _refuse_unheaded_cells(path: Path, rows: list[_Record], width: int, name: str) -> None:
    """Refuse a new column while a row has a value past the header's last column (the
    loader reports it): the new header would name that cell, and the row would gain a
    `name` nobody gave it, its problem gone without a word."""
    for record in rows:
        stray = next((c for c in record.cells[width:] if c.strip()), None)
        if stray is not None:
            raise CatalogError(
                [
                    Problem(
                        str(path),
                        record.line,
                        name,
                        "bad_structure",
                        f"the row has a value in a column with no header ({clipped(stray, 60)!r}), "
                        f"which a new '{name}' column would name; move it into a named column "
                        "(or quote the cell it belongs to if it holds a comma) or delete it, "
                        "then run this again",
                    )
                ]
            )


def _column_name(cell: str) -> str:
    """The field a header cell names: `'=HYPERLINK(...)` is the guarded `=HYPERLINK(...)`."""
    name = unguard(cell.strip())
    return name.lower() if name.lower() in RESOURCE_FIELDS else name


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return _CSV_LIST_JOIN.join(_csv_cell(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_record(record: _Record) -> str:
    """An edited record: each cell no edit set exactly as written (quotes, spaces), each
    edited one quoted if the cell it replaces was (or, new, if the row's cells all are)."""
    end = record.terminator
    written = _raw_cells(record.raw[: len(record.raw) - len(end)])
    kept = [i for i in range(len(record.cells)) if i not in record.edited]
    if len(written) > len(record.cells) or any(i >= len(written) for i in kept):
        return csv_line(record.cells, end)  # not split as the reader did: write it anew
    all_quoted = all(cell.lstrip().startswith('"') for cell in written)
    out: list[str] = []
    for i, cell in enumerate(record.cells):
        if i not in record.edited:
            out.append(written[i])
            continue
        was = written[i] if i < len(written) else None
        quoted = all_quoted if was is None else was.lstrip().startswith('"')
        lead = "" if was is None else was[: len(was) - len(was.lstrip(" "))]
        written_cell = '"' + cell.replace('"', '""') + '"' if quoted else csv_line([cell], "")
        # A quote opens a cell only as its first character: no space goes before it.
        out.append(written_cell if written_cell.startswith('"') else lead + written_cell)
    return ",".join(out) + end


def _raw_cells(body: str) -> list[str]:
    """A record's cells as written, split at the commas outside quotes."""
    cells: list[str] = []
    start = 0
    while True:
        at = start
        if body.startswith('"', at):
            at += 1
            while at < len(body):
                if body[at] == '"':
                    if body.startswith('"', at + 1):
                        at += 2
                        continue
                    at += 1
                    break
                at += 1
        comma = body.find(",", at)
        if comma < 0:
            cells.append(body[start:])
            return cells
        cells.append(body[start:comma])
        start = comma + 1


def csv_line(cells: list[str], terminator: str) -> str:
    """`cells` as a CSV record ending in `terminator` ("" for none), a cell holding a line
    break quoted. The writer quotes only the characters of its own terminator: with "" (a
    single cell, the last record of a file) or "\n" a typed line break (Alt+Enter) was
    written bare, and its second line read back as a row of its own."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerow(cells)
    return out.getvalue().removesuffix("\r\n") + terminator
