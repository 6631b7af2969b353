"""`linkhealth export --out /dev/stdout` was refused: its name has no ending to tell the
format by (exit 2), and with --format the export refused "a FIFO (named pipe), not a
regular file" (or a character device on a terminal). A FIFO, a terminal or /dev/null is
now written to as it comes, as stdout is, JSON Lines unless told otherwise; a regular file
keeps its guard (replaced only when an earlier export); a block device, any other
character device, and a descriptor closed when the command started are refused."""

from __future__ import annotations

import errno
import json
import os
import pty
import stat
import subprocess
import sys
from contextlib import suppress
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


def test_a_stream_that_cannot_take_it_is_one_line_and_exit_1(
    toolkit_synced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import catalog.export

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(catalog.export, "write_export", full)
    result = CliRunner().invoke(app, ["export", "--out", os.devnull])
    assert result.exit_code == 1, result.output
    assert result.stderr == "error: cannot write /dev/null: No space left on device\n"


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


def test_out_dev_stdout_with_stdout_closed_is_refused_and_the_export_not_lost(
    toolkit_synced: Path,
) -> None:
    """`>&-`: Python starts with no stdout, and SQLite then puts /dev/null on the free
    descriptor 1, which /dev/stdout named by the time the export was written: exit 0, the
    export thrown away."""
    db = (toolkit_synced / "var" / "lh.db").read_bytes()
    for words in (["--format", "jsonl", "--out", "/dev/stdout"], ["--out", "/dev/fd/1"]):
        result = _export(*words, cwd=toolkit_synced, stdout=None, preexec_fn=lambda: os.close(1))
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines()[-1] == (
            f"error: cannot write {words[-1]}: the command's standard output was closed when "
            "it started, so the export would be lost; give --out a file, or run the command "
            "with its output open"
        )
    assert (toolkit_synced / "var" / "lh.db").read_bytes() == db


@pytest.mark.parametrize("device", ["/dev/full", "/dev/zero"])
def test_a_character_device_that_is_no_terminal_nor_dev_null_is_refused(
    toolkit_synced: Path, device: str
) -> None:
    """As root `--out /dev/watchdog` (armed by opening it), `/dev/sg0` or `/dev/nvme0` were
    opened and written to: only a terminal, /dev/null and FIFOs are streams."""
    if not Path(device).exists():
        pytest.skip(f"needs {device}")
    before = Path(device).stat()
    result = CliRunner().invoke(app, ["export", "--format", "jsonl", "--out", device])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"error: cannot write {device}: it is a character device that is no terminal nor "
        "/dev/null, which an export is not written to"
    )
    after = Path(device).stat()
    assert (after.st_mode, after.st_rdev) == (before.st_mode, before.st_rdev)


def test_a_device_of_our_own_that_is_no_null_is_refused_and_left_alone(
    toolkit_synced: Path,
) -> None:
    """A character device named like an export (`/dev/full`'s numbers, made here)."""
    device = toolkit_synced / "d.jsonl"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("making a device needs root (CAP_MKNOD)")
    result = CliRunner().invoke(app, ["export", "--out", device.name])
    assert result.exit_code == 2, result.output
    assert "cannot write d.jsonl: it is a character device that is no terminal" in result.stderr
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_a_terminal_is_written_to_by_dev_stdout_and_by_its_own_name(
    toolkit_synced: Path,
) -> None:
    """`--out /dev/stdout` at a shell, and `--out $(tty)`: a terminal is a stream."""
    master, slave = pty.openpty()
    try:
        for out in ("/dev/stdout", os.ttyname(slave)):
            result = _export("--out", out, cwd=toolkit_synced, stdout=slave)
            assert (result.returncode, result.stderr) == (0, ""), result.stderr
            said = os.read(master, 65536).decode()
            assert json.loads(said.splitlines()[0])["id"] == "a"
    finally:
        os.close(slave)
        os.close(master)


def test_dev_fd_n_names_the_descriptor_given_and_a_fifo_there_is_a_stream(
    toolkit_synced: Path,
) -> None:
    read, write = os.pipe()
    try:
        result = _export("--out", f"/dev/fd/{write}", cwd=toolkit_synced, pass_fds=(write,))
        os.close(write)
        with os.fdopen(read) as pipe:
            said = pipe.read()
    finally:
        with suppress(OSError):
            os.close(write)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert json.loads(said.splitlines()[0])["id"] == "a"


def test_a_path_names_a_descriptor_through_its_symlinks(tmp_path: Path) -> None:
    from catalog.export import _named_descriptor

    (tmp_path / "out.jsonl").symlink_to("/dev/stdout")
    assert _named_descriptor(tmp_path / "out.jsonl") == 1
    assert _named_descriptor(Path("/dev/stderr")) == 2
    assert _named_descriptor(Path(f"/proc/{os.getpid()}/fd/7")) == 7
    if os.getpid() != 1:
        assert _named_descriptor(Path("/proc/1/fd/7")) is None  # another process's
    assert _named_descriptor(tmp_path / "plain.jsonl") is None
    assert _named_descriptor(Path(os.devnull)) is None
