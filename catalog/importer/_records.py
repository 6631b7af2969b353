"""What an import reads and what it reports: entries, skips, differences, the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.catalog_edit import FieldEdit
from catalog.errors import CatalogError, Problem
from catalog.text import counted

#: Fields an import may fill in an existing entry (never id, title or url).
FILLABLE = ("description", "publisher", "type", "languages", "year", "tags", "notes")
#: Skipped items quoted in the error for a source with nothing to import.
SKIPPED_QUOTED = 5


@dataclass(frozen=True)
class ImportedEntry:
    title: str
    url: str
    description: str | None = None
    #: Other catalog fields the source gave (publisher, type, year, languages, ...).
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: The id the source asked for (a CSV `id` column); used when free.
    preferred_id: str | None = None
    #: Where in the source it was found, for messages ("line 4", "heading 3").
    origin: str = ""


@dataclass(frozen=True)
class Skipped:
    """Something of the source that is not an entry of its own, and why."""

    origin: str
    title: str
    reason: str
    #: What kind of skip, for `--json`: `above_header` (a sheet's title row),
    #: `no_title_or_url`, `no_title`, `no_link`, `unusable_url`, or `merged_duplicate` (a
    #: row listing a resource again, merged into its first row: nothing is lost). Columns
    #: left out are a `Note`, not a row skipped.
    code: str


class Note(str):
    """What an import did to the source's cells that the curator should know of: the text is
    the line the summary prints; `code` and `facts` state the same for `--json`
    (`to_dict`), so a script need not read the sentence. A `str`, like `markupsafe.Markup`,
    so a note is still the text wherever it was one.

    Codes: `filled_down` (facts: field, column, rows), `not_filled_down` (field, column,
    rows: a grouping column's one value, left where it is), `column_read_as` (column, header,
    field), `check_results` (columns, headers, file: `export` or `report_csv`; the
    columns of linkhealth's own export or report CSV imported back, left out),
    `likely_duplicate` (id, url, of, of_url, origin: an entry added at an entry's URL but
    for http/https, `www.` or a trailing `/`, or at its very URL; lint's
    `likely_duplicate_url` or `duplicate_url`) and `id_taken` (id, given, origin, of: a
    row added under an id made from its title, as the id it gave is an earlier row's, `of`).
    """

    code: str
    facts: Mapping[str, Any]

    def __new__(cls, text: str, code: str, **facts: Any) -> Note:
        note = super().__new__(cls, text)
        note.code = code
        note.facts = facts
        return note

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.facts, "message": str(self)}


@dataclass(frozen=True)
class Parsed:
    entries: tuple[ImportedEntry, ...]
    skipped: tuple[Skipped, ...] = ()
    #: The page's <title> (or first heading); names a new catalog's collection.
    title: str | None = None
    #: The file or URL it was read from, to name in messages (errors are about the source).
    source: str | None = None
    #: Why the catalog would refuse some of `entries`, by the source's rows and columns:
    #: `import_entries` raises it before writing anything.
    refusal: str | None = None
    #: What the import did to the source's cells that the curator should know of (values
    #: filled down from a merged cell, a column read as a field it was headed otherwise,
    #: the check-result columns of an export left out),
    #: in the import's summary.
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Difference:
    """The source and the catalog disagree on a field the import may not overwrite."""

    resource_id: str
    field: str
    catalog: Any
    source: Any


@dataclass(frozen=True)
class ImportResult:
    path: Path
    #: Ids of the entries added, in source order.
    added: tuple[str, ...]
    #: Empty fields of existing entries that were filled.
    filled: tuple[FieldEdit, ...]
    #: Ids of existing entries the source matched, whether or not anything was filled.
    matched: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    differences: tuple[Difference, ...]
    #: Unified diff of the file ("" when nothing changed).
    diff: str
    created: bool = False
    dry_run: bool = False
    #: The page or file imported (`Parsed.source`), to name with each skipped item.
    source: str | None = None
    #: `Parsed.notes`: shown with the headline.
    notes: tuple[Note, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.diff)

    def headline(self) -> str:
        verb = "would add" if self.dry_run else "added"
        entries = len({e.resource_id for e in self.filled})
        return (
            f"{self.path}: {verb} {len(self.added)}, filled "
            f"{counted(len(self.filled), 'field')} in "
            f"{counted(entries, 'existing entry', 'existing entries')}, "
            f"{len(self.matched)} matched, {len(self.skipped)} skipped, "
            f"{counted(len(self.differences), 'difference')} left for a person."
        ) + "".join(f"\n{note}" for note in self.notes)


def quote_skipped(skipped: Sequence[Skipped]) -> str:
    """The first few skipped items and why, for an error about a source that gave nothing."""
    quoted = "; ".join(
        f"{s.origin}{f' {s.title!r}' if s.title else ''}: {s.reason}"
        for s in skipped[:SKIPPED_QUOTED]
    )
    more = len(skipped) - SKIPPED_QUOTED
    return f"skipped {quoted}" + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class RefusedFill:
    """A field an import would fill (or, in a CSV catalog, add) that the catalog refuses as
    it stands, by the source's item that offered it."""

    #: Where in the source (`ImportedEntry.origin`: "row 4", "link 3"; "" when unknown).
    origin: str
    title: str
    resource_id: str
    field: str
    #: Why, located in the catalog file (its line and field).
    problems: tuple[Problem, ...]


class FillsRefused(CatalogError):
    """Every fill of an import that the catalog refused, by the source's rows; nothing was
    written (exit 5, as any edit the catalog refuses). `problems` are the catalog's, once
    each; `refused` says which row met which."""

    def __init__(self, path: Path, source: str | None, refused: Sequence[RefusedFill]) -> None:
        self.refused = tuple(refused)
        super().__init__(list(dict.fromkeys(p for r in self.refused for p in r.problems)))
        entries = counted(len({(r.origin, r.title) for r in self.refused}), "entry", "entries")
        where = source or "the import"
        lines = "\n".join(
            f"  {r.origin}{' ' if r.origin else ''}{r.title!r} ({r.resource_id}): {p}"
            for r in self.refused
            for p in r.problems
        )
        self.message = (
            f"{where}: {path} refuses, as it stands, what {entries} of it would fill in, so "
            f"nothing was written; each is listed by where it is in {where}, with the line "
            f"of {path} at fault and what to do, then import again:\n{lines}"
        )

    def __str__(self) -> str:
        return self.message
