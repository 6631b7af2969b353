"""`linkhealth recheck` as a curator types it: against the database that holds the checks
(not a new one made by a typo), with ids written as its verdicts write them (`KEY/ID`), and
with a trial settings file whose refusal is the curator's to read, not a refused night in
production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from flows.cli import app
from tests.factories import copy_migrated_sqlite, migrated_sqlite, write_catalog

runner = CliRunner()

ENTRIES = [
    {"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"},
    {"id": "r2", "title": "Resource 2", "url": "https://example.org/r2"},
]


@pytest.fixture
def production(isolated_cwd: Path) -> Path:
    """A folder as the README sets one up: linkhealth.toml, its catalog, and the database
    the nightly runs made (one run in it)."""
    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/linkhealth.db"\ncatalogs = ["toolkit.yaml"]\n',
        encoding="utf-8",
    )
    (isolated_cwd / "var").mkdir()
    engine = migrated_sqlite(isolated_cwd / "var" / "linkhealth.db")  # not a test of migrating
    store.start_run(engine, trigger="schedule", now=utcnow())
    engine.dispose()
    return isolated_cwd


def _runs(folder: Path) -> list[store.RunRecord]:
    engine = open_engine(f"sqlite:///{folder / 'var' / 'linkhealth.db'}")
    try:
        return store.latest_runs(engine)
    finally:
        engine.dispose()


# --- a database that does not exist ----------------------------------------------------------


@pytest.mark.parametrize("selection", [["--failing"], ["--changed"]])
def test_a_recheck_of_a_database_not_made_yet_is_refused_and_makes_none(
    production: Path, flow_calls: list[dict[str, Any]], selection: list[str]
) -> None:
    """A mistyped --db: "Nothing to recheck." (exit 0) and a stray empty file, or, for
    --changed, every entry checked as if never checked; refused as `status` refuses it."""
    typo = production / "var" / "linkhelth.db"
    result = runner.invoke(app, ["recheck", *selection, "--db", f"sqlite:///{typo}"])
    assert result.exit_code == 3, result.output
    assert f"no database at {typo}; `linkhealth check` creates it" in result.stderr
    assert "Nothing to recheck" not in result.stdout
    assert not typo.exists() and flow_calls == []


def test_a_recheck_run_from_a_folder_without_the_database_is_refused(
    isolated_cwd: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """No linkhealth.toml and no var/ here: the bundled toolkit and a new database."""
    result = runner.invoke(app, ["recheck", "--changed"])
    assert result.exit_code == 3, result.output
    assert "no database at" in result.stderr
    assert not (isolated_cwd / "var").exists() and flow_calls == []


def test_named_ids_may_start_a_trial_database_but_a_refused_one_makes_none(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """The README's trial: `recheck ID --db sqlite:///var/trial.db` starts it. A typo of
    the id is refused without leaving the file behind."""
    trial = production / "var" / "trial.db"
    typo = runner.invoke(app, ["recheck", "r9", "--db", f"sqlite:///{trial}"])
    assert typo.exit_code == 4, typo.output
    assert not trial.exists() and flow_calls == []
    result = runner.invoke(app, ["recheck", "r1", "--db", f"sqlite:///{trial}"])
    assert result.exit_code == 0, result.output
    assert [c["resource_ids"] for c in flow_calls] == [["r1"]]


# --- ids as verdicts name them -----------------------------------------------------------


def test_a_recheck_takes_an_id_written_as_its_verdicts_write_it(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """`toolkit/r1: OK ...` pasted back was "no resource with id 'toolkit/r1'", exit 4,
    and a refused run in `status`."""
    result = runner.invoke(app, ["recheck", "toolkit/r1", "r2"])
    assert result.exit_code == 0, result.output
    assert [c["resource_ids"] for c in flow_calls] == [["r1", "r2"]]
    wrong_key = runner.invoke(app, ["recheck", "other/r1"])
    assert wrong_key.exit_code == 4 and "'other/r1'" in wrong_key.stderr
    assert [r.status for r in _runs(production)] == ["running"]  # the night's, alone


def test_an_id_named_key_slash_id_is_narrowed_to_that_catalog_unless_named_bare_too(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    assert runner.invoke(app, ["recheck", "toolkit/r1", "r2"]).exit_code == 0
    assert runner.invoke(app, ["recheck", "toolkit/r1", "r1"]).exit_code == 0
    assert [(c["resource_ids"], c["entries"]) for c in flow_calls] == [
        (["r1", "r2"], ["toolkit/r1"]),
        (["r1"], []),
    ]


def test_the_pairs_a_narrowed_recheck_checks() -> None:
    from flows.recheck_flow import narrowed, only_in

    only = only_in(["a/r1", "b/x/y"])
    assert only == {"r1": {"a"}, "x/y": {"b"}}
    assert narrowed(["r1", "r2", "x/y"], ["a", "b"], only) == [
        ("a", "r1"),
        ("a", "r2"),
        ("b", "r2"),
        ("b", "x/y"),
    ]
    assert narrowed(["r1"], ["a", "b"], {}) is None


def test_a_mistyped_id_is_refused_on_stderr_and_recorded_as_no_refused_run(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    for command in (["recheck", "r1", "r9"], ["check", "--id", "r8"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 4, (command, result.output)
        assert "no resource with id" in result.stderr
    assert [r.status for r in _runs(production)] == ["running"]
    assert flow_calls == []


# --- a trial settings file -----------------------------------------------------------------


def test_a_broken_trial_settings_file_refuses_the_run_without_recording_it(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """A copy of linkhealth.toml with a typo, tried with --config: its database is
    production's, where a refused run headed the next report "A run since run 1 was
    refused ... this report stays as run 1 left it", though the nights are fine."""
    trial = production / "trial.toml"
    trial.write_text(
        (production / "linkhealth.toml").read_text() + '[check]\nconcurrency = "lots"\n'
    )
    for command in (["recheck", "r1"], ["recheck", "--changed"], ["check"]):
        result = runner.invoke(app, [*command, "--config", str(trial)])
        assert result.exit_code == 2, (command, result.output)
        assert f"error: {trial}:4: check.concurrency" in result.stderr
        assert "Not recorded as a refused run" in result.stderr
    assert [r.status for r in _runs(production)] == ["running"]

    # The configured file, broken, named with --config or not: a refused night, recorded.
    configured = production / "linkhealth.toml"
    configured.write_text(trial.read_text())
    for command in (["recheck", "r1", "--config", str(configured)], ["recheck", "r1"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "Not recorded" not in result.stderr
    assert [r.status for r in _runs(production)] == ["refused", "refused", "running"]
    assert flow_calls == []


def test_a_trial_settings_file_whose_catalog_is_missing_records_no_refused_run(
    production: Path, flow_calls: list[dict[str, Any]]
) -> None:
    trial = production / "trial.toml"
    trial.write_text((production / "linkhealth.toml").read_text().replace("toolkit", "gone"))
    result = runner.invoke(app, ["recheck", "--changed", "--config", str(trial)])
    assert result.exit_code == 5, result.output
    assert "gone.yaml" in result.stderr
    assert [r.status for r in _runs(production)] == ["running"]
    # The configured one's missing catalog is a refused night (a bad edit of the file).
    (production / "toolkit.yaml").rename(production / "moved.yaml")
    assert runner.invoke(app, ["recheck", "--changed"]).exit_code == 5
    assert [r.status for r in _runs(production)] == ["refused", "running"]


def test_a_trial_settings_file_whose_catalog_is_invalid_is_refused_before_any_flow_run(
    production: Path, flow_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--config trial.toml` naming a catalog with an error started the flow, which
    recorded a refused run in the trial's database (production's, when the file names it),
    sent `linkhealth.run.refused` and headed the report with it: the curator's try, not a
    refused night (README, Configuration)."""
    import flows.check_flow

    monkeypatch.setattr(flows.check_flow, "check_catalog", lambda **kw: flow_calls.append(kw))
    write_catalog(production / "tried.yaml", [*ENTRIES, ENTRIES[0]])  # r1 twice
    trial = production / "trial.toml"
    trial.write_text((production / "linkhealth.toml").read_text().replace("toolkit", "tried"))
    for command in (["check"], ["recheck", "--changed"], ["recheck", "r1"]):
        result = runner.invoke(app, [*command, "--config", str(trial)])
        assert result.exit_code == 5, (command, result.output)
        assert "tried.yaml" in result.stderr and "duplicate_id" in result.stderr
    assert [r.status for r in _runs(production)] == ["running"]
    assert flow_calls == []


# --- a recheck that checks nothing -------------------------------------------------------


def test_a_recheck_that_only_synced_a_removal_says_so_and_where_the_report_is(
    production: Path, flow_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Nothing to recheck." alone read as if the removal had changed nothing, the report
    still listing the entry removed (the flow writes it again: tests/test_flow.py)."""
    import flows.recheck_flow

    synced = flows.recheck_flow.RecheckResult(
        (), None, (), sync_changes=1, synced="1 removed", report_path="reports/latest.html"
    )
    monkeypatch.setattr(flows.recheck_flow, "recheck", lambda **kw: synced)
    result = runner.invoke(app, ["recheck", "--changed"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Nothing to recheck; 1 catalog change synced (1 removed); "
        "report written to reports/latest.html.\n"
    )


# --- what the README and the help show --------------------------------------------------------


def _examples() -> list[str]:
    """The command lines of the README's sh blocks and of every command's `Example:`."""
    import re

    import typer.main

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    lines = [
        line.strip()
        for block in re.findall(r"```sh\n(.*?)```", readme, re.S)
        for line in block.splitlines()
    ]
    pending = [typer.main.get_command(app)]
    while pending:
        command = pending.pop()
        pending += list((getattr(command, "commands", None) or {}).values())
        lines += [p.strip()[len("Example: ") :] for p in (command.help or "").split("\n")]
    return [line for line in lines if line.startswith("linkhealth ")]


def test_a_catalog_tried_in_an_example_is_checked_into_a_database_of_its_own() -> None:
    """`check --catalog my-toolkit.yaml` with production's database syncs the file into it
    for good: every later report covers it, and no command takes it out (README: "try a
    catalog out with --db sqlite:///var/trial.db")."""
    tried = [
        line
        for line in _examples()
        if line.split()[1] in ("check", "recheck") and "--catalog" in line.split()
    ]
    assert tried  # the README shows how to try a catalog
    assert [line for line in tried if "--db" not in line.split()] == []


# --- one entry named KEY/ID ------------------------------------------------------------------


@pytest.mark.flow
def test_an_entry_named_key_slash_id_is_checked_in_that_catalog_only_and_a_shared_url_said(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """`recheck toolkit/r1` checked r1 in every catalog using that id (another URL, another
    curator's entry), and printed a verdict for each."""
    from tests.local_site import local_site

    with local_site() as site:
        write_catalog(
            isolated_cwd / "toolkit.yaml",
            [{"id": "r1", "title": "Annual Report", "url": f"{site.base}/report.html"}],
        )
        write_catalog(
            isolated_cwd / "other.yaml",
            [
                {"id": "r1", "title": "A Guide", "url": f"{site.base}/missing"},
                {"id": "r5", "title": "Annual Report (copy)", "url": f"{site.base}/report.html"},
            ],
        )
        (isolated_cwd / "linkhealth.toml").write_text(
            'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml", "other.yaml"]\n'
            "[check]\nallow_private = true\n",
            encoding="utf-8",
        )
        copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")  # checked into, not migrated
        result = runner.invoke(app, ["recheck", "toolkit/r1", "--no-report"])
        hits = dict(site.hits)
    assert result.exit_code == 0, result.output
    assert not any(path.endswith("/missing") for path in hits), hits
    lines = result.stdout.splitlines()
    assert lines[0].startswith("toolkit/r1: OK")
    assert lines[1] == (
        "toolkit/r1: its URL is shared with other/r5, whose link state this check updated too"
    )
    assert not any(line.startswith("other/r1") for line in lines), lines


@pytest.mark.flow
def test_a_bare_id_names_the_entries_sharing_its_url_as_key_slash_id_does(
    prefect_api: str, isolated_cwd: Path
) -> None:
    """`recheck toolkit/r1` named the entries whose link state its check updated too;
    `recheck r1` of the same entry said nothing of them."""
    from tests.local_site import local_site

    with local_site() as site:
        write_catalog(
            isolated_cwd / "toolkit.yaml",
            [
                {"id": "r1", "title": "Annual Report", "url": f"{site.base}/report.html"},
                {"id": "r2", "title": "Annual Report (panel)", "url": f"{site.base}/report.html"},
            ],
        )
        (isolated_cwd / "linkhealth.toml").write_text(
            'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml"]\n'
            "[check]\nallow_private = true\n",
            encoding="utf-8",
        )
        copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")  # checked into, not migrated
        result = runner.invoke(app, ["recheck", "r1", "--no-report"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("toolkit/r1: OK")
    assert lines[1] == (
        "toolkit/r1: its URL is shared with toolkit/r2, whose link state this check updated too"
    )
