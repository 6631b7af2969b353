"""`export --out` writes only regular files: a device, FIFO or socket there is refused
(the export is written beside and moved over, which replaced them with a file), and
`--out -` is stdout, as no --out is."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
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


@pytest.mark.parametrize(
    ("make", "what"),
    [(_device, "a character device"), (_fifo, "a FIFO (named pipe)")],
)
def test_a_device_or_fifo_is_refused_and_left_as_it_was(
    toolkit_synced: Path, make, what: str
) -> None:
    """As root `--out /dev/null` replaced the machine's /dev/null with a regular file."""
    target = make(toolkit_synced)
    before = target.lstat()
    link = toolkit_synced / "link.jsonl"
    link.symlink_to(target)

    for out in (target.name, link.name):
        result = runner.invoke(app, ["export", "--out", out])

        assert result.exit_code == 2, result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: cannot write {out}: it is {what}, not a regular file")
        assert "--out -" in line
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
