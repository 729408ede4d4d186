"""Shared foundations: configuration, errors, hashing, project layout, atomic writes, locking.

Owns: the ``LooplineError`` tree (:mod:`loopline.core.errors`), settings merged from files,
environment and flags (:mod:`loopline.core.config`), BLAKE3 hashing, the on-disk layout of a
project, atomic writes and the project lock.

May import: the standard library and small third-party packages (PyYAML, blake3), lazily.
Nothing of Loopline's own: every other package imports ``core``, never the reverse.
"""

from loopline.core.errors import (
    CommandFailed,
    ConfigError,
    Conflict,
    IntegrityError,
    InvalidInput,
    LockTimeout,
    LooplineError,
    MissingExtra,
    NotFound,
    RemoteError,
    StoreError,
)

__all__ = [
    "CommandFailed",
    "ConfigError",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "LockTimeout",
    "LooplineError",
    "MissingExtra",
    "NotFound",
    "RemoteError",
    "StoreError",
]
