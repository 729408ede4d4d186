"""Kubernetes objects for a deployment: built as the ``kubernetes`` client's typed models and
serialised, never assembled as YAML strings.

One Deployment + Service + HorizontalPodAutoscaler + PodDisruptionBudget per variant (each pod
serves its variant's model under the deployment's name, so one URL path fits every subset), one
Service selecting every variant (the host Istio routes), the tracking server, and the rollout
controller with exactly the RBAC it needs to patch VirtualServices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from loopline.core.errors import InvalidInput
from loopline.rollout.deployments import Deployment
from loopline.rollout.istio import VARIANT_LABEL

__all__ = ["DEPLOYMENT_LABEL", "RenderOptions", "Rendered", "render_objects"]

DEPLOYMENT_LABEL = "loopline.io/deployment"
_MANAGED = {"app.kubernetes.io/managed-by": "loopline", "app.kubernetes.io/part-of": "loopline"}
SERVING_PORT = 8080
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
TRACKING_PORT = 5000
_USER = 10001


@dataclass(frozen=True)
class RenderOptions:
    image: str = "loopline:latest"
    namespace: str = "default"
    replicas: int = 2
    fixed_replicas: bool = False  # a fixed replica count instead of the HPA
    hpa_min: int = 2
    hpa_max: int = 10
    hpa_cpu: int = 70
    hpa_in_flight: int | None = None  # per-pod in-flight requests target (custom metric)
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "512Mi"
    memory_limit: str = "2Gi"
    tracking_uri: str | None = None  # default: the in-cluster tracking server
    istio: bool = False
    monitoring: bool = False
    tracking_server: bool = True
    controller: bool = True
    store_secret: str = "loopline-store"  # key: url (PostgreSQL URL)
    s3_secret: str = "loopline-s3"  # keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    artifacts: str = "s3://loopline-artifacts/"
    s3_endpoint: str | None = None


@dataclass
class Rendered:
    """Files to write: name -> (leading comment, objects)."""

    files: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def add(self, name: str, comment: str, *objects: dict[str, Any]) -> None:
        self.files[name] = (comment, list(objects))

    def objects(self) -> list[dict[str, Any]]:
        return [obj for _, found in self.files.values() for obj in found]


def _serialise(obj: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient

    data: dict[str, Any] = ApiClient().sanitize_for_serialization(obj)
    return data


def _labels(deployment: str, component: str, variant: str | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": deployment if component == "serving" else f"loopline-{component}",
        "app.kubernetes.io/component": component,
        **_MANAGED,
    }
    if component == "serving":
        labels[DEPLOYMENT_LABEL] = deployment
    if variant is not None:
        labels[VARIANT_LABEL] = variant
    return labels


def _security() -> tuple[Any, Any]:
    from kubernetes import client as k

    pod = k.V1PodSecurityContext(
        run_as_non_root=True, run_as_user=_USER, run_as_group=_USER, fs_group=_USER,
        seccomp_profile=k.V1SeccompProfile(type="RuntimeDefault"),
    )  # fmt: skip
    container = k.V1SecurityContext(
        allow_privilege_escalation=False, read_only_root_filesystem=True,
        capabilities=k.V1Capabilities(drop=["ALL"]),
    )  # fmt: skip
    return pod, container


def _resources(options: RenderOptions) -> Any:
    from kubernetes import client as k

    return k.V1ResourceRequirements(
        requests={"cpu": options.cpu_request, "memory": options.memory_request},
        limits={"cpu": options.cpu_limit, "memory": options.memory_limit},
    )


def _tracking_uri(options: RenderOptions) -> str:
    # The short Service name resolves in the pod's own namespace, so moving the objects to
    # another namespace (kustomize, `k8s apply --namespace`) keeps them pointing at their own
    # tracking server.
    return options.tracking_uri or f"http://loopline-tracking:{TRACKING_PORT}"


def _probe(path: str, *, period: int, failures: int, initial: int = 0) -> Any:
    from kubernetes import client as k

    return k.V1Probe(
        http_get=k.V1HTTPGetAction(path=path, port="http"),
        period_seconds=period, failure_threshold=failures, initial_delay_seconds=initial,
        timeout_seconds=2,
    )  # fmt: skip


def serving_objects(
    deployment: Deployment, variant: str, uri: str, options: RenderOptions
) -> list[dict[str, Any]]:
    from kubernetes import client as k

    name = f"{deployment.name}-{variant}"
    labels = _labels(deployment.name, "serving", variant)
    selector = {DEPLOYMENT_LABEL: deployment.name, VARIANT_LABEL: variant}
    pod_security, container_security = _security()
    container = k.V1Container(
        name="model-server",
        image=options.image,
        args=[
            "serve",
            uri,
            "--name",
            deployment.name,
            "--host",
            "0.0.0.0",
            "--port",
            str(SERVING_PORT),
            "--workers",
            "1",
            "--log-dir",
            "/var/loopline/log",
        ],
        ports=[k.V1ContainerPort(name="http", container_port=SERVING_PORT)],
        env=[
            k.V1EnvVar(name="LOOPLINE_TRACKING_URI", value=_tracking_uri(options)),
            k.V1EnvVar(name="LOOPLINE_VARIANT", value=variant),
            k.V1EnvVar(name="TMPDIR", value="/tmp"),
        ],
        resources=_resources(options),
        # Loading a model can take a while: the startup probe allows 5 minutes before the
        # liveness probe may restart the pod.
        startup_probe=_probe("/v2/health/ready", period=5, failures=60),
        readiness_probe=_probe("/v2/health/ready", period=5, failures=3),
        liveness_probe=_probe("/v2/health/live", period=10, failures=3),
        # Let the Service and the mesh stop sending before the server drains and exits.
        lifecycle=k.V1Lifecycle(
            pre_stop=k.V1LifecycleHandler(_exec=k.V1ExecAction(command=["sleep", "5"]))
        ),
        security_context=container_security,
        volume_mounts=[
            k.V1VolumeMount(name="tmp", mount_path="/tmp"),
            k.V1VolumeMount(name="inference-log", mount_path="/var/loopline/log"),
        ],
    )
    pod = k.V1PodTemplateSpec(
        metadata=k.V1ObjectMeta(
            labels=labels,
            annotations={
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(SERVING_PORT),
                "prometheus.io/path": "/metrics",
            },
        ),
        spec=k.V1PodSpec(
            containers=[container],
            security_context=pod_security,
            termination_grace_period_seconds=30,
            volumes=[
                k.V1Volume(name="tmp", empty_dir=k.V1EmptyDirVolumeSource()),
                k.V1Volume(name="inference-log", empty_dir=k.V1EmptyDirVolumeSource()),
            ],
        ),
    )
    workload = k.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V1DeploymentSpec(
            # With an HPA the replica count is the autoscaler's: setting it here would reset a
            # scaled-out Deployment on every apply.
            replicas=options.replicas if options.fixed_replicas else None,
            selector=k.V1LabelSelector(match_labels=selector),
            strategy=k.V1DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=k.V1RollingUpdateDeployment(max_surge="25%", max_unavailable=0),
            ),
            template=pod,
        ),
    )  # fmt: skip
    service = k.V1Service(
        api_version="v1", kind="Service",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V1ServiceSpec(
            selector=selector,
            ports=[k.V1ServicePort(name="http", port=SERVING_PORT, target_port="http")],
        ),
    )  # fmt: skip
    metrics = [
        k.V2MetricSpec(
            type="Resource",
            resource=k.V2ResourceMetricSource(
                name="cpu",
                target=k.V2MetricTarget(type="Utilization", average_utilization=options.hpa_cpu),
            ),
        )
    ]
    if options.hpa_in_flight is not None:
        metrics.append(
            k.V2MetricSpec(
                type="Pods",
                pods=k.V2PodsMetricSource(
                    metric=k.V2MetricIdentifier(name="inference_requests_in_flight"),
                    target=k.V2MetricTarget(
                        type="AverageValue", average_value=str(options.hpa_in_flight)
                    ),
                ),
            )
        )
    hpa = k.V2HorizontalPodAutoscaler(
        api_version="autoscaling/v2", kind="HorizontalPodAutoscaler",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=k.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name=name
            ),
            min_replicas=options.hpa_min, max_replicas=options.hpa_max, metrics=metrics,
        ),
    )  # fmt: skip
    pdb = k.V1PodDisruptionBudget(
        api_version="policy/v1", kind="PodDisruptionBudget",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V1PodDisruptionBudgetSpec(
            min_available=1, selector=k.V1LabelSelector(match_labels=selector)
        ),
    )  # fmt: skip
    if options.fixed_replicas:
        return [_serialise(o) for o in (workload, service, pdb)]
    return [_serialise(o) for o in (workload, service, hpa, pdb)]


def deployment_service(deployment: Deployment, options: RenderOptions) -> dict[str, Any]:
    """The Service every variant sits behind: the host clients (and Istio) address."""
    from kubernetes import client as k

    labels = _labels(deployment.name, "serving")
    return _serialise(
        k.V1Service(
            api_version="v1", kind="Service",
            metadata=k.V1ObjectMeta(name=deployment.name, namespace=options.namespace,
                                    labels=labels),
            spec=k.V1ServiceSpec(
                selector={DEPLOYMENT_LABEL: deployment.name},
                ports=[k.V1ServicePort(name="http", port=SERVING_PORT, target_port="http")],
            ),
        )
    )  # fmt: skip


def tracking_objects(options: RenderOptions) -> list[dict[str, Any]]:
    """``loopline server`` on PostgreSQL + S3; credentials come from Secrets, never the YAML."""
    from kubernetes import client as k

    name = "loopline-tracking"
    labels = _labels("", "tracking")
    selector = {"app.kubernetes.io/name": "loopline-tracking"}
    pod_security, container_security = _security()

    def secret(env: str, secret_name: str, key: str) -> Any:
        return k.V1EnvVar(
            name=env,
            value_from=k.V1EnvVarSource(
                secret_key_ref=k.V1SecretKeySelector(name=secret_name, key=key)
            ),
        )

    env = [
        secret("LOOPLINE_STORE_URL", options.store_secret, "url"),
        secret("AWS_ACCESS_KEY_ID", options.s3_secret, "AWS_ACCESS_KEY_ID"),
        secret("AWS_SECRET_ACCESS_KEY", options.s3_secret, "AWS_SECRET_ACCESS_KEY"),
    ]
    if options.s3_endpoint:
        env.append(k.V1EnvVar(name="AWS_ENDPOINT_URL", value=options.s3_endpoint))
    container = k.V1Container(
        name="tracking-server",
        image=options.image,
        args=[
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            str(TRACKING_PORT),
            "--store",
            "$(LOOPLINE_STORE_URL)",
            "--artifacts",
            options.artifacts,
            "--workers",
            "2",
        ],
        ports=[k.V1ContainerPort(name="http", container_port=TRACKING_PORT)],
        env=env,
        resources=_resources(options),
        readiness_probe=_probe("/health", period=5, failures=3),
        liveness_probe=_probe("/health", period=10, failures=3, initial=10),
        security_context=container_security,
        volume_mounts=[k.V1VolumeMount(name="tmp", mount_path="/tmp")],
    )
    workload = k.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V1DeploymentSpec(
            replicas=2,
            selector=k.V1LabelSelector(match_labels=selector),
            template=k.V1PodTemplateSpec(
                metadata=k.V1ObjectMeta(labels=labels),
                spec=k.V1PodSpec(
                    containers=[container], security_context=pod_security,
                    volumes=[k.V1Volume(name="tmp", empty_dir=k.V1EmptyDirVolumeSource())],
                ),
            ),
        ),
    )  # fmt: skip
    service = k.V1Service(
        api_version="v1", kind="Service",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V1ServiceSpec(
            selector=selector,
            ports=[k.V1ServicePort(name="http", port=TRACKING_PORT, target_port="http")],
        ),
    )  # fmt: skip
    return [_serialise(workload), _serialise(service)]


def controller_objects(options: RenderOptions) -> list[dict[str, Any]]:
    """The rollout controller and the RBAC it needs: patching VirtualServices, nothing more."""
    from kubernetes import client as k

    name = "loopline-controller"
    labels = _labels("", "controller")
    selector = {"app.kubernetes.io/name": name}
    pod_security, container_security = _security()
    account = k.V1ServiceAccount(
        api_version="v1", kind="ServiceAccount",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
    )  # fmt: skip
    role = k.V1Role(
        api_version="rbac.authorization.k8s.io/v1", kind="Role",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        rules=[
            k.V1PolicyRule(
                api_groups=["networking.istio.io"], resources=["virtualservices"],
                verbs=["get", "list", "watch", "patch"],
            )
        ],
    )  # fmt: skip
    binding = k.V1RoleBinding(
        api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        role_ref=k.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[k.RbacV1Subject(kind="ServiceAccount", name=name,
                                  namespace=options.namespace)],
    )  # fmt: skip
    container = k.V1Container(
        name="controller",
        image=options.image,
        args=["rollout", "run", "--all", "--forever"],
        # The controller works on the store directly; $(VAR) only sees earlier entries.
        env=[k.V1EnvVar(name="LOOPLINE_STORE_URL", value_from=k.V1EnvVarSource(
                 secret_key_ref=k.V1SecretKeySelector(name=options.store_secret, key="url"))),
             k.V1EnvVar(name="LOOPLINE_TRACKING_URI", value="$(LOOPLINE_STORE_URL)")],
        resources=k.V1ResourceRequirements(
            requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"}
        ),
        security_context=container_security,
        volume_mounts=[k.V1VolumeMount(name="tmp", mount_path="/tmp")],
    )  # fmt: skip
    workload = k.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=k.V1ObjectMeta(name=name, namespace=options.namespace, labels=labels),
        spec=k.V1DeploymentSpec(
            replicas=1,  # the store's lease keeps a second copy idle anyway
            strategy=k.V1DeploymentStrategy(type="Recreate"),
            selector=k.V1LabelSelector(match_labels=selector),
            template=k.V1PodTemplateSpec(
                metadata=k.V1ObjectMeta(labels=labels),
                spec=k.V1PodSpec(
                    service_account_name=name, containers=[container],
                    security_context=pod_security,
                    volumes=[k.V1Volume(name="tmp", empty_dir=k.V1EmptyDirVolumeSource())],
                ),
            ),
        ),
    )  # fmt: skip
    return [_serialise(o) for o in (account, role, binding, workload)]


_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _safe(name: str) -> str:
    """A DNS-1035 spelling of ``name`` to suggest (lowercase, '-' for '_' and '.')."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return text if text[:1].isalpha() else f"m-{text}"


def check_kubernetes_names(deployment: Deployment) -> None:
    """Kubernetes names Services, Deployments and Istio subsets after the deployment and its
    variants: refuse names it would reject (upper case, '.', '_') here, with a spelling that
    works, rather than at `kubectl apply`. Names are never rewritten silently, so the
    objects always carry the names ``loopline deploy`` shows."""
    if not _DNS_1035.match(deployment.name) or len(deployment.name) > 52:
        raise InvalidInput(
            f"deployment name {deployment.name!r} cannot name Kubernetes objects: they need "
            "lowercase letters, digits and '-', starting with a letter (at most 52 characters "
            "here, to leave room for the variant)",
            hint=f"create it under a name such as {_safe(deployment.name)[:52]!r}: "
            f"`loopline deploy create {_safe(deployment.name)[:52]} --model URI ...`",
        )
    for variant in deployment.variants:
        full = f"{deployment.name}-{variant}"
        if not _DNS_1035.match(variant) or len(full) > 63:
            raise InvalidInput(
                f"variant {variant!r} of {deployment.name!r} cannot name Kubernetes objects "
                f"({full!r}): they need lowercase letters, digits and '-', starting with a "
                "letter, at most 63 characters with the deployment's name",
                hint=f"add it under a name such as {_safe(variant)!r} and remove {variant!r}",
            )


def monitoring_objects(deployment: Deployment, options: RenderOptions) -> list[dict[str, Any]]:
    """ServiceMonitor, PrometheusRule and the dashboard ConfigMap (prometheus-operator CRDs)."""
    import json

    from loopline.monitoring.alerts import AlertRules
    from loopline.monitoring.dashboard import build_dashboard

    name = f"{deployment.name}-monitoring"
    labels = _labels(deployment.name, "serving")
    metadata = {"name": name, "namespace": options.namespace, "labels": labels}
    service_monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            # The per-variant Services (not the shared one, which would scrape pods twice).
            "selector": {
                "matchLabels": {DEPLOYMENT_LABEL: deployment.name},
                "matchExpressions": [{"key": VARIANT_LABEL, "operator": "Exists"}],
            },
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
        },
    }
    rules = AlertRules(model=deployment.name).build()
    prometheus_rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": rules["groups"]},
    }
    dashboard = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{deployment.name}-dashboard",
            "namespace": options.namespace,
            "labels": {**labels, "grafana_dashboard": "1"},
        },
        "data": {f"{deployment.name}.json": json.dumps(build_dashboard(), indent=1)},
    }
    return [service_monitor, prometheus_rule, dashboard]


def _check_portable(deployment: Deployment, options: RenderOptions) -> None:
    """Refuse what would break on a cluster or leak a secret into the YAML."""
    from urllib.parse import urlsplit

    from loopline.core.errors import InvalidInput
    from loopline.core.uris import parse_model_uri

    for variant, uri in deployment.variants.items():
        if parse_model_uri(uri).kind == "path":
            raise InvalidInput(
                f"variant {variant!r} serves the local folder {uri}, which pods cannot read",
                hint=f"register it (`loopline models register {uri} --name NAME`) and point the "
                "variant at models:/NAME/VERSION, which pods resolve through the tracking server",
            )
    for option, value in (
        ("--cluster-tracking-uri", options.tracking_uri), ("--artifacts", options.artifacts),
    ):  # fmt: skip
        if value and (urlsplit(value).username or urlsplit(value).password):
            raise InvalidInput(
                f"{option} holds credentials ({urlsplit(value).hostname}): they would be "
                "written into the YAML in clear",
                hint="give the URL without user:password and put the credentials in a Secret",
            )
    if not _DNS_LABEL.match(options.namespace):
        raise InvalidInput(
            f"namespace {options.namespace!r} is not a valid Kubernetes namespace",
            hint="use 1-63 lowercase letters, digits and '-', starting with a letter",
        )
    if not options.image.strip() or options.image != options.image.strip():
        raise InvalidInput("--image is empty or has surrounding spaces")
    if options.fixed_replicas and options.replicas > options.hpa_max:
        raise InvalidInput("--replicas is above --hpa-max")


def render_objects(deployment: Deployment, options: RenderOptions) -> Rendered:
    """Every object, grouped into the files ``k8s render`` writes."""
    from loopline.rollout.istio import destination_rule, virtual_service

    check_kubernetes_names(deployment)
    _check_portable(deployment, options)
    rendered = Rendered()
    for variant, uri in deployment.variants.items():
        rendered.add(
            f"serving-{variant}.yaml",
            f"Variant {variant!r} of deployment {deployment.name!r}: {uri}. Each pod serves this "
            f"model under the name {deployment.name!r}; "
            + (
                f"{options.replicas} fixed replicas."
                if options.fixed_replicas
                else f"the HPA scales it ({options.hpa_min}-{options.hpa_max} replicas)."
            ),
            *serving_objects(deployment, variant, uri, options),
        )
    rendered.add(
        "service.yaml",
        f"The Service in front of every variant of {deployment.name!r} (the host Istio routes).",
        deployment_service(deployment, options),
    )
    if options.tracking_server:
        rendered.add(
            "tracking-server.yaml",
            "The tracking server and registry (loopline server) on PostgreSQL + S3. Create the "
            f"Secrets {options.store_secret!r} (key: url) and {options.s3_secret!r} "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) first.",
            *tracking_objects(options),
        )
    if options.controller:
        rendered.add(
            "controller.yaml",
            "The rollout controller: drives canaries and may patch VirtualServices, nothing else.",
            *controller_objects(options),
        )
    if options.monitoring:
        rendered.add(
            "monitoring.yaml",
            "Monitoring with prometheus-operator: a ServiceMonitor scraping every variant's "
            "/metrics, the alerting rules of `loopline monitor alerts` as a PrometheusRule, and "
            "the Grafana dashboard as a ConfigMap Grafana's sidecar picks up (label "
            "grafana_dashboard).",
            *monitoring_objects(deployment, options),
        )
    host = f"{deployment.name}.{options.namespace}.svc.cluster.local"
    if options.istio:
        rendered.add(
            "istio.yaml",
            "Istio routing of the traffic policy: weights, pinned routes, mirror, faults.",
            virtual_service(deployment.name, deployment.policy, host=host,
                            namespace=options.namespace),
            destination_rule(deployment.name, deployment.policy, host=host,
                             namespace=options.namespace),
        )  # fmt: skip
    return rendered
