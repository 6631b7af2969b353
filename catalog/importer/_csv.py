"""Entries from a CSV export: a header row names the fields; separators are sniffed."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from catalog.errors import LinkhealthError
from catalog.importer._records import ImportedEntry, Parsed, Skipped, quote_skipped
from catalog.model import RESOURCE_FIELDS
from catalog.urls import CheckedUrl, parse_url

#: Separators a CSV to import may use, tried in this order on its header row.
_SEPARATORS = (",", ";", "\t")
_LIST_FIELDS = ("languages", "tags")


def parse_csv(text: str, *, source: str | None = None) -> Parsed:
    """Rows of a CSV with at least `title` and `url` columns (any case, any order).

    Commas separate the cells, or semicolons or tabs when only they make the header name
    both columns (spreadsheets saved in many locales use ';'). A CSV without those columns
    or without a usable row is refused, naming `source` (the file or URL).
    """
    where = source or "the CSV to import"
    rows, header_index = _csv_rows(text.lstrip("\ufeff"), where)
    names = [column_name(c) for c in rows[header_index]]
    entries: list[ImportedEntry] = []
    skipped: list[Skipped] = []
    for number, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        values = {n: c.strip() for n, c in zip(names, row, strict=False) if n and c.strip()}
        if not values:
            continue
        origin = f"row {number}"
        title, url = values.pop("title", ""), values.pop("url", "")
        if not title or not url:
            skipped.append(Skipped(origin, title, "the row has no title or no url"))
            continue
        if not isinstance(parse_url(url), CheckedUrl):
            skipped.append(Skipped(origin, title, f"{url!r} is not a usable http(s) address"))
            continue
        preferred = values.pop("id", None)
        description = values.pop("description", None)
        extra: dict[str, Any] = {}
        for name, value in values.items():
            if name in _LIST_FIELDS:
                extra[name] = [p.strip() for p in re.split(r"[;|]", value) if p.strip()]
            elif name == "year" and value.isdigit():
                extra[name] = int(value)
            else:
                extra[name] = value
        entries.append(ImportedEntry(title, url, description, extra, preferred, origin))
    if not entries:
        if not skipped:
            raise LinkhealthError(f"{where}: the CSV has a header but no rows; nothing to import")
        raise LinkhealthError(f"{where}: no row could be imported; {quote_skipped(skipped)}")
    return Parsed(tuple(entries), tuple(skipped), source=source)


def _csv_rows(text: str, where: str) -> tuple[list[list[str]], int]:
    """The rows and the index of the header row, split at the first of `_SEPARATORS` that
    makes the header name both `title` and `url` (a whole header is needed, so a comma
    inside a cell of a ';' file cannot fool it)."""
    first: list[str] | None = None
    for separator in _SEPARATORS:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
        header = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), None)
        if header is None:
            raise LinkhealthError(
                f"{where}: the CSV is empty; write a header row naming at least the 'title' "
                "and 'url' columns, then one row per resource"
            )
        names = {column_name(c) for c in rows[header]}
        if "title" in names and "url" in names:
            return rows, header
        first = first or rows[header]
    found = ", ".join(repr(c.strip()) for c in first or () if c.strip())
    raise LinkhealthError(
        f"{where}: the CSV has no 'title' and 'url' columns (its header row reads {found}); "
        "name them in the first row. Cells may be separated by commas, semicolons or tabs"
    )


def column_name(cell: str) -> str:
    name = cell.strip()
    return name.lower() if name.lower() in RESOURCE_FIELDS else name
