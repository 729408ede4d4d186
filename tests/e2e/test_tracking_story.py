"""Tracking as a data scientist uses it: the seed example, the CLI, a killed training process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import git, run_cli

SEED = textwrap.dedent(
    """
    import loopline
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    loopline.set_experiment("customer_churn")
    for lr in (0.01, 0.1):
        with loopline.start_run(run_name=f"lr-{lr}") as run:
            loopline.log_input("data")
            loopline.log_param("learning_rate", lr)
            model = LogisticRegression(C=1 / lr).fit(X, y)
            accuracy = model.score(X, y)
            loopline.log_metric("accuracy", accuracy)
            for step in range(100):
                loopline.log_metric("loss", 1 / (step + 1), step=step)
            loopline.log_dict({"C": 1 / lr}, "config.json")
        assert run.info.run_id
    print(loopline.search_runs(filter_string="metrics.accuracy > 0.5").shape[0])
    """
)


def test_seed_example_then_cli(project: Path) -> None:
    (project / "train.py").write_text(SEED)
    (project / "data").mkdir()
    (project / "data" / "customers.csv").write_text("id,churned\n1,0\n")
    assert run_cli("add", "data").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-qm", "training code and data")
    head = git(project, "rev-parse", "HEAD").strip()
    done = subprocess.run([sys.executable, "train.py"], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"

    experiments = json.loads(run_cli("experiments", "list", "--json").stdout)
    assert [e["name"] for e in experiments] == ["Default", "customer_churn"]
    runs = json.loads(run_cli("runs", "list", "-e", "customer_churn", "--json").stdout)
    assert [r["info"]["run_name"] for r in runs] == ["lr-0.1", "lr-0.01"]
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    first = runs[1]
    assert first["data"]["params"] == {"learning_rate": "0.01"}
    assert first["data"]["metrics"]["loss"] == 0.01  # the latest step
    assert first["data"]["tags"]["mlflow.source.git.commit"] == head
    assert first["data"]["tags"]["loopline.git.dirty"] == "false"
    assert first["inputs"][0]["path"] == "data" and first["inputs"][0]["oid"].endswith(".dir")
    artifacts = Path(first["info"]["artifact_uri"])
    assert json.loads((artifacts / "environment.json").read_text())["python"]
    assert json.loads((artifacts / "config.json").read_text()) == {"C": 100.0}

    filtered = run_cli("runs", "list", "-f", "params.learning_rate = '0.1'", "--json")
    assert [r["info"]["run_name"] for r in json.loads(filtered.stdout)] == ["lr-0.1"]
    shown = run_cli("runs", "show", first["info"]["run_id"][:12])
    assert "learning_rate: 0.01" in shown.stdout
    assert f"  data: {first['inputs'][0]['oid']}" in shown.stdout
    compared = run_cli("runs", "compare", runs[0]["info"]["run_id"], first["info"]["run_id"])
    assert compared.stdout.splitlines()[1].startswith("params.learning_rate")
    bad = run_cli("runs", "list", "-f", "metrics.accuracy > 'high'")
    assert bad.exit_code == 2 and "compared with a number" in bad.stderr


KILLED = textwrap.dedent(
    """
    import sys, time, loopline
    loopline.set_experiment("crash")
    run = loopline.start_run(run_name="doomed")
    print(run.info.run_id, flush=True)
    for step in range(500):
        loopline.log_metric("loss", step, step=step)
    loopline.flush()
    print("flushed", flush=True)
    for step in range(500, 1000):
        loopline.log_metric("loss", step, step=step)
    time.sleep(60)
    """
)


def test_killed_process_keeps_what_was_flushed_and_the_run_can_be_marked_failed(
    project: Path,
) -> None:
    (project / "train.py").write_text(KILLED)
    proc = subprocess.Popen(
        [sys.executable, "train.py"], cwd=project, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "flushed"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    shown = json.loads(run_cli("runs", "show", run_id, "--json").stdout)
    assert shown["info"]["status"] == "RUNNING"
    assert shown["data"]["metrics"]["loss"] >= 499
    assert run_cli("runs", "end", run_id).exit_code == 0
    assert (
        json.loads(run_cli("runs", "show", run_id, "--json").stdout)["info"]["status"] == "FAILED"
    )


TRAIN_AND_REGISTER = textwrap.dedent(
    """
    import loopline, pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    X = pd.DataFrame(X, columns=["tenure", "charges", "calls", "age"])
    loopline.set_experiment("customer_churn")
    with loopline.start_run() as run:
        loopline.log_input("data", context="training")
        loopline.log_param("n_estimators", 20)
        model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
        loopline.log_metric("accuracy", model.score(X, y))
        loopline.sklearn.log_model(model, "model", input_example=X[:2])
    print(run.info.run_id)
    """
)


def test_models_cli_register_alias_lineage(project: Path) -> None:
    (project / "train.py").write_text(TRAIN_AND_REGISTER)
    (project / "data").mkdir()
    (project / "data" / "customers.csv").write_text("id\n1\n")
    run_cli("add", "data")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    done = subprocess.run([sys.executable, "train.py"], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()

    registered = run_cli("models", "register", f"runs:/{run_id}/model", "--name", "churn", "--json")
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["version"] == 1
    assert run_cli("models", "alias", "churn", "champion", "1").exit_code == 0
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert listed == [
        {
            "name": "churn",
            "description": None,
            "tags": {},
            "aliases": {"champion": 1},
            "latest_version": 1,
        }
    ]
    shown = json.loads(run_cli("models", "show", "churn", "--json").stdout)
    assert shown["versions"][0]["aliases"] == ["champion"]
    lineage = json.loads(run_cli("models", "lineage", "churn", "1", "--json").stdout)
    assert lineage["run_id"] == run_id
    assert lineage["git_commit"] == git(project, "rev-parse", "HEAD").strip()
    assert lineage["data"][0]["path"] == "data"
    assert lineage["params"] == {"n_estimators": "20"}
    text = run_cli("models", "lineage", "churn", "1").stdout
    assert "data       data @ " in text and "param      n_estimators = 20" in text

    assert run_cli("models", "alias", "churn", "champion", "--delete").exit_code == 0
    missing = run_cli("models", "lineage", "churn", "7")
    assert missing.exit_code == 3 and "has no version 7" in missing.stderr
    bad = run_cli("models", "register", "runs:/nothex/model", "--name", "x")
    assert bad.exit_code == 2 and "not valid" in bad.stderr


EXIT_WITHOUT_FLUSH = textwrap.dedent(
    """
    import loopline
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import make_classification
    from sklearn.tree import DecisionTreeClassifier

    loopline.set_experiment("habits")
    run = loopline.start_run(run_name="no-flush")
    for step in range(3000):
        loopline.log_metric("loss", 1.0 / (step + 1), step=step)
    figure, axis = plt.subplots()
    axis.plot([1, 2, 3])
    loopline.log_figure(figure, "plots/curve.png")
    loopline.sklearn.autolog()
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    DecisionTreeClassifier(max_depth=3).fit(X, y)
    print(run.info.run_id)
    """
)


def test_exit_flushes_metrics_and_autolog_logs_fits(project: Path) -> None:
    (project / "habits.py").write_text(EXIT_WITHOUT_FLUSH)
    done = subprocess.run(
        [sys.executable, "habits.py"], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    shown = json.loads(run_cli("runs", "show", run_id, "--json").stdout)
    assert shown["data"]["metrics"]["loss"] == 1.0 / 3000  # the last point, written at exit
    assert shown["data"]["params"]["max_depth"] == "3"  # autolog recorded the fit
    assert shown["data"]["metrics"]["training_score"] > 0.8
    artifacts = Path(shown["info"]["artifact_uri"])
    assert (artifacts / "plots" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (artifacts / "model" / "MLmodel").is_file()


def test_experiments_cli_takes_names_and_its_hints_work(project: Path) -> None:
    assert run_cli("experiments", "create", "wine quality").exit_code == 0
    deleted = run_cli("experiments", "delete", "wine quality")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted experiment 'wine quality'" in deleted.stdout
    train = 'import loopline\nloopline.set_experiment("wine quality")\n'
    refused = subprocess.run(
        [sys.executable, "-c", train], cwd=project, capture_output=True, text=True
    )
    assert refused.returncode != 0
    hint = "loopline experiments restore 'wine quality'"
    assert hint in refused.stderr
    restored = run_cli("experiments", "restore", "wine quality")
    assert restored.exit_code == 0, restored.output
    again = subprocess.run([sys.executable, "-c", train], cwd=project, capture_output=True)
    assert again.returncode == 0
    renamed = run_cli("experiments", "rename", "wine quality", "wine")
    assert renamed.exit_code == 0 and "to 'wine'" in renamed.stdout
    default = run_cli("experiments", "delete", "Default")
    assert default.exit_code == 2 and "cannot be deleted" in default.stderr
    assert "does not exist" not in default.stderr
    order = run_cli("runs", "list", "--order-by", "colour DESC")
    assert order.exit_code == 2 and "invalid order_by 'colour DESC'" in order.stderr


def test_runs_list_tells_close_runs_apart_and_keeps_stage_runs_aside(project: Path) -> None:
    train = textwrap.dedent(
        """
        import loopline
        for value in (0.91234512, 0.91234587, 1234567.0, 0.5):
            with loopline.start_run():
                loopline.log_metric("acc", value)
        """
    )
    subprocess.run([sys.executable, "-c", train], cwd=project, check=True)
    (project / "evaluate.py").write_text("open('m.json', 'w').write('{\"acc\": 0.25}')\n")
    (project / "dvc.yaml").write_text(
        f"stages:\n  evaluate:\n    cmd: {sys.executable} evaluate.py\n"
        "    deps: [evaluate.py]\n    metrics: [m.json]\n"
    )
    assert run_cli("repro").exit_code == 0
    listed = run_cli("runs", "list")
    assert listed.exit_code == 0, listed.output
    cells = listed.stdout.split()
    assert {"0.912345", "0.912346", "1234567", "0.5"} <= set(cells)
    assert not re.search(r"\d[eE][+-]\d", listed.stdout)  # no scientific notation
    assert "repro" in cells and "evaluate" not in cells and "0.25" not in cells
    everything = run_cli("runs", "list", "--all").stdout.split()
    assert "evaluate" in everything and "0.25" in everything
    stages = run_cli("runs", "list", "-f", "tags.`loopline.stage` = 'evaluate'").stdout.split()
    assert "evaluate" in stages and "0.912345" not in stages
    exact = json.loads(run_cli("runs", "list", "--json").stdout)
    assert sorted(r["data"]["metrics"].get("acc", 0) for r in exact) == [
        0,
        0.5,
        0.91234512,
        0.91234587,
        1234567.0,
    ]


LINEAGE_FROM_WHAT_WAS_READ = textwrap.dedent(
    """
    import json
    import loopline

    with loopline.start_run() as run:
        loopline.log_input("data/train.csv", context="training")
        loopline.log_input("images/cat.txt")
        loopline.log_input("notes.txt")
    print(run.info.run_id)
    """
)


def test_a_run_records_the_data_it_declared_as_the_workspace_holds_it(project: Path) -> None:
    from loopline.objects.build import build_object
    from loopline.objects.state import StateCache

    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("x,y\n1,2\n")
    (project / "data" / "unused.csv").write_text("never read\n")
    (project / "images").mkdir()
    (project / "images" / "cat.txt").write_text("meow\n")
    (project / "notes.txt").write_text("not tracked\n")
    assert run_cli("add", "data/train.csv", "data/unused.csv", "images").exit_code == 0
    (project / "train.py").write_text(LINEAGE_FROM_WHAT_WAS_READ)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")

    def train() -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "train.py"], cwd=project, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        shown = run_cli("runs", "show", done.stdout.strip(), "--json")
        return json.loads(shown.stdout)  # type: ignore[no-any-return]

    clean = train()
    inputs = {d["path"]: d for d in clean["inputs"]}  # type: ignore[attr-defined]
    assert sorted(inputs) == ["data/train.csv", "images/cat.txt", "notes.txt"]  # not unused.csv
    pointer = (project / "data" / "train.csv.loopline").read_text()
    assert inputs["data/train.csv"]["oid"] in pointer
    assert inputs["data/train.csv"]["workspace_matches"] is True
    assert inputs["data/train.csv"]["context"] == "training"
    assert inputs["images/cat.txt"]["workspace_matches"] is True
    assert inputs["notes.txt"]["workspace_matches"] is None  # Loopline does not track it
    assert clean["data"]["tags"]["loopline.git.dirty"] == "false"  # type: ignore[index]

    (project / "data" / "train.csv").write_text("x,y\n1,2\n3,4\n")  # edited, not added
    edited = train()
    inputs = {d["path"]: d for d in edited["inputs"]}  # type: ignore[attr-defined]
    with StateCache(project / ".loopline" / "tmp" / "state.db") as state:
        now = build_object(project, "data/train.csv", state).oid
    assert inputs["data/train.csv"]["oid"] == now and now not in pointer
    assert inputs["data/train.csv"]["workspace_matches"] is False
    assert inputs["images/cat.txt"]["workspace_matches"] is True
    assert edited["data"]["tags"]["loopline.git.dirty"] == "true"  # type: ignore[index]
    shown = run_cli("runs", "show", edited["info"]["run_id"]).stdout  # type: ignore[index]
    assert "data/train.csv: " + now + " (workspace differed from the tracked version)" in shown
