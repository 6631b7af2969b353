"""The linkhealth command line: exit codes, stdout/stderr, and what each command writes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from catalog.db import open_engine, session_scope
from catalog.outcomes import Outcome
from catalog.settings import BUNDLED_CATALOG
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from catalog.tables import Link, Resource
from flows.cli import app
from tests.factories import copy_migrated_sqlite, make_observation
from tests.local_site import local_site

runner = CliRunner()

GOOD = """\
collection:
  title: CLI test
resources:
  - id: a
    title: First
    url: https://example.org/a
  - id: b
    title: Second
    url: "not a url"
"""

BAD = """\
resources:
  - id: a
    title: First
    url: https://example.org/a
  - id: a
    title: Duplicate
    url: https://example.org/b
  - id: c
    url: https://example.org/c
  - id: d
    title: Year
    url: https://example.org/d
    year: soon
"""


def _invoke(*args: str):
    return runner.invoke(app, list(args))


def _default_database_migrated(folder: Path) -> None:
    """The default database (var/linkhealth.db) of `folder` made a migrated copy, for the
    tests of what a command does with it rather than of migrating a new one."""
    copy_migrated_sqlite(folder / "var" / "linkhealth.db")


def test_every_command_has_help() -> None:
    for args in (
        [],
        ["check"],
        ["sync"],
        ["report"],
        ["export"],
        ["catalog", "validate"],
        ["db", "upgrade"],
        ["server", "stop"],
    ):
        result = _invoke(*args, "--help")
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def _leaf_commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = getattr(command, "commands", None)
    if not subs:
        yield path
    for name, sub in (subs or {}).items():
        yield from _leaf_commands(sub, (*path, name))


def test_help_on_an_80_column_terminal_names_every_option_in_full() -> None:
    """Typer's boxed help cut option names (`--per-host-concur…`) to fit 80 columns and named
    values by their Python type (`--catalog <list[Path]>`)."""
    import typer.main

    group = typer.main.get_command(app)
    leaves = list(_leaf_commands(group))
    assert ("check",) in leaves and ("db", "prune") in leaves
    for path in leaves:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, path
        assert "…" not in result.output, path
        # Arguments too: `recheck` listed "ID <list[str]>".
        named = [line for line in result.output.splitlines() if line.startswith("  ")]
        assert not [line for line in named if "<list[" in line or "<str>" in line], path
        # Examples stay whole, to paste (wrapped, one broke at a hyphen: `my-` / `toolkit.yaml`).
        lines = result.output.splitlines()
        assert all(len(line) <= 80 for line in lines if "Example:" not in line), path
        examples = [line for line in lines if "Example:" in line]
        assert all(line.strip().startswith("Example: ") for line in examples), path
        if path == ("export",):
            assert "--catalog my-toolkit.yaml" in examples[0]
        command = group
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        for param in command.params:
            for opt in param.opts + param.secondary_opts:
                assert opt in result.output or not opt.startswith("-"), (path, opt)


def test_validate_accepts_the_bundled_catalog() -> None:
    result = _invoke("catalog", "validate", str(BUNDLED_CATALOG))
    assert result.exit_code == 0, result.output


def test_validate_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = _invoke("catalog", "validate", "--json", str(bad))
    assert result.exit_code == 5
    problems = [p for p in json.loads(result.stdout) if p["level"] == "error"]
    assert {(p["code"], p["line"], p["field"]) for p in problems} >= {
        ("duplicate_id", 5, "id"),
        ("missing_field", 8, "title"),
        ("wrong_type", 13, "year"),
    }
    assert all(p["file"].endswith("bad.yaml") for p in problems)


def test_validate_prints_problems_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = _invoke("catalog", "validate", str(bad))
    assert result.exit_code == 5
    assert f"{bad}:5" in result.stderr
    assert result.stdout == ""


def test_validate_warns_about_bad_urls_but_accepts_the_catalog(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = _invoke("catalog", "validate", str(good))
    assert result.exit_code == 0
    assert "invalid_url" in result.stderr


def test_sync_records_additions_then_nothing(isolated_cwd: Path) -> None:
    # SQLite on purpose: without --db or LINKHEALTH_DATABASE_URL the default is a file in var/.
    (isolated_cwd / "good.yaml").write_text(GOOD)
    first = _invoke("sync", "--catalog", "good.yaml")
    assert first.exit_code == 0, first.output
    assert "2" in first.stdout
    again = _invoke("sync", "--catalog", "good.yaml")
    assert again.exit_code == 0
    assert (isolated_cwd / "var" / "linkhealth.db").is_file()


def test_sync_of_the_configured_catalogs_retires_a_renamed_file_and_a_subset_does_not(
    isolated_cwd: Path,
) -> None:
    """toolkit.yaml renamed psp-toolkit.yaml (linkhealth.toml updated): its entries were
    added anew, ignore lost, and the old collection stayed active for good (twice in every
    export and report, its ids "in several collections")."""
    _default_database_migrated(isolated_cwd)
    (isolated_cwd / "toolkit.yaml").write_text(GOOD)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    assert _invoke("sync").exit_code == 0
    assert _invoke("ignore", "a", "--reason", "login wall").exit_code == 0
    (isolated_cwd / "toolkit.yaml").rename(isolated_cwd / "psp-toolkit.yaml")
    (isolated_cwd / "other.yaml").write_text(GOOD)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["psp-toolkit.yaml", "other.yaml"]\n')

    subset = _invoke("sync", "--catalog", "other.yaml")  # a subset retires nothing
    assert subset.exit_code == 0 and "retired" not in subset.stdout, subset.output
    result = _invoke("sync")

    assert result.exit_code == 0, result.output
    assert "psp-toolkit/a: moved from toolkit" in result.stdout
    assert "toolkit: retired, as " in result.stdout
    shown = _invoke("export", "--catalog", "psp-toolkit.yaml")
    assert shown.exit_code == 0, shown.output
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["collection"], r["id"], r["ignored_reason"]) for r in records] == [
        ("psp-toolkit", "a", "login wall"),
        ("psp-toolkit", "b", None),
    ]
    everything = _invoke("export").stdout.splitlines()
    assert {json.loads(line)["collection"] for line in everything} == {"psp-toolkit", "other"}


def test_sync_of_a_trial_settings_file_retires_none_of_the_services_catalogs(
    isolated_cwd: Path,
) -> None:
    """`sync --config trial.toml`, its catalog a renamed draft copy, retired the service's
    toolkit (its entries, snooze and ignore moved to the draft) until the next nightly
    sync brought them back: reports and exports in between showed only the trial's."""
    _default_database_migrated(isolated_cwd)
    (isolated_cwd / "toolkit.yaml").write_text(GOOD)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["toolkit.yaml"]\n')
    assert _invoke("sync").exit_code == 0
    assert _invoke("ignore", "a", "--reason", "login wall").exit_code == 0
    (isolated_cwd / "toolkit-draft.yaml").write_text(GOOD)
    (isolated_cwd / "trial.toml").write_text('catalogs = ["toolkit-draft.yaml"]\n')

    result = _invoke("sync", "--config", "trial.toml")

    assert result.exit_code == 0, result.output
    assert "retired" not in result.stdout and "moved from" not in result.stdout, result.output
    kept = _invoke("export", "--catalog", "toolkit.yaml").stdout.splitlines()
    assert [(json.loads(r)["id"], json.loads(r)["ignored_reason"]) for r in kept] == [
        ("a", "login wall"),
        ("b", None),
    ]


def test_sync_without_a_settings_file_retires_nothing(isolated_cwd: Path) -> None:
    """No linkhealth.toml: `sync` syncs the bundled catalog, which is no sign that the
    catalogs synced with --catalog left anything."""
    _default_database_migrated(isolated_cwd)
    (isolated_cwd / "good.yaml").write_text(GOOD)
    assert _invoke("sync", "--catalog", "good.yaml").exit_code == 0

    result = _invoke("sync")

    assert result.exit_code == 0, result.output
    assert "retired" not in result.stdout and "good/a: removed" not in result.stdout
    kept = _invoke("export", "--catalog", "good.yaml").stdout.splitlines()
    assert [json.loads(line)["id"] for line in kept] == ["a", "b"]


def test_sync_prints_a_catalogs_escape_sequences_as_nothing_a_terminal_acts_on(
    isolated_cwd: Path,
) -> None:
    """A catalog's URL edited to hold an OSC 8 hyperlink ("\\e]8;;http://evil.example/\\e\\")
    reached the terminal as it was: shown as other text, linked elsewhere."""
    _default_database_migrated(isolated_cwd)
    (isolated_cwd / "good.yaml").write_text(GOOD)
    assert _invoke("sync", "--catalog", "good.yaml").exit_code == 0
    hostile = r'"https://example.org/\e]8;;http://evil.example/\e\\x\e]8;;\e\\ \u202ey"'
    (isolated_cwd / "good.yaml").write_text(GOOD.replace("https://example.org/a", hostile))
    result = runner.invoke(app, ["sync", "--catalog", "good.yaml"], color=True)  # a terminal
    assert result.exit_code == 0, result.output
    assert "URL changed from https://example.org/a to https://example.org/" in result.stdout
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", result.stdout)


def test_sync_of_a_large_catalog_lists_the_first_changes_then_counts_the_rest(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog import sync

    _default_database_migrated(isolated_cwd)
    monkeypatch.setattr(sync, "LISTED_CHANGES", 1)
    (isolated_cwd / "good.yaml").write_text(GOOD)
    result = _invoke("sync", "--catalog", "good.yaml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": added") and lines[1] == "... and 1 more changes."
    assert "2 added" in lines[2]


def test_commands_refuse_an_invalid_catalog_and_write_nothing(isolated_cwd: Path) -> None:
    # SQLite on purpose: "nothing written" is seen as the database file never being created.
    (isolated_cwd / "bad.yaml").write_text(BAD)
    result = _invoke("sync", "--catalog", "bad.yaml", "--db", "sqlite:///lh.db")
    assert result.exit_code == 5
    assert "bad.yaml:5" in result.stderr
    assert not (isolated_cwd / "lh.db").exists()


def test_validate_reads_folders_and_clashes_between_files_as_sync_does(
    isolated_cwd: Path,
) -> None:
    for folder in ("a", "b"):
        (isolated_cwd / folder).mkdir()
        (isolated_cwd / folder / "toolkit.yaml").write_text(GOOD)
    one = _invoke("catalog", "validate", "a")
    assert one.exit_code == 0, one.output
    assert one.stdout.startswith("a/toolkit.yaml: OK (1 warning)")  # b's "not a url"

    both = _invoke("catalog", "validate", "a", "b/toolkit.yaml")
    assert both.exit_code == 5
    assert "duplicate_collection" in both.stderr and "b/toolkit.yaml" in both.stderr
    assert "a/toolkit.yaml: OK" in both.stdout and "b/toolkit.yaml: OK" not in both.stdout

    (isolated_cwd / "a" / "toolkit.yaml").write_text(BAD)  # named twice, once by its path
    twice = _invoke("catalog", "validate", "a", str(isolated_cwd / "a" / "toolkit.yaml"))
    assert twice.exit_code == 5 and "OK" not in twice.stdout


def test_validate_without_files_checks_the_configured_catalogs(isolated_cwd: Path) -> None:
    result = _invoke("catalog", "validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{BUNDLED_CATALOG}: OK (0 warnings)\n"


def test_a_bad_database_url_is_a_clear_error(isolated_cwd: Path) -> None:
    result = _invoke("export", "--db", "nonsense://")
    assert result.exit_code == 2  # bad input, as the README's exit codes say (was 3)
    assert "nonsense://" in result.stderr


@pytest.mark.parametrize(
    ("url", "said", "code"),
    [
        # Nothing listens on port 1: psycopg adds a hint on a second, tab-indented line.
        ("postgresql+psycopg://lh:secret@127.0.0.1:1/lh", "Connection refused", 3),
        # No URL at all: a usage error (exit 2), as for --to and the settings file.
        ("postgresql+psycopg://lh:secret@127.0.0.1:54x2/lh", "is not a database URL", 2),
        # A scheme or driver SQLAlchemy does not know, an asyncio one: usage too (were 3).
        ("postgres://lh:secret@127.0.0.1/lh", "write postgresql+psycopg://", 2),
        ("postgresql+asyncpg://lh:secret@127.0.0.1/lh", "asyncio driver", 2),
    ],
)
def test_a_wrong_or_unreachable_database_url_is_one_line_without_the_password(
    isolated_cwd: Path, url: str, said: str, code: int
) -> None:
    for command in (["status"], ["sync"], ["db", "upgrade"]):
        result = _invoke(*command, "--db", url)
        assert result.exit_code == code, (command, result.output)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        assert said in result.stderr and "lh:***@127.0.0.1" in result.stderr
        assert "secret" not in result.output and "Traceback" not in result.output


def test_db_upgrade_says_what_it_did_to_which_database(
    isolated_cwd: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It printed "database at revision 0008" for an upgrade and a no-op alike, naming no
    database; and a mistyped SQLite path made the folders and an empty database."""
    from catalog import migrate
    from catalog.db import open_engine

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate.alembic_config(conn), "0007")
    shown = open_engine(db_url, migrate=False).url.render_as_string(hide_password=True)
    head = migrate.head_revision()
    upgraded = _invoke("db", "upgrade", "--db", db_url)
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"database {shown}: upgraded from revision 0007 to {head}\n"
    again = _invoke("db", "upgrade", "--db", db_url)
    assert again.stdout == f"database {shown}: at revision {head} already\n"
    engine.dispose()

    typo = _invoke("db", "upgrade", "--db", "sqlite:///nodir/x.db")
    assert typo.exit_code == 3 and "no database at" in typo.stderr
    assert not (isolated_cwd / "nodir").exists()


def test_reading_commands_never_create_a_database_where_there_is_none(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the wrong folder, they say where they looked instead of "no runs yet"."""
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL", raising=False)
    prune = ["db", "prune", "--keep-days", "30"]
    for command in (["status"], ["report"], ["export"], ["resource", "a"], prune):
        result = _invoke(*command)
        assert result.exit_code == 3, (command, result.output)
        assert str(isolated_cwd / "var" / "linkhealth.db") in result.stderr
    assert not (isolated_cwd / "var" / "linkhealth.db").exists()


def test_a_file_that_is_not_a_database_is_a_clear_error(isolated_cwd: Path) -> None:
    (isolated_cwd / "notes.db").write_text("not a database, just notes\n" * 100)
    for command in ("status", "export", "report"):
        result = _invoke(command, "--db", "sqlite:///notes.db")
        assert result.exit_code == 3, (command, result.output)
        assert "notes.db" in result.stderr and "not a database" in result.stderr
        assert "Traceback" not in result.output
    assert (isolated_cwd / "notes.db").read_text().startswith("not a database")  # untouched


def test_a_bad_config_file_is_a_clear_error(isolated_cwd: Path) -> None:
    (isolated_cwd / "linkhealth.toml").write_text("[check]\nper_host_rate = 'fast'\n")
    result = _invoke("sync")
    assert result.exit_code == 2
    assert "per_host_rate" in result.stderr


@pytest.mark.flow
def test_check_report_and_export_end_to_end(
    prefect_api: str, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)  # every command below reads it
    with local_site() as site:
        (isolated_cwd / "site.yaml").write_text(
            "resources:\n"
            f"  - {{id: ok, title: Report, url: '{site.url('/report.html')}'}}\n"
            f"  - {{id: gone, title: Old, url: '{site.url('/removed')}'}}\n"
        )
        result = _invoke("check", "--catalog", "site.yaml", "--allow-private")
    assert result.exit_code == 0, result.output
    assert "Run 1" in result.stdout
    assert "starting one in the background" not in result.stderr  # the harness ran it
    assert (isolated_cwd / "var" / "reports" / "latest.html").is_file()

    report = _invoke("report", "--catalog", "site.yaml", "--out", "out")
    assert report.exit_code == 0, report.output
    assert (isolated_cwd / "out" / "latest.html").is_file()

    jsonl = _invoke("export", "--format", "jsonl")
    assert jsonl.exit_code == 0, jsonl.output
    records = {r["id"]: r for r in map(json.loads, jsonl.stdout.splitlines())}
    assert records["ok"]["outcome"] == "ok"
    assert records["gone"]["outcome"] == "gone"
    assert records["gone"]["http_status"] == 410
    assert set(records["ok"]) >= {
        "id", "url", "outcome", "http_status", "final_url", "checked_at", "reason",
        "content_changed",
    }  # fmt: skip

    out = isolated_cwd / "links.csv"
    csv_result = _invoke("export", "--format", "csv", "--out", str(out))
    assert csv_result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["id"]: r["outcome"] for r in rows} == {"ok": "ok", "gone": "gone"}


def test_export_rejects_unknown_formats(isolated_cwd: Path) -> None:
    result = _invoke("export", "--format", "xml")
    assert result.exit_code == 2


@pytest.fixture
def synced_good(isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """good.yaml synced into the test database, which every command then reads."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    (isolated_cwd / "good.yaml").write_text(GOOD)
    assert _invoke("sync", "--catalog", "good.yaml").exit_code == 0
    return isolated_cwd


def test_report_writes_each_requested_format(synced_good: Path) -> None:
    isolated_cwd = synced_good
    result = _invoke(
        "report", "--catalog", "good.yaml", "--format", "csv", "--format", "json", "--out", "o"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress bar, nor what is left of one, in a log
    written = {Path(line).suffix for line in result.stdout.split()}
    assert written == {".csv", ".json"}
    rows = list(csv.DictReader(io.StringIO((isolated_cwd / "o" / "latest.csv").read_text())))
    assert {r["id"] for r in rows} >= {"a", "b"}


def test_report_rejects_unknown_formats(isolated_cwd: Path) -> None:
    result = _invoke("report", "--format", "pdf")
    assert result.exit_code == 2


def test_an_unknown_run_names_a_command_that_lists_the_runs(synced_good: Path) -> None:
    result = _invoke("report", "--run", "99")

    assert result.exit_code == 4 and "run 99 does not exist" in result.stderr
    suggested = re.search(r"`linkhealth ([^`]+)`", result.stderr)
    assert suggested is not None, result.stderr
    listed = _invoke(*shlex.split(suggested.group(1)))
    assert listed.exit_code == 0, listed.output
    database, first = listed.stdout.splitlines()[:2]
    assert database.startswith("Database sqlite:///") or database.startswith("Database postgres")
    assert first.startswith("no runs yet")  # a sync is not a run


OTHER = """\
collection:
  title: Another toolkit
resources:
  - id: z
    title: Elsewhere
    url: https://example.org/z
"""


@pytest.fixture
def two_collections(synced_good: Path) -> Path:
    """good.yaml and other.yaml, both synced into the test database."""
    (synced_good / "other.yaml").write_text(OTHER)
    assert _invoke("sync", "--catalog", "other.yaml").exit_code == 0
    return synced_good


def test_export_catalog_keeps_only_that_catalogs_collection(two_collections: Path) -> None:
    result = _invoke("export", "--catalog", "good.yaml")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {(r["collection"], r["id"]) for r in records} == {("good", "a"), ("good", "b")}

    both = _invoke("export", "--catalog", "good.yaml", "--catalog", "other.yaml")
    assert {json.loads(line)["id"] for line in both.stdout.splitlines()} == {"a", "b", "z"}

    everything = _invoke("export")  # no --catalog: every collection in the database
    assert {json.loads(line)["id"] for line in everything.stdout.splitlines()} == {"a", "b", "z"}


def test_export_of_a_missing_catalog_is_an_error_naming_it(synced_good: Path) -> None:
    result = _invoke("export", "--catalog", "nonexist.yaml")
    assert result.exit_code == 5, result.output
    assert "nonexist.yaml" in result.stderr and "file_not_found" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("out", ["afile/links.csv", "afolder"])
def test_export_to_a_path_it_cannot_write_says_which_and_why(synced_good: Path, out: str) -> None:
    (synced_good / "afile").write_text("keep me")
    (synced_good / "afolder").mkdir()
    result = _invoke("export", "--format", "csv", "--out", out)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"error: cannot write {out}: ")
    assert ("afile is a file, not a folder" in line) is (out == "afile/links.csv")
    assert (synced_good / "afile").read_text() == "keep me"


@pytest.mark.parametrize(
    ("name", "starts"),
    [("links.csv", "\ufeffcollection,id,"), ("Links.CSV", "\ufeffcollection,id,")]
    + [(name, '{"collection": "good"') for name in ("links.jsonl", "links.ndjson")],
)
def test_export_out_writes_the_format_its_files_ending_says(
    synced_good: Path, name: str, starts: str
) -> None:
    """`--out links.csv` wrote JSON Lines into the .csv file (the default format) and said
    "wrote links.csv": a spreadsheet showed one column of JSON."""
    result = _invoke("export", "--out", name)
    assert result.exit_code == 0, result.output
    assert (synced_good / name).read_text(encoding="utf-8").startswith(starts)


@pytest.mark.parametrize("name", ["links.json", "links.txt", "links"])
def test_export_out_whose_ending_says_no_format_needs_format(synced_good: Path, name: str) -> None:
    result = _invoke("export", "--out", name)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.replace("│", " ").split())
    assert "--out" in said and ".jsonl" in said and ".csv" in said and "--format" in said
    assert not (synced_good / name).exists()
    given = _invoke("export", "--out", name, "--format", "csv")
    assert given.exit_code == 0, given.output
    assert (synced_good / name).read_text(encoding="utf-8").startswith("\ufeffcollection,id,")


@pytest.mark.parametrize(("name", "format"), [("links.jsonl", "csv"), ("links.csv", "jsonl")])
def test_export_format_the_files_ending_contradicts_is_refused(
    synced_good: Path, name: str, format: str
) -> None:
    result = _invoke("export", "--out", name, "--format", format)
    assert result.exit_code == 2, result.output
    assert "--format" in result.stderr and name in result.stderr
    assert not (synced_good / name).exists()


def test_export_into_a_folder_that_does_not_exist_makes_none(synced_good: Path) -> None:
    """A typo in --out's folder made that folder (and any above it) without a word."""
    result = _invoke("export", "--out", "repots/2026/links.csv")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot write repots/2026/links.csv: the folder repots/2026 ")
    assert not (synced_good / "repots").exists()


@pytest.mark.parametrize("out", ["afile", "afile/reports"])
def test_report_into_a_file_says_it_is_one(synced_good: Path, out: str) -> None:
    (synced_good / "afile").write_text("keep me")
    result = _invoke("report", "--catalog", "good.yaml", "--out", out)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot write the report into {out}: ")
    assert (synced_good / "afile").read_text() == "keep me"


def test_export_of_a_catalog_never_synced_says_so(synced_good: Path) -> None:
    (synced_good / "pub.yaml").write_text(OTHER)
    result = _invoke("export", "--catalog", "pub.yaml")
    assert result.exit_code == 4, result.output
    assert "'pub'" in result.stderr and "linkhealth sync" in result.stderr
    assert result.stdout == ""


def test_report_of_a_catalog_never_synced_does_not_pretend_it_is_covered(
    synced_good: Path,
) -> None:
    (synced_good / "pub.yaml").write_text(OTHER)
    result = _invoke("report", "--catalog", "pub.yaml", "--out", "out")
    assert result.exit_code == 0, result.output
    assert "holds no resources of 'pub'" in result.stderr


def test_report_of_another_database_shows_no_findings_of_catalogs_it_does_not_hold(
    synced_good: Path,
) -> None:
    """`linkhealth report --db sqlite:///var/trial.db` (README: try a catalog out) linted
    the configured catalogs, which the trial database does not hold: its report listed
    their entries' tidying work as its own."""
    (synced_good / "pub.yaml").write_text(OTHER)  # configured, never synced here
    (synced_good / "linkhealth.toml").write_text('catalogs = ["good.yaml", "pub.yaml"]\n')
    result = _invoke("report", "--format", "json", "--out", "o")
    assert result.exit_code == 0, result.output
    report = json.loads((synced_good / "o" / "latest.json").read_text())
    collections = {f["collection"] for f in report["hygiene"]}
    assert collections == {"good"}


def test_report_of_a_missing_catalog_is_an_error_and_writes_nothing(synced_good: Path) -> None:
    result = _invoke("report", "--catalog", "nonexist.yaml", "--out", "o")
    assert result.exit_code == 5, result.output
    assert "nonexist.yaml" in result.stderr
    assert not (synced_good / "o").exists()


def test_report_says_when_its_links_are_not_only_those_of_the_catalog(
    two_collections: Path,
) -> None:
    result = _invoke("report", "--catalog", "good.yaml", "--format", "csv", "--out", "o")
    assert result.exit_code == 0, result.output
    assert "other" in result.stderr and "every collection in the database" in result.stderr


def test_validate_takes_catalog_options_like_every_command(isolated_cwd: Path) -> None:
    (isolated_cwd / "good.yaml").write_text(GOOD)
    (isolated_cwd / "bad.yaml").write_text(BAD)
    good = _invoke("catalog", "validate", "--catalog", "good.yaml")
    assert good.exit_code == 0, good.output
    assert good.stdout.startswith("good.yaml: OK")
    both = _invoke("catalog", "validate", "good.yaml", "-c", "bad.yaml")
    assert both.exit_code == 5 and "bad.yaml:5" in both.stderr


@pytest.fixture
def fake_flow(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """`check` without Prefect: no server is looked for, and the flow is a stand-in that
    records its calls and stores a run of strict.yaml into LINKHEALTH_DATABASE_URL, if the
    test set it: 2 URLs not found (one of them snoozed), 1 gone, 1 moved, 1 drifted."""
    import flows.check_flow
    import flows.prefect_server
    from catalog import store
    from catalog.runs import RunSummary
    from catalog.settings import HealthSettings

    calls: list[dict[str, object]] = []

    def check_catalog(**kwargs: object) -> RunSummary:
        calls.append(kwargs)
        when = datetime(2025, 3, 1, 2, tzinfo=UTC)
        engine = open_engine(os.environ["LINKHEALTH_DATABASE_URL"])
        try:
            sync_catalogs(engine, load_catalogs([Path("strict.yaml")]), now=when)
            run_id = store.start_run(engine, trigger="manual", now=when)
            observations = [
                make_observation(f"https://example.org/{rid}", outcome, checked_at=when)
                for rid, outcome in STRICT_OUTCOMES.items()
            ]
            store.record_observations(engine, run_id, observations, HealthSettings(), now=when)
            with session_scope(engine) as s:
                link = s.scalars(select(Link).where(Link.url == "https://example.org/d")).one()
                link.drift_reason = "parked"
                snoozed = s.scalars(select(Resource).where(Resource.rid == "e")).one()
                snoozed.snoozed_until = datetime(2999, 1, 1, tzinfo=UTC)
            counts = dict(Counter(o.value for o in STRICT_OUTCOMES.values()))
        finally:
            engine.dispose()
        return RunSummary(run_id, "completed", "manual", when, when, 6, counts, False)

    monkeypatch.setattr(flows.prefect_server, "ensure_server", lambda say: None)
    monkeypatch.setattr(flows.check_flow, "check_catalog", check_catalog)
    return calls


STRICT_OUTCOMES = {
    "a": Outcome.NOT_FOUND,
    "b": Outcome.GONE,
    "c": Outcome.REDIRECTED_PERMANENT,
    "d": Outcome.OK,  # drifted
    "e": Outcome.NOT_FOUND,  # snoozed
    "f": Outcome.OK,
}


def test_check_strict_says_on_stderr_why_it_exits_6(
    isolated_cwd: Path,
    fake_flow: list[dict[str, object]],
    migrated_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolated_cwd.joinpath("strict.yaml").write_text(
        "resources:\n"
        + "".join(
            f"  - {{id: {rid}, title: Entry {rid}, url: 'https://example.org/{rid}'}}\n"
            for rid in STRICT_OUTCOMES
        )
    )
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    result = _invoke("check", "--strict", "--no-report", "--catalog", "strict.yaml")
    assert result.exit_code == 6, result.output
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("--strict")]
    # Each named, as the report's queue files them and in its order (first failures are
    # not yet confirmed); the snoozed one is not counted but said to be.
    assert "of 6 resources checked, 2 to fix and 2 to check or watch in the report's " in line
    assert "strict/d (Page no longer matches its entry), strict/c (Moved permanently), " in line
    assert "strict/a (Failing, not yet confirmed: not found (404)), strict/b (Failing" in line
    assert "strict/e" not in line
    assert "1 snoozed or ignored not counted" in line
    # --no-report: no report to point at (it said "The report and ... list them"); the
    # database came from LINKHEALTH_DATABASE_URL, which a curator's shell need not set.
    from sqlalchemy.engine import make_url

    shown = make_url(migrated_db_url)._replace(password=None).render_as_string(hide_password=False)
    export = shlex.join(["linkhealth", "export", "--db", shown])
    assert line.endswith(f"`{export}` lists them (this run wrote no report).")
    assert "Run 1" in result.stdout  # the summary itself stays on stdout

    # (--catalog: the bundled demo is refused in a database holding strict.yaml's entries.)
    lenient = _invoke("check", "--no-report", "--catalog", "strict.yaml")
    assert lenient.exit_code == 0 and "--strict" not in lenient.stderr


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command looks for a Prefect server (a flow run would follow)."""
    import flows.prefect_server

    def refuse(say: object) -> None:
        raise AssertionError("a Prefect server was looked for")

    monkeypatch.setattr(flows.prefect_server, "ensure_server", refuse)


@pytest.mark.usefixtures("no_server")
def test_check_refuses_a_bad_catalog_before_any_flow_run(
    isolated_cwd: Path, fake_flow: list[dict[str, object]]
) -> None:
    missing = _invoke("check", "--catalog", "my-toolkit.yaml")
    assert missing.exit_code == 5, missing.output
    assert missing.stderr.count("my-toolkit.yaml") == 1 and "file_not_found" in missing.stderr
    (isolated_cwd / "bad.yaml").write_text(BAD)
    invalid = _invoke("check", "--catalog", "bad.yaml")
    assert invalid.exit_code == 5 and "bad.yaml:5" in invalid.stderr
    recheck = _invoke("recheck", "a", "--catalog", "my-toolkit.yaml")
    assert recheck.exit_code == 5 and "file_not_found" in recheck.stderr
    assert fake_flow == []


@pytest.mark.usefixtures("no_server")
def test_an_unknown_id_is_refused_before_any_flow_run(
    synced_good: Path, fake_flow: list[dict[str, object]]
) -> None:
    for command in (["check", "--id", "nosuchid"], ["recheck", "a", "nosuchid"]):
        result = _invoke(*command)
        assert result.exit_code == 4, (command, result.output)
        assert "'nosuchid'" in result.stderr and "'a'" not in result.stderr
    assert fake_flow == []


def test_an_unreadable_path_anywhere_is_one_line_naming_it() -> None:
    """The last net under every command: an OSError about a path the user gave."""
    import typer

    from flows.cli import _Group

    demo = typer.Typer(cls=_Group, pretty_exceptions_enable=False)

    @demo.command()
    def read() -> None:
        raise FileNotFoundError(2, "No such file or directory", "notes/missing.yaml")

    @demo.command()
    def other() -> None:
        raise OSError("no file involved")

    result = runner.invoke(demo, ["read"])
    assert result.exit_code == 1
    assert result.stderr == "error: No such file or directory: notes/missing.yaml\n"
    assert isinstance(runner.invoke(demo, ["other"]).exception, OSError)  # a bug: shown whole


@pytest.mark.parametrize(
    ("command", "sentence"),
    [
        (["report"], "names the catalog files whose tidying findings"),
        (["catalog", "lint"], "in the entry. Writes nothing."),
        (["server", "stop"], "its pid is in var/ there. Exit 0 when the server was stopped"),
        # It said "(default var/reports)", where a `reports_dir` in linkhealth.toml wins.
        (["report"], "Default: reports_dir of linkhealth.toml, else var/reports."),
    ],
)
def test_help_text_runs_on_instead_of_breaking_where_the_docstring_did(
    command: list[str], sentence: str
) -> None:
    """A docstring's line breaks cut sentences in two on any terminal width."""
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=300)
    assert result.exit_code == 0
    assert sentence in result.output


def test_a_long_command_in_a_log_says_how_far_it_got_now_and_then(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`db copy` and `db prune` under cron or the systemd timer showed no bar (stderr is no
    terminal) and said nothing until done: a 240,000-row copy was silent for 14 s."""
    from flows.cli import ProgressLines

    now = [0.0]
    lines = ProgressLines(every_s=10.0, clock=lambda: now[0])
    with lines:
        task = lines.add_task("Copying observations", total=None)
        for at, done in ((3.0, 1_000), (9.0, 5_000), (10.5, 6_000), (15.0, 9_000)):
            now[0] = at
            lines.update(task, completed=done, total=240_000 if at > 10 else None)
        other = lines.add_task("Copying events")
        now[0] = 21.0
        lines.update(other, completed=12)
    assert capsys.readouterr().err.splitlines() == [
        "Copying observations: 6,000 of 240,000",
        "Copying events: 12",
    ]
