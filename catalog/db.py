"""Opening the database: engine, SQLite pragmas, migrations on first use (said on stderr).

`open_engine(url)` is the one way in. SQLite gets WAL and a busy timeout so the
nightly writer and a curator's recheck can overlap, and a wait for another process's
lock that lasts is said on stderr (`_WaitingConnection`); on PostgreSQL, a wait for
another writer's advisory lock (`postgresql_write_lock`), and a database not encoded UTF8
is refused (`_postgresql_utf8`).
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy import text as sql_text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import ConfigError, NoDatabaseError, ReadOnlyDatabaseError, StoreError

if TYPE_CHECKING:
    from catalog.migrate import HeldOff
    from catalog.store import LiveRun

SQLITE_BUSY_TIMEOUT_MS = 30_000

_T = TypeVar("_T")

#: How long a SQLite statement waits for another process's lock before it says so on stderr
#: (once, `_WaitingConnection`) and waits out the rest of `SQLITE_BUSY_TIMEOUT_MS`: a
#: `snooze` behind a nightly run's write sat silent for up to 30 s.
SQLITE_WAIT_NOTICE_MS = 2_000

#: Prepared statements each SQLite connection keeps (Python's `cached_statements`, 128 by
#: default). The store's multi-row INSERTs and IN lists are a new statement for each row
#: count, each up to hundreds of KB prepared, so a run's one connection kept gaining them
#: batch after batch: 18 MB of SQLite's memory by the end of 30,000 URLs (6 MB at 16), and
#: 100,000 URLs peaked at 336 MB (300 MB at 16) with the same CPU (bench/RESULTS.md).
SQLITE_CACHED_STATEMENTS = 16

log = logging.getLogger(__name__)

#: When this thread's statements stop waiting for another process's lock (`waiting_until`),
#: as a `time.monotonic()` time; None: the usual busy timeout.
_DEADLINE: ContextVar[float | None] = ContextVar("linkhealth_db_deadline", default=None)


@contextmanager
def waiting_until(deadline: float) -> Iterator[None]:
    """Statements run in this thread inside the block wait for another process's lock only
    until `deadline` (a `time.monotonic()` time; an outer block's earlier one stays), then
    fail as locked (`StoreError.locked`); past it each still gets one try, without waiting.
    For a stop, which must end in time: behind a held write lock each of its writes waited
    the whole `SQLITE_BUSY_TIMEOUT_MS`. SQLite's busy timeout and PostgreSQL's
    `lock_timeout` are cut to what is left, statement by statement."""
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left_ms(limit: int) -> int:
    """How long a statement may wait for a lock now: `limit` ms, or less inside
    `waiting_until` (0 past its deadline)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return limit
    return max(0, min(limit, int((deadline - time.monotonic()) * 1000)))


#: How long a PostgreSQL connection may take to be set up (psycopg's `connect_timeout`,
#: seconds) unless the URL gives its own: a server that accepts the connection and never
#: answers (a hung host, a firewall that swallows the replies) held every command forever.
PG_CONNECT_TIMEOUT_S = 10

#: What to do about a password with a character that ends its part of the URL.
PERCENT_ENCODE = (
    "special characters in a password must be percent-encoded (@ as %40, : as %3A, "
    "/ as %2F, # as %23, ? as %3F, % as %25)"
)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        hint = f"; {PERCENT_ENCODE}" if "@" in url else ""  # a user:password@ part
        raise StoreError(f"{masked_url(url)!r} is not a database URL ({exc}){hint}") from exc
    if parsed.host and "@" in parsed.host:
        # `user:p@ss@host`: SQLAlchemy splits at the first "@", so the rest of the password
        # would be the host, named in the driver's error ("failed to resolve host 'ss@...'").
        raise StoreError(
            f"{shown_url(parsed)!r} is not a usable database URL: its password holds an "
            f'unencoded "@"; {PERCENT_ENCODE}'
        )
    return parsed


#: Query parameters of a database URL that carry a secret: libpq takes the password there
#: too (`?password=`), psycopg the client key's (`sslpassword`).
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
#: What a hidden secret shows; SQLAlchemy percent-encodes it in a query.
_HIDDEN, _HIDDEN_IN_QUERY = "***", "%2A%2A%2A"


def without_secrets(url: URL) -> URL:
    """`url` with no password: neither its `user:password@` part nor a secret query
    parameter. For a command line printed in a report (the reader's own login applies)."""
    secret = [key for key in url.query if key.lower() in _SECRET_PARAMETERS]
    # (URL.set treats None as "unchanged": the named tuple's _replace removes it.)
    return url._replace(password=None).difference_update_query(secret)


def shown_url(url: URL | str) -> str:
    """A database URL as messages, logs and report folders name it, every password hidden
    where SQLAlchemy would take one from: `user:password@` (with an unencoded "/" or "#",
    as a password from `openssl rand -base64` has, which a pattern over the text missed)
    and the query's `password=`. A URL SQLAlchemy cannot parse goes by `masked_url`."""
    if isinstance(url, str):
        text = url
        try:
            url = make_url(text)
        except (ArgumentError, ValueError):
            return masked_url(text)
    if url.host and "@" in url.host:
        # An unencoded "@" in the password: what SQLAlchemy took for the host holds its
        # rest. The host is what follows the last "@".
        url = url.set(host=url.host.rpartition("@")[2], password=url.password or _HIDDEN)
    secret = {key: _HIDDEN for key in url.query if key.lower() in _SECRET_PARAMETERS}
    shown = url.update_query_dict(secret).render_as_string(hide_password=True)
    return shown.replace(_HIDDEN_IN_QUERY, _HIDDEN) if secret else shown


def masked_url(url: str) -> str:
    """`url` with the password of its `user:password@` part hidden, for a URL that
    SQLAlchemy cannot parse (and so cannot render without it). The password ends at the
    last "@": one it holds unencoded would otherwise show its rest."""
    return re.sub(r"^([^:/?#]+://[^:/?#@]*):.*@", r"\1:***@", url)


#: The port a PostgreSQL URL without one connects to.
PG_DEFAULT_PORT = 5432
#: Host names of this machine's own server, however a URL spells it (none: its socket).
_LOOPBACK = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
_SEARCH_PATH = re.compile(r"search_path\s*=\s*([^\s]+)")


def database_identity(url: URL | str) -> str:
    """Which database `url` names, as one text the same however the URL is spelt, for what
    belongs to one database (its reports folder, `reports.publish.report_folder`): never
    its password; for PostgreSQL not its driver, the port 5432 when none is given, this
    machine's server by one name (localhost, 127.0.0.1, ::1 or its socket:
    `catalog.transfer.same_database` finds them one server), and the schema when the URL
    chooses one (`options=-csearch_path=...`); a SQLite file by its absolute path. The
    user stays when the URL names one: PostgreSQL's default search_path is "$user",
    public, so lh_prod@db/lh and lh_test@db/lh are two datasets when each role has its
    own schema (a URL without a user connects as whoever runs the command: a name of its
    own too). Two names of one remote server (its host name and its address) stay two:
    the text says what was written, without asking the server. A text that is no URL is
    itself."""
    if isinstance(url, str):
        text = url
        try:
            url = make_url(text)
        except (ArgumentError, ValueError):
            return text
    backend = url.get_backend_name()
    file = _sqlite_file(url)
    if file is not None:
        return f"sqlite:///{file.resolve()}"
    if backend != "postgresql":
        return shown_url(without_secrets(url).set(drivername=backend))
    host = (url.host or _query_value(url, "host")).rpartition("@")[2].lower()
    user = url.username or _query_value(url, "user")
    at = f"{quote(user, safe='')}@" if user else ""
    # A host that is a folder (`?host=/var/run/postgresql`) is this machine's server by its
    # Unix socket: its reports went to a folder of their own beside localhost's.
    local = host in _LOOPBACK or host.startswith("/")
    name = f"postgresql://{at}{'localhost' if local else host}"
    port = url.port or _query_value(url, "port") or PG_DEFAULT_PORT  # libpq takes ?port= too
    name += f":{port}/{url.database or ''}"
    options = url.query.get("options")
    found = _SEARCH_PATH.search(" ".join(options) if isinstance(options, tuple) else options or "")
    return f"{name}?search_path={found[1]}" if found else name


def _query_value(url: URL, key: str) -> str:
    """The URL's query parameter `key` ("" when absent; the first when given twice)."""
    value = url.query.get(key)
    return str((value[0] if value else "") if isinstance(value, tuple) else value or "")


def _one_line(error: object) -> str:
    """A driver's message as one line: psycopg adds a tab-indented hint on a second line."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _sqlite_file(parsed: URL) -> Path | None:
    """The file a SQLite URL names; None for other databases, memory and `file:` URIs."""
    db = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if db and db != ":memory:" and not db.startswith("file:"):
        return Path(db)
    return None


def sqlite_file_of(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases (and memory, `file:` URIs)."""
    return _sqlite_file(_parse(url))


#: Every engine `open_engine` made and not yet let go, for `close_engines`.
_OPENED_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def open_engine(url: str, *, migrate: bool = True) -> Engine:
    """An engine for `url`, with the schema brought up to date when `migrate`."""
    parsed = _parse(url)
    kwargs: dict[str, Any] = {}
    file = None
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed)
        if file is not None:
            _make_folder(file)
        kwargs["connect_args"] = {
            "timeout": _first_wait_ms() / 1000,
            "factory": _WaitingConnection,
            "cached_statements": SQLITE_CACHED_STATEMENTS,
        }
    elif parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_driver_name() == "psycopg" and "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **kwargs)
    except ImportError as exc:  # the driver of an optional extra
        hint = (
            "; install the PostgreSQL driver: pip install -e '.[postgres]'"
            if parsed.get_backend_name() == "postgresql"
            else ""
        )
        raise StoreError(
            f"cannot open database {shown_url(parsed)}: {_one_line(exc)}{hint}"
        ) from exc
    except Exception as exc:
        hint = (
            "; write postgresql+psycopg:// (SQLAlchemy does not know postgres://)"
            if parsed.get_backend_name() == "postgres"
            else ""
        )
        raise StoreError(
            f"cannot open database {shown_url(parsed)}: {_one_line(exc)}{hint}"
        ) from exc
    if engine.dialect.is_async:
        engine.dispose()
        raise StoreError(
            f"cannot open database {shown_url(parsed)}: {parsed.drivername} is an asyncio driver; "
            "name a synchronous one, e.g. postgresql+psycopg:// or sqlite:///"
        )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        # First: before the dialect's own setup on the first connection, which a SQL_ASCII
        # database crashed.
        event.listen(engine, "connect", _postgresql_utf8(engine.url), insert=True)
        event.listen(engine, "connect", _postgresql_settings)
        event.listen(engine, "before_cursor_execute", _postgresql_deadline)
    event.listen(engine, "handle_error", _unreachable)
    _OPENED_ENGINES.add(engine)
    if migrate:
        _migrate_on_first_use(engine)
    if file is not None:
        _remember_file(engine, file)
    return engine


#: The one missing folder made for a new SQLite file: linkhealth's own, where its defaults
#: are (`var/linkhealth.db`) and the README's trial goes (`sqlite:///var/trial.db`).
MADE_FOLDER = "var"


def _folder_made(folder: Path) -> bool:
    """Whether `open_engine` would make the missing `folder` for a new SQLite file."""
    return folder.name == MADE_FOLDER and not folder.exists() and folder.parent.is_dir()


def _make_folder(file: Path) -> None:
    """The folder of SQLite `file` made when it is a missing `MADE_FOLDER` in a folder that
    exists; any other missing folder is a mistyped path, refused (exit 2): `sync` and
    `check` made every folder of it, and filled a database there nobody would look in,
    while the commands that read said "no database at" it."""
    folder = file.parent
    if folder.is_dir():
        return
    if _folder_made(folder):
        folder.mkdir(exist_ok=True)
        return
    where = folder.resolve()
    problem = "is a file, not a folder" if folder.exists() else "does not exist"
    if "~" in file.parts:  # no shell stands between a URL and its path
        fix = "a URL's ~ is no home folder: write the whole path (/home/NAME/...)"
    elif defaults := _defaults_dir_blamed(file):
        fix = f"{defaults}, or create the folder first (mkdir -p {where})"
    else:
        fix = (
            "correct the path that --db, --to, LINKHEALTH_DATABASE_URL or database_url "
            f"names, or create the folder first (mkdir -p {where}): linkhealth makes only a "
            f"missing {MADE_FOLDER}/ folder"
        )
    raise ConfigError(f"database file {file.resolve()}: its folder {where} {problem}; {fix}")


def _defaults_dir_blamed(file: Path) -> str | None:
    """What to correct when SQLite `file` is the default database that LINKHEALTH_DEFAULTS_DIR
    put in its folder, or None: that path is none the user typed, and blaming --db or
    database_url had them look for a setting they never made."""
    # Imported here: catalog.settings imports this module's helpers lazily in turn.
    from catalog.settings import DEFAULTS_DIR_ENV, default_database_url

    folder = os.environ.get(DEFAULTS_DIR_ENV)
    default = sqlite_file_of(default_database_url())
    if not folder or default is None or default.resolve() != file.resolve():
        return None
    return (
        f"it is the default database, in the folder {DEFAULTS_DIR_ENV} names "
        f"({Path(folder).resolve()}): correct {DEFAULTS_DIR_ENV}"
    )


def migrate_engine(engine: Engine) -> str | None:
    """Bring the schema of `engine` (one `open_engine` made) up to date: the revision it
    migrated from, read under the migration's lock, or None when there was nothing to do
    (`catalog.migrate.upgrade`). A database that cannot be opened is a `StoreError`."""
    from catalog.migrate import upgrade

    try:
        return upgrade(engine)
    except (IntegrityError, ProgrammingError):
        raise  # a migration's own bug: its traceback is what a developer needs
    except DatabaseError as exc:  # unreachable server, locked file, not a database...
        raise StoreError(_cannot_open(engine.url, exc.orig)) from exc


def _migrate_on_first_use(engine: Engine) -> None:
    """`migrate_engine`, saying on stderr what it migrated (`upgraded_on_first_use`): once,
    since a database at the newest revision has nothing to migrate. A new database's
    tables (revision "none") are made without a word: nothing in it to back up."""
    from catalog.migrate import upgraded_on_first_use

    before = migrate_engine(engine)
    if before is not None and before != "none":
        print(upgraded_on_first_use(engine.url, before), file=sys.stderr, flush=True)


def _cannot_open(url: URL, error: BaseException | None) -> str:
    """Why the database at `url` cannot be opened. SQLite says "unable to open database
    file" alike for a folder where the file should be and for a file in a read-only
    folder (WAL needs its -wal and -shm files beside it), so those are told apart here."""
    said = f"cannot open database {shown_url(url)}: {_one_line(error)}"
    file = _sqlite_file(url)
    why = _sqlite_unusable(error) if file is not None else None
    if why is not None:
        return f"database {shown_url(url)} {why}"
    if file is None or not file.exists():
        return said
    if file.is_dir():
        return f"{said}; {file} is a folder, not a SQLite file: point --db at the file in it"
    folder = file.resolve().parent
    if not os.access(folder, os.W_OK) or not os.access(file, os.W_OK):
        return (
            f"{said}; the file or its folder {folder} is read-only: make both writable "
            "(SQLite writes -wal and -shm files beside the file)"
        )
    return said


def _unreachable(context: ExceptionContext) -> None:
    """The database could not be reached, or went away in the middle of a run: one line
    naming it (a `StoreError`, which the CLI prints and the flows fail with) instead of
    the driver's traceback. Any other database error goes on as it was."""
    orig, engine = context.original_exception, context.engine
    if engine is None or not isinstance(orig, context.dialect.loaded_dbapi.Error):
        return
    if context.connection is None:
        raise StoreError(_cannot_open(engine.url, orig))
    if context.is_disconnect:
        raise StoreError(
            f"lost the connection to database {shown_url(engine.url)}: {_one_line(orig)}"
        )
    if _DEADLINE.get() is not None and _lock_wait_ended(orig):
        raise StoreError(
            f"database {shown_url(engine.url)} {_LOCKED_PAST_DEADLINE}",
            fault=f"database {shown_url(engine.url)} {_LOCKED_PAST_DEADLINE}",
            locked=True,
        )
    if _lock_wait_ended(orig) and not isinstance(orig, sqlite3.Error):
        held = (
            f"is locked: another session held a lock on what this write changes for over "
            f"{PG_LOCK_TIMEOUT_MS // 1000} s (a `psql` session left inside a transaction? end "
            "it with COMMIT or ROLLBACK)"
        )
        raise StoreError(
            f"database {shown_url(engine.url)} {held}{_KEPT}",
            fault=f"database {shown_url(engine.url)} {held}",
            locked=True,
        )
    why = _sqlite_unusable(orig)
    if why is not None:
        primary = getattr(orig, "sqlite_errorcode", 0) & 0xFF
        raise (ReadOnlyDatabaseError if primary == _SQLITE_READONLY else StoreError)(
            f"database {shown_url(engine.url)} {why}",
            fault=f"database {shown_url(engine.url)} {why.partition(_KEPT)[0]}",
            locked=primary in (_SQLITE_BUSY, _SQLITE_LOCKED),
        )


#: A lock that `waiting_until`'s deadline ended the wait for: the caller says what it
#: gave up (no "run the command again": a stop is no command to run again).
_LOCKED_PAST_DEADLINE = (
    "is locked: another process holds a write transaction on it (a run, a recheck, a "
    "`sqlite3` or `psql` session left inside a transaction?) and the time this step may "
    "wait for it ran out"
)
#: PostgreSQL's lock_not_available (a `lock_timeout` ran out).
_PG_LOCK_TIMEOUT = "55P03"


def _lock_wait_ended(error: BaseException) -> bool:
    """Whether `error` is a statement that gave up waiting for another's lock: SQLite's
    busy, PostgreSQL's `lock_timeout`."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return getattr(error, "sqlstate", None) == _PG_LOCK_TIMEOUT


#: Primary SQLite result codes (https://sqlite.org/rescode.html) of a database file that
#: cannot be written now, whatever the statement: the file's state, not a bug of ours.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = 5, 6, 8, 10, 13
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


#: How the locked database's sentence ends: true of one write, not of a run that lost
#: batches (`StoreError.fault` is the sentence without it).
_KEPT = "; what was stored before is kept, run the command again"


def _sqlite_unusable(error: BaseException | None) -> str | None:
    """What an operator must do about a SQLite file that is locked, read-only or on a
    full disk; None for any other error. Without it a curator's `sqlite3` shell left in
    a transaction, or a full disk, ends a nightly run with a driver traceback."""
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.Error) or not isinstance(code, int):
        return None
    primary = code & 0xFF
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return (
            f"is locked: another process held a write transaction on it for over "
            f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s (a `sqlite3` shell inside BEGIN? end it with "
            f"COMMIT or ROLLBACK){_KEPT}"
        )
    if primary == _SQLITE_READONLY:
        return (
            f"is read-only ({_one_line(error)}); make the file and its folder writable "
            "(SQLite writes -wal and -shm files beside it)"
        )
    if primary == _SQLITE_FULL:
        return (
            f"cannot be written, the disk is full ({_one_line(error)}); free space on its "
            "file system and run the command again: the write that failed was rolled back, "
            "nothing stored before it is lost"
        )
    if primary == _SQLITE_IOERR:
        return f"hit a disk I/O error ({_one_line(error)}); check its file system"
    if primary == _SQLITE_NOTADB:
        return _not_a_database(error)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        # A damaged page is only met when a query reads it, so the schema check on opening
        # passes and a report or a run's planning ended in a driver traceback.
        return (
            f"is damaged ({_one_line(error)}); restore it from a backup, or salvage what it "
            "holds with `sqlite3 FILE .recover | sqlite3 NEW-FILE`"
        )
    return None


def _not_a_database(error: sqlite3.Error) -> str:
    """SQLite's "file is not a database": mostly a path naming some other file (a catalog
    given as --db), which "damaged, restore it from a backup" sent looking for backups."""
    return (
        f"is not a SQLite database ({_one_line(error)}): check the path that --db, "
        "LINKHEALTH_DATABASE_URL or database_url names (another file, a catalog?); if it "
        "is the database, its header is damaged: restore it from a backup"
    )


_POINT_ELSEWHERE = (
    "or point --db, LINKHEALTH_DATABASE_URL or database_url in the settings file "
    "(linkhealth.toml, or the one --config names) at the one you have"
)


def existing_database(url: str) -> str:
    """`url`, once it is known to name a database that exists. Commands that only read
    call it first: run from the wrong folder, they would create an empty SQLite file there
    (or linkhealth's tables in an empty PostgreSQL database) and report "no runs yet"
    instead of saying where they looked."""
    parsed = _parse(url)
    file = _sqlite_file(parsed)
    if file is not None and file.is_dir():
        raise StoreError(
            f"{file.resolve()} is a folder, not a SQLite database file; name the file in it, "
            f"{_POINT_ELSEWHERE}"
        )
    if file is not None and not file.is_file():
        folder = file.resolve().parent
        if not folder.is_dir() and not _folder_made(folder):
            # `linkhealth check` refuses to make it there too (`_make_folder`).
            problem = "is a file, not a folder" if folder.exists() else "does not exist either"
            fix = _defaults_dir_blamed(file) or "correct the path"
            raise NoDatabaseError(
                f"no database at {file.resolve()}: its folder {folder} {problem}; {fix}, "
                f"{_POINT_ELSEWHERE}"
            )
        raise NoDatabaseError(
            f"no database at {file.resolve()}; `linkhealth check` creates it, {_POINT_ELSEWHERE}"
        )
    if parsed.get_backend_name() != "sqlite" and not _holds_our_tables(url):
        raise NoDatabaseError(
            f"database {shown_url(parsed)} holds no linkhealth data yet; `linkhealth check` "
            f"creates its tables, {_POINT_ELSEWHERE}"
        )
    return url


def refuse_unusable_server(url: str) -> None:
    """Connect once to a database server's `url`, so one that does not answer, or a database
    linkhealth cannot use (not UTF8), is refused before a check starts its Prefect server:
    `linkhealth check` started one (seconds), left it running, then failed on the first
    write. A SQLite file is made on first use and is not touched here."""
    if _parse(url).get_backend_name() == "sqlite":
        return
    engine = open_engine(url, migrate=False)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def _holds_our_tables(url: str) -> bool:
    engine = open_engine(url, migrate=False)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("runs")
    except DatabaseError as exc:  # unreachable server, unknown database, bad password...
        raise StoreError(
            f"cannot open database {shown_url(engine.url)}: {_one_line(exc.orig)}"
        ) from exc
    finally:
        engine.dispose()


def engine_for(url: str) -> Engine:
    """One engine per database per process, so migrations are checked once."""
    return _cached_engine(absolute_sqlite_url(url))


@contextmanager
def engine_to_read(url: str) -> Iterator[tuple[Engine, HeldOff | None]]:
    """`engine_for(url)`, migrated as for any command, unless a run in progress holds the
    migration off (`catalog.migrate.held_off`): then an engine on the schema as it is,
    with why, for a command that only reads and is what an operator runs to see that run
    (`linkhealth status` after a `git pull` in the middle of the night). Its reads of
    columns the old schema lacks fail: `catalog.migrate.missing_columns` tells which."""
    from catalog.migrate import UpgradeRefusedError, held_off

    as_is = open_engine(url, migrate=False)
    try:
        held, engine = held_off(as_is), as_is
        if held is None:
            try:
                engine = engine_for(url)
            except UpgradeRefusedError as exc:  # a run started since `held_off` looked
                held = exc.held
        yield engine, held
    finally:
        as_is.dispose()


#: The SQLite file each engine opened, as (path, device, inode) (`ensure_same_file`).
_OPENED: weakref.WeakKeyDictionary[Engine, tuple[Path, int, int]] = weakref.WeakKeyDictionary()


def _remember_file(engine: Engine, file: Path) -> None:
    with suppress(OSError):
        found = file.stat()
        _OPENED[engine] = (file, found.st_dev, found.st_ino)


def same_file(engine: Engine) -> bool:
    """False when the SQLite file `engine` opened was deleted or replaced since (a backup
    restored, the file moved away); True for other databases."""
    known = _OPENED.get(engine)
    if known is None:
        return True
    file, device, inode = known
    try:
        found = file.stat()
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (device, inode)


def ensure_same_file(engine: Engine) -> None:
    """Raise `StoreError` when `same_file` is False. SQLite's open descriptors go on
    writing into a deleted file: a run whose file was removed mid-way completed (exit 0)
    with everything it stored gone."""
    if not same_file(engine):
        file = _OPENED[engine][0]
        raise StoreError(
            f"database file {file} was deleted or replaced while this command used it: what "
            "it stored since went into the old file, which nothing can read now; restore the "
            "file (or keep the one now there), then run the command again"
        )


def fresh_engine_for(url: str) -> Engine:
    """`engine_for`, reopened when its SQLite file was deleted or replaced since it was
    opened (a long-lived `serve` would otherwise start each run in the old file)."""
    engine = engine_for(url)
    if same_file(engine):
        return engine
    _cached_engine.cache_clear()
    engine.dispose()
    return engine_for(url)


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    return open_engine(url)


def close_engines() -> None:
    """Close the pooled connections of every engine still open, as a command ends (done
    by the collector's last passes before `catalog.collector.collector_done`). SQLite
    checkpoints its write-ahead log into the database file as the last connection closes
    and removes the `-wal` file: a copy of the file alone then holds everything."""
    for engine in list(_OPENED_ENGINES):
        engine.dispose()


def forget_connections_after_fork(engine: Engine) -> None:
    """In a forked child: drop the parent's pooled connections without closing them (they
    are the parent's), so the child opens its own ("Using Connection Pools with
    Multiprocessing or os.fork()" in SQLAlchemy's documentation)."""
    engine.dispose(close=False)


def absolute_sqlite_url(url: str) -> str:
    """`sqlite:///var/x.db` means ./var/x.db *now*; pin it before the cwd changes (any
    driver's spelling: `relative_sqlite_path`)."""
    from catalog.settings import relative_sqlite_path  # which imports this module in turn

    relative = relative_sqlite_path(url)
    if relative is None:
        return url
    prefix, path = relative
    return prefix + str(Path(path).resolve())


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # A plain cursor: `_enable_wal` waits in a loop of its own (`_WaitingConnection` would
    # say "waiting" at each turn).
    cur = sqlite3.Cursor(dbapi_conn)
    _enable_wal(cur)
    cur.execute(f"PRAGMA busy_timeout={_first_wait_ms()}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


#: The one server encoding linkhealth stores its text in.
PG_ENCODING = "UTF8"


def _postgresql_utf8(url: URL) -> Callable[[Any, Any], None]:
    """A "connect" listener refusing the database at `url` when its encoding is not UTF8.
    Catalogs and pages hold text in any language: a LATIN1 database took the schema and
    ASCII entries, then the first title with an em dash failed its write with
    UnicodeEncodeError (a sync lost, a night's run left "abandoned"), and a SQL_ASCII one
    (what `createdb` makes on a cluster initialised under the C/POSIX locale) crashed
    every command in SQLAlchemy's setup. No round trip: the server reports its encoding
    as the connection starts."""

    def refuse_other_encodings(dbapi_conn: Any, _record: Any) -> None:
        info = getattr(dbapi_conn, "info", None)
        status = getattr(info, "parameter_status", None)
        encoding = status("server_encoding") if callable(status) else None
        if not encoding or encoding.upper() == PG_ENCODING:
            return
        dbapi_conn.close()  # SQLAlchemy 2.0 leaves a connection its listener refused open
        raise StoreError(
            f"database {shown_url(url)} is encoded {encoding}, not {PG_ENCODING}, so it "
            "cannot store titles and pages in every language: create a UTF8 database "
            "(createdb -E UTF8 -T template0 NAME) and point --db, LINKHEALTH_DATABASE_URL "
            "or database_url at it"
        )

    return refuse_other_encodings


#: The first PostgreSQL with `jit` (server_version_num).
_PG_JIT_SINCE = 110_000


def _postgresql_settings(dbapi_conn: Any, _record: Any) -> None:
    """JIT off for this session. PostgreSQL compiles a query with LLVM when its estimated
    cost passes `jit_above_cost`, which the report's reads of every resource and link do
    from a few thousand resources on: at 100,000 it spent ~1 s compiling each of them, more
    than running it (EXPLAIN ANALYZE: 2.9 s of JIT in a 2.6 s query run by three
    workers), for queries run once a night. Committed, so the setting outlives the
    connection's first transaction."""
    version = getattr(getattr(dbapi_conn, "info", None), "server_version", 0)
    if not isinstance(version, int) or version < _PG_JIT_SINCE:
        return
    cur = dbapi_conn.cursor()
    cur.execute("SET jit = off")
    cur.close()
    dbapi_conn.commit()


def _postgresql_deadline(
    _conn: Any, cursor: Any, _statement: Any, _parameters: Any, _context: Any, _many: bool
) -> None:
    """Inside `waiting_until`, the statement's wait for a lock (`write_session`'s advisory
    lock, a migration's table lock) cut to what is left, for the rest of its transaction.
    At least 1 ms: a `lock_timeout` of 0 waits forever. Not `statement_timeout`: a
    statement that runs rather than waits ends by itself, and past the deadline it would
    be cancelled before its one try."""
    if _DEADLINE.get() is None:
        return
    # Not in a transaction that failed: there the call itself errs first, and a `ROLLBACK
    # TO SAVEPOINT` that would recover it raised InFailedSqlTransaction instead.
    info = getattr(cursor.connection, "info", None)
    if info is not None and info.transaction_status == _PG_IN_ERROR:
        return
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true)", (f"{max(_left_ms(2**31 - 1), 1)}ms",)
    )


#: psycopg's `TransactionStatus.INERROR`: a transaction a statement failed in.
_PG_IN_ERROR = 3


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One short transaction: commit on success, roll back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def _enable_wal(cur: Any) -> None:
    """Switch to WAL, waiting out other openers of a brand-new file.

    WAL is stored in the file, so this only changes anything the first time. But that first
    switch takes an exclusive lock and SQLite reports "database is locked" at once, without
    its busy handler, when several processes create the same database together (the nightly
    flow and a curator's command on a fresh install; CI caught it).
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wal_checkpoint(conn: Connection) -> tuple[int, int, int]:
    """`PRAGMA wal_checkpoint(TRUNCATE)` with the whole busy timeout, and its result (busy,
    log frames, checkpointed). A checkpoint that cannot get its lock reports "busy" in its
    result instead of failing, so `_WaitingConnection`'s split wait never gave it the rest:
    behind a reader of over 2 s a prune's -wal file, a whole copy of the database after
    VACUUM, stayed on the disk."""
    conn.exec_driver_sql(f"PRAGMA busy_timeout={_left_ms(SQLITE_BUSY_TIMEOUT_MS)}")
    try:
        busy, frames, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={_first_wait_ms()}")
    return int(busy), int(frames), int(done)


def _first_wait_ms() -> int:
    """The busy timeout a SQLite connection starts with: until `SQLITE_WAIT_NOTICE_MS`."""
    return min(SQLITE_WAIT_NOTICE_MS, SQLITE_BUSY_TIMEOUT_MS)


def _busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY itself: another connection holds the lock and waiting may help. Not its
    extended codes (a stale WAL snapshot, a recovery), which waiting does not cure."""
    return getattr(error, "sqlite_errorcode", None) == _SQLITE_BUSY


class _WaitingConnection(sqlite3.Connection):
    """A SQLite connection that says what it waits for. Python's sqlite3 has no busy
    handler of our own and its progress handler is not called while SQLite sleeps on a
    lock, so the busy timeout is split: a statement (or COMMIT) still busy after
    `SQLITE_WAIT_NOTICE_MS` fails inside SQLite with nothing done (SQLite waits only
    before a statement takes its lock), is said on stderr, and is run again with the rest
    of `SQLITE_BUSY_TIMEOUT_MS`. A statement that takes its lock in time costs a Python
    call and a clock read more; no thread, no polling. Inside `waiting_until` both waits
    are cut to what is left before its deadline (a PRAGMA more per statement)."""

    def cursor(self, factory: Any = None) -> Any:  # type: ignore[override]
        return super().cursor(factory or _WaitingCursor)

    def commit(self) -> None:
        # SQLite keeps the transaction open after a busy COMMIT: run again, it commits.
        self._waiting(super().commit)

    def _waiting(self, statement: Callable[[], _T]) -> _T:
        """`statement` run as the class says: again, once said, when busy past the first
        wait."""
        first = _left_ms(_first_wait_ms())
        bounded = first != _first_wait_ms()  # inside `waiting_until`: a wait of its own
        if bounded:
            self._busy_timeout(first)
        started = time.monotonic()
        try:
            try:
                return statement()
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or not self._waiting_longer(started, first):
                    raise
                bounded = True
                return statement()
        finally:
            if bounded:
                self._busy_timeout(_first_wait_ms())

    def _waiting_longer(self, started: float, first: int) -> bool:
        """Say what this connection waits for and give it the rest of the busy timeout;
        False when there is none left (a test's short timeout, `waiting_until`'s deadline),
        or SQLite did not wait at all (`started` is when the statement began, `first` the
        ms it could wait): a write in a transaction that has read already is busy at once,
        as it always was (SQLite cannot wait there)."""
        rest = _left_ms(SQLITE_BUSY_TIMEOUT_MS - _first_wait_ms())
        if rest <= 0 or time.monotonic() - started < first / 2000:
            return False
        log.warning("%s", _waiting_for(self, in_all_ms=first + rest))
        self._busy_timeout(rest)
        return True

    def _busy_timeout(self, ms: int) -> None:
        sqlite3.Cursor(self).execute(f"PRAGMA busy_timeout={ms}").close()


class _WaitingCursor(sqlite3.Cursor):
    """`_WaitingConnection`'s cursor: `execute` and `executemany` wait as it says."""

    connection: _WaitingConnection

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        return self.connection._waiting(
            lambda: super(_WaitingCursor, self).execute(sql, parameters)
        )

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        # Run again, a one-pass iterator would have lost its first rows (SQLAlchemy's
        # are lists).
        rows = (
            seq_of_parameters
            if isinstance(seq_of_parameters, list | tuple)
            else list(seq_of_parameters)
        )
        if self.connection.isolation_level is None and len(rows) > 1:
            # Autocommit: each row commits alone, so a busy one past the first would have
            # the rows before it applied twice by running them all again (no caller does).
            return super().executemany(sql, rows)
        return self.connection._waiting(lambda: super(_WaitingCursor, self).executemany(sql, rows))


def _waiting_for(conn: sqlite3.Connection, *, in_all_ms: int) -> str:
    """What a connection busy on its database's lock waits for: the file, the runs recorded
    in progress on it (none named when none is, or they cannot be read now), and how long
    it waits in all (`in_all_ms`: less than the busy timeout inside `waiting_until`)."""
    file = _main_file(conn)
    shown = _shown_path(file) if file else "(in memory)"
    runs = _runs_in_progress(file) if file else []
    who = _runs_named(runs, "a curator's command, or a `sqlite3` shell?")
    return (
        f"waiting for the database {shown}: another process is writing to it {who}; "
        f"waiting up to {math.ceil(in_all_ms / 1000)} s in all..."
    )


def _runs_named(runs: list[int], otherwise: str) -> str:
    """ "(run 12 in progress, see `linkhealth status`)", or what else may be writing."""
    if not runs:
        return f"(no other run is recorded in progress: {otherwise})"
    named = f"run {runs[0]}" if len(runs) == 1 else f"runs {', '.join(map(str, runs))}"
    return f"({named} in progress, see `linkhealth status`)"


#: How long a statement of a PostgreSQL write transaction waits for a lock another session
#: holds on what it writes (a row a `psql` session left inside a transaction updated)
#: before it fails as locked, with nothing of the transaction written: as long as a SQLite
#: one waits for its file's lock (`SQLITE_BUSY_TIMEOUT_MS`). Not the wait for another
#: linkhealth writer's advisory lock (`postgresql_write_lock`), which lasts as long as that
#: writer writes.
PG_LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS

#: How long a PostgreSQL writer waits for another's write lock (`postgresql_write_lock`)
#: before it says so on stderr, once, and waits on: as long as a SQLite one
#: (`SQLITE_WAIT_NOTICE_MS`), so the short waits behind a run's batches say nothing.
PG_WAIT_NOTICE_MS = 2_000


def postgresql_write_lock(conn: Connection, key: int) -> None:
    """Take the transaction-scoped advisory lock `key` on `conn` (released at commit or
    rollback), as `pg_advisory_xact_lock` does, but say what it waits for once the wait
    passes `PG_WAIT_NOTICE_MS`: behind another linkhealth writer (a nightly run's batch, a
    long sync) a command sat silent for as long as that writer wrote, where SQLite's says
    so (`_WaitingConnection`).

    One try first, so a write nobody holds up starts no thread. Then queued at once with
    the blocking call, never polled: a poller is not in PostgreSQL's lock queue, so a
    writer that commits and locks again at once (a run's batches, `db prune`'s chunks) got
    the lock back ahead of it, again and again. The notice comes from a timer thread,
    silenced when the lock is granted or refused. Inside `waiting_until` the blocking call
    fails as locked at the deadline (`_postgresql_deadline`'s `lock_timeout`); a deadline
    closer than the notice waits without one, as it always did.

    Once it holds the lock, the transaction's other lock waits (for a row another session
    holds) are bounded by `PG_LOCK_TIMEOUT_MS` (`SET LOCAL lock_timeout`), set with the
    first try: no round trip more when the lock is free."""
    params = {"key": key, "timeout": f"{PG_LOCK_TIMEOUT_MS}ms"}
    # The lock taken and, when it is, the rest of the transaction's lock waits bounded
    # (`PG_LOCK_TIMEOUT_MS`), in one round trip; CASE runs set_config only once locked.
    taken = conn.execute(
        sql_text(
            "SELECT CASE WHEN pg_try_advisory_xact_lock(:key) "
            "THEN set_config('lock_timeout', :timeout, true) END"
        ),
        params,
    ).scalar_one()
    if taken is not None:
        return
    deadline = _DEADLINE.get()
    notice_s = PG_WAIT_NOTICE_MS / 1000
    if deadline is not None and deadline - time.monotonic() <= notice_s:
        conn.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), params)
    else:
        notice = _PostgresqlWaitNotice(conn.engine, deadline)
        timer = threading.Timer(notice_s, notice.say)
        timer.daemon = True  # a waiter Ctrl-C'd out of a wait never holds the exit up
        timer.start()
        try:
            conn.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), params)
        finally:
            notice.silence()
            timer.cancel()
    conn.execute(sql_text("SELECT set_config('lock_timeout', :timeout, true)"), params)


class _PostgresqlWaitNotice:
    """The one line `postgresql_write_lock` says from its timer thread, never after the
    waiter got (or gave up) the lock: the sentence is made (a query of the runs in
    progress, up to a second) before the check, and the check and the line are under one
    lock with `silence`."""

    def __init__(self, engine: Engine, deadline: float | None) -> None:
        self.engine, self.deadline = engine, deadline
        self._lock = threading.Lock()
        self._silenced = False

    def say(self) -> None:
        left_ms = None
        if self.deadline is not None:
            left_ms = int((self.deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                return
        sentence = _postgresql_waiting_for(self.engine, left_ms)
        with self._lock:
            if not self._silenced:
                log.warning("%s", sentence)

    def silence(self) -> None:
        with self._lock:
            self._silenced = True


def postgresql_lock_waits_said(conn: Connection) -> AbstractContextManager[None]:
    """Around a write transaction holding the write lock (`postgresql_write_lock`): once it
    has waited `PG_WAIT_NOTICE_MS` for a lock another session holds (a row a `psql`
    session left inside a transaction updated), say so on stderr, naming that session, as
    SQLite does (`_WaitingConnection`); `PG_LOCK_TIMEOUT_MS` later the statement fails as
    locked (`_unreachable`). Such a wait sat silent for as long as the session stayed open.
    No round trip and no thread of its own: the process's one `_LockWatch` thread looks,
    from another connection, only at transactions open for `PG_WAIT_NOTICE_MS` already."""
    info = getattr(conn.connection.dbapi_connection, "info", None)
    pid = getattr(info, "backend_pid", None)
    if not isinstance(pid, int):  # a driver that does not say (linkhealth's is psycopg)
        return nullcontext()
    return _LOCK_WATCH.watching(conn.engine, pid, _DEADLINE.get())


class _Watched:
    """A write transaction `_LockWatch` looks at: its server process `pid`, when to look
    next (`due`), the `waiting_until` deadline it runs under, and whether it is over or
    said (`done`; checked and set under `lock`, so nothing is said once it is over)."""

    def __init__(self, engine: Engine, pid: int, deadline: float | None) -> None:
        self.engine, self.pid, self.deadline = engine, pid, deadline
        self.due = time.monotonic() + PG_WAIT_NOTICE_MS / 1000
        self.lock = threading.Lock()
        self.done = False

    def look(self) -> None:
        """Say what the transaction waits for, once, when it waits for another session."""
        left_ms = PG_LOCK_TIMEOUT_MS
        if self.deadline is not None:
            left_ms = int((self.deadline - time.monotonic()) * 1000)
        if self.done or left_ms <= 0:
            return
        blockers = _postgresql_blockers(self.engine, self.pid)
        if not blockers:
            return
        sentence = (
            f"waiting for the database {shown_url(self.engine.url)}: another session holds a "
            f"lock on what this write changes ({'; '.join(blockers)}: a `psql` session left "
            "inside a transaction? end it with COMMIT or ROLLBACK); waiting up to "
            f"{math.ceil(left_ms / 1000)} s in all..."
        )
        with self.lock:
            if not self.done:
                log.warning("%s", sentence)
                self.done = True

    def end(self) -> None:
        with self.lock:
            self.done = True


class _LockWatch:
    """One daemon thread per process that looks at each open PostgreSQL write transaction
    every `PG_WAIT_NOTICE_MS` once it has lasted that long (`_Watched.look`). A write only
    adds itself to a set: a thread (a timer) per transaction, or waking this one for each,
    made every write ~0.2 ms (half) slower on a local server. So the thread looks every
    second (every half `PG_WAIT_NOTICE_MS` when that is shorter: a notice comes 2-3 s into
    a wait), and ends once no transaction has been open for `_LOCK_WATCH_IDLE_S`; the next
    write starts another."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open: set[_Watched] = set()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, engine: Engine, pid: int, deadline: float | None) -> Iterator[None]:
        watched = _Watched(engine, pid, deadline)
        with self._cond:
            self._open.add(watched)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="linkhealth-lock-watch", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            watched.end()
            with self._cond:
                self._open.discard(watched)

    def _run(self) -> None:
        try:
            while (due := self._due()) is not None:
                for watched in due:
                    watched.look()
        finally:  # a bug's exception ends the thread too: the next write starts another
            with self._cond:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _due(self) -> list[_Watched] | None:
        """The transactions to look at now (each then due again `PG_WAIT_NOTICE_MS`
        later), once there are any, looking every half `PG_WAIT_NOTICE_MS` (at most a
        second); None when none has been open for `_LOCK_WATCH_IDLE_S`: the thread ends."""
        with self._cond:
            idle_until = time.monotonic() + _LOCK_WATCH_IDLE_S
            while True:
                now = time.monotonic()
                if self._open:
                    idle_until = now + _LOCK_WATCH_IDLE_S
                elif now >= idle_until:
                    self._thread = None
                    return None
                due = [w for w in self._open if w.due <= now]
                if due:
                    for watched in due:
                        watched.due = now + PG_WAIT_NOTICE_MS / 1000
                    return due
                self._cond.wait(min(PG_WAIT_NOTICE_MS / 2000, 1.0))


#: How long `_LockWatch`'s thread stays with no write transaction open before it ends.
_LOCK_WATCH_IDLE_S = 60

_LOCK_WATCH = _LockWatch()


def _new_lock_watch_after_fork() -> None:
    """In a forked child: a watch of its own (the parent's thread is not in the child, and
    its condition may have been held as it forked)."""
    global _LOCK_WATCH
    _LOCK_WATCH = _LockWatch()


os.register_at_fork(after_in_child=_new_lock_watch_after_fork)


def _postgresql_blockers(engine: Engine, pid: int) -> list[str]:
    """The sessions whose locks server process `pid` waits for, each as "session 4242
    (psql, idle in transaction)" (what `pg_stat_activity` shows this role of it), read on
    a connection of their own within a second; [] when it waits for none, or they cannot
    be read."""
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(sql_text("SET LOCAL statement_timeout = 1000"))
            rows = conn.execute(
                sql_text(
                    "SELECT b.pid, b.application_name, b.state FROM pg_stat_activity AS w "
                    "CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid) "
                    "JOIN pg_stat_activity AS b ON b.pid = blocker.pid "
                    "WHERE w.pid = :pid AND w.wait_event_type = 'Lock' ORDER BY b.pid"
                ),
                {"pid": pid},
            ).all()
    except Exception:  # only a notice: the wait goes on regardless, bounded by lock_timeout
        return []
    named = []
    for blocker, application, state in rows:
        detail = ", ".join(part for part in (application, state) if part)
        named.append(f"session {blocker} ({detail})" if detail else f"session {blocker}")
    return named


def _postgresql_waiting_for(engine: Engine, left_ms: int | None) -> str:
    """What a PostgreSQL writer waits for: the database (its password hidden), the runs
    recorded in progress on it, and how long it waits (`left_ms`: inside `waiting_until`,
    what is left; None: as long as the other writer writes). The other writer may be a
    thread of this very process (a run's batch store behind its own lease write), hence
    no "another process"."""
    runs = _postgresql_runs_in_progress(engine)
    who = _runs_named(
        runs, "a curator's command (sync, recheck, a decision), or another thread of this process?"
    )
    until = (
        f"waiting up to {math.ceil(left_ms / 1000)} s in all..."
        if left_ms is not None
        else "waiting until it is done..."
    )
    return (
        f"waiting for the database {shown_url(engine.url)}: another linkhealth writer holds "
        f"its write lock {who}; {until}"
    )


def _postgresql_runs_in_progress(engine: Engine) -> list[int]:
    """The ids of the runs still alive (`store.live_runs`) but this process's own, read on
    a connection of their own (the waiting one is in its transaction), within a second.
    [] when they cannot be read."""
    from catalog import store
    from catalog.clock import utcnow
    from catalog.runs import LEASE_TTL

    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(sql_text("SET LOCAL statement_timeout = 1000"))
            return _not_mine(store.live_runs(conn, now=utcnow(), quiet_for=LEASE_TTL))
    except Exception:  # only a sentence's detail: waiting goes on regardless
        return []


def _not_mine(live: Sequence[LiveRun]) -> list[int]:
    """The ids of `live` runs (`store.LiveRun`) but this process's own (its holder is
    "HOST:PID ..."): it is the waiter."""
    me = f"{socket.gethostname()}:{os.getpid()}"
    return [r.id for r in live if (r.holder or "").split(" ", 1)[0] != me]


def _main_file(conn: sqlite3.Connection) -> Path | None:
    with suppress(sqlite3.Error):
        for _seq, name, file in sqlite3.Cursor(conn).execute("PRAGMA database_list"):
            if name == "main" and file:
                return Path(file)
    return None


def _shown_path(file: Path) -> str:
    """`file` relative to the working folder when inside it (var/linkhealth.db)."""
    try:
        return str(file.relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _runs_in_progress(file: Path) -> list[int]:
    """The ids of the runs still alive on the SQLite `file` (`store.live_runs`), read on a
    connection of their own: a WAL reader waits for no writer. [] when they cannot be
    read (an older schema, a database not in WAL mode, locked for reading too)."""
    from catalog import store
    from catalog.clock import utcnow
    from catalog.runs import LEASE_TTL

    reader = create_engine(
        URL.create("sqlite", database=str(file)),
        connect_args={"timeout": 0.1},
    )
    try:
        with reader.connect() as conn:
            return _not_mine(store.live_runs(conn, now=utcnow(), quiet_for=LEASE_TTL))
    except Exception:  # only a sentence's detail: waiting goes on regardless
        return []
    finally:
        reader.dispose()
