"""`server status` with PREFECT_API_URL set to the local server's own address (as the
README and the systemd units set it) speaks of the local server: `linkhealth server start`
starts it, not "start that server, or unset PREFECT_API_URL to use the local one"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import flows.prefect_server
from flows.cli import app

runner = CliRunner()


def _answering(monkeypatch: pytest.MonkeyPatch, up: bool) -> list[str]:
    asked: list[str] = []

    def healthy(url: str, timeout: float = 2.0) -> bool:
        asked.append(url)
        return up

    monkeypatch.setattr(flows.prefect_server, "is_healthy", healthy)
    return asked


@pytest.mark.parametrize("given", ["http://127.0.0.1:4999/api", "http://127.0.0.1:4999/api/"])
def test_the_local_address_not_answering_advises_server_start(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", given)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "4999")
    asked = _answering(monkeypatch, False)

    down = runner.invoke(app, ["server", "status"])

    assert (down.exit_code, down.stdout) == (1, f"{given}: not answering\n")
    assert down.stderr == (
        "no Prefect server answers at http://127.0.0.1:4999: `linkhealth server start` "
        "starts one (as `check` and `serve` do when they need it)\n"
    )
    assert asked == [given]


def test_the_local_address_of_a_server_this_folder_started_says_which(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.delenv("LINKHEALTH_PREFECT_PORT", raising=False)
    monkeypatch.setattr(flows.prefect_server, "recorded_pid", lambda: 4321)
    monkeypatch.setattr(flows.prefect_server, "_runs_prefect_server", lambda pid: pid == 4321)
    monkeypatch.setattr(flows.prefect_server, "_listening_port", lambda pid: 4200)

    _answering(monkeypatch, False)
    stuck = runner.invoke(app, ["server", "status"])
    assert stuck.exit_code == 1
    assert "the Prefect server this folder started (pid 4321) runs" in stuck.stderr

    _answering(monkeypatch, True)
    up = runner.invoke(app, ["server", "status"])
    assert (up.exit_code, up.stdout) == (
        0,
        "http://127.0.0.1:4200/api: up (started from this folder, pid 4321)\n",
    )


def test_another_port_is_still_another_server(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.1 on a port other than LINKHEALTH_PREFECT_PORT's is no server we start."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4201/api")
    monkeypatch.delenv("LINKHEALTH_PREFECT_PORT", raising=False)
    _answering(monkeypatch, False)
    down = runner.invoke(app, ["server", "status"])
    assert down.exit_code == 1
    assert down.stdout == "http://127.0.0.1:4201/api: not answering (PREFECT_API_URL)\n"
    assert "start that server, or unset PREFECT_API_URL" in down.stderr


def test_the_readme_gives_server_status_exit_2() -> None:
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    assert "exit 0 or 1; 2 when `PREFECT_API_URL` is no http(s) URL)" in readme
