"""The artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``): clients upload and download
run artifacts through the server, which keeps them under its artifact root. Paths can never
leave that root (``..``, absolute paths and symlinks out are refused)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loopline.core.errors import InvalidInput, LooplineError
from loopline.server._http import error_response, json_response
from loopline.tracking.artifacts import ArtifactRepository, safe_artifact_path

__all__ = ["routes"]

_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


def _repo(request: Request) -> ArtifactRepository:
    return ArtifactRepository(request.app.state.ctx.settings.artifacts_root)


async def upload(request: Request) -> Response:
    try:
        path = safe_artifact_path(request.path_params["path"])
        if not path:
            raise InvalidInput("an upload needs a file path")
        limit = request.app.state.ctx.settings.max_body_bytes
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return json_response(
                    {
                        "error_code": "INVALID_PARAMETER_VALUE",
                        "message": f"artifact larger than {limit} bytes",
                    },
                    413,
                )
            chunks.append(chunk)
        await run_in_threadpool(_repo(request).write_bytes, path, b"".join(chunks))
    except LooplineError as exc:
        return error_response(exc)
    return json_response({})


async def download(request: Request) -> Response:
    try:
        path = safe_artifact_path(request.path_params["path"])
        data = await run_in_threadpool(_repo(request).read_bytes, path)
    except LooplineError as exc:
        return error_response(exc)
    return Response(data, media_type="application/octet-stream")


async def listing(request: Request) -> Response:
    try:
        path = safe_artifact_path(request.query_params.get("path", ""))
        infos = await run_in_threadpool(_repo(request).list_artifacts, path)
    except LooplineError as exc:
        return error_response(exc)
    if not infos:
        return json_response({})
    cut = len(path) + 1 if path else 0
    return json_response(
        {
            "files": [
                {
                    "path": i.path[cut:],
                    "is_dir": i.is_dir,
                    **({} if i.is_dir else {"file_size": i.file_size}),
                }
                for i in infos
            ]
        }
    )


async def remove(request: Request) -> Response:
    return json_response(
        {"error_code": "INVALID_PARAMETER_VALUE", "message": "deleting artifacts is not supported"},
        400,
    )


def routes() -> list[Route]:
    return [
        Route(_PREFIX, listing, methods=["GET"]),
        Route(_PREFIX + "/{path:path}", upload, methods=["PUT"]),
        Route(_PREFIX + "/{path:path}", download, methods=["GET"]),
        Route(_PREFIX + "/{path:path}", remove, methods=["DELETE"]),
    ]
