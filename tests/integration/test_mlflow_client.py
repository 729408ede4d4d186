"""The unmodified mlflow client against a real `loopline server` process (SQLite, PostgreSQL)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LOOPLINE


@dataclass
class Server:
    url: str
    port: int
    artifacts: Path
    store_url: str
    token: str | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    store_url: str, tmp_path: Path, token: str | None = None
) -> tuple[subprocess.Popen[bytes], Server]:
    port = _free_port()
    artifacts = tmp_path / "server-artifacts"
    cmd = [
        LOOPLINE,
        "server",
        "--port",
        str(port),
        "--store",
        store_url,
        "--artifacts",
        str(artifacts),
    ]
    if token:
        cmd += ["--token", token]
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, Server(
                        f"http://127.0.0.1:{port}", port, artifacts, store_url, token
                    )
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail("server did not start: " + (tmp_path / "server.log").read_text()[-2000:])


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    proc, srv = _start(store_url, tmp_path)
    yield srv
    proc.terminate()
    proc.wait(10)


SEED = textwrap.dedent(
    """
    import json, math, mlflow, pandas as pd
    from mlflow import MlflowClient
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    X = pd.DataFrame(X, columns=["tenure", "charges", "calls", "age"])
    mlflow.set_experiment("customer_churn")
    with mlflow.start_run() as run:
        mlflow.log_param("learning_rate", 0.01)
        model = LogisticRegression().fit(X, y)
        accuracy = model.score(X, y)
        mlflow.log_metric("accuracy", accuracy)
        mlflow.log_metrics({"loss": 0.5, "nan_metric": float("nan")}, step=3)
        mlflow.set_tags({"team": "ml", "stage": "dev"})
        mlflow.log_dict({"C": 1.0}, "config/params.json")
        info = mlflow.sklearn.log_model(model, name="model", input_example=X[:3])
    version = mlflow.register_model(info.model_uri, "churn")
    client = MlflowClient()
    client.set_registered_model_alias("churn", "champion", version.version)
    loaded = mlflow.pyfunc.load_model("models:/churn@champion")
    same = bool((loaded.predict(X[:20]) == model.predict(X[:20])).all())
    found = mlflow.search_runs(
        filter_string="metrics.accuracy > 0.5 and params.learning_rate = '0.01' "
        "and tags.team LIKE 'm%'"
    )
    none = mlflow.search_runs(filter_string="metrics.accuracy > 2")
    got = client.get_run(run.info.run_id)
    print(json.dumps({
        "run_id": run.info.run_id,
        "version": version.version,
        "same_predictions": same,
        "found": list(found["run_id"]),
        "none": len(none),
        "history": [m.value for m in client.get_metric_history(run.info.run_id, "accuracy")],
        "nan": math.isnan(got.data.metrics["nan_metric"]),
        "params": got.data.params,
        "status": got.info.status,
        "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
        "config": mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config/params.json"),
        "alias_version": client.get_model_version_by_alias("churn", "champion").version,
        "models": [m.name for m in client.search_registered_models()],
    }))
    """
)


def _run_mlflow(server: Server, script: str, tmp_path: Path) -> dict[str, object]:
    (tmp_path / "client.py").write_text(script)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    if server.token:
        env["MLFLOW_TRACKING_TOKEN"] = server.token
    done = subprocess.run(
        [sys.executable, "client.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_seed_example_with_the_real_mlflow_client(server: Server, tmp_path: Path) -> None:
    result = _run_mlflow(server, SEED, tmp_path)
    assert result["version"] == "1"
    assert result["same_predictions"] is True
    assert result["found"] == [result["run_id"]]
    assert result["none"] == 0
    assert result["history"] and 0.5 < result["history"][0] <= 1.0  # type: ignore[index, operator]
    assert result["nan"] is True
    assert result["params"] == {"learning_rate": "0.01"}
    assert result["status"] == "FINISHED"
    assert result["artifacts"] == ["config"]
    assert result["config"] == {"C": 1.0}
    assert result["alias_version"] == "1"
    assert result["models"] == ["churn"]

    # Loopline's own client reads what the mlflow client wrote, and loads the model it logged.
    probe = textwrap.dedent(
        """
        import numpy as np, loopline
        runs = loopline.search_runs(experiment_names=["customer_churn"], output_format="list")
        model = loopline.pyfunc.load_model("models:/churn@champion")
        shape = model.predict(np.zeros((2, 4))).shape
        print(len(runs), runs[0].data.params["learning_rate"], shape)
        """
    )
    env = {
        **os.environ,
        "LOOPLINE_TRACKING_URI": server.store_url,
        "LOOPLINE_ARTIFACT_ROOT": str(server.artifacts),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "0.01", "(2,)"]


def _call(
    server: Server,
    method: str,
    path: str,
    body: object = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(
        method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})}
    )
    response = conn.getresponse()
    text = response.read()
    conn.close()
    try:
        return response.status, json.loads(text) if text else {}
    except ValueError:
        return response.status, {"raw": text.decode(errors="replace")}


def test_errors_follow_mlflow_shape_and_are_never_500(server: Server) -> None:
    status, body = _call(server, "GET", "/api/2.0/mlflow/runs/get?run_id=" + "a" * 32)
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    status, body = _call(server, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=4242")
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    status, body = _call(
        server, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope"
    )
    assert status == 404
    status, body = _call(server, "POST", "/api/2.0/mlflow/experiments/create", raw=b"{not json")
    assert status == 400 and "Malformed" in str(body["message"])
    status, body = _call(
        server, "POST", "/api/2.0/mlflow/experiments/create", body={"name": ["a", "list"]}
    )
    assert status == 400
    status, body = _call(server, "POST", "/api/2.0/mlflow/experiments/create", body={})
    assert status == 400 and "name" in str(body["message"])

    status, body = _call(server, "POST", "/api/2.0/mlflow/experiments/create", body={"name": "e"})
    exp = body["experiment_id"]
    status, body = _call(server, "POST", "/api/2.0/mlflow/experiments/create", body={"name": "e"})
    assert status == 400 and body["error_code"] == "RESOURCE_ALREADY_EXISTS"
    status, body = _call(server, "POST", "/api/2.0/mlflow/runs/create", body={"experiment_id": exp})
    run_id = body["run"]["info"]["run_id"]  # type: ignore[index]
    log = "/api/2.0/mlflow/runs/log-parameter"
    assert (
        _call(server, "POST", log, body={"run_id": run_id, "key": "lr", "value": "0.1"})[0] == 200
    )
    status, body = _call(server, "POST", log, body={"run_id": run_id, "key": "lr", "value": "0.2"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = _call(
        server,
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        body={"run_id": run_id, "key": "acc", "value": "high", "timestamp": 1, "step": 0},
    )
    assert status == 400 and "non-numeric" in str(body["message"])
    status, body = _call(
        server,
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        body={"run_id": run_id, "key": "k" * 300, "value": 1, "timestamp": 1, "step": 0},
    )
    assert status == 400 and "limit is 250" in str(body["message"])
    status, body = _call(
        server,
        "POST",
        "/api/2.0/mlflow/runs/search",
        body={"experiment_ids": [exp], "filter": "metrics.a >> 1"},
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = _call(server, "GET", "/api/2.0/mlflow/no-such-endpoint")
    assert status == 404 and body["error_code"] == "ENDPOINT_NOT_FOUND"


def test_a_failed_model_upload_is_recorded_as_mlflow_reports_it(server: Server) -> None:
    """mlflow finalizes a logged model whose upload failed with LOGGED_MODEL_UPLOAD_FAILED;
    refusing that status would hide the client's real error behind ours."""
    status, created = _call(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": "up"})
    assert status == 200
    experiment_id = created["experiment_id"]
    status, made = _call(
        server, "POST", "/api/2.0/mlflow/logged-models", {"experiment_id": experiment_id}
    )
    assert status == 200
    model_id = made["model"]["info"]["model_id"]  # type: ignore[index]
    assert made["model"]["info"]["status"] == "LOGGED_MODEL_PENDING"  # type: ignore[index]
    status, done = _call(
        server,
        "PATCH",
        f"/api/2.0/mlflow/logged-models/{model_id}",
        {"model_id": model_id, "status": "LOGGED_MODEL_UPLOAD_FAILED"},
    )
    assert status == 200, done
    assert done["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"  # type: ignore[index]


def test_artifact_paths_cannot_escape(server: Server, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    for path in ("../outside.txt", "a/../../outside.txt", "%2e%2e/outside.txt", "/etc/passwd"):
        status, body = _call(server, "PUT", "/api/2.0/mlflow-artifacts/artifacts/" + path, raw=b"x")
        assert status in (400, 404), (path, status, body)
        status, body = _call(server, "GET", "/api/2.0/mlflow-artifacts/artifacts/" + path)
        assert status in (400, 404), (path, status, body)
        assert "secret" not in json.dumps(body)
    server.artifacts.mkdir(parents=True, exist_ok=True)
    (server.artifacts / "link").symlink_to(tmp_path)
    status, body = _call(server, "GET", "/api/2.0/mlflow-artifacts/artifacts/link/outside.txt")
    assert status == 400 and "symlink" in str(body["message"])
    assert (
        _call(
            server, "PUT", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/ok.txt", raw=b"fine"
        )[0]
        == 200
    )
    assert (server.artifacts / "1" / "r" / "artifacts" / "ok.txt").read_bytes() == b"fine"


def test_token_is_required_when_set(tmp_path: Path) -> None:
    proc, srv = _start(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, token="s3cret")
    try:
        status, body = _call(srv, "GET", "/api/2.0/mlflow/experiments/search")
        assert status == 401 and body["error_code"] == "UNAUTHENTICATED"
        status, _ = _call(
            srv,
            "GET",
            "/api/2.0/mlflow/experiments/search",
            headers={"Authorization": "Bearer nope"},
        )
        assert status == 401
        status, body = _call(
            srv,
            "GET",
            "/api/2.0/mlflow/experiments/search",
            headers={"Authorization": "Bearer s3cret"},
        )
        assert status == 200 and body["experiments"][0]["name"] == "Default"  # type: ignore[index]
        script = (
            "import mlflow\nmlflow.set_experiment('x')\n"
            "with mlflow.start_run():\n    mlflow.log_metric('m', 1)\nprint('{}')\n"
        )
        _run_mlflow(srv, script, tmp_path)
    finally:
        proc.terminate()
        proc.wait(10)


def test_native_api_and_openapi(server: Server) -> None:
    status, schema = _call(server, "GET", "/api/v1/openapi.json")
    assert status == 200 and schema["openapi"].startswith("3.")  # type: ignore[union-attr]
    assert "/api/v1/runs/{run_id}" in schema["paths"]  # type: ignore[operator]
    status, body = _call(server, "GET", "/api/v1/experiments")
    assert status == 200 and body["experiments"][0]["experiment_id"] == "0"  # type: ignore[index]
    status, body = _call(server, "GET", "/api/v1/runs/nope")
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"


LOOPLINE_CLIENT = textwrap.dedent(
    """
    import json, loopline, loopline.registry
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    loopline.set_experiment("through-the-server")
    with loopline.start_run() as run:
        loopline.log_input("data", context="training")
        loopline.log_param("C", 1.0)
        for step in range(2500):
            loopline.log_metric("loss", 1 / (step + 1), step=step)
        loopline.log_text("hi", "notes.txt")
        fitted = LogisticRegression().fit(X, y)
        loopline.sklearn.log_model(fitted, "model", registered_model_name="remote")
    model = loopline.pyfunc.load_model("models:/remote/1")
    found = loopline.search_runs(filter_string="params.C = '1.0'", output_format="list")
    print(json.dumps({
        "history": len(loopline.get_metric_history(run.info.run_id, "loss")),
        "status": loopline.get_run(run.info.run_id).info.status,
        "found": [r.info.run_id for r in found] == [run.info.run_id],
        "predictions": model.predict(X[:4]).tolist() == fitted.predict(X[:4]).tolist(),
        "data": [list(d) for d in loopline.registry.lineage("remote", 1).data],
    }))
    """
)


def test_loopline_client_through_the_server(server: Server, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([LOOPLINE, "init", "-q"], cwd=project, check=True)
    (project / "data").mkdir()
    (project / "data" / "rows.csv").write_text("a\n1\n")
    subprocess.run([LOOPLINE, "add", "data"], cwd=project, check=True, capture_output=True)
    (project / "client.py").write_text(LOOPLINE_CLIENT)
    env = {**os.environ, "LOOPLINE_TRACKING_URI": server.url}
    done = subprocess.run(
        [sys.executable, "client.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "history": 2500,
        "status": "FINISHED",
        "found": True,
        "predictions": True,
        "data": [["data", result["data"][0][1]]],
    }
    assert result["data"][0][1].endswith(".dir")
    listed = subprocess.run(
        [LOOPLINE, "models", "list", "--json", "--tracking-uri", server.url],
        capture_output=True,
        text=True,
    )
    assert json.loads(listed.stdout)[0]["name"] == "remote"


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    port = _free_port()
    done = subprocess.run(
        [LOOPLINE, "runs", "list", "--tracking-uri", f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 6
    assert "cannot reach the tracking server" in done.stderr and "Traceback" not in done.stderr


def test_registry_refuses_server_paths_and_never_reuses_numbers(server: Server) -> None:
    api = "/api/2.0/mlflow"
    assert _call(server, "POST", f"{api}/registered-models/create", {"name": "m"})[0] == 200
    status, body = _call(server, "POST", f"{api}/runs/create", {"experiment_id": "0"})
    run_id = body["run"]["info"]["run_id"]  # type: ignore[index]
    (Path(server.artifacts) / "0" / run_id / "artifacts" / "x#").mkdir(parents=True)
    climb = "/..".join([""] * 12)
    for source in (
        "/etc",
        "file:///etc/passwd",
        f"{server.artifacts}/../..",
        "FILE:///etc",
        str(server.artifacts),
        f"file://{server.artifacts}/0/{run_id}/artifacts/x#{climb}/tmp",
    ):
        status, body = _call(
            server, "POST", f"{api}/model-versions/create", {"name": "m", "source": source}
        )
        assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", (source, body)
    status, body = _call(
        server,
        "POST",
        f"{api}/model-versions/create",
        {"name": "m", "source": f"runs:/{run_id}/model", "run_id": run_id},
    )
    assert status == 200 and body["model_version"]["version"] == "1"  # type: ignore[index]
    numbers = []
    for _ in range(2):
        status, body = _call(
            server,
            "POST",
            f"{api}/model-versions/create",
            {"name": "m", "source": f"mlflow-artifacts:/0/{run_id}/artifacts/model"},
        )
        numbers.append(body["model_version"]["version"])  # type: ignore[index]
        _call(server, "DELETE", f"{api}/model-versions/delete", {"name": "m", "version": "2"})
    assert numbers == ["2", "3"]


RUN_AND_MODEL = textwrap.dedent(
    """
    import json, mlflow, numpy as np
    from pathlib import Path
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    folder = Path("indir")
    (folder / "sub").mkdir(parents=True)
    (folder / "data.bin").write_bytes(b"x")
    (folder / "sub" / "f.txt").write_text("y")
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = (X[:, 0] > 19).astype(int)
    experiment = mlflow.create_experiment("elsewhere", artifact_location="mlflow-artifacts:/own")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(folder), artifact_path="outdir")
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
    client = MlflowClient()
    run_id = run.info.run_id
    version = mlflow.register_model(info.model_uri, "from_logged")
    named = client.search_logged_models([experiment], filter_string="name = 'model'")
    print(json.dumps({
        "run_id": run_id,
        "outdir": sorted(a.path for a in client.list_artifacts(run_id, "outdir")),
        "model": sorted(a.path for a in client.list_artifacts(run_id, "model")),
        "version_run_id": version.run_id,
        "model_location": client.get_logged_model(info.model_id).artifact_location,
        "model_id": info.model_id,
        "named": [m.model_id for m in named],
        "nameless": len(client.search_logged_models([experiment], filter_string="name = 'x'")),
    }))
    """
)


def test_logged_models_stay_apart_from_run_artifacts(server: Server, tmp_path: Path) -> None:
    """The mlflow client lists runs:/<run>/outdir by searching the run's logged models named
    'outdir': the search must honour its filter, else the model's files show up in outdir. And
    registering a logged model records its source run, as MLflow's server does."""
    result = _run_mlflow(server, RUN_AND_MODEL, tmp_path)
    assert result["outdir"] == ["outdir/data.bin", "outdir/sub"]
    assert "model/MLmodel" in result["model"]  # type: ignore[operator]
    assert result["version_run_id"] == result["run_id"]
    model_id = result["model_id"]
    assert result["model_location"] == f"mlflow-artifacts:/own/models/{model_id}/artifacts"
    assert (server.artifacts / "own" / "models" / str(model_id) / "artifacts" / "MLmodel").is_file()
    assert result["named"] == [model_id] and result["nameless"] == 0
    status, body = _call(
        server,
        "POST",
        "/api/2.0/mlflow/logged-models/search",
        {"experiment_ids": ["0"], "filter": "metrics.acc > 1"},
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"


RENAME = textwrap.dedent(
    """
    import json
    from mlflow import MlflowClient

    client = MlflowClient()
    client.create_registered_model("old")
    client.rename_registered_model("old", "new")
    names = [m.name for m in client.search_registered_models()]
    print(json.dumps({"name": client.get_registered_model("new").name, "models": names}))
    """
)


def test_rename_and_delete_over_rest(server: Server, tmp_path: Path) -> None:
    """The mlflow client's rename_registered_model and Loopline's CLI against the server."""
    assert _run_mlflow(server, RENAME, tmp_path) == {"name": "new", "models": ["new"]}
    uri = ("--tracking-uri", server.url)
    done = subprocess.run(
        [LOOPLINE, "models", "rename", "new", "newer", *uri], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [LOOPLINE, "models", "delete", "newer", "--version", "1", "-y", *uri],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 3 and "has no version 1" in done.stderr, done.stderr
    done = subprocess.run(
        [LOOPLINE, "models", "delete", "newer", "-y", *uri], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _call(server, "GET", "/api/2.0/mlflow/registered-models/get?name=newer")[0] == 404


def test_a_refused_source_leaves_no_model_behind(server: Server) -> None:
    status, body = _call(
        server,
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        {"name": "stray", "source": "/etc"},
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert _call(server, "GET", "/api/2.0/mlflow/registered-models/get?name=stray")[0] == 404
    status, body = _call(
        server,
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        {"name": "fresh", "source": "s3://bucket/models/m1"},
    )
    # As MLflow: a version needs its registered model to exist first.
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST", body
    assert _call(server, "GET", "/api/2.0/mlflow/registered-models/get?name=fresh")[0] == 404


def test_a_folder_registered_through_the_server_is_kept_by_it(
    server: Server, tmp_path: Path
) -> None:
    """The server cannot read the client's disk: the folder goes up through its artifact
    proxy, and the version still loads once the folder is gone."""
    import shutil

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from loopline.models.sklearn import save_model

    folder = tmp_path / "loose-model"
    X = np.arange(20.0).reshape(10, 2)
    save_model(LogisticRegression().fit(X, [0] * 5 + [1] * 5), folder)
    done = subprocess.run(
        [
            LOOPLINE,
            "models",
            "register",
            str(folder),
            "--name",
            "loose",
            "--tracking-uri",
            server.url,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(folder)
    probe = "import loopline, numpy as np\nprint(loopline.pyfunc.load_model('models:/loose/1')"
    probe += ".predict(np.zeros((3, 2))).shape)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "LOOPLINE_TRACKING_URI": server.url},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert loaded.returncode == 0 and loaded.stdout.strip() == "(3,)", loaded.stderr[-2000:]
