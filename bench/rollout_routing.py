"""Benchmark the cost of deployments: routing, shadowing, rollback speed and the A/B report.

Run from the repository root:

    .venv/bin/python bench/rollout_routing.py            # 10 s wrk runs, 64 connections
    .venv/bin/python bench/rollout_routing.py --quick    # 3 s runs, 100,000 logged requests
    .venv/bin/python bench/rollout_routing.py --json bench/.work/rollout.json

What it measures, in one run, on the same fitted model (scaler + logistic regression on the
20-feature churn table of the serving benchmark), single-row V2 requests, wrk with 2 threads:

1. requests/s of `loopline serve models:/churn/1` alone, against `loopline serve --deployment`
   with two variants split 50/50 by a sticky key (a fresh `x-user-id` per request, so every
   request hashes): the ratio is what routing costs (target: at least 0.9);
2. the primary's p99 latency with 100 % of traffic shadowed to a second variant, against the
   same deployment without a shadow (target: at most 1.2x);
3. how long the controller takes from a threshold breach (a fault making the candidate fail
   every request) to the rollback taking effect (target: under one interval plus 2 s);
4. the time of `abtest report DEPLOYMENT` over a log of 1,000,000 requests with feedback.

Servers listen on 127.0.0.1 and are stopped by PID; everything lives in bench/.work/rollout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _serving_models import V2, churn_table, request_body
from _serving_procs import ServerPool, free_port, pinned_env

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work" / "rollout"
LUA_STICKY = BENCH / "_rollout_post.lua"
LUA_PLAIN = BENCH / "_serving_post.lua"
LOOPLINE = str(Path(sys.executable).with_name("loopline"))


def _log(message: str) -> None:
    print(f"[rollout-bench] {message}", file=sys.stderr, flush=True)


def _project() -> tuple[Path, Any, Any]:
    """A fresh project with versions 1 and 2 of model churn and deployment churn."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from loopline.data.init import init_project
    from loopline.models.sklearn import save_model
    from loopline.registry import RegistryClient
    from loopline.rollout.deployments import Deployments
    from loopline.store import open_store

    shutil.rmtree(WORK, ignore_errors=True)
    root = WORK / "project"
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    init_project(root)
    url = f"sqlite:///{root / '.loopline' / 'store.db'}"
    registry = RegistryClient(url)
    frame, labels = churn_table()
    for version, c in (("v1", 1.0), ("v2", 0.5)):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
        model.fit(frame.iloc[:2000], labels[:2000])
        save_model(model, WORK / version, input_example=frame.head(3))
        registry.register(str(WORK / version), "churn")
    deployments = Deployments(open_store(url))
    deployments.create(
        "churn", {"champion": "models:/churn/1", "candidate": "models:/churn/2"},
        sticky_header="x-user-id",
    )  # fmt: skip
    return root, deployments, frame


def _wrk(port: int, path: str, body: Path, lua: Path, seconds: float, conns: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds:g}s", "-s", str(lua),
         f"http://127.0.0.1:{port}{path}", "--", str(body)],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    match = re.search(r"WRK_JSON (\{.*\})", out)
    assert match, out
    data: dict[str, Any] = json.loads(match[1])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    data["errors"] = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return data


def _serve(
    pool: ServerPool, name: str, args: list[str], root: Path, body: bytes
) -> tuple[Any, int]:
    port = free_port()
    server = pool.start(
        name, [LOOPLINE, "serve", *args, "--port", str(port), "--poll-interval", "0.5"],
        pinned_env(), cwd=root,
    )  # fmt: skip
    pool.wait_ready(server, port, "/v2/models/churn/infer", body)
    return server, port


def _load_pair(
    pool: ServerPool, root: Path, body: bytes, body_file: Path, seconds: float
) -> dict[str, Any]:
    single, port = _serve(pool, "single", ["models:/churn/1", "--name", "churn"], root, body)
    _wrk(port, "/v2/models/churn/infer", body_file, LUA_PLAIN, 2, 64)  # warm-up
    alone = _wrk(port, "/v2/models/churn/infer", body_file, LUA_STICKY, seconds, 64)
    pool.stop(single)
    routed_server, port = _serve(pool, "deployment", ["--deployment", "churn"], root, body)
    _wrk(port, "/v2/models/churn/infer", body_file, LUA_STICKY, 2, 64)
    routed = _wrk(port, "/v2/models/churn/infer", body_file, LUA_STICKY, seconds, 64)
    pool.stop(routed_server)
    return {"single": alone, "deployment": routed, "ratio": routed["rps"] / alone["rps"]}


def _shadow_cost(
    pool: ServerPool, root: Path, deployments: Any, body: bytes, body_file: Path, seconds: float
) -> dict[str, Any]:
    from loopline.rollout.policy import TrafficPolicy

    base = deployments.get("churn").policy.to_dict()
    plain = {**base, "weights": {"champion": 100, "candidate": 0}, "shadow": None}
    deployments.set_policy("churn", TrafficPolicy.from_dict(plain))
    server, port = _serve(pool, "no-shadow", ["--deployment", "churn"], root, body)
    _wrk(port, "/v2/models/churn/infer", body_file, LUA_PLAIN, 2, 16)
    without = _wrk(port, "/v2/models/churn/infer", body_file, LUA_PLAIN, seconds, 16)
    pool.stop(server)
    shadowed = {**plain, "shadow": {"variant": "candidate", "percent": 100}}
    deployments.set_policy("churn", TrafficPolicy.from_dict(shadowed))
    server, port = _serve(pool, "shadow", ["--deployment", "churn"], root, body)
    _wrk(port, "/v2/models/churn/infer", body_file, LUA_PLAIN, 2, 16)
    with_shadow = _wrk(port, "/v2/models/churn/infer", body_file, LUA_PLAIN, seconds, 16)
    pool.stop(server)
    deployments.set_policy("churn", TrafficPolicy.from_dict({**plain}))
    return {
        "without": without, "with": with_shadow,
        "p99_ratio": with_shadow["p99_us"] / max(without["p99_us"], 1),
    }  # fmt: skip


def _rollback_time(pool: ServerPool, root: Path, deployments: Any, body: bytes) -> dict[str, Any]:
    """Fault the candidate mid-rollout; time from the breach to candidate weight 0."""
    import threading

    from loopline.rollout.policy import TrafficPolicy

    server, port = _serve(pool, "rollout", ["--deployment", "churn"], root, body)
    metrics = f"http://127.0.0.1:{port}/metrics"
    interval = 2.0
    subprocess.run(
        [LOOPLINE, "deploy", "remove-variant", "churn", "candidate"], cwd=root, check=True,
        capture_output=True,
    )  # fmt: skip
    started = subprocess.run(
        [LOOPLINE, "rollout", "start", "churn", "--candidate", "models:/churn/2", "--steps",
         "50,100", "--interval", f"{interval:g}s", "--threshold", "1", "--min-requests", "5",
         "--metrics-url", metrics],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    stop = threading.Event()

    def traffic() -> None:
        import http.client

        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("POST", "/v2/models/churn/infer", body,
                             {"content-type": "application/json"})  # fmt: skip
                conn.getresponse().read()
            except OSError:
                pass
            finally:
                conn.close()

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    controller = subprocess.Popen(
        [LOOPLINE, "rollout", "run", "churn"], cwd=root, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(interval * 1.5)
    policy = deployments.get("churn").policy.to_dict()
    policy["faults"] = {"candidate": {"abort_status": 503, "abort_percent": 100}}
    breach = time.time()
    deployments.set_policy("churn", TrafficPolicy.from_dict(policy))
    while deployments.get("churn").policy.weights.get("candidate", 0) != 0:
        if time.time() - breach > 60:
            break
        time.sleep(0.05)
    taken = time.time() - breach
    stop.set()
    controller.wait(timeout=30)
    pool.stop(server)
    return {"interval_s": interval, "breach_to_rollback_s": taken,
            "target_s": interval + 2}  # fmt: skip


def _abtest_time(rows: int) -> dict[str, Any]:
    """Write a log of ``rows`` requests with feedback, then time the report."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = WORK / "abtest-log"
    folder = root / "inference" / "churn" / "2026-01-01"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = np.array([f"req-{i}" for i in range(rows)])
    variant = np.where(rng.random(rows) < 0.5, "champion", "candidate")
    prediction = rng.integers(0, 2, rows)
    now = int(time.time() * 1e6)
    pq.write_table(pa.table({
        "request_id": ids, "row": np.zeros(rows, dtype=np.int32),
        "timestamp": pa.array(np.full(rows, now), pa.timestamp("us", tz="UTC")),
        "model_name": np.repeat("churn", rows), "model_version": np.repeat("1", rows),
        "x": rng.random(rows), "prediction": prediction, "variant": variant,
        "shadow": np.zeros(rows, dtype=bool),
    }), folder / "segment.parquet")  # fmt: skip
    labels = np.where(rng.random(rows) < 0.8, prediction, 1 - prediction)
    (root / "feedback" / "2026-01-01").mkdir(parents=True)
    pq.write_table(pa.table({
        "request_id": ids, "row": np.zeros(rows, dtype=np.int32),
        "timestamp": pa.array(np.full(rows, now), pa.timestamp("us", tz="UTC")),
        "label": labels.astype(float), "label_text": labels.astype(str),
    }), root / "feedback" / "2026-01-01" / "segment.parquet")  # fmt: skip
    from loopline.rollout.abtest import ab_test_report, deployment_outcomes

    started = time.perf_counter()
    variants, metrics = deployment_outcomes(root, "churn", "accuracy")
    report = ab_test_report(variants, metrics, control="champion",
                            weights={"champion": 50, "candidate": 50})  # fmt: skip
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds,
            "assignments": report.assignments}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s runs, 100,000 logged rows")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        _log("wrk is not installed (apt-get install wrk)")
        return 2
    seconds = args.duration or (3.0 if args.quick else 10.0)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root, deployments, frame = _project()
    body = request_body(V2, [list(frame.iloc[0].astype(float))])
    body_file = WORK / "body.json"
    body_file.write_bytes(body)
    results: dict[str, Any] = {}
    pool = ServerPool(WORK / "logs")
    with pool.running():
        _log("routing: single model vs two-variant deployment with sticky keys")
        results["routing"] = _load_pair(pool, root, body, body_file, seconds)
        _log("shadowing 100% of traffic")
        results["shadow"] = _shadow_cost(pool, root, deployments, body, body_file, seconds)
        _log("breach to rollback")
        results["rollback"] = _rollback_time(pool, root, deployments, body)
    _log("abtest report over the inference log")
    results["abtest"] = _abtest_time(100_000 if args.quick else 1_000_000)
    r, s, b, a = results["routing"], results["shadow"], results["rollback"], results["abtest"]
    single, routed = r["single"]["rps"], r["deployment"]["rps"]
    print(
        f"routing   single {single:8.0f} req/s   deployment {routed:8.0f} req/s   "
        f"ratio {r['ratio']:.2f} (target >= 0.90)"
    )
    print(
        f"shadow    p99 without {s['without']['p99_us'] / 1000:6.2f} ms   with 100% shadow "
        f"{s['with']['p99_us'] / 1000:6.2f} ms   ratio {s['p99_ratio']:.2f} (target <= 1.20)"
    )
    print(
        f"rollback  breach -> candidate at 0%: {b['breach_to_rollback_s']:.1f} s "
        f"(interval {b['interval_s']:g} s; target < {b['target_s']:g} s)"
    )
    print(f"abtest    report over {a['rows']:,} logged requests: {a['seconds']:.2f} s")
    errors = r["single"]["errors"] + r["deployment"]["errors"]
    print(f"errors    wrk socket/status errors across routing runs: {errors}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
