"""Tracking on both engines: experiments, runs, logging, history, search, concurrency."""

from __future__ import annotations

import math
import multiprocessing
import random
from pathlib import Path

import pytest

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.tracking.client import TrackingClient, make_metric
from loopline.tracking.entities import Metric, Param, RunTag, ViewType


@pytest.fixture
def client(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrackingClient:
    monkeypatch.setenv("LOOPLINE_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    return TrackingClient(store_url)


def test_experiments_and_default(client: TrackingClient) -> None:
    exp_id = client.create_experiment("churn", tags={"team": "ml"})
    assert client.get_experiment(exp_id).name == "churn"
    assert client.get_experiment(exp_id).tags == {"team": "ml"}
    assert client.get_experiment_by_name("churn").experiment_id == exp_id  # type: ignore[union-attr]
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(Conflict, match="already exists"):
        client.create_experiment("churn")
    assert client.get_experiment("0").name == "Default"
    names = [e.name for e in client.search_experiments()]
    assert names == ["Default", "churn"]
    client.delete_experiment(exp_id)
    assert [e.name for e in client.search_experiments()] == ["Default"]
    assert [e.name for e in client.search_experiments(ViewType.DELETED_ONLY)] == ["churn"]
    with pytest.raises(NotFound, match="experiment 999"):
        client.get_experiment("999")
    with pytest.raises(NotFound, match="numbers"):
        client.get_experiment("abc")


def test_run_lifecycle_params_tags_metrics(client: TrackingClient) -> None:
    exp = client.create_experiment("e")
    run = client.create_run(exp, run_name="first", tags={"stage": "dev"})
    run_id = run.info.run_id
    assert run.info.status == "RUNNING" and run.data.tags["mlflow.runName"] == "first"
    client.log_batch(
        run_id,
        metrics=[
            Metric("loss", 1.0, 1, 0),
            Metric("loss", 0.5, 2, 1),
            Metric("loss", math.nan, 3, 2),
        ],
        params=[Param("lr", "0.01")],
        tags=[RunTag("stage", "prod")],
    )
    client.log_param(run_id, "lr", "0.01")  # the same value again is fine
    with pytest.raises(Conflict, match="cannot change"):
        client.log_param(run_id, "lr", "0.02")
    history = client.get_metric_history(run_id, "loss")
    assert [m.value for m in history[:2]] == [1.0, 0.5] and math.isnan(history[2].value)
    client.log_metric(run_id, "acc", 0.9, step=5)
    client.log_metric(run_id, "acc", 0.1, step=1)  # an older step does not replace the latest
    client.set_terminated(run_id, "FINISHED")
    stored = client.get_run(run_id)
    assert stored.info.status == "FINISHED" and stored.info.end_time is not None
    assert stored.data.params == {"lr": "0.01"}
    assert stored.data.tags["stage"] == "prod"
    assert stored.data.metrics["acc"] == 0.9 and math.isnan(stored.data.metrics["loss"])
    assert client.get_metric_history(run_id, "unknown") == []


@pytest.mark.parametrize(
    ("key", "value", "error", "message"),
    [
        ("x" * 300, 1, InvalidInput, "limit is 250"),
        ("../up", 1, InvalidInput, "not allowed"),
        ("acc", "high", InvalidInput, "non-numeric value 'high'"),
        ("acc", "0.5", InvalidInput, "non-numeric value '0.5'"),
        ("acc", [1], InvalidInput, r"non-numeric value \[1\]"),
        ("acc", None, InvalidInput, "non-numeric value None"),
    ],
)
def test_bad_metrics_are_refused(
    client: TrackingClient, key: str, value: object, error: type, message: str
) -> None:
    run = client.create_run(client.create_experiment("bad"))
    with pytest.raises(error, match=message):
        client.log_metric(run.info.run_id, key, value)


def test_experiments_are_found_by_name_or_id_and_deleted_ones_say_how_to_restore(
    client: TrackingClient,
) -> None:
    exp_id = client.create_experiment("house prices")
    assert client.find_experiment("house prices").experiment_id == exp_id
    assert client.find_experiment(exp_id).name == "house prices"
    assert client.find_experiment("Default").experiment_id == "0"
    with pytest.raises(NotFound, match="no experiment has that name or id"):
        client.find_experiment("nosuch")
    client.delete_experiment(exp_id)
    assert client.find_experiment("house prices").lifecycle_stage == "deleted"
    with pytest.raises(InvalidInput) as caught:
        client.create_run(exp_id)
    assert caught.value.hint is not None
    assert "loopline experiments restore 'house prices'" in caught.value.hint
    client.restore_experiment(client.find_experiment("house prices").experiment_id)
    client.rename_experiment(exp_id, "prices")
    assert client.find_experiment("prices").experiment_id == exp_id
    with pytest.raises(InvalidInput, match="Default experiment"):
        client.delete_experiment("0")
    with pytest.raises(InvalidInput, match="non-empty name"):
        client.rename_experiment(exp_id, " ")


def test_unknown_run(client: TrackingClient) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        client.log_metric("f" * 32, "acc", 1)
    with pytest.raises(NotFound):
        client.get_run("nope")


def test_deleted_runs_take_no_logging_and_hide_from_search(client: TrackingClient) -> None:
    exp = client.create_experiment("e")
    run_id = client.create_run(exp).info.run_id
    client.delete_run(run_id)
    with pytest.raises(InvalidInput, match="deleted"):
        client.log_param(run_id, "a", "1")
    assert client.search_runs([exp])[0] == []
    assert len(client.search_runs([exp], run_view_type=ViewType.ALL)[0]) == 1
    client.restore_run(run_id)
    assert len(client.search_runs([exp])[0]) == 1


def _seed_runs(client: TrackingClient, count: int) -> tuple[str, list[dict[str, object]]]:
    exp = client.create_experiment(f"search-{random.random()}")
    rng = random.Random(7)
    truth = []
    for i in range(count):
        run_id = client.create_run(exp, run_name=f"run-{i:03d}", start_time=1000 + i).info.run_id
        acc = round(rng.random(), 3)
        lr = rng.choice(["0.01", "0.1", "1"])
        model = rng.choice(["tree", "linear"])
        client.log_batch(
            run_id,
            metrics=[make_metric("acc", acc, step=0)],
            params=[Param("lr", lr)],
            tags=[RunTag("model", model)],
        )
        truth.append(
            {"run_id": run_id, "acc": acc, "lr": lr, "model": model, "name": f"run-{i:03d}"}
        )
    return exp, truth


def test_search_matches_a_python_evaluation_of_the_filter(client: TrackingClient) -> None:
    exp, truth = _seed_runs(client, 60)
    cases = [
        ("metrics.acc > 0.5", lambda r: r["acc"] > 0.5),
        (
            "metrics.acc <= 0.3 and params.lr = '0.1'",
            lambda r: r["acc"] <= 0.3 and r["lr"] == "0.1",
        ),
        ("tags.model LIKE 'tr%'", lambda r: r["model"] == "tree"),
        ("tags.model ILIKE 'LIN%'", lambda r: r["model"] == "linear"),
        ("params.lr IN ('1', '0.01')", lambda r: r["lr"] in ("1", "0.01")),
        ("params.lr != '1'", lambda r: r["lr"] != "1"),
        ("attributes.run_name = 'run-007'", lambda r: r["name"] == "run-007"),
        ("metrics.missing > 0", lambda r: False),
    ]
    for text, predicate in cases:
        found, _ = client.search_runs([exp], text, max_results=1000)
        assert {r.info.run_id for r in found} == {r["run_id"] for r in truth if predicate(r)}, text


def test_order_by_and_pagination(client: TrackingClient) -> None:
    exp, truth = _seed_runs(client, 25)
    ordered, _ = client.search_runs([exp], order_by=["metrics.acc DESC"], max_results=100)
    assert [r.data.metrics["acc"] for r in ordered] == sorted(
        (r["acc"] for r in truth), reverse=True
    )
    default, _ = client.search_runs([exp], max_results=100)
    assert [r.info.run_name for r in default] == [f"run-{i:03d}" for i in range(24, -1, -1)]
    pages, token = [], None
    while True:
        page, token = client.search_runs([exp], max_results=10, page_token=token)
        pages.append(len(page))
        if token is None:
            break
    assert pages == [10, 10, 5]
    with pytest.raises(InvalidInput, match="page token"):
        client.search_runs([exp], page_token="garbage!")


def _logger(store_url: str, artifact_root: str, run_id: str, worker: int, points: int) -> None:
    import os

    os.environ["LOOPLINE_ARTIFACT_ROOT"] = artifact_root
    client = TrackingClient(store_url)
    for start in range(0, points, 50):
        client.log_batch(
            run_id, metrics=[make_metric(f"w{worker}", i, step=i) for i in range(start, start + 50)]
        )


def test_eight_processes_logging_into_one_run_lose_nothing(
    client: TrackingClient, store_url: str
) -> None:
    run_id = client.create_run(client.create_experiment("busy")).info.run_id
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_logger, args=(store_url, client.target.artifact_root, run_id, w, 500))
        for w in range(8)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * 8
    for w in range(8):
        history = client.get_metric_history(run_id, f"w{w}")
        assert [m.step for m in history] == list(range(500))
    assert client.get_run(run_id).data.metrics == {f"w{w}": 499.0 for w in range(8)}


def test_artifacts_stay_inside_the_run(client: TrackingClient, tmp_path: Path) -> None:
    run_id = client.create_run(client.create_experiment("art")).info.run_id
    client.log_dict(run_id, {"a": 1}, "config/params.json")
    client.log_text(run_id, "hello", "notes.txt")
    listed = [(a.path, a.is_dir) for a in client.list_artifacts(run_id)]
    assert listed == [("config", True), ("notes.txt", False)]
    assert client.artifacts(run_id).read_bytes("config/params.json") == b'{\n  "a": 1\n}'
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(InvalidInput, match="escapes"):
            client.log_text(run_id, "x", bad)
    root = Path(client.get_run(run_id).info.artifact_uri)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidInput, match="symlink"):
        client.log_text(run_id, "x", "link/evil.txt")
    out = client.download_artifacts(run_id, "config", tmp_path / "dl")
    assert (out / "params.json").read_text() == '{\n  "a": 1\n}'
