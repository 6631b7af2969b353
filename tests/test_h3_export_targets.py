"""`export --out` never replaces what is no regular file: a character device or FIFO
there is written to as stdout is (`/dev/stdout`, a named pipe: `test_w1_export_streams`),
a socket or folder is refused (the export is written beside and moved over, which
replaced them with a file), and `--out -` is stdout, as no --out is."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.fixture
def a_socket(toolkit_synced: Path) -> Iterator[Path]:
    path = toolkit_synced / "s.jsonl"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        yield path


def _device(folder: Path) -> Path:
    """A null device of our own (as /dev/null: major 1, minor 3), never the machine's."""
    path = folder / "n.jsonl"
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device needs root (CAP_MKNOD)")
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "f.jsonl"
    os.mkfifo(path)
    return path


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    """A reader of the FIFO `path`, which a writer's open waits for."""

    def read() -> None:
        with open(path, "rb") as fifo:
            into.append(fifo.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def _let_go(path: Path, reader: threading.Thread) -> None:
    """End a reader still waiting for a writer (the export failed before opening it)."""
    if reader.is_alive():
        with suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(timeout=10)


@pytest.mark.parametrize("make", [_device, _fifo], ids=["character-device", "fifo"])
def test_a_device_or_fifo_is_written_to_and_left_as_it_was(toolkit_synced: Path, make) -> None:
    """As root `--out /dev/null` replaced the machine's /dev/null with a regular file.
    It was refused then (and /dev/stdout with it); now it is written to, as stdout is."""
    target = make(toolkit_synced)
    before = target.lstat()
    link = toolkit_synced / "link.jsonl"
    link.symlink_to(target)

    for out in (target.name, link.name):
        read: list[bytes] = []
        reader = _read_fifo(target, read) if stat.S_ISFIFO(before.st_mode) else None
        try:
            result = runner.invoke(app, ["export", "--out", out])
        finally:
            if reader is not None:
                _let_go(target, reader)

        assert result.exit_code == 0, result.output
        assert result.stdout == result.stderr == ""
        if reader is not None:
            assert json.loads(read[0].decode().splitlines()[0])["id"] == "a"
        after = target.lstat()
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode,
            before.st_ino,
            before.st_rdev,
        )
    assert sorted(p.name for p in toolkit_synced.iterdir()) == sorted(
        ["var", "toolkit.yaml", target.name, link.name]
    )  # nothing written beside it


def test_a_socket_is_refused(a_socket: Path) -> None:
    result = runner.invoke(app, ["export", "--out", a_socket.name])
    assert result.exit_code == 2, result.output
    assert f"cannot write {a_socket.name}: it is a socket" in result.stderr
    assert stat.S_ISSOCK(a_socket.lstat().st_mode)


def test_a_folder_is_refused(toolkit_synced: Path) -> None:
    (toolkit_synced / "out.jsonl").mkdir()
    result = runner.invoke(app, ["export", "--out", "out.jsonl"])
    assert result.exit_code == 2, result.output
    assert "cannot write out.jsonl: it is a folder" in result.stderr
    assert not any((toolkit_synced / "out.jsonl").iterdir())


@pytest.mark.parametrize("fmt", [None, "jsonl", "csv"])
def test_out_dash_is_stdout(toolkit_synced: Path, fmt: str | None) -> None:
    """`--out -` wrote a file named "-" (or was refused for its missing ending)."""
    given = ["--format", fmt] if fmt else []
    dash = runner.invoke(app, ["export", *given, "--out", "-"])
    plain = runner.invoke(app, ["export", *given])

    assert dash.exit_code == 0, dash.output
    assert dash.stdout == plain.stdout
    if fmt != "csv":
        assert json.loads(dash.stdout.splitlines()[0])["id"] == "a"
    assert not (toolkit_synced / "-").exists()


def test_a_file_named_dash_is_still_written_as_dot_slash_dash(toolkit_synced: Path) -> None:
    result = runner.invoke(app, ["export", "--format", "jsonl", "--out", "./-"])
    assert result.exit_code == 0, result.output
    assert json.loads((toolkit_synced / "-").read_text().splitlines()[0])["id"] == "a"
