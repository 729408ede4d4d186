"""A canary rollout against a real `loopline serve --deployment` under steady traffic: a good
candidate is promoted step by step (the alias moves), a bad one is rolled back automatically."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loopline.data.init import init_project
from tests.conftest import run_cli
from tests.integration._serving import (
    SteadyLoad,
    churn_data,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)


def _constant_model(folder: Path) -> None:
    """A broken candidate: answers 1 whatever it is asked (its predictions drift)."""
    from sklearn.dummy import DummyClassifier

    from loopline.models.sklearn import save_model

    data = churn_data(seed=0)
    model = DummyClassifier(strategy="constant", constant=1).fit(data.frame, data.labels)
    save_model(model, folder, input_example=data.frame.head(3))


@pytest.mark.slow
def test_a_good_candidate_is_promoted_and_a_bad_one_rolled_back(tmp_path: Path) -> None:
    from loopline.registry import RegistryClient

    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    init_project(root)
    registry = RegistryClient(f"sqlite:///{root / '.loopline' / 'store.db'}")
    data = churn_data(seed=0)
    save_churn_model(tmp_path / "v1", data, kind="tree")
    save_churn_model(tmp_path / "v2", data, kind="logreg")
    _constant_model(tmp_path / "v3")
    for version in ("v1", "v2", "v3"):
        registry.register(str(tmp_path / version), "churn")
    registry.set_alias("churn", "champion", 1)
    assert run_cli("deploy", "create", "churn", "--model", "models:/churn@champion",
                   cwd=root).exit_code == 0  # fmt: skip

    rows = churn_data(seed=7, rows=40).frame
    bodies = [{"inputs": [v2_matrix(rows.iloc[[i]])]} for i in range(len(rows))]
    counter = iter(range(10**9))

    with running_server(
        ["--deployment", "churn", "--log-sample-rate", "1", "--log-dir", "log",
         "--poll-interval", "0.5"],
        root / "server-logs", cwd=root,
    ) as server:  # fmt: skip
        metrics = f"http://127.0.0.1:{server.port}/metrics"
        common = [
            "--interval", "2s", "--min-requests", "10", "--max-error-rate", "0.05",
            "--max-prediction-drift", "0.3", "--threshold", "2", "--metrics-url", metrics,
            "--log-dir", "log",
        ]  # fmt: skip

        def send() -> Any:
            return server.post("/v2/models/churn/infer", bodies[next(counter) % len(bodies)])

        with SteadyLoad(send, pause_s=0.01) as load:
            started = run_cli(
                "rollout", "start", "churn", "--candidate", "models:/churn/2",
                "--steps", "50,100", *common, cwd=root,
            )  # fmt: skip
            assert started.exit_code == 0, started.output
            driven = run_cli("rollout", "run", "churn", cwd=root)
            assert driven.exit_code == 0, driven.output + server.log()
            assert "Succeeded" in driven.stdout
            assert registry.get_version_by_alias("churn", "champion").version == 2

            def champion_is_v2() -> bool:
                recent = load.snapshot()[-10:]
                return len(recent) == 10 and all(
                    o.status == 200 and o.body["model_version"] == "2" for o in recent
                )

            wait_until(champion_is_v2, 15, "the promoted version to answer every request")

            bad = run_cli(
                "rollout", "start", "churn", "--candidate", "models:/churn/3",
                "--steps", "50,100", *common, cwd=root,
            )  # fmt: skip
            assert bad.exit_code == 0, bad.output
            rolled = run_cli("rollout", "run", "churn", "--json", cwd=root)
            assert rolled.exit_code == 1, rolled.output
            status = json.loads(rolled.stdout)
            assert status["phase"] == "Failed"
            assert "prediction-drift" in status["reason"]
            decisions = [e for e in status["events"] if e.get("checks")]
            drift = [c for e in decisions for c in e["checks"] if c["check"] == "prediction-drift"]
            assert drift and drift[-1]["passed"] is False and drift[-1]["samples"] >= 10
        assert {o.status for o in load.snapshot()} == {200}, "no request failed meanwhile"
    assert registry.get_version_by_alias("churn", "champion").version == 2  # untouched
    shown = json.loads(run_cli("deploy", "show", "churn", "--json", cwd=root).stdout)
    assert shown["policy"]["weights"] == {"champion": 100, "candidate": 0}
