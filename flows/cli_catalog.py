"""Catalog care commands of the `linkhealth` CLI: `catalog lint`, `import-html`, `import-csv`.

Registered onto the `catalog` group by `flows.cli` (`register(catalog_app)`). Thin: each
command reads the catalogs or the source, calls `catalog.hygiene` / `catalog.importer`, and
prints the result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.commands import command_options
from catalog.hygiene import Finding, Level, at_or_above, counts_by_level, lint
from catalog.progress import still_working
from catalog.settings import load_settings
from catalog.source import load_catalogs
from catalog.text import for_terminal, json_for_terminal
from catalog.urls import every_parse_kept

if TYPE_CHECKING:  # the importer (CSV, HTML, catalog edits) loads when a command needs it
    from catalog.importer import ImportResult
    from flows.cli import CatalogOpt, ConfigOpt, named_path

#: `catalog lint` found something at or above `--fail-on` (document in the README).
EXIT_LINT_FINDINGS = 7

_IntoOpt = Annotated[
    Path,
    typer.Option(
        "--into", help="Catalog file to merge into (.yaml, .yml or .csv); created if new."
    ),
]
_DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the diff and what would change; write nothing.")
]
_JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _err(message: str) -> None:
    typer.echo(for_terminal(message), err=True)


def catalog_lint(
    files: Annotated[
        list[Path] | None,
        typer.Argument(parser=named_path, help="Catalog files or folders (default: configured)."),
    ] = None,
    catalog: CatalogOpt = None,
    config: ConfigOpt = None,
    fail_on: Annotated[
        Level, typer.Option("--fail-on", help="Exit 7 when a finding is at least this level.")
    ] = Level.ERROR,
    as_json: _JsonOpt = False,
) -> None:
    """Find tidying work in catalog entries: missing fields, duplicate URLs and titles,
    http:// URLs, tracking parameters, link shorteners, a year that disagrees with the title.

    Mark URLs shared on purpose with `shared_url: true` or `duplicate_of: <id>` in the entry.
    Writes nothing. Exit 0, or 7 when a finding is at or above --fail-on.

    Example: linkhealth catalog lint --fail-on warning catalog/data/
    """
    from flows.cli import said  # it reads the database's shared ids

    paths = [*(files or []), *(catalog or [])]
    settings = said(load_settings(config))
    if paths:
        settings = settings.with_overrides(catalogs=tuple(paths))
    # Each URL parsed once, by the loader, at any catalog size; the read and the lint
    # said on one clock (each of a 20,000-entry catalog's took 2 s, together 4 s of silence).
    with every_parse_kept(), still_working("Linting the catalogs"):
        findings = lint(
            load_catalogs(settings.catalogs),
            options=command_options(settings),
            shared_ids=_shared_ids(settings.database_url),
        )
    if as_json:
        data = json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False)
        typer.echo(json_for_terminal(data))
    else:
        for finding in findings:
            typer.echo(for_terminal(_describe(finding)))
        counts = counts_by_level(findings)
        _err(", ".join(_count(n, level) for level, n in reversed(counts.items())))
    if at_or_above(findings, fail_on):
        raise typer.Exit(EXIT_LINT_FINDINGS)


def _count(n: int, level: str) -> str:
    """ "1 error", "3 warnings", "11 info findings"."""
    if level == "info":
        return f"{n} info finding{'' if n == 1 else 's'}"
    return f"{n} {level}{'' if n == 1 else 's'}"


def _shared_ids(database_url: str) -> frozenset[str]:
    """Ids the database holds in several collections, which a decision must name the
    collection of; none when there is no database yet (or not one of ours). Read only:
    linting writes nothing, not even a migration."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from catalog.db import existing_database, open_engine
    from catalog.errors import LinkhealthError
    from catalog.queries import shared_resource_ids

    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):  # the commands that use the database say it
        return frozenset()
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # An unreachable server must not hold up a lint (a pre-commit hook, CI) for the
        # minutes of a TCP connect: without the ids, commands lack a --collection, no more.
        database_url = url.update_query_dict({"connect_timeout": "3"}).render_as_string(
            hide_password=False
        )
    try:
        engine = open_engine(existing_database(database_url), migrate=False)
    except LinkhealthError:
        return frozenset()
    try:
        return shared_resource_ids(engine)
    except SQLAlchemyError:
        return frozenset()
    finally:
        engine.dispose()


def _describe(finding: Finding) -> str:
    lines = [str(finding), f"    fix: {finding.fix}"]
    if finding.command:
        lines.append(f"    run: {finding.command}")
    return "\n".join(lines)


def catalog_import_html(
    source: Annotated[str, typer.Argument(help="Toolkit page: an HTML file or an http(s) URL.")],
    into: _IntoOpt,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Resolve relative links against this URL (files only)."),
    ] = None,
    dry_run: _DryRunOpt = False,
    config: ConfigOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Merge the resources of a toolkit page (title, link, description) into a catalog.

    A resource already in the catalog (same title, else same URL; ids are not compared:
    a page has none) only gets its empty fields filled. New ones get ids made from their
    titles, with -2, -3, ... when the catalog already uses the id. Nothing is deleted.

    Example: linkhealth catalog import-html toolkit.html --into my-toolkit.yaml --dry-run
    """
    from catalog.importer import import_entries, parse_toolkit_html
    from catalog.importer import read_source as read_import_source

    check = load_settings(config).check
    text, fetched_from = read_import_source(
        source, user_agent=check.effective_user_agent, check=check
    )
    parsed = parse_toolkit_html(text, base_url=base_url or fetched_from, source=source)
    _print_result(import_entries(into, parsed, dry_run=dry_run), as_json)


def catalog_import_csv(
    source: Annotated[
        str, typer.Argument(help="CSV file (or http(s) URL) with title and url columns.")
    ],
    into: _IntoOpt,
    dry_run: _DryRunOpt = False,
    fill_down: Annotated[
        bool,
        typer.Option(
            "--fill-down/--no-fill-down",
            help="Give the empty cells of a merged Category, Section, Publisher, ... "
            "column the value above them (the default; the summary says where).",
        ),
    ] = True,
    config: ConfigOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Merge the rows of a CSV (title, url and any catalog fields) into a catalog.

    Same rules as import-html (add new resources, fill empty fields of known ones), but a
    row whose `id` column names an entry is that entry, title and URL edited or not, and
    a new row keeps its id when it is free.

    Example: linkhealth catalog import-csv export.csv --into my-toolkit.yaml --dry-run
    """
    from catalog.importer import import_entries, parse_csv, read_spreadsheet

    check = load_settings(config).check
    text = read_spreadsheet(source, user_agent=check.effective_user_agent, check=check)
    parsed = parse_csv(text, source=source, fill_down=fill_down)
    _print_result(import_entries(into, parsed, dry_run=dry_run), as_json)


def _print_result(result: ImportResult, as_json: bool) -> None:
    if as_json:
        data = {
            "path": str(result.path),
            "source": result.source,
            "dry_run": result.dry_run,
            "created": result.created,
            "added": list(result.added),
            "filled": [
                {"resource_id": e.resource_id, "field": e.field, "value": e.value}
                for e in result.filled
            ],
            "matched": list(result.matched),
            "skipped": [s.__dict__ for s in result.skipped],
            "differences": [d.__dict__ for d in result.differences],
            # What the summary prints below its headline, each with its facts apart.
            "notes": [note.to_dict() for note in result.notes],
            "diff": result.diff,
        }
        typer.echo(json_for_terminal(json.dumps(data, indent=2, ensure_ascii=False)))
        return
    if result.dry_run and result.diff:
        typer.echo(for_terminal(result.diff), nl=False)
    where = f"{result.source} " if result.source else ""
    for skipped in result.skipped:
        title = f" {skipped.title!r}" if skipped.title else ""  # not `''` before the reason
        _err(f"skipped {where}{skipped.origin}{title}: {skipped.reason}")
    for d in result.differences:
        _err(
            f"{d.resource_id}: the source's {d.field} differs from the catalog's "
            f"(kept the catalog's): {d.source!r}"
        )
    typer.echo(result.headline())


def register(catalog_app: typer.Typer) -> None:
    """Add `lint`, `import-html` and `import-csv` to the `catalog` command group."""
    # The shared option types (an empty --catalog or --config is refused, not the current
    # folder), imported here: flows.cli imports this module, and typer reads the (string)
    # annotations only when the CLI runs.
    global CatalogOpt, ConfigOpt, named_path
    from flows.cli import CatalogOpt, ConfigOpt, named_path

    catalog_app.command("lint")(catalog_lint)
    catalog_app.command("import-html")(catalog_import_html)
    catalog_app.command("import-csv")(catalog_import_csv)
