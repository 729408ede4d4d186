"""Building the app inside each uvicorn worker process from settings passed by environment."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from loopline.server._context import ServerSettings
from loopline.server.app import create_app

__all__ = ["app_from_environment", "settings_to_environment"]

_PREFIX = "LOOPLINE_SERVER_"


def settings_to_environment(settings: ServerSettings) -> dict[str, str]:
    env = {f"{_PREFIX}STORE": settings.store_url, f"{_PREFIX}ARTIFACTS": settings.artifacts_root}
    if settings.token:
        env[f"{_PREFIX}TOKEN"] = settings.token
    return env


def app_from_environment() -> Starlette:
    return create_app(
        ServerSettings(
            store_url=os.environ[f"{_PREFIX}STORE"],
            artifacts_root=os.environ[f"{_PREFIX}ARTIFACTS"],
            token=os.environ.get(f"{_PREFIX}TOKEN") or None,
        )
    )
