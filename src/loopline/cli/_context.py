"""Opening the project workspace for a command, with the command's setting overrides."""

from __future__ import annotations

from typing import Any

import click

from loopline.data.workspace import Workspace

__all__ = ["open_workspace"]


def open_workspace(ctx: click.Context, **flags: Any) -> Workspace:
    overrides = dict((ctx.find_root().obj or {}).get("overrides", {}))
    overrides.update({k: v for k, v in flags.items() if v is not None})
    return Workspace(overrides=overrides)
