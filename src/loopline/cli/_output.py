"""How commands show results: JSON for scripts, aligned tables and progress bars for people."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import click

from loopline.core.progress import NO_PROGRESS, Progress, ProgressTask

__all__ = ["echo_json", "echo_table", "git_add_args", "human_size", "terminal_progress"]


def git_add_args(root: Any, files: Sequence[str]) -> str:
    """``files`` (relative to the project ``root``) as arguments to type after ``git add``:
    relative to the current folder, where the user runs git, and quoted for the shell."""
    import os
    import shlex

    shown = dict.fromkeys(os.path.relpath(os.path.join(root, f)) for f in files)
    return " ".join(shlex.quote(name) for name in shown)


def echo_json(data: Any) -> None:
    """``data`` as strict JSON: NaN and infinities become the strings "NaN", "Infinity" and
    "-Infinity", as MLflow's REST API writes them (bare NaN is not JSON)."""
    click.echo(json.dumps(_finite(data), indent=2, sort_keys=False, default=str, allow_nan=False))


def _finite(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table: readable in a terminal, greppable in a pipe."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        click.echo(click.style(line, bold=True) if index == 0 else line)


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


class _RichTask:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._id, amount)

    def set_total(self, total: int) -> None:
        self._progress.update(self._id, total=total)

    def close(self) -> None:
        self._progress.remove_task(self._id)


class _RichProgress:
    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichBar,
        )

        self._bytes = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TimeRemainingColumn(),
            transient=True,
        )
        self._count = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        )

    def task(
        self, description: str, total: int | None = None, *, bytes: bool = False
    ) -> ProgressTask:
        bar = self._bytes if bytes else self._count
        bar.start()
        return _RichTask(bar, bar.add_task(description, total=total))

    def stop(self) -> None:
        self._bytes.stop()
        self._count.stop()


def terminal_progress() -> Progress:
    """Bars on an interactive terminal, nothing otherwise (pipes, CI, --json)."""
    if not sys.stderr.isatty():
        return NO_PROGRESS
    return _RichProgress()
