"""Stage "import": resources listed elsewhere merged into a catalog file.

Inputs:  a clearinghouse toolkit page (HTML text, a file or a URL fetched with httpx) or a
         CSV export (`read_spreadsheet`: UTF-8 or UTF-16, never guessed); the path of the
         `.yaml`/`.yml`/`.csv` catalog to merge into.
Outputs: `ImportedEntry`s (`parse_toolkit_html`, `parse_csv`), then an `ImportResult`: the
         ids added, the empty fields filled, what was skipped and why, where the page and the
         catalog disagree, and the unified diff of the file. The file is replaced atomically
         unless `dry_run` is set; a new file is created when it does not exist.

Merging never deletes or overwrites: an imported entry that matches an existing one (same
normalised title, else same canonical URL) only fills that entry's empty fields; anything
else is added with an id made from its title. Existing entries keep their text byte for byte:
additions are appended after the last entry, fills go through `catalog_edit.apply_edits`.
"""

from catalog.importer._csv import parse_csv
from catalog.importer._fetch import read_source, read_spreadsheet
from catalog.importer._html import parse_toolkit_html
from catalog.importer._merge import slug_id
from catalog.importer._records import (
    FillsRefused,
    ImportedEntry,
    ImportResult,
    Note,
    Parsed,
    RefusedFill,
    Skipped,
)
from catalog.importer._write import import_entries

__all__ = [
    "FillsRefused",
    "ImportResult",
    "ImportedEntry",
    "Note",
    "Parsed",
    "RefusedFill",
    "Skipped",
    "import_entries",
    "parse_csv",
    "parse_toolkit_html",
    "read_source",
    "read_spreadsheet",
    "slug_id",
]
