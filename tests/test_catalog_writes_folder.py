"""A catalog's folder that takes no locks, or no new files (`catalog.files`): on a file system
without locks (NFSv3 without lockd) the edit is made all the same, with a warning that two
edits at once are not kept apart; in a folder this account may not write, nothing is written
and the error names the catalog and its folder, not a temporary file beside it."""

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
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.errors import CatalogError
from catalog.importer import ImportedEntry, import_entries
from catalog.source import load_catalog, load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import T0, database_url, temporary_database

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


# --- a folder this account may not write ------------------------------------------------------


def _no_new_files_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating a file in `folder` is refused as the system refuses it to a user who may not
    write there (root may write any folder, and the tests run as root): the lock file, and
    the temporary file the new catalog is written into (`tempfile.mkstemp`)."""
    real_os_open = os.open

    def os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if isinstance(file, (str, Path)) and Path(file).parent == folder and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)


@pytest.mark.parametrize("locked_before", [False, True], ids=["lock-file", "temp-file"])
@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_a_write_in_a_folder_the_user_cannot_write_names_the_catalog_and_its_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[Path], None],
    locked_before: bool,
) -> None:
    """The edit failed with "Permission denied: /x/.cat.yaml.k2j4_x.tmp.yaml" (exit 1), a
    file the curator never asked for; with no lock file yet, with "the lock file ... cannot
    be opened or created ([Errno 13] ...)". Now: which catalog, which folder, nothing changed."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    if locked_before:  # an earlier edit, before the folder was made read-only
        (tmp_path / ".cat.yaml.lock").touch()
    before = sorted(p.name for p in tmp_path.iterdir())
    _no_new_files_in(tmp_path, monkeypatch)

    with pytest.raises(CatalogError) as refused:
        write(path)

    (problem,) = refused.value.problems
    assert (problem.file, problem.code) == (str(path), "not_writable")
    assert f"its folder {tmp_path} " in problem.message
    assert "nothing was changed" in problem.message and ".tmp" not in str(refused.value)
    assert refused.value.exit_code == 5
    assert path.read_text() == YAML
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_import_into_an_unwritable_folder_exits_5_naming_the_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "catalogs"
    folder.mkdir()
    path = folder / "cat.yaml"
    path.write_text(YAML)
    (folder / ".cat.yaml.lock").touch()
    source = tmp_path / "new.csv"
    source.write_text("title,url\nNew,https://new.example/\n")
    _no_new_files_in(folder, monkeypatch)

    result = CliRunner().invoke(app, ["catalog", "import-csv", str(source), "--into", str(path)])

    assert result.exit_code == 5, result.output
    assert f"{path}: cannot create files in its folder {folder} " in result.stderr
    assert ".tmp" not in result.stderr
    assert path.read_text() == YAML


def test_a_decision_in_an_unwritable_folder_exits_5_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mark-reviewed` as a colleague who may read the shared catalogs but not write them."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # announcing an edit reaches nothing
    folder = tmp_path / "catalogs"
    folder.mkdir()
    path = folder / "toolkit.yaml"
    path.write_text(YAML)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        _no_new_files_in(folder, monkeypatch)

        result = CliRunner().invoke(
            app, ["mark-reviewed", "a", "--db", database_url(engine), "--catalog", str(path)]
        )

        assert result.exit_code == 5, result.output
        assert f"{path}: cannot create files in its folder {folder} " in result.stderr
        assert "nothing was changed" in result.stderr and ".tmp" not in result.stderr
        assert path.read_text() == YAML
        assert store.decisions_for(engine, store.find_resource(engine, "a").id) == []
