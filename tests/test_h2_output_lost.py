"""Output that cannot be written (a full disk, a closed stdout, a reader gone before the
group's --help): one line on stderr and exit 1, or 141 quietly for a pipe, never a trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
FULL = "error: cannot write output: No space left on device\n"


def _run(args: list[str], cwd: Path, **streams: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    env.pop("LINKHEALTH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
        **streams,  # type: ignore[call-overload]
    )


@pytest.fixture
def database(tmp_path: Path, migrated_db_url: str) -> str:
    """A database with its tables, so the commands get as far as writing their output."""
    from catalog.db import open_engine

    open_engine(migrated_db_url).dispose()
    return migrated_db_url


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        ["status", "--db", "{db}"],
        ["export", "--format", "csv", "--db", "{db}"],
        ["catalog", "validate", "{bundled}"],
        ["--help"],
        ["status", "--help"],
    ],
)
def test_a_full_disk_is_one_line_and_exit_1(tmp_path: Path, database: str, args: list[str]) -> None:
    from catalog.settings import BUNDLED_CATALOG

    words = [a.format(bundled=BUNDLED_CATALOG, db=database) for a in args]
    with open("/dev/full", "w") as full:
        result = _run(words, tmp_path, stdout=full)

    assert (result.returncode, result.stderr) == (1, FULL)


@pytest.mark.parametrize("args", [["status", "--db", "{db}"], ["--help"]])
def test_a_closed_stdout_is_one_line_and_exit_1(
    tmp_path: Path, database: str, args: list[str]
) -> None:
    """`linkhealth status >&-`: AttributeError "'NoneType' object has no attribute 'flush'"."""
    words = [a.format(db=database) for a in args]
    closed = ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "flows.cli", *words]
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    result = subprocess.run(
        closed, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, timeout=120, check=False
    )

    assert (result.returncode, result.stderr) == (
        1,
        "error: cannot write output: stdout is closed\n",
    )


def test_the_groups_help_to_a_reader_gone_exits_141_quietly(tmp_path: Path) -> None:
    """`linkhealth --help | true` exited 1 (click's own handling, before any command), where
    `linkhealth status --help | true` exited 141 as commands killed by SIGPIPE do."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = _run(["--help"], tmp_path, stdout=write)
    finally:
        os.close(write)

    assert (result.returncode, result.stderr) == (141, "")


def test_a_closed_stdout_is_no_error_when_nothing_is_written_to_it(tmp_path: Path) -> None:
    """Only output lost is an error: a usage error, all on stderr, is as before."""
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    args = ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "flows.cli", "status", "-x"]
    result = subprocess.run(
        args, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, timeout=120, check=False
    )

    assert result.returncode == 2 and "No such option: -x" in result.stderr
    assert "cannot write output" not in result.stderr
