"""The closed-loop demo on the embedded default (SQLite + local files).

It plays what a team does with a customer-churn dataset: version the raw data, change it, see
what changed, share it through a remote, and get the exact same bytes back in a fresh clone.
Each step is the command a user would type; the demo stops at the first failure.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Loopline demo",
    "GIT_AUTHOR_EMAIL": "demo@loopline.invalid",
    "GIT_COMMITTER_NAME": "Loopline demo",
    "GIT_COMMITTER_EMAIL": "demo@loopline.invalid",
}


def run(cwd: Path, *args: str, show: bool = True, check: bool = True) -> str:
    print(f"\n\033[1m$ {shlex.join(args)}\033[0m", flush=True)
    # Stage commands say `python`: the one running this demo, with Loopline installed.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV, "PATH": path}
    )
    output = (done.stdout + done.stderr).rstrip()
    if output and show:
        print(output, flush=True)
    if done.returncode != 0 and check:
        sys.exit(f"demo failed: `{shlex.join(args)}` exited with {done.returncode}")
    return done.stdout


def write_churn_table(path: Path, rows: int, seed: int) -> None:
    """A synthetic customer table: tenure, charges, support calls, contract, churned."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "customer_id",
                "tenure_months",
                "monthly_charges",
                "support_calls",
                "contract",
                "churned",
            ]
        )
        for i in range(rows):
            tenure = rng.randint(1, 72)
            charges = round(rng.uniform(20, 120), 2)
            calls = rng.randint(0, 9)
            contract = rng.choice(["monthly", "yearly", "two-year"])
            risk = 0.02 * calls + (0.3 if contract == "monthly" else 0) - 0.004 * tenure
            writer.writerow(
                [
                    f"C{seed}{i:06d}",
                    tenure,
                    charges,
                    calls,
                    contract,
                    int(rng.random() < max(0.02, risk)),
                ]
            )


def main(workdir: Path) -> None:
    loopline = str(Path(sys.executable).with_name("loopline"))
    shutil.rmtree(workdir, ignore_errors=True)
    project, remote, clone = workdir / "churn", workdir / "remote", workdir / "clone"
    project.mkdir(parents=True)

    print("== 1. Version the raw customer data")
    run(project, "git", "init", "-q", "-b", "main")
    run(project, loopline, "init")
    write_churn_table(project / "data" / "raw" / "customers_2026_10.csv", 5000, seed=10)
    write_churn_table(project / "data" / "raw" / "customers_2026_11.csv", 5000, seed=11)
    run(project, loopline, "add", "data/raw")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-q", "-m", "Track raw customer data")

    print("\n== 2. New data arrives: what changed?")
    write_churn_table(project / "data" / "raw" / "customers_2026_12.csv", 5000, seed=12)
    run(project, loopline, "status")
    run(project, loopline, "add", "data/raw")
    run(project, loopline, "diff")
    run(project, "git", "commit", "-q", "-am", "Add December customers")

    print("\n== 3. Share the data through a remote")
    run(project, loopline, "remote", "add", "-d", "storage", str(remote))
    run(project, "git", "commit", "-q", "-am", "Configure the data remote")
    run(project, loopline, "push")

    print("\n== 4. A teammate clones the repository and pulls the exact bytes")
    run(workdir, "git", "clone", "-q", str(project), str(clone))
    run(clone, loopline, "pull")
    run(clone, loopline, "status")
    original = sorted(p.name for p in (project / "data" / "raw").iterdir())
    pulled = sorted(p.name for p in (clone / "data" / "raw").iterdir())
    for name in original:
        a = (project / "data" / "raw" / name).read_bytes()
        b = (clone / "data" / "raw" / name).read_bytes()
        if a != b:
            sys.exit(f"demo failed: {name} differs after pull")
    if original != pulled:
        sys.exit(f"demo failed: pulled files {pulled} differ from {original}")

    print("\n== 5. Roll the workspace back to the first version, then forward again")
    run(project, "git", "checkout", "-q", "HEAD~2", "--", "data/raw.loopline")
    run(project, loopline, "checkout")
    run(project, "git", "checkout", "-q", "HEAD", "--", "data/raw.loopline")
    run(project, loopline, "checkout")
    run(project, loopline, "versions", "data/raw")

    print("\n== 6. Train churn models with a DVC-style pipeline; every stage run is tracked")
    for name in ("features.py", "train.py", "dvc.yaml", "params.yaml"):
        shutil.copy(Path(__file__).with_name(name), project / name)
    run(project, "git", "add", "features.py", "train.py", "dvc.yaml", "params.yaml")
    run(project, "git", "commit", "-q", "-m", "Churn pipeline")
    run(project, loopline, "dag")
    run(project, loopline, "repro", "-j", "2")
    run(project, loopline, "repro")  # nothing changed: nothing runs
    run(project, loopline, "metrics", "show")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-q", "-m", "Trained models")
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("max_depth: 6", "max_depth: 8"))
    run(project, loopline, "status")
    run(project, loopline, "repro")  # only train@forest re-runs
    run(project, loopline, "params", "diff")
    run(project, loopline, "metrics", "diff")
    run(project, loopline, "runs", "list", "-e", "customer_churn", "-o", "metrics.roc_auc DESC")

    print("\n== 7. Register the best run's model and make it the champion")
    ranked = run(
        project,
        loopline,
        "runs",
        "list",
        "-e",
        "customer_churn",
        "-o",
        "metrics.roc_auc DESC",
        "--json",
        show=False,
    )
    run_ids = [r["info"]["run_id"] for r in json.loads(ranked)]
    best_id = run_ids[0]
    run(project, loopline, "models", "register", f"runs:/{best_id}/model", "--name", "churn")
    run(project, loopline, "models", "alias", "churn", "champion", "1")
    run(project, loopline, "models", "lineage", "churn", "1")
    shutil.copy(Path(__file__).with_name("predict.py"), project / "predict.py")
    run(project, sys.executable, "predict.py")

    serve_champion_then_promote(project, loopline, run_ids)
    canary_rollouts_and_drift(project, loopline, run_ids)

    print("\nDemo complete: data versioned and shared; models trained, tracked, registered,")
    print("served in three protocols, promoted by canary or rolled back automatically, and")
    print("watched for drift — each traceable to its data and code.")


def serve_champion_then_promote(project: Path, loopline: str, run_ids: list[str]) -> None:
    from serving import ModelServer, score_in_three_protocols, served_version, show_metrics

    print("\n== 8. Serve the champion: KServe V2, MLflow and TF-Serving on one port")
    server = ModelServer(
        project,
        "models:/churn@champion",
        "--workers",
        "2",
        "--log-sample-rate",
        "1",
        "--poll-interval",
        "1",
    )
    try:
        request_id = score_in_three_protocols(server)
        run(project, loopline, "feedback", request_id, "1", "0")
        show_metrics(server)

        print("\n== 9. Promote a challenger: the server follows the alias without a restart")
        run(project, loopline, "models", "register", f"runs:/{run_ids[1]}/model", "--name", "churn")
        run(project, loopline, "models", "alias", "churn", "champion", "2")
        # Each worker follows the alias on its own: wait until answers are version 2 for a
        # while (connections land on either worker).
        deadline, in_a_row = time.monotonic() + 60, 0
        while in_a_row < 30:
            in_a_row = in_a_row + 1 if served_version(server) == "2" else 0
            if time.monotonic() > deadline:
                sys.exit("demo failed: the server did not follow the alias to version 2")
            time.sleep(0.05)
        print("every worker now answers with version 2")
        score_in_three_protocols(server)
    finally:
        server.stop()
    show_inference_log(project)
    print("\n== 10. Realized performance on the labels that have arrived so far")
    run(project, loopline, "monitor", "performance", "churn", "--version", "1", "--min-labels", "1")


def canary_rollouts_and_drift(project: Path, loopline: str, run_ids: list[str]) -> None:
    from rollout import Customers
    from serving import ModelServer

    print("\n== 11. Deploy the champion behind a traffic policy; customers send traffic and labels")
    run(project, loopline, "deploy", "create", "churn", "--model", "models:/churn@champion",
        "--sticky-header", "x-user-id")  # fmt: skip
    server = ModelServer(
        project, "--deployment", "churn", "--log-sample-rate", "1", "--poll-interval", "1"
    )
    customers = Customers(server.url)
    customers.start()
    log_dir = str(project / ".loopline" / "serving")
    canary = [
        "--steps", "25,50,100", "--interval", "3s", "--threshold", "2", "--min-requests", "30",
        "--max-error-rate", "0.02", "--max-prediction-drift", "0.3",
        "--metrics-url", f"{server.url}/metrics", "--log-dir", log_dir,
    ]  # fmt: skip
    try:
        customers.wait_for(60)
        print("\n== 12. Canary of the third model: promoted step by step under live traffic")
        run(project, loopline, "models", "register", f"runs:/{run_ids[2]}/model", "--name", "churn")
        run(project, loopline, "rollout", "start", "churn", "--candidate", "models:/churn/3",
            *canary)  # fmt: skip
        run(project, loopline, "rollout", "run", "churn")
        run(project, loopline, "models", "list")

        print("\n== 13. A broken challenger is rolled back automatically")
        shutil.copy(Path(__file__).with_name("broken_model.py"), project / "broken_model.py")
        run(project, sys.executable, "broken_model.py")
        run(project, loopline, "rollout", "start", "churn", "--candidate", "models:/churn/4",
            *canary)  # fmt: skip
        run(project, loopline, "rollout", "run", "churn", check=False)
        run(project, loopline, "rollout", "history", "churn")
        run(project, loopline, "deploy", "show", "churn")
        run(project, loopline, "abtest", "report", "churn", "--metric", "accuracy",
            "--log-dir", log_dir)  # fmt: skip

        print("\n== 14. The customer population shifts: monitoring sees drift and the drop")
        shift_started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        customers.shifted = True
        customers.wait_for(400)
    finally:
        customers.stop()
        server.stop()
    if customers.failed:
        sys.exit(f"demo failed: {customers.failed} customer requests failed during the demo")
    print(f"{customers.sent} customer requests, none failed")
    run(project, loopline, "monitor", "report", "churn", "--since", shift_started,
        "--log-dir", log_dir, "--html", "drift-report.html")  # fmt: skip
    run(project, loopline, "monitor", "performance", "churn", "--until", shift_started,
        "--window", "1h", "--log-dir", log_dir)  # fmt: skip
    run(project, loopline, "monitor", "performance", "churn", "--since", shift_started,
        "--log-dir", log_dir)  # fmt: skip


def show_inference_log(project: Path) -> None:
    """What monitoring will read: every sampled request, with its model version and outcome."""
    from loopline.serving import read_feedback, read_inference_log

    root = project / ".loopline" / "serving"
    logged = read_inference_log(root, "churn").to_pandas()
    labels = read_feedback(root).to_pandas()
    print(f"\ninference log: {len(logged)} rows from {logged.request_id.nunique()} requests")
    print(logged.groupby("model_version").size().rename("rows").to_string())
    print(
        f"feedback: {len(labels)} labels, {labels.request_id.isin(logged.request_id).sum()} "
        "matched to logged requests"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-workdir").resolve())
