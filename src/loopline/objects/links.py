"""Putting an object's bytes at a workspace path: reflink, copy, hardlink or symlink."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from loopline.core.atomic import temp_path_for

__all__ = ["place_object"]

_FICLONE = 0x40049409
_SMALL = 1024 * 1024
_NOT_SUPPORTED = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EINVAL, errno.ENOTTY}
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
# Link types that failed on this machine; not retried for every file.
_unsupported: set[str] = set()


def _file_mode(executable: bool) -> int:
    return 0o777 if executable else 0o666  # the umask trims these, as for any new file


def _copy(src: Path, dst: Path, executable: bool) -> os.stat_result:
    """Copy with as few system calls as possible: most tracked files are small."""
    fd_in = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd_in).st_size
        fd_out = os.open(dst, _NEW_FILE, _file_mode(executable))
        try:
            if size < _SMALL:
                os.write(fd_out, os.read(fd_in, size + 1))
            else:
                _kernel_copy(fd_in, fd_out, size)
            return os.fstat(fd_out)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def _kernel_copy(fd_in: int, fd_out: int, size: int) -> None:
    """Copy inside the kernel (no round trip through Python), falling back to sendfile."""
    copied = 0
    while copied < size:
        try:
            sent = os.copy_file_range(fd_in, fd_out, size - copied)
        except OSError:
            sent = os.sendfile(fd_out, fd_in, copied, size - copied)
        if sent == 0:
            break
        copied += sent


def _reflink(src: Path, dst: Path, executable: bool) -> os.stat_result:
    fd_in = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd_out = os.open(dst, _NEW_FILE, _file_mode(executable))
        try:
            fcntl.ioctl(fd_out, _FICLONE, fd_in)
            return os.fstat(fd_out)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def _place(kind: str, src: Path, dst: Path, executable: bool) -> os.stat_result:
    if kind == "copy":
        return _copy(src, dst, executable)
    if kind == "reflink":
        return _reflink(src, dst, executable)
    if kind == "hardlink":
        os.link(src, dst)
    elif kind == "symlink":
        os.symlink(src, dst)
    else:  # pragma: no cover - settings validate link types
        raise ValueError(kind)
    return os.stat(dst)


def place_object(
    src: Path,
    dst: Path,
    link_types: tuple[str, ...],
    *,
    executable: bool,
    replace: bool = True,
    temp_dir: Path | None = None,
) -> os.stat_result:
    """Make ``dst`` hold the object at ``src`` with the first link type the filesystem allows.

    With ``replace`` the file is built under a temporary name and renamed over ``dst``, so an
    interrupted checkout never leaves a half-written file in its place. Without it ``dst`` must
    not exist: the caller builds inside a temporary folder that is renamed as a whole.
    ``temp_dir`` (on the same filesystem) holds the temporary names, so that a killed process
    leaves its debris there rather than in the workspace. Returns the stat of the new file.
    """
    last_error: OSError | None = None
    for kind in link_types:
        if kind in _unsupported:
            continue
        if not replace:
            target = dst
        elif temp_dir is not None:
            target = temp_dir / os.urandom(16).hex()
        else:
            target = temp_path_for(dst)
        try:
            st = _place(kind, src, target, executable)
            if replace:
                os.replace(target, dst)
            return st
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            if exc.errno in _NOT_SUPPORTED or (kind == "hardlink" and exc.errno == errno.EMLINK):
                _unsupported.add(kind)
                last_error = exc
                continue
            raise
    raise OSError(
        errno.EOPNOTSUPP,
        f"none of the link types {', '.join(link_types)} works here ({last_error}); "
        "add 'copy' to cache.type",
    )
