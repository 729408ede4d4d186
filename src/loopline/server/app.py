"""``create_app(settings)``: the tracking server's ASGI app (nothing is built at import time)."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from loopline import __version__
from loopline.server import (
    artifacts,
    mlflow_logged_models,
    mlflow_registry,
    mlflow_tracking,
    native,
)
from loopline.server._context import ServerContext, ServerSettings
from loopline.server._http import json_response

__all__ = ["create_app"]

_OPEN_PATHS = frozenset({"/health", "/version"})


class BearerTokenAuth:
    """Every request except health checks needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in _OPEN_PATHS:
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = JSONResponse(
                    {"error_code": "UNAUTHENTICATED", "message": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    return PlainTextResponse(__version__)


async def server_info(request: Request) -> Response:
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
        }
    )


async def _not_found(request: Request, exc: Exception) -> Response:
    return json_response(
        {
            "error_code": "ENDPOINT_NOT_FOUND",
            "message": f"no endpoint {request.method} {request.url.path}",
        },
        404,
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return json_response(
        {
            "error_code": "BAD_REQUEST",
            "message": f"{request.method} is not allowed on {request.url.path}",
        },
        405,
    )


async def _internal(request: Request, exc: Exception) -> Response:
    import logging

    logging.getLogger(__name__).exception(
        "unexpected error on %s %s", request.method, request.url.path
    )
    return json_response(
        {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}, 500
    )


def create_app(settings: ServerSettings, context: ServerContext | None = None) -> Starlette:
    routes: list[Any] = [
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        Route("/api/2.0/mlflow/server-info", server_info, methods=["GET"]),
        *mlflow_tracking.routes(),
        *mlflow_logged_models.routes(),
        *mlflow_registry.routes(),
        *artifacts.routes(),
        *native.routes(),
    ]
    middleware = [Middleware(BearerTokenAuth, token=settings.token)] if settings.token else []
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: _not_found, 405: _method_not_allowed, 500: _internal},
    )
    app.state.ctx = context or ServerContext.open(settings)
    return app
