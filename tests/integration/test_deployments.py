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
    not_a_model = run_cli("deploy", "create", "churn", "--model", str(model))
    assert not_a_model.exit_code == 2 and "no MLmodel file" in not_a_model.stderr
    (model / "MLmodel").write_text("flavors: {}\n")
    gone = run_cli(
        "deploy", "create", "churn", "--model", str(model), "--variant", "gone=./gone_model"
    )
    assert gone.exit_code == 3 and "model folder ./gone_model does not exist" in gone.stderr
    no_header = run_cli("deploy", "create", "churn", "--model", str(model), "--sticky-header", "")
    assert no_header.exit_code == 2 and "sticky_header must be a non-empty name" in (
        no_header.stderr
    )
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
    deleted = run_cli("deploy", "delete", "churn", "-y")
    assert deleted.exit_code == 0 and "keep serving its last policy until restarted" in (
        deleted.stdout
    )
    assert "until restarted" in run_cli("deploy", "delete", "--help").stdout
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


def test_deploy_show_and_list_name_every_routing_rule(project: Path) -> None:
    from loopline.rollout.policy import TrafficPolicy

    model = project / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    assert (
        run_cli(
            "deploy", "create", "churn", "--model", str(model), "--variant", f"candidate={model}"
        ).exit_code
        == 0
    )
    store = Deployments(open_store(f"sqlite:///{project / '.loopline' / 'store.db'}"))
    policy = store.get("churn").policy.to_dict()
    policy["routes"] = [{"header": "x-team", "value": "qa", "variant": "candidate"}]
    policy["shadow"] = {"variant": "candidate", "percent": 50}
    policy["faults"] = {"candidate": {"abort_status": 503, "abort_percent": 10}}
    store.set_policy("churn", TrafficPolicy.from_dict(policy))
    shown = run_cli("deploy", "show", "churn")
    assert shown.exit_code == 0, shown.output
    assert "header route: x-team: qa -> candidate" in shown.stdout
    assert "fault on candidate: abort 10% with HTTP 503" in shown.stdout
    assert "shadow: 50% copied to candidate" in shown.stdout
    listing = run_cli("deploy", "list").stdout
    assert "shadow->candidate" in listing and "faults:candidate" in listing
    assert "routes:1" in listing
