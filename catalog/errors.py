"""The exception tree of linkhealth.

    LinkhealthError             anything we raise on purpose; the CLI prints it and exits non-zero
    ├── ConfigError             linkhealth.toml or an option is wrong
    ├── CatalogError            a catalog file cannot be used (carries every Problem found)
    ├── StoreError              the database cannot be opened or migrated
    │   ├── ReadOnlyDatabaseError   ... or written: its SQLite file is read-only
    │   └── NoDatabaseError         ... or holds nothing of ours yet (no file, no tables)
    └── NotFoundError           a resource id or run the user named does not exist

Catch at the level you mean. Never match on message text: it is for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.text import counted


class LinkhealthError(Exception):
    """Base of every error we raise on purpose; `str()` says what, where and what next."""

    exit_code: int = 1


class ConfigError(LinkhealthError):
    exit_code = 2


class StoreError(LinkhealthError):
    exit_code = 3

    def __init__(self, message: str, *, fault: str | None = None, locked: bool = False) -> None:
        super().__init__(message)
        #: The message without its closing "what was stored before is kept, run the command
        #: again", for a caller whose failure lost more than one write (a run's batches)
        #: and says so instead.
        self.fault = fault or message
        #: Another process held the SQLite write lock past the busy timeout.
        self.locked = locked


class ReadOnlyDatabaseError(StoreError):
    """A SQLite file that can be read but not written (`db copy` reads such a source)."""


class NoDatabaseError(StoreError):
    """The database named is not there yet (no SQLite file, no linkhealth tables): before
    the first run, or a mistyped path. `status` still says what Prefect will run."""


class CopyInProgressError(LinkhealthError):
    """`linkhealth db copy` holds the database's run lease: a write now would be left out
    of the copy, which reads the database as it was when it began (exit 8, as a lease)."""

    exit_code = 8


class NotFoundError(LinkhealthError):
    exit_code = 4

    @classmethod
    def unknown_ids(cls, missing: Sequence[str]) -> NotFoundError:
        """Resource ids named on the command line that no configured catalog holds."""
        return cls(
            f"no resource with id {', '.join(map(repr, missing))} in the catalogs; "
            "check the id in the catalog file"
        )


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalog file, located for the person fixing it."""

    file: str
    line: int | None
    field: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message} [{self.code}]"


class CatalogError(LinkhealthError):
    exit_code = 5

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{counted(len(self.problems), 'problem')} in the catalog:\n{lines}")
