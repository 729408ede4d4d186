"""A model logged and registered by the unmodified `mlflow` client on a `loopline server` is
served by `loopline serve models:/NAME/1 --tracking-uri <server>` and predicts as the estimator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LOOPLINE
from tests.integration._serving import free_port, http_request, running_server, wait_until

LOG_AND_REGISTER = textwrap.dedent(
    """
    import json, mlflow, pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=300, n_features=5, random_state=2)
    X = pd.DataFrame(X, columns=["tenure", "charges", "calls", "age", "usage"])
    mlflow.set_experiment("churn-serving")
    with mlflow.start_run():
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X[:3], pip_requirements=["scikit-learn"]
        )
    version = mlflow.register_model(info.model_uri, "churn_rf")
    rows = X.sample(8, random_state=1)
    print(json.dumps({
        "version": version.version,
        "rows": rows.to_dict(orient="split"),
        "predict": model.predict(rows).tolist(),
        "proba": model.predict_proba(rows).tolist(),
    }))
    """
)


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log_file = tmp_path / "tracking-server.log"
    command = [
        LOOPLINE,
        "server",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{tmp_path / 'store.db'}",
        "--artifacts",
        str(tmp_path / "server-artifacts"),
    ]
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp_path
        )
    try:
        wait_until(
            lambda: (
                process.poll() is None
                and http_request(port, "GET", "/health", timeout=2).status == 200
            ),
            30,
            "the tracking server: " + log_file.read_text(errors="replace")[-1500:],
            interval=0.1,
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.mark.slow
def test_a_model_logged_by_the_mlflow_client_is_served_and_predicts_as_the_estimator(
    tracking_server: str, tmp_path: Path
) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "log_model.py").write_text(LOG_AND_REGISTER)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_server}
    done = subprocess.run(
        [sys.executable, "log_model.py"],
        cwd=client,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    assert logged["version"] == "1"
    rows = logged["rows"]

    args = ["models:/churn_rf/1", "--tracking-uri", tracking_server]
    with running_server(args, tmp_path / "serve", cwd=client) as server:
        metadata = server.get("/v2/models/churn_rf").json()
        assert [i["name"] for i in metadata["inputs"]] == rows["columns"]

        v2 = server.post(
            "/v2/models/churn_rf/infer",
            {
                "inputs": [
                    {
                        "name": "rows",
                        "shape": [len(rows["data"]), len(rows["columns"])],
                        "datatype": "FP64",
                        "data": rows["data"],
                    }
                ],
                "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
            },
        )
        assert v2.status == 200, v2.text
        outputs = {o["name"]: o["data"] for o in v2.json()["outputs"]}
        assert outputs["predict"] == logged["predict"]
        expected_proba = [p for row in logged["proba"] for p in row]
        assert outputs["predict_proba"] == pytest.approx(expected_proba, rel=1e-9)

        split = {"columns": rows["columns"], "data": rows["data"]}
        mlflow_style = server.post("/invocations", {"dataframe_split": split})
        assert mlflow_style.status == 200, mlflow_style.text
        assert mlflow_style.json()["predictions"] == logged["predict"]
