"""The servers under test: how each is installed, how it stores the models, how it starts.

Every peer lives in its own virtualenv under ``bench/.venvs/<peer>`` (``uv venv`` + ``uv pip
install`` on first use, with the scikit-learn version of Loopline's venv so the models are
equivalent) and writes the same fitted estimators in its own format:

- ``mlflow``: ``mlflow.sklearn.save_model`` (skops, with the types it finds listed as trusted),
  served by ``mlflow models serve --env-manager local -w N`` with its venv's ``bin`` first on
  PATH (it starts ``uvicorn`` from PATH) and uvicorn's access log off through its environment
  (``UVICORN_ACCESS_LOG=false``). Protocol: ``/invocations`` with ``dataframe_split``.
- ``mlserver``: ``joblib.dump`` + ``model-settings.json`` for ``mlserver_sklearn.SKLearnModel``
  with adaptive batching, ``parallel_workers = N``, ``debug = false``; ``uvloop==0.21.0`` (0.23
  crashes MLServer 1.7.1's inference worker). Protocol: KServe V2.
- ``bentoml`` (optional): ``bentoml.sklearn.save_model`` and a one-method service,
  ``@bentoml.service(workers=N, logging={"access": {"enabled": False}})``. Protocol:
  ``POST /predict {"rows": ...}``.
- ``bare``: a pure ASGI app under uvicorn (Loopline's venv: uvloop + httptools) that reads the
  body and returns a constant JSON: the ceiling of the Python HTTP stack here.
- ``starlette``: the same constant answer through a Starlette route (what a framework costs).
- ``loopline``: ``loopline serve`` on the folder ``loopline.sklearn.save_model`` wrote; V2, and
  MLflow's ``/invocations`` as an extra row.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _serving_models import BENTOML, FEATURES, INVOCATIONS, V2, FittedModel, Protocol
from _serving_procs import free_port, pinned_env

__all__ = ["BatchSettings", "Launch", "Server", "make_servers"]

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"
LOOPLINE_BIN = REPO / ".venv" / "bin"


@dataclass(frozen=True)
class BatchSettings:
    """Adaptive batching, given alike to MLServer and Loopline."""

    max_batch_size: int
    max_batch_delay_ms: float


@dataclass(frozen=True)
class Launch:
    """One way to start one server for one model, and the request it answers."""

    cmd: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    paths: dict[str, str]  # row label ("v2", "invocations", ...) -> request path


class SetupFailed(RuntimeError):
    pass


def _run(cmd: Sequence[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(cmd), env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SetupFailed(f"{' '.join(map(str, cmd[:4]))} ... failed ({proc.returncode}):\n{tail}")
    return proc.stdout


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


@dataclass
class Server:
    """A server kind. Subclasses say how to install, save the models and start."""

    name: str
    protocols: dict[str, Protocol]  # row label -> body protocol
    packages: list[str] = field(default_factory=list)
    optional: bool = False
    workdir: Path = BENCH / ".work" / "serving"

    @property
    def venv(self) -> Path:
        return VENVS / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def ensure(self, log: Callable[[str], None] = print) -> None:
        """Create the peer's venv on first use (uv venv + uv pip install)."""
        marker = self.venv / ".bench-installed"
        wanted = "\n".join(self.packages)
        if marker.is_file() and marker.read_text() == wanted:
            return
        uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
        if not Path(uv).exists():
            raise SetupFailed("uv is needed to make the peers' venvs (pip install uv)")
        log(f"installing {' '.join(self.packages)} into {self.venv.relative_to(REPO)} ...")
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        _run([uv, "venv", "-q", "--allow-existing", "--python", python, str(self.venv)])
        _run([uv, "pip", "install", "-q", "--python", str(self.python), *self.packages])
        marker.write_text(wanted)

    def version(self) -> str:
        return "?"

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        """Write each model in this tool's own format (once per benchmark run)."""

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        raise NotImplementedError

    def describe(self, workers: int, batch: BatchSettings) -> str:
        return f"{workers} worker(s)"

    def _folder(self, *parts: str) -> Path:
        return self.workdir / self.name / Path(*parts)

    def _package_version(self, package: str) -> str:
        code = f"from importlib.metadata import version; print(version({package!r}))"
        return _run([str(self.python), "-c", code]).strip()


# -- mlflow models serve ----------------------------------------------------------------------

MLFLOW_SAVE = """
import json, pickle, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import mlflow.sklearn
import skops.io

estimator = pickle.loads(open(sys.argv[1], "rb").read())
example = pd.DataFrame(**json.loads(open(sys.argv[2]).read()))
trusted = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
mlflow.sklearn.save_model(
    estimator, sys.argv[3], serialization_format="skops",
    skops_trusted_types=trusted, input_example=example,
)
"""


class MlflowServe(Server):
    def __init__(self) -> None:
        super().__init__(
            "mlflow",
            {"invocations": INVOCATIONS},
            ["mlflow[extras]==3.17.2", f"scikit-learn=={_sklearn_version()}"],
        )

    def version(self) -> str:
        return self._package_version("mlflow")

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        for model in models:
            folder = self._folder(model.name)
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            cmd = [str(self.python), "-c", MLFLOW_SAVE, str(model.pickle_path), str(example)]
            _run([*cmd, str(folder)], env=pinned_env())

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        port, bin_dir = free_port(), self.venv / "bin"
        cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(self._folder(model.name))]
        cmd += ["-h", "127.0.0.1", "-p", str(port), "-w", str(workers), "--env-manager", "local"]
        env = pinned_env({"UVICORN_ACCESS_LOG": "false"}, path_first=bin_dir)  # no access log
        return Launch(cmd, env, self._folder(), port, {"invocations": "/invocations"})

    def describe(self, workers: int, batch: BatchSettings) -> str:
        return f"-w {workers} (uvicorn workers), access log off (UVICORN_ACCESS_LOG=false)"


# -- MLServer ----------------------------------------------------------------------------------

MLSERVER_SAVE = """
import pickle, sys
import joblib

joblib.dump(pickle.loads(open(sys.argv[1], "rb").read()), sys.argv[2])
"""


class MLServer(Server):
    def __init__(self) -> None:
        super().__init__(
            "mlserver",
            {"v2": V2},
            [
                "mlserver",
                "mlserver-sklearn",
                "uvloop==0.21.0",
                f"scikit-learn=={_sklearn_version()}",
            ],
        )

    def version(self) -> str:
        return self._package_version("mlserver")

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        for model in models:
            folder = self._folder(model.name, model.name)
            shutil.rmtree(folder.parent, ignore_errors=True)
            folder.mkdir(parents=True)
            _run(
                [
                    str(self.python),
                    "-c",
                    MLSERVER_SAVE,
                    str(model.pickle_path),
                    str(folder / "model.joblib"),
                ]
            )

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        root = self._folder(model.name)
        port = free_port()
        settings = {
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "parallel_workers": workers,
            "debug": False,
            "environments_dir": str(root / "envs"),
        }
        model_settings = {
            "name": model.name,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "max_batch_size": batch.max_batch_size,
            "max_batch_time": batch.max_batch_delay_ms / 1000,
            "parameters": {"uri": "./model.joblib", "version": "v1"},
        }
        (root / "settings.json").write_text(json.dumps(settings, indent=2))
        (root / model.name / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
        bin_dir = self.venv / "bin"
        cmd = [str(bin_dir / "mlserver"), "start", str(root)]
        path = f"/v2/models/{model.name}/infer"
        return Launch(cmd, pinned_env(path_first=bin_dir), root, port, {"v2": path})

    def describe(self, workers: int, batch: BatchSettings) -> str:
        return (
            f"parallel_workers={workers} (+1 HTTP process), adaptive batching "
            f"max_batch_size={batch.max_batch_size} max_batch_time={batch.max_batch_delay_ms:g} ms"
        )


# -- BentoML -----------------------------------------------------------------------------------

BENTOML_SAVE = """
import pickle, sys
import bentoml

estimator = pickle.loads(open(sys.argv[1], "rb").read())
bentoml.sklearn.save_model(sys.argv[2], estimator)
"""

BENTOML_SERVICE = '''\
"""A one-method BentoML service for the serving benchmark (written by bench/_serving_peers.py)."""
import os

import bentoml
import numpy as np

MODEL = os.environ["CHURN_MODEL"]


@bentoml.service(
    workers=int(os.environ.get("CHURN_WORKERS", "1")), logging={"access": {"enabled": False}}
)
class Churn:
    def __init__(self) -> None:
        self.model = bentoml.sklearn.load_model(f"{MODEL}:latest")

    @bentoml.api
    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict(rows)
'''


class BentoMLServe(Server):
    def __init__(self) -> None:
        super().__init__(
            "bentoml",
            {"bentoml": BENTOML},
            ["bentoml", f"scikit-learn=={_sklearn_version()}"],
            optional=True,
        )

    def version(self) -> str:
        return self._package_version("bentoml")

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        home = {"BENTOML_HOME": str(self._folder("home"))}
        return pinned_env({**home, **(extra or {})}, path_first=self.venv / "bin")

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        shutil.rmtree(self._folder(), ignore_errors=True)
        self._folder().mkdir(parents=True)
        (self._folder() / "service.py").write_text(BENTOML_SERVICE)
        for model in models:
            cmd = [str(self.python), "-c", BENTOML_SAVE, str(model.pickle_path), model.name]
            _run(cmd, env=self._env())

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        port = free_port()
        cmd = [str(self.venv / "bin" / "bentoml"), "serve", "service:Churn"]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        env = self._env({"CHURN_MODEL": model.name, "CHURN_WORKERS": str(workers)})
        return Launch(cmd, env, self._folder(), port, {"bentoml": "/predict"})

    def describe(self, workers: int, batch: BatchSettings) -> str:
        return f"@bentoml.service(workers={workers}), access log off"


# -- the bare ASGI ceiling -----------------------------------------------------------------------

BARE_APP = '''\
"""The ceiling: read the body, answer a constant JSON (written by bench/_serving_peers.py)."""

ANSWER = (
    b'{"model_name":"bare","outputs":'
    b'[{"name":"predict","shape":[1],"datatype":"INT64","data":[0]}]}'
)
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
'''


class BareUvicorn(Server):
    def __init__(self) -> None:
        super().__init__("bare", {"v2": V2})

    @property
    def venv(self) -> Path:
        return LOOPLINE_BIN.parent

    def ensure(self, log: Callable[[str], None] = print) -> None:
        pass

    def version(self) -> str:
        return "uvicorn " + self._package_version("uvicorn")

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        self._folder().mkdir(parents=True, exist_ok=True)
        (self._folder() / "bare_app.py").write_text(BARE_APP)

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        port = free_port()
        cmd = [str(LOOPLINE_BIN / "uvicorn"), "bare_app:app", "--app-dir", str(self._folder())]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        cmd += ["--no-access-log", "--log-level", "warning"]
        return Launch(cmd, pinned_env(), self._folder(), port, {"v2": "/v2/models/bare/infer"})

    def describe(self, workers: int, batch: BatchSettings) -> str:
        return f"uvicorn --workers {workers} (uvloop, httptools), pure ASGI constant answer"


STARLETTE_APP = '''\
"""A constant answer through a Starlette route (written by bench/_serving_peers.py)."""
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = b'{"outputs":[{"name":"predict","shape":[1],"datatype":"INT64","data":[0]}]}'


async def infer(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/v2/models/{name}/infer", infer, methods=["POST"])])
'''


class BareStarlette(BareUvicorn):
    """The same constant answer, through a Starlette route: what a framework adds."""

    def __init__(self) -> None:
        Server.__init__(self, "starlette", {"v2": V2})

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        self._folder().mkdir(parents=True, exist_ok=True)
        (self._folder() / "starlette_app.py").write_text(STARLETTE_APP)

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        launch = super().launch(model, workers, batch)
        cmd = [c.replace("bare_app:app", "starlette_app:app") for c in launch.cmd]
        return Launch(cmd, launch.env, launch.cwd, launch.port, launch.paths)

    def describe(self, workers: int, batch: BatchSettings) -> str:
        return f"uvicorn --workers {workers}, a Starlette route answering a constant"


# -- Loopline ----------------------------------------------------------------------------------


class LooplineServe(Server):
    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        super().__init__("loopline", {"v2": V2, "invocations": INVOCATIONS})
        self.extra_args = list(extra_args)

    @property
    def venv(self) -> Path:
        return LOOPLINE_BIN.parent

    def ensure(self, log: Callable[[str], None] = print) -> None:
        help_run = subprocess.run(
            [str(LOOPLINE_BIN / "loopline"), "serve", "--help"], capture_output=True, check=False
        )
        if help_run.returncode != 0:
            raise SetupFailed("`loopline serve --help` fails: the serve command is not there yet")

    def version(self) -> str:
        return self._package_version("loopline")

    def prepare(self, models: Sequence[FittedModel], example: Path) -> None:
        import pickle

        import pandas as pd

        import loopline

        frame = pd.DataFrame(**json.loads(example.read_text()))
        for model in models:
            folder = self._folder(model.name)
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            estimator = pickle.loads(model.pickle_path.read_bytes())
            loopline.sklearn.save_model(estimator, folder, input_example=frame[FEATURES])

    def launch(self, model: FittedModel, workers: int, batch: BatchSettings) -> Launch:
        port = free_port()
        cmd = [str(LOOPLINE_BIN / "loopline"), "serve", str(self._folder(model.name))]
        cmd += ["--name", model.name, "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(workers), "--max-batch-size", str(self._rows(batch))]
        cmd += ["--max-batch-delay-ms", f"{batch.max_batch_delay_ms:g}", *self.extra_args]
        paths = {"v2": f"/v2/models/{model.name}/infer", "invocations": "/invocations"}
        return Launch(cmd, pinned_env(), self._folder(), port, paths)

    @staticmethod
    def _rows(batch: BatchSettings) -> int:
        """MLServer's max_batch_size counts requests, Loopline's counts rows: Loopline gets its
        own default (256 rows) or four times the request count, whichever is larger."""
        return max(256, batch.max_batch_size * 4)

    def describe(self, workers: int, batch: BatchSettings) -> str:
        extra = f" {' '.join(self.extra_args)}" if self.extra_args else ""
        return (
            f"--workers {workers} --max-batch-size {self._rows(batch)} "
            f"--max-batch-delay-ms {batch.max_batch_delay_ms:g}{extra}"
        )


def make_servers(loopline_args: Sequence[str] = ()) -> dict[str, Server]:
    """Every server kind, peers first (they are measured first), then the ceiling and Loopline."""
    servers: list[Server] = [
        MlflowServe(),
        MLServer(),
        BentoMLServe(),
        BareUvicorn(),
        BareStarlette(),
        LooplineServe(loopline_args),
    ]
    return {s.name: s for s in servers}
