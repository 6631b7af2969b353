"""`linkhealth server stop`: what it stops, and what it says when there is nothing of ours."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import flows.prefect_server
from flows.cli import app

runner = CliRunner()


def _answering(monkeypatch: pytest.MonkeyPatch, up: bool) -> None:
    """Whether "a Prefect server" answers on the API address; nothing is really asked."""
    monkeypatch.setattr(flows.prefect_server, "is_healthy", lambda url, timeout=2.0: up)


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


def test_stop_stops_the_server_started_from_this_folder(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stands in for it
    reaper = threading.Thread(target=server.wait)  # as init would: no zombie lingers
    reaper.start()
    try:
        (isolated_cwd / "var").mkdir()
        (isolated_cwd / "var" / "prefect-server.pid").write_text(str(server.pid))
        _answering(monkeypatch, False)
        result = runner.invoke(app, ["server", "stop"])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"stopped Prefect server (pid {server.pid})\n"
        reaper.join(timeout=5)
        assert server.returncode is not None
    finally:
        if server.returncode is None:
            server.kill()
        reaper.join()
