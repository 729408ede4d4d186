"""`loopline rollout` from the command line, on a project's own store.

The serving side is exercised elsewhere; here the controller reads a metrics URL where nothing
listens, so the candidate never becomes ready and the rollout must fail after its deadline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _model(root: Path, name: str) -> str:
    folder = root / name
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    return str(folder)


@pytest.mark.slow
def test_rollout_story_on_the_command_line(project: Path) -> None:
    champion, candidate = _model(project, "v1"), _model(project, "v2")
    assert run_cli("deploy", "create", "churn", "--model", champion).exit_code == 0
    started = run_cli(
        "rollout", "start", "churn", "--candidate", candidate, "--steps", "20,100",
        "--interval", "1s", "--no-data-deadline", "2s", "--threshold", "1",
        "--metrics-url", "http://127.0.0.1:9/metrics",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    assert "started at 20%" in started.stdout

    status = json.loads(run_cli("rollout", "status", "churn", "--json").stdout)
    assert (status["phase"], status["weight"], status["failed_checks"]) == ("Progressing", 20, 0)
    assert [e["action"] for e in status["events"]] == ["started", "weight"]
    shown = json.loads(run_cli("deploy", "show", "churn", "--json").stdout)
    assert shown["policy"]["weights"] == {"champion": 80, "candidate": 20}

    again = run_cli("rollout", "start", "churn", "--candidate", candidate)
    assert again.exit_code == 4 and "already has a rollout in progress" in again.stderr

    # Nothing outside the rollout may steer it halfway.
    for args in (["set-traffic", "churn", "champion=100"], ["delete", "churn", "--yes"],
                 ["remove-variant", "churn", "candidate"]):  # fmt: skip
        steer = run_cli("deploy", *args)
        assert steer.exit_code == 4, steer.output
        assert "loopline rollout abort churn" in steer.stderr
    assert "Paused" in run_cli("rollout", "pause", "churn").stdout
    assert "Progressing" in run_cli("rollout", "resume", "churn").stdout

    driven = run_cli("rollout", "run", "churn")
    assert driven.exit_code == 1, driven.output
    assert "Failed" in driven.stdout and "metrics unreachable" in driven.stdout
    shown = json.loads(run_cli("deploy", "show", "churn", "--json").stdout)
    assert shown["policy"]["weights"] == {"champion": 100, "candidate": 0}

    refused = run_cli("rollout", "promote", "churn")
    assert refused.exit_code == 4 and "has ended (Failed)" in refused.stderr
    history = run_cli("rollout", "history", "churn")
    assert "rolled-back" in history.stdout


def test_rollout_bad_input(project: Path) -> None:
    champion = _model(project, "v1")
    run_cli("deploy", "create", "churn", "--model", champion)
    for args, message in (
        (["--steps", "50,10"], "must increase"),
        (["--interval", "soon"], "not a duration"),
        (["--steps", "10", "--step-weight", "5"], "not both"),
        (["--max-latency-p99-ms", "5", "--max-latency-ratio", "2"], "not both"),
        (["--max-error-rate", "nan"], "finite"),
        (["--max-prediction-drift", "inf"], "finite"),
        (["--metrics-url", "127.0.0.1:8080/metrics"], "not an http(s) URL"),
        ([], "already the champion"),
    ):
        result = run_cli("rollout", "start", "churn", "--candidate", champion, *args)
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert "Traceback" not in result.output
    missing = run_cli("rollout", "status", "nope")
    assert missing.exit_code == 3 and "deployment 'nope' does not exist" in missing.stderr
    no_deployment = run_cli("rollout", "start", "nope", "--candidate", champion)
    assert no_deployment.exit_code == 3


@pytest.mark.slow
def test_run_all_drives_every_active_rollout_then_returns(project: Path) -> None:
    champion, candidate = _model(project, "v1"), _model(project, "v2")
    for name in ("a", "b"):
        run_cli("deploy", "create", name, "--model", champion)
        started = run_cli(
            "rollout", "start", name, "--candidate", candidate, "--interval", "1s",
            "--no-data-deadline", "1s", "--threshold", "1",
            "--metrics-url", "http://127.0.0.1:9/metrics",
        )  # fmt: skip
        assert started.exit_code == 0, started.output
    driven = run_cli("rollout", "run", "--all")
    assert driven.exit_code == 0, driven.output
    assert "a: Failed" in driven.stdout and "b: Failed" in driven.stdout
    assert run_cli("rollout", "run", "a", "--all").exit_code == 2


def test_k8s_render_and_dockerfile_from_the_command_line(project: Path) -> None:
    champion = _model(project, "v1")
    run_cli("deploy", "create", "local", "--model", champion)
    local = run_cli("k8s", "render", "local", "-o", "k8s-local")
    assert local.exit_code == 2 and "pods cannot read" in local.stderr
    assert "loopline models register" in local.stderr
    registered = run_cli("models", "register", champion, "--name", "churn")
    assert registered.exit_code == 0, registered.output
    run_cli("deploy", "create", "churn", "--model", "models:/churn/1")
    rendered = run_cli("k8s", "render", "churn", "-o", "k8s", "--istio", "--namespace", "ml")
    assert rendered.exit_code == 0, rendered.output
    names = sorted(p.name for p in (project / "k8s").iterdir())
    assert names == [
        "controller.yaml", "istio.yaml", "kustomization.yaml", "service.yaml",
        "serving-champion.yaml", "tracking-server.yaml",
    ]  # fmt: skip
    bad = run_cli("k8s", "render", "churn", "-o", "k8s", "--hpa-min", "5", "--hpa-max", "2")
    assert bad.exit_code == 2 and "above --hpa-max" in bad.stderr
    assert run_cli("k8s", "render", "nope", "-o", "x").exit_code == 3
    assert run_cli("k8s", "dockerfile", "-o", "image").exit_code == 0
    again = run_cli("k8s", "dockerfile", "-o", "image")
    assert again.exit_code == 4 and "--force" in again.stderr
    assert (project / "image" / "Dockerfile").read_text().startswith("# syntax=docker/dockerfile:1")
