"""The curator commands: what they print, where errors go, and their exit codes."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.hygiene import lint
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import (
    T0,
    copy_migrated_sqlite,
    database_url,
    days,
    make_observation,
    temporary_database,
    write_catalog,
)

runner = CliRunner()
OLD = "https://example.org/old"
NEW = "https://example.org/new"


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "toolkit.yaml", [{"id": "a", "title": "Guide", "url": OLD}])


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        yield engine


def invoke(engine: Engine, catalog_file: Path, *args: str):
    return runner.invoke(app, [*args, "--db", database_url(engine), "--catalog", str(catalog_file)])


def test_every_curator_command_has_help() -> None:
    for name in (
        "accept-redirect",
        "replace-url",
        "mark-reviewed",
        "snooze",
        "ignore",
        "unignore",
        "resource",
    ):
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "--db" in result.stdout and "--collection" in result.stdout


def test_replace_url_dry_run_prints_the_diff_and_leaves_the_file(
    engine: Engine, catalog_file: Path
) -> None:
    before = catalog_file.read_text()
    result = invoke(engine, catalog_file, "replace-url", "a", NEW, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"+  url: {NEW}" in result.stdout
    assert catalog_file.read_text() == before


def test_accept_redirect_edits_the_file(engine: Engine, catalog_file: Path) -> None:
    obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), suggested_url=NEW)
    store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
    result = invoke(engine, catalog_file, "accept-redirect", "a", "--by", "ann")
    assert result.exit_code == 0, result.output
    assert f"url: {NEW}" in catalog_file.read_text()
    assert store.resource_history(engine, "a").decisions[0].by == "ann"


def test_accept_redirect_without_a_redirect_is_an_error_on_stderr(
    engine: Engine, catalog_file: Path
) -> None:
    result = invoke(engine, catalog_file, "accept-redirect", "a")
    assert result.exit_code == 1
    assert "error:" in result.stderr and result.stdout == ""


def test_unknown_id_exits_4_naming_the_database_it_was_looked_for_in(
    engine: Engine, catalog_file: Path
) -> None:
    """A command copied from a report without the --db of the run that wrote it looks in
    the default database: the error says which one was asked."""
    result = invoke(engine, catalog_file, "ignore", "nope", "--reason", "x")
    assert result.exit_code == 4
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no resource with id 'nope' in the database ")
    assert f" in the database {database_url(engine)};" in line
    shown = invoke(engine, catalog_file, "resource", "nope")  # looked for in --catalog's
    assert shown.exit_code == 4
    assert f"in collection 'toolkit' of the database {database_url(engine)};" in shown.stderr


def test_an_unknown_collection_is_named_as_the_mistake(engine: Engine, catalog_file: Path) -> None:
    """ "no resource with id 'a' in collection 'nope'" sent the curator to check an id
    that was right."""
    result = invoke(engine, catalog_file, "ignore", "a", "--collection", "nope", "--reason", "x")
    assert result.exit_code == 4
    assert result.stderr.startswith(
        "error: no collection 'nope' in the database (collections: toolkit); --collection "
    )


def test_snooze_ignore_unignore_and_mark_reviewed(engine: Engine, catalog_file: Path) -> None:
    result = invoke(engine, catalog_file, "snooze", "a", "--until", "2999-01-01", "--reason", "r")
    assert result.exit_code == 0, result.output
    assert store.find_resource(engine, "a").snoozed_until is not None
    result = invoke(engine, catalog_file, "ignore", "a", "--reason", "login wall")
    assert result.exit_code == 0 and "login wall" in result.stdout
    assert invoke(engine, catalog_file, "unignore", "a").exit_code == 0
    assert not store.find_resource(engine, "a").ignored
    result = invoke(engine, catalog_file, "mark-reviewed", "a")
    assert result.exit_code == 0, result.output
    assert "reviewed_at:" in catalog_file.read_text()


#: What a terminal acts on or turns around: C0 controls but the line break, DEL, C1 (CSI is
#: U+009B), bidirectional controls.
TERMINAL_CONTROLS = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def test_resource_never_prints_what_a_terminal_would_act_on(tmp_path: Path) -> None:
    """A careless catalog's title and notes ("\\e[31m" in double-quoted YAML), a site's
    Content-Type (UTF-8 bytes of U+009B, which llhttp and h11 let through) in an event:
    `linkhealth resource` printed them as they were, to the curator's terminal."""
    hostile = "Guide \x1b[31mred\x1b]0;owned\x07 \u202eexe.pdf"
    catalog_file = tmp_path / "toolkit.yaml"
    catalog_file.write_text(
        "collection:\n  title: Toolkit\nresources:\n- id: a\n"
        f'  title: "Guide \\e[31mred\\e]0;owned\\a \\u202eexe.pdf"\n  url: {OLD}\n'
        '  notes: "see \\x9b2J and \\u2066x"\n'
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        for day, content_type in ((1, "text/html"), (2, "text/ht\x9b31m\u202eml")):
            obs = make_observation(OLD, Outcome.OK, days(day), content_type=content_type)
            store.record_observations(engine, None, [obs], HealthSettings(), now=days(day))
        db = ["--db", database_url(engine), "--catalog", str(catalog_file)]
        text = runner.invoke(app, ["resource", "a", *db], color=True)  # as on a terminal
        shown = runner.invoke(app, ["resource", "a", "--json", *db], color=True)
    assert text.exit_code == 0, text.output
    assert "Guide" in text.stdout and "content_type_changed" in text.stdout
    assert not TERMINAL_CONTROLS.search(text.stdout), repr(text.stdout)
    assert shown.exit_code == 0, shown.output
    assert not TERMINAL_CONTROLS.search(shown.stdout.replace("\n", "")), repr(shown.stdout)
    assert json.loads(shown.stdout)["resource"]["title"] == hostile  # the data, escaped


def test_bad_date_is_a_usage_error(engine: Engine, catalog_file: Path) -> None:
    result = invoke(engine, catalog_file, "snooze", "a", "--until", "soon", "--reason", "r")
    assert result.exit_code == 2


def test_resource_prints_history_and_json(engine: Engine, catalog_file: Path) -> None:
    obs = make_observation(OLD, Outcome.NOT_FOUND, days(1))
    store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
    result = invoke(engine, catalog_file, "resource", "a")
    assert result.exit_code == 0, result.output
    assert "not_found" in result.stdout and "Observations" in result.stdout
    result = invoke(engine, catalog_file, "resource", "a", "--json")
    data = json.loads(result.stdout)
    assert data["resource"]["rid"] == "a"
    assert data["link"]["state"] == "suspect"
    assert [o["outcome"] for o in data["observations"]] == ["not_found"]


def test_resource_of_a_removed_entry_gives_its_old_line_as_where_it_was_not_where_it_is(
    engine: Engine, catalog_file: Path
) -> None:
    """Its `file: toolkit.yaml:5` was the line of the entry below it once it was removed:
    a curator opening it there edited the wrong resource."""
    entries = [{"id": "a", "title": "Guide", "url": OLD}, {"id": "b", "title": "B", "url": NEW}]
    write_catalog(catalog_file, entries)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(1))
    (line,) = [
        n for n, text in enumerate(catalog_file.read_text().splitlines(), 1) if "id: a" in text
    ]
    write_catalog(catalog_file, entries[1:])  # "b" is on a's old line now
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2))

    result = runner.invoke(app, ["resource", "a", "--db", database_url(engine)])
    assert result.exit_code == 0, result.output
    facts = result.stdout.splitlines()[: result.stdout.splitlines().index("")]
    assert not any(f.lstrip().startswith("file:") for f in facts), facts
    assert f"  removed:   {days(2):%Y-%m-%d %H:%M} (no longer in the catalog)" in facts
    (was,) = [f for f in facts if f.lstrip().startswith("was at:")]
    assert f"{catalog_file}:{line} when removed" in was


def test_resource_catalog_chooses_the_collection(
    engine: Engine, catalog_file: Path, tmp_path: Path
) -> None:
    other = write_catalog(tmp_path / "other.yaml", [{"id": "a", "title": "Other", "url": NEW}])
    sync_catalogs(engine, load_catalogs([other]), now=T0)
    db = ["--db", database_url(engine)]

    ambiguous = runner.invoke(app, ["resource", "a", "--json", *db])
    assert ambiguous.exit_code == 2 and "several collections" in ambiguous.stderr
    both = ["--catalog", str(catalog_file), "--catalog", str(other)]
    named_both = runner.invoke(app, ["resource", "a", "--json", *db, *both])
    assert named_both.exit_code == 2 and "several collections" in named_both.stderr
    for file, title in ((other, "Other"), (catalog_file, "Guide")):
        result = runner.invoke(app, ["resource", "a", "--json", *db, "--catalog", str(file)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["resource"]["title"] == title


def test_a_lint_command_for_an_id_in_two_catalogs_works_as_printed(
    engine: Engine, catalog_file: Path, tmp_path: Path
) -> None:
    """`catalog lint` and the report's hygiene rows print the command that applies a fix;
    for an id two catalogs use it named the catalog with `--catalog FILE`, which the
    curator commands do not read: pasted, it failed with "name one with --collection"."""
    url = "https://example.org/other?utm_source=mail"
    other = write_catalog(tmp_path / "other.yaml", [{"id": "a", "title": "Other", "url": url}])
    sync_catalogs(engine, load_catalogs([other]), now=T0)
    (finding,) = [
        f for f in lint(load_catalogs([catalog_file, other])) if f.code == "tracking_params"
    ]
    assert finding.command is not None
    words = shlex.split(finding.command)
    result = runner.invoke(app, [*words[1:], "--dry-run", "--db", database_url(engine)])
    assert result.exit_code == 0, result.output
    assert "other/a" in result.stdout


def test_commands_printed_for_an_id_that_starts_with_a_dash_work_as_printed(
    engine: Engine, tmp_path: Path
) -> None:
    """`linkhealth replace-url -old URL` reads the id as an unknown option (exit 2): the
    report's and the lint's commands put the options first and `--` before such an id,
    also those they add to reach another database (`catalog.commands`)."""
    from catalog.commands import CommandOptions
    from reports.build import CommandForm, command

    url = "https://example.org/dash?utm_source=mail"
    dashed = write_catalog(tmp_path / "dashed.yaml", [{"id": "-old", "title": "T", "url": url}])
    sync_catalogs(engine, load_catalogs([dashed]), now=T0)
    (row,) = [r for r in report_data(engine).resources if r.resource_id == "-old"]
    db = ("--db", database_url(engine))
    options = CommandOptions(db, read=frozenset())  # dashed.yaml is no configured catalog
    (linted,) = [
        f for f in lint(load_catalogs([dashed]), options=options) if f.code == "tracking_params"
    ]
    printed = [
        linted.command,
        command("replace-url", row, NEW, form=CommandForm(options=db)),
        command("ignore", row, "--reason", "works in a browser", form=CommandForm(options=db)),
        command("replace-url", row, NEW, form=CommandForm(frozenset({"-old"}), db)),
    ]
    for line in printed:
        assert line is not None
        words = shlex.split(line)
        assert words[0] == "linkhealth"
        result = runner.invoke(app, words[1:])  # as printed: the --db is in the words
        assert result.exit_code == 0, (line, result.output)


def test_a_report_of_another_database_prints_commands_that_act_on_that_database(
    engine: Engine, catalog_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial database's report (`linkhealth report --db URL`) printed `linkhealth
    accept-redirect a`: pasted in the folder whose linkhealth.toml names the real database,
    it looked there instead, and the report's own database never heard of the decision."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    (home / "linkhealth.toml").write_text(
        f'database_url = "sqlite:///var/real.db"\ncatalogs = ["{catalog_file}"]\n'
    )
    obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), suggested_url=NEW)
    store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
    trial = database_url(engine)
    made = runner.invoke(app, ["report", "--db", trial, "--format", "csv", "--out", "out"])
    assert made.exit_code == 0, made.output
    (csv_file,) = (home / "out").glob("*.csv")
    (row,) = [r for r in csv.DictReader(csv_file.open()) if r["id"] == "a"]
    assert shlex.split(row["command"]) == ["linkhealth", "accept-redirect", "a", "--db", trial]

    pasted = runner.invoke(app, shlex.split(row["command"])[1:])
    assert pasted.exit_code == 0, pasted.output
    assert f"url: {NEW}" in catalog_file.read_text()
    assert store.resource_history(engine, "a").decisions[0].kind == "accept_redirect"
    assert not (home / "var" / "real.db").exists()


def test_lint_of_a_catalog_not_configured_prints_commands_that_edit_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`linkhealth catalog lint draft.yaml` printed `linkhealth replace-url d URL`, which
    looks for collection 'draft' among the configured catalogs only (exit 4)."""
    monkeypatch.chdir(tmp_path)
    configured = write_catalog(tmp_path / "toolkit.yaml", [{"id": "a", "title": "G", "url": OLD}])
    (tmp_path / "linkhealth.toml").write_text(f'catalogs = ["{configured}"]\n')
    copy_migrated_sqlite(tmp_path / "var" / "linkhealth.db")  # synced into, not migrated
    url = "https://example.org/d?utm_source=mail"
    draft = write_catalog(tmp_path / "draft.yaml", [{"id": "d", "title": "Draft", "url": url}])
    assert runner.invoke(app, ["sync", "--catalog", str(draft)]).exit_code == 0
    linted = runner.invoke(app, ["catalog", "lint", "--json", str(draft)])
    (finding,) = [f for f in json.loads(linted.stdout) if f["code"] == "tracking_params"]
    words = shlex.split(finding["command"])
    assert words[-2:] == ["--catalog", str(draft)]

    pasted = runner.invoke(app, words[1:])
    assert pasted.exit_code == 0, pasted.output
    assert "url: https://example.org/d\n" in draft.read_text()


def _suggested(message: str) -> list[str]:
    """The words of the command an error message suggests (between backticks)."""
    found = re.search(r"`(linkhealth [^`]*)`", message)
    assert found is not None, message
    return shlex.split(found.group(1))


def test_the_commands_an_error_suggests_work_as_pasted(
    engine: Engine, catalog_file: Path, tmp_path: Path
) -> None:
    """ "`linkhealth resource a` shows what its link does" left out the --collection and the
    --db the refused decision was asked with: pasted, it failed or looked elsewhere."""
    db = database_url(engine)
    other = write_catalog(tmp_path / "other.yaml", [{"id": "a", "title": "Other", "url": NEW}])
    sync_catalogs(engine, load_catalogs([other]), now=T0)
    refused = runner.invoke(app, ["accept-redirect", "a", "--collection", "other", "--db", db])
    assert refused.exit_code == 1, refused.output
    words = _suggested(refused.stderr)
    assert words == ["linkhealth", "resource", "a", "--collection", "other", "--db", db]
    shown = runner.invoke(app, words[1:])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("other/a: Other")

    obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), suggested_url=NEW)
    store.record_observations(engine, None, [obs], HealthSettings(), now=days(1))
    catalog_file.write_text(catalog_file.read_text().replace(OLD, "https://example.org/hand"))
    edited = runner.invoke(app, ["accept-redirect", "a", "--collection", "toolkit", "--db", db])
    assert edited.exit_code == 1, edited.output
    recheck = ["linkhealth", "recheck", "a", "--catalog", str(catalog_file), "--db", db]
    assert _suggested(edited.stderr) == recheck  # the new URL, in the file that has it


def test_the_resource_an_error_suggests_for_a_key_slash_id_works_as_pasted(
    engine: Engine, tmp_path: Path
) -> None:
    """Asked as `other/a` (an id in two collections), it suggested `linkhealth resource a`,
    which is refused: 'a' is in several collections."""
    db = database_url(engine)
    other = write_catalog(tmp_path / "other.yaml", [{"id": "a", "title": "Other", "url": NEW}])
    sync_catalogs(engine, load_catalogs([other]), now=T0)
    refused = runner.invoke(app, ["accept-redirect", "other/a", "--db", db])
    assert refused.exit_code == 1, refused.output
    words = _suggested(refused.stderr)
    assert words == ["linkhealth", "resource", "other/a", "--db", db]
    shown = runner.invoke(app, words[1:])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("other/a: Other")


def test_the_sync_an_unsynced_catalog_asks_for_works_as_pasted(
    engine: Engine, tmp_path: Path
) -> None:
    """It said `linkhealth sync --catalog one.yaml two.yaml`: the second file is no option
    value, and the sync went to the configured database, not the --db asked about."""
    db = database_url(engine)
    one = write_catalog(tmp_path / "one.yaml", [{"id": "x", "title": "X", "url": NEW}])
    two = write_catalog(tmp_path / "two.yaml", [{"id": "y", "title": "Y", "url": OLD}])
    asked = ["export", "--catalog", str(one), "--catalog", str(two), "--db", db]
    refused = runner.invoke(app, asked)
    assert refused.exit_code == 4, refused.output
    synced = runner.invoke(app, _suggested(refused.stderr)[1:])
    assert synced.exit_code == 0, synced.output
    exported = runner.invoke(app, asked)
    assert exported.exit_code == 0, exported.output
    assert {json.loads(line)["id"] for line in exported.stdout.splitlines()} == {"x", "y"}


def test_lint_of_one_catalog_names_the_collection_of_an_id_another_one_uses(
    engine: Engine, catalog_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`catalog lint other.yaml` saw the id once and left out `--collection`, which the
    database needs: pasted, the command failed with "name one with --collection"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", database_url(engine))
    url = "https://example.org/other?utm_source=mail"
    other = write_catalog(tmp_path / "other.yaml", [{"id": "a", "title": "Other", "url": url}])
    sync_catalogs(engine, load_catalogs([other]), now=T0)
    linted = runner.invoke(app, ["catalog", "lint", "--json", str(other)])
    (finding,) = [f for f in json.loads(linted.stdout) if f["code"] == "tracking_params"]
    words = shlex.split(finding["command"])
    assert words[words.index("--collection") + 1] == "other"
    pasted = runner.invoke(app, [*words[1:], "--dry-run"])
    assert pasted.exit_code == 0, pasted.output
    assert "other/a" in pasted.stdout


def test_history_after_a_url_change_keeps_the_checks_of_the_earlier_url(
    engine: Engine, tmp_path: Path
) -> None:
    """After `accept-redirect`, `linkhealth resource` showed the new URL's one check: the
    week of redirects that made the curator act was gone from the entry's history. Checks
    of the old URL after the switch belong to the entry still using it, not to this one."""
    shared = write_catalog(
        tmp_path / "shared.yaml",
        [
            {"id": "s1", "title": "Moved guide", "url": OLD, "shared_url": True},
            {"id": "s2", "title": "Same guide", "url": OLD, "shared_url": True},
        ],
    )
    sync_catalogs(engine, load_catalogs([shared]), now=T0)
    db = ["--db", database_url(engine)]

    def check(url: str, day: float, outcome: Outcome = Outcome.REDIRECTED_PERMANENT) -> None:
        at = utcnow() + timedelta(days=day - 2.5)  # the decision below is made now
        obs = make_observation(url, outcome, at, suggested_url=NEW)
        store.record_observations(engine, None, [obs], HealthSettings(), now=at)

    check(OLD, 1)
    check(OLD, 2)
    moved = runner.invoke(app, ["accept-redirect", "s1", "--collection", "shared", *db])
    assert moved.exit_code == 0, moved.output
    check(NEW, 3, Outcome.OK)
    check(OLD, 4)  # s2 still links the old URL

    shown = runner.invoke(app, ["resource", "s1", "--collection", "shared", *db])
    assert shown.exit_code == 0, shown.output
    section = shown.stdout.split("Observations")[1].split("Events")[0]
    checks = [line for line in section.strip().splitlines() if line.startswith("  ")]
    assert len(checks) == 3, checks
    assert checks[0].split()[2] == "ok" and f"(then at {OLD})" not in checks[0]
    assert all(f"(then at {OLD})" in line for line in checks[1:])
    events = shown.stdout.split("Events")[1].split("Decisions")[0].strip().splitlines()
    marked = [line.split()[2] for line in events if f"(then at {OLD})" in line]
    assert marked == ["outcome_changed"]  # the old URL's; the entry's own edit is not
    as_json = json.loads(
        runner.invoke(app, ["resource", "s1", "--collection", "shared", "--json", *db]).stdout
    )
    assert [o["url"] for o in as_json["observations"]] == [NEW, OLD, OLD]
    other = runner.invoke(app, ["resource", "s2", "--collection", "shared", "--json", *db])
    assert len(json.loads(other.stdout)["observations"]) == 3  # days 1, 2 and 4: its own


def test_resource_catalog_that_is_missing_or_not_synced(engine: Engine, tmp_path: Path) -> None:
    db = ["--db", database_url(engine)]
    missing = runner.invoke(app, ["resource", "a", *db, "--catalog", str(tmp_path / "no.yaml")])
    assert missing.exit_code == 5 and "no.yaml" in missing.stderr

    fresh = write_catalog(tmp_path / "fresh.yaml", [{"id": "a", "title": "New", "url": NEW}])
    unsynced = runner.invoke(app, ["resource", "a", *db, "--catalog", str(fresh)])
    assert unsynced.exit_code == 4, unsynced.output
    assert "'fresh'" in unsynced.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["replace-url", "a", NEW],
        ["replace-url", "a", "--archive"],
        ["mark-reviewed", "a"],
        ["accept-redirect", "a"],
        ["snooze", "a", "--until", "2999-01-01", "--reason", "back in spring"],
        ["ignore", "a", "--reason", "gone for good"],
        ["unignore", "a"],
    ],
    ids=lambda command: " ".join(command[::2]),
)
def test_a_misspelt_catalog_path_of_an_edit_is_a_missing_file_naming_it(
    engine: Engine, catalog_file: Path, command: list[str]
) -> None:
    """It was "toolkit/a comes from .../toolkit.yaml, which is not among the --catalog files"
    (the edits of the file), or the decision recorded as if no --catalog were given."""
    before = catalog_file.read_text()
    typo = catalog_file.with_name("toolkt.yaml")
    result = invoke(engine, typo, *command)
    assert result.exit_code == 5, result.output
    assert result.stdout == ""
    assert f"{typo}: the file does not exist" in result.stderr
    assert "not among the --catalog files" not in result.stderr
    assert catalog_file.read_text() == before
    assert store.resource_history(engine, "a").decisions == ()


def test_mark_reviewed_answers_the_dated_nag_the_report_asked_it_for(tmp_path: Path) -> None:
    """The report says of an old edition: "Review the entry; if it is still current, record
    the review. `linkhealth mark-reviewed ID`". Doing so must take it off the list."""
    catalog_file = write_catalog(
        tmp_path / "old.yaml", [{"id": "a", "title": "Guide, 2012 edition", "url": OLD}]
    )
    with temporary_database(tmp_path, "old.db") as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=utcnow())
        store.refresh_staleness(engine, HealthSettings(), now=utcnow())
        assert stale_codes(engine, "a") == {"dated"}

        result = invoke(engine, catalog_file, "mark-reviewed", "a")

        assert result.exit_code == 0, result.output
        assert stale_codes(engine, "a") == set()


def stale_codes(engine: Engine, rid: str) -> set[str]:
    return {note.code for note in store.find_resource(engine, rid).stale}


@pytest.mark.parametrize("command", [["ignore", "a"], ["snooze", "a", "--until", "2999-01-01"]])
def test_setting_aside_needs_a_reason_that_says_something(
    engine: Engine, catalog_file: Path, command: list[str]
) -> None:
    result = invoke(engine, catalog_file, *command, "--reason", "  ")
    assert result.exit_code == 2 and "--reason is empty" in result.stderr
    record = store.find_resource(engine, "a")
    assert record.ignored_at is None and record.snoozed_until is None


def _configured_as(engine: Engine, catalog_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings file the service reads (LINKHEALTH_CONFIG) names the database and the
    catalog `invoke` gives with --db and --catalog: the recheck deployment checks them."""
    config = catalog_file.parent / "service.toml"
    config.write_text(
        f"database_url = {json.dumps(database_url(engine))}\n"
        f"catalogs = [{json.dumps(str(catalog_file))}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LINKHEALTH_CONFIG", str(config))


def test_an_edit_is_announced_so_the_recheck_deployment_checks_it(
    engine: Engine, catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the git hook does after a commit: the curator's own edit needs no commit first."""
    import flows.cli_ops
    import flows.events
    import flows.prefect_server

    sent: list[list[str]] = []

    def emit(files: list[str]) -> bool:
        sent.append(list(files))
        return True

    _configured_as(engine, catalog_file, monkeypatch)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url: True)
    monkeypatch.setattr(flows.events, "emit_catalog_edited", emit)
    monkeypatch.setattr(flows.events, "flush", lambda: None)
    monkeypatch.setattr(flows.cli_ops, "recheck_served", lambda: True)

    dry = invoke(engine, catalog_file, "mark-reviewed", "a", "--dry-run")
    assert dry.exit_code == 0 and sent == [] and "Announced" not in dry.stdout
    result = invoke(engine, catalog_file, "mark-reviewed", "a")

    assert result.exit_code == 0, result.output
    assert "Announced the edit to http://127.0.0.1:4999/api" in result.stdout
    assert sent == [[str(catalog_file)]]


def test_an_edit_announced_where_nothing_serves_the_recheck_says_how_to_check_it(
    engine: Engine, catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Prefect server that `linkhealth check` started answers, but no `linkhealth serve`
    runs: the event goes out and nothing reacts to it."""
    import flows.cli_ops
    import flows.events
    import flows.prefect_server

    _configured_as(engine, catalog_file, monkeypatch)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url: True)
    monkeypatch.setattr(flows.events, "emit_catalog_edited", lambda files: True)
    monkeypatch.setattr(flows.events, "flush", lambda: None)
    monkeypatch.setattr(flows.cli_ops, "recheck_served", lambda: False)

    result = invoke(engine, catalog_file, "mark-reviewed", "a")

    assert result.exit_code == 0, result.output
    assert "nothing serves the recheck deployment" in result.stdout
    service = catalog_file.parent / "service.toml"
    assert f"`{_recheck_of(engine, catalog_file, service)}` checks the edit" in result.stdout
    assert "checks it now" not in result.stdout


@pytest.mark.parametrize(
    ("status", "paused", "served"),
    [("READY", False, True), ("READY", True, False), ("NOT_READY", False, False)],
)
def test_a_recheck_deployment_paused_by_a_stopped_serve_is_not_served(
    monkeypatch: pytest.MonkeyPatch, status: str, paused: bool, served: bool
) -> None:
    """A stopped `serve` pauses its deployments, which Prefect still calls READY for a
    minute or two: "the recheck deployment checks it now" left the run waiting."""
    import types

    import prefect
    from prefect.client.schemas.objects import DeploymentStatus

    import flows.cli_ops

    deployment = types.SimpleNamespace(status=DeploymentStatus(status), paused=paused)

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read_deployment_by_name(self, name: str) -> object:
            assert name == flows.cli_ops.RECHECK_DEPLOYMENT
            return deployment

    monkeypatch.setattr(prefect, "get_client", lambda sync_client: Client())
    assert flows.cli_ops.recheck_served() is served


def _recheck_of(engine: Engine, catalog_file: Path, config: Path | None = None) -> str:
    """The hand recheck an edit made with `invoke`'s --db and --catalog must name: run
    without them it would sync and check the configured catalogs into the configured
    database instead. `config`: the settings file LINKHEALTH_CONFIG named, carried as an
    absolute --config (pasted where the variable is not set, the recheck read others)."""
    db, catalog = database_url(engine), str(catalog_file)  # quoted as a shell reads them
    configured = ["--config", str(config.resolve())] if config is not None else []
    return shlex.join(
        ["linkhealth", "recheck", "--changed", *configured, "--db", db, "--catalog", catalog]
    )


def test_an_edit_made_with_settings_the_recheck_deployment_does_not_read_is_not_announced(
    engine: Engine, catalog_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The served recheck syncs and checks the configured catalogs into the configured
    database: "the recheck deployment checks it now" was said of an edit in a trial file
    and database it never looked at."""
    import flows.cli_ops
    import flows.events
    import flows.prefect_server

    sent: list[list[str]] = []
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url: True)
    monkeypatch.setattr(flows.events, "emit_catalog_edited", _into(sent))
    monkeypatch.setattr(flows.events, "flush", lambda: None)
    monkeypatch.setattr(flows.cli_ops, "recheck_served", lambda: True)
    service = tmp_path / "service.toml"
    monkeypatch.setenv("LINKHEALTH_CONFIG", str(service))

    # Another database (the file is the service's catalog).
    service.write_text(
        f'database_url = "sqlite:///{tmp_path / "production.db"}"\n'
        f"catalogs = [{json.dumps(str(catalog_file))}]\n"
    )
    other_db = invoke(engine, catalog_file, "mark-reviewed", "a")
    assert other_db.exit_code == 0, other_db.output
    assert "Not announced to the recheck deployment" in other_db.stdout
    assert "not the configured database" in other_db.stdout
    assert f"`{_recheck_of(engine, catalog_file, service)}` checks the edit" in other_db.stdout

    # The service's database, but a file none of its catalogs holds.
    service.write_text(
        f"database_url = {json.dumps(database_url(engine))}\n"
        f'catalogs = ["{tmp_path / "catalogs"}"]\n'
    )
    other_file = invoke(engine, catalog_file, "replace-url", "a", OLD + "x", "--reason", "moved")
    assert other_file.exit_code == 0, other_file.output
    assert f"{catalog_file} is not a configured catalog" in other_file.stdout
    assert "checks it now" not in other_db.stdout + other_file.stdout and sent == []


def test_an_edit_without_a_prefect_server_says_how_to_check_it(
    engine: Engine, catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke(engine, catalog_file, "mark-reviewed", "a")  # `no_prefect_api` above
    assert result.exit_code == 0, result.output
    assert f"`{_recheck_of(engine, catalog_file)}` checks the edit" in result.stdout
    assert "reviewed_at:" in catalog_file.read_text()


def test_an_edit_of_a_trial_file_made_without_catalog_names_it_in_the_recheck_it_offers(
    engine: Engine, catalog_file: Path, isolated_cwd: Path
) -> None:
    """README's trial: `check --catalog my-toolkit.yaml --db sqlite:///var/trial.db`, then
    the report's `accept-redirect ID --db ...` (no --catalog: the database knows the file).
    Its `linkhealth recheck --changed --db ...` then read the bundled demo catalog, which
    the trial database refuses (exit 2), instead of the file just edited."""
    db = database_url(engine)
    result = runner.invoke(app, ["mark-reviewed", "a", "--db", db])
    assert result.exit_code == 0, result.output
    assert f"`{_recheck_of(engine, catalog_file)}` checks the edit" in result.stdout

    # Settings that name the file: the recheck reads it without --catalog.
    (isolated_cwd / "linkhealth.toml").write_text(f"catalogs = [{json.dumps(str(catalog_file))}]\n")
    result = runner.invoke(app, ["replace-url", "a", NEW, "--db", db])
    assert result.exit_code == 0, result.output
    assert f"`{shlex.join(['linkhealth', 'recheck', '--changed', '--db', db])}` checks" in (
        result.stdout
    )


def test_a_decision_without_a_database_says_where_it_looked_and_creates_none(
    tmp_path: Path, catalog_file: Path
) -> None:
    missing = tmp_path / "elsewhere" / "linkhealth.db"
    missing.parent.mkdir()
    for args in (
        ["mark-reviewed", "a"],
        ["snooze", "a", "--until", "2099-01-01", "--reason", "rebuild"],
        ["ignore", "a", "--reason", "login wall"],
        ["replace-url", "a", NEW],
    ):
        result = runner.invoke(
            app, [*args, "--db", f"sqlite:///{missing}", "--catalog", str(catalog_file)]
        )
        assert result.exit_code == 3, args
        assert f"no database at {missing}" in result.stderr
    assert not missing.exists()
    assert f"url: {OLD}" in catalog_file.read_text()


def test_lint_is_not_held_up_by_a_database_server_that_never_answers(tmp_path: Path) -> None:
    """`catalog lint` reads the ids the database holds in several collections: a server
    that took the connection and never answered held a lint (a pre-commit hook) forever."""
    import socket
    import subprocess
    import sys

    catalog = write_catalog(tmp_path / "toolkit.yaml", [{"id": "a", "title": "G", "url": OLD}])
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # takes connections into its backlog, never answers
        port = silent.getsockname()[1]
        env = {
            **os.environ,
            "LINKHEALTH_DATABASE_URL": f"postgresql+psycopg://u@127.0.0.1:{port}/x",
        }
        linted = subprocess.run(
            [sys.executable, "-m", "flows.cli", "catalog", "lint", str(catalog)],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert linted.returncode == 0, linted.stderr


def _into(sent: list[list[str]]) -> Callable[[Sequence[str]], bool]:
    """A stand-in for `flows.events.emit_catalog_edited` that keeps the files announced."""

    def emit(files: Sequence[str]) -> bool:
        sent.append(list(files))
        return True

    return emit


@pytest.mark.parametrize(
    ("until", "said"),
    [
        ("2030-02-30", "'2030-02-30' is no date in the calendar; write YYYY-MM-DD"),
        ("next week", "'next week' is not a date; write YYYY-MM-DD"),
    ],
)
def test_a_snooze_until_a_day_the_month_lacks_says_so(until: str, said: str) -> None:
    """ "does not match the formats '%Y-%m-%d'" of 2030-02-30, which matches it."""
    result = CliRunner().invoke(app, ["snooze", "a", "--until", until, "--reason", "x"])
    assert result.exit_code == 2, result.output
    assert said in result.stderr and "%Y" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["accept-redirect", "a"], 2),  # in two collections: name one
        (["snooze", "a", "--until", "2030-01-01", "--reason", "x"], 2),
        (["snooze", "a", "--until", "2030-01-01"], 2),  # click's own: no --reason
        (["snooze", "a", "--until", "next week", "--reason", "x"], 2),  # a value it refuses
        (["resource", "a", "--catalog", "toolkit.yaml", "--collection", "other"], 2),
        (["recheck"], 2),
        (["accept-redirect"], 2),  # click's: no id
        (["unsnooze", "a"], 2),  # no such command
        (["--bogus"], 2),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_every_error_line_starts_the_same_way(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int
) -> None:
    """An id in two catalogs: `accept-redirect` said "Error: ..." where `snooze` said
    "error: ...". Click's own refusals (a missing option, a bad value, no such command)
    keep their usage lines but end `error:`, as ours do; an error of ours about an option
    is one line of our own, without click's "Invalid value"."""
    other = write_catalog(tmp_path / "other.yaml", [{"id": "a", "title": "Other", "url": NEW}])
    sync_catalogs(engine, load_catalogs([other]), now=T0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", database_url(engine))

    result = runner.invoke(app, args)

    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert lines and not any(line.startswith("Error") for line in lines), result.stderr
    said = [line for line in lines if line.startswith("error: ")]
    assert len(said) == 1 and said[0] == lines[-1], result.stderr
    assert "Invalid value:" not in result.stderr  # a refusal of ours, in our words
    if "--collection" in args:
        assert lines == [
            "error: --collection 'other' is not the collection of a --catalog file (toolkit); "
            "a collection's key is its catalog file's name"
        ]


def test_a_group_named_alone_still_shows_its_help() -> None:
    """`linkhealth db`: click's help in place of an error, left as click writes it."""
    result = runner.invoke(app, ["db"])
    assert "Commands:" in result.output and "error:" not in result.output
