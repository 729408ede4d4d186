"""`loopline serve --deployment`: variants behind one name, routed by the deployment's policy.

Real registered scikit-learn models, a real server process on 127.0.0.1, the real store.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from loopline.data.init import init_project
from loopline.rollout.deployments import Deployments
from loopline.rollout.policy import Fault, Shadow
from loopline.serving.inference_log import read_inference_log
from loopline.store import open_store
from tests.integration._serving import (
    ModelServer,
    SteadyLoad,
    churn_data,
    metric_total,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)


@dataclass
class Setup:
    root: Path
    deployments: Deployments
    body: dict[str, Any]


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    from loopline.registry import RegistryClient

    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    init_project(root)
    url = f"sqlite:///{root / '.loopline' / 'store.db'}"
    registry = RegistryClient(url)
    data = churn_data(seed=0)
    for kind in ("logreg", "tree"):
        save_churn_model(tmp_path / kind, data, kind=kind)
        registry.register(str(tmp_path / kind), "churn")
    registry.set_alias("churn", "champion", 1)
    deployments = Deployments(open_store(url))
    deployments.create(
        "churn",
        {"champion": "models:/churn@champion", "candidate": "models:/churn/2"},
        sticky_header="x-user-id",
    )
    rows = churn_data(seed=5, rows=2).frame
    return Setup(root, deployments, {"inputs": [v2_matrix(rows)]})


def _serve(setup: Setup, *extra: str) -> Any:
    return running_server(
        ["--deployment", "churn", "--log-sample-rate", "1", "--log-dir", "log", *extra],
        setup.root / "server-logs", cwd=setup.root,
    )  # fmt: skip


def _variant(server: ModelServer, body: dict[str, Any], **headers: str) -> str:
    answer = server.post("/v2/models/churn/infer", body, headers)
    assert answer.status == 200, answer.text
    assert answer.headers["x-model-version"] in ("1", "2")
    return answer.headers["x-loopline-variant"]


@pytest.mark.slow
def test_weights_stickiness_pins_and_live_policy_changes(setup: Setup) -> None:
    setup.deployments.set_traffic("churn", {"champion": 70, "candidate": 30})
    with _serve(setup) as server:
        body = setup.body
        seen = Counter(_variant(server, body) for _ in range(300))
        assert 0.2 < seen["candidate"] / 300 < 0.4, seen
        users = [f"u{i}" for i in range(40)]
        first = {u: _variant(server, body, **{"x-user-id": u}) for u in users}
        assert all(_variant(server, body, **{"x-user-id": u}) == first[u] for u in users)
        assert _variant(server, body, **{"x-loopline-variant": "candidate"}) == "candidate"
        # Every protocol answers under the deployment's name.
        assert server.post("/invocations", {"inputs": body["inputs"][0]["data"]}).status in (
            200, 400,
        )  # fmt: skip
        assert server.get("/v2/models/churn").status == 200

        # A policy change reaches the server within 2 s, without a failed request.
        with SteadyLoad(lambda: server.post("/v2/models/churn/infer", body)) as load:
            time.sleep(0.5)
            changed_at = time.monotonic()
            setup.deployments.set_traffic("churn", {"champion": 0, "candidate": 100})

            def all_candidate() -> bool:
                recent = load.snapshot()[-20:]
                return len(recent) == 20 and all(
                    o.status == 200 and o.body["model_version"] == "2" for o in recent
                )

            wait_until(all_candidate, 10, "the candidate to take all traffic")
            assert time.monotonic() - changed_at < 2.5
        assert {o.status for o in load.snapshot()} == {200}

        metrics = server.get("/metrics").text
        assert (
            metric_total(
                metrics, "inference_requests_total", model_name="churn", variant="candidate"
            )
            > 0
        )


@pytest.mark.slow
def test_shadow_and_faults(setup: Setup) -> None:
    current = setup.deployments.get("churn").policy
    data = current.to_dict()
    data["shadow"] = {"variant": "candidate", "percent": 100}
    data["faults"] = {"candidate": {"abort_status": 503, "abort_percent": 100}}
    from loopline.rollout.policy import TrafficPolicy

    setup.deployments.set_policy("churn", TrafficPolicy.from_dict(data))
    assert setup.deployments.get("churn").policy.shadow == Shadow("candidate", 100)
    assert setup.deployments.get("churn").policy.faults["candidate"] == Fault(503, 100)
    with _serve(setup) as server:
        for _ in range(20):
            assert _variant(server, setup.body) == "champion"  # the shadow is never returned
        aborted = server.post(
            "/v2/models/churn/infer", setup.body, {"x-loopline-variant": "candidate"}
        )
        assert aborted.status == 503 and "fault injected" in aborted.text
        assert aborted.headers["x-loopline-variant"] == "candidate"

        def logged() -> Any:
            table = read_inference_log(setup.root / "log", "churn")
            if table.num_rows == 0 or "shadow" not in table.column_names:
                return None
            shadows = pc.sum(pc.cast(table.column("shadow"), "int64")).as_py() or 0
            return table if shadows >= 10 else None

        # Shadow copies are best effort (dropped while the server has queued work): each of
        # the 20 requests was either shadowed (2 rows logged) or counted as dropped.
        table = wait_until(logged, 15, "shadow rows in the inference log")
        assert set(table.column("variant").to_pylist()) == {"champion", "candidate"}
        metrics = server.get("/metrics").text
        shadowed = metric_total(metrics, "inference_requests_total", protocol="shadow")
        dropped = metric_total(metrics, "inference_shadow_dropped_total")
        assert shadowed + dropped == 20 and shadowed >= 5


def test_serving_a_missing_deployment_is_a_clear_error(setup: Setup) -> None:
    from tests.conftest import run_cli

    missing = run_cli("serve", "--deployment", "nope", cwd=setup.root)
    assert missing.exit_code == 3 and "deployment 'nope' does not exist" in missing.stderr
    both = run_cli("serve", "--deployment", "churn", "models:/churn/1", cwd=setup.root)
    assert both.exit_code == 2 and "give no MODEL_URI" in both.stderr
    nothing = run_cli("serve", cwd=setup.root)
    assert nothing.exit_code == 2 and "nothing to serve" in nothing.stderr


@pytest.mark.slow
def test_abtest_report_of_a_served_deployment(setup: Setup) -> None:
    import json

    from tests.conftest import run_cli

    setup.deployments.set_traffic("churn", {"champion": 50, "candidate": 50})
    rows = churn_data(seed=9, rows=200)
    with _serve(setup) as server:
        for i in range(200):
            body = {"inputs": [v2_matrix(rows.frame.iloc[[i]])]}
            answer = server.post("/v2/models/churn/infer", body, {"x-user-id": f"u{i}"})
            assert answer.status == 200
            label = int(rows.labels[i])
            feedback = server.post(
                "/feedback", {"request_id": answer.headers["x-request-id"], "label": label}
            )
            assert feedback.status == 200, feedback.text

        def logged() -> bool:
            return read_inference_log(setup.root / "log", "churn").num_rows >= 200

        wait_until(logged, 15, "every request in the inference log")
    result = run_cli(
        "abtest", "report", "churn", "--log-dir", "log", "--metric", "accuracy", "--json",
        cwd=setup.root,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["control"] == "champion"
    assert sum(report["assignments"].values()) == 200
    accuracy = report["metrics"][0]
    assert accuracy["kind"] == "rate"
    assert set(accuracy["variants"]) == {"champion", "candidate"}
    assert 0.5 < accuracy["variants"]["champion"]["mean"] <= 1.0
    assert report["sample_ratio"] is not None and report["sample_ratio"]["mismatch"] is False
    unknown = run_cli("abtest", "report", "churn", "--log-dir", "log", "--metric", "nope",
                      cwd=setup.root)  # fmt: skip
    assert unknown.exit_code == 2 and "is not known" in unknown.stderr


@pytest.mark.slow
def test_a_version_url_goes_to_the_variant_that_serves_it(setup: Setup) -> None:
    setup.deployments.set_traffic("churn", {"champion": 50, "candidate": 50})
    records = churn_data(seed=5, rows=2).frame.to_dict("records")
    with _serve(setup) as server:
        for _ in range(15):
            v2_answer = server.post("/v2/models/churn/versions/1/infer", setup.body)
            assert v2_answer.status == 200, v2_answer.text
            assert v2_answer.headers["x-loopline-variant"] == "champion"
            tf_answer = server.post("/v1/models/churn/versions/2:predict", {"instances": records})
            assert tf_answer.status == 200, tf_answer.text
            assert tf_answer.headers["x-loopline-variant"] == "candidate"
        assert server.get("/v2/models/churn/versions/2").status == 200
        assert server.get("/v1/models/churn/versions/2").status == 200
        pinned = server.post(
            "/v2/models/churn/versions/1/infer", setup.body, {"x-loopline-variant": "candidate"}
        )
        assert pinned.status == 404
        assert "variant 'candidate' of deployment 'churn' does not serve version '1'" in (
            pinned.text
        )
        unknown = server.post("/v2/models/churn/versions/7/infer", setup.body)
        assert unknown.status == 404 and "churn/" not in unknown.text
        metadata = server.get("/v2/models/churn")
        assert metadata.status == 200 and metadata.json()["versions"] == ["1", "2"]
