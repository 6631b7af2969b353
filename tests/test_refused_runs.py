"""Every attempted run leaves a record the operator finds with `linkhealth status`: a run
refused for its settings file (`linkhealth.toml`), or a recheck refused for its catalog (or,
run by a deployment, for ids no catalog holds), is recorded as `refused` with the reason
(file and line where there is one), as a run refused for a broken catalog is
(tests/test_faults_catalog.py).
A settings file that alone names the database has no database to record in: the error
says so and the command exits 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.errors import CatalogError, ConfigError, NotFoundError
from catalog.ops import EVENT_RUN_REFUSED
from catalog.settings import Settings, SettingsFileError, line_of, load_settings
from flows.cli import app
from tests.factories import write_catalog

ENTRIES = [
    {"id": "r1", "title": "Resource 1", "url": "https://example.org/r1"},
    {"id": "r2", "title": "Resource 2", "url": "https://example.org/r2"},
]


def _earlier_night(migrated_db_url: str) -> Engine:
    """The database of earlier nights: one run in it."""
    engine = open_engine(migrated_db_url)
    store.start_run(engine, trigger="schedule", now=utcnow())
    return engine


def _refused(engine: Engine) -> store.RunRecord:
    latest = store.latest_runs(engine)[0]
    assert latest.status == "refused", latest
    return latest


def _settings_file(folder: Path, migrated_db_url: str, broken: str) -> Path:
    catalog = write_catalog(folder / "toolkit.yaml", ENTRIES)
    path = folder / "linkhealth.toml"
    path.write_text(
        f'database_url = "{migrated_db_url}"\ncatalogs = ["{catalog}"]\n{broken}', encoding="utf-8"
    )
    return path


# --- the settings file -------------------------------------------------------------------------


def test_a_check_refused_for_its_settings_file_is_recorded_with_its_file_and_line(
    isolated_cwd: Path, migrated_db_url: str
) -> None:
    """A bad edit of a setting (not of the database's): the database the file names is
    sound, so the refusal goes there; status, once the file is fixed, lists the night."""
    engine = _earlier_night(migrated_db_url)
    config = _settings_file(isolated_cwd, migrated_db_url, "[check]\nconcurrency = 0\n")
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2, result.output
    assert f"error: {config}:4: check.concurrency must be more than 0" in result.stderr
    refused = _refused(engine)
    assert refused.trigger == "manual" and refused.urls_planned == 0
    assert f"{config}:4: check.concurrency must be more than 0" in refused.summary["refused_reason"]
    assert refused.summary["catalogs"] == [str(isolated_cwd / "toolkit.yaml")]

    # Status shows it while the file is still broken (saying so), and once it is fixed.
    for fixed in (False, True):
        if fixed:
            config.write_text(config.read_text().replace("concurrency = 0", "concurrency = 4"))
        status = CliRunner().invoke(app, ["status"])
        assert status.exit_code == 0, status.output
        assert (f"warning: {config}:4: check.concurrency" in status.stderr) is not fixed
        line = next(x for x in status.stdout.splitlines() if x.startswith(f"run {refused.id} "))
        assert " refused " in line and f"{config}:4" in line
    engine.dispose()


def test_a_settings_file_that_is_not_toml_is_recorded_in_the_database_given_elsewhere(
    isolated_cwd: Path, migrated_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Not TOML at all: its database_url cannot be trusted, but one given with --db (or
    LINKHEALTH_DATABASE_URL) can; TOML's own line is the one named."""
    engine = _earlier_night(migrated_db_url)
    config = _settings_file(isolated_cwd, "sqlite:///elsewhere.db", "[check\nconcurrency = 2\n")
    result = CliRunner().invoke(app, ["check", "--db", migrated_db_url])
    assert result.exit_code == 2, result.output
    reason = _refused(engine).summary["refused_reason"]
    assert reason.startswith(f"{config}:3: not valid TOML")
    assert not (isolated_cwd / "elsewhere.db").exists()
    engine.dispose()


def test_the_environments_database_records_a_refusal_even_when_the_files_is_broken(
    isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _earlier_night(migrated_db_url)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    config = _settings_file(isolated_cwd, "sqlite:///elsewhere.db", "")
    config.write_text("database_url = 5\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["recheck", "r1"])
    assert result.exit_code == 2, result.output
    refused = _refused(engine)
    assert refused.trigger == "recheck"
    assert refused.summary["refused_reason"].startswith(f"{config}:1: database_url must be")
    engine.dispose()


def test_a_refusal_for_a_database_not_made_yet_says_it_is_recorded_nowhere(
    isolated_cwd: Path,
) -> None:
    """`--db` names a database no run has made yet: a refusal creates none (a mistyped
    --db would leave a stray file), so the error must not let the README's "recorded in
    the --db database" stand."""
    config = _settings_file(
        isolated_cwd, "sqlite:///var/other.db", "[check]\nconcurrency = 'many'\n"
    )
    never = isolated_cwd / "never.db"
    result = CliRunner().invoke(
        app, ["check", "--config", str(config), "--db", f"sqlite:///{never}"]
    )
    assert result.exit_code == 2, result.output
    assert f"error: {config}:4: check.concurrency" in result.stderr
    assert "This refused run is recorded nowhere" in result.stderr
    assert f"sqlite:///{never} is no linkhealth database yet" in result.stderr
    assert not never.exists() and not (isolated_cwd / "var").exists()


@pytest.mark.parametrize(
    "broken",
    ["[check\n", "database_url = 5\n"],
    ids=["not TOML", "database_url itself broken"],
)
def test_a_refusal_with_no_database_to_record_it_in_says_so_and_exits_2(
    isolated_cwd: Path, migrated_db_url: str, broken: str
) -> None:
    """The only database named is the broken file's: nothing is written anywhere (no
    SQLite file appears from a guess), and the operator is told the night is unrecorded."""
    engine = _earlier_night(migrated_db_url)
    config = isolated_cwd / "linkhealth.toml"
    config.write_text(f'database_url = "{migrated_db_url}"\n{broken}', encoding="utf-8")
    if broken.startswith("database_url"):
        config.write_text(broken, encoding="utf-8")
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2, result.output
    assert f"error: {config}:" in result.stderr
    assert "This refused run is recorded nowhere" in result.stderr
    assert "LINKHEALTH_DATABASE_URL" in result.stderr and "Traceback" not in result.output
    assert store.latest_runs(engine)[0].status == "running"  # the earlier night's, alone
    assert not (isolated_cwd / "var").exists()
    status = CliRunner().invoke(app, ["status"])  # no database to show either
    assert status.exit_code == 2 and f"error: {config}:" in status.stderr, status.output
    engine.dispose()


def test_a_missing_config_file_named_by_the_environment_is_a_recorded_refusal(
    isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _earlier_night(migrated_db_url)
    monkeypatch.setenv("LINKHEALTH_CONFIG", str(isolated_cwd / "moved.toml"))
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2, result.output
    assert "moved.toml: config file does not exist" in _refused(engine).summary["refused_reason"]
    engine.dispose()


# --- refused rechecks (before a flow run starts) ------------------------------------------


def test_ids_no_catalog_holds_typed_on_the_command_line_are_only_refused(
    isolated_cwd: Path, migrated_db_url: str
) -> None:
    """A curator's typo is said on stderr (exit 4) and is no refused run: `status` would
    list it as a night that did not run. A deployment's run given such ids is recorded
    (test_flow_runs_refused_for_settings_catalog_or_ids_are_recorded_with_their_flow_run)."""
    engine = _earlier_night(migrated_db_url)
    _settings_file(isolated_cwd, migrated_db_url, "")
    result = CliRunner().invoke(app, ["recheck", "r1", "r9"])
    assert result.exit_code == 4, result.output
    assert "'r9'" in result.stderr
    # `check --id` is a recheck too.
    result = CliRunner().invoke(app, ["check", "--id", "r8"])
    assert result.exit_code == 4, result.output
    assert [r.status for r in store.latest_runs(engine)] == ["running"]  # the night's alone
    engine.dispose()


def test_a_recheck_refused_for_a_missing_catalog_is_recorded_but_a_tried_file_is_not(
    isolated_cwd: Path, migrated_db_url: str
) -> None:
    engine = _earlier_night(migrated_db_url)
    config = _settings_file(isolated_cwd, migrated_db_url, "")
    (isolated_cwd / "toolkit.yaml").rename(isolated_cwd / "renamed.yaml")
    result = CliRunner().invoke(app, ["recheck", "--changed"])
    assert result.exit_code == 5, result.output
    refused = _refused(engine)
    assert refused.trigger == "recheck"
    assert str(isolated_cwd / "toolkit.yaml") in refused.summary["refused_reason"]

    tried = CliRunner().invoke(
        app,
        ["recheck", "r1", "--catalog", str(isolated_cwd / "nope.yaml"), "--config", str(config)],
    )
    assert tried.exit_code == 5, tried.output
    assert store.latest_runs(engine)[0].id == refused.id  # a curator's try: only refused
    engine.dispose()


# --- refusals inside a flow run (`linkhealth serve`, a worker) ---------------------------------


@pytest.mark.flow
def test_flow_runs_refused_for_settings_catalog_or_ids_are_recorded_with_their_flow_run(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    sent_events: list[tuple[str, dict[str, Any]]],
) -> None:
    """What `serve` runs: the settings file broken since serve started it, a catalog
    broken by an edit the `recheck` deployment reacts to, and a deployment run given ids
    no catalog holds. Each is Failed in Prefect, a refused run in `status`, and an event
    the webhook automation posts: nobody reads a scheduled run's error otherwise."""
    from flows.check_flow import check_catalog
    from flows.recheck_flow import recheck

    engine = _earlier_night(migrated_db_url)
    config = _settings_file(isolated_cwd, migrated_db_url, "[health]\nconfirm_days = -1\n")
    with pytest.raises(ConfigError):
        check_catalog(config=str(config), trigger="schedule", render=False)
    refused = _refused(engine)
    assert refused.trigger == "schedule" and refused.flow_run_id
    assert f"{config}:4: health.confirm_days" in refused.summary["refused_reason"]
    assert sent_events == [
        (EVENT_RUN_REFUSED, {"reason": refused.summary["refused_reason"], "trigger": "schedule"})
    ]

    config = _settings_file(isolated_cwd, migrated_db_url, "")
    write_catalog(isolated_cwd / "toolkit.yaml", [*ENTRIES, ENTRIES[0]])  # r1 twice
    with pytest.raises(CatalogError):
        recheck(changed_only=True, config=str(config), render=True)
    by_catalog = _refused(engine)
    (report,) = isolated_cwd.glob("**/latest.html")  # written again, headed by the refusal
    assert "refused-notice" in report.read_text()
    report.unlink()
    assert by_catalog.trigger == "recheck" and by_catalog.flow_run_id
    assert f"{isolated_cwd / 'toolkit.yaml'}:" in by_catalog.summary["refused_reason"]
    assert sent_events[1:] == [
        (EVENT_RUN_REFUSED, {"reason": by_catalog.summary["refused_reason"], "trigger": "recheck"})
    ]
    # The nightly run's refusal is recorded where the run is prepared, and announced once;
    # the report is written again, headed by it, where curators look.
    with pytest.raises(CatalogError):
        check_catalog(config=str(config), trigger="schedule", render=True)
    assert "refused-notice" in report.read_text() and "toolkit.yaml:" in report.read_text()
    nightly, before = store.latest_runs(engine, limit=2)
    assert (nightly.status, nightly.trigger) == ("refused", "schedule")
    assert before.id == by_catalog.id  # one refused run, not two
    assert [payload["trigger"] for _, payload in sent_events[2:]] == ["schedule"]

    write_catalog(isolated_cwd / "toolkit.yaml", ENTRIES)
    report.unlink()
    with pytest.raises(NotFoundError):
        recheck(resource_ids=["r7"], config=str(config), render=True)
    with pytest.raises(NotFoundError):
        check_catalog(config=str(config), resource_ids=["r6"], render=True)
    assert not report.exists()  # ids no catalog holds stop no other run: no report for them
    by_ids = store.latest_runs(engine, limit=2)
    assert [r.status for r in by_ids] == ["refused", "refused"]
    assert "'r6'" in by_ids[0].summary["refused_reason"] and by_ids[0].trigger == "manual"
    assert "'r7'" in by_ids[1].summary["refused_reason"] and by_ids[1].trigger == "recheck"
    assert len({r.flow_run_id for r in by_ids}) == 2
    assert all(r.summary.get(store.REFUSED_IDS) for r in by_ids)  # the report leaves them out
    assert not by_catalog.summary.get(store.REFUSED_IDS)
    assert [payload["reason"] for _, payload in sent_events[3:]] == [
        r.summary["refused_reason"] for r in reversed(by_ids)
    ]
    engine.dispose()


@pytest.mark.flow
def test_a_flow_run_refused_with_no_database_to_record_in_says_so_in_its_log(
    prefect_harness: None,
    isolated_cwd: Path,
    migrated_db_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from flows.check_flow import check_catalog

    engine = _earlier_night(migrated_db_url)
    config = isolated_cwd / "linkhealth.toml"
    config.write_text(f'database_url = "{migrated_db_url}"\n[check\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        check_catalog(config=str(config), trigger="schedule", render=False)
    # Prefect's run logger reaches the root logger (caplog) only once a test before this
    # one configured logging so; its console handler writes to stderr either way.
    assert "This refused run is recorded nowhere" in caplog.text + capfd.readouterr().err
    assert store.latest_runs(engine)[0].status == "running"
    engine.dispose()


@pytest.mark.flow
def test_a_first_nightly_run_refused_for_its_catalog_writes_a_report_that_says_so(
    prefect_harness: None, isolated_cwd: Path, tmp_path: Path
) -> None:
    # Nothing was ever checked: the report is all the curators have, and it must not look
    # like an empty catalog waiting for its first run.
    from flows.check_flow import check_catalog

    migrated_db_url = f"sqlite:///{tmp_path / 'first.db'}"
    config = _settings_file(isolated_cwd, migrated_db_url, "")
    write_catalog(isolated_cwd / "toolkit.yaml", [*ENTRIES, ENTRIES[0]])  # r1 twice
    with pytest.raises(CatalogError):
        check_catalog(config=str(config), trigger="schedule", render=True)
    engine = open_engine(migrated_db_url)
    assert _refused(engine).trigger == "schedule"
    engine.dispose()
    (report,) = isolated_cwd.glob("**/latest.html")
    notice = LexborHTMLParser(report.read_text()).css_first("#refused-notice")
    assert notice is not None
    assert notice.text().startswith("A run was refused and checked nothing (schedule, ")
    assert notice.text().endswith("until then nothing is checked.")


# --- where in the file -------------------------------------------------------------------------


def test_a_settings_error_names_the_line_that_sets_the_key(isolated_cwd: Path) -> None:
    text = (
        "# linkhealth settings\n"
        'notes = """\n'
        "[check]\n"
        "concurrency = 0\n"
        '"""\n'
        "catalogs = [\n"
        '  "a.yaml",\n'
        "  3,\n"
        "]\n"
        "[check]\n"
        "per_host_rate = 1  # polite\n"
        '[check.hosts."www.ojp.gov"]\n'
        "per_host_concurrency = 0\n"
        "[health]\n"
        "inline = {a = {b = 1}}\n"
    )
    assert line_of(text, ("check", "hosts", "www.ojp.gov", "per_host_concurrency")) == 13
    assert line_of(text, ("check", "per_host_rate")) == 11  # not the string's fake table
    assert line_of(text, ("catalogs", 1)) == 6
    assert line_of(text, ("health", "inline", "a", "b")) == 15
    assert line_of(text, ("check", "concurrency")) == 10  # absent: its table
    assert line_of(text, ("reports_dir",)) is None
    (isolated_cwd / "linkhealth.toml").write_text("# settings\n\n[check.hosts]\n'a.org' = 1\n")
    with pytest.raises(SettingsFileError) as caught:
        load_settings()
    assert caught.value.line == 4 and str(caught.value).startswith(
        f"{isolated_cwd / 'linkhealth.toml'}:4: "
    )


def test_the_database_a_broken_file_still_names_is_the_one_it_would_have_used(
    isolated_cwd: Path,
) -> None:
    """Its own (relative to the file, as always), or the default (relative to the current
    folder, as always) when it names none."""
    folder = isolated_cwd / "etc"
    folder.mkdir()
    config = folder / "linkhealth.toml"
    config.write_text('database_url = "sqlite:///lh.db"\n[check]\nconcurrency = 0\n')
    with pytest.raises(SettingsFileError) as caught:
        load_settings(config)
    assert caught.value.database_url == f"sqlite:///{(folder / 'lh.db').resolve()}"
    config.write_text("[check]\nconcurrency = 0\n")
    with pytest.raises(SettingsFileError) as caught:
        load_settings(config)
    assert caught.value.database_url == "sqlite:///var/linkhealth.db" == Settings().database_url


def test_prefects_traceback_of_a_run_refused_by_our_own_error_is_left_out() -> None:
    """Served runs ended Failed for a broken catalog or a held lease wrote 40-60 lines of
    Prefect's internals to the journal under the one line that says it all; a bug of ours
    (any other exception) keeps its traceback."""
    import logging

    from catalog.errors import StoreError
    from flows.check_flow import ENGINE_EXIT, failed_with

    class Kept(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    logger = logging.getLogger("prefect.flow_runs")  # the engine's run logger's
    kept = Kept()
    logger.addHandler(kept)
    try:
        refused = CatalogError([])
        failed_with(refused)  # the run's end: its sentence is the Failed state's message
        for exc in (refused, StoreError("database went away"), ValueError("a bug of ours")):
            try:
                raise exc
            except Exception:
                logger.error(ENGINE_EXIT, exc_info=True)
        logger.error("Finished in state Failed('toolkit.yaml:3: ...')")
    finally:
        logger.removeHandler(kept)
    assert [
        (r.getMessage(), type(r.exc_info[1]) if r.exc_info else None) for r in kept.records
    ] == [
        (ENGINE_EXIT, StoreError),
        (ENGINE_EXIT, ValueError),
        ("Finished in state Failed('toolkit.yaml:3: ...')", None),
    ]
