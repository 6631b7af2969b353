"""The `linkhealth` command line: thin, it parses, calls one function, formats.

Every command reads the same `Settings` (defaults < linkhealth.toml < environment
< options), and calls the same functions the flows call. Results go to stdout,
progress and errors to stderr; exit codes are documented in the README.
Prefect is imported only by the commands that run a flow, after the Prefect API
has been found or started.
"""

from __future__ import annotations

import errno
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from typer.core import TyperGroup

from catalog.errors import ConfigError, LinkhealthError
from catalog.files import TextReplacement, real_file
from catalog.settings import (
    MAX_CONCURRENCY,
    MAX_DAYS,
    MAX_PER_HOST_CONCURRENCY,
    MAX_PER_HOST_RATE,
    MAX_RUN_ID,
    Settings,
    load_settings,
)
from catalog.text import for_terminal

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class _Group(TyperGroup):
    """Turns our own errors into one line on stderr and their documented exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        given = sys.stdout  # None when the process started with it closed (`>&-`)
        sys.stdout = cast(Any, _Stdout(given if given is not None else _ClosedStdout()))
        try:
            return super().main(*args, **kwargs)
        except OutputLost as exc:
            # Output that cannot be written (a full disk, /dev/full, a closed stdout) was a
            # traceback: say why in one line, as `cat` and `ls` do, and exit 1.
            typer.echo(for_terminal(f"error: cannot write output: {exc.reason}"), err=True)
            if given is not None:  # (closed at start, descriptor 1 may be a file opened since)
                _discard_stdout(given)
            sys.exit(1)
        finally:
            sys.stdout = given

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # `linkhealth --help` (and `linkhealth` alone) is written here, before `invoke`:
        # a reader gone exited 1 (click's own handling), a command's help 141.
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _stdout_gone()
        except typer.TyperException as exc:  # `linkhealth --bogus`
            _refused_by_click(exc)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _tidy_help(command)
        return command

    def invoke(self, ctx: Any) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                with suppress(ValueError):  # a closed stdout: nothing to flush
                    sys.stdout.flush()  # a pipe closed early fails here, not as Python ends
        except BrokenPipeError:
            _stdout_gone()
        except LinkhealthError as exc:
            typer.echo(for_terminal(f"error: {exc}"), err=True)
            raise typer.Exit(exc.exit_code) from exc
        except OSError as exc:
            if exc.filename is None:
                raise
            # A path the user gave that cannot be read or written: what and which, no trace.
            typer.echo(for_terminal(f"error: {exc.strerror or exc}: {exc.filename}"), err=True)
            raise typer.Exit(1) from exc
        except typer.TyperException as exc:  # a missing option, a bad value, no such command
            _refused_by_click(exc)


def _refused_by_click(exc: typer.TyperException) -> NoReturn:
    """Say click's own refusal of a command line (typer's copy of click) as it does, its
    usage lines first, but its last line starting `error:` as every error of ours does:
    it wrote `Error:`, and a reader or a script looking for one missed the other. Exit with
    its code. What it shows with no such line (`linkhealth db`: the help) is left to it."""
    shown = io.StringIO()
    show = getattr(exc, "show", None)
    if show is not None:
        show(file=shown)
    head, newline, last = shown.getvalue().rstrip("\n").rpartition("\n")
    if not last.startswith("Error: "):
        raise exc
    typer.echo(head + newline + "error: " + last.removeprefix("Error: "), err=True)
    raise typer.Exit(exc.exit_code) from exc


#: What the value of an option or argument is, as `--help` names it. Typer would print the
#: Python type (`--db <str>`, `--catalog <list[Path]>`, `{resource_id}`).
_VALUE_NAMES = {
    "catalog": "FILE", "config": "FILE", "into": "FILE", "prefect_yaml": "FILE", "files": "FILE",
    "db": "URL", "to": "URL", "base_url": "URL", "url": "URL", "source": "FILE_OR_URL",
    "resource_id": "ID", "ids": "ID", "collection": "KEY", "reason": "TEXT", "by": "NAME",
    "out": "DIR", "until": "DATE", "run": "RUN", "keep_days": "DAYS", "per_host_rate": "PER_S",
    "limit": "N", "concurrency": "N", "per_host_concurrency": "N",
}  # fmt: skip


#: Exit status when whoever read stdout stopped reading (`linkhealth status | head -1`):
#: as a command killed by SIGPIPE (128 + 13), what a shell says of `grep`, `cat`...
EXIT_PIPE_CLOSED = 141


def _stdout_gone() -> NoReturn:
    """stdout's reader went away (a pipe into `head`): exit `EXIT_PIPE_CLOSED` quietly, as
    standard commands do, with no traceback; and nothing more written to that pipe as
    Python ends (its flush of stdout would fail again, with "Exception ignored")."""
    _discard_stdout(sys.stdout)
    raise typer.Exit(EXIT_PIPE_CLOSED)


def _discard_stdout(stream: Any) -> None:
    """What is left to write to `stream` goes nowhere: Python's flush of it as it ends
    would fail again, with "Exception ignored" and a trace."""
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class OutputLost(Exception):
    """stdout could not be written: `reason` (the OSError's words)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Stdout:
    """sys.stdout while a command runs: a write or flush that fails (a full disk, a closed
    stdout) raises `OutputLost`, told apart from any other OSError without a file name (a
    network error, a report file on a full disk), which stays a trace. A reader gone
    (BrokenPipeError) stays itself: that exits quietly, as `EXIT_PIPE_CLOSED`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: Any) -> int:
        # (No context manager: `export` writes here once a row, a million times.)
        try:
            return cast(int, self._stream.write(text))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputLost(exc.strerror or str(exc)) from exc

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputLost(exc.strerror or str(exc)) from exc

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the stream's
        return getattr(self._stream, name)


class _ClosedStdout:
    """stdout of a process started with it closed (`linkhealth status >&-`), which Python
    leaves None: output written to it is lost, as to a closed descriptor, and said so."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text: Any) -> int:
        if isinstance(text, bytes):  # click's probe of a binary stream: this is none
            raise TypeError("write() argument must be str, not bytes")
        if not text:
            return 0
        raise OSError(errno.EBADF, "stdout is closed")

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("stdout is closed")


def _no_type_shown(ctx: Any) -> None:
    """An argument's `display_type_rich`: its value name alone, no "<list[str]>"."""
    return None


def _tidy_help(command: Any) -> None:
    """`--help` of `command` and the commands under it, as a reader wants it:

    - conventional value names (`--db URL`, `replace-url ID [URL]`); an option with a few
      choices keeps showing them;
    - a docstring's "Example: ..." paragraph kept on its line (click's `\\b`): wrapped,
      click broke it at a hyphen (`--catalog my-` / `toolkit.yaml`), which does not paste.
    """
    for param in getattr(command, "params", ()):
        takes_value = not getattr(param, "is_flag", False) and not getattr(param, "count", False)
        choice = getattr(getattr(param, "type_descriptor", None), "is_choice", False)
        if param.metavar is None and takes_value and not choice and param.name:
            param.metavar = _VALUE_NAMES.get(param.name, param.name.upper())
        if getattr(param, "param_type_name", "") == "argument" and not choice:
            # "ID <list[str]>": Typer prints an argument's Python type beside its name.
            param.display_type_rich = _no_type_shown
    if command.help:
        command.help = "\n\n".join(
            f"\b\n{p}" if p.lstrip().startswith("Example") else p
            for p in command.help.split("\n\n")
        )
    for sub in (getattr(command, "commands", None) or {}).values():
        _tidy_help(sub)


app = typer.Typer(
    cls=_Group,
    help="Link health and catalog maintenance for curated resource catalogs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: Typer's Rich panels cut option names and help to fit 80 columns
    # (`--per-host-concur…`), and kept the line breaks of a docstring mid-sentence.
    rich_markup_mode=None,
)
catalog_app = typer.Typer(
    help="Work with catalog files.", no_args_is_help=True, rich_markup_mode=None
)
db_app = typer.Typer(
    help="Manage the linkhealth database.", no_args_is_help=True, rich_markup_mode=None
)
server_app = typer.Typer(
    help="Manage the local Prefect server.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
app.add_typer(server_app, name="server")

#: Exit codes (documented in the README; tests/test_docs.py keeps them in step).
EXIT_OK = 0
EXIT_NEEDS_ATTENTION = 6


def named_path(value: str | Path) -> Path:
    """The path a FILE or DIR option names. An empty value (`--catalog "$UNSET"`) is refused
    as usage (exit 2, naming the option): as a path it is the current folder, whose every
    *.yaml and *.csv file was read as a catalog, and into which a report was written."""
    if isinstance(value, Path):
        return value
    if value == "":
        raise typer.BadParameter("is empty (an unset variable?); give the path")
    return Path(value)


#: What `out_path` makes of `-`: stdout, told apart by identity from a file `./-`.
STDOUT = Path("-")


def out_path(value: str | Path) -> Path:
    """A FILE option that may be `-` for stdout, as tools say it (`STDOUT`): taken as a
    path, it wrote a file named "-" (`./-` still names one)."""
    return STDOUT if value == "-" else named_path(value)


CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        "-c",
        parser=named_path,
        help="Catalog file (YAML or CSV) or folder of them; repeatable. "
        "Default: from linkhealth.toml, else the bundled toolkit.",
    ),
]


def _db_option(value: str | None) -> str | None:
    """--db refused as usage (exit 2) when it is no database URL or names no SQLite file
    (`sqlite:///$UNSET`): before any command opens it, or records a refusal in it."""
    from catalog.settings import refuse_unusable_database_url

    if value is not None:
        refuse_unusable_database_url(value, "--db")
    return value


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        callback=_db_option,
        help="SQLAlchemy database URL. Default: LINKHEALTH_DATABASE_URL, linkhealth.toml, "
        "else sqlite:///var/linkhealth.db.",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        parser=named_path,
        help="Config file. Default: LINKHEALTH_CONFIG or ./linkhealth.toml.",
    ),
]


def _err(message: str) -> None:
    typer.echo(for_terminal(message), err=True)


def _progress() -> Progress | ProgressLines:
    """A bar on stderr while a long command works; when stderr is not a terminal (a log, a
    pipe: cron, the systemd prune timer), where rich would leave an empty line behind, a
    line now and then instead (`ProgressLines`)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    if not console.is_terminal:
        return ProgressLines()
    return Progress(console=console, transient=True)


class ProgressLines:
    """Progress for a log: a line on stderr every `every_s` seconds ("Copying observations:
    120,000 of 480,000"), none for a command done sooner. The part of rich's `Progress`
    the commands use."""

    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s, self._clock = every_s, clock
        self._tasks: list[list[Any]] = []  # [description, completed, total]
        self._said = clock()

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def add_task(self, description: str, total: float | None = None) -> TaskID:
        self._tasks.append([description, 0.0, total])
        return cast("TaskID", len(self._tasks) - 1)

    def update(
        self, task: TaskID, *, completed: float | None = None, total: float | None = None
    ) -> None:
        state = self._tasks[task]
        if completed is not None:
            state[1] = completed
        if total is not None:
            state[2] = total
        now = self._clock()
        if now - self._said >= self._every_s:
            self._said = now
            description, done, of = state
            of_total = f" of {of:,.0f}" if of else ""
            _err(f"{description}: {done:,.0f}{of_total}")


def _settings(config: Path | None, db: str | None, catalogs: list[Path] | None) -> Settings:
    return said(
        load_settings(config).with_overrides(
            database_url=db, catalogs=tuple(catalogs) if catalogs else None
        )
    )


def said(settings: Settings) -> Settings:
    """`settings`, once a command's user is told on stderr that LINKHEALTH_DATABASE_URL
    replaced the settings file's database (`Settings.database_warning`): with a trial
    config in a shell that sets it, the writes went to production without a word."""
    if settings.database_warning is not None:
        _err(f"warning: {settings.database_warning}")
    return settings


def catalog_keys(settings: Settings, given: list[Path] | None) -> list[str] | None:
    """The collection keys (`Catalog.key`) of the catalog files named with --catalog, for the
    commands that read the database and keep only those collections; None when no
    --catalog was given (every collection). A missing or invalid file is a `CatalogError`
    (exit 5), as for every command that reads the catalog."""
    if not given:
        return None
    from catalog.source import load_catalogs

    return sorted({c.key for c in load_catalogs(settings.catalogs)})


def configured_config() -> Path | None:
    """The settings file a command given no --config reads (LINKHEALTH_CONFIG, else
    ./linkhealth.toml): the service's, as far as this shell can tell. None when neither is
    there. Never raises (a missing LINKHEALTH_CONFIG file is named by its own error)."""
    from catalog.settings import DEFAULT_CONFIG_NAME

    env = os.environ.get("LINKHEALTH_CONFIG")
    path = Path(env) if env else Path.cwd() / DEFAULT_CONFIG_NAME
    return path if env or path.is_file() else None


def trial_config(config: Path | None) -> bool:
    """Whether `config` (--config) names a settings file other than the configured one: a
    curator trying it (`--config trial.toml`), whose refusal is theirs to read on stderr,
    not a refused run in the database (whose report would then say the nights stopped)."""
    if config is None:
        return False
    configured = configured_config()
    return configured is None or config.resolve() != configured.resolve()


def run_settings(
    config: Path | None, db: str | None, overrides: dict[str, Any], *, trigger: str
) -> Settings:
    """The settings of a run `check` or `recheck` starts. A settings file that cannot be
    used refuses the run (exit 2), recorded like a refused catalog (`record_refusal`) in
    the database the run would have used; when only the broken file names that database,
    or the one named does not exist yet (a refusal creates none), it is recorded nowhere,
    and the error says so. A file given with --config that is not the configured one
    (`trial_config`) is a curator's try: only refused, as a --catalog file is."""
    from catalog.settings import SettingsFileError

    try:
        settings = load_settings(config)
    except SettingsFileError as exc:
        if trial_config(config):
            raise ConfigError(
                f"{exc}\nNot recorded as a refused run: {config} is a settings file given "
                "with --config, not the configured one (LINKHEALTH_CONFIG, else "
                "./linkhealth.toml)."
            ) from exc
        known = exc.known_settings(database_url=db)
        if known is None:
            raise ConfigError(f"{exc}\n{exc.not_recorded}") from exc
        from catalog.db import shown_url
        from catalog.runs import record_refusal

        if record_refusal(known, exc, trigger=trigger) is None:  # no database made for it
            unrecorded = exc.not_recorded_in(shown_url(known.database_url))
            raise ConfigError(f"{exc}\n{unrecorded}") from exc
        raise
    return said(settings.with_overrides(**overrides))  # bad options fail


@contextmanager
def flow_run_here(
    settings: Settings,
    *,
    given: bool,
    ids: list[str] | None,
    trigger: str | None = None,
    database_needed: bool = False,
    removed_known: bool = False,
) -> Iterator[list[str] | None]:
    """Around a flow run `check` or `recheck` starts in this process: the catalogs are read
    once and refused here when unusable (`given`: named on the command line, or by a trial
    settings file: `trial_config`), unknown ids too, a Prefect server is made sure of, and
    the API going away mid-run is one sentence.
    Yields `ids` as the flow takes them (`ids_as_held`: in the Unicode form the catalogs
    hold; `bare_ids`: `KEY/ID` as verdicts name entries).
    `trigger`: the run's, to record a refusal for its catalog under when it runs the
    configured catalogs (from cron, say: `linkhealth status` shows it); files a curator
    names to try them are only refused, and so are ids no catalog holds (a typo, said on
    stderr: no run was refused). `database_needed`: a database that does not exist is an
    error (exit 3) before anything is read or made, not a new empty one. `removed_known`:
    an id whose entry a sync found removed from its catalog is not refused (`unknown_ids`),
    in either Unicode form or named `KEY/ID`."""
    from catalog.errors import CatalogError
    from catalog.progress import still_working
    from catalog.source import read_once
    from catalog.sync import refuse_demo_catalog
    from flows.prefect_server import api_loss_said, ensure_server

    with read_once():  # the flow run, in this process, takes the catalogs checked here
        # One clock for the catalogs' read and the ids' look-ups (seconds at 20,000 entries).
        with still_working("Reading the catalogs"):
            try:
                refuse_unusable_catalogs(settings, given=given)  # here, not in a failed run
            except CatalogError as refused:
                if trigger is not None and not given:
                    from catalog.runs import record_refusal

                    record_refusal(settings, refused, trigger=trigger)
                raise
            if database_needed:
                from catalog.db import existing_database

                existing_database(settings.database_url)
            held = ids_as_held(settings, ids, removed_known=removed_known)
            wanted = bare_ids(settings, held, removed_known=removed_known)
            refuse_unknown_ids(settings, wanted, removed_known=removed_known)
            refuse_demo_catalog(settings)
        from catalog.db import refuse_unusable_server

        refuse_unusable_server(settings.database_url)
        ensure_server(say=_err)
        from flows.check_flow import settings_said

        with api_loss_said(), settings_said():  # the run does not say `said`'s warning again
            yield wanted


def ids_as_held(
    settings: Settings, ids: list[str] | None, *, removed_known: bool = False
) -> list[str] | None:
    """`ids` as typed, each in the Unicode form a catalog holds it (`store.typed_id_forms`:
    as typed first, then composed, then decomposed), so "Éclair" typed composed checks the
    entry written decomposed in its file, and the other way round. `KEY/ID`: the form of
    ID is looked for when the whole is no id. An id held in no form stays as typed (and
    is refused as unknown). `removed_known`: a form held by an entry removed from its
    catalog is held (`unknown_ids`)."""
    from catalog.store import typed_id_forms

    if not ids or all(len(typed_id_forms(i)) == 1 for i in ids):
        return ids  # ASCII ids (most), or no other form: nothing to look up
    from catalog.ops import unknown_ids

    def options(typed: str) -> list[tuple[str, str]]:
        """(what to take, the id a catalog must hold for it), best first."""
        key, slash, bare = typed.partition("/")
        whole = [(f, f) for f in typed_id_forms(typed)]
        return whole + [(f"{key}/{f}", f) for f in typed_id_forms(bare) if slash]

    chosen = {typed: options(typed) for typed in ids}
    forms = [i for o in chosen.values() for _, i in o]
    unknown = set(unknown_ids(settings, forms, removed_known=removed_known))
    return list(
        dict.fromkeys(
            next((taken for taken, i in o if i not in unknown), typed)
            for typed, o in chosen.items()
        )
    )


def bare_ids(
    settings: Settings, ids: list[str] | None, *, removed_known: bool = False
) -> list[str] | None:
    """`ids` with each `KEY/ID` (as `recheck` verdicts and `--strict` name entries, and as
    `resource` and the decisions take them) made `ID` when it names an entry of catalog
    `KEY` (`catalog.ops.entry_names`; `removed_known`: one removed from it too) and no
    entry's id is `KEY/ID` itself. A run checks an id in every catalog that uses it."""
    if not ids or not any("/" in i for i in ids):
        return ids
    from catalog.ops import entry_names, unknown_ids

    unknown = {i for i in unknown_ids(settings, ids, removed_known=removed_known) if "/" in i}
    if not unknown:
        return ids
    named = entry_names(settings, unknown, removed_known=removed_known)
    return list(dict.fromkeys(i.partition("/")[2] if i in named else i for i in ids))


def refuse_unknown_ids(
    settings: Settings, ids: list[str] | None, *, removed_known: bool = False
) -> None:
    """Before a flow run starts: `NotFoundError` (exit 4) for ids no catalog holds."""
    from catalog.errors import NotFoundError
    from catalog.ops import unknown_ids

    missing = unknown_ids(settings, ids or [], removed_known=removed_known)
    if missing:
        raise NotFoundError.unknown_ids(missing)


def refuse_unusable_catalogs(settings: Settings, *, given: bool) -> None:
    """Before a flow run starts: a `CatalogError` (exit 5) for a catalog that cannot be
    used, so the error is said once and not also inside a failed Prefect flow run. Files
    named on the command line are read in full (a curator trying a catalog; inside
    `catalog.source.read_once` the flow run then takes what was read instead of parsing
    the files again); configured ones only when missing, so a nightly run of a big
    catalog does not read it twice."""
    from catalog.errors import CatalogError
    from catalog.source import validate_catalogs

    paths = [p for p in settings.catalogs if given or not Path(p).exists()]
    if not paths:
        return
    report = validate_catalogs(paths)
    if report.problems:
        raise CatalogError(report.problems)


def require_stored(keys: list[str], stored: set[str], settings: Settings) -> None:
    """`NotFoundError` (exit 4) naming the --catalog files whose collection the database
    does not hold: they were never synced into it (or another --db is meant)."""
    import shlex

    from catalog.commands import command_options
    from catalog.errors import NotFoundError

    missing = [k for k in keys if k not in stored]
    if not missing:
        return
    files = [str(p) for p in settings.catalogs if Path(p).stem in missing] or missing
    sync = ["linkhealth", "sync", *(w for f in files for w in ("--catalog", f))]
    sync += command_options(settings).words
    raise NotFoundError(
        f"the database holds no resources of collection {', '.join(map(repr, missing))} "
        f"(the catalog file's name is its key); run `{shlex.join(sync)}` "
        "or `linkhealth check` with it first, or name the database that holds it with --db"
    )


@app.command()
def check(
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    resource_id: Annotated[
        list[str] | None,
        typer.Option(
            "--id",
            help="Check only this resource id (in every catalog using it), or KEY/ID as "
            "verdicts name entries (in catalog KEY only); repeatable.",
        ),
    ] = None,
    # At most what linkhealth.toml may say: more (10^20, inf) switched politeness off.
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_CONCURRENCY, help="Requests open at once across all hosts."),
    ] = None,
    per_host_concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_PER_HOST_CONCURRENCY, help="Requests open at once against one host."
        ),
    ] = None,
    per_host_rate: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            max=MAX_PER_HOST_RATE,
            help="Requests started per second against one host.",
        ),
    ] = None,
    allow_private: Annotated[
        bool | None,
        typer.Option("--allow-private", help="Also check URLs on private/loopback addresses."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Render the HTML report after the run.")] = True,
    strict: Annotated[
        bool,
        typer.Option(
            help=f"Exit {EXIT_NEEDS_ATTENTION} when the report's action queue lists a resource "
            "checked in this run to fix or to check or watch (snoozed, ignored and only "
            "out-of-date ones aside)."
        ),
    ] = False,
) -> None:
    """Check every URL of the catalogs through the Prefect flow `check-catalog`.

    Example: linkhealth check --catalog my-toolkit.yaml --db sqlite:///var/trial.db
    """
    overrides: dict[str, Any] = {
        "database_url": db,
        "catalogs": [str(p) for p in catalog] if catalog else None,
        "concurrency": concurrency,
        "per_host_concurrency": per_host_concurrency,
        "per_host_rate": per_host_rate,
        "allow_private": allow_private,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    settings = run_settings(config, db, overrides, trigger="manual")
    trial = trial_config(config)
    # A trial settings file's catalogs are the curator's to try, as --catalog files are:
    # read in full here and only refused (no refused run, event or report in the database).
    with flow_run_here(
        settings,
        given=bool(catalog) or trial,
        ids=resource_id,
        trigger=None if trial else "manual",
    ) as ids:
        from flows.check_flow import check_catalog
        from flows.cli_ops import named_entries

        # `KEY/ID`: that catalog's entry only, as `recheck` takes it (`bare_ids` made it ID).
        entries = named_entries(ids_as_held(settings, resource_id), ids)
        summary = check_catalog(
            config=str(config) if config else None,
            overrides=overrides,
            resource_ids=ids,
            trigger="manual",
            render=report,
            entries=entries or None,
        )
    if ids or entries:  # a handful of entries named: each one's verdict, as `recheck` says it
        from flows.recheck_flow import named_verdicts

        for line in named_verdicts(settings, summary.run_id, ids or [], entries):
            typer.echo(for_terminal(line))
    for line in summary.lines():
        typer.echo(for_terminal(line))
    found = None
    if strict:
        from catalog import store
        from catalog.db import engine_for
        from catalog.ops import strict_findings
        from reports.publish import queue_rows_of

        engine = engine_for(settings.database_url)
        verdicts = store.run_verdicts(engine, summary.run_id)
        # With ids, the run's few resources' rows alone: not every active resource's.
        rows = queue_rows_of(
            engine, {(v.collection, v.rid) for v in verdicts}, narrowed=bool(resource_id)
        )
        found = strict_findings(summary, verdicts, rows)
    if found:
        import shlex

        from catalog.commands import command_options

        export = shlex.join(["linkhealth", "export", *command_options(settings).words])
        listed = (
            f"The report and `{export}` list them."
            if summary.report_path
            else f"`{export}` lists them (this run wrote no report)."
        )
        _err(f"--strict: {found}; exit {EXIT_NEEDS_ATTENTION}. {listed}")
        raise typer.Exit(EXIT_NEEDS_ATTENTION)


@app.command()
def sync(catalog: CatalogOpt = None, db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Reconcile the catalog files into the database (added, edited, removed).

    Example: linkhealth sync --catalog catalog/data/psp-human-trafficking-toolkit.yaml
    """
    from catalog.clock import utcnow
    from catalog.db import engine_for
    from catalog.progress import still_working
    from catalog.source import load_catalogs
    from catalog.sync import refuse_demo_catalog, sync_catalogs

    settings = _settings(config, db, catalog)
    # The read and the sync on one clock: each of a 20,000-entry catalog's took under the
    # 2 s before a first line, together 4 s of silence.
    with still_working("Syncing the catalogs"):
        catalogs = load_catalogs(settings.catalogs)
        refuse_demo_catalog(settings)
        result = sync_catalogs(
            engine_for(settings.database_url),
            catalogs,
            now=utcnow(),
            health=settings.health,
            folders=settings.catalogs,
            # The catalogs the service's settings file names: not a --catalog subset, nor
            # the bundled default of a folder without one (its user syncs with --catalog),
            # nor a trial's --config (`trial_config`), whose sync retired the service's
            # catalogs.
            retire_unlisted=not catalog
            and not trial_config(config)
            and settings.config_file is not None
            and settings.catalogs != Settings().catalogs,
        )
    for change in result.changes:
        typer.echo(for_terminal(change.describe()))
    if result.change_count > len(result.changes):
        typer.echo(f"... and {result.change_count - len(result.changes)} more changes.")
    for line in result.retirements():
        typer.echo(for_terminal(line))
    typer.echo(result.headline())


@app.command()
def report(
    db: DbOpt = None,
    config: ConfigOpt = None,
    catalog: CatalogOpt = None,
    run: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_RUN_ID,  # more was a traceback (OverflowError) from the database
            help="Report on this run (default: latest); an earlier one is written as run-N.*. "
            "Without it, a run-N.html already written is left as its night wrote it.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            parser=named_path,
            help="Folder to write into: new, empty, or one a report was written into before. "
            "Default: reports_dir of linkhealth.toml, else var/reports.",
        ),
    ] = None,
    format: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="html (static site), md, csv or json; repeatable. Default: html and md.",
        ),
    ] = None,
) -> None:
    """Render the report from the database: a static HTML site, Markdown, CSV or JSON.

    The report covers every collection in the database; --catalog names the catalog files
    whose tidying findings (`catalog lint`) it shows.

    Example: linkhealth report --format html --format csv --out /srv/www/linkhealth
    """
    from catalog.db import existing_database
    from reports import FORMATS, publish_report_files
    from reports.publish import refuse_foreign_folder

    formats = tuple(format or ("html", "md"))
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)}: choose from {', '.join(FORMATS)}", param_hint="--format"
        )
    if out is not None:
        refuse_foreign_folder(out)  # someone's site, not the report's to replace
    settings = _settings(config, db, catalog)
    keys = catalog_keys(settings, catalog)  # linted for the hygiene section: must load
    existing_database(settings.database_url)
    if keys is None:
        # The configured catalogs: only those this database holds have findings in its
        # report (another database's, e.g. a trial's, holds none of them).
        from catalog.db import engine_for
        from catalog.source import catalog_files
        from catalog.store import stored_collections

        held = stored_collections(engine_for(settings.database_url))
        configured = catalog_files(settings.catalogs)
        if any(f.stem not in held for f in configured):
            kept = tuple(f for f in configured if f.stem in held)
            settings = replace(settings, catalogs=kept)
    if keys is not None:
        from catalog.db import engine_for
        from catalog.store import stored_collections

        stored = stored_collections(engine_for(settings.database_url))
        absent = [k for k in keys if k not in stored]
        if absent:
            _err(
                f"note: the database holds no resources of {', '.join(map(repr, absent))}; "
                "the report shows what it holds (sync or check that catalog first, or name "
                "the database that holds it with --db)"
            )
        others = sorted(stored - set(keys))
        if others:
            _err(
                f"note: the report covers every collection in the database, also "
                f"{', '.join(others)}; --catalog only chooses the catalog files whose "
                "tidying findings it shows (use --db for a report of one catalog)"
            )
    with _progress() as progress:
        bar = progress.add_task("Writing resource pages", total=None)
        files = publish_report_files(
            settings,
            run_id=run,
            formats=formats,
            out_dir=out,
            on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
        )
    for path in files.paths:
        typer.echo(str(path))


@app.command()
def export(
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="jsonl or csv. Default: what the --out file's ending says (.jsonl or .ndjson: "
            "jsonl; .csv: csv), jsonl on stdout. Refused when the ending says the other "
            "format: a .csv file holding JSON Lines opens in a spreadsheet as one column of "
            "text. Needed for any other ending.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            parser=out_path,
            help="File to write (default, or -: stdout). Its folder must exist: a typo in "
            "it is refused, not made into new folders. A file already there is replaced only "
            "when it is an earlier export of the same format; never the database, a catalog "
            "or a settings file, a device other than a terminal or /dev/null, or a socket. "
            "A FIFO, a terminal or /dev/null (/dev/stdout, a named pipe) is written to as "
            "stdout is.",
        ),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    catalog: CatalogOpt = None,
) -> None:
    """Export one record per catalog resource with its latest verdict.

    With --catalog, only the resources of those catalog files' collections (a collection's
    key is its file name without the ending); without, every collection in the database.

    Example: linkhealth export --out links.csv --catalog my-toolkit.yaml
    """
    from catalog.db import engine_for, existing_database
    from catalog.export import (
        ExportFormatError,
        export_format,
        export_rows,
        is_stream_target,
        refuse_export_target,
        write_export,
    )
    from catalog.store import stored_collections

    if out is STDOUT:
        out = None
    try:
        fmt = export_format(format, out)
    except ExportFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from exc
    settings = _settings(config, db, catalog)
    keys = catalog_keys(settings, catalog)
    if out is not None:
        refuse_export_target(out, fmt, *_kept_from_export(settings, config))
    # Told before the database is opened: SQLite puts /dev/null on a descriptor number
    # left free (a stdout closed at start, refused above), which /dev/stdout then names.
    to_stream = out is not None and is_stream_target(out)
    engine = engine_for(existing_database(settings.database_url))
    if keys is not None:
        require_stored(keys, stored_collections(engine), settings)
    rows = export_rows(engine, collections=keys)  # read as it is written
    if out is None:
        write_export(rows, fmt, sys.stdout)
    elif to_stream:  # /dev/stdout, a named pipe, a terminal: written to, as stdout is
        try:
            with open(out, "w", encoding="utf-8", newline="") as stream:
                write_export(rows, fmt, stream)
        except BrokenPipeError:  # its reader went away (`| head`): as for stdout
            raise typer.Exit(EXIT_PIPE_CLOSED) from None
        except OSError as exc:
            raise LinkhealthError(f"cannot write {out}: {exc.strerror or exc}") from exc
    else:
        # Written beside it, then moved over it (`catalog.files`): a full disk part-way
        # left a truncated file where the last export was, and a traceback.
        try:
            if out.is_dir():  # found before writing it all beside it
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(out))
            folder = real_file(out).parent
            if not folder.exists() and not any(p.is_file() for p in folder.parents):
                raise ConfigError(
                    f"cannot write {out}: the folder {folder} does not exist; export makes "
                    "no folders (a typo would make them): create it, or choose another "
                    "file with --out"
                )
            replacement = TextReplacement(out)
        except OSError as exc:  # a folder where the file goes, a file where a folder does
            file = next((p for p in out.parents if p.is_file()), None)
            why = f"{file} is a file, not a folder" if file else exc.strerror or str(exc)
            raise ConfigError(f"cannot write {out}: {why}") from exc
        try:
            with replacement as fh:
                write_export(rows, fmt, fh)
        except OSError as exc:
            raise LinkhealthError(
                f"cannot write {out}: {exc.strerror or exc}; a file already there was left "
                "as it was. Free space or choose another file with --out"
            ) from exc
        _err(f"wrote {out}")


def _kept_from_export(
    settings: Settings, config: Path | None
) -> tuple[dict[Path, str], list[Path]]:
    """The files `export --out` never replaces, each with what it is (the SQLite database
    and its working files, the catalog files and settings file in use or configured), and
    the folders of catalog files, where a new .csv would be read as a catalog."""
    from catalog.db import shown_url, sqlite_file_of
    from catalog.source import catalog_files

    kept: dict[Path, str] = {}
    database = sqlite_file_of(settings.database_url)
    if database is not None:
        shown = shown_url(settings.database_url)
        kept[database] = f"the database {shown}"
        for ending in ("-wal", "-shm", "-journal"):
            kept[database.with_name(database.name + ending)] = f"a working file of {shown}"
    configured = configured_config()
    named = [p for p in (config, settings.config_file, configured) if p is not None]
    paths = [*settings.catalogs]
    with suppress(LinkhealthError):  # --catalog replaced them: the configured ones too
        paths += load_settings(config).catalogs
    for file in catalog_files(paths):
        kept.setdefault(file, "a catalog file")
    for file in named:
        kept.setdefault(file, "a settings file")
    return kept, [p for p in paths if p.is_dir()]


@catalog_app.command("validate")
def catalog_validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            parser=named_path, help="Catalog files or folders (default: the configured catalogs)."
        ),
    ] = None,
    catalog: CatalogOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON.")] = False,
) -> None:
    """Report every problem in catalog files at once, clashes between files included;
    writes nothing.

    Exit 0 when valid (warnings such as invalid URLs, or a loopback or private address
    linkhealth.toml does not allow the check to fetch, in a catalog or among its
    canary_urls, are printed but allowed), 5 otherwise; 2 when the settings file cannot be
    used (said after what the files hold).

    Example: linkhealth catalog validate catalog/data/  (or --catalog catalog/data/)
    """
    from catalog.settings import SettingsFileError, find_config, refused_canaries
    from catalog.source import validate_catalogs

    named = [*(files or []), *(catalog or [])]  # --catalog as every command takes it
    settings: Settings | None = None
    broken: ConfigError | None = None
    paths: list[Path] = named
    try:
        # The settings file alone (LINKHEALTH_CONFIG's, else ./linkhealth.toml): validate
        # opens no database, and a LINKHEALTH_DATABASE_URL other commands refuse (Heroku's
        # postgres://) dropped the file's private-address warnings as if it were broken.
        settings = load_settings(find_config(config), use_env=False)
        paths = named or list(settings.catalogs)
    except ConfigError as exc:
        # Still validate the files named (or the settings' catalogs, when that entry is
        # sound), but say it: a private-address warning is the settings' to give, and
        # without them none was given, as if the file allowed every address.
        paths = named or list(exc.catalogs if isinstance(exc, SettingsFileError) else ())
        if not paths:
            raise
        broken = exc
    # As sync reads them (folders, one key per file), and as the check would fetch them.
    report = validate_catalogs(paths, check=settings.check if settings else None)
    # The settings' own: a canary refused as private proves nothing of our network.
    canaries = refused_canaries(settings) if settings else ()
    collected: list[dict[str, Any]] = []
    for level, items in (
        ("error", report.problems),
        ("warning", (*report.warnings, *canaries)),
    ):
        for p in items:
            collected.append({"level": level, **p.__dict__})
            if not as_json:
                _err(f"{level}: {p}")
    if as_json:
        typer.echo(json.dumps(collected, indent=2))
    else:
        bad = {p.file for p in report.problems}
        for file in report.files:  # each once, named as its problems name it
            if str(file) not in bad:
                warned = sum(w.file == str(file) for w in report.warnings)
                typer.echo(f"{file}: OK ({warned} warning{'' if warned == 1 else 's'})")
    if broken is not None:
        from catalog.settings import CheckSettings

        n = sum(a.refused(CheckSettings()) is not None for a in report.addresses)
        _err(
            f"error: {broken}; the catalogs were validated without the settings, so no URL "
            "was judged against their [check] private_allowlist and allow_private"
            + (
                f" ({n} URL{'' if n == 1 else 's'} here that the check refuses unless they "
                "allow it: a loopback or private address, or a name of this machine)"
                if n
                else ""
            )
            + "; `linkhealth check` will not run until they are fixed"
        )
    if report.problems:
        raise typer.Exit(5)
    if broken is not None:
        raise typer.Exit(broken.exit_code)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Apply pending database migrations (also done automatically on first use).

    A SQLite file must exist (a mistyped --db would make an empty one, folders and all:
    `linkhealth check` creates the database); an empty PostgreSQL database gets the tables.
    With migrations pending, refused (exit 8) while a run or recheck is in progress, whose
    writes it would hold up; with none pending it says so and changes nothing.
    There is no downgrade: back up the database before updating (README, "Storage").
    """
    from catalog.db import existing_database, migrate_engine, open_engine, shown_url, sqlite_file_of
    from catalog.migrate import current_revision, upgraded

    url = _settings(config, db, None).database_url
    if sqlite_file_of(url) is not None:
        existing_database(url)
    engine = open_engine(url, migrate=False)
    try:
        # The revision it was at is read under the migration's lock: read before, three
        # upgrades started at once on a new database each said they had migrated it.
        before = migrate_engine(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    name = shown_url(engine.url)
    if before is None:
        typer.echo(f"database {name}: at revision {after} already")
    else:
        typer.echo(upgraded(name, before, str(after)))


@db_app.command("prune")
def db_prune(
    keep_days: Annotated[
        int,
        typer.Option(
            "--keep-days",
            min=1,
            max=MAX_DAYS,  # more overflowed the date it keeps from (a traceback)
            help="Keep every observation of the last N days; older ones go, except each "
            "URL's latest, its last working check, its drift history and last three judged "
            "reads, its tries not sent "
            "since its last check (its host away), and each edited entry's first check of "
            "its new URL. Events, runs and decisions are always kept.",
        ),
    ],
    vacuum: Annotated[bool, typer.Option(help="Compact a SQLite file afterwards (VACUUM).")] = True,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete old observations so years of nightly runs stay small, and the reports
    folder's `run-N.*` reports of runs that old (not the latest run's, nor those of the
    15 days before it, which its report links).

    Example: linkhealth db prune --keep-days 180
    """
    import humanize

    from catalog.db import engine_for, existing_database
    from catalog.retention import PruneInterrupted, prune_observations
    from reports.publish import prune_run_reports

    settings = _settings(config, db, None)
    engine = engine_for(existing_database(settings.database_url))
    deleted = 0

    def deleting(done: int, total: int) -> None:
        nonlocal deleted
        deleted = done  # committed: an interrupt after this keeps them
        progress.update(bar, completed=done, total=total)

    try:
        with _progress() as progress:
            # The scan of a large database takes minutes: say how far it is, as the deleting does.
            scan = progress.add_task("Finding the observations to keep (links)", total=None)
            bar = progress.add_task("Deleting old observations", total=None)
            result = prune_observations(
                engine,
                keep_days,
                vacuum=vacuum,
                on_scan=lambda done, total: progress.update(scan, completed=done, total=total),
                on_progress=deleting,
                on_vacuum=lambda: _err("Compacting the database file (VACUUM)…"),
            )
    except KeyboardInterrupt as exc:
        # Each chunk is its own transaction: those committed stand, the next prune goes on.
        if isinstance(exc, PruneInterrupted):  # it counts a chunk committed as Ctrl-C came
            deleted = exc.deleted
        _err(
            f"interrupted; the {deleted} deletion(s) so far are kept (run `linkhealth db prune` "
            "again to finish)"
        )
        raise typer.Exit(130) from None
    typer.echo(
        f"Deleted {result.deleted} observation(s) checked before {result.cutoff:%Y-%m-%d %H:%M} "
        f"UTC; kept {result.kept_old} older one(s): each URL's latest, its last working check, "
        "its drift history and last three judged reads, its tries not sent since its last "
        "check (its host away), and each edited entry's first check of its new URL."
    )
    reports = prune_run_reports(settings, engine, result.cutoff)
    if reports.folder is not None:
        typer.echo(
            f"Deleted {reports.files} report file(s) of earlier runs "
            f"({humanize.naturalsize(reports.bytes, binary=True)}) from {reports.folder}."
        )
    if reports.problem is not None:  # the observations' prune stands: no failure of it
        _err(f"note: the reports of earlier runs were not all deleted: {reports.problem}")
    if result.not_compacted is not None:
        # The deletions stand; a prune run again compacts the file (`retention`).
        _err(
            "error: the deletions are kept, but the file was not compacted (VACUUM writes a "
            f"copy of it first, so it needs about its size free): {result.not_compacted}"
        )
        raise typer.Exit(3)
    if result.compact_later is not None:
        _err(f"note: {result.compact_later}")
    elif result.bytes_before is not None and result.bytes_after is not None:
        typer.echo(
            f"Database file: {humanize.naturalsize(result.bytes_before, binary=True)} -> "
            f"{humanize.naturalsize(result.bytes_after, binary=True)}"
        )


@db_app.command("copy")
def db_copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="SQLAlchemy URL of the empty database to copy into, e.g. "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB.",
        ),
    ],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            callback=_db_option,
            help="SQLAlchemy URL of the database to copy FROM, e.g. "
            "sqlite:///var/linkhealth.db. Default: LINKHEALTH_DATABASE_URL, linkhealth.toml, "
            "else sqlite:///var/linkhealth.db (after a move, the first two may already name "
            "the new database: give --db).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Copy the whole history (runs, observations, events, decisions) of the database --db
    names into the empty database --to names, while no run is in progress.

    Example: linkhealth db copy --db sqlite:///var/linkhealth.db --to postgresql+psycopg://USER:PASSWORD@HOST/linkhealth
    """
    import os

    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    from catalog.clock import utcnow
    from catalog.db import existing_database, masked_url, open_engine, shown_url
    from catalog.settings import refuse_unusable_database_url
    from catalog.transfer import copy_database

    try:  # a mistyped --to is bad usage (exit 2), not a database that cannot be opened
        make_url(to)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"--to {masked_url(to)!r} is not a database URL; write it as "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB (or sqlite:///FILE)"
        ) from exc
    refuse_unusable_database_url(to, "--to")  # sqlite:///$UNSET: a copy kept nowhere
    settings = _settings(config, db, None)
    origin = (
        "from --db"
        if db
        else "from LINKHEALTH_DATABASE_URL"
        if os.environ.get("LINKHEALTH_DATABASE_URL")
        else "from the settings file or the default"
    )
    source = open_engine(existing_database(settings.database_url))
    # Migrated by the copy once nothing refuses it: a refused copy creates nothing there.
    target = open_engine(to, migrate=False)
    try:
        with _progress() as progress:
            bars: dict[str, Any] = {}

            def said(table: str, done: int, total: int) -> None:
                if table not in bars:
                    bars[table] = progress.add_task(f"Copying {table}", total=total)
                progress.update(bars[table], completed=done)

            result = copy_database(
                source, target, now=utcnow(), on_progress=said, source_from=origin
            )
    finally:
        source.dispose()
        target.dispose()
    rows = ", ".join(f"{n} {table}" for table, n in result.rows.items())
    typer.echo(f"Copied {rows} from {shown_url(source.url)} into {shown_url(target.url)}.")
    if not result.leased:
        _err(
            f"warning: {shown_url(source.url)} is read-only here, so the copy held no lease on it: "
            "a run that began writing it after the copy started is not in the copy"
        )


@server_app.command("start")
def server_start() -> None:
    """Start a local Prefect server in the background (or find the running one).

    It listens on 127.0.0.1, port LINKHEALTH_PREFECT_PORT (default 4200).

    Example: LINKHEALTH_PREFECT_PORT=4300 linkhealth server start
    """
    from flows.prefect_server import ensure_server

    info = ensure_server(say=_err)
    typer.echo(f"Prefect API: {info.api_url} ({info.how})")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the Prefect server that linkhealth started from this folder.

    Run it in the folder where the server was started: its pid is in var/ there. Exit 0
    when the server was stopped or none answers; 1 when a server answers at the Prefect
    API address but this folder has no record of starting it (it is left running).

    Example: cd /srv/linkhealth && linkhealth server stop
    """
    from flows.prefect_server import api_url, is_healthy, pid_file, recorded_pid, stop_server

    recorded = recorded_pid()
    pid = stop_server()
    if pid:
        typer.echo(f"stopped Prefect server (pid {pid})")
        return
    url = api_url()
    base = url.removesuffix("/api")
    if not is_healthy(url):
        typer.echo(f"no Prefect server is running at {base}")
        return
    record = (
        f"no {pid_file()} here"
        if recorded is None
        else f"{pid_file()} here named pid {recorded}, which is no longer running"
    )
    port = base.rsplit(":", 1)[-1]
    _err(
        f"a Prefect server answers at {base} but was not started from this folder "
        f"({record}); run `linkhealth server stop` in the folder that started it, or stop "
        f"the process listening on port {port} yourself"
    )
    raise typer.Exit(1)


@server_app.command("status")
def server_status() -> None:
    """Say whether a Prefect API answers: PREFECT_API_URL, else the local server's
    (127.0.0.1, port LINKHEALTH_PREFECT_PORT, default 4200).

    The answer is on stdout ("up" or "not answering"); exit 0 when it is up, 1 when it
    does not answer (and stderr says what to do), 2 when PREFECT_API_URL is no URL.

    Example: linkhealth server status || linkhealth server start
    """
    from flows.prefect_server import (
        api_url,
        configured_api_url,
        is_healthy,
        is_local_api,
        log_file,
        prefect_port,
        started_here,
    )

    configured = configured_api_url()
    url = configured or api_url()
    # PREFECT_API_URL naming the local server (as the README and systemd units set it) is
    # the local server: `server start` starts it, not "that server, or unset it".
    elsewhere = configured is not None and not is_local_api(configured)
    ok = is_healthy(url)
    whose = ""
    if elsewhere:
        whose = " (PREFECT_API_URL)"
    elif ok:
        # A server another folder started serves this one's runs too, unnoticed, and
        # `server stop` here leaves it running: say which it is.
        pid = started_here(port=prefect_port())
        whose = (
            f" (started from this folder, pid {pid})"
            if pid
            else " (not started from this folder: `linkhealth server stop` here leaves it)"
        )
    typer.echo(f"{url}: {'up' if ok else 'not answering'}{whose}")
    if ok:
        return
    # The answer above is for a script (`|| linkhealth server start`); what to do, for
    # whoever reads it, goes with the other explanations, on stderr.
    if elsewhere:
        _err(
            f"no Prefect API answers at PREFECT_API_URL={configured}; start that server, or "
            "unset PREFECT_API_URL to use (or start) the local one linkhealth manages"
        )
    elif (pid := started_here(port=prefect_port())) is not None:
        _err(
            f"the Prefect server this folder started (pid {pid}) runs but does not answer: "
            f"still starting, or stuck (see {log_file()}); "
            "`linkhealth server stop` stops it"
        )
    else:
        _err(
            f"no Prefect server answers at {api_url().removesuffix('/api')}: `linkhealth server "
            "start` starts one (as `check` and `serve` do when they need it)"
        )
    raise typer.Exit(1)


from flows.cli_ops import register as register_ops  # noqa: E402

register_ops(app)

from flows.cli_curate import register as register_curate  # noqa: E402

register_curate(app)
from flows.cli_catalog import register as register_catalog_tools  # noqa: E402

register_catalog_tools(catalog_app)


def main() -> None:
    try:
        app()
    finally:
        ending()


def ending() -> None:
    """What the process does as a command ends: its database connections closed (SQLite
    folds its write-ahead log back into the file), then the collector's walks over what it
    leaves behind skipped (`catalog.collector.collector_done`)."""
    from catalog.collector import collector_done

    db = sys.modules.get("catalog.db")  # a command that opened no database never imports it
    # As when the collector closed them: a failure to close is never the command's status.
    with suppress(Exception):
        if db is not None:
            db.close_engines()
    collector_done()


if __name__ == "__main__":
    main()
