"""Operator polish: `server status` when nothing answers or PREFECT_API_URL is no URL, the
exit status of `serve` stopped by Ctrl-C or SIGTERM, `recheck --changed`'s log line on a
new database, and the `Example:` of `db prune` and the `server` commands."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.prefect_server
from flows.cli import app
from tests.factories import serve_without_prefect

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


# --- server status ----------------------------------------------------------------------------


def _answering(monkeypatch: pytest.MonkeyPatch, up: bool) -> list[str]:
    """Whether "a Prefect API" answers; the URLs asked, nothing really asked."""
    asked: list[str] = []

    def healthy(url: str, timeout: float = 2.0) -> bool:
        asked.append(url)
        return up

    monkeypatch.setattr(flows.prefect_server, "is_healthy", healthy)
    return asked


def test_server_status_not_answering_answers_on_stdout_and_says_why_on_stderr(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer stays on stdout for a script (`server status || server start`); exit 1
    is documented; what to do is on stderr, as every other command's explanation."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "4999")
    _answering(monkeypatch, False)
    down = runner.invoke(app, ["server", "status"])
    assert (down.exit_code, down.stdout) == (1, "http://127.0.0.1:4999/api: not answering\n")
    assert down.stderr == (
        "no Prefect server answers at http://127.0.0.1:4999: `linkhealth server start` "
        "starts one (as `check` and `serve` do when they need it)\n"
    )

    # One this folder started, still starting or stuck: not "start one" (a second would
    # take over its pid file), but where to look.
    monkeypatch.setattr(flows.prefect_server, "recorded_pid", lambda: 4321)
    monkeypatch.setattr(flows.prefect_server, "_runs_prefect_server", lambda pid: pid == 4321)
    monkeypatch.setattr(flows.prefect_server, "_listening_port", lambda pid: 4999)
    starting = runner.invoke(app, ["server", "status"])
    assert starting.exit_code == 1
    assert starting.stdout == "http://127.0.0.1:4999/api: not answering\n"
    assert "(pid 4321) runs but does not answer" in starting.stderr
    assert "var/prefect-server.log" in starting.stderr

    monkeypatch.setenv("PREFECT_API_URL", "https://prefect.example.org/api")
    elsewhere = runner.invoke(app, ["server", "status"])
    assert elsewhere.exit_code == 1
    assert elsewhere.stdout == "https://prefect.example.org/api: not answering (PREFECT_API_URL)\n"
    assert elsewhere.stderr.startswith(
        "no Prefect API answers at PREFECT_API_URL=https://prefect.example.org/api; start "
        "that server, or unset PREFECT_API_URL"
    )


@pytest.mark.parametrize(
    "given",
    ["notaurl", "127.0.0.1:4200/api", "ftp://127.0.0.1/api", "http:///api", "http://x:99999/api"],
)
def test_a_prefect_api_url_that_is_no_url_is_refused_naming_the_variable(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """`PREFECT_API_URL=notaurl` was "not answering" (exit 1): the operator looked for a
    server that was down. `server start` (as `check` and `serve`) said no API answered."""
    monkeypatch.setenv("PREFECT_API_URL", given)
    asked = _answering(monkeypatch, False)
    monkeypatch.setattr(flows.prefect_server, "_listens", lambda url: False)
    expected = (
        "error: PREFECT_API_URL must be the http(s) URL of a Prefect API, such as "
        f"http://127.0.0.1:4200/api, not {given!r}\n"
    )
    for command in (["server", "status"], ["server", "start"]):
        result = runner.invoke(app, command)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected), command
    assert asked == []


@pytest.mark.parametrize(
    "given", ["http://127.0.0.1:4200/api", "https://prefect.example.org:8443/api/", ""]
)
def test_a_prefect_api_url_is_taken_as_given(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """An http(s) URL is asked as it is; an empty one is unset (the local server)."""
    monkeypatch.setenv("PREFECT_API_URL", given)
    monkeypatch.delenv("LINKHEALTH_PREFECT_PORT", raising=False)
    asked = _answering(monkeypatch, True)
    result = runner.invoke(app, ["server", "status"])
    assert result.exit_code == 0, result.output
    assert asked == [given or "http://127.0.0.1:4200/api"]


def test_the_readme_gives_server_status_its_exit_codes() -> None:
    rows = {
        line.split("|")[1].strip(): line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    }
    assert "`server status`: no Prefect API answers" in rows["1"]
    assert "`PREFECT_API_URL` that is no http(s) URL" in rows["2"]


# --- serve stopped by Ctrl-C or SIGTERM ---------------------------------------------------------


def _serve_stopped_by(
    monkeypatch: pytest.MonkeyPatch,
    sent: signal.Signals,
    runner_exits: bool = False,
) -> tuple[int, list[str]]:
    """`linkhealth serve` whose runner (a stand-in for Prefect's, which answers SIGTERM by
    logging "SIGTERM received, ..." and stopping, or, `runner_exits`, by `sys.exit(0)` as
    it does before it started or while it stops) gets `sent`: its exit code and the
    runner's log."""
    import prefect

    serve_without_prefect(monkeypatch)
    runner_log = logging.getLogger("prefect.runner")

    def serving(*deployments: Any, print_starting_message: bool = True, **options: Any) -> None:
        def sigterm(*_: Any) -> None:
            runner_log.info("SIGTERM received, initiating graceful shutdown...")
            if runner_exits:
                sys.exit(0)

        before = signal.signal(signal.SIGTERM, sigterm)
        try:
            os.kill(os.getpid(), sent)
            time.sleep(0.05)  # the handler runs between bytecodes of this (main) thread
        finally:
            signal.signal(signal.SIGTERM, before)

    monkeypatch.setattr(prefect, "serve", serving)
    said: list[str] = []
    heard = logging.Handler()  # its own: Prefect's loggers may or may not propagate
    heard.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    level = runner_log.level
    runner_log.setLevel(logging.INFO)
    runner_log.addHandler(heard)
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        runner_log.removeHandler(heard)
        runner_log.setLevel(level)
    return result.exit_code, said


def test_ctrl_c_on_serve_exits_130_and_says_ctrl_c(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C exited 0, and the log said "SIGTERM received": the operator pressed Ctrl-C,
    and every other command stopped so exits 130."""
    code, said = _serve_stopped_by(monkeypatch, signal.SIGINT)
    assert code == 130
    assert said == ["Ctrl-C received, initiating graceful shutdown..."]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_a_second_ctrl_c_on_serve_exits_130_too(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's runner answers a SIGTERM while it stops with `sys.exit(0)`."""
    code, _ = _serve_stopped_by(monkeypatch, signal.SIGINT, runner_exits=True)
    assert code == 130


def test_sigterm_on_serve_is_a_stop_asked_for_and_exits_0(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`systemctl stop`: exit 0, which systemd records as a clean stop."""
    code, said = _serve_stopped_by(monkeypatch, signal.SIGTERM)
    assert code == 0
    assert said == ["SIGTERM received, initiating graceful shutdown..."]


def test_ctrl_c_before_the_runner_listens_for_sigterm_is_an_interrupt() -> None:
    """Sent on as SIGTERM before Prefect's runner had a handler for it (nothing served
    yet), Ctrl-C killed serve by SIGTERM (exit 143, no cleanup). A process of its own: that
    would kill this one."""
    code = (
        "import os, signal, time\n"
        "from flows.serve import interrupt_as_sigterm\n"
        "try:\n"
        "    with interrupt_as_sigterm():\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "interrupted\n"), done.stderr


def test_the_readme_says_what_serve_exits_with() -> None:
    readme = (ROOT / "README.md").read_text()
    (interrupted,) = [line for line in readme.splitlines() if line.startswith("| 130 |")]
    assert "`serve`: Ctrl-C stops it" in interrupted and "exit 0" in interrupted
    (serve,) = [line for line in readme.splitlines() if line.startswith("| `linkhealth serve` |")]
    assert "exits 130 after Ctrl-C, 0 after SIGTERM" in serve


# --- recheck --changed on a new database --------------------------------------------------------


def test_recheck_of_many_names_the_first_ten_in_its_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a new database `recheck --changed` picks every entry: its log line named all 300
    ids on one line."""
    import flows.recheck_flow as recheck_flow
    from catalog.ops import RecheckPlan

    class Checked(Exception):
        """The run itself: not this test's."""

    ids = tuple(f"r{n}" for n in range(300))
    said: list[str] = []
    logger = logging.Logger("recheck", logging.INFO)  # its own: whatever Prefect configured
    heard = logging.Handler()
    heard.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(heard)
    monkeypatch.setattr(recheck_flow, "get_run_logger", lambda: logger)
    settings = SimpleNamespace(database_url="sqlite:///unused.db")
    monkeypatch.setattr(recheck_flow, "flow_settings", lambda *a, **k: settings)
    plan = RecheckPlan(ids=ids, sync_changes=300)
    monkeypatch.setattr(recheck_flow, "plan_recheck", lambda *a, **k: plan)
    monkeypatch.setattr(recheck_flow, "engine_for", lambda url: None)

    def run_check(*args: Any, **kwargs: Any) -> Any:
        raise Checked

    monkeypatch.setattr(recheck_flow, "run_check", run_check)
    with pytest.raises(Checked):
        recheck_flow._recheck(None, True, False, None, None, False, [])
    assert said == [
        "Rechecking 300 resources after syncing 300 catalog changes: "
        "r0, r1, r2, r3, r4, r5, r6, r7, r8, r9 and 290 more"
    ]

    said.clear()
    monkeypatch.setattr(recheck_flow, "plan_recheck", lambda *a, **k: RecheckPlan(ids[:10], 1))
    with pytest.raises(Checked):
        recheck_flow._recheck(None, True, False, None, None, False, [])
    assert said[0].endswith(": r0, r1, r2, r3, r4, r5, r6, r7, r8, r9")


# --- help examples -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["db", "prune"], ["server", "start"], ["server", "stop"], ["server", "status"]],
)
def test_db_prune_and_the_server_commands_show_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    examples = [line.strip() for line in result.stdout.splitlines() if "Example:" in line]
    assert len(examples) == 1 and " ".join(command) in examples[0], examples


def test_status_and_the_edit_announcement_name_a_prefect_api_url_that_is_no_url(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`linkhealth status` said "not answering" of `PREFECT_API_URL=notaurl` (and stays a
    report: exit 0); the git hook's announcement says it had no address, never raises."""
    import flows.cli_ops

    monkeypatch.setenv("PREFECT_API_URL", "notaurl")
    asked = _answering(monkeypatch, False)
    assert runner.invoke(app, ["sync", "--db", "sqlite:///lh.db"]).exit_code == 0
    result = runner.invoke(app, ["status", "--db", "sqlite:///lh.db"])
    assert result.exit_code == 0, result.output
    assert "Prefect API: PREFECT_API_URL must be the http(s) URL" in result.stdout
    assert "not answering" not in result.stdout
    where, sent = flows.cli_ops.announce_catalog_edit(["toolkit.yaml"])
    assert not sent and where.startswith("no address (PREFECT_API_URL must be")
    assert asked == []
