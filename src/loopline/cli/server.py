"""``loopline server``: the tracking server (MLflow-compatible REST API + artifact proxy)."""

from __future__ import annotations

import os

import click

from loopline.core.errors import InvalidInput

__all__ = ["server_command"]


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--store",
    "store_url",
    help="Metadata store URL (default: the project's store, else LOOPLINE_STORE_URL).",
)
@click.option(
    "--artifacts",
    "artifacts_root",
    help="Artifact root folder or URL (default: 'artifacts' beside a SQLite store, else the "
    "project's .loopline/artifacts, else ./loopline-artifacts).",
)
@click.option(
    "--token", envvar="LOOPLINE_SERVER_TOKEN", help="Require 'Authorization: Bearer TOKEN'."
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def server_command(
    host: str,
    port: int,
    store_url: str | None,
    artifacts_root: str | None,
    token: str | None,
    workers: int,
) -> None:
    """Serve tracking and the registry over HTTP.

    Point the mlflow client at it with MLFLOW_TRACKING_URI=http://HOST:PORT (and
    MLFLOW_TRACKING_TOKEN when --token is set); Loopline's own REST API is under /api/v1
    (OpenAPI schema at /api/v1/openapi.json).
    """
    import uvicorn

    from loopline.server._context import ServerSettings
    from loopline.server._factory import settings_to_environment
    from loopline.tracking._uri import resolve_tracking_uri

    default = resolve_tracking_uri(store_url)
    if default.server_url:
        raise InvalidInput(
            f"the store {default.uri} is a tracking server's address, not a database",
            hint="pass --store with a database URL such as sqlite:///path/store.db or "
            "postgresql+psycopg://user@host/db (and unset LOOPLINE_TRACKING_URI for the server)",
        )
    settings = ServerSettings(
        store_url=default.store_url,
        artifacts_root=artifacts_root or default.artifact_root,
        token=token,
    )
    if "://" not in settings.artifacts_root:
        os.makedirs(settings.artifacts_root, exist_ok=True)
    os.environ.update(settings_to_environment(settings))
    from loopline.store import open_store

    open_store(settings.store_url).close()  # migrate once, before workers start
    click.echo(
        f"Loopline tracking server on http://{host}:{port} (store {settings.store_url})", err=True
    )
    uvicorn.run(
        "loopline.server._factory:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
