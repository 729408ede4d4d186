"""The model registry on both engines, and scikit-learn models logged, registered and loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopline
from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.registry import RegistryClient


@pytest.fixture
def tracking(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LOOPLINE_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.chdir(tmp_path)
    loopline.set_tracking_uri(store_url)
    yield store_url
    loopline.set_tracking_uri(None)


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(n_samples=300, n_features=6, random_state=3)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), y


def _train_and_log(name: str | None = "churn") -> tuple[str, object]:
    X, y = _data()
    loopline.set_experiment("customer_churn")
    with loopline.start_run() as run:
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
        loopline.log_metric("accuracy", model.score(X, y))
        loopline.sklearn.log_model(model, "model", input_example=X[:3], registered_model_name=name)
    return run.info.run_id, model


def test_log_register_alias_load(tracking: str) -> None:
    run_id, model = _train_and_log()
    X, _ = _data()
    registry = RegistryClient(tracking)
    assert [v.version for v in registry.search_model_versions("name = 'churn'")] == [1]
    registry.set_alias("churn", "champion", 1)
    loaded = loopline.pyfunc.load_model("models:/churn@champion")
    assert (loaded.predict(X[:20]) == model.predict(X[:20])).all()  # type: ignore[attr-defined]
    assert loaded.signature is not None and loaded.signature.input_names == [
        f"f{i}" for i in range(6)
    ]
    reordered = X[list(reversed(X.columns))][:20]
    assert (loaded.predict(reordered) == model.predict(X[:20])).all()  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="missing column"):
        loaded.predict(X[["f0", "f1"]])
    for uri in (
        f"runs:/{run_id}/model",
        "models:/churn/1",
        "models:/churn/latest",
        "models:/churn",
    ):
        assert type(loopline.sklearn.load_model(uri)).__name__ == "Pipeline"

    second_run, _ = _train_and_log()
    registry.set_alias("churn", "champion", 2)  # an alias moves
    assert registry.get_version_by_alias("churn", "champion").run_id == second_run
    assert registry.get_model_version("churn", 1).aliases == ()
    registry.delete_alias("churn", "champion")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        loopline.pyfunc.load_model("models:/churn@champion")


def test_registry_errors_and_search(tracking: str) -> None:
    registry = RegistryClient(tracking)
    registry.create_registered_model("churn", tags={"team": "ml"}, description="who leaves")
    registry.create_registered_model("fraud")
    with pytest.raises(Conflict):
        registry.create_registered_model("churn")
    with pytest.raises(InvalidInput, match="not allowed"):
        registry.create_registered_model("a/b")
    with pytest.raises(NotFound, match="does not exist"):
        registry.get_registered_model("ghost")
    with pytest.raises(NotFound, match="has no version 3"):
        registry.get_model_version("churn", 3)
    with pytest.raises(InvalidInput, match="must be a number"):
        registry.get_model_version("churn", "three")
    with pytest.raises(InvalidInput, match="alias"):
        registry.set_alias("churn", "latest", 1)
    found = registry.search_registered_models(
        "name LIKE 'ch%' AND tag.`mlflow.prompt.is_prompt` != 'true'"
    )
    assert [m.name for m in found] == ["churn"]
    assert [m.name for m in registry.search_registered_models("tags.team = 'ml'")] == ["churn"]
    with pytest.raises(InvalidInput, match="invalid registry filter"):
        registry.search_registered_models("name ~ 'x'")
    registry.delete_registered_model("fraud")
    assert [m.name for m in registry.search_registered_models()] == ["churn"]


def test_lineage_reaches_data_and_code(tracking: str, tmp_path: Path) -> None:
    run_id, _ = _train_and_log()
    lineage = RegistryClient(tracking).lineage("churn", 1)
    assert lineage.run_id == run_id
    assert lineage.metrics["accuracy"] > 0.5
    assert lineage.python


def test_pickle_models_need_trust(tracking: str, tmp_path: Path) -> None:
    X, y = _data()
    with loopline.start_run() as run:
        model = LogisticRegression().fit(X, y)
        loopline.sklearn.log_model(model, "model", serialization_format="pickle")
    uri = f"runs:/{run.info.run_id}/model"
    with pytest.raises(InvalidInput, match="arbitrary code"):
        loopline.sklearn.load_model(uri)
    assert type(loopline.sklearn.load_model(uri, trusted=True)).__name__ == "LogisticRegression"


class _Sneaky:
    def predict(self, X: object) -> list[int]:
        return [0]


def test_skops_refuses_unknown_types(tracking: str, tmp_path: Path) -> None:
    from loopline.models.sklearn import save_model

    folder = tmp_path / "sneaky"
    save_model(LogisticRegression().fit(*_data()), folder)
    meta = json.dumps((folder / "MLmodel").read_text())
    assert "skops" in meta
    # A model file that pickles an arbitrary class is refused by the skops type check.
    import skops.io as sio

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "MLmodel").write_text((folder / "MLmodel").read_text())
    (bad / "model.skops").write_bytes(sio.dumps({"est": _Sneaky()}))
    with pytest.raises(InvalidInput, match="not known to be safe"):
        loopline.pyfunc.load_model(str(bad))


def test_version_sources_outside_the_store_are_refused(tracking: str, tmp_path: Path) -> None:
    """A version pointing at /etc, or at a folder reached through a link, would be served or
    downloaded later: only the run's artifacts and the store's artifact root are accepted."""
    run_id, _ = _train_and_log()
    registry = RegistryClient(tracking)
    logged = registry.get_model_version("churn", 1).source
    (tmp_path / "escape").symlink_to("/etc")
    for source in ("/etc", "file:///etc", str(tmp_path / "artifacts" / ".." / "outside")):
        with pytest.raises(InvalidInput, match=r"outside the artifacts|relative part"):
            registry.create_model_version("churn", source, run_id=run_id)
    (tmp_path / "artifacts" / "link").symlink_to(tmp_path / "escape")
    with pytest.raises(InvalidInput, match="outside the artifacts"):
        registry.create_model_version("churn", str(tmp_path / "artifacts" / "link"))
    with pytest.raises(InvalidInput, match="relative part"):
        registry.create_model_version("churn", "s3://bucket/models/../../other")
    with pytest.raises(InvalidInput, match="not to run"):
        registry.create_model_version("churn", f"runs:/{run_id}/model", run_id="f" * 32)
    with pytest.raises(InvalidInput, match="does not exist"):
        registry.create_model_version("churn", "runs:/" + "a" * 32 + "/model")
    # The run's own artifacts, and a runs:/ URI (whose run is recorded), are accepted.
    assert registry.create_model_version("churn", logged, run_id=run_id).version == 2
    by_uri = registry.create_model_version("churn", f"runs:/{run_id}/model")
    assert (by_uri.version, by_uri.run_id) == (3, run_id)
    assert [v.version for v in registry.search_model_versions("name = 'churn'")] == [3, 2, 1]


def test_registering_a_folder_keeps_a_copy_in_the_store(tracking: str, tmp_path: Path) -> None:
    from loopline.models.sklearn import save_model

    X, y = _data()
    folder = tmp_path / "elsewhere" / "model"
    save_model(LogisticRegression().fit(X, y), folder)
    version = loopline.register_model(str(folder), "loose")
    assert Path(version.source).is_relative_to(tmp_path / "artifacts")
    import shutil

    shutil.rmtree(folder)  # the registered version does not depend on the folder
    assert len(loopline.pyfunc.load_model("models:/loose/1").predict(X[:3])) == 3


def test_version_numbers_are_never_reused(tracking: str) -> None:
    """A deployment pinned to models:/churn/2 must never get another model after v2 is
    deleted (MLflow never reuses a number either)."""
    run_id, _ = _train_and_log()
    registry = RegistryClient(tracking)
    source = f"runs:/{run_id}/model"
    assert registry.create_model_version("churn", source).version == 2
    registry.delete_model_version("churn", 2)
    assert registry.create_model_version("churn", source).version == 3
    registry.delete_model_version("churn", 3)
    registry.delete_model_version("churn", 1)
    assert registry.create_model_version("churn", source).version == 4
    with pytest.raises(NotFound, match="has no version 2"):
        registry.get_model_version("churn", 2)


def test_cli_deletes_versions_and_models_and_renames(tracking: str) -> None:
    from tests.conftest import run_cli

    run_id, _ = _train_and_log()
    registry = RegistryClient(tracking)
    registry.create_model_version("churn", f"runs:/{run_id}/model")
    registry.set_alias("churn", "champion", 2)
    uri = ("--tracking-uri", tracking)
    from loopline.rollout.deployments import Deployments

    deployments = Deployments(registry.backend.store)
    deployments.create("web", {"main": "models:/churn@champion", "old": "models:/churn/1"})

    refused = run_cli("models", "delete", "churn", "--version", "2", *uri)
    assert refused.exit_code == 2 and "pass -y" in refused.stderr
    assert "alias champion" in refused.stderr
    done = run_cli("models", "delete", "churn", "--version", "2", "-y", *uri)
    assert done.exit_code == 0, done.output
    assert "Deleted version 2 of model churn (with alias champion)" in done.stdout
    assert "deployments serve it: web/main (models:/churn@champion)" in done.stderr
    model = registry.get_registered_model("churn")
    assert model.aliases == {}  # the alias went with its version, as in MLflow
    assert [v.version for v in registry.search_model_versions("name = 'churn'")] == [1]

    registry.create_registered_model("taken")
    clash = run_cli("models", "rename", "churn", "taken", *uri)
    assert clash.exit_code != 0 and "already exists" in clash.stderr
    renaming = run_cli("models", "rename", "churn", "attrition", *uri)
    assert renaming.exit_code == 0
    assert "still name models:/churn: web/main" in renaming.stderr and "web/old" in renaming.stderr
    renamed = registry.get_model_version("attrition", 1)
    assert renamed.run_id == run_id
    assert registry.create_model_version("attrition", f"runs:/{run_id}/model").version == 3
    with pytest.raises(NotFound):
        registry.get_registered_model("churn")
    assert len(loopline.pyfunc.load_model("models:/attrition/1").predict(_data()[0][:2])) == 2

    missing = run_cli("models", "delete", "ghost", "-y", *uri)
    assert missing.exit_code != 0 and "does not exist" in missing.stderr
    gone = run_cli("models", "delete", "attrition", "-y", *uri)
    assert gone.exit_code == 0 and "attrition and its 2 versions" in gone.stdout
    assert [m.name for m in registry.search_registered_models()] == ["taken"]


def test_an_upgraded_store_continues_after_its_highest_version(
    store_url: str, tmp_path: Path
) -> None:
    """A store from before the version counter starts the counter at its highest version."""
    from sqlalchemy import text

    from loopline.registry._sql import SqlRegistry
    from loopline.store import open_store
    from loopline.store._engine import make_engine
    from loopline.store._migrate import run_alembic_upgrade

    engine = make_engine(store_url)
    run_alembic_upgrade(engine, "0005_covering_metric_index")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO registered_models VALUES ('old', 1, 1, NULL)"))
        for number in (1, 3):
            conn.execute(
                text(
                    "INSERT INTO model_versions (name, version, creation_time, "
                    "last_updated_time, source, status, current_stage) "
                    "VALUES ('old', :v, 1, 1, 's3://b/m', 'READY', 'None')"
                ),
                {"v": number},
            )
    engine.dispose()
    store = open_store(store_url)
    try:
        registry = SqlRegistry(store, str(tmp_path))
        assert registry.create_model_version("old", "s3://b/m2").version == 4
    finally:
        store.close()


def test_concurrent_registrations_get_distinct_numbers(tracking: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    registry = RegistryClient(tracking)
    registry.create_registered_model("busy")

    def register(i: int) -> int:
        return int(registry.create_model_version("busy", f"s3://bucket/models/{i}").version)

    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(register, range(16)))
    assert sorted(numbers) == list(range(1, 17))
    registry.delete_model_version("busy", 16)
    assert register(99) == 17


def test_local_sources_are_checked_as_the_loader_opens_them(tracking: str, tmp_path: Path) -> None:
    """A '#' or '?' in a file: URI, '..' in a local path, a mixed-case scheme: each one once
    let a version point outside the store (and be served from there)."""
    run_id, _ = _train_and_log()
    other_id, _ = _train_and_log(None)
    registry = RegistryClient(tracking)
    artifacts = Path(registry.tracking.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    (artifacts / "x#").mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "model").mkdir(parents=True)
    (elsewhere / "model" / "MLmodel").write_text("flavors: {}\n")
    climb = "/..".join([""] * 12)
    refused = [
        f"file://{artifacts}/x#{climb}{elsewhere}/model",
        f"file://{artifacts}/x?{climb}{elsewhere}/model",
        f"{artifacts}/x#{climb}{elsewhere}/model",
        f"{artifacts}/model/../../..",
        "FILE:///etc",
        "fIlE:///etc/passwd",
        f"FILE://{elsewhere}/model",
    ]
    for source in refused:
        for run in (run_id, None):
            with pytest.raises(InvalidInput, match=r"relative part|query or fragment|outside"):
                registry.create_model_version("churn", source, run_id=run)
    with pytest.raises(InvalidInput, match="relative part"):
        registry.create_model_version("churn", f"Mlflow-Artifacts:/0/{run_id}/../../x")
    upper = registry.create_model_version("churn", f"RUNS:/{run_id}/model")
    assert (upper.source, upper.run_id) == (f"runs:/{run_id}/model", run_id)
    proxied = registry.create_model_version("churn", f"Mlflow-Artifacts:/0/{run_id}/a/model")
    assert proxied.source == f"mlflow-artifacts:/0/{run_id}/a/model"
    # A local source must lie in the run it claims; the bare root is no model; paths are
    # stored absolute, as the loader will open them.
    theirs = Path(registry.tracking.get_run(other_id).info.artifact_uri.removeprefix("file://"))
    with pytest.raises(InvalidInput, match=f"outside the artifacts of run {run_id}"):
        registry.create_model_version("churn", str(theirs / "model"), run_id=run_id)
    with pytest.raises(InvalidInput, match="root itself"):
        registry.create_model_version("churn", str(tmp_path / "artifacts"))
    upper_file = registry.create_model_version("churn", f"FILE://{artifacts}/model", run_id=run_id)
    assert (upper_file.source, upper_file.run_id) == (str((artifacts / "model").resolve()), run_id)
    rel_path = str((artifacts / "model").relative_to(tmp_path))
    assert registry.create_model_version("churn", rel_path, run_id=run_id).source == str(
        (artifacts / "model").resolve()
    )


def test_a_version_stored_with_a_tricky_source_is_not_loaded_from_elsewhere(
    tracking: str, tmp_path: Path
) -> None:
    """A store written before sources were checked may hold such a version: loading it opens
    the path the way the check reads it, and so refuses it instead of leaving the store."""
    from sqlalchemy import insert, update

    from loopline.models.sklearn import save_model
    from loopline.store._schema import model_versions, registered_models

    run_id, _ = _train_and_log()
    registry = RegistryClient(tracking)
    artifacts = Path(registry.tracking.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    (artifacts / "x#").mkdir()
    X, y = _data()
    save_model(LogisticRegression().fit(X, y), tmp_path / "elsewhere")
    climb = "/..".join([""] * 12)
    for version, source in enumerate(
        (f"file://{artifacts}/x#{climb}{tmp_path}/elsewhere", f"{artifacts}/x{climb}/etc"), 2
    ):

        def sneak(conn: object, version: int = version, source: str = source) -> None:
            conn.execute(  # type: ignore[attr-defined]
                insert(model_versions).values(
                    name="churn",
                    version=version,
                    creation_time=0,
                    last_updated_time=0,
                    source=source,
                    run_id=run_id,
                    status="READY",
                    current_stage="None",
                )
            )
            conn.execute(  # type: ignore[attr-defined]
                update(registered_models)
                .where(registered_models.c.name == "churn")
                .values(last_version=version)
            )

        registry.backend.store.write(sneak)
        with pytest.raises(InvalidInput, match=r"query or fragment|relative part"):
            loopline.pyfunc.load_model(f"models:/churn/{version}")
    assert len(loopline.pyfunc.load_model("models:/churn/1").predict(X[:3])) == 3
