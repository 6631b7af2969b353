"""A catalog's folder that takes no locks, or no new files (`catalog.files`): on a file system
without locks (NFSv3 without lockd) the edit is made all the same, with a warning that two
edits at once are not kept apart; in a folder this account may not write, nothing is written
and the error names the catalog and its folder, not a temporary file beside it."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
import threading
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


# --- a shared folder: the catalog or its lock file is another user's ---------------------------


def _replace_refused_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renaming over a file in `folder` is refused as Linux refuses it in a sticky folder
    (like /tmp) to a user who owns neither the file nor the folder (EPERM); creating the new
    file beside it is allowed there."""
    real_replace = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst).parent == folder:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(src), str(dst))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_a_write_of_another_users_catalog_in_a_sticky_folder_names_the_catalog_and_its_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], None]
) -> None:
    """A catalog dropped in a shared folder (mode 1777) by a colleague: the edit failed with
    "Operation not permitted: /x/.cat.yaml.k2j4_x.tmp.yaml" (exit 1), a file the curator never
    asked for. Now the same refusal as a folder that takes no new files, saying whose it is."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    (tmp_path / ".cat.yaml.lock").touch()  # made by its owner's edits
    tmp_path.chmod(0o1777)
    before = sorted(p.name for p in tmp_path.iterdir())
    _replace_refused_in(tmp_path, monkeypatch)

    with pytest.raises(CatalogError) as refused:
        write(path)

    (problem,) = refused.value.problems
    assert (problem.file, problem.code) == (str(path), "not_writable")
    assert f"its folder {tmp_path} " in problem.message
    assert f"({pwd.getpwuid(path.stat().st_uid).pw_name})" in problem.message  # its owner
    assert "nothing was changed" in problem.message and ".tmp" not in str(refused.value)
    assert refused.value.exit_code == 5
    assert path.read_text() == YAML
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary file left


def _unreadable_lock_file(lock: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lock` exists, mode 0600, another user's when the tests run as root (who may read it
    all the same: opening it is refused as it is to a user who may not)."""
    lock.touch()
    lock.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(lock, 65534, 65534)
    real_os_open = os.open

    def os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if isinstance(file, (str, Path)) and Path(file) == lock:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)


@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_a_lock_file_the_user_cannot_open_is_named_with_who_can_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], None]
) -> None:
    """A lock file made by a curator whose umask is 077: the import failed with "cannot open
    or create the lock file" (exit 1), the edit called the catalog unreadable (it is not)."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    lock = tmp_path / ".cat.yaml.lock"
    _unreadable_lock_file(lock, monkeypatch)
    owner = pwd.getpwuid(lock.stat().st_uid).pw_name

    with pytest.raises(CatalogError) as refused:
        write(path)

    (problem,) = refused.value.problems
    assert (problem.file, problem.code) == (str(path), "not_writable")
    assert f"its lock file {lock} " in problem.message
    assert f"{owner} with mode 0600" in problem.message and f"chmod a+r {lock}" in problem.message
    assert "nothing was changed" in problem.message
    assert refused.value.exit_code == 5
    assert path.read_text() == YAML


def test_an_import_behind_a_lock_file_the_user_cannot_open_exits_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "catalogs"
    folder.mkdir()
    path = folder / "cat.yaml"
    path.write_text(YAML)
    lock = folder / ".cat.yaml.lock"
    _unreadable_lock_file(lock, monkeypatch)
    source = tmp_path / "new.csv"
    source.write_text("title,url\nNew,https://new.example/\n")

    result = CliRunner().invoke(app, ["catalog", "import-csv", str(source), "--into", str(path)])

    assert result.exit_code == 5, result.output
    assert f"{path}: cannot open its lock file {lock} " in result.stderr
    assert path.read_text() == YAML


# --- the same, for real: root without the capabilities that let it write anywhere -----------

#: Run as root is, less the capabilities that let it read, write and replace any file: an
#: ordinary user for files another user owns (it may still give files away, CAP_CHOWN).
_NO_DAC = "-dac_override,-dac_read_search,-fowner"
_SETPRIV = ["setpriv", f"--inh-caps={_NO_DAC}", f"--bounding-set={_NO_DAC}"]


def _without_dac(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_HOME": str(tmp_path / "prefect")}
    main = "from flows.cli import main; main()"
    return subprocess.run(
        [*_SETPRIV, sys.executable, "-c", main, *args], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def no_dac() -> None:
    """Skip unless the tests run as root where `setpriv` can drop capabilities."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to run without CAP_DAC_OVERRIDE")
    probe = subprocess.run([*_SETPRIV, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr!r}")


@pytest.mark.parametrize("case", ["sticky-folder", "lock-file-0600"])
def test_a_real_folder_of_another_user_refuses_the_import_naming_the_catalog(
    tmp_path: Path, no_dac: None, case: str
) -> None:
    """r4's reproduction. A sticky folder: the temporary file, given to the catalog's owner,
    could not be removed (only a file's owner may, there) and stayed beside the catalog."""
    folder = tmp_path / "cats"
    folder.mkdir()
    path = folder / "cat.yaml"
    path.write_text(YAML)
    lock = folder / ".cat.yaml.lock"
    lock.touch()
    source = tmp_path / "new.csv"
    source.write_text("title,url\nNew,https://new.example/\n")
    for file in (folder, path, lock):
        os.chown(file, 65534, 65534)
    folder.chmod(0o1777 if case == "sticky-folder" else 0o755)
    lock.chmod(0o644 if case == "sticky-folder" else 0o600)
    before = sorted(p.name for p in folder.iterdir())

    done = _without_dac(tmp_path, "catalog", "import-csv", str(source), "--into", str(path))

    assert done.returncode == 5, done.stderr
    assert f"{path}: cannot " in done.stderr and "[not_writable]" in done.stderr
    assert ".tmp" not in done.stderr and "Traceback" not in done.stderr
    assert path.read_text() == YAML
    assert sorted(p.name for p in folder.iterdir()) == before


# --- a folder without room for the new file -----------------------------------------------------


def _no_room_in(folder: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """Syncing a file in `folder` fails as a full disk (or a quota) fails it: the data of a
    small write sits in the page cache until then (tmpfs and ext4 report ENOSPC on write
    or on fsync, whichever first finds no room)."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).parent == folder:
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=errno.errorcode.get)
@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_a_write_that_does_not_fit_leaves_the_catalog_and_no_part_of_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], None], code: int
) -> None:
    """A full disk made every edit and import a traceback ("OSError: [Errno 28] No space
    left on device"), which did not say whether the catalog was still whole."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    (tmp_path / ".cat.yaml.lock").touch()
    before = sorted(p.name for p in tmp_path.iterdir())
    _no_room_in(tmp_path, monkeypatch, code)

    with pytest.raises(CatalogError) as refused:
        write(path)

    (problem,) = refused.value.problems
    assert (problem.file, problem.code) == (str(path), "no_room")
    assert f"did not fit in its folder {tmp_path} ({os.strerror(code)})" in problem.message
    assert "nothing was changed" in problem.message and ".tmp" not in str(refused.value)
    assert refused.value.exit_code == 5
    assert path.read_text() == YAML
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_decision_that_does_not_fit_exits_5_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # announcing an edit reaches nothing
    folder = tmp_path / "catalogs"
    folder.mkdir()
    path = folder / "toolkit.yaml"
    path.write_text(YAML)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        _no_room_in(folder, monkeypatch, errno.ENOSPC)

        result = CliRunner().invoke(
            app, ["mark-reviewed", "a", "--db", database_url(engine), "--catalog", str(path)]
        )

        assert result.exit_code == 5, result.output
        assert f"{path}: the new file written beside it did not fit" in result.stderr
        assert "Traceback" not in result.output
        assert path.read_text() == YAML
        assert store.decisions_for(engine, store.find_resource(engine, "a").id) == []


# --- another linkhealth command holds the catalog's lock -----------------------------------------


def test_an_edit_waiting_for_another_commands_lock_says_so_then_edits_what_it_wrote(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An edit behind a long import (100,000 rows) sat silent until it ended."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    lock = tmp_path / ".cat.yaml.lock"
    lock.touch()
    holder = os.open(lock, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    edited = threading.Event()
    waiting = threading.Event()

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "is being changed by another linkhealth command" in record.getMessage():
                waiting.set()

    said = Said()
    logging.getLogger("catalog.files").addHandler(said)
    try:

        def edit() -> None:
            _edit(path)
            edited.set()

        worker = threading.Thread(target=edit)
        worker.start()
        assert waiting.wait(10), "the edit said nothing while it waited"
        assert not edited.is_set()
        # The other command's write, made while this edit waited: kept under this one.
        path.write_text(YAML.replace("  title: A\n", "  title: A, renamed meanwhile\n"))
        fcntl.flock(holder, fcntl.LOCK_UN)
        worker.join(10)
    finally:
        os.close(holder)
        logging.getLogger("catalog.files").removeHandler(said)

    assert edited.is_set()
    (resource,) = load_catalog(path).resources
    assert (resource.title, resource.url) == ("A, renamed meanwhile", "https://moved.example/")
