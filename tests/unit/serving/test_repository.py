"""Which registered versions a server loads: asked-for versions that do not exist stop it at
start, and a version that cannot load is reported once, not on every poll."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from loopline.core.errors import InvalidInput
from loopline.serving.repository import ModelRepository
from loopline.serving.settings import ServeSettings, VersionPolicy, parse_model_argument


def _registry(tmp_path: Path, folders: list[Path]) -> str:
    from loopline.registry import RegistryClient

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = RegistryClient(uri)
    for folder in folders:
        client.register(str(folder), "churn")
    return uri


def _repository(uri: str, target: str, versions: str = "latest") -> ModelRepository:
    spec = parse_model_argument(target, None, VersionPolicy.parse(versions))
    settings = ServeSettings(models=(spec,), tracking_uri=uri)
    return ModelRepository(settings, make_batcher=lambda model: _Closable(model))


class _Closable:
    def __init__(self, model: Any) -> None:
        self.model = model

    def close(self) -> None:
        pass


def test_an_unknown_version_in_the_policy_stops_the_server(
    tmp_path: Path, churn_model_dir: Path
) -> None:
    uri = _registry(tmp_path, [churn_model_dir])
    repository = _repository(uri, "models:/churn", "1,9")
    with pytest.raises(InvalidInput) as caught:
        repository.load_all()
    assert "has no version 9" in caught.value.message
    assert "its versions are 1" in caught.value.message
    with pytest.raises(Exception, match="has no version 9"):
        repository.check()  # the supervisor's check before starting worker processes
    _repository(uri, "models:/churn", "1").load_all()


def test_an_unloadable_version_is_logged_once_per_version(
    tmp_path: Path, churn_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(churn_model_dir, broken)
    for path in broken.iterdir():
        if path.name != "MLmodel":
            path.unlink()
    uri = _registry(tmp_path, [churn_model_dir])
    from loopline.registry import RegistryClient

    client = RegistryClient(uri)
    client.register(str(broken), "churn")
    client.set_alias("churn", "champion", 1)
    repository = _repository(uri, "models:/churn@champion")
    repository.load_all()
    client.set_alias("churn", "champion", 2)
    with caplog.at_level(logging.ERROR, logger="loopline.serving.repository"):
        for _ in range(3):
            repository.refresh()
    failures = [r for r in caplog.records if "version 2 failed to load" in r.getMessage()]
    assert len(failures) == 1
    assert repository.get("churn").model.version == "1"  # the old version keeps serving
    assert "2" in repository.served("churn").errors
