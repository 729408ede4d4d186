"""How long work reports progress without knowing who shows it (a terminal bar, or nothing)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_PROGRESS", "Progress", "ProgressTask"]


class ProgressTask(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def set_total(self, total: int) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def task(
        self, description: str, total: int | None = None, *, bytes: bool = False
    ) -> ProgressTask: ...


class _NoTask:
    def advance(self, amount: int = 1) -> None:
        pass

    def set_total(self, total: int) -> None:
        pass

    def close(self) -> None:
        pass


class _NoProgress:
    def task(
        self, description: str, total: int | None = None, *, bytes: bool = False
    ) -> ProgressTask:
        return _NoTask()


NO_PROGRESS: Progress = _NoProgress()
