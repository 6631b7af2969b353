"""Operations commands of the `linkhealth` CLI: serve, recheck, status, catalog edited.

Registered onto the main app by `flows.cli` (`register(app)`). Thin like the rest of
the CLI: each command finds the Prefect API when it needs one, calls one function
(a flow, `catalog.ops` or `catalog.store`), and prints the result.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from catalog.errors import ConfigError, LinkhealthError
from catalog.settings import MAX_SHOWN, Settings, load_settings
from catalog.text import for_terminal

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Engine

    from catalog.store import LeaseRecord, RunRecord
    from flows.cli import ConfigOpt, DbOpt, named_path


def _err(message: str) -> None:
    typer.echo(for_terminal(message), err=True)


def serve(
    prefect_yaml: Annotated[
        Path | None,
        typer.Option(
            "--prefect-yaml",
            help="Deployments file. Default: prefect.yaml in LINKHEALTH_HOME, else in the "
            "current folder, else the checkout's.",
        ),
    ] = None,
    config: ConfigOpt = None,
    take_over: Annotated[
        bool,
        typer.Option(
            "--take-over",
            help="Serve even when Prefect shows another checkout's `linkhealth serve`, or a "
            "runner that does not say whose it is, serving these deployments (for one that is "
            "gone though Prefect still shows it).",
        ),
    ] = False,
) -> None:
    """Run the nightly schedule, rechecks and reports of prefect.yaml from this one process.

    Starts (or finds) the local Prefect server first (PREFECT_API_URL, else 127.0.0.1 on
    port LINKHEALTH_PREFECT_PORT, default 4200); stops with Ctrl-C. The flow runs use the
    settings a command run here would (--config, LINKHEALTH_CONFIG, ./linkhealth.toml).

    Example: LINKHEALTH_HOME=/srv/linkhealth linkhealth serve
    """
    from flows.serve import pin_settings, project_home, servable_deployments

    # A broken linkhealth.toml or prefect.yaml stops us before a server is started.
    _err(pin_settings(config, project_home()))
    specs = servable_deployments(prefect_yaml)
    from flows.prefect_server import ensure_server

    ensure_server(say=_err)
    from flows.serve import serve as serve_deployments

    serve_deployments(specs, say=_err, take_over=take_over)


def recheck(
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Resource ids to check (as in the catalog file: in every catalog using it), "
            "or KEY/ID as verdicts name them (in catalog KEY only)."
        ),
    ] = None,
    changed: Annotated[
        bool,
        typer.Option("--changed", help="Entries whose URL or fields changed since their check."),
    ] = False,
    failing: Annotated[
        bool, typer.Option("--failing", help="Entries whose link is failing or broken.")
    ] = False,
    catalog: Annotated[
        list[Path] | None,
        typer.Option(
            "--catalog", "-c", parser=named_path, help="Catalog file or folder; repeatable."
        ),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    allow_private: Annotated[
        bool | None,
        typer.Option("--allow-private", help="Also check URLs on private/loopback addresses."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Render the HTML report afterwards.")] = True,
) -> None:
    """Check some resources now and print their verdicts: named ids, --changed, --failing.

    --changed and --failing read the checks of a database that exists (`linkhealth check`
    makes it); named ids may start a new one.

    Example: linkhealth recheck --changed
    """
    if not ids and not changed and not failing:
        raise ConfigError("name resource ids, or use --changed or --failing")
    overrides: dict[str, Any] = {
        "database_url": db,
        "catalogs": [str(p) for p in catalog] if catalog else None,
        "allow_private": allow_private,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    from flows.cli import flow_run_here, ids_as_held, run_settings, trial_config

    settings = run_settings(config, db, overrides, trigger="recheck")
    trial = trial_config(config)
    with flow_run_here(
        settings,
        # A trial settings file's catalogs are tried as --catalog files are: only refused.
        given=bool(catalog) or trial,
        ids=ids,
        trigger=None if trial else "recheck",
        # --changed and --failing read what was checked before: of a database not made
        # yet (a mistyped --db, the wrong folder), every entry, or none. Named ids may
        # start one (a trial's `recheck ID --db sqlite:///var/trial.db`).
        database_needed=changed or failing,
        # An id whose entry was just removed from its catalog: the flow says so.
        removed_known=True,
    ) as wanted:
        from flows.events import emit_catalog_edited, flush
        from flows.recheck_flow import recheck as recheck_flow

        result = recheck_flow(
            resource_ids=list(wanted or []),
            entries=named_entries(ids_as_held(settings, ids, removed_known=True), wanted),
            changed_only=changed,
            failing_only=failing,
            config=str(config) if config else None,
            overrides=overrides,
            render=report,
        )
    for line in result.verdicts:  # (and a named id's entry removed from its catalog)
        typer.echo(for_terminal(line))
    if not result.ids:
        typer.echo(for_terminal(result.nothing_said()))
        return
    if result.summary is not None:
        for line in result.summary.lines():
            typer.echo(for_terminal(line))
    if changed:
        # Announce the edit for other automations; marked as rechecked so the `recheck`
        # deployment's trigger does not check the same entries again.
        emit_catalog_edited(rechecked=True)
        flush()


def named_entries(ids: Sequence[str] | None, wanted: Sequence[str] | None) -> list[str]:
    """Of `ids` as typed, the `KEY/ID` names `bare_ids` made `ID` in `wanted` (the recheck
    checks that id in catalog KEY only), but not those whose id is named bare too (in
    every catalog)."""
    kept = set(wanted or ())
    named = [i for i in ids or () if i not in kept and "/" in i]
    typed = set(ids or ())
    return [i for i in named if i.partition("/")[2] not in typed]


def status(
    db: DbOpt = None,
    config: ConfigOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_SHOWN, help="How many runs to show.")] = 10,
) -> None:
    """Show the last runs, who holds the run lease, whether Prefect answers, and what
    keeps the nightly schedule from running.

    For each run: when, how long, what it found; for the lease: who and until when; when
    Prefect answers, a line for each reason no night runs (deployment missing or paused,
    schedule off, nothing polling), for a due night nobody recorded, and for each run
    Prefect ended Crashed or Failed, with the cause its log names (a worker without the
    checkout) and, for a night, whether a catch-up follows (only under `serve`). A migration
    pending after an update is applied first, as by any command, except while a run is in
    progress: then it is said and left for later, and the runs are read as they are.

    Example: linkhealth status --limit 5
    """
    from catalog.clock import utcnow
    from catalog.db import engine_to_read, existing_database, shown_url, sqlite_file_of
    from catalog.errors import NoDatabaseError
    from catalog.migrate import missing_columns
    from catalog.settings import SettingsFileError, load_settings
    from flows.cli import said

    try:
        settings = load_settings(config).with_overrides(database_url=db)
    except SettingsFileError as exc:
        # The runs it refused are what the operator looks for: shown when their database
        # is known without the broken part (as `check` recorded them there).
        known = exc.known_settings(database_url=db)
        if known is None:
            raise
        _err(f"warning: {exc}; the runs below are those of {shown_url(known.database_url)}")
        settings = known
    said(settings)
    try:
        url = existing_database(settings.database_url)
    except NoDatabaseError as exc:
        # Before the first run: whether Prefect will run the nights is known already, and
        # is what an operator who just installed it asks.
        _err(f"error: {exc}")
        file = sqlite_file_of(settings.database_url)
        absent = str(file.resolve()) if file is not None else shown_url(settings.database_url)
        _prefect_status(None, ([], []), limit, utcnow(), no_database=absent)
        raise typer.Exit(exc.exit_code) from exc
    with engine_to_read(url) as (engine, held):
        # Which one: a shell without LINKHEALTH_DATABASE_URL shows the old SQLite file's runs
        # after a move to PostgreSQL, as if nothing had run since.
        typer.echo(f"Database {shown_url(engine.url)}")
        if held is not None:  # after a `git pull` during the night's run: never under it
            typer.echo(for_terminal(held.notice()))
            with engine.connect() as conn:
                missing = missing_columns(conn, _status_reads())
            if missing:
                typer.echo(
                    "Runs and lease: not shown, this linkhealth reads what the database "
                    f"lacks until it is migrated ({', '.join(missing)})"
                )
                _prefect_status(engine, None, limit, utcnow())
                return
        _runs_status(engine, limit)


def _status_reads() -> list[Any]:
    """The columns `status` reads: whole runs and leases, and what runs stored so far."""
    from catalog.tables import Observation, Run, RunLease

    observations = Observation.__table__.c
    return [
        *Run.__table__.c,
        *RunLease.__table__.c,
        observations.run_id,
        observations.link_id,
        observations.outcome,
    ]


def _runs_status(engine: Engine, limit: int) -> None:
    """`status`'s lines of the last runs and of the leases, then those of Prefect."""
    from catalog import store
    from catalog.clock import utcnow
    from catalog.ops import run_lines

    runs = store.latest_runs(engine, limit=limit)
    now = utcnow()
    held = store.leases(engine)
    dead = dead_runs(runs, held, now)
    for line in run_lines(runs, abandoned=dead) or ["no runs yet"]:
        typer.echo(for_terminal(line))  # a failed or refused run's reason quotes others' text
    for run_id, why in dead.items():
        typer.echo(f"Run {run_id} is not running: {why}; the next run records it as aborted.")
    for lease in held:
        run = f" (run {lease.run_id})" if lease.run_id is not None else ""
        if lease.expired(now):
            state = "EXPIRED, the next run takes it over"
        elif store.holder_gone(lease.holder):  # as `store.abort_stale_runs` judges it
            state = "ABANDONED (its process is gone), the next run takes it over; held"
        else:
            state = "held"
        typer.echo(
            f"Lease {lease.name}: {state} by {lease.holder}{run} until "
            f"{lease.expires_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
            f"{lease.heartbeat_at:%H:%M:%S}"
        )
    if not held:
        typer.echo("Lease: free (no full run in progress)")
    _prefect_status(engine, (runs, held), limit, now)


def _prefect_status(
    engine: Engine | None,
    read: tuple[list[RunRecord], list[LeaseRecord]] | None,
    limit: int,
    now: datetime,
    *,
    no_database: str | None = None,
) -> None:
    """Whether the Prefect API answers and, when it does and the runs and leases were
    `read` (from `engine`; none yet without one, the database `no_database` names not
    being there), what keeps the nights from running (the last night is told from the
    runs)."""
    from catalog import store
    from catalog.errors import ConfigError
    from flows.prefect_server import api_url, configured_api_url, is_healthy

    try:
        url = configured_api_url() or api_url()
    except ConfigError as exc:  # PREFECT_API_URL=notaurl: said so, not "not answering"
        typer.echo(f"Prefect API: {exc}")
        return
    up = is_healthy(url)
    typer.echo(f"Prefect API {url}: {'up' if up else 'not answering'}")
    if up and read is not None:
        # Up said nothing of the nights: a paused deployment or a crashed run ran none.
        from flows.nightly_watch import last_night_seen, status_lines, unchecked_night

        history, held = read
        if engine is not None and len(history) == limit < NIGHTS_LOOKBACK:
            # Older ones may hold the last night.
            history = store.latest_runs(engine, limit=NIGHTS_LOOKBACK)
        dead = dead_runs(history, held, now)
        seen = last_night_seen(history, dead, now)
        unchecked = unchecked_night(history, dead)
        for line in status_lines(url, seen, now, unchecked, no_database):
            typer.echo(for_terminal(line))


#: How many of the latest runs `status` reads for the last night (rechecks come in between).
NIGHTS_LOOKBACK = 50


def dead_runs(
    runs: Sequence[RunRecord], held: Sequence[LeaseRecord], now: datetime
) -> dict[int, str]:
    """Run id -> why, for the runs stored as running that nobody runs any more (their
    process is gone, or their lease expired): said now, rather than left "still running"
    until the next run marks them aborted (`store.abort_stale_runs`, whose rules these are)."""
    from catalog import store

    live = {(lease.name, lease.holder) for lease in held if not lease.expired(now)}
    out = {}
    for run in runs:
        holder, lease = run.summary.get("holder"), run.summary.get("lease")
        if run.status != "running" or not isinstance(holder, str):
            continue
        if store.holder_gone(holder):
            why = f"its process ({holder.split(' ', 1)[0]}) is gone"
        elif lease and (lease, holder) not in live:
            why = f"its lease {lease!r} expired without a heartbeat"
        else:
            continue
        out[run.id] = why
    return out


def catalog_edited(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="The catalog files that changed. One that is none of the configured catalogs "
            "is named and left out; one that is not there is an error."
        ),
    ] = None,
) -> None:
    """Tell Prefect the catalog was edited, so the `recheck` deployment checks what changed.

    Sends the event linkhealth.catalog.edited; never starts a server, and never fails for
    what a git hook passes it: an unreachable Prefect API, or a committed file that is none
    of the configured catalogs (an unrelated YAML file), is said on stderr with exit 0, and
    the other files are announced. When nothing will check the edit, says what will. A file
    named that does not exist (a typo: the hook passes no deleted file) is an error (exit 2)
    and nothing is announced.

    Example: linkhealth catalog edited catalog/data/psp-human-trafficking-toolkit.yaml
    """
    named = list(files or ())
    why_not = {name: why for name in named if (why := not_configured(name))}
    unchecked = [f"{name}: {why}" for name, why in why_not.items()]
    if any(why == NO_SUCH_FILE for why in why_not.values()):
        raise ConfigError(
            f"{'; '.join(unchecked)}; the edit was not announced: the recheck deployment "
            "checks only the catalogs of linkhealth.toml (or LINKHEALTH_CONFIG's file); "
            "`linkhealth recheck --changed --catalog FILE` checks another"
        )
    files = [name for name in named if name not in why_not]
    if unchecked:
        _err(
            f"warning: {'; '.join(unchecked)}: left out, the recheck deployment checks only "
            "the catalogs of linkhealth.toml (or LINKHEALTH_CONFIG's file)"
        )
        if not files:
            _err("nothing announced: no configured catalog among the files")
            return
    url, announced = announce_catalog_edit(files)
    # Its reader is a curator looking at the hook's log later: the edit is still unchecked.
    # Run with the settings of the service that would have checked it, which reads only its
    # catalogs (with no settings file, the bundled demo): a file they do not hold is named.
    configured = _configured()
    reads = configured.catalogs if configured is not None else ()
    # The settings file LINKHEALTH_CONFIG named here (absolute): the log is read, and its
    # command pasted, in another shell, where `reads` came from another file or none.
    env_config = os.environ.get("LINKHEALTH_CONFIG")
    config = Path(env_config).resolve() if env_config else None
    # So is LINKHEALTH_DATABASE_URL's database, as the curate commands' recheck names it:
    # without it, the command read the settings file's database, not the one edited in.
    db, unnamed = inherited_database(configured) if configured is not None else (None, None)
    command = recheck_command(files, config=config, db=db, reads=reads)
    by_hand = f"run `{command}`{where_to_run(unnamed)} to check it"
    if not announced:
        where = url
        if not os.environ.get("PREFECT_API_URL"):
            where += " (PREFECT_API_URL is not in this environment)"
        _err(f"no Prefect API answers at {where}; the edit was not announced: {by_hand}")
    elif recheck_served() is False:
        _err(
            f"announced the catalog edit to {url}, but nothing serves the recheck deployment "
            f"there (`linkhealth serve`, or a worker on its pool): {by_hand}"
        )
    else:
        _err(f"announced the catalog edit to {url}")


def _configured() -> Settings | None:
    """The settings a command given no options reads: the service's, as far as this shell
    can tell. None when they cannot be read (the service's run would be refused, and say
    so)."""
    try:
        return load_settings()
    except ConfigError:
        return None


def covers(catalogs: Sequence[str | Path], file: Path) -> bool:
    """Whether `file` is one of `catalogs` (files and folders), or in one of its folders
    (a file deleted from a configured folder is an edit of the catalog too)."""
    from catalog.source import catalog_files

    target = file.resolve()
    folders = {Path(p).resolve() for p in catalogs if Path(p).is_dir()}
    return target in {p.resolve() for p in catalog_files(catalogs)} or target.parent in folders


def not_configured(name: str) -> str | None:
    """Why the `recheck` deployment would check nothing of catalog file `name` (a typo, a
    trial file), or None. Whether it is a configured catalog is asked only where a settings
    file says which they are: a git hook in another repository than the checkout's finds
    none, and the service's file there names the repository's files."""
    from flows.cli import configured_config

    file = Path(name)
    configured = _configured() if configured_config() is not None else None
    if configured is None or covers(configured.catalogs, file):
        return None if configured is not None or file.is_file() else NO_SUCH_FILE
    return "not a configured catalog" if file.is_file() else NO_SUCH_FILE


#: Why `not_configured` refuses a file that is not there.
NO_SUCH_FILE = "no such file"


def served_elsewhere(
    file: str | None, *, config: Path | None, db: str | None, catalogs: Sequence[Path] | None
) -> str | None:
    """Why the `recheck` deployment, which reads the configured settings, would not check an
    edit of `file` made with these --config, --db and --catalog: another database, or a
    file none of its catalogs holds. None when it would, as far as this shell can tell (no
    option given: the edit used the configured settings too)."""
    from catalog.db import absolute_sqlite_url, shown_url

    if config is None and db is None and not catalogs:
        return None
    configured = _configured()
    if configured is None:
        return "the configured settings cannot be read to compare them with the edit's"
    edit = load_settings(config).with_overrides(database_url=db)
    if absolute_sqlite_url(edit.database_url) != absolute_sqlite_url(configured.database_url):
        return f"it was made in {shown_url(edit.database_url)}, not the configured database"
    if file is not None and not covers(configured.catalogs, Path(file)):
        return f"{file} is not a configured catalog"
    return None


def inherited_database(settings: Settings) -> tuple[str | None, str | None]:
    """The database `settings` took from LINKHEALTH_DATABASE_URL, for a command pasted where
    the variable is not set (cron, another terminal): its `--db`, as a report's commands
    name it (`catalog.commands.command_options`), a relative SQLite file by its absolute
    path (the variable's `sqlite:///rel.db` is another file in another folder); or, for a
    URL with a password, which a command cannot name without printing it, the database as
    messages show it (`where_to_run`). (None, None) without the variable, or when a shell
    without it reads that database too."""
    from sqlalchemy.engine import make_url

    from catalog.commands import command_options
    from catalog.db import absolute_sqlite_url, shown_url, without_secrets

    if not os.environ.get("LINKHEALTH_DATABASE_URL"):
        return None, None
    words = list(command_options(settings).words)
    if "--db" not in words:  # the database a shell without the variable reads too
        return None, None
    url = make_url(settings.database_url)
    if without_secrets(url) != url:
        # Not "--db URL" without it: in this shell, whose variable holds the password,
        # the command would then fail to log in.
        return None, shown_url(url)
    return absolute_sqlite_url(words[words.index("--db") + 1]), None


def where_to_run(unnamed_db: str | None) -> str:
    """Where an offered command must run when it cannot name its database (`inherited_
    database`: a URL with a password), to follow it; "" when it names it."""
    if unnamed_db is None:
        return ""
    return f" (in a shell whose LINKHEALTH_DATABASE_URL names {unnamed_db}, as here)"


def recheck_command(
    files: Sequence[str],
    *,
    config: Path | None = None,
    db: str | None = None,
    catalogs: Sequence[Path] | None = None,
    reads: Sequence[str | Path] = (),
) -> str:
    """The `linkhealth recheck --changed` that checks the edit of catalog `files` by hand,
    with the --config, --db and --catalog the edit was made with. Without --catalog, each
    file the settings' catalogs (`reads`) do not hold is named with --catalog: the recheck
    reads those catalogs only (with no settings file, the bundled demo), never the file."""
    words = ["linkhealth", "recheck", "--changed"]
    if config is not None:
        words += ["--config", str(config)]
    if db is not None:
        words += ["--db", db]
    named = [str(c) for c in catalogs or ()]
    if not named:
        named = [f for f in dict.fromkeys(files) if not covers(reads, Path(f))]
    for catalog in named:
        words += ["--catalog", catalog]
    return shlex.join(words)


def announce_catalog_edit(files: Sequence[str]) -> tuple[str, bool]:
    """Send linkhealth.catalog.edited if a Prefect API answers (never starts a server, never
    raises): the API's URL, and whether the event went out."""
    from catalog.errors import ConfigError
    from flows.prefect_server import api_url, configured_api_url, is_healthy, use_api

    try:
        url = configured_api_url() or api_url()
    except ConfigError as exc:  # a bad PREFECT_API_URL or LINKHEALTH_PREFECT_PORT
        return f"no address ({exc})", False
    if not is_healthy(url):
        return url, False
    use_api(url)
    from flows.events import emit_catalog_edited, flush

    if not emit_catalog_edited(files):
        return url, False
    flush()
    return url, True


#: The deployment that reacts to linkhealth.catalog.edited (prefect.yaml: flow/deployment).
RECHECK_DEPLOYMENT = "recheck/recheck"


def recheck_served() -> bool | None:
    """Whether the Prefect API (PREFECT_API_URL) has the `recheck` deployment with something
    serving it (`linkhealth serve` or a worker): only then does an announced edit get
    checked. None when that cannot be told."""
    try:
        from prefect import get_client
        from prefect.client.schemas.objects import DeploymentStatus
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client:
            try:
                deployment = client.read_deployment_by_name(RECHECK_DEPLOYMENT)
            except ObjectNotFound:
                return False
        # A stopped `serve` pauses its deployments, and Prefect still says READY for a
        # minute or two after: a run created meanwhile waits for the next serve.
        return bool(deployment.status == DeploymentStatus.READY and not deployment.paused)
    except Exception:  # only a hint for the message: never fails the edit
        return None


def register(app: typer.Typer) -> None:
    """Add these commands to the main app (and `catalog edited` to its `catalog` group)."""
    # The shared option types (with their defaults in the help), imported here rather than
    # at the top: flows.cli imports this module, and typer reads the annotations only now.
    # (`named_path`: recheck's --catalog refuses an empty path as the others' do.)
    global ConfigOpt, DbOpt, named_path
    from flows.cli import ConfigOpt, DbOpt, named_path

    app.command("serve")(serve)
    app.command("recheck")(recheck)
    app.command("status")(status)
    for group in app.registered_groups:
        if group.name == "catalog" and group.typer_instance is not None:
            group.typer_instance.command("edited")(catalog_edited)
            return
    raise LinkhealthError("the CLI has no `catalog` command group to extend")
