"""Curator commands of the `linkhealth` CLI: decisions about one resource, and its history.

Registered onto the main app by `flows.cli` (`register(app)`). Thin: each command
calls one `catalog.decisions` function and prints what it did (the diff too, with
--dry-run). Errors go to stderr with the documented exit codes (an unknown id exits 4).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.settings import MAX_SHOWN, Settings
from catalog.text import for_terminal

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from flows.cli import CatalogOpt, ConfigOpt, DbOpt

IdArg = Annotated[str, typer.Argument(help="The resource id, as in the catalog file.")]
CollectionOpt = Annotated[
    str | None,
    typer.Option(
        "--collection", help="Collection (catalog file stem) of an id used in several catalogs."
    ),
]
#: The longest author a decision keeps (`decisions.decided_by`).
MAX_BY = 200


def _by(value: str | None) -> str | None:
    """A longer `--by` than the database keeps: PostgreSQL refused it with a traceback."""
    if value is not None and len(value) > MAX_BY:
        raise typer.BadParameter(
            f"is {len(value)} characters long; the database keeps up to {MAX_BY}",
            param_hint="--by",
        )
    return value


ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by", help="Who decided (up to 200 characters). Default: the OS user name.", callback=_by
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the catalog diff; change nothing.")
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept with the decision).")]


def _settings(config: Path | None, db: str | None, catalogs: list[Path] | None) -> Settings:
    """The settings, once the --catalog files are known to be there (exit 5, naming each
    missing one, rather than "not among the --catalog files" for a misspelt path, or an
    edit of the database's file as if no --catalog were given) and their database to exist
    (exit 3, naming where it was looked for, rather than an empty database created in the
    wrong folder)."""
    from catalog.db import existing_database
    from catalog.errors import CatalogError
    from catalog.source import validate_catalogs
    from flows.cli import _settings as command_settings

    settings = command_settings(config, db, catalogs)
    missing = [p for p in catalogs or () if not p.exists()]
    if missing:
        raise CatalogError(validate_catalogs(missing).problems)
    existing_database(settings.database_url)
    return settings


def _edit_settings(
    config: Path | None, db: str | None, catalogs: list[Path] | None, dry_run: bool
) -> Settings:
    """`_settings` for a decision that edits the catalog file, once its database is known
    to take a write: a locked or read-only database fails the command at once (exit 3).
    The decision itself writes the file inside its write transaction and puts it back if
    the commit fails (`catalog.decisions`), so a lock taken after this check is safe too."""
    from catalog import store
    from catalog.db import engine_for

    settings = _settings(config, db, catalogs)
    if not dry_run:
        store.ensure_writable(engine_for(settings.database_url))
    return settings


@dataclass(frozen=True)
class _EditedWith:
    """The --config, --db and --catalog an edit was made with: the recheck that checks it
    by hand needs them (without them it would check, and sync, the configured catalogs
    into the configured database instead), and the announcement is only for an edit the
    recheck deployment can see (`_announce`). `reads`: the catalogs those settings name
    (`Settings.catalogs`)."""

    config: Path | None
    db: str | None
    catalogs: list[Path] | None
    reads: tuple[Path, ...] = ()
    #: The `--db` a command needs, pasted where LINKHEALTH_DATABASE_URL is not set (cron,
    #: another terminal), to reach the database it named here, as a report's commands
    #: name it (`catalog.commands.command_options`), a relative SQLite file by its
    #: absolute path (the variable's `sqlite:///rel.db` is another file in another
    #: folder); only for a URL without a password, which a command cannot name without
    #: printing it.
    inherited_db: str | None = None
    #: The database LINKHEALTH_DATABASE_URL names with a password, as messages show it.
    unnamed_db: str | None = None
    #: The settings file LINKHEALTH_CONFIG named (absolute), for the `--config` of a
    #: command pasted where the variable is not set: it read `./linkhealth.toml` or the
    #: defaults instead, other catalogs, database and rules.
    inherited_config: Path | None = None

    @classmethod
    def of(
        cls, config: Path | None, db: str | None, catalogs: list[Path] | None, settings: Settings
    ) -> _EditedWith:
        """The options an edit of a catalog file was made with, and the settings file and
        database its settings took from LINKHEALTH_CONFIG and LINKHEALTH_DATABASE_URL
        instead."""
        from flows.cli_ops import inherited_database

        inherited_config = None
        if config is None and os.environ.get("LINKHEALTH_CONFIG") and settings.config_file:
            inherited_config = settings.config_file.resolve()
        named, unnamed = (None, None) if db is not None else inherited_database(settings)
        return cls(
            config,
            db,
            catalogs,
            settings.catalogs,
            inherited_db=named,
            unnamed_db=unnamed,
            inherited_config=inherited_config,
        )

    def recheck(self, path: str | None) -> str:
        """The command that checks the edit of the catalog file `path` by hand
        (`recheck_command`): a file the settings do not name (a trial file checked with
        `--catalog` into `--db`, edited without it: the database knows its file) is named
        with --catalog, or the recheck synced and checked the configured catalogs, or the
        bundled demo, which a trial database refuses (exit 2). A settings file named by
        LINKHEALTH_CONFIG is named with --config, a database named by
        LINKHEALTH_DATABASE_URL with --db: pasted where the variable is not set, the recheck
        read other ones; a database whose URL holds a password is said after the command
        instead (`where`)."""
        from flows.cli_ops import recheck_command

        return recheck_command(
            [path] if path is not None else [],
            config=self.config or self.inherited_config,
            db=self.db or self.inherited_db,
            catalogs=self.catalogs,
            reads=self.reads,
        )

    def where(self) -> str:
        """Where `recheck` must run, when its command cannot say it."""
        from flows.cli_ops import where_to_run

        return where_to_run(self.unnamed_db)


def _say(edited: _EditedWith, result: object) -> None:
    from catalog.decisions import DecisionResult

    assert isinstance(result, DecisionResult)
    if result.diff:
        typer.echo(for_terminal(result.diff.rstrip("\n")))
    typer.echo(for_terminal(result.message))
    for line in result.follow_up:
        typer.echo(f"  {for_terminal(line)}")
    if result.sync is not None:
        typer.echo(result.sync.headline())
    if result.diff and not result.dry_run:
        _announce(result.resource.path, edited)


def _announce(path: str | None, edited: _EditedWith) -> None:
    """A catalog file was edited: have the `recheck` deployment check it right away (the
    same event as `linkhealth catalog edited`), or say how to check it by hand (`recheck`).
    An edit made with a --db, --config or --catalog the deployment does not read (it reads
    the configured settings) is not announced: it would check nothing of it."""
    from flows.cli_ops import announce_catalog_edit, recheck_served, served_elsewhere

    recheck = edited.recheck(path)
    where = edited.where()
    elsewhere = served_elsewhere(
        path, config=edited.config, db=edited.db, catalogs=list(edited.catalogs or ())
    )
    if elsewhere is not None:
        typer.echo(
            f"Not announced to the recheck deployment, which reads the configured settings: "
            f"{elsewhere}. `{recheck}` checks the edit{where}."
        )
        return
    url, announced = announce_catalog_edit([path] if path else [])
    if announced and recheck_served() is False:
        typer.echo(
            f"Announced the edit to {url}, but nothing serves the recheck deployment there "
            f"(`linkhealth serve` does): `{recheck}` checks the edit{where}."
        )
    elif announced:
        typer.echo(f"Announced the edit to {url}: the recheck deployment checks it now.")
    else:
        typer.echo(f"No Prefect API answers at {url}: `{recheck}` checks the edit{where}.")


def accept_redirect(
    resource_id: IdArg,
    collection: CollectionOpt = None,
    by: ByOpt = None,
    reason: ReasonOpt = None,
    dry_run: DryRunOpt = False,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Switch the entry's URL to where its permanent redirect now leads, in the catalog file
    (ending the entry's snooze and ignore: they were about the old address; the same page
    tidied, https or a trailing / or no tracking parameters, keeps them). A redirect that
    leads to several addresses by turns is refused until it stays on one: replace-url sets
    the one you choose.

    Example: linkhealth accept-redirect demandforum --dry-run
    """
    from catalog import decisions

    settings = _edit_settings(config, db, catalog, dry_run)
    collection, resource_id = _chosen(settings, resource_id, collection, catalog)
    _say(
        _EditedWith.of(config, db, catalog, settings),
        decisions.accept_redirect(
            settings,
            resource_id,
            collection=collection,
            by=by,
            reason=reason,
            dry_run=dry_run,
            catalogs=catalog,
        ),
    )


def replace_url(
    resource_id: IdArg,
    url: Annotated[str | None, typer.Argument(help="The new URL.")] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="Use the link's Internet Archive copy.")
    ] = False,
    collection: CollectionOpt = None,
    by: ByOpt = None,
    reason: ReasonOpt = None,
    dry_run: DryRunOpt = False,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Replace the entry's URL in the catalog file (with URL, or --archive for the archived copy),
    ending the entry's snooze and ignore: they were about the old address (the same page
    tidied, https or a trailing / or no tracking parameters, keeps them).

    Example: linkhealth replace-url demandforum https://example.org/new --reason "site moved"
    """
    from catalog import decisions

    settings = _edit_settings(config, db, catalog, dry_run)
    collection, resource_id = _chosen(settings, resource_id, collection, catalog)
    _say(
        _EditedWith.of(config, db, catalog, settings),
        decisions.replace_url(
            settings,
            resource_id,
            url,
            archive=archive,
            collection=collection,
            by=by,
            reason=reason,
            dry_run=dry_run,
            catalogs=catalog,
        ),
    )


def mark_reviewed(
    resource_id: IdArg,
    collection: CollectionOpt = None,
    by: ByOpt = None,
    reason: ReasonOpt = None,
    dry_run: DryRunOpt = False,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Record a review: writes `reviewed_at: <today>` into the entry.

    Example: linkhealth mark-reviewed demandforum --reason "still the current edition"
    """
    from catalog import decisions

    settings = _edit_settings(config, db, catalog, dry_run)
    collection, resource_id = _chosen(settings, resource_id, collection, catalog)
    _say(
        _EditedWith.of(config, db, catalog, settings),
        decisions.mark_reviewed(
            settings,
            resource_id,
            collection=collection,
            by=by,
            reason=reason,
            dry_run=dry_run,
            catalogs=catalog,
        ),
    )


def _calendar_date(value: str) -> datetime:
    """--until as YYYY-MM-DD; a day the month lacks (2030-02-30) is said to be no date,
    where click said the value "does not match the format"."""
    import re

    try:
        return datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        shaped = re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()) is not None
        what = "is no date in the calendar" if shaped else "is not a date"
        raise typer.BadParameter(f"{value!r} {what}; write YYYY-MM-DD, e.g. 2030-02-28") from None


def snooze(
    resource_id: IdArg,
    until: Annotated[
        datetime,
        typer.Option("--until", parser=_calendar_date, help="Back in the queue on this date."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the decision).")],
    collection: CollectionOpt = None,
    by: ByOpt = None,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Take the resource out of the action queue until a date, until its link has another
    kind of problem than now, or until the entry gets another address (not the same page
    tidied: https, a trailing /, no tracking parameters); it is still checked.

    Example: linkhealth snooze demandforum --until 2027-03-01 --reason "site rebuild"
    """
    from catalog import decisions

    settings = _settings(config, db, catalog)
    collection, resource_id = _chosen(settings, resource_id, collection, catalog)
    _say(
        _EditedWith(config, db, catalog),
        decisions.snooze(
            settings, resource_id, until=until.date(), reason=reason, collection=collection, by=by
        ),
    )


def ignore(
    resource_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (e.g. a known login wall).")],
    collection: CollectionOpt = None,
    by: ByOpt = None,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Take the resource out of the action queue until `unignore`, until its link has
    another kind of problem than now (a login wall that starts answering 404s), or until
    the entry gets another address by any edit (not the same page tidied: https, a trailing
    /, no tracking parameters); it is still checked.

    Example: linkhealth ignore members-portal --reason "login wall, works in a browser"
    """
    from catalog import decisions

    settings = _settings(config, db, catalog)
    collection, resource_id = _chosen(settings, resource_id, collection, catalog)
    _say(
        _EditedWith(config, db, catalog),
        decisions.ignore(settings, resource_id, reason=reason, collection=collection, by=by),
    )


def unignore(
    resource_id: IdArg,
    collection: CollectionOpt = None,
    by: ByOpt = None,
    reason: ReasonOpt = None,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """End a resource's ignore and snooze: back in the action queue if it needs attention,
    else watched again and listed once it does.

    Example: linkhealth unignore members-portal
    """
    from catalog import decisions

    settings = _settings(config, db, catalog)
    collection, resource_id = _chosen(settings, resource_id, collection, catalog)
    _say(
        _EditedWith(config, db, catalog),
        decisions.unignore(settings, resource_id, reason=reason, collection=collection, by=by),
    )


def resource(
    resource_id: IdArg,
    collection: CollectionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_SHOWN, help="Observations and events shown.")
    ] = 50,
    catalog: CatalogOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Show one resource's full history: entry, state, observations, events, decisions.

    With --catalog, the id is looked up in those catalog files' collections only.

    Example: linkhealth resource demandforum --json
    """
    from catalog import store
    from catalog.clock import utcnow
    from catalog.commands import command_options
    from catalog.db import engine_for, existing_database
    from catalog.queries import entry_events, resource_ids_at, resource_row, shared_resource_ids
    from catalog.text import json_for_terminal
    from flows.cli import catalog_keys
    from reports.build import resource_report_row
    from reports.resource_text import resource_json, resource_lines

    settings = _settings(config, db, catalog)
    keys = catalog_keys(settings, catalog)
    engine = engine_for(existing_database(settings.database_url))
    if keys is not None:
        collection, resource_id = _collection_among(engine, resource_id, collection, keys)
    history = store.resource_history(engine, resource_id, collection=collection, limit=limit)
    edits = entry_events(engine, history.resource.id)  # put back after a removal?
    # What the report says of it (since when, its fix): the report's own reading.
    now = utcnow()
    found = resource_row(engine, history.resource.id)
    row = (
        resource_report_row(
            found,
            now=now,
            shared_ids=shared_resource_ids(engine),
            ids_at=lambda addresses: resource_ids_at(engine, addresses),
            options=command_options(settings).words,
            unavailable_days=settings.health.unavailable_days,
        )
        if found is not None
        else None
    )
    if as_json:
        data = json.dumps(resource_json(history, edits, row), indent=2, ensure_ascii=False)
        typer.echo(json_for_terminal(data))
        return
    for line in resource_lines(history, edits, now=now, row=row):
        typer.echo(line)  # `history_lines` took out what a terminal acts on


def _chosen(
    settings: Settings, resource_id: str, collection: str | None, catalogs: list[Path] | None
) -> tuple[str | None, str]:
    """The collection and id a decision is about: with --catalog (and no --collection), the
    one of those files' collections that holds the id (`_collection_among`), as `resource`
    looks it up; an id also in collections no --catalog file is of was refused as "in
    several collections". An id the database holds nowhere is left to the decision, whose
    error says so (or what it was renamed to); one held only in other collections is not
    looked for there."""
    from catalog import store
    from catalog.db import engine_for
    from catalog.errors import ConfigError, NotFoundError
    from flows.cli import catalog_keys

    keys = catalog_keys(settings, catalogs)
    if keys is None or collection is not None:
        return collection, resource_id
    engine = engine_for(settings.database_url)
    try:
        return _collection_among(engine, resource_id, None, keys)
    except NotFoundError as not_among:
        try:
            store.find_resource(engine, resource_id)
        except NotFoundError:
            return None, resource_id  # nowhere: the decision's own error
        except ConfigError:
            pass  # in several other collections
        raise not_among


def _collection_among(
    engine: Engine, resource_id: str, collection: str | None, keys: list[str]
) -> tuple[str, str]:
    """The one collection of `keys` (the --catalog files' collections) that holds the id,
    and the id it holds: `KEY/ID` (as verdicts name entries) is ID of collection KEY when
    no entry's id is `KEY/ID` itself. `NotFoundError` (exit 4) when none does,
    `ConfigError` (exit 2: name one) when several do, or `collection` is none of `keys`."""
    from catalog import store
    from catalog.db import shown_url
    from catalog.errors import ConfigError, NotFoundError

    if collection is not None:
        if collection not in keys:
            raise ConfigError(
                f"--collection {collection!r} is not the collection of a --catalog file "
                f"({', '.join(keys)}); a collection's key is its catalog file's name"
            )
        keys = [collection]
    found = []
    for key in keys:
        try:
            store.find_resource(engine, resource_id, collection=key)
        except NotFoundError:
            continue
        found.append(key)
    if len(found) == 1:
        return found[0], resource_id
    key, slash, bare = resource_id.partition("/")
    if not found and slash and key in keys:
        try:
            store.find_resource(engine, bare, collection=key)
        except NotFoundError:
            pass
        else:
            return key, bare
    named = ", ".join(map(repr, keys))
    if not found:
        database = shown_url(engine.url)
        raise NotFoundError(
            f"no resource with id {resource_id!r} in collection {named} of the database "
            f"{database}; "
            "check the id in the catalog file, or sync it first (`linkhealth sync --catalog`)"
        )
    raise ConfigError(
        f"resource id {resource_id!r} is in several collections ({', '.join(found)}); "
        "name one with --collection"
    )


def register(app: typer.Typer) -> None:
    """Add the curator commands to the main app."""
    # The shared option types, imported here rather than at the top: flows.cli imports
    # this module, and typer reads the (string) annotations only when the CLI runs.
    global CatalogOpt, ConfigOpt, DbOpt
    from flows.cli import CatalogOpt, ConfigOpt, DbOpt

    app.command("accept-redirect")(accept_redirect)
    app.command("replace-url")(replace_url)
    app.command("mark-reviewed")(mark_reviewed)
    app.command("snooze")(snooze)
    app.command("ignore")(ignore)
    app.command("unignore")(unignore)
    app.command("resource")(resource)
