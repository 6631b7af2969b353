"""Replacing a file whole: written beside it, synced, then renamed over it.

A reader (the nightly run loading a catalog, a spreadsheet opening an export) sees the old
file or the new one, never half of one, and a full disk part-way leaves the old file as it
was. The rename happens at the file a path names *through its symlinks*: a catalog linked
into the catalogs folder from a git checkout is edited in the checkout, where renaming over
the link itself would have cut it and kept the edit in a copy nobody commits. (A hard link
cannot be kept: the new file is a new inode, as with every editor that saves this way.)

A file's owner, group and mode are kept (a catalog of uid 1000, mode 0640, edited by a
colleague or the service account stays theirs), and the folder is synced after the rename,
so a power cut cannot bring the old file back after what the new one records was decided.

The catalog writers also make sure nobody saved the file while they worked on it
(`replace_if_unchanged`): the lock keeps linkhealth processes apart, not an editor or git.

The catalog editor, the importer and `export --out` write through here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import pwd
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from catalog.errors import CatalogError, Problem

log = logging.getLogger(__name__)

#: `flock` errors of a file system that has no locks (NFSv3 without lockd: ENOLCK; some
#: FUSE and SMB mounts): the write goes ahead without the lock, with a warning
#: (`lock_exclusively`), as before there was one. Failing it would fail every write there.
NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})

__all__ = [
    "NO_LOCKS",
    "TextReplacement",
    "folder_not_writable",
    "lock_exclusively",
    "locked",
    "open_lock_file",
    "real_file",
    "renamed_over",
    "replace_file",
    "replace_if_unchanged",
    "written_beside",
]


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same inode when both exist (symlinks, hard
    links), else the same path once symlinks and `..` are resolved (a database's -wal
    file, a copy's target, not there yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def real_file(path: Path) -> Path:
    """The file `path` names, through any symlinks (`path` itself when it names none)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _mode_for(path: Path) -> int:
    """The mode the new file gets: the old one's, or what the umask gives a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _keep_owner(tmp: Path, target: Path) -> None:
    """Give `tmp` the owner and group of `target`, as far as this account may: another
    account's edit made the file its own, and a curator could no longer read a 0640
    catalog of theirs. Only root may give a file away; anyone may give it a group they
    are in, which keeps a shared catalog readable by its group."""
    try:
        st = target.stat()
    except FileNotFoundError:
        return
    for uid in (st.st_uid, -1):
        try:
            os.chown(tmp, uid, st.st_gid)
            return
        except PermissionError:
            continue
        except OSError:
            return  # a file system without owners (FAT, some mounts)


def _settled(tmp: Path, target: Path) -> None:
    # The mode first, while the file is still this account's: once given away (root without
    # CAP_FOWNER), only its new owner may change it.
    mode = _mode_for(target)
    os.chmod(tmp, mode)
    _keep_owner(tmp, target)
    if mode & (stat.S_ISUID | stat.S_ISGID):  # a change of owner clears them
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)


def _discard(tmp: Path) -> None:
    """Remove the temporary file `tmp`, also when it was given to the catalog's owner
    (`_keep_owner`) in a sticky shared folder (like /tmp), where only a file's owner may
    remove it: taken back first (giving it away took the right to). One that cannot be
    removed is named in a warning, not raised over the error that made it stay."""
    try:
        tmp.unlink(missing_ok=True)
        return
    except PermissionError:
        pass
    try:
        os.chown(tmp, os.geteuid(), -1)
        tmp.unlink(missing_ok=True)
    except OSError as exc:
        log.warning(
            "cannot remove the temporary file %s (%s); it is not the catalog: delete it",
            tmp,
            exc.strerror or exc,
        )


def _sync_folder(folder: Path) -> None:
    """Sync the folder's entries, so that a rename made survives a power cut; best effort
    (some file systems cannot open or sync a folder, and the file itself is synced)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def written_beside(path: Path, data: bytes) -> Path:
    """A temp file beside the file `path` names, holding `data`, synced to disk, with the
    owner, group and mode of that file (`_settled`); the caller renames it over
    `real_file(path)` (`renamed_over`) or removes it."""
    target = real_file(path)
    try:
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}"
        )
    except OSError as exc:
        if exc.errno in _NOT_WRITABLE:
            raise folder_not_writable(path, exc) from None
        raise
    tmp = Path(name)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            if exc.errno in _NO_ROOM:
                raise _no_room(path, exc) from None
            raise
        _settled(tmp, target)
    except BaseException:
        _discard(tmp)
        raise
    return tmp


def renamed_over(tmp: Path, target: Path) -> None:
    """Rename `tmp` over `target` (a real file, not a link) and sync the folder."""
    os.replace(tmp, target)
    _sync_folder(target.parent)


def _swapped_in(tmp: Path, path: Path) -> None:
    """`renamed_over` the file `path` names, refused as `not_writable` (`_not_replaceable`)
    when this account may not replace it there."""
    try:
        renamed_over(tmp, real_file(path))
    except OSError as exc:
        if exc.errno in _NOT_WRITABLE:
            raise _not_replaceable(path, exc) from None
        raise


def replace_file(path: Path, data: bytes) -> None:
    """Make the file `path` names hold `data`, all at once."""
    tmp = written_beside(path, data)
    try:
        _swapped_in(tmp, path)
    finally:
        _discard(tmp)


def replace_if_unchanged(
    path: Path,
    expected: bytes | None,
    data: bytes,
    *,
    check: Callable[[Path], None] | None = None,
) -> None:
    """Make the file `path` names hold `data`, unless it no longer holds `expected` (the
    bytes the change was made from; None: there was no file): then nothing is written
    and `CatalogError` says to run the command again. Call it under `locked`.

    A whole-file edit of a large catalog takes seconds, in which an editor or `git pull`
    may save the file; renaming the result over it lost that save without a word. The
    bytes are compared after the new file is written and `check`ed (it may refuse it),
    just before the rename, so that only microseconds are left for a save to slip in."""
    tmp = written_beside(path, data)
    try:
        if check is not None:
            check(tmp)
        target = real_file(path)
        if not _holds(target, expected):
            raise _changed_meanwhile(path)
        _swapped_in(tmp, path)
    finally:
        _discard(tmp)


def _holds(target: Path, expected: bytes | None) -> bool:
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return expected is None
    if expected is None or size != len(expected):
        return False
    try:
        return target.read_bytes() == expected
    except FileNotFoundError:
        return False


#: What creating a file in a folder fails with when this account may not write there
#: (EROFS: a read-only mount).
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


#: What writing the new file fails with when its folder's file system has no room for it
#: (a full disk, a quota, a file size limit).
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _no_room(path: Path, error: OSError) -> CatalogError:
    """The refusal of a write to the catalog file `path` whose new copy did not fit beside
    it: it was a traceback ("OSError: [Errno 28] No space left on device"), which did not
    say that the catalog was left as it was."""
    folder = real_file(path).absolute().parent
    return CatalogError(
        [
            Problem(
                str(path),
                None,
                None,
                "no_room",
                f"the new file written beside it did not fit in its folder {folder} "
                f"({error.strerror or error}), so nothing was changed and no part of it is "
                f"left there; make room (df -h {folder} shows how much there is), then run "
                "the command again",
            )
        ]
    )


def folder_not_writable(path: Path, error: OSError) -> CatalogError:
    """The refusal of a write to the catalog file `path` whose folder this account may not
    create files in (the lock file, or the new file written beside it): the error named
    only a temporary file, which the curator never asked for and cannot find."""
    folder = real_file(path).absolute().parent
    return _not_writable(
        path,
        f"cannot create files in its folder {folder} ({error.strerror or error}), "
        "and the file is changed by writing a new one beside it, so nothing was "
        f"changed; get the right to write in {folder} (or work on a copy in a "
        "folder of yours), then run the command again",
    )


def _not_writable(path: Path, message: str) -> CatalogError:
    """A `not_writable` refusal of a write to the catalog file `path`: nothing changed."""
    return CatalogError([Problem(str(path), None, None, "not_writable", message)])


def _not_replaceable(path: Path, error: OSError) -> CatalogError:
    """The refusal of a write to the catalog file `path` that this account may not replace
    in its folder, though it may create files there: in a sticky shared folder (like /tmp)
    only a file's owner (or the folder's) may replace it. The error named only the
    temporary file written beside it, as "Operation not permitted" (exit 1)."""
    target = real_file(path).absolute()
    folder = target.parent
    why = error.strerror or str(error)
    try:
        sticky = bool(folder.stat().st_mode & stat.S_ISVTX)
        owner = _owner(target.stat().st_uid)
    except OSError:
        sticky, owner = False, "unknown"
    if sticky:
        message = (
            f"cannot replace it in its folder {folder} ({why}): the folder is shared (its "
            f"sticky bit is set, as on /tmp), where only the file's owner ({owner}) may "
            "replace it, and the file is changed by writing a new one beside it, so nothing "
            f"was changed; ask its owner ({owner}) to make the change or to move the catalog "
            "into a folder its editors may write (a group's), or work on a copy in a folder "
            "of yours, then run the command again"
        )
    else:
        message = (
            f"cannot replace it in its folder {folder} ({why}), and the file is changed by "
            "writing a new one beside it, so nothing was changed; get the right to replace "
            f"it (an immutable file cannot be: 'lsattr {target}' shows an i), or work on a "
            "copy in a folder of yours, then run the command again"
        )
    return _not_writable(path, message)


def _lock_not_readable(path: Path, lock_path: Path, error: OSError) -> CatalogError:
    """The refusal of a write to the catalog file `path` whose lock file exists and this
    account may not open (another user's, mode 0600): naming who can fix it. It was "cannot
    open or create the lock file" (exit 1 for an import), as if the folder were at fault."""
    try:
        st = lock_path.lstat()
        owner, mode = _owner(st.st_uid), f"{stat.S_IMODE(st.st_mode):04o}"
        of_it = f"it belongs to {owner} with mode {mode}, which this account may not read"
    except OSError:
        owner, of_it = "unknown", "this account may not read it"
    return _not_writable(
        path,
        f"cannot open its lock file {lock_path} ({error.strerror or error}): {of_it}, "
        "and every edit takes that lock so that two at once cannot lose each other's "
        f"changes, so nothing was changed; its owner ({owner}) or root can make it "
        f"readable by everyone who edits the catalog (chmod a+r {lock_path}: it holds "
        "nothing), then run the command again",
    )


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _changed_meanwhile(path: Path) -> CatalogError:
    return CatalogError(
        [
            Problem(
                str(path),
                None,
                None,
                "changed_meanwhile",
                "the file changed while it was being edited (saved by an editor, git or "
                "another program), so nothing was written and that save is kept; "
                "run the command again",
            )
        ]
    )


class TextReplacement:
    """A text stream (UTF-8, newlines as written) that replaces the file `path` names when
    its `with` block ends without an error; on an error the file stays as it was.

    For output too large to hold (an export of 100,000 resources), written as it comes.
    The temp file is made at once, so a folder that cannot take it fails here, before
    anything is written, and apart from a failure while writing (a full disk)."""

    def __init__(self, path: Path) -> None:
        self._target = real_file(path)
        fd, name = tempfile.mkstemp(
            dir=self._target.parent, prefix=f".{self._target.name}.", suffix=".part"
        )
        self._tmp = Path(name)
        self._out = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def __enter__(self) -> TextIO:
        return self._out

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            with self._out:
                if kind is None:
                    self._out.flush()
                    os.fsync(self._out.fileno())
            if kind is None:
                _settled(self._tmp, self._target)
                renamed_over(self._tmp, self._target)
        finally:
            _discard(self._tmp)


@contextlib.contextmanager
def locked(path: Path, refused: Callable[[Path, OSError], Exception]) -> Iterator[None]:
    """An exclusive lock for writing the file `path` names, so that two writers (a curator's
    edit, an import) never lose each other's changes. A lock file this account may not
    create (the folder) or open (another user's, mode 0600) is refused as `not_writable`;
    `refused(lock_path, error)` is raised when it cannot be opened or created otherwise.

    The lock is a hidden sibling, `.NAME.lock`, not the file itself, whose inode every
    replacement swaps. It starts with a dot, so loading the folder skips it, and it is never
    deleted: that would let two writers lock two different files. It sits beside the file
    itself: a catalog reached through a symlink and by its own path is one file, one lock.

    It is opened for reading (`flock` needs no more) and made readable by those who may
    read the file, in its group: a colleague who may edit a shared catalog was locked out
    of it for good by the first curator's 0644 lock file, which they could not open to write.
    """
    target = real_file(path)
    lock_path = target.with_name(f".{target.name}.lock")
    try:
        fd = open_lock_file(lock_path, _mode_for(target) & 0o444, group_of=target)
    except OSError as exc:
        if exc.errno in _NOT_WRITABLE:
            if not os.path.lexists(lock_path):  # no lock file, and none can be made
                raise folder_not_writable(path, exc) from None
            raise _lock_not_readable(path, lock_path, exc) from None
        raise refused(lock_path, exc) from exc
    try:
        lock_exclusively(
            fd,
            lock_path,
            unlocked=f"the folder {target.absolute().parent} cannot be locked (its file "
            f"system takes no locks), so two curators' edits of {target.name} at the same "
            "time (or an edit and an import) are not kept apart; editing it without the lock",
            waiting=f"{target} is being changed by another linkhealth command (an edit or "
            "an import holds its lock); waiting for it to finish, then this change is made "
            "on what it wrote",
        )
        yield
    finally:
        os.close(fd)  # closing releases the lock


def lock_exclusively(
    fd: int, lock_path: Path, *, unlocked: str, waiting: str | None = None
) -> bool:
    """Take the exclusive `flock` of the lock file `lock_path` open as `fd`, waiting for
    whoever holds it (saying `waiting` first, when given); True once taken.

    A file system that refuses locks (`NO_LOCKS`) gets the write without it: a warning
    "cannot lock LOCK_PATH (why): `unlocked`" and False. The catalog writers' lock
    (`locked`) and the reports folder's share this rule."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if waiting else 0))
        except BlockingIOError:
            log.warning("%s", waiting)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno not in NO_LOCKS:
            raise
        log.warning("cannot lock %s (%s): %s", lock_path, exc.strerror or exc, unlocked)
        return False
    return True


def open_lock_file(lock_path: Path, mode: int, *, group_of: Path | None = None) -> int:
    """A descriptor of the lock file `lock_path` to `flock`, opened for reading (`flock`
    needs no more: another user's lock file, readable, locks no one out); created with
    `mode` when missing, in the group of the file `group_of` when given. The catalog
    writers' lock (`locked`) and the reports folder's share it."""
    try:
        return os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    # Not O_CREAT at first: in a sticky world-writable folder Linux refuses it on another
    # user's existing file (fs.protected_regular), even to read.
    fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, mode)
    if group_of is not None:
        with contextlib.suppress(OSError):
            gid = group_of.stat().st_gid
            if os.fstat(fd).st_gid != gid:
                os.fchown(fd, -1, gid)
    return fd
