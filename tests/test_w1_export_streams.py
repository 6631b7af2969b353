"""`linkhealth export --out /dev/stdout` was refused: its name has no ending to tell the
format by (exit 2), and with --format the export refused "a FIFO (named pipe), not a
regular file" (or a character device on a terminal). A character device or FIFO is now
written to as it comes, as stdout is, JSON Lines unless told otherwise; a regular file
keeps its guard (replaced only when an earlier export), a block device is refused."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.export import ExportFormatError, export_format
from flows.cli import EXIT_PIPE_CLOSED, app

CHECKOUT = Path(__file__).resolve().parents[1]


def _export(*words: str, cwd: Path, **streams: object) -> subprocess.CompletedProcess[str]:
    """`linkhealth export WORDS` in a process of its own, whose stdout is a real pipe
    (unless `streams` says otherwise): /dev/stdout is then that pipe."""
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    env.pop("LINKHEALTH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "export", *words],
        **{"stdout": subprocess.PIPE, **streams},  # type: ignore[call-overload]
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_out_dev_stdout_into_a_pipe_is_the_export_in_json_lines(toolkit_synced: Path) -> None:
    result = _export("--out", "/dev/stdout", cwd=toolkit_synced)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["id"] == "a"
    plain = _export(cwd=toolkit_synced)
    assert result.stdout == plain.stdout  # as no --out writes it


def test_out_dev_stdout_takes_a_format(toolkit_synced: Path) -> None:
    result = _export("--format", "csv", "--out", "/dev/stdout", cwd=toolkit_synced)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.lstrip("\ufeff").startswith("collection,id,title,url,outcome")
    assert row.startswith("toolkit,a,First,https://example.org/a,")


def test_a_reader_gone_is_a_quiet_141_as_for_stdout(toolkit_synced: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # `| head -0`: gone before the first row
    try:
        result = _export("--out", "/dev/stdout", cwd=toolkit_synced, stdout=write)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (EXIT_PIPE_CLOSED, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_device_that_cannot_take_it_is_one_line_and_exit_1(toolkit_synced: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--out", "/dev/full"])
    assert result.exit_code == 1, result.output
    assert result.stderr == "error: cannot write /dev/full: No space left on device\n"
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)


def test_out_dev_stdout_into_a_file_keeps_the_files_guard(toolkit_synced: Path) -> None:
    """`>> notes.txt`: a regular file, which an export replaces only when an earlier one."""
    notes = toolkit_synced / "notes.txt"
    notes.write_text("my notes\n")
    with notes.open("a") as out:
        result = _export(
            "--format", "jsonl", "--out", "/dev/stdout", cwd=toolkit_synced, stdout=out
        )
    assert result.returncode == 2
    assert "is no earlier JSON Lines export" in result.stderr
    assert notes.read_text() == "my notes\n"


def test_a_block_device_is_refused(toolkit_synced: Path) -> None:
    disk = toolkit_synced / "disk.jsonl"
    try:  # a device number no driver has (the "local use" range): nothing behind it
        os.mknod(disk, 0o600 | stat.S_IFBLK, os.makedev(240, 7))
    except PermissionError:
        pytest.skip("making a device needs root (CAP_MKNOD)")
    result = CliRunner().invoke(app, ["export", "--out", disk.name])
    assert result.exit_code == 2, result.output
    assert "cannot write disk.jsonl: it is a block device, not a regular file" in result.stderr
    assert stat.S_ISBLK(disk.lstat().st_mode)


def test_a_stream_without_an_ending_is_json_lines_and_a_file_still_needs_one(
    tmp_path: Path,
) -> None:
    from catalog.export import is_stream_target

    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    assert is_stream_target(fifo) and not is_stream_target(tmp_path / "missing")
    assert export_format(None, fifo) == "jsonl"
    assert export_format("csv", fifo) == "csv"
    (tmp_path / "links").write_text("")
    with pytest.raises(ExportFormatError, match="cannot tell the format from the name 'links'"):
        export_format(None, tmp_path / "links")
