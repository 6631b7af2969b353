"""Writing an import into the catalog file: appended entries, filled fields, one atomic replace."""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString

from catalog.catalog_edit import (
    EditsRefused,
    FieldEdit,
    apply_edits,
    csv_line,
    entry_lists_emitter,
    guess_entry_lists,
    guess_indent,
)
from catalog.csv_guard import UTF8_BOM, guard
from catalog.errors import CatalogError, ConfigError, LinkhealthError, Problem
from catalog.files import locked, replace_if_unchanged
from catalog.importer._csv import column_name
from catalog.importer._merge import plan_merge
from catalog.importer._records import (
    FillsRefused,
    ImportedEntry,
    ImportResult,
    Parsed,
    RefusedFill,
)
from catalog.model import Resource
from catalog.source import (
    CATALOG_SUFFIXES,
    has_other_breaks,
    load_catalog,
    skip_node,
    spaced_tabs,
    validate_catalog,
)

_FOLD_WIDTH = 100
#: A `resources` key with no entry on its line (`[]`, `~`, `null` or nothing), its comment
#: and line ending apart: the line an import into a catalog with no entries yet rewrites.
_EMPTY_RESOURCES = re.compile(
    r"(resources[ \t]*:)[ \t]*(?:\[[ \t]*\]|~|null|Null|NULL)?([ \t]+#.*)?(\r?\n|\r)?"
)
#: A line as YAML ends one (CRLF, LF or CR), as ruamel numbers them: `str.splitlines` also
#: ends one at U+2028, U+2029 and U+0085, which a title pasted from Word may hold.
_YAML_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
#: A document marker alone on its line (`---`, `...`), a comment after it or not.
_MARKER = re.compile(r"(?:---|\.\.\.)(?:[ \t]+#.*)?")


def import_entries(
    path: str | Path,
    parsed: Parsed | Sequence[ImportedEntry],
    *,
    dry_run: bool = False,
    collection_title: str | None = None,
) -> ImportResult:
    """Merge `parsed` into the catalog at `path` (created when missing); see the module doc."""
    path = Path(path)
    if not isinstance(parsed, Parsed):
        parsed = Parsed(tuple(parsed))
    if parsed.refusal:
        raise LinkhealthError(parsed.refusal)
    if not parsed.entries and not path.exists():
        # An empty new catalog would be refused as the catalog's fault, at a line it never had.
        where = f"{parsed.source}: " if parsed.source else ""
        raise LinkhealthError(f"{where}nothing to import, so {path} was not created")
    suffix = path.suffix.lower()
    if suffix not in CATALOG_SUFFIXES:
        raise CatalogError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    "unknown_format",
                    "import into a .yaml, .yml or .csv catalog",
                )
            ]
        )
    if not path.parent.exists():
        # As `export --out`: a typo in the folder is no folder to make. Its lock file
        # failed first, with a "cannot open or create the lock file" that named no folder.
        raise ConfigError(
            f"cannot create {path}: the folder {path.parent} does not exist; the import "
            "makes no folders (a typo would make them): create it, or choose another file "
            "with --into"
        )
    # A dry run writes nothing, so it takes no lock: no `.NAME.lock` is left in a folder
    # (for a catalog that does not even exist yet), and reading the catalog is enough.
    with (
        contextlib.nullcontext() if dry_run else _locked(path),
        tempfile.TemporaryDirectory(prefix="linkhealth-import-") as tmp,
    ):
        # The file is read once: the plan, the diff and the check that nobody saved it
        # meanwhile (`replace_if_unchanged`) are all of the same bytes.
        read = _read(path)
        created = read is None
        original = read or b""
        before = Path(tmp) / "before" / path.name
        work = Path(tmp) / path.name
        existing: tuple[Resource, ...] = ()
        if not created:
            before.parent.mkdir()
            before.write_bytes(original)
            existing = _existing(before, path)
        plan = plan_merge(existing, parsed.entries)
        csv_fills: list[FieldEdit] = []
        title = collection_title or parsed.title or path.stem
        if created:
            work.write_text(_new_file(suffix, title, plan.additions), encoding="utf-8")
        elif plan.additions and _holds_nothing(original, suffix):
            work.write_bytes(_filled_anew(original, suffix, title, plan.additions))
        else:
            work.write_bytes(original)
            csv_fills = _append(work, plan.additions, path) if plan.additions else []
        if plan.fills or csv_fills:
            try:
                apply_edits(work, [*plan.fills, *csv_fills], lock=False)
            except EditsRefused as exc:  # every row refused, each by its row in the source
                raise _fills_refused(exc, work, path, plan.sources, parsed.source) from None
            except CatalogError as exc:  # refused in the copy: named by the file people know
                raise _naming(exc, work, path) from None
        new = work.read_bytes()
        _refuse_new_problems(path, work, None if created else before, parsed.source)
        diff = _diff(path, original, new)
        if not dry_run and new != original:
            replace_if_unchanged(path, read, new)
    return ImportResult(
        path=path,
        added=tuple(a["id"] for a in plan.additions),
        filled=tuple(plan.fills),
        matched=tuple(plan.matched),
        skipped=parsed.skipped,
        differences=tuple(plan.differences),
        diff=diff,
        created=created,
        dry_run=dry_run,
        source=parsed.source,
        notes=(*parsed.notes, *plan.notes),
    )


def _read(path: Path) -> bytes | None:
    """The catalog's bytes; None when there is no file yet (the import creates it)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        load_catalog(path)  # its own located problem: unreadable, a folder, ...
        raise


def _existing(copy: Path, path: Path) -> tuple[Resource, ...]:
    """The resources of `copy` of the catalog at `path`; problems name `path`, the file
    people know. A catalog that lists none yet (`empty_catalog`: `resources:` or `[]`, a
    header row alone, an empty file) is what an import is there to fill, not a fault."""
    try:
        return load_catalog(copy).resources
    except CatalogError as exc:
        if all(p.code == "empty_catalog" for p in exc.problems):
            return ()
        raise CatalogError([replace(p, file=str(path)) for p in exc.problems]) from None


def _holds_nothing(data: bytes, suffix: str) -> bool:
    """Whether the catalog file holds nothing to append to: blank (a CSV with no header
    row), or for YAML no document (only comments, a lone `---`), so no `resources:` key."""
    text = data.decode("utf-8-sig", errors="replace")
    if suffix == ".csv":
        return not text.strip()
    try:
        return pyyaml.safe_load(text) is None
    except pyyaml.YAMLError:
        return False


def _filled_anew(data: bytes, suffix: str, title: str, additions: list[dict[str, Any]]) -> bytes:
    """A file that `_holds_nothing`, written as a new one would be; a YAML file of comments
    keeps them above, in its line ending (a `---` or `...` marker is not kept: the new
    document could not go after a `...`)."""
    made = _new_file(suffix, title, additions)
    text = data.decode("utf-8-sig")
    lines = [x for x in _YAML_LINE.findall(text) if not _MARKER.fullmatch(x.strip())]
    if suffix == ".csv" or not all(not x.strip() or x.lstrip().startswith("#") for x in lines):
        return made.encode()
    text = "".join(lines)  # the curator's notes, without the markers
    newline = _newline(text)
    text = text if text.endswith(("\n", "\r")) or not text else text + newline
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    return bom + (text + made.replace("\n", newline)).encode()


def _naming(error: CatalogError, copy: Path, path: Path) -> CatalogError:
    """`error`, raised of `copy`, told of the catalog at `path` (its lines are the same:
    additions go after every entry a fill edits)."""
    return CatalogError(
        [replace(p, file=str(path) if p.file == str(copy) else p.file) for p in error.problems]
    )


def _fills_refused(
    error: EditsRefused,
    copy: Path,
    path: Path,
    sources: Mapping[str, ImportedEntry],
    source: str | None,
) -> FillsRefused:
    """`error`, raised of the fills of `copy`, told by the source's rows (`sources`: the
    source's entry of each resource id) and of the catalog at `path`."""
    refused = []
    for refusal in error.refusals:
        edit, entry = refusal.edit, sources.get(refusal.edit.resource_id)
        problems = _naming(CatalogError(refusal.problems), copy, path).problems
        refused.append(
            RefusedFill(
                entry.origin if entry else "",
                entry.title if entry else "",
                edit.resource_id,
                edit.field,
                problems,
            )
        )
    return FillsRefused(path, source, refused)


def _locked(path: Path) -> contextlib.AbstractContextManager[None]:
    # The lock `catalog_edit.apply_edits` takes, so an import and an edit never interleave.
    return locked(
        path,
        lambda lock, exc: LinkhealthError(f"{lock}: cannot open or create the lock file ({exc})"),
    )


def _refuse_new_problems(path: Path, work: Path, original: Path | None, source: str | None) -> None:
    """Refuse an import whose entries would make the catalog invalid; the source is at fault
    (a plain `LinkhealthError`, not a `CatalogError`), and the lines are of the file as the
    import would have written it, which may not exist. `original` is a copy of the catalog
    as it was read (None: there was none)."""
    after = validate_catalog(work).problems
    if not after:
        return
    before = (
        Counter()
        if original is None
        else Counter((p.code, p.field) for p in validate_catalog(original).problems)
    )
    added = Counter((p.code, p.field) for p in after) - before
    if added:
        listed = "\n".join(
            f"  {replace(p, file=str(path))}" for p in after if (p.code, p.field) in added
        )
        where = f"{source}: its entries" if source else "the imported entries"
        raise LinkhealthError(
            f"{where} would make {path} invalid, so nothing was written; fix them in the source "
            f"and import again (lines are those of {path} as the import would write it):\n{listed}"
        )


def _diff(path: Path, old: bytes, new: bytes) -> str:
    if old == new:
        return ""
    return "".join(
        difflib.unified_diff(
            old.decode("utf-8-sig").splitlines(keepends=True),
            new.decode("utf-8-sig").splitlines(keepends=True),
            fromfile="/dev/null" if not old else str(path),
            tofile=str(path),
        )
    )


def _new_file(suffix: str, title: str, additions: list[dict[str, Any]]) -> str:
    if suffix == ".csv":
        columns = ["id", "title", "url"]
        for entry in additions:
            columns += [name for name in entry if name not in columns]
        # A header cell is a cell a spreadsheet runs like any other: a field named
        # `=HYPERLINK(...)` (a sheet's column) is headed `'=HYPERLINK(...)`.
        lines = [csv_line([guard(name) for name in columns], "\n")]
        lines += [csv_line([_csv_cell(entry.get(n)) for n in columns], "\n") for entry in additions]
        # Starts as an export does, for the spreadsheet it is made for; appending keeps it.
        return UTF8_BOM + "".join(lines)
    yaml = _yaml(indent=2, offset=0)
    out = io.StringIO()
    yaml.dump({"collection": {"title": title}}, out)
    return out.getvalue() + _render_resources(yaml, additions, indent=2)


def _append(work: Path, additions: list[dict[str, Any]], path: Path) -> list[FieldEdit]:
    """Append `additions` to the file; for CSV, the edits for fields it has no column for.

    The file's own bytes are left as they are, line endings included: the new block goes
    in at one place, in the file's line ending. (Making every line LF and back turned an
    Excel cell's bare LF into CRLF, and a YAML file with one CRLF line all CRLF.)
    `work` is a copy of the catalog at `path`; problems name `path`, the file people know.
    """
    data = work.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    if work.suffix.lower() == ".csv":
        text, later = _append_csv(text, additions)
    else:
        text, later = _append_yaml(work, text, additions, path), []
    work.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return later


def _newline(text: str) -> str:
    """The line ending new lines take: the one most lines have (as `catalog_edit` edits)."""
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"


def _append_csv(text: str, additions: list[dict[str, Any]]) -> tuple[str, list[FieldEdit]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = next(row for row in rows if any(c.strip() for c in row))
    names = [column_name(c) for c in header]
    # New records end as the last one does; one that has no line ending gets the file's.
    ending = next((end for end in ("\r\n", "\n", "\r") if text.endswith(end)), "")
    newline = ending or _newline(text)
    # `csv_line`, not a writer ending lines in `newline`: it quotes a cell's bare "\r" (a
    # line break typed in a sheet) in an LF file too, where it would end the row.
    added: list[str] = []
    later: list[FieldEdit] = []
    for entry in additions:
        added.append(csv_line([_csv_cell(entry.get(n)) if n else "" for n in names], newline))
        later += [FieldEdit(entry["id"], k, v) for k, v in entry.items() if k not in names]
    if text and not ending:
        text += newline
    return text + "".join(added), later


def _csv_cell(value: Any) -> str:
    """A cell of a CSV catalog, which curators open in a spreadsheet: see `csv_guard`."""
    if value is None:
        return ""
    if isinstance(value, list):
        return guard("; ".join(str(v) for v in value))
    return guard(str(value))


def _append_yaml(work: Path, text: str, additions: list[dict[str, Any]], path: Path) -> str:
    """Insert the new entries after the last line of the `resources` list, as block YAML,
    in the line ending most of `text`'s lines have; `text`'s own lines are kept as written."""
    newline = _newline(text)
    # A tab before a comment is YAML that ruamel refuses (`spaced_tabs`); the lines
    # written back are `text`'s own, tabs and all. Its lines are those of the LF text
    # read for the layout: `_YAML_LINE` ends a line at CRLF as at LF.
    spaced = spaced_tabs(text.replace("\r\n", "\n"))
    indent, offset = guess_indent(spaced)  # a dash alone on its line included
    # libyaml ends a line at U+2028 too, which ruamel and the lines below do not.
    fast = None if has_other_breaks(spaced) else _fast_layout(spaced)
    layout = fast or _round_trip_layout(spaced, work, path)
    lines = _YAML_LINE.findall(text)
    if layout.first_item_line is None:  # no entry yet: `resources: []`, `~`, or nothing
        bare = _EMPTY_RESOURCES.fullmatch(lines[layout.resources_line - 1])
        if bare is not None:  # written `resources:`, the entries go below
            lines[layout.resources_line - 1] = "".join(bare.groups(""))
            layout = replace(layout, flow=False)
    if layout.flow:
        raise CatalogError(
            [
                Problem(
                    str(path),
                    layout.resources_line,
                    "resources",
                    "bad_structure",
                    "the resources are written as a [flow] list; write one '- id: ...' entry "
                    "per line to let import append to it",
                )
            ]
        )
    end = layout.next_key_line - 1 if layout.next_key_line is not None else len(lines)
    dash = _dash_column(layout.first_item_line, lines, offset or 0)
    while end > layout.kept_lines:
        line = lines[end - 1]
        shallow_comment = line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= dash
        document_end = line.rstrip() == "..."  # new entries go inside the document
        if line.strip() and not shallow_comment and not document_end:
            break  # comments indented into the last entry belong to it
        end -= 1  # blank lines and comments before the next key (or the end) stay after us
    if end > 0 and lines[end - 1] == lines[end - 1].rstrip("\r\n"):
        lines[end - 1] += newline
    yaml = _yaml(indent=indent or 2, offset=offset or 0)
    # The lists of new entries as those of the file's entries (`tags:` then `- x`), which
    # may be laid out unlike the `resources` list (`-   id: a`) that `guess_indent` reads.
    yaml.Emitter = entry_lists_emitter(guess_entry_lists(spaced))
    block = _render_resources(yaml, additions, indent=indent or 2).split("\n", 1)[1]
    return "".join(lines[:end]) + block.replace("\n", newline) + "".join(lines[end:])


@dataclass(frozen=True)
class _Layout:
    """Where the `resources` list sits in a catalog file (1-based lines)."""

    resources_line: int
    flow: bool
    #: Line of the first top-level key after `resources`, if any.
    next_key_line: int | None
    #: Line of the first entry of the list, if any.
    first_item_line: int | None
    #: Lines from the top that the list's values hold: the blank lines a keep-chomped block
    #: (`|+`) ends with are its value, and an entry appended before them would take them.
    kept_lines: int = 0


def _fast_layout(text: str) -> _Layout | None:
    """The layout from libyaml's events: a second for 20,000 entries, where ruamel's
    round-trip load takes a minute and more. None when libyaml cannot tell (the file loaded
    as a catalog, so only an unusual one), and `_round_trip_layout` decides."""
    try:
        events = pyyaml.parse(text, Loader=getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader))
        kinds = [next(events), next(events), next(events)]
        if not isinstance(kinds[2], pyyaml.MappingStartEvent):
            return None
        found: _Layout | None = None
        for key in events:
            if isinstance(key, pyyaml.MappingEndEvent):
                return found
            if not isinstance(key, pyyaml.ScalarEvent):
                return None
            if found is not None and found.next_key_line is None:
                found = replace(found, next_key_line=key.start_mark.line + 1)
            value = next(events)
            if key.value == "resources" and found is None:
                if not isinstance(value, pyyaml.SequenceStartEvent):
                    return None
                first = next(events)
                found = _Layout(
                    resources_line=key.start_mark.line + 1,
                    flow=bool(value.flow_style),
                    next_key_line=None,
                    first_item_line=None
                    if isinstance(first, pyyaml.SequenceEndEvent)
                    else first.start_mark.line + 1,
                )
                if not isinstance(first, pyyaml.SequenceEndEvent):
                    found = replace(found, kept_lines=_kept_lines(events, first))
            else:
                skip_node(events, value)
    except (pyyaml.YAMLError, StopIteration, ValueError, RecursionError):
        return None
    return None


def _kept_lines(events: Iterator[Any], first: Any) -> int:
    """Consume the resources list from its first item's event `first`; the lines from the
    top its last value holds when that is a block scalar whose value keeps trailing blank
    lines (`|+`), else 0 (`_Layout.kept_lines`)."""
    last = first if isinstance(first, pyyaml.ScalarEvent) else None
    if isinstance(first, pyyaml.CollectionStartEvent):
        last = _skip_rest(events)
    last = _skip_rest(events) or last
    if last is None or last.style not in ("|", ">") or not last.value.endswith("\n\n"):
        return 0
    # A block scalar's end mark is after the line breaks that follow it, kept or not.
    return int(last.end_mark.line) + (1 if last.end_mark.column else 0)


def _skip_rest(events: Iterator[Any]) -> Any:
    """Consume events up to the end of the collection being read; its last scalar event
    (None when it holds none)."""
    depth, last = 1, None
    for event in events:
        if isinstance(event, pyyaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, pyyaml.CollectionEndEvent):
            depth -= 1
            if not depth:
                break
        elif isinstance(event, pyyaml.ScalarEvent):
            last = event
    return last


def _round_trip_layout(spaced: str, work: Path, path: Path) -> _Layout:
    try:
        doc = YAML(typ="rt").load(spaced)
    except (YAMLError, ValueError) as exc:
        problems = validate_catalog(work).problems
        raise CatalogError([replace(p, file=str(path)) for p in problems]) from exc
    items = doc.get("resources") if isinstance(doc, CommentedMap) else None
    keys = list(doc)
    after = keys.index("resources") + 1
    first: int | None = None
    if isinstance(items, CommentedSeq) and items:
        with contextlib.suppress(AttributeError, IndexError, KeyError, TypeError):
            first = int(items.lc.item(0)[0]) + 1
    return _Layout(
        resources_line=_key_line(doc, "resources"),
        flow=isinstance(items, CommentedSeq) and bool(items.fa.flow_style()),
        next_key_line=_key_line(doc, keys[after]) if after < len(keys) else None,
        first_item_line=first,
    )


def _dash_column(first_item_line: int | None, lines: list[str], default: int) -> int:
    """The column of the first entry's dash. An entry written below a dash alone on its line
    starts (as the parser marks it) on its first key's line: the dash is the line above,
    past blank and comment lines."""
    if first_item_line is None or first_item_line > len(lines):
        return default
    at = first_item_line - 1
    while at > 0 and not lines[at].lstrip(" ").startswith("-"):
        above = lines[at - 1].strip()
        if above and not above.startswith("#") and not above.startswith("-"):
            break
        at -= 1
    line = lines[at]
    return len(line) - len(line.lstrip(" "))


def _key_line(doc: CommentedMap, key: Any) -> int:
    return int(doc.lc.key(key)[0]) + 1


def _yaml(*, indent: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 1_000_000  # long lines are folded by `_folded`, never by the emitter
    yaml.indent(mapping=max(indent - offset, 1), sequence=indent, offset=offset)
    return yaml


def _render_resources(yaml: YAML, additions: list[dict[str, Any]], *, indent: int) -> str:
    seq = CommentedSeq()
    for entry in additions:
        item = CommentedMap()
        for name, value in entry.items():
            if isinstance(value, list):
                value = CommentedSeq(value)
            elif isinstance(value, str) and name in ("description", "notes") and len(value) > 80:
                value = _folded(value, _FOLD_WIDTH - 2 * indent)
            item[name] = value
        seq.append(item)
    out = io.StringIO()
    yaml.dump({"resources": seq}, out)
    return out.getvalue()


def _folded(text: str, width: int) -> FoldedScalarString:
    """A `>-` block, wrapped at spaces near `width` (single spaces only, so it reads back)."""
    folded = FoldedScalarString(text)
    if "\n" in text or "  " in text or text != text.strip():
        return folded
    positions: list[int] = []
    start = 0
    while len(text) - start > width:
        cut = text.rfind(" ", start, start + width)
        if cut <= start:
            cut = text.find(" ", start + width)
            if cut < 0:
                break
        positions.append(cut)
        start = cut + 1
    folded.fold_pos = positions  # type: ignore[attr-defined]
    return folded
