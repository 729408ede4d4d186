"""Ctrl-C in the command line: the first press stops the command, later presses are ignored.

A command that cleans up after Ctrl-C (``repro`` puts back the outs the lock records) must not
be cut short by an impatient second press, nor should the message saying what it did be lost
to a traceback. The CLI installs :func:`stop_once` as its SIGINT handler; code that turns
Ctrl-C into a clean stop itself (``repro``'s guard) calls :func:`note_stopping` so that the
CLI's handler stays quiet once it hands back.
"""

from __future__ import annotations

from types import FrameType

__all__ = ["note_stopping", "stop_once"]

_stopping = False


def stop_once(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler: ``KeyboardInterrupt`` the first time, nothing after."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    raise KeyboardInterrupt


def note_stopping() -> None:
    """The process is stopping after Ctrl-C: :func:`stop_once` ignores further presses."""
    global _stopping
    _stopping = True
