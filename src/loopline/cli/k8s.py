"""``loopline k8s``: run a deployment on Kubernetes — render manifests, the image, apply."""

from __future__ import annotations

from pathlib import Path

import click

from loopline.cli._output import echo_json
from loopline.cli.deploy import deployments, json_option, uri_option
from loopline.core.errors import MissingExtra

__all__ = ["k8s_group"]


def _need_kubernetes() -> None:
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        raise MissingExtra("kubernetes", "k8s") from None


@click.group("k8s")
def k8s_group() -> None:
    """Kubernetes: render a deployment as manifests, write the image's Dockerfile, apply."""


@k8s_group.command("render")
@click.argument("deployment")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the YAML files and kustomization.yaml to.")  # fmt: skip
@click.option("--image", default="loopline:latest", show_default=True)
@click.option("--namespace", default="default", show_default=True)
@click.option(
    "--replicas",
    type=click.IntRange(1),
    help="A fixed number of serving pods instead of the HPA (default: the HPA scales them).",
)
@click.option("--hpa-min", type=click.IntRange(1), default=2, show_default=True)
@click.option("--hpa-max", type=click.IntRange(1), default=10, show_default=True)
@click.option("--hpa-cpu", type=click.IntRange(1, 100), default=70, show_default=True,
              help="Target CPU utilisation (%).")  # fmt: skip
@click.option("--hpa-in-flight", type=click.IntRange(1),
              help="Also scale on in-flight requests per pod (custom metrics).")  # fmt: skip
@click.option("--istio", is_flag=True, help="Add the VirtualService and DestinationRule.")
@click.option(
    "--monitoring",
    is_flag=True,
    help="Add a ServiceMonitor, a PrometheusRule and the Grafana dashboard (prometheus-operator).",
)
@click.option("--tracking-server/--no-tracking-server", default=True, show_default=True)
@click.option("--controller/--no-controller", default=True, show_default=True)
@click.option("--artifacts", default="s3://loopline-artifacts/", show_default=True,
              help="Artifact root of the in-cluster tracking server.")  # fmt: skip
@click.option("--cluster-tracking-uri", help="Tracking URI the pods use (default: in-cluster).")
@click.option("--force", is_flag=True, help="Replace files in -o that render did not write.")
@uri_option
@json_option
def render_command(
    deployment: str, output: str, image: str, namespace: str, replicas: int | None, hpa_min: int,
    hpa_max: int, hpa_cpu: int, hpa_in_flight: int | None, istio: bool, monitoring: bool,
    tracking_server: bool,
    controller: bool, artifacts: str, cluster_tracking_uri: str | None,
    force: bool, tracking_uri: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Write DEPLOYMENT's manifests: per variant a Deployment, Service, HPA and
    PodDisruptionBudget, plus the tracking server, the rollout controller (and with --istio the
    routing). Apply them with `kubectl apply -k DIR` or `loopline k8s apply -f DIR`."""
    _need_kubernetes()
    from loopline.core.errors import InvalidInput
    from loopline.deploy import RenderOptions, render_objects, write_rendered

    if hpa_min > hpa_max:
        raise InvalidInput(f"--hpa-min ({hpa_min}) is above --hpa-max ({hpa_max})")
    found = deployments(tracking_uri).get(deployment)
    options = RenderOptions(
        image=image, namespace=namespace, replicas=replicas or hpa_min,
        fixed_replicas=replicas is not None, hpa_min=hpa_min, hpa_max=hpa_max,
        hpa_cpu=hpa_cpu, hpa_in_flight=hpa_in_flight, istio=istio, monitoring=monitoring,
        tracking_server=tracking_server, controller=controller, artifacts=artifacts,
        tracking_uri=cluster_tracking_uri,
    )  # fmt: skip
    written = write_rendered(
        render_objects(found, options), Path(output), namespace=namespace, image=image,
        force=force,
    )  # fmt: skip
    if as_json:
        echo_json([str(p) for p in written])
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"apply with: kubectl apply -k {output}   (or: loopline k8s apply -f {output})")


@k8s_group.command("dockerfile")
@click.option("-o", "--output", default=".", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for Dockerfile and .dockerignore.")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def dockerfile_command(output: str, force: bool) -> None:
    """Write the serving image's Dockerfile (multi-stage, non-root) and .dockerignore."""
    from loopline.core.atomic import atomic_write_text
    from loopline.core.errors import Conflict
    from loopline.deploy.dockerfile import DOCKERIGNORE, dockerfile

    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    files = (("Dockerfile", dockerfile()), (".dockerignore", DOCKERIGNORE))
    existing = [str(folder / name) for name, _ in files if (folder / name).exists()]
    if existing and not force:  # checked for both before writing either
        raise Conflict(f"{' and '.join(existing)} exist(s)", hint="pass --force to overwrite")
    for name, text in files:
        atomic_write_text(folder / name, text)
        click.echo(f"wrote {folder / name}")


@k8s_group.command("apply")
@click.option("-f", "--filename", "folder", required=True, type=click.Path(file_okay=False),
              help="Folder rendered by `loopline k8s render`.")  # fmt: skip
@click.option("--context", help="Kube context (default: the current one).")
@click.option("--namespace", help="Override the objects' namespace.")
@click.option("--dry-run", is_flag=True, help="Let the server validate; persist nothing.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the Deployments are rolled out.")  # fmt: skip
@json_option
def apply_command(
    folder: str, context: str | None, namespace: str | None, dry_run: bool, wait: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Server-side apply (field manager `loopline`) in dependency order, then wait."""
    _need_kubernetes()
    from kubernetes import config

    from loopline.core.errors import RemoteError
    from loopline.deploy.apply import apply_objects, load_objects, wait_for_deployments

    objects = load_objects(Path(folder))
    try:
        api_client = config.new_client_from_config(context=context)
    except Exception as exc:  # kubernetes raises ConfigException or plain errors
        raise RemoteError(
            f"no usable kube config: {exc}",
            hint="set KUBECONFIG, or pass --context (see `kubectl config get-contexts`)",
        ) from None
    applied = apply_objects(
        objects, api_client, namespace=namespace, dry_run=dry_run,
        on_applied=None if as_json else lambda a: click.echo(
            f"{a.action:<8} {a.kind}/{a.name}" + (f" -n {a.namespace}" if a.namespace else "")),
    )  # fmt: skip
    if wait and not dry_run:
        wait_for_deployments(
            objects, api_client, namespace=namespace,
            on_progress=None if as_json else lambda name, ready, wanted: click.echo(
                f"  {name}: {ready}/{wanted} ready"),
        )  # fmt: skip
    if as_json:
        echo_json([a.__dict__ for a in applied])
