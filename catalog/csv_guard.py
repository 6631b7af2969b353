"""Cells of the CSV files linkhealth writes, guarded so a spreadsheet shows them as text.

Excel, LibreOffice and Google Sheets evaluate a cell that starts with `=`, `+`, `-` or `@`
(or a tab or carriage return) as a formula: `=HYPERLINK("https://evil.example")` becomes a
live link, `-10 tips` becomes #NAME? and is saved back that way (OWASP "CSV injection").
OWASP's advice is a leading apostrophe; `guard` adds it and `unguard` removes exactly what
`guard` added, so reading a file linkhealth wrote gives back the original text, a title that
really starts with an apostrophe included. A number (`-5`, `+1.5`) or a lone `-` placeholder
cannot run as a formula and is written as it is, so a spreadsheet still reads it as one.
"""

from __future__ import annotations

import re

#: What the CSV files linkhealth writes start with, as Excel's own "CSV UTF-8" does: without
#: it Excel reads a file as the system's code page ("–" shows as "â€“").
UTF8_BOM = "\ufeff"
#: What makes a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A number as a spreadsheet reads one: -5, +1.5, -1,000, -.5, 1e-3, -12.5%.
_NUMBER = re.compile(r"[+-]?(?=[.,]?\d)(?:\d{1,3}(?:,\d{3})+|\d*)(?:[.,]\d*)?(?:[eE][+-]?\d+)?%?")


def needs_guard(text: str) -> bool:
    """Whether `guard` prefixes `text`: it would run as a formula, or it is such text behind
    apostrophes of its own (`'=x`), which would otherwise read back without one."""
    bare = text.lstrip("'")
    return bare.startswith(FORMULA_STARTS) and not (bare in ("-", "+") or _NUMBER.fullmatch(bare))


def guard(text: str) -> str:
    """`text` as a CSV cell meant for a spreadsheet."""
    return "'" + text if needs_guard(text) else text


def unguard(cell: str) -> str:
    """The text `guard` was given for `cell`; any other cell as it is."""
    return cell[1:] if cell.startswith("'") and needs_guard(cell) else cell
