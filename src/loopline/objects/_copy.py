"""Writing object files: small ones in one system call, big ones past the page cache."""

from __future__ import annotations

import errno
import mmap
import os
import shutil
from pathlib import Path

from loopline.core.errors import IntegrityError
from loopline.core.hashing import hash_bytes
from loopline.objects.odb import PendingObject

__all__ = ["ChangedWhileAdding", "copy_into_object", "write_object_bytes"]

_SMALL = 1024 * 1024
_DIRECT_MIN = 64 * 1024 * 1024
_CHUNK = 8 * 1024 * 1024
_BLOCK = 4096
_NEW_OBJECT = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def write_object_bytes(tmp: Path, data: bytes) -> None:
    fd = os.open(tmp, _NEW_OBJECT, 0o444)  # read-only from birth: no chmod call
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def copy_into_object(item: PendingObject, tmp: Path) -> None:
    """Copy a workspace file, refusing it if it changed since it was hashed."""
    source, oid, size, mtime_ns = item.source, item.oid, item.size, item.mtime_ns
    if size < _SMALL:
        with open(source, "rb") as handle:
            data = handle.read()
        if hash_bytes(data) != oid:
            raise changed_while_adding(source)
        write_object_bytes(tmp, data)
        return
    if size < _DIRECT_MIN or not _copy_direct(source, tmp, size):
        shutil.copyfile(source, tmp)
        tmp.chmod(0o444)
    after = source.stat()
    if after.st_size != size or after.st_mtime_ns != mtime_ns:
        tmp.unlink(missing_ok=True)
        raise changed_while_adding(source)


def _copy_direct(source: Path, tmp: Path, size: int) -> bool:
    """Write with O_DIRECT: the copy skips the page cache, so a big add neither evicts the
    user's working set nor leaves a gigabyte of dirty pages for the final flush. Returns False
    (having written nothing) where the filesystem does not support it."""
    try:
        fd = os.open(tmp, _NEW_OBJECT | os.O_DIRECT, 0o444)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return False
        raise
    try:
        with (
            open(source, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as src,
        ):
            view = memoryview(src)
            try:
                aligned = size - size % _BLOCK
                offset = 0
                while offset < aligned:
                    offset += os.write(fd, view[offset : min(offset + _CHUNK, aligned)])
                if aligned < size:
                    with mmap.mmap(-1, _BLOCK) as tail:  # page-aligned, as O_DIRECT needs
                        tail[: size - aligned] = view[aligned:size]
                        os.write(fd, tail)
                    os.ftruncate(fd, size)
            finally:
                view.release()
    except OSError as exc:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.EINVAL:
            return False
        raise
    os.close(fd)
    return True


class ChangedWhileAdding(IntegrityError):
    """A workspace file's bytes no longer match the hash it was stored under."""


def changed_while_adding(path: Path) -> IntegrityError:
    return ChangedWhileAdding(
        f"{path} changed while it was being added",
        hint="wait until whatever writes it has finished, then add it again",
    )
