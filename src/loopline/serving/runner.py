"""Running the inference app: one process, or N uvicorn worker processes sharing the port.

uvicorn's supervisor replaces a worker that dies and drains in-flight requests on SIGTERM or
Ctrl-C. Each worker loads the models itself; settings reach it as one environment variable. BLAS
and OpenMP are pinned to one thread per worker: on a busy machine their default thread pools
make a one-row prediction many times slower.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from typing import Any

from loopline.core.errors import Conflict
from loopline.serving.settings import ENV_VAR, ServeSettings

__all__ = ["app_from_environment", "listen", "pin_native_threads", "serve"]

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
GRACEFUL_SHUTDOWN_S = 30


def pin_native_threads() -> None:
    """One BLAS/OpenMP thread per process unless the user chose otherwise (before NumPy loads)."""
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def serve(settings: ServeSettings, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until interrupted. Models are checked (one worker: loaded) and the port is bound
    before ``on_ready`` is called, so a model that cannot load or a port in use is reported as
    one error and nothing claims to be serving."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    pin_native_threads()
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "backlog": 4096,
        "server_header": False,
        "proxy_headers": False,  # a model server answers its clients, not a proxy's
    }
    if settings.workers == 1:
        from loopline.serving.app import create_app

        app = create_app(settings)
        app.repository.load_all()
        sock = listen(settings.host, settings.port)
        server = uvicorn.Server(uvicorn.Config(app, **common))
        if on_ready is not None:
            on_ready()
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
        return
    from loopline.serving.repository import ModelRepository

    ModelRepository(settings, make_batcher=_no_batcher).check()
    sock = listen(settings.host, settings.port)
    metrics_dir = tempfile.mkdtemp(prefix="loopline-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ[ENV_VAR] = settings.to_json()
    config = uvicorn.Config(
        "loopline.serving.runner:app_from_environment",
        factory=True,
        workers=settings.workers,
        **common,
    )
    try:
        if on_ready is not None:
            on_ready()
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[sock]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn listens on it), or a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Conflict(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="another process may hold the port; choose another with --port",
        ) from None
    sock.set_inheritable(True)  # worker processes listen on it too
    return sock


def _no_batcher(model: object) -> Any:
    raise AssertionError("check() loads no model")


def app_from_environment() -> object:
    """The app of one worker process (called by uvicorn in each worker)."""
    from loopline.serving.app import create_app

    return create_app(ServeSettings.from_json(os.environ[ENV_VAR]))
