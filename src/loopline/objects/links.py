"""Putting an object's bytes at a workspace path: reflink, copy, hardlink or symlink."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from pathlib import Path

from loopline.core.atomic import temp_path_for

__all__ = ["link_object"]

_FICLONE = 0x40049409
_SMALL = 1024 * 1024
_NOT_SUPPORTED = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EINVAL, errno.ENOTTY}
_unsupported: set[str] = set()


def _reflink(src: Path, dst: Path) -> None:
    with open(src, "rb") as s, open(dst, "wb") as d:
        fcntl.ioctl(d.fileno(), _FICLONE, s.fileno())


def _copy(src: Path, dst: Path) -> None:
    if src.stat().st_size < _SMALL:
        with open(src, "rb") as s:
            data = s.read()
        with open(dst, "wb") as d:
            d.write(data)
    else:
        shutil.copyfile(src, dst)


def _place(kind: str, src: Path, dst: Path) -> None:
    if kind == "reflink":
        _reflink(src, dst)
    elif kind == "copy":
        _copy(src, dst)
    elif kind == "hardlink":
        os.link(src, dst)
    elif kind == "symlink":
        os.symlink(src, dst)
    else:  # pragma: no cover - settings validate link types
        raise ValueError(kind)


def link_object(src: Path, dst: Path, link_types: tuple[str, ...], *, executable: bool) -> str:
    """Make ``dst`` hold the object at ``src`` with the first link type the filesystem allows.

    The new file appears atomically: it is built under a temporary name and renamed over ``dst``,
    so an interrupted checkout never leaves a half-written workspace file. Returns the link type
    used.
    """
    last_error: OSError | None = None
    for kind in link_types:
        if kind in _unsupported:
            continue
        tmp = temp_path_for(dst)
        try:
            _place(kind, src, tmp)
            if kind in ("reflink", "copy"):
                os.chmod(tmp, 0o755 if executable else 0o644)
            os.replace(tmp, dst)
            return kind
        except OSError as exc:
            _cleanup(tmp)
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


def _cleanup(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
