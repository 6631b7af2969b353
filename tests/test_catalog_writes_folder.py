"""A catalog's folder that takes no locks (`catalog.files`): on a file system without locks
(NFSv3 without lockd) the edit is made all the same, with a warning that two edits at once
are not kept apart."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.importer import ImportedEntry, import_entries
from catalog.source import load_catalog

YAML = """\
collection:
  title: T
resources:
- id: a
  title: A
  url: https://a.example/
"""
REPO = Path(__file__).resolve().parents[1]


def _edit(path: Path) -> None:
    apply_edits(path, [FieldEdit("a", "url", "https://moved.example/")])


def _import(path: Path) -> None:
    import_entries(path, [ImportedEntry("New", "https://new.example/")])


def _urls(path: Path) -> list[str]:
    return [r.url for r in load_catalog(path).resources]


# --- a file system that takes no locks --------------------------------------------------------


@pytest.mark.parametrize(
    "code", [errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL], ids=errno.errorcode.get
)
@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_a_folder_whose_file_system_refuses_locks_is_edited_with_one_warning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    write: Callable[[Path], None],
    code: int,
) -> None:
    """NFSv3 without lockd: every edit and import there failed with a raw OSError (a
    traceback on the command line), though the reports folder's lock already went without."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING):
        write(path)

    assert _urls(path) != ["https://a.example/"]  # edited
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert str(tmp_path / ".cat.yaml.lock") in warning and os.strerror(code) in warning
    assert f"the folder {tmp_path} cannot be locked" in warning
    assert "not kept apart" in warning


def test_the_warning_of_an_edit_without_its_lock_is_on_stderr(tmp_path: Path) -> None:
    """The command as a curator runs it (no logging set up): the warning reaches stderr."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    source = tmp_path / "new.csv"
    source.write_text("title,url\nNew,https://new.example/\n")
    script = textwrap.dedent(
        f"""
        import errno, fcntl, os, sys
        def no_locks(fd, operation):
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
        fcntl.flock = no_locks
        sys.argv = ["linkhealth", "catalog", "import-csv", {str(source)!r}, "--into", {str(path)!r}]
        from flows.cli import main
        main()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert f"the folder {tmp_path} cannot be locked" in done.stderr
    assert "Traceback" not in done.stderr
    assert "https://new.example/" in _urls(path)
