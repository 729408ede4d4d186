"""A deployment followed while serving: a variant that cannot load is reported once, not on
every poll, and the last working policy keeps serving."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from loopline.rollout.deployments import Deployments
from loopline.serving.batching import Batcher
from loopline.serving.deployment import DeploymentFollower, variant_specs
from loopline.serving.repository import ModelRepository
from loopline.serving.settings import ServeSettings
from loopline.store import open_store


def test_a_variant_that_fails_to_load_is_logged_once_per_revision_and_reason(
    tmp_path: Path, churn_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deployments = Deployments(open_store(f"sqlite:///{tmp_path / 'store.db'}"))
    deployments.create("web", {"champion": str(churn_model_dir)})
    follower = DeploymentFollower("web", deployments, poll_interval_s=60)
    settings = ServeSettings(models=variant_specs(deployments.get("web")), deployment="web")
    repository = ModelRepository(
        settings, lambda model: Batcher(model, max_batch_size=8, max_delay_s=0, max_queue_rows=64)
    )
    repository.load_all()
    follower.start(repository.add, repository.remove)
    follower.stop()  # polled by hand below
    deployments.add_variant("web", "broken", str(tmp_path / "gone_model"))
    with caplog.at_level(logging.ERROR):
        for _ in range(4):
            follower.refresh()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "variant broken" in errors[0].getMessage()
    assert "gone_model does not exist" in errors[0].getMessage()
    assert dict(follower.policy.weights) == {"champion": 100}  # the old policy keeps serving
