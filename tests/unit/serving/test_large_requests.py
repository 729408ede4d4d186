"""A request of many rows is answered (as MLflow's scoring server answers it): only the body-size
limit refuses a request for its size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loopline.serving.app import create_app
from loopline.serving.settings import ModelSpec, ServeSettings

from ._live import LiveServer
from .conftest import COLUMNS


def test_ten_thousand_rows_are_answered_with_the_default_settings(churn_model_dir: Path) -> None:
    settings = ServeSettings(models=(ModelSpec("churn", str(churn_model_dir)),))
    rows = np.random.default_rng(1).normal(size=(10_000, 4)).round(3).tolist()
    with LiveServer(create_app(settings)) as server:
        body = {"dataframe_split": {"columns": COLUMNS, "data": rows}}
        reply = server.post("/invocations", json=body)
        assert reply.status_code == 200, reply.text[:300]
        assert len(reply.json()["predictions"]) == 10_000
        v2 = {"inputs": [{"name": "x", "shape": [10_000, 4], "datatype": "FP64", "data": rows}]}
        reply = server.post("/v2/models/churn/infer", json=v2)
        assert reply.status_code == 200, reply.text[:300]
        assert reply.json()["outputs"][0]["shape"] == [10_000]
