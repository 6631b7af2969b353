"""`linkhealth server stop`: what it stops, and what it says when there is nothing of ours."""

from __future__ import annotations

import contextvars
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.prefect_server
from flows.cli import app

runner = CliRunner()


def _answering(monkeypatch: pytest.MonkeyPatch, up: bool) -> None:
    """Whether "a Prefect server" answers on the API address; nothing is really asked."""
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: up)


def test_status_says_whether_the_server_that_answers_was_started_here(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server another folder started took this folder's runs unnoticed: status said only
    "up", and `server stop` here then refused."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("LINKHEALTH_PREFECT_PORT", raising=False)
    _answering(monkeypatch, True)
    elsewhere = runner.invoke(app, ["server", "status"])
    assert elsewhere.exit_code == 0, elsewhere.output
    assert elsewhere.stdout == (
        "http://127.0.0.1:4200/api: up (not started from this folder: `linkhealth server "
        "stop` here leaves it)\n"
    )
    monkeypatch.setattr(flows.prefect_server, "recorded_pid", lambda: 4321)
    monkeypatch.setattr(flows.prefect_server, "_runs_prefect_server", lambda pid: pid == 4321)
    monkeypatch.setattr(flows.prefect_server, "_listening_port", lambda pid: 4200)
    here = runner.invoke(app, ["server", "status"])
    assert here.stdout == "http://127.0.0.1:4200/api: up (started from this folder, pid 4321)\n"
    monkeypatch.setattr(flows.prefect_server, "_listening_port", lambda pid: 4300)
    moved = runner.invoke(app, ["server", "status"])  # ours listens elsewhere: not this one
    assert "(not started from this folder" in moved.stdout
    _answering(monkeypatch, False)
    down = runner.invoke(app, ["server", "status"])
    assert (down.exit_code, down.stdout) == (1, "http://127.0.0.1:4200/api: not answering\n")


def test_stop_in_another_folder_says_whose_server_answers(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answering(monkeypatch, True)
    result = runner.invoke(app, ["server", "stop"])
    assert result.exit_code == 1, result.output
    assert "no Prefect server of ours was running" not in result.output
    assert "answers at http://127.0.0.1:" in result.stderr
    assert "not started from this folder" in result.stderr
    assert "var/prefect-server.pid" in result.stderr and "in the folder that started it" in (
        result.stderr
    )


def test_stop_with_a_stale_pid_file_and_a_server_answering(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    (isolated_cwd / "var").mkdir()
    (isolated_cwd / "var" / "prefect-server.pid").write_text(str(ended.pid))
    _answering(monkeypatch, True)
    result = runner.invoke(app, ["server", "stop"])
    assert result.exit_code == 1, result.output
    assert f"pid {ended.pid}" in result.stderr and "no longer running" in result.stderr
    assert not (isolated_cwd / "var" / "prefect-server.pid").exists()


def test_stop_when_nothing_answers_is_done(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answering(monkeypatch, False)
    result = runner.invoke(app, ["server", "stop"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no Prefect server is running at http://127.0.0.1:")


def _stop_naming(folder: Path, monkeypatch: pytest.MonkeyPatch, pid: int) -> Any:
    """`server stop` in `folder`, its var/prefect-server.pid naming `pid`, nothing answering."""
    (folder / "var").mkdir()
    (folder / "var" / "prefect-server.pid").write_text(str(pid))
    _answering(monkeypatch, False)
    return runner.invoke(app, ["server", "stop"])


def test_stop_stops_the_server_started_from_this_folder(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands in for it, under the name the identity check looks for.
    stand_in = [sys.executable, "-c", "import time; time.sleep(60)", "prefect", "server", "start"]
    server = subprocess.Popen(stand_in, start_new_session=True)
    reaper = threading.Thread(target=server.wait)  # as init would: no zombie lingers
    reaper.start()
    try:
        result = _stop_naming(isolated_cwd, monkeypatch, server.pid)
        assert result.exit_code == 0, result.output
        assert result.stdout == f"stopped Prefect server (pid {server.pid})\n"
        reaper.join(timeout=5)
        assert server.returncode is not None
    finally:
        if server.returncode is None:
            server.kill()
        reaper.join()


def test_a_pid_file_naming_another_program_stops_nothing(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pid file outlives its server (a reboot, a kill): its pid may now be some other
    program's, and `server stop` killed that program's whole process group."""
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        result = _stop_naming(isolated_cwd, monkeypatch, other.pid)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("no Prefect server is running")
        assert other.poll() is None  # still running
        assert not (isolated_cwd / "var" / "prefect-server.pid").exists()
    finally:
        other.kill()
        other.wait()


def test_a_server_that_fails_to_start_leaves_no_pid_file(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port was taken: the server exited at once, and its pid stayed in the file for
    a later `server stop` to find on another process."""

    class Exited(_Started):
        returncode = 1

        def poll(self) -> int | None:
            return 1

    STARTED.clear()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(flows.prefect_server.subprocess, "Popen", Exited)
    _answering(monkeypatch, False)
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 1, result.output
    assert "exited after" in result.stderr and "in use?" in result.stderr
    assert not (isolated_cwd / "var" / "prefect-server.pid").exists()


class _Started:
    """Stands in for `prefect server start`: notes its environment, never runs."""

    pid = 4242

    def __init__(self, args: list[str], **kwargs: Any) -> None:
        self.env: dict[str, str] = kwargs["env"]
        STARTED.append(self)

    def poll(self) -> int | None:
        return None


STARTED: list[_Started] = []


def _start(monkeypatch: pytest.MonkeyPatch) -> tuple[_Started, str]:
    """`linkhealth server start` with no server answering until ours "starts"."""
    STARTED.clear()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(flows.prefect_server.subprocess, "Popen", _Started)
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: bool(STARTED))
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 0, result.output
    (started,) = STARTED
    return started, result.stderr


def test_a_second_server_is_not_started_while_this_folders_first_one_runs(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LINKHEALTH_PREFECT_PORT changed, `server start` started a second server over
    the first one's pid file: `server stop` then no longer knew the first one."""
    STARTED.clear()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "4300")
    monkeypatch.setattr(flows.prefect_server.subprocess, "Popen", _Started)
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: False)
    monkeypatch.setattr(flows.prefect_server, "recorded_pid", lambda: 4321)
    monkeypatch.setattr(flows.prefect_server, "_runs_prefect_server", lambda pid: pid == 4321)
    monkeypatch.setattr(flows.prefect_server, "_listening_port", lambda pid: 4200)
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 1 and STARTED == [], result.output
    assert result.stderr.startswith(
        "error: no Prefect server answers at http://127.0.0.1:4300/api, but the one this "
        "folder started runs (pid 4321, see var/prefect-server.pid)"
    )


def test_a_server_this_folder_is_still_starting_is_waited_for(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two commands at once: the second found the first one's server not answering yet,
    and was told to stop it."""
    STARTED.clear()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("LINKHEALTH_PREFECT_PORT", raising=False)
    monkeypatch.setattr(flows.prefect_server.subprocess, "Popen", _Started)
    asked: list[str] = []

    def answers_at_the_third_ask(url: str, timeout: float = 2.0) -> bool:
        asked.append(url)
        return len(asked) >= 3

    monkeypatch.setattr(flows.prefect_server, "is_healthy", answers_at_the_third_ask)
    monkeypatch.setattr(flows.prefect_server.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(flows.prefect_server, "recorded_pid", lambda: 4321)
    monkeypatch.setattr(flows.prefect_server, "_runs_prefect_server", lambda pid: pid == 4321)
    monkeypatch.setattr(flows.prefect_server, "_listening_port", lambda pid: 4200)
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 0 and STARTED == [], result.output
    assert result.stdout == "Prefect API: http://127.0.0.1:4200/api (running)\n"


def test_a_server_started_here_keeps_its_database_in_var_prefect(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the systemd unit does (deploy/systemd): deployments and run history of this
    folder's server live beside its pid and log, not in the user's shared ~/.prefect."""
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    started, said = _start(monkeypatch)
    assert started.env["PREFECT_HOME"] == str(isolated_cwd / "var" / "prefect")
    assert (isolated_cwd / "var" / "prefect").is_dir()
    assert f"its database: {isolated_cwd / 'var' / 'prefect'}" in said


def test_an_operators_prefect_home_is_kept(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(isolated_cwd / "mine"))
    started, said = _start(monkeypatch)
    assert started.env["PREFECT_HOME"] == str(isolated_cwd / "mine")
    assert not (isolated_cwd / "var" / "prefect").exists()
    assert f"its database: {isolated_cwd / 'mine'}" in said


def test_a_folder_that_started_servers_in_the_shared_home_keeps_it(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its deployments, work pool and run history are in ~/.prefect: moving would lose them."""
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    (isolated_cwd / "var").mkdir()
    (isolated_cwd / "var" / "prefect-server.log").write_text("an earlier server's log\n")
    started, said = _start(monkeypatch)
    assert "PREFECT_HOME" not in started.env
    assert "its database: ~/.prefect" in said


def test_a_prefect_imported_before_the_server_is_found_reports_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect reads its settings once, when imported: `serve` imports it to check
    prefect.yaml before it looks for the server, and then started a throw-away server of
    its own, so the nightly and recheck deployments never reached the one the UI shows."""
    import prefect.context
    from prefect.settings import get_current_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    _answering(monkeypatch, up=True)
    prefect.context.refresh_global_settings_context()  # as imported with no address

    def command() -> None:
        assert get_current_settings().api.url is None
        info = flows.prefect_server.ensure_server(say=lambda message: None)
        assert info.how == "running"
        assert get_current_settings().api.url == info.api_url

    # In a context of its own, as a command's: not under the flow tests' harness settings.
    contextvars.Context().run(command)


@pytest.mark.parametrize("port", ["abc", "70000", "-1"])
def test_a_bad_prefect_port_is_one_line_and_a_git_hook_still_succeeds(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    """It was a ValueError traceback, and `catalog edited` (run from a git hook, "never
    fails") exited 1."""
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", port)
    status = runner.invoke(app, ["server", "status"])
    assert status.exit_code == 2, status.output
    assert status.stderr == (
        f"error: LINKHEALTH_PREFECT_PORT must be a port number (1-65535), not {port!r}\n"
    )
    (isolated_cwd / "toolkit.yaml").write_text("resources: []\n")  # the file committed
    hook = runner.invoke(app, ["catalog", "edited", "toolkit.yaml"])
    assert hook.exit_code == 0, hook.output
    assert "LINKHEALTH_PREFECT_PORT" in hook.stderr and "not announced" in hook.stderr


def test_an_empty_prefect_port_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "")
    assert flows.prefect_server.api_url() == "http://127.0.0.1:4200/api"


def test_a_prefect_api_url_that_does_not_answer_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`linkhealth check` with PREFECT_API_URL at a server that is down printed Prefect's
    138-line traceback ("RuntimeError: Failed to reach API")."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    _answering(monkeypatch, False)
    with pytest.raises(flows.prefect_server.PrefectApiDownError) as caught:
        flows.prefect_server.ensure_server(say=lambda message: None)
    assert "PREFECT_API_URL=http://127.0.0.1:9/api" in str(caught.value)
    assert "unset PREFECT_API_URL" in str(caught.value)


def test_a_prefect_api_url_naming_the_local_server_starts_it_as_without_one(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README exports PREFECT_API_URL=http://127.0.0.1:4200/api for the `prefect`
    commands: after a reboot, `linkhealth server start` refused to start the very server
    it names ("start that server")."""
    STARTED.clear()
    monkeypatch.setenv("PREFECT_API_URL", flows.prefect_server.api_url())
    monkeypatch.setattr(flows.prefect_server.subprocess, "Popen", _Started)
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: bool(STARTED))
    result = runner.invoke(app, ["server", "start"])
    assert result.exit_code == 0, result.output
    assert len(STARTED) == 1 and "(started)" in result.stdout


def test_a_server_started_here_deletes_flow_runs_older_than_its_retention(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect keeps every flow run, its logs and artifacts forever unless told: a year of
    nights grew the server's database in var/prefect, which `db prune` never touches."""
    monkeypatch.delenv("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", raising=False)
    started, _ = _start(monkeypatch)
    assert started.env["PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"] == "events,flow_runs"
    unit = Path(__file__).parents[1] / "deploy" / "systemd" / "linkhealth-prefect.service"
    assert (
        "Environment=PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,flow_runs"
        in unit.read_text(encoding="utf-8").splitlines()
    )
