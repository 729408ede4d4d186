"""Deployments in a real metadata store (SQLite and PostgreSQL), and the `deploy` CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.rollout.deployments import Deployments, parse_weights
from loopline.store import open_store
from tests.conftest import run_cli


@pytest.fixture
def deployments(store_url: str) -> Deployments:
    return Deployments(open_store(store_url))


def _churn(deployments: Deployments) -> None:
    deployments.create(
        "churn",
        {"champion": "models:/churn@champion", "candidate": "models:/churn/4"},
        sticky_header="X-User-Id",
    )


def test_create_set_traffic_and_history(deployments: Deployments) -> None:
    _churn(deployments)
    created = deployments.get("churn")
    assert created.policy.weights == {"champion": 100, "candidate": 0}
    assert created.policy.primary == "champion"
    assert created.policy.sticky_header == "x-user-id"
    assert created.policy.seed  # a per-deployment seed keeps assignments independent

    changed = deployments.set_traffic("churn", {"champion": 90, "candidate": 10}, reason="canary")
    assert changed.revision == created.revision + 1
    assert deployments.revision("churn") == changed.revision
    assert dict(deployments.get("churn").policy.weights) == {"champion": 90, "candidate": 10}
    # The seed survives a weight change, so sticky users stay put.
    assert deployments.get("churn").policy.seed == created.policy.seed

    kinds = [(e.kind, e.revision) for e in deployments.history("churn")]
    assert kinds == [("created", 1), ("traffic", 2)]
    assert deployments.history("churn")[-1].detail["reason"] == "canary"


def test_bad_changes_leave_the_deployment_untouched(deployments: Deployments) -> None:
    _churn(deployments)
    with pytest.raises(InvalidInput, match="sum to 100"):
        deployments.set_traffic("churn", {"champion": 90, "candidate": 20})
    with pytest.raises(InvalidInput, match="no variant 'other'"):
        deployments.set_traffic("churn", {"champion": 50, "other": 50})
    with pytest.raises(Conflict, match="already exists"):
        _churn(deployments)
    with pytest.raises(InvalidInput, match="not allowed"):
        deployments.create("bad name!", {"a": "models:/x/1"})
    with pytest.raises(NotFound):
        deployments.set_traffic("nope", {"a": 100})
    assert deployments.get("churn").revision == 1
    assert len(deployments.history("churn")) == 1


def test_variants_come_and_go_with_their_traffic(deployments: Deployments) -> None:
    _churn(deployments)
    deployments.add_variant("churn", "shadowed", "models:/churn/5")
    assert deployments.get("churn").policy.weights["shadowed"] == 0
    with pytest.raises(Conflict, match="already has a variant"):
        deployments.add_variant("churn", "shadowed", "models:/churn/6")
    deployments.set_traffic("churn", {"champion": 80, "shadowed": 20})
    with pytest.raises(Conflict, match="still receives 20%"):
        deployments.remove_variant("churn", "shadowed")
    with pytest.raises(Conflict, match="primary"):
        deployments.remove_variant("churn", "champion")
    deployments.set_traffic("churn", {"champion": 100})
    after = deployments.remove_variant("churn", "shadowed")
    assert set(after.variants) == {"champion", "candidate"}


def test_delete_keeps_the_history(deployments: Deployments) -> None:
    _churn(deployments)
    deployments.delete("churn")
    assert deployments.revision("churn") is None
    with pytest.raises(NotFound):
        deployments.get("churn")
    assert [e.kind for e in deployments.history("churn")] == ["created", "deleted"]


def test_a_stale_writer_is_refused(deployments: Deployments) -> None:
    _churn(deployments)
    deployments.set_traffic("churn", {"champion": 90, "candidate": 10})
    with pytest.raises(Conflict, match="changed meanwhile"):
        deployments.set_traffic("churn", {"champion": 50, "candidate": 50}, expected_revision=1)


def test_concurrent_writers_lose_no_change(deployments: Deployments) -> None:
    _churn(deployments)
    errors: list[BaseException] = []

    def move(weight: int) -> None:
        try:
            for _ in range(5):
                deployments.set_traffic("churn", {"champion": 100 - weight, "candidate": weight})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(w,)) for w in (10, 20, 30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert deployments.get("churn").revision == 16
    assert [e.revision for e in deployments.history("churn")] == list(range(1, 17))


def test_weights_parse_from_the_command_line_forms() -> None:
    assert parse_weights(["a=90", "b=10"]) == {"a": 90, "b": 10}
    assert parse_weights("a=90,b=10") == {"a": 90, "b": 10}
    for bad in (["a"], ["a=x"], ["a=-5"], ["a=1", "a=2"], ["a=\u0669\u0660"], ["a=\uff15"]):
        with pytest.raises(InvalidInput):
            parse_weights(bad)


def test_deploy_cli_story(project: Path) -> None:
    missing = run_cli("deploy", "create", "churn", "--model", "models:/churn/1")
    assert missing.exit_code == 3 and "churn" in missing.stderr
    assert "Traceback" not in missing.output

    model = project / "model"
    model.mkdir()
    created = run_cli(
        "deploy", "create", "churn", "--model", str(model), "--variant", f"candidate={model}"
    )
    assert created.exit_code == 0, created.output
    moved = run_cli("deploy", "set-traffic", "churn", "champion=75", "candidate=25")
    assert moved.exit_code == 0, moved.output
    bad = run_cli("deploy", "set-traffic", "churn", "champion=75", "candidate=30")
    assert bad.exit_code == 2 and "sum to 100, got 105" in bad.stderr
    shown = json.loads(run_cli("deploy", "show", "churn", "--json").stdout)
    assert shown["policy"]["weights"] == {"champion": 75, "candidate": 25}
    listing = run_cli("deploy", "list")
    assert "champion=75 candidate=25" in listing.stdout
    history = json.loads(run_cli("deploy", "history", "churn", "--json").stdout)
    assert [e["kind"] for e in history] == ["created", "traffic"]
    assert run_cli("deploy", "delete", "churn", "-y").exit_code == 0
    assert run_cli("deploy", "show", "churn").exit_code == 3


@pytest.mark.parametrize("damage", ["policy = '{bad'", "variants = '[1]'", "policy = '{}'"])
def test_a_damaged_row_is_named_and_never_hides_the_others(
    deployments: Deployments, damage: str
) -> None:
    from loopline.core.errors import StoreError

    _churn(deployments)
    deployments.create("other", {"champion": "models:/other/1"})
    deployments.store.write(
        lambda conn: conn.exec_driver_sql(f"UPDATE deployments SET {damage} WHERE name = 'churn'")
    )
    actions: list[Callable[[], object]] = [
        lambda: deployments.get("churn"),
        lambda: deployments.set_traffic("churn", {"champion": 100}),
    ]
    for action in actions:
        with pytest.raises(StoreError, match="of deployment 'churn' is damaged") as damaged:
            action()
        assert "loopline deploy delete churn" in (damaged.value.hint or "")
    assert [d.name for d in deployments.all()] == ["other"]
    assert deployments.damaged_errors[0].message.startswith("the stored")
    with pytest.raises(Conflict, match="already exists"):  # never treated as missing
        deployments.create("churn", {"champion": "models:/churn/1"})
    deployments.delete("churn")
    deployments.create("churn", {"champion": "models:/churn/1"})
