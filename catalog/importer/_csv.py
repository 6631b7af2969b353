"""Entries from a CSV export: a header row names the fields; separators are sniffed.

Spreadsheets are exported by Excel, Google Sheets and LibreOffice in their own ways: a byte
order mark, UTF-16 text, ';' in many locales, a title row above the header, empty rows and
columns, links written as formulas or in angle brackets, columns headed as a person would
("Link", "Summary"), a group of rows under one merged "Category" cell. What a curator can see
in the sheet is what is imported; a cell the import cannot place is refused by row and
column, never dropped without a word.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import replace
from typing import Any

from catalog.csv_guard import unguard
from catalog.errors import LinkhealthError
from catalog.export import EXPORT_FIELDS
from catalog.hygiene import normalise_title
from catalog.importer._records import ImportedEntry, Note, Parsed, Skipped, quote_skipped
from catalog.model import RESOURCE_FIELDS
from catalog.source import meant_url
from catalog.urls import CheckedUrl, browser_encoded, parse_url

#: Separators a CSV to import may use, tried in this order on its header row.
_SEPARATORS = (",", ";", "\t")
_LIST_FIELDS = ("languages", "tags")
#: Fields that hold one line; a line break typed into the cell (Alt+Enter) is a space.
_ONE_LINE = ("title", "publisher", "type", "year", "languages", "tags")
#: Headers a spreadsheet gives the columns of these fields besides the field's own name,
#: compared without case, spaces, "_", "-", "." or a trailing ":" ("Web address:").
_ALIASES = {
    "url": (
        "link",
        "links",
        "urls",
        "webaddress",
        "website",
        "weblink",
        "webpage",
        "hyperlink",
        "urladdress",
        "resourcelink",
        "resourceurl",
    ),
    "title": ("name", "resource", "resourcename", "resourcetitle"),
    "description": ("summary", "abstract", "resourcedescription"),
}
_ALIAS_OF = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
#: Columns that group the rows below them, often in one merged cell, which a spreadsheet
#: exports to the group's first row only (compared as `_ALIASES` are). Never url, title, id,
#: description or year: those belong to each row.
_GROUPING = frozenset(
    {
        "category",
        "subcategory",
        "section",
        "topic",
        "theme",
        "agency",
        "publisher",
        "organisation",
        "organization",
    }
)
#: The columns of the CSV files linkhealth writes about links, not catalog fields: those of
#: `linkhealth export`, and those of the report's latest.csv (`reports.render.CSV_COLUMNS`,
#: which `catalog` may not import; a test keeps the two alike), each with how many of them
#: a sheet heads to be that file imported back (`_check_results`), and they are left out.
#: That many is half the columns the file had when import-csv learned to tell it (the
#: export's 13, the report's 21), and stays so: a column added since would raise it, and a
#: file an older linkhealth wrote, trimmed as far as one was known before, would be taken
#: for the curator's own, its check results written into every entry.
_CHECK_RESULTS = (
    ("an export", tuple(n for n in EXPORT_FIELDS if n not in RESOURCE_FIELDS), 7),
    (
        "a report's CSV",
        (
            "rank",
            "group",
            "collection",
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
            "stale_since",
            "held_tries",
        ),
        11,
    ),
)
#: Rows looked at for the header: a title row and a blank line or two may sit above it.
_HEADER_SEARCH = 10
#: Byte order marks, longest first (UTF-32's starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_spreadsheet(data: bytes, where: str) -> str:
    """The text of an export: UTF-8 (with or without a BOM), or UTF-16/32 with a BOM (Excel's
    "Unicode Text"). Anything else is refused at the first byte that is not UTF-8: read in
    another code page, "é" or "–" would be guessed, and a wrong guess imports wrong titles."""
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise LinkhealthError(
            f"{where}: this is a workbook (.xlsx, .xls or .ods), not a CSV file; save the sheet "
            "as 'CSV UTF-8 (Comma delimited)' (Google Sheets: File > Download > CSV) and "
            "import that file"
        )
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        if encoding != "utf-8":
            raise LinkhealthError(
                f"{where}: the file starts as {encoding.upper()} text but byte {exc.start} "
                "is not; save it again as 'CSV UTF-8'"
            ) from exc
        lines = before.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        column = len(lines[-1].decode("utf-8")) + 1
        utf16 = b"\x00" in data[:200]
        why = (
            "it looks like UTF-16 without a byte order mark"
            if utf16
            else f"byte 0x{data[exc.start]:02x} is not UTF-8; Excel's plain 'CSV (Comma "
            "delimited)' writes the computer's own code page, in which accents, dashes and "
            "curly quotes would have to be guessed"
        )
        raise LinkhealthError(
            f"{where}: line {len(lines)}, column {column}: the file is not UTF-8 text ({why}); "
            "save it as 'CSV UTF-8 (Comma delimited)' in Excel, with the character set "
            "'Unicode (UTF-8)' in LibreOffice (Google Sheets always writes UTF-8), and import "
            "that file; nothing was imported"
        ) from exc


def parse_csv(text: str, *, source: str | None = None, fill_down: bool = True) -> Parsed:
    """Rows of a CSV with at least `title` and `url` columns (any case, any order; headed
    "Link", "Website", "Name", "Summary", ... too: `_ALIASES`).

    Commas separate the cells, or semicolons or tabs when only they make the header name
    both columns (spreadsheets saved in many locales use ';'). The header is the first row
    naming both, within the first few rows: rows above it (a sheet's title) are reported as
    skipped. A CSV without those columns or without a usable row is refused, naming
    `source` (the file or URL), as is a header naming a column twice (or two columns that
    could each be the url, and so on) or a value in a column the header does not name, which
    would otherwise be lost.

    With `fill_down`, a grouping column (`_GROUPING`: Category, Section, Publisher, ...)
    laid out as merged cells export, a value with empty cells below it, gets that value in
    those cells (`_merged_cells`); `Parsed.notes` says where.
    """
    where = source or "the CSV to import"
    rows, header_index = _csv_rows(text.lstrip("\ufeff"), where)
    names, notes = _header_names(rows[header_index], header_index + 1, where)
    ignored: set[str] = set()
    for what, results in _check_results(names):
        # `linkhealth export --format csv` or the report's latest.csv, edited and imported
        # back (some of its columns deleted, say, or the two joined in one sheet): its check
        # results would be written into every entry as fields, out of date by the next run.
        # Columns left out, not a row.
        notes.append(_left_out(names, results, what, also=bool(ignored)))
        ignored |= results
    if fill_down:
        rows, filled = _filled_down(rows, header_index, names)
        notes += filled
    entries: list[ImportedEntry] = []
    skipped = [
        Skipped(
            f"row {n + 1}",
            " ".join(" ".join(row).split()),
            _above(header_index + 1),
            "above_header",
        )
        for n, row in enumerate(rows[:header_index])
        if any(c.strip() for c in row)
    ]
    unnamed: list[str] = []
    bad_years: list[str] = []
    #: (title, canonical URL) -> indexes of its entries: a resource a sheet lists twice
    #: (under two sections, say) is one entry, not a second one with "-2" on its id.
    first_row: dict[tuple[str, str], list[int]] = {}
    for number, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        unnamed += [
            f"row {number}, column {_letter(i)} ({c.strip()!r})"
            for i, c in enumerate(row)
            if c.strip() and (i >= len(names) or not names[i])
        ]
        values = {
            n: _cell(n, c)
            for n, c in zip(names, row, strict=False)
            if n and n not in ignored and c.strip()
        }
        values = {n: v for n, v in values.items() if v}
        if not values:
            continue
        origin = f"row {number}"
        title, url = values.pop("title", ""), meant_url(values.pop("url", ""))
        if not title or not url:
            skipped.append(
                Skipped(origin, title, "the row has no title or no url", "no_title_or_url")
            )
            continue
        parsed = parse_url(url)
        if not isinstance(parsed, CheckedUrl):
            skipped.append(Skipped(origin, title, _unusable(url, parsed.reason), "unusable_url"))
            continue
        url = browser_encoded(url)  # as it is sent: the address lint would ask for
        preferred = values.pop("id", None)
        description = values.pop("description", None)
        extra: dict[str, Any] = {}
        for name, value in values.items():
            if name in _LIST_FIELDS:
                extra[name] = [p.strip() for p in re.split(r"[;|]", value) if p.strip()]
            elif name == "year":
                year = _year(value)
                if year is None:
                    column = _letter(names.index("year"))
                    bad_years.append(f"row {number}, column {column} ({value!r})")
                extra[name] = value if year is None else year
            else:
                extra[name] = value
        entry = ImportedEntry(title, url, description, extra, preferred, origin)
        key = (normalise_title(title), parsed.canonical)
        at = next(
            (
                i
                for i in first_row.get(key, [])
                if preferred is None or entries[i].preferred_id in (None, preferred)
            ),
            None,
        )
        if at is None:  # two ids: the sheet means two entries
            first_row.setdefault(key, []).append(len(entries))
            entries.append(entry)
        else:
            entries[at], reason = _merged(entries[at], entry)
            skipped.append(Skipped(origin, title, reason, "merged_duplicate"))
    years = (
        f"{_listed(bad_years)}: a year that is not a whole number; write the year alone "
        "(2016), or put the rest in notes"
        if bad_years
        else None
    )
    if unnamed:  # every fix the sheet needs at once, not one import per kind of mistake
        also = f"; and {years}" if years else ""
        raise LinkhealthError(
            f"{where}: {_listed(unnamed)}: a value in a column the header (row "
            f"{header_index + 1}) does not name; name the column to import it as a field, or "
            f"clear the cell{also}; nothing was imported"
        )
    refusal = f"{where}: {years}, and import again; nothing was written" if years else None
    if not entries:
        if all(s.code == "above_header" for s in skipped):
            raise LinkhealthError(f"{where}: the CSV has a header but no rows; nothing to import")
        raise LinkhealthError(f"{where}: no row could be imported; {quote_skipped(skipped)}")
    return Parsed(
        tuple(entries), tuple(skipped), source=source, refusal=refusal, notes=tuple(notes)
    )


def _left_out(names: list[str], ignored: set[str], what: str, *, also: bool = False) -> Note:
    """The note for the check-result columns of linkhealth's own file, left out of every row
    (columns, not a row skipped): which columns (by letter and header), of which file;
    `also` for the second file of a sheet that is both, whose columns both write the first
    note listed."""
    at = [i for i, n in enumerate(names) if n in ignored]
    both = " too: the sheet heads enough of both files' columns" if also else ""
    text = (
        f"left out columns {', '.join(names[i] for i in at)}: linkhealth's check results "
        f"({what}{both}), not catalog fields"
    )
    return Note(
        text,
        "check_results",
        columns=[_letter(i) for i in at],
        headers=[names[i] for i in at],
        file="export" if what == _CHECK_RESULTS[0][0] else "report_csv",
    )


def _check_results(names: list[str]) -> list[tuple[str, set[str]]]:
    """Which files of linkhealth's `names` heads, each with its columns there that are check
    results (`_CHECK_RESULTS`); empty for a sheet of the curator's own.

    A sheet heading enough of both files' columns (the report's CSV and an export joined in
    one sheet) is both: each file's check results are left out, not only those of the one
    it is taken for, which had the other's own columns (`host`, `fix`, ...; `http_status`,
    `checked_at`, ...) written into every entry. It is first the file of whose own columns
    (those the other file does not write) it heads more, the first on a tie, and the
    columns both write are that file's; the other follows with its own, if it heads any.
    The report's CSV heads 7 of the export's (`collection`, `outcome`, ..., `held_tries`),
    enough for an export, but none of the export's own. A file is never counted that the
    sheet heads too few of the columns of: a curator's `host` beside an export is theirs."""
    known = []
    for what, results, at_least in _CHECK_RESULTS:
        found = {n for n in results if n in names}
        if len(found) >= at_least:
            others = {n for w, r, _ in _CHECK_RESULTS if w != what for n in r}
            known.append((len(found - others), what, found))
    known.sort(key=lambda k: -k[0])  # stable: the first of equal counts stays first
    files: list[tuple[str, set[str]]] = []
    taken: set[str] = set()
    for _, what, found in known:
        if found - taken:
            files.append((what, found - taken))
            taken |= found
    return files


def _filled_down(
    rows: list[list[str]], header_index: int, names: list[str]
) -> tuple[list[list[str]], list[Note]]:
    """`rows` with each grouping column's merged cells filled, and a note per column."""
    rows = [list(row) for row in rows]
    notes: list[Note] = []
    for column, name in enumerate(names):
        if _key(name) not in _GROUPING:
            continue
        filled = _merged_cells(rows, header_index + 1, column)
        for index, value in filled:
            rows[index].extend([""] * (column + 1 - len(rows[index])))
            rows[index][column] = value
        if filled:
            n = len(filled)
            numbers = [i + 1 for i, _ in filled]
            text = (
                f"filled down {n} empty {name!r} cell{'s' if n > 1 else ''} from the row "
                f"above ({_spans(numbers)}, column {_letter(column)}): "
                "a merged cell exports its value to its first row only; import with "
                f"--no-fill-down to leave {'them' if n > 1 else 'it'} empty"
            )
            notes.append(
                Note(text, "filled_down", field=name, column=_letter(column), rows=numbers)
            )
        elif lone := _lone_value(rows, header_index + 1, column):
            at, empty = lone
            n = len(empty)
            text = (
                f"left {n} empty {name!r} cell{'s' if n > 1 else ''} empty "
                f"({_spans(empty)}, column {_letter(column)}): the column's one value is in "
                f"row {at}, so it may be a merged cell over them all or a value of that row "
                "alone; if it is one group, fill the column in the sheet and import again"
            )
            notes.append(
                Note(text, "not_filled_down", field=name, column=_letter(column), rows=empty)
            )
    return rows, notes


def _lone_value(rows: list[list[str]], start: int, column: int) -> tuple[int, list[int]] | None:
    """(its row number, the row numbers of the empty cells below) when `column` holds one
    value, in its first row, and empty cells under it: a merged cell over the whole sheet
    or a value of that row alone, which `_merged_cells` cannot tell apart and leaves."""
    found: int | None = None
    empty: list[int] = []
    for index in range(start, len(rows)):
        row = rows[index]
        if not any(cell.strip() for cell in row):
            continue
        if column < len(row) and row[column].strip():
            if found is not None or empty:
                return None
            found = index + 1
        else:
            if found is None:
                return None
            empty.append(index + 1)
    return (found, empty) if found is not None and empty else None


def _merged_cells(rows: list[list[str]], start: int, column: int) -> list[tuple[int, str]]:
    """The empty cells of `column` (row index, value) that take the value above them, when
    the column is laid out as merged cells export: its first row holds a value, no value
    repeats on the next row (a column written out row by row keeps its empty cells empty),
    it holds at least two values, and at least half its values have empty cells below them.
    A blank row ends a group.

    Two values at least, because a group is seen where the next one starts: one value with
    only empty cells below it ("Training" given to the first resource alone) reads the same
    as a merged cell over every row, and filling it would give every resource a value the
    curator gave to one. Two values (the same one twice, for two groups, included) with
    empty cells under them are groups; a curator whose sheet really is one group fills the
    column in the sheet."""
    fills: list[tuple[int, str]] = []
    group: str | None = None  # the value above, while the group lasts
    above: str | None = None  # the cell right above, as written
    values = grouped = 0
    first = True
    for index in range(start, len(rows)):
        row = rows[index]
        if not any(cell.strip() for cell in row):
            group = above = None
            continue
        cell = row[column].strip() if column < len(row) else ""
        if first and not cell:
            return []
        first = False
        if cell:
            if cell == above:
                return []
            values += 1
            group = above = cell
        else:
            if group is not None and above is not None:
                grouped += 1  # the value above starts a group
            if group is not None:
                fills.append((index, group))
            above = None
    return fills if values >= 2 and 2 * grouped >= values else []


def _spans(numbers: list[int]) -> str:
    """ "rows 3-5, 8" for [3, 4, 5, 8] (the first few spans)."""
    spans: list[str] = []
    start = end = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == end + 1:
            end = n
            continue
        spans.append(str(start) if start == end else f"{start}-{end}")
        if n is not None:
            start = end = n
    label = "row" if len(numbers) == 1 else "rows"
    return f"{label} {_listed(spans).replace('; ', ', ')}"


def _merged(first: ImportedEntry, again: ImportedEntry) -> tuple[ImportedEntry, str]:
    """`first` with what a later row of the same resource adds: its list items, and the
    fields `first` leaves empty; and why that row is not an entry of its own."""
    fields = dict(first.fields)
    kept: list[str] = []
    for name, value in again.fields.items():
        if name in _LIST_FIELDS:
            fields[name] = list(dict.fromkeys([*fields.get(name, []), *value]))
        elif name not in fields:
            fields[name] = value
        elif fields[name] != value:
            kept.append(name)
    description = first.description or again.description
    if first.description and again.description and first.description != again.description:
        kept.append("description")
    reason = f"the same title and address as {first.origin}, so merged into it"
    if kept:
        verb = "differs" if len(kept) == 1 else "differ"
        reason += f" (its {' and '.join(kept)} {verb}; kept {first.origin}'s)"
    merged = replace(
        first,
        description=description,
        fields=fields,
        preferred_id=first.preferred_id or again.preferred_id,
    )
    return merged, reason


def _listed(places: list[str]) -> str:
    return "; ".join(places[:5]) + (f"; and {len(places) - 5} more" if len(places) > 5 else "")


#: A year as a spreadsheet may show a number: 2019, 2019.0, 2,019 or 2 019.
_YEAR = re.compile(r"(\d{1,3})?[,.\s\u202f]?(\d{3,4})(?:[.,]0+)?")


def _year(cell: str) -> int | None:
    """The year in a year cell, or None when it holds more than a year ("c. 2015")."""
    if cell.isdecimal():  # not isdigit: int() refuses a superscript "²"
        return int(cell)
    match = _YEAR.fullmatch(cell)
    if match is None:
        return None
    return int((match.group(1) or "") + match.group(2))


def _above(header_row: int) -> str:
    return f"above the header row (row {header_row}), so read as the sheet's title, not a resource"


def _header_names(row: list[str], header_row: int, where: str) -> tuple[list[str], list[Note]]:
    """The field (or column) name of each cell of the header: a field's own name, else one
    of its `_ALIASES` ("Link", "Web address") when only one column is headed so; the other
    columns keep their own names, as fields of their own. A note per column read by an
    alias, so the curator can see which column became the url."""
    names = [column_name(c) for c in row]
    read_as: dict[int, Note] = {}
    _refuse_repeated_columns(names, header_row, where)
    for field in _ALIASES:
        if field in names:
            continue  # the sheet names the field itself: "Link" beside "URL" is its own column
        candidates = [i for i, cell in enumerate(row) if _alias(cell) == field]
        if len(candidates) > 1:
            listed = " and ".join(f"{_letter(i)} ({row[i].strip()!r})" for i in candidates)
            raise LinkhealthError(
                f"{where}: row {header_row}: columns {listed} could each be the {field} "
                f"column; head the one that is '{field}' (the other is then imported as a "
                "field of its own), or remove one; nothing was imported"
            )
        if candidates:
            at, header = candidates[0], row[candidates[0]].strip()
            names[at] = field
            text = f"read column {_letter(at)} ({header!r}) as the {field}"
            read_as[at] = Note(
                text, "column_read_as", column=_letter(at), header=header, field=field
            )
    return names, [read_as[at] for at in sorted(read_as)]


def _alias(cell: str) -> str | None:
    """The field whose column `cell` heads under another name, if any."""
    return _ALIAS_OF.get(_key(cell))


def _key(cell: str) -> str:
    """A header as `_ALIASES` and `_GROUPING` list it: "Web address:" -> "webaddress"."""
    return re.sub(r"[\s_.-]+", "", cell.lower()).rstrip(":")


def _refuse_repeated_columns(names: list[str], header_row: int, where: str) -> None:
    """Two columns of one name (two 'url's, say) would leave one cell per row unread."""
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            continue
        if name in first:
            raise LinkhealthError(
                f"{where}: row {header_row}: the header names {name!r} twice (columns "
                f"{_letter(first[name])} and {_letter(index)}), so one of them would be lost; "
                "rename or remove one; nothing was imported"
            )
        first[name] = index


def _letter(index: int) -> str:
    """The spreadsheet name of a 0-based column: A, B, ..., Z, AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cell(name: str, cell: str) -> str:
    # A file linkhealth wrote (an export, a CSV catalog) guards formula-like text with "'".
    text = unguard(cell.strip())
    return " ".join(text.split()) if name in _ONE_LINE else text


_PHONE = re.compile(r"\+?[\d(][\d ().-]{5,}\d")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[a-z]{2,}", re.IGNORECASE)


def _unusable(url: str, reason: str) -> str:
    """Why a row's url cannot be checked, in a curator's words, and what to write instead."""
    lowered = url.lower()
    if lowered.startswith("tel:") or (_PHONE.fullmatch(url) and not _IPV4.fullmatch(url)):
        return (
            f"{url!r} is a phone number, which cannot be checked as a link; give the web page "
            "that lists it as url and keep the number in notes"
        )
    if lowered.startswith("mailto:") or _EMAIL.fullmatch(url):
        return (
            f"{url!r} is an e-mail address, which cannot be checked as a link; give the web "
            "page that lists it as url and keep the address in notes"
        )
    if not re.search(r"[.:/]", url):
        return (
            f"{url!r} is text, not an address (a sheet exports a linked cell's text, not its "
            "link); put the address itself in the url column"
        )
    schemes = len(re.findall(r"(?i)\bhttps?://", url))
    if schemes > 1:
        return f"{url!r} holds {schemes} addresses; give each resource its own row"
    return f"{url!r} is not a usable http(s) address: {reason}"


def _csv_rows(text: str, where: str) -> tuple[list[list[str]], int]:
    """The rows and the index of the header row, split at the first of `_SEPARATORS` that
    makes a row near the top name both `title` and `url` (a whole header is needed, so a
    comma inside a cell of a ';' file cannot fool it)."""
    first: list[str] | None = None
    for separator in _SEPARATORS:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
        filled = [i for i, row in enumerate(rows) if any(c.strip() for c in row)]
        if not filled:
            raise LinkhealthError(
                f"{where}: the CSV is empty; write a header row naming at least the 'title' "
                "and 'url' columns, then one row per resource"
            )
        for index in filled[:_HEADER_SEARCH]:
            names = {column_name(c) for c in rows[index]}
            names |= {alias for c in rows[index] if (alias := _alias(c))}
            if "title" in names and "url" in names:
                return rows, index
        first = first or rows[filled[0]]
    found = ", ".join(repr(c.strip()) for c in first or () if c.strip())
    raise LinkhealthError(
        f"{where}: the CSV has no 'title' and 'url' columns (its first row reads {found}); "
        f"name them in a header row within the first {_HEADER_SEARCH} rows ('Name' or "
        "'Resource' is read as title, 'Link', 'Website' or 'Web address' as url). Cells may "
        "be separated by commas, semicolons or tabs"
    )


def column_name(cell: str) -> str:
    """The field a header cell names, in a sheet to import or a CSV catalog: a field's name
    in any case, else as written. A file linkhealth wrote (a CSV catalog, an export) guards a
    header as it guards any cell (`csv_guard`): `'=HYPERLINK(...)` names `=HYPERLINK(...)`."""
    name = unguard(cell.strip())
    return name.lower() if name.lower() in RESOURCE_FIELDS else name
