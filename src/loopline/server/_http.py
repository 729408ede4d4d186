"""The plumbing shared by every endpoint: parameters in, JSON out, errors in MLflow's shape.

An endpoint is a plain function ``(ctx, params) -> dict`` run off the event loop; the wrapper
reads the JSON body or query string, and maps ``LooplineError`` to a 4xx with
``{"error_code", "message"}``. A client mistake is never a 500.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from loopline.core.errors import Conflict, InvalidInput, LooplineError, NotFound

__all__ = ["Params", "endpoint", "error_response", "json_response"]

log = logging.getLogger(__name__)

_CODES: list[tuple[type[LooplineError], int, str]] = [
    (NotFound, 404, "RESOURCE_DOES_NOT_EXIST"),
    (Conflict, 400, "RESOURCE_ALREADY_EXISTS"),
    (InvalidInput, 400, "INVALID_PARAMETER_VALUE"),
]


class Params:
    """Request parameters with the checks every endpoint needs."""

    def __init__(self, data: Mapping[str, Any], path: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data)
        self.path = dict(path or {})

    def get(self, name: str, default: Any = None) -> Any:
        value = self._data.get(name)
        return default if value is None or value == "" else value

    def require(self, name: str, *aliases: str) -> Any:
        for key in (name, *aliases):
            value = self._data.get(key)
            if value is not None and value != "":
                return value
        raise InvalidInput(f"Missing value for required parameter '{name}'.")

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"parameter '{name}' must be an integer, got {value!r}") from None

    def list(self, name: str) -> list[Any]:
        value = self._data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        return [value]


def _clean(value: Any) -> Any:
    """Proto3 JSON: NaN and infinities travel as strings."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def json_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(_clean(data), allow_nan=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def error_response(exc: LooplineError) -> Response:
    status, code = next(
        ((status, code) for cls, status, code in _CODES if isinstance(exc, cls)),
        (500, "INTERNAL_ERROR"),
    )
    message = exc.message + (f" ({exc.hint})" if exc.hint else "")
    if "cannot change" in exc.message:  # a param re-logged with another value, as MLflow says it
        code = "INVALID_PARAMETER_VALUE"
    return json_response({"error_code": code, "message": message}, status)


async def _read_params(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    if request.method in ("POST", "PATCH", "PUT", "DELETE"):
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidInput(
                    f"Malformed request: the body is not valid JSON ({exc})"
                ) from None
            if not isinstance(body, dict):
                raise InvalidInput("Malformed request: the body must be a JSON object")
            data.update(body)
    return data


Handler = Callable[[Any, Params], Any]


def endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        ctx = request.app.state.ctx
        try:
            params = Params(await _read_params(request), request.path_params)
            result = await run_in_threadpool(fn, ctx, params)
        except LooplineError as exc:
            return error_response(exc)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # A body of the right syntax but the wrong shape (a list where a string belongs...).
            return json_response(
                {"error_code": "INVALID_PARAMETER_VALUE", "message": f"Malformed request: {exc}"},
                400,
            )
        if isinstance(result, Response):
            return result
        return json_response(result if result is not None else {})

    handle.__name__ = fn.__name__
    handle.__doc__ = fn.__doc__
    return handle
