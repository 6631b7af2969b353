"""Numbers on the command line past what the database or a polite check can take: refused
as usage (exit 2, naming the option), never a traceback or a check with politeness off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.settings import (
    MAX_CONCURRENCY,
    MAX_PER_HOST_CONCURRENCY,
    MAX_PER_HOST_RATE,
    MAX_RUN_ID,
    MAX_SHOWN,
    SettingsFileError,
    load_settings,
)
from flows.cli import app

runner = CliRunner()

HUGE = "99999999999999999999"  # past SQLite's INTEGER: an OverflowError traceback before

CATALOG = """\
resources:
  - id: a
    title: First
    url: https://example.org/a
"""


@pytest.fixture
def synced(isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database that holds one resource, so each command would reach it."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    (isolated_cwd / "one.yaml").write_text(CATALOG)
    assert runner.invoke(app, ["sync", "--catalog", "one.yaml"]).exit_code == 0
    return isolated_cwd


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["status", "--limit", HUGE], "--limit"),
        (["resource", "a", "--limit", HUGE], "--limit"),
        (["report", "--run", HUGE, "--out", "out"], "--run"),
        (["status", "--limit", str(MAX_SHOWN + 1)], "--limit"),
        (["report", "--run", str(MAX_RUN_ID + 1), "--out", "out"], "--run"),
    ],
)
def test_a_number_too_large_is_a_usage_error(synced: Path, args: list[str], option: str) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == 2, result.output
    assert option in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_largest_numbers_allowed_still_work(synced: Path) -> None:
    assert runner.invoke(app, ["status", "--limit", str(MAX_SHOWN)]).exit_code == 0
    assert runner.invoke(app, ["resource", "a", "--limit", str(MAX_SHOWN)]).exit_code == 0
    missing = runner.invoke(app, ["report", "--run", str(MAX_RUN_ID), "--out", "out"])
    assert missing.exit_code == 4 and f"run {MAX_RUN_ID} does not exist" in missing.stderr


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if `check` goes on to look for a Prefect server (a flow run would follow)."""
    import flows.prefect_server

    def refuse(say: object) -> None:
        raise AssertionError("a Prefect server was looked for")

    monkeypatch.setattr(flows.prefect_server, "ensure_server", refuse)


@pytest.mark.usefixtures("no_server")
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--per-host-rate", "inf"),
        ("--per-host-rate", "1e20"),
        ("--per-host-rate", str(MAX_PER_HOST_RATE + 1)),
        ("--concurrency", HUGE),
        ("--concurrency", str(MAX_CONCURRENCY + 1)),
        ("--per-host-concurrency", HUGE),
        ("--per-host-concurrency", str(MAX_PER_HOST_CONCURRENCY + 1)),
    ],
)
def test_check_refuses_politeness_switched_off(
    synced: Path, fake_flow_guard: None, option: str, value: str
) -> None:
    """`--per-host-rate inf --concurrency 10^20` checked 300 URLs of one site in 4.6 s."""
    result = runner.invoke(app, ["check", "--catalog", "one.yaml", option, value])

    assert result.exit_code == 2, result.output
    assert option in result.stderr


@pytest.fixture
def fake_flow_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """No flow run at all: the options are refused before one could start."""
    import flows.cli

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a flow run was started")

    monkeypatch.setattr(flows.cli, "flow_run_here", refuse)


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[check]\nconcurrency = 100000000000000000000\n", "check.concurrency must be at most"),
        (f"[check]\nconcurrency = {MAX_CONCURRENCY + 1}\n", "check.concurrency must be at most"),
        ("[check]\nper_host_concurrency = 101\n", "check.per_host_concurrency must be at most"),
        ("[check]\nper_host_rate = 1e20\n", "check.per_host_rate must be at most 100"),
        (
            '[check]\nconcurrency = 8\n[check.hosts."a.org"]\nper_host_rate = 500\n',
            'linkhealth.toml:4: check.hosts."a.org".per_host_rate must be at most 100',
        ),
    ],
)
def test_the_settings_file_has_the_options_caps(isolated_cwd: Path, toml: str, said: str) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(toml)
    with pytest.raises(SettingsFileError, match=re.escape(said)):
        load_settings()


def test_the_caps_themselves_and_no_rate_limit_in_the_file_are_allowed(isolated_cwd: Path) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(
        f"[check]\nconcurrency = {MAX_CONCURRENCY}\n"
        f"per_host_concurrency = {MAX_PER_HOST_CONCURRENCY}\nper_host_rate = {MAX_PER_HOST_RATE}\n"
        '[check.hosts."intranet.example"]\nper_host_rate = 0\n'
    )
    check = load_settings().check
    assert (check.concurrency, check.per_host_concurrency) == (1000, 100)
    assert check.policy_for("intranet.example") == (100, 0.0)
