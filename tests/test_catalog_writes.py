"""How the catalog editor and the importer write a curator's file (`catalog.files`): a save
made by someone else meanwhile is never overwritten, untouched lines keep their bytes (line
endings included), the file keeps its owner and group, the lock file does not lock a
colleague out, and a dry run needs nothing but to read the catalog."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import catalog_edit
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.errors import CatalogError
from catalog.importer import ImportedEntry, _write, import_entries
from catalog.source import load_catalog
from flows.cli import app

YAML = """\
collection:
  title: T
resources:
- id: a
  title: A
  url: https://a.example/
- id: b
  title: B
  url: https://b.example/
"""
CSV = "id,title,url\r\na,A,https://a.example/\r\nb,B,https://b.example/\r\n"
#: What the curator saves in their editor while linkhealth works on the file.
SAVED = {
    ".yaml": YAML.replace("title: B", "title: B (fixed by the curator)")
    + "- id: c\n  title: C, added by the curator\n  url: https://c.example/\n",
    ".csv": CSV.replace(",B,", ",B (fixed by the curator),")
    + 'c,"C, added by the curator",https://c.example/\r\n',
}
NEW = ImportedEntry("New", "https://new.example/")


def _saving_meanwhile(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, path: Path, text: str
) -> None:
    """Make `module.name`, called while linkhealth works on `path`, first save `text` into
    it in place, as an editor or `git checkout` does."""
    real: Callable[..., Any] = getattr(module, name)

    def saving(*args: Any, **kwargs: Any) -> Any:
        path.write_bytes(text.encode())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, saving)


def _only_changed_meanwhile(caught: pytest.ExceptionInfo[CatalogError], path: Path) -> None:
    assert [(p.code, p.file) for p in caught.value.problems] == [("changed_meanwhile", str(path))]
    assert caught.value.exit_code == 5


@pytest.mark.parametrize("suffix", [".yaml", ".csv"])
def test_a_save_made_during_an_edit_is_kept_and_the_edit_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"cat{suffix}"
    path.write_bytes((YAML if suffix == ".yaml" else CSV).encode())
    worker = "_edit_yaml" if suffix == ".yaml" else "_edit_csv"
    _saving_meanwhile(monkeypatch, catalog_edit, worker, path, SAVED[suffix])
    edit = FieldEdit("a", "url", "https://moved.example/")

    with pytest.raises(CatalogError) as caught:
        apply_edits(path, [edit])

    _only_changed_meanwhile(caught, path)
    assert path.read_bytes() == SAVED[suffix].encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".cat{suffix}.lock", f"cat{suffix}"]
    monkeypatch.undo()  # run again: both the save and the edit are kept
    apply_edits(path, [edit])
    urls = {r.id: r.url for r in load_catalog(path).resources}
    assert urls["a"] == "https://moved.example/" and "c" in urls


@pytest.mark.parametrize("suffix", [".yaml", ".csv"])
def test_a_save_made_during_an_import_is_kept_and_the_import_exits_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """The import also read the file three times: its plan and its diff could be of two
    different versions of it."""
    path = tmp_path / f"cat{suffix}"
    path.write_bytes((YAML if suffix == ".yaml" else CSV).encode())
    source = tmp_path / "new.csv"
    source.write_text("title,url\nNew,https://new.example/\n")
    _saving_meanwhile(monkeypatch, _write, "plan_merge", path, SAVED[suffix])

    result = CliRunner().invoke(app, ["catalog", "import-csv", str(source), "--into", str(path)])

    assert result.exit_code == 5, result.output
    assert "changed_meanwhile" in result.stderr
    assert path.read_bytes() == SAVED[suffix].encode()


def test_an_import_does_not_overwrite_a_catalog_created_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cat.yaml"
    _saving_meanwhile(monkeypatch, _write, "plan_merge", path, SAVED[".yaml"])

    with pytest.raises(CatalogError) as caught:
        import_entries(path, [NEW])

    _only_changed_meanwhile(caught, path)
    assert path.read_bytes() == SAVED[".yaml"].encode()


def test_an_import_keeps_the_bytes_of_excel_records_it_does_not_touch(tmp_path: Path) -> None:
    """Records end CRLF, a multi-line cell holds a bare LF: it became CRLF, a change of the
    cell's value in an entry nobody imported."""
    path = tmp_path / "cat.csv"
    before = b'id,title,url,notes\r\na,A,https://a.example/,"line1\nline2"\r\n'
    path.write_bytes(before)

    import_entries(path, [NEW])

    assert path.read_bytes() == before + b"new,New,https://new.example/,\r\n"
    assert next(r for r in load_catalog(path).resources if r.id == "a").notes == "line1\nline2"


@pytest.mark.parametrize(
    ("text", "new_lines_end"),
    [
        # One line pasted from Windows: the whole file came back CRLF.
        (YAML.replace("url: https://a.example/\n", "url: https://a.example/\r\n"), b"\n"),
        # Mostly CRLF, one LF line: new lines are CRLF, the LF line stays LF.
        (YAML.replace("\n", "\r\n").replace("title: A\r\n", "title: A\n"), b"\r\n"),
        # No line break at the end: the last line gets the one most lines have.
        (YAML.replace("\n", "\r\n").replace("title: A\r\n", "title: A\n").rstrip(), b"\r\n"),
    ],
    ids=["mostly-lf", "mostly-crlf", "crlf-unterminated"],
)
def test_an_import_into_yaml_changes_no_line_ending_of_existing_lines(
    tmp_path: Path, text: str, new_lines_end: bytes
) -> None:
    path = tmp_path / "cat.yaml"
    before = text.encode()
    path.write_bytes(before)

    import_entries(path, [NEW])

    after = path.read_bytes()
    kept = before if before.endswith(b"\n") else before + new_lines_end
    assert after.startswith(kept)
    added = after[len(kept) :].splitlines(keepends=True)
    assert added and all(line.endswith(new_lines_end) for line in added)
    assert new_lines_end == b"\r\n" or b"\r" not in after[len(kept) :]
    assert [r.id for r in load_catalog(path).resources] == ["a", "b", "new"]


def _edit(path: Path) -> None:
    apply_edits(path, [FieldEdit("a", "url", "https://moved.example/")])


def _import(path: Path) -> None:
    import_entries(path, [NEW])


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to another user")
@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_the_file_keeps_its_owner_and_group_when_another_account_writes_it(
    tmp_path: Path, write: Callable[[Path], None]
) -> None:
    """A curator's 0640 catalog edited by another account (a colleague, the service account
    `serve` runs as) became that account's, and the curator could no longer read it."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    os.chown(path, 1000, 1000)
    os.chmod(path, 0o640)

    write(path)

    st = path.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o640)
    assert "new" in path.read_text() or "moved" in path.read_text()


def test_the_lock_file_is_made_readable_as_the_catalog_and_no_more(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    os.chmod(path, 0o640)

    _edit(path)

    lock = tmp_path / ".cat.yaml.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o440
    assert lock.stat().st_gid == path.stat().st_gid


@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_another_users_lock_file_does_not_lock_a_colleague_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], None]
) -> None:
    """A shared catalog folder: the first curator's edit left `.NAME.lock` 0644, theirs,
    which the second curator could never open for writing, so could never edit. Opening
    it to write (or with O_CREAT, which fs.protected_regular refuses on another user's file
    in a sticky folder) is refused here as the system refuses it to a user other than its
    owner: root is never refused, so a real chmod tells nothing when the tests run as root."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    apply_edits(path, [FieldEdit("b", "url", "https://first.example/")])  # makes the lock
    first = path.read_text()
    lock = tmp_path / ".cat.yaml.lock"
    real_open, real_os_open = open, os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC

    def refused(file: Any) -> bool:
        return isinstance(file, (str, Path)) and Path(file) == lock

    def os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if refused(file) and flags & (writing | os.O_CREAT):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_os_open(file, flags, *args, **kwargs)

    def builtin_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if refused(file) and set(mode) & set("wax+"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr("builtins.open", builtin_open)

    write(path)

    assert path.read_text() != first


@pytest.mark.parametrize("exists", [True, False], ids=["catalog", "new-catalog"])
def test_an_import_dry_run_leaves_no_lock_file(tmp_path: Path, exists: bool) -> None:
    path = tmp_path / "cat.yaml"
    if exists:
        path.write_text(YAML)

    result = import_entries(path, [NEW], dry_run=True)

    assert "+  url: https://new.example/" in result.diff
    assert [p.name for p in tmp_path.iterdir()] == (["cat.yaml"] if exists else [])


@pytest.mark.parametrize("write", ["edit", "import"])
def test_a_dry_run_creates_nothing_in_a_folder_it_may_only_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: str
) -> None:
    """A colleague's checkout, a read-only mount: the dry run failed with a raw
    PermissionError for the temp or lock file it made beside the catalog. Creating a file
    in the folder is refused here as the system refuses it (root may write any folder)."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    real_open, real_os_open = open, os.open

    def creates(file: Any) -> bool:
        return isinstance(file, (str, Path)) and Path(file).parent == tmp_path

    def os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if creates(file) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_os_open(file, flags, *args, **kwargs)

    def builtin_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if creates(file) and set(mode) & set("wax+"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr("builtins.open", builtin_open)

    if write == "edit":
        result = apply_edits(path, [FieldEdit("a", "url", "https://moved.example/")], dry_run=True)
        assert "+  url: https://moved.example/" in result.diff
    else:
        assert "https://new.example/" in import_entries(path, [NEW], dry_run=True).diff
    monkeypatch.undo()
    assert path.read_text() == YAML
    assert [p.name for p in tmp_path.iterdir()] == ["cat.yaml"]


@pytest.mark.parametrize("write", [_edit, _import], ids=["edit", "import"])
def test_the_folder_is_synced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Callable[[Path], None]
) -> None:
    """Without it a power cut may bring the old file back after the decision it holds was
    recorded in the database."""
    path = tmp_path / "cat.yaml"
    path.write_text(YAML)
    events: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        if Path(dst) == path:
            events.append("renamed")

    def fsync(fd: int) -> None:
        real_fsync(fd)
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and st.st_ino == tmp_path.stat().st_ino:
            events.append("folder synced")

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)

    write(path)

    assert events[-2:] == ["renamed", "folder synced"]
