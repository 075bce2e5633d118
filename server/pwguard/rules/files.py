"""Reading rule files and pages: regular files only, never more than a limit, and when a file
cannot be read, the true reason and what to do about it.

The file is opened without blocking (a named pipe would wait for a writer forever) and
checked to be a regular file on the open descriptor; reads stop one byte past the limit
whatever the file's size claims (/proc files say 0, a file may grow while it is read).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

CHUNK = 1024 * 1024
MAX_PAGE = 20 * 1024 * 1024  # a saved page (`pwguard scan`, fixture pages)


class FileProblem(Exception):
    """Why a file cannot be read, as `reason; fix` text; for callers that word some cases
    themselves: `too_large` (over the limit, which they know), `missing` (no such file, or a
    broken link), `not_regular` (a directory, a pipe, a device...)."""

    def __init__(
        self, reason: str, too_large: bool = False, missing: bool = False,
        not_regular: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason, self.too_large = reason, too_large
        self.missing, self.not_regular = missing, not_regular


_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def kind_problem(mode: int) -> str | None:
    """Why a file of this mode is not read (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    for test, what in _KINDS:
        if test(mode):
            return f"{what}; give a regular file"
    return "is not a regular file; give a regular file"


def describe_error(path: Path, exc: OSError) -> str:
    """The true reason an open or read of `path` failed, with what to do."""
    code = exc.errno
    if code == errno.ENOENT and path.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"broken symbolic link (to {target!r}, which does not exist); fix or remove the link"
    if code == errno.ELOOP:
        return "symbolic link loop (too many levels of symbolic links); fix or remove the link"
    if code == errno.EISDIR:
        return "is a directory; give a regular file"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied; check its permissions"
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    if code in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
        return f"{reason}; check the path"
    return f"{reason}; check the file and the disk"


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or FileProblem."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileProblem(describe_error(path, exc), missing=exc.errno == errno.ENOENT) from None
    try:
        problem = kind_problem(os.fstat(fd).st_mode)
        if problem:
            raise FileProblem(problem, not_regular=True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileProblem(describe_error(path, exc)) from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileProblem(f"over the {limit}-byte limit", too_large=True)
    return b"".join(chunks)


def write_atomic(path: Path, data: bytes, *, keep_mode: bool = False) -> None:
    """Replace `path` with `data` in one rename (mode 0644; with `keep_mode`, that of the file
    it replaces): a reader never sees half of it, and a write that fails (a full disk) leaves
    the file it replaces as it was. A symbolic link is written through, as an in-place write
    would, not replaced by a file."""
    path = _through_link(path)
    mode = 0o644
    if keep_mode:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(path.stat().st_mode)
    tmp = _written_beside(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def _through_link(path: Path) -> Path:
    """The file a symbolic link leads to (written through, not replaced), else `path`."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _written_beside(path: Path, data: bytes, mode: int) -> Path:
    """A new temporary file beside `path` (its folder made if need be) holding `data` with
    `mode`, on disk before anything renames it (never an empty file after a crash); none is
    left when this fails (a full disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def sync_folder(folder: Path) -> None:
    """Put the renames done in `folder` on disk (a power loss then keeps them), where the
    system allows a folder to be synced."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # (some file systems refuse to sync a folder)
            os.fsync(fd)
    finally:
        os.close(fd)


class PairWriteError(OSError):
    """`write_together` failed and could not put every file back: `changed` now hold the new
    data while the others do not (only when a rename and then its undoing both failed)."""

    def __init__(self, cause: OSError, changed: list[Path]) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), cause.filename)
        self.changed = changed


def write_together(paths: list[Path], data: bytes) -> None:
    """Replace every file of `paths` with `data` (mode 0644), all or none: each is written to
    a temporary file beside it first, and only when all are written are they renamed over
    their files. A failure (a full disk, a rename refused, Ctrl-C) leaves the files as they
    were: the ones already renamed are put back from hard links kept of the old files (or
    removed when they are new), and the error is raised again (an OSError: `PairWriteError`
    if putting back failed too). Symbolic links are written through, as `write_atomic` does."""
    # (once each: `rules.json` may be a link to `rules`; compared as real paths, since the
    # names may be relative, or lead through a linked folder)
    unique: dict[str, Path] = {}
    for p in paths:
        unique.setdefault(os.path.realpath(p), _through_link(p))
    targets = list(unique.values())
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path | None] = {}  # target -> hard link to the old file, None: no file
    replaced: list[Path] = []
    try:
        for target in targets:  # (a full disk fails here, before anything is renamed)
            temps[target] = _written_beside(target, data, 0o644)
        for target in targets:
            backups[target] = _hard_link_beside(target) if target.is_file() else None
        for target in targets:
            os.replace(temps[target], target)
            del temps[target]
            replaced.append(target)
        for folder in dict.fromkeys(target.parent for target in targets):
            sync_folder(folder)
    except BaseException as exc:  # (Ctrl-C between the renames too: the pair is put back)
        unrestored = []
        for target in replaced:
            backup = backups.get(target)
            try:
                if backup is None:
                    target.unlink()
                else:
                    os.replace(backup, target)
                    backups[target] = None
            except OSError:
                unrestored.append(target)
        if unrestored and isinstance(exc, OSError):
            raise PairWriteError(exc, unrestored) from exc
        raise
    finally:
        for leftover in [*temps.values(), *(b for b in backups.values() if b is not None)]:
            leftover.unlink(missing_ok=True)


def _hard_link_beside(path: Path) -> Path:
    """A new hard link to `path` in its folder (no data copied: a full disk does not stop it),
    or a copy where the file system has no hard links."""
    while True:
        link = path.with_name(f".{path.name}.old-{os.urandom(6).hex()}")
        try:
            os.link(path, link)
            return link
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            fd, copy = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.old-")
            try:
                with os.fdopen(fd, "wb") as fh, path.open("rb") as old:
                    shutil.copyfileobj(old, fh)
                os.chmod(copy, stat.S_IMODE(path.stat().st_mode))
            except BaseException:
                Path(copy).unlink(missing_ok=True)
                raise
            return Path(copy)
