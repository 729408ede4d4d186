"""Talking to a Loopline (or MLflow-compatible) tracking server over HTTP.

One keep-alive connection per thread; errors come back as the same ``LooplineError`` classes
a local store raises, so callers cannot tell the two apart.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from typing import Any

from loopline.core.errors import Conflict, InvalidInput, LooplineError, NotFound, RemoteError

__all__ = ["RestSession"]

_ERRORS: dict[str, type[LooplineError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "RESOURCE_ALREADY_EXISTS": Conflict,
    "INVALID_PARAMETER_VALUE": InvalidInput,
    "BAD_REQUEST": InvalidInput,
}


class RestSession:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidInput(f"tracking server URL {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        url = self._prefix + path
        if query:
            url += "?" + urllib.parse.urlencode(
                {k: v for k, v in query.items() if v is not None}, doseq=True
            )
        headers = {"Content-Type": content_type}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    raise RemoteError(
                        f"cannot reach the tracking server at {self.base_url}: {exc}",
                        hint="check that `loopline server` runs there and that "
                        "LOOPLINE_TRACKING_URI is right",
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def call(
        self, method: str, route: str, payload: dict[str, Any] | None = None, **query: Any
    ) -> dict[str, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        status, raw = self.request(method, route, body=body, query=query or None)
        data: Any = {}
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"message": raw.decode(errors="replace")[:500]}
        if status >= 400:
            error = _ERRORS.get(str(data.get("error_code")), RemoteError)
            if status == 401:
                raise RemoteError(
                    f"the tracking server at {self.base_url} refused the request: "
                    f"{data.get('message')}",
                    hint="set LOOPLINE_TRACKING_TOKEN to the server's token",
                )
            raise error(str(data.get("message") or f"HTTP {status} from {self.base_url}{route}"))
        return data if isinstance(data, dict) else {}
