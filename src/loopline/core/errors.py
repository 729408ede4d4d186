"""The exception tree every Loopline capability raises.

::

    LooplineError                 exit 1   anything Loopline reports to a user
    ├── InvalidInput              exit 2   the caller asked for something malformed
    │   └── ConfigError           exit 2   a configuration file or value is wrong
    ├── NotFound                  exit 3   a path, object, remote or record does not exist
    ├── Conflict                  exit 4   the request clashes with existing state
    │   └── LockTimeout           exit 4   another process holds the project lock
    ├── IntegrityError            exit 5   stored bytes no longer match their hash
    ├── RemoteError               exit 6   a remote storage is unreachable or refuses the operation
    ├── StoreError                exit 7   the metadata store failed
    ├── MissingExtra              exit 8   an optional dependency is not installed
    └── CommandFailed             exit 9   a user command (a pipeline stage) exited non-zero

Each message says what happened, to what, and what to do about it; ``hint`` holds the last part
so that faces (CLI, HTTP) can present it separately.
"""

from __future__ import annotations

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


class LooplineError(Exception):
    """Base of every error Loopline reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class InvalidInput(LooplineError):
    exit_code = 2


class ConfigError(InvalidInput):
    pass


class NotFound(LooplineError):
    exit_code = 3


class Conflict(LooplineError):
    exit_code = 4


class LockTimeout(Conflict):
    pass


class IntegrityError(LooplineError):
    exit_code = 5


class RemoteError(LooplineError):
    exit_code = 6


class StoreError(LooplineError):
    exit_code = 7


class MissingExtra(LooplineError):
    exit_code = 8

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package '{module}', which is not installed",
            hint=f"install it with: pip install 'loopline[{extra}]'",
        )
        self.module = module
        self.extra = extra


class CommandFailed(LooplineError):
    """A command Loopline ran for the user failed; ``log_tail`` holds its last output lines."""

    exit_code = 9

    def __init__(self, message: str, *, hint: str | None = None, log_tail: str = "") -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail
