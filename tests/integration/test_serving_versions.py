"""Registered versions served by `loopline serve`: an alias that moves under load, a broken
version that must not replace a working one, and several versions side by side."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loopline.data.init import init_project
from tests.integration._serving import (
    ModelServer,
    Outcome,
    SteadyLoad,
    churn_data,
    metric_samples,
    running_server,
    save_churn_model,
    v2_matrix,
    wait_until,
)

POLL_INTERVAL = "0.5"
SWITCH_WITHIN_S = 8.0


@dataclass(frozen=True)
class Versions:
    """Two different fitted models (version 1: logistic regression, 2: a shallow tree), their
    folders, request rows on which the two disagree, and what each predicts for them."""

    folders: dict[int, Path]
    rows: Any
    expected: dict[int, list[int]]

    @property
    def body(self) -> dict[str, Any]:
        return {"inputs": [v2_matrix(self.rows)]}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    root = tmp_path_factory.mktemp("versions")
    data = churn_data(seed=0)
    first = save_churn_model(root / "v1", data, kind="logreg")
    second = save_churn_model(root / "v2", data, kind="tree")
    candidates = churn_data(seed=11, rows=200).frame
    differ = candidates[first.predict(candidates) != second.predict(candidates)]
    rows = candidates.loc[list(differ.index[:3]) + list(candidates.index[:3])]
    assert len(differ) >= 3
    return Versions(
        {1: root / "v1", 2: root / "v2"},
        rows,
        {1: first.predict(rows).tolist(), 2: second.predict(rows).tolist()},
    )


@dataclass(frozen=True)
class Project:
    root: Path
    registry: Any  # loopline.registry.RegistryClient on the project's store

    def register(self, folder: Path) -> str:
        return str(self.registry.register(str(folder), "churn").version)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project made as `loopline init` makes it, with versions 1 and 2 of model churn."""
    from loopline.registry import RegistryClient

    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    init_project(root)
    return Project(root, RegistryClient(f"sqlite:///{root / '.loopline' / 'store.db'}"))


def _register_both(project: Project, versions: Versions) -> None:
    assert project.register(versions.folders[1]) == "1"
    assert project.register(versions.folders[2]) == "2"


def _serve(project: Project, *args: str) -> AbstractContextManager[ModelServer]:
    """The server runs in the project folder, so it finds the project's registry itself."""
    return running_server(
        [*args, "--poll-interval", POLL_INTERVAL], project.root / "logs", cwd=project.root
    )


def _answered_by(outcome: Outcome) -> str:
    return str(outcome.body["model_version"])


def _check_predictions(outcomes: list[Outcome], versions: Versions) -> None:
    for outcome in outcomes:
        version = int(_answered_by(outcome))
        assert outcome.body["outputs"][0]["data"] == versions.expected[version], version


def _first_from(load: SteadyLoad, version: str, since: int) -> Callable[[], int | None]:
    def found() -> int | None:
        outcomes = load.snapshot()[since:]
        for index, outcome in enumerate(outcomes):
            if outcome.status == 200 and _answered_by(outcome) == version:
                return since + index + 1  # 1-based, so index 0 is truthy
        return None

    return found


@pytest.mark.slow
def test_a_moved_alias_is_followed_under_load_without_failed_requests(
    project: Project, versions: Versions, tmp_path: Path
) -> None:
    _register_both(project, versions)
    project.registry.set_alias("churn", "champion", 1)
    with _serve(project, "models:/churn@champion") as server:
        with SteadyLoad(lambda: server.post("/v2/models/churn/infer", versions.body)) as load:
            load.wait_for(10)
            assert {_answered_by(o) for o in load.snapshot()} == {"1"}

            moved = load.count()
            started = time.monotonic()
            project.registry.set_alias("churn", "champion", 2)
            switch = wait_until(_first_from(load, "2", moved), SWITCH_WITHIN_S, "version 2")
            switched_after = time.monotonic() - started
            load.wait_for(20)
            after_switch = load.snapshot()[switch - 1 :]
            assert {_answered_by(o) for o in after_switch if o.status == 200} == {"2"}

            # version 3 cannot be loaded: version 2 keeps serving and the reason is shown
            broken = tmp_path / "v3"
            shutil.copytree(versions.folders[2], broken)
            (broken / "model.skops").write_bytes(b"this is not a skops archive")
            assert project.register(broken) == "3"
            project.registry.set_alias("churn", "champion", 3)
            ready = wait_until(
                lambda: server.get("/v2/models/churn/ready").json().get("reload_errors"),
                SWITCH_WITHIN_S,
                "the reload error of version 3",
            )
            load.wait_for(20)
        outcomes = load.snapshot()

        assert not [o for o in outcomes if o.status != 200], "requests failed during the switch"
        assert switched_after < SWITCH_WITHIN_S
        _check_predictions(outcomes, versions)
        assert {_answered_by(o) for o in outcomes[switch - 1 :]} == {"2"}
        assert list(ready) == ["3"] and "3" in ready["3"]
        status = server.get("/v2/models/churn/ready")
        assert status.status == 200 and status.json()["ready"] is True
        assert server.get("/v2/models/churn").json()["versions"] == ["2"]
        tf_status = server.get("/v1/models/churn").json()["model_version_status"]
        assert {s["version"]: s["state"] for s in tf_status} == {"2": "AVAILABLE", "3": "END"}
        assert server.get("/v2/health/ready").status == 200
        served = metric_samples(server.get("/metrics").text, "model_predictions_total")
        assert {labels["model_version"] for labels, _ in served} == {"1", "2"}

        # a working version 4 replaces version 2 and clears the error
        assert project.register(versions.folders[1]) == "4"
        project.registry.set_alias("churn", "champion", 4)
        wait_until(
            lambda: (
                server.post("/v2/models/churn/infer", versions.body).json()["model_version"] == "4"
            ),
            SWITCH_WITHIN_S,
            "version 4",
        )
        assert "reload_errors" not in server.get("/v2/models/churn/ready").json()


@pytest.mark.slow
def test_latest_two_versions_are_served_side_by_side(project: Project, versions: Versions) -> None:
    _register_both(project, versions)
    with _serve(project, "models:/churn", "--versions", "latest:2") as server:
        for version in (1, 2):
            answer = server.post(f"/v2/models/churn/versions/{version}/infer", versions.body)
            assert answer.status == 200, answer.text
            assert answer.json()["model_version"] == str(version)
            assert answer.json()["outputs"][0]["data"] == versions.expected[version]
            tf = server.post(
                f"/v1/models/churn/versions/{version}:predict",
                {"instances": versions.rows.to_numpy().tolist()},
            )
            assert tf.json()["predictions"] == versions.expected[version]
        default = server.post("/v2/models/churn/infer", versions.body).json()
        assert default["model_version"] == "2"  # the latest answers when no version is named
        status = server.get("/v1/models/churn").json()["model_version_status"]
        assert [(s["version"], s["state"]) for s in status] == [
            ("1", "AVAILABLE"),
            ("2", "AVAILABLE"),
        ]
        assert server.get("/v2/models/churn").json()["versions"] == ["1", "2"]
        assert server.get("/v2/models/churn/versions/1/ready").json()["ready"] is True

        # a new version slides the window: 2 and 3 are served, 1 is gone
        assert project.register(versions.folders[1]) == "3"
        wait_until(
            lambda: server.get("/v2/models/churn").json()["versions"] == ["2", "3"],
            SWITCH_WITHIN_S,
            "versions 2 and 3",
        )
        gone = server.post("/v2/models/churn/versions/1/infer", versions.body)
        assert gone.status == 404 and "1" in gone.json()["error"]
        newest = server.post("/v2/models/churn/versions/3/infer", versions.body).json()
        assert newest["outputs"][0]["data"] == versions.expected[1]
