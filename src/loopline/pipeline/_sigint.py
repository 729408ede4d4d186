"""Ctrl-C while ``repro`` runs: the first press stops it, later presses cannot cut the clean-up.

The first SIGINT raises ``KeyboardInterrupt`` as usual; from then on (and while :meth:`hold` is
in force) further presses are ignored, so putting back the outs the lock records always
finishes. Inside :meth:`deferred` (a stage whose command finished is having its outs stored and
written to the lock) a press waits until the block ends, so the stage is either fully committed
or, with its command still running, fully undone; never half of each.

Only Python's own Ctrl-C handler (or the command line's, :mod:`loopline.core.interrupts`) is
replaced, and only from the main thread: a program that installed its own, or a background job
that ignores SIGINT, keeps what it has.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from loopline.core.interrupts import note_stopping, stop_once

__all__ = ["InterruptGuard"]


class InterruptGuard:
    def __init__(self) -> None:
        self.stopping = False
        self._pending = False
        self._deferring = 0
        self._previous: Any = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(
            signal.SIGINT
        ) in (signal.default_int_handler, stop_once):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def hold(self) -> None:
        """Clean-up starts: ignore Ctrl-C from now on."""
        self.stopping = True
        note_stopping()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Run the block to its end even if Ctrl-C is pressed; stop right after it."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if self._pending and not self._deferring and not self.stopping:
            self._pending = False
            self.hold()
            raise KeyboardInterrupt

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        if self._deferring:
            self._pending = True
            return
        self.hold()
        raise KeyboardInterrupt
